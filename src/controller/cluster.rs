//! The two narrow interfaces a reconcile needs, as Kubernetes' replica
//! calculator has a metrics client and a pod lister: the cluster (Scale, pods,
//! MemHpa status, Events) and the usage source (Prometheus).
//!
//! The production implementations are here too: [`KubeCluster`] over the kube
//! client and its event [`Recorder`](kube::Recorder), with a short retry for
//! transient failures,
//! and `prom::Client` itself.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::api::{MemHpa, ObjectReference, Pod, Scale};
use crate::kube::{
    self, Backoff, Jitter, KubeError, LabelSelector, PodCache, Recorder, ScaleTarget,
};
use crate::prom::{self, PromError, Usage};

pub trait Cluster: Send + Sync {
    fn get_scale(&self, namespace: &str, target: &ScaleTarget) -> Result<Scale, KubeError>;
    fn replace_scale(
        &self,
        namespace: &str,
        target: &ScaleTarget,
        scale: &Scale,
    ) -> Result<Scale, KubeError>;
    fn list_pods(&self, namespace: &str, selector: &str) -> Result<Vec<Pod>, KubeError>;
    fn get_memhpa(&self, namespace: &str, name: &str) -> Result<MemHpa, KubeError>;
    fn replace_memhpa_status(&self, hpa: &MemHpa) -> Result<MemHpa, KubeError>;
    /// Records an Event about `involved`; repeats within ten minutes bump the
    /// count of the first one instead of making new objects.
    fn emit(
        &self,
        involved: &ObjectReference,
        warning: bool,
        reason: &str,
        message: &str,
        now: i64,
    ) -> Result<(), KubeError>;
}

pub trait UsageSource: Send + Sync {
    fn pod_usage(&self, namespace: &str, pods: &[String]) -> Result<Usage, PromError>;
}

impl UsageSource for prom::Client {
    fn pod_usage(&self, namespace: &str, pods: &[String]) -> Result<Usage, PromError> {
        prom::Client::pod_usage(self, namespace, pods)
    }
}

/// Attempts per call for errors worth retrying at once (429, 5xx, transport):
/// enough to ride out a short burst within one reconcile; longer outages are
/// the next tick's business.
const ATTEMPTS: usize = 3;

/// The first retry's wait before jitter.
const RETRY_BASE: Duration = Duration::from_millis(200);

/// The longest wait a single retry makes, even if the server's Retry-After
/// asks for more: a reconcile must not sit on a worker for minutes.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// Whether writes may still go out (the controller leads).
pub type WriteGuard = Arc<dyn Fn() -> bool + Send + Sync>;

pub struct KubeCluster {
    client: kube::Client,
    events: Recorder,
    may_write: WriteGuard,
    pods: Option<Arc<PodCache>>,
}

impl KubeCluster {
    pub fn new(client: kube::Client) -> KubeCluster {
        KubeCluster {
            events: Recorder::new(client.clone()),
            client,
            may_write: Arc::new(|| true),
            pods: None,
        }
    }

    /// Pods come from `cache` once it is synced; before that (and for a
    /// namespace it does not hold) they are listed from the server, so that
    /// no decision is ever made on a cache that has not seen the pods yet.
    pub fn with_pod_cache(mut self, cache: Arc<PodCache>) -> KubeCluster {
        self.pods = Some(cache);
        self
    }

    /// Asked before every retry of a write: a retry may come seconds after
    /// the reconcile last looked, and a replica that lost the Lease since
    /// must not write.
    pub fn with_write_guard(mut self, may_write: WriteGuard) -> KubeCluster {
        self.may_write = may_write;
        self
    }

    fn retrying<T>(&self, call: impl FnMut() -> Result<T, KubeError>) -> Result<T, KubeError> {
        retry(call, &|| true)
    }

    fn retrying_write<T>(
        &self,
        call: impl FnMut() -> Result<T, KubeError>,
    ) -> Result<T, KubeError> {
        retry(call, self.may_write.as_ref())
    }
}

/// The last line of defence against writing for an object without identity
/// (the watch drops those already): without a namespace, a Scale write would
/// go to `namespaces//...` and an Event to the client's default namespace.
fn require(
    verb: &'static str,
    object: impl Fn() -> String,
    field: &'static str,
    value: &str,
) -> Result<(), KubeError> {
    if value.is_empty() {
        return Err(KubeError::missing_field(verb, object(), field));
    }
    Ok(())
}

/// The pods from the cache, `None` when it cannot answer. A selector that
/// does not parse is the 400 the server would have answered, so that the
/// decision (InvalidSelector) is the same either way.
fn cached_pods(
    cache: &PodCache,
    namespace: &str,
    selector: &str,
) -> Result<Option<Vec<Pod>>, KubeError> {
    if selector.trim().is_empty() {
        // The client refuses an empty selector (it matches every pod): ask it.
        return Ok(None);
    }
    let parsed = LabelSelector::parse(selector).map_err(|e| {
        KubeError::with_status(
            "list",
            format!("pods in namespace {namespace:?} (from the cache)"),
            400,
            "BadRequest",
            e.to_string(),
        )
    })?;
    Ok(cache.pods(namespace, &parsed))
}

/// Calls `call` until it succeeds, fails for good, runs out of attempts, or
/// `may_retry` says no; the last error then stands.
fn retry<T>(
    mut call: impl FnMut() -> Result<T, KubeError>,
    may_retry: &dyn Fn() -> bool,
) -> Result<T, KubeError> {
    let mut backoff = Backoff::new(RETRY_BASE, Jitter::Full);
    let mut attempt = 1;
    loop {
        match call() {
            Err(e) if e.is_retryable() && attempt < ATTEMPTS => {
                let wait = match e.retry_after() {
                    Some(after) => backoff.after(after),
                    None => backoff.next(),
                };
                log::debug!("retrying after {wait:?}: {e}");
                thread::sleep(wait.min(MAX_RETRY_WAIT));
                if !may_retry() {
                    return Err(e);
                }
                attempt += 1;
            }
            other => return other,
        }
    }
}

impl Cluster for KubeCluster {
    fn get_scale(&self, namespace: &str, target: &ScaleTarget) -> Result<Scale, KubeError> {
        self.retrying(|| self.client.get_scale(namespace, target))
    }

    fn replace_scale(
        &self,
        namespace: &str,
        target: &ScaleTarget,
        scale: &Scale,
    ) -> Result<Scale, KubeError> {
        require(
            "update",
            || format!("the Scale of {}", target.name()),
            "namespace",
            namespace,
        )?;
        self.retrying_write(|| self.client.replace_scale(namespace, target, scale))
    }

    fn list_pods(&self, namespace: &str, selector: &str) -> Result<Vec<Pod>, KubeError> {
        if let Some(cache) = &self.pods {
            if let Some(pods) = cached_pods(cache, namespace, selector)? {
                return Ok(pods);
            }
        }
        self.retrying(|| self.client.list_pods(namespace, selector))
    }

    fn get_memhpa(&self, namespace: &str, name: &str) -> Result<MemHpa, KubeError> {
        self.retrying(|| self.client.get_memhpa(namespace, name))
    }

    fn replace_memhpa_status(&self, hpa: &MemHpa) -> Result<MemHpa, KubeError> {
        self.retrying_write(|| self.client.replace_memhpa_status(hpa))
    }

    fn emit(
        &self,
        involved: &ObjectReference,
        warning: bool,
        reason: &str,
        message: &str,
        now: i64,
    ) -> Result<(), KubeError> {
        let about = || format!("an Event about {involved:?}");
        require(
            "create",
            about,
            "involvedObject.namespace",
            involved.namespace.as_deref().unwrap_or(""),
        )?;
        require(
            "create",
            about,
            "involvedObject.name",
            involved.name.as_deref().unwrap_or(""),
        )?;
        self.retrying_write(|| {
            self.events
                .emit(now, involved, warning, reason, message)
                .map(|_| ())
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::cell::Cell;

    fn unavailable() -> KubeError {
        let detail = "connection reset".into();
        KubeError::new("update", "/scale", kube::ErrorKind::Transport { detail })
    }

    #[test]
    fn a_write_is_not_retried_once_the_guard_says_no() {
        let calls = Cell::new(0);
        let result: Result<(), KubeError> = retry(
            || {
                calls.set(calls.get() + 1);
                Err(unavailable())
            },
            &|| false,
        );
        assert!(matches!(
            result,
            Err(KubeError {
                kind: kube::ErrorKind::Transport { .. },
                ..
            })
        ));
        assert_eq!(calls.get(), 1, "no retry after leadership was lost");
    }

    #[test]
    fn nothing_is_written_for_an_object_without_a_namespace() {
        // A client whose every request would fail loudly: none may be made.
        let client = kube::Client::new(kube::KubeConfig::new("http://127.0.0.1:9")).unwrap();
        let cluster = KubeCluster::new(client);
        let target = ScaleTarget::from_ref("apps/v1", "Deployment", "web").unwrap();
        let scale: Scale = serde_json::from_value(serde_json::json!({"spec": {}})).unwrap();
        let err = cluster.replace_scale("", &target, &scale).unwrap_err();
        assert!(
            matches!(
                err.kind,
                kube::ErrorKind::MissingField {
                    field: "namespace",
                    ..
                }
            ),
            "{err}"
        );
        for involved in [
            ObjectReference::default(),
            ObjectReference {
                name: Some("web".into()),
                ..ObjectReference::default()
            },
            ObjectReference {
                namespace: Some("demo".into()),
                ..ObjectReference::default()
            },
        ] {
            let err = cluster.emit(&involved, false, "R", "m", 0).unwrap_err();
            assert!(
                matches!(err.kind, kube::ErrorKind::MissingField { .. }),
                "{err}"
            );
        }
    }

    #[test]
    fn a_retryable_failure_is_retried_while_allowed() {
        let calls = Cell::new(0);
        let result: Result<(), KubeError> = retry(
            || {
                calls.set(calls.get() + 1);
                Err(unavailable())
            },
            &|| true,
        );
        assert!(result.is_err());
        assert_eq!(calls.get(), ATTEMPTS);
    }
}
