//! The one entry point: `decide(observation, policy, history, now)`.
//!
//! The order of the phases is Kubernetes' `reconcileAutoscaler`: a Scale at 0
//! disables autoscaling; a Scale outside [min, max] is brought back in range;
//! otherwise the calculator recommends, stabilization smooths, rate policies and
//! bounds limit. Nothing here performs I/O: `decide` only says which Scale
//! write it wants (`Decision.rescale`). The controller attempts it, and
//! `Decision::settle` records what came of it (written, dry run or failed)
//! before the events are emitted and the status is stored, as Kubernetes'
//! `horizontal.go` sets SucceededRescale only once `Update` has succeeded.
//! `History::apply` then feeds the settled outcome back.

use super::behavior::{self, Limit};
use super::history::History;
use super::observe::Observation;
use super::policy::Policy;
use super::reason::{ConditionType, Reason};
use super::replicas::{self, CalcError, Recommendation, Target, Verdict};
use super::trace::{LimitStep, Trace, Window};
use crate::api::Basis;

use ConditionType::{AbleToScale, ScalingActive, ScalingLimited};

/// One status condition as decided (the controller adds transition times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionOutcome {
    pub type_: ConditionType,
    pub status: bool,
    pub reason: Reason,
    pub message: String,
}

/// An event to emit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventOutcome {
    /// `Warning` rather than `Normal`.
    pub warning: bool,
    pub reason: Reason,
    pub message: String,
}

/// A Scale write `decide` asks for; nothing claims it happened until
/// `Decision::settle` is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rescale {
    pub from: i64,
    pub to: i64,
    /// E.g. "memory utilization (percentage of limit) above target".
    pub why: String,
}

/// What became of the Scale write a decision asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The Scale now says `rescale.to`.
    Written,
    /// `-dry-run`: the write was only logged.
    DryRun,
    /// The write failed with this error.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The Scale's spec.replicas this decision started from.
    pub current_replicas: i64,
    /// The calculator's output, before behavior and bounds.
    pub recommended_replicas: Option<i64>,
    /// What the Scale should say (equals `current_replicas` when nothing changes).
    pub desired_replicas: i64,
    pub utilization_percentage: Option<i64>,
    /// Average working set per pod with a sample.
    pub memory_bytes: Option<u64>,
    pub conditions: Vec<ConditionOutcome>,
    /// The Scale write wanted, if any. `settle` keeps it only if it was
    /// written or dry-run.
    pub rescale: Option<Rescale>,
    /// Events to emit (the rescale's own event is added by `settle`).
    pub events: Vec<EventOutcome>,
    /// One token saying why: a condition reason (ScaleUpLimit, ScaleDownStabilized,
    /// FailedGetResourceMetric, BaselineAboveTarget, ...) or the calculator's
    /// verdict (AboveTarget, BelowTarget, WithinTolerance, HeldForUnsampledPods).
    pub reason: Reason,
    /// The recommendation `History::apply` keeps for stabilization.
    pub stabilization_sample: Option<i64>,
    /// What the decision saw and did, for `status.lastDecision`.
    pub trace: Trace,
}

impl Decision {
    /// An outcome the controller detected itself: FailedGetScale, InvalidSelector,
    /// InvalidSpec, FailedGetResourceMetric, ... Nothing is scaled. The
    /// condition is the reason's own (Scale failures go to AbleToScale, the
    /// others to ScalingActive); a Warning event with the same reason and
    /// message goes with it.
    pub fn failed(reason: Reason, message: impl Into<String>, current_replicas: i64) -> Decision {
        let message = message.into();
        let type_ = reason.condition_type().unwrap_or(ScalingActive);
        Decision {
            current_replicas,
            recommended_replicas: None,
            desired_replicas: current_replicas,
            utilization_percentage: None,
            memory_bytes: None,
            conditions: vec![condition(type_, false, reason, message.clone())],
            rescale: None,
            events: vec![EventOutcome {
                warning: true,
                reason,
                message,
            }],
            reason,
            stabilization_sample: None,
            trace: Trace::default(),
        }
    }

    /// Records what became of the Scale write this decision asked for: the
    /// one place that sets AbleToScale for a rescale and adds its event.
    /// - `Written`: AbleToScale True SucceededRescale, a SuccessfulRescale event;
    /// - `DryRun`: AbleToScale stays SucceededGetScale and says what it would
    ///   have done, a DryRunRescale event;
    /// - `Failed`: AbleToScale False FailedUpdateScale, a FailedRescale warning,
    ///   the decision's reason becomes FailedUpdateScale and `rescale` is
    ///   dropped, so the history records no scale event.
    ///
    /// A decision that asked for no write is returned as it is.
    pub fn settle(mut self, outcome: WriteOutcome) -> Decision {
        let Some(r) = self.rescale.take() else {
            return self;
        };
        let (able, event) = match &outcome {
            WriteOutcome::Written => (
                condition(
                    AbleToScale,
                    true,
                    Reason::SucceededRescale,
                    format!(
                        "the MemHpa controller was able to update the target scale to {}",
                        r.to
                    ),
                ),
                EventOutcome {
                    warning: false,
                    reason: Reason::SuccessfulRescale,
                    message: format!("New size: {}; reason: {}", r.to, r.why),
                },
            ),
            WriteOutcome::DryRun => (
                condition(
                    AbleToScale,
                    true,
                    Reason::SucceededGetScale,
                    format!(
                        "dry run: the MemHpa controller would update the target scale to {}",
                        r.to
                    ),
                ),
                EventOutcome {
                    warning: false,
                    reason: Reason::DryRunRescale,
                    message: format!("Would set size: {}; reason: {}", r.to, r.why),
                },
            ),
            WriteOutcome::Failed(error) => (
                condition(
                    AbleToScale,
                    false,
                    Reason::FailedUpdateScale,
                    format!("the MemHpa controller was unable to update the target scale: {error}"),
                ),
                EventOutcome {
                    warning: true,
                    reason: Reason::FailedRescale,
                    message: format!("New size: {}; reason: {}; error: {error}", r.to, r.why),
                },
            ),
        };
        set(&mut self.conditions, able);
        self.events.push(event);
        if let WriteOutcome::Failed(_) = outcome {
            self.reason = Reason::FailedUpdateScale;
        } else {
            self.rescale = Some(r);
        }
        self
    }

    /// The condition of `type_`, if this decision sets it.
    pub fn condition(&self, type_: ConditionType) -> Option<&ConditionOutcome> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}

/// Decides what to do with one target. `now` is Unix seconds.
pub fn decide(obs: &Observation, policy: &Policy, history: &History, now: i64) -> Decision {
    decide_copies(obs, 1, policy, history, now)
}

/// `decide`, with each pod of `obs.pods` standing for `copies` identical pods:
/// the simulator's even split costs one pod at any replica count, and decides
/// exactly as the full list would (the calculator only sums pods).
pub fn decide_copies(
    obs: &Observation,
    copies: u64,
    policy: &Policy,
    history: &History,
    now: i64,
) -> Decision {
    let current = obs.spec_replicas;
    if current == 0 {
        return disabled();
    }
    if current < 0 {
        return Decision::failed(
            Reason::FailedGetScale,
            format!("the target's Scale has spec.replicas {current}"),
            current,
        );
    }
    let calc = match &obs.metrics_error {
        Some(e) => Err(e.clone()),
        None => replicas::recommend(&obs.pods, copies, current, target(policy))
            .map_err(|e: CalcError| e.to_string()),
    };
    let mut d = if current > policy.max_replicas || current < policy.min_replicas {
        out_of_range(current, policy, calc)
    } else {
        match calc {
            Err(e) => with_metric(current, Err(e), policy.basis),
            Ok(rec) => scale_on_metric(current, rec, policy, history, now),
        }
    };
    d.trace = traced(&d, Trace::of(obs, copies, policy));
    d
}

/// The trace of `d`: the inputs in `inputs`, the steps `d` recorded, and its
/// results.
fn traced(d: &Decision, inputs: Trace) -> Trace {
    Trace {
        recommended: d.recommended_replicas,
        utilization: d.utilization_percentage,
        desired: d.desired_replicas,
        window: d.trace.window,
        limit: d.trace.limit,
        ..inputs
    }
}

fn target(policy: &Policy) -> Target<'_> {
    Target {
        utilization: policy.target_utilization,
        basis: policy.basis,
        container: policy.container.as_deref(),
        baseline: policy.pod_baseline_bytes,
    }
}

fn scale_on_metric(
    current: i64,
    rec: Recommendation,
    policy: &Policy,
    history: &History,
    now: i64,
) -> Decision {
    let stabilized = behavior::stabilize(rec.replicas, current, history, policy, now);
    let (desired, limit) = behavior::limit(stabilized.replicas, current, history, policy, now);
    let mut d = with_metric(current, Ok(rec), policy.basis);
    d.trace.window = window_step(
        rec.replicas,
        stabilized.replicas,
        current,
        history,
        policy,
        now,
    );
    if limit != Limit::DesiredWithinRange {
        let rate = behavior::binding_policy(current, desired, history, policy, limit, now);
        d.trace.limit = Some(LimitStep {
            from: stabilized.replicas,
            to: desired,
            policy: rate,
        });
    }
    d.stabilization_sample = Some(rec.replicas);
    d.desired_replicas = desired;
    let limited = limit != Limit::DesiredWithinRange;
    d.conditions.push(condition(
        ScalingLimited,
        limited,
        limit.reason(),
        limit.message(),
    ));
    let up = rec.replicas > current;
    let stabilized_reason = if up {
        Reason::ScaleUpStabilized
    } else {
        Reason::ScaleDownStabilized
    };
    d.reason = if limited {
        limit.reason()
    } else if stabilized.held {
        stabilized_reason
    } else {
        rec.verdict.reason()
    };
    if desired != current {
        want_rescale(
            &mut d,
            desired,
            utilization_why(policy.basis, desired > current),
        );
    } else if stabilized.held {
        let message = if up {
            "recent recommendations were lower than current one, applying the lowest recent recommendation"
        } else {
            "recent recommendations were higher than current one, applying the highest recent recommendation"
        };
        set(
            &mut d.conditions,
            condition(AbleToScale, true, stabilized_reason, message),
        );
    } else {
        // At rest, Kubernetes' words (its message, misleading as it is when the
        // count is limited, is kept as is: alerts and dashboards key on both).
        set(
            &mut d.conditions,
            condition(
                AbleToScale,
                true,
                Reason::ReadyForNewScale,
                "recommended size matches current size",
            ),
        );
    }
    if rec.verdict == Verdict::BaselineAboveTarget {
        baseline_above_target(&mut d, &rec, policy);
    }
    d
}

/// The calculator held the count because the baseline alone reaches the
/// target; the hold passes through stabilization and the rate policies
/// unchanged (the current count always does), so only the words differ: a
/// ScalingLimited of its own, and a warning that says what to change.
fn baseline_above_target(d: &mut Decision, rec: &Recommendation, policy: &Policy) {
    let message = baseline_message(rec.average_capacity_bytes, policy);
    set(
        &mut d.conditions,
        condition(
            ScalingLimited,
            true,
            Reason::BaselineAboveTarget,
            message.clone(),
        ),
    );
    d.reason = Reason::BaselineAboveTarget;
    d.events.push(EventOutcome {
        warning: true,
        reason: Reason::BaselineAboveTarget,
        message,
    });
}

/// E.g. "podBaseline 120Mi is 75% of the 160Mi limit of each pod, at or above
/// the 70% target: ...". `capacity` is the average limit (or request) of the
/// sampled pods, the one the calculator compared the baseline with.
fn baseline_message(capacity: u64, policy: &Policy) -> String {
    let baseline = policy.pod_baseline_bytes;
    let target = policy.target_utilization;
    let whose = match &policy.container {
        Some(c) => format!("of container {} in each pod", crate::quote::quote(c, 64)),
        None => "of each pod".to_string(),
    };
    let share = percent_of(baseline, capacity);
    // The largest baseline that leaves room at this target.
    let most = u64::try_from(
        u128::from(capacity).saturating_mul(u128::try_from(target).unwrap_or(0)) / 100,
    )
    .unwrap_or(u64::MAX);
    let raise = if share < 100 {
        format!("raise targetUtilizationPercentage above {share}% or ")
    } else {
        String::new()
    };
    format!(
        "podBaseline {} is {share}% of the {} memory {} {whose}, at or above the {target}% target: \
         no replica count can reach it; {raise}lower podBaseline below {}",
        quantity(baseline),
        quantity(capacity),
        policy.basis.singular(),
        quantity(most),
    )
}

/// `floor(100 * part / whole)`; `whole` is not 0 (the calculator refuses a
/// zero capacity before it compares a baseline with it).
fn percent_of(part: u64, whole: u64) -> u128 {
    u128::from(part).saturating_mul(100) / u128::from(whole.max(1))
}

/// Bytes as a Kubernetes quantity a reader can paste back: exact in the
/// largest binary unit that divides them ("120Mi"), else to a tenth of the
/// largest unit they reach ("112.5Mi").
fn quantity(bytes: u64) -> String {
    const UNITS: [(&str, u64); 5] = [
        ("Pi", 1 << 50),
        ("Ti", 1 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ];
    if let Some((unit, size)) = UNITS
        .iter()
        .find(|(_, size)| bytes >= *size && bytes % size == 0)
    {
        return format!("{}{unit}", bytes / size);
    }
    match UNITS.iter().find(|(_, size)| bytes >= *size) {
        Some((unit, size)) => format!("{:.1}{unit}", bytes as f64 / *size as f64),
        None => bytes.to_string(),
    }
}

/// For the trace: the window that held the recommendation back, if one did.
fn window_step(
    recommended: i64,
    stabilized: i64,
    current: i64,
    history: &History,
    policy: &Policy,
    now: i64,
) -> Option<Window> {
    let up = recommended > current;
    let rules = if up {
        &policy.scale_up
    } else {
        &policy.scale_down
    };
    let bound = behavior::binding_sample(recommended, stabilized, up, history, rules, now)?;
    Some(Window {
        up,
        seconds: rules.stabilization_window_seconds,
        bound,
        stabilized,
    })
}

/// Kubernetes brings an out-of-range Scale back to the nearest bound before
/// looking at metrics; this is a spec-driven change, so it happens even when
/// metrics failed. The metric (or its failure) still goes into the status.
fn out_of_range(current: i64, policy: &Policy, calc: Result<Recommendation, String>) -> Decision {
    let (bound, limit, why) = if current > policy.max_replicas {
        (
            policy.max_replicas,
            Limit::TooManyReplicas,
            "Current number of replicas above Spec.MaxReplicas",
        )
    } else {
        (
            policy.min_replicas,
            Limit::TooFewReplicas,
            "Current number of replicas below Spec.MinReplicas",
        )
    };
    let mut d = with_metric(current, calc, policy.basis);
    d.trace.limit = Some(LimitStep {
        from: current,
        to: bound,
        policy: None,
    });
    d.desired_replicas = bound;
    d.reason = limit.reason();
    d.conditions.push(condition(
        ScalingLimited,
        true,
        limit.reason(),
        limit.message(),
    ));
    want_rescale(&mut d, bound, why.to_string());
    d
}

/// The parts common to every metric-based outcome: AbleToScale (the Scale was
/// read), ScalingActive and, on failure, the warning.
fn with_metric(current: i64, calc: Result<Recommendation, String>, basis: Basis) -> Decision {
    let mut d = Decision {
        current_replicas: current,
        recommended_replicas: None,
        desired_replicas: current,
        utilization_percentage: None,
        memory_bytes: None,
        conditions: vec![got_scale()],
        rescale: None,
        events: Vec::new(),
        // Until the calculator's result, below, says which.
        reason: Reason::FailedGetResourceMetric,
        stabilization_sample: None,
        trace: Trace::default(),
    };
    match calc {
        Ok(rec) => {
            d.recommended_replicas = Some(rec.replicas);
            d.utilization_percentage = Some(rec.utilization);
            d.memory_bytes = Some(rec.average_bytes);
            d.reason = rec.verdict.reason();
            let message = format!(
                "the MemHpa was able to successfully calculate a replica count from memory utilization (percentage of {})",
                basis.singular()
            );
            d.conditions.push(condition(
                ScalingActive,
                true,
                Reason::ValidMetricFound,
                message,
            ));
        }
        Err(e) => {
            let message = format!("the MemHpa was unable to compute the replica count: failed to get memory utilization: {e}");
            d.reason = Reason::FailedGetResourceMetric;
            d.conditions.push(condition(
                ScalingActive,
                false,
                Reason::FailedGetResourceMetric,
                message,
            ));
            d.events.push(EventOutcome {
                warning: true,
                reason: Reason::FailedGetResourceMetric,
                message: format!("failed to get memory utilization: {e}"),
            });
        }
    }
    d
}

fn disabled() -> Decision {
    Decision {
        current_replicas: 0,
        recommended_replicas: None,
        desired_replicas: 0,
        utilization_percentage: None,
        memory_bytes: None,
        conditions: vec![
            got_scale(),
            condition(
                ScalingActive,
                false,
                Reason::ScalingDisabled,
                "scaling is disabled since the replica count of the target is zero",
            ),
        ],
        rescale: None,
        events: Vec::new(),
        reason: Reason::ScalingDisabled,
        stabilization_sample: None,
        trace: Trace::default(),
    }
}

/// AbleToScale once the Scale was read, until `settle` says more.
fn got_scale() -> ConditionOutcome {
    condition(
        AbleToScale,
        true,
        Reason::SucceededGetScale,
        "the MemHpa controller was able to get the target's current scale",
    )
}

/// Asks for a Scale write; AbleToScale keeps saying only that the Scale was
/// read, since nothing is written yet.
fn want_rescale(d: &mut Decision, to: i64, why: String) {
    d.rescale = Some(Rescale {
        from: d.current_replicas,
        to,
        why,
    });
}

fn utilization_why(basis: Basis, up: bool) -> String {
    let side = if up { "above" } else { "below" };
    format!(
        "memory utilization (percentage of {}) {side} target",
        basis.singular()
    )
}

fn condition(
    type_: ConditionType,
    status: bool,
    reason: Reason,
    message: impl Into<String>,
) -> ConditionOutcome {
    ConditionOutcome {
        type_,
        status,
        reason,
        message: message.into(),
    }
}

/// Replaces the condition of the same type, or adds it.
fn set(conditions: &mut Vec<ConditionOutcome>, c: ConditionOutcome) {
    match conditions.iter_mut().find(|x| x.type_ == c.type_) {
        Some(slot) => *slot = c,
        None => conditions.push(c),
    }
}
