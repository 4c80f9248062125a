//! The two text forms of a simulation: a readable table and JSON lines.

use super::engine::Row;
use super::scenario::Scenario;
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
            r.utilization_percentage
                .map_or("-".into(), |u| format!("{u}%")),
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
