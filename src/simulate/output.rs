//! The two text forms of a simulation: a readable table and JSON lines, each
//! ending with the run's summary.
//!
//! The table shows by default only the steps where something happens: the
//! first and the last step, and every step whose current replicas, desired
//! replicas, reason or failure message differ from the step just before it.
//! A step left out is then equal in all four to the last one shown (each one
//! left out equals its predecessor), so "differs from the previous step" and
//! "differs from the previous row printed" pick the same rows. Utilization
//! alone moving is not a change: the summary gives its peak and p95. `-all`
//! shows every step; JSON lines always hold every step.

use super::engine::Row;
use super::scenario::Scenario;
use super::summary::{summarize_rows, Summary, SummaryJson};
use std::io::{self, Write};

/// Which steps the table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steps {
    /// The first, the last, and those where something changes.
    Changes,
    /// Every step (`-all`).
    All,
}

impl Steps {
    pub fn from_all_flag(all: bool) -> Steps {
        if all {
            Steps::All
        } else {
            Steps::Changes
        }
    }

    /// Whether row `i` of `n` is shown, given whether it `changed` from row `i - 1`.
    fn shows(self, i: usize, n: usize, changed: bool) -> bool {
        self == Steps::All || i == 0 || i + 1 == n || changed
    }
}

/// Whether a step did something the one before it did not.
fn changed(before: &Row, now: &Row) -> bool {
    (
        before.current_replicas,
        before.desired_replicas,
        before.reason,
        &before.detail,
    ) != (
        now.current_replicas,
        now.desired_replicas,
        now.reason,
        &now.detail,
    )
}

/// Whether row `i` of `rows` changed from the row before (the first has none before it).
fn changed_at(rows: &[Row], i: usize) -> bool {
    i > 0 && rows.get(i).is_some_and(|now| changed(&rows[i - 1], now))
}

/// One JSON object per line, [`Row`]'s fields as camelCase keys (`t`,
/// `currentReplicas`, `utilizationPercentage`, `recommendedReplicas`,
/// `desiredReplicas`, `reason`, `limitPercentage`), then one last line
/// `{"summary": SUMMARY}` (see [`SummaryJson`]). A reader of rows tells the
/// summary apart by its one key, `summary`: no row has it, and every row has `t`.
pub fn json_lines(s: &Scenario, rows: &[Row], out: &mut dyn Write) -> io::Result<()> {
    json_steps(rows, out)?;
    let summary = summarize_rows(rows, s.policy.target_utilization);
    writeln!(
        out,
        "{{\"summary\":{}}}",
        to_json(&SummaryJson::from(&summary))?
    )
}

/// The steps of [`json_lines`] alone, for a caller that sums several runs up
/// side by side (the replay).
pub fn json_steps(rows: &[Row], out: &mut dyn Write) -> io::Result<()> {
    for row in rows {
        writeln!(out, "{}", to_json(row)?)?;
    }
    Ok(())
}

/// The name of a plain run's one column in the summary.
const SIMULATED: &str = "simulated";

/// A header saying what was simulated, the steps (see [`Steps`]), how many
/// were left out, then the summary.
pub fn table(s: &Scenario, rows: &[Row], steps: Steps, out: &mut dyn Write) -> io::Result<()> {
    steps_table(s, rows, steps, out)?;
    let summary = summarize_rows(rows, s.policy.target_utilization);
    writeln!(out)?;
    side_by_side(&[(SIMULATED, &summary)], out)
}

/// [`table`] without its summary, for a caller that sums several runs up side
/// by side (the replay).
pub fn steps_table(
    s: &Scenario,
    rows: &[Row],
    steps: Steps,
    out: &mut dyn Write,
) -> io::Result<()> {
    header(s, rows, out)?;
    // Unix times print as a date and time, wider than a scenario's hh:mm.
    let w = rows
        .iter()
        .map(|r| clock(r.t).len())
        .max()
        .unwrap_or(0)
        .max(8);
    writeln!(
        out,
        "{:>10} {:>w$} {:>8} {:>6} {:>11} {:>7}  reason",
        "t", "time", "replicas", "util%", "recommended", "desired"
    )?;
    let mut hidden = 0usize;
    for (i, r) in rows.iter().enumerate() {
        if !steps.shows(i, rows.len(), changed_at(rows, i)) {
            hidden += 1;
            continue;
        }
        writeln!(
            out,
            "{:>10} {:>w$} {:>8} {:>6} {:>11} {:>7}  {}",
            r.t,
            clock(r.t),
            r.current_replicas,
            percent(r),
            r.recommended_replicas.map_or("-".into(), |n| n.to_string()),
            r.desired_replicas,
            r.reason
        )?;
        if let Some(detail) = &r.detail {
            writeln!(out, "{:>10}   {detail}", "")?;
        }
    }
    left_out(hidden, out)
}

fn left_out(hidden: usize, out: &mut dyn Write) -> io::Result<()> {
    match hidden {
        0 => Ok(()),
        1 => writeln!(out, "... 1 unchanged step not shown; -all shows every step"),
        n => writeln!(
            out,
            "... {n} unchanged steps not shown; -all shows every step"
        ),
    }
}

/// Width of the figure names in [`side_by_side`]; the longest is
/// `minutes above 90% of limit`.
const NAME_WIDTH: usize = 27;
/// The narrowest column of figures.
const FIGURE_WIDTH: usize = 12;

/// A line of the summary: its name, and how a run's figure is written.
type Figure = (&'static str, fn(&Summary) -> String);

/// The summary's lines, in the order printed.
const FIGURES: &[Figure] = &[
    ("replica-hours", |s| format!("{:.2}", s.replica_hours())),
    ("scale-ups", |s| s.scale_ups.to_string()),
    ("scale-downs", |s| s.scale_downs.to_string()),
    ("peak utilization", |s| whole_percent(s.peak_utilization)),
    ("p95 utilization", |s| whole_percent(s.p95_utilization)),
    ("minutes above target", |s| {
        format!("{:.1}", s.minutes_above_target())
    }),
    ("minutes above 90% of limit", |s| {
        s.minutes_above_oom_risk()
            .map_or("-".into(), |m| format!("{m:.1}"))
    }),
    ("peak % of limit", |s| {
        s.peak_limit_permille
            .map_or("-".into(), |p| format!("{:.1}%", p as f64 / 10.0))
    }),
];

/// The summaries of N named runs side by side (`actual`, then each spec, or
/// the two of `-compare`): a line of names, then one line per figure, each
/// run in its own right-aligned column as wide as its name (at least 12).
/// A figure that is unknown (no utilization measured, no limit set) is `-`.
pub fn side_by_side(runs: &[(&str, &Summary)], out: &mut dyn Write) -> io::Result<()> {
    let widths: Vec<usize> = runs
        .iter()
        .map(|(name, _)| name.chars().count().max(FIGURE_WIDTH))
        .collect();
    let line = |out: &mut dyn Write, name: &str, cells: Vec<String>| -> io::Result<()> {
        write!(out, "{name:<NAME_WIDTH$}")?;
        for (cell, w) in cells.iter().zip(&widths) {
            write!(out, " {cell:>w$}")?;
        }
        writeln!(out)
    };
    line(
        out,
        "summary",
        runs.iter().map(|(name, _)| name.to_string()).collect(),
    )?;
    for (name, figure) in FIGURES {
        line(out, name, runs.iter().map(|(_, s)| figure(s)).collect())?;
    }
    writeln!(
        out,
        "# each step counts for the time until the next; p95: the utilization not exceeded 95% of that time;"
    )?;
    writeln!(
        out,
        "# % of limit: the fullest container's working set over its limit, whatever the basis; -: not known"
    )
}

/// The JSON form of [`side_by_side`], one line:
/// `{"summary": {NAME: SUMMARY, ...}}`, the runs in the order given.
pub fn side_by_side_json(runs: &[(&str, &Summary)], out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{{\"summary\":{}}}", to_json(&Named(runs))?)
}

/// Named summaries as one JSON object, in their order (a `json!` map would sort them).
struct Named<'a>(&'a [(&'a str, &'a Summary)]);

impl serde::Serialize for Named<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, summary) in self.0 {
            map.serialize_entry(name, &SummaryJson::from(*summary))?;
        }
        map.end()
    }
}

fn whole_percent(p: Option<i64>) -> String {
    p.map_or("-".into(), |p| format!("{p}%"))
}

/// The two runs of `-compare`, step by step.
pub struct Compared {
    /// The algorithm told of no baseline (HPA's rule).
    pub proportional: Vec<Row>,
    /// The algorithm told of `spec.podBaseline`.
    pub baseline: Vec<Row>,
}

impl Compared {
    fn summaries(&self, s: &Scenario) -> [Summary; 2] {
        let target = s.policy.target_utilization;
        [
            summarize_rows(&self.proportional, target),
            summarize_rows(&self.baseline, target),
        ]
    }
}

const PROPORTIONAL: &str = "proportional";
const BASELINE: &str = "baseline";

/// Widest reason, so the second run's columns line up.
const REASON_WIDTH: usize = 23;

/// Both runs side by side, one row per step shown (a step is shown when
/// either run's would be, see [`Steps`]), then their summaries.
pub fn compare_table(
    s: &Scenario,
    c: &Compared,
    steps: Steps,
    out: &mut dyn Write,
) -> io::Result<()> {
    header(s, &c.baseline, out)?;
    writeln!(
        out,
        "# the same pods, each holding podBaseline {} bytes: proportional = the rule told of no baseline (HPA's), baseline = told of it",
        s.pod_baseline_bytes
    )?;
    writeln!(
        out,
        "{:>10} {:>8} | {:>8} {:>6} {:>7}  {:<w$} | {:>8} {:>6} {:>7}  reason",
        "t",
        "time",
        "replicas",
        "util%",
        "desired",
        "reason",
        "replicas",
        "util%",
        "desired",
        w = REASON_WIDTH
    )?;
    let n = c.proportional.len().min(c.baseline.len());
    let mut hidden = 0usize;
    for (i, (p, b)) in c.proportional.iter().zip(&c.baseline).enumerate() {
        let moved = changed_at(&c.proportional, i) || changed_at(&c.baseline, i);
        if !steps.shows(i, n, moved) {
            hidden += 1;
            continue;
        }
        writeln!(
            out,
            "{:>10} {:>8} | {:>8} {:>6} {:>7}  {:<w$} | {:>8} {:>6} {:>7}  {}",
            p.t,
            clock(p.t),
            p.current_replicas,
            percent(p),
            p.desired_replicas,
            p.reason,
            b.current_replicas,
            percent(b),
            b.desired_replicas,
            b.reason,
            w = REASON_WIDTH
        )?;
    }
    left_out(hidden, out)?;
    let [p, b] = c.summaries(s);
    writeln!(out)?;
    side_by_side(&[(PROPORTIONAL, &p), (BASELINE, &b)], out)
}

/// `-compare -json`: per step `{"t", "proportional": ROW, "baseline": ROW}`,
/// with ROW as in [`json_lines`]; then one last line
/// `{"summary": {"proportional": SUMMARY, "baseline": SUMMARY}}`.
pub fn compare_json(s: &Scenario, c: &Compared, out: &mut dyn Write) -> io::Result<()> {
    for (p, b) in c.proportional.iter().zip(&c.baseline) {
        let line = Both {
            t: p.t,
            proportional: p,
            baseline: b,
        };
        writeln!(out, "{}", to_json(&line)?)?;
    }
    let [p, b] = c.summaries(s);
    side_by_side_json(&[(PROPORTIONAL, &p), (BASELINE, &b)], out)
}

/// One step of each run, in this key order (a `json!` map would sort them).
#[derive(serde::Serialize)]
struct Both<'a> {
    t: i64,
    proportional: &'a Row,
    baseline: &'a Row,
}

fn to_json(value: &impl serde::Serialize) -> io::Result<String> {
    serde_json::to_string(value).map_err(io::Error::other)
}

fn percent(r: &Row) -> String {
    r.utilization_percentage
        .map_or("-".into(), |u| format!("{u}%"))
}

/// The line that says what was simulated.
fn header(s: &Scenario, rows: &[Row], out: &mut dyn Write) -> io::Result<()> {
    let p = &s.policy;
    writeln!(
        out,
        "# target {}% of {}, replicas {}..{}, scale-up window {}s, scale-down window {}s, {} steps",
        p.target_utilization,
        p.basis.as_str(),
        p.min_replicas,
        p.max_replicas,
        p.scale_up.stabilization_window_seconds,
        p.scale_down.stabilization_window_seconds,
        rows.len()
    )?;
    Ok(())
}

/// A `t` from here on is a Unix time (2001-09-09), not seconds into a
/// scenario: a replayed history's steps, or the scenario file it wrote.
const UNIX_TIMES_FROM: i64 = 1_000_000_000;

pub fn is_unix_time(t: i64) -> bool {
    t >= UNIX_TIMES_FROM
}

/// Seconds as hh:mm; hours keep counting past 24 so a long run stays ordered.
/// A Unix time is the UTC date and time instead (`2026-11-30 14:05`), since
/// hours since 1970 say nothing to a reader.
pub fn clock(t: i64) -> String {
    if is_unix_time(t) {
        let stamp = crate::rfc3339::format_seconds(t);
        if let Some(minute) = stamp.get(..16) {
            return minute.replacen('T', " ", 1);
        }
    }
    format!("{:02}:{:02}", t / 3600, (t % 3600) / 60)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_scenario_time_is_hours_and_minutes_and_a_unix_time_its_utc_date() {
        assert_eq!(clock(0), "00:00");
        assert_eq!(clock(90_000), "25:00");
        assert_eq!(clock(999_999_999), "277777:46");
        assert_eq!(clock(1_795_392_060), "2026-11-23 00:01");
    }

    fn scenario() -> Scenario {
        super::super::scenario::parse(
            r#"{"spec": {"maxReplicas": 9, "targetUtilizationPercentage": 60}, "replicas": 2,
                "limitBytes": 10, "steps": [{"t": 0, "totalBytes": 1}]}"#,
        )
        .expect("scenario")
    }

    fn row(t: i64, current: i64, util: i64, desired: i64, reason: &'static str) -> Row {
        Row {
            t,
            current_replicas: current,
            utilization_percentage: Some(util),
            recommended_replicas: Some(desired),
            desired_replicas: desired,
            reason,
            limit_permille: Some(util * 10),
            detail: None,
        }
    }

    /// The `t` of every step line of a table.
    fn shown_t(table: &str) -> Vec<i64> {
        table
            .lines()
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    }

    fn rows() -> Vec<Row> {
        let failed = |t| Row {
            detail: Some(format!("failed at {t}")),
            ..row(t, 3, 50, 3, "FailedGetResourceMetric")
        };
        vec![
            row(0, 2, 50, 2, "WithinTolerance"),
            // Utilization alone moves: not a change.
            row(60, 2, 55, 2, "WithinTolerance"),
            // The desired count moves.
            row(120, 2, 90, 3, "AboveTarget"),
            // The current count moves (and the reason).
            row(180, 3, 60, 3, "WithinTolerance"),
            row(240, 3, 61, 3, "WithinTolerance"),
            // The reason alone moves.
            row(300, 3, 50, 3, "BelowTarget"),
            // The reason moves, then only the failure's message.
            failed(360),
            failed(420),
            failed(420),
            row(480, 3, 50, 3, "BelowTarget"),
            row(540, 3, 50, 3, "BelowTarget"),
            // The last is shown though nothing changes.
            row(600, 3, 40, 3, "BelowTarget"),
        ]
    }

    fn table_of(rows: &[Row], steps: Steps) -> String {
        let mut out = Vec::new();
        table(&scenario(), rows, steps, &mut out).expect("written");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn the_table_shows_the_first_the_last_and_the_changes() {
        let text = table_of(&rows(), Steps::Changes);
        assert_eq!(shown_t(&text), [0, 120, 180, 300, 360, 420, 480, 600]);
        assert!(
            text.contains("\n... 4 unchanged steps not shown; -all shows every step\n"),
            "{text}"
        );
        // A shown failure keeps its message under it.
        assert_eq!(text.matches("failed at 420").count(), 1, "{text}");
        let all = table_of(&rows(), Steps::All);
        assert_eq!(
            shown_t(&all),
            rows().iter().map(|r| r.t).collect::<Vec<_>>()
        );
        assert!(!all.contains("not shown"), "{all}");
        for text in [&text, &all] {
            assert!(text.contains("\nsummary "), "{text}");
        }
    }

    #[test]
    fn short_tables_show_every_step() {
        let rows = rows();
        assert_eq!(shown_t(&table_of(&rows[..1], Steps::Changes)), [0]);
        assert_eq!(shown_t(&table_of(&rows[..2], Steps::Changes)), [0, 60]);
        let three = table_of(
            &[rows[0].clone(), rows[0].clone(), rows[1].clone()],
            Steps::Changes,
        );
        assert!(three.contains("... 1 unchanged step not shown;"), "{three}");
        assert!(table_of(&[], Steps::Changes).contains("\nsummary "));
    }

    #[test]
    fn compare_shows_a_step_where_either_run_changes() {
        let baseline = rows();
        // The proportional run never changes but for its utilization.
        let proportional: Vec<Row> = baseline
            .iter()
            .map(|r| {
                row(
                    r.t,
                    4,
                    r.utilization_percentage.unwrap_or(0),
                    4,
                    "BelowTarget",
                )
            })
            .collect();
        let c = Compared {
            proportional,
            baseline,
        };
        let mut out = Vec::new();
        compare_table(&scenario(), &c, Steps::Changes, &mut out).expect("written");
        let text = String::from_utf8(out).expect("UTF-8");
        assert_eq!(shown_t(&text), [0, 120, 180, 300, 360, 420, 480, 600]);
        assert!(
            text.contains("summary                     proportional     baseline"),
            "{text}"
        );
    }

    #[test]
    fn side_by_side_puts_each_run_in_its_column_and_unknowns_as_a_dash() {
        let known = Summary {
            replica_seconds: 5400,
            scale_ups: 2,
            scale_downs: 1,
            peak_utilization: Some(97),
            p95_utilization: Some(88),
            seconds_above_target: 90,
            seconds_above_oom_risk: Some(120),
            peak_limit_permille: Some(934),
        };
        let unknown = Summary::default();
        let mut out = Vec::new();
        side_by_side(
            &[("actual", &known), ("a-much-longer-spec.json", &unknown)],
            &mut out,
        )
        .expect("written");
        let text = String::from_utf8(out).expect("UTF-8");
        let cells = |name: &str| -> Vec<String> {
            let line = text
                .lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("no {name} in\n{text}"));
            line[NAME_WIDTH..]
                .split_whitespace()
                .map(String::from)
                .collect()
        };
        assert_eq!(cells("summary"), ["actual", "a-much-longer-spec.json"]);
        assert_eq!(cells("replica-hours"), ["1.50", "0.00"]);
        assert_eq!(cells("scale-ups"), ["2", "0"]);
        assert_eq!(cells("scale-downs"), ["1", "0"]);
        assert_eq!(cells("peak utilization"), ["97%", "-"]);
        assert_eq!(cells("p95 utilization"), ["88%", "-"]);
        assert_eq!(cells("minutes above target"), ["1.5", "0.0"]);
        assert_eq!(cells("minutes above 90% of limit"), ["2.0", "-"]);
        assert_eq!(cells("peak % of limit"), ["93.4%", "-"]);
        // Columns line up: every figure line is as long as the names line.
        let width = text.lines().next().map(str::len);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert_eq!(Some(line.len()), width, "{line:?}");
        }

        let mut out = Vec::new();
        side_by_side_json(&[("actual", &known), ("b", &unknown)], &mut out).expect("written");
        let text = String::from_utf8(out).expect("UTF-8");
        assert_eq!(text.lines().count(), 1);
        // The runs keep their order (not sorted by name).
        assert!(
            text.starts_with(r#"{"summary":{"actual":{"replicaHours":1.5,"#),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            v["summary"]["actual"],
            serde_json::json!({"replicaHours": 1.5, "scaleUps": 2, "scaleDowns": 1,
                "peakUtilizationPercentage": 97, "p95UtilizationPercentage": 88,
                "minutesAboveTarget": 1.5, "minutesAbove90PercentOfLimit": 2.0,
                "peakLimitPercentage": 93.4})
        );
        assert_eq!(
            v["summary"]["b"]["minutesAbove90PercentOfLimit"],
            serde_json::Value::Null
        );
        assert_eq!(
            v["summary"]["b"]["p95UtilizationPercentage"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn clock_format() {
        assert_eq!(clock(0), "00:00");
        assert_eq!(clock(3599), "00:59");
        assert_eq!(clock(13 * 3600 + 5 * 60), "13:05");
        assert_eq!(clock(26 * 3600), "26:00");
    }
}
