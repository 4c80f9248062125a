//! Tests of tests/kubesupport/fields.rs.

use serde_json::{json, Value};

use crate::kubesupport::fields::parse;

fn event() -> Value {
    json!({"involvedObject": {"name": "web", "kind": "MemHpa"}, "type": "Normal", "count": 2})
}

fn selects(selector: &str) -> bool {
    parse(selector)
        .unwrap_or_else(|err| panic!("{selector:?}: {err}"))
        .matches(&event())
}

#[test]
fn equality_on_nested_paths() {
    assert!(selects(
        "involvedObject.name=web,involvedObject.kind==MemHpa"
    ));
    assert!(!selects("involvedObject.name=db"));
}

#[test]
fn inequality_and_absent_fields() {
    assert!(selects("type!=Warning"));
    assert!(selects("reason="));
    assert!(!selects("reason!="));
}

#[test]
fn numbers_compare_as_text() {
    assert!(selects("count=2"));
}

#[test]
fn empty_selects_all() {
    assert!(selects(""));
}

#[test]
fn malformed_rejected() {
    for bad in ["name", "a..b=c", "=x", "a=b,,c=d"] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
}
