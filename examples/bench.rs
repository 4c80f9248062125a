//! Figures, not assertions: `cargo run --release --example bench`.
//!
//! - `decide()` over a realistic observation (50 pods of 2 containers, a
//!   history of recent recommendations);
//! - Prometheus round trips through the public client against a canned
//!   127.0.0.1 server answering a 1000-series vector, so the figure is HTTP plus
//!   JSON decoding plus the per-pod usage build;
//! - the simulate engine over a long scenario, output into a sink;
//! - the peak RSS of a process that decodes 10,000 MemHpa objects from one list
//!   body into a store keyed by namespace/name (a child copy of this program, so
//!   the other benchmarks' memory does not count).
//!
//! Timings are wall clock on whatever else the machine runs: compare runs on the
//! same machine, not across machines.
//!
//! The controller as a whole process (first pass, CPU per tick, RSS, requests
//! per tick of the release binary) is measured by
//! `cargo run --release --example bench_controller`.

use memhpa::algorithm::{
    decide, ContainerObservation, History, Observation, PodObservation, PodPhase, Policy,
};
use memhpa::api::{MemHpa, MemHpaSpec, ObjectList};
use memhpa::prom::{Client, PromOptions};
use std::collections::HashMap;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

const PODS: usize = 50;
const PROM_PODS: usize = 500;
const STORE_OBJECTS: usize = 10_000;
const SIM_STEPS: usize = 100_000;

/// The argument that makes the program the store-only child (see `bench_store`).
const STORE_CHILD: &str = "store-child";

fn main() {
    if std::env::args().nth(1).as_deref() == Some(STORE_CHILD) {
        store_child();
        return;
    }
    let mut rows: Vec<(String, String)> = Vec::new();

    let (per_s, ns, outcome) = bench_decide();
    rows.push((
        format!("decide ({PODS} pods x 2 containers)"),
        format!("{per_s:>12.0} decisions/s  {ns:>9.0} ns/decision  ({outcome})"),
    ));

    match bench_prom() {
        Ok((per_s, ms, series_per_s)) => rows.push((
            format!("prom round trip ({} series)", PROM_PODS * 2),
            format!("{per_s:>12.1} queries/s    {ms:>9.2} ms/query  ({series_per_s:.0} series/s)"),
        )),
        Err(e) => rows.push(("prom round trip".into(), format!("failed: {e}"))),
    }

    match bench_simulate() {
        Ok((steps_per_s, ms)) => rows.push((
            format!("simulate ({SIM_STEPS} totalBytes steps, table)"),
            format!("{steps_per_s:>12.0} steps/s      {ms:>9.1} ms/run"),
        )),
        Err(e) => rows.push(("simulate".into(), format!("failed: {e}"))),
    }

    match bench_store() {
        Ok(f) => {
            rows.push((
                format!("decode {STORE_OBJECTS} MemHpas (list JSON)"),
                format!(
                    "{:>12.0} objects/s    {:>9.1} ms   ({:.1} MiB of JSON)",
                    f.get("objects_per_s"),
                    f.get("ms"),
                    f.get("json_bytes") / 1048576.0
                ),
            ));
            rows.push((
                format!("peak RSS, store of {STORE_OBJECTS} MemHpas"),
                format!(
                    "VmHWM {:.1} MiB ({:.1} MiB before decoding, with the JSON text)",
                    f.get("hwm_after_kib") / 1024.0,
                    f.get("hwm_before_kib") / 1024.0
                ),
            ));
            rows.push((
                "  RSS with only the store held".into(),
                format!("VmRSS {:.1} MiB", f.get("rss_store_only_kib") / 1024.0),
            ));
        }
        Err(e) => rows.push(("store".into(), format!("failed: {e}"))),
    }

    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    println!("{:<width$}  figure", "benchmark");
    println!("{:-<width$}  {:-<60}", "", "");
    for (name, figure) in rows {
        println!("{name:<width$}  {figure}");
    }
}

/// Runs `f` in batches until `budget` has passed; returns (calls, elapsed).
fn time_for(budget: Duration, mut f: impl FnMut()) -> (u64, Duration) {
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < budget {
        for _ in 0..64 {
            f();
        }
        calls += 64;
    }
    (calls, start.elapsed())
}

/// (decisions/s, ns/decision, what the decision was).
fn bench_decide() -> (f64, f64, String) {
    let spec: MemHpaSpec = serde_json::from_value(serde_json::json!({
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 2, "maxReplicas": 200, "targetUtilizationPercentage": 60
    }))
    .expect("a valid spec");
    let policy = Policy::from_spec(&spec).expect("a valid policy");
    let pods = (0..PODS)
        .map(|i| PodObservation {
            name: format!("web-{i}"),
            phase: if i % 25 == 0 {
                PodPhase::Pending
            } else {
                PodPhase::Running
            },
            deleted: false,
            containers: vec![
                container("app", (700 + (i % 7) * 30) as f64, 1024),
                container("sidecar", 20.0 + (i % 3) as f64, 64),
            ],
        })
        .collect();
    let obs = Observation {
        spec_replicas: PODS as i64,
        status_replicas: PODS as i64,
        pods,
        metrics_error: None,
    };
    let now = 1_700_000_000;
    let mut history = History::new();
    // Twenty reconciles of the default 300 s scale-down window at a 15 s resync.
    for k in 0..20 {
        history.record_recommendation(now - 300 + k * 15, 45 + k % 5);
    }
    let (calls, elapsed) = time_for(Duration::from_secs(2), || {
        black_box(decide(
            black_box(&obs),
            black_box(&policy),
            black_box(&history),
            now,
        ));
    });
    let secs = elapsed.as_secs_f64();
    let d = decide(&obs, &policy, &history, now);
    let outcome = format!(
        "{}%, {}, {} -> {} replicas",
        d.utilization_percentage.unwrap_or(-1),
        d.reason,
        d.current_replicas,
        d.desired_replicas
    );
    (calls as f64 / secs, secs * 1e9 / calls as f64, outcome)
}

fn container(name: &str, usage_mib: f64, limit_mib: u64) -> ContainerObservation {
    ContainerObservation {
        name: name.to_string(),
        usage_bytes: Some(usage_mib * 1048576.0),
        limit_bytes: Some(limit_mib << 20),
        request_bytes: Some(limit_mib << 19),
    }
}

/// (queries/s, ms/query, series/s).
fn bench_prom() -> Result<(f64, f64, f64), String> {
    let pods: Vec<String> = (0..PROM_PODS).map(|i| format!("web-{i}")).collect();
    let body = vector_body("bench", &pods);
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    std::thread::spawn(move || serve_canned(listener, body));
    let client = Client::new(PromOptions {
        base_url: format!("http://{addr}"),
        ..PromOptions::default()
    })
    .map_err(|e| e.to_string())?;
    // One warm-up query also checks that the answer is usable.
    let usage = client
        .pod_usage("bench", &pods)
        .map_err(|e| e.to_string())?;
    if usage.pods().count() != PROM_PODS {
        return Err(format!("{} pods decoded", usage.pods().count()));
    }
    let mut failed = None;
    let (calls, elapsed) = time_for(Duration::from_secs(3), || {
        if let Err(e) = client.pod_usage("bench", &pods) {
            failed = Some(e.to_string());
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let secs = elapsed.as_secs_f64();
    let per_s = calls as f64 / secs;
    Ok((per_s, 1e3 / per_s, per_s * (PROM_PODS * 2) as f64))
}

/// A Prometheus 2.x instant-vector answer: two containers per pod.
fn vector_body(namespace: &str, pods: &[String]) -> Vec<u8> {
    let result: Vec<serde_json::Value> = pods
        .iter()
        .enumerate()
        .flat_map(|(i, pod)| {
            [("app", 500 + i % 100), ("sidecar", 20)].map(|(container, mib)| {
                serde_json::json!({
                    "metric": {"container": container, "namespace": namespace, "pod": pod},
                    "value": [1_700_000_000.123, ((mib as u64) << 20).to_string()]
                })
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "status": "success",
        "data": {"resultType": "vector", "result": result}
    }))
    .unwrap_or_default()
}

/// Answers every request on every connection with `body`, keeping connections
/// alive as ureq's pool expects. Runs until the process exits.
fn serve_canned(listener: TcpListener, body: Vec<u8>) {
    let body = std::sync::Arc::new(body);
    for stream in listener.incoming().flatten() {
        let body = body.clone();
        std::thread::spawn(move || {
            let _ = answer_all(stream, &body);
        });
    }
}

fn answer_all(stream: TcpStream, body: &[u8]) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut content_length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            if let Some((name, value)) = trimmed.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut request_body = vec![0; content_length];
        reader.read_exact(&mut request_body)?;
        write!(
            writer,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        writer.write_all(body)?;
        writer.flush()?;
    }
}

/// (steps/s, ms/run) of `simulate::run` over a scenario with memory that rises
/// and falls every simulated day.
fn bench_simulate() -> Result<(f64, f64), String> {
    let steps: Vec<serde_json::Value> = (0..SIM_STEPS)
        .map(|i| {
            let phase = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
            let total = (6.0 + 4.0 * phase.sin()) * 1073741824.0;
            serde_json::json!({"t": i * 300, "totalBytes": total.round() as u64})
        })
        .collect();
    let scenario = serde_json::json!({
        "spec": {"minReplicas": 2, "maxReplicas": 40, "targetUtilizationPercentage": 70},
        "replicas": 4,
        "limitBytes": 1073741824u64,
        "podBaseBytes": 134217728u64,
        "steps": steps
    });
    let path = std::env::temp_dir().join(format!("memhpa-bench-{}.json", std::process::id()));
    std::fs::write(&path, scenario.to_string()).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let runs = 3;
    let mut result = Ok(());
    for _ in 0..runs {
        // Every step formatted (-all), as the figures before row filtering were.
        result = memhpa::simulate::run(Some(&path), false, true, None, &mut std::io::sink());
        if result.is_err() {
            break;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    result.map_err(|e| e.to_string())?;
    Ok((
        (SIM_STEPS * runs) as f64 / elapsed,
        elapsed * 1e3 / runs as f64,
    ))
}

/// Figures the store-only child printed as `key=value` lines.
struct Figures(HashMap<String, f64>);

impl Figures {
    fn get(&self, key: &str) -> f64 {
        self.0.get(key).copied().unwrap_or(f64::NAN)
    }
}

/// Peak RSS is a property of the whole process and never goes down, so the
/// store is built in a fresh copy of this program that does nothing else.
fn bench_store() -> Result<Figures, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = std::process::Command::new(exe)
        .arg(STORE_CHILD)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(Figures(
        text.lines()
            .filter_map(|l| l.split_once('='))
            .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
            .collect(),
    ))
}

/// The child: a MemHpaList body as the API server would send it, decoded into a
/// store keyed by namespace/name, as a list-then-watch start does.
fn store_child() {
    let mut text = String::from(
        r#"{"apiVersion":"memhpa.io/v1","kind":"MemHpaList","metadata":{"resourceVersion":"1"},"items":["#,
    );
    for i in 0..STORE_OBJECTS {
        if i > 0 {
            text.push(',');
        }
        let item = memhpa_json(&format!("ns-{}", i % 100), &format!("web-{i}"), i);
        text.push_str(&item.to_string());
    }
    text.push_str("]}");
    let hwm_before = vm_kib("VmHWM");
    let start = Instant::now();
    let list: ObjectList<MemHpa> = match serde_json::from_str(&text) {
        Ok(list) => list,
        Err(e) => {
            eprintln!("decode: {e}");
            std::process::exit(1);
        }
    };
    let store: HashMap<String, MemHpa> = list
        .items
        .into_iter()
        .map(|m| (m.metadata.key(), m))
        .collect();
    let secs = start.elapsed().as_secs_f64();
    let json_bytes = text.len();
    drop(text);
    let objects = black_box(&store).len();
    println!("objects_per_s={}", objects as f64 / secs);
    println!("ms={}", secs * 1e3);
    println!("json_bytes={json_bytes}");
    for (key, value) in [
        ("hwm_before_kib", hwm_before),
        ("hwm_after_kib", vm_kib("VmHWM")),
        ("rss_store_only_kib", vm_kib("VmRSS")),
    ] {
        if let Some(v) = value {
            println!("{key}={v}");
        }
    }
}

/// One MemHpa as the API server lists it, status and managed fields included.
fn memhpa_json(namespace: &str, name: &str, i: usize) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "memhpa.io/v1", "kind": "MemHpa",
        "metadata": {
            "name": name, "namespace": namespace,
            "uid": format!("5aedc382-04c5-4dc7-a5ea-{i:012}"),
            "resourceVersion": (1000 + i).to_string(), "generation": 1,
            "creationTimestamp": "2026-11-22T12:02:31Z",
            "managedFields": [{"apiVersion": "memhpa.io/v1", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {".": {}, "f:maxReplicas": {}}},
                "manager": "kubectl", "operation": "Update", "time": "2026-11-22T12:02:31Z"}]
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1, "maxReplicas": 10, "targetUtilizationPercentage": 60,
            "basis": "limits",
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300,
                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}
        },
        "status": {
            "observedGeneration": 1, "currentReplicas": 2, "desiredReplicas": 3,
            "currentUtilizationPercentage": 72, "currentMemoryBytes": 754974720u64,
            "lastScaleTime": "2026-11-22T12:05:00Z",
            "conditions": [
                {"type": "AbleToScale", "status": "True", "lastTransitionTime": "2026-11-22T12:00:00Z",
                 "reason": "SucceededRescale", "message": "the HPA controller was able to update the target scale to 3"},
                {"type": "ScalingActive", "status": "True", "lastTransitionTime": "2026-11-22T12:00:00Z",
                 "reason": "ValidMetricFound", "message": "the memory utilization was computed"},
                {"type": "ScalingLimited", "status": "False", "lastTransitionTime": "2026-11-22T12:00:00Z",
                 "reason": "DesiredWithinRange", "message": "the desired count is within the acceptable range"}
            ]
        }
    })
}

/// A `Vm*` line of /proc/self/status, in KiB; `None` off Linux.
fn vm_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
