//! A workload's real history from Prometheus, for `memhpa simulate
//! -from-prometheus`: what it fetches (`fetch`), which pods count
//! (`membership`), the baseline the history suggests (`baseline`), and the
//! replay itself (`replay`), which turns the history into a [`Scenario`] and
//! runs the simulator's engine on it, so a replay decides exactly as the
//! equivalent scenario file does.
//!
//! The history is what Prometheus answered at each step of the range: the
//! workload's total working set, how many of its pods had a working-set
//! series, and its largest pod. A step where Prometheus had no sample, or
//! where a pod's sample was not a number, is skipped: the controller would
//! have seen no usable metrics then, and a guess would be a load that never
//! was.

pub mod baseline;
pub mod fetch;
pub mod membership;
pub mod replay;

use serde_json::Value;

use super::scenario::{Load, Scenario, Step, MAX_BYTES, MAX_REPLICAS};
use super::summary::Observed;
use crate::algorithm::Policy;
use crate::prom::Range;

pub use membership::{Membership, MembershipSource, Workload, WorkloadKind};

/// One step of the range with data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Unix seconds.
    pub t: i64,
    /// Σ the working set of the workload's pods, in bytes.
    pub total_bytes: f64,
    /// The pods with a working-set sample at `t`.
    pub pods: u32,
    /// The largest of those pods' working sets.
    pub max_pod_bytes: f64,
}

/// Where the per-pod memory limit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    /// `-limit-bytes`.
    Flag,
    /// kube-state-metrics' `kube_pod_container_resource_limits`: the most
    /// common value over the pods.
    KubeStateMetrics,
}

/// What Prometheus holds of a workload over a range.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub workload: Workload,
    pub range: Range,
    pub membership: Membership,
    pub limit_bytes: u64,
    pub limit_source: LimitSource,
    /// The steps with data, in time order.
    pub points: Vec<Point>,
    /// Steps of the range without data, left out of `points`.
    pub skipped: usize,
}

impl History {
    /// The scenario the replay runs under `policy` (whose spec is `spec`):
    /// each step's load is the observed total minus the baseline of the pods
    /// that actually ran (never below zero), and each simulated pod holds
    /// `podBaseline` again on top of its share, as with `totalBytes` in a
    /// scenario file. The simulated Scale starts at the pods observed first.
    pub fn scenario(&self, policy: &Policy) -> Scenario {
        let beta = policy.pod_baseline_bytes as f64;
        let steps = self
            .points
            .iter()
            .map(|p| Step {
                t: p.t,
                load: Load::TotalBytes(load_bytes(p, beta)),
            })
            .collect();
        Scenario {
            policy: policy.clone(),
            replicas: self.first_replicas(),
            limit_bytes: Some(self.limit_bytes),
            request_bytes: None,
            pod_base_bytes: 0,
            pod_baseline_bytes: policy.pod_baseline_bytes,
            steps,
        }
    }

    /// [`History::scenario`] as a scenario file holding `spec`: simulating it
    /// gives the replay's timeline, step for step.
    pub fn scenario_file(&self, spec: &Value, policy: &Policy) -> Value {
        let beta = policy.pod_baseline_bytes as f64;
        let steps: Vec<Value> = self
            .points
            .iter()
            .map(|p| serde_json::json!({"t": p.t, "totalBytes": load_bytes(p, beta)}))
            .collect();
        serde_json::json!({
            "spec": spec,
            "replicas": self.first_replicas(),
            "limitBytes": self.limit_bytes,
            "steps": steps,
        })
    }

    /// What really ran, as the summary reads it: the pods observed at each
    /// step, their mean working set over the limit in whole percent rounded
    /// down (the algorithm's utilization under `basis: limits`), and the
    /// largest pod's over the limit in permille (the OOM risk). A step
    /// without pods has neither figure.
    pub fn observed(&self) -> Vec<Observed> {
        let limit = self.limit_bytes as f64;
        self.points
            .iter()
            .map(|p| {
                let ran = p.pods > 0 && limit > 0.0;
                let of_limits = p.total_bytes / (f64::from(p.pods) * limit);
                Observed {
                    t: p.t,
                    replicas: i64::from(p.pods),
                    utilization_percentage: ran.then(|| (100.0 * of_limits).floor() as i64),
                    limit_permille: ran.then(|| (1000.0 * p.max_pod_bytes / limit).floor() as i64),
                }
            })
            .collect()
    }

    /// The pods observed at the first step with data, within a scenario's
    /// bound.
    fn first_replicas(&self) -> i64 {
        self.points
            .first()
            .map_or(0, |p| i64::from(p.pods))
            .min(MAX_REPLICAS)
    }
}

/// Observed total minus β per observed pod, within what a scenario accepts.
fn load_bytes(p: &Point, beta: f64) -> f64 {
    (p.total_bytes - beta * f64::from(p.pods)).clamp(0.0, MAX_BYTES as f64)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::api::MemHpaSpec;
    use crate::simulate::summary::{observed as observed_samples, summarize};

    fn policy(baseline: Option<&str>) -> Policy {
        let mut spec = serde_json::json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1, "maxReplicas": 10, "targetUtilizationPercentage": 70
        });
        if let Some(b) = baseline {
            spec["podBaseline"] = b.into();
        }
        let spec: MemHpaSpec = serde_json::from_value(spec).expect("spec");
        Policy::from_spec(&spec).expect("policy")
    }

    fn history(points: Vec<Point>) -> History {
        History {
            workload: Workload {
                namespace: "demo".into(),
                kind: WorkloadKind::Deployment,
                name: "web".into(),
            },
            range: Range::new(0, 120, 60).expect("range"),
            membership: Membership::owned(&[]),
            limit_bytes: 1 << 30,
            limit_source: LimitSource::Flag,
            points,
            skipped: 0,
        }
    }

    fn point(t: i64, total: f64, pods: u32) -> Point {
        Point {
            t,
            total_bytes: total,
            pods,
            max_pod_bytes: total,
        }
    }

    fn totals(s: &Scenario) -> Vec<(i64, f64)> {
        s.steps
            .iter()
            .map(|step| match step.load {
                Load::TotalBytes(total) => (step.t, total),
                Load::Pods(_) => panic!("pods in a replay"),
            })
            .collect()
    }

    #[test]
    fn the_load_is_the_total_less_the_baseline_of_the_pods_that_ran() {
        let h = history(vec![
            point(60, 1000.0 * 1048576.0, 4),
            point(120, 900.0 * 1048576.0, 3),
        ]);
        let s = h.scenario(&policy(Some("100Mi")));
        assert_eq!(
            totals(&s),
            [(60, 600.0 * 1048576.0), (120, 600.0 * 1048576.0)]
        );
        assert_eq!(s.replicas, 4);
        assert_eq!(s.pod_baseline_bytes, 100 * 1048576);
        assert_eq!(s.limit_bytes, Some(1 << 30));
    }

    #[test]
    fn what_ran_sums_up_by_hand() {
        const GI: f64 = (1u64 << 30) as f64;
        let mut points = vec![
            // 4 pods at a mean 0.755 GiB: 75%, the largest at 0.95 GiB (950‰).
            point(0, 4.0 * 0.755 * GI, 4),
            // 6 pods from 600 s on (a scale-up after the first step) at 50%.
            point(600, 3.0 * GI, 6),
            // No pod ran: no figures.
            point(900, 0.0, 0),
            point(960, 2.0 * 0.3 * GI, 2),
        ];
        points[0].max_pod_bytes = 0.95 * GI;
        points[1].max_pod_bytes = 0.6 * GI;
        points[3].max_pod_bytes = 0.3 * GI;
        let observed = history(points).observed();
        let figures: Vec<_> = observed
            .iter()
            .map(|o| (o.replicas, o.utilization_percentage, o.limit_permille))
            .collect();
        assert_eq!(
            figures,
            [
                (4, Some(75), Some(950)),
                (6, Some(50), Some(600)),
                (0, None, None),
                (2, Some(30), Some(300)),
            ]
        );
        let sum = summarize(&observed_samples(&observed), 70);
        // The 60 s without pods cost nothing; the last step lasts none.
        assert_eq!(sum.replica_seconds, 4 * 600 + 6 * 300);
        // Up to 6, down to none, up to 2.
        assert_eq!((sum.scale_ups, sum.scale_downs), (2, 1));
        // Only the first 600 s are above 70%, and above 900‰ of the limit.
        assert_eq!(sum.seconds_above_target, 600);
        assert_eq!(sum.seconds_above_oom_risk, Some(600));
        assert_eq!(sum.peak_limit_permille, Some(950));
    }

    #[test]
    fn without_a_baseline_the_whole_total_is_load() {
        let h = history(vec![point(60, 12345.0, 2)]);
        assert_eq!(totals(&h.scenario(&policy(None))), [(60, 12345.0)]);
    }

    #[test]
    fn a_baseline_above_the_total_leaves_no_load_not_less() {
        let h = history(vec![point(60, 100.0, 2)]);
        assert_eq!(totals(&h.scenario(&policy(Some("1Mi")))), [(60, 0.0)]);
    }

    #[test]
    fn the_file_form_parses_back_to_the_same_scenario() {
        let h = history(vec![
            point(1_790_000_000, 1.5e9 + 0.25, 3),
            point(1_790_000_060, 7.0, 1),
        ]);
        let spec = serde_json::json!({"minReplicas": 1, "maxReplicas": 10, "targetUtilizationPercentage": 70, "podBaseline": 1});
        let p = policy(Some("1"));
        let text = h.scenario_file(&spec, &p).to_string();
        let parsed = crate::simulate::scenario::parse(&text).expect("parses");
        let built = h.scenario(&p);
        assert_eq!(totals(&parsed), totals(&built));
        assert_eq!(parsed.replicas, built.replicas);
        assert_eq!(parsed.limit_bytes, built.limit_bytes);
        assert_eq!(parsed.pod_baseline_bytes, built.pod_baseline_bytes);
    }
}
