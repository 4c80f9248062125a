//! The accept loop, one thread per connection, and the order every request
//! goes through: injected delay, authentication (401), injected failures,
//! routing (404), RBAC-ish denial (403), then the handler. The real server
//! also authenticates before it authorizes, and answers both before any
//! handler runs.

use std::io::BufReader;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::controls::{bearer_token, Controls};
use super::handlers::{handle, Reply};
use super::http::{guard, read_request, write_full, ReadError, Request};
use super::record::{Recorded, MAX_RECORDED};
use super::routes::{self, Route};
use super::status::{self, Failure};
use super::store::Store;
use super::watch::{self, End, Opening};

/// Who RBAC messages say was denied.
pub const USER: &str = "system:serviceaccount:kube-system:memhpa";
/// Connections open at once; more are closed at accept.
const MAX_OPEN: usize = 256;
/// Connections over the server's life (bounds the accept loop).
const MAX_ACCEPTED: usize = 1_000_000;
/// Requests one keep-alive connection may carry.
const MAX_PER_CONNECTION: usize = 100_000;

/// Everything the threads of one fake share.
#[derive(Debug)]
pub struct Shared {
    pub store: Store,
    controls: Mutex<Controls>,
    recorded: Mutex<Vec<Recorded>>,
    pub stop: AtomicBool,
    open: AtomicUsize,
    pub accepted: AtomicUsize,
    pub chaos: super::chaos::Chaos,
}

impl Shared {
    pub fn new() -> Shared {
        Shared {
            store: Store::new(),
            controls: Mutex::new(Controls::default()),
            recorded: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            open: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
            chaos: Default::default(),
        }
    }

    pub fn controls(&self) -> MutexGuard<'_, Controls> {
        self.controls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn recorded(&self) -> MutexGuard<'_, Vec<Recorded>> {
        self.recorded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn record(&self, request: &Request, status: u16) {
        let mut log = self.recorded();
        if log.len() >= MAX_RECORDED {
            return;
        }
        log.push(Recorded {
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            content_type: request.header("content-type").map(str::to_string),
            body: String::from_utf8_lossy(&request.body).into_owned(),
            authorization: request.header("authorization").is_some(),
            token: bearer_token(request.header("authorization")).map(str::to_string),
            user_agent: request.header("user-agent").map(str::to_string),
            status,
            at: std::time::Instant::now(),
        });
    }
}

/// Starts the accept loop on its own thread.
pub fn spawn(listener: TcpListener, shared: Arc<Shared>) -> JoinHandle<()> {
    thread::spawn(move || {
        for incoming in listener.incoming().take(MAX_ACCEPTED) {
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            let Ok(stream) = incoming else {
                // Out of descriptors or similar: do not spin on it.
                thread::sleep(Duration::from_millis(10));
                continue;
            };
            if shared.open.load(Ordering::SeqCst) >= MAX_OPEN {
                continue;
            }
            shared.open.fetch_add(1, Ordering::SeqCst);
            shared.accepted.fetch_add(1, Ordering::SeqCst);
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                serve_connection(&shared, stream);
                shared.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    })
}

fn serve_connection(shared: &Shared, stream: TcpStream) {
    guard(&stream);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    for _ in 0..MAX_PER_CONNECTION {
        let request = match read_request(&mut reader, &shared.stop) {
            Ok(request) => request,
            Err(ReadError::Closed) => return,
            Err(ReadError::TooLarge) => {
                let failure = status::too_large();
                let _ = write_full(
                    &mut writer,
                    413,
                    &[],
                    failure.body.to_string().as_bytes(),
                    true,
                );
                return;
            }
            Err(ReadError::Malformed(why)) => {
                let failure = status::bad_request(why);
                let _ = write_full(
                    &mut writer,
                    400,
                    &[],
                    failure.body.to_string().as_bytes(),
                    true,
                );
                return;
            }
        };
        if !respond(shared, &request, &mut writer) || request.close {
            return;
        }
    }
}

/// Answers one request; `false` when the connection must close.
fn respond(shared: &Shared, request: &Request, writer: &mut TcpStream) -> bool {
    let target = if request.query.is_empty() {
        request.path.clone()
    } else {
        format!("{}?{}", request.path, request.query)
    };
    let delay = shared.controls().delay_for(&request.method, &target);
    if !sleep_unless_stopped(shared, delay) {
        return false;
    }
    let arrival = super::chaos::arrive(shared, request, delay);
    match answer(shared, request, &target) {
        Reply::Json {
            code,
            body,
            retry_after,
        } => {
            shared.record(request, code);
            let lost = shared
                .controls()
                .take_lost_response(&request.method, &target);
            // Carried out, never answered: the client cannot tell.
            if lost || super::chaos::lose_answer(shared, request, &target, arrival, code) {
                return false;
            }
            let mut headers = Vec::new();
            if let Some(seconds) = retry_after {
                headers.push(("Retry-After", seconds.to_string()));
            }
            let body = body.to_string();
            write_full(writer, code, &headers, body.as_bytes(), request.close).is_ok()
        }
        Reply::Watch(watch) => serve_watch(shared, request, writer, &watch),
    }
}

fn answer(shared: &Shared, request: &Request, target: &str) -> Reply {
    let route = {
        let mut controls = shared.controls();
        if !controls.authenticated(request.header("authorization")) {
            return status::unauthorized().into();
        }
        let route = routes::parse(&request.path);
        if let Some((code, retry_after)) = controls.take_failure(&request.method, target) {
            return injected(request, route.as_ref(), code, retry_after).into();
        }
        let Some(route) = route else {
            return status::no_route().into();
        };
        if controls.is_forbidden(route.rtype.plural, route.subresource.as_deref()) {
            return denial(request, &route).into();
        }
        if let Some(rules) = &controls.rbac {
            let resource = match route.subresource.as_deref() {
                Some(sub) => format!("{}/{sub}", route.rtype.plural),
                None => route.rtype.plural.to_string(),
            };
            if !super::rbac::allows(
                rules,
                route.rtype.group,
                &resource,
                verb_of(request, &route),
            ) {
                return denial(request, &route).into();
            }
        }
        route
    };
    handle(&shared.store, request, &route)
}

/// An injected failure, worded as the real server words that code for this
/// request where the wording names the resource (401, 403, 404, 409), so a
/// client sees exactly what a real conflict or denial would give it.
fn injected(
    request: &Request,
    route: Option<&Route>,
    code: u16,
    retry_after: Option<u64>,
) -> Failure {
    let named = route.and_then(|route| Some((route, route.name.as_deref()?)));
    match (code, route, named) {
        (401, _, _) => status::unauthorized(),
        (403, Some(route), _) => denial(request, route),
        (404, _, Some((route, name))) => {
            status::not_found(route.rtype, route.subresource.as_deref(), name)
        }
        (409, _, Some((route, name))) => status::conflict(route.rtype, name),
        _ => status::injected(code, retry_after),
    }
}

/// The RBAC verb of a request.
fn verb_of(request: &Request, route: &Route) -> &'static str {
    let watching = request
        .param("watch")
        .is_some_and(|w| super::record::is_true(&w));
    match (request.method.as_str(), route.name.is_some()) {
        ("GET", false) if watching => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", _) => "delete",
        _ => "access",
    }
}

fn denial(request: &Request, route: &Route) -> Failure {
    status::forbidden(
        USER,
        verb_of(request, route),
        route.rtype,
        route.subresource.as_deref(),
        route.name.as_deref(),
        route.namespace.as_deref(),
    )
}

fn serve_watch(
    shared: &Shared,
    request: &Request,
    writer: &mut TcpStream,
    watch: &watch::WatchRequest,
) -> bool {
    let (epoch, force_expiry) = {
        let mut controls = shared.controls();
        let force = controls.cuts.expire_next > 0;
        if force {
            controls.cuts.expire_next -= 1;
        }
        (controls.cuts.epoch, force)
    };
    let end = match watch::open(shared, watch, force_expiry) {
        Opening::Expired(failure) => {
            if shared.controls().expired_as_http {
                shared.record(request, 410);
                let body = failure.body.to_string();
                return write_full(writer, 410, &[], body.as_bytes(), request.close).is_ok();
            }
            shared.record(request, 200);
            watch::send_expired(writer, &failure)
        }
        Opening::Events(first, cursor) => {
            shared.record(request, 200);
            watch::stream(shared, writer, watch, first, cursor, epoch)
        }
    };
    end == End::Finished
}

/// Sleeps `delay` in small steps; `false` if the server stopped meanwhile.
fn sleep_unless_stopped(shared: &Shared, delay: Duration) -> bool {
    let until = Instant::now() + delay;
    while Instant::now() < until {
        if shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        thread::sleep(
            until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50)),
        );
    }
    !shared.stop.load(Ordering::SeqCst)
}
