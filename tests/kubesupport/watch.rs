//! Watch streams: HTTP 200, chunked, one JSON event per line (fixture
//! memhpa-watch-stream), as api-concepts.md "Efficient detection of changes"
//! describes them.
//!
//! Where a watch starts (api-concepts, "Semantics for watch"):
//! - `resourceVersion` absent, empty or `"0"`: synthetic ADDED events for every
//!   object that exists now, then live events. (The real server's "0" may
//!   start from any cached state; the fake's cache is always current.)
//! - `resourceVersion=R`: every logged event newer than R, then live ones.
//!   If R is older than the last compaction the history is gone: HTTP 200
//!   with one ERROR event carrying a 410 Expired Status, then the stream ends
//!   (fixture memhpa-watch-expired-410). A test toggle answers HTTP 410
//!   instead, as some proxies and older servers do.
//!
//! With `allowWatchBookmarks=true` the stream carries BOOKMARK events, whose
//! object holds only apiVersion, kind and `metadata.resourceVersion` (the
//! version every earlier event of the stream is at or below), every
//! bookmark interval and once more just before the stream closes at
//! `timeoutSeconds` (api-concepts, "Watch bookmarks"; the fixture ends with
//! both).

use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::filter::Filter;
use super::http::{ChunkedWriter, Request};
use super::record::is_true;
use super::routes::{ResourceType, Route};
use super::server::Shared;
use super::status::{self, Failure};
use super::store::{Change, Logged};

/// The longest a watch stays open; also the default for a watch without
/// `timeoutSeconds` (the real server picks 30 to 60 minutes).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);
/// How often an idle stream looks at the store, the clock and the stop flag.
const TICK: Duration = Duration::from_millis(50);

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The current state as ADDED events, then live ones.
    Current,
    /// Events newer than this version.
    After(u64),
}

#[derive(Debug)]
pub struct WatchRequest {
    pub rtype: &'static ResourceType,
    pub namespace: Option<String>,
    pub start: Start,
    pub filter: Filter,
    pub bookmarks: bool,
    pub timeout: Duration,
}

/// Reads the watch parameters of a list request.
pub fn parse(route: &Route, request: &Request) -> Result<WatchRequest, Failure> {
    let start = match request.param("resourceVersion").as_deref() {
        None | Some("") | Some("0") => Start::Current,
        Some(text) => Start::After(text.parse().map_err(|_| {
            status::bad_request(format!(
                "resourceVersion: Invalid value: {text:?}: must be an integer"
            ))
        })?),
    };
    // Like the real server, 0 means "the server's default".
    let timeout = match request.param("timeoutSeconds") {
        None => MAX_TIMEOUT,
        Some(zero) if zero == "0" => MAX_TIMEOUT,
        Some(text) => Duration::from_secs(text.parse().map_err(|_| {
            status::bad_request(format!(
                "timeoutSeconds: Invalid value: {text:?}: must be an integer"
            ))
        })?)
        .min(MAX_TIMEOUT),
    };
    let filter = Filter::of(request)?;
    Ok(WatchRequest {
        rtype: route.rtype,
        namespace: route.namespace.clone(),
        start,
        filter,
        bookmarks: request
            .param("allowWatchBookmarks")
            .is_some_and(|b| is_true(&b)),
        timeout,
    })
}

/// How a watch opens.
pub enum Opening {
    /// Asked for compacted history.
    Expired(Failure),
    /// The events to send first, and the version they bring the stream to.
    Events(Vec<(Change, Value)>, u64),
}

/// Decides, under one look at the store, how `watch` begins; `force_expiry`
/// (a fault) answers 410 whatever the version.
pub fn open(shared: &Shared, watch: &WatchRequest, force_expiry: bool) -> Opening {
    let namespace = watch.namespace.as_deref();
    shared.store.read(|inner| match watch.start {
        Start::After(rv) if force_expiry => Opening::Expired(status::expired(rv, inner.rv())),
        Start::Current if force_expiry => Opening::Expired(status::expired(0, inner.rv())),
        Start::After(rv) if rv < inner.compacted() => {
            Opening::Expired(status::expired(rv, inner.compacted()))
        }
        Start::After(rv) => match inner.events_after(rv, watch.rtype.plural, namespace) {
            // A version from the future: nothing up to it is sent.
            Ok(events) => Opening::Events(
                events.into_iter().map(|e| (e.change, e.object)).collect(),
                inner.rv().max(rv),
            ),
            Err(pruned) => Opening::Expired(status::expired(rv, pruned.oldest)),
        },
        Start::Current => Opening::Events(
            inner
                .list(watch.rtype, namespace)
                .into_iter()
                .map(|object| (Change::Added, object.clone()))
                .collect(),
            inner.rv(),
        ),
    })
}

/// How a stream ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// Properly, with the last chunk: the connection can be reused.
    Finished,
    /// Dropped (a fault, shutdown or a write error): close the connection.
    Dropped,
}

fn event_line(kind: &str, object: &Value) -> Vec<u8> {
    let mut line = json!({ "type": kind, "object": object })
        .to_string()
        .into_bytes();
    line.push(b'\n');
    line
}

/// Sends the single ERROR event of an expired watch and ends the stream.
pub fn send_expired(stream: &mut TcpStream, failure: &Failure) -> End {
    let Ok(mut writer) = ChunkedWriter::start(stream, 200) else {
        return End::Dropped;
    };
    if writer.chunk(&event_line("ERROR", &failure.body)).is_err() {
        return End::Dropped;
    }
    match writer.finish() {
        Ok(()) => End::Finished,
        Err(_) => End::Dropped,
    }
}

/// State of one open stream.
struct Stream<'a> {
    shared: &'a Shared,
    watch: &'a WatchRequest,
    writer: ChunkedWriter<'a>,
    /// Every event at or below this version has been considered.
    cursor: u64,
    sent: usize,
    bookmarks: usize,
    began: Instant,
    epoch: u64,
}

impl Stream<'_> {
    fn selected(&self, object: &Value) -> bool {
        self.watch.filter.matches(object)
    }

    /// Sends object events; `false` when the stream must drop.
    fn send(&mut self, events: Vec<(Change, Value)>) -> bool {
        for (change, object) in events {
            if !self.selected(&object) {
                continue;
            }
            if self
                .writer
                .chunk(&event_line(change.word(), &object))
                .is_err()
            {
                return false;
            }
            self.sent += 1;
            let limit = self.shared.controls().cuts.after_events;
            if limit.is_some_and(|k| self.sent >= k) {
                return false;
            }
        }
        true
    }

    fn bookmark(&mut self) -> bool {
        let object = json!({
            "apiVersion": self.watch.rtype.api_version(),
            "kind": self.watch.rtype.kind,
            "metadata": { "resourceVersion": self.cursor.to_string() },
        });
        self.writer.chunk(&event_line("BOOKMARK", &object)).is_ok()
    }

    /// Whether a fault or shutdown says to drop the stream now.
    fn must_drop(&self) -> bool {
        if self.shared.stop.load(Ordering::SeqCst) {
            return true;
        }
        let controls = self.shared.controls();
        controls.cuts.epoch != self.epoch
            || controls
                .cuts
                .after
                .is_some_and(|after| self.began.elapsed() >= after)
    }

    /// Live events past the cursor; `None` if the log no longer has them.
    fn pending(&mut self) -> Option<Vec<(Change, Value)>> {
        let namespace = self.watch.namespace.as_deref();
        let plural = self.watch.rtype.plural;
        let (events, rv) = self.shared.store.read(|inner| {
            (
                inner.events_after(self.cursor, plural, namespace),
                inner.rv(),
            )
        });
        let events: Vec<Logged> = events.ok()?;
        // Never back: a watch from a future version stays there.
        self.cursor = self.cursor.max(rv);
        Some(events.into_iter().map(|e| (e.change, e.object)).collect())
    }
}

/// Streams `watch` until its timeout, a fault or shutdown. `epoch` is the
/// cut epoch from before the request was recorded, so a test that sees the
/// request and then calls `cut_open_watches` always cuts this stream.
pub fn stream(
    shared: &Shared,
    socket: &mut TcpStream,
    watch: &WatchRequest,
    first: Vec<(Change, Value)>,
    cursor: u64,
    epoch: u64,
) -> End {
    let (cut_now, interval) = {
        let mut controls = shared.controls();
        let cut_now = controls.cuts.next > 0;
        if cut_now {
            controls.cuts.next -= 1;
        }
        (cut_now, controls.bookmark_interval)
    };
    let Ok(writer) = ChunkedWriter::start(socket, 200) else {
        return End::Dropped;
    };
    let mut stream = Stream {
        shared,
        watch,
        writer,
        cursor,
        sent: 0,
        bookmarks: 0,
        began: Instant::now(),
        epoch,
    };
    if cut_now || !stream.send(first) {
        stream.writer.cut();
        return End::Dropped;
    }
    let deadline = stream.began + watch.timeout;
    let interval = interval.max(TICK);
    let mut next_bookmark = stream.began + interval;
    // Each round waits up to TICK, and the deadline bounds the rounds.
    loop {
        if stream.must_drop() {
            stream.writer.cut();
            return End::Dropped;
        }
        let events = match stream.pending() {
            Some(events) => events,
            None => return expire_live(stream),
        };
        if !stream.send(events) {
            stream.writer.cut();
            return End::Dropped;
        }
        let now = Instant::now();
        if now >= deadline {
            if watch.bookmarks && !stream.bookmark() {
                return End::Dropped;
            }
            return match stream.writer.finish() {
                Ok(()) => End::Finished,
                Err(_) => End::Dropped,
            };
        }
        if watch.bookmarks && now >= next_bookmark {
            if !stream.bookmark() {
                return End::Dropped;
            }
            next_bookmark = now + interval;
            stream.bookmarks += 1;
            let limit = shared.controls().cuts.after_bookmarks;
            if limit.is_some_and(|k| stream.bookmarks >= k) {
                return match stream.writer.finish() {
                    Ok(()) => End::Finished,
                    Err(_) => End::Dropped,
                };
            }
        }
        let wait = TICK.min(deadline.saturating_duration_since(now));
        shared.store.wait_past(stream.cursor, wait);
    }
}

/// A live stream fell behind a pruned log: tell it 410, as the real server
/// does a watcher its cache can no longer serve, and end.
fn expire_live(mut stream: Stream<'_>) -> End {
    let oldest = stream.shared.store.read(|inner| inner.compacted());
    let failure = status::expired(stream.cursor, oldest);
    if stream
        .writer
        .chunk(&event_line("ERROR", &failure.body))
        .is_err()
    {
        return End::Dropped;
    }
    match stream.writer.finish() {
        Ok(()) => End::Finished,
        Err(_) => End::Dropped,
    }
}
