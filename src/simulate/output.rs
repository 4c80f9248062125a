//! The two text forms of a simulation: a readable table and JSON lines.

use super::engine::Row;
use super::scenario::Scenario;
use super::summary::{summarize, Summary, SummaryJson};
use std::io::{self, Write};

/// One JSON object per line, [`Row`]'s fields as camelCase keys (`t`,
/// `currentReplicas`, `utilizationPercentage`, `recommendedReplicas`,
/// `desiredReplicas`, `reason`).
pub fn json_lines(rows: &[Row], out: &mut dyn Write) -> io::Result<()> {
    for row in rows {
        let line = serde_json::to_string(row).map_err(io::Error::other)?;
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// A header saying what was simulated, then one row per step.
pub fn table(s: &Scenario, rows: &[Row], out: &mut dyn Write) -> io::Result<()> {
    header(s, rows, out)?;
    writeln!(
        out,
        "{:>10} {:>8} {:>8} {:>6} {:>11} {:>7}  reason",
        "t", "time", "replicas", "util%", "recommended", "desired"
    )?;
    for r in rows {
        writeln!(
            out,
            "{:>10} {:>8} {:>8} {:>6} {:>11} {:>7}  {}",
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
    Ok(())
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
            summarize(&self.proportional, target),
            summarize(&self.baseline, target),
        ]
    }
}

/// Widest reason, so the second run's columns line up.
const REASON_WIDTH: usize = 23;

/// Both runs side by side, one row per step, then their summaries.
pub fn compare_table(s: &Scenario, c: &Compared, out: &mut dyn Write) -> io::Result<()> {
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
    for (p, b) in c.proportional.iter().zip(&c.baseline) {
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
    let [p, b] = c.summaries(s);
    writeln!(out)?;
    writeln!(
        out,
        "{:<22} {:>12} {:>12}",
        "summary", "proportional", "baseline"
    )?;
    let rows: [(&str, String, String); 4] = [
        (
            "replica-hours",
            format!("{:.2}", p.replica_hours()),
            format!("{:.2}", b.replica_hours()),
        ),
        (
            "scale-ups",
            p.scale_ups.to_string(),
            b.scale_ups.to_string(),
        ),
        (
            "scale-downs",
            p.scale_downs.to_string(),
            b.scale_downs.to_string(),
        ),
        (
            "minutes above target",
            format!("{:.1}", p.minutes_above_target()),
            format!("{:.1}", b.minutes_above_target()),
        ),
    ];
    for (name, p, b) in rows {
        writeln!(out, "{name:<22} {p:>12} {b:>12}")?;
    }
    Ok(())
}

/// `-compare -json`: per step `{"t", "proportional": ROW, "baseline": ROW}`,
/// with ROW as in [`json_lines`]; then one last line
/// `{"summary": {"proportional": SUMMARY, "baseline": SUMMARY}}`.
pub fn compare_json(s: &Scenario, c: &Compared, out: &mut dyn Write) -> io::Result<()> {
    for (p, b) in c.proportional.iter().zip(&c.baseline) {
        let line = Both {
            t: Some(p.t),
            proportional: p,
            baseline: b,
        };
        writeln!(out, "{}", to_json(&line)?)?;
    }
    let [p, b] = c.summaries(s);
    let summary = Both {
        t: None,
        proportional: SummaryJson::from(p),
        baseline: SummaryJson::from(b),
    };
    writeln!(out, "{{\"summary\":{}}}", to_json(&summary)?)
}

/// One thing of each run, in this key order (a `json!` map would sort them).
#[derive(serde::Serialize)]
struct Both<T> {
    #[serde(skip_serializing_if = "Option::is_none")]
    t: Option<i64>,
    proportional: T,
    baseline: T,
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

/// Seconds as hh:mm; hours keep counting past 24 so a long run stays ordered.
pub fn clock(t: i64) -> String {
    format!("{:02}:{:02}", t / 3600, (t % 3600) / 60)
}

#[cfg(test)]
mod test {
    use super::clock;

    #[test]
    fn clock_format() {
        assert_eq!(clock(0), "00:00");
        assert_eq!(clock(3599), "00:59");
        assert_eq!(clock(13 * 3600 + 5 * 60), "13:05");
        assert_eq!(clock(26 * 3600), "26:00");
    }
}
