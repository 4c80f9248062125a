//! Figures for issue 12's targets, not assertions: `make bench` (which
//! builds the binaries first), or
//!
//! ```text
//! cargo build --release            # the binary under measurement
//! cargo run --release --example bench_controller
//! ```
//!
//! `MEMHPA_BIN=path` measures that binary. Without it the bench measures
//! target/x86_64-unknown-linux-musl/release/memhpa (`make static`: the binary
//! the scratch image ships) when present, else target/release/memhpa.
//!
//! Every run starts memhpa as a child process against the in-process fake
//! kube-apiserver (tests/kubesupport) and a stub Prometheus, with
//! `-leader-elect=false -workers 4`, and reads it through /metrics, the
//! fake's request log and /proc. Each MemHpa has its own Deployment of 10
//! pods, over 20 namespaces. Usage sits inside the tolerance (and wobbles by
//! a few hundred KiB between queries, as a real working set does), so after
//! the first pass a tick decides nothing new: the steady state of a quiet
//! cluster. The runs:
//! - growth: N = 100, 1,000 and 5,000 MemHpas at `-resync 2s` (6s at 5,000,
//!   whose ticks would otherwise run into each other);
//! - latency: 1,000 MemHpas with 5 ms injected before every API answer, at
//!   `-resync 5s`, timing one tick;
//! - big cluster: 1,000 MemHpas and 100,000 pods in all (90,000 of them
//!   targeted by none), for the pod cache's memory;
//! - reaction: 300 creates and changes of MemHpas, each timed to the Scale
//!   write the fake sees.
//!
//! `BENCH_RUNS=growth,latency,big,reaction` picks runs, `BENCH_GROWTH=1000`
//! the growth sizes, `BENCH_PODS_PER_TARGET=1` the pods of each target,
//! `BENCH_WORKERS=1` memhpa's `-workers` (for
//! a quick look; `make bench` runs everything as documented here).
//!
//! It prints a table of each target beside its figure, the growth table,
//! how each figure is taken, and then one JSON line holding every figure.
//! Everything binds 127.0.0.1; every child is killed at the end of its run,
//! on errors too.

#[path = "../../tests/httpsupport/mod.rs"]
mod httpsupport;
#[path = "../../tests/kubesupport/mod.rs"]
mod kubesupport;

mod bursts;
mod child;
mod cluster;
mod measure;
mod prom_stub;
mod reaction;
mod report;

use std::path::PathBuf;
use std::time::Duration;

use cluster::Layout;
use measure::Setup;

const GROWTH: [usize; 3] = [100, 1000, 5000];
const NAMESPACES: usize = 20;
const PODS_PER_TARGET: usize = 10;
const RESYNC: Duration = Duration::from_secs(2);
/// From this many MemHpas on, a tick takes more than half of [`RESYNC`]:
/// ticks would run into each other and none could be timed whole.
const LONG_TICKS_FROM: usize = 2000;
const LONG_RESYNC: Duration = Duration::from_secs(6);
const LATENCY: Duration = Duration::from_millis(5);
/// Longer than the tick at that latency, so ticks stay apart.
const LATENCY_RESYNC: Duration = Duration::from_secs(5);
const BIG_CLUSTER_PODS: usize = 100_000;
const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

fn main() {
    let token = measure::token_path();
    if let Err(e) = child::kill_children_on_signal(move || {
        let _ = std::fs::remove_file(token);
    }) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let (label, binary) = match binary() {
        Ok(found) => found,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let pods_per_target = std::env::var("BENCH_PODS_PER_TARGET")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(PODS_PER_TARGET);
    let layout = |n| Layout::new(n, NAMESPACES, pods_per_target);
    // BENCH_RUNS=growth,big (say) runs only those; BENCH_GROWTH=1000 only that N.
    let runs = std::env::var("BENCH_RUNS").unwrap_or_default();
    let wanted = |run: &str| runs.is_empty() || runs.split(',').any(|r| r == run);
    let sizes: Vec<usize> = match std::env::var("BENCH_GROWTH") {
        Ok(list) => list
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect(),
        Err(_) => GROWTH.to_vec(),
    };
    let mut failures = Vec::new();
    let mut note = |what: &str, e: String| failures.push(format!("{what}: {e}"));

    let mut growth = Vec::new();
    for &n in sizes.iter().filter(|_| wanted("growth")) {
        eprintln!("growth: {n} MemHpas ({} pods) ...", layout(n).pods());
        let setup = Setup {
            layout: layout(n),
            resync: if n >= LONG_TICKS_FROM {
                LONG_RESYNC
            } else {
                RESYNC
            },
            latency: Duration::ZERO,
            footprint: true,
            timing: true,
        };
        match measure::run(&binary, setup) {
            Ok(f) => growth.push((n, Some(f))),
            Err(e) => {
                note(&format!("growth N={n}"), e);
                growth.push((n, None));
            }
        }
    }
    eprintln!("latency: 1000 MemHpas at {LATENCY:?} per request ...");
    let latency = wanted("latency")
        .then(|| {
            measure::run(
                &binary,
                Setup {
                    layout: layout(1000),
                    resync: LATENCY_RESYNC,
                    latency: LATENCY,
                    footprint: false,
                    timing: true,
                },
            )
        })
        .and_then(|r| r.map_err(|e| note("latency", e)).ok());
    let big_layout = layout(1000).with_other_pods(BIG_CLUSTER_PODS - layout(1000).pods());
    eprintln!("big cluster: 1000 MemHpas, {} pods ...", big_layout.pods());
    let big = wanted("big")
        .then(|| {
            measure::run(
                &binary,
                Setup {
                    layout: big_layout,
                    resync: RESYNC,
                    latency: Duration::ZERO,
                    footprint: true,
                    timing: false,
                },
            )
        })
        .and_then(|r| r.map_err(|e| note("big cluster", e)).ok());
    eprintln!("reaction: MemHpa create/modify -> Scale write ...");
    let reaction = wanted("reaction")
        .then(|| reaction::run(&binary, Layout::new(100, 10, 2)))
        .and_then(|r| r.map_err(|e| note("reaction", e)).ok());

    let all = report::All {
        binary: format!("{label} {}", binary.display()),
        growth,
        latency,
        big,
        big_pods: big_layout.pods(),
        reaction,
        resync: RESYNC,
        latency_injected: LATENCY,
    };
    report::print(&all);
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

/// (label, path) of the binary to measure.
fn binary() -> Result<(String, PathBuf), String> {
    if let Some(path) = std::env::var_os("MEMHPA_BIN") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(format!("MEMHPA_BIN={}: no such file", path.display()));
        }
        return Ok(("MEMHPA_BIN".to_string(), path));
    }
    let musl = target_dir().join(MUSL_TARGET).join("release/memhpa");
    if musl.is_file() {
        return Ok(("musl static".to_string(), musl));
    }
    let release = target_dir().join("release/memhpa");
    if !release.is_file() {
        return Err(format!(
            "{} is absent: build it first with `cargo build --release` or `make static` \
             (or point MEMHPA_BIN at a memhpa binary)",
            release.display()
        ));
    }
    Ok(("glibc".to_string(), release))
}
