//! Field selectors (`fieldSelector=involvedObject.name=web,type!=Warning`):
//! comma-joined `path=value`, `path==value` or `path!=value` over an
//! object's dotted field paths (API conventions, "Selecting Fields"). The
//! real server allows a fixed set of fields per resource; the fake allows
//! any path, a superset.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
struct Requirement {
    path: Vec<String>,
    value: String,
    equal: bool,
}

/// A parsed field selector; the empty one matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector {
    requirements: Vec<Requirement>,
}

/// Parses a field selector; the error quotes the bad term.
pub fn parse(text: &str) -> Result<FieldSelector, String> {
    let mut requirements = Vec::new();
    for term in text.split(',').map(str::trim) {
        if term.is_empty() {
            if text.trim().is_empty() {
                continue;
            }
            return Err(format!("invalid field selector {text:?}: empty term"));
        }
        let (path, value, equal) = if let Some((path, value)) = term.split_once("!=") {
            (path, value, false)
        } else if let Some((path, value)) = term.split_once("==") {
            (path, value, true)
        } else if let Some((path, value)) = term.split_once('=') {
            (path, value, true)
        } else {
            return Err(format!(
                "invalid selector: '{term}'; can't understand '{term}'"
            ));
        };
        let path = path.trim();
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(format!("invalid field path in {term:?}"));
        }
        requirements.push(Requirement {
            path: path.split('.').map(str::to_string).collect(),
            value: value.trim().to_string(),
            equal,
        });
    }
    Ok(FieldSelector { requirements })
}

/// A field as the server compares it: strings as they are, numbers and
/// booleans in their JSON spelling, an absent field as `""`.
fn field_text(object: &Value, path: &[String]) -> String {
    let mut at = object;
    for part in path {
        match at.get(part) {
            Some(next) => at = next,
            None => return String::new(),
        }
    }
    match at {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl FieldSelector {
    pub fn matches(&self, object: &Value) -> bool {
        self.requirements
            .iter()
            .all(|r| (field_text(object, &r.path) == r.value) == r.equal)
    }
}
