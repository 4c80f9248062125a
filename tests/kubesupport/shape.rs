//! Comparing the *shape* of two JSON values: the same keys at every level and
//! the same JSON types, values ignored. This is how the fake's answers are
//! held to the captured fixtures, whose uids, versions and times differ.

use serde_json::Value;

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `Ok` when `actual` has exactly the keys and types of `expected`, at every
/// depth. Arrays compare their first elements (when both have one). Paths in
/// `ignore` (dotted, arrays not counted: `"items.metadata.managedFields"`)
/// are skipped on both sides. The error names the first difference's path.
pub fn same_shape(expected: &Value, actual: &Value, ignore: &[&str]) -> Result<(), String> {
    compare(expected, actual, "", ignore)
}

fn compare(expected: &Value, actual: &Value, path: &str, ignore: &[&str]) -> Result<(), String> {
    let shown = if path.is_empty() { "(root)" } else { path };
    if type_name(expected) != type_name(actual) {
        return Err(format!(
            "{shown}: expected {}, found {} ({actual})",
            type_name(expected),
            type_name(actual)
        ));
    }
    match (expected, actual) {
        (Value::Object(want), Value::Object(got)) => {
            let child = |key: &str| {
                if path.is_empty() {
                    key.to_string()
                } else {
                    format!("{path}.{key}")
                }
            };
            let kept = |key: &&String| !ignore.contains(&child(key).as_str());
            // Sorted, so the comparison holds whatever order the map keeps.
            let mut want_keys: Vec<&String> = want.keys().filter(kept).collect();
            let mut got_keys: Vec<&String> = got.keys().filter(kept).collect();
            want_keys.sort();
            got_keys.sort();
            if want_keys != got_keys {
                return Err(format!(
                    "{shown}: expected keys {want_keys:?}, found {got_keys:?}"
                ));
            }
            for key in want_keys {
                compare(&want[key], &got[key], &child(key), ignore)?;
            }
            Ok(())
        }
        (Value::Array(want), Value::Array(got)) => match (want.first(), got.first()) {
            (Some(w), Some(g)) => compare(w, g, path, ignore),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}
