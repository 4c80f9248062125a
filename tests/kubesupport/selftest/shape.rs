//! Tests of tests/kubesupport/shape.rs.

use serde_json::json;

use crate::kubesupport::shape::same_shape;

#[test]
fn values_ignored() {
    assert!(same_shape(&json!({"a": 1, "b": "x"}), &json!({"b": "y", "a": 2}), &[]).is_ok());
}

#[test]
fn missing_key_named() {
    let err = same_shape(
        &json!({"m": {"a": 1, "b": 2}}),
        &json!({"m": {"a": 1}}),
        &[],
    )
    .expect_err("b missing");
    assert!(err.starts_with("m:"), "{err}");
}

#[test]
fn extra_key_found() {
    assert!(same_shape(&json!({"a": 1}), &json!({"a": 1, "c": 3}), &[]).is_err());
}

#[test]
fn type_change_found() {
    assert!(same_shape(&json!({"a": "1"}), &json!({"a": 1}), &[]).is_err());
}

#[test]
fn array_elements_compared() {
    assert!(same_shape(&json!([{"a": 1}]), &json!([{"b": 1}]), &[]).is_err());
}

#[test]
fn ignored_path_skipped() {
    let want = json!({"metadata": {"name": "x", "managedFields": []}});
    let got = json!({"metadata": {"name": "y"}});
    assert!(same_shape(&want, &got, &["metadata.managedFields"]).is_ok());
}
