//! The pods of the watched namespaces, kept from a list and a watch so that
//! a reconcile reads its target's pods without a request (as Kubernetes'
//! HPA reads them from a shared informer).
//!
//! Only what the replica calculator reads is kept: the name, the labels, the
//! phase, whether a deletion began, and each container's name and memory
//! limit and request. The pods of one ReplicaSet share their labels and
//! their containers, so both are interned: a pod costs its name and four
//! words beside them (about 250 bytes with the reflector's resourceVersion).
//!
//! Until the first list is complete the cache answers nothing
//! ([`PodCache::pods`] is `None`) and the caller lists from the server: a
//! decision on an empty pod set would scale to the floor.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use super::reflector::Change;
use super::selector::LabelSelector;
use crate::api::{Container, ObjectMeta, Pod, PodSpec, PodStatus, ResourceRequirements};

// Thin pointers (one word, where `Arc<[T]>` takes two): they are in every
// pod, and what they point at is shared.
type Labels = Arc<Vec<(Box<str>, Box<str>)>>;
type Containers = Arc<Vec<SlimContainer>>;

/// A container as the calculator reads it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SlimContainer {
    name: Box<str>,
    limit: Option<Quantity>,
    request: Option<Quantity>,
}

/// A memory quantity as it came (a string, or a bare number), so that the
/// pod handed back parses exactly as the listed one would.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Quantity {
    Text(Box<str>),
    Number(serde_json::Number),
    /// Anything else: kept as text so that parsing fails as it would have.
    Other(Box<str>),
}

impl Quantity {
    fn of(value: &serde_json::Value) -> Quantity {
        match value {
            serde_json::Value::String(s) => Quantity::Text(s.as_str().into()),
            serde_json::Value::Number(n) => Quantity::Number(n.clone()),
            other => Quantity::Other(other.to_string().into()),
        }
    }

    fn value(&self) -> serde_json::Value {
        match self {
            Quantity::Text(s) => serde_json::Value::String(s.to_string()),
            Quantity::Number(n) => serde_json::Value::Number(n.clone()),
            Quantity::Other(raw) => serde_json::from_str(raw)
                .unwrap_or_else(|_| serde_json::Value::String(raw.to_string())),
        }
    }
}

/// `status.phase`, without an allocation for the five known ones.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Absent,
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
    Other(Box<str>),
}

impl Phase {
    fn of(phase: Option<&str>) -> Phase {
        match phase {
            None => Phase::Absent,
            Some("Pending") => Phase::Pending,
            Some("Running") => Phase::Running,
            Some("Succeeded") => Phase::Succeeded,
            Some("Failed") => Phase::Failed,
            Some("Unknown") => Phase::Unknown,
            Some(other) => Phase::Other(other.into()),
        }
    }

    fn text(&self) -> Option<String> {
        let text = match self {
            Phase::Absent => return None,
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
            Phase::Unknown => "Unknown",
            Phase::Other(other) => other,
        };
        Some(text.to_string())
    }
}

#[derive(Debug, Clone)]
struct SlimPod {
    labels: Labels,
    phase: Phase,
    deletion_timestamp: Option<Box<str>>,
    containers: Containers,
}

/// Which namespaces the cache holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Namespace(String),
}

/// The pods of one namespace, and how many hold each label set: a selector
/// is matched once per label set (one per ReplicaSet, about), and the pods
/// are then picked by which set they hold, a pointer comparison.
#[derive(Debug, Default)]
struct Namespace {
    pods: BTreeMap<Box<str>, SlimPod>,
    groups: HashMap<Labels, usize>,
}

#[derive(Debug, Default)]
struct Inner {
    synced: bool,
    abandoned: bool,
    pods: usize,
    namespaces: HashMap<Box<str>, Namespace>,
    labels: HashSet<Labels>,
    containers: HashSet<Containers>,
}

/// Shared by the pod watch (which writes) and the reconciles (which read).
#[derive(Debug)]
pub struct PodCache {
    scope: Scope,
    inner: Mutex<Inner>,
}

impl PodCache {
    pub fn new(scope: Scope) -> PodCache {
        PodCache {
            scope,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The pods of `namespace` that `selector` matches, sorted by name as a
    /// LIST returns them, with what the calculator reads (no labels, uid or
    /// resourceVersion); `None` while the cache cannot answer for that
    /// namespace (not synced yet, or outside the watched one).
    pub fn pods(&self, namespace: &str, selector: &LabelSelector) -> Option<Vec<Pod>> {
        if let Scope::Namespace(ns) = &self.scope {
            if ns != namespace {
                return None;
            }
        }
        let inner = crate::shutdown::lock(&self.inner);
        if !inner.synced {
            return None;
        }
        let Some(ns) = inner.namespaces.get(namespace) else {
            return Some(Vec::new());
        };
        let wanted: Vec<&Labels> = ns
            .groups
            .keys()
            .filter(|labels| {
                selector
                    .matches_with(|key| labels.iter().find(|(k, _)| &**k == key).map(|(_, v)| &**v))
            })
            .collect();
        if wanted.is_empty() {
            return Some(Vec::new());
        }
        let matched = ns
            .pods
            .iter()
            .filter(|(_, pod)| wanted.iter().any(|w| Arc::ptr_eq(w, &pod.labels)))
            .map(|(name, pod)| to_pod(namespace, name, pod))
            .collect();
        Some(matched)
    }

    /// Applies what the reflector said changed.
    pub fn apply(&self, changes: Vec<Change<Pod>>) {
        let mut inner = crate::shutdown::lock(&self.inner);
        for change in changes {
            match change {
                Change::Applied(pod) => inner.insert(&pod),
                Change::Deleted(key) => inner.remove(&key),
            }
        }
    }

    /// The first list is complete: the cache may answer from now on. It is
    /// never unset: while the watch is down the cache serves what it last
    /// knew, as an informer does, and the watch catches up when it is back.
    pub fn set_synced(&self) {
        let mut inner = crate::shutdown::lock(&self.inner);
        inner.synced = !inner.abandoned;
    }

    /// The cache stops answering for good, and lets go of what it held:
    /// it grew past what it may hold, and the reconciles list instead.
    pub fn abandon(&self) {
        let mut inner = crate::shutdown::lock(&self.inner);
        *inner = Inner::default();
        inner.abandoned = true;
    }

    pub fn is_abandoned(&self) -> bool {
        crate::shutdown::lock(&self.inner).abandoned
    }

    pub fn is_synced(&self) -> bool {
        crate::shutdown::lock(&self.inner).synced
    }

    /// How many pods are held.
    pub fn len(&self) -> usize {
        crate::shutdown::lock(&self.inner).pods
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Namespace {
    /// Counts a pod that held `old`'s labels out of their group.
    fn ungroup(&mut self, old: &SlimPod) {
        if let Some(count) = self.groups.get_mut(&old.labels) {
            *count -= 1;
            if *count == 0 {
                self.groups.remove(&old.labels);
            }
        }
    }
}

impl Inner {
    fn insert(&mut self, pod: &Pod) {
        let meta = &pod.metadata;
        let (Some(namespace), Some(name)) = (meta.namespace.as_deref(), meta.name.as_deref())
        else {
            // The reflector drops these; nothing to key it by.
            return;
        };
        let labels: Labels = Arc::new(
            meta.labels
                .iter()
                .map(|(k, v)| (Box::from(k.as_str()), Box::from(v.as_str())))
                .collect(),
        );
        let labels = intern(&mut self.labels, labels);
        let containers: Containers =
            Arc::new(pod.spec.containers.iter().map(slim_container).collect());
        let containers = intern(&mut self.containers, containers);
        let slim = SlimPod {
            labels,
            phase: Phase::of(pod.status.phase.as_deref()),
            deletion_timestamp: meta.deletion_timestamp.as_deref().map(Box::from),
            containers,
        };
        let ns = self.namespaces.entry(namespace.into()).or_default();
        *ns.groups.entry(Arc::clone(&slim.labels)).or_default() += 1;
        let old = ns.pods.insert(name.into(), slim);
        match old {
            Some(old) => {
                ns.ungroup(&old);
                self.release(old);
            }
            None => self.pods += 1,
        }
    }

    fn remove(&mut self, key: &str) {
        let Some((namespace, name)) = key.split_once('/') else {
            return;
        };
        let Some(ns) = self.namespaces.get_mut(namespace) else {
            return;
        };
        let old = ns.pods.remove(name);
        if let Some(old) = &old {
            ns.ungroup(old);
        }
        if ns.pods.is_empty() {
            self.namespaces.remove(namespace);
        }
        if let Some(old) = old {
            self.pods -= 1;
            self.release(old);
        }
    }

    /// Forgets interned parts no pod holds any more: the set's copy and
    /// `old`'s are then the last two.
    fn release(&mut self, old: SlimPod) {
        if Arc::strong_count(&old.labels) == 2 {
            self.labels.remove(&old.labels);
        }
        if Arc::strong_count(&old.containers) == 2 {
            self.containers.remove(&old.containers);
        }
    }
}

fn intern<T: ?Sized + Eq + std::hash::Hash>(set: &mut HashSet<Arc<T>>, value: Arc<T>) -> Arc<T> {
    match set.get(&value) {
        Some(known) => Arc::clone(known),
        None => {
            set.insert(Arc::clone(&value));
            value
        }
    }
}

fn slim_container(c: &Container) -> SlimContainer {
    SlimContainer {
        name: c.name.as_str().into(),
        limit: c.resources.limits.get("memory").map(Quantity::of),
        request: c.resources.requests.get("memory").map(Quantity::of),
    }
}

fn to_pod(namespace: &str, name: &str, pod: &SlimPod) -> Pod {
    let memory = |q: &Option<Quantity>| {
        q.iter()
            .map(|q| ("memory".to_string(), q.value()))
            .collect::<BTreeMap<_, _>>()
    };
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            deletion_timestamp: pod.deletion_timestamp.as_deref().map(str::to_string),
            // The selector already matched; the calculator reads no label,
            // and a label map costs each of a job's pods half a KiB.
            ..ObjectMeta::default()
        },
        spec: PodSpec {
            containers: pod
                .containers
                .iter()
                .map(|c| Container {
                    name: c.name.to_string(),
                    resources: ResourceRequirements {
                        limits: memory(&c.limit),
                        requests: memory(&c.request),
                    },
                })
                .collect(),
        },
        status: PodStatus {
            phase: pod.phase.text(),
        },
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use serde_json::json;

    fn pod(ns: &str, name: &str, app: &str, phase: &str, limit: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"namespace": ns, "name": name, "labels": {"app": app},
                         "resourceVersion": "5", "uid": "u"},
            "spec": {"containers": [{"name": "app", "image": "x",
                     "resources": {"limits": {"memory": limit, "cpu": "1"},
                                   "requests": {"memory": "50Mi"}}}]},
            "status": {"phase": phase, "qosClass": "Burstable"}
        }))
        .expect("test pod decodes")
    }

    fn selector(text: &str) -> LabelSelector {
        LabelSelector::parse(text).expect("selector")
    }

    fn applied(pods: Vec<Pod>) -> Vec<Change<Pod>> {
        pods.into_iter()
            .map(|p| Change::Applied(Arc::new(p)))
            .collect()
    }

    #[test]
    fn answers_nothing_until_synced() {
        let cache = PodCache::new(Scope::All);
        cache.apply(applied(vec![pod(
            "a",
            "web-1",
            "web",
            "Running",
            json!("100Mi"),
        )]));
        assert_eq!(cache.pods("a", &selector("app=web")), None);
        cache.set_synced();
        assert_eq!(
            cache.pods("a", &selector("app=web")).map(|p| p.len()),
            Some(1)
        );
    }

    #[test]
    fn gives_back_what_the_calculator_reads_by_selector_and_namespace() {
        let cache = PodCache::new(Scope::All);
        let mut deleting = pod("a", "web-0", "web", "Running", json!(104857600));
        deleting.metadata.deletion_timestamp = Some("2026-01-01T00:00:00Z".into());
        cache.apply(applied(vec![
            pod("a", "web-2", "web", "Pending", json!("100Mi")),
            deleting,
            pod("a", "api-1", "api", "Running", json!("1Gi")),
            pod("b", "web-1", "web", "Running", json!("100Mi")),
        ]));
        cache.set_synced();
        let pods = cache.pods("a", &selector("app=web")).expect("synced");
        let names: Vec<_> = pods
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["web-0", "web-2"], "sorted by name, as a LIST");
        assert!(pods[0].metadata.deletion_timestamp.is_some());
        assert_eq!(
            pods[0].spec.containers[0].resources.memory_limit(),
            Ok(Some(100 << 20))
        );
        assert_eq!(pods[1].status.phase.as_deref(), Some("Pending"));
        assert_eq!(
            pods[1].spec.containers[0].resources.memory_request(),
            Ok(Some(50 << 20))
        );
        assert!(!pods[1].spec.containers[0]
            .resources
            .limits
            .contains_key("cpu"));
        assert_eq!(cache.pods("c", &selector("app=web")), Some(Vec::new()));
    }

    #[test]
    fn changes_and_deletions_replace_and_remove() {
        let cache = PodCache::new(Scope::All);
        cache.set_synced();
        cache.apply(applied(vec![
            pod("a", "web-1", "web", "Pending", json!("100Mi")),
            pod("a", "web-2", "web", "Running", json!("100Mi")),
        ]));
        cache.apply(applied(vec![pod(
            "a",
            "web-1",
            "web",
            "Running",
            json!("200Mi"),
        )]));
        cache.apply(vec![Change::Deleted("a/web-2".into())]);
        let pods = cache.pods("a", &selector("app=web")).expect("synced");
        assert_eq!(pods.len(), 1);
        assert_eq!(pods[0].status.phase.as_deref(), Some("Running"));
        assert_eq!(
            pods[0].spec.containers[0].resources.memory_limit(),
            Ok(Some(200 << 20))
        );
        assert_eq!(cache.len(), 1);
        cache.apply(vec![Change::Deleted("a/web-1".into())]);
        let inner = crate::shutdown::lock(&cache.inner);
        assert!(inner.namespaces.is_empty());
        assert!(inner.labels.is_empty(), "interned labels are released");
        assert!(
            inner.containers.is_empty(),
            "interned containers are released"
        );
    }

    #[test]
    fn a_namespaced_cache_does_not_answer_for_another_namespace() {
        let cache = PodCache::new(Scope::Namespace("a".into()));
        cache.set_synced();
        assert_eq!(cache.pods("a", &selector("app=web")), Some(Vec::new()));
        assert_eq!(cache.pods("b", &selector("app=web")), None);
    }

    #[test]
    fn pods_of_one_template_share_their_parts() {
        let cache = PodCache::new(Scope::All);
        cache.apply(applied(
            (0..50)
                .map(|i| pod("a", &format!("web-{i}"), "web", "Running", json!("100Mi")))
                .collect(),
        ));
        let inner = crate::shutdown::lock(&cache.inner);
        assert_eq!(inner.labels.len(), 1);
        assert_eq!(inner.containers.len(), 1);
        assert_eq!(inner.pods, 50);
    }

    #[test]
    fn a_pod_whose_labels_change_answers_to_its_new_selector_only() {
        let cache = PodCache::new(Scope::All);
        cache.set_synced();
        cache.apply(applied(vec![
            pod("a", "x-1", "web", "Running", json!("100Mi")),
            pod("a", "x-2", "web", "Running", json!("100Mi")),
        ]));
        cache.apply(applied(vec![pod(
            "a",
            "x-1",
            "api",
            "Running",
            json!("100Mi"),
        )]));
        let names = |sel: &str| -> Vec<String> {
            cache
                .pods("a", &selector(sel))
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| p.metadata.name)
                .collect()
        };
        assert_eq!(names("app=web"), ["x-2"]);
        assert_eq!(names("app=api"), ["x-1"]);
        assert_eq!(names("app"), ["x-1", "x-2"], "sorted across label sets");
        cache.apply(vec![Change::Deleted("a/x-2".into())]);
        assert!(names("app=web").is_empty());
        let inner = crate::shutdown::lock(&cache.inner);
        assert_eq!(inner.namespaces["a"].groups.len(), 1);
        assert_eq!(inner.labels.len(), 1);
    }
}
