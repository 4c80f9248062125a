//! What the controller observed about a target, in the shape the calculator needs.

use crate::api::{self, Basis};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

impl PodPhase {
    /// Maps `status.phase`; an absent or unrecognised phase is `Unknown`, which the
    /// calculator treats like Running (it has a sample or it is missing).
    pub fn parse(phase: Option<&str>) -> PodPhase {
        match phase {
            Some("Pending") => PodPhase::Pending,
            Some("Running") => PodPhase::Running,
            Some("Succeeded") => PodPhase::Succeeded,
            Some("Failed") => PodPhase::Failed,
            _ => PodPhase::Unknown,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContainerObservation {
    pub name: String,
    /// Working-set bytes; `None` when Prometheus had no series for it.
    pub usage_bytes: Option<f64>,
    pub limit_bytes: Option<u64>,
    pub request_bytes: Option<u64>,
}

impl ContainerObservation {
    /// Maps a container of an API pod and its working set. A limit or request
    /// beyond any physical memory (`1e308`) is kept as its byte count,
    /// saturated, so that the calculator reports it as absurd rather than as
    /// absent; a malformed one counts as absent and is reported as such.
    pub fn from_container(c: &api::Container, usage_bytes: Option<f64>) -> ContainerObservation {
        ContainerObservation {
            name: c.name.clone(),
            usage_bytes,
            limit_bytes: counted(c.resources.memory_limit()),
            request_bytes: counted(c.resources.memory_request()),
        }
    }

    /// The denominator under `basis`.
    pub fn capacity(&self, basis: Basis) -> Option<u64> {
        match basis {
            Basis::Limits => self.limit_bytes,
            Basis::Requests => self.request_bytes,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PodObservation {
    pub name: String,
    pub phase: PodPhase,
    /// `metadata.deletionTimestamp` is set.
    pub deleted: bool,
    pub containers: Vec<ContainerObservation>,
}

/// Everything `decide` needs to know about one target at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The Scale's `spec.replicas`: the count the algorithm starts from.
    pub spec_replicas: i64,
    /// The Scale's `status.replicas`, for the status only.
    pub status_replicas: i64,
    pub pods: Vec<PodObservation>,
    /// Prometheus failed for this namespace: nothing may be scaled.
    pub metrics_error: Option<String>,
}

impl PodObservation {
    /// Maps an API pod and its per-container working set (keyed by container name,
    /// as Prometheus labels it). A container absent from `usage` has no sample.
    /// Limits and requests as [`ContainerObservation::from_container`] maps them.
    pub fn from_pod(pod: &api::Pod, usage: &HashMap<String, f64>) -> PodObservation {
        let containers = pod
            .spec
            .containers
            .iter()
            .map(|c| ContainerObservation::from_container(c, usage.get(&c.name).copied()))
            .collect();
        PodObservation {
            name: pod.metadata.name.clone().unwrap_or_default(),
            phase: PodPhase::parse(pod.status.phase.as_deref()),
            deleted: pod.metadata.deletion_timestamp.is_some(),
            containers,
        }
    }
}

/// A quantity as the calculator counts it (see [`ContainerObservation::from_container`]).
fn counted(quantity: Result<Option<u64>, api::QuantityError>) -> Option<u64> {
    match quantity {
        Ok(bytes) => bytes,
        Err(api::QuantityError {
            kind: api::QuantityErrorKind::BeyondPhysicalMemory { bytes },
            ..
        }) => Some(bytes),
        Err(_) => None,
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn from_pod_maps_fields() {
        let pod: api::Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-1", "deletionTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"containers": [
                {"name": "app", "resources": {"limits": {"memory": "100Mi"}, "requests": {"memory": "50Mi"}}},
                {"name": "sidecar", "resources": {"limits": {"memory": "bogus"}}}
            ]},
            "status": {"phase": "Pending"}
        }))
        .expect("pod decodes");
        let usage = HashMap::from([("app".to_string(), 1234.0)]);
        let p = PodObservation::from_pod(&pod, &usage);
        assert_eq!(p.name, "web-1");
        assert_eq!(p.phase, PodPhase::Pending);
        assert!(p.deleted);
        assert_eq!(p.containers[0].usage_bytes, Some(1234.0));
        assert_eq!(p.containers[0].limit_bytes, Some(104_857_600));
        assert_eq!(p.containers[0].request_bytes, Some(52_428_800));
        assert_eq!(p.containers[1].usage_bytes, None);
        assert_eq!(
            p.containers[1].limit_bytes, None,
            "an unparsable limit counts as none"
        );
    }

    #[test]
    fn from_pod_keeps_a_limit_beyond_physical_memory_apart_from_none() {
        let pod: api::Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-1"},
            "spec": {"containers": [
                {"name": "app", "resources": {"limits": {"memory": "1e308"}, "requests": {"memory": "2Pi"}}},
                {"name": "json", "resources": {"limits": {"memory": 1e308}}}
            ]}
        }))
        .expect("pod decodes");
        let p = PodObservation::from_pod(&pod, &HashMap::new());
        assert_eq!(p.containers[0].limit_bytes, Some(u64::MAX));
        assert_eq!(p.containers[0].request_bytes, Some(1 << 51));
        assert_eq!(p.containers[1].limit_bytes, Some(u64::MAX));
    }

    #[test]
    fn a_limit_beyond_physical_memory_is_named_and_never_scales() {
        let mut absurd = running("b", 50.0 * MI);
        absurd.containers[0].limit_bytes = Some(u64::MAX);
        let d = decide_on(vec![running("a", 50.0 * MI), absurd]);
        assert!(d.rescale.is_none(), "{d:?}");
        assert_eq!(d.reason, crate::algorithm::Reason::FailedGetResourceMetric);
        let active = d
            .conditions
            .iter()
            .find(|c| c.type_ == crate::algorithm::ConditionType::ScalingActive)
            .expect("ScalingActive");
        assert!(
            active.message.contains(
                "pod \"b\" container \"app\": memory limit of 16 EiB or more is beyond any physical memory"
            ),
            "{}",
            active.message
        );
        assert!(
            !active.message.contains("has no memory limit"),
            "{}",
            active.message
        );
    }

    fn running(name: &str, usage: f64) -> PodObservation {
        PodObservation {
            name: name.into(),
            phase: PodPhase::Running,
            deleted: false,
            containers: vec![ContainerObservation {
                name: "app".into(),
                usage_bytes: Some(usage),
                limit_bytes: Some(100 << 20),
                request_bytes: None,
            }],
        }
    }

    fn decide_on(pods: Vec<PodObservation>) -> crate::algorithm::Decision {
        let spec = serde_json::from_value(serde_json::json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1, "maxReplicas": 6, "targetUtilizationPercentage": 50
        }))
        .expect("spec decodes");
        let policy = crate::algorithm::Policy::from_spec(&spec).expect("valid spec");
        let obs = Observation {
            spec_replicas: 2,
            status_replicas: 2,
            pods,
            metrics_error: None,
        };
        crate::algorithm::decide(&obs, &policy, &crate::algorithm::History::new(), 1_000)
    }

    #[test]
    fn a_sample_beyond_physical_memory_is_no_sample_and_never_scales() {
        // One pod at its target, one claiming 1e308 bytes: the second is
        // missing, which holds the count instead of scaling to the maximum.
        let d = decide_on(vec![running("a", 50.0 * MI), running("b", 1e308)]);
        assert!(d.rescale.is_none(), "{d:?}");
        assert_ne!(d.utilization_percentage, Some(i64::MAX), "{d:?}");
        for bad in [1e308, f64::INFINITY, f64::NEG_INFINITY, -1.0, f64::NAN] {
            let d = decide_on(vec![running("a", bad), running("b", bad)]);
            assert!(d.rescale.is_none(), "{bad}: {d:?}");
            assert_eq!(
                d.reason,
                crate::algorithm::Reason::FailedGetResourceMetric,
                "{bad}"
            );
            assert_eq!(d.utilization_percentage, None, "{bad}");
        }
    }

    const MI: f64 = 1024.0 * 1024.0;

    #[test]
    fn phase_parse() {
        assert_eq!(PodPhase::parse(Some("Running")), PodPhase::Running);
        assert_eq!(PodPhase::parse(Some("Failed")), PodPhase::Failed);
        assert_eq!(PodPhase::parse(Some("Succeeded")), PodPhase::Succeeded);
        assert_eq!(PodPhase::parse(Some("weird")), PodPhase::Unknown);
        assert_eq!(PodPhase::parse(None), PodPhase::Unknown);
    }
}
