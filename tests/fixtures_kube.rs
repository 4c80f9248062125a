//! Every captured kube-apiserver 1.24 answer in ../shared/fixtures/kube-apiserver-1.24,
//! decoded through the public types and the error mapping, and, for the calls
//! the client makes, served byte for byte from 127.0.0.1 and read through the
//! real client.

#[path = "httpsupport/mod.rs"]
mod httpsupport;
#[path = "promsupport/mod.rs"]
mod promsupport;

use std::path::PathBuf;
use std::time::Duration;

use memhpa::api::{
    parse_quantity, Event, Lease, MemHpa, ObjectList, ObjectReference, Pod, Scale, Status,
};
use memhpa::kube::{
    Change, Client, ErrorKind, EventAction, EventRecorder, KubeConfig, KubeError, LabelSelector,
    PodCache, PodPage, Reflector, ScaleTarget, Scope, Step, Watch,
};
use memhpa::rfc3339;
use promsupport::canned::Canned;

const MI: u64 = 1024 * 1024;

/// Every file of the fixture directory, each read by a test below.
const COVERED: &[&str] = &[
    "event-create.txt",
    "event-patch-count.txt",
    "forbidden-403.txt",
    "lease-create-exists-409.txt",
    "lease-create.txt",
    "lease-get-missing-404.txt",
    "memhpa-create-exists-409.txt",
    "memhpa-create-invalid-422.txt",
    "memhpa-create.txt",
    "memhpa-delete.txt",
    "memhpa-list-all-namespaces.txt",
    "memhpa-list-empty.txt",
    "memhpa-spec-merge-patch-bumps-generation.txt",
    "memhpa-status-merge-patch.txt",
    "memhpa-status-put-spec-change-ignored.txt",
    "memhpa-status-put-stale-409.txt",
    "memhpa-watch-expired-410.txt",
    "memhpa-watch-stream.txt",
    "pods-list-by-selector.txt",
    "scale-get-missing-404.txt",
    "scale-get.txt",
    "scale-patch-merge.txt",
    "scale-put-stale-409.txt",
    "scale-put.txt",
    "unauthorized-401.txt",
];

struct Fixture {
    status: u16,
    body: Vec<u8>,
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/kube-apiserver-1.24")
}

/// `HTTP <status> [note]`, then the body.
fn load(name: &str) -> Fixture {
    let path = fixture_dir().join(name);
    let raw = std::fs::read(&path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
    let (first, body) = match raw.iter().position(|&byte| byte == b'\n') {
        Some(at) => (&raw[..at], raw[at + 1..].to_vec()),
        None => panic!("{name}: no status line"),
    };
    let first = String::from_utf8_lossy(first);
    let status = first
        .strip_prefix("HTTP ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("{name}: bad status line {first:?}"));
    Fixture { status, body }
}

fn decode<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let fixture = load(name);
    assert!(
        (200..300).contains(&fixture.status),
        "{name}: HTTP {}",
        fixture.status
    );
    serde_json::from_slice(&fixture.body).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// A client of a canned server answering these fixtures in order.
fn served(names: &[&str]) -> (Client, Canned) {
    let answers = names
        .iter()
        .map(|name| {
            let fixture = load(name);
            (fixture.status, fixture.body)
        })
        .collect();
    let canned = Canned::start(answers);
    let config = KubeConfig {
        request_timeout: Duration::from_secs(10),
        ..KubeConfig::new(&canned.url())
    };
    (Client::new(config).expect("client"), canned)
}

fn error_of(name: &str, verb: &'static str, path: &str) -> KubeError {
    let fixture = load(name);
    KubeError::from_response(verb, path, fixture.status, None, &fixture.body)
}

fn web_target() -> ScaleTarget {
    ScaleTarget::from_ref("apps/v1", "Deployment", "web").expect("target")
}

#[test]
fn every_fixture_file_is_covered() {
    let dir = fixture_dir();
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("fixture dir {}: {err}", dir.display()))
        .map(|entry| {
            entry
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    found.sort();
    assert_eq!(found, COVERED, "a fixture was added or removed");
}

#[test]
fn unauthorized_401_through_the_client() {
    let (client, _canned) = served(&["unauthorized-401.txt"]);
    let err = client.get_memhpa("demo", "web").expect_err("401");
    assert!(
        matches!(&err, KubeError { kind: ErrorKind::Status { code: 401, message, .. }, .. } if message == "Unauthorized"),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[test]
fn forbidden_403_through_the_client() {
    let (client, canned) = served(&["forbidden-403.txt"]);
    let err = client.list_memhpas(None).expect_err("403");
    assert!(
        matches!(&err, KubeError { kind: ErrorKind::Status { code: 403, message, .. }, .. }
            if message.contains("User \"dev-user\" cannot list resource \"memhpas\"")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let text = err.to_string();
    assert!(
        text.starts_with("list /apis/memhpa.io/v1/memhpas"),
        "{text}"
    );
    assert_eq!(
        canned.requests()[0].path,
        "/apis/memhpa.io/v1/memhpas?limit=500"
    );
}

#[test]
fn scale_missing_404_through_the_client() {
    let (client, canned) = served(&["scale-get-missing-404.txt"]);
    let target = ScaleTarget::from_ref("apps/v1", "Deployment", "nope").expect("target");
    let err = client.get_scale("demo", &target).expect_err("404");
    assert!(
        matches!(&err, KubeError { kind: ErrorKind::Status { code: 404, message, .. }, .. }
            if message == "deployments/scale.apps \"nope\" not found"),
        "{err:?}"
    );
    assert_eq!(
        canned.requests()[0].path,
        "/apis/apps/v1/namespaces/demo/deployments/nope/scale"
    );
}

#[test]
fn lease_404_create_409_and_201_through_the_client() {
    let (client, canned) = served(&[
        "lease-get-missing-404.txt",
        "lease-create-exists-409.txt",
        "lease-create.txt",
    ]);
    let err = client.get_lease("kube-system", "memhpa").expect_err("404");
    assert!(
        matches!(&err, KubeError { kind: ErrorKind::Status { code: 404, message, .. }, .. }
            if message == "leases.coordination.k8s.io \"memhpa\" not found"),
        "{err:?}"
    );
    let lease: Lease = serde_json::from_slice(&load("lease-create.txt").body).expect("lease");
    let err = client.create_lease("kube-system", &lease).expect_err("409");
    assert!(
        matches!(&err, KubeError { kind: ErrorKind::Status { code: 409, reason, message, .. }, .. }
            if reason == "AlreadyExists" && message.contains("already exists")),
        "{err:?}"
    );
    let created = client.create_lease("kube-system", &lease).expect("201");
    assert_eq!(
        created.spec.holder_identity.as_deref(),
        Some("memhpa-7d9f-abc")
    );
    let requests = canned.requests();
    assert_eq!(requests[1].method, "POST");
    assert_eq!(
        requests[1].path,
        "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
    );
}

#[test]
fn lease_micro_times_decode() {
    let lease: Lease = decode("lease-create.txt");
    assert_eq!(lease.spec.lease_duration_seconds, Some(15));
    assert_eq!(lease.spec.lease_transitions, Some(0));
    for field in [&lease.spec.acquire_time, &lease.spec.renew_time] {
        let text = field.as_deref().expect("MicroTime present");
        assert_eq!(text, "2026-11-22T12:00:00.000000Z");
        let parsed = rfc3339::parse(text).expect("MicroTime parses");
        assert_eq!(rfc3339::format_micros(parsed), text);
    }
}

#[test]
fn stale_409s_are_conflicts() {
    let (client, canned) = served(&["memhpa-status-put-stale-409.txt", "scale-put-stale-409.txt"]);
    let mut hpa: MemHpa = decode("memhpa-create.txt");
    hpa.metadata.resource_version = Some("569".into());
    let err = client
        .replace_memhpa_status(&hpa)
        .expect_err("stale status");
    assert!(
        matches!(&err, KubeError { kind: ErrorKind::Status { code: 409, reason, message, .. }, .. }
            if reason == "Conflict" && message.contains("memhpas.memhpa.io \"web\": the object has been modified")),
        "{err:?}"
    );
    let scale: Scale = decode("scale-get.txt");
    let err = client
        .replace_scale("demo", &web_target(), &scale)
        .expect_err("stale scale");
    assert!(
        matches!(&err, KubeError { kind: ErrorKind::Status { code: 409, reason, message, .. }, .. }
            if reason == "Conflict" && message.contains("deployments.apps \"web\"")),
        "{err:?}"
    );
    let requests = canned.requests();
    assert_eq!(requests[0].method, "PUT");
    assert_eq!(
        requests[0].path,
        "/apis/memhpa.io/v1/namespaces/demo/memhpas/web/status"
    );
    assert_eq!(requests[1].method, "PUT");
    assert_eq!(
        requests[1].path,
        "/apis/apps/v1/namespaces/demo/deployments/web/scale"
    );
}

#[test]
fn create_conflict_and_invalid_map_with_their_messages() {
    let path = "/apis/memhpa.io/v1/namespaces/demo/memhpas";
    let err = error_of("memhpa-create-exists-409.txt", "create", path);
    assert!(
        matches!(&err, KubeError { kind: ErrorKind::Status { code: 409, reason, message, .. }, .. }
            if reason == "AlreadyExists" && message == "memhpas.memhpa.io \"web\" already exists"),
        "{err:?}"
    );
    let err = error_of("memhpa-create-invalid-422.txt", "create", path);
    let KubeError {
        kind:
            ErrorKind::Status {
                code: 422,
                ref message,
                ref causes,
                ..
            },
        ..
    } = err
    else {
        panic!("expected Invalid, got {err:?}");
    };
    assert!(
        message.contains("minReplicas must be <= maxReplicas"),
        "{message}"
    );
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].field.as_deref(), Some("spec"));
    assert_eq!(causes[0].reason.as_deref(), Some("FieldValueInvalid"));
    let text = err.to_string();
    assert!(text.contains("field \"spec\""), "{text}");
}

#[test]
fn delete_answer_is_a_success_status() {
    let status: Status = decode("memhpa-delete.txt");
    assert_eq!(status.status.as_deref(), Some("Success"));
    let details = status.details.expect("details");
    assert_eq!(details.name.as_deref(), Some("web"));
    assert_eq!(
        details.uid.as_deref(),
        Some("5aedc382-04c5-4dc7-a5ea-ea5c48072291")
    );
}

#[test]
fn created_memhpa_decodes_and_its_target_maps() {
    let hpa: MemHpa = decode("memhpa-create.txt");
    assert_eq!(hpa.metadata.key(), "demo/web");
    assert_eq!(hpa.metadata.generation, Some(1));
    assert_eq!(hpa.spec.target_utilization_percentage, Some(50));
    assert_eq!(hpa.spec.min_replicas, Some(1));
    assert_eq!(hpa.spec.max_replicas, Some(10));
    assert!(hpa.status.is_none());
    let reference = hpa.spec.scale_target_ref.expect("scaleTargetRef");
    let target = ScaleTarget::from_ref(&reference.api_version, &reference.kind, &reference.name)
        .expect("supported target");
    assert_eq!(
        target.path("demo"),
        "/apis/apps/v1/namespaces/demo/deployments/web/scale"
    );
}

#[test]
fn lists_through_the_client_feed_the_reflector() {
    let (client, canned) = served(&["memhpa-list-all-namespaces.txt", "memhpa-list-empty.txt"]);
    let mut reflector = Reflector::new();
    let list = client.list_memhpas(None).expect("list");
    assert_eq!(list.metadata.resource_version.as_deref(), Some("572"));
    let changes = reflector.listed(list);
    assert!(
        matches!(changes.as_slice(), [Change::Applied(hpa)]
            if hpa.metadata.key() == "demo/web"
                && hpa.status.as_ref().and_then(|s| s.current_utilization_percentage) == Some(80)),
        "{changes:?}"
    );
    let Change::Applied(listed) = &changes[0] else {
        unreachable!("checked above")
    };
    let condition = &listed.status.as_ref().expect("status").conditions[0];
    assert_eq!(condition.type_, "ScalingActive");
    assert_eq!(condition.reason.as_deref(), Some("ValidMetricFound"));
    let empty = client.list_memhpas(Some("demo")).expect("empty list");
    assert!(empty.items.is_empty());
    let changes = reflector.listed(empty);
    assert_eq!(changes, [Change::Deleted("demo/web".into())]);
    assert_eq!(reflector.resource_version(), Some("568"));
    assert!(reflector.is_empty());
    assert_eq!(
        canned.requests()[1].path,
        "/apis/memhpa.io/v1/namespaces/demo/memhpas?limit=500"
    );
}

#[test]
fn status_and_spec_writes_show_the_generation_rules() {
    let ignored: MemHpa = decode("memhpa-status-put-spec-change-ignored.txt");
    assert_eq!(
        ignored.spec.max_replicas,
        Some(10),
        "the spec change was ignored"
    );
    assert_eq!(ignored.metadata.generation, Some(1));
    assert_eq!(
        ignored.status.as_ref().and_then(|s| s.desired_replicas),
        Some(4)
    );
    let patched: MemHpa = decode("memhpa-status-merge-patch.txt");
    assert_eq!(patched.metadata.generation, Some(1));
    assert_eq!(
        patched.status.as_ref().and_then(|s| s.desired_replicas),
        Some(5)
    );
    let spec: MemHpa = decode("memhpa-spec-merge-patch-bumps-generation.txt");
    assert_eq!(spec.metadata.generation, Some(2));
    assert_eq!(spec.spec.target_utilization_percentage, Some(60));
    assert_eq!(
        spec.status.as_ref().and_then(|s| s.observed_generation),
        Some(1)
    );
}

#[test]
fn status_put_through_the_client_returns_the_server_object() {
    let (client, canned) = served(&["memhpa-status-put-spec-change-ignored.txt"]);
    let mut hpa: MemHpa = decode("memhpa-create.txt");
    hpa.spec.max_replicas = Some(99);
    let answer = client.replace_memhpa_status(&hpa).expect("status put");
    assert_eq!(answer.spec.max_replicas, Some(10));
    assert_eq!(answer.metadata.resource_version.as_deref(), Some("570"));
    let sent: serde_json::Value =
        serde_json::from_slice(&canned.requests()[0].body).expect("sent json");
    assert_eq!(sent["metadata"]["resourceVersion"], "569");
}

#[test]
fn watch_stream_through_the_reflector() {
    let fixture = load("memhpa-watch-stream.txt");
    assert_eq!(fixture.status, 200);
    let mut reflector = Reflector::new();
    reflector.listed(decode::<ObjectList<MemHpa>>("memhpa-list-empty.txt"));
    let mut seen = Vec::new();
    for event in Watch::from_reader(
        "memhpa-watch-stream.txt",
        std::io::Cursor::new(fixture.body),
    ) {
        let event = event.expect("every line is an event");
        let type_ = event.type_.clone();
        let step = reflector.event(event);
        let Step::Changes(changes) = step else {
            panic!("{type_}: unexpected {step:?}");
        };
        let change = match changes.as_slice() {
            [] => "-".to_string(),
            [Change::Applied(hpa)] => format!(
                "applied {} gen {}",
                hpa.metadata.key(),
                hpa.metadata.generation.unwrap_or(0)
            ),
            [Change::Deleted(key)] => format!("deleted {key}"),
            more => panic!("{type_}: {more:?}"),
        };
        seen.push(format!(
            "{type_} {} {change}",
            reflector.resource_version().unwrap_or("none")
        ));
    }
    assert_eq!(
        seen,
        [
            "ADDED 569 applied demo/web gen 1",
            "MODIFIED 570 applied demo/web gen 1",
            "MODIFIED 571 applied demo/web gen 1",
            "MODIFIED 572 applied demo/web gen 2",
            "DELETED 573 deleted demo/web",
            "BOOKMARK 573 -",
            "BOOKMARK 573 -",
        ]
    );
    assert!(reflector.is_empty());
}

#[test]
fn watch_stream_through_the_client() {
    let (client, canned) = served(&["memhpa-watch-stream.txt"]);
    let types: Vec<String> = client
        .watch_memhpas(None, "568", 8)
        .expect("watch")
        .map(|event| event.expect("event").type_)
        .collect();
    assert_eq!(
        types,
        ["ADDED", "MODIFIED", "MODIFIED", "MODIFIED", "DELETED", "BOOKMARK", "BOOKMARK"]
    );
    assert_eq!(
        canned.requests()[0].path,
        "/apis/memhpa.io/v1/memhpas?watch=true&allowWatchBookmarks=true&resourceVersion=568&timeoutSeconds=8"
    );
}

#[test]
fn expired_watch_means_relist() {
    let (client, _canned) = served(&["memhpa-watch-expired-410.txt"]);
    let mut reflector = Reflector::new();
    reflector.listed(decode::<ObjectList<MemHpa>>(
        "memhpa-list-all-namespaces.txt",
    ));
    let events: Vec<_> = client
        .watch_memhpas(None, "574", 8)
        .expect("200 stream")
        .collect();
    assert_eq!(events.len(), 1);
    let event = events.into_iter().next().expect("one").expect("an event");
    assert_eq!(event.type_, "ERROR");
    let status: Status = serde_json::from_value(event.object.clone()).expect("status");
    let err = KubeError::from_status("watch", "/apis/memhpa.io/v1/memhpas", 0, &status, None);
    assert!(
        matches!(&err, KubeError { kind: ErrorKind::Status { code: 410, message, .. }, .. } if message == "too old resource version: 574 (581)"),
        "{err:?}"
    );
    assert_eq!(reflector.event(event), Step::Relist);
    assert_eq!(reflector.resource_version(), None);
}

#[test]
fn scale_get_put_and_patch_answers() {
    let (client, canned) = served(&["scale-get.txt", "scale-put.txt"]);
    let mut scale = client.get_scale("demo", &web_target()).expect("get");
    assert_eq!(scale.status.selector.as_deref(), Some("app=web"));
    assert_eq!((scale.spec.replicas, scale.status.replicas), (2, 2));
    scale.spec.replicas = 3;
    let answer = client
        .replace_scale("demo", &web_target(), &scale)
        .expect("put");
    assert_eq!(answer.spec.replicas, 3);
    assert_eq!(answer.metadata.resource_version.as_deref(), Some("547"));
    let sent: serde_json::Value =
        serde_json::from_slice(&canned.requests()[1].body).expect("sent json");
    assert_eq!(sent["spec"]["replicas"], 3);
    assert_eq!(sent["metadata"]["resourceVersion"], "269");
    let patched: Scale = decode("scale-patch-merge.txt");
    assert_eq!(patched.status.replicas, 3);
    assert_eq!(patched.status.selector.as_deref(), Some("app=web"));
}

#[test]
fn pods_by_selector_with_quantities() {
    let (client, canned) = served(&["pods-list-by-selector.txt"]);
    let pods: Vec<Pod> = client.list_pods("demo", "app=web").expect("pods");
    assert_eq!(pods.len(), 2);
    for pod in &pods {
        assert_eq!(pod.status.phase.as_deref(), Some("Pending"));
        let by_name: Vec<(&str, u64, u64)> = pod
            .spec
            .containers
            .iter()
            .map(|container| {
                let memory = |map: &std::collections::BTreeMap<String, serde_json::Value>| {
                    parse_quantity(map.get("memory").expect("memory")).expect("quantity")
                };
                (
                    container.name.as_str(),
                    memory(&container.resources.limits),
                    memory(&container.resources.requests),
                )
            })
            .collect();
        assert_eq!(
            by_name,
            [("app", 100 * MI, 50 * MI), ("sidecar", 20 * MI, 20 * MI)]
        );
    }
    assert_eq!(
        canned.requests()[0].path,
        "/api/v1/namespaces/demo/pods?labelSelector=app%3Dweb&limit=500"
    );
}

/// The captured pod list through the paged list (the pod watch's), the
/// reflector and the pod cache: what a reconcile then reads is what the
/// LIST by selector gives.
#[test]
fn captured_pods_through_the_paged_list_into_the_cache() {
    let (client, canned) = served(&["pods-list-by-selector.txt", "pods-list-by-selector.txt"]);
    let listed: Vec<Pod> = client.list_pods("demo", "app=web").expect("pods");
    let cache = PodCache::new(Scope::All);
    let mut reflector: Reflector<Pod> = Reflector::default();
    reflector.list_begin();
    let rv = client
        .list_pods_paged(None, &mut |page| match page {
            PodPage::Restart => reflector.list_begin(),
            PodPage::Pods(pods) => cache.apply(reflector.list_page(pods)),
        })
        .expect("paged list");
    assert!(reflector.list_end(rv.clone()).is_empty());
    assert_eq!(rv.as_deref(), Some("567"));
    cache.set_synced();
    assert_eq!(canned.requests()[1].path, "/api/v1/pods?limit=500");
    let selector = LabelSelector::parse("app=web").expect("selector");
    let cached = cache.pods("demo", &selector).expect("synced");
    assert_eq!(cached.len(), 2);
    for (from_cache, from_list) in cached.iter().zip(&listed) {
        assert_eq!(from_cache.metadata.name, from_list.metadata.name);
        assert_eq!(from_cache.status, from_list.status);
        assert_eq!(
            from_cache.spec, from_list.spec,
            "containers, limits and requests"
        );
    }
}

#[test]
fn event_create_then_count_bump() {
    let created: Event = decode("event-create.txt");
    assert_eq!(created.count, Some(1));
    assert_eq!(created.source.component.as_deref(), Some("memhpa"));
    assert_eq!(created.type_.as_deref(), Some("Normal"));
    assert_eq!(created.involved_object.kind.as_deref(), Some("MemHpa"));
    let bumped: Event = decode("event-patch-count.txt");
    assert_eq!(bumped.metadata.name, created.metadata.name);
    assert_eq!(bumped.count, Some(2));
    assert_eq!(bumped.first_timestamp, created.first_timestamp);
    assert_eq!(
        bumped.last_timestamp.as_deref(),
        Some("2026-11-22T12:05:00Z")
    );
}

#[test]
fn recorder_and_client_reproduce_the_captured_bump() {
    let created: Event = decode("event-create.txt");
    let first = rfc3339::parse(created.first_timestamp.as_deref().expect("first"))
        .map(rfc3339::unix_seconds)
        .expect("time");
    let involved: ObjectReference = created.involved_object.clone();
    let reason = created.reason.clone().expect("reason");
    let message = created.message.clone().expect("message");
    let mut recorder = EventRecorder::with_seed(1);
    let EventAction::Create(event) = recorder.record(first, &involved, false, &reason, &message)
    else {
        panic!("first record must create");
    };
    assert_eq!(event.first_timestamp, created.first_timestamp);
    let bump = recorder.record(first + 300, &involved, false, &reason, &message);
    let EventAction::Bump {
        name,
        count,
        last_timestamp,
    } = bump
    else {
        panic!("second record must bump, got {bump:?}");
    };
    assert_eq!(count, 2);
    let bumped: Event = decode("event-patch-count.txt");
    assert_eq!(Some(last_timestamp.clone()), bumped.last_timestamp);

    let (client, canned) = served(&["event-create.txt", "event-patch-count.txt"]);
    client.create_event("demo", &event).expect("create");
    let answer = client
        .patch_event("demo", &name, count, &last_timestamp)
        .expect("patch");
    assert_eq!(answer.count, Some(2));
    let requests = canned.requests();
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/api/v1/namespaces/demo/events");
    assert_eq!(requests[1].method, "PATCH");
    assert_eq!(
        requests[1].header("content-type"),
        Some("application/merge-patch+json")
    );
    let patch: serde_json::Value = serde_json::from_slice(&requests[1].body).expect("patch");
    assert_eq!(
        patch,
        serde_json::json!({"count": 2, "lastTimestamp": "2026-11-22T12:05:00Z"})
    );
}

/// The captured Lease (another holder's, 15 s) is respected while live and
/// taken over once expired, with client-go's transition count and the
/// captured resourceVersion as the precondition.
#[test]
fn captured_lease_is_respected_then_taken_over() {
    use memhpa::leader::{ElectionConfig, Elector, Step};
    use std::time::{Instant, SystemTime};
    let fixture = load("lease-create.txt");
    assert_eq!(fixture.status, 201);
    let captured: Lease = serde_json::from_slice(&fixture.body).expect("fixture decodes as Lease");
    let wall = |at: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000 + at);
    let t0 = Instant::now();
    let mut elector = Elector::new(ElectionConfig::new(
        "kube-system",
        "memhpa",
        "memhpa-a_0000000a",
    ));
    match elector.plan(Some(&captured), t0, wall(0)) {
        Step::Wait { holder, expires_in } => {
            assert_eq!(holder, "memhpa-7d9f-abc");
            assert_eq!(expires_in, Duration::from_secs(15));
        }
        step => panic!("live lease not respected: {step:?}"),
    }
    let Step::Update(takeover) =
        elector.plan(Some(&captured), t0 + Duration::from_secs(15), wall(15))
    else {
        panic!("expired lease not taken over");
    };
    assert_eq!(takeover.spec.lease_transitions, Some(1));
    assert_eq!(takeover.metadata.resource_version.as_deref(), Some("585"));
    assert_eq!(takeover.metadata.uid, captured.metadata.uid);
}
