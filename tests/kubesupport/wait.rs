//! Waiting for a condition with a deadline, the one kind of waiting tests
//! may do (never a bare sleep standing in for "long enough").

use std::thread;
use std::time::{Duration, Instant};

/// How often the condition is checked.
const STEP: Duration = Duration::from_millis(20);

/// Checks `condition` every 20 ms until it holds (`true`) or `timeout`
/// passes (`false`, after one last check).
pub fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        thread::sleep(STEP.min(deadline.saturating_duration_since(Instant::now())));
    }
    condition()
}
