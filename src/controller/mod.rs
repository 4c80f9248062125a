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
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::kube;
use crate::metrics::Metrics;
use crate::shutdown::StopSignal;

/// How long shutdown waits for in-flight reconciles before abandoning them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// How often the loop looks at the stop signal while no message comes.
const STOP_POLL: Duration = Duration::from_millis(200);

pub struct Settings {
    /// Watch one namespace, or all.
    pub namespace: Option<String>,
    pub resync: Duration,
    pub workers: usize,
    pub dry_run: bool,
    pub watch_timeout_seconds: u64,
}

/// Tells the controller whether this replica leads. Clone it into the leader
/// elector's callback; without leader election, the controller leads from the
/// start.
#[derive(Clone)]
pub struct Leadership {
    leader: Arc<AtomicBool>,
    tx: Sender<Message>,
}

impl Leadership {
    pub fn set(&self, leader: bool) {
        if self.leader.swap(leader, Ordering::SeqCst) != leader {
            log::info!(
                "{}",
                if leader {
                    "became the leader"
                } else {
                    "no longer the leader"
                }
            );
            // The loop may already be gone at shutdown; nothing to tell then.
            let _ = self.tx.send(Message::Leader(leader));
        }
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::SeqCst)
    }
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
        let leadership = Leadership {
            leader: Arc::new(AtomicBool::new(leader)),
            tx: tx.clone(),
        };
        Controller { tx, rx, leadership }
    }

    pub fn leadership(&self) -> Leadership {
        self.leadership.clone()
    }

    /// Runs until `stop`; then stops the threads, waits at most two seconds for
    /// in-flight reconciles, and returns.
    pub fn run(
        self,
        client: kube::Client,
        usage: Arc<dyn UsageSource>,
        metrics: Arc<Metrics>,
        settings: Settings,
        synced: SyncedHook,
        stop: StopSignal,
    ) -> std::io::Result<()> {
        let leadership = self.leadership.clone();
        let may_write: Arc<dyn Fn() -> bool + Send + Sync> =
            Arc::new(move || leadership.is_leader());
        let cluster = KubeCluster::new(client.clone()).with_write_guard(Arc::clone(&may_write));
        let ctx = Arc::new(Context {
            cluster: Arc::new(cluster),
            usage,
            metrics: Arc::clone(&metrics),
            dry_run: settings.dry_run,
            clock: Arc::new(|| crate::rfc3339::unix_seconds(std::time::SystemTime::now())),
            may_write,
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

        let mut dispatcher = Dispatcher::new(jobs_tx, self.leadership.is_leader(), metrics);
        while !stop.is_stopped() {
            match self.rx.recv_timeout(STOP_POLL) {
                Ok(message) => {
                    if matches!(message, Message::Tick) {
                        ticks.taken();
                    }
                    if !dispatcher.handle(message) {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
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
