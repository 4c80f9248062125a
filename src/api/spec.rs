//! The `MemHpa` custom resource (`memhpa.io/v1`).
//!
//! Every spec field is optional on the wire, even the ones the CRD schema
//! requires: an object that slipped past the schema (an older CRD, a direct etcd
//! write) must still decode, so that the controller can answer it with an
//! `InvalidSpec` condition instead of dropping it silently. Validation into typed
//! values happens in `algorithm::Policy::from_spec`.

use super::meta::ObjectMeta;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemHpa {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: MemHpaSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MemHpaStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemHpaSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_target_ref: Option<CrossVersionObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_utilization_percentage: Option<i64>,
    /// `limits` (default) or `requests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// Count only this container of each pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<Behavior>,
    /// The memory each pod holds whatever its load (a Kubernetes quantity,
    /// string or number); under `container`, what that container holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_baseline: Option<serde_json::Value>,
}

/// autoscaling/v1 CrossVersionObjectReference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrossVersionObjectReference {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
}

/// Which per-container figure is the denominator of utilization.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Basis {
    #[default]
    Limits,
    Requests,
}

impl Basis {
    pub fn parse(s: &str) -> Option<Basis> {
        match s {
            "limits" => Some(Basis::Limits),
            "requests" => Some(Basis::Requests),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Limits => "limits",
            Basis::Requests => "requests",
        }
    }

    /// One of the basis, as messages say it: "memory limit", "memory request".
    pub fn singular(self) -> &'static str {
        match self {
            Basis::Limits => "limit",
            Basis::Requests => "request",
        }
    }
}

/// autoscaling/v2 HorizontalPodAutoscalerBehavior.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Behavior {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_up: Option<ScalingRules>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<ScalingRules>,
}

/// autoscaling/v2 HPAScalingRules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalingRules {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stabilization_window_seconds: Option<i64>,
    /// `Max` (default), `Min` or `Disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<ScalingPolicy>>,
}

/// autoscaling/v2 HPAScalingPolicy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalingPolicy {
    /// `Pods` or `Percent`.
    #[serde(rename = "type", default)]
    pub type_: String,
    #[serde(default)]
    pub value: i64,
    #[serde(default)]
    pub period_seconds: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemHpaStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// RFC 3339, seconds precision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_replicas: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_replicas: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_utilization_percentage: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_memory_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_decision: Option<LastDecision>,
}

/// One status condition, as autoscaling/v2 HorizontalPodAutoscalerCondition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `status.lastDecision`: the last decision's inputs and steps, for `memhpa
/// explain` and `kubectl describe`. Short keys and counts, never a per-pod
/// list beyond the ten named, so it stays small whatever the pod count.
/// Every field is optional: a decision that failed early has few.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastDecision {
    /// RFC 3339: when a decision with this content was first made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The decision's one-token reason (a condition reason or the verdict).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The Scale's replicas the decision started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<i64>,
    /// The replicas decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<DecisionPods>,
    /// Σ working set over the pods counted (bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_bytes: Option<i64>,
    /// Σ memory limit (or request, see `basis`) over the pods counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_bytes: Option<i64>,
    /// `limits` or `requests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_bytes: Option<i64>,
    /// Percent of the basis used, and the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<i64>,
    /// Load over room for load (Σusage / (target × Σlimit) without a baseline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    /// `within` or `outside` the 10% tolerance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<String>,
    /// The calculator's raw recommendation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<i64>,
    /// The stabilization window that held the recommendation, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<DecisionWindow>,
    /// The rate policy or bound that limited the count, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<DecisionLimit>,
}

/// The pods a decision saw, counted, and up to ten of those left out named.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionPods {
    #[serde(default)]
    pub counted: i64,
    #[serde(default)]
    pub missing: i64,
    #[serde(default)]
    pub pending: i64,
    /// Deleted, Succeeded or Failed.
    #[serde(default)]
    pub ignored: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub named: Vec<NamedPod>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedPod {
    #[serde(default)]
    pub name: String,
    /// `missing`, `pending`, `deleted`, `succeeded` or `failed`.
    #[serde(default)]
    pub why: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionWindow {
    /// `up` or `down`.
    #[serde(default)]
    pub direction: String,
    #[serde(default)]
    pub seconds: i64,
    /// The recommendation in the window that bound, and when it was made.
    #[serde(default)]
    pub bound: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound_time: Option<String>,
    /// The count the window gave.
    #[serde(default)]
    pub to: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionLimit {
    #[serde(default)]
    pub from: i64,
    #[serde(default)]
    pub to: i64,
    /// `rate`, `maxReplicas` or `minReplicas`.
    #[serde(default)]
    pub by: String,
    /// The rate policy that bound, e.g. `Pods 4 per 60s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}
