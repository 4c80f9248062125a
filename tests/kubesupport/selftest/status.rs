//! Tests of tests/kubesupport/status.rs.

use crate::kubesupport::routes::{DEPLOYMENTS, LEASES, MEMHPAS};
use crate::kubesupport::status::{already_exists, invalid, not_found, unauthorized};

#[test]
fn scale_not_found_names_subresource() {
    let body = not_found(&DEPLOYMENTS, Some("scale"), "nope").body;
    assert_eq!(body["message"], "deployments/scale.apps \"nope\" not found");
    assert_eq!(body["details"]["kind"], "deployments/scale");
}

#[test]
fn lease_exists_message() {
    let body = already_exists(&LEASES, "memhpa").body;
    assert_eq!(
        body["message"],
        "leases.coordination.k8s.io \"memhpa\" already exists"
    );
}

#[test]
fn invalid_names_kind_and_causes() {
    let cause = ("spec", "FieldValueInvalid", "bad".to_string());
    let body = invalid(MEMHPAS.kind, MEMHPAS.group, "bad", &[cause]).body;
    assert_eq!(
        body["message"],
        "MemHpa.memhpa.io \"bad\" is invalid: spec: bad"
    );
    assert_eq!(body["details"]["causes"][0]["field"], "spec");
}

#[test]
fn unauthorized_has_no_details() {
    assert!(unauthorized().body.get("details").is_none());
}
