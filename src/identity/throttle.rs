//! Failed sign-ins at the token endpoint, counted per client id and per source address over
//! a sliding window. Past the limit the endpoint answers 429 without checking the secret, so
//! guessing secrets costs the guesser time rather than the server CPU.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Failures one client id may have in a window before its sign-ins are refused.
pub const CLIENT_FAILURES: usize = 10;
/// Failures one source address may have in a window (it may try many client ids).
pub const SOURCE_FAILURES: usize = 30;
/// The window failures are counted over.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Keys remembered at most; past it the oldest state is dropped (a flood of new keys must
/// not grow memory without bound).
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl SignInThrottle {
    fn keys(client_id: &str, source: &str) -> [(String, usize); 2] {
        [
            (
                format!("client:{}", client_id.to_lowercase()),
                CLIENT_FAILURES,
            ),
            (format!("source:{source}"), SOURCE_FAILURES),
        ]
    }

    /// How long until a sign-in of `client_id` from `source` is allowed again; `None` when it
    /// is allowed now.
    pub fn retry_after(&self, client_id: &str, source: &str) -> Option<Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock();
        let mut wait = None;
        for (key, limit) in Self::keys(client_id, source) {
            let Some(times) = failures.get_mut(&key) else {
                continue;
            };
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) >= WINDOW)
            {
                times.pop_front();
            }
            if times.len() >= limit {
                // Allowed again when the oldest failure in the window ages out.
                let until = times[times.len() - limit] + WINDOW;
                let left = until
                    .saturating_duration_since(now)
                    .max(Duration::from_secs(1));
                wait = Some(wait.map_or(left, |w: Duration| w.max(left)));
            }
        }
        wait
    }

    /// Counts a failed sign-in.
    pub fn failed(&self, client_id: &str, source: &str) {
        let now = Instant::now();
        let mut failures = self.failures.lock();
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
            if failures.len() >= MAX_KEYS {
                failures.clear();
            }
        }
        for (key, limit) in Self::keys(client_id, source) {
            let times = failures.entry(key).or_default();
            times.push_back(now);
            // Only the last `limit` failures decide anything.
            while times.len() > limit {
                times.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_refused_after_its_limit_and_others_are_not() {
        let throttle = SignInThrottle::default();
        for _ in 0..CLIENT_FAILURES {
            assert!(throttle.retry_after("app", "10.0.0.1").is_none());
            throttle.failed("app", "10.0.0.1");
        }
        let wait = throttle
            .retry_after("APP", "10.0.0.2")
            .expect("refused from anywhere");
        assert!(wait <= WINDOW && wait >= Duration::from_secs(1));
        assert!(throttle.retry_after("other", "10.0.0.2").is_none());
        // One source trying many clients is refused too.
        for i in 0..SOURCE_FAILURES {
            throttle.failed(&format!("c{i}"), "10.0.0.3");
        }
        assert!(throttle.retry_after("fresh", "10.0.0.3").is_some());
        assert!(throttle.retry_after("fresh", "10.0.0.4").is_none());
    }
}
