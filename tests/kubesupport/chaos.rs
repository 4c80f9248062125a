//! What the soak (tests/soak.rs) needs beyond [`super::faults`]:
//!
//! - *lost responses*: the server applies a write, then drops the
//!   connection before its answer goes out, as a dying proxy or node would.
//!   The client cannot tell whether the write happened (the ambiguous write);
//! - a log of every request to a `/scale` or `/status` subresource with when
//!   it arrived (before any injected delay), what the Scale said before a
//!   write and what the write asked for, so the soak can check each Scale
//!   write against the MemHpa spec the controller decided with.
//!
//! Every method is prefixed `chaos_` so that it cannot clash with a control
//! another test support module adds to [`FakeApiServer`]. Rules are bounded
//! like the other faults: each fires a fixed number of times.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::controls::Matcher;
use super::http::Request;
use super::routes;
use super::server::Shared;
use super::FakeApiServer;

/// The log stops growing past this many entries (far above a soak).
const MAX_SEEN: usize = 200_000;

/// One request to a `/scale` or `/status` subresource.
#[derive(Debug, Clone)]
pub struct Seen {
    /// When it reached the server, before any injected delay.
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// The answer was dropped after the write was applied.
    pub lost: bool,
    /// A Scale write: `spec.replicas` of the stored workload before it.
    pub before: Option<i64>,
    /// A Scale write: the `spec.replicas` it asked for.
    pub wanted: Option<i64>,
    /// A status write: `status.observedGeneration` it carried.
    pub observed_generation: Option<i64>,
    /// A status write: `metadata.uid` it carried.
    pub uid: Option<String>,
    /// A status write: the reason of its AbleToScale condition.
    pub able_to_scale: Option<String>,
}

impl Seen {
    pub fn is_write(&self) -> bool {
        self.method == "PUT" || self.method == "PATCH"
    }

    /// A write the server applied, whether or not its answer arrived.
    pub fn applied(&self) -> bool {
        self.is_write() && (200..300).contains(&self.status)
    }

    pub fn is_scale(&self) -> bool {
        self.path.ends_with("/scale")
    }

    pub fn is_status(&self) -> bool {
        self.path.ends_with("/status")
    }
}

#[derive(Debug)]
struct LoseRule {
    matcher: Matcher,
    remaining: usize,
}

#[derive(Debug, Default)]
struct Inner {
    lose: Vec<LoseRule>,
    seen: Vec<Seen>,
    lost: usize,
}

/// The chaos state of one fake (a field of its shared state).
#[derive(Debug, Default)]
pub struct Chaos {
    inner: Mutex<Inner>,
}

impl Chaos {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the server knew of a request before answering it.
#[derive(Debug)]
pub struct Arrival {
    at: Instant,
    before: Option<i64>,
}

/// Called once the injected delay is over and just before the handler runs:
/// `delay` is what was waited, so `at` is when the request came in.
pub fn arrive(shared: &Shared, request: &Request, delay: Duration) -> Arrival {
    let at = Instant::now()
        .checked_sub(delay)
        .unwrap_or_else(Instant::now);
    let scale_write =
        request.path.ends_with("/scale") && matches!(request.method.as_str(), "PUT" | "PATCH");
    let before = scale_write
        .then(|| stored_replicas(shared, &request.path))
        .flatten();
    Arrival { at, before }
}

/// Called once the answer is known and recorded: logs the request if it is
/// of interest, and says whether to drop its answer (a lost response). Only
/// an applied write (2xx) is lost, so the server's state has moved on.
pub fn lose_answer(
    shared: &Shared,
    request: &Request,
    target: &str,
    arrival: Arrival,
    status: u16,
) -> bool {
    let mut inner = shared.chaos.lock();
    let applied = (200..300).contains(&status);
    let lost = applied
        && match inner
            .lose
            .iter_mut()
            .find(|r| r.remaining > 0 && r.matcher.matches(&request.method, target))
        {
            Some(rule) => {
                rule.remaining -= 1;
                true
            }
            None => false,
        };
    if lost {
        inner.lost += 1;
    }
    let interesting = request.path.ends_with("/scale") || request.path.ends_with("/status");
    if interesting && inner.seen.len() < MAX_SEEN {
        let body: Option<Value> = serde_json::from_slice(&request.body).ok();
        let field = |path: &[&str]| {
            path.iter()
                .try_fold(body.as_ref()?, |v, key| v.get(key))
                .cloned()
        };
        let scale = request.path.ends_with("/scale");
        let status_put = request.path.ends_with("/status");
        inner.seen.push(Seen {
            at: arrival.at,
            method: request.method.clone(),
            path: request.path.clone(),
            status,
            lost,
            before: arrival.before,
            wanted: scale
                .then(|| field(&["spec", "replicas"])?.as_i64())
                .flatten(),
            observed_generation: status_put
                .then(|| field(&["status", "observedGeneration"])?.as_i64())
                .flatten(),
            uid: status_put
                .then(|| Some(field(&["metadata", "uid"])?.as_str()?.to_string()))
                .flatten(),
            able_to_scale: status_put
                .then(|| condition_reason(&field(&["status", "conditions"])?, "AbleToScale"))
                .flatten(),
        });
    }
    lost
}

fn condition_reason(conditions: &Value, type_: &str) -> Option<String> {
    conditions
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)?
        .get("reason")?
        .as_str()
        .map(str::to_string)
}

fn stored_replicas(shared: &Shared, path: &str) -> Option<i64> {
    let route = routes::parse(path)?;
    let namespace = route.namespace.as_deref()?;
    let name = route.name.as_deref()?;
    shared.store.read(|inner| {
        inner
            .get(route.rtype, namespace, name)?
            .get("spec")?
            .get("replicas")?
            .as_i64()
    })
}

impl FakeApiServer {
    /// The next `times` matching requests that succeed are applied, then their
    /// connection drops before the answer (a lost response).
    pub fn chaos_lose_next_responses(&self, method: &str, contains: &str, times: usize) {
        self.shared().chaos.lock().lose.push(LoseRule {
            matcher: Matcher::new(method, contains),
            remaining: times,
        });
    }

    /// Removes the lost-response rules (`clear_faults` leaves them).
    pub fn chaos_clear(&self) {
        self.shared().chaos.lock().lose.clear();
    }

    /// Responses dropped so far.
    pub fn chaos_lost(&self) -> usize {
        self.shared().chaos.lock().lost
    }

    /// Every `/scale` and `/status` request so far, in the order answered.
    pub fn chaos_seen(&self) -> Vec<Seen> {
        self.shared().chaos.lock().seen.clone()
    }
}
