//! The figures that sum a run up: of a simulated run, or of what a workload
//! really ran (its history), so the two can stand side by side.
//!
//! A run is a list of [`Sample`]s in order of `t`. Each sample stands for the
//! time from its `t` to the next sample's `t` (the last one, which nothing
//! follows, for none): during it the workload runs the replicas the sample
//! observed, at the utilization it measured. Every time-based figure weighs a
//! sample by that duration, so uneven steps (a history with gaps, a scenario
//! with a long night step) count for the time they cover, not once each.

use super::engine::Row;
use std::cmp::Ordering;

/// Above this share of the limit (in permille) a container is close to being
/// OOM-killed: a spike between two samples, or the page cache the working set
/// leaves out, can take it the rest of the way.
pub const OOM_RISK_PERMILLE: i64 = 900;

/// Which way the replica count moved after a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Up,
    Down,
    Hold,
}

impl Change {
    fn of(from: i64, to: i64) -> Change {
        match to.cmp(&from) {
            Ordering::Greater => Change::Up,
            Ordering::Less => Change::Down,
            Ordering::Equal => Change::Hold,
        }
    }
}

/// One moment of a run, as the summary needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub t: i64,
    /// The replicas running from `t` on.
    pub replicas: i64,
    /// Of the limits, or of the requests under `basis: requests`, in whole
    /// percent as the algorithm reports it.
    pub utilization_percentage: Option<i64>,
    /// The fullest container's working set over its limit (see `Row`).
    pub limit_permille: Option<i64>,
    /// A scale event decided (simulated) or seen (observed) at this sample.
    pub change: Change,
}

impl Sample {
    /// A simulated step: its scale event is its decision, desired against
    /// current, as the controller would write it.
    pub fn of_row(r: &Row) -> Sample {
        Sample {
            t: r.t,
            replicas: r.current_replicas,
            utilization_percentage: r.utilization_percentage,
            limit_permille: r.limit_permille,
            change: Change::of(r.current_replicas, r.desired_replicas),
        }
    }
}

/// One moment of what a workload really ran, before its scale events are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    pub t: i64,
    pub replicas: i64,
    pub utilization_percentage: Option<i64>,
    pub limit_permille: Option<i64>,
}

/// The samples of an observed history. A scale event is a change in the
/// observed replica count, put on the sample before it (the moment it was
/// decided, as in a simulated run), so both kinds count events alike: a
/// simulated step that scales up from 3 to 5 and a history going from 3 pods
/// to 5 are each one scale-up.
pub fn observed(points: &[Observed]) -> Vec<Sample> {
    let next = points.iter().skip(1).map(Some).chain([None]);
    points
        .iter()
        .zip(next)
        .map(|(p, next)| Sample {
            t: p.t,
            replicas: p.replicas,
            utilization_percentage: p.utilization_percentage,
            limit_permille: p.limit_permille,
            change: next.map_or(Change::Hold, |n| Change::of(p.replicas, n.replicas)),
        })
        .collect()
}

/// One run summed up. Times are kept in whole seconds, so sums are exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Σ replicas × the sample's duration.
    pub replica_seconds: i64,
    /// Samples whose replica count moves up (down) after them.
    pub scale_ups: u64,
    pub scale_downs: u64,
    /// The highest utilization of any sample, the last one included: a
    /// measurement is one even if no time follows it. `None` without any.
    pub peak_utilization: Option<i64>,
    /// The utilization that the run stayed at or below for 95% of its
    /// measured time: samples sorted by utilization, the first whose
    /// cumulative duration reaches 95% of the total. Samples without a
    /// utilization are not measured time. `None` when no measured time passed.
    pub p95_utilization: Option<i64>,
    /// Σ the duration of the samples whose utilization is above the target;
    /// a sample without a utilization is not above.
    pub seconds_above_target: i64,
    /// Σ the duration of the samples whose fullest container is above
    /// [`OOM_RISK_PERMILLE`] of its limit. `None` when no sample had a limit
    /// figure (no limits set): then the risk is unknown, not zero.
    pub seconds_above_oom_risk: Option<i64>,
    /// The highest limit figure of any sample, in permille.
    pub peak_limit_permille: Option<i64>,
}

impl Summary {
    pub fn replica_hours(&self) -> f64 {
        self.replica_seconds as f64 / 3600.0
    }

    pub fn minutes_above_target(&self) -> f64 {
        self.seconds_above_target as f64 / 60.0
    }

    pub fn minutes_above_oom_risk(&self) -> Option<f64> {
        self.seconds_above_oom_risk.map(|s| s as f64 / 60.0)
    }
}

/// Sums up a simulated run under a target of `target` percent.
pub fn summarize_rows(rows: &[Row], target: i64) -> Summary {
    let samples: Vec<Sample> = rows.iter().map(Sample::of_row).collect();
    summarize(&samples, target)
}

/// Sums up `samples`, a run under a target of `target` percent.
pub fn summarize(samples: &[Sample], target: i64) -> Summary {
    let mut sum = Summary::default();
    // (utilization, duration) of the measured time, for the percentile.
    let mut measured: Vec<(i64, i64)> = Vec::with_capacity(samples.len());
    let next_t = samples.iter().skip(1).map(|s| Some(s.t)).chain([None]);
    for (s, next) in samples.iter().zip(next_t) {
        // Samples are in order of t; a history out of order counts no time.
        let held = next.map_or(0, |t| t.saturating_sub(s.t).max(0));
        sum.replica_seconds = sum
            .replica_seconds
            .saturating_add(s.replicas.max(0).saturating_mul(held));
        if let Some(u) = s.utilization_percentage {
            sum.peak_utilization = sum.peak_utilization.max(Some(u));
            if held > 0 {
                measured.push((u, held));
            }
            if u > target {
                sum.seconds_above_target = sum.seconds_above_target.saturating_add(held);
            }
        }
        if let Some(l) = s.limit_permille {
            sum.peak_limit_permille = sum.peak_limit_permille.max(Some(l));
            let above = if l > OOM_RISK_PERMILLE { held } else { 0 };
            let so_far = sum.seconds_above_oom_risk.unwrap_or(0);
            sum.seconds_above_oom_risk = Some(so_far.saturating_add(above));
        }
        match s.change {
            Change::Up => sum.scale_ups += 1,
            Change::Down => sum.scale_downs += 1,
            Change::Hold => {}
        }
    }
    sum.p95_utilization = weighted_percentile(&mut measured, 95);
    sum
}

/// The smallest value whose cumulative weight reaches `percent` of the total
/// (nearest rank, by weight). In i128, so no weights overflow the sum.
fn weighted_percentile(values: &mut [(i64, i64)], percent: i128) -> Option<i64> {
    values.sort_unstable();
    let total: i128 = values.iter().map(|&(_, w)| i128::from(w)).sum();
    if total == 0 {
        return None;
    }
    let mut reached = 0i128;
    for &(v, w) in values.iter() {
        reached += i128::from(w);
        // reached / total >= percent / 100, without rounding.
        if reached * 100 >= total * percent {
            return Some(v);
        }
    }
    values.last().map(|&(v, _)| v)
}

/// The JSON form, keys in this order: `replicaHours`, `scaleUps`,
/// `scaleDowns`, `peakUtilizationPercentage`, `p95UtilizationPercentage`,
/// `minutesAboveTarget`, `minutesAbove90PercentOfLimit`,
/// `peakLimitPercentage`; a figure that is unknown is `null`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryJson {
    replica_hours: f64,
    scale_ups: u64,
    scale_downs: u64,
    peak_utilization_percentage: Option<i64>,
    p95_utilization_percentage: Option<i64>,
    minutes_above_target: f64,
    #[serde(rename = "minutesAbove90PercentOfLimit")]
    minutes_above_oom_risk: Option<f64>,
    peak_limit_percentage: Option<f64>,
}

impl From<&Summary> for SummaryJson {
    fn from(s: &Summary) -> SummaryJson {
        SummaryJson {
            replica_hours: s.replica_hours(),
            scale_ups: s.scale_ups,
            scale_downs: s.scale_downs,
            peak_utilization_percentage: s.peak_utilization,
            p95_utilization_percentage: s.p95_utilization,
            minutes_above_target: s.minutes_above_target(),
            minutes_above_oom_risk: s.minutes_above_oom_risk(),
            peak_limit_percentage: s.peak_limit_permille.map(|p| p as f64 / 10.0),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn sample(t: i64, replicas: i64, util: Option<i64>, limit: Option<i64>, c: Change) -> Sample {
        Sample {
            t,
            replicas,
            utilization_percentage: util,
            limit_permille: limit,
            change: c,
        }
    }

    fn row(t: i64, current: i64, util: Option<i64>, desired: i64) -> Row {
        Row {
            t,
            current_replicas: current,
            utilization_percentage: util,
            recommended_replicas: Some(desired),
            desired_replicas: desired,
            reason: "AboveTarget",
            limit_permille: None,
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
        let s = summarize_rows(&rows, 70);
        assert_eq!(
            (s.replica_seconds, s.scale_ups, s.scale_downs),
            (1200 + 900 + 5400 + 120, 1, 2)
        );
        assert_eq!(s.seconds_above_target, 600 + 1800);
        assert_eq!(s.replica_hours(), 7620.0 / 3600.0);
        assert_eq!(s.minutes_above_target(), 40.0);
        // No limit figure anywhere: the OOM risk is unknown.
        assert_eq!(
            (s.seconds_above_oom_risk, s.peak_limit_permille),
            (None, None)
        );
    }

    /// Uneven steps: a count of steps and a count of seconds disagree on
    /// every time-based figure, so each is held to its hand-computed value.
    #[test]
    fn peak_p95_and_oom_risk_weigh_uneven_steps_by_their_duration() {
        use Change::*;
        let samples = [
            // 3000 s at 50%, 600‰ of the limit.
            sample(0, 2, Some(50), Some(600), Hold),
            // 60 s at 99%, 950‰: above 90% of the limit.
            sample(3000, 2, Some(99), Some(950), Up),
            // 100 s at 80%, exactly 900‰: not above.
            sample(3060, 3, Some(80), Some(900), Hold),
            // 40 s at 60%, no limit figure (a step where it is unknown).
            sample(3160, 3, Some(60), None, Down),
            // 200 s with no utilization, 901‰: above.
            sample(3200, 2, None, Some(901), Hold),
            // The last: 120% and 990‰ count for the peaks, but no time.
            sample(3400, 2, Some(120), Some(990), Hold),
        ];
        let s = summarize(&samples, 70);
        assert_eq!(s.peak_utilization, Some(120));
        assert_eq!(s.peak_limit_permille, Some(990));
        // Measured time 3000 + 60 + 100 + 40 = 3200 s; 95% of it is 3040 s.
        // Sorted: 50% (3000 s), 60% (40 s, cumulative 3040 s: reached).
        // Counted by steps instead, the 95th percentile of the five would be 99%.
        assert_eq!(s.p95_utilization, Some(60));
        assert_eq!(s.seconds_above_oom_risk, Some(60 + 200));
        assert_eq!(s.minutes_above_oom_risk(), Some(260.0 / 60.0));
        assert_eq!(s.seconds_above_target, 60 + 100);
        assert_eq!(
            s.replica_seconds,
            2 * 3000 + 2 * 60 + 3 * 100 + 3 * 40 + 2 * 200
        );
        assert_eq!((s.scale_ups, s.scale_downs), (1, 1));
    }

    #[test]
    fn p95_is_the_top_value_when_it_holds_more_than_five_percent() {
        use Change::Hold;
        // 94 s at 10%, 6 s at 90%: 95% of 100 s is reached only within the 90%.
        let s = summarize(
            &[
                sample(0, 1, Some(10), None, Hold),
                sample(94, 1, Some(90), None, Hold),
                sample(100, 1, None, None, Hold),
            ],
            50,
        );
        assert_eq!(s.p95_utilization, Some(90));
        // Exactly 95 s at 10%: reached there.
        let s = summarize(
            &[
                sample(0, 1, Some(10), None, Hold),
                sample(95, 1, Some(90), None, Hold),
                sample(100, 1, None, None, Hold),
            ],
            50,
        );
        assert_eq!(s.p95_utilization, Some(10));
    }

    #[test]
    fn one_step_and_no_steps_sum_to_nothing() {
        assert_eq!(summarize(&[], 50), Summary::default());
        let one = summarize_rows(&[row(5, 4, Some(99), 8)], 50);
        assert_eq!((one.replica_seconds, one.seconds_above_target), (0, 0));
        assert_eq!(one.scale_ups, 1);
        // A peak, but no measured time for a percentile.
        assert_eq!(
            (one.peak_utilization, one.p95_utilization),
            (Some(99), None)
        );
    }

    #[test]
    fn an_observed_scale_event_is_a_change_of_the_pod_count() {
        let point = |t, replicas| Observed {
            t,
            replicas,
            utilization_percentage: Some(50),
            limit_permille: Some(500),
        };
        let samples = observed(&[
            point(0, 3),
            point(60, 3),
            point(120, 5),
            point(180, 4),
            point(240, 4),
        ]);
        let changes: Vec<Change> = samples.iter().map(|s| s.change).collect();
        use Change::*;
        assert_eq!(changes, [Hold, Up, Down, Hold, Hold]);
        let s = summarize(&samples, 70);
        assert_eq!((s.scale_ups, s.scale_downs), (1, 1));
        assert_eq!(s.replica_seconds, 3 * 60 + 3 * 60 + 5 * 60 + 4 * 60);
        assert_eq!(s.seconds_above_oom_risk, Some(0));
        // The same run simulated (desired = the next count) sums up the same.
        let rows: Vec<Row> = samples
            .iter()
            .zip(samples.iter().skip(1).map(|s| s.replicas).chain([4]))
            .map(|(s, next)| Row {
                limit_permille: Some(500),
                ..row(s.t, s.replicas, Some(50), next)
            })
            .collect();
        assert_eq!(summarize_rows(&rows, 70), s);
    }

    #[test]
    fn out_of_order_samples_count_no_time() {
        let s = summarize(
            &[
                sample(100, 2, Some(95), Some(950), Change::Hold),
                sample(40, 2, Some(95), Some(950), Change::Hold),
            ],
            50,
        );
        assert_eq!((s.replica_seconds, s.seconds_above_target), (0, 0));
        assert_eq!(s.seconds_above_oom_risk, Some(0));
    }
}
