//! The replica calculator: Kubernetes' `GetResourceReplicas` and `groupPods` for a
//! non-CPU resource, with the pods' memory limits (or requests) as denominator,
//! and a per-pod baseline.
//!
//! The model: a pod's usage is its baseline `b` plus its share of the load.
//! Over the `n` pods with samples, the load is `S = Σusage − n·b` and each
//! pod's room for load at the target is `h = target × Σlimit / n − b`; the
//! recommendation is `ceil(S / h)`. In percent of the limits that is the load
//! ratio `(u − β) / (target − β)` times `n`, with `u` the utilization and `β`
//! the baseline's share: with no baseline (`β = 0`) it is Kubernetes' usage
//! ratio `u / target`, bit for bit, and everything below reads as HPA's.
//!
//! Pure: pods in, a recommendation out. All arithmetic on bytes is integer (u128,
//! saturating), so hostile numbers cannot overflow or panic; only the ratio and
//! the final `ceil` are floating point, exactly as in Kubernetes.

use super::observe::{ContainerObservation, PodObservation, PodPhase};
use super::reason::Reason;
use crate::api::{Basis, MAX_BYTES};
use std::fmt;

/// A ratio within 10% of 1 is close enough: no change (Kubernetes' default
/// `--horizontal-pod-autoscaler-tolerance`).
pub const TOLERANCE: f64 = 0.1;

/// The calculator's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recommendation {
    pub replicas: i64,
    /// `floor(100 * Σusage / Σlimit)` over pods with samples, before adjustments.
    pub utilization: i64,
    /// Average working set per pod with a sample.
    pub average_bytes: u64,
    /// Average memory limit (or request) per pod with a sample.
    pub average_capacity_bytes: u64,
    pub verdict: Verdict,
}

/// Why the calculator answered as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The ratio is within tolerance: keep the current count.
    WithinTolerance,
    AboveTarget,
    BelowTarget,
    /// Counting missing or pending pods pessimistically erased or reversed the
    /// change, so the current count is kept.
    HeldForUnsampledPods,
    /// The baseline alone fills each pod to the target or beyond (`h ≤ 0`): no
    /// replica count can reach it, so the current count is kept.
    BaselineAboveTarget,
}

impl Verdict {
    /// The verdict as a decision's reason.
    pub fn reason(self) -> Reason {
        match self {
            Verdict::WithinTolerance => Reason::WithinTolerance,
            Verdict::AboveTarget => Reason::AboveTarget,
            Verdict::BelowTarget => Reason::BelowTarget,
            Verdict::HeldForUnsampledPods => Reason::HeldForUnsampledPods,
            Verdict::BaselineAboveTarget => Reason::BaselineAboveTarget,
        }
    }

    #[cfg(test)]
    pub fn as_str(self) -> &'static str {
        self.reason().as_str()
    }
}

/// Why no recommendation could be made (condition reason FailedGetResourceMetric).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalcError {
    /// The selector matched no pods at all.
    NoPods,
    /// A counted container has no memory limit (or request, under basis requests).
    NoCapacity {
        pod: String,
        container: String,
        basis: Basis,
    },
    /// A counted container's memory limit (or request) is beyond any physical
    /// memory. It cannot be counted, as if there were none, but is named as
    /// what it is: a typo such as `1e308`, not a missing field.
    CapacityBeyondMemory {
        pod: String,
        container: String,
        basis: Basis,
        /// Saturated at `u64::MAX` when the quantity does not fit.
        bytes: u64,
    },
    /// `spec.container` names a container this pod does not have.
    NoContainer { pod: String, container: String },
    /// No pod that counts has a sample.
    NoSamples,
    /// The pods with samples have limits (or requests) that sum to 0.
    ZeroCapacity { basis: Basis },
}

impl fmt::Display for CalcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CalcError::NoPods => write!(f, "no pods match the target's selector"),
            CalcError::NoCapacity {
                pod,
                container,
                basis,
            } => {
                write!(
                    f,
                    "pod {pod:?} container {container:?} has no memory {}",
                    basis.singular()
                )
            }
            CalcError::CapacityBeyondMemory {
                pod,
                container,
                basis,
                bytes,
            } => {
                // u64::MAX is a quantity too big to hold, such as 1e308.
                let size = if *bytes == u64::MAX {
                    "16 EiB or more".to_string()
                } else {
                    format!("{bytes} bytes")
                };
                write!(
                    f,
                    "pod {pod:?} container {container:?}: memory {} of {size} is beyond any physical memory (more than 1 PiB)",
                    basis.singular()
                )
            }
            CalcError::NoContainer { pod, container } => {
                write!(f, "pod {pod:?} has no container {container:?}")
            }
            CalcError::NoSamples => {
                write!(f, "no memory samples for any running pod of the target")
            }
            CalcError::ZeroCapacity { basis } => write!(
                f,
                "the memory {} of the sampled pods sum to 0",
                basis.as_str()
            ),
        }
    }
}

impl std::error::Error for CalcError {}

/// The calculator's settings, from the policy.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Percent, 1..=100.
    pub utilization: i64,
    pub basis: Basis,
    pub container: Option<&'a str>,
    /// Bytes each pod (or its counted container) holds whatever its load.
    pub baseline: u64,
}

/// Sums over one group of pods (sampled, missing or pending). The calculator
/// only ever adds pods up, so `copies` identical pods cost what one does; and
/// saturating addition of unsigned numbers is associative, so grouping the
/// terms this way gives exactly the sums of adding pod by pod.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    pods: u128,
    usage: u128,
    capacity: u128,
}

impl Sums {
    fn add(self, copies: u128, usage: u128, capacity: u128) -> Sums {
        Sums {
            pods: self.pods.saturating_add(copies),
            usage: self.usage.saturating_add(usage.saturating_mul(copies)),
            capacity: self
                .capacity
                .saturating_add(capacity.saturating_mul(copies)),
        }
    }

    fn plus(self, other: Sums) -> Sums {
        Sums {
            pods: self.pods.saturating_add(other.pods),
            usage: self.usage.saturating_add(other.usage),
            capacity: self.capacity.saturating_add(other.capacity),
        }
    }

    /// `floor(100 * usage / capacity)`, or `None` when the capacities sum to 0.
    fn utilization(self) -> Option<u128> {
        if self.capacity == 0 {
            return None;
        }
        Some(self.usage.saturating_mul(100) / self.capacity)
    }

    /// Whether each pod has room for load at the target once its baseline is
    /// held: `target × Σcapacity > 100 × pods × baseline`, in exact integers.
    fn has_room(self, target: Target) -> bool {
        let target_bytes = self
            .capacity
            .saturating_mul(u128::try_from(target.utilization).unwrap_or(0));
        let baseline_bytes = self
            .pods
            .saturating_mul(u128::from(target.baseline))
            .saturating_mul(100);
        target_bytes > baseline_bytes
    }

    /// The load ratio: the load `S` over the room `n·h`, computed from the
    /// whole-percent `utilization` as Kubernetes computes its usage ratio. The
    /// baseline's share `β` is exactly 0.0 without a baseline, so the result
    /// is then `utilization / target` to the bit. A load below 0 (pods holding
    /// less than the baseline) is no load. Requires `has_room` (so the
    /// capacity is not 0 and the room is positive).
    fn load_ratio(self, utilization: i64, target: Target) -> f64 {
        let beta = self
            .pods
            .saturating_mul(u128::from(target.baseline))
            .saturating_mul(100) as f64
            / self.capacity as f64;
        ((utilization as f64 - beta) / (target.utilization as f64 - beta)).max(0.0)
    }
}

/// The pods as `groupPods` sorts them.
#[derive(Debug, Clone, Copy, Default)]
struct Groups {
    sampled: Sums,
    missing: Sums,
    pending: Sums,
}

/// Recommends a replica count for `current` replicas (the Scale's spec.replicas)
/// from `pods`, each standing for `copies` identical pods (1 for the
/// controller; the simulator's even split passes one pod and the replica count).
pub fn recommend(
    pods: &[PodObservation],
    copies: u64,
    current: i64,
    target: Target,
) -> Result<Recommendation, CalcError> {
    if pods.is_empty() || copies == 0 {
        return Err(CalcError::NoPods);
    }
    let Groups {
        sampled,
        missing,
        pending,
    } = group(pods, u128::from(copies), target)?;
    if sampled.pods == 0 {
        return Err(CalcError::NoSamples);
    }
    let utilization = sampled.utilization().ok_or(CalcError::ZeroCapacity {
        basis: target.basis,
    })?;
    let average_bytes = u64::try_from(sampled.usage / sampled.pods).unwrap_or(u64::MAX);
    let average_capacity_bytes = u64::try_from(sampled.capacity / sampled.pods).unwrap_or(u64::MAX);
    let utilization = i64::try_from(utilization).unwrap_or(i64::MAX);
    let answer = |replicas, verdict| Recommendation {
        replicas,
        utilization,
        average_bytes,
        average_capacity_bytes,
        verdict,
    };
    // Adding pods adds room only while a pod has room left once its baseline
    // is held; with none, every count is equally far from the target.
    if !sampled.has_room(target) {
        return Ok(answer(current, Verdict::BaselineAboveTarget));
    }
    let ratio = sampled.load_ratio(utilization, target);

    // The tolerance, the unsampled-pod adjustments and the no-flip rules all
    // apply to the load ratio, which is the recommended count over the
    // sampled count: a change of under 10% of the pods is not worth making.

    // Pending pods only matter on a scale-up: they will soon carry load, so
    // counting them as idle damps the scale-up.
    let scale_up_with_pending = pending.pods > 0 && ratio > 1.0;
    if !scale_up_with_pending && missing.pods == 0 {
        if (1.0 - ratio).abs() <= TOLERANCE {
            return Ok(answer(current, Verdict::WithinTolerance));
        }
        let replicas = ceil_to_i64(ratio * sampled.pods as f64);
        return Ok(answer(replicas, direction(ratio)));
    }

    // An idle pod holds its baseline and no load; a busy one all its limit.
    let idle = |group: Sums| Sums {
        usage: group.pods.saturating_mul(u128::from(target.baseline)),
        ..group
    };
    let mut adjusted = sampled;
    if ratio < 1.0 {
        // On a scale-down, assume a missing pod is at 100% of its limit (its
        // baseline plus as much load as it can hold), so a blind spot never
        // shrinks the target.
        adjusted = adjusted.plus(Sums {
            usage: missing.capacity,
            ..missing
        });
    } else if ratio > 1.0 {
        // On a scale-up, assume it is idle, so a blind spot never inflates it.
        adjusted = adjusted.plus(idle(missing));
    }
    if scale_up_with_pending {
        adjusted = adjusted.plus(idle(pending));
    }
    let new_utilization = utilization_of(adjusted, target.basis)?;
    // Unsampled pods with smaller limits can leave no room where the sampled
    // ones had some: nothing can be said for sure, so hold.
    if !adjusted.has_room(target) {
        return Ok(answer(current, Verdict::HeldForUnsampledPods));
    }
    let new_ratio = adjusted.load_ratio(new_utilization, target);
    let flipped = (ratio < 1.0 && new_ratio > 1.0) || (ratio > 1.0 && new_ratio < 1.0);
    if (1.0 - new_ratio).abs() <= TOLERANCE || flipped {
        return Ok(answer(current, Verdict::HeldForUnsampledPods));
    }
    let replicas = ceil_to_i64(new_ratio * adjusted.pods as f64);
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return Ok(answer(current, Verdict::HeldForUnsampledPods));
    }
    Ok(answer(replicas, direction(new_ratio)))
}

fn direction(ratio: f64) -> Verdict {
    if ratio > 1.0 {
        Verdict::AboveTarget
    } else {
        Verdict::BelowTarget
    }
}

/// Sorts pods as `groupPods` does: deleted and terminal pods are dropped,
/// Pending pods are kept aside, everything else either has a sample or is
/// missing. Readiness is not consulted: a NotReady pod still holds its memory.
fn group(pods: &[PodObservation], copies: u128, target: Target) -> Result<Groups, CalcError> {
    let mut groups = Groups::default();
    for pod in pods {
        if pod.deleted || matches!(pod.phase, PodPhase::Succeeded | PodPhase::Failed) {
            continue;
        }
        let containers = counted_containers(pod, target.container)?;
        let mut capacity = 0u128;
        let mut usage = Some(0u128);
        for c in containers {
            let cap = c
                .capacity(target.basis)
                .ok_or_else(|| CalcError::NoCapacity {
                    pod: pod.name.clone(),
                    container: c.name.clone(),
                    basis: target.basis,
                })?;
            if cap > MAX_BYTES {
                return Err(CalcError::CapacityBeyondMemory {
                    pod: pod.name.clone(),
                    container: c.name.clone(),
                    basis: target.basis,
                    bytes: cap,
                });
            }
            capacity = capacity.saturating_add(u128::from(cap));
            // A pod lacking any counted container's sample is missing, not
            // under-counted, as the metrics API reports it.
            usage = match (usage, sample(c)) {
                (Some(total), Some(u)) => Some(total.saturating_add(u)),
                _ => None,
            };
        }
        let slot = match (pod.phase == PodPhase::Pending, usage) {
            (true, _) => &mut groups.pending,
            (false, Some(_)) => &mut groups.sampled,
            (false, None) => &mut groups.missing,
        };
        *slot = slot.add(copies, usage.unwrap_or(0), capacity);
    }
    Ok(groups)
}

fn counted_containers<'p>(
    pod: &'p PodObservation,
    only: Option<&str>,
) -> Result<Vec<&'p ContainerObservation>, CalcError> {
    let Some(name) = only else {
        return Ok(pod.containers.iter().collect());
    };
    let found: Vec<_> = pod.containers.iter().filter(|c| c.name == name).collect();
    if found.is_empty() {
        return Err(CalcError::NoContainer {
            pod: pod.name.clone(),
            container: name.to_string(),
        });
    }
    Ok(found)
}

/// A usable sample is a byte count (finite, not negative, at most 1 PiB).
/// Anything else means "no sample": `1e308` would peg the utilization.
fn sample(c: &ContainerObservation) -> Option<u128> {
    match c.usage_bytes {
        Some(u) if crate::api::is_byte_count(u) => Some(u.round() as u128),
        _ => None,
    }
}

fn utilization_of(sums: Sums, basis: Basis) -> Result<i64, CalcError> {
    let u = sums
        .utilization()
        .ok_or(CalcError::ZeroCapacity { basis })?;
    Ok(i64::try_from(u).unwrap_or(i64::MAX))
}

/// `ceil`, saturating into i64 (a float-to-int `as` saturates and maps NaN to 0).
fn ceil_to_i64(x: f64) -> i64 {
    x.ceil() as i64
}

#[cfg(test)]
mod test {
    use super::*;

    fn pod(phase: PodPhase, usage: Option<f64>, limit: Option<u64>) -> PodObservation {
        PodObservation {
            name: format!("{phase:?}-{usage:?}"),
            phase,
            deleted: false,
            containers: vec![ContainerObservation {
                name: "app".into(),
                usage_bytes: usage,
                limit_bytes: limit,
                request_bytes: None,
            }],
        }
    }

    /// Each pod standing for `copies` recommends as the list of every copy,
    /// whatever the mix of sampled, missing, pending, gone and broken pods.
    #[test]
    fn copies_recommend_as_the_repeated_list() {
        use PodPhase::*;
        let run = |u| pod(Running, Some(u), Some(1000));
        let missing = pod(Running, None, Some(1000));
        let pending = pod(Pending, None, Some(1000));
        let mut gone = run(999.0);
        gone.deleted = true;
        let mixes = [
            vec![run(900.0)],
            vec![run(100.0), missing.clone()],
            vec![run(900.0), pending.clone()],
            vec![
                run(500.0),
                missing.clone(),
                pending,
                gone,
                pod(Failed, Some(1.0), Some(1)),
            ],
            vec![missing],
            vec![run(0.4), run(0.6)],
            vec![run(900.0), pod(Running, Some(1.0), None)],
        ];
        let mut seen = std::collections::BTreeSet::new();
        for pods in &mixes {
            for copies in [1u64, 2, 3, 7, 50] {
                let repeated: Vec<_> = (0..copies).flat_map(|_| pods.iter().cloned()).collect();
                let targets = [(30, 1, 0), (50, 4, 0), (70, 10, 0), (100, 3, 0)]
                    .into_iter()
                    .chain([(80, 3, 300), (70, 4, 600), (50, 2, 500), (90, 10, 850)]);
                for (utilization, current, baseline) in targets {
                    let target = Target {
                        utilization,
                        basis: Basis::Limits,
                        container: None,
                        baseline,
                    };
                    let answer = recommend(pods, copies, current, target);
                    assert_eq!(
                        answer,
                        recommend(&repeated, 1, current, target),
                        "{copies} copies of {pods:?} at {utilization}% (baseline {baseline}) from {current}"
                    );
                    seen.insert(match answer {
                        Ok(r) => r.verdict.as_str().to_string(),
                        Err(e) => format!("{e:?}")
                            .split([' ', '{'])
                            .next()
                            .unwrap_or("")
                            .into(),
                    });
                }
            }
        }
        // The mixes reach every verdict and the errors a pod list can cause.
        let want = [
            "AboveTarget",
            "BaselineAboveTarget",
            "BelowTarget",
            "HeldForUnsampledPods",
            "NoCapacity",
            "NoSamples",
            "WithinTolerance",
        ];
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), want);
    }
}
