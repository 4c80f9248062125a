//! Rewriting Go-style argv into the one form pico-args reads.
//!
//! pico-args 0.5 (without its `eq-separator` feature) reads only `--key value`,
//! and its keys must be `-k` or `--long`: a `-prom-name` key trips a
//! `debug_assert!`. Go's `flag` package takes `-flag value`, `-flag=value`,
//! `--flag value` and `--flag=value`, and a boolean flag takes `=value` only. So
//! each known flag is rewritten to the pair `--name VALUE` (a bare boolean gets
//! `true`); positional arguments are set apart; anything else that looks like a
//! flag is passed through untouched, for `finish()` to report as unknown.

use super::error::CliError;
use super::flags::{Flag, Kind};
use std::ffi::OsString;

/// argv after the rewrite.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// `--name VALUE` pairs, and unknown flags as the user wrote them.
    pub flags: Vec<OsString>,
    /// Arguments that are not flags, in order; everything after `--` is one.
    pub positionals: Vec<OsString>,
}

pub fn rewrite(args: Vec<OsString>, table: &[Flag]) -> Result<Split, CliError> {
    let mut split = Split::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            split.positionals.extend(args.by_ref());
            break;
        }
        if let Some((flag, value)) = inline_not_utf8(&arg, table) {
            push_pair(&mut split, flag, value, table)?;
            continue;
        }
        let Some(text) = arg.to_str() else {
            // Not UTF-8, so not one of our flag names.
            if arg.to_string_lossy().starts_with('-') {
                split.flags.push(arg);
            } else {
                split.positionals.push(arg);
            }
            continue;
        };
        if !text.starts_with('-') || text == "-" {
            // Go reads a lone "-" as an argument (often meaning stdin).
            split.positionals.push(arg);
            continue;
        }
        let Some((flag, inline)) = lookup(text, table) else {
            split.flags.push(arg);
            continue;
        };
        let value = match (flag.kind, inline) {
            (_, Some(value)) => OsString::from(value),
            (Kind::Bool, None) => OsString::from("true"),
            (Kind::Value, None) => args
                .next()
                .ok_or(CliError::MissingValue { flag: flag.name() })?,
        };
        push_pair(&mut split, flag, value, table)?;
    }
    Ok(split)
}

fn push_pair(
    split: &mut Split,
    flag: &Flag,
    value: OsString,
    table: &[Flag],
) -> Result<(), CliError> {
    // pico-args finds a key by its first occurrence anywhere in the list, so a
    // value spelled like one of our keys would be taken for that flag. Go would
    // accept it as a value; it is nearly always a forgotten value instead.
    if table.iter().any(|f| value == f.key) {
        return Err(CliError::MissingValue { flag: flag.name() });
    }
    split.flags.push(OsString::from(flag.key));
    split.flags.push(value);
    Ok(())
}

/// `-name=VALUE` of a known flag whose VALUE is not UTF-8: the same flag as
/// `-name VALUE` (a path may be any bytes; text values are refused later as
/// not UTF-8), not an unknown flag named by the whole argument.
#[cfg(unix)]
fn inline_not_utf8<'t>(arg: &OsString, table: &'t [Flag]) -> Option<(&'t Flag, OsString)> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let bytes = arg.as_bytes();
    let eq = bytes.iter().position(|&b| b == b'=')?;
    let name = std::str::from_utf8(&bytes[..eq]).ok()?;
    if arg.to_str().is_some() || !name.starts_with('-') || name == "--" {
        return None;
    }
    let (flag, _) = lookup(name, table)?;
    Some((flag, OsString::from_vec(bytes[eq + 1..].to_vec())))
}

#[cfg(not(unix))]
fn inline_not_utf8<'t>(_arg: &OsString, _table: &'t [Flag]) -> Option<(&'t Flag, OsString)> {
    None
}

/// `-name`, `--name`, `-name=value` or `--name=value` of a flag in `table`, with
/// the inline value if any. Three dashes is not a flag form, as in Go.
fn lookup<'t, 'a>(text: &'a str, table: &'t [Flag]) -> Option<(&'t Flag, Option<&'a str>)> {
    let body = text.strip_prefix("--").unwrap_or(&text[1..]);
    if body.starts_with('-') {
        return None;
    }
    let (name, inline) = match body.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (body, None),
    };
    table
        .iter()
        .find(|f| f.name() == name)
        .map(|flag| (flag, inline))
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::cli::flags::{DRY_RUN, NAMESPACE, WORKERS};

    const TABLE: &[Flag] = &[WORKERS, DRY_RUN, NAMESPACE];

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn flags(args: &[&str]) -> Vec<OsString> {
        rewrite(os(args), TABLE).expect("rewrites").flags
    }

    #[test]
    fn single_dash_space() {
        assert_eq!(flags(&["-workers", "3"]), os(&["--workers", "3"]));
    }

    #[test]
    fn single_dash_equals() {
        assert_eq!(flags(&["-workers=3"]), os(&["--workers", "3"]));
    }

    #[test]
    fn double_dash_space() {
        assert_eq!(flags(&["--workers", "3"]), os(&["--workers", "3"]));
    }

    #[test]
    fn double_dash_equals() {
        assert_eq!(flags(&["--workers=3"]), os(&["--workers", "3"]));
    }

    #[test]
    fn value_may_start_with_dash() {
        assert_eq!(flags(&["-workers", "-1"]), os(&["--workers", "-1"]));
    }

    #[test]
    fn value_may_hold_equals() {
        assert_eq!(flags(&["-namespace=a=b"]), os(&["--namespace", "a=b"]));
    }

    #[test]
    fn empty_inline_value_kept() {
        assert_eq!(flags(&["-namespace="]), os(&["--namespace", ""]));
    }

    #[test]
    fn bare_bool_is_true() {
        assert_eq!(flags(&["-dry-run"]), os(&["--dry-run", "true"]));
    }

    #[test]
    fn bool_inline_false() {
        assert_eq!(flags(&["--dry-run=false"]), os(&["--dry-run", "false"]));
    }

    #[test]
    fn bool_never_takes_next_arg() {
        let split = rewrite(os(&["-dry-run", "false"]), TABLE).expect("rewrites");
        assert_eq!(split.positionals, os(&["false"]));
    }

    #[test]
    fn unknown_passed_through() {
        assert_eq!(flags(&["-wrokers=3"]), os(&["-wrokers=3"]));
    }

    #[test]
    fn triple_dash_unknown() {
        assert_eq!(flags(&["---workers", "3"]), os(&["---workers"]));
    }

    #[test]
    fn missing_value_at_end() {
        assert_eq!(
            rewrite(os(&["-workers"]), TABLE),
            Err(CliError::MissingValue { flag: "workers" })
        );
    }

    #[test]
    fn value_spelled_as_key_refused() {
        assert_eq!(
            rewrite(os(&["-namespace", "--dry-run"]), TABLE),
            Err(CliError::MissingValue { flag: "namespace" })
        );
    }

    #[test]
    fn double_dash_ends_flags() {
        let split = rewrite(os(&["--", "-workers", "3"]), TABLE).expect("rewrites");
        assert_eq!(split.positionals, os(&["-workers", "3"]));
    }

    #[test]
    fn lone_dash_positional() {
        let split = rewrite(os(&["-"]), TABLE).expect("rewrites");
        assert_eq!(split.positionals, os(&["-"]));
    }
}
