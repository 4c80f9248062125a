//! What a test reads and writes directly, without HTTP and without auth.
//! Writes go through the same store as requests: they bump the
//! resourceVersion and appear on watches. Misuse (a memhpa without a name, an
//! update of a missing one) panics with a message: these are test helpers.

use serde_json::{json, Map, Value};

use super::routes::{
    ResourceType, DEPLOYMENTS, EVENTS, LEASES, MEMHPAS, PODS, REPLICASETS, REPLICATIONCONTROLLERS,
    STATEFULSETS,
};
use super::store::{meta_str, Inner};
use super::FakeApiServer;

/// The kinds with a `/scale` subresource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Deployment,
    StatefulSet,
    ReplicaSet,
    ReplicationController,
}

impl Workload {
    fn rtype(self) -> &'static ResourceType {
        match self {
            Workload::Deployment => &DEPLOYMENTS,
            Workload::StatefulSet => &STATEFULSETS,
            Workload::ReplicaSet => &REPLICASETS,
            Workload::ReplicationController => &REPLICATIONCONTROLLERS,
        }
    }

    /// As a scaleTargetRef spells it: `Deployment`.
    pub fn kind(self) -> &'static str {
        self.rtype().kind
    }

    /// `apps/v1`, or `v1` for ReplicationController.
    pub fn api_version(self) -> String {
        self.rtype().api_version()
    }

    /// `deployments`, as in the URL.
    pub fn plural(self) -> &'static str {
        self.rtype().plural
    }

    /// The `/scale` path of `ns/name`.
    pub fn scale_path(self, ns: &str, name: &str) -> String {
        let rtype = self.rtype();
        let prefix = if rtype.group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{}", rtype.api_version())
        };
        format!("{prefix}/namespaces/{ns}/{}/{name}/scale", rtype.plural)
    }
}

/// Creates or replaces, keeping uid and creationTimestamp of an existing one.
fn upsert(inner: &mut Inner, rtype: &ResourceType, ns: &str, object: Value) -> Value {
    let name = meta_str(&object, "name")
        .unwrap_or_else(|| panic!("a {} needs metadata.name", rtype.kind))
        .to_string();
    if inner.get(rtype, ns, &name).is_some() {
        inner
            .update(rtype, ns, &name, object)
            .unwrap_or_else(|| panic!("{} {ns}/{name} vanished", rtype.kind))
    } else {
        inner.create(rtype, ns, object)
    }
}

/// Fills `apiVersion` and `kind` when absent.
fn typed(rtype: &ResourceType, mut object: Value) -> Value {
    if object.get("apiVersion").is_none() {
        object["apiVersion"] = Value::from(rtype.api_version());
    }
    if object.get("kind").is_none() {
        object["kind"] = Value::from(rtype.kind);
    }
    object
}

fn labels(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect()
}

impl FakeApiServer {
    /// Creates or replaces a workload with `replicas` (spec and status) and
    /// a selector of `match_labels` (`matchLabels`; a plain map for a
    /// ReplicationController). Returns the stored object.
    pub fn put_workload(
        &self,
        kind: Workload,
        ns: &str,
        name: &str,
        replicas: i64,
        match_labels: &[(&str, &str)],
    ) -> Value {
        let labels = labels(match_labels);
        let selector = match kind {
            Workload::ReplicationController => Value::Object(labels.clone()),
            _ => json!({ "matchLabels": labels }),
        };
        let object = json!({
            "apiVersion": kind.api_version(),
            "kind": kind.kind(),
            "metadata": { "name": name, "namespace": ns },
            "spec": {
                "replicas": replicas,
                "selector": selector,
                "template": { "metadata": { "labels": labels } },
            },
            "status": { "replicas": replicas },
        });
        self.shared()
            .store
            .with(|inner| upsert(inner, kind.rtype(), ns, object))
    }

    /// [`FakeApiServer::put_workload`] for a Deployment.
    pub fn put_deployment(
        &self,
        ns: &str,
        name: &str,
        replicas: i64,
        match_labels: &[(&str, &str)],
    ) -> Value {
        self.put_workload(Workload::Deployment, ns, name, replicas, match_labels)
    }

    pub fn workload(&self, kind: Workload, ns: &str, name: &str) -> Option<Value> {
        self.get(kind.rtype(), ns, name)
    }

    /// The workload's `spec.replicas`, what Scale writes change.
    pub fn scale_replicas(&self, kind: Workload, ns: &str, name: &str) -> Option<i64> {
        self.workload(kind, ns, name)?
            .get("spec")?
            .get("replicas")?
            .as_i64()
    }

    /// Deletes a workload (a "deleted target"); `false` if there was none.
    pub fn delete_workload(&self, kind: Workload, ns: &str, name: &str) -> bool {
        self.remove(kind.rtype(), ns, name)
    }

    /// Creates or replaces a pod, given as JSON with at least
    /// `metadata.name`; namespace, uid, resourceVersion are filled in and
    /// `status` is kept as given.
    pub fn put_pod(&self, ns: &str, pod: Value) -> Value {
        let pod = typed(&PODS, pod);
        self.shared()
            .store
            .with(|inner| upsert(inner, &PODS, ns, pod))
    }

    pub fn delete_pod(&self, ns: &str, name: &str) -> bool {
        self.remove(&PODS, ns, name)
    }

    /// Stores a new MemHpa (namespace from `metadata.namespace`, else
    /// `default`), status included if given, as if `kubectl apply`ed.
    /// Panics if it exists.
    pub fn create_memhpa(&self, memhpa: Value) -> Value {
        let ns = meta_str(&memhpa, "namespace")
            .unwrap_or("default")
            .to_string();
        let name = meta_str(&memhpa, "name")
            .unwrap_or_else(|| panic!("create_memhpa needs metadata.name"))
            .to_string();
        let memhpa = typed(&MEMHPAS, memhpa);
        self.shared().store.with(|inner| {
            assert!(
                inner.get(&MEMHPAS, &ns, &name).is_none(),
                "memhpa {ns}/{name} already exists"
            );
            inner.create(&MEMHPAS, &ns, memhpa)
        })
    }

    /// Edits a MemHpa's spec in place, as `kubectl edit` would: a changed
    /// spec bumps generation and resourceVersion. Panics if it is missing.
    pub fn update_memhpa_spec(&self, ns: &str, name: &str, edit: impl FnOnce(&mut Value)) -> Value {
        self.shared().store.with(|inner| {
            let mut memhpa = inner
                .get(&MEMHPAS, ns, name)
                .cloned()
                .unwrap_or_else(|| panic!("no memhpa {ns}/{name} to update"));
            if memhpa.get("spec").is_none() {
                memhpa["spec"] = json!({});
            }
            edit(&mut memhpa["spec"]);
            inner
                .update(&MEMHPAS, ns, name, memhpa)
                .unwrap_or_else(|| panic!("memhpa {ns}/{name} vanished"))
        })
    }

    pub fn delete_memhpa(&self, ns: &str, name: &str) -> bool {
        self.remove(&MEMHPAS, ns, name)
    }

    pub fn memhpa(&self, ns: &str, name: &str) -> Option<Value> {
        self.get(&MEMHPAS, ns, name)
    }

    /// Every MemHpa, in namespace/name order.
    pub fn memhpas(&self) -> Vec<Value> {
        self.all(&MEMHPAS, None)
    }

    /// The Events of namespace `ns`, in name order.
    pub fn events(&self, ns: &str) -> Vec<Value> {
        self.all(&EVENTS, Some(ns))
    }

    /// Creates or replaces a Lease (given with at least `metadata.name`).
    pub fn put_lease(&self, ns: &str, lease: Value) -> Value {
        let lease = typed(&LEASES, lease);
        self.shared()
            .store
            .with(|inner| upsert(inner, &LEASES, ns, lease))
    }

    pub fn lease(&self, ns: &str, name: &str) -> Option<Value> {
        self.get(&LEASES, ns, name)
    }

    /// The newest resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared().store.read(|inner| inner.rv())
    }

    /// Forgets the event history up to now: a later watch from an older
    /// version gets 410 Expired. Open watches keep going.
    pub fn compact(&self) {
        self.shared().store.with(|inner| inner.compact());
    }

    fn get(&self, rtype: &ResourceType, ns: &str, name: &str) -> Option<Value> {
        self.shared()
            .store
            .read(|inner| inner.get(rtype, ns, name).cloned())
    }

    fn all(&self, rtype: &ResourceType, ns: Option<&str>) -> Vec<Value> {
        self.shared()
            .store
            .read(|inner| inner.list(rtype, ns).into_iter().cloned().collect())
    }

    fn remove(&self, rtype: &ResourceType, ns: &str, name: &str) -> bool {
        self.shared()
            .store
            .with(|inner| inner.delete(rtype, ns, name))
            .is_some()
    }
}

/// A pod for [`FakeApiServer::put_pod`]: `labels`, `phase` (`Running`,
/// `Pending`, ...) and containers given as (name, memory limit, memory
/// request), quantities as strings (`"100Mi"`); `None` leaves one out.
pub fn pod(
    name: &str,
    labels: &[(&str, &str)],
    phase: &str,
    containers: &[(&str, Option<&str>, Option<&str>)],
) -> Value {
    let containers: Vec<Value> = containers
        .iter()
        .map(|(container, limit, request)| {
            let mut resources = Map::new();
            if let Some(limit) = limit {
                resources.insert("limits".into(), json!({ "memory": limit }));
            }
            if let Some(request) = request {
                resources.insert("requests".into(), json!({ "memory": request }));
            }
            json!({ "name": container, "image": "example.invalid/app:1", "resources": resources })
        })
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "labels": self::labels(labels) },
        "spec": { "containers": containers },
        "status": { "phase": phase },
    })
}
