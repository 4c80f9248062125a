//! Runs a scenario through `algorithm::decide`, step by step.
//!
//! The simulated Scale follows every decision at once: the replicas a step
//! decides are the replicas the next step starts from, as if new pods appeared
//! (and old ones vanished) instantly. With `totalBytes`, the workload's load is
//! spread evenly over those replicas, each pod also holding `spec.podBaseline`
//! and `podBaseBytes` of its own whatever its share; pods listed explicitly are
//! taken exactly as written, whatever the replica count.
//!
//! An even split is passed to the algorithm as one pod standing for all the
//! replicas (`decide_copies`), so a step costs the same at any replica count.

use super::scenario::{Load, Scenario};
use crate::algorithm::{
    decide_copies, ConditionType, ContainerObservation, History, Observation, PodObservation,
    PodPhase, Policy, WriteOutcome,
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
    /// The fullest container's working set over its memory limit, in whole
    /// permille (rounded down), over the Running pods of the step and all
    /// their containers (not only `spec.container`'s: any one is killed at
    /// its limit): the OOM risk, about the limit whatever the `basis`. `None` where no
    /// container has both a working set and a limit. Last in the JSON line,
    /// as `limitPercentage` (one decimal), so the older keys come first.
    #[serde(rename = "limitPercentage", serialize_with = "permille_as_percent")]
    pub limit_permille: Option<i64>,
    /// Why a step could not be computed (the ScalingActive message), for the table.
    #[serde(skip)]
    pub detail: Option<String>,
}

pub fn simulate(s: &Scenario) -> Vec<Row> {
    run(s, &s.policy, step_pods)
}

/// The same pods under the proportional rule: the algorithm is told of no
/// baseline, though every pod still holds it.
pub fn simulate_proportional(s: &Scenario) -> Vec<Row> {
    let policy = Policy {
        pod_baseline_bytes: 0,
        ..s.policy.clone()
    };
    run(s, &policy, step_pods)
}

/// A step's pods as `decide_copies` takes them: each pod stands for `copies`.
type PodsOf = fn(&Scenario, &Load, i64) -> (Vec<PodObservation>, u64);

fn step_pods(s: &Scenario, load: &Load, replicas: i64) -> (Vec<PodObservation>, u64) {
    match load {
        Load::Pods(p) => (p.clone(), 1),
        Load::TotalBytes(total) => (vec![spread_pod(s, *total, replicas)], copies(replicas)),
    }
}

/// `s` run with the algorithm under `policy`.
fn run(s: &Scenario, policy: &Policy, pods_of: PodsOf) -> Vec<Row> {
    let mut replicas = s.replicas;
    // As the controller does on its first look at a target.
    let start = s.steps.first().map_or(0, |step| step.t);
    let mut history = History::starting_at(start, replicas);
    let mut rows = Vec::with_capacity(s.steps.len());
    for step in &s.steps {
        let (pods, copies) = pods_of(s, &step.load, replicas);
        let obs = Observation {
            spec_replicas: replicas,
            status_replicas: replicas,
            pods,
            metrics_error: None,
        };
        // The simulated Scale write always lands.
        let d = decide_copies(&obs, copies, policy, &history, step.t).settle(WriteOutcome::Written);
        history.apply(&d, policy, step.t, d.rescale.is_some());
        rows.push(Row {
            t: step.t,
            current_replicas: replicas,
            utilization_percentage: d.utilization_percentage,
            recommended_replicas: d.recommended_replicas,
            desired_replicas: d.desired_replicas,
            reason: d.reason.as_str(),
            limit_permille: fullest_of_limit(&obs.pods, copies),
            detail: d
                .condition(ConditionType::ScalingActive)
                .filter(|c| !c.status)
                .map(|c| c.message.clone()),
        });
        if let Some(r) = &d.rescale {
            replicas = r.to;
        }
    }
    rows
}

/// The highest working set over limit of the containers of `pods` that can
/// be OOM-killed now: those of Running pods not being deleted. A container,
/// not a pod, is what the kernel kills at its limit, so the figure is per
/// container. A zero limit (which the API refuses anyway) counts as none.
/// With no `copies`, the pod stands for none (a Scale at zero): nothing runs.
fn fullest_of_limit(pods: &[PodObservation], copies: u64) -> Option<i64> {
    if copies == 0 {
        return None;
    }
    pods.iter()
        .filter(|p| p.phase == PodPhase::Running && !p.deleted)
        .flat_map(|p| &p.containers)
        .filter_map(|c| {
            let limit = c.limit_bytes.filter(|&l| l > 0)? as f64;
            let permille = (c.usage_bytes? / limit * 1000.0).floor();
            // `as` saturates, but a NaN would become 0: not a figure at all.
            permille.is_finite().then_some(permille as i64)
        })
        .max()
}

fn permille_as_percent<S: serde::Serializer>(p: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => s.serialize_f64(*p as f64 / 10.0),
        None => s.serialize_none(),
    }
}

/// How many pods an even split over `replicas` has (none below 1, where the
/// algorithm looks at no pod anyway).
fn copies(replicas: i64) -> u64 {
    u64::try_from(replicas).unwrap_or(0)
}

/// What every simulated pod holds whatever its load: the declared baseline
/// and what the spec leaves undeclared. Summed in u64 first (each is at most
/// `MAX_BYTES`), so without a baseline the figure is the old one to the bit.
fn fixed_bytes(s: &Scenario) -> f64 {
    (s.pod_base_bytes + s.pod_baseline_bytes) as f64
}

/// One of the `replicas` identical Running pods sharing `total` bytes.
fn spread_pod(s: &Scenario, total: f64, replicas: i64) -> PodObservation {
    let n = replicas.max(0);
    let per_pod = if n > 0 { total / n as f64 } else { 0.0 };
    PodObservation {
        name: "pod-0".to_string(),
        phase: PodPhase::Running,
        deleted: false,
        containers: vec![ContainerObservation {
            name: s.policy.container.clone().unwrap_or_else(|| "app".into()),
            usage_bytes: Some(per_pod + fixed_bytes(s)),
            limit_bytes: s.limit_bytes,
            request_bytes: s.request_bytes,
        }],
    }
}

#[cfg(test)]
mod test {
    //! The even split as one pod with copies must decide exactly as the list of
    //! every pod does: compared over a grid of pods and whole random timelines.
    use super::*;
    use crate::algorithm::decide;
    use crate::api::{Basis, MemHpaSpec};
    use crate::simulate::scenario::Step;

    /// Every replica as its own pod, as the engine once built them.
    fn listed_pods(s: &Scenario, load: &Load, replicas: i64) -> (Vec<PodObservation>, u64) {
        let Load::TotalBytes(total) = load else {
            return step_pods(s, load, replicas);
        };
        let one = spread_pod(s, *total, replicas);
        let pods = (0..replicas.max(0))
            .map(|i| PodObservation {
                name: format!("pod-{i}"),
                ..one.clone()
            })
            .collect();
        (pods, 1)
    }

    /// xorshift64*: deterministic cases without a crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn pick<T: Copy>(&mut self, from: &[T]) -> T {
            from[self.below(from.len() as u64) as usize]
        }
    }

    fn policy(rng: &mut Rng, basis: Basis) -> Policy {
        let mut spec: MemHpaSpec = serde_json::from_value(serde_json::json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"},
            "minReplicas": rng.pick(&[1, 2, 5]),
            "maxReplicas": rng.pick(&[10, 100, 1000, 10_000]),
            "targetUtilizationPercentage": rng.pick(&[1, 30, 50, 70, 99, 100]),
            "behavior": {
                "scaleDown": {"stabilizationWindowSeconds": rng.pick(&[0, 60, 300])},
                "scaleUp": {"stabilizationWindowSeconds": rng.pick(&[0, 60])}
            }
        }))
        .expect("spec");
        spec.basis = Some(basis.as_str().to_string());
        if rng.below(2) == 0 {
            spec.container = Some("main".into());
        }
        Policy::from_spec(&spec).expect("valid policy")
    }

    fn scenario(rng: &mut Rng) -> Scenario {
        let basis = rng.pick(&[Basis::Limits, Basis::Requests]);
        let policy = policy(rng, basis);
        let limit = rng.pick(&[1, 3, 1000, 1 << 30, 1 << 50]);
        let request = rng.pick(&[1, 7, 500, 1 << 29]);
        let mut t = 0;
        let steps = (0..rng.pick(&[1, 5, 40]))
            .map(|_| {
                t += rng.pick(&[0, 15, 60, 301]) as i64;
                let scale = rng.pick(&[0.0, 0.3, 1.0, 7.0, 1000.0]);
                let total = (rng.below(1 << 40) as f64 * scale).min((1u64 << 50) as f64);
                Step {
                    t,
                    load: Load::TotalBytes(total.floor() + rng.pick(&[0.0, 0.5, 0.25])),
                }
            })
            .collect();
        Scenario {
            replicas: rng
                .pick(&[0, 1, 2, 3, 9, 64, 1000])
                .min(policy.max_replicas + 3),
            policy,
            limit_bytes: Some(limit),
            request_bytes: (rng.below(3) > 0).then_some(request),
            pod_base_bytes: rng.pick(&[0, 1, 100, 1 << 20]),
            pod_baseline_bytes: 0,
            steps,
        }
    }

    #[test]
    fn an_even_split_is_one_pod_at_any_replica_count() {
        let s = scenario(&mut Rng(7));
        for replicas in [1, 10_000] {
            let (pods, n) = step_pods(&s, &Load::TotalBytes(1e9), replicas);
            assert_eq!((pods.len(), n), (1, replicas as u64));
        }
    }

    #[test]
    fn copies_decide_as_the_listed_pods_over_a_grid() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..200 {
            let s = scenario(&mut rng);
            let Load::TotalBytes(total) = s.steps[0].load else {
                unreachable!("only even splits are generated")
            };
            for replicas in [1, 2, 3, 10, 99, 1000, 10_000] {
                let (listed, _) = listed_pods(&s, &s.steps[0].load, replicas);
                let observe = |pods| Observation {
                    spec_replicas: replicas,
                    status_replicas: replicas,
                    pods,
                    metrics_error: None,
                };
                let history = History::starting_at(0, s.replicas);
                let one = vec![spread_pod(&s, total, replicas)];
                assert_eq!(
                    decide(&observe(listed), &s.policy, &history, 30),
                    decide_copies(&observe(one), copies(replicas), &s.policy, &history, 30),
                    "{replicas} replicas of {s:?}"
                );
            }
        }
    }

    #[test]
    fn copies_simulate_as_the_listed_pods_over_random_timelines() {
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        let mut distinct = std::collections::BTreeSet::new();
        for _ in 0..300 {
            let s = scenario(&mut rng);
            let rows = simulate(&s);
            assert_eq!(rows, run(&s, &s.policy, listed_pods), "{s:?}");
            distinct.extend(rows.iter().map(|r| r.reason));
        }
        // The cases reach every kind of outcome, failures included.
        for reason in [
            "AboveTarget",
            "BelowTarget",
            "WithinTolerance",
            "ScaleDownStabilized",
            "FailedGetResourceMetric",
            "ScalingDisabled",
        ] {
            assert!(
                distinct.contains(reason),
                "{reason} never reached: {distinct:?}"
            );
        }
    }
}
