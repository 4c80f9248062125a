//! Pod memory from Prometheus.
//!
//! [`Client::pod_usage`] sends one instant query per namespace (POST
//! `/api/v1/query`, form body, so a long pod list never meets a URL limit) and
//! returns a [`Usage`]: bytes by pod and container.
//!
//! # The query
//! By default ([`DEFAULT_QUERY_TEMPLATE`]):
//!
//! ```text
//! max by (namespace, pod, container) (avg_over_time(container_memory_working_set_bytes{namespace="{namespace}",pod=~"{pods}",container!="",container!="POD"}[{window}]))
//! ```
//!
//! `-prom-query` replaces it. The placeholders are filled in one pass:
//! - `{namespace}`: the namespace, escaped for a double-quoted PromQL string;
//! - `{pods}`: the wanted pods as a regex alternation (`web-1|web-2`), regex
//!   metacharacters escaped, then escaped for a double-quoted string; use it as
//!   `pod=~"{pods}"` (PromQL anchors regexes at both ends);
//! - `{window}`: the smoothing window as a PromQL duration (`1m`).
//!
//! Any other brace is left alone. The result must be an instant vector labelled by
//! `pod`, and by `container` for per-container values. Series of other
//! namespaces or pods, and `container="POD"` or `""`, are dropped here too.
//! A pod whose series carry no `container` label is taken as a per-pod sum: it
//! serves a MemHpa counting all containers, but not one with the `container`
//! option. Beside per-container series, such a series is the pod cgroup and is
//! ignored. Several series for one pod and container give their maximum.
//!
//! # Not a number
//! A NaN, infinite or negative sample leaves its container out and is recorded as
//! a [`Problem`]; [`Usage::bytes`] then says the pod is [`Missing`], never zero.
//! A success with no series for a wanted pod is [`PromError::Empty`]; one where
//! every such series is not a number is [`PromError::NonFinite`].
//!
//! # Range queries
//! [`Client::query_range`] (for `memhpa simulate -from-prometheus`) asks
//! `/api/v1/query_range` in chunks of at most [`CHUNK_STEPS`] points, under
//! Prometheus' [`MAX_POINTS_PER_SERIES`], and stitches them by label set.

mod client;
mod decode;
mod error;
mod options;
mod promql;
mod range;
mod usage;

pub use client::Client;
pub use decode::SampleValue;
pub use error::PromError;
pub use options::{PromOptions, DEFAULT_BASE_URL, DEFAULT_TIMEOUT, DEFAULT_WINDOW};
pub use promql::{
    promql_string, regex_escape, DEFAULT_QUERY_TEMPLATE, MAX_FORM_BODY, NAMESPACE_PLACEHOLDER,
    PODS_PLACEHOLDER, WINDOW_PLACEHOLDER,
};
pub use range::{
    Range, RangeAnswer, RangeSeries, CHUNK_STEPS, MAX_POINTS_PER_SERIES, MAX_RANGE_SAMPLES,
    MAX_RANGE_STEPS,
};
pub use usage::{Counted, Missing, PodUsage, Problem, Usage};
