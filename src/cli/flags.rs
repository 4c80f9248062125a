//! The flag table: one entry per flag, the single source for the argv rewrite,
//! the pico-args keys, the defaults the validation parses, and `-h`.

/// Whether a flag takes a value. As in Go's `flag` package, a boolean flag takes
/// `=value` only and never the next argument, so `-dry-run simulate.json` does not
/// swallow the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Value,
    Bool,
}

/// What `-h` says about a flag's default, and what validation starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    /// Parsed by the same function as a user's value, so the two cannot drift.
    Value(&'static str),
    /// No value; the note says what happens instead (e.g. "all namespaces").
    Note(&'static str),
    /// Unset means off.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    /// The pico-args key, always in the `--name` form: single-dash long keys trip a
    /// `debug_assert!` inside pico-args, so argv is rewritten to this form first.
    pub key: &'static str,
    pub kind: Kind,
    /// The placeholder in `-h` (`DURATION`, `URL`); empty for a boolean.
    pub value_name: &'static str,
    pub default: Default,
    pub help: &'static str,
}

impl Flag {
    /// The name without dashes, as the user may spell it after `-` or `--`.
    pub fn name(&self) -> &'static str {
        &self.key[2..]
    }
}

const fn value(
    key: &'static str,
    value_name: &'static str,
    default: Default,
    help: &'static str,
) -> Flag {
    Flag {
        key,
        kind: Kind::Value,
        value_name,
        default,
        help,
    }
}

const fn boolean(key: &'static str, default: bool, help: &'static str) -> Flag {
    Flag {
        key,
        kind: Kind::Bool,
        value_name: "",
        default: Default::Value(if default { "true" } else { "false" }),
        help,
    }
}

pub const PROM_SCHEME: Flag = value(
    "--prom-scheme",
    "SCHEME",
    Default::Value("http"),
    "scheme of the Prometheus URL: http or https",
);
pub const PROM_NAME: Flag = value(
    "--prom-name",
    "NAME",
    Default::Value("prometheus"),
    "name of the Prometheus service",
);
pub const PROM_NAMESPACE: Flag = value(
    "--prom-namespace",
    "NAMESPACE",
    Default::Value("kube-system"),
    "namespace of the Prometheus service",
);
pub const PROM_PORT: Flag = value(
    "--prom-port",
    "PORT",
    Default::Value("9090"),
    "port of the Prometheus service",
);
pub const PROM_URL: Flag = value(
    "--prom-url",
    "URL",
    Default::Note("{scheme}://{name}.{namespace}:{port}"),
    "whole Prometheus base URL; overrides the four flags above",
);
pub const PROM_QUERY: Flag = value(
    "--prom-query",
    "PROMQL",
    Default::Note("working set per container"),
    "query template with {namespace}, {pods} and {window}",
);
pub const PROM_TIMEOUT: Flag = value(
    "--prom-timeout",
    "DURATION",
    Default::Value("5s"),
    "timeout of each Prometheus request",
);
pub const PROM_BEARER_TOKEN_FILE: Flag = value(
    "--prom-bearer-token-file",
    "FILE",
    Default::None,
    "file holding a bearer token for Prometheus, re-read per request",
);
pub const PROM_CA_FILE: Flag = value(
    "--prom-ca-file",
    "FILE",
    Default::Note("the Mozilla roots built into the binary"),
    "PEM bundle of the CAs that sign Prometheus' certificate",
);
pub const APISERVER: Flag = value(
    "--apiserver",
    "URL",
    Default::Note("in-cluster"),
    "Kubernetes API server URL, e.g. http://127.0.0.1:8001 from kubectl proxy",
);
pub const TOKEN_FILE: Flag = value(
    "--token-file",
    "FILE",
    Default::None,
    "bearer token file for -apiserver",
);
pub const CA_FILE: Flag = value(
    "--ca-file",
    "FILE",
    Default::None,
    "PEM CA bundle for -apiserver",
);
pub const NAMESPACE: Flag = value(
    "--namespace",
    "NAMESPACE",
    Default::Note("all namespaces"),
    "watch MemHpas of this namespace only",
);
pub const RESYNC: Flag = value(
    "--resync",
    "DURATION",
    Default::Value("30s"),
    "interval between reconciles of every MemHpa, at least 1s",
);
pub const WORKERS: Flag = value(
    "--workers",
    "N",
    Default::Value("4"),
    "namespaces reconciled in parallel, 1 to 64",
);
pub const DRY_RUN: Flag = boolean(
    "--dry-run",
    false,
    "decide, log, write status and Events, but never write a Scale",
);
pub const LEADER_ELECT: Flag = boolean(
    "--leader-elect",
    true,
    "take a Lease so only one replica writes",
);
pub const LEADER_ELECT_NAMESPACE: Flag = value(
    "--leader-elect-namespace",
    "NAMESPACE",
    Default::Note("the service account's, or kube-system"),
    "namespace of the Lease",
);
pub const LEADER_ELECT_ID: Flag = value(
    "--leader-elect-id",
    "NAME",
    Default::Value("memhpa"),
    "name of the Lease",
);
pub const METRICS_ADDR: Flag = value(
    "--metrics-addr",
    "ADDR",
    Default::Value(":8080"),
    "listen address of /metrics, /healthz and /readyz",
);
pub const ALLOW_INSECURE_HTTP: Flag = boolean(
    "--allow-insecure-http",
    false,
    "send bearer tokens over plain http to a non-loopback host, in clear",
);
pub const LOG_HTTP_WIRE: Flag = boolean(
    "--log-http-wire",
    false,
    "let RUST_LOG enable HTTP/TLS debug and trace logs: they MAY LOG SECRETS",
);
pub const VERSION: Flag = boolean("--version", false, "print the version and exit");
pub const HELP: Flag = boolean("--h", false, "print this help and exit");
/// Go's `flag` package answers `-help` as it does `-h`.
pub const HELP_LONG: Flag = boolean("--help", false, "same as -h");

pub const JSON: Flag = boolean("--json", false, "print one JSON object per step");
pub const SVG: Flag = value(
    "--svg",
    "FILE",
    Default::None,
    "also draw replicas and utilization over time as SVG",
);

pub const ALL: Flag = boolean(
    "--all",
    false,
    "print every step, not only those where something changes",
);

pub const COMPARE: Flag = boolean(
    "--compare",
    false,
    "the proportional rule beside the spec.podBaseline model, with totals",
);

pub const FROM_PROMETHEUS: Flag = value(
    "--from-prometheus",
    "URL",
    Default::None,
    "replay a workload's history from this Prometheus instead of a scenario",
);
pub const WORKLOAD: Flag = value(
    "--workload",
    "NS/KIND/NAME",
    Default::None,
    "the Deployment, StatefulSet, ReplicaSet or ReplicationController to replay",
);
pub const SINCE: Flag = value(
    "--since",
    "DURATION",
    Default::Value("7d"),
    "how much history, before -until; also takes days: 7d, 1d12h",
);
pub const UNTIL: Flag = value(
    "--until",
    "TIME",
    Default::Note("now"),
    "end of the history: RFC 3339 or Unix seconds",
);
pub const STEP: Flag = value(
    "--step",
    "DURATION",
    Default::Value("30s"),
    "one simulated step per this much history, whole seconds",
);
pub const SPEC: Flag = value(
    "--spec",
    "FILE",
    Default::None,
    "a MemHpa spec, MemHpa or scenario as JSON; repeat: a run each",
);
pub const TARGET: Flag = value(
    "--target",
    "PERCENT",
    Default::None,
    "shorthand spec: targetUtilizationPercentage (with -max)",
);
pub const MIN: Flag = value(
    "--min",
    "N",
    Default::Value("1"),
    "shorthand spec: minReplicas",
);
pub const MAX: Flag = value("--max", "N", Default::None, "shorthand spec: maxReplicas");
pub const BASELINE: Flag = value(
    "--baseline",
    "QUANTITY",
    Default::None,
    "shorthand spec: podBaseline, e.g. 120Mi",
);
pub const LIMIT_BYTES: Flag = value(
    "--limit-bytes",
    "QUANTITY",
    Default::Note("kube_pod_container_resource_limits"),
    "per-pod memory limit, e.g. 1Gi",
);
pub const WRITE_SCENARIO: Flag = value(
    "--write-scenario",
    "FILE",
    Default::None,
    "also write the history as a scenario file (one spec only)",
);

/// The run mode's flags by section, in the order `-h` shows them.
pub const RUN_SECTIONS: &[(&str, &[Flag])] = &[
    (
        "Prometheus",
        &[
            PROM_SCHEME,
            PROM_NAME,
            PROM_NAMESPACE,
            PROM_PORT,
            PROM_URL,
            PROM_QUERY,
            PROM_TIMEOUT,
            PROM_BEARER_TOKEN_FILE,
            PROM_CA_FILE,
        ],
    ),
    ("Kubernetes", &[APISERVER, TOKEN_FILE, CA_FILE, NAMESPACE]),
    ("Control loop", &[RESYNC, WORKERS, DRY_RUN]),
    (
        "Leader election",
        &[LEADER_ELECT, LEADER_ELECT_NAMESPACE, LEADER_ELECT_ID],
    ),
    ("Security", &[ALLOW_INSECURE_HTTP, LOG_HTTP_WIRE]),
    (
        "Serving and general",
        &[METRICS_ADDR, VERSION, HELP, HELP_LONG],
    ),
];

/// The flags of `memhpa simulate` over a scenario.
pub const SIMULATE: &[Flag] = &[JSON, ALL, SVG, COMPARE, HELP, HELP_LONG];

/// The flags `memhpa simulate -from-prometheus` adds: the history, the
/// specs, and the controller's Prometheus options.
pub const REPLAY: &[Flag] = &[
    FROM_PROMETHEUS,
    WORKLOAD,
    SINCE,
    UNTIL,
    STEP,
    SPEC,
    TARGET,
    MIN,
    MAX,
    BASELINE,
    LIMIT_BYTES,
    WRITE_SCENARIO,
    PROM_QUERY,
    PROM_TIMEOUT,
    PROM_BEARER_TOKEN_FILE,
    PROM_CA_FILE,
    ALLOW_INSECURE_HTTP,
];

/// Every flag `memhpa simulate` reads.
pub fn simulate_flags() -> Vec<Flag> {
    SIMULATE.iter().chain(REPLAY).copied().collect()
}

/// The flags of `memhpa explain`.
pub const EXPLAIN: &[Flag] = &[HELP, HELP_LONG];

/// Every run-mode flag, flattened.
pub fn run_flags() -> Vec<Flag> {
    RUN_SECTIONS
        .iter()
        .flat_map(|(_, flags)| flags.iter().copied())
        .collect()
}

#[cfg(test)]
mod test {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn keys_are_long_form() {
        for flag in run_flags().iter().chain(&simulate_flags()) {
            assert!(
                flag.key.starts_with("--") && !flag.key.starts_with("---"),
                "{}",
                flag.key
            );
        }
    }

    #[test]
    fn names_are_unique() {
        let flags = run_flags();
        let names: BTreeSet<_> = flags.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), flags.len());
    }

    #[test]
    fn simulate_names_are_unique() {
        let flags = simulate_flags();
        let names: BTreeSet<_> = flags.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), flags.len());
    }

    #[test]
    fn booleans_have_no_placeholder() {
        for flag in run_flags().iter().chain(&simulate_flags()) {
            assert_eq!(
                flag.kind == Kind::Bool,
                flag.value_name.is_empty(),
                "{}",
                flag.key
            );
        }
    }
}
