//! The controller: a watch thread and a tick thread feed one reconcile loop
//! over a channel; the loop owns the store and hands namespace jobs to a small
//! worker pool.
//!
//! ```text
//!  watch ──Changes──┐
//!  tick ────Tick────┤                      ┌─► worker ─┐
//!  elector ─Leader──┼─► loop (Dispatcher) ─┼─► worker ─┼─Done─┐
//!  workers ──Done───┘        ▲             └─► worker ─┘      │
//!                            └────────────────────────────────┘
//! ```
//!
//! Only the leader reconciles; a follower keeps its store warm so that a
//! failover starts from a full picture.

mod cluster;
mod dispatch;
mod observe;
mod reconcile;
mod status;
mod ticker;
mod watch;
mod workers;

pub use cluster::{Cluster, KubeCluster, UsageSource};
pub use dispatch::{Dispatcher, Job, Message};
pub use reconcile::{reconcile_namespace, Context, Item, ObjectState, Report};
pub use ticker::MIN_PERIOD as MIN_RESYNC;
pub use watch::{SyncedHook, WatchSettings};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::kube;
use crate::metrics::Metrics;
use crate::shutdown::StopSignal;

/// How long shutdown waits for in-flight reconciles before abandoning them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Settings {
    /// Watch one namespace, or all.
    pub namespace: Option<String>,
    pub resync: Duration,
    pub workers: usize,
    pub dry_run: bool,
    pub watch_timeout_seconds: u64,
}

/// The one answer to "does this replica lead?". Whoever decides (the leader
/// elector's callback; nobody without leader election, where the controller
/// leads from the start) calls [`Leadership::set`]; the reconcile loop, the
/// reconciles and the write retries all ask [`Leadership::is_leader`] and
/// keep no copy. A change is told to the loop once, as
/// [`Message::LeaderChanged`]. It is not logged here: the elector, which
/// knows the Lease and the identity, logs each change once.
#[derive(Clone)]
pub struct Leadership {
    leader: Arc<AtomicBool>,
    tx: Sender<Message>,
}

impl Leadership {
    fn new(leader: bool, tx: Sender<Message>) -> Leadership {
        Leadership {
            leader: Arc::new(AtomicBool::new(leader)),
            tx,
        }
    }

    pub fn set(&self, leader: bool) {
        if self.leader.swap(leader, Ordering::SeqCst) != leader {
            // The loop may already be gone at shutdown; nothing to tell then.
            let _ = self.tx.send(Message::LeaderChanged);
        }
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::SeqCst)
    }

    /// The check a write makes before it goes out (and before each retry).
    fn write_guard(&self) -> Arc<dyn Fn() -> bool + Send + Sync> {
        let leadership = self.clone();
        Arc::new(move || leadership.is_leader())
    }
}

/// What the reconciles talk to. Both are injected the same way, so that a
/// test can stand in for either; [`Controller::kube_cluster`] builds the
/// production cluster.
pub struct Backends {
    pub cluster: Arc<dyn Cluster>,
    pub usage: Arc<dyn UsageSource>,
}

pub struct Controller {
    tx: Sender<Message>,
    rx: Receiver<Message>,
    leadership: Leadership,
}

impl Controller {
    /// `leader`: whether this replica leads from the start.
    pub fn new(leader: bool) -> Controller {
        let (tx, rx) = mpsc::channel();
        let leadership = Leadership::new(leader, tx.clone());
        Controller { tx, rx, leadership }
    }

    pub fn leadership(&self) -> Leadership {
        self.leadership.clone()
    }

    /// The production [`Cluster`] over `client`, whose write retries stop as
    /// soon as this replica no longer leads.
    pub fn kube_cluster(&self, client: kube::Client) -> Arc<dyn Cluster> {
        Arc::new(KubeCluster::new(client).with_write_guard(self.leadership.write_guard()))
    }

    /// Runs until `stop`; then stops the threads, waits at most two seconds for
    /// in-flight reconciles, and returns. `client` serves the watch, and is
    /// shut down on the way out to end its blocked read.
    pub fn run(
        self,
        client: kube::Client,
        backends: Backends,
        metrics: Arc<Metrics>,
        settings: Settings,
        synced: SyncedHook,
        stop: StopSignal,
    ) -> std::io::Result<()> {
        let ctx = Arc::new(Context {
            cluster: backends.cluster,
            usage: backends.usage,
            metrics: Arc::clone(&metrics),
            dry_run: settings.dry_run,
            clock: Arc::new(|| crate::rfc3339::unix_seconds(std::time::SystemTime::now())),
            may_write: self.leadership.write_guard(),
        });
        // The stop is a message like any other, so the loop below only ever
        // blocks on its channel. Registered before any thread starts: a stop
        // that came earlier is sent at once.
        let stop_tx = self.tx.clone();
        stop.on_stop(move || {
            let _ = stop_tx.send(Message::Stop);
        });
        let (jobs_tx, jobs_rx) = mpsc::channel();
        let workers = workers::spawn(settings.workers, jobs_rx, ctx, self.tx.clone())?;
        let watcher = watch::spawn(
            client.clone(),
            WatchSettings {
                namespace: settings.namespace.clone(),
                timeout_seconds: settings.watch_timeout_seconds,
            },
            self.tx.clone(),
            Arc::clone(&metrics),
            synced,
            stop.clone(),
        )?;
        let ticks = ticker::TickGate::default();
        let ticker = ticker::spawn(
            settings.resync,
            ticks.clone(),
            self.tx.clone(),
            stop.clone(),
        )?;

        let mut dispatcher = Dispatcher::new(jobs_tx, self.leadership.clone(), metrics);
        // The loop holds a sender itself, so the channel never disconnects:
        // only a Stop ends it.
        while let Ok(message) = self.rx.recv() {
            if matches!(message, Message::Tick) {
                ticks.taken();
            }
            if !dispatcher.handle(message) {
                break;
            }
        }
        stop.stop();
        // Dropping the dispatcher closes the job queue: idle workers exit.
        drop(dispatcher);
        // In-flight reconciles get their drain time with a working client;
        // only then is it shut down, which abandons any still running and
        // ends the watch thread's blocked read.
        join_until(workers, Instant::now() + DRAIN_TIMEOUT);
        client.shutdown();
        join_until(vec![watcher, ticker], Instant::now() + STOP_JOIN_TIMEOUT);
        Ok(())
    }
}

/// How long the watch and tick threads get to end once the client is shut down.
const STOP_JOIN_TIMEOUT: Duration = Duration::from_millis(500);

/// Joins the threads that finish by `deadline`; the others are left to end on
/// their own.
fn join_until(threads: Vec<JoinHandle<()>>, deadline: Instant) {
    for t in threads {
        while !t.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        if t.is_finished() {
            let _ = t.join();
        }
    }
}
