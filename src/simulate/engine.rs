//! Runs a scenario through `algorithm::decide`, step by step.
//!
//! The simulated Scale follows every decision at once: the replicas a step
//! decides are the replicas the next step starts from, as if new pods appeared
//! (and old ones vanished) instantly. With `totalBytes`, usage is spread evenly
//! over those replicas, each pod also holding `podBaseBytes` of its own; pods
//! listed explicitly are taken exactly as written, whatever the replica count.

use super::scenario::{Load, Scenario};
use crate::algorithm::{
    decide, ContainerObservation, History, Observation, PodObservation, PodPhase, SCALING_ACTIVE,
};

/// One step's outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub t: i64,
    pub current_replicas: i64,
    pub utilization_percentage: Option<i64>,
    pub recommended_replicas: Option<i64>,
    pub desired_replicas: i64,
    pub reason: &'static str,
    /// Why a step could not be computed (the ScalingActive message), for the table.
    #[serde(skip)]
    pub detail: Option<String>,
}

pub fn simulate(s: &Scenario) -> Vec<Row> {
    let mut replicas = s.replicas;
    // As the controller does on its first look at a target.
    let start = s.steps.first().map_or(0, |step| step.t);
    let mut history = History::starting_at(start, replicas);
    let mut rows = Vec::with_capacity(s.steps.len());
    for step in &s.steps {
        let pods = match &step.load {
            Load::Pods(p) => p.clone(),
            Load::TotalBytes(total) => spread(s, *total, replicas),
        };
        let obs = Observation {
            spec_replicas: replicas,
            status_replicas: replicas,
            pods,
            metrics_error: None,
        };
        let d = decide(&obs, &s.policy, &history, step.t);
        history.apply(&d, &s.policy, step.t, d.rescale.is_some());
        rows.push(Row {
            t: step.t,
            current_replicas: replicas,
            utilization_percentage: d.utilization_percentage,
            recommended_replicas: d.recommended_replicas,
            desired_replicas: d.desired_replicas,
            reason: d.reason,
            detail: d
                .condition(SCALING_ACTIVE)
                .filter(|c| !c.status)
                .map(|c| c.message.clone()),
        });
        if let Some(r) = &d.rescale {
            replicas = r.to;
        }
    }
    rows
}

/// `replicas` identical Running pods sharing `total` bytes.
fn spread(s: &Scenario, total: f64, replicas: i64) -> Vec<PodObservation> {
    let n = replicas.max(0);
    let per_pod = if n > 0 { total / n as f64 } else { 0.0 };
    let container = s.policy.container.clone().unwrap_or_else(|| "app".into());
    (0..n)
        .map(|i| PodObservation {
            name: format!("pod-{i}"),
            phase: PodPhase::Running,
            deleted: false,
            containers: vec![ContainerObservation {
                name: container.clone(),
                usage_bytes: Some(per_pod + s.pod_base_bytes as f64),
                limit_bytes: s.limit_bytes,
                request_bytes: s.request_bytes,
            }],
        })
        .collect()
}
