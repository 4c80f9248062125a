//! metav1.Status bodies, in exactly the shapes of the captured fixtures.
//!
//! API conventions, "Response Status Kind": every failure answers with a
//! Status of `kind`, `apiVersion`, empty `metadata`, `status: Failure`, a
//! `message`, a machine-readable `reason`, optional `details` and the HTTP
//! `code` repeated. `details.kind` is the *resource* (plural, with
//! `/subresource`), except for 422 Invalid, which names the Kind.

use serde_json::{json, Map, Value};

use super::routes::{qualify, ResourceType};

/// A failed request: the HTTP status, its Status body, and for 429 the
/// seconds to put in `Retry-After`.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: u16,
    pub body: Value,
    pub retry_after: Option<u64>,
}

/// The Status body of any failure. `details` is left out when empty, as the
/// server's `omitempty` does (fixtures unauthorized-401, memhpa-watch-expired-410).
pub fn failure_body(code: u16, reason: &str, message: &str, details: Map<String, Value>) -> Value {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if !details.is_empty() {
        body["details"] = Value::Object(details);
    }
    body
}

fn failure(code: u16, reason: &str, message: String, details: Map<String, Value>) -> Failure {
    Failure {
        code,
        body: failure_body(code, reason, &message, details),
        retry_after: None,
    }
}

/// `{name, group, kind}` with empty parts left out (the core group is `""`).
pub fn details(name: Option<&str>, group: &str, kind: &str) -> Map<String, Value> {
    let mut map = Map::new();
    if let Some(name) = name.filter(|n| !n.is_empty()) {
        map.insert("name".into(), Value::from(name));
    }
    if !group.is_empty() {
        map.insert("group".into(), Value::from(group));
    }
    map.insert("kind".into(), Value::from(kind));
    map
}

/// The resource as named in messages, with a subresource: `deployments/scale`.
fn resource_name(rtype: &ResourceType, subresource: Option<&str>) -> String {
    match subresource {
        Some(sub) => format!("{}/{sub}", rtype.plural),
        None => rtype.plural.to_string(),
    }
}

/// 404 NotFound for a named object (fixtures lease-get-missing-404,
/// scale-get-missing-404).
pub fn not_found(rtype: &ResourceType, subresource: Option<&str>, name: &str) -> Failure {
    let resource = resource_name(rtype, subresource);
    failure(
        404,
        "NotFound",
        format!("{} \"{name}\" not found", qualify(&resource, rtype.group)),
        details(Some(name), rtype.group, &resource),
    )
}

/// 404 for a path the fake does not serve.
pub fn no_route() -> Failure {
    failure(
        404,
        "NotFound",
        "the server could not find the requested resource".into(),
        Map::new(),
    )
}

/// 409 AlreadyExists (fixtures memhpa-create-exists-409, lease-create-exists-409).
pub fn already_exists(rtype: &ResourceType, name: &str) -> Failure {
    failure(
        409,
        "AlreadyExists",
        format!("{} \"{name}\" already exists", rtype.qualified()),
        details(Some(name), rtype.group, rtype.plural),
    )
}

/// 409 Conflict on a stale `metadata.resourceVersion` (fixtures
/// memhpa-status-put-stale-409, scale-put-stale-409: a scale conflict names
/// the workload, not `.../scale`).
pub fn conflict(rtype: &ResourceType, name: &str) -> Failure {
    failure(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
             please apply your changes to the latest version and try again",
            rtype.qualified()
        ),
        details(Some(name), rtype.group, rtype.plural),
    )
}

/// 422 Invalid with one cause (field, reason, message) per bad field, naming
/// the Kind and group (fixture memhpa-create-invalid-422).
pub fn invalid(kind: &str, group: &str, name: &str, causes: &[(&str, &str, String)]) -> Failure {
    let summary: Vec<String> = causes
        .iter()
        .map(|(field, _, message)| format!("{field}: {message}"))
        .collect();
    let mut details = details(Some(name), group, kind);
    let causes: Vec<Value> = causes
        .iter()
        .map(|(field, reason, message)| {
            json!({"reason": reason, "message": message, "field": field})
        })
        .collect();
    details.insert("causes".into(), Value::Array(causes));
    failure(
        422,
        "Invalid",
        format!(
            "{} \"{name}\" is invalid: {}",
            qualify(kind, group),
            summary.join(", ")
        ),
        details,
    )
}

/// 422 for a PUT without `metadata.resourceVersion` where the resource
/// requires one. The server names the *resource* as the kind here.
pub fn version_required(rtype: &ResourceType, name: &str) -> Failure {
    let cause = (
        "metadata.resourceVersion",
        "FieldValueInvalid",
        "Invalid value: 0x0: must be specified for an update".to_string(),
    );
    invalid(rtype.plural, rtype.group, name, &[cause])
}

/// 400 BadRequest: a body that is not the object, a bad query parameter.
pub fn bad_request(message: String) -> Failure {
    failure(400, "BadRequest", message, Map::new())
}

/// 401 (fixture unauthorized-401): no token, or one the server no longer accepts.
pub fn unauthorized() -> Failure {
    failure(401, "Unauthorized", "Unauthorized".into(), Map::new())
}

/// 403 as RBAC words it (fixture forbidden-403).
pub fn forbidden(
    user: &str,
    verb: &str,
    rtype: &ResourceType,
    subresource: Option<&str>,
    name: Option<&str>,
    namespace: Option<&str>,
) -> Failure {
    let resource = resource_name(rtype, subresource);
    let scope = match namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    let mut details = details(name, "", &resource);
    // RBAC always names the group, even the core group's empty one.
    details.insert("group".into(), Value::from(rtype.group));
    failure(
        403,
        "Forbidden",
        format!(
            "{} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{}\" {scope}",
            qualify(&resource, rtype.group),
            rtype.group
        ),
        details,
    )
}

/// 405 for a verb the path does not take.
pub fn method_not_allowed(method: &str) -> Failure {
    failure(
        405,
        "MethodNotAllowed",
        format!("the server does not allow this method on the requested resource: {method}"),
        Map::new(),
    )
}

/// 410 Expired, as the ERROR event of a watch from a compacted version
/// (fixture memhpa-watch-expired-410: no `details`).
pub fn expired(requested: u64, oldest: u64) -> Failure {
    failure(
        410,
        "Expired",
        format!("too old resource version: {requested} ({oldest})"),
        Map::new(),
    )
}

/// 413 for a body over the fake's bound.
pub fn too_large() -> Failure {
    failure(
        413,
        "RequestEntityTooLarge",
        "the request is too large".into(),
        Map::new(),
    )
}

/// 415 for a patch type the fake does not apply.
pub fn unsupported_patch(content_type: &str) -> Failure {
    failure(
        415,
        "UnsupportedMediaType",
        format!("the body of the request was in an unknown format - accepted media types include: application/merge-patch+json (got {content_type:?})"),
        Map::new(),
    )
}

/// An injected failure: 429 TooManyRequests carries `retryAfterSeconds` as
/// the server's priority-and-fairness filter does; 5xx carry the reason the
/// server uses for that code.
pub fn injected(code: u16, retry_after: Option<u64>) -> Failure {
    let (reason, message) = match code {
        400 => ("BadRequest", "injected bad request"),
        401 => ("Unauthorized", "Unauthorized"),
        403 => ("Forbidden", "injected denial"),
        404 => ("NotFound", "injected not found"),
        409 => ("Conflict", "injected conflict"),
        410 => ("Expired", "too old resource version"),
        429 => (
            "TooManyRequests",
            "Too many requests, please try again later.",
        ),
        500 => (
            "InternalError",
            "Internal error occurred: injected by the fake",
        ),
        503 => (
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        ),
        504 => (
            "Timeout",
            "the server was unable to return a response in the time allotted",
        ),
        _ => ("InternalError", "injected failure"),
    };
    let mut details = Map::new();
    if let Some(seconds) = retry_after {
        details.insert("retryAfterSeconds".into(), Value::from(seconds));
    }
    Failure {
        code,
        body: failure_body(code, reason, message, details),
        retry_after,
    }
}

/// The 200 answer to a DELETE of a custom resource (fixture memhpa-delete).
pub fn deleted(rtype: &ResourceType, name: &str, uid: &str) -> Value {
    let mut details = details(Some(name), rtype.group, rtype.plural);
    details.insert("uid".into(), Value::from(uid));
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}
