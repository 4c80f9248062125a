//! Tests of tests/kubesupport/store.rs.

use serde_json::json;

use crate::kubesupport::routes::MEMHPAS;
use crate::kubesupport::store::{meta_str, Change, Inner};

fn with_one() -> Inner {
    let mut inner = Inner::new();
    inner.create(
        &MEMHPAS,
        "demo",
        json!({"metadata": {"name": "web"}, "spec": {"a": 1}}),
    );
    inner
}

#[test]
fn create_assigns_server_fields() {
    let inner = with_one();
    let object = inner.get(&MEMHPAS, "demo", "web").expect("stored");
    assert_eq!(meta_str(object, "resourceVersion"), Some("101"));
    assert_eq!(object["metadata"]["generation"], 1);
    assert!(meta_str(object, "uid").is_some());
}

#[test]
fn no_op_update_keeps_version() {
    let mut inner = with_one();
    let same = inner.get(&MEMHPAS, "demo", "web").cloned().expect("stored");
    inner.update(&MEMHPAS, "demo", "web", same);
    assert_eq!(inner.rv(), 101);
    assert_eq!(
        inner
            .events_after(100, "memhpas", None)
            .map(|e| e.len())
            .ok(),
        Some(1)
    );
}

#[test]
fn status_change_keeps_generation() {
    let mut inner = with_one();
    let mut object = inner.get(&MEMHPAS, "demo", "web").cloned().expect("stored");
    object["status"] = json!({"desiredReplicas": 2});
    let stored = inner
        .update(&MEMHPAS, "demo", "web", object)
        .expect("updated");
    assert_eq!(stored["metadata"]["generation"], 1);
    assert_eq!(meta_str(&stored, "resourceVersion"), Some("102"));
}

#[test]
fn delete_logs_last_state_with_new_version() {
    let mut inner = with_one();
    inner.delete(&MEMHPAS, "demo", "web");
    let events = inner
        .events_after(101, "memhpas", Some("demo"))
        .expect("in log");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].change, Change::Deleted);
    assert_eq!(meta_str(&events[0].object, "resourceVersion"), Some("102"));
}
