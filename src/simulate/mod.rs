//! `memhpa simulate [SCENARIO.json] [-json] [-all] [-svg FILE] [-compare]`: the algorithm run
//! offline over a scenario of steps, with no cluster and no clock.
//!
//! A scenario holds a MemHpa `spec`, the starting `replicas`, and `steps`; each
//! step gives `t` (seconds) and either explicit `pods` or a `totalBytes` working
//! set spread over the replicas decided so far (see `engine`). Without a file the
//! built-in example (`example.json`, shipped beside this file) runs: a
//! memory-bound cache over one day.
//!
//! Every run ends with its summary (`summary`: replica-hours, scale events,
//! peak and p95 utilization, minutes above the target and above 90% of the
//! limit), in the table and as the last JSON line. The table shows only the
//! steps where something changes unless `-all` is given (`output`).
//!
//! `-compare` runs a scenario twice on the same pods, each holding
//! `spec.podBaseline`: once with the algorithm told of no baseline (the
//! proportional rule, HPA's) and once told of it, and sums both up
//! (`summary`). Without a file it runs its own built-in scenario
//! (`compare.json`), so the plain example's output stays as it was.
//!
//! `-from-prometheus` replays a workload's real history instead (`history`):
//! the history becomes a scenario of `totalBytes` steps, and the same engine
//! runs it under each spec given.

mod engine;
pub mod history;
mod json;
mod output;
mod scenario;
mod summary;
mod svg;

pub use engine::Row;
pub use history::replay::{replay, ReplayConfig, ReplayError, Shorthand, SpecSource};
pub use output::{side_by_side, side_by_side_json, Steps};
pub use summary::{observed, summarize, summarize_rows, Change, Observed, Sample, Summary};

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The built-in example, also a template for writing scenarios.
pub const EXAMPLE: &str = include_str!("example.json");

/// The built-in scenario of `-compare`: a JVM service whose fixed heap is most
/// of its limit, over one day.
pub const COMPARE_EXAMPLE: &str = include_str!("compare.json");

/// Scenario files larger than this are refused rather than read into memory.
const MAX_SCENARIO_BYTES: u64 = 64 << 20;

#[derive(Debug)]
pub enum SimulateError {
    /// The scenario is malformed; the message starts with the field path.
    Scenario(String),
    /// The scenario file could not be read.
    Read { path: PathBuf, error: io::Error },
    /// The timeline could not be written to the output.
    Write(io::Error),
    /// The SVG file could not be written.
    Svg { path: PathBuf, error: io::Error },
}

impl SimulateError {
    /// 2 for a bad scenario, 1 for an I/O failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            SimulateError::Scenario(_) => 2,
            SimulateError::Read { .. } | SimulateError::Write(_) | SimulateError::Svg { .. } => 1,
        }
    }
}

impl fmt::Display for SimulateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimulateError::Scenario(m) => write!(f, "scenario: {m}"),
            SimulateError::Read { path, error } => {
                write!(f, "cannot read scenario {}: {error}", path.display())
            }
            SimulateError::Write(e) => write!(f, "cannot write output: {e}"),
            SimulateError::Svg { path, error } => {
                write!(f, "cannot write SVG {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for SimulateError {}

/// Runs a scenario (or the built-in example) and writes the timeline and its
/// summary to `out`: a table of the steps where something changes (of every
/// step with `all`), or JSON lines of every step with `json`. With `svg`,
/// also draws the chart there.
pub fn run(
    scenario: Option<&Path>,
    json: bool,
    all: bool,
    svg: Option<&Path>,
    out: &mut dyn Write,
) -> Result<(), SimulateError> {
    let scenario = load(scenario, EXAMPLE)?;
    let rows = engine::simulate(&scenario);
    let written = if json {
        output::json_lines(&scenario, &rows, out)
    } else {
        output::table(&scenario, &rows, output::Steps::from_all_flag(all), out)
    };
    finish(&scenario, &rows, written, svg, out)
}

/// `-compare`: runs a scenario (or the built-in comparison) under the
/// proportional rule and under the baseline model, and writes both side by side
/// with their summaries, as a table (of the steps where either run changes, or
/// of every step with `all`) or JSON lines. With `svg`, draws the baseline
/// model's run.
pub fn compare(
    scenario: Option<&Path>,
    json: bool,
    all: bool,
    svg: Option<&Path>,
    out: &mut dyn Write,
) -> Result<(), SimulateError> {
    let scenario = load(scenario, COMPARE_EXAMPLE)?;
    let runs = output::Compared {
        proportional: engine::simulate_proportional(&scenario),
        baseline: engine::simulate(&scenario),
    };
    let written = if json {
        output::compare_json(&scenario, &runs, out)
    } else {
        output::compare_table(&scenario, &runs, output::Steps::from_all_flag(all), out)
    };
    finish(&scenario, &runs.baseline, written, svg, out)
}

/// The scenario at `path`, or the built-in `example`.
fn load(path: Option<&Path>, example: &str) -> Result<scenario::Scenario, SimulateError> {
    let text = match path {
        Some(path) => read(path)?,
        None => example.to_string(),
    };
    scenario::parse(&text).map_err(|e| SimulateError::Scenario(e.0))
}

/// Flushes what was written, then draws the chart if asked.
fn finish(
    scenario: &scenario::Scenario,
    rows: &[Row],
    written: io::Result<()>,
    svg: Option<&Path>,
    out: &mut dyn Write,
) -> Result<(), SimulateError> {
    written
        .and_then(|()| out.flush())
        .map_err(SimulateError::Write)?;
    if let Some(path) = svg {
        std::fs::write(path, svg::chart(scenario, rows)).map_err(|error| SimulateError::Svg {
            path: path.to_path_buf(),
            error,
        })?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, SimulateError> {
    let read_error = |error| SimulateError::Read {
        path: path.to_path_buf(),
        error,
    };
    let too_large = || {
        SimulateError::Scenario(format!(
            "{}: larger than {MAX_SCENARIO_BYTES} bytes (64 MiB)",
            path.display()
        ))
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    // A regular file says its size: refuse before reading any of it. A pipe
    // or device does not, so at most one byte past the limit is ever read.
    if file.metadata().is_ok_and(|m| m.len() > MAX_SCENARIO_BYTES) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(MAX_SCENARIO_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes)
        .map_err(|e| SimulateError::Scenario(format!("{}: not UTF-8 ({e})", path.display())))
}

#[cfg(test)]
mod test;
