//! `memhpa simulate -from-prometheus ...`: its flags checked into a
//! [`ReplayConfig`], and the small parsers only it needs.

use std::path::PathBuf;

use std::time::Duration;

use super::config::{invalid, optional, path, positive_duration, required};
use super::error::CliError;
use super::flags::{self, Flag};
use super::raw::RawFlags;
use super::values;
use crate::api::MAX_BYTES;
use crate::prom::PromOptions;
use crate::simulate::history::{Workload, WorkloadKind};
use crate::simulate::{ReplayConfig, Shorthand, SpecSource};

/// The flags of a scenario run that a replay does not take.
const SCENARIO_ONLY: &[Flag] = &[flags::COMPARE];

/// Checks the replay's flags; `-from-prometheus` was given.
pub fn replay_config(
    raw: &RawFlags,
    json: bool,
    all: bool,
    svg: Option<PathBuf>,
) -> Result<ReplayConfig, CliError> {
    for flag in SCENARIO_ONLY {
        if raw.has(flag) {
            return Err(CliError::Conflict {
                flag: flag.name(),
                with: flags::FROM_PROMETHEUS.name(),
            });
        }
    }
    let base_url = optional(raw, &flags::FROM_PROMETHEUS, values::http_url)?.ok_or(
        CliError::MissingValue {
            flag: flags::FROM_PROMETHEUS.name(),
        },
    )?;
    let workload = optional(raw, &flags::WORKLOAD, workload)?.ok_or(CliError::RequiredFlag {
        flag: flags::WORKLOAD.name(),
        reason: "-from-prometheus replays one workload: give -workload NAMESPACE/KIND/NAME",
    })?;
    let specs = specs(raw)?;
    let write_scenario = path(raw, &flags::WRITE_SCENARIO)?;
    if write_scenario.is_some() && specs.len() > 1 {
        return Err(CliError::Conflict {
            flag: flags::WRITE_SCENARIO.name(),
            with: "more than one spec",
        });
    }
    let since_text = match (raw.text(&flags::SINCE)?, flags::SINCE.default) {
        (Some(text), _) | (None, flags::Default::Value(text)) => text,
        (None, _) => "",
    };
    let (since, step) = (
        required(raw, &flags::SINCE, since)?,
        required(raw, &flags::STEP, step)?,
    );
    if let Some(problem) = crate::simulate::history::replay::too_many_steps(since, step) {
        return Err(invalid(&flags::SINCE, since_text, problem));
    }
    Ok(ReplayConfig {
        prom: PromOptions {
            base_url,
            query_template: optional(raw, &flags::PROM_QUERY, values::non_blank)?,
            timeout: required(raw, &flags::PROM_TIMEOUT, positive_duration)?,
            bearer_token_file: path(raw, &flags::PROM_BEARER_TOKEN_FILE)?,
            ca_file: path(raw, &flags::PROM_CA_FILE)?,
            allow_insecure_http: required(raw, &flags::ALLOW_INSECURE_HTTP, values::boolean)?,
            ..PromOptions::default()
        },
        workload,
        since,
        until: optional(raw, &flags::UNTIL, unix_time)?,
        step,
        specs,
        limit_bytes: optional(raw, &flags::LIMIT_BYTES, limit_bytes)?,
        json,
        all,
        svg,
        write_scenario,
    })
}

/// Each `-spec` in order, then the shorthands' spec if `-target` is given.
fn specs(raw: &RawFlags) -> Result<Vec<SpecSource>, CliError> {
    let mut specs = Vec::new();
    for file in raw.paths(&flags::SPEC) {
        if file.as_os_str().is_empty() {
            return Err(invalid(
                &flags::SPEC,
                "",
                "expected a file name".to_string(),
            ));
        }
        specs.push(SpecSource::File(file));
    }
    let target = optional(raw, &flags::TARGET, whole_number)?;
    let max = optional(raw, &flags::MAX, whole_number)?;
    match (target, max) {
        (Some(target), Some(max)) => specs.push(SpecSource::Shorthand(Shorthand {
            target,
            min: required(raw, &flags::MIN, whole_number)?,
            max,
            baseline: optional(raw, &flags::BASELINE, quantity)?,
        })),
        (Some(_), None) => {
            return Err(CliError::RequiredFlag {
                flag: flags::MAX.name(),
                reason: "-target builds a spec, which needs -max",
            })
        }
        (None, _) => {
            for flag in [flags::MAX, flags::MIN, flags::BASELINE] {
                if raw.has(&flag) {
                    return Err(CliError::RequiredFlag {
                        flag: flags::TARGET.name(),
                        reason: "-min, -max and -baseline build a spec with -target",
                    });
                }
            }
        }
    }
    if specs.is_empty() {
        return Err(CliError::RequiredFlag {
            flag: flags::SPEC.name(),
            reason: "-from-prometheus needs a spec: -spec FILE, or -target PERCENT -max N [-min N] [-baseline QUANTITY]",
        });
    }
    Ok(specs)
}

/// `NAMESPACE/KIND/NAME`, the kind as Kubernetes or kubectl spells it.
pub fn workload(text: &str) -> Result<Workload, String> {
    let mut parts = text.split('/');
    let (Some(namespace), Some(kind), Some(name), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("expected NAMESPACE/KIND/NAME, e.g. demo/Deployment/web".to_string());
    };
    let namespace = values::dns_label(namespace).map_err(|e| format!("the namespace: {e}"))?;
    let kind = WorkloadKind::parse(kind).ok_or_else(|| {
        format!(
            "the kind {} is not one of Deployment, StatefulSet, ReplicaSet, ReplicationController",
            super::error::quote(kind)
        )
    })?;
    let name = values::dns_subdomain(name).map_err(|e| format!("the name: {e}"))?;
    Ok(Workload {
        namespace,
        kind,
        name,
    })
}

const DAY: u64 = 86_400;

/// A Go duration, or whole days before one (`7d`, `1d12h`), in whole
/// seconds above zero.
pub fn since(text: &str) -> Result<Duration, String> {
    let (days, rest) = match text.split_once('d') {
        Some((days, rest)) => {
            let days: u64 = days
                .parse()
                .map_err(|_| "expected whole days before the d, as in 7d or 1d12h".to_string())?;
            (days, rest)
        }
        None => (0, text),
    };
    let rest = if rest.is_empty() {
        Duration::ZERO
    } else {
        values::duration(rest)?
    };
    let total = days
        .checked_mul(DAY)
        .and_then(|secs| secs.checked_add(rest.as_secs()))
        .ok_or_else(|| "too long".to_string())?;
    whole_seconds(Duration::new(total, rest.subsec_nanos()))
}

/// A positive Go duration of whole seconds: Prometheus' steps here are.
pub fn step(text: &str) -> Result<Duration, String> {
    whole_seconds(values::duration(text)?)
}

fn whole_seconds(d: Duration) -> Result<Duration, String> {
    if d.subsec_nanos() != 0 {
        return Err("expected whole seconds".to_string());
    }
    if d.is_zero() {
        return Err("expected at least 1s".to_string());
    }
    Ok(d)
}

/// RFC 3339 (`2026-12-01T00:00:00Z`) or Unix seconds.
pub fn unix_time(text: &str) -> Result<i64, String> {
    const EXPECTED: &str =
        "expected an RFC 3339 time such as 2026-12-01T00:00:00Z, or Unix seconds";
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| EXPECTED.to_string());
    }
    crate::rfc3339::parse(text)
        .map(crate::rfc3339::unix_seconds)
        .ok_or_else(|| EXPECTED.to_string())
}

/// A whole number for a spec field; the spec's own checks bound it.
fn whole_number(text: &str) -> Result<i64, String> {
    values::count_in(text, 0, i32::MAX as usize).map(|n| n as i64)
}

/// A memory quantity, checked as `spec.podBaseline` is; kept as written.
fn quantity(text: &str) -> Result<String, String> {
    crate::api::parse_quantity(&serde_json::Value::String(text.to_string()))
        .map(|_| text.to_string())
        .map_err(|e| e.to_string())
}

/// A memory quantity of at least one byte.
pub fn limit_bytes(text: &str) -> Result<u64, String> {
    match crate::api::parse_quantity(&serde_json::Value::String(text.to_string())) {
        Ok(0) => Err("expected at least 1 byte".to_string()),
        Ok(bytes) if bytes <= MAX_BYTES => Ok(bytes),
        Ok(_) => Err("expected at most 1Pi".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

pub fn wants_replay(raw: &RawFlags) -> bool {
    raw.has(&flags::FROM_PROMETHEUS)
}

/// The replay-only flags, which a scenario run refuses.
pub fn replay_only_given(raw: &RawFlags) -> Option<&'static str> {
    flags::REPLAY
        .iter()
        .find(|flag| raw.has(flag))
        .map(|flag| flag.name())
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn workloads_parse_into_their_parts() {
        let w = workload("demo/Deployment/web.v2").expect("valid");
        assert_eq!(
            (w.namespace.as_str(), w.kind, w.name.as_str()),
            ("demo", WorkloadKind::Deployment, "web.v2")
        );
        assert_eq!(
            workload("db/statefulset/pg").map(|w| w.kind),
            Ok(WorkloadKind::StatefulSet)
        );
    }

    #[test]
    fn bad_workloads_say_which_part() {
        for (text, expected) in [
            ("demo/web", "NAMESPACE/KIND/NAME"),
            ("a/b/c/d", "NAMESPACE/KIND/NAME"),
            ("Demo/Deployment/web", "the namespace"),
            ("demo/Pod/web", "the kind \"Pod\""),
            ("demo/Deployment/", "the name"),
        ] {
            let err = workload(text).expect_err(text);
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn since_takes_go_durations_and_days() {
        let secs = Duration::from_secs;
        for (text, want) in [
            ("7d", secs(7 * DAY)),
            ("1d12h", secs(DAY + 12 * 3600)),
            ("90m", secs(5400)),
            ("0d30s", secs(30)),
        ] {
            assert_eq!(since(text), Ok(want), "{text}");
        }
        for text in ["", "d", "1.5d", "-1d", "7x", "1500ms", "0s", "0d", "7dd"] {
            assert!(since(text).is_err(), "{text}");
        }
    }

    #[test]
    fn step_is_whole_seconds() {
        assert_eq!(step("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(step("2m"), Ok(Duration::from_secs(120)));
        assert!(step("1.5s").is_err());
        assert!(step("0s").is_err());
    }

    #[test]
    fn until_takes_rfc3339_or_unix_seconds() {
        assert_eq!(unix_time("1790000000"), Ok(1_790_000_000));
        assert_eq!(unix_time("2026-12-01T00:00:00Z"), Ok(1_796_083_200));
        assert!(unix_time("yesterday").is_err());
        assert!(unix_time("").is_err());
    }

    #[test]
    fn limit_bytes_takes_a_quantity() {
        assert_eq!(limit_bytes("1Gi"), Ok(1 << 30));
        assert_eq!(limit_bytes("1073741824"), Ok(1 << 30));
        assert!(limit_bytes("0").is_err());
        assert!(limit_bytes("lots").is_err());
        assert!(limit_bytes("2Pi").is_err());
    }
}
