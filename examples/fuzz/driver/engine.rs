//! The run loop: pick a seed, mutate it (or let the target build an input),
//! run the target's checks under `catch_unwind`, time each input, and keep
//! every crashing input on disk.

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::mutate::mutate;
use super::rng::{hash, Rng};

/// One thing to fuzz. `check` returns `Err` when a property is broken; a
/// panic inside it is caught and counted the same way.
pub trait Target {
    fn name(&self) -> &'static str;
    /// Valid inputs to mutate from; never empty.
    fn seeds(&self) -> Vec<Vec<u8>>;
    /// A structured input built from scratch, for the share of runs that
    /// does not mutate a seed.
    fn generate(&mut self, _rng: &mut Rng) -> Option<Vec<u8>> {
        None
    }
    /// Runs the code under test on `input`; `rng` is seeded from the input
    /// alone, so a saved input replays exactly.
    fn check(&mut self, input: &[u8], rng: &mut Rng) -> Result<(), String>;
}

/// How long and how much one target runs.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub time: Duration,
    /// Stops earlier after this many inputs (the quick `cargo test` variant).
    pub max_execs: u64,
}

/// An input that took longer than this is reported as slow.
pub const SLOW: Duration = Duration::from_secs(1);
/// An input that raised the process' peak memory by more than this is
/// reported as a hog: the inputs are at most 256 KiB, so this is a decoder
/// building something out of proportion.
pub const HOG_KIB: u64 = 256 * 1024;
/// At most this many crashing inputs are written per target.
const MAX_SAVED: usize = 20;

#[derive(Debug, Default)]
pub struct Stats {
    pub name: &'static str,
    pub seed: u64,
    pub execs: u64,
    pub elapsed: Duration,
    pub crashes: u64,
    pub slow: u64,
    pub hogs: u64,
    /// The process' peak resident memory after this target, in KiB.
    pub peak_kib: u64,
    /// The first distinct failure messages, each with the file its input went to.
    pub failures: Vec<(String, Option<PathBuf>)>,
}

impl Stats {
    pub fn per_second(&self) -> f64 {
        self.execs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The panic hook's last message: a quiet hook keeps crashes in the table
/// instead of thousands of backtraces on stderr.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

pub fn quiet_panics() {
    panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic".into());
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(format!("panic at {at}: {message}"));
        }
    }));
}

/// The seed of `target` under the run's `seed`, so targets can be run alone
/// and still see the inputs of a full run.
pub fn target_seed(seed: u64, name: &str) -> u64 {
    seed ^ hash(name.as_bytes())
}

/// Runs one input and says what went wrong, if anything.
pub fn run_one(target: &mut dyn Target, input: &[u8]) -> Result<(), String> {
    let mut rng = Rng::new(hash(input));
    match panic::catch_unwind(AssertUnwindSafe(|| target.check(input, &mut rng))) {
        Ok(result) => result,
        Err(_) => Err(LAST_PANIC
            .lock()
            .ok()
            .and_then(|mut last| last.take())
            .unwrap_or_else(|| "panic".into())),
    }
}

/// Fuzzes `target` until the budget is spent.
pub fn run(target: &mut dyn Target, seed: u64, budget: Budget, crash_dir: &Path) -> Stats {
    let seeds = target.seeds();
    let mut rng = Rng::new(target_seed(seed, target.name()));
    let mut stats = Stats {
        name: target.name(),
        seed,
        ..Stats::default()
    };
    let start = Instant::now();
    let mut peak = peak_kib();
    // Seeds first, unmutated: a valid input must pass before damage means anything.
    let mut queue = seeds.clone().into_iter();
    while stats.execs < budget.max_execs && start.elapsed() < budget.time {
        let input = match queue.next() {
            Some(seed_input) => seed_input,
            None => next_input(target, &mut rng, &seeds),
        };
        let began = Instant::now();
        let outcome = run_one(target, &input);
        let took = began.elapsed();
        stats.execs += 1;
        // The peak only grows, so the last reading is the one before this input.
        let peak_before = std::mem::replace(&mut peak, peak_kib());
        if peak.saturating_sub(peak_before) > HOG_KIB {
            stats.hogs += 1;
            let path = save(crash_dir, "hog", target.name(), &input);
            eprintln!(
                "fuzz {}: input raised peak memory by over {} MiB, saved to {}",
                target.name(),
                HOG_KIB / 1024,
                show(&path)
            );
        }
        if took > SLOW {
            stats.slow += 1;
            let path = save(crash_dir, "slow", target.name(), &input);
            eprintln!(
                "fuzz {}: slow input ({:.1} s), saved to {}",
                target.name(),
                took.as_secs_f64(),
                show(&path)
            );
        }
        if let Err(message) = outcome {
            record_crash(&mut stats, crash_dir, message, &input);
        }
    }
    stats.elapsed = start.elapsed();
    stats.peak_kib = peak_kib();
    stats
}

/// VmHWM of /proc/self/status: the peak resident set so far (0 elsewhere).
fn peak_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn next_input(target: &mut dyn Target, rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if rng.one_in(3) {
        if let Some(input) = target.generate(rng) {
            return input;
        }
    }
    let seed = rng.pick(seeds);
    let other = rng.pick(seeds);
    mutate(rng, seed, other)
}

fn record_crash(stats: &mut Stats, crash_dir: &Path, message: String, input: &[u8]) {
    stats.crashes += 1;
    let known = stats
        .failures
        .iter()
        .any(|(m, _)| signature(m) == signature(&message));
    if known || stats.failures.len() >= MAX_SAVED {
        return;
    }
    let path = save(crash_dir, "crash", stats.name, input);
    eprintln!(
        "fuzz {}: {message}\n  input ({} bytes) saved to {}",
        stats.name,
        input.len(),
        show(&path)
    );
    stats.failures.push((message, path));
}

fn save(dir: &Path, kind: &str, name: &str, input: &[u8]) -> Option<PathBuf> {
    fs::create_dir_all(dir).ok()?;
    let path = dir.join(format!("{name}-{kind}-{:016x}.bin", hash(input)));
    fs::write(&path, input).ok()?;
    Some(path)
}

fn show(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map_or("(not saved)".into(), |p| p.display().to_string())
}

/// A failure message without what varies with the input (quoted text and
/// numbers), so one defect is saved once, not once per input.
fn signature(message: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in message.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            _ if quoted || c.is_ascii_digit() => {}
            _ => out.push(c),
        }
        if out.len() >= 60 {
            break;
        }
    }
    out
}
