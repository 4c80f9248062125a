//! The replica calculator: Kubernetes' `GetResourceReplicas` and `groupPods` for a
//! non-CPU resource, with the pods' memory limits (or requests) as denominator.
//!
//! Pure: pods in, a recommendation out. All arithmetic on bytes is integer (u128,
//! saturating), so hostile numbers cannot overflow or panic; only the ratio and
//! the final `ceil` are floating point, exactly as in Kubernetes.

use super::observe::{ContainerObservation, PodObservation, PodPhase};
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
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::WithinTolerance => "WithinTolerance",
            Verdict::AboveTarget => "AboveTarget",
            Verdict::BelowTarget => "BelowTarget",
            Verdict::HeldForUnsampledPods => "HeldForUnsampledPods",
        }
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
                    singular(*basis)
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
                    singular(*basis)
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

fn singular(basis: Basis) -> &'static str {
    match basis {
        Basis::Limits => "limit",
        Basis::Requests => "request",
    }
}

/// The calculator's settings, from the policy.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Percent, 1..=100.
    pub utilization: i64,
    pub basis: Basis,
    pub container: Option<&'a str>,
}

/// One pod as the calculator counts it.
#[derive(Debug, Clone, Copy)]
struct Counted {
    usage: Option<u128>,
    capacity: u128,
    pending: bool,
}

/// Recommends a replica count for `current` replicas (the Scale's spec.replicas).
pub fn recommend(
    pods: &[PodObservation],
    current: i64,
    target: Target,
) -> Result<Recommendation, CalcError> {
    if pods.is_empty() {
        return Err(CalcError::NoPods);
    }
    let counted = group(pods, target)?;
    let sampled: Vec<(u128, u128)> = counted
        .iter()
        .filter(|c| !c.pending)
        .filter_map(|c| c.usage.map(|u| (u, c.capacity)))
        .collect();
    if sampled.is_empty() {
        return Err(CalcError::NoSamples);
    }
    let utilization = utilization(&sampled).ok_or(CalcError::ZeroCapacity {
        basis: target.basis,
    })?;
    let ratio = utilization as f64 / target.utilization as f64;
    let usage_total = sampled
        .iter()
        .fold(0u128, |acc, (u, _)| acc.saturating_add(*u));
    let average_bytes = u64::try_from(usage_total / sampled.len() as u128).unwrap_or(u64::MAX);
    let utilization = i64::try_from(utilization).unwrap_or(i64::MAX);
    let answer = |replicas, verdict| Recommendation {
        replicas,
        utilization,
        average_bytes,
        verdict,
    };

    let missing: Vec<u128> = counted
        .iter()
        .filter(|c| !c.pending && c.usage.is_none())
        .map(|c| c.capacity)
        .collect();
    let pending: Vec<u128> = counted
        .iter()
        .filter(|c| c.pending)
        .map(|c| c.capacity)
        .collect();
    // Pending pods only matter on a scale-up: they will soon carry load, so
    // counting them as idle damps the scale-up.
    let scale_up_with_pending = !pending.is_empty() && ratio > 1.0;
    if !scale_up_with_pending && missing.is_empty() {
        if (1.0 - ratio).abs() <= TOLERANCE {
            return Ok(answer(current, Verdict::WithinTolerance));
        }
        let replicas = ceil_to_i64(ratio * sampled.len() as f64);
        return Ok(answer(replicas, direction(ratio)));
    }

    let mut adjusted = sampled.clone();
    if ratio < 1.0 {
        // On a scale-down, assume a missing pod is at 100% of its limit, so a
        // blind spot never shrinks the target.
        adjusted.extend(missing.iter().map(|&cap| (cap, cap)));
    } else if ratio > 1.0 {
        // On a scale-up, assume it is idle, so a blind spot never inflates it.
        adjusted.extend(missing.iter().map(|&cap| (0, cap)));
    }
    if scale_up_with_pending {
        adjusted.extend(pending.iter().map(|&cap| (0, cap)));
    }
    let new_utilization = utilization_of(&adjusted, target.basis)?;
    let new_ratio = new_utilization as f64 / target.utilization as f64;
    let flipped = (ratio < 1.0 && new_ratio > 1.0) || (ratio > 1.0 && new_ratio < 1.0);
    if (1.0 - new_ratio).abs() <= TOLERANCE || flipped {
        return Ok(answer(current, Verdict::HeldForUnsampledPods));
    }
    let replicas = ceil_to_i64(new_ratio * adjusted.len() as f64);
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
fn group(pods: &[PodObservation], target: Target) -> Result<Vec<Counted>, CalcError> {
    let mut out = Vec::with_capacity(pods.len());
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
        out.push(Counted {
            usage,
            capacity,
            pending: pod.phase == PodPhase::Pending,
        });
    }
    Ok(out)
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

/// `floor(100 * Σusage / Σcapacity)`, or `None` when the capacities sum to 0.
fn utilization(pods: &[(u128, u128)]) -> Option<u128> {
    let (usage, capacity) = pods.iter().fold((0u128, 0u128), |(u, c), (pu, pc)| {
        (u.saturating_add(*pu), c.saturating_add(*pc))
    });
    if capacity == 0 {
        return None;
    }
    Some(usage.saturating_mul(100) / capacity)
}

fn utilization_of(pods: &[(u128, u128)], basis: Basis) -> Result<i64, CalcError> {
    let u = utilization(pods).ok_or(CalcError::ZeroCapacity { basis })?;
    Ok(i64::try_from(u).unwrap_or(i64::MAX))
}

/// `ceil`, saturating into i64 (a float-to-int `as` saturates and maps NaN to 0).
fn ceil_to_i64(x: f64) -> i64 {
    x.ceil() as i64
}
