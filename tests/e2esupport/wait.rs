//! Waiting for a condition: a poll with a deadline whose failure message
//! carries whatever the test says explains the state (process logs, the
//! fake's request log).

use std::thread;
use std::time::{Duration, Instant};

/// How often conditions are checked.
pub const POLL: Duration = Duration::from_millis(100);

/// Calls `check` every [`POLL`] until it gives `Some`, for at most `timeout`;
/// then panics naming `what`, with `context()` appended.
pub fn poll_until<T>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = check() {
            return found;
        }
        if start.elapsed() >= timeout {
            panic!(
                "timed out after {timeout:?} waiting for {what}\n{}",
                context()
            );
        }
        thread::sleep(POLL);
    }
}

/// Checks every [`POLL`] for `period` that `bad` never gives `Some`; panics
/// with its description and `context()` if it does.
pub fn hold_for(
    period: Duration,
    what: &str,
    mut bad: impl FnMut() -> Option<String>,
    context: impl Fn() -> String,
) {
    let start = Instant::now();
    while start.elapsed() < period {
        if let Some(why) = bad() {
            panic!(
                "{what} broke after {:?}: {why}\n{}",
                start.elapsed(),
                context()
            );
        }
        thread::sleep(POLL);
    }
}
