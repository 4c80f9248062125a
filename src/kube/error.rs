//! The one error type of the Kubernetes boundary, and the mapping of an error
//! response (a metav1.Status body) onto it.

use std::fmt;
use std::time::Duration;

use crate::api::{Status, StatusCause};

/// Longest piece of a body or message quoted in an error: enough to recognise
/// it, short enough for a condition message and a log line.
const QUOTE_LIMIT: usize = 400;

/// Why a Kubernetes API call did not give what was asked.
///
/// Every variant that follows a request names the verb (`get`, `list`, `watch`,
/// `update`, `create`, `patch`) and the path, and quotes what the server said.
/// The kinds the controller branches on are variants of their own.
#[derive(Debug, Clone, PartialEq)]
pub enum KubeError {
    /// The configuration cannot work: no base URL, an unreadable or empty token
    /// file, a CA file without a certificate, missing in-cluster variables.
    Config { detail: String },
    /// The caller handed an object the request cannot be built from (no name,
    /// no resourceVersion for an optimistic update, an empty selector).
    MissingField {
        verb: &'static str,
        object: String,
        field: &'static str,
    },
    /// No HTTP response: connection refused, DNS, TLS, a cut stream, shutdown.
    Transport {
        verb: &'static str,
        path: String,
        detail: String,
    },
    /// No complete response within the time allowed.
    Timeout {
        verb: &'static str,
        path: String,
        timeout: Duration,
    },
    /// 401: the token is bad or was rotated (it has been re-read once already).
    Unauthorized {
        verb: &'static str,
        path: String,
        message: String,
    },
    /// 403: RBAC does not allow the call.
    Forbidden {
        verb: &'static str,
        path: String,
        message: String,
    },
    /// 404: the object (or the scale target) does not exist.
    NotFound {
        verb: &'static str,
        path: String,
        message: String,
    },
    /// 409: a stale resourceVersion (`Conflict`) or a create of an existing
    /// name (`AlreadyExists`); `reason` tells which.
    Conflict {
        verb: &'static str,
        path: String,
        reason: String,
        message: String,
    },
    /// 410: the resourceVersion (or continue token) is too old; relist.
    Gone {
        verb: &'static str,
        path: String,
        message: String,
    },
    /// 422: the server's validation refused the object; `causes` name the fields.
    Invalid {
        verb: &'static str,
        path: String,
        message: String,
        causes: Vec<StatusCause>,
    },
    /// 429: throttled (API priority and fairness); wait `retry_after` if given.
    TooManyRequests {
        verb: &'static str,
        path: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// 5xx.
    Server {
        verb: &'static str,
        path: String,
        status: u16,
        message: String,
    },
    /// Any other non-2xx status.
    Http {
        verb: &'static str,
        path: String,
        status: u16,
        message: String,
    },
    /// A 2xx body that is not the object asked for, or one too large to read.
    Decode {
        verb: &'static str,
        path: String,
        detail: String,
        body: String,
    },
    /// A list that grew past one of the bounds memhpa sets on a whole list:
    /// `limit` of `unit` (`bytes` on the wire, `items` or `pages`). A server
    /// whose continue tokens never end would otherwise grow memory until the
    /// process is killed.
    ListTooLarge {
        path: String,
        limit: u64,
        unit: &'static str,
        pages: usize,
    },
    /// A 3xx answer. memhpa does not follow redirects: a PUT cannot be
    /// replayed by the HTTP client, and the bearer token must not travel to
    /// another host.
    Redirect {
        verb: &'static str,
        method: &'static str,
        path: String,
        status: u16,
        location: String,
    },
    /// A scaleTargetRef memhpa cannot scale.
    UnsupportedTarget {
        api_version: String,
        kind: String,
        name: String,
    },
}

impl KubeError {
    /// Maps an error response onto a variant. The body is decoded as a
    /// metav1.Status when it is one; otherwise (a proxy's HTML page, garbage) its
    /// start is quoted as the message. `retry_after_header` is the raw
    /// `Retry-After` header, which wins over `details.retryAfterSeconds`.
    pub fn from_response(
        verb: &'static str,
        path: &str,
        status: u16,
        retry_after_header: Option<&str>,
        body: &[u8],
    ) -> KubeError {
        let header = retry_after_header.and_then(parse_retry_after);
        let status_body = serde_json::from_slice::<Status>(body)
            .ok()
            .filter(|decoded| decoded.kind.as_deref() == Some("Status") || decoded.code.is_some());
        let decoded = status_body.unwrap_or_else(|| Status {
            message: Some(excerpt(body)),
            ..Status::default()
        });
        KubeError::from_status(verb, path, status, &decoded, header)
    }

    /// Maps a decoded Status (from an error body, or from a watch `ERROR` event)
    /// onto a variant by `http_status`; 0 means "use the Status' own code".
    pub fn from_status(
        verb: &'static str,
        path: &str,
        http_status: u16,
        status: &Status,
        retry_after: Option<Duration>,
    ) -> KubeError {
        let code = if http_status == 0 {
            status.code.unwrap_or(0)
        } else {
            http_status
        };
        let path = path.to_string();
        let message = status_message(status);
        match code {
            401 => KubeError::Unauthorized {
                verb,
                path,
                message,
            },
            403 => KubeError::Forbidden {
                verb,
                path,
                message,
            },
            404 => KubeError::NotFound {
                verb,
                path,
                message,
            },
            409 => KubeError::Conflict {
                verb,
                path,
                reason: status.reason.clone().unwrap_or_else(|| "Conflict".into()),
                message,
            },
            410 => KubeError::Gone {
                verb,
                path,
                message,
            },
            422 => KubeError::Invalid {
                verb,
                path,
                message,
                causes: status
                    .details
                    .as_ref()
                    .map(|details| details.causes.clone())
                    .unwrap_or_default(),
            },
            429 => KubeError::TooManyRequests {
                verb,
                path,
                message,
                retry_after: retry_after.or_else(|| {
                    status
                        .details
                        .as_ref()
                        .and_then(|details| details.retry_after_seconds)
                        .map(Duration::from_secs)
                }),
            },
            500..=599 => KubeError::Server {
                verb,
                path,
                status: code,
                message,
            },
            _ => KubeError::Http {
                verb,
                path,
                status: code,
                message,
            },
        }
    }

    /// Whether the same request may succeed later unchanged: transport trouble,
    /// timeouts, throttling, 5xx, and 401 (the kubelet may rotate the token
    /// file). Conflict needs a re-GET first and Gone a relist, so they are not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            KubeError::Transport { .. }
                | KubeError::Timeout { .. }
                | KubeError::TooManyRequests { .. }
                | KubeError::Server { .. }
                | KubeError::Unauthorized { .. }
        )
    }

    /// The wait the server asked for (429 with Retry-After), if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            KubeError::TooManyRequests { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The server's message, for condition messages and events.
    pub fn message(&self) -> Option<&str> {
        match self {
            KubeError::Unauthorized { message, .. }
            | KubeError::Forbidden { message, .. }
            | KubeError::NotFound { message, .. }
            | KubeError::Conflict { message, .. }
            | KubeError::Gone { message, .. }
            | KubeError::Invalid { message, .. }
            | KubeError::TooManyRequests { message, .. }
            | KubeError::Server { message, .. }
            | KubeError::Http { message, .. } => Some(message),
            _ => None,
        }
    }
}

impl fmt::Display for KubeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KubeError::Config { detail } => write!(f, "Kubernetes client configuration: {detail}"),
            KubeError::MissingField {
                verb,
                object,
                field,
            } => write!(f, "cannot {verb} {object}: it has no {field}"),
            KubeError::Transport { verb, path, detail } => {
                write!(f, "{verb} {path}: no answer from the API server: {detail}")
            }
            KubeError::Timeout {
                verb,
                path,
                timeout,
            } => write!(
                f,
                "{verb} {path}: the API server did not answer within {} ms",
                timeout.as_millis()
            ),
            KubeError::Unauthorized {
                verb,
                path,
                message,
            } => write!(
                f,
                "{verb} {path}: unauthorized (HTTP 401; the token is bad or was rotated): {}",
                quote(message)
            ),
            KubeError::Forbidden {
                verb,
                path,
                message,
            } => write!(
                f,
                "{verb} {path}: forbidden by RBAC (HTTP 403): {}",
                quote(message)
            ),
            KubeError::NotFound {
                verb,
                path,
                message,
            } => write!(f, "{verb} {path}: not found (HTTP 404): {}", quote(message)),
            KubeError::Conflict {
                verb,
                path,
                reason,
                message,
            } => write!(
                f,
                "{verb} {path}: {} (HTTP 409): {}",
                quote(reason),
                quote(message)
            ),
            KubeError::Gone {
                verb,
                path,
                message,
            } => write!(
                f,
                "{verb} {path}: resource version expired (HTTP 410), relist: {}",
                quote(message)
            ),
            KubeError::Invalid {
                verb,
                path,
                message,
                causes,
            } => {
                write!(f, "{verb} {path}: invalid (HTTP 422): {}", quote(message))?;
                for cause in causes {
                    write!(
                        f,
                        "; field {}: {}",
                        quote(cause.field.as_deref().unwrap_or("")),
                        quote(cause.message.as_deref().unwrap_or(""))
                    )?;
                }
                Ok(())
            }
            KubeError::TooManyRequests {
                verb,
                path,
                message,
                retry_after,
            } => {
                write!(f, "{verb} {path}: too many requests (HTTP 429)")?;
                if let Some(wait) = retry_after {
                    write!(f, ", retry after {} s", wait.as_secs())?;
                }
                write!(f, ": {}", quote(message))
            }
            KubeError::Server {
                verb,
                path,
                status,
                message,
            } => write!(
                f,
                "{verb} {path}: server error (HTTP {status}): {}",
                quote(message)
            ),
            KubeError::Http {
                verb,
                path,
                status,
                message,
            } => write!(f, "{verb} {path}: HTTP {status}: {}", quote(message)),
            KubeError::Decode {
                verb,
                path,
                detail,
                body,
            } => write!(
                f,
                // serde's detail quotes a wrong-typed string whole: cut it too.
                "{verb} {path}: cannot decode the answer: {}; body {}",
                excerpt(detail.as_bytes()),
                quote(body)
            ),
            KubeError::ListTooLarge {
                path,
                limit,
                unit,
                pages,
            } => write!(
                f,
                "list {path}: the list grew past its limit of {limit} {unit} \
                 (after {pages} pages); memhpa stops reading it"
            ),
            KubeError::Redirect {
                verb,
                method,
                path,
                status,
                location,
            } => write!(
                f,
                "{verb} {path}: the API server answered {status} {} to {method}; \
                 memhpa does not follow redirects (Location {})",
                redirect_reason(*status),
                quote(location)
            ),
            KubeError::UnsupportedTarget {
                api_version,
                kind,
                name,
            } => write!(
                f,
                "scaleTargetRef {}/{} (apiVersion {}) is not supported: memhpa scales \
                 apps/v1 Deployment, StatefulSet and ReplicaSet, and v1 ReplicationController",
                // From the MemHpa's spec, so of any length: cut like a body.
                excerpt(kind.as_bytes()),
                excerpt(name.as_bytes()),
                quote(api_version)
            ),
        }
    }
}

impl std::error::Error for KubeError {}

/// The Status message, or its reason when the server sent no message.
fn status_message(status: &Status) -> String {
    status
        .message
        .clone()
        .filter(|message| !message.is_empty())
        .or_else(|| status.reason.clone())
        .unwrap_or_default()
}

/// The reason phrase of a 3xx status, for the redirect message.
fn redirect_reason(status: u16) -> &'static str {
    match status {
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        _ => "Redirect",
    }
}

/// `Retry-After` in seconds. The HTTP-date form is not used by kube-apiserver,
/// and is ignored rather than guessed at.
pub(crate) fn parse_retry_after(raw: &str) -> Option<Duration> {
    raw.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Quotes outside text for a message, cut to [`QUOTE_LIMIT`] characters.
pub(crate) fn quote(text: &str) -> String {
    crate::quote::quote(text, QUOTE_LIMIT)
}

/// The start of a response body, at most `4 * QUOTE_LIMIT` bytes.
pub(crate) fn excerpt(body: &[u8]) -> String {
    crate::quote::excerpt(body, QUOTE_LIMIT)
}

#[cfg(test)]
mod test {
    use super::*;

    const PATH: &str = "/apis/memhpa.io/v1/namespaces/demo/memhpas/web";

    fn status_body(code: u16, reason: &str, message: &str) -> Vec<u8> {
        serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": message, "reason": reason, "code": code,
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn conflict_keeps_the_reason() {
        let err = KubeError::from_response(
            "create",
            PATH,
            409,
            None,
            &status_body(409, "AlreadyExists", "memhpas \"web\" already exists"),
        );
        assert!(
            matches!(&err, KubeError::Conflict { reason, .. } if reason == "AlreadyExists"),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.starts_with(&format!("create {PATH}: ")), "{text}");
        assert!(text.contains("already exists"), "{text}");
    }

    #[test]
    fn retry_after_header_wins_over_details() {
        let body = br#"{"kind":"Status","code":429,"message":"slow down","details":{"retryAfterSeconds":9}}"#;
        let from_header = KubeError::from_response("list", PATH, 429, Some(" 3 "), body);
        assert_eq!(from_header.retry_after(), Some(Duration::from_secs(3)));
        let from_details = KubeError::from_response("list", PATH, 429, None, body);
        assert_eq!(from_details.retry_after(), Some(Duration::from_secs(9)));
        let date_header = KubeError::from_response(
            "list",
            PATH,
            429,
            Some("Wed, 21 Oct 2015 07:28:00 GMT"),
            body,
        );
        assert_eq!(date_header.retry_after(), Some(Duration::from_secs(9)));
        assert!(from_header.is_retryable());
    }

    #[test]
    fn non_status_body_is_quoted_and_cut() {
        let mut body = b"<html>bad gateway</html>".to_vec();
        body.extend(std::iter::repeat(b'x').take(QUOTE_LIMIT * 8));
        let err = KubeError::from_response("get", PATH, 502, None, &body);
        assert!(
            matches!(&err, KubeError::Server { status: 502, message, .. } if message.starts_with("<html>bad gateway")),
            "{err:?}"
        );
        assert!(err.to_string().contains("more characters"), "{err}");
    }

    #[test]
    fn status_without_message_falls_back_to_reason() {
        let body = br#"{"kind":"Status","code":403,"reason":"Forbidden"}"#;
        let err = KubeError::from_response("get", PATH, 403, None, body);
        assert_eq!(err.message(), Some("Forbidden"));
        assert!(!err.is_retryable());
    }

    #[test]
    fn in_stream_status_uses_its_own_code() {
        let status: Status =
            serde_json::from_slice(&status_body(410, "Expired", "too old")).expect("status");
        let err = KubeError::from_status("watch", PATH, 0, &status, None);
        assert!(matches!(err, KubeError::Gone { .. }), "{err:?}");
    }

    #[test]
    fn unknown_status_is_http_with_the_code() {
        let err = KubeError::from_response("get", PATH, 418, None, b"");
        assert!(
            matches!(err, KubeError::Http { status: 418, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn invalid_lists_the_causes_in_display() {
        let body = br#"{"kind":"Status","code":422,"message":"bad is invalid","details":{"causes":[{"field":"spec.maxReplicas","message":"must be >= 1"}]}}"#;
        let err = KubeError::from_response("create", PATH, 422, None, body);
        let text = err.to_string();
        assert!(text.contains("field \"spec.maxReplicas\""), "{text}");
        assert!(text.contains("must be >= 1"), "{text}");
    }

    #[test]
    fn unsupported_target_names_api_version_and_kind() {
        let err = KubeError::UnsupportedTarget {
            api_version: "batch/v1".into(),
            kind: "Job".into(),
            name: "nightly".into(),
        };
        let text = err.to_string();
        assert!(text.contains("Job/nightly"), "{text}");
        assert!(text.contains("\"batch/v1\""), "{text}");
    }
}
