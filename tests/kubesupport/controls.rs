//! What a test can change while the fake runs: accepted tokens, RBAC-ish
//! denials, watch behaviour and injected faults. Every fault is bounded: a
//! failure rule fires a given number of times, delays are capped, and watch
//! cuts only ever end streams early.

use std::collections::BTreeSet;
use std::time::Duration;

/// The token [`super::FakeApiServer::start`] accepts until `set_tokens`.
pub const TOKEN: &str = "fake-token";
/// Longest delay a rule may add to one request.
pub const MAX_DELAY: Duration = Duration::from_secs(30);

/// Matches requests by method (`"*"` or `""` for any) and a substring of
/// `path?query`.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub method: String,
    pub contains: String,
}

impl Matcher {
    pub fn new(method: &str, contains: &str) -> Matcher {
        Matcher {
            method: method.to_string(),
            contains: contains.to_string(),
        }
    }

    pub fn matches(&self, method: &str, target: &str) -> bool {
        let method_ok = self.method.is_empty()
            || self.method == "*"
            || self.method.eq_ignore_ascii_case(method);
        method_ok && target.contains(&self.contains)
    }
}

#[derive(Debug, Clone)]
struct FailRule {
    matcher: Matcher,
    remaining: usize,
    code: u16,
    retry_after: Option<u64>,
}

#[derive(Debug, Clone)]
struct DelayRule {
    matcher: Matcher,
    delay: Duration,
}

/// How watch streams are cut short.
#[derive(Debug, Clone, Default)]
pub struct WatchCuts {
    /// Drop every stream after it has sent this many object events
    /// (ADDED/MODIFIED/DELETED; bookmarks do not count).
    pub after_events: Option<usize>,
    /// Drop every stream this long after it began.
    pub after: Option<Duration>,
    /// Drop this many of the next streams right after their headers.
    pub next: usize,
    /// Bumped by `cut_open_watches`; a stream that sees it change drops.
    pub epoch: u64,
    /// This many of the next watches are told their version expired (410),
    /// whatever version they ask for.
    pub expire_next: usize,
    /// End every stream properly once it has sent this many BOOKMARKs.
    pub after_bookmarks: Option<usize>,
}

#[derive(Debug)]
pub struct Controls {
    tokens: Vec<String>,
    forbidden: BTreeSet<String>,
    failures: Vec<FailRule>,
    delays: Vec<DelayRule>,
    pub cuts: WatchCuts,
    /// How often a watch with `allowWatchBookmarks` gets a BOOKMARK.
    pub bookmark_interval: Duration,
    /// Answer a watch from a compacted version with HTTP 410 instead of the
    /// real server's 200 + ERROR event.
    pub expired_as_http: bool,
    /// Requests that are carried out but whose response is lost.
    lost: Vec<FailRule>,
    /// Every request waits this long before it is served: a network and
    /// server round trip, for benchmarks. A setting, not a fault:
    /// `clear_faults` keeps it.
    pub latency: Duration,
    /// With rules, only what they grant is served (the rest is 403).
    pub rbac: Option<Vec<super::rbac::Rule>>,
}

impl Default for Controls {
    fn default() -> Controls {
        Controls {
            tokens: vec![TOKEN.to_string()],
            forbidden: BTreeSet::new(),
            failures: Vec::new(),
            delays: Vec::new(),
            cuts: WatchCuts::default(),
            bookmark_interval: Duration::from_secs(1),
            expired_as_http: false,
            lost: Vec::new(),
            latency: Duration::ZERO,
            rbac: None,
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in
/// any case, as the server reads it).
pub fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    let (scheme, token) = authorization?.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

impl Controls {
    pub fn set_tokens(&mut self, tokens: &[&str]) {
        self.tokens = tokens.iter().map(|t| t.to_string()).collect();
    }

    /// Whether an `Authorization` header carries an accepted bearer token.
    pub fn authenticated(&self, authorization: Option<&str>) -> bool {
        bearer_token(authorization).is_some_and(|token| self.tokens.iter().any(|t| t == token))
    }

    /// `resource` is a plural (`memhpas`: every subresource too) or
    /// `plural/subresource` (`deployments/scale`).
    pub fn set_forbidden(&mut self, resource: &str, forbidden: bool) {
        if forbidden {
            self.forbidden.insert(resource.to_string());
        } else {
            self.forbidden.remove(resource);
        }
    }

    pub fn is_forbidden(&self, plural: &str, subresource: Option<&str>) -> bool {
        self.forbidden.contains(plural)
            || subresource.is_some_and(|sub| self.forbidden.contains(&format!("{plural}/{sub}")))
    }

    pub fn add_failure(
        &mut self,
        matcher: Matcher,
        times: usize,
        code: u16,
        retry_after: Option<u64>,
    ) {
        self.failures.push(FailRule {
            matcher,
            remaining: times,
            code,
            retry_after,
        });
    }

    /// The (status, Retry-After) to fail this request with, if a rule
    /// still has shots.
    pub fn take_failure(&mut self, method: &str, target: &str) -> Option<(u16, Option<u64>)> {
        let rule = self
            .failures
            .iter_mut()
            .find(|rule| rule.remaining > 0 && rule.matcher.matches(method, target))?;
        rule.remaining -= 1;
        Some((rule.code, rule.retry_after))
    }

    /// The next `times` matching requests are carried out, but the
    /// connection closes instead of answering.
    pub fn add_lost_response(&mut self, matcher: Matcher, times: usize) {
        self.lost.push(FailRule {
            matcher,
            remaining: times,
            code: 0,
            retry_after: None,
        });
    }

    /// Whether this request's response is to be lost (one shot of a rule).
    pub fn take_lost_response(&mut self, method: &str, target: &str) -> bool {
        let Some(rule) = self
            .lost
            .iter_mut()
            .find(|rule| rule.remaining > 0 && rule.matcher.matches(method, target))
        else {
            return false;
        };
        rule.remaining -= 1;
        true
    }

    pub fn add_delay(&mut self, matcher: Matcher, delay: Duration) {
        self.delays.push(DelayRule {
            matcher,
            delay: delay.min(MAX_DELAY),
        });
    }

    /// The delay for this request: the latency, plus the longest of the
    /// matching rules.
    pub fn delay_for(&self, method: &str, target: &str) -> Duration {
        let fault = self
            .delays
            .iter()
            .filter(|rule| rule.matcher.matches(method, target))
            .map(|rule| rule.delay)
            .max()
            .unwrap_or(Duration::ZERO);
        self.latency + fault
    }

    /// Removes every fault: failures, delays, denials and watch cuts. Tokens
    /// and the watch settings stay.
    pub fn clear_faults(&mut self) {
        self.failures.clear();
        self.lost.clear();
        self.delays.clear();
        self.forbidden.clear();
        let epoch = self.cuts.epoch;
        self.cuts = WatchCuts {
            epoch,
            ..WatchCuts::default()
        };
    }
}
