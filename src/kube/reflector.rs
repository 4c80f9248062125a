//! The list/watch state machine, without I/O: it takes a list (whole, or page
//! by page) or one watch event, keeps the resourceVersion to resume from, and
//! says what changed or what the watching thread must do next.
//!
//! It holds no objects: the stores are elsewhere (the reconcile loop's
//! `controller::Dispatcher` for MemHpas, [`super::PodCache`] for pods), fed by
//! the [`Change`]s this returns. To tell a change from a repeat it needs only
//! each key's resourceVersion. The thread only reads lines and feeds them
//! here, so 410, BOOKMARK and ERROR handling is tested without sockets. One
//! machine serves every watched kind ([`Watched`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::{MemHpa, ObjectList, ObjectMeta, Pod, Status, WatchEvent};

/// A kind that is listed and watched.
pub trait Watched: DeserializeOwned + Serialize + Send + Sync + 'static {
    /// How logs name one object of the kind.
    const KIND: &'static str;
    fn meta(&self) -> &ObjectMeta;
}

impl Watched for MemHpa {
    const KIND: &'static str = "MemHpa";
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

impl Watched for Pod {
    const KIND: &'static str = "pod";
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

/// A change to the store. The object is shared, not copied: the loop's store
/// and every job hold the same allocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Change<T = MemHpa> {
    /// The object is new or changed.
    Applied(Arc<T>),
    /// The object under this `namespace/name` key is gone.
    Deleted(String),
}

/// What a watch event means for the watching thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Step<T = MemHpa> {
    /// Go on reading; these changes (maybe none) are for the store.
    Changes(Vec<Change<T>>),
    /// The resourceVersion is too old (410 Expired/Gone): list again.
    Relist,
    /// Something else went wrong in the stream: start a new watch from
    /// [`Reflector::resource_version`]. The string says why, for the log.
    Restart(String),
}

/// What is known of one key: its resourceVersion, and the list that last
/// saw it (to find, at the end of a relist, the keys it no longer holds).
#[derive(Debug, Clone)]
struct Known {
    version: Version,
    listed: u32,
}

/// A resourceVersion as kept per key: opaque to clients, but every server
/// hands out decimal numbers, kept without an allocation (a pod cache of
/// 100,000 keys saves as many).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Version {
    Absent,
    Number(u64),
    Text(Box<str>),
}

impl Version {
    fn of(text: Option<&str>) -> Version {
        match text {
            None => Version::Absent,
            // Only what prints back the same: no sign, no leading zero.
            Some(t)
                if t == "0" || (!t.starts_with('0') && t.bytes().all(|b| b.is_ascii_digit())) =>
            {
                t.parse()
                    .map_or_else(|_| Version::Text(t.into()), Version::Number)
            }
            Some(t) => Version::Text(t.into()),
        }
    }

    #[cfg(test)]
    fn text(&self) -> Option<String> {
        match self {
            Version::Absent => None,
            Version::Number(n) => Some(n.to_string()),
            Version::Text(t) => Some(t.to_string()),
        }
    }
}

/// The resourceVersion of each known object (by `namespace/name`), and the
/// one of the whole collection to resume the watch from.
#[derive(Debug, Clone)]
pub struct Reflector<T = MemHpa> {
    versions: BTreeMap<String, Known>,
    resource_version: Option<String>,
    /// Counts lists, so that a paged list marks what it saw in place rather
    /// than building a second map (at 100,000 pods that map would double the
    /// reflector's memory for the length of the list).
    list: u32,
    kind: std::marker::PhantomData<fn() -> T>,
}

impl<T> Default for Reflector<T> {
    fn default() -> Self {
        Reflector {
            versions: BTreeMap::new(),
            resource_version: None,
            list: 0,
            kind: std::marker::PhantomData,
        }
    }
}

impl Reflector {
    /// A MemHpa reflector; another kind's is `Reflector::<T>::default()`.
    pub fn new() -> Reflector {
        Reflector::default()
    }
}

impl<T: Watched> Reflector<T> {
    /// Replaces what is known with a fresh list: [`Reflector::list_page`] and
    /// [`Reflector::list_end`] in one, the deletions first.
    pub fn listed(&mut self, list: ObjectList<T>) -> Vec<Change<T>> {
        self.list_begin();
        let applied = self.list_page(list.items);
        let mut changes = self.list_end(list.metadata.resource_version);
        changes.extend(applied);
        changes
    }

    /// A list starts (again): pages follow, then [`Reflector::list_end`].
    /// A list that starts over midway (its continue token expired) begins
    /// again here, and what the broken one marked is simply marked again.
    pub fn list_begin(&mut self) {
        self.list = self.list.wrapping_add(1);
    }

    /// One page of the list: new objects and ones whose resourceVersion moved
    /// come out as `Applied`; unchanged ones stay silent.
    ///
    /// An item without a namespace or name is left out with a warning: nothing
    /// may be done on its behalf, and the others still count.
    pub fn list_page(&mut self, items: Vec<T>) -> Vec<Change<T>> {
        let mut changes = Vec::new();
        for item in items {
            let meta = item.meta();
            if let Some(missing) = missing_identity(meta.namespace.as_deref(), meta.name.as_deref())
            {
                let text = serde_json::to_string(&item).unwrap_or_default();
                log::warn!(
                    "skipping a listed {} with {missing}: {}",
                    T::KIND,
                    quoted(&text)
                );
                continue;
            }
            let key = meta.key();
            let version = Version::of(meta.resource_version.as_deref());
            let known = Known {
                version: version.clone(),
                listed: self.list,
            };
            let unchanged = match self.versions.insert(key, known) {
                Some(old) => version != Version::Absent && old.version == version,
                None => false,
            };
            if !unchanged {
                changes.push(Change::Applied(Arc::new(item)));
            }
        }
        changes
    }

    /// The list is complete at `resource_version`: objects it did not hold
    /// were deleted while no watch ran, and come out as `Deleted`.
    pub fn list_end(&mut self, resource_version: Option<String>) -> Vec<Change<T>> {
        let list = self.list;
        let mut changes = Vec::new();
        self.versions.retain(|key, known| {
            let kept = known.listed == list;
            if !kept {
                changes.push(Change::Deleted(key.clone()));
            }
            kept
        });
        self.resource_version = resource_version;
        changes
    }

    /// Applies one watch event.
    pub fn event(&mut self, event: WatchEvent) -> Step<T> {
        match event.type_.as_str() {
            "ADDED" | "MODIFIED" => self.applied(event.object),
            "DELETED" => self.deleted(event.object),
            "BOOKMARK" => match resource_version_of(&event.object) {
                Some(version) => {
                    self.resource_version = Some(version);
                    Step::Changes(Vec::new())
                }
                None => Step::Restart("a BOOKMARK event without metadata.resourceVersion".into()),
            },
            "ERROR" => {
                let step = error_step(event.object);
                if matches!(step, Step::Relist) {
                    // Too old to resume from: only a list can give a version now.
                    self.resource_version = None;
                }
                step
            }
            other => Step::Restart(format!("a watch event of unknown type {other:?}")),
        }
    }

    /// The version to watch from; `None` before the first list and after a
    /// `Relist`, when only a list can give one.
    pub fn resource_version(&self) -> Option<&str> {
        self.resource_version.as_deref()
    }

    /// How many objects are known (listed or watched, and not deleted since).
    pub fn len(&self) -> usize {
        self.versions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// Each known key's resourceVersion.
    #[cfg(test)]
    fn versions(&self) -> BTreeMap<String, Option<String>> {
        self.versions
            .iter()
            .map(|(k, v)| (k.clone(), v.version.text()))
            .collect()
    }

    fn applied(&mut self, object: serde_json::Value) -> Step<T> {
        let version = resource_version_of(&object);
        if let Err(missing) = raw_identity(&object) {
            return self.dropped(&object, missing, version);
        }
        let key = raw_key(&object);
        match T::deserialize(object) {
            Ok(item) => {
                self.resource_version = version.or(self.resource_version.take());
                let known = Known {
                    version: Version::of(item.meta().resource_version.as_deref()),
                    listed: self.list,
                };
                self.versions.insert(item.meta().key(), known);
                Step::Changes(vec![Change::Applied(Arc::new(item))])
            }
            // Restarting from the same version would replay the same object
            // for ever. With its key and version known, it is dropped from the
            // store (as a list drops it) and the stream goes on.
            Err(err) => match (key, version) {
                (Some(key), Some(version)) => {
                    log::warn!(
                        "{} {key} does not decode, treating it as gone: {err}",
                        T::KIND
                    );
                    self.resource_version = Some(version);
                    let removed = self.versions.remove(&key).is_some();
                    Step::Changes(if removed {
                        vec![Change::Deleted(key)]
                    } else {
                        Vec::new()
                    })
                }
                _ => Step::Restart(format!("a watch event object does not decode: {err}")),
            },
        }
    }

    fn deleted(&mut self, object: serde_json::Value) -> Step<T> {
        let version = resource_version_of(&object);
        let key = match raw_identity(&object) {
            Ok(key) => key,
            Err(missing) => return self.dropped(&object, missing, version),
        };
        if version.is_some() {
            self.resource_version = version;
        }
        match self.versions.remove(&key) {
            Some(_) => Step::Changes(vec![Change::Deleted(key)]),
            None => Step::Changes(Vec::new()),
        }
    }

    /// Skips an event whose object has no identity: acting on it would write
    /// to `namespaces//...`, and restarting the watch would replay it for
    /// ever. Its version, if any, still counts as seen.
    fn dropped(
        &mut self,
        object: &serde_json::Value,
        missing: &str,
        version: Option<String>,
    ) -> Step<T> {
        log::warn!(
            "skipping a watched {} with {missing}: {}",
            T::KIND,
            quoted(&object.to_string())
        );
        if version.is_some() {
            self.resource_version = version;
        }
        Step::Changes(Vec::new())
    }
}

/// How much of an object without identity a warning quotes.
const QUOTE_LIMIT: usize = 200;

fn quoted(text: &str) -> String {
    crate::quote::quote(text, QUOTE_LIMIT)
}

/// What identity an object lacks (`None`: it has a namespace and a name).
/// Every MemHpa is namespaced, so a missing namespace is as bad as a missing
/// name.
fn missing_identity(namespace: Option<&str>, name: Option<&str>) -> Option<&'static str> {
    match (namespace, name) {
        (None | Some(""), _) => Some("no metadata.namespace"),
        (_, None | Some("")) => Some("no metadata.name"),
        _ => None,
    }
}

/// The `namespace/name` key of a raw watch object, or what it lacks.
fn raw_identity(object: &serde_json::Value) -> Result<String, &'static str> {
    if !object.is_object() {
        return Err("an object that is not a JSON object");
    }
    let field = |name: &str| {
        object
            .pointer(&format!("/metadata/{name}"))
            .and_then(|value| value.as_str())
    };
    match missing_identity(field("namespace"), field("name")) {
        Some(missing) => Err(missing),
        None => Ok(format!(
            "{}/{}",
            field("namespace").unwrap_or_default(),
            field("name").unwrap_or_default()
        )),
    }
}

/// An in-stream ERROR: 410 (Expired or Gone) means relist; anything else,
/// restart the watch.
fn error_step<T>(object: serde_json::Value) -> Step<T> {
    let Ok(status) = serde_json::from_value::<Status>(object) else {
        return Step::Restart("an ERROR event whose object is not a Status".into());
    };
    let reason = status.reason.as_deref().unwrap_or("");
    if status.code == Some(410) || matches!(reason, "Expired" | "Gone") {
        return Step::Relist;
    }
    Step::Restart(format!(
        "the server sent an ERROR event: code {}, reason {reason:?}, message {:?}",
        status.code.unwrap_or(0),
        status.message.as_deref().unwrap_or("")
    ))
}

fn resource_version_of(object: &serde_json::Value) -> Option<String> {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(|value| value.as_str())
        .filter(|version| !version.is_empty())
        .map(str::to_string)
}

/// `namespace/name` from a raw object, as `ObjectMeta::key` makes it.
pub(crate) fn raw_key(object: &serde_json::Value) -> Option<String> {
    let field = |name: &str| {
        object
            .pointer(&format!("/metadata/{name}"))
            .and_then(|value| value.as_str())
    };
    let name = field("name").filter(|name| !name.is_empty())?;
    Some(format!("{}/{name}", field("namespace").unwrap_or("")))
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::api::ListMeta;
    use serde_json::json;

    fn hpa_json(name: &str, version: &str) -> serde_json::Value {
        json!({
            "apiVersion": "memhpa.io/v1", "kind": "MemHpa",
            "metadata": {"name": name, "namespace": "demo", "resourceVersion": version},
            "spec": {"maxReplicas": 5},
        })
    }

    fn hpa(name: &str, version: &str) -> MemHpa {
        serde_json::from_value(hpa_json(name, version)).expect("hpa")
    }

    fn list(version: &str, items: Vec<MemHpa>) -> ObjectList<MemHpa> {
        ObjectList {
            api_version: None,
            kind: None,
            metadata: ListMeta {
                resource_version: Some(version.into()),
                continue_: None,
            },
            items,
        }
    }

    fn event(type_: &str, object: serde_json::Value) -> WatchEvent {
        WatchEvent {
            type_: type_.into(),
            object,
        }
    }

    fn keys(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|change| match change {
                Change::Applied(hpa) => format!("applied {}", hpa.metadata.key()),
                Change::Deleted(key) => format!("deleted {key}"),
            })
            .collect()
    }

    #[test]
    fn first_list_applies_everything() {
        let mut reflector = Reflector::new();
        let changes = reflector.listed(list("10", vec![hpa("a", "5"), hpa("b", "6")]));
        assert_eq!(keys(&changes), ["applied demo/a", "applied demo/b"]);
        assert_eq!(reflector.resource_version(), Some("10"));
        assert_eq!(reflector.versions().len(), 2);
    }

    #[test]
    fn relist_reports_objects_deleted_during_the_gap() {
        let mut reflector = Reflector::new();
        reflector.listed(list("10", vec![hpa("a", "5"), hpa("b", "6")]));
        let changes = reflector.listed(list("20", vec![hpa("b", "6"), hpa("c", "19")]));
        assert_eq!(keys(&changes), ["deleted demo/a", "applied demo/c"]);
        assert!(!reflector.versions().contains_key("demo/a"));
        assert_eq!(reflector.resource_version(), Some("20"));
    }

    #[test]
    fn relist_applies_objects_changed_during_the_gap() {
        let mut reflector = Reflector::new();
        reflector.listed(list("10", vec![hpa("a", "5")]));
        let changes = reflector.listed(list("20", vec![hpa("a", "15")]));
        assert_eq!(keys(&changes), ["applied demo/a"]);
    }

    #[test]
    fn added_modified_deleted_move_the_store_and_version() {
        let mut reflector = Reflector::new();
        reflector.listed(list("10", Vec::new()));
        let step = reflector.event(event("ADDED", hpa_json("a", "11")));
        assert!(matches!(&step, Step::Changes(c) if keys(c) == ["applied demo/a"]));
        reflector.event(event("MODIFIED", hpa_json("a", "12")));
        assert_eq!(reflector.resource_version(), Some("12"));
        assert_eq!(reflector.versions()["demo/a"].as_deref(), Some("12"));
        let step = reflector.event(event("DELETED", hpa_json("a", "13")));
        assert!(matches!(&step, Step::Changes(c) if keys(c) == ["deleted demo/a"]));
        assert!(reflector.versions().is_empty());
        assert_eq!(reflector.resource_version(), Some("13"));
    }

    #[test]
    fn deleting_an_unknown_object_is_silent() {
        let mut reflector = Reflector::new();
        let step = reflector.event(event("DELETED", hpa_json("x", "3")));
        assert_eq!(step, Step::Changes(Vec::new()));
        assert_eq!(reflector.resource_version(), Some("3"));
    }

    #[test]
    fn bookmark_only_moves_the_version() {
        let mut reflector = Reflector::new();
        reflector.listed(list("10", vec![hpa("a", "5")]));
        let step = reflector.event(event(
            "BOOKMARK",
            json!({"kind": "MemHpa", "metadata": {"resourceVersion": "99"}}),
        ));
        assert_eq!(step, Step::Changes(Vec::new()));
        assert_eq!(reflector.resource_version(), Some("99"));
        assert_eq!(reflector.versions().len(), 1);
    }

    #[test]
    fn bookmark_without_version_restarts() {
        let mut reflector = Reflector::new();
        let step = reflector.event(event("BOOKMARK", json!({"metadata": {}})));
        assert!(matches!(step, Step::Restart(_)), "{step:?}");
    }

    #[test]
    fn expired_error_relists() {
        let mut reflector = Reflector::new();
        for status in [
            json!({"kind": "Status", "code": 410, "reason": "Expired"}),
            json!({"kind": "Status", "code": 410}),
            json!({"kind": "Status", "reason": "Gone"}),
        ] {
            assert_eq!(reflector.event(event("ERROR", status)), Step::Relist);
        }
    }

    #[test]
    fn other_error_restarts_with_the_message() {
        let mut reflector = Reflector::new();
        let step = reflector.event(event(
            "ERROR",
            json!({"kind": "Status", "code": 500, "reason": "InternalError", "message": "etcd down"}),
        ));
        assert!(
            matches!(&step, Step::Restart(why) if why.contains("etcd down") && why.contains("500")),
            "{step:?}"
        );
        let step = reflector.event(event("ERROR", json!("not a status")));
        assert!(matches!(step, Step::Restart(_)), "{step:?}");
    }

    #[test]
    fn unknown_type_restarts() {
        let mut reflector = Reflector::new();
        let step = reflector.event(event("SURPRISE", json!({})));
        assert!(matches!(&step, Step::Restart(why) if why.contains("SURPRISE")));
    }

    #[test]
    fn undecodable_object_with_a_key_is_dropped_and_the_stream_goes_on() {
        let mut reflector = Reflector::new();
        reflector.listed(list("10", vec![hpa("a", "5")]));
        let mut bad = hpa_json("a", "11");
        bad["spec"]["maxReplicas"] = json!("many");
        let step = reflector.event(event("MODIFIED", bad));
        assert!(matches!(&step, Step::Changes(c) if keys(c) == ["deleted demo/a"]));
        assert_eq!(reflector.resource_version(), Some("11"));
        assert!(reflector.versions().is_empty());
    }

    #[test]
    fn undecodable_object_without_a_key_is_dropped_and_the_stream_goes_on() {
        let mut reflector = Reflector::new();
        reflector.listed(list("10", Vec::new()));
        let step = reflector.event(event("ADDED", json!({"spec": {"maxReplicas": "x"}})));
        assert_eq!(step, Step::Changes(Vec::new()));
        assert_eq!(reflector.resource_version(), Some("10"));
    }

    #[test]
    fn watched_objects_without_identity_are_dropped() {
        let mut reflector = Reflector::new();
        reflector.listed(list("10", vec![hpa("a", "5")]));
        let no_namespace = json!({"metadata": {"name": "a", "resourceVersion": "11"}, "spec": {}});
        let empty_namespace =
            json!({"metadata": {"name": "a", "namespace": "", "resourceVersion": "12"}});
        let no_name = json!({"metadata": {"namespace": "demo", "resourceVersion": "13"}});
        let empty_name = json!({"metadata": {"namespace": "demo", "name": ""}});
        for (type_, object) in [
            ("ADDED", json!([])),
            ("ADDED", no_namespace),
            ("MODIFIED", empty_namespace),
            ("ADDED", no_name.clone()),
            ("MODIFIED", empty_name.clone()),
            ("DELETED", json!([])),
            ("DELETED", no_name),
            ("DELETED", empty_name),
            ("MODIFIED", json!("text")),
        ] {
            let step = reflector.event(event(type_, object.clone()));
            assert_eq!(step, Step::Changes(Vec::new()), "{type_} {object}");
        }
        assert_eq!(keys_of(&reflector), ["demo/a"], "nothing added or removed");
        assert_eq!(reflector.resource_version(), Some("13"), "versions seen");
    }

    #[test]
    fn a_list_with_one_item_without_identity_keeps_the_others() {
        let mut reflector = Reflector::new();
        let bad: Vec<MemHpa> = [
            json!([]),
            json!({"metadata": {"name": "x"}}),
            json!({"metadata": {"name": "x", "namespace": ""}}),
            json!({"metadata": {"namespace": "demo"}}),
        ]
        .into_iter()
        .map(|v| serde_json::from_value(v).expect("decodes as serde sees it"))
        .collect();
        let mut items = vec![hpa("a", "5")];
        items.extend(bad);
        items.push(hpa("b", "6"));
        let changes = reflector.listed(list("10", items));
        assert_eq!(keys(&changes), ["applied demo/a", "applied demo/b"]);
        assert_eq!(keys_of(&reflector), ["demo/a", "demo/b"]);
    }

    fn keys_of(reflector: &Reflector) -> Vec<String> {
        reflector.versions().keys().cloned().collect()
    }

    #[test]
    fn relist_forgets_the_version() {
        let mut reflector = Reflector::new();
        reflector.listed(list("10", vec![hpa("a", "5")]));
        let step = reflector.event(event("ERROR", json!({"code": 410, "reason": "Expired"})));
        assert_eq!(step, Step::Relist);
        assert_eq!(reflector.resource_version(), None);
        assert_eq!(
            reflector.versions().len(),
            1,
            "the store waits for the list"
        );
    }

    #[test]
    fn a_paged_relist_deletes_only_what_no_page_held() {
        let mut reflector = Reflector::new();
        reflector.listed(list(
            "10",
            vec![hpa("a", "5"), hpa("b", "6"), hpa("c", "7")],
        ));
        reflector.list_begin();
        let first = reflector.list_page(vec![hpa("a", "5")]);
        assert!(first.is_empty(), "unchanged: {:?}", keys(&first));
        // The continue token expired: the list starts over.
        reflector.list_begin();
        let again = reflector.list_page(vec![hpa("a", "5"), hpa("c", "17")]);
        assert_eq!(keys(&again), ["applied demo/c"]);
        let end = reflector.list_end(Some("20".into()));
        assert_eq!(keys(&end), ["deleted demo/b"]);
        assert_eq!(keys_of(&reflector), ["demo/a", "demo/c"]);
        assert_eq!(reflector.resource_version(), Some("20"));
    }

    #[test]
    fn versions_are_kept_as_they_came() {
        for text in [
            "0",
            "5",
            "18446744073709551615",
            "007",
            "-1",
            "12a",
            "",
            "18446744073709551616",
        ] {
            assert_eq!(
                Version::of(Some(text)).text().as_deref(),
                Some(text),
                "{text:?}"
            );
        }
        assert_eq!(Version::of(Some("42")), Version::Number(42));
        assert_eq!(Version::of(None), Version::Absent);
    }
}
