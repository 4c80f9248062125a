//! Reading a scenario file strictly: unknown keys, wrong types and out-of-range
//! numbers are refused with the path of the field (`steps[3].pods[0].limitBytes`)
//! and the offending value. Parsing walks `serde_json::Value` by hand because
//! serde's derive cannot report a path, and hostile input must never panic.

use crate::algorithm::{ContainerObservation, PodObservation, PodPhase, Policy};
use crate::api::{Basis, MemHpaSpec};
use serde_json::{Map, Value};

/// The largest byte count accepted anywhere (1 PiB): big enough for any pod,
/// small enough that sums stay exact in f64.
pub const MAX_BYTES: u64 = 1 << 50;
/// Simulated pods are materialized per step, so counts are kept modest.
pub const MAX_REPLICAS: i64 = 10_000;
pub const MAX_STEPS: usize = 100_000;
pub const MAX_PODS_PER_STEP: usize = 10_000;
/// About 31 years of simulated time.
pub const MAX_T: i64 = 1_000_000_000;

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub policy: Policy,
    pub replicas: i64,
    pub limit_bytes: Option<u64>,
    pub request_bytes: Option<u64>,
    pub pod_base_bytes: u64,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub t: i64,
    pub load: Load,
}

#[derive(Debug, Clone)]
pub enum Load {
    /// Pods taken as they are.
    Pods(Vec<PodObservation>),
    /// Working set of the whole workload, spread over the current replicas.
    TotalBytes(f64),
}

/// A bad scenario: a one-line message that starts with the field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

type R<T> = Result<T, Invalid>;

fn invalid(path: &str, expected: impl std::fmt::Display, got: &Value) -> Invalid {
    Invalid(format!("{path}: expected {expected}, got {}", show(got)))
}

/// The offending value as JSON, cut short so the error stays one line.
fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(57).collect::<String>())
    } else {
        s
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Parses and validates a scenario document.
pub fn parse(text: &str) -> R<Scenario> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| Invalid(format!("invalid JSON: {e}")))?;
    let top = object(
        "",
        &doc,
        &[
            "spec",
            "replicas",
            "limitBytes",
            "requestBytes",
            "podBaseBytes",
            "steps",
        ],
    )?;
    let spec_value = top
        .get("spec")
        .ok_or_else(|| Invalid("spec: required but missing".into()))?;
    let policy = policy(spec_value)?;
    let replicas = integer("replicas", required(top, "", "replicas")?, 0, MAX_REPLICAS)?;
    let limit_bytes = top
        .get("limitBytes")
        .map(|v| bytes("limitBytes", v))
        .transpose()?;
    let request_bytes = top
        .get("requestBytes")
        .map(|v| bytes("requestBytes", v))
        .transpose()?;
    let pod_base_bytes = match top.get("podBaseBytes") {
        Some(v) => integer("podBaseBytes", v, 0, MAX_BYTES as i64)? as u64,
        None => 0,
    };
    let steps = steps(required(top, "", "steps")?)?;
    let scenario = Scenario {
        policy,
        replicas,
        limit_bytes,
        request_bytes,
        pod_base_bytes,
        steps,
    };
    check_total_steps(&scenario)?;
    Ok(scenario)
}

fn required<'v>(obj: &'v Map<String, Value>, path: &str, key: &str) -> R<&'v Value> {
    obj.get(key)
        .ok_or_else(|| Invalid(format!("{}: required but missing", join(path, key))))
}

fn object<'v>(path: &str, v: &'v Value, allowed: &[&str]) -> R<&'v Map<String, Value>> {
    let Value::Object(map) = v else {
        if path.is_empty() {
            return Err(Invalid(format!("expected a JSON object, got {}", show(v))));
        }
        return Err(invalid(path, "an object", v));
    };
    if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        // The key is the file's: a hostile one may be megabytes, so cut it.
        let shown: String = key.chars().take(60).collect();
        let cut = if shown.len() < key.len() { "..." } else { "" };
        return Err(Invalid(format!(
            "{}{cut}: unknown key (expected one of: {})",
            join(path, &shown),
            allowed.join(", ")
        )));
    }
    Ok(map)
}

fn array<'v>(path: &str, v: &'v Value, max: usize) -> R<&'v Vec<Value>> {
    match v {
        Value::Array(a) if a.len() > max => Err(Invalid(format!(
            "{path}: expected at most {max} entries, got {}",
            a.len()
        ))),
        Value::Array(a) => Ok(a),
        other => Err(invalid(path, "an array", other)),
    }
}

fn string<'v>(path: &str, v: &'v Value) -> R<&'v str> {
    match v {
        Value::String(s) if !s.is_empty() => Ok(s),
        other => Err(invalid(path, "a non-empty string", other)),
    }
}

/// A JSON number that is a whole number, written as `5` or `5e3` alike.
fn whole(v: &Value) -> Option<i128> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(i128::from(u));
    }
    let f = n.as_f64()?;
    // Beyond 2^53 a float is no longer a precise whole number; treat it as
    // simply too large (it is, for every field here).
    (f.is_finite() && f.fract() == 0.0).then(|| f.clamp(-1e30, 1e30) as i128)
}

fn integer(path: &str, v: &Value, lo: i64, hi: i64) -> R<i64> {
    match whole(v) {
        Some(i) if (i128::from(lo)..=i128::from(hi)).contains(&i) => Ok(i as i64),
        _ => Err(invalid(path, format!("an integer from {lo} to {hi}"), v)),
    }
}

fn bytes(path: &str, v: &Value) -> R<u64> {
    match whole(v) {
        Some(i) if i >= 1 && i <= i128::from(MAX_BYTES) => Ok(i as u64),
        Some(i) if i >= 1 => Err(invalid(
            path,
            format!("a positive integer of at most {MAX_BYTES}"),
            v,
        )),
        _ => Err(invalid(path, "a positive integer", v)),
    }
}

/// Usage: a number of bytes, or `null` for "no sample".
fn usage(path: &str, v: &Value) -> R<Option<f64>> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.is_finite() && (0.0..=MAX_BYTES as f64).contains(&f) => Ok(Some(f)),
            _ => Err(invalid(
                path,
                format!("a number of bytes from 0 to {MAX_BYTES}, or null"),
                v,
            )),
        },
        other => Err(invalid(path, "a number of bytes or null", other)),
    }
}

fn policy(spec: &Value) -> R<Policy> {
    check_spec_shape(spec)?;
    let mut spec: MemHpaSpec =
        serde_json::from_value(spec.clone()).map_err(|e| Invalid(format!("spec: {e}")))?;
    // A simulation scales nothing real, so the target may be left out.
    if spec.scale_target_ref.is_none() {
        spec.scale_target_ref = Some(crate::api::CrossVersionObjectReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "simulated".into(),
        });
    }
    let policy = Policy::from_spec(&spec).map_err(|e| Invalid(e.to_string()))?;
    if policy.max_replicas > MAX_REPLICAS {
        return Err(Invalid(format!(
            "spec.maxReplicas: expected at most {MAX_REPLICAS} in a simulation, got {}",
            policy.max_replicas
        )));
    }
    Ok(policy)
}

/// Checks keys and JSON types of a spec so that serde never sees a surprise;
/// ranges are `Policy::from_spec`'s job.
fn check_spec_shape(spec: &Value) -> R<()> {
    let s = object(
        "spec",
        spec,
        &[
            "scaleTargetRef",
            "minReplicas",
            "maxReplicas",
            "targetUtilizationPercentage",
            "basis",
            "container",
            "behavior",
        ],
    )?;
    if let Some(r) = s.get("scaleTargetRef") {
        let r = object("spec.scaleTargetRef", r, &["apiVersion", "kind", "name"])?;
        for (k, v) in r {
            string(&format!("spec.scaleTargetRef.{k}"), v)?;
        }
    }
    for key in ["minReplicas", "maxReplicas", "targetUtilizationPercentage"] {
        if let Some(v) = s.get(key) {
            integer(
                &format!("spec.{key}"),
                v,
                i64::from(i32::MIN),
                i64::from(i32::MAX),
            )?;
        }
    }
    for key in ["basis", "container"] {
        if let Some(v) = s.get(key) {
            string(&format!("spec.{key}"), v)?;
        }
    }
    if let Some(b) = s.get("behavior") {
        let b = object("spec.behavior", b, &["scaleUp", "scaleDown"])?;
        for (k, rules) in b {
            check_rules_shape(&format!("spec.behavior.{k}"), rules)?;
        }
    }
    Ok(())
}

fn check_rules_shape(path: &str, v: &Value) -> R<()> {
    let r = object(
        path,
        v,
        &["stabilizationWindowSeconds", "selectPolicy", "policies"],
    )?;
    if let Some(w) = r.get("stabilizationWindowSeconds") {
        integer(
            &join(path, "stabilizationWindowSeconds"),
            w,
            i64::from(i32::MIN),
            i64::from(i32::MAX),
        )?;
    }
    if let Some(s) = r.get("selectPolicy") {
        string(&join(path, "selectPolicy"), s)?;
    }
    if let Some(p) = r.get("policies") {
        let list = array(&join(path, "policies"), p, 100)?;
        for (i, p) in list.iter().enumerate() {
            let at = format!("{path}.policies[{i}]");
            let p = object(&at, p, &["type", "value", "periodSeconds"])?;
            string(&join(&at, "type"), required(p, &at, "type")?)?;
            for key in ["value", "periodSeconds"] {
                let v = required(p, &at, key)?;
                integer(&join(&at, key), v, i64::from(i32::MIN), i64::from(i32::MAX))?;
            }
        }
    }
    Ok(())
}

fn steps(v: &Value) -> R<Vec<Step>> {
    let list = array("steps", v, MAX_STEPS)?;
    if list.is_empty() {
        return Err(Invalid("steps: expected at least one step, got []".into()));
    }
    let mut out: Vec<Step> = Vec::with_capacity(list.len());
    for (i, s) in list.iter().enumerate() {
        let path = format!("steps[{i}]");
        let step = step(&path, s)?;
        if let Some(prev) = out.last() {
            if step.t < prev.t {
                return Err(Invalid(format!(
                    "{path}.t: expected at least the previous step's t ({}), got {}",
                    prev.t, step.t
                )));
            }
        }
        out.push(step);
    }
    Ok(out)
}

fn step(path: &str, v: &Value) -> R<Step> {
    let s = object(path, v, &["t", "pods", "totalBytes"])?;
    let t = integer(&join(path, "t"), required(s, path, "t")?, 0, MAX_T)?;
    let load = match (s.get("pods"), s.get("totalBytes")) {
        (Some(_), Some(_)) => {
            return Err(Invalid(format!(
                "{path}: expected either pods or totalBytes, got both"
            )))
        }
        (None, None) => {
            return Err(Invalid(format!(
                "{path}: expected pods or totalBytes, got neither"
            )))
        }
        (Some(p), None) => Load::Pods(pods(&join(path, "pods"), p)?),
        (None, Some(b)) => {
            let at = join(path, "totalBytes");
            match usage(&at, b)? {
                Some(total) => Load::TotalBytes(total),
                None => return Err(invalid(&at, "a number of bytes", b)),
            }
        }
    };
    Ok(Step { t, load })
}

fn pods(path: &str, v: &Value) -> R<Vec<PodObservation>> {
    array(path, v, MAX_PODS_PER_STEP)?
        .iter()
        .enumerate()
        .map(|(i, p)| pod(&format!("{path}[{i}]"), p))
        .collect()
}

fn pod(path: &str, v: &Value) -> R<PodObservation> {
    let p = object(
        path,
        v,
        &[
            "name",
            "usageBytes",
            "limitBytes",
            "requestBytes",
            "phase",
            "deleted",
            "containers",
        ],
    )?;
    let name = string(&join(path, "name"), required(p, path, "name")?)?.to_string();
    let phase = match p.get("phase") {
        None => PodPhase::Running,
        Some(v) => phase(&join(path, "phase"), v)?,
    };
    let deleted = match p.get("deleted") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(invalid(&join(path, "deleted"), "true or false", other)),
    };
    let containers = match p.get("containers") {
        Some(c) => {
            let list = containers(&join(path, "containers"), c)?;
            check_totals(path, p, &list)?;
            list
        }
        // A pod without a container list is one container named "app".
        None => vec![container_fields(path, p, "app".into())?],
    };
    Ok(PodObservation {
        name,
        phase,
        deleted,
        containers,
    })
}

fn phase(path: &str, v: &Value) -> R<PodPhase> {
    match v.as_str() {
        Some("Pending") => Ok(PodPhase::Pending),
        Some("Running") => Ok(PodPhase::Running),
        Some("Succeeded") => Ok(PodPhase::Succeeded),
        Some("Failed") => Ok(PodPhase::Failed),
        Some("Unknown") => Ok(PodPhase::Unknown),
        _ => Err(invalid(
            path,
            "one of Pending, Running, Succeeded, Failed, Unknown",
            v,
        )),
    }
}

fn containers(path: &str, v: &Value) -> R<Vec<ContainerObservation>> {
    let list = array(path, v, 100)?;
    if list.is_empty() {
        return Err(Invalid(format!(
            "{path}: expected at least one container, got []"
        )));
    }
    list.iter()
        .enumerate()
        .map(|(i, c)| {
            let at = format!("{path}[{i}]");
            let obj = object(
                &at,
                c,
                &["name", "usageBytes", "limitBytes", "requestBytes"],
            )?;
            let name = string(&join(&at, "name"), required(obj, &at, "name")?)?.to_string();
            container_fields(&at, obj, name)
        })
        .collect()
}

/// usageBytes (required, may be null), limitBytes (required), requestBytes.
fn container_fields(path: &str, obj: &Map<String, Value>, name: String) -> R<ContainerObservation> {
    Ok(ContainerObservation {
        name,
        usage_bytes: usage(
            &join(path, "usageBytes"),
            required(obj, path, "usageBytes")?,
        )?,
        limit_bytes: Some(bytes(
            &join(path, "limitBytes"),
            required(obj, path, "limitBytes")?,
        )?),
        request_bytes: obj
            .get("requestBytes")
            .map(|v| bytes(&join(path, "requestBytes"), v))
            .transpose()?,
    })
}

/// With a container list, pod-level figures are optional; when given they must
/// be the containers' totals, so a scenario cannot say two different things.
fn check_totals(path: &str, pod: &Map<String, Value>, list: &[ContainerObservation]) -> R<()> {
    if let Some(v) = pod.get("limitBytes") {
        let total: u64 = list.iter().filter_map(|c| c.limit_bytes).sum();
        if bytes(&join(path, "limitBytes"), v)? != total {
            return Err(invalid(
                &join(path, "limitBytes"),
                format!("the containers' total {total}"),
                v,
            ));
        }
    }
    if let Some(v) = pod.get("usageBytes") {
        let total: Option<f64> = list.iter().map(|c| c.usage_bytes).sum();
        let given = usage(&join(path, "usageBytes"), v)?;
        let same = match (given, total) {
            (Some(g), Some(t)) => (g - t).abs() < 0.5,
            (None, None) => true,
            _ => false,
        };
        if !same {
            let want = total.map_or("null".to_string(), |t| t.to_string());
            return Err(invalid(
                &join(path, "usageBytes"),
                format!("the containers' total {want}"),
                v,
            ));
        }
    }
    Ok(())
}

/// totalBytes steps need a per-pod limit (and a request under basis requests).
fn check_total_steps(s: &Scenario) -> R<()> {
    let Some(i) = s
        .steps
        .iter()
        .position(|st| matches!(st.load, Load::TotalBytes(_)))
    else {
        return Ok(());
    };
    if s.limit_bytes.is_none() {
        return Err(Invalid(format!(
            "limitBytes: required by steps[{i}].totalBytes, but missing"
        )));
    }
    if s.policy.basis == Basis::Requests && s.request_bytes.is_none() {
        return Err(Invalid(format!(
            "requestBytes: required by steps[{i}].totalBytes under spec.basis \"requests\", but missing"
        )));
    }
    Ok(())
}
