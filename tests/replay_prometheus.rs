//! `memhpa simulate -from-prometheus` against a real Prometheus holding a
//! history this test writes itself: six hours of a Deployment whose pods
//! follow a varying load, a rollout to a second ReplicaSet, a three-step gap,
//! decoy pods and series the controller's filters must drop, and two
//! workloads that kube-state-metrics does not know. The history is written as
//! OpenMetrics, backfilled with `promtool tsdb create-blocks-from
//! openmetrics`, and served by `prometheus` on that data directory.
//!
//! Skipped with a message when prometheus or promtool is absent, except under
//! CI=true where that fails.

#[path = "httpsupport/mod.rs"]
mod httpsupport;
#[path = "promsupport/mod.rs"]
mod promsupport;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use memhpa::prom::{Client, PromOptions, Range};
use memhpa::simulate::history::baseline::{suggest, DEFAULT_WINDOWS};
use memhpa::simulate::history::fetch::{fetch, HistoryError};
use memhpa::simulate::history::{MembershipSource, Point, Workload, WorkloadKind};
use promsupport::launcher::{tool_or_skip, Prometheus};

const MI: u64 = 1 << 20;
/// One step a minute for six hours: 361 evaluation times.
const STEP: i64 = 60;
const STEPS: usize = 361;
/// The memory each pod holds whatever its share: the app's 180Mi and the
/// sidecar's 16Mi.
const APP_BASELINE: u64 = 180 * MI;
const SIDECAR: u64 = 16 * MI;
const BASELINE: u64 = APP_BASELINE + SIDECAR;
const APP_LIMIT: u64 = 1024 * MI;
const SIDECAR_LIMIT: u64 = 64 * MI;
/// Steps with no sample at all: the replay skips them.
const GAP: std::ops::RangeInclusive<usize> = 100..=102;
/// The step where every pod is replaced by one of the second ReplicaSet.
const ROLLOUT: usize = 200;
const REPLICASETS: [&str; 2] = ["web-6d4cf56db6", "web-7f8b9c5d24"];

/// A pod of the synthetic Deployment, alive for steps `born..died`.
struct Pod {
    name: String,
    replicaset: usize,
    born: usize,
    died: usize,
}

/// What the test wrote, and what the replay must therefore find.
struct History {
    /// The first evaluation time; step k is at `t0 + 60 k`.
    t0: i64,
    pods: Vec<Pod>,
    /// Alive pods per step.
    counts: Vec<u32>,
    /// Each pod's working set (app + sidecar) per step, by pod index.
    working_set: Vec<Vec<u64>>,
}

impl History {
    fn t(&self, k: usize) -> i64 {
        self.t0 + STEP * k as i64
    }

    /// The sample that the step's one-minute `avg_over_time` window holds:
    /// half a step before it, so the window takes it whether Prometheus
    /// closes the window's left end or not.
    fn sample_at(&self, k: usize) -> String {
        format!("{}", self.t(k) - STEP / 2)
    }

    fn end(&self) -> i64 {
        self.t(STEPS - 1)
    }

    fn alive(&self, k: usize) -> impl Iterator<Item = (usize, &Pod)> {
        self.pods
            .iter()
            .enumerate()
            .filter(move |(_, p)| (p.born..p.died).contains(&k))
    }

    /// The points the replay must read: every step but the gap's.
    fn expected_points(&self) -> Vec<Point> {
        (0..STEPS)
            .filter(|k| !GAP.contains(k))
            .map(|k| {
                let sets: Vec<u64> = self.alive(k).map(|(i, _)| self.working_set[i][k]).collect();
                Point {
                    t: self.t(k),
                    total_bytes: sets.iter().sum::<u64>() as f64,
                    pods: sets.len() as u32,
                    max_pod_bytes: sets.iter().copied().max().unwrap_or(0) as f64,
                }
            })
            .collect()
    }
}

fn load(k: usize) -> u64 {
    let minutes = k as f64;
    let wave = 1500.0 * (2.0 * std::f64::consts::PI * minutes / 180.0).sin()
        + 400.0 * (2.0 * std::f64::consts::PI * minutes / 97.0).sin();
    ((3000.0 + wave) * MI as f64) as u64
}

/// Kubernetes' safe alphabet, so the names pass for real pod names.
fn safe_id(mut n: usize, len: usize) -> String {
    const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..len)
        .map(|_| {
            let c = SAFE[n % SAFE.len()] as char;
            n /= SAFE.len();
            c
        })
        .collect()
}

/// A few MiB of noise, the same on every run.
fn jitter(pod: usize, k: usize) -> u64 {
    let mut x = (pod as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (k as u64 + 7);
    x ^= x >> 29;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 32;
    x % (4 * MI)
}

/// Pods follow the load as an autoscaler's would (a pod per 500Mi, one at a
/// time, at most every twelve minutes, never near the gap or the rollout), so
/// the load and the pod count move together.
fn synthesize(t0: i64) -> History {
    let mut counts = Vec::with_capacity(STEPS);
    let (mut n, mut last_change) = (4u32, -100i64);
    for k in 0..STEPS {
        let wanted = load(k).div_ceil(500 * MI).clamp(2, 12) as u32;
        let quiet = (88..=114).contains(&k) || (ROLLOUT - 8..=ROLLOUT + 12).contains(&k);
        if wanted != n && k as i64 - last_change >= 12 && !quiet && k > 0 {
            n = if wanted > n { n + 1 } else { n - 1 };
            last_change = k as i64;
        }
        counts.push(n);
    }
    let mut pods: Vec<Pod> = Vec::new();
    let mut alive: Vec<usize> = Vec::new();
    let born = |pods: &mut Vec<Pod>, alive: &mut Vec<usize>, k: usize| {
        let replicaset = usize::from(k >= ROLLOUT);
        let name = format!(
            "{}-{}",
            REPLICASETS[replicaset],
            safe_id(pods.len() * 7919 + 11, 5)
        );
        alive.push(pods.len());
        pods.push(Pod {
            name,
            replicaset,
            born: k,
            died: STEPS,
        });
    };
    for (k, &want) in counts.iter().enumerate() {
        let want = want as usize;
        if k == ROLLOUT {
            for i in alive.drain(..) {
                pods[i].died = k;
            }
        }
        while alive.len() < want {
            born(&mut pods, &mut alive, k);
        }
        while alive.len() > want {
            let newest = alive.pop().expect("a pod to remove");
            pods[newest].died = k;
        }
    }
    let mut working_set = vec![vec![0; STEPS]; pods.len()];
    for k in 0..STEPS {
        let share = load(k) / u64::from(counts[k]);
        for (i, pod) in pods.iter().enumerate() {
            if (pod.born..pod.died).contains(&k) {
                working_set[i][k] = share + APP_BASELINE + jitter(i, k) + SIDECAR;
            }
        }
    }
    History {
        t0,
        pods,
        counts,
        working_set,
    }
}

/// One gauge family of OpenMetrics text.
struct Family<'o> {
    out: &'o mut String,
}

impl<'o> Family<'o> {
    fn new(out: &'o mut String, name: &str) -> Family<'o> {
        let _ = writeln!(out, "# TYPE {name} gauge");
        Family { out }
    }

    /// One series: `labels` as written inside the braces, its samples in
    /// time order.
    fn series(&mut self, name: &str, labels: &str, samples: impl Iterator<Item = (String, u64)>) {
        for (at, value) in samples {
            let _ = writeln!(self.out, "{name}{{{labels}}} {value} {at}");
        }
    }
}

/// Steps `from..to` outside the gap, as (sample time, value).
fn steps<'h>(
    h: &'h History,
    from: usize,
    to: usize,
    value: impl Fn(usize) -> u64 + 'h,
) -> impl Iterator<Item = (String, u64)> + 'h {
    (from..to)
        .filter(|k| !GAP.contains(k))
        .map(move |k| (h.sample_at(k), value(k)))
}

/// The whole history as OpenMetrics: each family once, each series in time
/// order, as promtool wants it.
fn openmetrics(h: &History) -> String {
    let mut out = String::new();
    let ws = "container_memory_working_set_bytes";
    let mut family = Family::new(&mut out, ws);
    for (i, pod) in h.pods.iter().enumerate() {
        let (born, died, name) = (pod.born, pod.died, &pod.name);
        let app = |k: usize| h.working_set[i][k] - SIDECAR;
        let labels = |c: &str| format!("namespace=\"demo\",pod=\"{name}\",container=\"{c}\"");
        family.series(ws, &labels("app"), steps(h, born, died, app));
        family.series(ws, &labels("sidecar"), steps(h, born, died, |_| SIDECAR));
        // The pause container and the pod cgroup: the controller's filters
        // drop both, or the total would count each pod twice and more.
        family.series(ws, &labels("POD"), steps(h, born, died, |_| 700 * MI));
        let pod_cgroup = format!("namespace=\"demo\",pod=\"{name}\"");
        family.series(ws, &pod_cgroup, steps(h, born, died, |_| 5000 * MI));
    }
    // A pod of the same name in another namespace, and one of web-api.
    let twin = format!(
        "namespace=\"other\",pod=\"{}\",container=\"app\"",
        h.pods[0].name
    );
    family.series(ws, &twin, steps(h, 0, STEPS, |_| 3000 * MI));
    let decoy = "namespace=\"demo\",pod=\"web-api-6d4cf56db6-bcdfg\",container=\"app\"";
    family.series(ws, decoy, steps(h, 0, STEPS, |_| 3000 * MI));
    // Workloads kube-state-metrics does not know, matched by name: a
    // Deployment (2 pods, then 3) and a StatefulSet, each beside a decoy.
    for (pod, from) in [
        ("cache-5d8f7b9c4-x2bzq", 0),
        ("cache-5d8f7b9c4-q7wrt", 0),
        ("cache-5d8f7b9c4-m4nvd", 180),
        ("cache-api-5d8f7b9c4-bcdfg", 0),
        ("cache-0", 0),
        ("db-0", 0),
        ("db-1", 0),
        ("db-backup-0", 0),
    ] {
        let labels = format!("namespace=\"demo\",pod=\"{pod}\",container=\"app\"");
        family.series(ws, &labels, steps(h, from, STEPS, |_| 100 * MI));
    }

    let owner = "kube_pod_owner";
    let mut family = Family::new(&mut out, owner);
    for pod in &h.pods {
        let labels = format!(
            "namespace=\"demo\",pod=\"{}\",owner_kind=\"ReplicaSet\",owner_name=\"{}\",owner_is_controller=\"true\"",
            pod.name, REPLICASETS[pod.replicaset]
        );
        family.series(owner, &labels, steps(h, pod.born, pod.died, |_| 1));
    }
    let labels = "namespace=\"demo\",pod=\"web-api-6d4cf56db6-bcdfg\",owner_kind=\"ReplicaSet\",owner_name=\"web-api-6d4cf56db6\",owner_is_controller=\"true\"";
    family.series(owner, labels, steps(h, 0, STEPS, |_| 1));

    let rs_owner = "kube_replicaset_owner";
    let mut family = Family::new(&mut out, rs_owner);
    for (set, owner_name, from, to) in [
        (REPLICASETS[0], "web", 0, STEPS),
        (REPLICASETS[1], "web", ROLLOUT - 5, STEPS),
        ("web-api-6d4cf56db6", "web-api", 0, STEPS),
    ] {
        let labels = format!(
            "namespace=\"demo\",replicaset=\"{set}\",owner_kind=\"Deployment\",owner_name=\"{owner_name}\",owner_is_controller=\"true\""
        );
        family.series(rs_owner, &labels, steps(h, from, to, |_| 1));
    }

    let limits = "kube_pod_container_resource_limits";
    let mut family = Family::new(&mut out, limits);
    for pod in &h.pods {
        for (container, bytes) in [("app", APP_LIMIT), ("sidecar", SIDECAR_LIMIT)] {
            let labels = format!(
                "namespace=\"demo\",pod=\"{}\",container=\"{container}\",resource=\"memory\",unit=\"byte\"",
                pod.name
            );
            family.series(limits, &labels, steps(h, pod.born, pod.died, |_| bytes));
        }
    }
    let decoy = "namespace=\"demo\",pod=\"web-api-6d4cf56db6-bcdfg\",container=\"app\",resource=\"memory\",unit=\"byte\"";
    family.series(limits, decoy, steps(h, 0, STEPS, |_| 8192 * MI));
    out.push_str("# EOF\n");
    out
}

fn memhpa(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memhpa"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run memhpa")
}

/// The binary's replay of the synthetic Deployment's six hours, a step a
/// minute, with `extra` (the specs and outputs) added.
fn replay_web(server: &Prometheus, h: &History, extra: &[&str]) -> Output {
    let (until, url) = (h.end().to_string(), server.url());
    let mut args = vec![
        "simulate",
        "-from-prometheus",
        &url,
        "-workload",
        "demo/Deployment/web",
        "-since",
        "6h",
        "-until",
        &until,
        "-step",
        "1m",
    ];
    args.extend_from_slice(extra);
    memhpa(&args)
}

fn stdout_of(what: &str, output: &Output) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({:?}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("memhpa-replay-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The scenario a person would write from the totals this test wrote:
/// each step's total less the baseline of the pods that ran.
fn hand_built_scenario(h: &History, spec: &serde_json::Value) -> String {
    let steps: Vec<serde_json::Value> = (0..STEPS)
        .filter(|k| !GAP.contains(k))
        .map(|k| {
            let total: u64 = h.alive(k).map(|(i, _)| h.working_set[i][k]).sum();
            let load = total - BASELINE * u64::from(h.counts[k]);
            serde_json::json!({"t": h.t(k), "totalBytes": load})
        })
        .collect();
    serde_json::json!({
        "spec": spec,
        "replicas": h.counts[0],
        "limitBytes": APP_LIMIT + SIDECAR_LIMIT,
        "steps": steps,
    })
    .to_string()
}

/// One Prometheus on the synthetic history for every test of this file, or
/// `None` when it cannot run here. The static is never dropped; the
/// launcher's guard stops Prometheus and removes its data when the process
/// exits.
fn shared() -> Option<&'static (Prometheus, History)> {
    static SHARED: OnceLock<Option<(Prometheus, History)>> = OnceLock::new();
    SHARED.get_or_init(start).as_ref()
}

fn start() -> Option<(Prometheus, History)> {
    let prometheus = tool_or_skip("prometheus")?;
    let promtool = tool_or_skip("promtool")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    // A day and more back: far older than the head block, which backfilling
    // must not touch.
    let end = (now - 30 * 3600) / 3600 * 3600;
    let history = synthesize(end - STEP * (STEPS as i64 - 1));
    let server = Prometheus::start_backfilled(&prometheus, &promtool, &openmetrics(&history));
    Some((server, history))
}

fn client(server: &Prometheus) -> Client {
    Client::new(PromOptions {
        base_url: server.url(),
        ..PromOptions::default()
    })
    .expect("client")
}

fn workload(kind: WorkloadKind, name: &str) -> Workload {
    Workload {
        namespace: "demo".into(),
        kind,
        name: name.into(),
    }
}

#[test]
fn the_replay_of_real_history_is_the_scenario_of_its_totals_step_for_step() {
    let Some((server, h)) = shared() else { return };
    let range = Range::new(h.t0, h.end(), STEP).expect("range");

    // What the fetch reads is exactly what was written: every step but the
    // gap, the pods of both ReplicaSets and no decoy, app and sidecar only.
    let history = fetch(
        &client(server),
        &workload(WorkloadKind::Deployment, "web"),
        range,
        None,
        None,
    )
    .unwrap_or_else(|e| panic!("fetch: {e}\n{}", server.log_tail()));
    assert_eq!(history.membership.source, MembershipSource::Owners);
    assert_eq!(history.membership.owned_pods, h.pods.len());
    assert_eq!(history.limit_bytes, APP_LIMIT + SIDECAR_LIMIT);
    assert_eq!(history.skipped, GAP.count());
    assert_eq!(history.points, h.expected_points());

    // The baseline the pod-count changes suggest is the one written.
    let suggestion = suggest(&history.points, DEFAULT_WINDOWS);
    assert!(suggestion.events() >= 8, "{}", suggestion.describe());
    let median = suggestion.median().expect("a suggestion");
    assert!(
        (median - BASELINE as f64).abs() < 0.1 * BASELINE as f64,
        "suggested {:.1}Mi for a baseline of 196Mi: {}",
        median / MI as f64,
        suggestion.describe()
    );

    // The binary's replay, the scenario file it writes, and the scenario
    // built by hand from the totals give the same timeline.
    let dir = temp_dir("timeline");
    let written = dir.join("web-scenario.json");
    let chart = dir.join("web.svg");
    let replay = replay_web(
        server,
        h,
        &[
            "-target",
            "70",
            "-min",
            "2",
            "-max",
            "12",
            "-baseline",
            "196Mi",
            "-json",
            "-write-scenario",
            path(&written),
            "-svg",
            path(&chart),
        ],
    );
    let replayed = stdout_of("the replay", &replay);
    let notes = String::from_utf8_lossy(&replay.stderr);
    assert!(notes.contains("kube-state-metrics owners"), "{notes}");
    assert_eq!(
        suggested_bytes(&notes),
        Some(median.round()),
        "the binary prints the library's suggestion: {notes}"
    );
    // A run line, the steps, then the summaries of what ran and of the spec.
    let lines: Vec<&str> = replayed.lines().collect();
    assert_eq!(lines.len(), 1 + STEPS - GAP.count() + 1, "{replayed}");
    assert_eq!(
        lines[0],
        r#"{"run":"-target 70 -min 2 -max 12 -baseline 196Mi"}"#
    );
    let (steps, summary) = (&lines[1..lines.len() - 1], lines[lines.len() - 1]);
    assert!(
        steps
            .iter()
            .any(|l| l.contains("\"reason\":\"AboveTarget\""))
            && steps
                .iter()
                .any(|l| l.contains("\"reason\":\"BelowTarget\"")),
        "the timeline should scale both ways:\n{replayed}"
    );
    let summary: serde_json::Value = serde_json::from_str(summary).expect("a summary line");
    let runs = &summary["summary"];
    assert_eq!(runs.as_object().map(|o| o.len()), Some(2), "{summary}");

    // What ran, summed up by hand from what the test wrote.
    let points = h.expected_points();
    let ran_seconds: i64 = points
        .windows(2)
        .map(|w| i64::from(w[0].pods) * (w[1].t - w[0].t))
        .sum();
    let changes = |up: bool| {
        points
            .windows(2)
            .filter(|w| {
                if up {
                    w[1].pods > w[0].pods
                } else {
                    w[1].pods < w[0].pods
                }
            })
            .count() as u64
    };
    let actual = &runs["actual"];
    assert_eq!(
        actual["replicaHours"].as_f64(),
        Some(ran_seconds as f64 / 3600.0),
        "{actual}"
    );
    assert_eq!(actual["scaleUps"].as_u64(), Some(changes(true)), "{actual}");
    assert_eq!(
        actual["scaleDowns"].as_u64(),
        Some(changes(false)),
        "{actual}"
    );
    let peak_pod = points.iter().map(|p| p.max_pod_bytes).fold(0.0, f64::max);
    let limit = (APP_LIMIT + SIDECAR_LIMIT) as f64;
    assert_eq!(
        actual["peakLimitPercentage"].as_f64(),
        Some((1000.0 * peak_pod / limit).floor() / 10.0),
        "{actual}"
    );

    // The chart of the run is dated by the history's own UTC times.
    let svg = std::fs::read_to_string(&chart).expect("the replay's chart");
    let first_day = memhpa::rfc3339::format_seconds(h.t0);
    assert!(
        svg.contains("time (UTC)") && svg.contains(&first_day[5..10]),
        "{}",
        &svg[..svg.len().min(2000)]
    );

    // The spec's run is the written scenario's, step for step and summed up.
    let from_file = stdout_of(
        "the written scenario",
        &memhpa(&["simulate", path(&written), "-json"]),
    );
    let file_lines: Vec<&str> = from_file.lines().collect();
    let (file_steps, file_summary) = file_lines.split_at(file_lines.len() - 1);
    assert_eq!(file_steps, steps, "replay and its scenario file differ");
    let file_summary: serde_json::Value =
        serde_json::from_str(file_summary[0]).expect("the file's summary");
    assert_eq!(
        runs["-target 70 -min 2 -max 12 -baseline 196Mi"], file_summary["summary"],
        "the replay sums its run up as simulate sums the file's"
    );

    let spec = serde_json::json!({
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 2, "maxReplicas": 12, "targetUtilizationPercentage": 70,
        "podBaseline": "196Mi"
    });
    let hand = dir.join("hand-built.json");
    std::fs::write(&hand, hand_built_scenario(h, &spec)).expect("write the scenario");
    let by_hand = stdout_of(
        "the hand-built scenario",
        &memhpa(&["simulate", path(&hand), "-json"]),
    );
    assert_eq!(
        by_hand, from_file,
        "the written and the hand-built scenario differ"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A spec's `container` option counts that one container, as the controller
/// does: the app's working set and the app's limit, without the sidecar.
#[test]
fn a_spec_that_counts_one_container_replays_that_container_alone() {
    let Some((server, h)) = shared() else { return };
    let range = Range::new(h.t0, h.end(), STEP).expect("range");
    let history = fetch(
        &client(server),
        &workload(WorkloadKind::Deployment, "web"),
        range,
        None,
        Some("app"),
    )
    .unwrap_or_else(|e| panic!("fetch: {e}\n{}", server.log_tail()));
    assert_eq!(history.limit_bytes, APP_LIMIT);
    let app_only: Vec<Point> = h
        .expected_points()
        .into_iter()
        .map(|p| Point {
            total_bytes: p.total_bytes - (SIDECAR * u64::from(p.pods)) as f64,
            max_pod_bytes: p.max_pod_bytes - SIDECAR as f64,
            ..p
        })
        .collect();
    assert_eq!(history.points, app_only);

    // Specs that count different containers would need two histories.
    let dir = temp_dir("containers");
    let (app, all) = (dir.join("app.json"), dir.join("all.json"));
    let spec = r#"{"maxReplicas": 12, "targetUtilizationPercentage": 70"#;
    std::fs::write(&app, format!(r#"{spec}, "container": "app"}}"#)).expect("write");
    std::fs::write(&all, format!("{spec}}}")).expect("write");
    let out = replay_web(server, h, &["-spec", path(&app), "-spec", path(&all)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("counts container every app container, where")
            && stderr.contains("counts \"app\""),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Six hours at one second are 21,601 points a series: Prometheus refuses
/// that in one query, so the fetch asks in chunks. Stitched, the chunks hold
/// every minute's point exactly as the one-minute replay reads it.
#[test]
fn a_range_past_prometheus_points_limit_is_fetched_in_chunks() {
    let Some((server, h)) = shared() else { return };
    let whole = format!(
        "{}/api/v1/query_range?query=up&start={}&end={}&step=1s",
        server.url(),
        h.t0,
        h.end()
    );
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut answer = agent.get(&whole).call().expect("Prometheus answers");
    let body = answer.body_mut().read_to_string().unwrap_or_default();
    assert!(
        body.contains("11,000 points"),
        "one query is refused: {body}"
    );

    let range = Range::new(h.t0, h.end(), 1).expect("range");
    assert_eq!(range.chunks().len(), 3);
    let history = fetch(
        &client(server),
        &workload(WorkloadKind::Deployment, "web"),
        range,
        Some(MI),
        None,
    )
    .unwrap_or_else(|e| panic!("fetch: {e}"));
    let minutes: Vec<Point> = history
        .points
        .iter()
        .filter(|p| (p.t - h.t0) % STEP == 0)
        .copied()
        .collect();
    assert_eq!(minutes, h.expected_points());
    let mut times: Vec<i64> = history.points.iter().map(|p| p.t).collect();
    times.dedup();
    assert_eq!(
        times.len(),
        history.points.len(),
        "a time repeated at a chunk boundary"
    );
    assert_eq!(history.points.len() + history.skipped, 21_601);
}

#[test]
fn without_owner_series_the_pods_are_matched_by_their_name_pattern() {
    let Some((server, h)) = shared() else { return };
    let range = Range::new(h.t0, h.end(), STEP).expect("range");
    let client = client(server);
    for (kind, name, pods_at) in [
        (
            WorkloadKind::Deployment,
            "cache",
            [(0, 2), (179, 2), (180, 3), (360, 3)],
        ),
        (
            WorkloadKind::StatefulSet,
            "db",
            [(0, 2), (179, 2), (180, 2), (360, 2)],
        ),
    ] {
        let history = fetch(&client, &workload(kind, name), range, Some(512 * MI), None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            history.membership.source,
            MembershipSource::NamePattern,
            "{name}"
        );
        for (k, pods) in pods_at {
            let point = history
                .points
                .iter()
                .find(|p| p.t == h.t(k))
                .expect("a point");
            assert_eq!(point.pods, pods, "{name} at step {k}");
            assert_eq!(
                point.total_bytes,
                (u64::from(pods) * 100 * MI) as f64,
                "{name}"
            );
        }
    }
    // Nothing in kube-state-metrics, and no -limit-bytes: no replay.
    let err = fetch(
        &client,
        &workload(WorkloadKind::Deployment, "cache"),
        range,
        None,
        None,
    )
    .expect_err("no limit");
    assert!(matches!(err, HistoryError::NoLimit { .. }), "{err}");
    assert!(err.to_string().contains("-limit-bytes"), "{err}");
}

#[test]
fn an_unreachable_prometheus_exits_1_and_a_workload_without_history_says_so() {
    let Some((server, h)) = shared() else { return };
    let until = h.end().to_string();
    let args = |url: &str, workload: &str| -> Vec<String> {
        [
            "simulate",
            "-from-prometheus",
            url,
            "-workload",
            workload,
            "-since",
            "6h",
            "-until",
            &until,
            "-target",
            "70",
            "-max",
            "5",
            "-limit-bytes",
            "1Gi",
        ]
        .map(str::to_string)
        .to_vec()
    };
    let run = |list: Vec<String>| {
        let refs: Vec<&str> = list.iter().map(String::as_str).collect();
        memhpa(&refs)
    };
    let missing = run(args(&server.url(), "demo/Deployment/nothing-here"));
    assert_eq!(missing.status.code(), Some(1));
    let text = String::from_utf8_lossy(&missing.stderr);
    assert!(
        text.contains("no working set") && text.contains("demo/Deployment/nothing-here"),
        "{text}"
    );
    // A port nothing listens on: bound and released by the test.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let unreachable = run(args(&url, "demo/Deployment/web"));
    assert_eq!(unreachable.status.code(), Some(1));
    let text = String::from_utf8_lossy(&unreachable.stderr);
    assert!(text.contains("cannot reach Prometheus"), "{text}");
}

/// The bytes of the `suggested podBaseline: 196Mi (205520896 bytes)` line.
fn suggested_bytes(notes: &str) -> Option<f64> {
    let line = notes
        .lines()
        .find(|l| l.contains("suggested podBaseline:"))?;
    let (_, after) = line.split_once('(')?;
    after.split_once(" bytes)")?.0.parse().ok()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

/// The replay sends the controller's bearer token and, as the controller,
/// never logs it, even at trace.
#[test]
fn the_bearer_token_never_reaches_the_log_at_trace() {
    let Some((server, h)) = shared() else { return };
    let dir = temp_dir("token");
    let token = "replay-secret-3f9a1c77d2";
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{token}\n")).expect("write token");
    let until = h.end().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_memhpa"))
        .args([
            "simulate",
            "-from-prometheus",
            &server.url(),
            "-workload",
            "demo/Deployment/web",
            "-since",
            "1h",
            "-until",
            &until,
            "-target",
            "70",
            "-max",
            "12",
            "-prom-bearer-token-file",
            path(&token_file),
        ])
        .env("RUST_LOG", "trace")
        .output()
        .expect("run memhpa");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{all}");
    // As tests/secrets.rs looks: any six bytes of it, plain or as ureq_proto's
    // hex dump writes them (`7265 706c`).
    let unspaced: String = all.chars().filter(|c| *c != ' ').collect();
    for window in token.as_bytes().windows(6) {
        let plain = std::str::from_utf8(window).expect("ASCII token");
        let hex: String = window.iter().map(|b| format!("{b:02x}")).collect();
        assert!(
            !all.contains(plain) && !unspaced.contains(&hex),
            "the token leaked ({plain}):\n{all}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
