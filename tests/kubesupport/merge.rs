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
