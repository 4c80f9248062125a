//! Tests of tests/kubesupport/routes.rs.

use crate::kubesupport::routes::parse;

#[test]
fn all_namespaces_memhpas() {
    let route = parse("/apis/memhpa.io/v1/memhpas").expect("route");
    assert_eq!(route.rtype.plural, "memhpas");
    assert!(route.namespace.is_none() && route.name.is_none());
}

#[test]
fn deployment_scale() {
    let route = parse("/apis/apps/v1/namespaces/demo/deployments/web/scale").expect("route");
    assert_eq!(route.rtype.kind, "Deployment");
    assert_eq!(route.namespace.as_deref(), Some("demo"));
    assert_eq!(route.name.as_deref(), Some("web"));
    assert_eq!(route.subresource.as_deref(), Some("scale"));
}

#[test]
fn core_pods_in_namespace() {
    let route = parse("/api/v1/namespaces/demo/pods").expect("route");
    assert_eq!(route.rtype.api_version(), "v1");
    assert_eq!(route.rtype.qualified(), "pods");
}

#[test]
fn unknown_paths_and_subresources_refused() {
    assert!(parse("/apis/memhpa.io/v2/memhpas").is_none());
    assert!(parse("/api/v1/namespaces/demo/events/e/scale").is_none());
    assert!(parse("/apis/memhpa.io/v1/namespaces/demo/memhpas/web/scale").is_none());
    assert!(parse("/healthz").is_none());
}
