//! The resource types the fake serves and how request paths map onto them,
//! as kube-apiserver lays them out: `/api/v1/...` for the core group,
//! `/apis/{group}/{version}/...` for the others, each either cluster-wide
//! (`/{plural}`, list and watch across namespaces) or under
//! `/namespaces/{ns}/{plural}[/{name}[/{subresource}]]`.

/// What the fake knows about one resource type.
#[derive(Debug)]
pub struct ResourceType {
    pub plural: &'static str,
    /// `""` for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// Served from a CRD: its lists are unstructured and carry `continue: ""`
    /// (compare fixtures memhpa-list-* with pods-list-by-selector).
    pub custom: bool,
    /// Has a `/status` subresource: the main resource then ignores status
    /// and `/status` ignores everything else (API conventions, "Spec and Status").
    pub status_subresource: bool,
    /// Keeps `metadata.generation`, bumped on every spec change.
    pub tracks_generation: bool,
    /// Has a `/scale` subresource (autoscaling/v1 Scale).
    pub scalable: bool,
    /// A PUT without `metadata.resourceVersion` overwrites. Custom resources
    /// and Leases refuse one (their strategies' AllowUnconditionalUpdate is
    /// false): 422 "must be specified for an update".
    pub unconditional_update: bool,
}

impl ResourceType {
    /// `memhpa.io/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `memhpas.memhpa.io`, `deployments.apps`, `pods`: how the server names
    /// the resource in messages.
    pub fn qualified(&self) -> String {
        qualify(self.plural, self.group)
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
}

/// `resource.group`, or just `resource` in the core group.
pub fn qualify(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

const fn builtin(
    plural: &'static str,
    group: &'static str,
    version: &'static str,
    kind: &'static str,
) -> ResourceType {
    ResourceType {
        plural,
        group,
        version,
        kind,
        custom: false,
        status_subresource: false,
        tracks_generation: false,
        scalable: false,
        unconditional_update: true,
    }
}

const fn workload(plural: &'static str, group: &'static str, kind: &'static str) -> ResourceType {
    ResourceType {
        status_subresource: true,
        tracks_generation: true,
        scalable: true,
        ..builtin(plural, group, "v1", kind)
    }
}

pub static MEMHPAS: ResourceType = ResourceType {
    custom: true,
    unconditional_update: false,
    status_subresource: true,
    tracks_generation: true,
    ..builtin("memhpas", "memhpa.io", "v1", "MemHpa")
};
pub static DEPLOYMENTS: ResourceType = workload("deployments", "apps", "Deployment");
pub static STATEFULSETS: ResourceType = workload("statefulsets", "apps", "StatefulSet");
pub static REPLICASETS: ResourceType = workload("replicasets", "apps", "ReplicaSet");
pub static REPLICATIONCONTROLLERS: ResourceType =
    workload("replicationcontrollers", "", "ReplicationController");
pub static PODS: ResourceType = ResourceType {
    status_subresource: true,
    ..builtin("pods", "", "v1", "Pod")
};
pub static EVENTS: ResourceType = builtin("events", "", "v1", "Event");
pub static LEASES: ResourceType = ResourceType {
    unconditional_update: false,
    ..builtin("leases", "coordination.k8s.io", "v1", "Lease")
};

static ALL: [&ResourceType; 8] = [
    &MEMHPAS,
    &DEPLOYMENTS,
    &STATEFULSETS,
    &REPLICASETS,
    &REPLICATIONCONTROLLERS,
    &PODS,
    &EVENTS,
    &LEASES,
];

/// A request path taken apart.
#[derive(Debug, Clone)]
pub struct Route {
    pub rtype: &'static ResourceType,
    /// `None` for the cluster-wide collection.
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// `status` or `scale`.
    pub subresource: Option<String>,
}

/// The route of `path`, or `None` when the fake serves nothing there.
pub fn parse(path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, plural, name, subresource) = match rest {
        [plural] => (None, *plural, None, None),
        ["namespaces", ns, plural] => (Some(*ns), *plural, None, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name), None),
        ["namespaces", ns, plural, name, sub] => (Some(*ns), *plural, Some(*name), Some(*sub)),
        _ => return None,
    };
    let rtype = ALL
        .iter()
        .copied()
        .find(|t| t.group == group && t.version == version && t.plural == plural)?;
    let subresource_served = match subresource {
        None => true,
        Some("status") => rtype.status_subresource,
        Some("scale") => rtype.scalable,
        Some(_) => false,
    };
    subresource_served.then(|| Route {
        rtype,
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
        subresource: subresource.map(str::to_string),
    })
}
