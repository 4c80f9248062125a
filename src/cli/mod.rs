//! The command line: Go-style flags, read in two stages as ripgrep does.
//!
//! 1. `argv` rewrites `-flag value`, `-flag=value`, `--flag value` and
//!    `--flag=value` into the `--flag value` pairs pico-args reads, and sets
//!    positional arguments apart; `raw` reads the pairs with pico-args into raw
//!    strings, and anything left over is an unknown flag.
//! 2. `config` checks each raw value (durations, URLs, ports, names) into a typed
//!    [`Config`], or a [`CliError`] that names the flag and quotes the value.
//!
//! The flags themselves, their defaults and their help live in one table
//! (`flags`), from which `-h` (`usage`) is generated.

mod argv;
mod config;
mod error;
mod flags;
mod raw;
mod replay;
mod usage;
mod values;

pub use config::{Config, MAX_WORKERS};
pub use error::CliError;
pub use usage::usage;

pub use crate::simulate::ReplayConfig;

use std::ffi::OsString;
use std::path::PathBuf;

/// What the command line asks for.
// Built once per process and moved once, so the size of `Run` costs nothing;
// a Box would only make every match on it noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the controller.
    Run(Config),
    /// `memhpa simulate [SCENARIO.json] [-json] [-all] [-svg FILE]`.
    Simulate {
        /// `None` runs the built-in example.
        scenario: Option<PathBuf>,
        json: bool,
        /// `-all`: every step in the table, not only where something changes.
        all: bool,
        svg: Option<PathBuf>,
        /// `-compare`: the proportional rule and the baseline model side by side.
        compare: bool,
    },
    /// `memhpa simulate -from-prometheus URL -workload NS/KIND/NAME ...`: a
    /// workload's history replayed under one or more specs.
    Replay(ReplayConfig),
    /// `memhpa explain [FILE|-]`: why a MemHpa (as JSON) scaled or did not.
    Explain {
        /// `None` (or `-`) reads stdin.
        input: Option<PathBuf>,
    },
    /// `-h` or `-help`, in any mode.
    Help,
    /// `-version`.
    Version,
}

const SIMULATE: &str = "simulate";
const EXPLAIN: &str = "explain";

/// Parses the arguments after argv\[0\].
pub fn parse(mut args: Vec<OsString>) -> Result<Command, CliError> {
    if args.first().is_some_and(|first| first == SIMULATE) {
        args.remove(0);
        return parse_simulate(args);
    }
    if args.first().is_some_and(|first| first == EXPLAIN) {
        args.remove(0);
        return parse_explain(args);
    }
    let table = flags::run_flags();
    let (raw, positionals) = raw::read(args, &table, None)?;
    if help_asked(&raw)? {
        return Ok(Command::Help);
    }
    if config::is_set(&raw, &flags::VERSION)? {
        return Ok(Command::Version);
    }
    if let Some(arg) = positionals.first() {
        let arg = arg.to_string_lossy().into_owned();
        let hint = if arg == SIMULATE {
            "the simulate subcommand must come first"
        } else if arg == EXPLAIN {
            "the explain subcommand must come first"
        } else {
            "memhpa takes only flags; its subcommands are simulate and explain"
        };
        return Err(CliError::UnexpectedArgument { arg, hint });
    }
    config::run_config(&raw).map(Command::Run)
}

fn parse_simulate(args: Vec<OsString>) -> Result<Command, CliError> {
    let (raw, positionals) = raw::read(args, &flags::simulate_flags(), Some(SIMULATE))?;
    if help_asked(&raw)? {
        return Ok(Command::Help);
    }
    let (json, svg) = config::simulate_flags(&raw)?;
    if replay::wants_replay(&raw) {
        if let Some(arg) = positionals.first() {
            return Err(CliError::UnexpectedArgument {
                arg: arg.to_string_lossy().into_owned(),
                hint: "-from-prometheus replays history, not a scenario file",
            });
        }
        let all = config::is_set(&raw, &flags::ALL)?;
        return replay::replay_config(&raw, json, all, svg).map(Command::Replay);
    }
    if let Some(flag) = replay::replay_only_given(&raw) {
        return Err(CliError::Conflict {
            flag,
            with: "a scenario: it is for a replay with -from-prometheus URL, and a scenario file holds its own spec",
        });
    }
    let compare = config::is_set(&raw, &flags::COMPARE)?;
    let all = config::is_set(&raw, &flags::ALL)?;
    let mut positionals = positionals.into_iter();
    let scenario = positionals.next().map(PathBuf::from);
    if let Some(extra) = positionals.next() {
        return Err(CliError::UnexpectedArgument {
            arg: extra.to_string_lossy().into_owned(),
            hint: "simulate takes at most one scenario file",
        });
    }
    if scenario.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
        return Err(CliError::UnexpectedArgument {
            arg: String::new(),
            hint: "the scenario file name is empty",
        });
    }
    Ok(Command::Simulate {
        scenario,
        json,
        all,
        svg,
        compare,
    })
}

fn parse_explain(args: Vec<OsString>) -> Result<Command, CliError> {
    let (raw, positionals) = raw::read(args, flags::EXPLAIN, Some(EXPLAIN))?;
    if help_asked(&raw)? {
        return Ok(Command::Help);
    }
    let mut positionals = positionals.into_iter();
    let input = positionals.next().map(PathBuf::from);
    if let Some(extra) = positionals.next() {
        return Err(CliError::UnexpectedArgument {
            arg: extra.to_string_lossy().into_owned(),
            hint: "explain takes at most one file (or - for stdin)",
        });
    }
    if input.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
        return Err(CliError::UnexpectedArgument {
            arg: String::new(),
            hint: "the file name is empty",
        });
    }
    Ok(Command::Explain { input })
}

fn help_asked(raw: &raw::RawFlags) -> Result<bool, CliError> {
    Ok(config::is_set(raw, &flags::HELP)? || config::is_set(raw, &flags::HELP_LONG)?)
}

#[cfg(test)]
mod test;
