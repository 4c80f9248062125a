//! What the command line tells the Prometheus client.

use std::path::PathBuf;
use std::time::Duration;

/// The base URL the original controller used: `{scheme}://{name}.{namespace}:{port}`
/// with the flags' defaults.
pub const DEFAULT_BASE_URL: &str = "http://prometheus.kube-system:9090";

/// The per-request timeout when `-prom-timeout` is not given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The smoothing window of the default query (`{window}` in a template). One
/// minute covers several scrapes at the usual 15 s to 30 s interval, so one late
/// scrape does not make a pod missing, and it is short next to the 30 s resync.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

/// Options of [`Client`](super::Client). Build with struct update syntax over
/// `PromOptions::default()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromOptions {
    /// `scheme://host:port`, optionally with a path prefix (a Prometheus behind a
    /// reverse proxy); `/api/v1/query` is appended.
    pub base_url: String,
    /// `-prom-query`: replaces the default query; see the module docs for the
    /// placeholders.
    pub query_template: Option<String>,
    /// The whole-request timeout: connect, send, and read the full answer.
    pub timeout: Duration,
    /// The `{window}` of the query.
    pub window: Duration,
    /// A file holding a bearer token, read again before every request so a
    /// rotated token is picked up without a restart.
    pub bearer_token_file: Option<PathBuf>,
    /// A PEM bundle of the CAs that sign Prometheus' certificate. Without it,
    /// https uses the bundled Mozilla roots.
    pub ca_file: Option<PathBuf>,
    /// `-allow-insecure-http`: send the token over plain http to a host that
    /// is not loopback. Off, such options are refused.
    pub allow_insecure_http: bool,
}

impl PromOptions {
    /// Whether the bearer token would cross the network in clear: a token
    /// file and a plain-http URL to a host that is not loopback. The default
    /// URL is plain http, but without a token it exposes nothing.
    pub fn sends_token_in_clear(&self) -> bool {
        crate::http::sends_token_in_clear(self.bearer_token_file.is_some(), &self.base_url)
    }
}

impl Default for PromOptions {
    fn default() -> Self {
        PromOptions {
            base_url: DEFAULT_BASE_URL.to_string(),
            query_template: None,
            timeout: DEFAULT_TIMEOUT,
            window: DEFAULT_WINDOW,
            bearer_token_file: None,
            ca_file: None,
            allow_insecure_http: false,
        }
    }
}
