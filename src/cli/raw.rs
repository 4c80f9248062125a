//! Stage one: the rewritten flags read by pico-args into raw values, nothing
//! checked yet but that every flag is known.

use super::argv::Split;
use super::error::CliError;
use super::flags::Flag;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// Every value given for each flag, as typed, in order. Go's `flag` package
/// lets a later occurrence override an earlier one, and so do we; a flag that
/// may be repeated (`-spec`) reads them all.
#[derive(Debug, Default)]
pub struct RawFlags {
    values: BTreeMap<&'static str, Vec<OsString>>,
}

/// Reads every flag of `table` out of `split.flags`; whatever pico-args leaves
/// over is an unknown flag. `subcommand` names the mode in that error.
fn collect(
    split: Vec<OsString>,
    table: &[Flag],
    subcommand: Option<&'static str>,
) -> Result<RawFlags, CliError> {
    let mut args = pico_args::Arguments::from_vec(split);
    let mut raw = RawFlags::default();
    for flag in table {
        let given = args
            .values_from_os_str(flag.key, keep)
            .map_err(|_| CliError::MissingValue { flag: flag.name() })?;
        if !given.is_empty() {
            raw.values.insert(flag.name(), given);
        }
    }
    if let Some(unknown) = args.finish().into_iter().next() {
        return Err(CliError::UnknownFlag {
            flag: unknown.to_string_lossy().into_owned(),
            subcommand,
        });
    }
    Ok(raw)
}

fn keep(value: &OsStr) -> Result<OsString, Infallible> {
    Ok(value.to_owned())
}

impl RawFlags {
    /// The value as text, or `None` when the flag was not given.
    pub fn text(&self, flag: &Flag) -> Result<Option<&str>, CliError> {
        match self.last(flag) {
            None => Ok(None),
            Some(v) => v.to_str().map(Some).ok_or_else(|| CliError::NotUtf8 {
                flag: flag.name(),
                value: v.to_string_lossy().into_owned(),
            }),
        }
    }

    /// The value as a path; any bytes are a valid path.
    pub fn path(&self, flag: &Flag) -> Option<PathBuf> {
        self.last(flag).map(PathBuf::from)
    }

    /// Every value of a repeatable flag as a path, in the order given.
    pub fn paths(&self, flag: &Flag) -> Vec<PathBuf> {
        self.values
            .get(flag.name())
            .map(|all| all.iter().map(PathBuf::from).collect())
            .unwrap_or_default()
    }

    /// Whether the flag was given at all.
    pub fn has(&self, flag: &Flag) -> bool {
        self.values.contains_key(flag.name())
    }

    fn last(&self, flag: &Flag) -> Option<&OsString> {
        self.values.get(flag.name()).and_then(|all| all.last())
    }
}

/// Rewrites and collects in one step, returning the positionals as well.
pub fn read(
    args: Vec<OsString>,
    table: &[Flag],
    subcommand: Option<&'static str>,
) -> Result<(RawFlags, Vec<OsString>), CliError> {
    let Split { flags, positionals } = super::argv::rewrite(args, table)?;
    Ok((collect(flags, table, subcommand)?, positionals))
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::cli::flags::{DRY_RUN, NAMESPACE, WORKERS};

    const TABLE: &[Flag] = &[WORKERS, DRY_RUN, NAMESPACE];

    fn read_ok(args: &[&str]) -> RawFlags {
        read(args.iter().map(OsString::from).collect(), TABLE, None)
            .expect("reads")
            .0
    }

    #[test]
    fn last_occurrence_wins() {
        let raw = read_ok(&["-workers", "2", "--workers=5"]);
        assert_eq!(raw.text(&WORKERS), Ok(Some("5")));
    }

    #[test]
    fn a_repeated_flag_keeps_every_value_in_order() {
        let raw = read_ok(&["-namespace", "a", "-namespace=b", "--namespace", "c"]);
        assert_eq!(
            raw.paths(&NAMESPACE),
            ["a", "b", "c"].map(PathBuf::from).to_vec()
        );
        assert_eq!(raw.text(&NAMESPACE), Ok(Some("c")));
        assert!(raw.paths(&WORKERS).is_empty());
    }

    #[test]
    fn absent_is_none() {
        assert_eq!(read_ok(&["-dry-run"]).text(&WORKERS), Ok(None));
    }

    #[test]
    fn unknown_flag_reported_as_typed() {
        let err = read(vec!["-nope=1".into()], TABLE, None).unwrap_err();
        assert_eq!(
            err,
            CliError::UnknownFlag {
                flag: "-nope=1".into(),
                subcommand: None
            }
        );
    }

    /// `-namespace=\xffx` and `-namespace \xffx` are one flag and one value.
    #[cfg(unix)]
    #[test]
    fn non_utf8_inline_value_refused_as_text() {
        use std::os::unix::ffi::OsStringExt;
        let mut arg = b"-namespace=".to_vec();
        arg.extend([0xff, b'x']);
        let (raw, _) = read(vec![OsString::from_vec(arg)], TABLE, None).expect("reads");
        assert_eq!(
            raw.text(&NAMESPACE),
            Err(CliError::NotUtf8 {
                flag: "namespace",
                value: "\u{fffd}x".into()
            })
        );
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_value_refused_as_text() {
        use std::os::unix::ffi::OsStringExt;
        let args = vec![
            OsString::from("-namespace"),
            OsString::from_vec(vec![0xff, b'x']),
        ];
        let (raw, _) = read(args, TABLE, None).expect("reads");
        assert_eq!(
            raw.text(&NAMESPACE),
            Err(CliError::NotUtf8 {
                flag: "namespace",
                value: "\u{fffd}x".into()
            })
        );
    }
}
