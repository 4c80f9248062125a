//! The resync ticker: a `Tick` into the reconcile loop every period.
//!
//! Ticks coalesce: at most one waits in the loop's channel at a time, because
//! a tick means "reconcile everything", and two of them queued mean nothing
//! more than one. Without that, a period shorter than one trip round the loop
//! (`-resync=1ns` through the library) queued ticks faster than the loop took
//! them, and memory grew without bound. The period also has a floor, so even
//! a zero period never makes the ticker thread spin.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::dispatch::Message;
use crate::shutdown::StopSignal;

/// The shortest period the ticker keeps, whatever it is given: a whole
/// reconcile of everything more often than this is a hot loop, not a resync.
/// (The `-resync` flag has its own, higher, floor.)
pub const MIN_PERIOD: Duration = Duration::from_millis(100);

/// Whether a `Tick` is in the channel and not yet taken by the loop. Clones
/// share it.
#[derive(Clone, Debug, Default)]
pub struct TickGate(Arc<AtomicBool>);

impl TickGate {
    /// Claims the one slot for a tick; false if a tick is already pending.
    fn claim(&self) -> bool {
        !self.0.swap(true, Ordering::SeqCst)
    }

    /// The loop calls this as it takes a `Tick`, so the next one may be sent.
    /// Cleared before the tick is handled: a period that passes while the
    /// loop works on this one is not lost.
    pub fn taken(&self) {
        self.0.store(false, Ordering::SeqCst);
    }

    /// Gives the slot back after a send that failed.
    fn release(&self) {
        self.taken();
    }
}

/// The period the ticker uses for `asked`.
pub fn period(asked: Duration) -> Duration {
    asked.max(MIN_PERIOD)
}

/// Sends a `Tick` every `period(every)` until `stop`, unless one is pending.
pub fn spawn(
    every: Duration,
    gate: TickGate,
    tx: Sender<Message>,
    stop: StopSignal,
) -> std::io::Result<JoinHandle<()>> {
    let every = period(every);
    thread::Builder::new().name("tick".into()).spawn(move || {
        while !stop.wait_timeout(every) {
            if !gate.claim() {
                continue;
            }
            if tx.send(Message::Tick).is_err() {
                gate.release();
                return;
            }
        }
    })
}

#[cfg(test)]
mod test {
    use super::*;
    use std::sync::mpsc::channel;

    #[test]
    fn a_zero_or_tiny_period_is_raised_to_the_floor() {
        assert_eq!(period(Duration::ZERO), MIN_PERIOD);
        assert_eq!(period(Duration::from_nanos(1)), MIN_PERIOD);
        assert_eq!(period(Duration::from_secs(30)), Duration::from_secs(30));
    }

    #[test]
    fn ticks_never_queue_behind_one_not_taken() {
        let (tx, rx) = channel();
        let gate = TickGate::default();
        let stop = StopSignal::new();
        let ticker = spawn(Duration::ZERO, gate.clone(), tx, stop.clone()).expect("spawn");
        // Wait (bounded) for the first tick, then let several periods pass
        // without taking it: nothing more may queue.
        let first = rx.recv_timeout(Duration::from_secs(10));
        assert!(matches!(first, Ok(Message::Tick)), "{first:?}");
        stop.wait_timeout(MIN_PERIOD * 5);
        assert_eq!(
            rx.try_iter().count(),
            0,
            "ticks queued behind a pending one"
        );
        // Once taken, the next period sends again.
        gate.taken();
        let next = rx.recv_timeout(Duration::from_secs(10));
        assert!(matches!(next, Ok(Message::Tick)), "{next:?}");
        stop.stop();
        ticker.join().expect("the ticker ends on stop");
        assert!(rx.try_iter().count() <= 1);
    }
}
