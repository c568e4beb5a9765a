//! Durations as the database stores them: whole milliseconds in an `i64`, beside
//! [`super::now_millis`] for instants.

use std::time::Duration;

/// `duration` in milliseconds, capped at a quarter of `i64::MAX`: a deadline or lease is
/// stored as `now_millis() + millis(d)`, and the cap keeps that sum (and a backoff added to
/// it) from overflowing whatever a setting says.
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).map_or(i64::MAX / 4, |ms| ms.min(i64::MAX / 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_are_whole_and_capped() {
        assert_eq!(millis(Duration::from_micros(2_999)), 2);
        assert_eq!(millis(Duration::from_secs(30)), 30_000);
        assert_eq!(millis(Duration::MAX), i64::MAX / 4);
        assert_eq!(millis(Duration::from_millis(u64::MAX)), i64::MAX / 4);
    }
}
