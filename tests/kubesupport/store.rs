//! The fake's etcd: objects by (resource, namespace, name), one global
//! resourceVersion counter bumped on every write, and the event log watches
//! replay from.
//!
//! API conventions, "Concurrency Control and Consistency": resourceVersion is
//! opaque to clients, changes on every write of an object and is what
//! optimistic concurrency compares. As with etcd, the fake's versions are one
//! cluster-wide counter (as a decimal string), so a list's resourceVersion is
//! a point in the log that a watch can resume from (api-concepts, "Resource
//! versions" and "Efficient detection of changes").
//!
//! A write that changes nothing is not a write: like the real storage layer,
//! it keeps the old resourceVersion and emits no watch event.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Map, Value};

use super::ids::{now_rfc3339, Ids};
use super::routes::ResourceType;

/// The first version handed out. Well above 0, so that `"0"` ("any version")
/// and small numbers never name a real point in the log.
const FIRST_RV: u64 = 100;
/// The log keeps at most this many events; older ones are pruned as an
/// auto-compacting etcd would, so memory stays bounded in long tests.
const MAX_LOG: usize = 100_000;

/// (plural, namespace, name)
pub type Key = (&'static str, String, String);

/// The kind of a logged change, as a watch event's `type` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Modified,
    Deleted,
}

impl Change {
    pub fn word(self) -> &'static str {
        match self {
            Change::Added => "ADDED",
            Change::Modified => "MODIFIED",
            Change::Deleted => "DELETED",
        }
    }
}

/// One entry of the event log.
#[derive(Debug, Clone)]
pub struct Logged {
    pub rv: u64,
    pub plural: &'static str,
    pub namespace: String,
    pub change: Change,
    pub object: Value,
}

/// Events a live watch can no longer be given: the log was pruned past it.
#[derive(Debug)]
pub struct Pruned {
    pub oldest: u64,
}

#[derive(Debug)]
pub struct Inner {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    log: VecDeque<Logged>,
    /// A watch may start from this version or later; older ones get 410.
    compacted: u64,
    /// The version of the newest event dropped from the log.
    pruned: u64,
    pub ids: Ids,
}

fn key(rtype: &ResourceType, namespace: &str, name: &str) -> Key {
    (rtype.plural, namespace.to_string(), name.to_string())
}

/// `object.<field>` as a JSON object, made one (and `object` too) if it was
/// missing or something else, so writes into it can never panic.
pub fn object_mut<'a>(object: &'a mut Value, field: &str) -> &'a mut Map<String, Value> {
    if !object.is_object() {
        *object = Value::Object(Map::new());
    }
    let Value::Object(fields) = object else {
        unreachable!("object was just made a JSON object");
    };
    let inner = fields
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if !inner.is_object() {
        *inner = Value::Object(Map::new());
    }
    match inner {
        Value::Object(map) => map,
        _ => unreachable!("the field was just made a JSON object"),
    }
}

/// `object.metadata`, made an object if it was missing or not one.
pub fn meta_mut(object: &mut Value) -> &mut Map<String, Value> {
    object_mut(object, "metadata")
}

/// `metadata.<field>` as a string.
pub fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.get("metadata")?.get(field)?.as_str()
}

/// The object without `metadata` and `status`: what a generation counts.
fn desired_state(object: &Value) -> Value {
    let mut rest = object.clone();
    if let Value::Object(fields) = &mut rest {
        fields.remove("metadata");
        fields.remove("status");
    }
    rest
}

impl Inner {
    /// An empty store at the first resourceVersion.
    pub fn new() -> Inner {
        Inner {
            rv: FIRST_RV,
            objects: BTreeMap::new(),
            log: VecDeque::new(),
            compacted: 0,
            pruned: 0,
            ids: Ids::new(),
        }
    }

    /// The current (newest) resourceVersion.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    pub fn compacted(&self) -> u64 {
        self.compacted
    }

    pub fn get(&self, rtype: &ResourceType, namespace: &str, name: &str) -> Option<&Value> {
        self.objects.get(&key(rtype, namespace, name))
    }

    /// Objects of `rtype` in `namespace` (all namespaces for `None`), in
    /// namespace/name order.
    pub fn list(&self, rtype: &ResourceType, namespace: Option<&str>) -> Vec<&Value> {
        self.objects
            .iter()
            .filter(|((plural, ns, _), _)| {
                *plural == rtype.plural && namespace.map_or(true, |wanted| wanted == ns)
            })
            .map(|(_, object)| object)
            .collect()
    }

    /// Objects of `rtype` in `namespace` (all for `None`) whose
    /// `namespace/name` comes after `after`, in that order: the rest of a
    /// paged list.
    pub fn list_after(
        &self,
        rtype: &ResourceType,
        namespace: Option<&str>,
        after: Option<&str>,
    ) -> Vec<&Value> {
        let start: Key = match after.and_then(|a| a.split_once('/')) {
            Some((ns, name)) => (rtype.plural, ns.to_string(), format!("{name}\u{0}")),
            None => (
                rtype.plural,
                namespace.unwrap_or("").to_string(),
                String::new(),
            ),
        };
        self.objects
            .range(start..)
            .take_while(|((plural, _, _), _)| *plural == rtype.plural)
            .filter(|((_, ns, _), _)| namespace.map_or(true, |wanted| wanted == ns))
            .map(|(_, object)| object)
            .collect()
    }

    fn bump(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn log(&mut self, rtype: &ResourceType, namespace: &str, change: Change, object: &Value) {
        self.log.push_back(Logged {
            rv: self.rv,
            plural: rtype.plural,
            namespace: namespace.to_string(),
            change,
            object: object.clone(),
        });
        while self.log.len() > MAX_LOG {
            if let Some(old) = self.log.pop_front() {
                self.pruned = old.rv;
                self.compacted = self.compacted.max(old.rv);
            }
        }
    }

    /// Stores a new object: it gets a uid, a creationTimestamp, a fresh
    /// resourceVersion and (where counted) generation 1. The caller has
    /// checked that the name is free.
    pub fn create(&mut self, rtype: &ResourceType, namespace: &str, mut object: Value) -> Value {
        let rv = self.bump();
        let uid = self.ids.uid();
        let meta = meta_mut(&mut object);
        meta.insert("namespace".into(), Value::from(namespace));
        meta.insert("uid".into(), Value::from(uid));
        meta.insert("resourceVersion".into(), Value::from(rv.to_string()));
        meta.insert("creationTimestamp".into(), Value::from(now_rfc3339()));
        if rtype.tracks_generation {
            meta.insert("generation".into(), Value::from(1));
        } else {
            meta.remove("generation");
        }
        let name = meta_str(&object, "name").unwrap_or("").to_string();
        self.objects
            .insert(key(rtype, namespace, &name), object.clone());
        self.log(rtype, namespace, Change::Added, &object);
        object
    }

    /// Replaces a stored object. The server-owned metadata (uid,
    /// creationTimestamp, name, namespace, generation) is kept from the
    /// stored one; generation is bumped when the desired state changed. An
    /// update that changes nothing returns the stored object untouched.
    pub fn update(
        &mut self,
        rtype: &ResourceType,
        namespace: &str,
        name: &str,
        mut object: Value,
    ) -> Option<Value> {
        let current = self.get(rtype, namespace, name)?.clone();
        let generation = current
            .get("metadata")
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let bumped = desired_state(&object) != desired_state(&current);
        {
            let meta = meta_mut(&mut object);
            for field in [
                "uid",
                "creationTimestamp",
                "name",
                "namespace",
                "resourceVersion",
            ] {
                match current.get("metadata").and_then(|m| m.get(field)) {
                    Some(value) => meta.insert(field.into(), value.clone()),
                    None => meta.remove(field),
                };
            }
            if rtype.tracks_generation {
                let next = if bumped { generation + 1 } else { generation };
                meta.insert("generation".into(), Value::from(next));
            } else {
                meta.remove("generation");
            }
        }
        if object == current {
            return Some(current);
        }
        let rv = self.bump();
        meta_mut(&mut object).insert("resourceVersion".into(), Value::from(rv.to_string()));
        self.objects
            .insert(key(rtype, namespace, name), object.clone());
        self.log(rtype, namespace, Change::Modified, &object);
        Some(object)
    }

    /// Removes an object. The DELETED event carries its last state under a
    /// new resourceVersion (fixture memhpa-watch-stream).
    pub fn delete(&mut self, rtype: &ResourceType, namespace: &str, name: &str) -> Option<Value> {
        let mut object = self.objects.remove(&key(rtype, namespace, name))?;
        let rv = self.bump();
        meta_mut(&mut object).insert("resourceVersion".into(), Value::from(rv.to_string()));
        self.log(rtype, namespace, Change::Deleted, &object);
        Some(object)
    }

    /// Logged events of `plural` newer than `after`, or [`Pruned`] when some
    /// of them are gone from the log.
    pub fn events_after(
        &self,
        after: u64,
        plural: &str,
        namespace: Option<&str>,
    ) -> Result<Vec<Logged>, Pruned> {
        if after < self.pruned {
            return Err(Pruned {
                oldest: self.pruned,
            });
        }
        let start = self.log.partition_point(|event| event.rv <= after);
        Ok(self
            .log
            .range(start..)
            .filter(|event| {
                event.plural == plural && namespace.map_or(true, |ns| ns == event.namespace)
            })
            .cloned()
            .collect())
    }

    /// Objects of `rtype` in `namespace` (all for `None`) after `after` (a
    /// `namespace/name`), as they were at version `at`: what the real
    /// server's later pages serve, from the etcd snapshot of the first.
    /// [`Pruned`] when the log no longer holds what changed since.
    pub fn list_at(
        &self,
        rtype: &ResourceType,
        namespace: Option<&str>,
        after: Option<&str>,
        at: u64,
    ) -> Result<Vec<&Value>, Pruned> {
        let current = self.list_after(rtype, namespace, after);
        let since = self.events_after(at, rtype.plural, namespace)?;
        if since.is_empty() {
            return Ok(current);
        }
        let start = self.log.partition_point(|event| event.rv <= at);
        // The state at `at` of each key changed since: its last event up to
        // then, if the log still holds it; else it was created after `at`.
        let mut then: BTreeMap<(String, String), Option<&Value>> = BTreeMap::new();
        for event in &since {
            let key = name_key(&event.object);
            if then.contains_key(&key) || !is_after(&key, after) {
                continue;
            }
            let before = self
                .log
                .range(..start)
                .rev()
                .find(|e| e.plural == rtype.plural && name_key(&e.object) == key);
            let state = match (before, event.change) {
                (Some(e), _) if e.change != Change::Deleted => Some(&e.object),
                (Some(_), _) | (None, Change::Added) => None,
                (None, _) => {
                    return Err(Pruned {
                        oldest: self.pruned.max(self.compacted),
                    })
                }
            };
            then.insert(key, state);
        }
        let mut merged: BTreeMap<(String, String), &Value> = current
            .into_iter()
            .map(|o| (name_key(o), o))
            .filter(|(key, _)| !then.contains_key(key))
            .collect();
        merged.extend(then.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        Ok(merged.into_values().collect())
    }

    /// Forgets history up to now, like an etcd compaction: a watch that later
    /// asks for an older version gets 410. Open watches keep their place, as
    /// they do behind the real server's watch cache.
    pub fn compact(&mut self) {
        self.compacted = self.rv;
    }
}

fn name_key(object: &Value) -> (String, String) {
    let field = |f| meta_str(object, f).unwrap_or("").to_string();
    (field("namespace"), field("name"))
}

/// Whether `key` comes after the `namespace/name` a page ended at.
fn is_after(key: &(String, String), after: Option<&str>) -> bool {
    match after.and_then(|a| a.split_once('/')) {
        Some((ns, name)) => (key.0.as_str(), key.1.as_str()) > (ns, name),
        None => true,
    }
}

/// The store behind a lock, with a condition variable that wakes watches on
/// every write.
#[derive(Debug)]
pub struct Store {
    inner: Mutex<Inner>,
    changed: Condvar,
}

impl Store {
    pub fn new() -> Store {
        Store {
            inner: Mutex::new(Inner::new()),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking test thread must not wedge every other request.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` under the lock, then wakes the watches.
    pub fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let result = f(&mut self.lock());
        self.changed.notify_all();
        result
    }

    /// Reads under the lock.
    pub fn read<R>(&self, f: impl FnOnce(&Inner) -> R) -> R {
        f(&self.lock())
    }

    /// Blocks until the store moves past `rv`, or `timeout` passes.
    pub fn wait_past(&self, rv: u64, timeout: Duration) {
        let guard = self.lock();
        if guard.rv > rv {
            return;
        }
        let _ = self.changed.wait_timeout(guard, timeout);
    }
}
