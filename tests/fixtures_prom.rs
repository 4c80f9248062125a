//! Every captured Prometheus 2.42 answer in ../shared/fixtures/prometheus-2.42,
//! served byte for byte from 127.0.0.1 and read through the real client.

#[path = "httpsupport/mod.rs"]
mod httpsupport;
#[path = "promsupport/mod.rs"]
mod promsupport;

use std::path::PathBuf;

use memhpa::prom::{Client, Counted, Missing, PromError, PromOptions, Usage};
use promsupport::canned::Canned;

const MI: f64 = 1024.0 * 1024.0;

struct Fixture {
    status: u16,
    query: String,
    body: Vec<u8>,
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/prometheus-2.42")
}

/// `HTTP <status> [note]`, then `# POST /api/v1/query  query=...`, then the body.
fn load(name: &str) -> Fixture {
    let path = fixture_dir().join(name);
    let raw = std::fs::read(&path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
    let mut parts = raw.splitn(3, |&byte| byte == b'\n');
    let status_line = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let query_line = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let body = parts.next().unwrap_or_default().to_vec();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("{name}: bad status line {status_line:?}"));
    let query = query_line
        .split_once("query=")
        .map(|(_, q)| q.trim().to_string())
        .unwrap_or_default();
    assert!(
        query_line.starts_with("# POST /api/v1/query"),
        "{name}: bad query line {query_line:?}"
    );
    Fixture {
        status,
        query,
        body,
    }
}

/// Serves the fixture once and asks for web-1 and web-2 of namespace demo.
fn ask(name: &str) -> (Result<Usage, PromError>, String) {
    let fixture = load(name);
    let server = Canned::start(vec![(fixture.status, fixture.body)]);
    let client = Client::new(PromOptions {
        base_url: server.url(),
        ..PromOptions::default()
    })
    .expect("client");
    let result = client.pod_usage("demo", &["web-1".to_string(), "web-2".to_string()]);
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{name}: one POST expected");
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/api/v1/query");
    (result, fixture.query)
}

fn containers() -> Vec<String> {
    vec!["app".to_string(), "sidecar".to_string()]
}

fn per_pod_sums(name: &str) {
    let (result, query) = ask(name);
    assert!(
        query.starts_with("sum by (namespace, pod)"),
        "{name}: {query}"
    );
    let usage = result.unwrap_or_else(|err| panic!("{name}: {err}"));
    let web1 = usage.pod("web-1").expect("web-1");
    assert!(
        !web1.is_per_container(),
        "{name}: a per-pod sum has no container label"
    );
    assert_eq!(
        usage.bytes("web-1", Counted::AllOf(&containers())),
        Ok(94371840.0),
        "{name}"
    );
    assert_eq!(
        usage.bytes("web-2", Counted::AllOf(&containers())),
        Err(Missing::NotANumber {
            pod: "web-2".into(),
            container: None,
            value: "NaN".into()
        }),
        "{name}: NaN is missing, never zero"
    );
    assert_eq!(
        usage.bytes("web-1", Counted::Only("app")),
        Err(Missing::PerPodOnly {
            pod: "web-1".into(),
            container: "app".into()
        }),
        "{name}"
    );
    assert_eq!(usage.problems().len(), 1, "{name}");
}

fn per_container_raw(name: &str) {
    let usage = ask(name).0.unwrap_or_else(|err| panic!("{name}: {err}"));
    // The raw answer holds app, sidecar, POD and the pod cgroup (no container
    // label) for web-1: only app and sidecar count.
    assert_eq!(
        usage.bytes("web-1", Counted::AllOf(&containers())),
        Ok(90.0 * MI),
        "{name}"
    );
    assert_eq!(usage.container_bytes("web-1", "app"), Some(80.0 * MI));
    assert_eq!(usage.container_bytes("web-1", "sidecar"), Some(10.0 * MI));
    assert_eq!(usage.container_bytes("web-1", "POD"), None);
    assert_eq!(
        usage.pod("web-1").map(|pod| pod.containers().len()),
        Some(2)
    );
    assert_eq!(usage.container_bytes("web-2", "app"), Some(70.0 * MI));
    assert_eq!(
        usage.bytes("web-2", Counted::AllOf(&containers())),
        Err(Missing::NotANumber {
            pod: "web-2".into(),
            container: Some("sidecar".into()),
            value: "NaN".into()
        })
    );
    assert_eq!(usage.bytes("web-2", Counted::Only("app")), Ok(70.0 * MI));
}

fn nan_only(name: &str) {
    match ask(name).0 {
        Err(PromError::NonFinite {
            namespace,
            problems,
            ..
        }) => {
            assert_eq!(namespace, "demo");
            assert_eq!(problems.len(), 1);
            assert_eq!(problems[0].pod, "web-2");
            assert_eq!(problems[0].container.as_deref(), Some("sidecar"));
            assert_eq!(problems[0].value, "NaN");
        }
        other => panic!("{name}: expected NonFinite, got {other:?}"),
    }
}

fn empty(name: &str) {
    match ask(name).0 {
        Err(err @ PromError::Empty { .. }) => {
            assert!(
                err.to_string().contains("no series for namespace \"demo\""),
                "{err}"
            );
        }
        other => panic!("{name}: expected Empty, got {other:?}"),
    }
}

fn bad_syntax(name: &str) {
    match ask(name).0 {
        Err(PromError::Api {
            status,
            error_type,
            error,
            ..
        }) => {
            assert_eq!(status, 400);
            assert_eq!(error_type, "bad_data");
            assert!(error.contains("parse error"), "{error}");
        }
        other => panic!("{name}: expected Api, got {other:?}"),
    }
}

#[test]
fn every_prometheus_fixture_decodes_as_expected() {
    let dir = fixture_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("read {}: {err}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(
        names.len() >= 6,
        "fixtures missing in {}: {names:?}",
        dir.display()
    );
    for name in &names {
        match name.as_str() {
            "query-per-pod-sum.txt" | "query-avg-over-time.txt" => per_pod_sums(name),
            "query-per-container-raw.txt" => per_container_raw(name),
            "query-nan-value.txt" => nan_only(name),
            "query-empty-result.txt" => empty(name),
            "query-bad-syntax-400.txt" => bad_syntax(name),
            other => panic!("fixture {other} has no expectations here: add them"),
        }
    }
}
