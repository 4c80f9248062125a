//! The one error type of the command line. Every variant exits 2.

use std::fmt;

/// Longest piece of user input quoted back: enough to recognise it, short enough
/// for one line.
const QUOTE_LIMIT: usize = 120;

/// A command line that cannot be run. Display quotes what the user typed and says
/// what was expected, in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// A flag that this mode does not define (`memhpa` or `memhpa simulate`).
    UnknownFlag {
        flag: String,
        subcommand: Option<&'static str>,
    },
    /// A value flag at the end of the line, or followed by another flag's `--key`.
    MissingValue { flag: &'static str },
    /// A value that does not parse or is out of range; `problem` says what was
    /// expected.
    InvalidValue {
        flag: &'static str,
        value: String,
        problem: String,
    },
    /// A value that is not UTF-8 where text is needed (everything but paths);
    /// `value` is it with each bad byte sequence as U+FFFD.
    NotUtf8 { flag: &'static str, value: String },
    /// A positional argument this mode does not take.
    UnexpectedArgument { arg: String, hint: &'static str },
    /// A flag this combination of flags needs; `reason` says why and how.
    RequiredFlag {
        flag: &'static str,
        reason: &'static str,
    },
    /// A flag that cannot go with another flag (or with what `with` says).
    Conflict {
        flag: &'static str,
        with: &'static str,
    },
}

impl CliError {
    /// Usage errors exit 2, as Go's `flag` package and ripgrep do.
    pub fn exit_code(&self) -> i32 {
        2
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::UnknownFlag {
                flag,
                subcommand: None,
            } => write!(f, "unknown flag {}", quote(flag)),
            CliError::UnknownFlag {
                flag,
                subcommand: Some(sub),
            } => write!(f, "unknown flag {} for {sub}", quote(flag)),
            CliError::MissingValue { flag } => write!(f, "flag -{flag} needs a value"),
            CliError::InvalidValue {
                flag,
                value,
                problem,
            } => write!(f, "invalid value {} for -{flag}: {problem}", quote(value)),
            CliError::NotUtf8 { flag, value } => write!(
                f,
                "invalid value {} for -{flag}: not valid UTF-8",
                quote(value)
            ),
            CliError::UnexpectedArgument { arg, hint } => {
                write!(f, "unexpected argument {}: {hint}", quote(arg))
            }
            CliError::RequiredFlag { flag, reason } => {
                write!(f, "flag -{flag} is required: {reason}")
            }
            CliError::Conflict { flag, with } if with.contains(' ') => {
                write!(f, "flag -{flag} cannot be used with {with}")
            }
            CliError::Conflict { flag, with } => {
                write!(f, "flag -{flag} cannot be used with -{with}")
            }
        }
    }
}

impl std::error::Error for CliError {}

/// Quotes `text` as a string literal (control characters escaped, so the error
/// stays one line), cut to [`QUOTE_LIMIT`] characters: the crate's one quoting,
/// at the command line's limit.
pub fn quote(text: &str) -> String {
    crate::quote::quote(text, QUOTE_LIMIT)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn invalid_value_quotes_input_and_names_flag() {
        let err = CliError::InvalidValue {
            flag: "resync",
            value: "30x".into(),
            problem: "unknown unit \"x\"".into(),
        };
        assert_eq!(
            err.to_string(),
            "invalid value \"30x\" for -resync: unknown unit \"x\""
        );
    }

    #[test]
    fn quote_keeps_one_line() {
        assert_eq!(quote("a\nb"), "\"a\\nb\"");
    }

    #[test]
    fn quote_cuts_long_input() {
        let quoted = quote(&"x".repeat(QUOTE_LIMIT + 5));
        assert!(quoted.ends_with("\"... (5 more characters)"), "{quoted}");
        assert_eq!(quoted.matches('x').count(), QUOTE_LIMIT);
    }

    #[test]
    fn unknown_flag_names_subcommand() {
        let err = CliError::UnknownFlag {
            flag: "-svgg".into(),
            subcommand: Some("simulate"),
        };
        assert_eq!(err.to_string(), "unknown flag \"-svgg\" for simulate");
    }
}
