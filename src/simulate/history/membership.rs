//! Which pods belong to the workload: the kinds memhpa replays, their owner
//! queries in kube-state-metrics, and the name patterns used without them.
//!
//! Every name that goes into PromQL is escaped: for RE2 where it is part of a
//! regex, and always for the double-quoted string.

use std::fmt;

use crate::prom::{promql_string, regex_escape};

/// The controllers whose pods a replay can find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    ReplicaSet,
    ReplicationController,
}

impl WorkloadKind {
    pub const ALL: [WorkloadKind; 4] = [
        WorkloadKind::Deployment,
        WorkloadKind::StatefulSet,
        WorkloadKind::ReplicaSet,
        WorkloadKind::ReplicationController,
    ];

    /// The kind as Kubernetes spells it, also the `owner_kind` label.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::ReplicaSet => "ReplicaSet",
            WorkloadKind::ReplicationController => "ReplicationController",
        }
    }

    /// The group/version of the kind, for the spec's `scaleTargetRef`.
    pub fn api_version(self) -> &'static str {
        match self {
            WorkloadKind::ReplicationController => "v1",
            _ => "apps/v1",
        }
    }

    /// The kind, spelled as Kubernetes does or in lower case
    /// (`deployment`, as kubectl takes it).
    pub fn parse(text: &str) -> Option<WorkloadKind> {
        WorkloadKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text || kind.as_str().to_ascii_lowercase() == text)
    }
}

/// `NAMESPACE/KIND/NAME` of `-workload`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub namespace: String,
    pub kind: WorkloadKind,
    pub name: String,
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.namespace, self.kind.as_str(), self.name)
    }
}

/// How the pods were told apart from the rest of the namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipSource {
    /// kube-state-metrics' `kube_pod_owner` (and `kube_replicaset_owner` for
    /// a Deployment) named the pods.
    Owners,
    /// No owner series: the pods whose names follow the kind's pattern.
    NamePattern,
}

/// The pods of a workload, as a regex for the `{pods}` of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub source: MembershipSource,
    /// RE2, escaped for the regex but not yet for the string.
    pub pod_regex: String,
    /// How many pods the owner series named (0 with a name pattern).
    pub owned_pods: usize,
}

impl Membership {
    /// The pods the owner series named, matched literally.
    pub fn owned(pods: &[String]) -> Membership {
        Membership {
            source: MembershipSource::Owners,
            pod_regex: alternation(pods),
            owned_pods: pods.len(),
        }
    }

    /// The kind's name pattern, when no owner series say better.
    pub fn by_name(workload: &Workload) -> Membership {
        Membership {
            source: MembershipSource::NamePattern,
            pod_regex: name_pattern(workload.kind, &workload.name),
            owned_pods: 0,
        }
    }

    /// One line for the output's header.
    pub fn describe(&self, workload: &Workload) -> String {
        match self.source {
            MembershipSource::Owners => format!(
                "pods by kube-state-metrics owners ({}): {} pods",
                owner_series(workload.kind),
                self.owned_pods
            ),
            MembershipSource::NamePattern => format!(
                "pods by name pattern {} (no kube_pod_owner series for the workload)",
                pattern_shape(workload.kind, &workload.name)
            ),
        }
    }
}

/// The characters Kubernetes' `rand.SafeEncodeString` uses for the
/// pod-template-hash and the random pod suffix: no vowels, so that no word is
/// spelled, and so no other name part such as `-api` can pass for one.
const SAFE_CHARS: &str = "[bcdfghjklmnpqrstvwxz2456789]";

/// The anchored (PromQL anchors `=~`) RE2 of the pods of `name`:
/// - Deployment: `NAME-<pod-template-hash>-<5 char id>`, the hash 1 to 10
///   characters (a 32-bit hash, safe-encoded);
/// - StatefulSet: `NAME-<ordinal>`;
/// - ReplicaSet, ReplicationController: `NAME-<5 char id>`.
pub fn name_pattern(kind: WorkloadKind, name: &str) -> String {
    let name = regex_escape(name);
    match kind {
        WorkloadKind::Deployment => format!("{name}-{SAFE_CHARS}{{1,10}}-{SAFE_CHARS}{{5}}"),
        WorkloadKind::StatefulSet => format!("{name}-(0|[1-9][0-9]*)"),
        WorkloadKind::ReplicaSet | WorkloadKind::ReplicationController => {
            format!("{name}-{SAFE_CHARS}{{5}}")
        }
    }
}

/// The pattern as a reader would write it, for the header.
fn pattern_shape(kind: WorkloadKind, name: &str) -> String {
    match kind {
        WorkloadKind::Deployment => format!("{name}-<hash>-<id>"),
        WorkloadKind::StatefulSet => format!("{name}-<ordinal>"),
        _ => format!("{name}-<id>"),
    }
}

fn owner_series(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Deployment => "kube_pod_owner, kube_replicaset_owner",
        _ => "kube_pod_owner",
    }
}

/// `a|b` of names matched literally.
pub fn alternation(names: &[String]) -> String {
    let escaped: Vec<String> = names.iter().map(|name| regex_escape(name)).collect();
    escaped.join("|")
}

/// The ReplicaSets a Deployment owned over the range (label `replicaset`).
pub fn replicasets_query(workload: &Workload) -> String {
    format!(
        "group by (replicaset) (kube_replicaset_owner{{namespace=\"{}\",owner_kind=\"Deployment\",owner_name=\"{}\"}})",
        promql_string(&workload.namespace),
        promql_string(&workload.name)
    )
}

/// The pods owned by a `kind` named by the regex `owners` (label `pod`).
pub fn pods_query(namespace: &str, kind: WorkloadKind, owners: &str) -> String {
    format!(
        "group by (pod) (kube_pod_owner{{namespace=\"{}\",owner_kind=\"{}\",owner_name=~\"{}\"}})",
        promql_string(namespace),
        kind.as_str(),
        promql_string(owners)
    )
}

/// The memory limit of each pod, summed over its app containers (label
/// `pod`). `max by (pod, container)` first: two kube-state-metrics replicas
/// export the same series, which a plain sum would count twice.
pub fn limits_query(namespace: &str, pod_regex: &str, container: Option<&str>) -> String {
    let container = match container {
        Some(name) => format!("container=\"{}\"", promql_string(name)),
        None => "container!=\"\"".to_string(),
    };
    format!(
        "sum by (pod) (max by (pod, container) (kube_pod_container_resource_limits{{namespace=\"{}\",pod=~\"{}\",resource=\"memory\",{container}}}))",
        promql_string(namespace),
        promql_string(pod_regex)
    )
}

/// The working set of each pod, summed over the containers the controller's
/// query returns (its filters drop the pod cgroup and the pause container),
/// or of the one `container` a spec counts. The query is the user's
/// template, so the container is kept by matching the result's label
/// rather than by a matcher inside the template.
pub fn working_set_query(usage_query: &str, container: Option<&str>) -> String {
    match container {
        Some(name) => format!(
            "sum by (pod) (({usage_query}) and on (container) label_replace(vector(1), \"container\", \"{}\", \"\", \"\"))",
            promql_string(name)
        ),
        None => format!("sum by (pod) ({usage_query})"),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn patterns_are_the_documented_regexes() {
        assert_eq!(
            name_pattern(WorkloadKind::Deployment, "web"),
            "web-[bcdfghjklmnpqrstvwxz2456789]{1,10}-[bcdfghjklmnpqrstvwxz2456789]{5}"
        );
        assert_eq!(
            name_pattern(WorkloadKind::StatefulSet, "db"),
            "db-(0|[1-9][0-9]*)"
        );
        assert_eq!(
            name_pattern(WorkloadKind::ReplicaSet, "web-7d9c8b6f5"),
            "web-7d9c8b6f5-[bcdfghjklmnpqrstvwxz2456789]{5}"
        );
        assert_eq!(
            name_pattern(WorkloadKind::ReplicationController, "old"),
            "old-[bcdfghjklmnpqrstvwxz2456789]{5}"
        );
    }

    #[test]
    fn dots_in_a_name_match_only_dots() {
        assert!(name_pattern(WorkloadKind::StatefulSet, "a.b").starts_with("a\\.b-"));
    }

    #[test]
    fn owned_pods_are_matched_literally() {
        let membership = Membership::owned(&["web-1.a".to_string(), "web-2".to_string()]);
        assert_eq!(membership.pod_regex, "web-1\\.a|web-2");
        assert_eq!(membership.owned_pods, 2);
    }

    #[test]
    fn owner_queries_escape_what_they_quote() {
        let workload = Workload {
            namespace: "demo".into(),
            kind: WorkloadKind::Deployment,
            name: "we\"b".into(),
        };
        assert_eq!(
            replicasets_query(&workload),
            "group by (replicaset) (kube_replicaset_owner{namespace=\"demo\",owner_kind=\"Deployment\",owner_name=\"we\\\"b\"})"
        );
        assert_eq!(
            pods_query("demo", WorkloadKind::ReplicaSet, "web-1\\.a"),
            "group by (pod) (kube_pod_owner{namespace=\"demo\",owner_kind=\"ReplicaSet\",owner_name=~\"web-1\\\\.a\"})"
        );
    }

    #[test]
    fn kinds_parse_as_kubernetes_or_kubectl_spell_them() {
        assert_eq!(
            WorkloadKind::parse("Deployment"),
            Some(WorkloadKind::Deployment)
        );
        assert_eq!(
            WorkloadKind::parse("statefulset"),
            Some(WorkloadKind::StatefulSet)
        );
        assert_eq!(WorkloadKind::parse("DEPLOYMENT"), None);
        assert_eq!(WorkloadKind::parse("Pod"), None);
    }
}
