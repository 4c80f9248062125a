//! Tests of tests/kubesupport/wait.rs.

use std::time::Duration;

use crate::kubesupport::wait::eventually;

#[test]
fn true_at_once() {
    assert!(eventually(Duration::ZERO, || true));
}

#[test]
fn false_after_the_deadline() {
    let mut checks = 0;
    assert!(!eventually(Duration::from_millis(50), || {
        checks += 1;
        false
    }));
    assert!(checks >= 2);
}

#[test]
fn becomes_true_later() {
    let mut checks = 0;
    assert!(eventually(Duration::from_secs(5), || {
        checks += 1;
        checks == 3
    }));
}
