//! End to end through a real Prometheus: the memhpa binary as a child
//! process, the fake API server, and Debian's `prometheus` scraping a
//! cAdvisor-shaped exporter every second on 127.0.0.1. Skipped with a message
//! when the binary is absent, except under CI=true where that fails.
//!
//! Every pod has one container `app` limited to 100Mi; the exporter also
//! serves the pod cgroup (`container=""`) and the pause container
//! (`container="POD"`) for each pod, which must not count: with them counted
//! the utilization would be over twice as high and the replica counts below
//! would come out different.
//!
//! The `podBaseline` tests assert the exact counts of the baseline model
//! (`ceil(S / h)`, load `S = Σusage − n·b`, room `h = target × Σlimit / n −
//! b`) where Kubernetes' proportional rule would give others.

#[path = "e2esupport/mod.rs"]
mod e2esupport;
#[path = "httpsupport/mod.rs"]
mod httpsupport;
#[path = "kubesupport/mod.rs"]
mod kubesupport;
#[path = "promsupport/mod.rs"]
mod promsupport;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use e2esupport::objects::{
    self, condition, deployment_with_pods, events, fake_tail, scale_down_window, sync_pods,
    LIMIT_MI, MI,
};
use e2esupport::process::{Launch, Memhpa};
use e2esupport::scrape::{self, family_sum};
use e2esupport::wait::{hold_for, poll_until, POLL};
use kubesupport::{FakeApiServer, Workload, TOKEN};
use promsupport::exporter::Exporter;
use promsupport::launcher::{binary_or_skip, Prometheus};
use promsupport::proxy::CountingProxy;
use serde_json::{json, Value};

/// The default query without its `avg_over_time(...[1m])`. The default
/// smooths over a minute, as the original did, so a drop from 80% to 20%
/// would take most of a minute to bring the average under the target; with
/// the last sample instead, a change shows within a scrape (1 s) and the
/// stabilization window alone decides when the scale-down comes.
const UNSMOOTHED_QUERY: &str = "max by (namespace, pod, container) (container_memory_working_set_bytes{namespace=\"{namespace}\",pod=~\"{pods}\",container!=\"\",container!=\"POD\"})";

/// One exporter and one Prometheus shared by the tests that never stop it;
/// each test uses namespaces of its own. The static is never dropped: the
/// launcher's guard stops Prometheus when the test process exits.
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
            // The launcher waits for a first scrape with data.
            exporter.set("kube-system", "placeholder", "app", MI);
            let prometheus = Prometheus::start(&binary, exporter.addr());
            Some(Shared {
                exporter,
                prometheus,
            })
        })
        .as_ref()
}

/// Sets pod `ns/pod` to `percent` of its limit, with the pod cgroup and pause
/// container series cAdvisor serves beside it.
fn set_pod(exporter: &Exporter, ns: &str, pod: &str, percent: f64) {
    let app = percent / 100.0 * LIMIT_MI * MI;
    exporter.set(ns, pod, "app", app);
    exporter.set(ns, pod, "", app + 15.0 * MI);
    exporter.set(ns, pod, "POD", MI);
}

fn set_pods(exporter: &Exporter, ns: &str, app: &str, replicas: i64, percent: f64) {
    for pod in objects::pod_names(app, replicas) {
        set_pod(exporter, ns, &pod, percent);
    }
}

/// Sets the app container of each `(pod, MiB)` at once (one scrape sees all
/// or none of the change), with the pod cgroup and pause container beside it.
fn set_pods_mi(exporter: &Exporter, ns: &str, pods: &[(&str, f64)]) {
    let series: Vec<(&str, &str, &str, f64)> = pods
        .iter()
        .flat_map(|&(pod, mi)| {
            [
                (ns, pod, "app", mi * MI),
                (ns, pod, "", (mi + 15.0) * MI),
                (ns, pod, "POD", MI),
            ]
        })
        .collect();
    exporter.set_many(&series);
}

/// A MemHpa on Deployment `app`, 1..10 replicas, no scale-down window, with
/// `spec.podBaseline`.
fn memhpa_with_baseline(ns: &str, app: &str, target: i64, baseline: &str) -> Value {
    let mut m = objects::memhpa(ns, app, app, (1, 10), target, scale_down_window(0));
    m["spec"]["podBaseline"] = json!(baseline);
    m
}

fn rescale_events(fake: &FakeApiServer, ns: &str) -> Vec<String> {
    events(fake, ns)
        .into_iter()
        .filter(|e| e.1 == "SuccessfulRescale")
        .map(|e| e.2)
        .collect()
}

fn start_memhpa(fake: &FakeApiServer, prom_url: &str, query: Option<&str>) -> Memhpa {
    let mut flags = vec!["-resync", "1s", "-leader-elect=false"];
    if let Some(query) = query {
        flags.extend(["-prom-query", query]);
    }
    Memhpa::start(Launch::new("memhpa", &fake.url(), TOKEN, prom_url).flags(&flags))
}

fn context(fake: &FakeApiServer, memhpa: &Memhpa, prometheus: &Prometheus) -> String {
    format!(
        "{}\n{}\n--- prometheus log tail ---\n{}",
        memhpa.log_tail(25),
        fake_tail(fake, 25),
        prometheus.log_tail()
    )
}

fn replicas(fake: &FakeApiServer, ns: &str, app: &str) -> Option<i64> {
    fake.scale_replicas(Workload::Deployment, ns, app)
}

fn wait_replicas(
    fake: &FakeApiServer,
    (ns, app): (&str, &str),
    want: i64,
    within: Duration,
    ctx: impl Fn() -> String,
) {
    poll_until(
        within,
        &format!("Deployment {ns}/{app} at {want} replicas"),
        || (replicas(fake, ns, app) == Some(want)).then_some(()),
        ctx,
    );
}

#[test]
fn scales_up_then_down_only_after_the_stabilization_window() {
    let Some(shared) = shared() else { return };
    let (ns, app) = ("updown", "web");
    let window = Duration::from_secs(10);
    let fake = FakeApiServer::start();
    deployment_with_pods(&fake, ns, app, 2);
    set_pods(&shared.exporter, ns, app, 2, 80.0);
    fake.create_memhpa(objects::memhpa(
        ns,
        app,
        app,
        (1, 10),
        50,
        scale_down_window(window.as_secs() as i64),
    ));
    let memhpa = start_memhpa(&fake, &shared.prometheus.url(), Some(UNSMOOTHED_QUERY));
    let ctx = || context(&fake, &memhpa, &shared.prometheus);

    // 2 pods at 80%, target 50%: ceil(2 x 80 / 50) = 4.
    wait_replicas(&fake, (ns, app), 4, Duration::from_secs(30), ctx);
    let status = fake.memhpa(ns, app).and_then(|m| m.get("status").cloned());
    assert_eq!(
        status
            .as_ref()
            .and_then(|s| s["currentUtilizationPercentage"].as_i64()),
        Some(80),
        "only the app containers count: {status:?}"
    );

    // The Deployment's new pods start, and every pod drops to 20%:
    // ceil(4 x 20 / 50) = 2, but the window still holds a recommendation of 4
    // from the last tick before the drop (at most one resync ago).
    set_pods(&shared.exporter, ns, app, 4, 20.0);
    sync_pods(&fake, ns, app, 4);
    let dropped = Instant::now();
    let mut stabilized_seen = false;
    hold_for(
        window - Duration::from_secs(2),
        "4 replicas inside the scale-down window",
        || {
            let reason = fake
                .memhpa(ns, app)
                .and_then(|m| condition(&m, "AbleToScale"))
                .map(|c| c.1);
            stabilized_seen |= reason.as_deref() == Some("ScaleDownStabilized");
            let now = replicas(&fake, ns, app);
            (now != Some(4)).then(|| format!("replicas became {now:?}"))
        },
        ctx,
    );
    assert!(
        stabilized_seen,
        "AbleToScale never said ScaleDownStabilized while the window held\n{}",
        ctx()
    );
    wait_replicas(&fake, (ns, app), 2, Duration::from_secs(20), ctx);
    let after = dropped.elapsed();
    println!("scale-down came {after:?} after the drop (window {window:?})");
    assert!(
        after >= window - Duration::from_secs(1),
        "the scale-down came {after:?} after the drop, before the {window:?} window"
    );
    let rescales: Vec<_> = events(&fake, ns)
        .into_iter()
        .filter(|e| e.1 == "SuccessfulRescale")
        .map(|e| e.2)
        .collect();
    assert!(
        rescales
            .iter()
            .any(|m| m.starts_with("New size: 4; reason:"))
            && rescales
                .iter()
                .any(|m| m.starts_with("New size: 2; reason:")),
        "SuccessfulRescale events: {rescales:?}"
    );
}

#[test]
fn the_default_query_scales_up_against_real_prometheus() {
    let Some(shared) = shared() else { return };
    let (ns, app) = ("defaultq", "api");
    let fake = FakeApiServer::start();
    deployment_with_pods(&fake, ns, app, 2);
    set_pods(&shared.exporter, ns, app, 2, 80.0);
    fake.create_memhpa(objects::memhpa(
        ns,
        app,
        app,
        (1, 10),
        50,
        serde_json::json!({}),
    ));
    let memhpa = start_memhpa(&fake, &shared.prometheus.url(), None);
    let ctx = || context(&fake, &memhpa, &shared.prometheus);
    wait_replicas(&fake, (ns, app), 4, Duration::from_secs(30), ctx);
    let status = fake.memhpa(ns, app).and_then(|m| m.get("status").cloned());
    assert_eq!(
        status
            .as_ref()
            .and_then(|s| s["currentUtilizationPercentage"].as_i64()),
        Some(80),
        "{status:?}"
    );
}

#[test]
fn prometheus_down_holds_the_scale_and_says_why_then_scaling_resumes() {
    let Some(binary) = binary_or_skip() else {
        return;
    };
    let (ns, app) = ("outage", "web");
    let exporter = Exporter::start();
    set_pods(&exporter, ns, app, 2, 50.0);
    let mut prometheus = Prometheus::start(&binary, exporter.addr());
    let fake = FakeApiServer::start();
    deployment_with_pods(&fake, ns, app, 2);
    fake.create_memhpa(objects::memhpa(
        ns,
        app,
        app,
        (1, 10),
        50,
        scale_down_window(0),
    ));
    let memhpa = start_memhpa(&fake, &prometheus.url(), Some(UNSMOOTHED_QUERY));
    let scaling_active = || {
        fake.memhpa(ns, app)
            .and_then(|m| condition(&m, "ScalingActive"))
    };
    poll_until(
        Duration::from_secs(30),
        "ScalingActive True/ValidMetricFound at the target",
        || scaling_active().filter(|c| c.0 == "True" && c.1 == "ValidMetricFound"),
        || context(&fake, &memhpa, &prometheus),
    );

    prometheus.stop();
    // Usage that would scale to 4 if anyone could see it.
    set_pods(&exporter, ns, app, 2, 80.0);
    let (_, _, message) = poll_until(
        Duration::from_secs(20),
        "ScalingActive False/FailedGetResourceMetric",
        || scaling_active().filter(|c| c.0 == "False" && c.1 == "FailedGetResourceMetric"),
        || context(&fake, &memhpa, &prometheus),
    );
    assert!(
        message.contains("cannot reach Prometheus") && message.contains(&prometheus.url()),
        "the condition should say Prometheus is unreachable: {message}"
    );
    let warning = poll_until(
        Duration::from_secs(10),
        "a Warning Event FailedGetResourceMetric",
        || {
            events(&fake, ns)
                .into_iter()
                .find(|e| e.0 == "Warning" && e.1 == "FailedGetResourceMetric")
        },
        || context(&fake, &memhpa, &prometheus),
    );
    assert!(
        warning.2.contains("cannot reach Prometheus"),
        "the Event should say Prometheus is unreachable: {warning:?}"
    );
    // Several more ticks without data: nothing is scaled.
    hold_for(
        Duration::from_secs(3),
        "2 replicas while Prometheus is down",
        || {
            let now = replicas(&fake, ns, app);
            (now != Some(2)).then(|| format!("replicas became {now:?}"))
        },
        || context(&fake, &memhpa, &prometheus),
    );
    assert_eq!(
        fake.count("PUT", "/scale"),
        0,
        "no Scale write while Prometheus was down\n{}",
        fake_tail(&fake, 30)
    );

    // Back, on the same port with the same data: 2 pods at 80% -> 4.
    prometheus.restart();
    wait_replicas(&fake, (ns, app), 4, Duration::from_secs(20), || {
        context(&fake, &memhpa, &prometheus)
    });
    poll_until(
        Duration::from_secs(10),
        "ScalingActive True again",
        || scaling_active().filter(|c| c.0 == "True"),
        || context(&fake, &memhpa, &prometheus),
    );
}

/// Prometheus queries (at the proxy), reconciles and memhpa's own count of
/// queries, read mid-way between two ticks.
#[derive(Debug, Clone, Copy)]
struct Counts {
    proxied: usize,
    reconciles: f64,
    queries: f64,
}

/// Waits for a tick to show in the reconcile counter, then for its work to
/// be over (a few milliseconds of a 1 s resync), and reads the counts.
fn counts_between_ticks(
    addr: SocketAddr,
    proxy: &CountingProxy,
    ctx: impl Fn() -> String,
) -> Counts {
    let reconciles =
        |addr| scrape::metrics(addr).map(|t| family_sum(&t, "memhpa_reconciles_total"));
    let before = reconciles(addr);
    poll_until(
        Duration::from_secs(10),
        "a tick",
        || (reconciles(addr) != before).then_some(()),
        ctx,
    );
    std::thread::sleep(POLL * 3);
    let proxied = proxy.count("/api/v1/query");
    let text = scrape::metrics(addr).unwrap_or_default();
    Counts {
        proxied,
        reconciles: family_sum(&text, "memhpa_reconciles_total"),
        queries: family_sum(&text, "memhpa_prometheus_query_duration_seconds_count"),
    }
}

#[test]
fn one_prometheus_query_per_namespace_per_tick() {
    let Some(shared) = shared() else { return };
    let proxy = CountingProxy::start(shared.prometheus.addr());
    let fake = FakeApiServer::start();
    // Three MemHpas in two namespaces, seven pods, all at the target.
    let targets = [
        ("batch-a", "alpha", 2),
        ("batch-a", "beta", 2),
        ("batch-b", "gamma", 3),
    ];
    for (ns, app, pods) in targets {
        deployment_with_pods(&fake, ns, app, pods);
        set_pods(&shared.exporter, ns, app, pods, 50.0);
        fake.create_memhpa(objects::memhpa(
            ns,
            app,
            app,
            (1, 10),
            50,
            serde_json::json!({}),
        ));
    }
    let mut memhpa = start_memhpa(&fake, &proxy.url(), Some(UNSMOOTHED_QUERY));
    let addr = memhpa.metrics_addr();
    let ctx = || {
        format!(
            "proxied queries: {}\n{}",
            proxy.count("/api/v1/query"),
            context(&fake, &memhpa, &shared.prometheus)
        )
    };
    // Quiet once every MemHpa has its first status: from then on nothing
    // changes, so every reconcile comes from a tick.
    poll_until(
        Duration::from_secs(30),
        "every MemHpa to have ScalingActive True",
        || {
            fake.memhpas()
                .iter()
                .all(|m| condition(m, "ScalingActive").is_some_and(|c| c.0 == "True"))
                .then_some(())
        },
        ctx,
    );
    let first = counts_between_ticks(addr, &proxy, ctx);
    let writes_before = fake.requests().iter().filter(|r| r.method != "GET").count();
    std::thread::sleep(Duration::from_secs(6));
    let last = counts_between_ticks(addr, &proxy, ctx);
    let writes_after = fake.requests().iter().filter(|r| r.method != "GET").count();

    let memhpas = targets.len() as f64;
    let ticks = (last.reconciles - first.reconciles) / memhpas;
    let proxied = (last.proxied - first.proxied) as f64;
    let counted = last.queries - first.queries;
    println!("{ticks} ticks: {proxied} queries at the proxy, {counted} counted by memhpa");
    assert_eq!(
        writes_after,
        writes_before,
        "the window was not quiet\n{}",
        fake_tail(&fake, 25)
    );
    assert!(
        ticks >= 4.0,
        "too few ticks in the window: {first:?} -> {last:?}"
    );
    // Two namespaces: two queries a tick, give or take the tick at an edge.
    assert!(
        (proxied - 2.0 * ticks).abs() <= 2.0,
        "{proxied} queries over {ticks} ticks: expected 2 per tick (one per namespace), \
         not {} (per MemHpa) or {} (per pod)",
        3.0 * ticks,
        7.0 * ticks
    );
    assert!(
        (counted - proxied).abs() <= 2.0,
        "memhpa counted {counted} queries, the proxy saw {proxied}"
    );
}

/// 100Mi limits, target 80%, podBaseline 60Mi: each pod has 20Mi of room for
/// load. Up, the proportional rule would stop at 3 and need another round;
/// down, it would refuse to move. The model goes to 4, then to 2, in one step
/// each, and stays there once the pods carry the load as the model says.
#[test]
fn pod_baseline_scales_in_one_step_where_the_proportional_rule_would_not() {
    let Some(shared) = shared() else { return };
    let (ns, app) = ("baseline", "web");
    let exporter = &shared.exporter;
    let fake = FakeApiServer::start();
    deployment_with_pods(&fake, ns, app, 2);
    set_pods_mi(exporter, ns, &[("web-1", 95.0), ("web-2", 95.0)]);
    fake.create_memhpa(memhpa_with_baseline(ns, app, 80, "60Mi"));
    let memhpa = start_memhpa(&fake, &shared.prometheus.url(), Some(UNSMOOTHED_QUERY));
    let ctx = || context(&fake, &memhpa, &shared.prometheus);
    let fake_ref = &fake;
    let stays = |want: i64| {
        move || {
            let now = replicas(fake_ref, ns, app);
            (now != Some(want)).then(|| format!("replicas became {now:?}"))
        }
    };

    // S = 2 × 95 − 2 × 60 = 70Mi, h = 80 − 60 = 20Mi: ceil(3.5) = 4.
    // The proportional rule: ceil(2 × 95 / 80) = 3.
    wait_replicas(&fake, (ns, app), 4, Duration::from_secs(30), ctx);
    let status = fake.memhpa(ns, app).and_then(|m| m.get("status").cloned());
    assert_eq!(
        status
            .as_ref()
            .and_then(|s| s["currentUtilizationPercentage"].as_i64()),
        Some(95),
        "{status:?}"
    );
    // Still 2 pods at 95Mi: the recommendation is the 4 it already is.
    hold_for(Duration::from_secs(3), "4 replicas", stays(4), ctx);

    // The Deployment's pods 3 and 4 start without samples: on a scale-up they
    // count as idle, holding 60Mi, and (77 − 60) / 20 = 0.85 would reverse
    // the direction, so the count holds. Then the load drops and spreads:
    // 4 pods at 70Mi, S = 280 − 240 = 40Mi: ceil(40 / 20) = 2. The
    // proportional rule: 70 / 80 = 0.875, ceil(3.5) = 4, no change.
    sync_pods(&fake, ns, app, 4);
    let all = objects::pod_names(app, 4);
    let at =
        |mi: [f64; 4]| -> Vec<(&str, f64)> { all.iter().map(String::as_str).zip(mi).collect() };
    set_pods_mi(exporter, ns, &at([70.0; 4]));
    wait_replicas(&fake, (ns, app), 2, Duration::from_secs(30), ctx);

    // The Deployment removes pods 3 and 4 and the two left carry the 40Mi:
    // 80Mi each, the target. While 3 pods remain (80, 80, 60): ceil(0.65 × 3)
    // = 2; after, (80 − 60) / 20 = 1: at rest at 2.
    set_pods_mi(exporter, ns, &at([80.0, 80.0, 60.0, 60.0]));
    sync_pods(&fake, ns, app, 2);
    hold_for(Duration::from_secs(3), "2 replicas", stays(2), ctx);
    poll_until(
        Duration::from_secs(10),
        "status at 80% and AbleToScale True/ReadyForNewScale",
        || {
            let m = fake.memhpa(ns, app)?;
            let able = condition(&m, "AbleToScale")?;
            (m["status"]["currentUtilizationPercentage"] == 80
                && able.0 == "True"
                && able.1 == "ReadyForNewScale")
                .then_some(())
        },
        ctx,
    );
    let rescales = rescale_events(&fake, ns);
    let sizes: Vec<&str> = rescales
        .iter()
        .filter_map(|m| m.strip_prefix("New size: "))
        .filter_map(|m| m.split(';').next())
        .collect();
    assert_eq!(sizes, ["4", "2"], "SuccessfulRescale events: {rescales:?}");
}

/// A podBaseline at or above the target leaves no count that can reach it:
/// memhpa holds (the proportional rule would climb to maxReplicas and stay),
/// says so in ScalingLimited and a Warning, and scales once the spec is fixed.
#[test]
fn a_baseline_above_the_target_holds_and_warns_until_the_spec_is_fixed() {
    let Some(shared) = shared() else { return };
    let (ns, app) = ("baseline-high", "web");
    let fake = FakeApiServer::start();
    deployment_with_pods(&fake, ns, app, 2);
    set_pods_mi(&shared.exporter, ns, &[("web-1", 90.0), ("web-2", 90.0)]);
    fake.create_memhpa(memhpa_with_baseline(ns, app, 80, "85Mi"));
    let memhpa = start_memhpa(&fake, &shared.prometheus.url(), Some(UNSMOOTHED_QUERY));
    let ctx = || context(&fake, &memhpa, &shared.prometheus);
    let want = "podBaseline 85Mi is 85% of the 100Mi memory limit of each pod, at or above \
                the 80% target: no replica count can reach it; raise \
                targetUtilizationPercentage above 85% or lower podBaseline below 80Mi";
    let limited = || {
        fake.memhpa(ns, app)
            .and_then(|m| condition(&m, "ScalingLimited"))
    };
    let (status, _, message) = poll_until(
        Duration::from_secs(30),
        "ScalingLimited BaselineAboveTarget",
        || limited().filter(|c| c.1 == "BaselineAboveTarget"),
        ctx,
    );
    assert_eq!((status.as_str(), message.as_str()), ("True", want));
    let warning = poll_until(
        Duration::from_secs(10),
        "a Warning Event BaselineAboveTarget",
        || {
            events(&fake, ns)
                .into_iter()
                .find(|e| e.0 == "Warning" && e.1 == "BaselineAboveTarget")
        },
        ctx,
    );
    assert_eq!(warning.2, want);
    // Ticks go by (the proportional rule: ceil(2 × 90 / 80) = 3 at once).
    hold_for(
        Duration::from_secs(3),
        "2 replicas while the baseline is above the target",
        || {
            let now = replicas(&fake, ns, app);
            (now != Some(2)).then(|| format!("replicas became {now:?}"))
        },
        ctx,
    );
    assert_eq!(fake.count("PUT", "/scale"), 0, "{}", fake_tail(&fake, 30));

    // podBaseline 70Mi: S = 180 − 140 = 40Mi, h = 80 − 70 = 10Mi: 4.
    fake.update_memhpa_spec(ns, app, |spec| spec["podBaseline"] = json!("70Mi"));
    wait_replicas(&fake, (ns, app), 4, Duration::from_secs(30), ctx);
    poll_until(
        Duration::from_secs(10),
        "ScalingLimited False/DesiredWithinRange",
        || limited().filter(|c| c.0 == "False" && c.1 == "DesiredWithinRange"),
        ctx,
    );
}
