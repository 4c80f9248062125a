//! Tests of tests/kubesupport/controls.rs.

use std::time::Duration;

use crate::kubesupport::controls::{Controls, Matcher, MAX_DELAY};

#[test]
fn bearer_token_checked() {
    let mut controls = Controls::default();
    assert!(controls.authenticated(Some("Bearer fake-token")));
    assert!(!controls.authenticated(Some("Bearer other")));
    assert!(!controls.authenticated(Some("Basic fake-token")));
    assert!(!controls.authenticated(None));
    controls.set_tokens(&["new"]);
    assert!(!controls.authenticated(Some("Bearer fake-token")));
    assert!(controls.authenticated(Some("bearer new")));
}

#[test]
fn failure_rule_fires_its_count() {
    let mut controls = Controls::default();
    controls.add_failure(Matcher::new("PUT", "/scale"), 2, 503, None);
    assert!(controls.take_failure("GET", "/x/scale").is_none());
    assert_eq!(controls.take_failure("PUT", "/x/scale"), Some((503, None)));
    assert!(controls.take_failure("put", "/x/scale").is_some());
    assert!(controls.take_failure("PUT", "/x/scale").is_none());
}

#[test]
fn forbidden_plural_covers_subresources() {
    let mut controls = Controls::default();
    controls.set_forbidden("memhpas", true);
    controls.set_forbidden("deployments/scale", true);
    assert!(controls.is_forbidden("memhpas", Some("status")));
    assert!(controls.is_forbidden("deployments", Some("scale")));
    assert!(!controls.is_forbidden("deployments", None));
}

#[test]
fn delay_capped() {
    let mut controls = Controls::default();
    controls.add_delay(Matcher::new("*", ""), Duration::from_secs(3600));
    assert_eq!(controls.delay_for("GET", "/a"), MAX_DELAY);
}
