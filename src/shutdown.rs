//! Graceful shutdown: SIGTERM and SIGINT set one [`StopSignal`] that every loop
//! of the controller watches: sleeping loops wait on it, and the reconcile
//! loop, which sleeps on its channel, is sent a message by [`StopSignal::on_stop`].
//!
//! In a container memhpa is PID 1, and the kernel delivers no signal to PID 1
//! for which it has not installed a handler: without [`install`] a `kubectl
//! delete pod` waits out the whole grace period and ends in SIGKILL, with the
//! Lease still held. signal-hook's iterator runs the handler on a thread of its
//! own, so nothing here is restricted to async-signal-safe code.

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The exit status of a process killed by SIGINT (128 + 2), which is what a
/// shell reports after an impatient second Ctrl-C.
const SECOND_SIGNAL_EXIT: i32 = 130;

/// A one-way "stop now" flag that sleeping loops can wait on. Clones share it.
#[derive(Clone, Default)]
pub struct StopSignal {
    inner: Arc<Flag>,
}

#[derive(Default)]
struct Flag {
    state: Mutex<State>,
    changed: Condvar,
}

/// What to run once on stop, kept until then.
type Hook = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct State {
    stopped: bool,
    hooks: Vec<Hook>,
}

/// Why a poisoned lock is treated as a bug, not recovered from. The release
/// profile has `panic = "abort"`: a panic ends the process there and then,
/// so the shipped binary never sees a poisoned lock and a recovery path
/// would be code that cannot run. Under test (unwind) a poisoned lock means
/// a thread already panicked, and the test has failed anyway; going on with
/// whatever that panic left half-written would only hide where it was.
const POISONED: &str = "a lock is poisoned only after a panic, and a panic aborts the process";

/// Locks `mutex`. The crate's one way to take a lock, so that the choice
/// above is made (and read) in one place.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().expect(POISONED)
}

impl StopSignal {
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Sets the flag, wakes every waiter and runs the [`StopSignal::on_stop`]
    /// hooks. Stopping twice is harmless: the hooks run once.
    pub fn stop(&self) {
        let hooks = {
            let mut state = self.lock();
            state.stopped = true;
            std::mem::take(&mut state.hooks)
        };
        self.inner.changed.notify_all();
        // Outside the lock: a hook may look at the flag.
        for hook in hooks {
            hook();
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.lock().stopped
    }

    /// Runs `hook` once, on the first [`StopSignal::stop`]; at once if that
    /// came already. For loops that block on something other than this
    /// flag, such as a channel: the hook sends them their stop.
    pub fn on_stop(&self, hook: impl FnOnce() + Send + 'static) {
        let mut state = self.lock();
        if state.stopped {
            drop(state);
            hook();
        } else {
            state.hooks.push(Box::new(hook));
        }
    }

    /// Sleeps for `timeout`, or less if the flag is set meanwhile. Returns
    /// whether it is set, so a loop reads `while !stop.wait_timeout(period)`.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        // A timeout too large for an Instant (Duration::MAX) waits without one.
        let deadline = Instant::now().checked_add(timeout);
        let mut state = self.lock();
        while !state.stopped {
            let left = match deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => break,
                },
                None => Duration::from_secs(3600),
            };
            state = self
                .inner
                .changed
                .wait_timeout(state, left)
                .expect(POISONED)
                .0;
        }
        state.stopped
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.state)
    }
}

impl std::fmt::Debug for StopSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopSignal")
            .field("stopped", &self.is_stopped())
            .finish()
    }
}

/// Installs handlers for SIGTERM and SIGINT and returns the signal they set.
///
/// The first signal stops gracefully. A second one exits at once with status
/// 130: an operator pressing Ctrl-C twice wants out, not a bounded wait.
/// Call it once per process; each call registers another set of handlers.
pub fn install() -> Result<StopSignal, io::Error> {
    let mut signals = Signals::new([SIGTERM, SIGINT])?;
    let stop = StopSignal::new();
    let flag = stop.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if flag.is_stopped() {
                    log::warn!("{}: second signal, exiting now", signal_name(signal));
                    std::process::exit(SECOND_SIGNAL_EXIT);
                }
                log::info!(
                    "{}: shutting down (send it again to exit at once)",
                    signal_name(signal)
                );
                flag.stop();
            }
        })?;
    Ok(stop)
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGTERM => "SIGTERM",
        SIGINT => "SIGINT",
        _ => "signal",
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::process::Command;

    /// Set in a child test process, which installs the real handlers, so this
    /// process (and the other tests in it) never has its signal dispositions
    /// changed.
    const CHILD_ENV: &str = "MEMHPA_SHUTDOWN_TEST_CHILD";

    #[test]
    fn starts_unstopped_and_stop_is_shared_by_clones() {
        let stop = StopSignal::new();
        let clone = stop.clone();
        assert!(!stop.is_stopped());
        clone.stop();
        assert!(stop.is_stopped());
        clone.stop();
        assert!(stop.is_stopped(), "a second stop leaves it stopped");
    }

    #[test]
    #[should_panic(expected = "poisoned only after a panic")]
    fn a_poisoned_lock_is_not_recovered() {
        let mutex = Arc::new(Mutex::new(0));
        let holder = Arc::clone(&mutex);
        let _ = std::thread::spawn(move || {
            let _guard = lock(&holder);
            panic!("poisons the lock (expected in this test's output)");
        })
        .join();
        drop(lock(&mutex));
    }

    #[test]
    fn on_stop_hooks_run_once_on_the_first_stop() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let stop = StopSignal::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&runs);
        stop.on_stop(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(runs.load(Ordering::SeqCst), 0, "not before the stop");
        stop.clone().stop();
        stop.stop();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn on_stop_after_the_stop_runs_at_once() {
        let stop = StopSignal::new();
        stop.stop();
        let (tx, rx) = std::sync::mpsc::channel();
        stop.on_stop(move || tx.send(()).expect("the receiver waits"));
        assert!(rx.try_recv().is_ok());
    }

    #[test]
    fn wait_timeout_times_out_false_when_not_stopped() {
        let stop = StopSignal::new();
        let started = Instant::now();
        assert!(!stop.wait_timeout(Duration::from_millis(30)));
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn wait_timeout_returns_true_at_once_when_already_stopped() {
        let stop = StopSignal::new();
        stop.stop();
        assert!(stop.wait_timeout(Duration::ZERO));
        assert!(stop.wait_timeout(Duration::MAX));
    }

    #[test]
    fn wait_timeout_wakes_when_another_thread_stops() {
        let stop = StopSignal::new();
        let waiter = {
            let stop = stop.clone();
            std::thread::spawn(move || stop.wait_timeout(Duration::from_secs(30)))
        };
        std::thread::sleep(Duration::from_millis(20));
        stop.stop();
        // join() returns as soon as the waiter wakes; were stop() not to wake
        // it, this test would sit out the whole 30 s and then fail on false.
        assert!(waiter.join().unwrap_or(false));
    }

    /// Runs one `#[ignore]`d test of this module in a child process.
    fn run_child(test: &str, mode: &str) -> std::process::Output {
        let exe = std::env::current_exe().expect("the test binary knows its path");
        Command::new(exe)
            .args(["--ignored", "--exact", "--nocapture", "--test-threads=1"])
            .arg(format!("shutdown::test::{test}"))
            .env(CHILD_ENV, mode)
            .output()
            .expect("the test binary runs")
    }

    #[test]
    fn sigterm_sets_the_stop_signal() {
        let out = run_child("child_raises_signals", "once");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{:?}\n{stdout}", out.status);
        assert!(stdout.contains("1 passed"), "child ran no test:\n{stdout}");
    }

    #[test]
    fn second_signal_exits_130_at_once() {
        let out = run_child("child_raises_signals", "twice");
        assert_eq!(
            out.status.code(),
            Some(SECOND_SIGNAL_EXIT),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    /// Not a test on its own: the body of the two tests above, in a child.
    #[test]
    #[ignore = "runs only as a child of the signal tests"]
    fn child_raises_signals() {
        let mode = std::env::var(CHILD_ENV).unwrap_or_default();
        assert!(mode == "once" || mode == "twice", "run by the signal tests");
        let stop = install().expect("handlers install");
        signal_hook::low_level::raise(SIGTERM).expect("raise SIGTERM");
        assert!(stop.wait_timeout(Duration::from_secs(10)), "SIGTERM seen");
        if mode == "twice" {
            signal_hook::low_level::raise(SIGINT).expect("raise SIGINT");
            std::thread::sleep(Duration::from_secs(10));
            panic!("still alive 10 s after the second signal");
        }
    }
}
