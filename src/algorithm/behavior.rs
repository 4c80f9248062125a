//! autoscaling/v2 behavior: stabilization windows and rate policies, the way
//! Kubernetes' `stabilizeRecommendationWithBehaviors` and
//! `convertDesiredReplicasWithBehaviorRate` apply them, with `now` passed in.

use super::history::History;
use super::history::Sample;
use super::policy::{Policy, RateKind, RatePolicy, Rules, Select};
use super::reason::Reason;

/// Stabilization's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stabilized {
    pub replicas: i64,
    /// The window held the recommendation back (reason ScaleUpStabilized or
    /// ScaleDownStabilized).
    pub held: bool,
}

/// Keeps `recommendation` within what recent recommendations allow: a scale-up
/// goes no higher than the lowest recommendation in the up-window, a scale-down
/// no lower than the highest in the down-window. The current recommendation
/// counts as part of both windows.
pub fn stabilize(
    recommendation: i64,
    current: i64,
    history: &History,
    policy: &Policy,
    now: i64,
) -> Stabilized {
    let up_cutoff = now.saturating_sub(policy.scale_up.stabilization_window_seconds);
    let down_cutoff = now.saturating_sub(policy.scale_down.stabilization_window_seconds);
    let mut up = recommendation;
    let mut down = recommendation;
    for s in history.recommendations() {
        if s.at > up_cutoff {
            up = up.min(s.replicas);
        }
        if s.at > down_cutoff {
            down = down.max(s.replicas);
        }
    }
    let replicas = current.max(up).min(down);
    Stabilized {
        replicas,
        held: replicas != recommendation,
    }
}

/// What limited the count after stabilization, as a ScalingLimited reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    DesiredWithinRange,
    ScaleUpLimit,
    ScaleDownLimit,
    TooManyReplicas,
    TooFewReplicas,
}

impl Limit {
    pub fn reason(self) -> Reason {
        match self {
            Limit::DesiredWithinRange => Reason::DesiredWithinRange,
            Limit::ScaleUpLimit => Reason::ScaleUpLimit,
            Limit::ScaleDownLimit => Reason::ScaleDownLimit,
            Limit::TooManyReplicas => Reason::TooManyReplicas,
            Limit::TooFewReplicas => Reason::TooFewReplicas,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Limit::DesiredWithinRange => "the desired count is within the acceptable range",
            Limit::ScaleUpLimit => {
                "the desired replica count is increasing faster than the maximum scale rate"
            }
            Limit::ScaleDownLimit => {
                "the desired replica count is decreasing faster than the maximum scale rate"
            }
            Limit::TooManyReplicas => {
                "the desired replica count is more than the maximum replica count"
            }
            Limit::TooFewReplicas => {
                "the desired replica count is less than the minimum replica count"
            }
        }
    }
}

/// Applies the rate policies and [minReplicas, maxReplicas] to a stabilized
/// count. `current` must already be within [min, max] (the caller handles the
/// out-of-range case first, as Kubernetes does), so the result is too.
pub fn limit(
    desired: i64,
    current: i64,
    history: &History,
    policy: &Policy,
    now: i64,
) -> (i64, Limit) {
    if desired > current {
        // A limit below the current count (after a burst of scale-ups) means
        // "no further up for now", never "down".
        let rate = scale_up_limit(current, history, &policy.scale_up, now).max(current);
        let (ceiling, why) = if policy.max_replicas > rate {
            (rate, Limit::ScaleUpLimit)
        } else {
            (policy.max_replicas, Limit::TooManyReplicas)
        };
        if desired > ceiling {
            return (ceiling, why);
        }
    } else if desired < current {
        let rate = scale_down_limit(current, history, &policy.scale_down, now).min(current);
        let (floor, why) = if policy.min_replicas < rate {
            (rate, Limit::ScaleDownLimit)
        } else {
            (policy.min_replicas, Limit::TooFewReplicas)
        };
        if desired < floor {
            return (floor, why);
        }
    }
    (desired, Limit::DesiredWithinRange)
}

/// The replica count each policy allows at the end of its period, measured from
/// the count the period started with.
fn period_start(current: i64, history: &History, period_seconds: i64, now: i64) -> i64 {
    current
        .saturating_sub(history.added_since(now, period_seconds))
        .saturating_add(history.removed_since(now, period_seconds))
}

fn scale_up_limit(current: i64, history: &History, rules: &Rules, now: i64) -> i64 {
    let proposals = rules.policies.iter().map(|p| {
        let start = period_start(current, history, p.period_seconds, now);
        match p.kind {
            RateKind::Pods => start.saturating_add(p.value),
            // Rounded up, or a small target could never grow by a percentage.
            RateKind::Percent => (start as f64 * (1.0 + p.value as f64 / 100.0)).ceil() as i64,
        }
    });
    match rules.select {
        Select::Disabled => current,
        Select::Max => proposals.max().unwrap_or(current),
        Select::Min => proposals.min().unwrap_or(current),
    }
}

fn scale_down_limit(current: i64, history: &History, rules: &Rules, now: i64) -> i64 {
    let proposals = rules.policies.iter().map(|p| {
        let start = period_start(current, history, p.period_seconds, now);
        match p.kind {
            RateKind::Pods => start.saturating_sub(p.value),
            // Truncated, as Kubernetes does.
            RateKind::Percent => (start as f64 * (1.0 - p.value as f64 / 100.0)) as i64,
        }
    });
    // "Max" picks the policy allowing the biggest change, which for a
    // scale-down is the lowest floor.
    match rules.select {
        Select::Disabled => current,
        Select::Max => proposals.min().unwrap_or(current),
        Select::Min => proposals.max().unwrap_or(current),
    }
}

/// For the trace: the recommendation in the window that held a scale-up
/// (`up`) or scale-down back: the lowest or highest there, its oldest.
/// `None` when stabilization changed nothing.
pub fn binding_sample(
    recommendation: i64,
    stabilized: i64,
    up: bool,
    history: &History,
    rules: &Rules,
    now: i64,
) -> Option<Sample> {
    if stabilized == recommendation {
        return None;
    }
    let cutoff = now.saturating_sub(rules.stabilization_window_seconds);
    let mut bound: Option<Sample> = None;
    for s in history.recommendations().iter().filter(|s| s.at > cutoff) {
        let better = bound.map_or(true, |b| {
            if up {
                s.replicas < b.replicas
            } else {
                s.replicas > b.replicas
            }
        });
        if better {
            bound = Some(*s);
        }
    }
    bound
}

/// For the trace: the rate policy whose allowance is the limit `to`, when
/// `why` is a rate limit.
pub fn binding_policy(
    current: i64,
    to: i64,
    history: &History,
    policy: &Policy,
    why: Limit,
    now: i64,
) -> Option<RatePolicy> {
    let rules = match why {
        Limit::ScaleUpLimit => &policy.scale_up,
        Limit::ScaleDownLimit => &policy.scale_down,
        _ => return None,
    };
    rules.policies.iter().copied().find(|p| {
        let one = Rules {
            stabilization_window_seconds: 0,
            select: Select::Max,
            policies: vec![*p],
        };
        let allowed = if why == Limit::ScaleUpLimit {
            scale_up_limit(current, history, &one, now).max(current)
        } else {
            scale_down_limit(current, history, &one, now).min(current)
        };
        allowed == to
    })
}
