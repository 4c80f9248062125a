//! REST paths of the resources memhpa touches, and the scale subresource a
//! scaleTargetRef points at.

use super::error::UnsupportedTarget;
use crate::api::{GROUP, PLURAL, VERSION};

/// The scale subresource of one target, chosen from its scaleTargetRef.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleTarget {
    kind: &'static str,
    /// `/apis/apps/v1` or `/api/v1`.
    prefix: &'static str,
    resource: &'static str,
    name: String,
}

impl ScaleTarget {
    /// apps/v1 Deployment, StatefulSet, ReplicaSet and v1 ReplicationController.
    /// Kinds are matched exactly, as the API server's REST mapping does.
    pub fn from_ref(
        api_version: &str,
        kind: &str,
        name: &str,
    ) -> Result<ScaleTarget, UnsupportedTarget> {
        let unsupported = || UnsupportedTarget {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
        };
        let (kind, prefix, resource) = match (api_version, kind) {
            ("apps/v1", "Deployment") => ("Deployment", "/apis/apps/v1", "deployments"),
            ("apps/v1", "StatefulSet") => ("StatefulSet", "/apis/apps/v1", "statefulsets"),
            ("apps/v1", "ReplicaSet") => ("ReplicaSet", "/apis/apps/v1", "replicasets"),
            ("v1", "ReplicationController") => {
                ("ReplicationController", "/api/v1", "replicationcontrollers")
            }
            _ => return Err(unsupported()),
        };
        if name.is_empty() {
            return Err(unsupported());
        }
        Ok(ScaleTarget {
            kind,
            prefix,
            resource,
            name: name.to_string(),
        })
    }

    /// `.../namespaces/{namespace}/{resource}/{name}/scale`.
    pub fn path(&self, namespace: &str) -> String {
        format!(
            "{}/namespaces/{}/{}/{}/scale",
            self.prefix,
            segment(namespace),
            self.resource,
            segment(&self.name)
        )
    }

    pub fn kind(&self) -> &str {
        self.kind
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// `/apis/memhpa.io/v1[/namespaces/{ns}]/memhpas`.
pub(crate) fn memhpas(namespace: Option<&str>) -> String {
    match namespace {
        Some(namespace) => format!(
            "/apis/{GROUP}/{VERSION}/namespaces/{}/{PLURAL}",
            segment(namespace)
        ),
        None => format!("/apis/{GROUP}/{VERSION}/{PLURAL}"),
    }
}

pub(crate) fn memhpa(namespace: &str, name: &str) -> String {
    format!("{}/{}", memhpas(Some(namespace)), segment(name))
}

pub(crate) fn pods(namespace: &str) -> String {
    format!("/api/v1/namespaces/{}/pods", segment(namespace))
}

/// `/api/v1[/namespaces/{ns}]/pods`: the collection the pod watch covers.
pub(crate) fn all_pods(namespace: Option<&str>) -> String {
    match namespace {
        Some(namespace) => pods(namespace),
        None => "/api/v1/pods".to_string(),
    }
}

pub(crate) fn events(namespace: &str) -> String {
    format!("/api/v1/namespaces/{}/events", segment(namespace))
}

pub(crate) fn event(namespace: &str, name: &str) -> String {
    format!("{}/{}", events(namespace), segment(name))
}

pub(crate) fn leases(namespace: &str) -> String {
    format!(
        "/apis/coordination.k8s.io/v1/namespaces/{}/leases",
        segment(namespace)
    )
}

pub(crate) fn lease(namespace: &str, name: &str) -> String {
    format!("{}/{}", leases(namespace), segment(name))
}

/// `?k=v&k2=v2` with every value percent-encoded; empty when there are none.
pub(crate) fn query(pairs: &[(&str, &str)]) -> String {
    let joined: Vec<String> = pairs
        .iter()
        .map(|(key, value)| format!("{key}={}", encode(value)))
        .collect();
    if joined.is_empty() {
        String::new()
    } else {
        format!("?{}", joined.join("&"))
    }
}

/// A path segment: names come from objects, and a `/` or `?` in one must not
/// reach another resource.
fn segment(text: &str) -> String {
    encode(text)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn deployment_scale_path() {
        let target = ScaleTarget::from_ref("apps/v1", "Deployment", "web").expect("target");
        assert_eq!(
            target.path("demo"),
            "/apis/apps/v1/namespaces/demo/deployments/web/scale"
        );
    }

    #[test]
    fn statefulset_and_replicaset_scale_paths() {
        let sts = ScaleTarget::from_ref("apps/v1", "StatefulSet", "db").expect("sts");
        assert_eq!(
            sts.path("demo"),
            "/apis/apps/v1/namespaces/demo/statefulsets/db/scale"
        );
        let rs = ScaleTarget::from_ref("apps/v1", "ReplicaSet", "rs").expect("rs");
        assert_eq!(
            rs.path("demo"),
            "/apis/apps/v1/namespaces/demo/replicasets/rs/scale"
        );
    }

    #[test]
    fn replication_controller_is_core_v1() {
        let rc = ScaleTarget::from_ref("v1", "ReplicationController", "old").expect("rc");
        assert_eq!(
            rc.path("demo"),
            "/api/v1/namespaces/demo/replicationcontrollers/old/scale"
        );
    }

    #[test]
    fn unsupported_kind_names_api_version_and_kind() {
        for (api_version, kind) in [
            ("batch/v1", "Job"),
            ("extensions/v1beta1", "Deployment"),
            ("apps/v1", "deployment"),
            ("v1", "Deployment"),
        ] {
            let err = ScaleTarget::from_ref(api_version, kind, "x").expect_err(kind);
            let text = err.to_string();
            assert!(text.contains(api_version) && text.contains(kind), "{text}");
        }
    }

    #[test]
    fn empty_target_name_is_unsupported() {
        assert!(matches!(
            ScaleTarget::from_ref("apps/v1", "Deployment", ""),
            Err(UnsupportedTarget { .. })
        ));
    }

    #[test]
    fn names_cannot_escape_their_segment() {
        let target = ScaleTarget::from_ref("apps/v1", "Deployment", "../x?y").expect("target");
        assert_eq!(
            target.path("demo"),
            "/apis/apps/v1/namespaces/demo/deployments/..%2Fx%3Fy/scale"
        );
    }

    #[test]
    fn label_selector_is_encoded() {
        assert_eq!(
            query(&[("labelSelector", "app=web,tier in (a,b)"), ("limit", "500")]),
            "?labelSelector=app%3Dweb%2Ctier%20in%20%28a%2Cb%29&limit=500"
        );
        assert_eq!(query(&[]), "");
    }

    #[test]
    fn memhpa_paths() {
        assert_eq!(memhpas(None), "/apis/memhpa.io/v1/memhpas");
        assert_eq!(
            memhpa("demo", "web"),
            "/apis/memhpa.io/v1/namespaces/demo/memhpas/web"
        );
    }
}
