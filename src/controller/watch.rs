//! The watch thread: list, then watch from the list's resourceVersion, feeding
//! every change to the reconcile loop.
//!
//! The decisions about what an event means live in `kube::Reflector`; this
//! thread only reads, forwards and waits. It relists on 410 Gone (as the HTTP
//! status or in the stream), resumes from the last resourceVersion after any
//! other break, and backs off with jitter (capped at 30 s) while the API
//! server fails.

use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::dispatch::Message;
use crate::kube::{self, Backoff, Jitter, KubeError, Reflector, Step};
use crate::metrics::Metrics;
use crate::shutdown::StopSignal;

/// Called with true once the store is in sync with the server, false while
/// the watch is down: `/readyz` follows it.
/// The first wait after a failed list or watch, doubling up to 30 s.
const WATCH_RETRY_BASE: Duration = Duration::from_millis(500);

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
    Relist,
    /// Resume from the last resourceVersion (after a wait if `idle`).
    Resume { idle: bool },
    /// The reconcile loop is gone or a stop was asked for.
    Quit,
}

impl Watcher {
    fn run(mut self) {
        while !self.stop.is_stopped() {
            if !self.list() {
                continue;
            }
            loop {
                match self.watch_once() {
                    End::Relist => break,
                    End::Resume { idle } => {
                        // Only an idle end waits; stepping the backoff for the
                        // others would grow the next wait with no failure seen.
                        if idle {
                            let wait = self.backoff.next();
                            if self.pause(wait) {
                                return;
                            }
                        }
                    }
                    End::Quit => return,
                }
                if self.stop.is_stopped() {
                    return;
                }
            }
        }
    }

    /// Lists and replaces the store; false (after a wait) on failure.
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
                self.backoff.reset();
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
            Err(KubeError::Gone { .. }) => {
                self.metrics.watch_restart("expired");
                return End::Relist;
            }
            Err(e) => {
                log::warn!("cannot watch MemHpas from resourceVersion {rv:?}: {e}");
                self.metrics.watch_restart("error");
                (self.synced)(false);
                let wait = self.wait_for(&e);
                return if self.pause(wait) {
                    End::Quit
                } else {
                    End::Resume { idle: false }
                };
            }
        };
        (self.synced)(true);
        let mut seen = 0usize;
        for item in stream {
            if self.stop.is_stopped() {
                return End::Quit;
            }
            let event = match item {
                Ok(ev) => ev,
                Err(e) => {
                    log::info!("watch stream broke after {seen} events: {e}");
                    self.metrics.watch_restart("stream");
                    // A stream that delivered events proves the server healthy:
                    // the next failure starts from the base wait again.
                    if seen > 0 {
                        self.backoff.reset();
                    }
                    return End::Resume { idle: seen == 0 };
                }
            };
            seen += 1;
            match self.reflector.event(event) {
                Step::Changes(changes) => {
                    if !changes.is_empty() && self.loop_tx.send(Message::Changes(changes)).is_err()
                    {
                        return End::Quit;
                    }
                }
                Step::Relist => {
                    log::info!("watch resourceVersion expired; relisting");
                    self.metrics.watch_restart("expired");
                    return End::Relist;
                }
                Step::Restart(why) => {
                    log::warn!("watch error event: {why}; resuming");
                    self.metrics.watch_restart("error");
                    return End::Resume { idle: true };
                }
            }
        }
        self.metrics.watch_restart("closed");
        if seen > 0 {
            self.backoff.reset();
        }
        // A stream that closed at once, event after event, would otherwise spin.
        End::Resume { idle: seen == 0 }
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
