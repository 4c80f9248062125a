//! Self-tests of the fake kube-apiserver in tests/kubesupport, over plain
//! ureq: its semantics (versions, watches, subresources, selectors, auth,
//! faults) and, wherever a fixture captured the real answer, the same shape.
//!
//! This binary alone also compiles the unit tests of the support modules'
//! insides (`kubesupport_selftest`, `httpsupport_selftest`), so that they run
//! once instead of once per test binary that includes the modules.

mod httpsupport;
mod kubesupport;

#[path = "httpsupport/selftest/mod.rs"]
mod httpsupport_selftest;
#[path = "kubesupport/selftest/mod.rs"]
mod kubesupport_selftest;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use kubesupport::fixtures::load;
use kubesupport::shape::same_shape;
use kubesupport::{eventually, FakeApiServer, Workload, TOKEN};
use serde_json::{json, Value};

const MEMHPAS: &str = "/apis/memhpa.io/v1/memhpas";
const DEMO_MEMHPAS: &str = "/apis/memhpa.io/v1/namespaces/demo/memhpas";
const MANAGED: &str = "metadata.managedFields";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("answer is not JSON ({err}): {}", self.body))
    }
}

fn finish(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let response = response.expect("request reached the fake");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response
        .into_body()
        .read_to_string()
        .expect("body readable");
    Answer {
        status,
        retry_after,
        body,
    }
}

fn get_as(agent: &ureq::Agent, server: &FakeApiServer, path: &str, token: Option<&str>) -> Answer {
    let mut request = agent.get(format!("{}{path}", server.url()));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    finish(request.call())
}

fn get(server: &FakeApiServer, path: &str) -> Answer {
    get_as(&agent(), server, path, Some(TOKEN))
}

fn delete(server: &FakeApiServer, path: &str) -> Answer {
    let request = agent()
        .delete(format!("{}{path}", server.url()))
        .header("Authorization", format!("Bearer {TOKEN}"));
    finish(request.call())
}

/// POST, PUT or PATCH (as a JSON merge patch) of `body`.
fn send(server: &FakeApiServer, method: &str, path: &str, body: &Value) -> Answer {
    let agent = agent();
    let url = format!("{}{path}", server.url());
    let (request, content_type) = match method {
        "POST" => (agent.post(url), "application/json"),
        "PUT" => (agent.put(url), "application/json"),
        "PATCH" => (agent.patch(url), "application/merge-patch+json"),
        other => panic!("send() takes POST, PUT or PATCH, not {other}"),
    };
    finish(
        request
            .header("Authorization", format!("Bearer {TOKEN}"))
            .header("Content-Type", content_type)
            .send(body.to_string()),
    )
}

/// How a watch stream ended.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ended {
    /// The server finished the chunked answer.
    Clean,
    /// The connection dropped mid-answer.
    Cut,
    /// We stopped reading after the wanted number of lines.
    Enough,
}

struct Watched {
    status: u16,
    events: Vec<Value>,
    ended: Ended,
}

impl Watched {
    fn types(&self) -> Vec<&str> {
        self.events
            .iter()
            .map(|e| e["type"].as_str().unwrap_or("?"))
            .collect()
    }

    fn object_events(&self) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["type"] != "BOOKMARK")
            .collect()
    }
}

/// Reads a watch (`query` after `?watch=true&`) until it ends or `max` lines.
fn watch(server: &FakeApiServer, path: &str, query: &str, max: usize) -> Watched {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(None)
        .timeout_recv_body(Some(Duration::from_secs(20)))
        .build()
        .new_agent();
    let url = format!("{}{path}?watch=true&{query}", server.url());
    let response = agent
        .get(url)
        .header("Authorization", format!("Bearer {TOKEN}"))
        .call()
        .expect("watch reached the fake");
    let status = response.status().as_u16();
    let mut reader = BufReader::new(response.into_body().into_reader());
    let mut events = Vec::new();
    for _ in 0..max {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => {
                return Watched {
                    status,
                    events,
                    ended: Ended::Clean,
                }
            }
            Ok(_) => events.push(
                serde_json::from_str(&line)
                    .unwrap_or_else(|err| panic!("event line {line:?}: {err}")),
            ),
            Err(_) => {
                return Watched {
                    status,
                    events,
                    ended: Ended::Cut,
                }
            }
        }
    }
    Watched {
        status,
        events,
        ended: Ended::Enough,
    }
}

fn rv_of(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|rv| rv.parse().ok())
        .unwrap_or_else(|| panic!("no numeric resourceVersion in {object}"))
}

fn list_rv(server: &FakeApiServer, path: &str) -> String {
    let list = get(server, path).json();
    list["metadata"]["resourceVersion"]
        .as_str()
        .expect("list resourceVersion")
        .to_string()
}

/// A MemHpa like the fixtures' `demo/web` (spec and, optionally, status).
fn memhpa(name: &str, with_status: bool) -> Value {
    let mut object = json!({
        "apiVersion": "memhpa.io/v1",
        "kind": "MemHpa",
        "metadata": {"name": name, "namespace": "demo"},
        "spec": {
            "maxReplicas": 10,
            "minReplicas": 1,
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "targetUtilizationPercentage": 50
        }
    });
    if with_status {
        object["status"] = load("memhpa-status-merge-patch.txt").json()["status"].clone();
    }
    object
}

fn assert_shape(fixture: &str, actual: &Value, ignore: &[&str]) {
    let expected = load(fixture).json();
    if let Err(difference) = same_shape(&expected, actual, ignore) {
        panic!("{fixture}: {difference}\nfake answered: {actual}");
    }
}

// ---- lists and watches ----

#[test]
fn list_then_watch_replays_every_change_after_the_list() {
    let server = FakeApiServer::start();
    server.create_memhpa(memhpa("a", false));
    let from = list_rv(&server, MEMHPAS);

    server.create_memhpa(memhpa("b", false));
    server.update_memhpa_spec("demo", "a", |spec| {
        spec["targetUtilizationPercentage"] = json!(60)
    });
    let mut status = server.memhpa("demo", "a").expect("a");
    status["status"] = json!({"currentReplicas": 2});
    let put = send(&server, "PUT", &format!("{DEMO_MEMHPAS}/a/status"), &status);
    assert_eq!(put.status, 200, "{}", put.body);
    assert!(server.delete_memhpa("demo", "b"));

    let watched = watch(
        &server,
        MEMHPAS,
        &format!("resourceVersion={from}&timeoutSeconds=1"),
        50,
    );
    assert_eq!(watched.status, 200);
    assert_eq!(watched.ended, Ended::Clean);
    assert_eq!(
        watched.types(),
        ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]
    );
    let names: Vec<&str> = watched
        .events
        .iter()
        .map(|e| e["object"]["metadata"]["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["b", "a", "a", "b"]);
    assert_eq!(watched.events[1]["object"]["metadata"]["generation"], 2);
    assert_eq!(watched.events[2]["object"]["status"]["currentReplicas"], 2);
    let versions: Vec<u64> = watched.events.iter().map(|e| rv_of(&e["object"])).collect();
    assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    assert!(versions[0] > from.parse::<u64>().expect("numeric list version"));
}

#[test]
fn watch_events_shaped_like_the_captured_stream() {
    let server = FakeApiServer::start();
    let from = list_rv(&server, MEMHPAS);
    server.create_memhpa(memhpa("web", false));
    let mut object = server.memhpa("demo", "web").expect("web");
    object["status"] = load("memhpa-status-merge-patch.txt").json()["status"].clone();
    send(
        &server,
        "PUT",
        &format!("{DEMO_MEMHPAS}/web/status"),
        &object,
    );
    server.update_memhpa_spec("demo", "web", |spec| {
        spec["targetUtilizationPercentage"] = json!(60)
    });
    server.delete_memhpa("demo", "web");

    let query = format!("resourceVersion={from}&allowWatchBookmarks=true&timeoutSeconds=1");
    let watched = watch(&server, MEMHPAS, &query, 50);
    let captured = load("memhpa-watch-stream.txt").lines();
    // Captured: ADDED, MODIFIED (status), MODIFIED (status), MODIFIED (spec), DELETED, BOOKMARKs.
    let pairs = [(0, 0), (1, 1), (2, 3), (3, 4)];
    let ours = watched.object_events();
    assert_eq!(ours.len(), 4, "{:?}", watched.types());
    for (mine, theirs) in pairs {
        if let Err(difference) = same_shape(
            &captured[theirs],
            ours[mine],
            &["object.metadata.managedFields"],
        ) {
            panic!(
                "event {mine} vs captured line {theirs}: {difference}\n{}",
                ours[mine]
            );
        }
    }
    let last = watched.events.last().expect("events");
    assert_eq!(last["type"], "BOOKMARK");
    assert_eq!(same_shape(&captured[5], last, &[]), Ok(()));
}

#[test]
fn watch_without_version_starts_with_the_current_objects() {
    let server = FakeApiServer::start();
    server.create_memhpa(memhpa("a", false));
    server.create_memhpa(memhpa("b", false));
    let watched = watch(&server, DEMO_MEMHPAS, "timeoutSeconds=1", 50);
    assert_eq!(watched.types(), ["ADDED", "ADDED"]);
    let zero = watch(
        &server,
        DEMO_MEMHPAS,
        "resourceVersion=0&timeoutSeconds=1",
        50,
    );
    assert_eq!(zero.types(), ["ADDED", "ADDED"]);
}

#[test]
fn watch_streams_live_changes_and_filters_by_namespace() {
    let server = FakeApiServer::start();
    let from = list_rv(&server, DEMO_MEMHPAS);
    let watched = std::thread::scope(|scope| {
        let handle = scope.spawn(|| {
            watch(
                &server,
                DEMO_MEMHPAS,
                &format!("resourceVersion={from}&timeoutSeconds=3"),
                1,
            )
        });
        // Give the stream time to open, then write while it is live.
        std::thread::sleep(Duration::from_millis(300));
        let mut other = memhpa("x", false);
        other["metadata"]["namespace"] = json!("other");
        server.create_memhpa(other);
        server.create_memhpa(memhpa("live", false));
        handle.join().expect("watch thread")
    });
    assert_eq!(watched.events.len(), 1);
    assert_eq!(watched.events[0]["object"]["metadata"]["name"], "live");
}

#[test]
fn bookmarks_come_periodically_and_just_before_the_timeout() {
    let server = FakeApiServer::start();
    server.set_bookmark_interval(Duration::from_millis(200));
    server.create_memhpa(memhpa("web", false));
    let now = server.resource_version();
    let query = format!("resourceVersion={now}&allowWatchBookmarks=true&timeoutSeconds=1");
    let watched = watch(&server, MEMHPAS, &query, 100);
    assert_eq!(watched.ended, Ended::Clean);
    assert!(watched.events.len() >= 2, "{:?}", watched.types());
    assert!(watched.events.iter().all(|e| e["type"] == "BOOKMARK"));
    for bookmark in &watched.events {
        assert_eq!(rv_of(&bookmark["object"]), now);
    }
    let without = watch(
        &server,
        MEMHPAS,
        &format!("resourceVersion={now}&timeoutSeconds=1"),
        100,
    );
    assert!(without.events.is_empty(), "{:?}", without.types());
}

#[test]
fn watch_from_before_a_compaction_gets_the_410_error_event() {
    let server = FakeApiServer::start();
    let old = list_rv(&server, MEMHPAS);
    server.create_memhpa(memhpa("web", false));
    server.compact();

    let watched = watch(
        &server,
        MEMHPAS,
        &format!("resourceVersion={old}&timeoutSeconds=5"),
        10,
    );
    assert_eq!(watched.status, 200);
    assert_eq!(watched.ended, Ended::Clean);
    assert_eq!(watched.events.len(), 1);
    let captured = load("memhpa-watch-expired-410.txt").json();
    assert_eq!(same_shape(&captured, &watched.events[0], &[]), Ok(()));
    assert_eq!(watched.events[0]["object"]["code"], 410);
    assert_eq!(watched.events[0]["object"]["reason"], "Expired");

    let fresh = list_rv(&server, MEMHPAS);
    let resumed = watch(
        &server,
        MEMHPAS,
        &format!("resourceVersion={fresh}&timeoutSeconds=1"),
        10,
    );
    assert!(resumed.events.is_empty(), "{:?}", resumed.types());
}

#[test]
fn expired_watch_as_http_410_when_toggled() {
    let server = FakeApiServer::start();
    let old = list_rv(&server, MEMHPAS);
    server.create_memhpa(memhpa("web", false));
    server.compact();
    server.set_expired_as_http_410(true);
    let answer = get(
        &server,
        &format!("{MEMHPAS}?watch=true&resourceVersion={old}"),
    );
    assert_eq!(answer.status, 410);
    let captured = load("memhpa-watch-expired-410.txt").json();
    assert_eq!(same_shape(&captured["object"], &answer.json(), &[]), Ok(()));
}

#[test]
fn watch_cut_after_k_events_and_resumed_from_the_last_version() {
    let server = FakeApiServer::start();
    let from = list_rv(&server, MEMHPAS);
    for name in ["a", "b", "c", "d"] {
        server.create_memhpa(memhpa(name, false));
    }
    server.cut_watches_after_events(Some(2));
    let first = watch(
        &server,
        MEMHPAS,
        &format!("resourceVersion={from}&timeoutSeconds=5"),
        10,
    );
    assert_eq!(first.ended, Ended::Cut);
    assert_eq!(first.events.len(), 2);
    let last = rv_of(&first.events[1]["object"]);
    let second = watch(
        &server,
        MEMHPAS,
        &format!("resourceVersion={last}&timeoutSeconds=5"),
        10,
    );
    assert_eq!(second.ended, Ended::Cut);
    let names: Vec<&Value> = second
        .events
        .iter()
        .map(|e| &e["object"]["metadata"]["name"])
        .collect();
    assert_eq!(names, [&json!("c"), &json!("d")]);
}

#[test]
fn cut_next_watches_drops_them_at_once_then_streams_again() {
    let server = FakeApiServer::start();
    server.create_memhpa(memhpa("web", false));
    server.cut_next_watches(2);
    for _ in 0..2 {
        let cut = watch(&server, MEMHPAS, "timeoutSeconds=5", 10);
        assert_eq!((cut.ended, cut.events.len()), (Ended::Cut, 0));
    }
    let whole = watch(&server, MEMHPAS, "timeoutSeconds=1", 10);
    assert_eq!((whole.ended, whole.types()), (Ended::Clean, vec!["ADDED"]));
}

#[test]
fn cut_open_watches_ends_a_live_stream() {
    let server = FakeApiServer::start();
    let watched = std::thread::scope(|scope| {
        let handle = scope.spawn(|| watch(&server, MEMHPAS, "timeoutSeconds=20", 10));
        assert!(eventually(Duration::from_secs(10), || server
            .count("GET", "watch=true")
            > 0));
        server.cut_open_watches();
        handle.join().expect("watch thread")
    });
    assert_eq!(watched.ended, Ended::Cut);
}

// ---- memhpas: create, status and spec separation, concurrency ----

#[test]
fn memhpa_create_conflict_invalid_delete_match_fixtures() {
    let server = FakeApiServer::start();
    let created = send(&server, "POST", DEMO_MEMHPAS, &memhpa("web", false));
    assert_eq!(created.status, 201, "{}", created.body);
    assert_shape("memhpa-create.txt", &created.json(), &[MANAGED]);
    assert_eq!(created.json()["metadata"]["generation"], 1);

    let again = send(&server, "POST", DEMO_MEMHPAS, &memhpa("web", false));
    assert_eq!(again.status, 409);
    assert_eq!(again.json(), load("memhpa-create-exists-409.txt").json());

    let mut bad = memhpa("bad", false);
    bad["spec"]["minReplicas"] = json!(5);
    bad["spec"]["maxReplicas"] = json!(2);
    let invalid = send(&server, "POST", DEMO_MEMHPAS, &bad);
    assert_eq!(invalid.status, 422);
    assert_eq!(invalid.json(), load("memhpa-create-invalid-422.txt").json());

    let uid = created.json()["metadata"]["uid"].clone();
    let deleted = delete(&server, &format!("{DEMO_MEMHPAS}/web"));
    assert_eq!(deleted.status, 200);
    assert_shape("memhpa-delete.txt", &deleted.json(), &[]);
    assert_eq!(deleted.json()["details"]["uid"], uid);
    assert_eq!(get(&server, &format!("{DEMO_MEMHPAS}/web")).status, 404);
}

#[test]
fn memhpa_lists_shaped_like_fixtures() {
    let server = FakeApiServer::start();
    assert_shape("memhpa-list-empty.txt", &get(&server, MEMHPAS).json(), &[]);
    server.create_memhpa(memhpa("web", true));
    server.update_memhpa_spec("demo", "web", |spec| {
        spec["targetUtilizationPercentage"] = json!(60)
    });
    let list = get(&server, MEMHPAS).json();
    assert_shape(
        "memhpa-list-all-namespaces.txt",
        &list,
        &["items.metadata.managedFields"],
    );
    assert_eq!(
        list["metadata"]["resourceVersion"],
        server.resource_version().to_string()
    );
    let elsewhere = get(&server, "/apis/memhpa.io/v1/namespaces/other/memhpas").json();
    assert_eq!(elsewhere["items"], json!([]));
}

#[test]
fn status_put_ignores_spec_and_keeps_generation() {
    let server = FakeApiServer::start();
    server.create_memhpa(memhpa("web", false));
    let mut object = server.memhpa("demo", "web").expect("web");
    object["spec"]["maxReplicas"] = json!(99);
    object["status"] = load("memhpa-status-put-spec-change-ignored.txt").json()["status"].clone();
    let answer = send(
        &server,
        "PUT",
        &format!("{DEMO_MEMHPAS}/web/status"),
        &object,
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let stored = answer.json();
    assert_shape(
        "memhpa-status-put-spec-change-ignored.txt",
        &stored,
        &[MANAGED],
    );
    assert_eq!(stored["spec"]["maxReplicas"], 10);
    assert_eq!(stored["metadata"]["generation"], 1);
    assert_eq!(stored["status"]["desiredReplicas"], 4);
    assert!(rv_of(&stored) > rv_of(&object));
}

#[test]
fn main_resource_put_ignores_status() {
    let server = FakeApiServer::start();
    server.create_memhpa(memhpa("web", true));
    let mut object = server.memhpa("demo", "web").expect("web");
    object["status"]["desiredReplicas"] = json!(77);
    object["spec"]["maxReplicas"] = json!(12);
    let stored = send(&server, "PUT", &format!("{DEMO_MEMHPAS}/web"), &object).json();
    assert_eq!(stored["status"]["desiredReplicas"], 5);
    assert_eq!(stored["spec"]["maxReplicas"], 12);
    assert_eq!(stored["metadata"]["generation"], 2);
}

#[test]
fn spec_merge_patch_bumps_generation_status_patch_does_not() {
    let server = FakeApiServer::start();
    server.create_memhpa(memhpa("web", true));
    let path = format!("{DEMO_MEMHPAS}/web");
    let patched = send(
        &server,
        "PATCH",
        &path,
        &json!({"spec": {"targetUtilizationPercentage": 60}}),
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_shape(
        "memhpa-spec-merge-patch-bumps-generation.txt",
        &patched.json(),
        &[MANAGED],
    );
    assert_eq!(patched.json()["metadata"]["generation"], 2);
    assert_eq!(patched.json()["spec"]["maxReplicas"], 10);

    let status = send(
        &server,
        "PATCH",
        &format!("{path}/status"),
        &json!({"status": {"desiredReplicas": 6}, "spec": {"maxReplicas": 1}}),
    );
    assert_eq!(status.status, 200, "{}", status.body);
    assert_shape("memhpa-status-merge-patch.txt", &status.json(), &[MANAGED]);
    assert_eq!(status.json()["metadata"]["generation"], 2);
    assert_eq!(status.json()["spec"]["maxReplicas"], 10);
    assert_eq!(status.json()["status"]["desiredReplicas"], 6);
    assert_eq!(status.json()["status"]["currentReplicas"], 2);
}

#[test]
fn stale_status_put_conflicts_and_unversioned_put_is_refused() {
    let server = FakeApiServer::start();
    server.create_memhpa(memhpa("web", false));
    let stale = server.memhpa("demo", "web").expect("web");
    let path = format!("{DEMO_MEMHPAS}/web/status");
    let mut first = stale.clone();
    first["status"] = json!({"desiredReplicas": 3});
    assert_eq!(send(&server, "PUT", &path, &first).status, 200);

    let mut second = stale.clone();
    second["status"] = json!({"desiredReplicas": 4});
    let conflict = send(&server, "PUT", &path, &second);
    assert_eq!(conflict.status, 409);
    assert_eq!(
        conflict.json(),
        load("memhpa-status-put-stale-409.txt").json()
    );
    assert_eq!(
        server.memhpa("demo", "web").expect("web")["status"]["desiredReplicas"],
        3
    );

    // A custom resource takes no PUT without a version (real servers: 422).
    second["metadata"]
        .as_object_mut()
        .expect("metadata")
        .remove("resourceVersion");
    let blind = send(&server, "PUT", &path, &second);
    assert_eq!(blind.status, 422, "{}", blind.body);
    assert_eq!(
        blind.json()["message"],
        "memhpas.memhpa.io \"web\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
    );
    assert_eq!(
        server.memhpa("demo", "web").expect("web")["status"]["desiredReplicas"],
        3
    );
}

#[test]
fn put_without_version_overwrites_only_where_allowed() {
    let server = FakeApiServer::start();
    let events = "/api/v1/namespaces/demo/events";
    let event = json!({"metadata": {"name": "e"}, "reason": "A", "count": 1});
    assert_eq!(send(&server, "POST", events, &event).status, 201);
    server.create_memhpa(memhpa("web", false));
    let bumped = json!({"metadata": {"name": "e"}, "reason": "A", "count": 2});
    let put = send(&server, "PUT", &format!("{events}/e"), &bumped);
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(server.events("demo")[0]["count"], 2);

    let leases = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases";
    let lease = json!({"metadata": {"name": "memhpa"}, "spec": {"holderIdentity": "a"}});
    assert_eq!(send(&server, "POST", leases, &lease).status, 201);
    let taken = json!({"metadata": {"name": "memhpa"}, "spec": {"holderIdentity": "b"}});
    assert_eq!(
        send(&server, "PUT", &format!("{leases}/memhpa"), &taken).status,
        422
    );
    assert_eq!(
        server.lease("kube-system", "memhpa").expect("lease")["spec"]["holderIdentity"],
        "a"
    );

    let patch = send(
        &server,
        "PATCH",
        &format!("{DEMO_MEMHPAS}/web"),
        &json!({"spec": {"maxReplicas": 4}}),
    );
    assert_eq!(patch.status, 200, "{}", patch.body);
}

#[test]
fn identical_status_write_is_not_a_write() {
    let server = FakeApiServer::start();
    server.create_memhpa(memhpa("web", true));
    let before = server.resource_version();
    let object = server.memhpa("demo", "web").expect("web");
    let answer = send(
        &server,
        "PUT",
        &format!("{DEMO_MEMHPAS}/web/status"),
        &object,
    );
    assert_eq!(answer.status, 200);
    assert_eq!(server.resource_version(), before);
    let watched = watch(
        &server,
        MEMHPAS,
        &format!("resourceVersion={before}&timeoutSeconds=1"),
        10,
    );
    assert!(watched.events.is_empty(), "{:?}", watched.types());
}

// ---- scale ----

#[test]
fn scale_get_put_patch_write_the_workload() {
    let server = FakeApiServer::start();
    server.put_deployment("demo", "web", 2, &[("app", "web")]);
    let path = Workload::Deployment.scale_path("demo", "web");
    let scale = get(&server, &path);
    assert_eq!(scale.status, 200);
    assert_shape("scale-get.txt", &scale.json(), &[]);
    let scale = scale.json();
    assert_eq!(scale["status"]["selector"], "app=web");
    assert_eq!(scale["spec"]["replicas"], 2);

    let mut wanted = scale.clone();
    wanted["spec"]["replicas"] = json!(3);
    let put = send(&server, "PUT", &path, &wanted);
    assert_eq!(put.status, 200, "{}", put.body);
    assert_shape("scale-put.txt", &put.json(), &[]);
    assert_eq!(
        server.scale_replicas(Workload::Deployment, "demo", "web"),
        Some(3)
    );
    let workload = server
        .workload(Workload::Deployment, "demo", "web")
        .expect("web");
    assert_eq!(rv_of(&workload), rv_of(&put.json()));
    assert!(rv_of(&workload) > rv_of(&scale));

    let stale = send(&server, "PUT", &path, &wanted);
    assert_eq!(stale.status, 409);
    assert_eq!(stale.json(), load("scale-put-stale-409.txt").json());

    let patched = send(&server, "PATCH", &path, &json!({"spec": {"replicas": 5}}));
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_shape("scale-patch-merge.txt", &patched.json(), &[]);
    assert_eq!(
        server.scale_replicas(Workload::Deployment, "demo", "web"),
        Some(5)
    );
}

#[test]
fn scale_of_a_missing_target_is_404() {
    let server = FakeApiServer::start();
    let answer = get(&server, &Workload::Deployment.scale_path("demo", "nope"));
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json(), load("scale-get-missing-404.txt").json());
}

#[test]
fn scale_of_every_workload_kind() {
    let server = FakeApiServer::start();
    for kind in [
        Workload::StatefulSet,
        Workload::ReplicaSet,
        Workload::ReplicationController,
    ] {
        server.put_workload(kind, "demo", "w", 4, &[("tier", "db"), ("app", "w")]);
        let path = kind.scale_path("demo", "w");
        let scale = get(&server, &path).json();
        assert_eq!(scale["status"]["selector"], "app=w,tier=db", "{kind:?}");
        assert_eq!(scale["spec"]["replicas"], 4, "{kind:?}");
        let patched = send(&server, "PATCH", &path, &json!({"spec": {"replicas": 1}}));
        assert_eq!(patched.status, 200, "{kind:?}: {}", patched.body);
        assert_eq!(
            server.scale_replicas(kind, "demo", "w"),
            Some(1),
            "{kind:?}"
        );
    }
    assert!(Workload::ReplicationController
        .scale_path("demo", "w")
        .starts_with("/api/v1/"));
}

#[test]
fn negative_replicas_are_invalid() {
    let server = FakeApiServer::start();
    server.put_deployment("demo", "web", 2, &[("app", "web")]);
    let path = Workload::Deployment.scale_path("demo", "web");
    let answer = send(&server, "PATCH", &path, &json!({"spec": {"replicas": -1}}));
    assert_eq!(answer.status, 422);
    assert_eq!(
        server.scale_replicas(Workload::Deployment, "demo", "web"),
        Some(2)
    );
}

// ---- pods and selectors ----

fn pod(name: &str, labels: &[(&str, &str)]) -> Value {
    kubesupport::objects::pod(name, labels, "Running", &[("app", Some("100Mi"), None)])
}

fn pod_names(server: &FakeApiServer, selector: &str) -> Vec<String> {
    let query: String = selector
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    let answer = get(
        server,
        &format!("/api/v1/namespaces/demo/pods?labelSelector={query}"),
    );
    assert_eq!(answer.status, 200, "{selector}: {}", answer.body);
    answer.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn pods_filtered_by_label_selector() {
    let server = FakeApiServer::start();
    server.put_pod("demo", pod("front", &[("app", "web"), ("tier", "front")]));
    server.put_pod("demo", pod("back", &[("app", "web"), ("tier", "back")]));
    server.put_pod("demo", pod("canary", &[("app", "web"), ("canary", "yes")]));
    server.put_pod("demo", pod("db", &[("app", "db")]));
    server.put_pod("other", pod("elsewhere", &[("app", "web")]));
    let cases: [(&str, &[&str]); 9] = [
        ("app=web", &["back", "canary", "front"]),
        ("app==web", &["back", "canary", "front"]),
        ("app!=web", &["db"]),
        ("tier in (front, back)", &["back", "front"]),
        ("tier notin (front)", &["back", "canary", "db"]),
        ("canary", &["canary"]),
        ("app=web,!canary", &["back", "front"]),
        ("app=web,tier=front", &["front"]),
        ("", &["back", "canary", "db", "front"]),
    ];
    for (selector, expected) in cases {
        assert_eq!(pod_names(&server, selector), expected, "{selector:?}");
    }
    assert!(server.delete_pod("demo", "db"));
    assert_eq!(pod_names(&server, "app"), ["back", "canary", "front"]);
}

#[test]
fn malformed_selector_is_a_400_status() {
    let server = FakeApiServer::start();
    let answer = get(
        &server,
        "/api/v1/namespaces/demo/pods?labelSelector=app%20in%20(web",
    );
    assert_eq!(answer.status, 400);
    let body = answer.json();
    assert_eq!(body["reason"], "BadRequest");
    assert_eq!(body["code"], 400);
    // The same keys as every detail-less Status.
    assert_shape("unauthorized-401.txt", &body, &[]);
}

#[test]
fn pod_list_shaped_like_the_fixture() {
    let server = FakeApiServer::start();
    for item in load("pods-list-by-selector.txt").json()["items"]
        .as_array()
        .expect("items")
    {
        server.put_pod("demo", item.clone());
    }
    let list = get(
        &server,
        "/api/v1/namespaces/demo/pods?labelSelector=app%3Dweb",
    )
    .json();
    assert_shape("pods-list-by-selector.txt", &list, &[]);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
}

#[test]
fn pod_list_pages_with_limit_and_continue_across_namespaces() {
    let server = FakeApiServer::start();
    for (ns, name) in [
        ("a", "p1"),
        ("a", "p2"),
        ("b", "p1"),
        ("b", "p3"),
        ("c", "p0"),
    ] {
        server.put_pod(ns, pod(name, &[("app", "web")]));
    }
    let mut seen = Vec::new();
    let mut versions = Vec::new();
    let mut token = String::new();
    for _ in 0..10 {
        let query = if token.is_empty() {
            "limit=2".to_string()
        } else {
            format!("limit=2&continue={token}")
        };
        let page = get(&server, &format!("/api/v1/pods?{query}")).json();
        versions.push(page["metadata"]["resourceVersion"].clone());
        for item in page["items"].as_array().expect("items") {
            let meta = &item["metadata"];
            seen.push(format!(
                "{}/{}",
                meta["namespace"].as_str().unwrap(),
                meta["name"].as_str().unwrap()
            ));
        }
        match page["metadata"]["continue"].as_str() {
            Some(next) => {
                assert!(!next.is_empty());
                let left = page["metadata"]["remainingItemCount"].as_u64();
                assert_eq!(left, Some(5 - seen.len() as u64), "{page}");
                token = next.to_string();
            }
            None => {
                assert!(
                    page["metadata"].get("remainingItemCount").is_none(),
                    "{page}"
                );
                break;
            }
        }
        // A change between pages does not move the pages' version.
        server.put_pod("z", pod("late", &[("app", "web")]));
    }
    // Served from the first page's snapshot: the late pod is not in it.
    assert_eq!(seen, ["a/p1", "a/p2", "b/p1", "b/p3", "c/p0"]);
    assert!(versions.windows(2).all(|w| w[0] == w[1]), "{versions:?}");
    // Without a limit, one page holding everything, and no token.
    let whole = get(&server, "/api/v1/namespaces/b/pods").json();
    assert_eq!(whole["items"].as_array().map(Vec::len), Some(2));
    assert!(whole["metadata"].get("continue").is_none());
}

#[test]
fn a_continue_token_from_before_a_compaction_is_410_and_a_bad_one_400() {
    let server = FakeApiServer::start();
    for name in ["p1", "p2", "p3"] {
        server.put_pod("demo", pod(name, &[("app", "web")]));
    }
    let first = get(&server, "/api/v1/namespaces/demo/pods?limit=1").json();
    let token = first["metadata"]["continue"]
        .as_str()
        .expect("token")
        .to_string();
    server.put_pod("demo", pod("p4", &[("app", "web")]));
    server.compact();
    let expired = get(
        &server,
        &format!("/api/v1/namespaces/demo/pods?limit=1&continue={token}"),
    );
    assert_eq!(expired.status, 410, "{}", expired.body);
    let body = expired.json();
    assert_eq!(body["reason"], "Expired");
    assert!(body["message"]
        .as_str()
        .unwrap_or("")
        .contains("continue parameter is too old"));
    let bad = get(&server, "/api/v1/namespaces/demo/pods?limit=1&continue=zzz");
    assert_eq!(bad.status, 400, "{}", bad.body);
}

#[test]
fn a_paged_memhpa_list_keeps_the_crd_shape() {
    let server = FakeApiServer::start();
    for name in ["a", "b", "c"] {
        server.create_memhpa(memhpa(name, false));
    }
    let first = get(&server, &format!("{MEMHPAS}?limit=2")).json();
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(first["metadata"]["remainingItemCount"], 1);
    let token = first["metadata"]["continue"].as_str().expect("token");
    let last = get(&server, &format!("{MEMHPAS}?limit=2&continue={token}")).json();
    assert_eq!(last["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        last["metadata"]["continue"], "",
        "a CRD list always says continue"
    );
    assert_shape("memhpa-list-all-namespaces.txt", &last, &["items"]);
}

#[test]
fn pod_watch_streams_changes_of_one_namespace_or_all() {
    let server = FakeApiServer::start();
    let rv = list_rv(&server, "/api/v1/pods");
    server.put_pod("demo", pod("p1", &[("app", "web")]));
    server.put_pod("other", pod("p2", &[("app", "web")]));
    assert!(server.delete_pod("demo", "p1"));
    let query = format!("resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=1");
    let all = watch(&server, "/api/v1/pods", &query, 20);
    assert_eq!(all.status, 200);
    let kinds: Vec<String> = all
        .object_events()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["type"].as_str().unwrap(),
                e["object"]["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(kinds, ["ADDED p1", "ADDED p2", "DELETED p1"]);
    assert_eq!(all.object_events()[0]["object"]["kind"], "Pod");
    let bookmark = all
        .events
        .iter()
        .find(|e| e["type"] == "BOOKMARK")
        .expect("a bookmark");
    assert_eq!(bookmark["object"]["kind"], "Pod");
    let one = watch(&server, "/api/v1/namespaces/other/pods", &query, 20);
    assert_eq!(one.object_events().len(), 1);
}

#[test]
fn latency_delays_every_request_until_turned_off() {
    let server = FakeApiServer::start();
    server.set_latency(Duration::from_millis(300));
    server.clear_faults();
    let started = std::time::Instant::now();
    assert_eq!(get(&server, "/api/v1/namespaces/demo/pods").status, 200);
    let slow = started.elapsed();
    server.set_latency(Duration::ZERO);
    assert!(
        slow >= Duration::from_millis(300),
        "latency kept by clear_faults: {slow:?}"
    );
}

// ---- auth ----

#[test]
fn missing_or_wrong_token_is_401_and_rotation_takes_effect() {
    let server = FakeApiServer::start();
    let agent = agent();
    let missing = get_as(&agent, &server, MEMHPAS, None);
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json(), load("unauthorized-401.txt").json());
    assert_eq!(get_as(&agent, &server, MEMHPAS, Some("wrong")).status, 401);
    assert_eq!(get_as(&agent, &server, MEMHPAS, Some(TOKEN)).status, 200);

    server.set_tokens(&["rotated"]);
    assert_eq!(get_as(&agent, &server, MEMHPAS, Some(TOKEN)).status, 401);
    assert_eq!(
        get_as(&agent, &server, MEMHPAS, Some("rotated")).status,
        200
    );

    let sent: Vec<bool> = server.requests().iter().map(|r| r.authorization).collect();
    assert_eq!(sent, [false, true, true, true, true]);
}

#[test]
fn forbidden_resource_is_403_in_rbac_words() {
    let server = FakeApiServer::start();
    server.forbid("memhpas", true);
    let answer = get(&server, MEMHPAS);
    assert_eq!(answer.status, 403);
    assert_shape("forbidden-403.txt", &answer.json(), &[]);
    let message = answer.json()["message"].as_str().unwrap_or("").to_string();
    assert!(
        message.ends_with(
            "cannot list resource \"memhpas\" in API group \"memhpa.io\" at the cluster scope"
        ),
        "{message}"
    );
    server.forbid("memhpas", false);
    assert_eq!(get(&server, MEMHPAS).status, 200);
}

// ---- faults ----

#[test]
fn throttled_request_gets_429_with_retry_after() {
    let server = FakeApiServer::start();
    server.throttle_next("GET", "/memhpas", 1, 3);
    let throttled = get(&server, MEMHPAS);
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.retry_after.as_deref(), Some("3"));
    assert_eq!(throttled.json()["details"]["retryAfterSeconds"], 3);
    assert_eq!(throttled.json()["reason"], "TooManyRequests");
    assert_eq!(get(&server, MEMHPAS).status, 200);
}

#[test]
fn injected_5xx_burst_then_recovery() {
    let server = FakeApiServer::start();
    server.put_deployment("demo", "web", 2, &[("app", "web")]);
    server.fail_next("*", "/scale", 3, 503);
    let path = Workload::Deployment.scale_path("demo", "web");
    let statuses: Vec<u16> = (0..4).map(|_| get(&server, &path).status).collect();
    assert_eq!(statuses, [503, 503, 503, 200]);
    assert_eq!(server.count("GET", "/scale"), 4);
    let recorded: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(recorded, statuses);
}

#[test]
fn delay_holds_matching_requests_only() {
    let server = FakeApiServer::start();
    server.delay("GET", "/memhpas", Duration::from_millis(300));
    let began = Instant::now();
    assert_eq!(get(&server, MEMHPAS).status, 200);
    assert!(began.elapsed() >= Duration::from_millis(300));
    server.clear_faults();
    server.throttle_next("GET", "/leases", 1, 1);
    server.clear_faults();
    assert_eq!(
        get(
            &server,
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/memhpa"
        )
        .status,
        404
    );
}

// ---- leases and events ----

#[test]
fn lease_lifecycle_matches_fixtures() {
    let server = FakeApiServer::start();
    let leases = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases";
    let missing = get(&server, &format!("{leases}/memhpa"));
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json(), load("lease-get-missing-404.txt").json());

    let mut lease = load("lease-create.txt").json();
    lease["metadata"] = json!({"name": "memhpa", "namespace": "kube-system"});
    let created = send(&server, "POST", leases, &lease);
    assert_eq!(created.status, 201, "{}", created.body);
    assert_shape("lease-create.txt", &created.json(), &[MANAGED]);

    let exists = send(&server, "POST", leases, &lease);
    assert_eq!(exists.status, 409);
    assert_eq!(exists.json(), load("lease-create-exists-409.txt").json());

    let mut renewed = created.json();
    renewed["spec"]["renewTime"] = json!("2026-11-22T12:00:02.000000Z");
    let put = send(&server, "PUT", &format!("{leases}/memhpa"), &renewed);
    assert_eq!(put.status, 200, "{}", put.body);
    assert!(rv_of(&put.json()) > rv_of(&created.json()));
    let stale = send(&server, "PUT", &format!("{leases}/memhpa"), &renewed);
    assert_eq!(stale.status, 409);
    assert_eq!(stale.json()["reason"], "Conflict");
    let lease = server.lease("kube-system", "memhpa").expect("lease");
    assert_eq!(lease["spec"]["renewTime"], "2026-11-22T12:00:02.000000Z");
}

#[test]
fn event_create_with_generate_name_then_count_patch() {
    let server = FakeApiServer::start();
    let mut event = load("event-create.txt").json();
    event["metadata"] = json!({"generateName": "web.", "namespace": "demo"});
    let events = "/api/v1/namespaces/demo/events";
    let created = send(&server, "POST", events, &event);
    assert_eq!(created.status, 201, "{}", created.body);
    let created = created.json();
    assert_shape("event-create.txt", &created, &[MANAGED]);
    let name = created["metadata"]["name"]
        .as_str()
        .expect("name")
        .to_string();
    assert!(
        name.starts_with("web.") && name.len() == "web.".len() + 5,
        "{name}"
    );

    let patch = json!({"count": 2, "lastTimestamp": "2026-11-22T12:05:00Z"});
    let patched = send(&server, "PATCH", &format!("{events}/{name}"), &patch);
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_shape("event-patch-count.txt", &patched.json(), &[MANAGED]);
    assert_eq!(patched.json()["count"], 2);
    assert_eq!(patched.json()["firstTimestamp"], "2026-11-22T12:00:00Z");

    let stored = server.events("demo");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["count"], 2);
    let listed = get(&server, events).json();
    assert_eq!(listed["kind"], "EventList");
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
}

#[test]
fn strategic_merge_patch_is_refused() {
    let server = FakeApiServer::start();
    server.create_memhpa(memhpa("web", false));
    let answer = finish(
        agent()
            .patch(format!("{}{DEMO_MEMHPAS}/web", server.url()))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .header("Content-Type", "application/strategic-merge-patch+json")
            .send("{}"),
    );
    assert_eq!(answer.status, 415);
}

// ---- transport and recording ----

#[test]
fn keep_alive_reuses_one_connection() {
    let server = FakeApiServer::start();
    let agent = agent();
    for _ in 0..5 {
        assert_eq!(get_as(&agent, &server, MEMHPAS, Some(TOKEN)).status, 200);
    }
    assert_eq!(server.connections_accepted(), 1);
}

#[test]
fn requests_are_recorded_with_their_answers() {
    let server = FakeApiServer::start();
    server.put_deployment("demo", "web", 2, &[("app", "web")]);
    let path = Workload::Deployment.scale_path("demo", "web");
    send(&server, "PATCH", &path, &json!({"spec": {"replicas": 4}}));
    get(&server, &format!("{MEMHPAS}?labelSelector=a%3Db"));
    let recorded = server.requests();
    assert_eq!(recorded.len(), 2);
    let patch = &recorded[0];
    assert_eq!(
        (patch.method.as_str(), patch.path.as_str(), patch.status),
        ("PATCH", path.as_str(), 200)
    );
    assert_eq!(
        patch.content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(patch.json(), Some(json!({"spec": {"replicas": 4}})));
    assert!(patch.authorization);
    assert_eq!(recorded[1].param("labelSelector").as_deref(), Some("a=b"));
    assert_eq!(server.count("*", "labelSelector"), 1);
    assert_eq!(server.count("PATCH", "/scale"), 1);
    server.clear_requests();
    assert!(server.requests().is_empty());
}

#[test]
fn each_request_is_recorded_with_its_token_and_user_agent() {
    let server = FakeApiServer::start();
    let agent = agent();
    let as_client = |token: &str, user_agent: &str| {
        agent
            .get(format!("{}{MEMHPAS}", server.url()))
            .header("Authorization", format!("bearer {token}"))
            .header("User-Agent", user_agent)
            .call()
            .map(|answer| answer.status().as_u16())
            .expect("an answer")
    };
    assert_eq!(as_client(TOKEN, "memhpa/1.0"), 200);
    // A refused token is recorded too: it tells who was refused.
    assert_eq!(as_client("other", "kubectl/1.24"), 401);
    assert_eq!(get_as(&agent, &server, MEMHPAS, None).status, 401);
    let seen: Vec<(Option<String>, Option<String>, u16)> = server
        .requests()
        .into_iter()
        .map(|r| (r.token, r.user_agent, r.status))
        .collect();
    let some = |s: &str| Some(s.to_string());
    assert_eq!(seen[0], (some(TOKEN), some("memhpa/1.0"), 200));
    assert_eq!(seen[1], (some("other"), some("kubectl/1.24"), 401));
    assert_eq!(seen[2].0, None);
    assert_eq!(seen.len(), 3);
    let recorded = server.requests();
    assert!(recorded[0].sent_with(TOKEN) && !recorded[1].sent_with(TOKEN));
}

#[test]
fn unknown_paths_are_404_status() {
    let server = FakeApiServer::start();
    let answer = get(&server, "/apis/memhpa.io/v9/memhpas");
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json()["kind"], "Status");
}

#[test]
fn lists_and_watches_take_field_selectors() {
    let server = FakeApiServer::start();
    let events = "/api/v1/namespaces/demo/events";
    for (name, involved) in [("a.1", "a"), ("b.1", "b")] {
        let event = json!({
            "metadata": {"name": name},
            "involvedObject": {"kind": "MemHpa", "name": involved},
            "reason": "SuccessfulRescale",
        });
        assert_eq!(send(&server, "POST", events, &event).status, 201);
    }
    let listed = get(
        &server,
        &format!("{events}?fieldSelector=involvedObject.name%3Db"),
    )
    .json();
    let names: Vec<&Value> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| &e["metadata"]["name"])
        .collect();
    assert_eq!(names, [&json!("b.1")]);
    let watched = watch(
        &server,
        events,
        "fieldSelector=involvedObject.name%3Da&timeoutSeconds=1",
        10,
    );
    assert_eq!(watched.types(), ["ADDED"]);
    assert_eq!(watched.events[0]["object"]["metadata"]["name"], "a.1");
    assert_eq!(
        get(&server, &format!("{events}?fieldSelector=nonsense")).status,
        400
    );
}

#[test]
fn watch_with_label_selector_skips_other_objects() {
    let server = FakeApiServer::start();
    let mut labelled = memhpa("labelled", false);
    labelled["metadata"]["labels"] = json!({"team": "a"});
    server.create_memhpa(labelled);
    server.create_memhpa(memhpa("plain", false));
    let watched = watch(
        &server,
        MEMHPAS,
        "labelSelector=team%3Da&timeoutSeconds=1",
        10,
    );
    assert_eq!(watched.types(), ["ADDED"]);
    assert_eq!(watched.events[0]["object"]["metadata"]["name"], "labelled");
}

#[test]
fn watch_cut_after_a_duration() {
    let server = FakeApiServer::start();
    server.cut_watches_after(Some(Duration::from_millis(200)));
    let watched = watch(&server, MEMHPAS, "timeoutSeconds=20", 10);
    assert_eq!(watched.ended, Ended::Cut);
    server.cut_watches_after(None);
    assert_eq!(
        watch(&server, MEMHPAS, "timeoutSeconds=1", 10).ended,
        Ended::Clean
    );
}

#[test]
fn injected_conflict_denial_and_not_found_are_worded_for_the_resource() {
    let server = FakeApiServer::start();
    server.create_memhpa(memhpa("web", false));
    server.put_deployment("demo", "web", 2, &[("app", "web")]);
    let status_path = format!("{DEMO_MEMHPAS}/web/status");
    server.fail_next("PUT", "/status", 1, 409);
    let object = server.memhpa("demo", "web").expect("web");
    let conflict = send(&server, "PUT", &status_path, &object);
    assert_eq!(conflict.status, 409);
    assert_eq!(
        conflict.json(),
        load("memhpa-status-put-stale-409.txt").json()
    );
    assert_eq!(send(&server, "PUT", &status_path, &object).status, 200);

    server.fail_next("GET", "/scale", 1, 404);
    let missing = get(&server, &Workload::Deployment.scale_path("demo", "web"));
    assert_eq!(missing.status, 404);
    assert_shape("scale-get-missing-404.txt", &missing.json(), &[]);
    assert_eq!(
        missing.json()["message"],
        "deployments/scale.apps \"web\" not found"
    );

    server.fail_next("GET", MEMHPAS, 1, 403);
    let denied = get(&server, MEMHPAS);
    assert_eq!(denied.status, 403);
    assert_shape("forbidden-403.txt", &denied.json(), &[]);
}

#[test]
fn expire_next_watches_forces_410_whatever_the_version() {
    let server = FakeApiServer::start();
    server.create_memhpa(memhpa("web", false));
    let now = server.resource_version();
    server.expire_next_watches(1);
    let expired = watch(
        &server,
        MEMHPAS,
        &format!("resourceVersion={now}&timeoutSeconds=5"),
        10,
    );
    assert_eq!((expired.status, expired.ended), (200, Ended::Clean));
    assert_eq!(expired.types(), ["ERROR"]);
    assert_eq!(expired.events[0]["object"]["code"], 410);
    let captured = load("memhpa-watch-expired-410.txt").json();
    assert_eq!(same_shape(&captured, &expired.events[0], &[]), Ok(()));

    server.set_expired_as_http_410(true);
    server.expire_next_watches(1);
    let answer = get(
        &server,
        &format!("{MEMHPAS}?watch=true&resourceVersion={now}"),
    );
    assert_eq!(answer.status, 410);
    let normal = watch(
        &server,
        MEMHPAS,
        &format!("resourceVersion={now}&timeoutSeconds=1"),
        10,
    );
    assert!(normal.events.is_empty(), "{:?}", normal.types());
}

#[test]
fn injected_failure_on_the_watch_path() {
    let server = FakeApiServer::start();
    server.fail_next("GET", "watch=true", 1, 500);
    let failed = get(&server, &format!("{MEMHPAS}?watch=true&timeoutSeconds=1"));
    assert_eq!(failed.status, 500);
    assert_eq!(failed.json()["reason"], "InternalError");
    assert_eq!(watch(&server, MEMHPAS, "timeoutSeconds=1", 10).status, 200);
}

// ---- raw HTTP: hostile input, chunked requests, shutdown ----

/// Sends `raw` on a fresh connection and returns everything the fake answers
/// until it closes (or 10 s pass).
fn raw_exchange(server: &FakeApiServer, raw: &[u8]) -> String {
    use std::io::{Read, Write};
    let addr = server.url().trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the fake");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    stream.write_all(raw).expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn garbage_request_gets_400_and_the_connection_closes() {
    let server = FakeApiServer::start();
    let answer = raw_exchange(&server, b"NONSENSE\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
}

#[test]
fn oversized_body_gets_413_without_being_read() {
    let server = FakeApiServer::start();
    let head = format!(
        "POST {DEMO_MEMHPAS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n",
        64 * 1024 * 1024
    );
    let answer = raw_exchange(&server, head.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(server.memhpas().is_empty());
}

#[test]
fn chunked_request_body_is_accepted() {
    let server = FakeApiServer::start();
    let body = memhpa("chunked", false).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let raw = format!(
        "POST {DEMO_MEMHPAS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{rest}\r\n0\r\n\r\n",
        first.len(),
        rest.len()
    );
    let answer = raw_exchange(&server, raw.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 201 "), "{answer}");
    assert!(server.memhpa("demo", "chunked").is_some());
}

#[test]
fn dropping_the_server_ends_open_watches_and_refuses_connections() {
    let server = FakeApiServer::start();
    let url = server.url();
    let watched = std::thread::scope(|scope| {
        let handle = scope.spawn(|| watch(&server, MEMHPAS, "timeoutSeconds=60", 10));
        assert!(eventually(Duration::from_secs(10), || server
            .count("GET", "watch=true")
            > 0));
        server.shutdown();
        handle.join().expect("watch thread")
    });
    assert_eq!(watched.ended, Ended::Cut);
    assert!(agent().get(format!("{url}{MEMHPAS}")).call().is_err());
}

// ---- agreement with the product and the fixtures ----

#[test]
fn answers_decode_into_the_product_wire_types() {
    use memhpa::api::{Event, Lease, MemHpa, ObjectList, Pod, Scale, Status};
    let server = FakeApiServer::start();
    server.put_deployment("demo", "web", 2, &[("app", "web")]);
    server.put_pod(
        "demo",
        kubesupport::objects::pod(
            "web-1",
            &[("app", "web")],
            "Pending",
            &[
                ("app", Some("100Mi"), Some("50Mi")),
                ("sidecar", None, None),
            ],
        ),
    );
    server.create_memhpa(memhpa("web", true));

    let scale: Scale = serde_json::from_value(
        get(&server, &Workload::Deployment.scale_path("demo", "web")).json(),
    )
    .expect("Scale decodes");
    assert_eq!(scale.status.selector.as_deref(), Some("app=web"));
    let pods: ObjectList<Pod> = serde_json::from_value(
        get(
            &server,
            "/api/v1/namespaces/demo/pods?labelSelector=app%3Dweb",
        )
        .json(),
    )
    .expect("PodList decodes");
    assert_eq!(pods.items.len(), 1);
    assert_eq!(
        pods.items[0].spec.containers[0].resources.limits["memory"],
        "100Mi"
    );
    assert!(pods.items[0].spec.containers[1].resources.limits.is_empty());
    let list: ObjectList<MemHpa> =
        serde_json::from_value(get(&server, MEMHPAS).json()).expect("MemHpaList decodes");
    assert_eq!(list.items.len(), 1);
    assert_eq!(
        list.metadata.resource_version,
        Some(server.resource_version().to_string())
    );

    let lease = json!({"metadata": {"name": "memhpa"}, "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}});
    let created = send(
        &server,
        "POST",
        "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases",
        &lease,
    );
    let _: Lease = serde_json::from_value(created.json()).expect("Lease decodes");
    let event =
        json!({"metadata": {"generateName": "web."}, "reason": "SuccessfulRescale", "count": 1});
    let created = send(&server, "POST", "/api/v1/namespaces/demo/events", &event);
    let _: Event = serde_json::from_value(created.json()).expect("Event decodes");
    let status: Status = serde_json::from_value(
        get(&server, &Workload::Deployment.scale_path("demo", "nope")).json(),
    )
    .expect("Status decodes");
    assert_eq!(
        (status.code, status.reason.as_deref()),
        (Some(404), Some("NotFound"))
    );
}

#[test]
fn every_kube_fixture_is_reproduced_by_a_test_here() {
    let source = include_str!("fake_apiserver.rs");
    let mut missing = Vec::new();
    let entries = std::fs::read_dir(kubesupport::fixtures::dir()).expect("fixture directory");
    for entry in entries {
        let name = entry
            .expect("fixture entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if !source.contains(&format!("\"{name}\"")) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "fixtures no test compares with: {missing:?}"
    );
}

#[test]
fn the_server_handle_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<FakeApiServer>();
}

#[test]
fn watch_from_a_future_version_skips_changes_up_to_it() {
    let server = FakeApiServer::start();
    let future = server.resource_version() + 2;
    let watched = std::thread::scope(|scope| {
        let handle = scope.spawn(|| {
            watch(
                &server,
                MEMHPAS,
                &format!("resourceVersion={future}&timeoutSeconds=3"),
                1,
            )
        });
        assert!(eventually(Duration::from_secs(10), || server
            .count("GET", "watch=true")
            > 0));
        for name in ["a", "b", "c"] {
            server.create_memhpa(memhpa(name, false));
        }
        handle.join().expect("watch thread")
    });
    assert_eq!(watched.types(), ["ADDED"]);
    assert_eq!(watched.events[0]["object"]["metadata"]["name"], "c");
}
