//! The long-running process: builds every part from the [`Config`] and runs
//! the controller until SIGTERM or SIGINT.
//!
//! The order on the way out matters. The controller stops writing first
//! (in-flight reconciles get two seconds), then the elector releases the
//! Lease so a follower can take over at once, then the health server stops.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::api::Lease;
use crate::cli::Config;
use crate::controller::{Backends, Controller, Settings};
use crate::kube::{self, KubeConfig, KubeError};
use crate::leader::{self, ElectionConfig, LeaseApi, LeaseError, ReleaseOutcome};
use crate::metrics::Metrics;
use crate::prom::{self, PromError, PromOptions};
use crate::serve::{self, Health, ServeError};
use crate::shutdown;

/// The server ends each watch after this long and the watch thread resumes it.
/// client-go picks 5 to 10 minutes; a fixed 5 is as good for one resource.
const WATCH_TIMEOUT_SECONDS: u64 = 300;

/// Where `-leader-elect-namespace` falls back to outside a pod.
const DEFAULT_LEASE_NAMESPACE: &str = "kube-system";

/// Why the process could not start.
#[derive(Debug)]
pub enum DaemonError {
    Kube(kube::ConfigError),
    Prom(PromError),
    Serve(ServeError),
    /// A thread or the signal handler could not be set up.
    Io(String),
}

impl fmt::Display for DaemonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaemonError::Kube(e) => write!(f, "Kubernetes API client: {e}"),
            DaemonError::Prom(e) => write!(f, "{e}"),
            // ServeError names -metrics-addr and its value itself.
            DaemonError::Serve(e) => write!(f, "{e}"),
            DaemonError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for DaemonError {}

/// Runs the controller against the API server at `apiserver` (from
/// `-apiserver`, or the in-cluster address) until a signal stops it.
pub fn run(config: Config, apiserver: &str) -> Result<(), DaemonError> {
    let metrics = Arc::new(Metrics::new());
    let kube_config = kube_config(&config, apiserver)?;
    let client = kube_client(kube_config.clone(), Arc::clone(&metrics), None)?;
    let prom_options = PromOptions {
        allow_insecure_http: config.allow_insecure_http,
        ..config.prom.clone()
    };
    let usage = Arc::new(prom::Client::new(prom_options.clone()).map_err(DaemonError::Prom)?);
    warn_of_tokens_in_clear(&kube_config, &prom_options);
    let stop = shutdown::install().map_err(|e| DaemonError::Io(format!("signal handler: {e}")))?;
    let health = Arc::new(Health::new(config.leader_elect));
    let server = serve::start(
        &config.metrics_addr,
        Arc::clone(&metrics),
        Arc::clone(&health),
    )
    .map_err(DaemonError::Serve)?;
    log::info!(
        "memhpa {}: API server {apiserver}; Prometheus {}{}",
        env!("CARGO_PKG_VERSION"),
        config.prom.base_url,
        if config.dry_run {
            "; dry run: the Scale is never written"
        } else {
            ""
        }
    );

    let controller = Controller::new(!config.leader_elect);
    let elector = if config.leader_elect {
        let election = election_config(&config);
        log::info!(
            "leader election on Lease {}/{} as {}",
            election.namespace,
            election.name,
            election.identity
        );
        let leadership = controller.leadership();
        let leader_metrics = Arc::clone(&metrics);
        let on_change = Arc::new(move |leading: bool| {
            leadership.set(leading);
            leader_metrics.set_leader(leading);
        });
        // A client of its own: the controller shuts its client down on the
        // way out (to end the blocked watch read), and a clone would share
        // that agent and refuse the release that must come after.
        //
        // Its requests time out after lease duration minus renew deadline
        // (5 s by default): a renewal that hangs then still ends, and the
        // leader steps down, before another replica may take the Lease.
        let timing = election.timing;
        let lease_timeout = timing
            .lease_duration()
            .saturating_sub(timing.renew_deadline());
        let leases = Arc::new(KubeLeases {
            client: kube_client(kube_config, Arc::clone(&metrics), Some(lease_timeout))?,
            namespace: election.namespace.clone(),
            name: election.name.clone(),
        });
        let handle = leader::spawn(leases, election, on_change, shutdown::StopSignal::new());
        health.set_elector_running(true);
        Some(handle)
    } else {
        metrics.set_leader(true);
        None
    };

    let settings = Settings {
        namespace: config.namespace.clone(),
        resync: config.resync,
        workers: config.workers,
        dry_run: config.dry_run,
        watch_timeout_seconds: WATCH_TIMEOUT_SECONDS,
    };
    // Pods come from a watch cache: one Scale GET per MemHpa per tick is then
    // the whole cost, where a LIST per MemHpa was an etcd read each.
    let scope = match &config.namespace {
        Some(ns) => kube::Scope::Namespace(ns.clone()),
        None => kube::Scope::All,
    };
    let controller = controller.with_pod_cache(scope);
    let synced_health = Arc::clone(&health);
    let synced = Arc::new(move |synced: bool| synced_health.set_synced(synced));
    let backends = Backends {
        cluster: controller.kube_cluster(client.clone()),
        usage,
    };
    let ran = controller.run(client, backends, metrics, settings, synced, stop);

    log::info!("stopping");
    if let Some(elector) = elector {
        health.set_elector_running(false);
        match elector.release_and_join() {
            ReleaseOutcome::Released => log::info!("released the leader Lease"),
            ReleaseOutcome::NotHeld => {}
            other => log::warn!("leader Lease not released: {other:?}"),
        }
    }
    server.stop();
    ran.map_err(|e| DaemonError::Io(format!("controller threads: {e}")))
}

/// `-apiserver` with `-token-file`/`-ca-file`; in a pod, the service account's
/// token and CA unless those flags name others.
fn kube_config(config: &Config, apiserver: &str) -> Result<KubeConfig, DaemonError> {
    let mut kube_config = if config.apiserver.is_some() {
        KubeConfig::new(apiserver)
    } else {
        KubeConfig::in_cluster().map_err(DaemonError::Kube)?
    };
    if let Some(token) = &config.token_file {
        kube_config.token_file = Some(token.clone());
    }
    if let Some(ca) = &config.ca_file {
        kube_config.ca_file = Some(ca.clone());
    }
    kube_config.allow_insecure_http = config.allow_insecure_http;
    Ok(kube_config)
}

fn kube_client(
    mut kube_config: KubeConfig,
    metrics: Arc<Metrics>,
    request_timeout: Option<Duration>,
) -> Result<kube::Client, DaemonError> {
    if let Some(timeout) = request_timeout.filter(|t| !t.is_zero()) {
        kube_config.request_timeout = timeout;
    }
    let client = kube::Client::new(kube_config).map_err(DaemonError::Kube)?;
    Ok(client.with_observer(Arc::new(move |verb: &str, code: u16| {
        metrics.api_request(verb, code)
    })))
}

/// The clients refuse a token in clear unless `-allow-insecure-http` is
/// given; when it is, say so once at start, where an operator looks.
fn warn_of_tokens_in_clear(kube_config: &KubeConfig, prom: &PromOptions) {
    if kube_config.sends_token_in_clear() {
        log::warn!(
            "-allow-insecure-http: the API server token travels in clear over plain http to {}",
            kube_config.base_url
        );
    }
    if prom.sends_token_in_clear() {
        log::warn!(
            "-allow-insecure-http: the Prometheus token travels in clear over plain http to {}",
            prom.base_url
        );
    }
}

fn election_config(config: &Config) -> ElectionConfig {
    let namespace = config
        .leader_elect_namespace
        .clone()
        .or_else(|| kube::service_account_namespace(Path::new(kube::SERVICE_ACCOUNT_DIR)))
        .unwrap_or_else(|| DEFAULT_LEASE_NAMESPACE.to_string());
    ElectionConfig::new(
        &namespace,
        &config.leader_elect_id,
        &leader::default_identity(),
    )
}

/// The elector's view of one Lease, over the kube client.
struct KubeLeases {
    client: kube::Client,
    namespace: String,
    name: String,
}

fn lease_error(e: KubeError) -> LeaseError {
    if e.is_conflict() {
        LeaseError::Conflict(e.to_string())
    } else {
        LeaseError::Other(e.to_string())
    }
}

impl LeaseApi for KubeLeases {
    fn get(&self) -> Result<Option<Lease>, LeaseError> {
        match self.client.get_lease(&self.namespace, &self.name) {
            Ok(lease) => Ok(Some(lease)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(lease_error(e)),
        }
    }

    fn create(&self, lease: &Lease) -> Result<Lease, LeaseError> {
        self.client
            .create_lease(&self.namespace, lease)
            .map_err(lease_error)
    }

    fn update(&self, lease: &Lease) -> Result<Lease, LeaseError> {
        self.client
            .replace_lease(&self.namespace, lease)
            .map_err(lease_error)
    }
}
