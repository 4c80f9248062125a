//! The watch threads: list, then watch from the list's resourceVersion,
//! feeding every change to where it is kept: MemHpas to the reconcile loop,
//! pods to the pod cache. One machine serves both ([`Source`] says what is
//! watched and where its changes go).
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
use crate::api::{MemHpa, Pod};
use crate::kube::{
    self, Backoff, Change, ErrorKind, Jitter, KubeError, PodCache, PodPage, Reflector, Scope, Step,
    Watch, Watched,
};
use crate::metrics::Metrics;
use crate::shutdown::StopSignal;

/// The first wait after a failed list or watch, doubling up to 30 s.
const WATCH_RETRY_BASE: Duration = Duration::from_millis(500);

/// Called with true once the store is in sync with the server, false while
/// the watch is down: `/readyz` follows it.
pub type SyncedHook = Arc<dyn Fn(bool) + Send + Sync>;

/// What one watch thread lists and watches, and where the changes go.
pub trait Source: Send + 'static {
    type Object: Watched;
    /// The thread's name.
    const THREAD: &'static str;
    /// Lists into `reflector` and returns what changed since the last list.
    fn list(
        &mut self,
        client: &kube::Client,
        reflector: &mut Reflector<Self::Object>,
    ) -> Result<Vec<Change<Self::Object>>, KubeError>;
    fn watch(&self, client: &kube::Client, rv: &str, timeout: u64) -> Result<Watch, KubeError>;
    /// Hands changes on; false once nobody takes them (the thread ends).
    fn deliver(&mut self, changes: Vec<Change<Self::Object>>) -> bool;
    /// The store is in sync (true) or the watch is down (false).
    fn synced(&self, synced: bool);
    /// Counts a restart of the watch.
    fn restarted(&self, reason: &'static str);
}

/// The MemHpa watch: changes go to the reconcile loop, restarts to
/// `memhpa_watch_restarts_total`, and readiness follows it.
pub struct MemHpas {
    pub namespace: Option<String>,
    pub loop_tx: Sender<Message>,
    pub metrics: Arc<Metrics>,
    pub synced: SyncedHook,
}

impl Source for MemHpas {
    type Object = MemHpa;
    const THREAD: &'static str = "watch";

    fn list(
        &mut self,
        client: &kube::Client,
        reflector: &mut Reflector<MemHpa>,
    ) -> Result<Vec<Change<MemHpa>>, KubeError> {
        let list = client.list_memhpas(self.namespace.as_deref())?;
        Ok(reflector.listed(list))
    }

    fn watch(&self, client: &kube::Client, rv: &str, timeout: u64) -> Result<Watch, KubeError> {
        client.watch_memhpas(self.namespace.as_deref(), rv, timeout)
    }

    fn deliver(&mut self, changes: Vec<Change<MemHpa>>) -> bool {
        self.loop_tx.send(Message::Changes(changes)).is_ok()
    }

    fn synced(&self, synced: bool) {
        (self.synced)(synced)
    }

    fn restarted(&self, reason: &'static str) {
        self.metrics.watch_restart(reason);
    }
}

/// Pods the cache may hold before it gives up and the reconciles list from
/// the server again. `make bench` measured a peak RSS of 49 MiB with
/// 100,000 pods cached (README, "Performance"): this bound keeps the cache
/// under the manifest's 64 MiB limit, where growing on would get the pod
/// OOM-killed in a loop and the per-target LIST keeps it alive. It is also
/// the client's bound on the items of one list, so a first list past it
/// fails the same way. (Kubernetes' own limit is 150,000 pods per cluster.)
pub const MAX_CACHED_PODS: usize = 100_000;

/// The pod watch: changes go to the [`PodCache`], which says it is synced
/// once the first list is in.
pub struct Pods {
    pub cache: Arc<PodCache>,
    /// [`MAX_CACHED_PODS`], but for tests.
    pub max_pods: usize,
}

impl Pods {
    /// The cache is given up for good; the thread ends at its next delivery.
    fn give_up(&self, why: &str) {
        log::warn!(
            "giving up the pod cache ({why}); each reconcile lists its target's pods \
             from the API server instead"
        );
        self.cache.abandon();
    }

    fn namespace(&self) -> Option<&str> {
        match self.cache.scope() {
            Scope::All => None,
            Scope::Namespace(ns) => Some(ns),
        }
    }
}

impl Source for Pods {
    type Object = Pod;
    const THREAD: &'static str = "watch-pods";

    /// Page by page into the cache, so that the list is never held whole.
    fn list(
        &mut self,
        client: &kube::Client,
        reflector: &mut Reflector<Pod>,
    ) -> Result<Vec<Change<Pod>>, KubeError> {
        reflector.list_begin();
        let cache = Arc::clone(&self.cache);
        let listed = client.list_pods_paged(self.namespace(), &mut |page| match page {
            PodPage::Restart => reflector.list_begin(),
            PodPage::Pods(pods) => cache.apply(reflector.list_page(pods)),
        });
        match listed {
            Ok(rv) => Ok(reflector.list_end(rv)),
            // More pods than the cache may hold: listing them again after a
            // backoff would only fail again, each time at full cost.
            Err(e) if matches!(e.kind, ErrorKind::ListTooLarge { .. }) => {
                self.give_up(&e.to_string());
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }

    fn watch(&self, client: &kube::Client, rv: &str, timeout: u64) -> Result<Watch, KubeError> {
        client.watch_pods(self.namespace(), rv, timeout)
    }

    fn deliver(&mut self, changes: Vec<Change<Pod>>) -> bool {
        if self.cache.is_abandoned() {
            return false;
        }
        self.cache.apply(changes);
        if self.cache.len() > self.max_pods {
            self.give_up(&format!("it holds more than {} pods", self.max_pods));
            return false;
        }
        true
    }

    fn synced(&self, synced: bool) {
        if synced {
            self.cache.set_synced();
        }
    }

    fn restarted(&self, reason: &'static str) {
        log::debug!("pod watch restarted: {reason}");
    }
}

pub fn spawn<S: Source>(
    client: kube::Client,
    source: S,
    timeout_seconds: u64,
    stop: StopSignal,
) -> std::io::Result<JoinHandle<()>> {
    let watcher = Watcher {
        client,
        timeout_seconds,
        source,
        stop,
        reflector: Reflector::default(),
        backoff: Backoff::new(WATCH_RETRY_BASE, Jitter::Equal),
        quit: false,
    };
    thread::Builder::new()
        .name(S::THREAD.into())
        .spawn(move || watcher.run())
}

struct Watcher<S: Source> {
    client: kube::Client,
    timeout_seconds: u64,
    source: S,
    stop: StopSignal,
    reflector: Reflector<S::Object>,
    backoff: Backoff,
    /// Nobody takes the changes any more: the thread ends.
    quit: bool,
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

impl<S: Source> Watcher<S> {
    fn run(mut self) {
        while !self.stop.is_stopped() && !self.quit {
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
        match self.source.list(&self.client, &mut self.reflector) {
            Ok(changes) => {
                if !self.source.deliver(changes) {
                    self.quit = true;
                    return false;
                }
                self.source.synced(true);
                true
            }
            Err(e) => {
                log::warn!("cannot list {}s: {e}", S::Object::KIND);
                self.source.synced(false);
                let wait = self.wait_for(&e);
                self.pause(wait);
                false
            }
        }
    }

    fn watch_once(&mut self) -> End {
        let rv = self.reflector.resource_version().unwrap_or("").to_string();
        let stream = match self.source.watch(&self.client, &rv, self.timeout_seconds) {
            Ok(s) => s,
            Err(e) if e.is_gone() => {
                self.source.restarted("expired");
                return End::Relist(Pace::Stalled);
            }
            Err(e) => {
                log::warn!(
                    "cannot watch {}s from resourceVersion {rv:?}: {e}",
                    S::Object::KIND
                );
                self.source.restarted("error");
                self.source.synced(false);
                let wait = self.wait_for(&e);
                return if self.pause(wait) {
                    End::Quit
                } else {
                    End::Resume(Pace::Waited)
                };
            }
        };
        self.source.synced(true);
        let opened = Instant::now();
        let healthy = healthy_stream(self.timeout_seconds);
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
                    log::info!(
                        "{} watch stream broke after {changed} object events: {e}",
                        S::Object::KIND
                    );
                    self.source.restarted("stream");
                    return End::Resume(pace(changed));
                }
            };
            match self.reflector.event(event) {
                Step::Changes(changes) => {
                    if changes.is_empty() {
                        continue;
                    }
                    changed += changes.len();
                    if !self.source.deliver(changes) {
                        self.quit = true;
                        return End::Quit;
                    }
                }
                Step::Relist => {
                    log::info!(
                        "{} watch resourceVersion expired; relisting",
                        S::Object::KIND
                    );
                    self.source.restarted("expired");
                    return End::Relist(pace(changed));
                }
                Step::Restart(why) => {
                    log::warn!("{} watch error event: {why}; resuming", S::Object::KIND);
                    self.source.restarted("error");
                    return End::Resume(Pace::Stalled);
                }
            }
        }
        self.source.restarted("closed");
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
    fn a_pod_cache_past_its_bound_is_given_up_and_the_pod_watch_ends() {
        let cache = Arc::new(PodCache::new(Scope::All));
        let mut pods = Pods {
            cache: Arc::clone(&cache),
            max_pods: 2,
        };
        let pod = |name: &str| -> Change<Pod> {
            let pod = serde_json::from_value(serde_json::json!({
                "metadata": {"namespace": "a", "name": name}
            }))
            .expect("pod");
            Change::Applied(Arc::new(pod))
        };
        assert!(pods.deliver(vec![pod("p1"), pod("p2")]));
        pods.synced(true);
        assert!(cache.is_synced());
        assert!(
            !pods.deliver(vec![pod("p3")]),
            "past the bound: the thread ends"
        );
        assert!(cache.is_abandoned());
        assert!(!cache.is_synced(), "reconciles list from the server again");
        assert!(cache.is_empty(), "what it held is let go");
        pods.synced(true);
        assert!(!cache.is_synced(), "an abandoned cache never answers again");
        assert!(!pods.deliver(Vec::new()));
    }

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
