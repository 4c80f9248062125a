//! The log of every request the fake answered, for tests to assert on.

use serde_json::Value;

use super::controls::Matcher;
use super::http::query_param;

/// The log stops growing past this many entries (far above any test).
pub const MAX_RECORDED: usize = 200_000;

/// One request and the status it got. Watches are recorded when their
/// headers go out (200, or 410 when answered that way).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    pub content_type: Option<String>,
    /// The body, lossily as text.
    pub body: String,
    /// Whether an `Authorization` header was sent.
    pub authorization: bool,
    /// The bearer token it carried, accepted or not: with one token per
    /// client, who sent the request. Only test tokens ever reach the fake.
    pub token: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    pub status: u16,
    /// When it was answered (a write: when the fake applied it).
    pub at: std::time::Instant,
}

impl Recorded {
    /// Query parameter `name`, decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        query_param(&self.query, name)
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// `path?query`, what fault rules and `count` match against.
    pub fn target(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// A `GET` with `watch=true` (or `1`).
    pub fn is_watch(&self) -> bool {
        self.method == "GET" && self.param("watch").is_some_and(|w| is_true(&w))
    }

    /// Sent with the bearer token `token`.
    pub fn sent_with(&self, token: &str) -> bool {
        self.token.as_deref() == Some(token)
    }

    pub fn matches(&self, method: &str, contains: &str) -> bool {
        Matcher::new(method, contains).matches(&self.method, &self.target())
    }
}

/// Go's strconv.ParseBool truths, which is how the server reads `watch`.
pub fn is_true(text: &str) -> bool {
    matches!(text, "1" | "t" | "T" | "true" | "TRUE" | "True")
}
