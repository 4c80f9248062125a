//! Tests of tests/kubesupport/merge.rs.

use serde_json::{json, Value};

use crate::kubesupport::merge::merge_patch;

fn patched(target: Value, patch: Value) -> Value {
    let mut target = target;
    merge_patch(&mut target, &patch);
    target
}

#[test]
fn nested_merge_keeps_siblings() {
    let out = patched(json!({"spec": {"a": 1, "b": 2}}), json!({"spec": {"b": 3}}));
    assert_eq!(out, json!({"spec": {"a": 1, "b": 3}}));
}

#[test]
fn null_deletes() {
    assert_eq!(
        patched(json!({"a": 1, "b": 2}), json!({"a": null})),
        json!({"b": 2})
    );
}

#[test]
fn arrays_replace() {
    assert_eq!(
        patched(json!({"a": [1, 2]}), json!({"a": [3]})),
        json!({"a": [3]})
    );
}

#[test]
fn object_over_scalar() {
    assert_eq!(
        patched(json!({"a": 1}), json!({"a": {"b": 2}})),
        json!({"a": {"b": 2}})
    );
}
