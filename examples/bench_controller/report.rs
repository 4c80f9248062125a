//! What the bench prints: each target beside its figure, the growth table,
//! how the figures are taken, and one JSON line with every figure.

use std::time::Duration;

use serde_json::{json, Value};

use crate::measure::{Figures, WORKERS};
use crate::reaction::Reaction;

pub struct All {
    pub binary: String,
    pub growth: Vec<(usize, Option<Figures>)>,
    pub latency: Option<Figures>,
    pub big: Option<Figures>,
    pub big_pods: usize,
    pub reaction: Option<Reaction>,
    pub resync: Duration,
    pub latency_injected: Duration,
}

impl All {
    fn growth_at(&self, n: usize) -> Option<&Figures> {
        self.growth
            .iter()
            .find(|(m, _)| *m == n)
            .and_then(|(_, f)| f.as_ref())
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

/// One row of the target table.
struct Row {
    target: &'static str,
    figure: String,
    met: Option<bool>,
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "NOT MET",
        None => "not measured",
    }
}

pub fn print(all: &All) {
    let mut rows = Vec::new();
    let at_1000 = all.growth_at(1000);
    rows.push(match at_1000 {
        Some(f) => Row {
            target: "1. API requests per tick <= MemHpas (1,000)",
            figure: format!("{:.1} ({})", f.window.api_per_tick, kinds(f)),
            met: Some(f.window.api_per_tick <= 1000.0 + 0.5),
        },
        None => missing("1. API requests per tick <= MemHpas (1,000)"),
    });
    let (p50, p99) = all
        .reaction
        .as_ref()
        .map_or((None, None), |r| (r.percentile(50.0), r.percentile(99.0)));
    rows.push(match (p50, p99, &all.reaction) {
        (Some(p50), Some(p99), Some(r)) => Row {
            target: "2. reaction p99 < 50 ms (>= 200 events)",
            figure: format!(
                "p50 {:.1} ms, p99 {:.1} ms over {} events",
                ms(p50),
                ms(p99),
                r.times.len()
            ),
            met: Some(p99 < Duration::from_millis(50) && r.times.len() >= 200),
        },
        _ => missing("2. reaction p99 < 50 ms (>= 200 events)"),
    });
    let latency_tick = all.latency.as_ref().and_then(|f| f.timing.tick());
    rows.push(match latency_tick {
        Some(t) => Row {
            target: "3. one tick, 1,000 MemHpas at 5 ms/request < 3 s",
            figure: format!("{:.2} s", t.as_secs_f64()),
            met: Some(t < Duration::from_secs(3)),
        },
        None => missing("3. one tick, 1,000 MemHpas at 5 ms/request < 3 s"),
    });
    let hwm_1000 = at_1000.and_then(|f| f.hwm_kib);
    rows.push(match hwm_1000 {
        Some(kib) => Row {
            target: "4a. peak RSS, 1,000 MemHpas + 10,000 pods < 15 MiB",
            figure: format!("{:.1} MiB", mib(kib)),
            met: Some(kib < 15 * 1024),
        },
        None => missing("4a. peak RSS, 1,000 MemHpas + 10,000 pods < 15 MiB"),
    });
    let hwm_big = all.big.as_ref().and_then(|f| f.hwm_kib);
    rows.push(match hwm_big {
        Some(kib) => Row {
            target: "4b. peak RSS, 100,000 pods cached < 64 MiB",
            figure: format!(
                "{:.1} MiB ({} pods; per tick: {})",
                mib(kib),
                all.big_pods,
                all.big.as_ref().map_or(String::new(), kinds)
            ),
            met: Some(kib < 64 * 1024),
        },
        None => missing("4b. peak RSS, 100,000 pods cached < 64 MiB"),
    });
    print_targets(&rows);
    print_growth(all);
    print_notes(all);
    println!("{}", figures_json(all, &rows));
}

fn missing(target: &'static str) -> Row {
    Row {
        target,
        figure: "-".into(),
        met: None,
    }
}

fn kinds(f: &Figures) -> String {
    f.window
        .api_kinds
        .iter()
        .map(|(k, v)| format!("{v:.1} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_targets(rows: &[Row]) {
    let width = rows.iter().map(|r| r.target.len()).max().unwrap_or(0);
    let fig = rows.iter().map(|r| r.figure.len()).max().unwrap_or(0);
    println!("{:<width$}  {:<fig$}  verdict", "target", "figure");
    println!("{:-<width$}  {:-<fig$}  -------", "", "");
    for r in rows {
        println!(
            "{:<width$}  {:<fig$}  {}",
            r.target,
            r.figure,
            verdict(r.met)
        );
    }
}

/// A growth row's figure of one column.
type Figure = fn(&Figures) -> Option<f64>;

/// The growth rows: (name, figure).
fn growth_rows() -> Vec<(&'static str, Figure)> {
    vec![
        ("tick wall time, ms", |f| f.timing.tick().map(ms)),
        ("CPU per tick, ms", |f| {
            Some(round1(f.window.cpu_ms_per_tick))
        }),
        ("peak RSS (VmHWM), MiB", |f| f.hwm_kib.map(mib)),
        ("API requests per tick", |f| {
            Some(round1(f.window.api_per_tick))
        }),
        ("Prometheus queries per tick", |f| {
            Some(round1(f.window.prom_per_tick))
        }),
        ("first full pass, ms", |f| Some(ms(f.first_pass))),
    ]
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn print_growth(all: &All) {
    println!();
    let columns: Vec<String> = all.growth.iter().map(|(n, _)| format!("N={n}")).collect();
    let ratios: Vec<String> = all
        .growth
        .windows(2)
        .map(|w| format!("x{} N", w[1].0 / w[0].0.max(1)))
        .collect();
    print!("{:<28}", "growth");
    for c in columns.iter().chain(&ratios) {
        print!("  {c:>10}");
    }
    println!();
    for (name, value) in growth_rows() {
        print!("{name:<28}");
        let values: Vec<Option<f64>> = all
            .growth
            .iter()
            .map(|(_, f)| f.as_ref().and_then(value))
            .collect();
        for v in &values {
            print!("  {:>10}", v.map_or("-".into(), |v| format!("{v}")));
        }
        for w in values.windows(2) {
            let ratio = match (w[0], w[1]) {
                (Some(a), Some(b)) if a > 0.0 => format!("x{:.2}", b / a),
                _ => "-".into(),
            };
            print!("  {ratio:>10}");
        }
        println!();
    }
}

fn print_notes(all: &All) {
    println!(
        "\nbinary: {}\nmachine: {}\nHow (each run: a fresh fake API server + stub Prometheus; -workers {WORKERS} -leader-elect=false):",
        all.binary,
        machine()
    );
    let lines = [
        "- requests per tick, CPU per tick: a footprint child (RUST_LOG=info); 2 ticks of warm-up, then 5 ticks;",
        "  ticks = delta memhpa_reconciles_total / N; requests = the fake's log over the window / ticks;",
        "  CPU = delta utime+stime of /proc/PID/stat / ticks. Peak RSS = VmHWM right after the window.",
        "- tick wall time: a timing child (workers at debug): first to last per-MemHpa completion line of a",
        "  whole tick (median of 3) plus one namespace job (worker time per MemHpa x MemHpas per namespace).",
        "- 3.: the same at 5 ms injected before every API answer (FakeApiServer::set_latency), -resync 5s.",
        "- 4b.: 1,000 MemHpas of 10 pods plus 90,000 pods no MemHpa targets, all held by the pod cache.",
        "- 2.: 150 MemHpas created (2 -> 4 replicas) and then changed (maxReplicas 10 -> 3), one at a time,",
        "  over a base of 100 MemHpas at -resync 1h; each figure = arrival of the Scale write at the fake",
        "  minus the moment before the change was stored.",
        "- pods are about 1.3 KiB of JSON each (a real one, with managedFields, is about 3.5 KiB).",
    ];
    for line in lines {
        println!("{line}");
    }
    for (n, f) in &all.growth {
        if let Some(f) = f {
            println!(
                "  N={n}: requests/tick = {} (over {:.1} ticks); {} whole ticks timed; {} failed reconciles",
                kinds(f),
                f.window.ticks,
                f.timing.spans.len(),
                f.window.failed_reconciles
            );
        }
    }
}

/// `uname -m`, the CPU model, the CPUs and the date.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, m)| m.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{cpu}, {cpus} CPUs, {}; {date}", std::env::consts::ARCH)
}

/// The figure lines of `cargo run --example bench` (the pieces), when
/// `BENCH_PIECES` names the file its output went to (`make bench` does).
fn pieces() -> Value {
    let Some(path) = std::env::var_os("BENCH_PIECES") else {
        return Value::Null;
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .lines()
            .skip_while(|l| !l.starts_with("---"))
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| Value::from(l.split_whitespace().collect::<Vec<_>>().join(" ")))
            .collect(),
        Err(e) => Value::from(format!("{}: {e}", std::path::Path::new(&path).display())),
    }
}

fn figures_json(all: &All, rows: &[Row]) -> Value {
    let growth: Vec<Value> = all
        .growth
        .iter()
        .map(|(n, f)| match f {
            Some(f) => json!({
                "memhpas": n,
                "pods": n * 10,
                "tick_ms": f.timing.tick().map(ms),
                "cpu_ms_per_tick": round1(f.window.cpu_ms_per_tick),
                "peak_rss_mib": f.hwm_kib.map(mib),
                "requests_per_tick": round1(f.window.api_per_tick),
                "requests_by_kind": f.window.api_kinds.iter()
                    .map(|(k, v)| (k.to_string(), json!(round1(*v))))
                    .collect::<serde_json::Map<_, _>>(),
                "prom_queries_per_tick": round1(f.window.prom_per_tick),
                "first_pass_ms": ms(f.first_pass),
                "first_pass_requests": f.first_pass_requests,
                "rss_mib": f.rss_kib.map(mib),
                "first_pass_peak_rss_mib": f.first_pass_hwm_kib.map(mib),
                "threads": f.threads,
                "api_connections_per_tick": round1(f.window.api_connections_per_tick),
                "prom_connections_per_tick": round1(f.window.prom_connections_per_tick),
                "worker_ms_per_memhpa": f.timing.per_memhpa.map(|d| (d.as_secs_f64() * 1e6).round() / 1e3),
            }),
            None => json!({"memhpas": n, "failed": true}),
        })
        .collect();
    let reaction = all.reaction.as_ref();
    json!({
        "bench": "memhpa issue 12",
        "binary": all.binary,
        "machine": machine(),
        "targets": rows.iter().map(|r| json!({
            "target": r.target, "figure": r.figure, "verdict": verdict(r.met)
        })).collect::<Vec<_>>(),
        "requests_per_tick_1000": all.growth_at(1000).map(|f| round1(f.window.api_per_tick)),
        "reaction_events": reaction.map(|r| r.times.len()),
        "reaction_p50_ms": reaction.and_then(|r| r.percentile(50.0)).map(ms),
        "reaction_p99_ms": reaction.and_then(|r| r.percentile(99.0)).map(ms),
        "tick_1000_at_5ms_latency_s": all.latency.as_ref().and_then(|f| f.timing.tick())
            .map(|t| (t.as_secs_f64() * 1000.0).round() / 1000.0),
        "latency_injected_ms": ms(all.latency_injected),
        "peak_rss_1000_memhpas_10000_pods_mib": all.growth_at(1000).and_then(|f| f.hwm_kib).map(mib),
        "peak_rss_100000_pods_mib": all.big.as_ref().and_then(|f| f.hwm_kib).map(mib),
        "big_cluster_pods": all.big_pods,
        "big_cluster_requests_per_tick": all.big.as_ref().map(|f| round1(f.window.api_per_tick)),
        "big_cluster_requests_by_kind": all.big.as_ref().map(|f| f.window.api_kinds.iter()
            .map(|(k, v)| (k.to_string(), json!(round1(*v))))
            .collect::<serde_json::Map<_, _>>()),
        "resync_s": all.resync.as_secs_f64(),
        "growth": growth,
        "pieces": pieces(),
    })
}
