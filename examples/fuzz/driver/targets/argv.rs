//! The command line: NUL-separated arguments, each any bytes (an OsString
//! from bytes, so invalid UTF-8 too), through [`memhpa::cli::parse`]. It must
//! answer Ok or Err, the same each time, and `-flag=value` must mean what
//! `--flag value` means for every flag that takes a value.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use memhpa::cli;

use super::super::rng::Rng;
use super::message_ok;
use crate::driver::engine::Target;

pub struct Argv {
    /// Every flag of `-h`, with whether it takes a value.
    flags: Vec<(String, bool)>,
}

const VALUES: &[&[u8]] = &[
    b"30s",
    b"500ms",
    b"1m30s",
    b"0s",
    b"-1s",
    b"1e308s",
    b"NaN",
    b"9999999999999999999h",
    b"4",
    b"0",
    b"65",
    b"-1",
    b"http://127.0.0.1:8001",
    b"https://[::1]:6443/",
    b"ftp://x",
    b"http://",
    b":8080",
    b"127.0.0.1:0",
    b"kube-system",
    b"Not_A_Name",
    b"",
    b" ",
    b"true",
    b"false",
    b"{namespace}{pods}{window}",
    b"\xFF\xFE",
    b"a\xC0\x80b",
    b"/dev/null",
];

impl Argv {
    pub fn new() -> Argv {
        Argv {
            flags: flags_of(&cli::usage()),
        }
    }

    fn takes_value(&self, name: &str) -> bool {
        self.flags
            .iter()
            .any(|(flag, value)| flag == name && *value)
    }

    /// `-flag=value` rewritten as `--flag value` where that is the same.
    fn spelled_apart(&self, args: &[OsString]) -> Vec<OsString> {
        let mut out = Vec::new();
        let mut rest = args.iter();
        let mut value_next = false;
        for arg in rest.by_ref() {
            if arg == "--" && !value_next {
                out.push(arg.clone());
                break;
            }
            // The argument after `-flag` is its value, whatever it looks like.
            if std::mem::take(&mut value_next) {
                out.push(arg.clone());
                continue;
            }
            value_next = bare_flag(arg).is_some_and(|name| self.takes_value(name));
            match split_flag(arg) {
                Some((name, value))
                    if self.takes_value(name) && !value.starts_with(b"-") && !value.is_empty() =>
                {
                    out.push(OsString::from(format!("--{name}")));
                    out.push(OsString::from_vec(value.to_vec()));
                }
                _ => out.push(arg.clone()),
            }
        }
        out.extend(rest.cloned());
        out
    }
}

/// `-name` tokens at the start of `-h` lines; a flag takes a value when an
/// upper-case word follows it (`-workers N`).
fn flags_of(usage: &str) -> Vec<(String, bool)> {
    usage
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?.strip_prefix('-')?;
            let takes = words
                .next()
                .is_some_and(|w| w.chars().all(|c| c.is_ascii_uppercase() || c == '.'));
            Some((name.to_string(), takes))
        })
        .collect()
}

/// `-name` or `--name` without a value, as name.
fn bare_flag(arg: &OsString) -> Option<&str> {
    let name = arg.to_str()?;
    let name = name.strip_prefix("--").or_else(|| name.strip_prefix('-'))?;
    (!name.contains('=')).then_some(name)
}

/// `-name=value` or `--name=value` as (name, value).
fn split_flag(arg: &OsString) -> Option<(&str, &[u8])> {
    let bytes = arg.as_bytes();
    let eq = bytes.iter().position(|&b| b == b'=')?;
    let name = std::str::from_utf8(&bytes[..eq]).ok()?;
    let name = name.strip_prefix("--").or_else(|| name.strip_prefix('-'))?;
    Some((name, &bytes[eq + 1..]))
}

fn args_of(input: &[u8]) -> Vec<OsString> {
    if input.is_empty() {
        return Vec::new();
    }
    input
        .split(|&b| b == 0)
        .map(|arg| OsString::from_vec(arg.to_vec()))
        .collect()
}

impl Target for Argv {
    fn name(&self) -> &'static str {
        "argv"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        [
            &b""[..],
            b"-h",
            b"-version",
            b"-apiserver\0http://127.0.0.1:8001\0-namespace=demo\0-workers\x004\0-dry-run",
            b"--prom-url=http://prometheus:9090\0--resync\x0015s\0-leader-elect=false",
            b"simulate\0-json\0-svg\0/tmp/x.svg\0s.json",
            b"simulate\0--\0-weird.json",
            b"-prom-timeout=1m30s\0-metrics-addr\x00127.0.0.1:0",
        ]
        .iter()
        .map(|s| s.to_vec())
        .collect()
    }

    fn generate(&mut self, rng: &mut Rng) -> Option<Vec<u8>> {
        let mut args: Vec<Vec<u8>> = Vec::new();
        if rng.one_in(3) {
            args.push(b"simulate".to_vec());
        }
        for _ in 0..rng.range(0, 6) {
            let (name, takes) = rng.pick(&self.flags).clone();
            let dashes = if rng.one_in(2) { "-" } else { "--" };
            let value = rng.pick(VALUES);
            match (takes, rng.below(3)) {
                (_, 0) => args.push(format!("{dashes}{name}").into_bytes()),
                (true, 1) => {
                    args.push(format!("{dashes}{name}").into_bytes());
                    args.push(value.to_vec());
                }
                _ => {
                    let mut arg = format!("{dashes}{name}=").into_bytes();
                    arg.extend_from_slice(value);
                    args.push(arg);
                }
            }
        }
        Some(args.join(&0u8))
    }

    fn check(&mut self, input: &[u8], _rng: &mut Rng) -> Result<(), String> {
        let args = args_of(input);
        let first = cli::parse(args.clone());
        if first != cli::parse(args.clone()) {
            return Err(format!("argv {args:?}: two parses differ"));
        }
        if let Err(err) = &first {
            message_ok("argv", err)?;
        }
        let apart = self.spelled_apart(&args);
        let second = cli::parse(apart.clone());
        match (&first, &second) {
            (Ok(a), Ok(b)) if a == b => Ok(()),
            (Err(_), Err(_)) => Ok(()),
            _ => Err(format!(
                "argv {args:?} gives {first:?}, but {apart:?} gives {second:?}"
            )),
        }
    }
}
