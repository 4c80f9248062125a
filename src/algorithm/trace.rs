//! What a decision saw and did, step by step, for `status.lastDecision` and
//! `memhpa explain`. Filled by `decide` as it goes; never read by the
//! algorithm itself, so recording can change no answer.
//!
//! Bounded whatever the pod count: pods are counted, and at most
//! [`MAX_NAMED`] of the ones left out of the sums are named.

use super::history::Sample;
use super::observe::{Observation, PodObservation, PodPhase};
use super::policy::{Policy, RatePolicy};
use crate::api::Basis;

/// How many missing, Pending or ignored pods are named.
pub const MAX_NAMED: usize = 10;

/// A pod name is cut to this many characters (a pod name may have 253), so ten
/// names stay small. The end is kept: it is what tells a ReplicaSet's pods
/// apart.
const MAX_NAME: usize = 63;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    pub pods: PodCounts,
    /// Missing, Pending and ignored pods, in list order, at most `MAX_NAMED`.
    pub named: Vec<NamedPod>,
    /// Σusage over the pods with samples (bytes).
    pub usage_bytes: u64,
    /// Σlimit (or Σrequest) over the pods with samples (bytes).
    pub capacity_bytes: u64,
    pub basis: Basis,
    pub baseline_bytes: u64,
    pub target_utilization: i64,
    /// The calculator's utilization (percent).
    pub utilization: Option<i64>,
    /// The calculator's raw recommendation.
    pub recommended: Option<i64>,
    pub window: Option<Window>,
    /// What the rate policies or the bounds did to the stabilized count.
    pub limit: Option<LimitStep>,
    pub desired: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PodCounts {
    /// Pods with a sample: the ones the sums are over.
    pub counted: u64,
    /// Running pods without a sample.
    pub missing: u64,
    pub pending: u64,
    /// Deleted, Succeeded and Failed pods.
    pub ignored: u64,
}

/// Why a pod was left out of the sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftOut {
    Missing,
    Pending,
    Deleted,
    Succeeded,
    Failed,
}

impl LeftOut {
    /// The wire word, as `status.lastDecision.pods.named[].why` says it.
    pub fn as_str(self) -> &'static str {
        match self {
            LeftOut::Missing => "missing",
            LeftOut::Pending => "pending",
            LeftOut::Deleted => "deleted",
            LeftOut::Succeeded => "succeeded",
            LeftOut::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPod {
    pub name: String,
    pub why: LeftOut,
}

/// A stabilization window that held the recommendation back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The scale-up window (else the scale-down one).
    pub up: bool,
    pub seconds: i64,
    /// The one that bound: the lowest (up) or highest (down), its oldest.
    pub bound: Sample,
    /// The count stabilization gave.
    pub stabilized: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitStep {
    /// The count before the limit.
    pub from: i64,
    pub to: i64,
    /// The rate policy that bound, if a rate policy did (else a bound did).
    pub policy: Option<RatePolicy>,
}

impl Trace {
    /// The inputs of a decision: the pods as the calculator groups them and
    /// the policy's figures.
    pub fn of(obs: &Observation, copies: u64, policy: &Policy) -> Trace {
        let mut t = Trace {
            basis: policy.basis,
            baseline_bytes: policy.pod_baseline_bytes,
            target_utilization: policy.target_utilization,
            desired: obs.spec_replicas,
            ..Trace::default()
        };
        for pod in &obs.pods {
            t.count(pod, copies, policy);
        }
        t
    }

    /// Load over room for load, `(Σusage − n·b) / (target × Σlimit − n·b)`
    /// (HPA's `utilization / target` when b = 0), rounded to thousandths;
    /// `None` without pods counted, or when the baseline leaves no room.
    pub fn ratio(&self) -> Option<f64> {
        let n = u128::from(self.pods.counted);
        let fixed = n.checked_mul(u128::from(self.baseline_bytes))?;
        let load = u128::from(self.usage_bytes).saturating_sub(fixed) as f64;
        let room = u128::from(self.capacity_bytes) as f64 * self.target_utilization as f64 / 100.0
            - fixed as f64;
        if n == 0 || room <= 0.0 {
            return None;
        }
        Some((load / room * 1000.0).round() / 1000.0)
    }

    fn count(&mut self, pod: &PodObservation, copies: u64, policy: &Policy) {
        let why = if pod.deleted {
            LeftOut::Deleted
        } else {
            match (pod.phase, sums(pod, policy)) {
                (PodPhase::Succeeded, _) => LeftOut::Succeeded,
                (PodPhase::Failed, _) => LeftOut::Failed,
                (PodPhase::Pending, _) => LeftOut::Pending,
                (_, None) => LeftOut::Missing,
                (_, Some((usage, capacity))) => {
                    self.pods.counted = self.pods.counted.saturating_add(copies);
                    self.usage_bytes = self
                        .usage_bytes
                        .saturating_add(usage.saturating_mul(copies));
                    self.capacity_bytes = self
                        .capacity_bytes
                        .saturating_add(capacity.saturating_mul(copies));
                    return;
                }
            }
        };
        let slot = match why {
            LeftOut::Pending => &mut self.pods.pending,
            LeftOut::Missing => &mut self.pods.missing,
            LeftOut::Deleted | LeftOut::Succeeded | LeftOut::Failed => &mut self.pods.ignored,
        };
        *slot = slot.saturating_add(copies);
        if self.named.len() < MAX_NAMED {
            self.named.push(NamedPod {
                name: tail(&pod.name),
                why,
            });
        }
    }
}

/// A pod's usage and capacity over its counted containers, or `None` when a
/// counted container has no usable sample (the calculator's "missing").
fn sums(pod: &PodObservation, policy: &Policy) -> Option<(u64, u64)> {
    let mut usage = 0u64;
    let mut capacity = 0u64;
    let mut any = false;
    for c in &pod.containers {
        if policy
            .container
            .as_deref()
            .is_some_and(|name| name != c.name)
        {
            continue;
        }
        any = true;
        let u = c.usage_bytes.filter(|u| crate::api::is_byte_count(*u))?;
        usage = usage.saturating_add(u.round() as u64);
        capacity = capacity.saturating_add(c.capacity(policy.basis).unwrap_or(0));
    }
    any.then_some((usage, capacity))
}

/// `name`, or `…` and its last characters when longer than `MAX_NAME`.
fn tail(name: &str) -> String {
    let len = name.chars().count();
    if len <= MAX_NAME {
        return name.to_string();
    }
    let kept: String = name.chars().skip(len - (MAX_NAME - 1)).collect();
    format!("…{kept}")
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::algorithm::ContainerObservation;
    use crate::api::MemHpaSpec;

    fn policy(container: Option<&str>) -> Policy {
        let spec: MemHpaSpec = serde_json::from_value(serde_json::json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 10,
            "targetUtilizationPercentage": 50,
            "container": container,
            "podBaseline": "10",
        }))
        .expect("spec");
        Policy::from_spec(&spec).expect("policy")
    }

    fn pod(name: &str, phase: PodPhase, containers: &[(&str, Option<f64>)]) -> PodObservation {
        PodObservation {
            name: name.into(),
            phase,
            deleted: false,
            containers: containers
                .iter()
                .map(|(c, usage)| ContainerObservation {
                    name: (*c).into(),
                    usage_bytes: *usage,
                    limit_bytes: Some(100),
                    request_bytes: Some(50),
                })
                .collect(),
        }
    }

    fn observation(pods: Vec<PodObservation>) -> Observation {
        Observation {
            spec_replicas: 3,
            status_replicas: 3,
            pods,
            metrics_error: None,
        }
    }

    #[test]
    fn pods_are_sorted_as_the_calculator_groups_them() {
        let mut gone = pod("gone", PodPhase::Running, &[("app", Some(90.0))]);
        gone.deleted = true;
        let o = observation(vec![
            pod(
                "a",
                PodPhase::Running,
                &[("app", Some(40.0)), ("side", Some(5.0))],
            ),
            pod(
                "b",
                PodPhase::Running,
                &[("app", Some(60.0)), ("side", None)],
            ),
            pod("c", PodPhase::Pending, &[("app", None)]),
            gone,
            pod("done", PodPhase::Succeeded, &[("app", Some(1.0))]),
            pod("bad", PodPhase::Failed, &[("app", Some(1.0))]),
        ]);
        let t = Trace::of(&o, 1, &policy(None));
        let counts = PodCounts {
            counted: 1,
            missing: 1,
            pending: 1,
            ignored: 3,
        };
        assert_eq!(t.pods, counts);
        assert_eq!((t.usage_bytes, t.capacity_bytes), (45, 200));
        let named: Vec<_> = t
            .named
            .iter()
            .map(|p| (p.name.as_str(), p.why.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                ("b", "missing"),
                ("c", "pending"),
                ("gone", "deleted"),
                ("done", "succeeded"),
                ("bad", "failed")
            ]
        );
        // Under `container`, only that container counts: b has its sample.
        let t = Trace::of(&o, 2, &policy(Some("app")));
        assert_eq!((t.pods.counted, t.pods.missing), (4, 0));
        assert_eq!((t.usage_bytes, t.capacity_bytes), (200, 400));
        // (200 − 4·10) / (50% of 400 − 4·10) = 160 / 160.
        assert_eq!(t.ratio(), Some(1.0));
    }

    #[test]
    fn at_most_ten_are_named_and_long_names_keep_their_end() {
        let long = format!("{}-tail", "x".repeat(300));
        let o = observation(
            (0..50)
                .map(|_| pod(&long, PodPhase::Running, &[("app", None)]))
                .collect(),
        );
        let t = Trace::of(&o, 1, &policy(None));
        assert_eq!(t.pods.missing, 50);
        assert_eq!(t.named.len(), MAX_NAMED);
        assert!(t.named[0].name.starts_with('…') && t.named[0].name.ends_with("x-tail"));
        assert_eq!(t.named[0].name.chars().count(), MAX_NAME);
        assert_eq!(t.ratio(), None, "no pod counted");
    }
}
