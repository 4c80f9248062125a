//! Reading a scenario file strictly: unknown or repeated keys, wrong types and
//! out-of-range numbers are refused with the path of the field
//! (`steps[3].pods[0].limitBytes`) and the offending value. Fields are checked
//! by hand on `serde_json::Value`s because serde's derive cannot report a path,
//! and hostile input must never panic; steps, pods and containers are read as
//! they stream by (`json`), so a limit is enforced before what it refuses is
//! built.

use super::json::{self, elements, entries, Ctx, Part, Reader};
use crate::algorithm::{ContainerObservation, PodObservation, PodPhase, Policy};
use crate::api::{Basis, MemHpaSpec};
use serde::de::{MapAccess, SeqAccess};
use serde_json::{Map, Value};
use std::cell::Cell;

/// The byte bound is the controller's own, so a scenario and a live sample are
/// refused alike.
pub use crate::api::MAX_BYTES;
/// The most replicas a simulation starts from or may scale to.
pub const MAX_REPLICAS: i64 = 10_000;
pub const MAX_STEPS: usize = 100_000;
pub const MAX_PODS_PER_STEP: usize = 10_000;
/// Explicit pods are kept for the whole run (about 200 bytes per container)
/// and each one is visited once per step it appears in, so their containers
/// over all steps together are bounded: e.g. 100 steps of 10,000 one-container
/// pods, or 10,000 steps of 100.
pub const MAX_TOTAL_CONTAINERS: usize = 1_000_000;
/// Unix seconds up to 2100-01-01: a replay of real history
/// (`-from-prometheus`) steps through Unix times, and its scenario file must
/// read back like any other.
pub const MAX_T: i64 = 4_102_444_800;

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub policy: Policy,
    pub replicas: i64,
    pub limit_bytes: Option<u64>,
    pub request_bytes: Option<u64>,
    /// Memory each `totalBytes` pod holds that the spec does not declare.
    pub pod_base_bytes: u64,
    /// `spec.podBaseline`, as memory each `totalBytes` pod really holds. Kept
    /// apart from `policy.pod_baseline_bytes` (what the algorithm is told), so
    /// that `-compare` can run the proportional rule on the same pods.
    pub pod_baseline_bytes: u64,
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

pub type R<T> = Result<T, Invalid>;

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

/// Longest key written into a path as it is; anything longer, empty or with
/// control characters is quoted and cut, so a message stays one short line.
const MAX_PLAIN_KEY: usize = 60;

pub fn join(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key.chars().count() <= MAX_PLAIN_KEY
        && !key.chars().any(char::is_control);
    let key = if plain {
        key.to_string()
    } else {
        crate::quote::quote(key, MAX_PLAIN_KEY)
    };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

const TOP_KEYS: &[&str] = &[
    "spec",
    "replicas",
    "limitBytes",
    "requestBytes",
    "podBaseBytes",
    "steps",
];

/// Parses and validates a scenario document.
pub fn parse(text: &str) -> R<Scenario> {
    parse_within(text, MAX_TOTAL_CONTAINERS)
}

/// `parse`, with room for `containers` explicit containers over all steps.
fn parse_within(text: &str, containers: usize) -> R<Scenario> {
    let containers_left = Cell::new(containers);
    json::parse(text, Top(&containers_left))
}

/// The document: an object whose `steps` stream; the rest is checked at its end.
struct Top<'b>(&'b Cell<usize>);

impl<'de> Part<'de> for Top<'_> {
    type Out = Scenario;

    fn path(&self) -> &str {
        ""
    }

    fn other(self, got: Value) -> R<Scenario> {
        Err(Invalid(format!(
            "expected a JSON object, got {}",
            show(&got)
        )))
    }

    fn map<A: MapAccess<'de>>(self, ctx: &Ctx, map: A) -> Result<Scenario, A::Error> {
        let mut steps = None;
        let top = entries(ctx, "", TOP_KEYS, map, |key, map| {
            if key != "steps" {
                return Ok(false);
            }
            steps = Some(map.next_value_seed(Reader {
                ctx,
                part: Steps(self.0),
            })?);
            Ok(true)
        })?;
        ctx.check(scenario(&top, steps))
    }
}

fn scenario(top: &Map<String, Value>, steps: Option<Vec<Step>>) -> R<Scenario> {
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
    let steps = steps.ok_or_else(|| Invalid("steps: required but missing".into()))?;
    let scenario = Scenario {
        pod_baseline_bytes: policy.pod_baseline_bytes,
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

pub(super) fn policy(spec: &Value) -> R<Policy> {
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
            "podBaseline",
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
    if let Some(v) = s.get("podBaseline") {
        baseline_shape(v)?;
    }
    if let Some(b) = s.get("behavior") {
        let b = object("spec.behavior", b, &["scaleUp", "scaleDown"])?;
        for (k, rules) in b {
            check_rules_shape(&format!("spec.behavior.{k}"), rules)?;
        }
    }
    Ok(())
}

/// `spec.podBaseline`: a quantity string (its syntax is `Policy::from_spec`'s
/// to check, as for the live field) or a number of bytes from 0 (no baseline)
/// to the bound of every byte count. A fraction is rounded up, as the live
/// field's quantity is.
fn baseline_shape(v: &Value) -> R<()> {
    const PATH: &str = "spec.podBaseline";
    match v {
        Value::String(_) => string(PATH, v).map(|_| ()),
        Value::Number(n) => match n.as_f64() {
            Some(f) if (0.0..=MAX_BYTES as f64).contains(&f) => Ok(()),
            _ => Err(invalid(
                PATH,
                format!("a number of bytes from 0 to {MAX_BYTES}"),
                v,
            )),
        },
        other => Err(invalid(
            PATH,
            "a memory quantity (e.g. \"120Mi\") or a number of bytes",
            other,
        )),
    }
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

/// `steps`: each step checked as it is read, against the one before.
struct Steps<'b>(&'b Cell<usize>);

impl<'de> Part<'de> for Steps<'_> {
    type Out = Vec<Step>;

    fn path(&self) -> &str {
        "steps"
    }

    fn other(self, got: Value) -> R<Vec<Step>> {
        Err(invalid("steps", "an array", &got))
    }

    fn seq<A: SeqAccess<'de>>(self, ctx: &Ctx, seq: A) -> Result<Vec<Step>, A::Error> {
        let mut last_t = None;
        let list = elements(ctx, "steps", MAX_STEPS, seq, |seq, i| {
            let path = format!("steps[{i}]");
            let part = StepPart {
                path: &path,
                containers_left: self.0,
            };
            let Some(step) = seq.next_element_seed(Reader { ctx, part })? else {
                return Ok(None);
            };
            ctx.check(in_order(&path, last_t, &step))?;
            last_t = Some(step.t);
            Ok(Some(step))
        })?;
        if list.is_empty() {
            return Err(ctx.refuse(Invalid("steps: expected at least one step, got []".into())));
        }
        Ok(list)
    }
}

fn in_order(path: &str, last_t: Option<i64>, step: &Step) -> R<()> {
    match last_t {
        Some(prev) if step.t < prev => Err(Invalid(format!(
            "{path}.t: expected at least the previous step's t ({prev}), got {}",
            step.t
        ))),
        _ => Ok(()),
    }
}

const STEP_KEYS: &[&str] = &["t", "pods", "totalBytes"];

/// One step, its `pods` streaming.
struct StepPart<'p> {
    path: &'p str,
    containers_left: &'p Cell<usize>,
}

impl<'de> Part<'de> for StepPart<'_> {
    type Out = Step;

    fn path(&self) -> &str {
        self.path
    }

    fn other(self, got: Value) -> R<Step> {
        Err(invalid(self.path, "an object", &got))
    }

    fn map<A: MapAccess<'de>>(self, ctx: &Ctx, map: A) -> Result<Step, A::Error> {
        let mut pods = None;
        let s = entries(ctx, self.path, STEP_KEYS, map, |key, map| {
            if key != "pods" {
                return Ok(false);
            }
            let path = join(self.path, "pods");
            let part = Pods {
                path: &path,
                containers_left: self.containers_left,
            };
            pods = Some(map.next_value_seed(Reader { ctx, part })?);
            Ok(true)
        })?;
        ctx.check(step(self.path, &s, pods))
    }
}

fn step(path: &str, s: &Map<String, Value>, pods: Option<Vec<PodObservation>>) -> R<Step> {
    let t = integer(&join(path, "t"), required(s, path, "t")?, 0, MAX_T)?;
    let load = match (pods, s.get("totalBytes")) {
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
        (Some(p), None) => Load::Pods(p),
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

/// A step's `pods`: each pod's containers are charged to the scenario's budget
/// as the pod is read.
struct Pods<'p> {
    path: &'p str,
    containers_left: &'p Cell<usize>,
}

impl<'de> Part<'de> for Pods<'_> {
    type Out = Vec<PodObservation>;

    fn path(&self) -> &str {
        self.path
    }

    fn other(self, got: Value) -> R<Vec<PodObservation>> {
        Err(invalid(self.path, "an array", &got))
    }

    fn seq<A: SeqAccess<'de>>(self, ctx: &Ctx, seq: A) -> Result<Vec<PodObservation>, A::Error> {
        elements(ctx, self.path, MAX_PODS_PER_STEP, seq, |seq, i| {
            let path = format!("{}[{i}]", self.path);
            let part = PodPart { path: &path };
            let Some(pod) = seq.next_element_seed(Reader { ctx, part })? else {
                return Ok(None);
            };
            ctx.check(charge(&path, self.containers_left, pod.containers.len()))?;
            Ok(Some(pod))
        })
    }
}

fn charge(path: &str, left: &Cell<usize>, containers: usize) -> R<()> {
    match left.get().checked_sub(containers) {
        Some(rest) => {
            left.set(rest);
            Ok(())
        }
        None => Err(Invalid(format!(
            "{path}: expected at most {MAX_TOTAL_CONTAINERS} containers in the pods of all steps together, got more"
        ))),
    }
}

const POD_KEYS: &[&str] = &[
    "name",
    "usageBytes",
    "limitBytes",
    "requestBytes",
    "phase",
    "deleted",
    "containers",
];

/// One pod, its `containers` streaming.
struct PodPart<'p> {
    path: &'p str,
}

impl<'de> Part<'de> for PodPart<'_> {
    type Out = PodObservation;

    fn path(&self) -> &str {
        self.path
    }

    fn other(self, got: Value) -> R<PodObservation> {
        Err(invalid(self.path, "an object", &got))
    }

    fn map<A: MapAccess<'de>>(self, ctx: &Ctx, map: A) -> Result<PodObservation, A::Error> {
        let mut containers = None;
        let p = entries(ctx, self.path, POD_KEYS, map, |key, map| {
            if key != "containers" {
                return Ok(false);
            }
            let path = join(self.path, "containers");
            let part = Containers { path: &path };
            containers = Some(map.next_value_seed(Reader { ctx, part })?);
            Ok(true)
        })?;
        ctx.check(pod(self.path, &p, containers))
    }
}

fn pod(
    path: &str,
    p: &Map<String, Value>,
    containers: Option<Vec<ContainerObservation>>,
) -> R<PodObservation> {
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
    let containers = match containers {
        Some(list) => {
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

/// A pod's `containers`.
struct Containers<'p> {
    path: &'p str,
}

impl<'de> Part<'de> for Containers<'_> {
    type Out = Vec<ContainerObservation>;

    fn path(&self) -> &str {
        self.path
    }

    fn other(self, got: Value) -> R<Vec<ContainerObservation>> {
        Err(invalid(self.path, "an array", &got))
    }

    fn seq<A: SeqAccess<'de>>(
        self,
        ctx: &Ctx,
        seq: A,
    ) -> Result<Vec<ContainerObservation>, A::Error> {
        let list = elements(ctx, self.path, MAX_CONTAINERS_PER_POD, seq, |seq, i| {
            let path = format!("{}[{i}]", self.path);
            seq.next_element_seed(Reader {
                ctx,
                part: ContainerPart { path: &path },
            })
        })?;
        if list.is_empty() {
            return Err(ctx.refuse(Invalid(format!(
                "{}: expected at least one container, got []",
                self.path
            ))));
        }
        Ok(list)
    }
}

const MAX_CONTAINERS_PER_POD: usize = 100;

struct ContainerPart<'p> {
    path: &'p str,
}

impl<'de> Part<'de> for ContainerPart<'_> {
    type Out = ContainerObservation;

    fn path(&self) -> &str {
        self.path
    }

    fn other(self, got: Value) -> R<ContainerObservation> {
        Err(invalid(self.path, "an object", &got))
    }

    fn map<A: MapAccess<'de>>(self, ctx: &Ctx, map: A) -> Result<ContainerObservation, A::Error> {
        let keys = &["name", "usageBytes", "limitBytes", "requestBytes"];
        let obj = entries(ctx, self.path, keys, map, |_, _| Ok(false))?;
        let at = self.path;
        ctx.check(
            required(&obj, at, "name")
                .and_then(|v| string(&join(at, "name"), v))
                .and_then(|name| container_fields(at, &obj, name.to_string())),
        )
    }
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

#[cfg(test)]
mod test {
    use super::*;

    fn pods_steps(steps: usize, pods: usize) -> String {
        let pod = r#"{"name": "a", "usageBytes": 1, "limitBytes": 2}"#;
        let pods = vec![pod; pods].join(",");
        let steps: Vec<String> = (0..steps)
            .map(|t| format!(r#"{{"t": {t}, "pods": [{pods}]}}"#))
            .collect();
        format!(
            r#"{{"spec": {{"maxReplicas": 5}}, "replicas": 1, "steps": [{}]}}"#,
            steps.join(",")
        )
    }

    #[test]
    fn explicit_containers_are_counted_over_all_steps() {
        assert!(parse_within(&pods_steps(3, 4), 12).is_ok());
        assert_eq!(
            parse_within(&pods_steps(3, 4), 11).map(|_| ()),
            Err(Invalid(format!(
                "steps[2].pods[3]: expected at most {MAX_TOTAL_CONTAINERS} containers in the pods of all steps together, got more"
            )))
        );
    }

    #[test]
    fn a_container_list_is_charged_per_container() {
        let pod = r#"{"name": "a", "containers": [
            {"name": "app", "usageBytes": 1, "limitBytes": 2},
            {"name": "log", "usageBytes": 1, "limitBytes": 2}]}"#;
        let text = format!(
            r#"{{"spec": {{"maxReplicas": 5}}, "replicas": 1, "steps": [{{"t": 0, "pods": [{pod}]}}]}}"#
        );
        assert!(parse_within(&text, 2).is_ok());
        assert!(parse_within(&text, 1).is_err());
    }
}
