//! `memhpa explain [FILE|-]`: why a MemHpa scaled or did not, in plain words,
//! from its `status.lastDecision` and conditions.
//!
//! It reads the object as JSON (`kubectl get mhpa web -o json | memhpa
//! explain`), so it works with any kubeconfig and any auth, and talks to no
//! server itself. The first line is the answer; the lines after it are the
//! figures it rests on.

use crate::algorithm::{ConditionType, Reason, TOLERANCE};
use crate::api::{Condition, LastDecision, MemHpa, MemHpaStatus, KIND};
use std::fmt;
use std::io::{Read, Write};
use std::path::Path;

/// The most input read: a MemHpa is a few KiB, so more is not one.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;

/// How much of a bad input or message is quoted.
const QUOTE_LIMIT: usize = 120;

#[derive(Debug)]
pub enum ExplainError {
    /// The file (or stdin) could not be read.
    Read {
        what: String,
        error: std::io::Error,
    },
    /// More than [`MAX_INPUT_BYTES`].
    TooBig {
        what: String,
    },
    /// Not JSON, or not an object of kind MemHpa.
    Input {
        what: String,
        message: String,
    },
    /// A MemHpa that no controller has decided on yet.
    NoStatus {
        name: String,
    },
    Write(std::io::Error),
}

impl ExplainError {
    /// 2 for bad input, 1 for an I/O failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            ExplainError::TooBig { .. }
            | ExplainError::Input { .. }
            | ExplainError::NoStatus { .. } => 2,
            ExplainError::Read { .. } | ExplainError::Write(_) => 1,
        }
    }
}

impl fmt::Display for ExplainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExplainError::Read { what, error } => write!(f, "explain: cannot read {what}: {error}"),
            ExplainError::TooBig { what } => write!(
                f,
                "explain: {what}: larger than {MAX_INPUT_BYTES} bytes (64 MiB); a MemHpa is a few KiB"
            ),
            ExplainError::Input { what, message } => write!(f, "explain: {what}: {message}"),
            ExplainError::NoStatus { name } => write!(
                f,
                "explain: MemHpa {name} has no status yet: no controller has decided on it (is memhpa running, and leading?)"
            ),
            ExplainError::Write(e) => write!(f, "explain: cannot write output: {e}"),
        }
    }
}

impl std::error::Error for ExplainError {}

/// Reads the MemHpa from `path` (`None` or `-` is stdin) and writes the
/// explanation to `out`.
pub fn run(path: Option<&Path>, out: &mut impl Write) -> Result<(), ExplainError> {
    let (what, bytes) = match path.filter(|p| p.as_os_str() != "-") {
        None => (
            "stdin".to_string(),
            read_bounded(std::io::stdin().lock(), "stdin")?,
        ),
        Some(p) => {
            let what = p.display().to_string();
            let file = std::fs::File::open(p).map_err(|error| ExplainError::Read {
                what: what.clone(),
                error,
            })?;
            let bytes = read_bounded(file, &what)?;
            (what, bytes)
        }
    };
    let hpa = parse(&bytes, &what)?;
    let text = explain(&hpa)?;
    out.write_all(text.as_bytes()).map_err(ExplainError::Write)
}

/// At most [`MAX_INPUT_BYTES`] of `input`; more is an error, not a cut.
pub fn read_bounded(input: impl Read, what: &str) -> Result<Vec<u8>, ExplainError> {
    let mut bytes = Vec::new();
    input
        .take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| ExplainError::Read {
            what: what.to_string(),
            error,
        })?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(ExplainError::TooBig {
            what: what.to_string(),
        });
    }
    Ok(bytes)
}

/// The MemHpa in `bytes`: JSON, an object, of kind MemHpa.
pub fn parse(bytes: &[u8], what: &str) -> Result<MemHpa, ExplainError> {
    let input = |message: String| ExplainError::Input {
        what: what.to_string(),
        message,
    };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        input(format!(
            "not JSON ({e}); it starts {} (try kubectl get mhpa NAME -o json)",
            crate::quote::excerpt(bytes, QUOTE_LIMIT / 4)
        ))
    })?;
    let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    if kind != KIND {
        let shown = match value.get("kind") {
            None => "none".to_string(),
            Some(serde_json::Value::String(k)) => crate::quote::quote(k, QUOTE_LIMIT),
            Some(k) => crate::quote::quote(&k.to_string(), QUOTE_LIMIT),
        };
        return Err(input(format!(
            "not a MemHpa: kind is {shown} (a list? name one object: kubectl get mhpa NAME -o json)"
        )));
    }
    serde_json::from_value(value).map_err(|e| input(format!("not a MemHpa: {e}")))
}

/// The explanation of `hpa`: the answer, then the figures.
pub fn explain(hpa: &MemHpa) -> Result<String, ExplainError> {
    let name = match (&hpa.metadata.namespace, &hpa.metadata.name) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (None, Some(n)) => n.clone(),
        _ => "(unnamed)".to_string(),
    };
    let status = hpa.status.as_ref().ok_or(ExplainError::NoStatus {
        name: crate::quote::quote(&name, QUOTE_LIMIT),
    })?;
    let empty = LastDecision::default();
    let d = status.last_decision.as_ref().unwrap_or(&empty);
    let mut text = format!("{name}: {}\n", headline(status, d));
    for line in details(status, d) {
        text.push_str("  ");
        text.push_str(&line);
        text.push('\n');
    }
    Ok(text)
}

/// The decision's reason: lastDecision's, or else what the conditions say
/// (a status written before lastDecision existed).
fn reason_of(status: &MemHpaStatus, d: &LastDecision) -> String {
    if let Some(r) = &d.reason {
        return r.clone();
    }
    let cond = |t: &str| status.conditions.iter().find(|c| c.type_ == t);
    let limited = cond(ConditionType::ScalingLimited.as_str()).filter(|c| c.status == "True");
    let inactive = cond(ConditionType::ScalingActive.as_str()).filter(|c| c.status == "False");
    let able = cond(ConditionType::AbleToScale.as_str());
    limited
        .or(inactive)
        .or(able)
        .and_then(|c| c.reason.clone())
        .unwrap_or_default()
}

fn condition<'s>(status: &'s MemHpaStatus, type_: &str) -> Option<&'s Condition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

/// The message of the condition the reason sits on, quoted, or "".
fn message_for(status: &MemHpaStatus, reason: &str) -> String {
    status
        .conditions
        .iter()
        .find(|c| c.reason.as_deref() == Some(reason))
        .and_then(|c| c.message.as_deref())
        .map(|m| format!(": {}", crate::quote::quote(m, QUOTE_LIMIT * 2)))
        .unwrap_or_default()
}

/// The one-line answer.
fn headline(status: &MemHpaStatus, d: &LastDecision) -> String {
    let reason = reason_of(status, d);
    let current = d.current.or(status.current_replicas);
    let result = d.result.or(status.desired_replicas).or(current);
    let at = |n: Option<i64>| n.map_or("?".to_string(), |n| n.to_string());
    let held = format!("held at {}", at(current));
    let is = |r: Reason| reason == r.as_str();
    let target = d.target.map_or("the".to_string(), |t| format!("the {t}%"));
    let basis = basis_word(d);
    if is(Reason::WithinTolerance) {
        return within_tolerance(d, &held, &target);
    }
    if is(Reason::AboveTarget) || is(Reason::BelowTarget) {
        let up = is(Reason::AboveTarget);
        let side = if up { "above" } else { "below" };
        let utilization = d.utilization.map_or(String::new(), |u| {
            format!(": each pod at {u}% of its {basis}, {side} {target} target")
        });
        return if result == current {
            format!("{held}{utilization}")
        } else {
            let verb = if up { "scaled up" } else { "scaled down" };
            format!("{verb} from {} to {}{utilization}", at(current), at(result))
        };
    }
    if is(Reason::ScaleUpStabilized) || is(Reason::ScaleDownStabilized) {
        return stabilized(d, is(Reason::ScaleUpStabilized), &held);
    }
    if is(Reason::ScaleUpLimit) || is(Reason::ScaleDownLimit) {
        let dir = if is(Reason::ScaleUpLimit) {
            "scale-up"
        } else {
            "scale-down"
        };
        let policy = d
            .limit
            .as_ref()
            .and_then(|l| l.policy.clone())
            .map_or("its rate policies".to_string(), |p| {
                format!("the rate policy {p}")
            });
        return format!(
            "{dir} from {} limited to {} by {policy}: the recommendation was {}",
            at(current),
            at(result),
            at(d.limit.as_ref().map(|l| l.from).or(d.recommendation))
        );
    }
    if is(Reason::TooManyReplicas) || is(Reason::TooFewReplicas) {
        let bound = if is(Reason::TooManyReplicas) {
            "maxReplicas"
        } else {
            "minReplicas"
        };
        // A limit after stabilization only applies to a change, so a limit
        // from the current count is the out-of-range correction.
        let from = d.limit.as_ref().map(|l| l.from);
        return if from.is_some() && from == current {
            format!(
                "{} is outside the bounds: brought to {bound} {}",
                at(current),
                at(result)
            )
        } else {
            format!(
                "clamped to {bound} {}: the recommendation was {}",
                at(result),
                at(from.or(d.recommendation))
            )
        };
    }
    if is(Reason::HeldForUnsampledPods) {
        let p = d.pods.clone().unwrap_or_default();
        return format!(
            "{held}: counting the {} missing and {} Pending pods at their worst undid the change (the pods with samples alone point the other way)",
            p.missing, p.pending
        );
    }
    if is(Reason::BaselineAboveTarget) {
        return baseline_above_target(d, &held, &target, status);
    }
    if is(Reason::ReadyForNewScale) {
        return format!("{held}: the recommended size matches the current size");
    }
    if is(Reason::FailedGetResourceMetric) {
        return format!("{held}: no memory metrics{}", message_for(status, &reason));
    }
    if is(Reason::InvalidSpec) || is(Reason::InvalidSelector) {
        return format!(
            "{held}: the spec is invalid, fix it and memhpa resumes{}",
            message_for(status, &reason)
        );
    }
    if is(Reason::FailedGetScale) {
        return format!(
            "not scaling: the target (or its Scale) cannot be read{}",
            message_for(status, &reason)
        );
    }
    if is(Reason::ScalingDisabled) {
        return "not scaling: the target is at 0 replicas, which disables autoscaling until it is scaled up by hand".to_string();
    }
    if is(Reason::FailedUpdateScale) {
        return format!(
            "held at {}: the Scale write failed{}",
            at(current),
            message_for(status, &reason)
        );
    }
    if reason.is_empty() {
        return "no decision recorded yet: the status has neither lastDecision nor conditions"
            .to_string();
    }
    format!(
        "{held}: reason {}{}",
        crate::quote::quote(&reason, QUOTE_LIMIT),
        message_for(status, &reason)
    )
}

fn basis_word(d: &LastDecision) -> &'static str {
    match d.basis.as_deref() {
        Some("requests") => "request",
        _ => "limit",
    }
}

/// Within tolerance: says what one step either way would do, which is the
/// operator's real question ("why not one fewer?").
fn within_tolerance(d: &LastDecision, held: &str, target: &str) -> String {
    let basis = basis_word(d);
    let (Some(current), Some(t)) = (d.current, d.target) else {
        return format!("{held}: memory utilization is within tolerance of {target} target");
    };
    if let Some(u) = per_pod_utilization(d, current - 1) {
        if u > t as f64 && current > 1 {
            return format!(
                "{held}: a scale-down to {} would put each pod at {:.0}% of its {basis}, above {target} target",
                current - 1,
                u
            );
        }
    }
    let ratio = d
        .ratio
        .map_or(String::new(), |r| format!(" (ratio {r:.2})"));
    format!(
        "{held}: each pod at {}% of its {basis}, within {:.0}% of {target} target{ratio}",
        d.utilization.map_or("?".to_string(), |u| u.to_string()),
        TOLERANCE * 100.0
    )
}

/// Each pod's utilization (percent of its limit) if the load were spread over
/// `replicas` pods: the baseline stays per pod, the load is shared.
fn per_pod_utilization(d: &LastDecision, replicas: i64) -> Option<f64> {
    let n = d.pods.as_ref()?.counted as f64;
    let usage = d.usage_bytes? as f64;
    let capacity = d.capacity_bytes? as f64;
    let b = d.baseline_bytes.unwrap_or(0) as f64;
    if n <= 0.0 || capacity <= 0.0 || replicas <= 0 {
        return None;
    }
    let load = (usage - n * b).max(0.0);
    Some(100.0 * (b + load / replicas as f64) / (capacity / n))
}

fn stabilized(d: &LastDecision, up: bool, held: &str) -> String {
    let dir = if up { "scale-up" } else { "scale-down" };
    let which = if up { "lowest" } else { "highest" };
    let Some(w) = &d.window else {
        return format!("{dir} held by its stabilization window ({held})");
    };
    let when = w
        .bound_time
        .as_deref()
        .map_or(String::new(), |t| format!(", at {}", clock(t)));
    let wanted = d.recommendation.map_or(String::new(), |r| {
        format!("; the recommendation now is {r}")
    });
    format!(
        "{dir} held by the {} s window: its {which} recommendation was {}{when}{wanted}",
        w.seconds, w.bound
    )
}

/// `10:42` of an RFC 3339 time, or the time as it is.
fn clock(rfc3339: &str) -> String {
    rfc3339
        .get(11..16)
        .filter(|hm| hm.as_bytes().get(2) == Some(&b':'))
        .map_or_else(|| crate::quote::quote(rfc3339, 40), str::to_string)
}

fn baseline_above_target(
    d: &LastDecision,
    held: &str,
    target: &str,
    status: &MemHpaStatus,
) -> String {
    let basis = basis_word(d);
    let share = match (d.baseline_bytes, d.capacity_bytes, d.pods.as_ref()) {
        (Some(b), Some(c), Some(p)) if c > 0 && p.counted > 0 => {
            Some(100.0 * b as f64 / (c as f64 / p.counted as f64))
        }
        _ => None,
    };
    match share {
        Some(s) => format!(
            "{held}: the baseline alone is {s:.0}% of each pod's {basis}, at or above {target} target, so no replica count can reach it; raise the target or the {basis}, or lower spec.podBaseline"
        ),
        None => format!(
            "{held}: the baseline alone reaches {target} target{}",
            message_for(status, Reason::BaselineAboveTarget.as_str())
        ),
    }
}

/// The figures, one per line.
fn details(status: &MemHpaStatus, d: &LastDecision) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(p) = &d.pods {
        let mut line = format!(
            "pods: {} counted, {} missing, {} Pending, {} ignored",
            p.counted, p.missing, p.pending, p.ignored
        );
        if !p.named.is_empty() {
            let named: Vec<String> = p
                .named
                .iter()
                .map(|n| format!("{} ({})", n.name, n.why))
                .collect();
            line.push_str(&format!(": {}", named.join(", ")));
        }
        lines.push(line);
    }
    if let (Some(u), Some(c)) = (d.usage_bytes, d.capacity_bytes) {
        let baseline = d
            .baseline_bytes
            .map_or(String::new(), |b| format!(", baseline {} a pod", mib(b)));
        lines.push(format!(
            "memory: {} used of {} ({}){baseline}",
            mib(u),
            mib(c),
            d.basis.as_deref().unwrap_or("limits")
        ));
    }
    if let Some(u) = d.utilization {
        let target = d.target.map_or(String::new(), |t| format!(", target {t}%"));
        let ratio = d.ratio.map_or(String::new(), |r| format!(", ratio {r:.3}"));
        let tolerance = d
            .tolerance
            .as_deref()
            .map_or(String::new(), |t| format!(" ({t} tolerance)"));
        lines.push(format!("utilization: {u}%{target}{ratio}{tolerance}"));
    }
    let mut steps = Vec::new();
    if let Some(r) = d.recommendation {
        steps.push(format!("recommended {r}"));
    }
    if let Some(w) = &d.window {
        steps.push(format!(
            "{} window {} s gave {}",
            w.direction, w.seconds, w.to
        ));
    }
    if let Some(l) = &d.limit {
        let by = l.policy.as_deref().unwrap_or(&l.by);
        steps.push(format!("{by} took {} to {}", l.from, l.to));
    }
    if let Some(r) = d.result {
        steps.push(format!("result {r}"));
    }
    if !steps.is_empty() {
        lines.push(format!("steps: {}", steps.join(", ")));
    }
    if let Some(t) = &d.time {
        lines.push(format!("decided: {t}"));
    }
    for t in ConditionType::ALL.map(ConditionType::as_str) {
        if let Some(c) = condition(status, t) {
            lines.push(format!(
                "{t}={} {}",
                c.status,
                c.reason.as_deref().unwrap_or("")
            ));
        }
    }
    lines
}

/// Bytes as MiB, one decimal.
fn mib(bytes: i64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}
