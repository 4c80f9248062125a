//! Tests of tests/kubesupport/schema.rs.

use serde_json::{json, Value};

use crate::kubesupport::routes::{LEASES, MEMHPAS};
use crate::kubesupport::schema::validate;
use crate::kubesupport::status::Failure;

fn spec(spec: Value) -> Result<(), Failure> {
    validate(&MEMHPAS, "x", &json!({ "spec": spec }))
}

fn target() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"})
}

#[test]
fn good_spec_passes() {
    assert!(spec(json!({"scaleTargetRef": target(), "maxReplicas": 3})).is_ok());
}

#[test]
fn cel_rule_message_as_captured() {
    let failure = spec(json!({"scaleTargetRef": target(), "minReplicas": 5, "maxReplicas": 2}))
        .expect_err("min > max");
    assert_eq!(
        failure.body["message"],
        "MemHpa.memhpa.io \"x\" is invalid: spec: Invalid value: \"object\": minReplicas must be <= maxReplicas"
    );
}

#[test]
fn missing_max_required() {
    let failure = spec(json!({"scaleTargetRef": target()})).expect_err("no max");
    assert_eq!(
        failure.body["details"]["causes"][0]["field"],
        "spec.maxReplicas"
    );
}

#[test]
fn target_percentage_range() {
    let failure = spec(
        json!({"scaleTargetRef": target(), "maxReplicas": 2, "targetUtilizationPercentage": 101}),
    )
    .expect_err("101%");
    assert_eq!(failure.code, 422);
}

#[test]
fn other_types_unchecked() {
    assert!(validate(&LEASES, "x", &json!({})).is_ok());
}
