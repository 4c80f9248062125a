//! The figures that sum a run up, for `-compare`.
//!
//! Each step stands for the time from its `t` to the next step's `t` (the last
//! step, which nothing follows, for none): during it the workload runs the
//! replicas the step observed, at the utilization the step measured.

use super::engine::Row;

/// One run summed up. Times are kept in whole seconds, so sums are exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Σ currentReplicas × the step's duration.
    pub replica_seconds: i64,
    /// Steps whose desired count is above (below) the count they observed.
    pub scale_ups: u64,
    pub scale_downs: u64,
    /// Σ the duration of the steps whose utilization (of the limits, or of the
    /// requests under `basis: requests`, in whole percent as the step reports
    /// it) is above the target; a step without a utilization is not above.
    pub seconds_above_target: i64,
}

impl Summary {
    pub fn replica_hours(&self) -> f64 {
        self.replica_seconds as f64 / 3600.0
    }

    pub fn minutes_above_target(&self) -> f64 {
        self.seconds_above_target as f64 / 60.0
    }
}

/// Sums up `rows`, a run under a target of `target` percent.
pub fn summarize(rows: &[Row], target: i64) -> Summary {
    let mut sum = Summary::default();
    let next_t = rows.iter().skip(1).map(|r| Some(r.t)).chain([None]);
    for (row, next) in rows.iter().zip(next_t) {
        // Steps are in order of t, so a duration is never negative.
        let held = next.map_or(0, |t| t - row.t);
        sum.replica_seconds += row.current_replicas.max(0) * held;
        if row.utilization_percentage.is_some_and(|u| u > target) {
            sum.seconds_above_target += held;
        }
        match row.desired_replicas.cmp(&row.current_replicas) {
            std::cmp::Ordering::Greater => sum.scale_ups += 1,
            std::cmp::Ordering::Less => sum.scale_downs += 1,
            std::cmp::Ordering::Equal => {}
        }
    }
    sum
}

/// The JSON form: `{"replicaHours", "scaleUps", "scaleDowns", "minutesAboveTarget"}`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryJson {
    replica_hours: f64,
    scale_ups: u64,
    scale_downs: u64,
    minutes_above_target: f64,
}

impl From<Summary> for SummaryJson {
    fn from(s: Summary) -> SummaryJson {
        SummaryJson {
            replica_hours: s.replica_hours(),
            scale_ups: s.scale_ups,
            scale_downs: s.scale_downs,
            minutes_above_target: s.minutes_above_target(),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn row(t: i64, current: i64, util: Option<i64>, desired: i64) -> Row {
        Row {
            t,
            current_replicas: current,
            utilization_percentage: util,
            recommended_replicas: Some(desired),
            desired_replicas: desired,
            reason: "AboveTarget",
            detail: None,
        }
    }

    #[test]
    fn figures_by_hand() {
        let rows = [
            // 2 replicas for 600 s at 90% (above 70): 1200 replica-seconds.
            row(0, 2, Some(90), 3),
            // 3 for 300 s at exactly the target (not above): 900.
            row(600, 3, Some(70), 3),
            // 3 for 1800 s at 71%: 5400, above.
            row(900, 3, Some(71), 2),
            // 2 for 60 s, no metric: 120, not above.
            row(2700, 2, None, 2),
            // The last step lasts no time: its 80% counts nothing.
            row(2760, 2, Some(80), 1),
        ];
        let s = summarize(&rows, 70);
        assert_eq!(
            s,
            Summary {
                replica_seconds: 1200 + 900 + 5400 + 120,
                scale_ups: 1,
                scale_downs: 2,
                seconds_above_target: 600 + 1800,
            }
        );
        assert_eq!(s.replica_hours(), 7620.0 / 3600.0);
        assert_eq!(s.minutes_above_target(), 40.0);
    }

    #[test]
    fn one_step_and_no_steps_sum_to_nothing() {
        assert_eq!(summarize(&[], 50), Summary::default());
        let one = summarize(&[row(5, 4, Some(99), 8)], 50);
        assert_eq!((one.replica_seconds, one.seconds_above_target), (0, 0));
        assert_eq!(one.scale_ups, 1);
    }
}
