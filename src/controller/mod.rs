//! The controller: a watch thread and a tick thread feed one reconcile loop
//! over a channel; the loop owns the one store of MemHpas and hands namespace
//! jobs to a small worker pool.
//!
//! ```text
//!  watch ──────────Changes──────┐
//!  tick ───────────Tick─────────┤                      ┌─► worker ─┐
//!  Leadership::set ─Leader──────┼─► loop (Dispatcher) ─┼─► worker ─┼─Done─┐
//!  StopSignal::stop Stop────────┤                      └─► worker ─┘      │
//!  workers ────────Done─────────┘        ▲                                │
//!                                        └────────────────────────────────┘
//! ```
//!
//! Only the leader reconciles; a follower keeps its store warm so that a
//! failover starts from a full picture. Whether this replica leads has one
//! answer, [`Leadership`]: the loop and the reconciles ask it, and keep no
//! copy.

mod alarm;
mod cluster;
mod dispatch;
mod observe;
mod reconcile;
mod status;
mod ticker;
mod watch;
mod workers;

// Only what the daemon and the tests build a controller from is public: the
// loop's messages, jobs and reconcile internals stay inside, where the
// compiler can see what is unused.
pub use cluster::{Cluster, UsageSource};
pub use ticker::MIN_PERIOD as MIN_RESYNC;
pub use watch::SyncedHook;

use cluster::KubeCluster;
use dispatch::{Dispatcher, Message};
use reconcile::Context;

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
/// [`Message::Leader`]. It is not logged here: the elector, which
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
            let _ = self.tx.send(Message::Leader(leader));
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
    /// With one, the production cluster reads pods from it and `run` keeps
    /// it filled by a pod watch; without, each reconcile lists its pods.
    pods: Option<Arc<kube::PodCache>>,
}

impl Controller {
    /// `leader`: whether this replica leads from the start.
    pub fn new(leader: bool) -> Controller {
        let (tx, rx) = mpsc::channel();
        let leadership = Leadership::new(leader, tx.clone());
        Controller {
            tx,
            rx,
            leadership,
            pods: None,
        }
    }

    /// Reads pods from a cache of `scope` (the namespace the MemHpas are
    /// watched in, or all), kept by a second watch, instead of one LIST per
    /// MemHpa per reconcile. Call before [`Controller::kube_cluster`].
    pub fn with_pod_cache(mut self, scope: kube::Scope) -> Controller {
        self.pods = Some(Arc::new(kube::PodCache::new(scope)));
        self
    }

    /// The pod cache, if there is one (for tests and the daemon's metrics).
    pub fn pod_cache(&self) -> Option<Arc<kube::PodCache>> {
        self.pods.clone()
    }

    pub fn leadership(&self) -> Leadership {
        self.leadership.clone()
    }

    /// The production [`Cluster`] over `client`, whose write retries stop as
    /// soon as this replica no longer leads.
    pub fn kube_cluster(&self, client: kube::Client) -> Arc<dyn Cluster> {
        let cluster = KubeCluster::new(client).with_write_guard(self.leadership.write_guard());
        Arc::new(match &self.pods {
            Some(pods) => cluster.with_pod_cache(Arc::clone(pods)),
            None => cluster,
        })
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
            refreshed: {
                let loop_tx = self.tx.clone();
                Arc::new(move |hpa| {
                    // At shutdown the loop may be gone: nothing to refresh.
                    let _ = loop_tx.send(Message::Refreshed(Arc::new(hpa)));
                })
            },
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
            watch::MemHpas {
                namespace: settings.namespace.clone(),
                loop_tx: self.tx.clone(),
                metrics: Arc::clone(&metrics),
                synced,
            },
            settings.watch_timeout_seconds,
            stop.clone(),
        )?;
        let mut watchers = vec![watcher];
        if let Some(cache) = &self.pods {
            let pods = watch::Pods {
                cache: Arc::clone(cache),
                max_pods: watch::MAX_CACHED_PODS,
            };
            let timeout = settings.watch_timeout_seconds;
            watchers.push(watch::spawn(client.clone(), pods, timeout, stop.clone())?);
        }
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
        watchers.push(ticker);
        join_until(watchers, Instant::now() + STOP_JOIN_TIMEOUT);
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

#[cfg(test)]
mod test {
    use super::*;
    use crate::api::{MemHpa, ObjectReference, Pod, Scale};
    use crate::kube::{KubeConfig, KubeError, ScaleTarget};
    use crate::prom::{PromError, Usage};
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::Mutex;

    /// An API server on 127.0.0.1 that lists one MemHpa, `demo/web`, and
    /// ends every watch at once with no events. Serves at most `CONNECTIONS`
    /// requests, then its thread ends.
    fn api_server() -> String {
        const CONNECTIONS: usize = 200;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        thread::spawn(move || {
            for stream in listener.incoming().take(CONNECTIONS) {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                // The head ends at the first empty line; bounded by its size.
                let mut line = String::new();
                for _ in 0..100 {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let body = if request_line.contains("watch=true") {
                    String::new()
                } else {
                    serde_json::json!({
                        "apiVersion": "memhpa.io/v1", "kind": "MemHpaList",
                        "metadata": {"resourceVersion": "7"},
                        "items": [{
                            "apiVersion": "memhpa.io/v1", "kind": "MemHpa",
                            "metadata": {"namespace": "demo", "name": "web", "uid": "u1",
                                         "generation": 1, "resourceVersion": "5"},
                            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1",
                                     "kind": "Deployment", "name": "web"},
                                     "maxReplicas": 5}
                        }]
                    })
                    .to_string()
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        url
    }

    /// A cluster that says which namespace's Scale was asked for, and
    /// answers everything with empty objects.
    struct Recording {
        scales: Mutex<Sender<String>>,
    }

    impl Cluster for Recording {
        fn get_scale(&self, namespace: &str, _: &ScaleTarget) -> Result<Scale, KubeError> {
            let _ = crate::shutdown::lock(&self.scales).send(namespace.to_string());
            Ok(Scale::default())
        }
        fn replace_scale(&self, _: &str, _: &ScaleTarget, s: &Scale) -> Result<Scale, KubeError> {
            Ok(s.clone())
        }
        fn list_pods(&self, _: &str, _: &str) -> Result<Vec<Pod>, KubeError> {
            Ok(Vec::new())
        }
        fn get_memhpa(&self, _: &str, _: &str) -> Result<MemHpa, KubeError> {
            Ok(MemHpa::default())
        }
        fn replace_memhpa_status(&self, hpa: &MemHpa) -> Result<MemHpa, KubeError> {
            Ok(hpa.clone())
        }
        fn emit(
            &self,
            _: &ObjectReference,
            _: bool,
            _: &str,
            _: &str,
            _: i64,
        ) -> Result<(), KubeError> {
            Ok(())
        }
    }

    struct NoUsage;

    impl UsageSource for NoUsage {
        fn pod_usage(&self, namespace: &str, _: &[String]) -> Result<Usage, PromError> {
            Ok(Usage::from_samples(namespace, []))
        }
    }

    #[test]
    fn run_reconciles_through_the_injected_cluster_and_ends_on_stop() {
        let client = kube::Client::new(KubeConfig::new(&api_server())).expect("client");
        let (scales_tx, scales) = mpsc::channel();
        let backends = Backends {
            cluster: Arc::new(Recording {
                scales: Mutex::new(scales_tx),
            }),
            usage: Arc::new(NoUsage),
        };
        let settings = Settings {
            namespace: None,
            resync: Duration::from_secs(3600),
            workers: 1,
            dry_run: false,
            watch_timeout_seconds: 60,
        };
        let stop = StopSignal::new();
        let controller = Controller::new(true);
        let running = {
            let stop = stop.clone();
            thread::spawn(move || {
                controller.run(
                    client,
                    backends,
                    Arc::new(Metrics::new()),
                    settings,
                    Arc::new(|_| {}),
                    stop,
                )
            })
        };
        let asked = scales.recv_timeout(Duration::from_secs(20));
        assert_eq!(asked.as_deref(), Ok("demo"), "the injected cluster is used");
        stop.stop();
        // The stop reaches the loop as a message; bounded wait for the end.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !running.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        assert!(running.is_finished(), "run did not return after the stop");
        assert!(running.join().expect("no panic").is_ok());
    }
}
