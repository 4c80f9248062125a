//! The log lines an operator tails for a MemHpa that cannot be autoscaled: one
//! warning when such a fault begins or turns into another, none while it
//! persists (its condition and Events say so every reconcile), and one info
//! line when it clears.
//!
//! A fault is keyed by its reason alone. Messages carry details that move
//! between reconciles (an error's text, a figure), and a log line per
//! changed detail would be the flood this module exists to avoid.
//!
//! The memory of the last fault lives in the MemHpa's `ObjectState`, beside
//! its history, so it goes with the object: a re-created or deleted MemHpa
//! starts afresh, and a new leader reports what it finds once.

use crate::algorithm::{Decision, Reason};

/// Characters of a decision's message a log line keeps: a whole API or
/// Prometheus error fits, and a hostile body quoted in one cannot flood the
/// log.
const MESSAGE_LIMIT: usize = 1024;

/// The fault last logged for one MemHpa, if any.
#[derive(Debug, Default)]
pub struct Alarm {
    raised: Option<Reason>,
}

/// A line to log, or a test to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A fault began after a healthy reconcile, or the first one.
    Began { reason: Reason, message: String },
    /// The fault is now another one.
    Changed {
        from: Reason,
        to: Reason,
        message: String,
    },
    /// The MemHpa reconciled without a fault again; `now` is its reason.
    Cleared { was: Reason, now: Reason },
}

impl Alarm {
    /// The fault last logged, for the reconcile's tests.
    #[cfg(test)]
    pub fn raised(&self) -> Option<Reason> {
        self.raised
    }

    /// Takes in the decision a reconcile settled on and says what to log, if
    /// anything. Only the state changes here; the caller logs.
    pub fn observe(&mut self, decision: &Decision) -> Option<Notice> {
        let now = is_fault(decision.reason).then_some(decision.reason);
        let notice = match (self.raised, now) {
            (None, None) => None,
            (Some(was), Some(now)) if was == now => None,
            (None, Some(reason)) => Some(Notice::Began {
                reason,
                message: message_of(decision),
            }),
            (Some(from), Some(to)) => Some(Notice::Changed {
                from,
                to,
                message: message_of(decision),
            }),
            (Some(was), None) => Some(Notice::Cleared {
                was,
                now: decision.reason,
            }),
        };
        self.raised = now;
        notice
    }
}

impl Notice {
    pub fn level(&self) -> log::Level {
        match self {
            Notice::Began { .. } | Notice::Changed { .. } => log::Level::Warn,
            Notice::Cleared { .. } => log::Level::Info,
        }
    }

    /// The line for the MemHpa `key` (namespace/name).
    pub fn line(&self, key: &str) -> String {
        match self {
            Notice::Began { reason, message } => format!(
                "{key}: cannot autoscale: {reason}: {}",
                crate::quote::quote(message, MESSAGE_LIMIT)
            ),
            Notice::Changed { from, to, message } => format!(
                "{key}: cannot autoscale: {to} (was {from}): {}",
                crate::quote::quote(message, MESSAGE_LIMIT)
            ),
            Notice::Cleared { was, now } => {
                format!("{key}: autoscaling again: {was} cleared, now {now}")
            }
        }
    }
}

/// Logs what `decision` changes about `alarm`'s fault, for the MemHpa `key`.
pub fn report(alarm: &std::sync::Mutex<Alarm>, key: &str, decision: &Decision) {
    let notice = crate::shutdown::lock(alarm).observe(decision);
    if let Some(notice) = notice {
        log::log!(notice.level(), "{}", notice.line(key));
    }
}

/// Whether a decision's reason means a person must act before the MemHpa
/// can scale its target (a spec or a target to fix, an API server or a
/// Prometheus that fails). Every reason is listed, so a new one is decided on
/// here rather than silently left out.
fn is_fault(reason: Reason) -> bool {
    match reason {
        Reason::FailedGetScale
        | Reason::FailedUpdateScale
        | Reason::FailedGetResourceMetric
        | Reason::InvalidSelector
        | Reason::InvalidSpec
        | Reason::BaselineAboveTarget => true,
        // Working as configured: scaling, holding, bounded, or switched off
        // by the owner (a target at zero replicas).
        Reason::SucceededGetScale
        | Reason::ReadyForNewScale
        | Reason::SucceededRescale
        | Reason::ScaleUpStabilized
        | Reason::ScaleDownStabilized
        | Reason::ValidMetricFound
        | Reason::ScalingDisabled
        | Reason::DesiredWithinRange
        | Reason::ScaleUpLimit
        | Reason::ScaleDownLimit
        | Reason::TooManyReplicas
        | Reason::TooFewReplicas
        | Reason::SuccessfulRescale
        | Reason::FailedRescale
        | Reason::DryRunRescale
        | Reason::WithinTolerance
        | Reason::AboveTarget
        | Reason::BelowTarget
        | Reason::HeldForUnsampledPods
        | Reason::Skipped => false,
    }
}

/// The message the decision reports its reason with: its condition's, or
/// else its Warning event's.
fn message_of(decision: &Decision) -> String {
    let reason = decision.reason;
    decision
        .conditions
        .iter()
        .find(|c| c.reason == reason)
        .map(|c| c.message.clone())
        .or_else(|| {
            decision
                .events
                .iter()
                .find(|e| e.reason == reason)
                .map(|e| e.message.clone())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod test {
    use super::*;

    fn fault(reason: Reason, message: &str) -> Decision {
        Decision::failed(reason, message, 3)
    }

    /// A healthy decision with `reason` as its summary, as `decide` makes one.
    fn healthy(reason: Reason) -> Decision {
        Decision {
            reason,
            ..Decision::failed(Reason::ValidMetricFound, "", 3)
        }
    }

    #[test]
    fn a_fault_warns_once_when_it_begins_changes_and_logs_info_when_it_clears() {
        use Notice::*;
        use Reason::*;
        let gone = "the target Deployment demo/web does not exist";
        // (decision, what is logged), in the order the reconciles happen.
        let steps: Vec<(Decision, Option<Notice>)> = vec![
            (healthy(WithinTolerance), None),
            (
                fault(FailedGetScale, gone),
                Some(Began {
                    reason: FailedGetScale,
                    message: gone.to_string(),
                }),
            ),
            // Persists, even with another message: nothing.
            (fault(FailedGetScale, gone), None),
            (fault(FailedGetScale, "timeout"), None),
            (
                fault(FailedGetResourceMetric, "prometheus: connection refused"),
                Some(Changed {
                    from: FailedGetScale,
                    to: FailedGetResourceMetric,
                    message: "prometheus: connection refused".to_string(),
                }),
            ),
            (
                healthy(AboveTarget),
                Some(Cleared {
                    was: FailedGetResourceMetric,
                    now: AboveTarget,
                }),
            ),
            (healthy(BelowTarget), None),
            (
                fault(InvalidSpec, "spec.maxReplicas: must be at least 1"),
                Some(Began {
                    reason: InvalidSpec,
                    message: "spec.maxReplicas: must be at least 1".to_string(),
                }),
            ),
        ];
        let mut alarm = Alarm::default();
        for (i, (decision, want)) in steps.iter().enumerate() {
            assert_eq!(&alarm.observe(decision), want, "step {i}: {decision:?}");
        }
    }

    #[test]
    fn the_first_reconcile_in_a_fault_warns() {
        let mut alarm = Alarm::default();
        let notice = alarm.observe(&fault(Reason::InvalidSelector, "no status.selector"));
        assert!(
            matches!(
                notice,
                Some(Notice::Began {
                    reason: Reason::InvalidSelector,
                    ..
                })
            ),
            "{notice:?}"
        );
    }

    #[test]
    fn faults_are_the_reasons_a_person_must_act_on() {
        for reason in [
            Reason::FailedGetScale,
            Reason::FailedUpdateScale,
            Reason::FailedGetResourceMetric,
            Reason::InvalidSelector,
            Reason::InvalidSpec,
            Reason::BaselineAboveTarget,
        ] {
            assert!(is_fault(reason), "{reason}");
        }
        for reason in [
            Reason::ScalingDisabled,
            Reason::TooManyReplicas,
            Reason::ScaleDownStabilized,
            Reason::HeldForUnsampledPods,
            Reason::Skipped,
        ] {
            assert!(!is_fault(reason), "{reason}");
        }
    }

    #[test]
    fn the_message_is_the_reason_s_condition_s_or_else_its_event_s() {
        let mut event_only = healthy(Reason::BaselineAboveTarget);
        event_only.events.retain(|_| false);
        event_only.events.push(crate::algorithm::EventOutcome {
            warning: true,
            reason: Reason::BaselineAboveTarget,
            message: "the pods' baseline is 90% of their limits".to_string(),
        });
        assert_eq!(
            message_of(&event_only),
            "the pods' baseline is 90% of their limits"
        );
        assert_eq!(
            message_of(&fault(Reason::InvalidSpec, "spec.target: missing")),
            "spec.target: missing"
        );
    }

    #[test]
    fn lines_name_the_object_and_the_reason_and_warn_or_inform() {
        let began = Notice::Began {
            reason: Reason::FailedGetScale,
            message: "gone\nnext line".to_string(),
        };
        assert_eq!(began.level(), log::Level::Warn);
        assert_eq!(
            began.line("demo/web"),
            "demo/web: cannot autoscale: FailedGetScale: \"gone\\nnext line\"",
            "one line, the message quoted"
        );
        let changed = Notice::Changed {
            from: Reason::FailedGetScale,
            to: Reason::InvalidSpec,
            message: "m".to_string(),
        };
        assert_eq!(changed.level(), log::Level::Warn);
        assert_eq!(
            changed.line("demo/web"),
            "demo/web: cannot autoscale: InvalidSpec (was FailedGetScale): \"m\""
        );
        let cleared = Notice::Cleared {
            was: Reason::InvalidSpec,
            now: Reason::WithinTolerance,
        };
        assert_eq!(cleared.level(), log::Level::Info);
        assert_eq!(
            cleared.line("demo/web"),
            "demo/web: autoscaling again: InvalidSpec cleared, now WithinTolerance"
        );
    }

    #[test]
    fn a_huge_message_is_cut() {
        let notice = Notice::Began {
            reason: Reason::FailedGetResourceMetric,
            message: "x".repeat(100_000),
        };
        let line = notice.line("demo/web");
        assert!(line.len() < MESSAGE_LIMIT + 200, "{} bytes", line.len());
        assert!(line.ends_with("(98976 more characters)"), "{line}");
    }
}
