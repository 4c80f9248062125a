//! The MemHpa status a decision leads to.
//!
//! The status is rebuilt from the decision every time and compared with what
//! the object already says; only a difference is written. For that comparison
//! to mean anything, everything copied forward must be stable: a condition
//! keeps its `lastTransitionTime` while its status stays the same (as
//! Kubernetes' HPA does), and `lastScaleTime` only moves on a real rescale.

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
    MemHpaStatus {
        observed_generation: outcome.generation.or(previous.observed_generation),
        last_scale_time: if outcome.rescaled {
            Some(now.clone())
        } else {
            previous.last_scale_time.clone()
        },
        current_replicas: status_replicas.or(previous.current_replicas),
        desired_replicas: Some(decision.desired_replicas),
        current_utilization_percentage: decision.utilization_percentage,
        current_memory_bytes: decision
            .memory_bytes
            .map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
        conditions: conditions(&previous.conditions, &decision.conditions, &now),
        last_decision: Some(last_decision(
            previous.last_decision.as_ref(),
            decision,
            &now,
        )),
    }
}

/// `status.lastDecision` for `decision`. A decision with the same content as
/// the previous one keeps its time, so a steady state writes nothing.
fn last_decision(previous: Option<&LastDecision>, decision: &Decision, now: &str) -> LastDecision {
    let mut next = decision_record(decision);
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
                    why: p.why.to_string(),
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
}
