//! Tests of tests/kubesupport/rbac.rs.

use crate::kubesupport::rbac::{allows, parse};

const MANIFEST: &str = include_str!("../../../manifests/rbac.yaml");

#[test]
fn the_manifest_grants_what_memhpa_does_and_no_more() {
    let rules = parse(MANIFEST).expect("rbac.yaml parses");
    for (group, resource, verb) in [
        ("memhpa.io", "memhpas", "watch"),
        ("memhpa.io", "memhpas/status", "update"),
        ("apps", "deployments/scale", "update"),
        ("", "pods", "list"),
        ("", "pods", "watch"),
        ("", "events", "create"),
        ("coordination.k8s.io", "leases", "update"),
    ] {
        assert!(
            allows(&rules, group, resource, verb),
            "{verb} {group}/{resource}"
        );
    }
    for (group, resource, verb) in [
        ("", "pods", "get"),
        ("", "pods", "delete"),
        ("apps", "deployments", "update"),
        ("", "secrets", "list"),
        ("memhpa.io", "memhpas", "update"),
    ] {
        assert!(
            !allows(&rules, group, resource, verb),
            "{verb} {group}/{resource}"
        );
    }
}

#[test]
fn a_rule_without_watch_does_not_grant_it() {
    let yaml = "rules:\n  - apiGroups: [\"\"]\n    resources: [\"pods\"]\n    verbs: [\"list\"]\n";
    let rules = parse(yaml).expect("parses");
    assert!(allows(&rules, "", "pods", "list"));
    assert!(!allows(&rules, "", "pods", "watch"));
    assert!(parse("  - apiGroups: \"x\"\n").is_err(), "not a flow list");
}
