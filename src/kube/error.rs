//! The errors of the Kubernetes boundary: [`KubeError`] for a call that
//! failed (with the mapping of an error response, a metav1.Status body, onto
//! it), [`ConfigError`] for a client that cannot be built, and
//! [`UnsupportedTarget`] for a scaleTargetRef memhpa cannot scale.

use std::fmt;
use std::time::Duration;

use crate::api::{Status, StatusCause};

/// Longest piece of a body or message quoted in an error: enough to recognise
/// it, short enough for a condition message and a log line.
const QUOTE_LIMIT: usize = 400;

/// Why a Kubernetes API call did not give what was asked: the call (its verb,
/// `get`, `list`, `watch`, `update`, `create`, `patch`, and its path) and what
/// went wrong, as ureq's and kube-rs' errors are shaped.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeError {
    pub verb: &'static str,
    /// Path and query after the base URL; empty when the request could not
    /// even be built ([`ErrorKind::MissingField`]). A `Box<str>` keeps the
    /// whole error within clippy's bound for an `Err`.
    pub path: Box<str>,
    pub kind: ErrorKind,
}

/// What went wrong with one call. The kinds the controller branches on are
/// told apart by [`ErrorKind::Status`]'s code.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorKind {
    /// The server answered with a non-2xx, non-3xx status and (usually) a
    /// metav1.Status body. `reason` is the Status' reason (`AlreadyExists`,
    /// `Conflict` by default on 409), `message` its message or the start of a
    /// body that was no Status; `retry_after` only on 429; `causes` on 422.
    Status {
        code: u16,
        reason: String,
        message: String,
        retry_after: Option<Duration>,
        // Boxed: a slice keeps the whole error within clippy's bound for an
        // `Err`, and a cause list is rare.
        causes: Box<[StatusCause]>,
    },
    /// No HTTP response: connection refused, DNS, TLS, a cut stream, shutdown.
    Transport { detail: String },
    /// No complete response within the time allowed.
    Timeout { timeout: Duration },
    /// A 2xx body that is not the object asked for, or one too large to read.
    Decode { detail: String, body: String },
    /// A list that grew past one of the bounds memhpa sets on a whole list:
    /// `limit` of `unit` (`bytes` on the wire, `items` or `pages`). A server
    /// whose continue tokens never end would otherwise grow memory until the
    /// process is killed.
    ListTooLarge {
        limit: u64,
        unit: &'static str,
        pages: usize,
    },
    /// A 3xx answer. memhpa does not follow redirects: a PUT cannot be
    /// replayed by the HTTP client, and the bearer token must not travel to
    /// another host.
    Redirect {
        method: &'static str,
        status: u16,
        location: String,
    },
    /// The caller handed an object the request cannot be built from (no name,
    /// no resourceVersion for an optimistic update, an empty selector). No
    /// request was sent.
    MissingField { object: String, field: &'static str },
    /// The token file could not be read for this request (it was readable at
    /// start-up).
    Config(ConfigError),
}

/// The client configuration cannot work: no base URL, an unreadable or empty
/// token file, a CA file without a certificate, missing in-cluster variables.
/// Found before any request, so it names no verb nor path.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub detail: String,
}

impl ConfigError {
    pub(crate) fn new(detail: impl Into<String>) -> ConfigError {
        ConfigError {
            detail: detail.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kubernetes client configuration: {}", self.detail)
    }
}

impl std::error::Error for ConfigError {}

impl KubeError {
    pub fn new(verb: &'static str, path: impl Into<Box<str>>, kind: ErrorKind) -> KubeError {
        KubeError {
            verb,
            path: path.into(),
            kind,
        }
    }

    /// A request refused before it was built, for want of `field`.
    pub fn missing_field(verb: &'static str, object: String, field: &'static str) -> KubeError {
        KubeError::new(verb, "", ErrorKind::MissingField { object, field })
    }

    /// An error answer with `code`, as the server (or the controller on its
    /// behalf, e.g. for a target resized meanwhile) would give it.
    pub fn with_status(
        verb: &'static str,
        path: impl Into<Box<str>>,
        code: u16,
        reason: &str,
        message: impl Into<String>,
    ) -> KubeError {
        let kind = ErrorKind::Status {
            code,
            reason: reason.to_string(),
            message: message.into(),
            retry_after: None,
            causes: Box::default(),
        };
        KubeError::new(verb, path, kind)
    }

    /// Maps an error response onto a [`ErrorKind::Status`]. The body is
    /// decoded as a metav1.Status when it is one; otherwise (a proxy's HTML
    /// page, garbage) its start is quoted as the message.
    /// `retry_after_header` is the raw `Retry-After` header, which wins over
    /// `details.retryAfterSeconds`.
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

    /// Maps a decoded Status (from an error body, or from a watch `ERROR`
    /// event) by `http_status`; 0 means "use the Status' own code".
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
        let details = status.details.as_ref();
        let reason = status.reason.clone().filter(|reason| !reason.is_empty());
        let kind = ErrorKind::Status {
            code,
            reason: reason.unwrap_or_else(|| if code == 409 { "Conflict" } else { "" }.into()),
            message: status_message(status),
            retry_after: (code == 429)
                .then(|| {
                    retry_after.or_else(|| {
                        details
                            .and_then(|details| details.retry_after_seconds)
                            .map(Duration::from_secs)
                    })
                })
                .flatten(),
            causes: if code == 422 {
                details
                    .map(|details| details.causes.clone().into_boxed_slice())
                    .unwrap_or_default()
            } else {
                Box::default()
            },
        };
        KubeError::new(verb, path, kind)
    }

    /// The HTTP status the server answered, if it answered with an error.
    pub fn code(&self) -> Option<u16> {
        match &self.kind {
            ErrorKind::Status { code, .. } => Some(*code),
            ErrorKind::Redirect { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// 404: the object (or the scale target) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.has_status(404)
    }

    /// 409: a stale resourceVersion (`Conflict`) or a create of an existing
    /// name (`AlreadyExists`); the reason tells which.
    pub fn is_conflict(&self) -> bool {
        self.has_status(409)
    }

    /// 410: the resourceVersion (or continue token) is too old; relist.
    pub fn is_gone(&self) -> bool {
        self.has_status(410)
    }

    fn has_status(&self, wanted: u16) -> bool {
        matches!(self.kind, ErrorKind::Status { code, .. } if code == wanted)
    }

    /// Whether the same request may succeed later unchanged: transport trouble,
    /// timeouts, throttling, 5xx, and 401 (the kubelet may rotate the token
    /// file). Conflict needs a re-GET first and Gone a relist, so they are not.
    pub fn is_retryable(&self) -> bool {
        match &self.kind {
            ErrorKind::Transport { .. } | ErrorKind::Timeout { .. } => true,
            ErrorKind::Status { code, .. } => matches!(code, 401 | 429 | 500..=599),
            _ => false,
        }
    }

    /// The wait the server asked for (429 with Retry-After), if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match &self.kind {
            ErrorKind::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The server's message, for tests of the mapping.
    #[cfg(test)]
    pub(crate) fn message(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::Status { message, .. } => Some(message),
            _ => None,
        }
    }
}

impl fmt::Display for KubeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let KubeError { verb, path, kind } = self;
        match kind {
            ErrorKind::Config(config) => write!(f, "{config}"),
            ErrorKind::MissingField { object, field } => {
                write!(f, "cannot {verb} {object}: it has no {field}")
            }
            ErrorKind::Transport { detail } => {
                write!(f, "{verb} {path}: no answer from the API server: {detail}")
            }
            ErrorKind::Timeout { timeout } => write!(
                f,
                "{verb} {path}: the API server did not answer within {} ms",
                timeout.as_millis()
            ),
            ErrorKind::Status {
                code,
                reason,
                message,
                retry_after,
                causes,
            } => {
                write!(f, "{verb} {path}: ")?;
                write_status(f, *code, reason, *retry_after)?;
                write!(f, ": {}", quote(message))?;
                for cause in causes.iter() {
                    write!(
                        f,
                        "; field {}: {}",
                        quote(cause.field.as_deref().unwrap_or("")),
                        quote(cause.message.as_deref().unwrap_or(""))
                    )?;
                }
                Ok(())
            }
            ErrorKind::Decode { detail, body } => write!(
                f,
                // serde's detail quotes a wrong-typed string whole: cut it too.
                "{verb} {path}: cannot decode the answer: {}; body {}",
                excerpt(detail.as_bytes()),
                quote(body)
            ),
            ErrorKind::ListTooLarge { limit, unit, pages } => write!(
                f,
                "{verb} {path}: the list grew past its limit of {limit} {unit} \
                 (after {pages} pages); memhpa stops reading it"
            ),
            ErrorKind::Redirect {
                method,
                status,
                location,
            } => write!(
                f,
                "{verb} {path}: the API server answered {status} {} to {method}; \
                 memhpa does not follow redirects (Location {})",
                redirect_reason(*status),
                quote(location)
            ),
        }
    }
}

impl std::error::Error for KubeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Config(config) => Some(config),
            _ => None,
        }
    }
}

/// What the status code means, as the message before the server's own.
fn write_status(
    f: &mut fmt::Formatter<'_>,
    code: u16,
    reason: &str,
    retry_after: Option<Duration>,
) -> fmt::Result {
    match code {
        401 => write!(
            f,
            "unauthorized (HTTP 401; the token is bad or was rotated)"
        ),
        403 => write!(f, "forbidden by RBAC (HTTP 403)"),
        404 => write!(f, "not found (HTTP 404)"),
        409 => write!(f, "{} (HTTP 409)", quote(reason)),
        410 => write!(f, "resource version expired (HTTP 410), relist"),
        422 => write!(f, "invalid (HTTP 422)"),
        429 => {
            write!(f, "too many requests (HTTP 429)")?;
            match retry_after {
                Some(wait) => write!(f, ", retry after {} s", wait.as_secs()),
                None => Ok(()),
            }
        }
        500..=599 => write!(f, "server error (HTTP {code})"),
        _ => write!(f, "HTTP {code}"),
    }
}

/// A scaleTargetRef memhpa cannot scale: a fault of the MemHpa's spec, found
/// before any request.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsupportedTarget {
    pub api_version: String,
    pub kind: String,
    pub name: String,
}

impl fmt::Display for UnsupportedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "scaleTargetRef {}/{} (apiVersion {}) is not supported: memhpa scales \
             apps/v1 Deployment, StatefulSet and ReplicaSet, and v1 ReplicationController",
            // From the MemHpa's spec, so of any length: cut like a body.
            excerpt(self.kind.as_bytes()),
            excerpt(self.name.as_bytes()),
            quote(&self.api_version)
        )
    }
}

impl std::error::Error for UnsupportedTarget {}

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

// `quote` and `excerpt` at this boundary's limit.
crate::quote::at_limit!(QUOTE_LIMIT);

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
            matches!(&err.kind, ErrorKind::Status { code: 409, reason, .. } if reason == "AlreadyExists"),
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
            matches!(&err.kind, ErrorKind::Status { code: 502, message, .. } if message.starts_with("<html>bad gateway")),
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
        assert!(err.is_gone(), "{err:?}");
    }

    #[test]
    fn unknown_status_is_http_with_the_code() {
        let err = KubeError::from_response("get", PATH, 418, None, b"");
        assert!(
            matches!(err.kind, ErrorKind::Status { code: 418, .. }),
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
        let err = UnsupportedTarget {
            api_version: "batch/v1".into(),
            kind: "Job".into(),
            name: "nightly".into(),
        };
        let text = err.to_string();
        assert!(text.contains("Job/nightly"), "{text}");
        assert!(text.contains("\"batch/v1\""), "{text}");
    }
}
