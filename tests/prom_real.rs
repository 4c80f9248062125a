//! The client against a real Prometheus (Debian's `prometheus`) scraping a
//! cAdvisor-shaped exporter on 127.0.0.1. Skipped with a message when the binary
//! is absent, except under CI=true where that fails.

#[path = "httpsupport/mod.rs"]
mod httpsupport;
#[path = "promsupport/mod.rs"]
mod promsupport;

use std::sync::OnceLock;
use std::time::Duration;

use memhpa::prom::{Client, Counted, Missing, PromError, PromOptions, Usage};
use promsupport::exporter::Exporter;
use promsupport::launcher::{binary_or_skip, Prometheus, ServerTls};
use promsupport::proxy::CountingProxy;

const MI: f64 = 1024.0 * 1024.0;

/// One exporter and one Prometheus for the read-only tests of this file. The
/// static is never dropped; the launcher's guard stops Prometheus and removes
/// its directory when this process exits.
struct Shared {
    exporter: Exporter,
    prometheus: Prometheus,
}

fn shared() -> Option<&'static Shared> {
    static SHARED: OnceLock<Option<Shared>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let binary = binary_or_skip()?;
            let exporter = Exporter::start();
            serve_scenario(&exporter);
            let prometheus = Prometheus::start(&binary, exporter.addr());
            Some(Shared {
                exporter,
                prometheus,
            })
        })
        .as_ref()
}

/// web-1: app 80Mi, sidecar 10Mi, plus the pod cgroup (95Mi) and POD (1Mi)
/// that must not count. web-2: sidecar NaN. web-3: no sidecar series at all.
/// Decoys: an unwanted pod, web-1 in another namespace, a pod whose name
/// differs from a wanted one only where a regex dot would match, and pods in
/// three more namespaces for the batching test.
fn serve_scenario(exporter: &Exporter) {
    exporter.set("demo", "web-1", "app", 80.0 * MI);
    exporter.set("demo", "web-1", "sidecar", 10.0 * MI);
    exporter.set("demo", "web-1", "", 95.0 * MI);
    exporter.set("demo", "web-1", "POD", 1.0 * MI);
    exporter.set("demo", "web-2", "app", 70.0 * MI);
    exporter.set("demo", "web-2", "sidecar", f64::NAN);
    exporter.set("demo", "web-3", "app", 50.0 * MI);
    exporter.set("demo", "unwanted", "app", 400.0 * MI);
    exporter.set("other", "web-1", "app", 500.0 * MI);
    exporter.set("dots", "web.1", "app", 5.0 * MI);
    exporter.set("dots", "webx1", "app", 600.0 * MI);
    for namespace in ["team-a", "team-b", "team-c"] {
        exporter.set(namespace, "api-0", "app", 20.0 * MI);
        exporter.set(namespace, "api-1", "app", 30.0 * MI);
    }
}

fn client_for(url: &str, template: Option<&str>) -> Client {
    let options = PromOptions {
        base_url: url.to_string(),
        query_template: template.map(str::to_string),
        ..PromOptions::default()
    };
    Client::new(options).expect("client")
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn app_and_sidecar() -> Vec<String> {
    names(&["app", "sidecar"])
}

/// Sends `query` to Prometheus without the client, to see what the PromQL
/// itself selects (the client drops unwanted series on its own too).
fn raw_query(base_url: &str, query: &str) -> String {
    ureq::post(&format!("{base_url}/api/v1/query"))
        .send_form([("query", query)])
        .and_then(|mut response| response.body_mut().read_to_string())
        .unwrap_or_else(|err| panic!("raw query {query:?}: {err}"))
}

fn demo_usage(client: &Client) -> Usage {
    client
        .pod_usage("demo", &names(&["web-1", "web-2", "web-3"]))
        .unwrap_or_else(|err| panic!("{err}"))
}

#[test]
fn default_query_counts_app_containers_and_flags_missing_ones() {
    let Some(shared) = shared() else { return };
    let client = client_for(&shared.prometheus.url(), None);
    let usage = demo_usage(&client);
    let counted = app_and_sidecar();
    assert_eq!(
        usage.bytes("web-1", Counted::AllOf(&counted)),
        Ok(90.0 * MI)
    );
    assert_eq!(usage.container_bytes("web-1", "POD"), None);
    assert_eq!(
        usage.bytes("web-2", Counted::AllOf(&counted)),
        Err(Missing::NotANumber {
            pod: "web-2".into(),
            container: Some("sidecar".into()),
            value: "NaN".into()
        })
    );
    assert_eq!(
        usage.bytes("web-3", Counted::AllOf(&counted)),
        Err(Missing::NoContainerSeries {
            pod: "web-3".into(),
            container: "sidecar".into()
        })
    );
    assert_eq!(usage.bytes("web-3", Counted::Only("app")), Ok(50.0 * MI));
    let pods: Vec<&str> = usage.pods().map(|(name, _)| name).collect();
    assert_eq!(
        pods,
        ["web-1", "web-2", "web-3"],
        "only the wanted pods of demo"
    );
    assert_eq!(usage.problems().len(), 1, "{:?}", usage.problems());
    assert!(shared.exporter.scrapes() > 0);
    // The query the client sends for these pods, written out: the planner's
    // text is pinned by its unit tests, and this asks Prometheus what it selects.
    let query = r#"max by (namespace, pod, container) (avg_over_time(container_memory_working_set_bytes{namespace="demo",pod=~"web-1|web-2|web-3",container!="",container!="POD"}[1m]))"#;
    let raw = raw_query(&shared.prometheus.url(), query);
    assert!(raw.contains("\"pod\":\"web-3\""), "{raw}");
    for left_out in ["unwanted", "\"other\"", "\"POD\""] {
        assert!(
            !raw.contains(left_out),
            "the query itself selects {left_out}: {raw}"
        );
    }
}

#[test]
fn pod_names_are_matched_literally() {
    let Some(shared) = shared() else { return };
    let client = client_for(&shared.prometheus.url(), None);
    let wanted = names(&["web.1"]);
    let usage = client
        .pod_usage("dots", &wanted)
        .unwrap_or_else(|err| panic!("{err}"));
    let pods: Vec<&str> = usage.pods().map(|(name, _)| name).collect();
    assert_eq!(pods, ["web.1"]);
    assert_eq!(usage.container_bytes("web.1", "app"), Some(5.0 * MI));
    // The client also drops unwanted pods itself, so ask Prometheus directly
    // whether the generated PromQL matched the dot literally.
    // The one query the client sends for web.1, its dot escaped for the regex.
    let query = r#"max by (namespace, pod, container) (avg_over_time(container_memory_working_set_bytes{namespace="dots",pod=~"web\\.1",container!="",container!="POD"}[1m]))"#;
    let body = raw_query(&shared.prometheus.url(), query);
    assert!(body.contains("\"pod\":\"web.1\""), "{body}");
    assert!(
        !body.contains("webx1"),
        "the dot matched any character: {body}"
    );
}

#[test]
fn raw_template_drops_pod_cgroup_and_pause_series_client_side() {
    let Some(shared) = shared() else { return };
    let template = "container_memory_working_set_bytes{namespace=\"{namespace}\",pod=~\"{pods}\"}";
    let usage = demo_usage(&client_for(&shared.prometheus.url(), Some(template)));
    assert_eq!(
        usage.bytes("web-1", Counted::AllOf(&app_and_sidecar())),
        Ok(90.0 * MI)
    );
    assert_eq!(
        usage.pod("web-1").map(|pod| pod.containers().len()),
        Some(2)
    );
}

#[test]
fn per_pod_sum_template_serves_whole_pods_only() {
    let Some(shared) = shared() else { return };
    let template = "sum by (pod) (container_memory_working_set_bytes{namespace=\"{namespace}\",\
pod=~\"{pods}\",container!=\"\",container!=\"POD\"})";
    let usage = demo_usage(&client_for(&shared.prometheus.url(), Some(template)));
    assert_eq!(
        usage.bytes("web-1", Counted::AllOf(&app_and_sidecar())),
        Ok(90.0 * MI)
    );
    assert_eq!(
        usage.bytes("web-1", Counted::Only("app")),
        Err(Missing::PerPodOnly {
            pod: "web-1".into(),
            container: "app".into()
        })
    );
    assert!(matches!(
        usage.bytes("web-2", Counted::AllOf(&app_and_sidecar())),
        Err(Missing::NotANumber {
            container: None,
            ..
        })
    ));
}

#[test]
fn bad_template_is_an_api_error_from_the_server() {
    let Some(shared) = shared() else { return };
    let template = "sum by (pod) (container_memory_working_set_bytes{namespace=\"{namespace}\"";
    let err = client_for(&shared.prometheus.url(), Some(template))
        .pod_usage("demo", &names(&["web-1"]))
        .expect_err("a syntax error");
    match &err {
        PromError::Api {
            status, error_type, ..
        } => {
            assert_eq!(*status, 400);
            assert_eq!(error_type, "bad_data");
        }
        other => panic!("expected Api, got {other:?}"),
    }
    assert!(
        err.to_string().contains("sum by (pod)"),
        "names the query: {err}"
    );
}

#[test]
fn unknown_namespace_is_empty_not_zero() {
    let Some(shared) = shared() else { return };
    let err = client_for(&shared.prometheus.url(), None)
        .pod_usage("nowhere", &names(&["web-1"]))
        .expect_err("no series");
    assert!(
        matches!(err, PromError::Empty { ref namespace, .. } if namespace == "nowhere"),
        "{err:?}"
    );
}

#[test]
fn one_post_per_namespace() {
    let Some(shared) = shared() else { return };
    let proxy = CountingProxy::start(shared.prometheus.addr());
    let client = client_for(&proxy.url(), None);
    let namespaces = ["team-a", "team-b", "team-c"];
    for namespace in namespaces {
        let usage = client
            .pod_usage(namespace, &names(&["api-0", "api-1"]))
            .unwrap_or_else(|err| panic!("{namespace}: {err}"));
        assert_eq!(
            usage.bytes("api-1", Counted::Only("app")),
            Ok(30.0 * MI),
            "{namespace}"
        );
        assert_eq!(usage.namespace(), namespace);
    }
    assert_eq!(proxy.count("/api/v1/query"), namespaces.len());
    assert_eq!(proxy.total(), namespaces.len(), "no other requests");
}

/// Its own Prometheus, since it pauses and stops it.
#[test]
fn hung_stopped_and_restarted_prometheus() {
    let Some(binary) = binary_or_skip() else {
        return;
    };
    let exporter = Exporter::start();
    exporter.set("demo", "web-1", "app", 80.0 * MI);
    let mut prometheus = Prometheus::start(&binary, exporter.addr());
    let options = PromOptions {
        base_url: prometheus.url(),
        timeout: Duration::from_secs(1),
        ..PromOptions::default()
    };
    let client = Client::new(options).expect("client");
    let pods = names(&["web-1"]);
    let ok = |client: &Client| {
        let usage = client
            .pod_usage("demo", &pods)
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(usage.container_bytes("web-1", "app"), Some(80.0 * MI));
    };
    ok(&client);

    prometheus.pause();
    let hung = client.pod_usage("demo", &pods);
    prometheus.resume();
    assert!(
        matches!(hung, Err(PromError::Timeout { timeout, .. }) if timeout == Duration::from_secs(1)),
        "{hung:?}"
    );
    ok(&client);

    prometheus.stop();
    let down = client.pod_usage("demo", &pods);
    assert!(matches!(down, Err(PromError::Transport { .. })), "{down:?}");
    assert!(
        down.as_ref()
            .err()
            .map(|err| err.to_string().contains(&prometheus.url()))
            == Some(true),
        "names the URL: {down:?}"
    );

    prometheus.restart();
    ok(&client);
}

/// Its own Prometheus, serving https with the checked-in test PKI.
#[test]
fn https_with_a_private_ca_bundle() {
    let Some(binary) = binary_or_skip() else {
        return;
    };
    let exporter = Exporter::start();
    exporter.set("demo", "web-1", "app", 80.0 * MI);
    let tls = ServerTls::test_pki();
    let prometheus = Prometheus::start_tls(&binary, exporter.addr(), tls.clone());
    assert!(prometheus.url().starts_with("https://"));
    let other_ca = tls.ca.with_file_name("other-ca.pem");
    let bundle =
        std::env::temp_dir().join(format!("memhpa-prom-bundle-{}.pem", std::process::id()));
    let mut pem = std::fs::read(&other_ca).expect("other CA");
    pem.extend(std::fs::read(&tls.ca).expect("test CA"));
    std::fs::write(&bundle, pem).expect("write bundle");
    let with_ca = |ca_file: Option<std::path::PathBuf>| {
        let options = PromOptions {
            base_url: prometheus.url(),
            ca_file,
            ..PromOptions::default()
        };
        Client::new(options)
            .expect("client")
            .pod_usage("demo", &names(&["web-1"]))
    };

    // A rotation bundle: the right CA is the second certificate.
    let usage = with_ca(Some(bundle.clone())).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(usage.container_bytes("web-1", "app"), Some(80.0 * MI));
    let _ = std::fs::remove_file(&bundle);

    for wrong in [Some(other_ca), None] {
        let err = with_ca(wrong.clone()).expect_err("an untrusted certificate");
        assert!(
            matches!(err, PromError::Transport { ref detail, .. } if detail.contains("certificate") || detail.contains("issuer")),
            "{wrong:?}: {err:?}"
        );
    }
}
