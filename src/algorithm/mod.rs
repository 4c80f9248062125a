//! The pure decision core: no I/O and no clock (time comes in as Unix seconds).
//!
//! - [`Policy::from_spec`] validates a MemHpa spec and applies the defaults;
//! - [`PodObservation::from_pod`] and [`Observation`] describe what was seen;
//! - [`decide`] turns both, plus the MemHpa's [`History`], into a [`Decision`]
//!   that says which Scale write it wants;
//! - [`Decision::settle`] records what came of that write ([`WriteOutcome`]);
//! - [`History::apply`] records the decision's outcome for the next one.
//!
//! Conditions and reasons are [`ConditionType`] and [`Reason`]: their wire
//! strings are spelled once, in `reason.rs`.
//!
//! The calculator is Kubernetes' `GetResourceReplicas` for a non-CPU resource,
//! with pod memory limits (or requests) as denominator and an optional per-pod
//! baseline (`spec.podBaseline`) taken out of the load; the behavior is
//! autoscaling/v2's. See README "The algorithm".

mod behavior;
mod decide;
mod history;
mod observe;
mod policy;
mod reason;
mod replicas;
#[cfg(test)]
mod table_test;
mod trace;

pub use behavior::Limit;
pub use decide::{
    decide, decide_copies, ConditionOutcome, Decision, EventOutcome, Rescale, WriteOutcome,
};
pub use history::{History, Sample, ScaleEvent};
pub use observe::{ContainerObservation, Observation, PodObservation, PodPhase};
pub use policy::{
    default_scale_down, default_scale_up, Policy, RateKind, RatePolicy, Rules, Select, SpecError,
    TargetRef,
};
pub use reason::{ConditionType, Reason};
pub use replicas::{CalcError, Recommendation, Verdict, TOLERANCE};
pub use trace::{LimitStep, NamedPod, PodCounts, Trace, Window, MAX_NAMED};
