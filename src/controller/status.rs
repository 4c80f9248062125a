//! The MemHpa status a decision leads to.
//!
//! The status is rebuilt from the decision every time and compared with what
//! the object already says; only a difference is written. For that comparison
//! to mean anything, everything copied forward must be stable: a condition
//! keeps its `lastTransitionTime` while its status stays the same (as
//! Kubernetes' HPA does), and `lastScaleTime` only moves on a real rescale.
//! The measured figures (bytes, utilization, ratio) are kept as they were
//! while the decision stays the same and the usage moved by no more than
//! [`STEADY_USAGE`]: a working set breathes by a few hundred KiB between
//! scrapes, and recording each breath exactly cost one status write per
//! MemHpa per tick (`make bench` measured 1,020 writes per tick over 1,000
//! quiet MemHpas, as many as its Scale reads).

use crate::algorithm::{
    ConditionOutcome, ConditionType, Decision, PodCounts, RateKind, RatePolicy, Reason, TOLERANCE,
};
use crate::api::{
    Condition, DecisionLimit, DecisionPods, DecisionWindow, LastDecision, MemHpaStatus, NamedPod,
};
use crate::rfc3339;

/// What the reconcile did besides deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The Scale was written.
    pub rescaled: bool,
    /// Unix seconds of this reconcile.
    pub now: i64,
    /// `metadata.generation` of the MemHpa the decision was made for.
    pub generation: Option<i64>,
}

/// The status to write after `decision`, given the `previous` one.
pub fn next_status(
    previous: Option<&MemHpaStatus>,
    decision: &Decision,
    status_replicas: Option<i64>,
    outcome: Outcome,
) -> MemHpaStatus {
    let empty = MemHpaStatus::default();
    let previous = previous.unwrap_or(&empty);
    let now = rfc3339::format_seconds(outcome.now);
    let mut record = decision_record(decision);
    let steady = keep_steady_figures(previous.last_decision.as_ref(), &mut record);
    let (memory_bytes, utilization) = if steady {
        (
            previous.current_memory_bytes,
            previous.current_utilization_percentage,
        )
    } else {
        (
            decision
                .memory_bytes
                .map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
            decision.utilization_percentage,
        )
    };
    MemHpaStatus {
        observed_generation: outcome.generation.or(previous.observed_generation),
        last_scale_time: if outcome.rescaled {
            Some(now.clone())
        } else {
            previous.last_scale_time.clone()
        },
        current_replicas: status_replicas.or(previous.current_replicas),
        desired_replicas: Some(decision.desired_replicas),
        current_utilization_percentage: utilization,
        current_memory_bytes: memory_bytes,
        conditions: conditions(&previous.conditions, &decision.conditions, &now),
        last_decision: Some(last_decision(previous.last_decision.as_ref(), record, &now)),
    }
}

/// How far the usage may move (as a share of what was recorded) before the
/// figures are written again: a tenth of the tolerance, so that no figure
/// the decision turns on is ever off by more than that.
pub const STEADY_USAGE: f64 = TOLERANCE / 10.0;

/// Keeps the previous record's figures in `next` when nothing but them
/// changed and the usage moved by at most [`STEADY_USAGE`]; true if kept.
/// The figures go together, so the record stays consistent with itself.
fn keep_steady_figures(previous: Option<&LastDecision>, next: &mut LastDecision) -> bool {
    let Some(previous) = previous else {
        return false;
    };
    let (Some(was), Some(now)) = (previous.usage_bytes, next.usage_bytes) else {
        return false;
    };
    let figures_only = LastDecision {
        time: None,
        usage_bytes: next.usage_bytes,
        utilization: next.utilization,
        ratio: next.ratio,
        ..previous.clone()
    } == *next;
    let moved = (now as f64 - was as f64).abs();
    if !figures_only || was <= 0 || moved > was as f64 * STEADY_USAGE {
        return false;
    }
    next.usage_bytes = previous.usage_bytes;
    next.utilization = previous.utilization;
    next.ratio = previous.ratio;
    true
}

/// `status.lastDecision` for its record. One with the same content as the
/// previous one keeps its time, so a steady state writes nothing.
fn last_decision(
    previous: Option<&LastDecision>,
    mut next: LastDecision,
    now: &str,
) -> LastDecision {
    let same = previous.is_some_and(|p| {
        LastDecision {
            time: None,
            ..p.clone()
        } == next
    });
    next.time = match previous {
        Some(p) if same => p.time.clone(),
        _ => Some(now.to_string()),
    };
    next
}

/// The decision's record, without its time.
fn decision_record(d: &Decision) -> LastDecision {
    let t = &d.trace;
    let saw_pods = t.pods != PodCounts::default();
    let bytes = |b: u64| Some(i64::try_from(b).unwrap_or(i64::MAX));
    let count = |c: u64| i64::try_from(c).unwrap_or(i64::MAX);
    let ratio = t.ratio();
    LastDecision {
        time: None,
        reason: Some(d.reason.to_string()),
        current: Some(d.current_replicas),
        result: Some(d.desired_replicas),
        pods: saw_pods.then(|| DecisionPods {
            counted: count(t.pods.counted),
            missing: count(t.pods.missing),
            pending: count(t.pods.pending),
            ignored: count(t.pods.ignored),
            named: t
                .named
                .iter()
                .map(|p| NamedPod {
                    name: p.name.clone(),
                    why: p.why.as_str().to_string(),
                })
                .collect(),
        }),
        usage_bytes: saw_pods.then(|| bytes(t.usage_bytes)).flatten(),
        capacity_bytes: saw_pods.then(|| bytes(t.capacity_bytes)).flatten(),
        basis: saw_pods.then(|| t.basis.as_str().to_string()),
        baseline_bytes: (t.baseline_bytes > 0)
            .then(|| bytes(t.baseline_bytes))
            .flatten(),
        utilization: t.utilization,
        target: saw_pods.then_some(t.target_utilization),
        ratio: t.utilization.and(ratio),
        tolerance: t.utilization.and(ratio).map(|r| {
            if (1.0 - r).abs() <= TOLERANCE {
                "within"
            } else {
                "outside"
            }
            .to_string()
        }),
        recommendation: t.recommended,
        window: t.window.map(|w| DecisionWindow {
            direction: if w.up { "up" } else { "down" }.to_string(),
            seconds: w.seconds,
            bound: w.bound.replicas,
            bound_time: Some(rfc3339::format_seconds(w.bound.at)),
            to: w.stabilized,
        }),
        limit: t.limit.map(|l| DecisionLimit {
            from: l.from,
            to: l.to,
            by: limit_by(d.reason, l.policy.is_some()),
            policy: l.policy.map(policy_text),
        }),
    }
}

fn limit_by(reason: Reason, rate: bool) -> String {
    match reason {
        _ if rate => "rate",
        Reason::TooManyReplicas => "maxReplicas",
        Reason::TooFewReplicas => "minReplicas",
        _ => "rate",
    }
    .to_string()
}

/// `Pods 4 per 60s`, `Percent 100 per 15s`.
fn policy_text(p: RatePolicy) -> String {
    let kind = match p.kind {
        RateKind::Pods => "Pods",
        RateKind::Percent => "Percent",
    };
    format!("{kind} {} per {}s", p.value, p.period_seconds)
}

/// Decided conditions in a stable order (AbleToScale, ScalingActive,
/// ScalingLimited); a type the decision did not speak about keeps its old value,
/// so a failure early in a reconcile does not erase what is still true.
fn conditions(previous: &[Condition], decided: &[ConditionOutcome], now: &str) -> Vec<Condition> {
    let mut out: Vec<Condition> = previous.to_vec();
    for d in decided {
        let status = if d.status { "True" } else { "False" };
        let kept_time = previous
            .iter()
            .find(|c| c.type_ == d.type_.as_str() && c.status == status)
            .and_then(|c| c.last_transition_time.clone());
        let c = Condition {
            type_: d.type_.as_str().to_string(),
            status: status.to_string(),
            last_transition_time: Some(kept_time.unwrap_or_else(|| now.to_string())),
            reason: Some(d.reason.to_string()),
            message: Some(d.message.clone()),
        };
        match out.iter_mut().find(|x| x.type_ == c.type_) {
            Some(slot) => *slot = c,
            None => out.push(c),
        }
    }
    out.sort_by_key(|c| order(&c.type_));
    out
}

/// Ours in `ConditionType` order, then any other writer's by name.
fn order(type_: &str) -> (bool, Option<ConditionType>, String) {
    let ours = ConditionType::parse(type_);
    (ours.is_none(), ours, type_.to_string())
}

#[cfg(test)]
mod test {
    use super::*;
    use ConditionType::{AbleToScale, ScalingActive, ScalingLimited};

    fn decision(conditions: Vec<ConditionOutcome>) -> Decision {
        let mut d = Decision::failed(
            Reason::InvalidSpec,
            "spec.maxReplicas: required but missing",
            2,
        );
        d.conditions = conditions;
        d.desired_replicas = 3;
        d.utilization_percentage = Some(90);
        d.memory_bytes = Some(1024);
        d
    }

    fn cond(type_: ConditionType, status: bool, reason: Reason) -> ConditionOutcome {
        ConditionOutcome {
            type_,
            status,
            reason,
            message: format!("{reason} message"),
        }
    }

    const T0: i64 = 1_700_000_000;

    fn first() -> MemHpaStatus {
        let d = decision(vec![
            cond(ScalingActive, true, Reason::ValidMetricFound),
            cond(AbleToScale, true, Reason::SucceededRescale),
        ]);
        let outcome = Outcome {
            rescaled: true,
            now: T0,
            generation: Some(1),
        };
        next_status(None, &d, Some(2), outcome)
    }

    #[test]
    fn fields_come_from_the_decision_and_the_scale() {
        let s = first();
        assert_eq!(s.observed_generation, Some(1));
        assert_eq!(s.current_replicas, Some(2));
        assert_eq!(s.desired_replicas, Some(3));
        assert_eq!(s.current_utilization_percentage, Some(90));
        assert_eq!(s.current_memory_bytes, Some(1024));
        assert_eq!(s.last_scale_time, Some(rfc3339::format_seconds(T0)));
    }

    #[test]
    fn conditions_are_in_a_stable_order() {
        let types: Vec<_> = first().conditions.into_iter().map(|c| c.type_).collect();
        assert_eq!(types, vec!["AbleToScale", "ScalingActive"]);
    }

    #[test]
    fn another_writers_condition_is_kept_after_ours() {
        let mut previous = first();
        previous.conditions.insert(
            0,
            Condition {
                type_: "Audited".into(),
                status: "True".into(),
                ..Condition::default()
            },
        );
        let d = decision(vec![cond(
            ScalingLimited,
            false,
            Reason::DesiredWithinRange,
        )]);
        let later = Outcome {
            rescaled: false,
            now: T0 + 1,
            generation: Some(1),
        };
        let types: Vec<_> = next_status(Some(&previous), &d, Some(2), later)
            .conditions
            .into_iter()
            .map(|c| c.type_)
            .collect();
        assert_eq!(
            types,
            vec!["AbleToScale", "ScalingActive", "ScalingLimited", "Audited"]
        );
    }

    #[test]
    fn the_same_decision_later_gives_an_equal_status() {
        let s = first();
        let d = decision(vec![
            cond(ScalingActive, true, Reason::ValidMetricFound),
            cond(AbleToScale, true, Reason::SucceededRescale),
        ]);
        let later = Outcome {
            rescaled: false,
            now: T0 + 30,
            generation: Some(1),
        };
        assert_eq!(next_status(Some(&s), &d, Some(2), later), s);
    }

    #[test]
    fn a_flipped_condition_gets_a_new_transition_time() {
        let s = first();
        let d = decision(vec![cond(
            ScalingActive,
            false,
            Reason::FailedGetResourceMetric,
        )]);
        let later = Outcome {
            rescaled: false,
            now: T0 + 30,
            generation: Some(1),
        };
        let next = next_status(Some(&s), &d, Some(2), later);
        let active = next
            .conditions
            .iter()
            .find(|c| c.type_ == "ScalingActive")
            .expect("ScalingActive set");
        assert_eq!(active.status, "False");
        assert_eq!(
            active.last_transition_time,
            Some(rfc3339::format_seconds(T0 + 30))
        );
        let able = next
            .conditions
            .iter()
            .find(|c| c.type_ == "AbleToScale")
            .expect("AbleToScale kept");
        assert_eq!(able.reason.as_deref(), Some("SucceededRescale"));
        assert_eq!(next.last_scale_time, s.last_scale_time, "no new scale time");
    }

    #[test]
    fn a_new_generation_is_observed() {
        let s = first();
        let d = decision(vec![cond(ScalingActive, true, Reason::ValidMetricFound)]);
        let later = Outcome {
            rescaled: false,
            now: T0 + 1,
            generation: Some(2),
        };
        assert_eq!(
            next_status(Some(&s), &d, Some(2), later).observed_generation,
            Some(2)
        );
    }

    #[test]
    fn a_new_content_gets_a_new_time_and_the_same_keeps_the_first() {
        let s = first();
        let t0 = s.last_decision.as_ref().and_then(|d| d.time.clone());
        assert_eq!(t0, Some(rfc3339::format_seconds(T0)));
        let mut d = decision(vec![cond(ScalingActive, true, Reason::ValidMetricFound)]);
        d.desired_replicas = 5;
        let later = Outcome {
            rescaled: false,
            now: T0 + 30,
            generation: Some(1),
        };
        let next = next_status(Some(&s), &d, Some(2), later);
        let last = next.last_decision.expect("lastDecision");
        assert_eq!(last.result, Some(5));
        assert_eq!(last.time, Some(rfc3339::format_seconds(T0 + 30)));
    }

    /// Decisions the algorithm really makes, through the status, into
    /// `memhpa explain`: one test per reason that can end a decision.
    mod explained {
        use super::super::*;
        use crate::algorithm::{
            decide, ContainerObservation, History, Observation, PodObservation, PodPhase, Policy,
            Reason,
        };
        use crate::api::{MemHpa, MemHpaSpec, ObjectMeta};
        use serde_json::json;

        const NOW: i64 = 1_700_000_000; // 2023-11-14T22:13:20Z
        const MIB: u64 = 1 << 20;

        fn policy(extra: serde_json::Value) -> Policy {
            let mut spec = json!({
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 1,
                "maxReplicas": 10,
                "targetUtilizationPercentage": 80,
            });
            if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
                s.extend(e.clone());
            }
            let spec: MemHpaSpec = serde_json::from_value(spec).expect("spec");
            Policy::from_spec(&spec).expect("policy")
        }

        fn pod(name: &str, phase: PodPhase, usage_mib: Option<f64>) -> PodObservation {
            PodObservation {
                name: name.into(),
                phase,
                deleted: false,
                containers: vec![ContainerObservation {
                    name: "app".into(),
                    usage_bytes: usage_mib.map(|u| u * MIB as f64),
                    limit_bytes: Some(100 * MIB),
                    request_bytes: Some(100 * MIB),
                }],
            }
        }

        /// `current` running pods, each using `usage_mib` of a 100 MiB limit.
        fn obs(current: i64, usage_mib: f64) -> Observation {
            Observation {
                spec_replicas: current,
                status_replicas: current,
                pods: (0..current)
                    .map(|i| pod(&format!("web-{i}"), PodPhase::Running, Some(usage_mib)))
                    .collect(),
                metrics_error: None,
            }
        }

        fn explained(d: &Decision) -> String {
            let outcome = Outcome {
                rescaled: d.rescale.is_some(),
                now: NOW,
                generation: Some(1),
            };
            let status = next_status(None, d, Some(d.current_replicas), outcome);
            let hpa = MemHpa {
                metadata: ObjectMeta {
                    name: Some("web".into()),
                    namespace: Some("shop".into()),
                    ..ObjectMeta::default()
                },
                status: Some(status),
                kind: Some("MemHpa".into()),
                ..MemHpa::default()
            };
            // Through JSON, as kubectl hands it over.
            let text = serde_json::to_vec(&hpa).expect("json");
            let back = crate::explain::parse(&text, "test").expect("parses");
            crate::explain::explain(&back).expect("explains")
        }

        fn headline(d: &Decision, reason: Reason) -> String {
            assert_eq!(d.reason, reason, "{d:?}");
            let text = explained(d);
            text.lines().next().unwrap_or("").to_string()
        }

        fn history(samples: &[(i64, i64)]) -> History {
            let mut h = History::new();
            for (ago, replicas) in samples {
                h.record_recommendation(NOW - ago, *replicas);
            }
            h
        }

        fn status_after(previous: Option<&MemHpaStatus>, d: &Decision, now: i64) -> MemHpaStatus {
            let outcome = Outcome {
                rescaled: false,
                now,
                generation: Some(1),
            };
            next_status(previous, d, Some(d.current_replicas), outcome)
        }

        #[test]
        fn a_usage_that_only_breathes_rewrites_nothing() {
            let p = policy(json!({}));
            let first = status_after(None, &decide(&obs(4, 76.0), &p, &History::new(), NOW), NOW);
            // 256 KiB more per pod: well within STEADY_USAGE of 304 MiB.
            let breath = decide(&obs(4, 76.25), &p, &History::new(), NOW + 30);
            assert_eq!(breath.reason, Reason::WithinTolerance);
            let next = status_after(Some(&first), &breath, NOW + 30);
            assert_eq!(next, first, "a quiet tick must leave the status as it was");
        }

        #[test]
        fn a_usage_that_moved_is_written_with_all_its_figures() {
            let p = policy(json!({}));
            let first = status_after(None, &decide(&obs(4, 76.0), &p, &History::new(), NOW), NOW);
            // 2% more: still within tolerance, but past STEADY_USAGE.
            let moved = decide(&obs(4, 77.6), &p, &History::new(), NOW + 30);
            assert_eq!(moved.reason, Reason::WithinTolerance);
            let next = status_after(Some(&first), &moved, NOW + 30);
            let (was, now) = (
                first.last_decision.as_ref().expect("first"),
                next.last_decision.as_ref().expect("next"),
            );
            assert!(now.usage_bytes > was.usage_bytes, "{now:?}");
            assert_ne!(now.ratio, was.ratio);
            assert_eq!(next.current_utilization_percentage, Some(77));
            assert!(next.current_memory_bytes > first.current_memory_bytes);
        }

        #[test]
        fn a_changed_decision_is_written_however_little_the_usage_moved() {
            let p = policy(json!({}));
            let first = status_after(None, &decide(&obs(4, 76.0), &p, &History::new(), NOW), NOW);
            let mut other = decide(&obs(4, 76.1), &p, &History::new(), NOW + 30);
            other.desired_replicas = 5;
            let next = status_after(Some(&first), &other, NOW + 30);
            let now = next.last_decision.as_ref().expect("next");
            assert_eq!(now.result, Some(5));
            assert_ne!(
                now.usage_bytes,
                first.last_decision.as_ref().and_then(|d| d.usage_bytes),
                "figures of a new decision are its own"
            );
        }

        #[test]
        fn within_tolerance_says_what_one_fewer_would_do() {
            let d = decide(&obs(4, 76.0), &policy(json!({})), &History::new(), NOW);
            assert_eq!(
                headline(&d, Reason::WithinTolerance),
                "shop/web: held at 4: a scale-down to 3 would put each pod at 101% of its limit, above the 80% target"
            );
        }

        #[test]
        fn within_tolerance_at_one_pod_gives_the_ratio() {
            let d = decide(&obs(1, 76.0), &policy(json!({})), &History::new(), NOW);
            assert_eq!(
                headline(&d, Reason::WithinTolerance),
                "shop/web: held at 1: each pod at 76% of its limit, within 10% of the 80% target (ratio 0.95)"
            );
        }

        #[test]
        fn scaled_up() {
            let d = decide(&obs(2, 100.0), &policy(json!({})), &History::new(), NOW);
            assert_eq!(
                headline(&d, Reason::AboveTarget),
                "shop/web: scaled up from 2 to 3: each pod at 100% of its limit, above the 80% target"
            );
        }

        fn no_down_window() -> serde_json::Value {
            json!({"behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}})
        }

        #[test]
        fn scaled_down() {
            let d = decide(
                &obs(4, 20.0),
                &policy(no_down_window()),
                &History::new(),
                NOW,
            );
            assert_eq!(
                headline(&d, Reason::BelowTarget),
                "shop/web: scaled down from 4 to 1: each pod at 20% of its limit, below the 80% target"
            );
        }

        #[test]
        fn scale_down_stabilized_names_the_window_and_the_bound() {
            let d = decide(
                &obs(4, 20.0),
                &policy(json!({})),
                &history(&[(200, 5), (100, 6), (50, 6)]),
                NOW,
            );
            assert_eq!(
                headline(&d, Reason::ScaleDownStabilized),
                "shop/web: scale-down held by the 300 s window: its highest recommendation was 6, at 22:11; the recommendation now is 1"
            );
        }

        #[test]
        fn scale_up_stabilized_names_the_window_and_the_bound() {
            let p = policy(json!({"behavior": {"scaleUp": {"stabilizationWindowSeconds": 120}}}));
            let d = decide(
                &obs(3, 100.0),
                &p,
                &history(&[(90, 5), (60, 3), (30, 3)]),
                NOW,
            );
            assert_eq!(
                headline(&d, Reason::ScaleUpStabilized),
                "shop/web: scale-up held by the 120 s window: its lowest recommendation was 3, at 22:12; the recommendation now is 4"
            );
        }

        #[test]
        fn rate_limited_up_names_the_policy() {
            let p = policy(json!({
                "targetUtilizationPercentage": 50,
                "behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}},
            }));
            let d = decide(&obs(2, 100.0), &p, &History::new(), NOW);
            assert_eq!(
                headline(&d, Reason::ScaleUpLimit),
                "shop/web: scale-up from 2 limited to 3 by the rate policy Pods 1 per 60s: the recommendation was 4"
            );
        }

        #[test]
        fn rate_limited_down_names_the_policy() {
            let p = policy(json!({
                "behavior": {"scaleDown": {
                    "stabilizationWindowSeconds": 0,
                    "policies": [{"type": "Percent", "value": 25, "periodSeconds": 60}],
                }},
            }));
            let d = decide(&obs(4, 20.0), &p, &History::new(), NOW);
            assert_eq!(
                headline(&d, Reason::ScaleDownLimit),
                "shop/web: scale-down from 4 limited to 3 by the rate policy Percent 25 per 60s: the recommendation was 1"
            );
        }

        #[test]
        fn clamped_to_max() {
            let p = policy(json!({"maxReplicas": 3, "targetUtilizationPercentage": 50}));
            let d = decide(&obs(2, 100.0), &p, &History::new(), NOW);
            assert_eq!(
                headline(&d, Reason::TooManyReplicas),
                "shop/web: clamped to maxReplicas 3: the recommendation was 4"
            );
        }

        #[test]
        fn out_of_range_is_brought_back() {
            let p = policy(json!({"maxReplicas": 3}));
            let d = decide(&obs(5, 80.0), &p, &History::new(), NOW);
            assert_eq!(
                headline(&d, Reason::TooManyReplicas),
                "shop/web: 5 is outside the bounds: brought to maxReplicas 3"
            );
        }

        #[test]
        fn clamped_to_min() {
            let mut extra = no_down_window();
            extra["minReplicas"] = json!(3);
            let d = decide(&obs(4, 20.0), &policy(extra), &History::new(), NOW);
            assert_eq!(
                headline(&d, Reason::TooFewReplicas),
                "shop/web: clamped to minReplicas 3: the recommendation was 1"
            );
        }

        #[test]
        fn missing_metrics_quote_the_error() {
            let mut o = obs(2, 50.0);
            o.metrics_error = Some("prometheus at http://prom:9090 is down".into());
            let d = decide(&o, &policy(json!({})), &History::new(), NOW);
            let line = headline(&d, Reason::FailedGetResourceMetric);
            assert!(
                line.starts_with("shop/web: held at 2: no memory metrics: \"the MemHpa was unable"),
                "{line}"
            );
            assert!(
                line.contains("prometheus at http://prom:9090 is down"),
                "{line}"
            );
        }

        #[test]
        fn held_for_unsampled_pods_counts_them() {
            let mut o = obs(2, 95.0);
            o.pods.push(pod("web-new", PodPhase::Pending, None));
            o.spec_replicas = 3;
            let d = decide(&o, &policy(json!({})), &History::new(), NOW);
            let text = explained(&d);
            assert_eq!(d.reason, Reason::HeldForUnsampledPods, "{d:?}");
            assert!(
                text.starts_with("shop/web: held at 3: counting the 0 missing and 1 Pending pods"),
                "{text}"
            );
            assert!(
                text.contains(
                    "pods: 2 counted, 0 missing, 1 Pending, 0 ignored: web-new (pending)"
                ),
                "{text}"
            );
        }

        #[test]
        fn invalid_spec_quotes_the_field() {
            let d = Decision::failed(
                Reason::InvalidSpec,
                "spec.maxReplicas: required but missing",
                2,
            );
            assert_eq!(
                headline(&d, Reason::InvalidSpec),
                "shop/web: held at 2: the spec is invalid, fix it and memhpa resumes: \"spec.maxReplicas: required but missing\""
            );
        }

        #[test]
        fn target_missing() {
            let d = Decision::failed(
                Reason::FailedGetScale,
                "deployments.apps \"web\" not found",
                0,
            );
            let line = headline(&d, Reason::FailedGetScale);
            assert!(
                line.starts_with(
                    "shop/web: not scaling: the target (or its Scale) cannot be read: "
                ),
                "{line}"
            );
            assert!(line.contains("not found"), "{line}");
        }

        #[test]
        fn scaling_disabled() {
            let d = decide(&obs(0, 0.0), &policy(json!({})), &History::new(), NOW);
            assert_eq!(
                headline(&d, Reason::ScalingDisabled),
                "shop/web: not scaling: the target is at 0 replicas, which disables autoscaling until it is scaled up by hand"
            );
        }

        #[test]
        fn a_failed_write_says_so() {
            let d = decide(&obs(2, 100.0), &policy(json!({})), &History::new(), NOW).settle(
                crate::algorithm::WriteOutcome::Failed("409 conflict".into()),
            );
            let line = headline(&d, Reason::FailedUpdateScale);
            assert!(
                line.starts_with("shop/web: held at 2: the Scale write failed: "),
                "{line}"
            );
            assert!(line.contains("409 conflict"), "{line}");
        }

        #[test]
        fn baseline_above_target_gives_the_share_and_what_to_change() {
            let p = policy(json!({"podBaseline": "90Mi"}));
            let d = decide(&obs(4, 95.0), &p, &History::new(), NOW);
            let text = explained(&d);
            assert_eq!(d.reason, Reason::BaselineAboveTarget, "{d:?}");
            assert!(text.starts_with("shop/web: held at 4: the baseline alone is 90% of each pod's limit, at or above the 80% target, so no replica count can reach it; raise the target or the limit, or lower spec.podBaseline\n"), "{text}");
            assert!(text.contains("baseline 90.0 MiB a pod"), "{text}");
        }

        /// At rest the decision's reason is the tolerance's, while AbleToScale
        /// reads ReadyForNewScale, as Kubernetes' HPA says it.
        #[test]
        fn at_rest_is_ready_for_a_new_scale() {
            let d = decide(&obs(4, 80.0), &policy(json!({})), &History::new(), NOW);
            let text = explained(&d);
            assert!(text.contains("AbleToScale=True ReadyForNewScale"), "{text}");
            let hpa = json!({
                "kind": "MemHpa",
                "metadata": {"name": "web", "namespace": "shop"},
                "status": {"conditions": [{"type": "AbleToScale", "status": "True",
                    "reason": "ReadyForNewScale", "message": "recommended size matches current size"}],
                    "currentReplicas": 4},
            });
            let hpa = crate::explain::parse(hpa.to_string().as_bytes(), "test").expect("parses");
            let text = crate::explain::explain(&hpa).expect("explains");
            assert!(
                text.starts_with(
                    "shop/web: held at 4: the recommended size matches the current size"
                ),
                "{text}"
            );
        }

        /// 10,000 pods, 2,000 of them missing with the longest names: the
        /// record stays under 4 KiB, and names ten.
        #[test]
        fn ten_thousand_pods_stay_under_4_kib() {
            let mut o = obs(10_000, 70.0);
            for p in o.pods.iter_mut().take(2_000) {
                p.name = format!("{}-{}", "x".repeat(240), p.name);
                p.containers[0].usage_bytes = None;
            }
            let p = policy(json!({"maxReplicas": 20000, "podBaseline": "10Mi"}));
            let d = decide(&o, &p, &history(&[(100, 12_000)]), NOW);
            let status = next_status(
                None,
                &d,
                Some(10_000),
                Outcome {
                    rescaled: false,
                    now: NOW,
                    generation: Some(1),
                },
            );
            let last = status.last_decision.expect("lastDecision");
            let size = serde_json::to_vec(&last).expect("json").len();
            assert!(size < 4096, "{size} bytes");
            let pods = last.pods.expect("pods");
            assert_eq!((pods.counted, pods.missing), (8_000, 2_000));
            assert_eq!(pods.named.len(), 10);
            // The end of a long name is kept, and tells the pods apart.
            assert!(
                pods.named[1].name.ends_with("-web-1"),
                "{:?}",
                pods.named[1]
            );
            assert_eq!(pods.named[1].name.chars().count(), 63);
        }
    }
}
