//! The pod cache (issue 12) with the real controller against the fake
//! kube-apiserver: once the pod watch has listed, a reconcile reads its
//! target's pods from the cache (no LIST per MemHpa), decides exactly as it
//! would from a LIST, follows pod changes, relists on 410, and works with
//! only the permissions manifests/rbac.yaml grants.

mod controllersupport;
mod httpsupport;
mod kubesupport;

use std::time::Duration;

use controllersupport::{memhpa, Harness, Options, WAIT};
use kubesupport::objects::pod;
use kubesupport::Recorded;
use memhpa::kube::LabelSelector;
use serde_json::{json, Value};

fn cached() -> Options {
    Options {
        pod_cache: true,
        ..Options::default()
    }
}

/// A pod LIST by selector: what a reconcile without the cache sends.
fn is_selector_list(r: &Recorded) -> bool {
    r.method == "GET"
        && r.path.ends_with("/pods")
        && !r.is_watch()
        && r.query.contains("labelSelector")
}

/// The pod watch's own list (the whole collection, paged).
fn is_cache_list(r: &Recorded) -> bool {
    r.method == "GET" && r.path == "/api/v1/pods" && !r.is_watch()
}

fn wait_synced(h: &Harness) {
    let cache = h.pod_cache.clone().expect("started with the pod cache");
    h.wait_until("the pod cache to sync", WAIT, || cache.is_synced());
}

/// Names of the cached pods of `ns` that `selector` matches.
fn cached_names(h: &Harness, ns: &str, selector: &str) -> Option<Vec<String>> {
    let cache = h.pod_cache.as_ref().expect("started with the pod cache");
    let selector = LabelSelector::parse(selector).expect("selector");
    cache
        .pods(ns, &selector)
        .map(|pods| pods.into_iter().filter_map(|p| p.metadata.name).collect())
}

#[test]
fn once_synced_a_reconcile_sends_no_pod_list() {
    let mut h = Harness::new();
    h.app("shop", "web", 2, 2, 50.0);
    h.app("shop", "api", 2, 2, 50.0);
    h.start(cached());
    wait_synced(&h);
    h.server
        .create_memhpa(memhpa("shop", "web", "web", 1, 10, 50));
    h.server
        .create_memhpa(memhpa("shop", "api", "api", 1, 10, 50));
    h.wait_until("both reconciled", WAIT, || {
        h.observed_current("shop", "web") && h.observed_current("shop", "api")
    });
    let reads = h.scale_reads("shop", "web");
    for round in 1..=3 {
        h.reconcile_everything();
        h.wait_until("another reconcile", WAIT, || {
            h.scale_reads("shop", "web") >= reads + round
        });
    }
    h.wait_until("the api reconciles too", WAIT, || {
        h.scale_reads("shop", "api") >= reads + 3
    });
    assert_eq!(h.count(is_selector_list), 0, "{}", h.log_tail(30));
    assert_eq!(
        h.count(is_cache_list),
        1,
        "one list, then the watch: {}",
        h.log_tail(30)
    );
}

/// Pods of every kind the calculator tells apart: a Running one at 90%, one
/// with a sidecar that has no series (missing), a Pending one, a Failed one,
/// one being deleted, and one whose limit is a bare number.
fn mixed_app(h: &Harness) {
    let ns = "mix";
    h.server.put_deployment(ns, "web", 6, &[("app", "web")]);
    let web = [("app", "web")];
    let app = ("app", Some("100Mi"), Some("50Mi"));
    h.server.put_pod(ns, pod("web-0", &web, "Running", &[app]));
    h.server.put_pod(
        ns,
        pod(
            "web-1",
            &web,
            "Running",
            &[app, ("side", Some("20Mi"), None)],
        ),
    );
    h.server.put_pod(ns, pod("web-2", &web, "Pending", &[app]));
    h.server.put_pod(ns, pod("web-3", &web, "Failed", &[app]));
    let mut deleting = pod("web-4", &web, "Running", &[app]);
    deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    h.server.put_pod(ns, deleting);
    let mut numeric = pod("web-5", &web, "Running", &[app]);
    numeric["spec"]["containers"][0]["resources"]["limits"]["memory"] = json!(104857600);
    h.server.put_pod(ns, numeric);
    h.server
        .put_pod(ns, pod("other-0", &[("app", "other")], "Running", &[app]));
    for (name, percent) in [
        ("web-0", 90.0),
        ("web-1", 70.0),
        ("web-4", 95.0),
        ("web-5", 85.0),
    ] {
        h.usage
            .set(ns, name, percent / 100.0 * controllersupport::LIMIT_BYTES);
    }
}

/// The status with the clock's readings taken out.
fn timeless(mut value: Value) -> Value {
    match &mut value {
        Value::Object(fields) => {
            fields.retain(|k, _| !k.to_ascii_lowercase().contains("time"));
            for v in fields.values_mut() {
                *v = timeless(v.take());
            }
        }
        Value::Array(items) => {
            for v in items.iter_mut() {
                *v = timeless(v.take());
            }
        }
        _ => {}
    }
    value
}

fn decide(options: Options) -> (Value, Option<i64>, usize) {
    let mut h = Harness::new();
    mixed_app(&h);
    let cache = options.pod_cache;
    h.start(options);
    if cache {
        wait_synced(&h);
    }
    h.server
        .create_memhpa(memhpa("mix", "web", "web", 1, 20, 50));
    h.wait_until("mix/web reconciled", WAIT, || {
        h.observed_current("mix", "web")
    });
    let status = timeless(h.memhpa("mix", "web")["status"].clone());
    (status, h.replicas("mix", "web"), h.count(is_selector_list))
}

#[test]
fn the_decision_from_the_cache_is_the_one_from_a_list() {
    let (listed, listed_replicas, lists) = decide(Options::default());
    assert!(lists > 0, "the LIST path listed");
    let (cached_status, cached_replicas, cached_lists) = decide(cached());
    assert_eq!(cached_lists, 0, "decided from the cache");
    assert_eq!(
        cached_status, listed,
        "status from the cache vs from a LIST"
    );
    assert_eq!(cached_replicas, listed_replicas);
    assert!(listed["lastDecision"].is_object(), "{listed}");
}

#[test]
fn pod_changes_reach_the_cache_and_the_next_decision() {
    let mut h = Harness::new();
    h.app("shop", "web", 2, 2, 50.0);
    h.start(cached());
    wait_synced(&h);
    assert_eq!(
        cached_names(&h, "shop", "app=web"),
        Some(vec!["web-0".into(), "web-1".into()])
    );
    h.server.put_pod(
        "shop",
        controllersupport::pod("web-2", "web", Some("100Mi")),
    );
    h.wait_until("the new pod cached", WAIT, || {
        cached_names(&h, "shop", "app=web").is_some_and(|n| n.len() == 3)
    });
    assert!(h.server.delete_pod("shop", "web-0"));
    let mut failed = controllersupport::pod("web-1", "web", Some("100Mi"));
    failed["status"]["phase"] = json!("Failed");
    h.server.put_pod("shop", failed);
    let cache = h.pod_cache.clone().expect("cache");
    h.wait_until("the deletion and the phase cached", WAIT, || {
        let selector = LabelSelector::parse("app=web").expect("selector");
        cache.pods("shop", &selector).is_some_and(|pods| {
            pods.len() == 2
                && pods[0].metadata.name.as_deref() == Some("web-1")
                && pods[0].status.phase.as_deref() == Some("Failed")
        })
    });
}

#[test]
fn a_410_on_the_pod_watch_relists_and_catches_up() {
    let mut h = Harness::new();
    h.app("shop", "web", 2, 3, 50.0);
    h.start(cached());
    wait_synced(&h);
    let lists = h.count(is_cache_list);
    // The watches get 410 when they come back (the MemHpa watch may take
    // some; each of its relists waits a backoff step, so it cannot take
    // them all before the pod watch is back); meanwhile a pod goes.
    h.server.expire_next_watches(6);
    h.server.cut_open_watches();
    assert!(h.server.delete_pod("shop", "web-1"));
    h.wait_until("the pod watch to relist", WAIT, || {
        h.count(is_cache_list) > lists
    });
    h.wait_until("the relist to drop the deleted pod", WAIT, || {
        cached_names(&h, "shop", "app=web") == Some(vec!["web-0".into(), "web-2".into()])
    });
}

#[test]
fn a_namespaced_controller_watches_only_its_namespace() {
    let mut h = Harness::new();
    h.app("shop", "web", 2, 2, 50.0);
    h.app("elsewhere", "web", 2, 2, 50.0);
    h.start(Options {
        namespace: Some("shop".into()),
        ..cached()
    });
    wait_synced(&h);
    let pod_requests: Vec<String> = h
        .server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/pods"))
        .map(|r| r.path.clone())
        .collect();
    assert!(!pod_requests.is_empty());
    assert!(
        pod_requests
            .iter()
            .all(|p| p == "/api/v1/namespaces/shop/pods"),
        "{pod_requests:?}"
    );
    assert_eq!(cached_names(&h, "elsewhere", "app=web"), None);
    h.server
        .create_memhpa(memhpa("shop", "web", "web", 1, 10, 50));
    h.wait_until("shop/web reconciled", WAIT, || {
        h.observed_current("shop", "web")
    });
    assert_eq!(h.count(is_selector_list), 0, "{}", h.log_tail(20));
}

#[test]
fn before_the_cache_syncs_a_reconcile_lists_its_pods() {
    let mut h = Harness::new();
    h.app("shop", "web", 2, 2, 80.0);
    // The pod watch's list is held: the cache cannot sync for a while.
    h.server
        .delay("GET", "/api/v1/pods?", Duration::from_secs(3));
    h.server
        .create_memhpa(memhpa("shop", "web", "web", 1, 10, 50));
    h.start(cached());
    h.wait_until("shop/web scaled on listed pods", WAIT, || {
        h.replicas("shop", "web") == Some(4)
    });
    assert!(h.count(is_selector_list) >= 1, "{}", h.log_tail(20));
}

/// With only what manifests/rbac.yaml grants, the pod watch runs (it needs
/// `watch` on pods) and the controller scales without one 403.
#[test]
fn the_rbac_manifest_grants_what_the_pod_cache_needs() {
    let mut h = Harness::new();
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/rbac.yaml"))
            .expect("manifests/rbac.yaml");
    h.server.enforce_rbac(&manifest);
    h.app("shop", "web", 2, 2, 80.0);
    h.start(cached());
    wait_synced(&h);
    h.server
        .create_memhpa(memhpa("shop", "web", "web", 1, 10, 50));
    h.wait_until("shop/web scaled to 4", WAIT, || {
        h.replicas("shop", "web") == Some(4)
    });
    // A pod that comes later reaches the cache only through the watch.
    h.server.put_pod(
        "shop",
        controllersupport::pod("web-9", "web", Some("100Mi")),
    );
    h.wait_until("the new pod cached", WAIT, || {
        cached_names(&h, "shop", "app=web").is_some_and(|n| n.contains(&"web-9".to_string()))
    });
    let denied: Vec<String> = h
        .server
        .requests()
        .iter()
        .filter(|r| r.status == 403)
        .map(|r| format!("{} {}", r.method, r.target()))
        .collect();
    assert!(denied.is_empty(), "denied: {denied:?}");
    assert_eq!(h.count(is_selector_list), 0);
}
