//! The one error type of the Prometheus boundary.

use std::fmt;
use std::time::Duration;

use super::usage::Problem;

/// Longest piece of a query or a body quoted in an error message: enough to
/// recognise it, short enough for a condition message and a log line.
const QUOTE_LIMIT: usize = 240;

/// Why a Prometheus query gave no usable usage.
///
/// Every variant that follows a request names the query, so an operator can paste
/// it into the Prometheus UI and see for themselves.
#[derive(Debug, Clone, PartialEq)]
pub enum PromError {
    /// The options cannot work: a bad base URL or template, an unreadable or empty
    /// bearer token file, a CA file without a certificate.
    Config { detail: String },
    /// The request did not get an HTTP response: connection refused, DNS, TLS.
    Transport {
        url: String,
        query: String,
        detail: String,
    },
    /// No complete response within the per-request timeout.
    Timeout {
        url: String,
        query: String,
        timeout: Duration,
    },
    /// A non-2xx status whose body is not a Prometheus error object.
    Http {
        query: String,
        status: u16,
        body: String,
    },
    /// Prometheus answered `"status": "error"` (e.g. `bad_data` for a syntax error).
    Api {
        query: String,
        status: u16,
        error_type: String,
        error: String,
    },
    /// The body is not JSON, or not the shape of a query response.
    Decode {
        query: String,
        detail: String,
        body: String,
    },
    /// The query gave another result type than the one asked for: a matrix,
    /// scalar or string instead of an instant vector, or not a matrix from a
    /// range query.
    UnexpectedResultType {
        query: String,
        result_type: String,
        expected: &'static str,
    },
    /// Success, but not one series for a wanted pod of the namespace.
    Empty {
        namespace: String,
        query: String,
        unwanted_series: usize,
    },
    /// Every series for a wanted pod carried NaN, an infinity or a negative value.
    NonFinite {
        namespace: String,
        query: String,
        problems: Vec<Problem>,
    },
}

impl fmt::Display for PromError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PromError::Config { detail } => write!(f, "Prometheus client configuration: {detail}"),
            PromError::Transport { url, query, detail } => {
                write!(
                    f,
                    "cannot reach Prometheus at {url} for query {}: {detail}",
                    quote(query)
                )
            }
            PromError::Timeout {
                url,
                query,
                timeout,
            } => write!(
                f,
                "Prometheus at {url} did not answer query {} within {} ms",
                quote(query),
                timeout.as_millis()
            ),
            PromError::Http {
                query,
                status,
                body,
            } => {
                write!(
                    f,
                    "Prometheus answered HTTP {status} to query {}: body {}",
                    quote(query),
                    quote(body)
                )
            }
            PromError::Api {
                query,
                status,
                error_type,
                error,
            } => write!(
                f,
                "Prometheus rejected query {} (HTTP {status}, errorType {}): {}",
                quote(query),
                quote(error_type),
                quote(error)
            ),
            PromError::Decode {
                query,
                detail,
                body,
            } => write!(
                f,
                "cannot decode Prometheus' answer to query {}: {detail}; body {}",
                quote(query),
                quote(body)
            ),
            PromError::UnexpectedResultType {
                query,
                result_type,
                expected,
            } => write!(
                f,
                "query {} returned resultType {}, expected {expected:?}",
                quote(query),
                quote(result_type)
            ),
            PromError::Empty {
                namespace,
                query,
                unwanted_series,
            } => {
                write!(
                    f,
                    "Prometheus returned no series for namespace {} (query {}",
                    quote(namespace),
                    quote(query)
                )?;
                if *unwanted_series > 0 {
                    write!(f, "; {unwanted_series} series were left out: other pods or namespaces, no pod label, or POD series")?;
                }
                write!(f, ")")
            }
            PromError::NonFinite {
                namespace,
                query,
                problems,
            } => {
                write!(
                    f,
                    "every series Prometheus returned for namespace {} is not a number",
                    quote(namespace)
                )?;
                if let Some(first) = problems.first() {
                    // The sample and labels are Prometheus' text: cut like a body.
                    let first = excerpt(first.to_string().as_bytes());
                    write!(f, " (e.g. {first}; {} in all)", problems.len())?;
                }
                write!(f, "; query {}", quote(query))
            }
        }
    }
}

impl std::error::Error for PromError {}

// `quote` and `excerpt` at this boundary's limit.
crate::quote::at_limit!(QUOTE_LIMIT);

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn quote_cuts_long_text_and_counts_the_rest() {
        let long = "x".repeat(QUOTE_LIMIT + 10);
        let quoted = quote(&long);
        assert!(quoted.ends_with("... (10 more characters)"), "{quoted}");
        assert_eq!(quoted.matches('x').count(), QUOTE_LIMIT);
    }

    #[test]
    fn quote_escapes_control_characters() {
        assert_eq!(quote("a\nb\u{1b}"), "\"a\\nb\\u{1b}\"");
    }

    #[test]
    fn excerpt_is_lossy_and_bounded() {
        let mut body = vec![0xff, b'a'];
        body.extend(std::iter::repeat(b'b').take(QUOTE_LIMIT * 4));
        let text = excerpt(&body);
        assert!(text.starts_with("\u{fffd}a"), "{text}");
        assert!(text.ends_with(" [2 more bytes]"), "{text}");
    }

    #[test]
    fn empty_names_the_namespace_and_the_query() {
        let err = PromError::Empty {
            namespace: "demo".into(),
            query: "up".into(),
            unwanted_series: 2,
        };
        let text = err.to_string();
        assert!(text.contains("no series for namespace \"demo\""), "{text}");
        assert!(text.contains("query \"up\""), "{text}");
        assert!(text.contains("2 series were left out"), "{text}");
    }
}
