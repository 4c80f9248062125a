//! Runs the real controller in-process against the fake kube-apiserver of
//! tests/kubesupport, with Prometheus replaced by a [`StubUsage`], and reads
//! what it did back from the fake's objects and request log.
//!
//! - [`Harness::new`] starts a fake and a token file; [`Harness::start`] runs
//!   `Controller::run` on a thread with a `kube::Client` pointed at the fake;
//!   dropping the harness stops the controller, then the fake.
//! - Builders: [`Harness::app`] (a Deployment with pods at some percentage
//!   of their 100Mi limits), [`memhpa`] (a MemHpa as `kubectl apply` sends it).
//! - Reading back: counts of Scale and status writes, relists, conditions and
//!   Events.
//! - Waiting: [`Harness::wait_until`] polls with a deadline and, on failure,
//!   panics with the tail of the fake's request log.
//!
//! `mod controllersupport;` needs `mod kubesupport;` beside it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use memhpa::controller::{Backends, Cluster, Controller, Leadership, Settings, UsageSource};
use memhpa::kube::{Client, KubeConfig, PodCache, Scope};
use memhpa::metrics::Metrics;
use memhpa::prom::{PromError, Usage};
use memhpa::shutdown::StopSignal;
use serde_json::{json, Value};

use crate::kubesupport::{FakeApiServer, Recorded, Workload, TOKEN};

/// Longest any wait of these tests may take before it fails.
pub const WAIT: Duration = Duration::from_secs(15);
/// What every app container's memory limit is.
pub const LIMIT_BYTES: f64 = 100.0 * 1024.0 * 1024.0;
/// Far longer than any test: the tick never fires, so whatever happens came
/// from the watch.
pub const NO_TICK: Duration = Duration::from_secs(3600);
/// The container name of every pod [`Harness::app`] makes.
pub const CONTAINER: &str = "app";

/// The memory Prometheus would report, per namespace and pod: a pod without
/// an entry has no series (it is *missing*).
#[derive(Default)]
pub struct StubUsage {
    bytes: Mutex<BTreeMap<(String, String), f64>>,
    calls: AtomicUsize,
    /// Run inside every query, e.g. to change something mid-reconcile.
    hook: Mutex<Option<Box<dyn Fn() + Send>>>,
}

impl std::fmt::Debug for StubUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StubUsage")
            .field("calls", &self.calls())
            .finish()
    }
}

impl StubUsage {
    pub fn set(&self, namespace: &str, pod: &str, bytes: f64) {
        self.lock()
            .insert((namespace.to_string(), pod.to_string()), bytes);
    }

    /// Runs `hook` inside every later query, while the reconcile that made
    /// it waits for the answer.
    pub fn on_query(&self, hook: impl Fn() + Send + 'static) {
        *self.hook.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(hook));
    }

    /// Queries answered so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), f64>> {
        self.bytes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl UsageSource for StubUsage {
    fn pod_usage(&self, namespace: &str, pods: &[String]) -> Result<Usage, PromError> {
        if let Some(hook) = self.hook.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            hook();
        }
        self.calls.fetch_add(1, Ordering::SeqCst);
        let known = self.lock().clone();
        let samples: Vec<(&str, f64)> = pods
            .iter()
            .filter_map(|pod| {
                known
                    .get(&(namespace.to_string(), pod.clone()))
                    .map(|bytes| (pod.as_str(), *bytes))
            })
            .collect();
        Ok(Usage::from_samples(
            namespace,
            samples.iter().map(|(pod, bytes)| (*pod, CONTAINER, *bytes)),
        ))
    }
}

/// How the controller under test runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub resync: Duration,
    pub dry_run: bool,
    pub namespace: Option<String>,
    pub workers: usize,
    /// Pods from the watch cache, as the daemon reads them; without it each
    /// reconcile lists its pods (which tests hold up with a delay on
    /// `GET /pods`).
    pub pod_cache: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            resync: NO_TICK,
            dry_run: false,
            namespace: None,
            workers: 2,
            pod_cache: false,
        }
    }
}

impl Options {
    pub fn resync(resync: Duration) -> Options {
        Options {
            resync,
            ..Options::default()
        }
    }
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "memhpa-itest-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fake API server, a stub Prometheus and (after `start`) the controller.
pub struct Harness {
    pub server: FakeApiServer,
    pub usage: Arc<StubUsage>,
    pub token_file: PathBuf,
    /// The controller's metrics registry, as `/metrics` would render it.
    pub metrics: Arc<Metrics>,
    synced: Arc<AtomicBool>,
    stop: StopSignal,
    controller: Option<JoinHandle<std::io::Result<()>>>,
    leadership: Option<Leadership>,
    /// With `Options::pod_cache`, the controller's pod cache.
    pub pod_cache: Option<Arc<PodCache>>,
    // Last: removed after the controller stopped reading the token.
    _dir: TempDir,
}

impl Harness {
    pub fn new() -> Harness {
        let _ = env_logger::builder().is_test(true).try_init();
        let dir = TempDir::new();
        let token_file = dir.0.join("token");
        std::fs::write(&token_file, format!("{TOKEN}\n")).expect("write the token file");
        Harness {
            server: FakeApiServer::start(),
            usage: Arc::new(StubUsage::default()),
            token_file,
            metrics: Arc::new(Metrics::new()),
            synced: Arc::new(AtomicBool::new(false)),
            stop: StopSignal::new(),
            controller: None,
            leadership: None,
            pod_cache: None,
            _dir: dir,
        }
    }

    /// Runs the controller (as the leader) until the harness is dropped.
    pub fn start(&mut self, options: Options) {
        let usage: Arc<dyn UsageSource> = self.usage.clone();
        self.start_with_usage(options, usage);
    }

    /// [`Harness::start`] with another usage source than [`StubUsage`].
    pub fn start_with_usage(&mut self, options: Options, usage: Arc<dyn UsageSource>) {
        self.start_with(options, |cluster| cluster, usage);
    }

    /// [`Harness::start`] with the real cluster (over the fake) passed
    /// through `cluster` first, e.g. to wrap it in one that injects faults.
    pub fn start_with(
        &mut self,
        options: Options,
        cluster: impl FnOnce(Arc<dyn Cluster>) -> Arc<dyn Cluster>,
        usage: Arc<dyn UsageSource>,
    ) {
        assert!(self.controller.is_none(), "the controller runs once");
        let mut config = KubeConfig::new(&self.server.url());
        config.token_file = Some(self.token_file.clone());
        config.request_timeout = Duration::from_secs(10);
        let client = Client::new(config).expect("a client for the fake");
        let synced = Arc::clone(&self.synced);
        let settings = Settings {
            namespace: options.namespace,
            resync: options.resync,
            workers: options.workers,
            dry_run: options.dry_run,
            watch_timeout_seconds: 60,
        };
        let stop = self.stop.clone();
        let metrics = Arc::clone(&self.metrics);
        let mut controller = Controller::new(true);
        if options.pod_cache {
            let scope = match &settings.namespace {
                Some(ns) => Scope::Namespace(ns.clone()),
                None => Scope::All,
            };
            controller = controller.with_pod_cache(scope);
            self.pod_cache = controller.pod_cache();
        }
        self.leadership = Some(controller.leadership());
        let backends = Backends {
            cluster: cluster(controller.kube_cluster(client.clone())),
            usage,
        };
        let handle = thread::Builder::new()
            .name("controller".into())
            .spawn(move || {
                controller.run(
                    client,
                    backends,
                    metrics,
                    settings,
                    Arc::new(move |up| synced.store(up, Ordering::SeqCst)),
                    stop,
                )
            })
            .expect("spawn the controller");
        self.controller = Some(handle);
    }

    /// Makes the controller reconcile every MemHpa of its store now, as a
    /// tick would, by losing and regaining leadership: what it then touches
    /// shows what its store holds.
    pub fn reconcile_everything(&self) {
        let leadership = self
            .leadership
            .as_ref()
            .expect("start the controller first");
        leadership.set(false);
        leadership.set(true);
    }

    /// The controller's leadership switch (after `start`).
    pub fn leadership(&self) -> Leadership {
        self.leadership.clone().expect("start the controller first")
    }

    /// Reconciles finished so far, whatever their result.
    pub fn reconciles(&self) -> usize {
        self.metrics
            .render()
            .lines()
            .find_map(|l| l.strip_prefix("memhpa_reconcile_duration_seconds_count "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Makes this replica the leader (true) or a follower (false).
    pub fn set_leader(&self, leader: bool) {
        self.leadership
            .as_ref()
            .expect("start the controller first")
            .set(leader);
    }

    /// Whether the watch reported itself in sync last.
    pub fn synced(&self) -> bool {
        self.synced.load(Ordering::SeqCst)
    }

    /// A Deployment `ns/name` at `replicas` selecting `app=name`, with `pods`
    /// Running pods whose one container is at `percent` of its 100Mi limit.
    pub fn app(&self, ns: &str, name: &str, replicas: i64, pods: usize, percent: f64) {
        self.server
            .put_deployment(ns, name, replicas, &[("app", name)]);
        for i in 0..pods {
            let pod_name = format!("{name}-{i}");
            self.server.put_pod(ns, pod(&pod_name, name, Some("100Mi")));
            self.usage.set(ns, &pod_name, percent / 100.0 * LIMIT_BYTES);
        }
    }

    /// Writes `token` into the token file (atomically, as the kubelet's
    /// symlink swap is), then makes the fake accept only it.
    pub fn rotate_token(&self, token: &str) {
        let next = self.token_file.with_extension("next");
        std::fs::write(&next, format!("{token}\n")).expect("write the new token");
        std::fs::rename(&next, &self.token_file).expect("swap the token file");
        self.server.set_tokens(&[token]);
    }

    /// Polls `done` every 25 ms until it holds; after `timeout`, panics with
    /// `what` and the request log's tail.
    pub fn wait_until(&self, what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if done() {
                return;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("timed out after {timeout:?} waiting for {what}"));
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    /// Panics with `message` and what the fake saw last.
    pub fn fail(&self, message: &str) -> ! {
        panic!("{message}\n{}", self.log_tail(60));
    }

    /// The last `n` requests, one a line: `METHOD path?query -> status`.
    pub fn log_tail(&self, n: usize) -> String {
        let requests = self.server.requests();
        let mut out = format!(
            "--- last {} of {} requests to the fake ---\n",
            n.min(requests.len()),
            requests.len()
        );
        for r in requests.iter().skip(requests.len().saturating_sub(n)) {
            let _ = writeln!(out, "{} {} -> {}", r.method, r.target(), r.status);
        }
        out
    }

    /// The MemHpa as the server has it; panics (with the log) if absent.
    pub fn memhpa(&self, ns: &str, name: &str) -> Value {
        self.server
            .memhpa(ns, name)
            .unwrap_or_else(|| self.fail(&format!("memhpa {ns}/{name} is gone")))
    }

    /// `spec.replicas` of Deployment `ns/name`.
    pub fn replicas(&self, ns: &str, name: &str) -> Option<i64> {
        self.server.scale_replicas(Workload::Deployment, ns, name)
    }

    /// Requests for the Scale of Deployment `ns/name` with one of `methods`.
    pub fn scale_requests(&self, ns: &str, name: &str, methods: &[&str]) -> usize {
        let path = Workload::Deployment.scale_path(ns, name);
        self.count(|r| r.path == path && methods.contains(&r.method.as_str()))
    }

    /// Scale writes (PUT or PATCH, whatever they got) for Deployment `ns/name`.
    pub fn scale_writes(&self, ns: &str, name: &str) -> usize {
        self.scale_requests(ns, name, &["PUT", "PATCH"])
    }

    /// Scale reads of Deployment `ns/name`: one per reconcile of its MemHpa.
    pub fn scale_reads(&self, ns: &str, name: &str) -> usize {
        self.scale_requests(ns, name, &["GET"])
    }

    /// Status writes (PUT or PATCH, whatever they got) of MemHpa `ns/name`.
    pub fn status_writes(&self, ns: &str, name: &str) -> usize {
        let path = format!("/apis/memhpa.io/v1/namespaces/{ns}/memhpas/{name}/status");
        self.count(|r| r.path == path && (r.method == "PUT" || r.method == "PATCH"))
    }

    /// MemHpa lists (GETs of the collection without `watch=`).
    pub fn relists(&self) -> usize {
        self.count(|r| r.method == "GET" && r.path.ends_with("/memhpas") && !r.is_watch())
    }

    /// MemHpa watch requests, with the status their headers carried.
    pub fn watches(&self) -> Vec<u16> {
        self.server
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/memhpas") && r.is_watch())
            .map(|r| r.status)
            .collect()
    }

    pub fn count(&self, pick: impl Fn(&Recorded) -> bool) -> usize {
        self.server.requests().iter().filter(|r| pick(r)).count()
    }

    /// The Events of `ns` with `reason`.
    pub fn events(&self, ns: &str, reason: &str) -> Vec<Value> {
        self.server
            .events(ns)
            .into_iter()
            .filter(|e| e["reason"] == reason)
            .collect()
    }

    /// `status.observedGeneration == metadata.generation`, with a status.
    pub fn observed_current(&self, ns: &str, name: &str) -> bool {
        self.server.memhpa(ns, name).is_some_and(|m| {
            m["status"]["observedGeneration"].as_i64().is_some()
                && m["status"]["observedGeneration"] == m["metadata"]["generation"]
        })
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(handle) = self.controller.take() {
            // run() drains for at most 2 s; a panic there is already reported.
            let _ = handle.join();
        }
    }
}

impl Default for Harness {
    fn default() -> Harness {
        Harness::new()
    }
}

/// A Running pod labelled `app=app` whose one container has `memory_limit`
/// (none: a container without a limit).
pub fn pod(name: &str, app: &str, memory_limit: Option<&str>) -> Value {
    let resources = match memory_limit {
        Some(limit) => json!({ "limits": { "memory": limit } }),
        None => json!({}),
    };
    json!({
        "metadata": { "name": name, "labels": { "app": app } },
        "spec": { "containers": [ { "name": CONTAINER, "resources": resources } ] },
        "status": { "phase": "Running" },
    })
}

/// A MemHpa `ns/name` for Deployment `target`.
pub fn memhpa(ns: &str, name: &str, target: &str, min: i64, max: i64, percent: i64) -> Value {
    json!({
        "metadata": { "name": name, "namespace": ns },
        "spec": {
            "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": target },
            "minReplicas": min,
            "maxReplicas": max,
            "targetUtilizationPercentage": percent,
        },
    })
}

/// `(status, reason, message)` of condition `type_` in a MemHpa's status.
pub fn condition(memhpa: &Value, type_: &str) -> Option<(String, String, String)> {
    let text = |c: &Value, field: &str| c[field].as_str().unwrap_or_default().to_string();
    memhpa["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| (text(c, "status"), text(c, "reason"), text(c, "message")))
}
