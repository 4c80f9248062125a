//! Reading a workload's history from Prometheus: its pods, their working set
//! with the controller's own query, and their memory limit.
//!
//! The queries go out through [`crate::prom::Client`], so the replay uses the
//! controller's `-prom-*` flags: URL, `-prom-query`, timeout, bearer token,
//! CA bundle and `-allow-insecure-http`.

use std::collections::BTreeMap;
use std::fmt;

use super::membership::{self, Membership, Workload, WorkloadKind};
use super::{History, LimitSource, Point};
use crate::prom::{
    regex_escape, Client, PromError, Range, RangeSeries, SampleValue, MAX_FORM_BODY,
};
use crate::quote::quote;

/// Longest text quoted into one of these messages.
const QUOTE_LIMIT: usize = 240;

/// Why no history could be read.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryError {
    /// A query failed (Prometheus unreachable, refused, garbled).
    Prom(PromError),
    /// Prometheus holds no working set of the workload's pods in the range.
    NoData { workload: String, query: String },
    /// No `-limit-bytes`, and kube-state-metrics holds no memory limit for
    /// the workload's pods.
    NoLimit { workload: String, query: String },
    /// The owner series name more pods than one query can list.
    TooManyPods { workload: String, pods: usize },
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryError::Prom(err) => write!(f, "{err}"),
            HistoryError::NoData { workload, query } => write!(
                f,
                "Prometheus holds no working set for the pods of {workload} in the range (query {}); check -workload, -since and -until",
                quote(query, QUOTE_LIMIT)
            ),
            HistoryError::NoLimit { workload, query } => write!(
                f,
                "no memory limit for the pods of {workload}: kube-state-metrics has none in the range (query {}); give -limit-bytes",
                quote(query, QUOTE_LIMIT)
            ),
            HistoryError::TooManyPods { workload, pods } => write!(
                f,
                "{workload} had {pods} pods in the range, more than one query can list; shorten -since"
            ),
        }
    }
}

impl std::error::Error for HistoryError {}

impl From<PromError> for HistoryError {
    fn from(err: PromError) -> Self {
        HistoryError::Prom(err)
    }
}

/// The history of `workload` over `range`; `limit_bytes` (`-limit-bytes`)
/// replaces kube-state-metrics' limit, and `container` (a spec's
/// `container` option) counts that one container of each pod.
pub fn fetch(
    client: &Client,
    workload: &Workload,
    range: Range,
    limit_bytes: Option<u64>,
    container: Option<&str>,
) -> Result<History, HistoryError> {
    let membership = membership_of(client, workload, range)?;
    let query = membership::working_set_query(
        &client.usage_query(&workload.namespace, &membership.pod_regex),
        container,
    );
    let working_set = client.query_range(&query, range)?;
    let (points, skipped) = points(&range, &working_set.series);
    if points.is_empty() {
        return Err(HistoryError::NoData {
            workload: workload.to_string(),
            query,
        });
    }
    let (limit_bytes, limit_source) = match limit_bytes {
        Some(bytes) => (bytes, LimitSource::Flag),
        None => (
            limit_from_metrics(client, workload, &membership, range, container)?,
            LimitSource::KubeStateMetrics,
        ),
    };
    Ok(History {
        workload: workload.clone(),
        range,
        membership,
        limit_bytes,
        limit_source,
        points,
        skipped,
    })
}

/// The owner series where kube-state-metrics has them, else the kind's name
/// pattern.
fn membership_of(
    client: &Client,
    workload: &Workload,
    range: Range,
) -> Result<Membership, HistoryError> {
    let (owner_kind, owners) = match workload.kind {
        WorkloadKind::Deployment => {
            let query = membership::replicasets_query(workload);
            let sets = label_values(&client.query_range(&query, range)?.series, "replicaset");
            if sets.is_empty() {
                return Ok(Membership::by_name(workload));
            }
            (WorkloadKind::ReplicaSet, membership::alternation(&sets))
        }
        kind => (kind, regex_escape(&workload.name)),
    };
    let query = membership::pods_query(&workload.namespace, owner_kind, &owners);
    let pods = label_values(&client.query_range(&query, range)?.series, "pod");
    if pods.is_empty() {
        return Ok(Membership::by_name(workload));
    }
    let owned = Membership::owned(&pods);
    // The list goes into every later query; past the controller's own bound
    // on a query body it would be slow for Prometheus to compile.
    if owned.pod_regex.len() > MAX_FORM_BODY / 2 {
        return Err(HistoryError::TooManyPods {
            workload: workload.to_string(),
            pods: pods.len(),
        });
    }
    Ok(owned)
}

/// The distinct values of `label` over `series`, in order.
fn label_values(series: &[RangeSeries], label: &str) -> Vec<String> {
    let mut values: Vec<String> = series
        .iter()
        .filter_map(|s| s.label(label))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect();
    values.sort();
    values.dedup();
    values
}

fn limit_from_metrics(
    client: &Client,
    workload: &Workload,
    membership: &Membership,
    range: Range,
    container: Option<&str>,
) -> Result<u64, HistoryError> {
    let query = membership::limits_query(&workload.namespace, &membership.pod_regex, container);
    let answer = client.query_range(&query, range)?;
    common_limit(&answer.series).ok_or_else(|| HistoryError::NoLimit {
        workload: workload.to_string(),
        query,
    })
}

/// Per-pod working-set series (label `pod`) summed up at each time of
/// `range`: the points with data, and how many times had none. A time where
/// any pod's sample is not a byte count is skipped whole: the controller
/// would have seen that pod as missing, and its share is unknown.
pub fn points(range: &Range, series: &[RangeSeries]) -> (Vec<Point>, usize) {
    #[derive(Default)]
    struct Sum {
        total: f64,
        pods: u32,
        max: f64,
        not_a_number: bool,
    }
    let mut sums: BTreeMap<i64, Sum> = BTreeMap::new();
    for one in series {
        for (t, value) in &one.samples {
            let sum = sums.entry(*t).or_default();
            match value {
                SampleValue::Bytes(bytes) => {
                    sum.total += bytes;
                    sum.pods = sum.pods.saturating_add(1);
                    sum.max = sum.max.max(*bytes);
                }
                SampleValue::NotANumber(_) => sum.not_a_number = true,
            }
        }
    }
    let points: Vec<Point> = range
        .times()
        .filter_map(|t| match sums.get(&t) {
            Some(sum) if !sum.not_a_number && sum.pods > 0 => Some(Point {
                t,
                total_bytes: sum.total,
                pods: sum.pods,
                max_pod_bytes: sum.max,
            }),
            _ => None,
        })
        .collect();
    let skipped = usize::try_from(range.steps())
        .unwrap_or(usize::MAX)
        .saturating_sub(points.len());
    (points, skipped)
}

/// The limit most pods had most of the time: each pod's most common value,
/// then the most common over the pods; a tie goes to the larger, the safer
/// reading of OOM risk. `None` without one positive byte count.
pub fn common_limit(series: &[RangeSeries]) -> Option<u64> {
    let per_pod = series.iter().filter_map(|s| {
        most_common(s.samples.iter().filter_map(|(_, value)| match value {
            SampleValue::Bytes(bytes) if *bytes >= 1.0 => Some(bytes.round() as u64),
            _ => None,
        }))
    });
    most_common(per_pod)
}

fn most_common(values: impl Iterator<Item = u64>) -> Option<u64> {
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    for value in values {
        *counts.entry(value).or_default() += 1;
    }
    // max_by_key keeps the last of equals, and the map is in ascending order.
    counts
        .into_iter()
        .max_by_key(|&(_, count)| count)
        .map(|(value, _)| value)
}

#[cfg(test)]
mod test {
    use super::*;

    fn series(pod: &str, samples: &[(i64, Option<f64>)]) -> RangeSeries {
        RangeSeries {
            labels: [("pod".to_string(), pod.to_string())].into(),
            samples: samples
                .iter()
                .map(|&(t, v)| {
                    (
                        t,
                        v.map_or(SampleValue::NotANumber("NaN".into()), SampleValue::Bytes),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn points_sum_count_and_take_the_largest_pod() {
        let range = Range::new(0, 120, 60).expect("range");
        let all = [
            series("a", &[(0, Some(10.0)), (60, Some(20.0)), (120, Some(5.0))]),
            series("b", &[(60, Some(30.0)), (120, None)]),
        ];
        let (points, skipped) = points(&range, &all);
        assert_eq!(
            points,
            [
                Point {
                    t: 0,
                    total_bytes: 10.0,
                    pods: 1,
                    max_pod_bytes: 10.0
                },
                Point {
                    t: 60,
                    total_bytes: 50.0,
                    pods: 2,
                    max_pod_bytes: 30.0
                },
            ]
        );
        assert_eq!(skipped, 1, "the step with a NaN pod is skipped");
    }

    #[test]
    fn times_without_any_sample_are_skipped_and_counted() {
        let range = Range::new(0, 300, 60).expect("range");
        let (points, skipped) = points(&range, &[series("a", &[(120, Some(1.0))])]);
        assert_eq!(points.iter().map(|p| p.t).collect::<Vec<_>>(), [120]);
        assert_eq!(skipped, 5);
    }

    #[test]
    fn samples_off_the_step_grid_are_ignored() {
        let range = Range::new(0, 60, 60).expect("range");
        let (points, _) = points(&range, &[series("a", &[(30, Some(1.0))])]);
        assert!(points.is_empty());
    }

    #[test]
    fn the_common_limit_is_each_pods_usual_then_the_pods_usual() {
        let gi = 1073741824.0;
        let all = [
            series("a", &[(0, Some(gi)), (60, Some(gi)), (120, Some(2.0 * gi))]),
            series("b", &[(0, Some(gi))]),
            series("c", &[(0, Some(2.0 * gi)), (60, Some(2.0 * gi))]),
            series("d", &[(0, Some(gi)), (60, None)]),
        ];
        assert_eq!(common_limit(&all), Some(1 << 30));
    }

    #[test]
    fn a_tie_between_limits_goes_to_the_larger() {
        let all = [
            series("a", &[(0, Some(100.0))]),
            series("b", &[(0, Some(200.0))]),
        ];
        assert_eq!(common_limit(&all), Some(200));
    }

    #[test]
    fn no_positive_limit_is_none() {
        assert_eq!(
            common_limit(&[series("a", &[(0, Some(0.0)), (60, None)])]),
            None
        );
        assert_eq!(common_limit(&[]), None);
    }

    #[test]
    fn label_values_are_distinct_and_sorted() {
        let all = [
            series("b", &[]),
            series("a", &[]),
            series("b", &[]),
            series("", &[]),
        ];
        assert_eq!(label_values(&all, "pod"), ["a", "b"]);
    }
}
