//! `memhpa simulate -from-prometheus URL -workload NS/KIND/NAME ...`: fetch
//! the history once, then run the simulator's engine under each spec.

use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::baseline::{self, Suggestion};
use super::fetch::{self, HistoryError};
use super::{History, LimitSource, Workload};
use crate::algorithm::Policy;
use crate::prom::{Client, PromOptions, Range};
use crate::simulate::scenario::{self, Scenario, MAX_STEPS};
use crate::simulate::summary::{observed, summarize, summarize_rows, Summary};
use crate::simulate::{engine, output, svg, Row, SimulateError};

/// What the command line asks of a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayConfig {
    /// The controller's `-prom-*` options, with `-from-prometheus` as the URL.
    pub prom: PromOptions,
    pub workload: Workload,
    /// `-since`: how far back from `until`, whole seconds.
    pub since: Duration,
    /// `-until` in Unix seconds; `None` is now.
    pub until: Option<i64>,
    /// `-step`, whole seconds.
    pub step: Duration,
    /// Each `-spec`, or the shorthands: one run each.
    pub specs: Vec<SpecSource>,
    /// `-limit-bytes`: replaces kube-state-metrics' limit.
    pub limit_bytes: Option<u64>,
    pub json: bool,
    /// `-all`: every step in the tables, not only the changes.
    pub all: bool,
    /// `-svg FILE`: the chart of the first spec's run.
    pub svg: Option<PathBuf>,
    /// `-write-scenario`: the history as a scenario file (under the one spec).
    pub write_scenario: Option<PathBuf>,
}

/// Where a run's spec comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecSource {
    /// A MemHpa spec as JSON, a whole MemHpa object, or a scenario file.
    File(PathBuf),
    /// `-target`, `-min`, `-max` and `-baseline`.
    Shorthand(Shorthand),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shorthand {
    pub target: i64,
    pub min: i64,
    pub max: i64,
    /// A quantity (`120Mi`), as `spec.podBaseline` takes it.
    pub baseline: Option<String>,
}

/// Why a replay did not run.
#[derive(Debug)]
pub enum ReplayError {
    /// A `-spec` file could not be read.
    ReadSpec(SimulateError),
    /// A spec that is not a valid MemHpa spec; `source` names the file.
    InvalidSpec { source: String, message: String },
    /// The range is more than a scenario may hold.
    Range(String),
    /// The history could not be read.
    History(HistoryError),
    /// The output could not be written.
    Write(io::Error),
    /// `-write-scenario`'s (or `-svg`'s) file could not be written.
    WriteScenario { path: PathBuf, error: io::Error },
}

impl ReplayError {
    /// 2 for what the user can fix in the command or a spec, 1 for a
    /// failure at run time (Prometheus unreachable, a file not writable).
    pub fn exit_code(&self) -> i32 {
        match self {
            ReplayError::ReadSpec(err) => err.exit_code(),
            ReplayError::InvalidSpec { .. } | ReplayError::Range(_) => 2,
            ReplayError::History(_) | ReplayError::Write(_) | ReplayError::WriteScenario { .. } => {
                1
            }
        }
    }
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::ReadSpec(SimulateError::Read { path, error }) => {
                write!(f, "cannot read spec {}: {error}", path.display())
            }
            ReplayError::ReadSpec(err) => write!(f, "spec {err}"),
            ReplayError::InvalidSpec { source, message } => write!(f, "spec {source}: {message}"),
            ReplayError::Range(message) => write!(f, "{message}"),
            ReplayError::History(err) => write!(f, "{err}"),
            ReplayError::Write(err) => write!(f, "cannot write output: {err}"),
            ReplayError::WriteScenario { path, error } => {
                write!(f, "cannot write {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for ReplayError {}

/// A checked spec of one run.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The file, or the shorthand flags, for the output's header.
    pub source: String,
    /// As it goes into a scenario file.
    pub value: Value,
    pub policy: Policy,
}

/// Runs the replay: the history header to `notes` (stderr beside `-json`;
/// `None` puts it in `out`, above the tables), then each spec's timeline to
/// `out`. `now` is the caller's clock, for an `-until` not given.
pub fn replay(
    config: &ReplayConfig,
    now: i64,
    out: &mut dyn Write,
    notes: Option<&mut dyn Write>,
) -> Result<(), ReplayError> {
    let range = range(config, now)?;
    let specs = config
        .specs
        .iter()
        .map(|source| load_spec(source, &config.workload))
        .collect::<Result<Vec<_>, _>>()?;
    let client =
        Client::new(config.prom.clone()).map_err(|err| ReplayError::History(err.into()))?;
    let container = one_container(&specs)?;
    let history = fetch::fetch(
        &client,
        &config.workload,
        range,
        config.limit_bytes,
        container,
    )
    .map_err(ReplayError::History)?;
    let suggestion = baseline::suggest(&history.points, baseline::DEFAULT_WINDOWS);
    if let (Some(path), Some(first)) = (&config.write_scenario, specs.first()) {
        write_scenario(path, &history, first)?;
    }
    match notes {
        Some(notes) => history_header(&history, &suggestion, notes),
        None => history_header(&history, &suggestion, out),
    }
    .map_err(ReplayError::Write)?;
    let steps = output::Steps::from_all_flag(config.all);
    let mut summaries = Vec::with_capacity(specs.len() + 1);
    for (i, spec) in specs.iter().enumerate() {
        let scenario = history.scenario(&spec.policy);
        let rows = engine::simulate(&scenario);
        write_run(spec, &scenario, &rows, config.json, steps, out).map_err(ReplayError::Write)?;
        summaries.push(summarize_rows(&rows, spec.policy.target_utilization));
        if let (0, Some(path)) = (i, &config.svg) {
            std::fs::write(path, svg::chart(&scenario, &rows)).map_err(|error| {
                ReplayError::WriteScenario {
                    path: path.clone(),
                    error,
                }
            })?;
        }
    }
    // What ran is measured against the first spec's target: the figure
    // "minutes above target" needs one, and the footer says whose.
    let target = specs
        .first()
        .map_or(0, |spec| spec.policy.target_utilization);
    let actual = summarize(&observed(&history.observed()), target);
    let mut runs = vec![(ACTUAL, &actual)];
    runs.extend(specs.iter().map(|s| s.source.as_str()).zip(&summaries));
    write_summaries(&runs, &specs, config.json, out).map_err(ReplayError::Write)?;
    out.flush().map_err(ReplayError::Write)
}

/// The `container` option the specs share. One history serves every spec,
/// and a spec that counts one container and one that counts them all would
/// need two, so such specs are replayed one at a time.
fn one_container(specs: &[Spec]) -> Result<Option<&str>, ReplayError> {
    let first = specs.first().and_then(|s| s.policy.container.as_deref());
    match specs
        .iter()
        .find(|s| s.policy.container.as_deref() != first)
    {
        None => Ok(first),
        Some(other) => Err(ReplayError::InvalidSpec {
            source: other.source.clone(),
            message: format!(
                "counts container {}, where {} counts {}: one replay reads one history, so replay them one at a time",
                describe_container(other.policy.container.as_deref()),
                specs[0].source,
                describe_container(first)
            ),
        }),
    }
}

fn describe_container(container: Option<&str>) -> String {
    container.map_or("every app container".into(), |c| format!("{c:?}"))
}

/// The name of the summary column of what really ran.
const ACTUAL: &str = "actual";

/// One run's output: which spec, then simulate's own table or JSON lines,
/// without the run's own summary (they come side by side at the end). In
/// JSON the run opens with a line `{"run": SPEC}`, so several runs' steps
/// stay apart; a step line always has `t`.
pub fn write_run(
    spec: &Spec,
    scenario: &Scenario,
    rows: &[Row],
    json: bool,
    steps: output::Steps,
    out: &mut dyn Write,
) -> io::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::json!({ "run": spec.source }))?;
        return output::json_steps(rows, out);
    }
    writeln!(
        out,
        "# spec {}: load = observed total - podBaseline {} bytes x observed pods",
        spec.source, scenario.pod_baseline_bytes
    )?;
    output::steps_table(scenario, rows, steps, out)?;
    writeln!(out)
}

/// What ran beside each spec: a table, or one JSON line
/// `{"summary": {"actual": ..., SPEC: ...}}`.
fn write_summaries(
    runs: &[(&str, &Summary)],
    specs: &[Spec],
    json: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    if json {
        return output::side_by_side_json(runs, out);
    }
    output::side_by_side(runs, out)?;
    if let Some(first) = specs.first() {
        writeln!(
            out,
            "# actual: the pods that ran, each at the mean working set, of the limit; above target means above {}'s {}%",
            first.source, first.policy.target_utilization
        )?;
    }
    Ok(())
}

/// What the history is and where it came from.
fn history_header(
    history: &History,
    suggestion: &Suggestion,
    out: &mut dyn Write,
) -> io::Result<()> {
    let range = &history.range;
    writeln!(
        out,
        "# history of {} from {} to {} every {}s: {} steps with data, {} without (skipped)",
        history.workload,
        crate::rfc3339::format_seconds(range.start()),
        crate::rfc3339::format_seconds(range.end()),
        range.step(),
        history.points.len(),
        history.skipped
    )?;
    writeln!(out, "# {}", history.membership.describe(&history.workload))?;
    let source = match history.limit_source {
        LimitSource::Flag => "-limit-bytes",
        LimitSource::KubeStateMetrics => {
            "kube_pod_container_resource_limits, the most common over the pods"
        }
    };
    writeln!(
        out,
        "# limit {} bytes per pod, from {source}",
        history.limit_bytes
    )?;
    let pods = history.points.iter().map(|p| p.pods);
    let peak_pod = history
        .points
        .iter()
        .map(|p| p.max_pod_bytes)
        .fold(0.0, f64::max);
    writeln!(
        out,
        "# observed pods {}..{}, largest pod {:.0} bytes ({:.0}% of the limit)",
        pods.clone().min().unwrap_or(0),
        pods.max().unwrap_or(0),
        peak_pod,
        100.0 * peak_pod / history.limit_bytes as f64
    )?;
    writeln!(out, "# {}", suggestion.describe())
}

/// The range ends at `-until` (or now) rounded down to a whole step, so two
/// replays of the same history ask Prometheus the same times.
pub fn range(config: &ReplayConfig, now: i64) -> Result<Range, ReplayError> {
    let step = i64::try_from(config.step.as_secs())
        .unwrap_or(i64::MAX)
        .max(1);
    let since = i64::try_from(config.since.as_secs()).unwrap_or(i64::MAX);
    let until = config.until.unwrap_or(now);
    let end = until - until.rem_euclid(step);
    let steps = since / step;
    if let Some(problem) = too_many_steps(config.since, config.step) {
        return Err(ReplayError::Range(format!("-since: {problem}")));
    }
    Range::new(end - steps * step, end, step).map_err(|err| ReplayError::Range(err.to_string()))
}

/// Why `since` at `step` is more steps than a scenario holds, if it is: the
/// replay must stay a scenario that a file could hold.
pub fn too_many_steps(since: Duration, step: Duration) -> Option<String> {
    let steps = since.as_secs() / step.as_secs().max(1) + 1;
    (steps > MAX_STEPS as u64).then(|| {
        format!(
            "{}s at -step {}s is {steps} steps, more than a scenario holds ({MAX_STEPS}); shorten -since or raise -step",
            since.as_secs(),
            step.as_secs()
        )
    })
}

fn write_scenario(path: &PathBuf, history: &History, spec: &Spec) -> Result<(), ReplayError> {
    let text = history.scenario_file(&spec.value, &spec.policy).to_string();
    std::fs::write(path, text + "\n").map_err(|error| ReplayError::WriteScenario {
        path: path.clone(),
        error,
    })
}

/// The spec of one run, checked as a scenario's `spec` is; without a
/// `scaleTargetRef`, the workload's.
pub fn load_spec(source: &SpecSource, workload: &Workload) -> Result<Spec, ReplayError> {
    let (label, mut value) = match source {
        SpecSource::File(path) => {
            let text = crate::simulate::read(path).map_err(ReplayError::ReadSpec)?;
            let label = path.display().to_string();
            let value: Value =
                serde_json::from_str(&text).map_err(|err| ReplayError::InvalidSpec {
                    source: label.clone(),
                    message: format!("not JSON: {err}"),
                })?;
            (label, spec_of(value))
        }
        SpecSource::Shorthand(short) => (
            format!(
                "-target {} -min {} -max {}{}",
                short.target,
                short.min,
                short.max,
                short
                    .baseline
                    .as_ref()
                    .map_or(String::new(), |b| format!(" -baseline {b}"))
            ),
            shorthand_spec(short),
        ),
    };
    if let Value::Object(map) = &mut value {
        map.entry("scaleTargetRef")
            .or_insert_with(|| target_ref(workload));
    }
    let policy = scenario::policy(&value).map_err(|err| ReplayError::InvalidSpec {
        source: label.clone(),
        message: err.0,
    })?;
    Ok(Spec {
        source: label,
        value,
        policy,
    })
}

/// A whole MemHpa object, or a scenario file, gives its `spec`: a spec has
/// no `spec` key of its own, so anything else is taken as the spec itself.
fn spec_of(value: Value) -> Value {
    match value {
        Value::Object(mut map) if map.contains_key("spec") => {
            map.remove("spec").unwrap_or(Value::Null)
        }
        other => other,
    }
}

fn shorthand_spec(short: &Shorthand) -> Value {
    let mut spec = serde_json::json!({
        "minReplicas": short.min,
        "maxReplicas": short.max,
        "targetUtilizationPercentage": short.target,
    });
    if let Some(baseline) = &short.baseline {
        spec["podBaseline"] = Value::String(baseline.clone());
    }
    spec
}

fn target_ref(workload: &Workload) -> Value {
    serde_json::json!({
        "apiVersion": workload.kind.api_version(),
        "kind": workload.kind.as_str(),
        "name": workload.name,
    })
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::simulate::history::WorkloadKind;

    fn workload() -> Workload {
        Workload {
            namespace: "demo".into(),
            kind: WorkloadKind::StatefulSet,
            name: "db".into(),
        }
    }

    fn config(since: u64, step: u64, until: Option<i64>) -> ReplayConfig {
        ReplayConfig {
            prom: PromOptions::default(),
            workload: workload(),
            since: Duration::from_secs(since),
            until,
            step: Duration::from_secs(step),
            specs: vec![],
            limit_bytes: None,
            json: false,
            all: false,
            svg: None,
            write_scenario: None,
        }
    }

    #[test]
    fn the_range_ends_on_a_whole_step_before_until() {
        let r = range(&config(3600, 30, Some(1_800_000_015)), 0).expect("range");
        assert_eq!(
            (r.start(), r.end(), r.step()),
            (1_799_996_400, 1_800_000_000, 30)
        );
        assert_eq!(r.steps(), 121);
    }

    #[test]
    fn without_until_the_range_ends_now() {
        let r = range(&config(60, 30, None), 1_790_000_031).expect("range");
        assert_eq!(r.end(), 1_790_000_010);
    }

    #[test]
    fn a_range_longer_than_a_scenario_names_since_and_step() {
        let err = range(&config(100_000 * 30, 30, Some(4_000_000_000)), 0).expect_err("too long");
        let text = err.to_string();
        assert!(text.contains("-since") && text.contains("-step"), "{text}");
        assert_eq!(err.exit_code(), 2);
        assert!(range(&config(99_999 * 30 - 1, 30, Some(4_000_000_000)), 0).is_ok());
    }

    #[test]
    fn shorthands_build_a_spec_for_the_workload() {
        let short = SpecSource::Shorthand(Shorthand {
            target: 70,
            min: 2,
            max: 12,
            baseline: Some("120Mi".into()),
        });
        let spec = load_spec(&short, &workload()).expect("valid");
        assert_eq!(spec.policy.target_utilization, 70);
        assert_eq!(
            (spec.policy.min_replicas, spec.policy.max_replicas),
            (2, 12)
        );
        assert_eq!(spec.policy.pod_baseline_bytes, 120 << 20);
        assert_eq!(
            spec.value["scaleTargetRef"],
            serde_json::json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db"})
        );
        assert_eq!(spec.source, "-target 70 -min 2 -max 12 -baseline 120Mi");
    }

    #[test]
    fn a_bad_shorthand_is_an_invalid_spec_naming_the_field() {
        let short = SpecSource::Shorthand(Shorthand {
            target: 70,
            min: 5,
            max: 2,
            baseline: None,
        });
        let err = load_spec(&short, &workload()).expect_err("min above max");
        assert!(matches!(err, ReplayError::InvalidSpec { .. }), "{err:?}");
        assert!(err.to_string().contains("maxReplicas"), "{err}");
        assert_eq!(err.exit_code(), 2);
    }

    fn spec_file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("memhpa-replay-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write spec");
        path
    }

    #[test]
    fn a_spec_file_may_be_a_spec_or_a_whole_memhpa() {
        let bare = spec_file(
            "bare.json",
            r#"{"minReplicas": 1, "maxReplicas": 4, "targetUtilizationPercentage": 60}"#,
        );
        let whole = spec_file(
            "whole.json",
            r#"{"apiVersion": "autoscaling.example.com/v1", "kind": "MemHpa", "metadata": {"name": "x"},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "other"},
                         "minReplicas": 3, "maxReplicas": 9, "targetUtilizationPercentage": 80},
                "status": {"currentReplicas": 3}}"#,
        );
        let bare = load_spec(&SpecSource::File(bare), &workload()).expect("bare spec");
        assert_eq!(bare.policy.target_utilization, 60);
        assert_eq!(bare.value["scaleTargetRef"]["name"], "db");
        let whole = load_spec(&SpecSource::File(whole), &workload()).expect("whole object");
        assert_eq!(whole.policy.max_replicas, 9);
        assert_eq!(whole.value["scaleTargetRef"]["name"], "other");
        let scenario = spec_file("scenario.json", crate::simulate::EXAMPLE);
        let scenario = load_spec(&SpecSource::File(scenario), &workload()).expect("a scenario");
        assert_eq!(scenario.policy.max_replicas, 12);
    }

    #[test]
    fn a_spec_file_with_an_unknown_key_is_refused_with_its_path() {
        let path = spec_file("typo.json", r#"{"minReplica": 1, "maxReplicas": 4}"#);
        let err = load_spec(&SpecSource::File(path.clone()), &workload()).expect_err("typo");
        let text = err.to_string();
        assert!(
            text.contains(&path.display().to_string()) && text.contains("minReplica"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_spec_file_is_a_runtime_error() {
        let path = std::env::temp_dir().join("memhpa-replay-no-such-spec.json");
        let err = load_spec(&SpecSource::File(path), &workload()).expect_err("absent");
        assert_eq!(err.exit_code(), 1);
    }
}
