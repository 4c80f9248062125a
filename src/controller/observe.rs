//! Turns what the API server and Prometheus said about one target into the
//! algorithm's [`Observation`].
//!
//! Whether a pod has a sample is decided in one place, `Usage::bytes`: a pod
//! that lacks the series of any counted container is *missing* as a whole, the
//! way the metrics API treats it, so that adding up the rest never
//! under-counts it.

use std::collections::BTreeSet;

use crate::algorithm::{ContainerObservation, Observation, PodObservation, PodPhase};
use crate::api::{Pod, Scale};
use crate::prom::{Counted, Usage};

/// What the calculator reads of each pod, without usage yet: taken as soon
/// as the pods are read, so that a namespace job holds about 200 bytes per
/// pod until its one Prometheus query, not the API pod (ten times that).
pub fn shapes(pods: &[Pod]) -> Vec<PodObservation> {
    pods.iter()
        .map(|pod| PodObservation {
            name: pod.metadata.name.clone().unwrap_or_default(),
            phase: PodPhase::parse(pod.status.phase.as_deref()),
            deleted: pod.metadata.deletion_timestamp.is_some(),
            containers: pod
                .spec
                .containers
                .iter()
                .map(|c| ContainerObservation::from_container(c, None))
                .collect(),
        })
        .collect()
}

/// Adds the names of the pods whose memory Prometheus must be asked for.
/// Terminal and deleted pods are left out: the calculator drops them anyway,
/// and each name costs a regex alternative in the query.
pub fn wanted_pods(pods: &[PodObservation], into: &mut BTreeSet<String>) {
    for pod in pods.iter().filter(|p| is_live(p)) {
        if !pod.name.is_empty() {
            into.insert(pod.name.clone());
        }
    }
}

fn is_live(pod: &PodObservation) -> bool {
    !pod.deleted && !matches!(pod.phase, PodPhase::Succeeded | PodPhase::Failed)
}

/// What the usage of a namespace came to: the numbers, or why there are none.
pub type UsageResult<'a> = Result<&'a Usage, &'a str>;

/// The observation of one target from its pods' [`shapes`]. `container` is
/// the MemHpa's `container` option; a Prometheus failure for the namespace
/// becomes `metrics_error`, so that `decide` refuses to scale on it.
pub fn observation(
    scale: &Scale,
    pods: &[PodObservation],
    usage: UsageResult<'_>,
    container: Option<&str>,
) -> Observation {
    let (usage, metrics_error) = match usage {
        Ok(u) => (Some(u), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Observation {
        spec_replicas: scale.spec.replicas,
        status_replicas: scale.status.replicas,
        pods: pods
            .iter()
            .map(|p| pod_observation(p, usage, container))
            .collect(),
        metrics_error,
    }
}

fn pod_observation(
    shape: &PodObservation,
    usage: Option<&Usage>,
    only: Option<&str>,
) -> PodObservation {
    let name = &shape.name;
    let spec_names: Vec<String> = shape.containers.iter().map(|c| c.name.clone()).collect();
    let counted = match only {
        Some(c) => Counted::Only(c),
        None => Counted::AllOf(&spec_names),
    };
    let sampled = usage.is_some_and(|u| u.bytes(name, counted).is_ok());
    let per_pod_total = usage
        .filter(|u| sampled && !u.pod(name).is_some_and(|p| p.is_per_container()))
        .and_then(|u| u.bytes(name, counted).ok());
    let containers = shape
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let usage_bytes = match (sampled, per_pod_total) {
                (false, _) => None,
                // A template that sums per pod gives no per-container figure.
                // Only the pod's total reaches the calculator, which adds the
                // containers up, so the total rides on the first container.
                (true, Some(total)) => Some(if i == 0 { total } else { 0.0 }),
                (true, None) => usage.and_then(|u| u.container_bytes(name, &c.name)),
            };
            ContainerObservation {
                usage_bytes,
                ..c.clone()
            }
        })
        .collect();
    PodObservation {
        containers,
        ..shape.clone()
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::algorithm::{decide, History, Policy, Reason};
    use serde_json::json;

    fn pod(name: &str, phase: &str, containers: &[(&str, &str)]) -> Pod {
        let containers: Vec<_> = containers
            .iter()
            .map(|(n, limit)| json!({"name": n, "resources": {"limits": {"memory": limit}}}))
            .collect();
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"containers": containers},
            "status": {"phase": phase}
        }))
        .expect("test pod decodes")
    }

    fn scale(replicas: i64) -> Scale {
        serde_json::from_value(json!({
            "spec": {"replicas": replicas},
            "status": {"replicas": replicas, "selector": "app=web"}
        }))
        .expect("test scale decodes")
    }

    const MI: f64 = 1024.0 * 1024.0;

    #[test]
    fn wanted_pods_skip_terminal_and_deleted() {
        let mut deleted = pod("gone", "Running", &[("app", "100Mi")]);
        deleted.metadata.deletion_timestamp = Some("2026-01-01T00:00:00Z".into());
        let pods = vec![
            pod("a", "Running", &[("app", "100Mi")]),
            pod("b", "Pending", &[("app", "100Mi")]),
            pod("c", "Failed", &[("app", "100Mi")]),
            pod("d", "Succeeded", &[("app", "100Mi")]),
            deleted,
        ];
        let mut names = BTreeSet::new();
        wanted_pods(&shapes(&pods), &mut names);
        assert_eq!(names.into_iter().collect::<Vec<_>>(), vec!["a", "b"]);
    }

    #[test]
    fn per_container_usage_is_kept_per_container() {
        let pods = vec![pod("a", "Running", &[("app", "100Mi"), ("side", "20Mi")])];
        let usage =
            Usage::from_samples("demo", [("a", "app", 80.0 * MI), ("a", "side", 10.0 * MI)]);
        let obs = observation(&scale(1), &shapes(&pods), Ok(&usage), None);
        let c = &obs.pods[0].containers;
        assert_eq!(c[0].usage_bytes, Some(80.0 * MI));
        assert_eq!(c[1].usage_bytes, Some(10.0 * MI));
        assert_eq!(c[0].limit_bytes, Some(100 * 1024 * 1024));
    }

    #[test]
    fn a_pod_missing_one_container_is_missing_as_a_whole() {
        let pods = vec![pod("a", "Running", &[("app", "100Mi"), ("side", "20Mi")])];
        let usage = Usage::from_samples("demo", [("a", "app", 80.0 * MI)]);
        let obs = observation(&scale(1), &shapes(&pods), Ok(&usage), None);
        assert!(obs.pods[0]
            .containers
            .iter()
            .all(|c| c.usage_bytes.is_none()));
    }

    #[test]
    fn a_nan_container_makes_the_pod_missing_not_zero() {
        let pods = vec![pod("a", "Running", &[("app", "100Mi"), ("side", "20Mi")])];
        let usage = Usage::from_samples("demo", [("a", "app", 70.0 * MI), ("a", "side", f64::NAN)]);
        let obs = observation(&scale(1), &shapes(&pods), Ok(&usage), None);
        assert!(obs.pods[0]
            .containers
            .iter()
            .all(|c| c.usage_bytes.is_none()));
    }

    #[test]
    fn the_container_option_counts_only_that_container() {
        let pods = vec![pod("a", "Running", &[("app", "100Mi"), ("side", "20Mi")])];
        let usage = Usage::from_samples("demo", [("a", "app", 80.0 * MI)]);
        let obs = observation(&scale(1), &shapes(&pods), Ok(&usage), Some("app"));
        assert_eq!(obs.pods[0].containers[0].usage_bytes, Some(80.0 * MI));
    }

    #[test]
    fn a_prometheus_failure_is_a_metrics_error_and_never_scales() {
        let pods = vec![pod("a", "Running", &[("app", "100Mi")])];
        let obs = observation(&scale(3), &shapes(&pods), Err("Prometheus is down"), None);
        assert_eq!(obs.metrics_error.as_deref(), Some("Prometheus is down"));
        let spec = serde_json::from_value(json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1, "maxReplicas": 10, "targetUtilizationPercentage": 50
        }))
        .expect("spec decodes");
        let policy = Policy::from_spec(&spec).expect("valid spec");
        let d = decide(&obs, &policy, &History::new(), 1_000);
        assert!(d.rescale.is_none());
        assert_eq!(d.reason, Reason::FailedGetResourceMetric);
    }

    #[test]
    fn a_limit_of_1e308_is_beyond_physical_memory_not_absent() {
        let pods = vec![pod("a", "Running", &[("app", "1e308")])];
        let usage = Usage::from_samples("demo", [("a", "app", 80.0 * MI)]);
        let obs = observation(&scale(2), &shapes(&pods), Ok(&usage), None);
        let spec = serde_json::from_value(json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1, "maxReplicas": 6, "targetUtilizationPercentage": 50
        }))
        .expect("spec decodes");
        let policy = Policy::from_spec(&spec).expect("valid spec");
        let d = decide(&obs, &policy, &History::new(), 1_000);
        assert!(d.rescale.is_none());
        assert_eq!(d.reason, Reason::FailedGetResourceMetric);
        let event = &d.events[0].message;
        assert!(
            event.contains("pod \"a\" container \"app\": memory limit of 16 EiB or more is beyond any physical memory"),
            "{event}"
        );
    }

    #[test]
    fn replicas_come_from_the_scale() {
        let obs = observation(&scale(4), &[], Err("x"), None);
        assert_eq!((obs.spec_replicas, obs.status_replicas), (4, 4));
    }
}
