//! Per-pod, per-container memory of one namespace, built from decoded series.
//!
//! Only byte counts ([`is_byte_count`]: finite, not negative, at most 1 PiB)
//! become numbers. Any other sample leaves its container out and is kept as a
//! [`Problem`], so the pod counts as *missing* (never as zero, never as huge)
//! and the controller can say why in a condition.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::decode::{SampleValue, Series};
use super::error::{quote, PromError};
use crate::api::is_byte_count;

/// Memory of the wanted pods of one namespace, in bytes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Usage {
    namespace: String,
    pods: BTreeMap<String, PodUsage>,
    problems: Vec<Problem>,
    warnings: Vec<String>,
}

/// What Prometheus gave for one pod.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PodUsage {
    containers: BTreeMap<String, f64>,
    whole_pod: Option<f64>,
    per_container: bool,
}

/// Which containers of a pod the caller counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted<'a> {
    /// All app containers of the pod (from its spec); a per-pod sum also serves.
    AllOf(&'a [String]),
    /// One container (the MemHpa's `container` option); needs per-container series.
    Only(&'a str),
}

/// A series of a wanted pod whose value is not a byte count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub pod: String,
    /// `None` for a per-pod series (a template that sums per pod).
    pub container: Option<String>,
    /// The sample as Prometheus wrote it: `NaN`, `+Inf`, `-5`, ...
    pub value: String,
}

/// Why a pod has no usable sample: the controller treats the pod as missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// Prometheus returned no series at all for the pod.
    NoSeries { pod: String },
    /// The pod has series, but none for this counted container.
    NoContainerSeries { pod: String, container: String },
    /// The series is there but its value is not a byte count: NaN, infinite,
    /// negative or beyond any physical memory.
    NotANumber {
        pod: String,
        container: Option<String>,
        value: String,
    },
    /// The query returns per-pod sums, so one container cannot be picked.
    PerPodOnly { pod: String, container: String },
}

impl Usage {
    /// No pods asked for, so nothing queried.
    pub(super) fn empty(namespace: &str) -> Usage {
        Usage {
            namespace: namespace.to_string(),
            ..Usage::default()
        }
    }

    /// A usage from `(pod, container, value)` samples, as a per-container answer
    /// would give it: a value that is not a byte count becomes a [`Problem`].
    /// For fakes in the tests of callers (a fake metrics source).
    pub fn from_samples<'a>(
        namespace: &str,
        samples: impl IntoIterator<Item = (&'a str, &'a str, f64)>,
    ) -> Usage {
        let mut slots: BTreeMap<SlotKey, Slot> = BTreeMap::new();
        for (pod, container, value) in samples {
            let slot = slots
                .entry((pod.to_string(), Some(container.to_string())))
                .or_default();
            if is_byte_count(value) {
                slot.bytes = Some(slot.bytes.map_or(value, |seen| seen.max(value)));
            } else {
                slot.bad = Some(value.to_string());
            }
        }
        fill(namespace, slots, Vec::new())
    }

    /// The namespace the usage is for.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The pods with at least one series, valid or not.
    pub fn pods(&self) -> impl Iterator<Item = (&str, &PodUsage)> {
        self.pods.iter().map(|(name, usage)| (name.as_str(), usage))
    }

    /// What Prometheus gave for `pod`, if anything.
    pub fn pod(&self, pod: &str) -> Option<&PodUsage> {
        self.pods.get(pod)
    }

    /// Bytes of one container, if it has a valid sample.
    pub fn container_bytes(&self, pod: &str, container: &str) -> Option<f64> {
        self.pods
            .get(pod)
            .and_then(|usage| usage.container(container))
    }

    /// The pod's usage over the `counted` containers, or why it is missing. A pod
    /// that lacks any counted container is missing as a whole, as the metrics API
    /// treats it: adding up the rest would under-count it. Series of containers
    /// not counted (an ephemeral debug container, say) are ignored; an empty
    /// `AllOf` list counts nothing and gives 0 for a pod that has series.
    pub fn bytes(&self, pod: &str, counted: Counted<'_>) -> Result<f64, Missing> {
        let Some(usage) = self.pods.get(pod) else {
            return Err(Missing::NoSeries {
                pod: pod.to_string(),
            });
        };
        if !usage.per_container {
            return match counted {
                Counted::AllOf(_) => usage.whole_pod.ok_or_else(|| self.missing(pod, None)),
                Counted::Only(container) => Err(Missing::PerPodOnly {
                    pod: pod.to_string(),
                    container: container.to_string(),
                }),
            };
        }
        let names: &[String] = match counted {
            Counted::AllOf(names) => names,
            Counted::Only(name) => {
                return usage
                    .container(name)
                    .ok_or_else(|| self.missing(pod, Some(name)))
            }
        };
        names.iter().try_fold(0.0, |sum, name| {
            usage
                .container(name)
                .map(|bytes| sum + bytes)
                .ok_or_else(|| self.missing(pod, Some(name)))
        })
    }

    /// Series of wanted pods whose value was not a byte count.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The problem recorded for one pod and container (`None`: per-pod series).
    pub fn problem(&self, pod: &str, container: Option<&str>) -> Option<&Problem> {
        self.problems
            .iter()
            .find(|p| p.pod == pod && p.container.as_deref() == container)
    }

    /// Warnings Prometheus sent with a successful answer.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn missing(&self, pod: &str, container: Option<&str>) -> Missing {
        match (self.problem(pod, container), container) {
            (Some(problem), _) => Missing::NotANumber {
                pod: pod.to_string(),
                container: problem.container.clone(),
                value: problem.value.clone(),
            },
            (None, Some(container)) => Missing::NoContainerSeries {
                pod: pod.to_string(),
                container: container.to_string(),
            },
            (None, None) => Missing::NoSeries {
                pod: pod.to_string(),
            },
        }
    }
}

impl PodUsage {
    /// Valid per-container samples, by container name.
    pub fn containers(&self) -> &BTreeMap<String, f64> {
        &self.containers
    }

    /// Bytes of one container, if it has a valid sample.
    pub fn container(&self, name: &str) -> Option<f64> {
        self.containers.get(name).copied()
    }

    /// The per-pod value, when the query returned per-pod sums (no `container`
    /// label) and no per-container series for this pod.
    pub fn whole_pod(&self) -> Option<f64> {
        self.whole_pod
    }

    /// Whether the pod's series carry a `container` label.
    pub fn is_per_container(&self) -> bool {
        self.per_container
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.container {
            Some(container) => {
                write!(f, "pod {} container {}", quote(&self.pod), quote(container))?
            }
            None => write!(f, "pod {}", quote(&self.pod))?,
        }
        write!(
            f,
            ": sample {} is not a byte count (a finite number from 0 to 1 PiB)",
            quote(&self.value)
        )
    }
}

impl std::error::Error for Missing {}

// Every name and value here is Prometheus' text, so each is quoted bounded: a
// hostile answer cannot flood a condition, an Event or the log.
impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::NoSeries { pod } => {
                write!(f, "Prometheus has no memory series for pod {}", quote(pod))
            }
            Missing::NoContainerSeries { pod, container } => write!(
                f,
                "Prometheus has no memory series for container {} of pod {}",
                quote(container),
                quote(pod)
            ),
            Missing::NotANumber {
                pod,
                container: Some(container),
                value,
            } => write!(
                f,
                "the memory sample of container {} of pod {} is {}, not a byte count",
                quote(container),
                quote(pod),
                quote(value)
            ),
            Missing::NotANumber {
                pod,
                container: None,
                value,
            } => write!(
                f,
                "the memory sample of pod {} is {}, not a byte count",
                quote(pod),
                quote(value)
            ),
            Missing::PerPodOnly { pod, container } => write!(
                f,
                "the query returns one value per pod, so container {} of pod {} cannot be picked",
                quote(container),
                quote(pod)
            ),
        }
    }
}

/// The best sample seen for one pod and container: several series for the same
/// container (an old and a new container during a restart) give their maximum,
/// as the default query's `max by` does.
#[derive(Default)]
struct Slot {
    bytes: Option<f64>,
    bad: Option<String>,
}

type SlotKey = (String, Option<String>);

/// Builds the usage of the `wanted` pods of `namespace` from `series`. Series of
/// other pods or namespaces (a template may not filter) and `POD` or empty
/// container series are dropped. `query` names the query in errors.
pub fn build(
    namespace: &str,
    wanted: &[String],
    query: &str,
    series: Vec<Series>,
    warnings: Vec<String>,
) -> Result<Usage, PromError> {
    let wanted: BTreeSet<&str> = wanted.iter().map(String::as_str).collect();
    let mut slots: BTreeMap<SlotKey, Slot> = BTreeMap::new();
    let mut unwanted_series = 0;
    for one in series {
        let Some(key) = slot_key(namespace, &wanted, &one) else {
            unwanted_series += 1;
            continue;
        };
        let slot = slots.entry(key).or_default();
        match one.value {
            SampleValue::Bytes(bytes) => {
                slot.bytes = Some(slot.bytes.map_or(bytes, |seen| seen.max(bytes)))
            }
            SampleValue::NotANumber(raw) => slot.bad = slot.bad.take().or(Some(raw)),
        }
    }
    if slots.is_empty() {
        return Err(PromError::Empty {
            namespace: namespace.to_string(),
            query: query.to_string(),
            unwanted_series,
        });
    }
    let usage = fill(namespace, slots, warnings);
    if usage
        .pods
        .values()
        .all(|pod| pod.containers.is_empty() && pod.whole_pod.is_none())
    {
        return Err(PromError::NonFinite {
            namespace: namespace.to_string(),
            query: query.to_string(),
            problems: usage.problems,
        });
    }
    Ok(usage)
}

/// The pod and container a series counts for, or `None` if it is not counted.
fn slot_key(namespace: &str, wanted: &BTreeSet<&str>, series: &Series) -> Option<SlotKey> {
    if series
        .namespace
        .as_deref()
        .is_some_and(|ns| ns != namespace)
    {
        return None;
    }
    let pod = series.pod.as_deref().filter(|pod| wanted.contains(pod))?;
    if matches!(series.container.as_deref(), Some("") | Some("POD")) {
        return None;
    }
    Some((pod.to_string(), series.container.clone()))
}

fn fill(namespace: &str, slots: BTreeMap<SlotKey, Slot>, warnings: Vec<String>) -> Usage {
    let per_container: BTreeSet<String> = slots
        .keys()
        .filter(|(_, container)| container.is_some())
        .map(|(pod, _)| pod.clone())
        .collect();
    let mut usage = Usage {
        namespace: namespace.to_string(),
        warnings,
        ..Usage::default()
    };
    for ((pod, container), slot) in slots {
        let is_per_container = per_container.contains(&pod);
        // Beside per-container series, a series without a container label is the
        // pod-level cgroup, which already includes them: counting it would double.
        if container.is_none() && is_per_container {
            log::debug!("namespace {namespace:?} pod {pod:?}: ignoring the pod-level series beside per-container ones");
            continue;
        }
        let entry = usage.pods.entry(pod.clone()).or_default();
        entry.per_container = is_per_container;
        match (slot.bytes, container) {
            (Some(bytes), Some(container)) => {
                entry.containers.insert(container, bytes);
            }
            (Some(bytes), None) => entry.whole_pod = Some(bytes),
            (None, container) => {
                let value = slot.bad.unwrap_or_default();
                usage.problems.push(Problem {
                    pod,
                    container,
                    value,
                });
            }
        }
    }
    usage
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_huge_sample_text_is_quoted_short_in_the_message() {
        let missing = Missing::NotANumber {
            pod: "web-1".into(),
            container: Some("app".into()),
            value: format!("1e{}", "9".repeat(100_000)),
        };
        let text = missing.to_string();
        assert!(text.len() < 1_000, "{} bytes: {:.200}", text.len(), text);
        assert!(
            text.starts_with("the memory sample of container \"app\" of pod \"web-1\" is \"1e99"),
            "{text:.200}"
        );
        assert!(
            text.ends_with("more characters), not a byte count"),
            "{text:.200}"
        );
    }

    fn series(pod: &str, container: Option<&str>, value: SampleValue) -> Series {
        Series {
            namespace: Some("demo".into()),
            pod: Some(pod.into()),
            container: container.map(str::to_string),
            value,
        }
    }

    fn bytes(pod: &str, container: Option<&str>, value: f64) -> Series {
        series(pod, container, SampleValue::Bytes(value))
    }

    fn nan(pod: &str, container: Option<&str>) -> Series {
        series(pod, container, SampleValue::NotANumber("NaN".into()))
    }

    fn wanted(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn all(names: &[&str]) -> Vec<String> {
        wanted(names)
    }

    const MI: f64 = 1024.0 * 1024.0;

    #[test]
    fn per_container_sum_skips_pod_cgroup_and_pause() {
        let input = vec![
            bytes("web-1", Some("app"), 80.0 * MI),
            bytes("web-1", Some("sidecar"), 10.0 * MI),
            bytes("web-1", None, 95.0 * MI),
            bytes("web-1", Some("POD"), 1.0 * MI),
            bytes("web-1", Some(""), 7.0 * MI),
        ];
        let usage = build("demo", &wanted(&["web-1"]), "q", input, vec![]).expect("usage");
        let containers = all(&["app", "sidecar"]);
        assert_eq!(
            usage.bytes("web-1", Counted::AllOf(&containers)),
            Ok(90.0 * MI)
        );
        assert_eq!(usage.pod("web-1").map(|p| p.containers().len()), Some(2));
    }

    #[test]
    fn nan_container_makes_the_pod_missing_not_zero() {
        let input = vec![
            bytes("web-2", Some("app"), 70.0 * MI),
            nan("web-2", Some("sidecar")),
        ];
        let usage = build("demo", &wanted(&["web-2"]), "q", input, vec![]).expect("usage");
        let containers = all(&["app", "sidecar"]);
        assert_eq!(
            usage.bytes("web-2", Counted::AllOf(&containers)),
            Err(Missing::NotANumber {
                pod: "web-2".into(),
                container: Some("sidecar".into()),
                value: "NaN".into()
            })
        );
        assert_eq!(usage.container_bytes("web-2", "sidecar"), None);
        assert_eq!(usage.bytes("web-2", Counted::Only("app")), Ok(70.0 * MI));
        assert_eq!(usage.problems().len(), 1);
        assert!(usage.problems()[0].to_string().contains("\"NaN\""));
    }

    #[test]
    fn absent_container_series_makes_the_pod_missing() {
        let input = vec![bytes("web-3", Some("app"), 50.0 * MI)];
        let usage = build("demo", &wanted(&["web-3", "web-4"]), "q", input, vec![]).expect("usage");
        let containers = all(&["app", "sidecar"]);
        assert_eq!(
            usage.bytes("web-3", Counted::AllOf(&containers)),
            Err(Missing::NoContainerSeries {
                pod: "web-3".into(),
                container: "sidecar".into()
            })
        );
        assert_eq!(
            usage.bytes("web-4", Counted::AllOf(&containers)),
            Err(Missing::NoSeries {
                pod: "web-4".into()
            })
        );
    }

    #[test]
    fn per_pod_sums_serve_all_containers_but_not_one() {
        let input = vec![bytes("web-1", None, 90.0 * MI), nan("web-2", None)];
        let usage = build("demo", &wanted(&["web-1", "web-2"]), "q", input, vec![]).expect("usage");
        let containers = all(&["app", "sidecar"]);
        assert_eq!(
            usage.bytes("web-1", Counted::AllOf(&containers)),
            Ok(90.0 * MI)
        );
        assert_eq!(
            usage.bytes("web-1", Counted::Only("app")),
            Err(Missing::PerPodOnly {
                pod: "web-1".into(),
                container: "app".into()
            })
        );
        assert_eq!(
            usage.bytes("web-2", Counted::AllOf(&containers)),
            Err(Missing::NotANumber {
                pod: "web-2".into(),
                container: None,
                value: "NaN".into()
            })
        );
    }

    #[test]
    fn unwanted_pods_and_other_namespaces_are_dropped() {
        let mut other_ns = bytes("web-1", Some("app"), 5.0);
        other_ns.namespace = Some("other".into());
        let mut no_pod = bytes("x", Some("app"), 5.0);
        no_pod.pod = None;
        let input = vec![
            bytes("web-1", Some("app"), 1.0),
            other_ns,
            no_pod,
            bytes("stranger", Some("app"), 9.0),
        ];
        let usage = build("demo", &wanted(&["web-1"]), "q", input, vec![]).expect("usage");
        assert_eq!(
            usage.pods().map(|(name, _)| name).collect::<Vec<_>>(),
            vec!["web-1"]
        );
        assert_eq!(usage.container_bytes("web-1", "app"), Some(1.0));
    }

    #[test]
    fn duplicate_series_take_the_largest_valid_value() {
        let input = vec![
            bytes("web-1", Some("app"), 3.0),
            nan("web-1", Some("app")),
            bytes("web-1", Some("app"), 7.0),
        ];
        let usage = build("demo", &wanted(&["web-1"]), "q", input, vec![]).expect("usage");
        assert_eq!(usage.container_bytes("web-1", "app"), Some(7.0));
        assert!(usage.problems().is_empty());
    }

    #[test]
    fn nothing_for_wanted_pods_is_empty_error() {
        let err = build(
            "demo",
            &wanted(&["web-1"]),
            "q",
            vec![bytes("other", Some("a"), 1.0)],
            vec![],
        )
        .expect_err("empty");
        assert_eq!(
            err,
            PromError::Empty {
                namespace: "demo".into(),
                query: "q".into(),
                unwanted_series: 1
            }
        );
    }

    #[test]
    fn every_series_nan_is_non_finite_error() {
        let input = vec![nan("web-1", Some("app")), nan("web-2", None)];
        match build("demo", &wanted(&["web-1", "web-2"]), "q", input, vec![]) {
            Err(PromError::NonFinite { problems, .. }) => assert_eq!(problems.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_sample_beyond_physical_memory_makes_the_pod_missing() {
        // As Prometheus answers it: decoded, then built.
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"namespace":"demo","pod":"web-1","container":"app"},"value":[1,"83886080"]},
            {"metric":{"namespace":"demo","pod":"web-2","container":"app"},"value":[1,"1e308"]}]}}"#;
        let decoded = super::super::decode::decode("q", 200, body.as_bytes()).expect("decodes");
        let usage = build(
            "demo",
            &wanted(&["web-1", "web-2"]),
            "q",
            decoded.series,
            vec![],
        )
        .expect("usage");
        let app = all(&["app"]);
        assert_eq!(usage.bytes("web-1", Counted::AllOf(&app)), Ok(80.0 * MI));
        let missing = usage
            .bytes("web-2", Counted::AllOf(&app))
            .expect_err("1e308 is no byte count");
        assert_eq!(
            missing,
            Missing::NotANumber {
                pod: "web-2".into(),
                container: Some("app".into()),
                value: "1e308".into()
            }
        );
        assert!(missing.to_string().contains("\"1e308\""), "{missing}");
    }

    #[test]
    fn from_samples_refuses_what_is_not_a_byte_count() {
        let usage = Usage::from_samples(
            "demo",
            [
                ("web-1", "huge", 1e308),
                ("web-1", "negative", -1.0),
                ("web-1", "inf", f64::INFINITY),
                ("web-1", "ninf", f64::NEG_INFINITY),
                ("web-1", "pib", (1u64 << 50) as f64),
            ],
        );
        for container in ["huge", "negative", "inf", "ninf"] {
            assert_eq!(
                usage.container_bytes("web-1", container),
                None,
                "{container}"
            );
        }
        assert_eq!(
            usage.container_bytes("web-1", "pib"),
            Some((1u64 << 50) as f64)
        );
        assert_eq!(usage.problems().len(), 4);
    }

    #[test]
    fn from_samples_keeps_numbers_and_records_the_rest() {
        let usage = Usage::from_samples(
            "demo",
            [("web-1", "app", 5.0), ("web-1", "sidecar", f64::NAN)],
        );
        assert_eq!(usage.container_bytes("web-1", "app"), Some(5.0));
        assert_eq!(
            usage.bytes("web-1", Counted::AllOf(&all(&["app", "sidecar"]))),
            Err(Missing::NotANumber {
                pod: "web-1".into(),
                container: Some("sidecar".into()),
                value: "NaN".into()
            })
        );
    }

    #[test]
    fn warnings_are_kept() {
        let usage = build(
            "demo",
            &wanted(&["web-1"]),
            "q",
            vec![bytes("web-1", Some("a"), 1.0)],
            vec!["w".into()],
        )
        .expect("ok");
        assert_eq!(usage.warnings(), ["w".to_string()]);
        assert_eq!(usage.namespace(), "demo");
    }
}
