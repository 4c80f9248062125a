//! The words a decision is reported in: status condition types and the reason
//! tokens of conditions, events and reconcile reports. Each wire string is
//! spelled here once, so a typo cannot make a condition that no type owns.

/// A MemHpa status condition type, ordered as the status lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConditionType {
    AbleToScale,
    ScalingActive,
    ScalingLimited,
}

impl ConditionType {
    pub const ALL: [ConditionType; 3] = [
        ConditionType::AbleToScale,
        ConditionType::ScalingActive,
        ConditionType::ScalingLimited,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConditionType::AbleToScale => "AbleToScale",
            ConditionType::ScalingActive => "ScalingActive",
            ConditionType::ScalingLimited => "ScalingLimited",
        }
    }

    /// The type a status read back from the API server names; `None` for a
    /// type this controller does not set (another writer's, kept as is).
    pub fn parse(s: &str) -> Option<ConditionType> {
        ConditionType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl std::fmt::Display for ConditionType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why: a condition reason, an event reason, or the calculator's verdict as
/// a decision's one-token summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    // AbleToScale
    SucceededGetScale,
    /// Kubernetes' at-rest reason: the recommendation is not held back by a
    /// stabilization window and the count stays as it is.
    ReadyForNewScale,
    FailedGetScale,
    SucceededRescale,
    FailedUpdateScale,
    ScaleUpStabilized,
    ScaleDownStabilized,
    // ScalingActive
    ValidMetricFound,
    FailedGetResourceMetric,
    InvalidSelector,
    InvalidSpec,
    ScalingDisabled,
    // ScalingLimited
    DesiredWithinRange,
    ScaleUpLimit,
    ScaleDownLimit,
    TooManyReplicas,
    TooFewReplicas,
    /// The pods' baseline alone reaches the target: no count can reach it.
    BaselineAboveTarget,
    // Events only
    SuccessfulRescale,
    FailedRescale,
    DryRunRescale,
    // The calculator's verdicts, as a decision's summary only
    WithinTolerance,
    AboveTarget,
    BelowTarget,
    HeldForUnsampledPods,
    /// A reconcile that decided nothing: a follower, a deleted MemHpa, an
    /// object without identity, or leadership lost before a write.
    Skipped,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SucceededGetScale => "SucceededGetScale",
            Reason::ReadyForNewScale => "ReadyForNewScale",
            Reason::FailedGetScale => "FailedGetScale",
            Reason::SucceededRescale => "SucceededRescale",
            Reason::FailedUpdateScale => "FailedUpdateScale",
            Reason::ScaleUpStabilized => "ScaleUpStabilized",
            Reason::ScaleDownStabilized => "ScaleDownStabilized",
            Reason::ValidMetricFound => "ValidMetricFound",
            Reason::FailedGetResourceMetric => "FailedGetResourceMetric",
            Reason::InvalidSelector => "InvalidSelector",
            Reason::InvalidSpec => "InvalidSpec",
            Reason::ScalingDisabled => "ScalingDisabled",
            Reason::DesiredWithinRange => "DesiredWithinRange",
            Reason::ScaleUpLimit => "ScaleUpLimit",
            Reason::ScaleDownLimit => "ScaleDownLimit",
            Reason::TooManyReplicas => "TooManyReplicas",
            Reason::TooFewReplicas => "TooFewReplicas",
            Reason::BaselineAboveTarget => "BaselineAboveTarget",
            Reason::SuccessfulRescale => "SuccessfulRescale",
            Reason::FailedRescale => "FailedRescale",
            Reason::DryRunRescale => "DryRunRescale",
            Reason::WithinTolerance => "WithinTolerance",
            Reason::AboveTarget => "AboveTarget",
            Reason::BelowTarget => "BelowTarget",
            Reason::HeldForUnsampledPods => "HeldForUnsampledPods",
            Reason::Skipped => "Skipped",
        }
    }

    /// The condition this reason is a reason of; `None` for a reason that
    /// only an event or a report carries.
    pub fn condition_type(self) -> Option<ConditionType> {
        use ConditionType::*;
        match self {
            Reason::SucceededGetScale
            | Reason::ReadyForNewScale
            | Reason::FailedGetScale
            | Reason::SucceededRescale
            | Reason::FailedUpdateScale
            | Reason::ScaleUpStabilized
            | Reason::ScaleDownStabilized => Some(AbleToScale),
            Reason::ValidMetricFound
            | Reason::FailedGetResourceMetric
            | Reason::InvalidSelector
            | Reason::InvalidSpec
            | Reason::ScalingDisabled => Some(ScalingActive),
            Reason::DesiredWithinRange
            | Reason::ScaleUpLimit
            | Reason::ScaleDownLimit
            | Reason::TooManyReplicas
            | Reason::TooFewReplicas
            | Reason::BaselineAboveTarget => Some(ScalingLimited),
            Reason::SuccessfulRescale
            | Reason::FailedRescale
            | Reason::DryRunRescale
            | Reason::WithinTolerance
            | Reason::AboveTarget
            | Reason::BelowTarget
            | Reason::HeldForUnsampledPods
            | Reason::Skipped => None,
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// Every reason, so the tests below see a variant added later.
    const ALL: [Reason; 26] = [
        Reason::SucceededGetScale,
        Reason::ReadyForNewScale,
        Reason::FailedGetScale,
        Reason::SucceededRescale,
        Reason::FailedUpdateScale,
        Reason::ScaleUpStabilized,
        Reason::ScaleDownStabilized,
        Reason::ValidMetricFound,
        Reason::FailedGetResourceMetric,
        Reason::InvalidSelector,
        Reason::InvalidSpec,
        Reason::ScalingDisabled,
        Reason::DesiredWithinRange,
        Reason::ScaleUpLimit,
        Reason::ScaleDownLimit,
        Reason::TooManyReplicas,
        Reason::TooFewReplicas,
        Reason::BaselineAboveTarget,
        Reason::SuccessfulRescale,
        Reason::FailedRescale,
        Reason::DryRunRescale,
        Reason::WithinTolerance,
        Reason::AboveTarget,
        Reason::BelowTarget,
        Reason::HeldForUnsampledPods,
        Reason::Skipped,
    ];

    #[test]
    fn each_reason_spells_its_own_name() {
        // The wire string is the variant's name, as Kubernetes spells its
        // reasons (CamelCase, no spaces), and no two reasons share one.
        let mut seen = std::collections::BTreeSet::new();
        for r in ALL {
            assert_eq!(r.as_str(), format!("{r:?}"));
            assert!(seen.insert(r.as_str()), "{r:?} twice");
        }
    }

    #[test]
    fn scale_reasons_belong_to_able_to_scale() {
        // Kubernetes' horizontal.go sets these on AbleToScale.
        for r in [
            Reason::ReadyForNewScale,
            Reason::FailedGetScale,
            Reason::FailedUpdateScale,
            Reason::SucceededRescale,
        ] {
            assert_eq!(r.condition_type(), Some(ConditionType::AbleToScale));
        }
        assert_eq!(
            Reason::InvalidSelector.condition_type(),
            Some(ConditionType::ScalingActive)
        );
        for r in [Reason::TooFewReplicas, Reason::BaselineAboveTarget] {
            assert_eq!(r.condition_type(), Some(ConditionType::ScalingLimited));
        }
        assert_eq!(Reason::DryRunRescale.condition_type(), None);
    }

    #[test]
    fn condition_types_order_and_parse() {
        let mut sorted = ConditionType::ALL;
        sorted.sort();
        assert_eq!(sorted, ConditionType::ALL);
        for t in ConditionType::ALL {
            assert_eq!(ConditionType::parse(t.as_str()), Some(t));
            assert_eq!(t.as_str(), format!("{t:?}"));
        }
        assert_eq!(ConditionType::parse("Ready"), None);
        assert_eq!(ConditionType::parse("abletoscale"), None);
    }
}
