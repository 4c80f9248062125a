//! The controller's Prometheus metrics: a small registry written by hand and
//! rendered in the text exposition format 0.0.4.
//!
//! A crate would bring a global registry and macros for what is here a dozen
//! series. Every metric is a field of one struct behind one mutex: the controller
//! records a handful of samples per reconcile, so contention is not a concern,
//! and one lock means `render()` sees a consistent snapshot.
//!
//! Names follow the Prometheus conventions: the `memhpa_` prefix, base units
//! (seconds, ratios rather than percentages) and `_total` on counters.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};

/// Bucket upper bounds for the reconcile duration, in seconds. A reconcile is
/// two or three API round trips and one Prometheus query; ten seconds is the
/// point where something is badly wrong.
const RECONCILE_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Bucket upper bounds for one Prometheus query, in seconds, up to a little
/// past the default `-prom-timeout` of 5 s.
const PROM_QUERY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5];

/// The label values of one series, in the order of the family's label names.
type LabelValues = Vec<String>;

/// How one reconcile of one MemHpa ended: the `result` label of
/// `memhpa_reconciles_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconcileResult {
    Success,
    Error,
    /// Nothing was decided or written: a follower, a deleted MemHpa, an
    /// object without identity, or leadership lost before a write.
    Skipped,
}

impl ReconcileResult {
    pub const ALL: [ReconcileResult; 3] = [
        ReconcileResult::Success,
        ReconcileResult::Error,
        ReconcileResult::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReconcileResult::Success => "success",
            ReconcileResult::Error => "error",
            ReconcileResult::Skipped => "skipped",
        }
    }
}

impl std::fmt::Display for ReconcileResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The registry. Share it as `Arc<Metrics>`; every method takes `&self`.
pub struct Metrics {
    version: &'static str,
    inner: Mutex<Families>,
}

/// Every family, in the order `render()` writes them.
struct Families {
    reconciles: CounterVec,
    reconcile_duration: Histogram,
    scale_writes: CounterVec,
    current_replicas: GaugeVec,
    desired_replicas: GaugeVec,
    utilization: GaugeVec,
    target_utilization: GaugeVec,
    prom_query_duration: Histogram,
    prom_query_errors: CounterVec,
    api_requests: CounterVec,
    watch_restarts: CounterVec,
    is_leader: f64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut reconciles = CounterVec::new(
            "memhpa_reconciles_total",
            "Reconciles of one MemHpa, by result (success, error or skipped).",
            &["result"],
        );
        // Zero series exist from the start so rate() has a baseline before the
        // first error rather than a series that appears out of nowhere.
        for result in ReconcileResult::ALL {
            reconciles.add(&[result.as_str()], 0);
        }
        let mut scale_writes = CounterVec::new(
            "memhpa_scale_writes_total",
            "Writes of a target's /scale subresource, by direction (up or down).",
            &["direction"],
        );
        for direction in ["up", "down"] {
            scale_writes.add(&[direction], 0);
        }
        let families = Families {
            reconciles,
            reconcile_duration: Histogram::new(
                "memhpa_reconcile_duration_seconds",
                "Time one reconcile of one MemHpa took, in seconds.",
                RECONCILE_BUCKETS,
            ),
            scale_writes,
            current_replicas: GaugeVec::new(
                "memhpa_current_replicas",
                "Replicas of the MemHpa's target as last read from its /scale.",
                &["namespace", "name"],
            ),
            desired_replicas: GaugeVec::new(
                "memhpa_desired_replicas",
                "Replicas the MemHpa last decided on.",
                &["namespace", "name"],
            ),
            utilization: GaugeVec::new(
                "memhpa_memory_utilization_ratio",
                "Working set of the target's pods over their memory limits (or requests), 1 = 100%; absent while unknown.",
                &["namespace", "name"],
            ),
            target_utilization: GaugeVec::new(
                "memhpa_target_utilization_ratio",
                "The MemHpa's target utilization, 1 = 100%; absent while a reconcile ends before deciding (an invalid spec, an unreadable Scale).",
                &["namespace", "name"],
            ),
            prom_query_duration: Histogram::new(
                "memhpa_prometheus_query_duration_seconds",
                "Time one Prometheus query took, failed ones included, in seconds.",
                PROM_QUERY_BUCKETS,
            ),
            prom_query_errors: CounterVec::new(
                "memhpa_prometheus_query_errors_total",
                "Prometheus queries that gave no usable usage, by kind of failure.",
                &["kind"],
            ),
            api_requests: CounterVec::new(
                "memhpa_api_requests_total",
                "Requests to the Kubernetes API server, by verb and HTTP status code.",
                &["verb", "code"],
            ),
            watch_restarts: CounterVec::new(
                "memhpa_watch_restarts_total",
                "Restarts of the MemHpa watch, by reason.",
                &["reason"],
            ),
            is_leader: 0.0,
        };
        Metrics {
            version: env!("CARGO_PKG_VERSION"),
            inner: Mutex::new(families),
        }
    }

    /// One finished reconcile of one MemHpa.
    pub fn reconcile(&self, result: ReconcileResult, seconds: f64) {
        let mut families = self.lock();
        families.reconciles.add(&[result.as_str()], 1);
        families.reconcile_duration.observe(seconds);
    }

    /// One write of a target's scale: `direction` is "up" or "down".
    pub fn scale_write(&self, direction: &str) {
        self.lock().scale_writes.add(&[direction], 1);
    }

    /// The latest state of one MemHpa. `utilization` is a percentage (as in the
    /// MemHpa's status); `None` removes the series, as an unknown value must not
    /// linger as a stale one.
    pub fn set_memhpa(
        &self,
        namespace: &str,
        name: &str,
        current: i64,
        desired: i64,
        utilization: Option<i64>,
    ) {
        self.set_memhpa_if_live(|| true, namespace, name, current, desired, utilization);
    }

    /// [`Metrics::set_memhpa`], unless `live` says the MemHpa is gone. `live`
    /// is asked under the registry's lock: a delete marks the object gone
    /// before it calls [`Metrics::forget_memhpa`], so a reconcile that ends
    /// after the forget never brings the deleted MemHpa's series back.
    pub fn set_memhpa_if_live(
        &self,
        live: impl Fn() -> bool,
        namespace: &str,
        name: &str,
        current: i64,
        desired: i64,
        utilization: Option<i64>,
    ) {
        let mut families = self.lock();
        if !live() {
            return;
        }
        let key = [namespace, name];
        families.current_replicas.set(&key, current as f64);
        families.desired_replicas.set(&key, desired as f64);
        match utilization {
            Some(percent) => families.utilization.set(&key, percent as f64 / 100.0),
            None => families.utilization.remove(&key),
        }
    }

    /// The target utilization of one MemHpa, a percentage as in its spec,
    /// unless `live` says the MemHpa is gone (as for
    /// [`Metrics::set_memhpa_if_live`]). `None`, for a spec that did not
    /// validate, removes the series.
    pub fn set_target_if_live(
        &self,
        live: impl Fn() -> bool,
        namespace: &str,
        name: &str,
        target: Option<i64>,
    ) {
        let mut families = self.lock();
        if !live() {
            return;
        }
        let key = [namespace, name];
        match target {
            Some(percent) => families
                .target_utilization
                .set(&key, percent as f64 / 100.0),
            None => families.target_utilization.remove(&key),
        }
    }

    /// Drops every series of a deleted MemHpa.
    pub fn forget_memhpa(&self, namespace: &str, name: &str) {
        let mut families = self.lock();
        let key = [namespace, name];
        families.current_replicas.remove(&key);
        families.desired_replicas.remove(&key);
        families.utilization.remove(&key);
        families.target_utilization.remove(&key);
    }

    /// One Prometheus query; `error` is the kind of failure, if it failed.
    pub fn prom_query(&self, seconds: f64, error: Option<&str>) {
        let mut families = self.lock();
        families.prom_query_duration.observe(seconds);
        if let Some(kind) = error {
            families.prom_query_errors.add(&[kind], 1);
        }
    }

    /// One API server request and the HTTP status it got.
    pub fn api_request(&self, verb: &str, code: u16) {
        let code = code.to_string();
        self.lock().api_requests.add(&[verb, &code], 1);
    }

    /// One restart of the watch (relist after 410, a dropped stream, ...).
    pub fn watch_restart(&self, reason: &str) {
        self.lock().watch_restarts.add(&[reason], 1);
    }

    pub fn set_leader(&self, leader: bool) {
        self.lock().is_leader = if leader { 1.0 } else { 0.0 };
    }

    /// Every family in the text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let families = self.lock();
        let mut out = String::with_capacity(4096);
        write_header(
            &mut out,
            "memhpa_build_info",
            "gauge",
            "Always 1; the version label says which memhpa is running.",
        );
        write_sample(
            &mut out,
            "memhpa_build_info",
            &[("version", self.version)],
            1.0,
        );
        families.reconciles.render(&mut out);
        families.reconcile_duration.render(&mut out);
        families.scale_writes.render(&mut out);
        families.current_replicas.render(&mut out);
        families.desired_replicas.render(&mut out);
        families.utilization.render(&mut out);
        families.target_utilization.render(&mut out);
        families.prom_query_duration.render(&mut out);
        families.prom_query_errors.render(&mut out);
        families.api_requests.render(&mut out);
        families.watch_restarts.render(&mut out);
        write_header(
            &mut out,
            "memhpa_is_leader",
            "gauge",
            "1 while this replica holds the leader Lease (or leader election is off), else 0.",
        );
        write_sample(&mut out, "memhpa_is_leader", &[], families.is_leader);
        out
    }

    /// A panic elsewhere while the lock was held leaves consistent counters (every
    /// update is a few additions), so a poisoned lock is used as it is rather
    /// than taking /metrics down with it.
    fn lock(&self) -> MutexGuard<'_, Families> {
        crate::shutdown::lock(&self.inner)
    }
}

struct CounterVec {
    name: &'static str,
    help: &'static str,
    label_names: &'static [&'static str],
    series: BTreeMap<LabelValues, u64>,
}

impl CounterVec {
    fn new(name: &'static str, help: &'static str, label_names: &'static [&'static str]) -> Self {
        CounterVec {
            name,
            help,
            label_names,
            series: BTreeMap::new(),
        }
    }

    fn add(&mut self, values: &[&str], by: u64) {
        let count = self.series.entry(owned(values)).or_insert(0);
        *count = count.saturating_add(by);
    }

    fn render(&self, out: &mut String) {
        write_header(out, self.name, "counter", self.help);
        for (values, count) in &self.series {
            let labels = zip_labels(self.label_names, values);
            write_sample(out, self.name, &labels, *count as f64);
        }
    }
}

struct GaugeVec {
    name: &'static str,
    help: &'static str,
    label_names: &'static [&'static str],
    series: BTreeMap<LabelValues, f64>,
}

impl GaugeVec {
    fn new(name: &'static str, help: &'static str, label_names: &'static [&'static str]) -> Self {
        GaugeVec {
            name,
            help,
            label_names,
            series: BTreeMap::new(),
        }
    }

    fn set(&mut self, values: &[&str], value: f64) {
        self.series.insert(owned(values), value);
    }

    fn remove(&mut self, values: &[&str]) {
        self.series.remove(&owned(values));
    }

    fn render(&self, out: &mut String) {
        write_header(out, self.name, "gauge", self.help);
        for (values, value) in &self.series {
            let labels = zip_labels(self.label_names, values);
            write_sample(out, self.name, &labels, *value);
        }
    }
}

/// An unlabelled histogram. Counts are kept per bucket and made cumulative on
/// render, which is what the format wants.
struct Histogram {
    name: &'static str,
    help: &'static str,
    bounds: &'static [f64],
    /// `counts[i]` observations fell in `(bounds[i-1], bounds[i]]`; the last slot
    /// is the `+Inf` bucket.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(name: &'static str, help: &'static str, bounds: &'static [f64]) -> Self {
        Histogram {
            name,
            help,
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    /// A negative or non-finite duration can only come from a clock step; it is
    /// counted as 0 so one bad reading cannot turn `_sum` into NaN for good.
    fn observe(&mut self, seconds: f64) {
        let seconds = if seconds.is_finite() && seconds > 0.0 {
            seconds
        } else {
            0.0
        };
        let slot = self
            .bounds
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(self.bounds.len());
        self.counts[slot] += 1;
        self.sum += seconds;
        self.count += 1;
    }

    fn render(&self, out: &mut String) {
        write_header(out, self.name, "histogram", self.help);
        let bucket = format!("{}_bucket", self.name);
        let mut cumulative = 0u64;
        for (slot, count) in self.counts.iter().enumerate() {
            cumulative += count;
            let le = match self.bounds.get(slot) {
                Some(bound) => format_value(*bound),
                None => "+Inf".to_string(),
            };
            write_sample(out, &bucket, &[("le", &le)], cumulative as f64);
        }
        write_sample(out, &format!("{}_sum", self.name), &[], self.sum);
        write_sample(out, &format!("{}_count", self.name), &[], self.count as f64);
    }
}

fn owned(values: &[&str]) -> LabelValues {
    values.iter().map(|v| v.to_string()).collect()
}

fn zip_labels<'a>(names: &'a [&'a str], values: &'a [String]) -> Vec<(&'a str, &'a str)> {
    names
        .iter()
        .copied()
        .zip(values.iter().map(String::as_str))
        .collect()
}

fn write_header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn write_sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (label, label_value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{label}=\"{}\"", escape_label_value(label_value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", format_value(value));
}

/// Label values escape backslash, double quote and line feed; nothing else.
fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out
}

/// HELP text escapes only backslash and line feed.
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Rust spells infinity `inf`; the format wants `+Inf`, `-Inf` and `NaN`.
fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value == f64::INFINITY {
        "+Inf".to_string()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// The sample lines of `text` whose metric name (before `{` or space) is `name`.
    fn samples<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .filter(|line| {
                line.split(['{', ' '])
                    .next()
                    .is_some_and(|metric| metric == name)
            })
            .collect()
    }

    fn value_of(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|value| value.parse().ok())
    }

    #[test]
    fn a_forgotten_memhpa_is_not_set_again_once_gone() {
        let metrics = Metrics::new();
        metrics.set_memhpa("demo", "web", 2, 3, Some(85));
        let gone = std::sync::atomic::AtomicBool::new(true);
        metrics.forget_memhpa("demo", "web");
        metrics.set_memhpa_if_live(
            || !gone.load(std::sync::atomic::Ordering::SeqCst),
            "demo",
            "web",
            2,
            3,
            Some(85),
        );
        assert!(
            !metrics.render().contains("name=\"web\""),
            "{}",
            metrics.render()
        );
        gone.store(false, std::sync::atomic::Ordering::SeqCst);
        metrics.set_memhpa_if_live(
            || !gone.load(std::sync::atomic::Ordering::SeqCst),
            "demo",
            "web",
            2,
            3,
            Some(85),
        );
        assert!(metrics
            .render()
            .contains("memhpa_desired_replicas{namespace=\"demo\",name=\"web\"} 3"));
    }

    #[test]
    fn fresh_registry_has_zero_baselines_and_build_info() {
        let text = Metrics::new().render();
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            value_of(
                &text,
                &format!("memhpa_build_info{{version=\"{version}\"}}")
            ),
            Some(1.0),
            "{text}"
        );
        for result in ["success", "error", "skipped"] {
            let series = format!("memhpa_reconciles_total{{result=\"{result}\"}}");
            assert_eq!(value_of(&text, &series), Some(0.0), "{text}");
        }
        assert_eq!(value_of(&text, "memhpa_is_leader"), Some(0.0), "{text}");
    }

    #[test]
    fn every_family_has_help_then_type() {
        let text = Metrics::new().render();
        let lines: Vec<&str> = text.lines().collect();
        let types: Vec<&str> = lines
            .iter()
            .filter(|l| l.starts_with("# TYPE "))
            .copied()
            .collect();
        assert_eq!(types.len(), 13, "{text}");
        for (i, line) in lines.iter().enumerate() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap_or_default();
                assert!(
                    i > 0 && lines[i - 1].starts_with(&format!("# HELP {name} ")),
                    "no HELP right before {line}"
                );
            }
        }
    }

    #[test]
    fn counters_count_by_label() {
        let metrics = Metrics::new();
        metrics.reconcile(ReconcileResult::Success, 0.1);
        metrics.reconcile(ReconcileResult::Success, 0.2);
        metrics.reconcile(ReconcileResult::Error, 0.3);
        metrics.scale_write("up");
        metrics.api_request("get", 200);
        metrics.api_request("get", 200);
        metrics.api_request("update", 409);
        metrics.watch_restart("gone");
        let text = metrics.render();
        let expect = [
            ("memhpa_reconciles_total{result=\"success\"}", 2.0),
            ("memhpa_reconciles_total{result=\"error\"}", 1.0),
            ("memhpa_reconciles_total{result=\"skipped\"}", 0.0),
            ("memhpa_scale_writes_total{direction=\"up\"}", 1.0),
            ("memhpa_scale_writes_total{direction=\"down\"}", 0.0),
            ("memhpa_api_requests_total{verb=\"get\",code=\"200\"}", 2.0),
            (
                "memhpa_api_requests_total{verb=\"update\",code=\"409\"}",
                1.0,
            ),
            ("memhpa_watch_restarts_total{reason=\"gone\"}", 1.0),
        ];
        for (series, want) in expect {
            assert_eq!(value_of(&text, series), Some(want), "{series} in\n{text}");
        }
    }

    #[test]
    fn histogram_buckets_are_cumulative_with_inf_sum_and_count() {
        let metrics = Metrics::new();
        for seconds in [0.003, 0.05, 0.07, 3.0, 60.0] {
            metrics.reconcile(ReconcileResult::Success, seconds);
        }
        let text = metrics.render();
        let bucket = |le: &str| {
            value_of(
                &text,
                &format!("memhpa_reconcile_duration_seconds_bucket{{le=\"{le}\"}}"),
            )
        };
        assert_eq!(bucket("0.005"), Some(1.0), "{text}");
        assert_eq!(bucket("0.025"), Some(1.0));
        assert_eq!(bucket("0.05"), Some(2.0), "upper bounds are inclusive");
        assert_eq!(bucket("0.1"), Some(3.0));
        assert_eq!(bucket("2.5"), Some(3.0));
        assert_eq!(bucket("5"), Some(4.0));
        assert_eq!(bucket("10"), Some(4.0));
        assert_eq!(bucket("+Inf"), Some(5.0));
        assert_eq!(
            value_of(&text, "memhpa_reconcile_duration_seconds_count"),
            Some(5.0)
        );
        let sum = value_of(&text, "memhpa_reconcile_duration_seconds_sum").unwrap_or(-1.0);
        assert!((sum - 63.123).abs() < 1e-9, "{sum}");
        let buckets = samples(&text, "memhpa_reconcile_duration_seconds_bucket");
        assert_eq!(buckets.len(), RECONCILE_BUCKETS.len() + 1);
        assert!(buckets[buckets.len() - 1].contains("le=\"+Inf\""));
    }

    #[test]
    fn histogram_counts_bad_durations_as_zero() {
        let metrics = Metrics::new();
        metrics.prom_query(f64::NAN, None);
        metrics.prom_query(-1.0, None);
        metrics.prom_query(f64::INFINITY, Some("timeout"));
        let text = metrics.render();
        assert_eq!(
            value_of(&text, "memhpa_prometheus_query_duration_seconds_sum"),
            Some(0.0),
            "{text}"
        );
        assert_eq!(
            value_of(
                &text,
                "memhpa_prometheus_query_duration_seconds_bucket{le=\"0.005\"}"
            ),
            Some(3.0)
        );
        assert_eq!(
            value_of(
                &text,
                "memhpa_prometheus_query_errors_total{kind=\"timeout\"}"
            ),
            Some(1.0)
        );
    }

    #[test]
    fn memhpa_gauges_set_replace_and_forget() {
        let metrics = Metrics::new();
        metrics.set_memhpa("demo", "web", 2, 3, Some(85));
        metrics.set_memhpa("demo", "web", 3, 3, Some(70));
        metrics.set_memhpa("other", "db", 1, 1, None);
        let text = metrics.render();
        let web = "{namespace=\"demo\",name=\"web\"}";
        assert_eq!(
            value_of(&text, &format!("memhpa_current_replicas{web}")),
            Some(3.0)
        );
        assert_eq!(
            value_of(&text, &format!("memhpa_desired_replicas{web}")),
            Some(3.0)
        );
        assert_eq!(
            value_of(&text, &format!("memhpa_memory_utilization_ratio{web}")),
            Some(0.7)
        );
        assert_eq!(samples(&text, "memhpa_current_replicas").len(), 2);
        assert_eq!(
            samples(&text, "memhpa_memory_utilization_ratio").len(),
            1,
            "unknown utilization has no series: {text}"
        );

        metrics.set_memhpa("demo", "web", 3, 3, None);
        metrics.forget_memhpa("other", "db");
        let text = metrics.render();
        assert!(samples(&text, "memhpa_memory_utilization_ratio").is_empty());
        assert_eq!(samples(&text, "memhpa_current_replicas").len(), 1);
        assert!(!text.contains("name=\"db\""), "{text}");
    }

    #[test]
    fn the_target_is_a_ratio_removed_with_the_memhpa_or_an_invalid_spec() {
        let metrics = Metrics::new();
        let web = "memhpa_target_utilization_ratio{namespace=\"demo\",name=\"web\"}";
        metrics.set_target_if_live(|| true, "demo", "web", Some(70));
        assert_eq!(value_of(&metrics.render(), web), Some(0.7));
        metrics.set_target_if_live(|| true, "demo", "web", None);
        assert_eq!(value_of(&metrics.render(), web), None);
        metrics.set_target_if_live(|| true, "demo", "web", Some(80));
        metrics.forget_memhpa("demo", "web");
        assert_eq!(value_of(&metrics.render(), web), None);
        metrics.set_target_if_live(|| false, "demo", "web", Some(80));
        assert_eq!(value_of(&metrics.render(), web), None, "gone stays gone");
    }

    #[test]
    fn label_values_are_escaped() {
        let metrics = Metrics::new();
        metrics.watch_restart("a\\b\"c\nd");
        let text = metrics.render();
        assert!(
            text.contains("memhpa_watch_restarts_total{reason=\"a\\\\b\\\"c\\nd\"} 1\n"),
            "{text}"
        );
        assert!(
            text.lines().all(|line| !line.contains("c\nd")),
            "a raw newline would split the sample"
        );
    }

    #[test]
    fn leader_gauge_follows_set_leader() {
        let metrics = Metrics::new();
        metrics.set_leader(true);
        assert_eq!(value_of(&metrics.render(), "memhpa_is_leader"), Some(1.0));
        metrics.set_leader(false);
        assert_eq!(value_of(&metrics.render(), "memhpa_is_leader"), Some(0.0));
    }

    #[test]
    fn values_use_the_format_spelling_of_special_floats() {
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(0.025), "0.025");
        assert_eq!(format_value(3.0), "3");
    }

    #[test]
    fn help_escapes_backslash_and_newline_only() {
        assert_eq!(escape_help("a\\b\n\"c\""), "a\\\\b\\n\"c\"");
    }

    #[test]
    fn metrics_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Metrics>();
    }
}
