//! `make fuzz`: every fuzz target for a bounded time, on stable Rust.
//!
//! ```text
//! cargo run --example fuzz                      # FUZZ_SECONDS=20 per target
//! FUZZ_SEED=42 FUZZ_TARGETS=watch,argv cargo run --example fuzz
//! cargo run --example fuzz -- replay target/fuzz-crashes/watch-crash-*.bin
//! ```
//!
//! Environment: `FUZZ_SECONDS` (per target, default 20), `FUZZ_SEED` (default:
//! from the clock; printed, and the same seed gives the same inputs in the same
//! order), `FUZZ_TARGETS` (comma-separated names, default all), `FUZZ_EXECS`
//! (stop a target after this many inputs), `FUZZ_FIXTURES` (default
//! ../shared/fixtures). Crashing and slow (> 1 s) inputs are written to
//! target/fuzz-crashes/; the exit status is 1 when anything crashed.
//!
//! Built in the dev profile on purpose: panics unwind (release aborts) and
//! integer overflow is checked, so an overflow is a crash here.

#[path = "../../tests/httpsupport/mod.rs"]
mod httpsupport;

mod driver;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "replay") {
        std::process::exit(replay(&args[1..]));
    }
    std::process::exit(fuzz());
}

fn fuzz() -> i32 {
    let seed = env_u64("FUZZ_SEED").unwrap_or_else(clock_seed);
    let seconds = env_u64("FUZZ_SECONDS").unwrap_or(20);
    let budget = driver::Budget {
        time: Duration::from_secs(seconds),
        max_execs: env_u64("FUZZ_EXECS").unwrap_or(u64::MAX),
    };
    let only: Vec<String> = std::env::var("FUZZ_TARGETS")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().to_string())
        .collect();
    let known = driver::targets::names();
    if let Some(bad) = only.iter().find(|n| !known.contains(&n.as_str())) {
        eprintln!(
            "fuzz: no target {bad:?}; the targets are {}",
            known.join(", ")
        );
        return 2;
    }
    if std::fs::read_dir(driver::fixtures::dir()).is_err() {
        eprintln!(
            "fuzz: no fixtures at {}; using the hand-written seeds only",
            driver::fixtures::dir().display()
        );
    }
    println!("fuzz: seed {seed} (FUZZ_SEED={seed} reproduces), {seconds} s per target");
    let stats = driver::run(&only, seed, budget, &driver::crash_dir());
    print!("{}", driver::table(&stats));
    let crashes: u64 = stats.iter().map(|s| s.crashes).sum();
    if crashes > 0 {
        println!(
            "fuzz: {crashes} crashing inputs; see {}",
            driver::crash_dir().display()
        );
        return 1;
    }
    0
}

/// `replay FILE...`: the target is the file name's first word
/// (`watch-crash-....bin`).
fn replay(files: &[String]) -> i32 {
    let mut failed = 0;
    for file in files {
        let name = std::path::Path::new(file)
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split('-').next())
            .unwrap_or("");
        let outcome = std::fs::read(file)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|input| driver::replay(name, &input));
        match outcome {
            Ok(()) => println!("{file}: ok"),
            Err(message) => {
                failed += 1;
                println!("{file}: {message}");
            }
        }
    }
    i32::from(failed > 0)
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    match text.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => {
            eprintln!("fuzz: {name}={text:?} is not a whole number; ignored");
            None
        }
    }
}

fn clock_seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
