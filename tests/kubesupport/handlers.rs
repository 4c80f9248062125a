//! The verbs on a routed request: list, get, create, update (PUT), merge
//! patch and delete, on the main resource or its `/status`; `/scale` goes to
//! [`super::scale`] and watches to [`super::watch`].
//!
//! API conventions, "Spec and Status": PUT and POST on the main resource
//! ignore `status`; `/status` takes only `status`. "Concurrency Control and
//! Consistency": an update carrying `metadata.resourceVersion` succeeds only
//! if it is the stored one (else 409 Conflict). A PUT without one overwrites
//! only where the resource allows that (events, workloads, pods); memhpas
//! and leases answer 422, as the real server does.

use serde_json::{json, Value};

use super::filter::Filter;
use super::http::Request;
use super::merge::merge_patch;
use super::paging::{self, Continue};
use super::record::is_true;
use super::routes::{ResourceType, Route, PODS};
use super::scale;
use super::schema::validate;
use super::status::{self, Failure};
use super::store::{meta_mut, meta_str, Inner, Store};
use super::watch::{self, WatchRequest};

/// What to send back.
#[derive(Debug)]
pub enum Reply {
    Json {
        code: u16,
        body: Value,
        retry_after: Option<u64>,
    },
    Watch(WatchRequest),
}

impl Reply {
    pub fn ok(code: u16, body: Value) -> Reply {
        Reply::Json {
            code,
            body,
            retry_after: None,
        }
    }
}

impl From<Failure> for Reply {
    fn from(failure: Failure) -> Reply {
        Reply::Json {
            code: failure.code,
            body: failure.body,
            retry_after: failure.retry_after,
        }
    }
}

fn reply(result: Result<(u16, Value), Failure>) -> Reply {
    match result {
        Ok((code, body)) => Reply::ok(code, body),
        Err(failure) => failure.into(),
    }
}

/// Serves one request whose route is known.
pub fn handle(store: &Store, request: &Request, route: &Route) -> Reply {
    let name = route.name.as_deref();
    let sub = route.subresource.as_deref();
    let namespace = route.namespace.as_deref().unwrap_or("");
    let rtype = route.rtype;
    match (request.method.as_str(), name, sub) {
        ("GET", None, None) if request.param("watch").is_some_and(|w| is_true(&w)) => {
            match watch::parse(route, request) {
                Ok(watch) => Reply::Watch(watch),
                Err(failure) => failure.into(),
            }
        }
        ("GET", None, None) => reply(list(store, route, request)),
        ("POST", None, None) if route.namespace.is_some() => {
            reply(create(store, rtype, namespace, &request.body))
        }
        ("GET", Some(name), Some("scale")) => reply(scale::get(store, rtype, namespace, name)),
        ("PUT", Some(name), Some("scale")) => {
            reply(scale::put(store, rtype, namespace, name, &request.body))
        }
        ("PATCH", Some(name), Some("scale")) => reply(
            check_patch_type(request)
                .and_then(|_| scale::patch(store, rtype, namespace, name, &request.body)),
        ),
        ("GET", Some(name), _) => reply(get(store, rtype, namespace, name)),
        ("PUT", Some(name), sub) => {
            reply(update(store, rtype, namespace, name, sub, &request.body))
        }
        ("PATCH", Some(name), sub) => reply(
            check_patch_type(request)
                .and_then(|_| patch(store, rtype, namespace, name, sub, &request.body)),
        ),
        ("DELETE", Some(name), None) => reply(delete(store, rtype, namespace, name)),
        (method, _, _) => status::method_not_allowed(method).into(),
    }
}

/// The fake applies JSON merge patches only; strategic merge (which the real
/// server refuses for custom resources anyway) and JSON patch get 415.
fn check_patch_type(request: &Request) -> Result<(), Failure> {
    let content_type = request.header("content-type").unwrap_or("");
    if content_type.starts_with("application/merge-patch+json") {
        Ok(())
    } else {
        Err(status::unsupported_patch(content_type))
    }
}

/// The request body as a JSON object.
pub fn parse_object(body: &[u8], kind: &str) -> Result<Value, Failure> {
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        status::bad_request(format!(
            "the object provided is unrecognized (must be of type {kind}): json parse error: {err}"
        ))
    })?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(status::bad_request(format!(
            "the object provided is unrecognized (must be of type {kind}): not a JSON object"
        )))
    }
}

/// Fills in `apiVersion`/`kind` when absent and refuses other ones.
fn check_type(rtype: &ResourceType, object: &mut Value) -> Result<(), Failure> {
    let api_version = rtype.api_version();
    for (field, expected) in [("apiVersion", api_version.as_str()), ("kind", rtype.kind)] {
        match object.get(field).and_then(Value::as_str) {
            None | Some("") => object[field] = Value::from(expected),
            Some(given) if given == expected => {}
            Some(given) => {
                return Err(status::bad_request(format!(
                    "the {field} in the data ({given}) does not match the expected {field} ({expected})"
                )))
            }
        }
    }
    Ok(())
}

fn check_namespace(object: &Value, namespace: &str) -> Result<(), Failure> {
    match meta_str(object, "namespace") {
        Some(given) if !given.is_empty() && given != namespace => Err(status::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        )),
        _ => Ok(()),
    }
}

fn check_name(object: &Value, name: &str) -> Result<(), Failure> {
    let given = meta_str(object, "name").unwrap_or("");
    if given == name {
        Ok(())
    } else {
        Err(status::bad_request(format!(
            "the name of the object ({given}) does not match the name on the URL ({name})"
        )))
    }
}

/// A non-empty `metadata.resourceVersion` is a precondition (409 if stale).
fn check_precondition(
    rtype: &ResourceType,
    name: &str,
    given: &Value,
    current: &Value,
) -> Result<(), Failure> {
    match meta_str(given, "resourceVersion") {
        Some(rv) if !rv.is_empty() && Some(rv) != meta_str(current, "resourceVersion") => {
            Err(status::conflict(rtype, name))
        }
        _ => Ok(()),
    }
}

/// A PUT must carry a resourceVersion unless the resource allows blind
/// overwrites. (A merge patch never needs one: the server patches the
/// stored object, version included.)
fn check_version_given(rtype: &ResourceType, name: &str, given: &Value) -> Result<(), Failure> {
    let given = meta_str(given, "resourceVersion").is_some_and(|rv| !rv.is_empty());
    if given || rtype.unconditional_update {
        Ok(())
    } else {
        Err(status::version_required(rtype, name))
    }
}

fn list(store: &Store, route: &Route, request: &Request) -> Result<(u16, Value), Failure> {
    let rtype = route.rtype;
    let filter = Filter::of(request)?;
    let limit = paging::limit(request.param("limit").as_deref())?;
    let token = match request.param("continue").filter(|t| !t.is_empty()) {
        Some(token) => Some(Continue::decode(&token)?),
        None => None,
    };
    let counts_remaining = request
        .param("fieldSelector")
        .map_or(true, |f| f.is_empty());
    let namespace = route.namespace.as_deref();
    let (items, rv, next, remaining) = store.read(|inner| {
        if let Some(token) = &token {
            if token.rv < inner.compacted() {
                return Err(paging::continue_expired());
            }
        }
        let after = token.as_ref().map(|t| t.after.as_str());
        let snapshot = match &token {
            Some(t) => inner
                .list_at(rtype, namespace, after, t.rv)
                .map_err(|_| paging::continue_expired())?,
            None => inner.list_after(rtype, namespace, None),
        };
        let matching: Vec<&Value> = snapshot
            .into_iter()
            .filter(|object| filter.matches(object))
            .collect();
        let take = limit.unwrap_or(matching.len()).min(matching.len());
        let rv = token.as_ref().map_or(inner.rv(), |t| t.rv);
        let next = (take < matching.len()).then(|| Continue {
            rv,
            after: key_of(matching[take - 1]),
        });
        let items: Vec<Value> = matching[..take]
            .iter()
            .map(|object| list_item(rtype, object))
            .collect();
        Ok((items, rv.to_string(), next, matching.len() - take))
    })?;
    let mut metadata = json!({"resourceVersion": rv});
    match &next {
        Some(next) => {
            metadata["continue"] = Value::from(next.encode());
            if counts_remaining {
                metadata["remainingItemCount"] = Value::from(remaining);
            }
        }
        // Every CRD list says `continue: ""` (fixtures memhpa-list-*).
        None if rtype.custom => metadata["continue"] = Value::from(""),
        None => {}
    }
    let body = if rtype.custom {
        json!({
            "apiVersion": rtype.api_version(),
            "items": items,
            "kind": rtype.list_kind(),
            "metadata": metadata,
        })
    } else {
        json!({
            "kind": rtype.list_kind(),
            "apiVersion": rtype.api_version(),
            "metadata": metadata,
            "items": items,
        })
    };
    Ok((200, body))
}

/// `namespace/name` of a stored object.
fn key_of(object: &Value) -> String {
    format!(
        "{}/{}",
        meta_str(object, "namespace").unwrap_or(""),
        meta_str(object, "name").unwrap_or("")
    )
}

/// Items of a built-in list carry no apiVersion/kind (fixture
/// pods-list-by-selector); a custom resource list's items keep theirs.
fn list_item(rtype: &ResourceType, object: &Value) -> Value {
    let mut item = object.clone();
    if !rtype.custom {
        if let Value::Object(fields) = &mut item {
            fields.remove("apiVersion");
            fields.remove("kind");
        }
    }
    item
}

fn get(store: &Store, rtype: &ResourceType, ns: &str, name: &str) -> Result<(u16, Value), Failure> {
    store
        .read(|inner| inner.get(rtype, ns, name).cloned())
        .map(|object| (200, object))
        .ok_or_else(|| status::not_found(rtype, None, name))
}

fn create(
    store: &Store,
    rtype: &ResourceType,
    ns: &str,
    body: &[u8],
) -> Result<(u16, Value), Failure> {
    let mut object = parse_object(body, rtype.kind)?;
    check_type(rtype, &mut object)?;
    check_namespace(&object, ns)?;
    if rtype.status_subresource {
        if let Value::Object(fields) = &mut object {
            fields.remove("status");
        }
    }
    store.with(|inner| {
        let name = choose_name(inner, rtype, ns, &object)?;
        meta_mut(&mut object).insert("name".into(), Value::from(name.clone()));
        validate(rtype, &name, &object)?;
        if inner.get(rtype, ns, &name).is_some() {
            return Err(status::already_exists(rtype, &name));
        }
        Ok((201, inner.create(rtype, ns, object)))
    })
}

/// `metadata.name`, or `generateName` plus five random characters.
fn choose_name(
    inner: &mut Inner,
    rtype: &ResourceType,
    ns: &str,
    object: &Value,
) -> Result<String, Failure> {
    if let Some(name) = meta_str(object, "name").filter(|n| !n.is_empty()) {
        return Ok(name.to_string());
    }
    let Some(prefix) = meta_str(object, "generateName").filter(|p| !p.is_empty()) else {
        let cause = (
            "metadata.name",
            "FieldValueRequired",
            "Required value: name or generateName is required".to_string(),
        );
        return Err(status::invalid(rtype.kind, rtype.group, "", &[cause]));
    };
    // A clash is astronomically unlikely; a few tries make it impossible in a test.
    for _ in 0..8 {
        let name = format!("{prefix}{}", inner.ids.name_suffix());
        if inner.get(rtype, ns, &name).is_none() {
            return Ok(name);
        }
    }
    Err(status::already_exists(rtype, prefix))
}

/// What an update of `sub` may change: the main resource keeps the stored
/// status (where there is a status subresource), `/status` keeps everything
/// but the status.
fn separate(rtype: &ResourceType, sub: Option<&str>, current: &Value, incoming: Value) -> Value {
    let (mut next, status_from) = match sub {
        Some(_) => (current.clone(), incoming),
        None if rtype.status_subresource => (incoming, current.clone()),
        None => return incoming,
    };
    if let Value::Object(fields) = &mut next {
        match status_from.get("status") {
            Some(status) => fields.insert("status".into(), status.clone()),
            None => fields.remove("status"),
        };
    }
    next
}

fn update(
    store: &Store,
    rtype: &ResourceType,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    body: &[u8],
) -> Result<(u16, Value), Failure> {
    let mut object = parse_object(body, rtype.kind)?;
    check_type(rtype, &mut object)?;
    check_namespace(&object, ns)?;
    check_name(&object, name)?;
    store.with(|inner| {
        let current = inner
            .get(rtype, ns, name)
            .cloned()
            .ok_or_else(|| status::not_found(rtype, None, name))?;
        check_version_given(rtype, name, &object)?;
        check_precondition(rtype, name, &object, &current)?;
        write(
            inner,
            rtype,
            ns,
            name,
            separate(rtype, sub, &current, object),
        )
    })
}

fn patch(
    store: &Store,
    rtype: &ResourceType,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    body: &[u8],
) -> Result<(u16, Value), Failure> {
    let changes = parse_object(body, rtype.kind)?;
    store.with(|inner| {
        let current = inner
            .get(rtype, ns, name)
            .cloned()
            .ok_or_else(|| status::not_found(rtype, None, name))?;
        check_precondition(rtype, name, &changes, &current)?;
        let mut merged = current.clone();
        merge_patch(&mut merged, &changes);
        check_type(rtype, &mut merged)?;
        check_namespace(&merged, ns)?;
        check_name(&merged, name)?;
        write(
            inner,
            rtype,
            ns,
            name,
            separate(rtype, sub, &current, merged),
        )
    })
}

fn write(
    inner: &mut Inner,
    rtype: &ResourceType,
    ns: &str,
    name: &str,
    next: Value,
) -> Result<(u16, Value), Failure> {
    validate(rtype, name, &next)?;
    inner
        .update(rtype, ns, name, next)
        .map(|stored| (200, stored))
        .ok_or_else(|| status::not_found(rtype, None, name))
}

/// Custom resources and most built-ins answer a delete with a Success
/// Status (fixture memhpa-delete); pods, deleted gracefully, with the object.
fn delete(
    store: &Store,
    rtype: &ResourceType,
    ns: &str,
    name: &str,
) -> Result<(u16, Value), Failure> {
    let object = store
        .with(|inner| inner.delete(rtype, ns, name))
        .ok_or_else(|| status::not_found(rtype, None, name))?;
    if std::ptr::eq(rtype, &PODS) {
        return Ok((200, object));
    }
    let uid = meta_str(&object, "uid").unwrap_or("");
    Ok((200, status::deleted(rtype, name, uid)))
}
