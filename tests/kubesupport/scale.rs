//! The `/scale` subresource of the workloads (API conventions, "Types
//! (Kinds)": `/scale` reads and writes the replica count independently of the
//! workload's schema). Its answer is an autoscaling/v1 Scale whose
//! `status.selector` is the workload's selector as a string (fixture
//! scale-get). The Scale's metadata is the workload's, so a stale
//! resourceVersion gets the workload's 409 (fixture scale-put-stale-409).
//!
//! Writing the Scale sets the workload's `spec.replicas`. The fake has no
//! workload controller, so it sets `status.replicas` in the same write; the
//! real server answers with the old status until its controller catches up
//! (fixture scale-put shows status.replicas 2 under spec.replicas 3).

use serde_json::{json, Value};

use super::handlers::parse_object;
use super::merge::merge_patch;
use super::routes::{ResourceType, REPLICATIONCONTROLLERS};
use super::selector::{label_map_string, label_selector_string};
use super::status::{self, Failure};
use super::store::{meta_mut, meta_str, object_mut, Store};

/// The Scale view of a stored workload.
pub fn scale_of(rtype: &ResourceType, workload: &Value) -> Value {
    let meta = workload.get("metadata").cloned().unwrap_or(Value::Null);
    let pick = |field: &str| meta.get(field).cloned().unwrap_or(Value::Null);
    let spec_selector = workload.get("spec").and_then(|s| s.get("selector"));
    let selector = match spec_selector {
        None => String::new(),
        Some(labels) if std::ptr::eq(rtype, &REPLICATIONCONTROLLERS) => label_map_string(labels),
        Some(selector) => label_selector_string(selector),
    };
    let replicas = |part: &str| {
        workload
            .get(part)
            .and_then(|p| p.get("replicas"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    let mut status = json!({ "replicas": replicas("status") });
    // `selector` is omitempty in autoscaling/v1.
    if !selector.is_empty() {
        status["selector"] = Value::from(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": pick("name"),
            "namespace": pick("namespace"),
            "uid": pick("uid"),
            "resourceVersion": pick("resourceVersion"),
            "creationTimestamp": pick("creationTimestamp"),
        },
        "spec": { "replicas": replicas("spec") },
        "status": status,
    })
}

pub fn get(
    store: &Store,
    rtype: &ResourceType,
    ns: &str,
    name: &str,
) -> Result<(u16, Value), Failure> {
    store
        .read(|inner| inner.get(rtype, ns, name).map(|w| scale_of(rtype, w)))
        .map(|scale| (200, scale))
        .ok_or_else(|| status::not_found(rtype, Some("scale"), name))
}

pub fn put(
    store: &Store,
    rtype: &ResourceType,
    ns: &str,
    name: &str,
    body: &[u8],
) -> Result<(u16, Value), Failure> {
    let scale = parse_object(body, "Scale")?;
    let given = meta_str(&scale, "name").unwrap_or("");
    if given != name {
        return Err(status::bad_request(format!(
            "the name of the object ({given}) does not match the name on the URL ({name})"
        )));
    }
    write(store, rtype, ns, name, |_| Ok(scale))
}

pub fn patch(
    store: &Store,
    rtype: &ResourceType,
    ns: &str,
    name: &str,
    body: &[u8],
) -> Result<(u16, Value), Failure> {
    let changes = parse_object(body, "Scale")?;
    write(store, rtype, ns, name, |current| {
        let mut merged = current.clone();
        merge_patch(&mut merged, &changes);
        // Only a resourceVersion the patch itself carries is a precondition.
        if meta_str(&changes, "resourceVersion").is_none() {
            let rv = current["metadata"]["resourceVersion"].clone();
            meta_mut(&mut merged).insert("resourceVersion".into(), rv);
        }
        Ok(merged)
    })
}

/// Turns the current Scale into the wanted one (`wanted`), checks it, and
/// writes its replicas into the workload.
fn write(
    store: &Store,
    rtype: &ResourceType,
    ns: &str,
    name: &str,
    wanted: impl FnOnce(&Value) -> Result<Value, Failure>,
) -> Result<(u16, Value), Failure> {
    store.with(|inner| {
        let workload = inner
            .get(rtype, ns, name)
            .cloned()
            .ok_or_else(|| status::not_found(rtype, Some("scale"), name))?;
        let scale = wanted(&scale_of(rtype, &workload))?;
        match meta_str(&scale, "resourceVersion") {
            Some(rv) if !rv.is_empty() && Some(rv) != meta_str(&workload, "resourceVersion") => {
                return Err(status::conflict(rtype, name));
            }
            _ => {}
        }
        let replicas = replicas_of(&scale, name)?;
        let mut next = workload;
        object_mut(&mut next, "spec").insert("replicas".into(), Value::from(replicas));
        object_mut(&mut next, "status").insert("replicas".into(), Value::from(replicas));
        let stored = inner
            .update(rtype, ns, name, next)
            .ok_or_else(|| status::not_found(rtype, Some("scale"), name))?;
        Ok((200, scale_of(rtype, &stored)))
    })
}

fn replicas_of(scale: &Value, name: &str) -> Result<i64, Failure> {
    let value = scale.get("spec").and_then(|s| s.get("replicas"));
    match value.and_then(Value::as_i64) {
        Some(n) if n >= 0 => Ok(n),
        _ => {
            let shown = value.map_or("null".to_string(), Value::to_string);
            let cause = (
                "spec.replicas",
                "FieldValueInvalid",
                format!("Invalid value: {shown}: must be greater than or equal to 0"),
            );
            Err(status::invalid("Scale", "autoscaling", name, &[cause]))
        }
    }
}
