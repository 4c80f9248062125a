//! Figures for sizing the controller, not assertions:
//!
//! ```text
//! cargo build --release            # the binary under measurement
//! cargo run --release --example bench_controller
//! ```
//!
//! `MEMHPA_BIN=path` measures that binary instead. Without it the bench
//! measures target/release/memhpa and, when present,
//! target/x86_64-unknown-linux-musl/release/memhpa (`make static`: the
//! binary the scratch image ships).
//!
//! Each run starts memhpa as a child process against the in-process fake
//! kube-apiserver (tests/kubesupport) holding N MemHpas (N = 10, 1000) over
//! up to 50 namespaces, each with its own Deployment of two pods with memory
//! limits, and a stub Prometheus answering one `app` series per queried pod;
//! flags `-leader-elect=false -resync 2s -workers 4 -metrics-addr 127.0.0.1:0`.
//! Usage sits inside the tolerance, so after the first pass a tick writes
//! nothing: the steady state of a quiet cluster. How each figure is taken is
//! printed under the table. Everything binds 127.0.0.1; the child is killed
//! at the end of each run, on errors too.
//!
//! Timings are wall clock on whatever else the machine runs, and the fake
//! and the stub share the machine with the child: compare runs on one
//! machine, and expect a real API server's latency to lengthen ticks (but
//! not their CPU or memory).

#[path = "../../tests/httpsupport/mod.rs"]
mod httpsupport;
#[path = "../../tests/kubesupport/mod.rs"]
mod kubesupport;

mod bursts;
mod child;
mod cluster;
mod measure;
mod prom_stub;

use std::path::PathBuf;
use std::time::Duration;

use cluster::Layout;
use measure::{Figures, RESYNC, WORKERS};

const SIZES: [usize; 2] = [10, 1000];
const MAX_NAMESPACES: usize = 50;
const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

fn main() {
    let token = measure::token_path();
    if let Err(e) = child::kill_children_on_signal(move || {
        let _ = std::fs::remove_file(token);
    }) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let binaries = match binaries() {
        Ok(binaries) => binaries,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let mut columns = Vec::new();
    let mut failures = Vec::new();
    for (label, path) in &binaries {
        for n in SIZES {
            let layout = Layout::new(n, MAX_NAMESPACES);
            let name = format!("{label} N={n}");
            eprintln!("measuring {name} ({}) ...", path.display());
            match measure::run(path, layout) {
                Ok(figures) => columns.push((name, layout, Some(figures))),
                Err(e) => {
                    failures.push(format!("{name}: {e}"));
                    columns.push((name, layout, None));
                }
            }
        }
    }
    print_table(&columns);
    print_sizes();
    print_notes(&columns);
    for failure in &failures {
        println!("\nFAILED {failure}");
    }
    if !failures.is_empty() {
        std::process::exit(1);
    }
}

fn target_dir() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => manifest.join(dir),
        None => manifest.join("target"),
    }
}

/// (label, path) of each binary to measure.
fn binaries() -> Result<Vec<(String, PathBuf)>, String> {
    if let Some(path) = std::env::var_os("MEMHPA_BIN") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(format!("MEMHPA_BIN={}: no such file", path.display()));
        }
        return Ok(vec![("MEMHPA_BIN".to_string(), path)]);
    }
    let release = target_dir().join("release/memhpa");
    if !release.is_file() {
        return Err(format!(
            "{} is absent: build it first with `cargo build --release` \
             (or point MEMHPA_BIN at a memhpa binary)",
            release.display()
        ));
    }
    let mut out = vec![("gnu".to_string(), release)];
    let musl = target_dir().join(MUSL_TARGET).join("release/memhpa");
    if musl.is_file() {
        out.push(("musl".to_string(), musl));
    }
    Ok(out)
}

type Column = (String, Layout, Option<Figures>);
/// One row of the table: a figure of one column.
type Row = Box<dyn Fn(&Layout, &Figures) -> String>;

fn print_table(columns: &[Column]) {
    let mib =
        |kib: Option<u64>| kib.map_or("-".to_string(), |k| format!("{:.1}", k as f64 / 1024.0));
    let resync_s = RESYNC.as_secs_f64();
    let ms = |d: Option<Duration>| {
        d.map_or("-".to_string(), |d| format!("{:.1}", d.as_secs_f64() * 1e3))
    };
    let rows: Vec<(&str, Row)> = vec![
        ("namespaces", Box::new(|l, _| l.namespaces.to_string())),
        (
            "first full pass, ms",
            Box::new(move |_, f| ms(Some(f.first_pass))),
        ),
        (
            "API requests, first pass",
            Box::new(|_, f| f.first_pass_requests.to_string()),
        ),
        (
            "worker time per MemHpa, ms",
            Box::new(move |_, f| ms(f.timing.per_memhpa)),
        ),
        (
            "tick wall time, ms",
            Box::new(move |_, f| ms(f.timing.tick())),
        ),
        (
            "reconciles/s within a tick",
            Box::new(|l, f| {
                f.timing.tick().map_or("-".into(), |t| {
                    format!("{:.0}", l.memhpas as f64 / t.as_secs_f64())
                })
            }),
        ),
        (
            "API requests/tick",
            Box::new(|_, f| format!("{:.1}", f.window.api_per_tick)),
        ),
        (
            "API connections opened/tick",
            Box::new(|_, f| format!("{:.1}", f.window.api_connections_per_tick)),
        ),
        (
            "Prometheus queries/tick",
            Box::new(|_, f| format!("{:.1}", f.window.prom_per_tick)),
        ),
        (
            "Prometheus connections/tick",
            Box::new(|_, f| format!("{:.1}", f.window.prom_connections_per_tick)),
        ),
        (
            "CPU ms/tick (utime+stime)",
            Box::new(|_, f| format!("{:.1}", f.window.cpu_ms_per_tick)),
        ),
        (
            "average CPU at 2s resync, m",
            Box::new(move |_, f| format!("{:.1}", f.window.cpu_ms_per_tick / resync_s)),
        ),
        ("VmHWM, MiB", Box::new(move |_, f| mib(f.hwm_kib))),
        ("VmRSS, MiB", Box::new(move |_, f| mib(f.rss_kib))),
        (
            "threads",
            Box::new(|_, f| f.threads.map_or("-".into(), |t| t.to_string())),
        ),
        (
            "failed/skipped reconciles",
            Box::new(|_, f| f.window.failed_reconciles.to_string()),
        ),
    ];
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let cell = columns
        .iter()
        .map(|(name, _, _)| name.len())
        .max()
        .unwrap_or(0)
        .max(10);
    print!("{:<width$}", "memhpa process");
    for (name, _, _) in columns {
        print!("  {name:>cell$}");
    }
    println!();
    println!(
        "{:-<width$}{}",
        "",
        format!("  {:->cell$}", "").repeat(columns.len())
    );
    for (row, value) in &rows {
        print!("{row:<width$}");
        for (_, layout, figures) in columns {
            let text = figures
                .as_ref()
                .map_or("failed".to_string(), |f| value(layout, f));
            print!("  {text:>cell$}");
        }
        println!();
    }
}

fn print_sizes() {
    println!();
    let release = target_dir().join("release/memhpa");
    let musl = target_dir().join(MUSL_TARGET).join("release/memhpa");
    for (label, path) in [
        ("glibc (cargo build --release)", release),
        ("musl static (make static)", musl),
    ] {
        match std::fs::metadata(&path) {
            Ok(meta) => println!(
                "binary size, {label}: {} bytes ({:.2} MiB)  {}",
                meta.len(),
                meta.len() as f64 / 1048576.0,
                path.display()
            ),
            Err(_) => println!("binary size, {label}: absent ({})", path.display()),
        }
    }
}

fn print_notes(columns: &[Column]) {
    let notes = [
        "- footprint child (RUST_LOG=info, as deployed):",
        "  first full pass: spawn until every MemHpa in the fake has status.observedGeneration (polled every 20 ms);",
        "  API requests, first pass: the fake's request log at that moment.",
        "  CPU window: 2 ticks of warm-up, then 5 ticks with one /metrics scrape at each end; ticks = the delta of",
        "  memhpa_reconciles_total / N; CPU ms/tick = delta utime+stime in /proc/PID/stat (all threads) / ticks;",
        "  average CPU (millicores) = CPU ms per tick / resync seconds, idle time between ticks included.",
        "  API requests/tick: the fake's request log over the window / ticks; Prometheus queries/tick: the stub's",
        "  POST /api/v1/query count / ticks (the design wants one per namespace). Connections: TCP accepts by",
        "  the fake and the stub over the window / ticks (full keep-alive reuse would make them 0).",
        "  VmHWM (peak RSS) and VmRSS: /proc/PID/status right after the window.",
        "- timing child (RUST_LOG also memhpa::controller::workers=debug: one line per MemHpa when its job ends):",
        "  worker time per MemHpa: delta of memhpa_reconcile_duration_seconds sum / count over 3 ticks;",
        "  tick wall time: first to last completion line of a whole tick (arrival times on the pipe; median of",
        "  the ticks seen whole) plus one namespace job (worker time per MemHpa x MemHpas per namespace), which",
        "  ran before the first line; reconciles/s = N / tick wall time.",
    ];
    println!(
        "\nHow: per column, a fresh fake API server + stub Prometheus and two memhpa children in turn\n\
         (-resync {}s -workers {WORKERS} -leader-elect=false); usage sits inside the tolerance, so no writes after the first pass.",
        RESYNC.as_secs()
    );
    for line in notes {
        println!("{line}");
    }
    for (name, _, figures) in columns {
        if let Some(f) = figures {
            let kinds: Vec<String> = f
                .window
                .api_kinds
                .iter()
                .map(|(k, v)| format!("{v:.1} {k}"))
                .collect();
            println!(
                "  {name}: requests/tick = {} (over {:.1} ticks); {} whole ticks timed",
                kinds.join(", "),
                f.window.ticks,
                f.timing.spans.len()
            );
        }
    }
}
