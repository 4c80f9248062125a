//! Stage two: raw flag values checked and turned into a typed [`Config`].

use super::error::CliError;
use super::flags::{self, Default, Flag};
use super::raw::RawFlags;
use super::values;
use crate::prom::PromOptions;
use std::path::PathBuf;
use std::time::Duration;

/// Most workers a tick may use: each holds at most one request in flight, and
/// more than this only crowds the API server's rate limits.
pub const MAX_WORKERS: usize = 64;

/// Everything the controller is told by its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `-prom-*`: base URL (from `-prom-url`, or scheme, name, namespace and
    /// port), query template, timeout, bearer token file and CA file.
    pub prom: PromOptions,
    /// `-apiserver`: `None` means in-cluster.
    pub apiserver: Option<String>,
    pub token_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    /// `-namespace`: `None` watches all namespaces.
    pub namespace: Option<String>,
    pub resync: Duration,
    pub workers: usize,
    pub dry_run: bool,
    pub leader_elect: bool,
    /// `None`: the service account's namespace, or `kube-system`; the controller
    /// resolves it at start, since it needs the file system.
    pub leader_elect_namespace: Option<String>,
    pub leader_elect_id: String,
    /// A Go-style listen address (`:8080`, `127.0.0.1:9100`, `[::]:8080`).
    pub metrics_addr: String,
    /// `-allow-insecure-http`: a bearer token may go over plain http to a
    /// host that is not loopback (API server or Prometheus).
    pub allow_insecure_http: bool,
    /// `-log-http-wire`: RUST_LOG may enable the HTTP and TLS crates' debug
    /// and trace logs, which hold the bytes on the wire, tokens included.
    pub log_http_wire: bool,
}

/// Checks every run-mode flag.
pub fn run_config(raw: &RawFlags) -> Result<Config, CliError> {
    Ok(Config {
        prom: prom_options(raw)?,
        apiserver: optional(raw, &flags::APISERVER, values::http_url)?,
        token_file: path(raw, &flags::TOKEN_FILE)?,
        ca_file: path(raw, &flags::CA_FILE)?,
        namespace: optional(raw, &flags::NAMESPACE, values::dns_label)?,
        resync: required(raw, &flags::RESYNC, resync)?,
        workers: required(raw, &flags::WORKERS, |t| {
            values::count_in(t, 1, MAX_WORKERS)
        })?,
        dry_run: required(raw, &flags::DRY_RUN, values::boolean)?,
        leader_elect: required(raw, &flags::LEADER_ELECT, values::boolean)?,
        leader_elect_namespace: optional(raw, &flags::LEADER_ELECT_NAMESPACE, values::dns_label)?,
        leader_elect_id: required(raw, &flags::LEADER_ELECT_ID, values::dns_subdomain)?,
        metrics_addr: required(raw, &flags::METRICS_ADDR, values::listen_addr)?,
        allow_insecure_http: required(raw, &flags::ALLOW_INSECURE_HTTP, values::boolean)?,
        log_http_wire: required(raw, &flags::LOG_HTTP_WIRE, values::boolean)?,
    })
}

/// `-prom-url` replaces the whole base URL the four parts would build; the
/// parts are still checked, so a typo in one of them is not silently ignored.
fn prom_options(raw: &RawFlags) -> Result<PromOptions, CliError> {
    let scheme = required(raw, &flags::PROM_SCHEME, values::scheme)?;
    let name = required(raw, &flags::PROM_NAME, values::dns_label)?;
    let namespace = required(raw, &flags::PROM_NAMESPACE, values::dns_label)?;
    let port = required(raw, &flags::PROM_PORT, values::port)?;
    let base_url = match optional(raw, &flags::PROM_URL, values::http_url)? {
        Some(url) => url,
        None => format!("{scheme}://{name}.{namespace}:{port}"),
    };
    Ok(PromOptions {
        base_url,
        query_template: optional(raw, &flags::PROM_QUERY, values::non_blank)?,
        timeout: required(raw, &flags::PROM_TIMEOUT, positive_duration)?,
        bearer_token_file: path(raw, &flags::PROM_BEARER_TOKEN_FILE)?,
        ca_file: path(raw, &flags::PROM_CA_FILE)?,
        ..PromOptions::default()
    })
}

/// The checked `simulate` flags: `(json, svg)`.
pub fn simulate_flags(raw: &RawFlags) -> Result<(bool, Option<PathBuf>), CliError> {
    Ok((
        required(raw, &flags::JSON, values::boolean)?,
        path(raw, &flags::SVG)?,
    ))
}

/// Whether a boolean flag such as `-h` is set to true.
pub fn is_set(raw: &RawFlags, flag: &Flag) -> Result<bool, CliError> {
    required(raw, flag, values::boolean)
}

/// The shortest `-resync`. Every tick lists each target's pods, reads its Scale
/// and queries Prometheus per namespace, and the data does not change faster
/// than Prometheus scrapes (every 15 s to 1 m); a shorter interval only repeats
/// the same reads, and at `1ns` it flooded the tick channel.
const MIN_RESYNC: Duration = Duration::from_secs(1);

fn resync(text: &str) -> Result<Duration, String> {
    match values::duration(text)? {
        d if d < MIN_RESYNC => Err(format!(
            "expected at least {}s: a shorter resync only repeats the same reads",
            MIN_RESYNC.as_secs()
        )),
        d => Ok(d),
    }
}

/// A zero timeout fails every request.
pub(super) fn positive_duration(text: &str) -> Result<Duration, String> {
    match values::duration(text)? {
        d if d.is_zero() => Err("expected a duration above zero, such as 30s".to_string()),
        d => Ok(d),
    }
}

/// The given value, or the flag's default, through `parse`.
pub(super) fn required<T>(
    raw: &RawFlags,
    flag: &Flag,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, CliError> {
    let text = match (raw.text(flag)?, flag.default) {
        (Some(text), _) => text,
        (None, Default::Value(default)) => default,
        // Only reachable if the table gives a required flag no default.
        (None, _) => return Err(CliError::MissingValue { flag: flag.name() }),
    };
    parse(text).map_err(|problem| invalid(flag, text, problem))
}

pub(super) fn optional<T>(
    raw: &RawFlags,
    flag: &Flag,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, CliError> {
    match raw.text(flag)? {
        None => Ok(None),
        Some(text) => parse(text)
            .map(Some)
            .map_err(|problem| invalid(flag, text, problem)),
    }
}

/// A path flag given as `-flag=` would later fail as "no such file ''".
pub(super) fn path(raw: &RawFlags, flag: &Flag) -> Result<Option<PathBuf>, CliError> {
    match raw.path(flag) {
        Some(p) if p.as_os_str().is_empty() => {
            Err(invalid(flag, "", "expected a file name".to_string()))
        }
        other => Ok(other),
    }
}

pub(super) fn invalid(flag: &Flag, text: &str, problem: String) -> CliError {
    CliError::InvalidValue {
        flag: flag.name(),
        value: text.to_string(),
        problem,
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::prom::{DEFAULT_BASE_URL, DEFAULT_TIMEOUT};

    /// Every default in the table must pass its own flag's validation.
    #[test]
    fn defaults_are_valid_and_match_prom() {
        let config = run_config(&RawFlags::default()).expect("defaults are valid");
        assert_eq!(config.prom.base_url, DEFAULT_BASE_URL);
        assert_eq!(config.prom.timeout, DEFAULT_TIMEOUT);
        assert_eq!(config.resync, Duration::from_secs(30));
        assert_eq!(config.workers, 4);
        assert!(!config.dry_run);
        assert!(config.leader_elect);
        assert_eq!(config.leader_elect_id, "memhpa");
        assert_eq!(config.metrics_addr, ":8080");
        assert_eq!(config.namespace, None);
        assert_eq!(config.apiserver, None);
    }
}
