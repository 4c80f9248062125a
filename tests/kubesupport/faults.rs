//! Fault injection and watch settings on [`FakeApiServer`]. Every fault is
//! bounded: failure rules fire a fixed number of times, delays are capped at
//! 30 s, and watch cuts only end streams early. `clear_faults` removes them
//! all.
//!
//! Rules match a method (`"*"` for any) and a substring of `path?query`, so
//! `("GET", "watch=true")` is the watch, `("PUT", "/scale")` every Scale write.

use std::time::Duration;

use super::controls::Matcher;
use super::FakeApiServer;

/// The longest latency `set_latency` keeps, as for a delay.
const MAX_LATENCY: Duration = Duration::from_secs(30);

impl FakeApiServer {
    /// The next `times` matching requests get HTTP `code` with the Status body
    /// the server uses for it: 401, 403, 404 and 409 worded for the request's
    /// resource exactly as the real ones (a 409 on a `/status` PUT is the
    /// fixture memhpa-status-put-stale-409), others generic (500
    /// InternalError, 503 ServiceUnavailable, 410 Expired, ...). Injected
    /// after authentication, before routing. Several calls make a 5xx burst
    /// on several paths.
    pub fn fail_next(&self, method: &str, contains: &str, times: usize, code: u16) {
        self.shared()
            .controls()
            .add_failure(Matcher::new(method, contains), times, code, None);
    }

    /// The next `times` matching requests get 429 TooManyRequests with
    /// `Retry-After: retry_after_seconds` and `details.retryAfterSeconds`.
    pub fn throttle_next(
        &self,
        method: &str,
        contains: &str,
        times: usize,
        retry_after_seconds: u64,
    ) {
        self.shared().controls().add_failure(
            Matcher::new(method, contains),
            times,
            429,
            Some(retry_after_seconds),
        );
    }

    /// Every matching request waits `delay` (at most 30 s) before it is
    /// answered, until `clear_faults`.
    pub fn delay(&self, method: &str, contains: &str, delay: Duration) {
        self.shared()
            .controls()
            .add_delay(Matcher::new(method, contains), delay);
    }

    /// Every request waits `latency` (at most 30 s) before it is served, on
    /// top of any `delay`: a round trip to a real API server, for the
    /// benchmark. Kept by `clear_faults`; `Duration::ZERO` turns it off.
    pub fn set_latency(&self, latency: Duration) {
        self.shared().controls().latency = latency.min(MAX_LATENCY);
    }

    /// Serves only what the ClusterRoles and Roles of `manifest` (YAML, as
    /// manifests/rbac.yaml) grant; the rest gets RBAC's 403. Panics on a
    /// manifest the line parser cannot read (a test's own input).
    pub fn enforce_rbac(&self, manifest: &str) {
        let rules = super::rbac::parse(manifest).unwrap_or_else(|e| panic!("RBAC manifest: {e}"));
        self.shared().controls().rbac = Some(rules);
    }

    /// RBAC-ish 403 for `resource`: a plural (`"memhpas"`, all subresources
    /// too) or `plural/subresource` (`"deployments/scale"`).
    pub fn forbid(&self, resource: &str, forbidden: bool) {
        self.shared().controls().set_forbidden(resource, forbidden);
    }

    /// Drops every watch stream (open or future) once it has sent `events`
    /// object events (bookmarks do not count); `None` turns this off. The
    /// connection is closed without the final chunk, as a dying proxy would.
    pub fn cut_watches_after_events(&self, events: Option<usize>) {
        self.shared().controls().cuts.after_events = events;
    }

    /// Drops every watch stream that has been open for `after`; `None` turns
    /// this off.
    pub fn cut_watches_after(&self, after: Option<Duration>) {
        self.shared().controls().cuts.after = after;
    }

    /// The next `streams` watches are dropped right after their headers.
    pub fn cut_next_watches(&self, streams: usize) {
        self.shared().controls().cuts.next = streams;
    }

    /// The next `streams` watches are answered as expired (410), whatever
    /// version they ask for: in-stream ERROR, or HTTP 410 under
    /// `set_expired_as_http_410`. Forces a relist without staging a compaction.
    pub fn expire_next_watches(&self, streams: usize) {
        self.shared().controls().cuts.expire_next = streams;
    }

    /// Every watch stream (open or future) ends properly, with its last
    /// chunk, right after its `bookmarks`-th BOOKMARK; `None` turns this off.
    pub fn end_watches_after_bookmarks(&self, bookmarks: Option<usize>) {
        self.shared().controls().cuts.after_bookmarks = bookmarks;
    }

    /// The next `times` matching requests are carried out (a write lands),
    /// but the connection is closed without a response, as when an answer is
    /// lost on the way back.
    pub fn lose_next_responses(&self, method: &str, contains: &str, times: usize) {
        self.shared()
            .controls()
            .add_lost_response(Matcher::new(method, contains), times);
    }

    /// Drops every watch stream open now (within ~50 ms).
    pub fn cut_open_watches(&self) {
        self.shared().controls().cuts.epoch += 1;
    }

    /// Removes failures, delays, denials and watch cuts. Tokens and the
    /// watch settings stay.
    pub fn clear_faults(&self) {
        self.shared().controls().clear_faults();
    }

    /// How often watches with `allowWatchBookmarks=true` get a BOOKMARK
    /// (default 1 s; at least 50 ms). Applies to streams opened afterwards.
    pub fn set_bookmark_interval(&self, interval: Duration) {
        self.shared().controls().bookmark_interval = interval;
    }

    /// `true`: a watch from a compacted version gets HTTP 410 with the
    /// Expired Status as body, instead of the real server's 200 + ERROR event.
    pub fn set_expired_as_http_410(&self, on: bool) {
        self.shared().controls().expired_as_http = on;
    }
}
