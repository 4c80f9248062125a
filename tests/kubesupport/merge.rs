//! JSON merge patch (RFC 7386), the `application/merge-patch+json` PATCH the
//! fake applies: objects merge key by key, `null` deletes, anything else
//! (arrays included) replaces.

use serde_json::{Map, Value};

/// Applies `patch` to `target` in place. Recursion follows the patch, whose
/// depth serde_json's parser already bounds.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(changes) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(fields) = target else {
        return;
    };
    for (key, change) in changes {
        if change.is_null() {
            fields.remove(key);
        } else {
            merge_patch(fields.entry(key.clone()).or_insert(Value::Null), change);
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use serde_json::json;

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
}
