//! The watch thread: list, then watch from the list's resourceVersion, feeding
//! every change to the reconcile loop.
//!
//! The decisions about what an event means live in `kube::Reflector`; this
//! thread only reads, forwards and waits. It relists on 410 Gone (as the HTTP
//! status or in the stream), resumes from the last resourceVersion after any
//! other break, and backs off with jitter (capped at 30 s) while the API
//! server fails or makes no progress: a successful list, a 410 or a stream
//! of bookmarks alone never reset the backoff; object events, or a stream
//! that stayed open a while, do.

use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::dispatch::Message;
use crate::kube::{self, Backoff, Jitter, KubeError, Reflector, Step};
use crate::metrics::Metrics;
use crate::shutdown::StopSignal;

/// The first wait after a failed list or watch, doubling up to 30 s.
const WATCH_RETRY_BASE: Duration = Duration::from_millis(500);

/// Called with true once the store is in sync with the server, false while
/// the watch is down: `/readyz` follows it.
pub type SyncedHook = Arc<dyn Fn(bool) + Send + Sync>;

pub struct WatchSettings {
    pub namespace: Option<String>,
    /// The server closes each watch after this long; we then resume it.
    pub timeout_seconds: u64,
}

pub fn spawn(
    client: kube::Client,
    settings: WatchSettings,
    loop_tx: Sender<Message>,
    metrics: Arc<Metrics>,
    synced: SyncedHook,
    stop: StopSignal,
) -> std::io::Result<JoinHandle<()>> {
    let watcher = Watcher {
        client,
        settings,
        loop_tx,
        metrics,
        synced,
        stop,
        reflector: Reflector::new(),
        backoff: Backoff::new(WATCH_RETRY_BASE, Jitter::Equal),
    };
    thread::Builder::new()
        .name("watch".into())
        .spawn(move || watcher.run())
}

struct Watcher {
    client: kube::Client,
    settings: WatchSettings,
    loop_tx: Sender<Message>,
    metrics: Arc<Metrics>,
    synced: SyncedHook,
    stop: StopSignal,
    reflector: Reflector,
    backoff: Backoff,
}

/// Why a watch ended.
enum End {
    /// The resourceVersion is too old: list again.
    Relist(Pace),
    /// Resume from the last resourceVersion.
    Resume(Pace),
    /// The reconcile loop is gone or a stop was asked for.
    Quit,
}

/// What a list or watch proved about the server, for the backoff. Only
/// progress resets it: a 410 answered to every watch, or a stream that ends
/// after a bookmark, would otherwise loop as fast as the server answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pace {
    /// Objects changed, or a stream stayed open a good while: go on at once,
    /// and the next failure starts from the base wait.
    Progress,
    /// Nothing came of it: wait the next backoff step first.
    Stalled,
    /// It failed and its backoff wait was already taken.
    Waited,
}

/// A stream open this long proves the server serves watches, even in a
/// cluster where nothing changed: its end is then no failure. Half the watch
/// timeout when that is shorter, so that quiet streams which run their whole
/// (short) course still count.
const HEALTHY_STREAM: Duration = Duration::from_secs(10);
const HEALTHY_STREAM_MIN: Duration = Duration::from_millis(500);

fn healthy_stream(timeout_seconds: u64) -> Duration {
    (Duration::from_secs(timeout_seconds) / 2).clamp(HEALTHY_STREAM_MIN, HEALTHY_STREAM)
}

/// The pace of a watch end, given whether that watch began right after a
/// backoff wait. A version that expired while we waited out a failure is the
/// wait's doing, not a new failure: relist at once (the backoff is kept, not
/// reset). A 410 right after a list still waits, so a server that answers 410
/// to every watch gets one list per backoff step.
fn expired_pace(relist: bool, pace: Pace, after_wait: bool) -> Pace {
    if relist && pace == Pace::Stalled && after_wait {
        Pace::Waited
    } else {
        pace
    }
}

impl Watcher {
    fn run(mut self) {
        while !self.stop.is_stopped() {
            if !self.list() {
                continue;
            }
            // Whether the watch about to start follows a backoff wait.
            let mut after_wait = false;
            loop {
                let (relist, pace) = match self.watch_once() {
                    End::Relist(pace) => (true, pace),
                    End::Resume(pace) => (false, pace),
                    End::Quit => return,
                };
                let pace = expired_pace(relist, pace, after_wait);
                after_wait = pace != Pace::Progress;
                if self.settle(pace) {
                    return;
                }
                if relist {
                    break;
                }
            }
        }
    }

    /// Resets or steps the backoff after a watch; true if stopped meanwhile.
    fn settle(&mut self, pace: Pace) -> bool {
        match pace {
            Pace::Progress => {
                self.backoff.reset();
                self.stop.is_stopped()
            }
            Pace::Stalled => {
                let wait = self.backoff.next();
                self.pause(wait)
            }
            Pace::Waited => self.stop.is_stopped(),
        }
    }

    /// Lists and sends the loop what changed since the last list (its store
    /// is the only one); false (after a wait) on failure. A list
    /// that succeeds does not reset the backoff: only a watch that then makes
    /// progress does, or list + 410 would be a hot loop.
    fn list(&mut self) -> bool {
        let namespace = self.settings.namespace.as_deref();
        match self.client.list_memhpas(namespace) {
            Ok(list) => {
                let changes = self.reflector.listed(list);
                if self.loop_tx.send(Message::Changes(changes)).is_err() {
                    self.stop.stop();
                    return false;
                }
                (self.synced)(true);
                true
            }
            Err(e) => {
                log::warn!("cannot list MemHpas: {e}");
                (self.synced)(false);
                let wait = self.wait_for(&e);
                self.pause(wait);
                false
            }
        }
    }

    fn watch_once(&mut self) -> End {
        let namespace = self.settings.namespace.as_deref();
        let rv = self.reflector.resource_version().unwrap_or("").to_string();
        let stream = match self
            .client
            .watch_memhpas(namespace, &rv, self.settings.timeout_seconds)
        {
            Ok(s) => s,
            Err(e) if e.is_gone() => {
                self.metrics.watch_restart("expired");
                return End::Relist(Pace::Stalled);
            }
            Err(e) => {
                log::warn!("cannot watch MemHpas from resourceVersion {rv:?}: {e}");
                self.metrics.watch_restart("error");
                (self.synced)(false);
                let wait = self.wait_for(&e);
                return if self.pause(wait) {
                    End::Quit
                } else {
                    End::Resume(Pace::Waited)
                };
            }
        };
        (self.synced)(true);
        let opened = Instant::now();
        let healthy = healthy_stream(self.settings.timeout_seconds);
        // Object events only: bookmarks say the server is alive, not that the
        // watch gets anywhere.
        let mut changed = 0usize;
        let pace = |changed: usize| {
            if changed > 0 || opened.elapsed() >= healthy {
                Pace::Progress
            } else {
                Pace::Stalled
            }
        };
        for item in stream {
            if self.stop.is_stopped() {
                return End::Quit;
            }
            let event = match item {
                Ok(ev) => ev,
                Err(e) => {
                    log::info!("watch stream broke after {changed} object events: {e}");
                    self.metrics.watch_restart("stream");
                    return End::Resume(pace(changed));
                }
            };
            match self.reflector.event(event) {
                Step::Changes(changes) => {
                    if changes.is_empty() {
                        continue;
                    }
                    changed += changes.len();
                    if self.loop_tx.send(Message::Changes(changes)).is_err() {
                        return End::Quit;
                    }
                }
                Step::Relist => {
                    log::info!("watch resourceVersion expired; relisting");
                    self.metrics.watch_restart("expired");
                    return End::Relist(pace(changed));
                }
                Step::Restart(why) => {
                    log::warn!("watch error event: {why}; resuming");
                    self.metrics.watch_restart("error");
                    return End::Resume(Pace::Stalled);
                }
            }
        }
        self.metrics.watch_restart("closed");
        End::Resume(pace(changed))
    }

    fn wait_for(&mut self, e: &KubeError) -> Duration {
        match e.retry_after() {
            Some(after) => self.backoff.after(after),
            None => self.backoff.next(),
        }
    }

    /// Sleeps, waking at once on stop; true if stopped.
    fn pause(&self, wait: Duration) -> bool {
        self.stop.wait_timeout(wait)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_version_that_expired_during_a_wait_relists_at_once() {
        // Resumed after a wait, the version is gone: no second wait.
        assert!(expired_pace(true, Pace::Stalled, true) == Pace::Waited);
        // Straight after a list, a 410 is the server's doing: wait.
        assert!(expired_pace(true, Pace::Stalled, false) == Pace::Stalled);
        // Other ends keep their pace.
        assert!(expired_pace(false, Pace::Stalled, true) == Pace::Stalled);
        assert!(expired_pace(true, Pace::Progress, true) == Pace::Progress);
    }
}
