//! Tests of tests/kubesupport/selector.rs.

use serde_json::{json, Value};

use crate::kubesupport::selector::{label_selector_string, parse};

fn selects(selector: &str, labels: Value) -> bool {
    parse(selector)
        .unwrap_or_else(|err| panic!("parse {selector:?}: {err}"))
        .matches(labels.as_object())
}

#[test]
fn equality_forms() {
    assert!(selects("app=web", json!({"app": "web"})));
    assert!(selects("app==web", json!({"app": "web"})));
    assert!(!selects("app=web", json!({"app": "db"})));
    assert!(!selects("app=web", json!({})));
}

#[test]
fn not_equals_matches_missing_key() {
    assert!(selects("tier!=db", json!({"app": "web"})));
    assert!(!selects("tier!=db", json!({"tier": "db"})));
}

#[test]
fn set_based() {
    let labels = json!({"app": "web", "tier": "front"});
    assert!(selects("tier in (front, back)", labels.clone()));
    assert!(!selects("tier notin (front)", labels.clone()));
    assert!(selects("env notin (prod)", labels.clone()));
    assert!(selects("app,!canary", labels.clone()));
    assert!(!selects("!app", labels));
}

#[test]
fn comma_is_and() {
    assert!(selects(
        "app=web,tier=front",
        json!({"app": "web", "tier": "front"})
    ));
    assert!(!selects(
        "app=web,tier=front",
        json!({"app": "web", "tier": "back"})
    ));
}

#[test]
fn empty_selects_everything() {
    assert!(selects("", json!({})));
    assert!(selects("  ", json!(null)));
}

#[test]
fn empty_value_is_legal() {
    assert!(selects("app=", json!({"app": ""})));
}

#[test]
fn numeric_comparisons() {
    assert!(selects("gen>1", json!({"gen": "2"})));
    assert!(!selects("gen<1", json!({"gen": "2"})));
}

#[test]
fn malformed_rejected() {
    for bad in [
        "app=web,",
        "=web",
        "app in ()",
        "app in (a",
        "app=a b",
        "app in a",
        "-x=1",
        "app=(x)",
    ] {
        assert!(parse(bad).is_err(), "{bad:?} should not parse");
    }
}

#[test]
fn selector_string_sorted() {
    let selector = json!({
        "matchLabels": {"tier": "front", "app": "web"},
        "matchExpressions": [{"key": "env", "operator": "In", "values": ["b", "a"]}]
    });
    assert_eq!(
        label_selector_string(&selector),
        "app=web,env in (a,b),tier=front"
    );
}
