//! Which database failures mean the database is away for a moment — down, restarting, refusing
//! or dropping connections, or (SQLite) busy with another writer — rather than a bug. Those are
//! answered `503` with `Retry-After`: the same request works once it is back, and nothing of a
//! statement that failed this way was committed.

use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr};

/// `true` when `err` is the database being unavailable, not the request or Kiln being wrong.
pub fn is_transient(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(e) | DbErr::Exec(e) | DbErr::Query(e) => match e {
            RuntimeErr::SqlxError(e) => sqlx_transient(e),
            _ => false,
        },
        _ => false,
    }
}

fn sqlx_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
            db.code().is_some_and(|code| match sqlite {
                true => sqlite_busy(&code),
                false => postgres_unavailable(&code),
            })
        }
        _ => false,
    }
}

/// SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes (the low byte is the
/// primary code): another connection holds the lock past the busy timeout.
fn sqlite_busy(code: &str) -> bool {
    code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

/// PostgreSQL SQLSTATEs: class 08 (connection exception), 57P01–57P03 (the server shutting
/// down, crashed, or still starting), 53300 (too many connections), and 40001 / 40P01
/// (serialization failure, deadlock: the transaction was rolled back and may be run again).
fn postgres_unavailable(code: &str) -> bool {
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_busy_and_locked_with_their_extended_codes() {
        for code in ["5", "6", "261", "517", "262"] {
            assert!(sqlite_busy(code), "{code}");
        }
        for code in ["19", "2067", "1", "11"] {
            assert!(!sqlite_busy(code), "{code}");
        }
    }

    #[test]
    fn postgres_connection_and_shutdown_states_but_not_constraint_violations() {
        for code in [
            "08006", "08001", "57P01", "57P03", "53300", "40001", "40P01",
        ] {
            assert!(postgres_unavailable(code), "{code}");
        }
        for code in ["23505", "23503", "42P01", "22P02"] {
            assert!(!postgres_unavailable(code), "{code}");
        }
    }

    #[test]
    fn a_timed_out_pool_is_transient_and_a_missing_row_is_not() {
        assert!(is_transient(&DbErr::ConnectionAcquire(
            sea_orm::error::ConnAcquireErr::Timeout
        )));
        assert!(!is_transient(&DbErr::RecordNotFound("x".into())));
        assert!(!is_transient(&DbErr::Custom("x".into())));
    }
}
