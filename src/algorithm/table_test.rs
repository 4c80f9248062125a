//! The algorithm's table: one case struct, one runner.
//!
//! The case families follow Kubernetes' replica_calculator_test.go (for a
//! resource metric) and the behavior tests of horizontal_test.go; the numbers are
//! our own. Bytes are small round figures (a limit of 1000) so each expectation
//! can be checked by hand; the arithmetic is noted beside the less obvious ones.

use super::*;
use crate::api::Basis;
use ConditionType::{AbleToScale, ScalingActive, ScalingLimited};

const NOW: i64 = 1_700_000_000;
const MI: u64 = 1 << 20;

struct Case {
    name: &'static str,
    current: i64,
    pods: Vec<PodObservation>,
    target: i64,
    basis: Basis,
    container: Option<&'static str>,
    /// spec.podBaseline in bytes (0: the proportional rule).
    baseline: u64,
    min: i64,
    max: i64,
    up: Rules,
    down: Rules,
    /// (seconds ago, recommendation)
    recommendations: Vec<(i64, i64)>,
    /// (seconds ago, from, to)
    scales: Vec<(i64, i64, i64)>,
    metrics_error: Option<&'static str>,
    want_recommended: Option<i64>,
    want_desired: i64,
    want_utilization: Option<i64>,
    want_reason: &'static str,
}

impl Default for Case {
    fn default() -> Case {
        Case {
            name: "",
            current: 3,
            pods: Vec::new(),
            target: 50,
            basis: Basis::Limits,
            container: None,
            baseline: 0,
            min: 1,
            max: 100,
            // No stabilization and no rate limit, so calculator cases show the
            // calculator alone; behavior cases set their own rules.
            up: unlimited(),
            down: unlimited(),
            recommendations: Vec::new(),
            scales: Vec::new(),
            metrics_error: None,
            want_recommended: None,
            want_desired: 0,
            want_utilization: None,
            want_reason: "",
        }
    }
}

fn unlimited() -> Rules {
    rules(0, Select::Max, &[(RateKind::Percent, 10_000, 15)])
}

fn rules(window: i64, select: Select, policies: &[(RateKind, i64, i64)]) -> Rules {
    Rules {
        stabilization_window_seconds: window,
        select,
        policies: policies
            .iter()
            .map(|&(kind, value, period_seconds)| RatePolicy {
                kind,
                value,
                period_seconds,
            })
            .collect(),
    }
}

fn container(
    name: &str,
    usage: Option<f64>,
    limit: Option<u64>,
    request: Option<u64>,
) -> ContainerObservation {
    ContainerObservation {
        name: name.into(),
        usage_bytes: usage,
        limit_bytes: limit,
        request_bytes: request,
    }
}

/// A Running pod with one container "app"; its request is half its limit.
fn pod(name: &str, usage: Option<f64>, limit: u64) -> PodObservation {
    PodObservation {
        name: name.into(),
        phase: PodPhase::Running,
        deleted: false,
        containers: vec![container("app", usage, Some(limit), Some(limit / 2))],
    }
}

fn with_phase(mut p: PodObservation, phase: PodPhase) -> PodObservation {
    p.phase = phase;
    p
}

fn deleted(mut p: PodObservation) -> PodObservation {
    p.deleted = true;
    p
}

/// `n` Running pods each using `usage` of a 1000-byte limit.
fn pods_at(n: usize, usage: f64) -> Vec<PodObservation> {
    (0..n)
        .map(|i| pod(&format!("p{i}"), Some(usage), 1000))
        .collect()
}

fn app_and_sidecar(name: &str, app: Option<f64>, sidecar: Option<f64>) -> PodObservation {
    PodObservation {
        name: name.into(),
        phase: PodPhase::Running,
        deleted: false,
        containers: vec![
            container("app", app, Some(1000), Some(500)),
            container("sidecar", sidecar, Some(1000), Some(500)),
        ],
    }
}

fn cases() -> Vec<Case> {
    let mut v = calculator_cases();
    v.extend(failure_cases());
    v.extend(bound_cases());
    v.extend(behavior_cases());
    v.extend(baseline_cases());
    v
}

fn calculator_cases() -> Vec<Case> {
    vec![
        Case {
            name: "3 pods at 90% of limit, target 50 -> 6",
            pods: pods_at(3, 900.0),
            want_recommended: Some(6),
            want_desired: 6,
            want_utilization: Some(90),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            // util = floor(1500*100/3000) = 50; 50/30 * 3 = 5
            name: "scale up, uneven pods",
            target: 30,
            pods: vec![
                pod("a", Some(300.0), 1000),
                pod("b", Some(500.0), 1000),
                pod("c", Some(700.0), 1000),
            ],
            want_recommended: Some(5),
            want_desired: 5,
            want_utilization: Some(50),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            // util = floor(1400*100/5000) = 28; 28/50 * 5 = 2.8 -> 3
            name: "scale down",
            current: 5,
            pods: vec![
                pod("a", Some(100.0), 1000),
                pod("b", Some(300.0), 1000),
                pod("c", Some(500.0), 1000),
                pod("d", Some(250.0), 1000),
                pod("e", Some(250.0), 1000),
            ],
            want_recommended: Some(3),
            want_desired: 3,
            want_utilization: Some(28),
            want_reason: "BelowTarget",
            ..Default::default()
        },
        Case {
            // util = floor(3060*100/3300) = 92; ratio 0.92 is within 0.1
            name: "within tolerance keeps current",
            target: 100,
            pods: vec![
                pod("a", Some(1010.0), 1100),
                pod("b", Some(1030.0), 1100),
                pod("c", Some(1020.0), 1100),
            ],
            want_recommended: Some(3),
            want_desired: 3,
            want_utilization: Some(92),
            want_reason: "WithinTolerance",
            ..Default::default()
        },
        Case {
            // 45/50 = 0.9: |1 - 0.9| is just under 0.1 in floating point
            name: "tolerance edge 0.9 holds",
            pods: pods_at(3, 450.0),
            want_recommended: Some(3),
            want_desired: 3,
            want_utilization: Some(45),
            want_reason: "WithinTolerance",
            ..Default::default()
        },
        Case {
            // 55/50 is 1.1000000000000001 in floating point, just past the
            // tolerance; Kubernetes computes the same and scales
            name: "tolerance edge 1.1 scales, as in Kubernetes",
            pods: pods_at(3, 550.0),
            want_recommended: Some(4),
            want_desired: 4,
            want_utilization: Some(55),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            // 56/50 = 1.12 > 1.1; ceil(1.12*3) = 4
            name: "just past tolerance scales",
            pods: pods_at(3, 560.0),
            want_recommended: Some(4),
            want_desired: 4,
            want_utilization: Some(56),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            name: "failed and succeeded pods are dropped",
            current: 2,
            pods: vec![
                pod("a", Some(500.0), 1000),
                pod("b", Some(700.0), 1000),
                with_phase(pod("c", Some(0.0), 1000), PodPhase::Failed),
                with_phase(pod("d", Some(0.0), 1000), PodPhase::Succeeded),
            ],
            target: 30,
            // util 60, ratio 2 -> 4; counting c and d would have given util 30
            want_recommended: Some(4),
            want_desired: 4,
            want_utilization: Some(60),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            name: "deleted pods are dropped",
            current: 2,
            pods: vec![
                pod("a", Some(500.0), 1000),
                pod("b", Some(500.0), 1000),
                deleted(pod("c", Some(1000.0), 1000)),
            ],
            want_recommended: Some(2),
            want_desired: 2,
            want_utilization: Some(50),
            want_reason: "WithinTolerance",
            ..Default::default()
        },
        Case {
            name: "failed pods dropped on scale down",
            current: 5,
            pods: {
                let mut p = pods_at(5, 100.0);
                p.push(with_phase(pod("f1", Some(1000.0), 1000), PodPhase::Failed));
                p.push(with_phase(pod("f2", None, 1000), PodPhase::Failed));
                p
            },
            // util 10 -> 0.2 * 5 = 1
            want_recommended: Some(1),
            want_desired: 1,
            want_utilization: Some(10),
            want_reason: "BelowTarget",
            ..Default::default()
        },
        Case {
            name: "unknown phase with a sample counts like running",
            current: 2,
            pods: vec![
                pod("a", Some(900.0), 1000),
                with_phase(pod("b", Some(900.0), 1000), PodPhase::Unknown),
            ],
            want_recommended: Some(4),
            want_desired: 4,
            want_utilization: Some(90),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            // sampled util 100 = target: no adjustment at all
            name: "missing metrics, no change at ratio 1",
            current: 2,
            target: 100,
            pods: vec![pod("a", Some(1000.0), 1000), pod("b", None, 1000)],
            want_recommended: Some(2),
            want_desired: 2,
            want_utilization: Some(100),
            want_reason: "HeldForUnsampledPods",
            ..Default::default()
        },
        Case {
            // ratio 1.9; missing as 0: 1900/2000 = 95 -> 0.95 within tolerance
            name: "missing metrics damp a scale-up into no change",
            current: 2,
            target: 100,
            pods: vec![pod("a", Some(1900.0), 2000), pod("b", None, 0)],
            want_recommended: Some(2),
            want_desired: 2,
            want_utilization: Some(95),
            want_reason: "HeldForUnsampledPods",
            ..Default::default()
        },
        Case {
            // ratio 0.6; missing as 100%: 1600/2000 = 80 -> ceil(0.8*2) = 2
            name: "missing metrics hold a scale-down",
            current: 2,
            target: 100,
            pods: vec![pod("a", Some(600.0), 1000), pod("b", None, 1000)],
            want_recommended: Some(2),
            want_desired: 2,
            want_utilization: Some(60),
            want_reason: "BelowTarget",
            ..Default::default()
        },
        Case {
            // ratio 1.8; missing as 0: 2700/4000 = 67 -> 1.34*4 = 5.36 -> 6
            name: "missing pod counts 0 on scale up",
            current: 4,
            pods: {
                let mut p = pods_at(3, 900.0);
                p.push(pod("m", None, 1000));
                p
            },
            want_recommended: Some(6),
            want_desired: 6,
            want_utilization: Some(90),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            // ratio 0.2; missing as 100%: 1300/4000 = 32 -> 0.64*4 = 2.56 -> 3
            name: "missing pod counts 100% on scale down",
            current: 4,
            pods: {
                let mut p = pods_at(3, 100.0);
                p.push(pod("m", None, 1000));
                p
            },
            want_recommended: Some(3),
            want_desired: 3,
            want_utilization: Some(10),
            want_reason: "BelowTarget",
            ..Default::default()
        },
        Case {
            // a pod missing one container's sample is missing as a whole
            name: "pod missing one container sample is missing",
            current: 2,
            pods: vec![
                app_and_sidecar("a", Some(900.0), Some(900.0)),
                app_and_sidecar("b", Some(900.0), None),
            ],
            // sampled: 1800/2000 = 90 -> 1.8; b as 0: 1800/4000 = 45 -> 0.9 within tolerance
            want_recommended: Some(2),
            want_desired: 2,
            want_utilization: Some(90),
            want_reason: "HeldForUnsampledPods",
            ..Default::default()
        },
        Case {
            name: "non-finite or negative usage is no sample",
            current: 3,
            pods: vec![
                pod("a", Some(100.0), 1000),
                pod("b", Some(f64::NAN), 1000),
                pod("c", Some(-5.0), 1000),
            ],
            // ratio 0.2; b, c as 100%: 2100/3000 = 70 -> 1.4 flips direction -> hold
            want_recommended: Some(3),
            want_desired: 3,
            want_utilization: Some(10),
            want_reason: "HeldForUnsampledPods",
            ..Default::default()
        },
        Case {
            // ratio 2; pending as 0: 2000/6000 = 33 -> 0.66 flips -> hold
            name: "pending pod damps a scale-up",
            current: 3,
            pods: vec![
                pod("a", Some(1000.0), 1000),
                pod("b", Some(1000.0), 1000),
                with_phase(pod("c", None, 4000), PodPhase::Pending),
            ],
            want_recommended: Some(3),
            want_desired: 3,
            want_utilization: Some(100),
            want_reason: "HeldForUnsampledPods",
            ..Default::default()
        },
        Case {
            // ratio 1.8; pending as 0: 1800/3000 = 60 -> 1.2*3 = 3.6 -> 4
            name: "pending pod counts 0 on scale up",
            current: 3,
            pods: vec![
                pod("a", Some(900.0), 1000),
                pod("b", Some(900.0), 1000),
                with_phase(pod("c", Some(900.0), 1000), PodPhase::Pending),
            ],
            want_recommended: Some(4),
            want_desired: 4,
            want_utilization: Some(90),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            // pending pods are ignored on a scale-down: 0.2 * 2 = 0.4 -> 1
            name: "pending pod ignored on scale down",
            current: 3,
            pods: vec![
                pod("a", Some(100.0), 1000),
                pod("b", Some(100.0), 1000),
                with_phase(pod("c", None, 1000), PodPhase::Pending),
            ],
            want_recommended: Some(1),
            want_desired: 1,
            want_utilization: Some(10),
            want_reason: "BelowTarget",
            ..Default::default()
        },
        Case {
            name: "container option counts only that container",
            pods: (0..3)
                .map(|i| app_and_sidecar(&format!("p{i}"), Some(900.0), Some(100.0)))
                .collect(),
            container: Some("app"),
            want_recommended: Some(6),
            want_desired: 6,
            want_utilization: Some(90),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            name: "without container option all containers count",
            pods: (0..3)
                .map(|i| app_and_sidecar(&format!("p{i}"), Some(900.0), Some(100.0)))
                .collect(),
            want_recommended: Some(3),
            want_desired: 3,
            want_utilization: Some(50),
            want_reason: "WithinTolerance",
            ..Default::default()
        },
        Case {
            name: "container option ignores other containers' missing samples",
            pods: (0..3)
                .map(|i| app_and_sidecar(&format!("p{i}"), Some(900.0), None))
                .collect(),
            container: Some("app"),
            want_recommended: Some(6),
            want_desired: 6,
            want_utilization: Some(90),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            // requests are half the limits: 450/500 = 90%
            name: "basis requests",
            pods: pods_at(3, 450.0),
            basis: Basis::Requests,
            want_recommended: Some(6),
            want_desired: 6,
            want_utilization: Some(90),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            name: "basis limits on the same pods",
            pods: pods_at(3, 450.0),
            want_recommended: Some(3),
            want_desired: 3,
            want_utilization: Some(45),
            want_reason: "WithinTolerance",
            ..Default::default()
        },
        Case {
            // Beyond any physical memory is no sample, never a pegged maximum.
            name: "usage beyond physical memory is missing",
            current: 2,
            max: 10,
            pods: vec![pod("a", Some(1e300), 1), pod("b", Some(1e300), 1)],
            want_desired: 2,
            want_reason: "FailedGetResourceMetric",
            ..Default::default()
        },
    ]
}

fn failure_cases() -> Vec<Case> {
    let fail = |name, current, pods: Vec<PodObservation>| Case {
        name,
        current,
        pods,
        want_desired: current,
        want_reason: "FailedGetResourceMetric",
        ..Default::default()
    };
    vec![
        fail("no pods", 3, vec![]),
        fail(
            "all pods missing",
            2,
            vec![pod("a", None, 1000), pod("b", None, 1000)],
        ),
        fail(
            "only pending pods",
            2,
            vec![with_phase(pod("a", Some(5.0), 1000), PodPhase::Pending)],
        ),
        fail(
            "container without a limit",
            2,
            vec![pod("a", Some(900.0), 1000), {
                let mut p = pod("b", Some(900.0), 1000);
                p.containers[0].limit_bytes = None;
                p
            }],
        ),
        fail(
            "zero total limit",
            2,
            vec![pod("a", Some(900.0), 0), pod("b", Some(900.0), 0)],
        ),
        Case {
            name: "basis requests without a request",
            basis: Basis::Requests,
            ..fail("", 2, vec![pod("a", Some(900.0), 1)])
        },
        Case {
            name: "container option, container absent from a pod",
            container: Some("sidecar"),
            ..fail(
                "",
                3,
                vec![
                    app_and_sidecar("a", Some(1.0), Some(1.0)),
                    pod("b", Some(1.0), 1000),
                ],
            )
        },
        Case {
            name: "prometheus failed: never scale down",
            metrics_error: Some("prometheus: connection refused"),
            ..fail("", 5, pods_at(5, 10.0))
        },
        Case {
            name: "spec.replicas 0 disables autoscaling",
            want_reason: "ScalingDisabled",
            ..fail("", 0, pods_at(3, 900.0))
        },
    ]
}

fn bound_cases() -> Vec<Case> {
    vec![
        Case {
            name: "recommendation above max is clamped",
            max: 5,
            pods: pods_at(3, 900.0),
            want_recommended: Some(6),
            want_desired: 5,
            want_utilization: Some(90),
            want_reason: "TooManyReplicas",
            ..Default::default()
        },
        Case {
            name: "recommendation below min is clamped",
            current: 5,
            min: 3,
            pods: pods_at(5, 50.0),
            want_recommended: Some(1),
            want_desired: 3,
            want_utilization: Some(5),
            want_reason: "TooFewReplicas",
            ..Default::default()
        },
        Case {
            name: "current above max comes down to max even at high use",
            current: 12,
            max: 10,
            pods: pods_at(12, 900.0),
            want_recommended: Some(22),
            want_desired: 10,
            want_utilization: Some(90),
            want_reason: "TooManyReplicas",
            ..Default::default()
        },
        Case {
            name: "current below min goes up to min even when metrics fail",
            current: 1,
            min: 2,
            metrics_error: Some("timeout"),
            pods: pods_at(1, 10.0),
            want_desired: 2,
            want_reason: "TooFewReplicas",
            ..Default::default()
        },
    ]
}

fn behavior_cases() -> Vec<Case> {
    use RateKind::{Percent, Pods};
    let down_window = |w| rules(w, Select::Max, &[(Percent, 100, 15)]);
    vec![
        Case {
            name: "default scale-up: max(4 pods, 100%) per 15 s",
            current: 1,
            up: default_scale_up(),
            pods: pods_at(1, 1000.0),
            target: 10,
            want_recommended: Some(10),
            want_desired: 5,
            want_utilization: Some(100),
            want_reason: "ScaleUpLimit",
            ..Default::default()
        },
        Case {
            name: "default scale-down: stabilized by 300 s window",
            current: 5,
            down: default_scale_down(),
            recommendations: vec![(100, 5)],
            pods: pods_at(5, 100.0),
            want_recommended: Some(1),
            want_desired: 5,
            want_utilization: Some(10),
            want_reason: "ScaleDownStabilized",
            ..Default::default()
        },
        Case {
            name: "down window passed: scale down",
            current: 5,
            down: down_window(300),
            recommendations: vec![(300, 5), (400, 5)],
            pods: pods_at(5, 100.0),
            want_recommended: Some(1),
            want_desired: 1,
            want_utilization: Some(10),
            want_reason: "BelowTarget",
            ..Default::default()
        },
        Case {
            name: "down window takes the highest recent recommendation",
            current: 5,
            down: down_window(300),
            recommendations: vec![(250, 4), (100, 3), (500, 5)],
            pods: pods_at(5, 100.0),
            want_recommended: Some(1),
            want_desired: 4,
            want_utilization: Some(10),
            want_reason: "ScaleDownStabilized",
            ..Default::default()
        },
        Case {
            name: "up window takes the lowest recent recommendation",
            current: 3,
            up: rules(60, Select::Max, &[(Percent, 1000, 15)]),
            recommendations: vec![(30, 4), (90, 3)],
            pods: pods_at(3, 900.0),
            want_recommended: Some(6),
            want_desired: 4,
            want_utilization: Some(90),
            want_reason: "ScaleUpStabilized",
            ..Default::default()
        },
        Case {
            name: "up window all at current: no scale",
            current: 3,
            up: rules(60, Select::Max, &[(Percent, 1000, 15)]),
            recommendations: vec![(30, 3)],
            pods: pods_at(3, 900.0),
            want_recommended: Some(6),
            want_desired: 3,
            want_utilization: Some(90),
            want_reason: "ScaleUpStabilized",
            ..Default::default()
        },
        Case {
            name: "up Pods policy",
            current: 3,
            up: rules(0, Select::Max, &[(Pods, 2, 60)]),
            pods: pods_at(3, 1000.0),
            target: 10,
            want_recommended: Some(30),
            want_desired: 5,
            want_utilization: Some(100),
            want_reason: "ScaleUpLimit",
            ..Default::default()
        },
        Case {
            name: "up Percent policy rounds up",
            current: 3,
            up: rules(0, Select::Max, &[(Percent, 50, 60)]),
            pods: pods_at(3, 1000.0),
            target: 10,
            // ceil(3 * 1.5) = 5
            want_recommended: Some(30),
            want_desired: 5,
            want_utilization: Some(100),
            want_reason: "ScaleUpLimit",
            ..Default::default()
        },
        Case {
            name: "up Pods policy counts past scale-ups in its period",
            current: 4,
            up: rules(0, Select::Max, &[(Pods, 4, 60)]),
            scales: vec![(30, 2, 4), (90, 1, 2)],
            pods: pods_at(4, 1000.0),
            target: 10,
            // period started at 2: 2 + 4 = 6
            want_recommended: Some(40),
            want_desired: 6,
            want_utilization: Some(100),
            want_reason: "ScaleUpLimit",
            ..Default::default()
        },
        Case {
            name: "up budget used up: stay",
            current: 6,
            up: rules(0, Select::Max, &[(Pods, 2, 60)]),
            scales: vec![(10, 2, 6)],
            pods: pods_at(6, 1000.0),
            target: 10,
            want_recommended: Some(60),
            want_desired: 6,
            want_utilization: Some(100),
            want_reason: "ScaleUpLimit",
            ..Default::default()
        },
        Case {
            name: "up selectPolicy Max takes the bigger step",
            current: 2,
            up: rules(0, Select::Max, &[(Pods, 4, 60), (Percent, 100, 60)]),
            pods: pods_at(2, 1000.0),
            target: 10,
            want_recommended: Some(20),
            want_desired: 6,
            want_utilization: Some(100),
            want_reason: "ScaleUpLimit",
            ..Default::default()
        },
        Case {
            name: "up selectPolicy Min takes the smaller step",
            current: 2,
            up: rules(0, Select::Min, &[(Pods, 4, 60), (Percent, 100, 60)]),
            pods: pods_at(2, 1000.0),
            target: 10,
            want_recommended: Some(20),
            want_desired: 4,
            want_utilization: Some(100),
            want_reason: "ScaleUpLimit",
            ..Default::default()
        },
        Case {
            name: "up selectPolicy Disabled",
            current: 2,
            up: rules(0, Select::Disabled, &[(Pods, 4, 60)]),
            pods: pods_at(2, 1000.0),
            target: 10,
            want_recommended: Some(20),
            want_desired: 2,
            want_utilization: Some(100),
            want_reason: "ScaleUpLimit",
            ..Default::default()
        },
        Case {
            name: "up policy above max: max wins as TooManyReplicas",
            current: 2,
            max: 3,
            up: rules(0, Select::Max, &[(Pods, 4, 60)]),
            pods: pods_at(2, 1000.0),
            target: 10,
            want_recommended: Some(20),
            want_desired: 3,
            want_utilization: Some(100),
            want_reason: "TooManyReplicas",
            ..Default::default()
        },
        Case {
            name: "down Pods policy",
            current: 5,
            down: rules(0, Select::Max, &[(Pods, 1, 60)]),
            pods: pods_at(5, 100.0),
            want_recommended: Some(1),
            want_desired: 4,
            want_utilization: Some(10),
            want_reason: "ScaleDownLimit",
            ..Default::default()
        },
        Case {
            name: "down Percent policy truncates",
            current: 5,
            down: rules(0, Select::Max, &[(Percent, 50, 60)]),
            pods: pods_at(5, 100.0),
            // trunc(5 * 0.5) = 2
            want_recommended: Some(1),
            want_desired: 2,
            want_utilization: Some(10),
            want_reason: "ScaleDownLimit",
            ..Default::default()
        },
        Case {
            name: "down Pods policy counts past scale-downs in its period",
            current: 5,
            down: rules(0, Select::Max, &[(Pods, 2, 60)]),
            scales: vec![(30, 6, 5), (120, 9, 6)],
            pods: pods_at(5, 100.0),
            // period started at 6: 6 - 2 = 4
            want_recommended: Some(1),
            want_desired: 4,
            want_utilization: Some(10),
            want_reason: "ScaleDownLimit",
            ..Default::default()
        },
        Case {
            name: "down selectPolicy Max takes the bigger step",
            current: 5,
            down: rules(0, Select::Max, &[(Pods, 1, 60), (Percent, 50, 60)]),
            pods: pods_at(5, 100.0),
            want_recommended: Some(1),
            want_desired: 2,
            want_utilization: Some(10),
            want_reason: "ScaleDownLimit",
            ..Default::default()
        },
        Case {
            name: "down selectPolicy Min takes the smaller step",
            current: 5,
            down: rules(0, Select::Min, &[(Pods, 1, 60), (Percent, 50, 60)]),
            pods: pods_at(5, 100.0),
            want_recommended: Some(1),
            want_desired: 4,
            want_utilization: Some(10),
            want_reason: "ScaleDownLimit",
            ..Default::default()
        },
        Case {
            name: "down selectPolicy Disabled",
            current: 5,
            down: rules(0, Select::Disabled, &[(Pods, 1, 60)]),
            pods: pods_at(5, 100.0),
            want_recommended: Some(1),
            want_desired: 5,
            want_utilization: Some(10),
            want_reason: "ScaleDownLimit",
            ..Default::default()
        },
        Case {
            name: "down policy floor at min is TooFewReplicas",
            current: 4,
            min: 3,
            down: rules(0, Select::Max, &[(Pods, 1, 60)]),
            pods: pods_at(4, 100.0),
            want_recommended: Some(1),
            want_desired: 3,
            want_utilization: Some(10),
            want_reason: "TooFewReplicas",
            ..Default::default()
        },
        Case {
            name: "stabilized then rate limited",
            current: 8,
            down: rules(300, Select::Max, &[(Pods, 2, 60)]),
            recommendations: vec![(200, 5), (100, 3)],
            pods: pods_at(8, 100.0),
            // window max(5, 3, 2) = 5; rate floor 8 - 2 = 6
            want_recommended: Some(2),
            want_desired: 6,
            want_utilization: Some(10),
            want_reason: "ScaleDownLimit",
            ..Default::default()
        },
    ]
}

/// The baseline model: load `S = Σusage − n·b`, room `h = target × Σlimit / n
/// − b`, `ceil(S / h)`; as a ratio `(u − β) / (target − β)` of the
/// sampled count, `β` the baseline's share of the limits. With 1000-byte
/// limits a baseline of 600 is β = 60%. Beside each, what HPA's rule
/// `ceil(n × u / target)` would give.
fn baseline_cases() -> Vec<Case> {
    let pending = |name, limit| with_phase(pod(name, None, limit), PodPhase::Pending);
    let with_missing = |n, usage| {
        let mut p = pods_at(n, usage);
        p.push(pod("m", None, 1000));
        p
    };
    vec![
        Case {
            // (95 − 60) / (80 − 60) = 1.75; ceil(1.75 × 2) = 4.
            // HPA: ceil(2 × 95 / 80) = 3, at 85% each, and another round.
            name: "baseline: a scale-up HPA under-provisions",
            current: 2,
            target: 80,
            baseline: 600,
            pods: pods_at(2, 950.0),
            want_recommended: Some(4),
            want_desired: 4,
            want_utilization: Some(95),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            name: "baseline 0 on the same pods is HPA's 3",
            current: 2,
            target: 80,
            pods: pods_at(2, 950.0),
            want_recommended: Some(3),
            want_desired: 3,
            want_utilization: Some(95),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            // (70 − 60) / 20 = 0.5; ceil(0.5 × 4) = 2: each of 2 pods then
            // holds 600 + 200 = 800, the target.
            name: "baseline: a scale-down HPA refuses",
            current: 4,
            target: 80,
            baseline: 600,
            pods: pods_at(4, 700.0),
            want_recommended: Some(2),
            want_desired: 2,
            want_utilization: Some(70),
            want_reason: "BelowTarget",
            ..Default::default()
        },
        Case {
            // HPA: 70/80 = 0.875, ceil(3.5) = 4: no change.
            name: "baseline 0: HPA keeps the 4",
            current: 4,
            target: 80,
            pods: pods_at(4, 700.0),
            want_recommended: Some(4),
            want_desired: 4,
            want_utilization: Some(70),
            want_reason: "BelowTarget",
            ..Default::default()
        },
        Case {
            // kubernetes#78761: 4 pods at 160Mi of a 200Mi request (limit
            // 400Mi), target 100%. u = 80, β = 60: 20 / 40 = 0.5 -> 2.
            // S = 640 − 480 = 160Mi, h = 200 − 120 = 80Mi. HPA: ceil(3.2) = 4.
            name: "baseline: #78761 under requests gives 2",
            current: 4,
            target: 100,
            basis: Basis::Requests,
            baseline: 120 * MI,
            pods: (0..4)
                .map(|i| pod(&format!("p{i}"), Some(160.0 * MI as f64), 400 * MI))
                .collect(),
            want_recommended: Some(2),
            want_desired: 2,
            want_utilization: Some(80),
            want_reason: "BelowTarget",
            ..Default::default()
        },
        Case {
            // The same pods under limits: u = 40, β = 30: 10 / 70 -> ceil(0.57) = 1.
            name: "baseline: #78761's pods under limits",
            current: 4,
            target: 100,
            baseline: 120 * MI,
            pods: (0..4)
                .map(|i| pod(&format!("p{i}"), Some(160.0 * MI as f64), 400 * MI))
                .collect(),
            want_recommended: Some(1),
            want_desired: 1,
            want_utilization: Some(40),
            want_reason: "BelowTarget",
            ..Default::default()
        },
        Case {
            // Requests are half the limits: u = 90, β = 60: 30 / 20 = 1.5 -> 5.
            // HPA: ceil(3 × 90 / 80) = 4.
            name: "baseline: basis requests",
            target: 80,
            basis: Basis::Requests,
            baseline: 300,
            pods: pods_at(3, 450.0),
            want_recommended: Some(5),
            want_desired: 5,
            want_utilization: Some(90),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            // u = 45, β = 30: 15 / 30 = 0.5 -> ceil(1.5) = 2. HPA: ceil(2.25) = 3.
            name: "baseline: basis limits",
            target: 60,
            baseline: 300,
            pods: pods_at(3, 450.0),
            want_recommended: Some(2),
            want_desired: 2,
            want_utilization: Some(45),
            want_reason: "BelowTarget",
            ..Default::default()
        },
        Case {
            // Pods of 1000 and 2000: S = 2400 − 1000 = 1400, h = 0.6 × 3000 / 2
            // − 500 = 400: 3.5 -> 4. The room uses the mean limit.
            name: "baseline: uneven limits",
            current: 2,
            target: 60,
            baseline: 500,
            pods: vec![pod("a", Some(900.0), 1000), pod("b", Some(1500.0), 2000)],
            want_recommended: Some(4),
            want_desired: 4,
            want_utilization: Some(80),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            // The app container alone: u = 90, β = 60: 30 / 20 = 1.5 -> 5.
            // HPA: ceil(3 × 90 / 80) = 4.
            name: "baseline: container option, the container's baseline",
            target: 80,
            container: Some("app"),
            baseline: 600,
            pods: (0..3)
                .map(|i| app_and_sidecar(&format!("p{i}"), Some(900.0), Some(100.0)))
                .collect(),
            want_recommended: Some(5),
            want_desired: 5,
            want_utilization: Some(90),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            // Both containers, the baseline per pod: u = 3000/6000 = 50,
            // β = 100 × 3 × 600 / 6000 = 30: 20 / 40 = 0.5 -> 2. HPA: 3.
            name: "baseline: without container option, the pod's baseline",
            target: 70,
            baseline: 600,
            pods: (0..3)
                .map(|i| app_and_sidecar(&format!("p{i}"), Some(900.0), Some(100.0)))
                .collect(),
            want_recommended: Some(2),
            want_desired: 2,
            want_utilization: Some(50),
            want_reason: "BelowTarget",
            ..Default::default()
        },
        Case {
            // HPA: 85/80 = 1.06 is within tolerance. The load ratio is
            // 25 / 20 = 1.25: ceil(3.75) = 4.
            name: "baseline: tolerance applies to the load, not the total",
            target: 80,
            baseline: 600,
            pods: pods_at(3, 850.0),
            want_recommended: Some(4),
            want_desired: 4,
            want_utilization: Some(85),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            // 18 / 20 = 0.9: within tolerance, as in the proportional rule.
            name: "baseline: tolerance edge 0.9 holds",
            target: 80,
            baseline: 600,
            pods: pods_at(3, 780.0),
            want_recommended: Some(3),
            want_desired: 3,
            want_utilization: Some(78),
            want_reason: "WithinTolerance",
            ..Default::default()
        },
        Case {
            // sampled 5 / 20 = 0.25; the missing pod at 100% of its limit:
            // u' = floor(2950 / 40) = 73, 13 / 20 = 0.65 -> ceil(2.6) = 3,
            // not ceil(0.25 × 3) = 1. HPA: 73/80 = 0.91, within tolerance.
            name: "baseline: missing pod counts 100% on scale down",
            current: 4,
            target: 80,
            baseline: 600,
            pods: with_missing(3, 650.0),
            want_recommended: Some(3),
            want_desired: 3,
            want_utilization: Some(65),
            want_reason: "BelowTarget",
            ..Default::default()
        },
        Case {
            // sampled 1.75; the missing pod idle, at its baseline: u' =
            // floor(3450 / 40) = 86, 26 / 20 = 1.3 -> ceil(5.2) = 6. At 0
            // instead, u' = 71 and 0.55 would flip and hold.
            name: "baseline: missing pod holds its baseline on scale up",
            current: 4,
            target: 80,
            baseline: 600,
            pods: with_missing(3, 950.0),
            want_recommended: Some(6),
            want_desired: 6,
            want_utilization: Some(95),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            // sampled 1.75; the pending pod at its baseline: u' = 2500 / 30 =
            // 83, 23 / 20 = 1.15 -> ceil(3.45) = 4. At 0, 0.15 would flip.
            name: "baseline: pending pod holds its baseline on scale up",
            current: 3,
            target: 80,
            baseline: 600,
            pods: vec![
                pod("a", Some(950.0), 1000),
                pod("b", Some(950.0), 1000),
                pending("c", 1000),
            ],
            want_recommended: Some(4),
            want_desired: 4,
            want_utilization: Some(95),
            want_reason: "AboveTarget",
            ..Default::default()
        },
        Case {
            // sampled 25 / 20 = 1.25; two pending at the baseline: u' =
            // 2900 / 40 = 72, 0.6 flips the direction -> hold.
            name: "baseline: pending pods damp a scale-up into a hold",
            current: 4,
            target: 80,
            baseline: 600,
            pods: vec![
                pod("a", Some(850.0), 1000),
                pod("b", Some(850.0), 1000),
                pending("c", 1000),
                pending("d", 1000),
            ],
            want_recommended: Some(4),
            want_desired: 4,
            want_utilization: Some(85),
            want_reason: "HeldForUnsampledPods",
            ..Default::default()
        },
        Case {
            // 5 / 20 = 0.25; the pending pod is ignored: ceil(0.5) = 1.
            name: "baseline: pending pod ignored on scale down",
            current: 3,
            target: 80,
            baseline: 600,
            pods: vec![
                pod("a", Some(650.0), 1000),
                pod("b", Some(650.0), 1000),
                pending("c", 1000),
            ],
            want_recommended: Some(1),
            want_desired: 1,
            want_utilization: Some(65),
            want_reason: "BelowTarget",
            ..Default::default()
        },
        Case {
            // The sampled pods have room (β = 60 < 80), but counting the
            // pending pod of limit 100 at its baseline of 600 leaves none.
            name: "baseline: unsampled pods that leave no room hold",
            current: 3,
            target: 80,
            baseline: 600,
            pods: vec![
                pod("a", Some(950.0), 1000),
                pod("b", Some(950.0), 1000),
                pending("c", 100),
                pending("d", 100),
                pending("e", 100),
                pending("f", 100),
                pending("g", 100),
            ],
            want_recommended: Some(3),
            want_desired: 3,
            want_utilization: Some(95),
            want_reason: "HeldForUnsampledPods",
            ..Default::default()
        },
        Case {
            // u = 40 < β = 60: the pods hold less than the baseline, which is
            // no load at all: 0, brought up to min.
            name: "baseline: usage below the baseline is no load",
            target: 80,
            baseline: 600,
            min: 2,
            pods: pods_at(3, 400.0),
            want_recommended: Some(0),
            want_desired: 2,
            want_utilization: Some(40),
            want_reason: "TooFewReplicas",
            ..Default::default()
        },
        Case {
            // β = 75 ≥ 70: HPA would go to ceil(3 × 90 / 70) = 4, then on to max.
            name: "baseline above target holds the count",
            target: 70,
            baseline: 750,
            pods: pods_at(3, 900.0),
            want_recommended: Some(3),
            want_desired: 3,
            want_utilization: Some(90),
            want_reason: "BaselineAboveTarget",
            ..Default::default()
        },
        Case {
            // β = 70 = target: h = 0.
            name: "baseline exactly at target holds the count",
            target: 70,
            baseline: 700,
            pods: pods_at(3, 900.0),
            want_recommended: Some(3),
            want_desired: 3,
            want_utilization: Some(90),
            want_reason: "BaselineAboveTarget",
            ..Default::default()
        },
        Case {
            // Requests of 500: β = 60 = target. The same baseline under limits
            // (β = 30) has room: see "baseline: basis limits".
            name: "baseline above target under requests",
            target: 60,
            basis: Basis::Requests,
            baseline: 300,
            pods: pods_at(3, 450.0),
            want_recommended: Some(3),
            want_desired: 3,
            want_utilization: Some(90),
            want_reason: "BaselineAboveTarget",
            ..Default::default()
        },
        Case {
            // Pods below their declared baseline: no count can be told either.
            name: "baseline above target holds a scale-down too",
            target: 50,
            baseline: 600,
            pods: pods_at(3, 100.0),
            want_recommended: Some(3),
            want_desired: 3,
            want_utilization: Some(10),
            want_reason: "BaselineAboveTarget",
            ..Default::default()
        },
        Case {
            name: "baseline above target at max is no TooManyReplicas",
            current: 5,
            max: 5,
            target: 70,
            baseline: 800,
            pods: pods_at(5, 900.0),
            want_recommended: Some(5),
            want_desired: 5,
            want_utilization: Some(90),
            want_reason: "BaselineAboveTarget",
            ..Default::default()
        },
        Case {
            name: "baseline: the scale-down window still holds",
            current: 4,
            target: 80,
            baseline: 600,
            down: default_scale_down(),
            recommendations: vec![(100, 4)],
            pods: pods_at(4, 700.0),
            want_recommended: Some(2),
            want_desired: 4,
            want_utilization: Some(70),
            want_reason: "ScaleDownStabilized",
            ..Default::default()
        },
        Case {
            // (100 − 65) / (70 − 65) = 7: 2 → 14, limited to max(+4 pods,
            // +100%) = 6 per 15 s.
            name: "baseline: the scale-up rate still limits",
            current: 2,
            target: 70,
            baseline: 650,
            up: default_scale_up(),
            pods: pods_at(2, 1000.0),
            want_recommended: Some(14),
            want_desired: 6,
            want_utilization: Some(100),
            want_reason: "ScaleUpLimit",
            ..Default::default()
        },
    ]
}

fn run(case: &Case) -> Decision {
    let policy = Policy {
        target: TargetRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "web".into(),
        },
        min_replicas: case.min,
        max_replicas: case.max,
        target_utilization: case.target,
        basis: case.basis,
        container: case.container.map(str::to_string),
        pod_baseline_bytes: case.baseline,
        scale_up: case.up.clone(),
        scale_down: case.down.clone(),
    };
    let mut history = History::new();
    for &(ago, r) in &case.recommendations {
        history.record_recommendation(NOW - ago, r);
    }
    for &(ago, from, to) in &case.scales {
        history.record_scale(NOW - ago, from, to);
    }
    let obs = Observation {
        spec_replicas: case.current,
        status_replicas: case.current,
        pods: case.pods.clone(),
        metrics_error: case.metrics_error.map(str::to_string),
    };
    decide(&obs, &policy, &history, NOW)
}

#[test]
fn table() {
    let all = cases();
    assert!(all.len() >= 30, "only {} cases", all.len());
    let mut failures = Vec::new();
    for case in &all {
        let d = run(case);
        let got = (
            d.recommended_replicas,
            d.desired_replicas,
            d.utilization_percentage,
            d.reason.as_str(),
        );
        let want = (
            case.want_recommended,
            case.want_desired,
            case.want_utilization,
            case.want_reason,
        );
        if got != want {
            failures.push(format!("{}: got {got:?}, want {want:?}", case.name));
        }
        check_invariants(case, &d, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

/// What must hold for every decision, whatever the case.
fn check_invariants(case: &Case, d: &Decision, failures: &mut Vec<String>) {
    let rescale_ok = match &d.rescale {
        None => d.desired_replicas == case.current,
        Some(r) => r.from == case.current && r.to == d.desired_replicas && r.to != r.from,
    };
    if !rescale_ok {
        failures.push(format!(
            "{}: rescale {:?} disagrees with desired {}",
            case.name, d.rescale, d.desired_replicas
        ));
    }
    if case.current > 0
        && !(case.min..=case.max).contains(&d.desired_replicas)
        && d.reason != Reason::FailedGetResourceMetric
    {
        failures.push(format!(
            "{}: desired {} outside bounds",
            case.name, d.desired_replicas
        ));
    }
    let metric_failed = d.reason == Reason::FailedGetResourceMetric;
    if metric_failed
        && (d.rescale.is_some()
            || d.events
                .iter()
                .all(|e| e.reason != Reason::FailedGetResourceMetric))
    {
        failures.push(format!(
            "{}: a metric failure must not scale and must warn",
            case.name
        ));
    }
    // Kubernetes' AbleToScale at rest: a metric, a count in range that stays,
    // and no window holding it.
    let able = d.condition(AbleToScale).map(|c| c.reason);
    let at_rest = d.recommended_replicas.is_some()
        && (case.min..=case.max).contains(&case.current)
        && d.desired_replicas == case.current
        && !matches!(
            able,
            Some(Reason::ScaleUpStabilized | Reason::ScaleDownStabilized)
        );
    if at_rest != (able == Some(Reason::ReadyForNewScale)) {
        failures.push(format!(
            "{}: at rest {at_rest}, AbleToScale {able:?}",
            case.name
        ));
    }
    let limited = d.condition(ScalingLimited).map(|c| (c.status, c.reason));
    let baseline_warned = d
        .events
        .iter()
        .any(|e| e.warning && e.reason == Reason::BaselineAboveTarget);
    let baseline_blocked = d.reason == Reason::BaselineAboveTarget;
    if baseline_blocked
        != (limited == Some((true, Reason::BaselineAboveTarget))
            && baseline_warned
            && d.rescale.is_none())
    {
        failures.push(format!(
            "{}: BaselineAboveTarget must hold, limit and warn: {limited:?}, {:?}",
            case.name, d.events
        ));
    }
}

#[test]
fn conditions_for_a_limited_scale_up() {
    let case = Case {
        max: 5,
        pods: pods_at(3, 900.0),
        ..Default::default()
    };
    let d = run(&case).settle(WriteOutcome::Written);
    let active = d.condition(ScalingActive).expect("ScalingActive");
    assert!(active.status);
    assert_eq!(active.reason, Reason::ValidMetricFound);
    let limited = d.condition(ScalingLimited).expect("ScalingLimited");
    assert!(limited.status);
    assert_eq!(limited.reason, Reason::TooManyReplicas);
    let able = d.condition(AbleToScale).expect("AbleToScale");
    assert_eq!((able.status, able.reason), (true, Reason::SucceededRescale));
    assert_eq!(d.rescale.as_ref().map(|r| r.to), Some(5));
    assert_eq!(
        rescale_event(&d),
        "New size: 5; reason: memory utilization (percentage of limit) above target"
    );
    assert_eq!(d.memory_bytes, Some(900));
}

#[test]
fn conditions_when_within_range() {
    let d = run(&Case {
        pods: pods_at(3, 500.0),
        ..Default::default()
    });
    let limited = d.condition(ScalingLimited).expect("ScalingLimited");
    assert_eq!(
        (limited.status, limited.reason),
        (false, Reason::DesiredWithinRange)
    );
    // Kubernetes' words at rest (it was SucceededGetScale before issue 10).
    let able = d.condition(AbleToScale).expect("AbleToScale");
    assert_eq!(
        (able.status, able.reason, able.message.as_str()),
        (
            true,
            Reason::ReadyForNewScale,
            "recommended size matches current size"
        )
    );
    assert!(d.rescale.is_none());
}

#[test]
fn baseline_above_target_says_the_numbers_and_what_to_change() {
    // 120Mi of a 160Mi limit is 75%; 70% of 160Mi is 112Mi.
    let pods: Vec<_> = (0..4)
        .map(|i| pod(&format!("p{i}"), Some(150.0 * MI as f64), 160 * MI))
        .collect();
    let d = run(&Case {
        current: 4,
        target: 70,
        baseline: 120 * MI,
        pods: pods.clone(),
        ..Default::default()
    });
    let want = "podBaseline 120Mi is 75% of the 160Mi memory limit of each pod, at or above \
                the 70% target: no replica count can reach it; raise \
                targetUtilizationPercentage above 75% or lower podBaseline below 112Mi";
    let limited = d.condition(ScalingLimited).expect("ScalingLimited");
    assert_eq!(
        (limited.status, limited.reason, limited.message.as_str()),
        (true, Reason::BaselineAboveTarget, want)
    );
    assert_eq!(
        d.events,
        vec![EventOutcome {
            warning: true,
            reason: Reason::BaselineAboveTarget,
            message: want.to_string(),
        }]
    );
    assert_eq!((d.desired_replicas, d.stabilization_sample), (4, Some(4)));
    assert!(
        d.clone().settle(WriteOutcome::Written) == d,
        "nothing to write"
    );

    // Under requests (80Mi each) and one container, at 150%: no target can
    // be raised that far, only the baseline lowered (below 56Mi = 70% of 80Mi).
    let d = run(&Case {
        current: 4,
        target: 70,
        basis: Basis::Requests,
        container: Some("app"),
        baseline: 120 * MI,
        pods,
        ..Default::default()
    });
    assert_eq!(
        d.condition(ScalingLimited).map(|c| c.message.as_str()),
        Some(
            "podBaseline 120Mi is 150% of the 80Mi memory request of container \"app\" in each \
             pod, at or above the 70% target: no replica count can reach it; lower podBaseline \
             below 56Mi"
        )
    );
    // The mean limit of uneven pods: (1000 + 1003) / 2 = 1001, 89.9%.
    let d = run(&Case {
        current: 2,
        target: 50,
        baseline: 900,
        pods: vec![pod("a", Some(1.0), 1000), pod("b", Some(1.0), 1003)],
        ..Default::default()
    });
    assert_eq!(
        d.events[0].message,
        "podBaseline 900 is 89% of the 1001 memory limit of each pod, at or above the 50% \
         target: no replica count can reach it; raise targetUtilizationPercentage above 89% or \
         lower podBaseline below 500"
    );
}

#[test]
fn quantities_in_messages_read_as_kubernetes_writes_them() {
    let message = |baseline, limits: [u64; 2]| {
        let d = run(&Case {
            current: 2,
            target: 50,
            baseline,
            pods: vec![
                pod("a", Some(1.0), limits[0]),
                pod("b", Some(1.0), limits[1]),
            ],
            ..Default::default()
        });
        d.events[0].message.clone()
    };
    // Exact in the largest unit that divides: the mean limit 4.25Gi is 4352Mi.
    assert_eq!(
        message(3 << 30, [4 << 30, (4 << 30) + (1 << 29)]),
        "podBaseline 3Gi is 70% of the 4352Mi memory limit of each pod, at or above the 50% \
         target: no replica count can reach it; raise targetUtilizationPercentage above 70% or \
         lower podBaseline below 2176Mi"
    );
    // Else to a tenth of the largest unit reached: 1.5Gi and 100 bytes.
    let odd = (3 << 29) + 100;
    assert_eq!(
        message(1 << 30, [odd, odd]),
        "podBaseline 1Gi is 66% of the 1.5Gi memory limit of each pod, at or above the 50% \
         target: no replica count can reach it; raise targetUtilizationPercentage above 66% or \
         lower podBaseline below 768.0Mi"
    );
}

#[test]
fn scale_down_message_under_requests() {
    let d = run(&Case {
        current: 5,
        basis: Basis::Requests,
        pods: pods_at(5, 50.0),
        ..Default::default()
    })
    .settle(WriteOutcome::Written);
    assert_eq!(
        rescale_event(&d),
        "New size: 1; reason: memory utilization (percentage of request) below target"
    );
}

#[test]
fn stabilized_scale_down_sets_able_to_scale_reason() {
    let d = run(&Case {
        current: 5,
        down: default_scale_down(),
        recommendations: vec![(10, 5)],
        pods: pods_at(5, 100.0),
        ..Default::default()
    });
    let able = d.condition(AbleToScale).expect("AbleToScale");
    assert_eq!(
        (able.status, able.reason),
        (true, Reason::ScaleDownStabilized)
    );
}

#[test]
fn metric_failure_names_pod_and_container() {
    let mut p = pod("web-1", Some(900.0), 1000);
    p.containers[0].limit_bytes = None;
    let d = run(&Case {
        pods: vec![p],
        ..Default::default()
    });
    let active = d.condition(ScalingActive).expect("ScalingActive");
    assert!(!active.status);
    assert!(
        active
            .message
            .contains("pod \"web-1\" container \"app\" has no memory limit"),
        "{}",
        active.message
    );
    assert!(d
        .events
        .iter()
        .any(|e| e.warning && e.reason == Reason::FailedGetResourceMetric));
}

#[test]
fn prometheus_error_message_is_carried() {
    let d = run(&Case {
        pods: pods_at(3, 10.0),
        metrics_error: Some("query timed out"),
        ..Default::default()
    });
    assert!(d
        .condition(ScalingActive)
        .is_some_and(|c| !c.status && c.message.contains("query timed out")));
    assert!(
        d.stabilization_sample.is_none(),
        "a failure must not enter the stabilization window"
    );
}

#[test]
fn failed_helper_and_a_failed_write() {
    let d = Decision::failed(
        Reason::InvalidSelector,
        "selector \"a=(\" does not parse",
        3,
    );
    assert_eq!(d.desired_replicas, 3);
    assert_eq!(
        d.condition(ScalingActive).map(|c| (c.status, c.reason)),
        Some((false, Reason::InvalidSelector))
    );
    assert!(d.events[0].warning);
    let d = Decision::failed(
        Reason::FailedGetScale,
        "deployments.apps \"web\" not found",
        0,
    );
    assert_eq!(
        d.condition(AbleToScale).map(|c| c.reason),
        Some(Reason::FailedGetScale)
    );

    let d = run(&Case {
        pods: pods_at(3, 900.0),
        ..Default::default()
    })
    .settle(WriteOutcome::Failed("409 Conflict".into()));
    assert!(d.rescale.is_none());
    assert_eq!(d.reason, Reason::FailedUpdateScale);
    assert_eq!(
        d.condition(AbleToScale).map(|c| (c.status, c.reason)),
        Some((false, Reason::FailedUpdateScale))
    );
    assert!(d
        .events
        .iter()
        .any(|e| e.reason == Reason::FailedRescale && e.message.contains("409 Conflict")));
}

/// The message of the settled decision's SuccessfulRescale event.
fn rescale_event(d: &Decision) -> &str {
    let e = d
        .events
        .iter()
        .find(|e| e.reason == Reason::SuccessfulRescale)
        .expect("a SuccessfulRescale event");
    assert!(!e.warning);
    &e.message
}

#[test]
fn decide_claims_no_rescale_before_it_is_settled() {
    // Kubernetes' horizontal.go sets SucceededRescale only once Update has
    // succeeded: `decide` asks for the write and says only that it read the
    // Scale.
    let wanted = run(&Case {
        pods: pods_at(3, 900.0),
        ..Default::default()
    });
    let r = wanted.rescale.clone().expect("a rescale is wanted");
    assert_eq!((r.from, r.to), (3, 6));
    let able = wanted.condition(AbleToScale).expect("AbleToScale");
    assert_eq!(
        (able.status, able.reason),
        (true, Reason::SucceededGetScale)
    );
    assert!(wanted.events.is_empty(), "{:?}", wanted.events);

    let written = wanted.clone().settle(WriteOutcome::Written);
    let able = written.condition(AbleToScale).expect("AbleToScale");
    assert_eq!((able.status, able.reason), (true, Reason::SucceededRescale));
    assert_eq!(
        able.message,
        "the MemHpa controller was able to update the target scale to 6"
    );
    assert_eq!(written.reason, wanted.reason);
    assert_eq!(written.rescale, wanted.rescale);

    let dry = wanted.clone().settle(WriteOutcome::DryRun);
    let able = dry.condition(AbleToScale).expect("AbleToScale");
    assert_eq!(
        (able.status, able.reason),
        (true, Reason::SucceededGetScale)
    );
    assert_eq!(
        able.message,
        "dry run: the MemHpa controller would update the target scale to 6"
    );
    assert_eq!(
        dry.events.iter().map(|e| e.reason).collect::<Vec<_>>(),
        vec![Reason::DryRunRescale]
    );
    assert!(!dry.events[0].warning);
    assert_eq!(dry.reason, wanted.reason);
}

#[test]
fn settling_a_decision_without_a_rescale_changes_nothing() {
    let held = run(&Case {
        pods: pods_at(3, 500.0),
        ..Default::default()
    });
    assert!(held.rescale.is_none());
    for outcome in [
        WriteOutcome::Written,
        WriteOutcome::DryRun,
        WriteOutcome::Failed("x".into()),
    ] {
        assert_eq!(held.clone().settle(outcome), held);
    }
}

#[test]
fn history_apply_drives_the_next_decision() {
    // Scale down from 5 with the default 300 s window: held at t, then allowed
    // once the high recommendation has aged out of the window.
    let mut spec_pods = pods_at(5, 500.0);
    let mut policy = Policy::from_spec(&crate::api::MemHpaSpec {
        scale_target_ref: Some(crate::api::CrossVersionObjectReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "web".into(),
        }),
        max_replicas: Some(10),
        target_utilization_percentage: Some(50),
        ..Default::default()
    })
    .expect("valid spec");
    policy.min_replicas = 1;
    let mut history = History::new();
    let obs = |pods: &Vec<PodObservation>| Observation {
        spec_replicas: 5,
        status_replicas: 5,
        pods: pods.clone(),
        metrics_error: None,
    };
    let d = decide(&obs(&spec_pods), &policy, &history, 1000);
    assert_eq!(d.desired_replicas, 5);
    history.apply(&d, &policy, 1000, false);
    spec_pods = pods_at(5, 100.0);
    let d = decide(&obs(&spec_pods), &policy, &history, 1100);
    assert_eq!(
        (d.desired_replicas, d.reason),
        (5, Reason::ScaleDownStabilized)
    );
    history.apply(&d, &policy, 1100, false);
    let d = decide(&obs(&spec_pods), &policy, &history, 1300);
    assert_eq!((d.desired_replicas, d.reason), (1, Reason::BelowTarget));
    history.apply(&d, &policy, 1300, true);
    assert_eq!(history.removed_since(1301, 15), 4);
    // Everything older than the 300 s lookback is gone.
    assert!(history.recommendations().iter().all(|s| s.at > 1000));
}
