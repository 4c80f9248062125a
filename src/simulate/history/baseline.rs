//! A `podBaseline` suggested by the history itself.
//!
//! Every change of the observed pod count is a natural experiment: the load
//! the workload serves hardly moves in the minutes around it, so the change
//! in its total working set is the memory the pods added or removed hold
//! whatever their share of the load. Per event:
//!
//! - a *before* window ([`Windows::before`]) of steps just before the change,
//!   all at the old count;
//! - a *settle* gap ([`Windows::settle`]) after it, left out: a new pod's
//!   memory ramps up as it starts, and the controller's query averages over
//!   its window (1 minute by default);
//! - an *after* window ([`Windows::after`]), all at the new count.
//!
//! A line through both windows plus a step at the change is fitted by least
//! squares (total = a + b·(t − change) + c·after): the line takes out the
//! load's own drift over those minutes, which would otherwise be read as
//! baseline (an autoscaler adds pods while the load climbs). The step `c`
//! divided by the change in pods is the event's estimate. An event with
//! another change of count inside its windows, or with fewer than two steps
//! in either window, is left out. The suggestion is the median of the
//! estimates, with their spread.

use super::Point;

/// Fewer events than this, and the suggestion is said to rest on too little.
pub const MIN_EVENTS: usize = 3;

/// The windows around each change of pod count, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub before: i64,
    pub settle: i64,
    pub after: i64,
}

/// Five minutes each side: ten steps at 30 s, enough for the line, and short
/// enough that the load is close to a line. Two minutes of settling cover a
/// start-up ramp and the query's one-minute average.
pub const DEFAULT_WINDOWS: Windows = Windows {
    before: 300,
    settle: 120,
    after: 300,
};

/// The per-event estimates, in bytes per pod, sorted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Suggestion {
    estimates: Vec<f64>,
}

impl Suggestion {
    pub fn events(&self) -> usize {
        self.estimates.len()
    }

    /// Fewer than [`MIN_EVENTS`] events.
    pub fn is_thin(&self) -> bool {
        self.events() < MIN_EVENTS
    }

    pub fn median(&self) -> Option<f64> {
        self.quantile(0.5)
    }

    /// The first and third quartiles.
    pub fn quartiles(&self) -> Option<(f64, f64)> {
        Some((self.quantile(0.25)?, self.quantile(0.75)?))
    }

    pub fn min_max(&self) -> Option<(f64, f64)> {
        Some((*self.estimates.first()?, *self.estimates.last()?))
    }

    /// Linear between the closest ranks (Hyndman and Fan's type 7, the
    /// default of R and NumPy).
    fn quantile(&self, q: f64) -> Option<f64> {
        let last = self.estimates.len().checked_sub(1)?;
        let rank = q * last as f64;
        let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
        let (a, b) = (self.estimates[low], self.estimates[high]);
        Some(a + (b - a) * (rank - low as f64))
    }

    /// One line for the output's header.
    pub fn describe(&self) -> String {
        let Some(median) = self.median() else {
            return "suggested podBaseline: none, the pod count never changed with quiet steps around it".to_string();
        };
        let (q1, q3) = self.quartiles().unwrap_or((median, median));
        let (min, max) = self.min_max().unwrap_or((median, median));
        let mut line = format!(
            "suggested podBaseline: {} ({} bytes), the median of {} pod-count changes (quartiles {}..{}, range {}..{})",
            mebibytes(median),
            median.max(0.0).round(),
            self.events(),
            mebibytes(q1),
            mebibytes(q3),
            mebibytes(min),
            mebibytes(max)
        );
        if self.is_thin() {
            line.push_str(&format!(
                "; too few changes to trust (at least {MIN_EVENTS} wanted): try a longer -since"
            ));
        }
        if median < 0.0 {
            line.push_str("; below zero: the pods' fixed memory does not show in this history");
        }
        line
    }
}

fn mebibytes(bytes: f64) -> String {
    format!("{:.0}Mi", bytes / 1048576.0)
}

/// The suggestion from `points` (in time order) with `windows`.
pub fn suggest(points: &[Point], windows: Windows) -> Suggestion {
    let mut estimates: Vec<f64> = points
        .windows(2)
        .enumerate()
        .filter(|(_, pair)| pair[0].pods != pair[1].pods)
        .filter_map(|(i, _)| estimate(points, i + 1, windows))
        .filter(|e| e.is_finite())
        .collect();
    estimates.sort_by(f64::total_cmp);
    Suggestion { estimates }
}

/// The estimate of the change at `points[at]`, if its windows are clean.
fn estimate(points: &[Point], at: usize, w: Windows) -> Option<f64> {
    let change = points[at].t;
    let (old, new) = (points[at - 1].pods, points[at].pods);
    let mut fit = Fit::default();
    let (mut before, mut after) = (0, 0);
    for p in points {
        let x = p.t - change;
        // The settle gap must hold the new count too, but is not fitted.
        let wanted = if (-w.before..0).contains(&x) {
            old
        } else if (0..=w.settle + w.after).contains(&x) {
            new
        } else {
            continue;
        };
        if p.pods != wanted {
            return None;
        }
        if x < 0 {
            before += 1;
        } else if x >= w.settle {
            after += 1;
        } else {
            continue;
        }
        fit.add(x as f64, x >= 0, p.total_bytes);
    }
    if before < 2 || after < 2 {
        return None;
    }
    Some(fit.step()? / (f64::from(new) - f64::from(old)))
}

/// Least squares of y = a + b·x + c·d, kept as the sums of the normal
/// equations.
#[derive(Default)]
struct Fit {
    n: f64,
    x: f64,
    d: f64,
    xx: f64,
    xd: f64,
    dd: f64,
    y: f64,
    xy: f64,
    dy: f64,
}

impl Fit {
    fn add(&mut self, x: f64, after: bool, y: f64) {
        let d = if after { 1.0 } else { 0.0 };
        self.n += 1.0;
        self.x += x;
        self.d += d;
        self.xx += x * x;
        self.xd += x * d;
        self.dd += d * d;
        self.y += y;
        self.xy += x * y;
        self.dy += d * y;
    }

    /// `c`, by Cramer's rule; `None` when the points cannot tell the line
    /// from the step.
    fn step(&self) -> Option<f64> {
        let m = [
            [self.n, self.x, self.d],
            [self.x, self.xx, self.xd],
            [self.d, self.xd, self.dd],
        ];
        let det = det3(m);
        if det.abs() < 1e-9 * self.n.powi(3).max(1.0) {
            return None;
        }
        let mut mc = m;
        for (row, rhs) in mc.iter_mut().zip([self.y, self.xy, self.dy]) {
            row[2] = rhs;
        }
        Some(det3(mc) / det)
    }
}

fn det3(m: [[f64; 3]; 3]) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

#[cfg(test)]
mod test {
    use super::*;

    const MI: f64 = 1048576.0;

    fn point(t: i64, total: f64, pods: u32) -> Point {
        Point {
            t,
            total_bytes: total,
            pods,
            max_pod_bytes: total / f64::from(pods.max(1)),
        }
    }

    /// Every 30 s from 0 to `end`: pods from `pods_at`, total = load + β·pods.
    fn history(
        end: i64,
        beta: f64,
        load: impl Fn(i64) -> f64,
        pods_at: impl Fn(i64) -> u32,
    ) -> Vec<Point> {
        (0..=end / 30)
            .map(|k| {
                let t = k * 30;
                let pods = pods_at(t);
                point(t, load(t) + beta * f64::from(pods), pods)
            })
            .collect()
    }

    #[test]
    fn a_clean_step_on_a_flat_load_is_read_exactly() {
        let points = history(
            3600,
            100.0 * MI,
            |_| 800.0 * MI,
            |t| if t < 1800 { 3 } else { 5 },
        );
        let s = suggest(&points, DEFAULT_WINDOWS);
        assert_eq!(s.events(), 1);
        let median = s.median().expect("one event");
        assert!((median - 100.0 * MI).abs() < 1.0, "{median}");
        assert!(s.is_thin());
    }

    #[test]
    fn a_drifting_load_is_fitted_away() {
        // 1 MiB a second of drift is 420 MiB between the windows' middles.
        let points = history(
            3600,
            100.0 * MI,
            |t| 500.0 * MI + t as f64 * MI,
            |t| if t < 1800 { 3 } else { 4 },
        );
        let median = suggest(&points, DEFAULT_WINDOWS)
            .median()
            .expect("one event");
        assert!((median - 100.0 * MI).abs() < 0.01 * MI, "{}", median / MI);
    }

    #[test]
    fn a_scale_down_counts_like_a_scale_up() {
        let points = history(
            3600,
            64.0 * MI,
            |_| 2000.0 * MI,
            |t| if t < 1800 { 6 } else { 2 },
        );
        let median = suggest(&points, DEFAULT_WINDOWS)
            .median()
            .expect("one event");
        assert!((median - 64.0 * MI).abs() < 1.0, "{median}");
    }

    #[test]
    fn a_change_with_another_inside_its_windows_is_left_out() {
        let pods = |t: i64| match t {
            0..=1799 => 3,
            1800..=1919 => 4,
            _ => 5,
        };
        let points = history(3600, 100.0 * MI, |_| 800.0 * MI, pods);
        assert_eq!(suggest(&points, DEFAULT_WINDOWS).events(), 0);
    }

    #[test]
    fn a_change_at_the_edge_of_the_history_is_left_out() {
        let points = history(
            600,
            100.0 * MI,
            |_| 800.0 * MI,
            |t| if t < 30 { 3 } else { 4 },
        );
        assert_eq!(suggest(&points, DEFAULT_WINDOWS).events(), 0);
    }

    #[test]
    fn no_change_suggests_nothing_and_says_so() {
        let points = history(3600, 100.0 * MI, |_| 800.0 * MI, |_| 3);
        let s = suggest(&points, DEFAULT_WINDOWS);
        assert_eq!(s.median(), None);
        assert!(s.describe().contains("none"), "{}", s.describe());
    }

    #[test]
    fn quantiles_of_a_table_of_estimates() {
        let cases: [(&[f64], f64, (f64, f64)); 3] = [
            (&[5.0], 5.0, (5.0, 5.0)),
            (&[1.0, 3.0], 2.0, (1.5, 2.5)),
            (&[4.0, 1.0, 3.0, 2.0, 100.0], 3.0, (2.0, 4.0)),
        ];
        for (values, median, quartiles) in cases {
            let mut estimates = values.to_vec();
            estimates.sort_by(f64::total_cmp);
            let s = Suggestion { estimates };
            assert_eq!(s.median(), Some(median), "{values:?}");
            assert_eq!(s.quartiles(), Some(quartiles), "{values:?}");
        }
    }

    /// xorshift64*: deterministic noise without a crate.
    struct Rng(u64);

    impl Rng {
        fn unit(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Least squares of total on pods over the whole history: what one would
    /// reach for first. Pods follow the load, so it mistakes load for baseline.
    fn naive_slope(points: &[Point]) -> f64 {
        let n = points.len() as f64;
        let mx = points.iter().map(|p| f64::from(p.pods)).sum::<f64>() / n;
        let my = points.iter().map(|p| p.total_bytes).sum::<f64>() / n;
        let sxy: f64 = points
            .iter()
            .map(|p| (f64::from(p.pods) - mx) * (p.total_bytes - my))
            .sum();
        let sxx: f64 = points
            .iter()
            .map(|p| (f64::from(p.pods) - mx).powi(2))
            .sum();
        sxy / sxx
    }

    #[test]
    fn a_known_baseline_is_recovered_within_10_percent_where_the_naive_fit_is_not() {
        let beta = 150.0 * MI;
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        // Two days at 30 s: a daily wave and a faster one, 1 % noise, and
        // pods that follow the load as an autoscaler's would, one at a time
        // and at most every ten minutes.
        let load = |t: i64| {
            let day = 2.0 * std::f64::consts::PI * t as f64 / 86_400.0;
            let hour = 2.0 * std::f64::consts::PI * t as f64 / 5_400.0;
            2500.0 * MI + 1500.0 * MI * day.sin() + 300.0 * MI * hour.sin()
        };
        let mut pods = 6u32;
        let mut last_change = 0;
        let points: Vec<Point> = (0..=2 * 86_400 / 30)
            .map(|k| {
                let t = k * 30;
                let wanted = (load(t) / (350.0 * MI)).ceil() as u32;
                if wanted != pods && t - last_change >= 600 {
                    pods = if wanted > pods { pods + 1 } else { pods - 1 };
                    last_change = t;
                }
                let noise = 1.0 + 0.01 * (rng.unit() - 0.5);
                point(t, (load(t) + beta * f64::from(pods)) * noise, pods)
            })
            .collect();
        let s = suggest(&points, DEFAULT_WINDOWS);
        assert!(s.events() >= 10, "{} events", s.events());
        let median = s.median().expect("events");
        assert!(
            (median - beta).abs() < 0.1 * beta,
            "suggested {:.1}Mi, wanted 150Mi; {}",
            median / MI,
            s.describe()
        );
        let naive = naive_slope(&points);
        assert!(
            (naive - beta).abs() > 0.5 * beta,
            "the naive fit ({:.1}Mi) is no straw man",
            naive / MI
        );
    }
}
