//! A seeded, time-bounded mutational fuzzer on stable Rust, shared by
//! `make fuzz` (examples/fuzz/main.rs) and the quick run in
//! tests/fuzz_regressions.rs. Each target mutates a seed corpus of valid
//! inputs (the fixtures, the built-in scenario, hand-written samples) or builds
//! structured inputs, and checks a property beyond "does not panic".
//!
//! The includer declares `mod httpsupport;` (tests/httpsupport) beside it.

// Each includer uses a different part of this module.
#![allow(dead_code)]

pub mod engine;
pub mod fixtures;
mod loopback;
pub mod mutate;
pub mod rng;
pub mod targets;

/// The fake API server's selector parser, fuzzed beside memhpa's own path.
#[path = "../../../tests/kubesupport/selector.rs"]
mod fake_selector;

use std::panic;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use engine::{Budget, Stats, Target};

/// Where crashing and slow inputs are written.
pub fn crash_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes")
}

/// The target called `name`.
pub fn target(name: &str) -> Option<Box<dyn Target>> {
    targets::all().into_iter().find(|t| t.name() == name)
}

/// Fuzzes the targets named in `only` (all when empty).
pub fn run(only: &[String], seed: u64, budget: Budget, crash_dir: &Path) -> Vec<Stats> {
    quietly(|| {
        targets::all()
            .into_iter()
            .filter(|t| only.is_empty() || only.iter().any(|n| n == t.name()))
            .map(|mut t| engine::run(t.as_mut(), seed, budget, crash_dir))
            .collect()
    })
}

/// Runs one saved input through `name`'s checks.
pub fn replay(name: &str, input: &[u8]) -> Result<(), String> {
    let mut target = target(name).ok_or_else(|| format!("no target {name:?}"))?;
    quietly(|| engine::run_one(target.as_mut(), input))
}

/// Runs `f` under the quiet panic hook, one caller at a time (the hook and
/// the loopback server's answer are process-wide), then puts the hook back so
/// a failing test beside it still prints its panic.
fn quietly<T>(f: impl FnOnce() -> T) -> T {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let previous = panic::take_hook();
    engine::quiet_panics();
    let out = f();
    panic::set_hook(previous);
    out
}

/// The table `make fuzz` prints.
pub fn table(stats: &[Stats]) -> String {
    let mut out = format!(
        "{:<10} {:>10} {:>10} {:>8} {:>5} {:>5} {:>9}  {}\n",
        "target", "execs", "execs/s", "crashes", "slow", "hogs", "peak MiB", "seed"
    );
    for s in stats {
        out.push_str(&format!(
            "{:<10} {:>10} {:>10.0} {:>8} {:>5} {:>5} {:>9}  {}\n",
            s.name,
            s.execs,
            s.per_second(),
            s.crashes,
            s.slow,
            s.hogs,
            s.peak_kib / 1024,
            s.seed
        ));
    }
    out
}
