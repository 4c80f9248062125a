//! The `-metrics-addr` endpoint: `/metrics`, `/healthz` and `/readyz` over a
//! deliberately tiny HTTP/1.1 server on `std::net`.
//!
//! Three GET routes for a scraper and the kubelet do not justify an HTTP server
//! crate. The server reads one bounded request per connection, answers with
//! `Connection: close`, and runs each connection on its own thread up to a cap.
//!
//! Slow clients (slowloris) are the threat to `/healthz`: a pod whose liveness
//! probe times out is restarted. So every bound is on the connection, not on
//! one read or write: a connection must send its first byte soon after it is
//! accepted, its whole head soon after that first byte, and take its whole
//! answer within a deadline, however it paces the bytes. The cap is far above
//! what the scraper and the kubelet need; beyond it, the connection that has
//! been reading its head the longest gives its slot to the newcomer (see
//! [`Slots`]), so slow clients delay a probe but cannot starve it. The accept
//! thread never waits on a client: a connection it turns away gets its 503
//! without blocking and is handed to a closer thread (see [`Refusals`]).

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::metrics::Metrics;

/// The request line and headers of a GET fit in far less; anything bigger is
/// not a scraper or a probe.
const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// How long an accepted connection may stay silent. The kubelet and
/// Prometheus send their request as soon as they are connected.
const FIRST_BYTE_DEADLINE: Duration = Duration::from_secs(3);

/// How long the whole request head may take from its first byte, in all: a
/// client that trickles one byte at a time is cut off after this, not after
/// this much silence.
const HEAD_DEADLINE: Duration = Duration::from_secs(3);

/// How long writing the whole answer may take, in all: a client that reads a
/// byte now and then is cut off after this, however long the body.
const ANSWER_DEADLINE: Duration = Duration::from_secs(5);

/// Connections served at once. Prometheus and the kubelet need two or three;
/// the rest is room for slow or hostile clients, each of which holds its slot
/// for at most the deadlines above. Beyond, a newcomer takes the slot of the
/// oldest connection still reading its head (see [`Slots`]); only when every
/// slot is past its head does a newcomer get a 503.
const MAX_CONNECTIONS: usize = 256;

/// Connection threads alive at once, those cut off but not yet ended
/// included: a hard bound however fast slots change hands.
const MAX_THREADS: usize = 2 * MAX_CONNECTIONS;

/// A connection thread parses a head and formats a small answer. A small stack
/// keeps the cap cheap: the kernel commits only the pages that are touched.
const CONNECTION_STACK: usize = 256 * 1024;

/// How long a connection is drained after its answer (see [`close_gracefully`]):
/// on its own thread, or on the closer thread for a connection turned away.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BUSY: Duration = Duration::from_millis(100);

/// Turned-away connections waiting for the closer thread; more are dropped
/// at once, so a flood costs the accept thread nothing.
const MAX_REFUSED_WAITING: usize = 64;

/// How often the accept loop looks at the stop flag while no one connects.
const ACCEPT_POLL: Duration = Duration::from_millis(50);

const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// What `/readyz` reports on. Shared as `Arc<Health>` with the controller.
#[derive(Debug)]
pub struct Health {
    leader_election: bool,
    synced: AtomicBool,
    elector_running: AtomicBool,
}

impl Health {
    /// `leader_election`: whether `-leader-elect` is on, so that readiness also
    /// waits for the elector.
    pub fn new(leader_election: bool) -> Health {
        Health {
            leader_election,
            synced: AtomicBool::new(false),
            elector_running: AtomicBool::new(false),
        }
    }

    /// The watch has completed its first list (true) or is down (false).
    pub fn set_synced(&self, synced: bool) {
        self.synced.store(synced, Ordering::SeqCst);
    }

    pub fn set_elector_running(&self, running: bool) {
        self.elector_running.store(running, Ordering::SeqCst);
    }

    /// Ready, or the one-line reason why not. Readiness does not depend on being
    /// the leader: a follower with a warm watch is what makes failover fast.
    pub fn readiness(&self) -> Result<(), &'static str> {
        if !self.synced.load(Ordering::SeqCst) {
            return Err("the MemHpa watch has not completed a list (or is down)");
        }
        if self.leader_election && !self.elector_running.load(Ordering::SeqCst) {
            return Err("leader election is on but the elector is not running");
        }
        Ok(())
    }
}

/// Why the server could not start.
#[derive(Debug)]
pub enum ServeError {
    /// `-metrics-addr` is not `:port` or `host:port`.
    BadAddress { addr: String, detail: String },
    /// The address is fine but binding it failed (in use, no permission).
    Bind { addr: String, detail: String },
    /// The accept thread could not be started.
    Thread { detail: String },
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::BadAddress { addr, detail } => write!(
                f,
                "-metrics-addr {addr:?}: {detail} (expected \":port\" or \"host:port\")"
            ),
            ServeError::Bind { addr, detail } => {
                write!(f, "-metrics-addr {addr:?}: cannot listen: {detail}")
            }
            ServeError::Thread { detail } => {
                write!(f, "metrics server: cannot start its thread: {detail}")
            }
        }
    }
}

impl std::error::Error for ServeError {}

/// The running server. Dropping it stops it too; [`Server::stop`] also waits.
pub struct Server {
    local_addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// The bound address, with the real port when `:0` was asked for.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and waits for the accept loop to end. Connections being
    /// served finish on their own threads within their deadlines.
    pub fn stop(mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
    }
}

/// Binds `addr` (`:8080` is every interface) and serves on a thread.
pub fn start(addr: &str, metrics: Arc<Metrics>, health: Arc<Health>) -> Result<Server, ServeError> {
    let listener = bind(addr)?;
    let bind_error = |err: io::Error| ServeError::Bind {
        addr: addr.to_string(),
        detail: err.to_string(),
    };
    let local_addr = listener.local_addr().map_err(bind_error)?;
    // Non-blocking accept, polled, so stop() needs no self-connection trick.
    listener.set_nonblocking(true).map_err(bind_error)?;
    let stopping = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stopping);
    let accept = std::thread::Builder::new()
        .name("metrics-accept".into())
        .spawn(move || accept_loop(listener, &flag, &metrics, &health))
        .map_err(|err| ServeError::Thread {
            detail: err.to_string(),
        })?;
    log::info!("serving /metrics, /healthz and /readyz on {local_addr}");
    Ok(Server {
        local_addr,
        stopping,
        accept: Some(accept),
    })
}

/// `:port` means every interface: IPv6 `[::]` (dual-stack on Linux), or IPv4
/// `0.0.0.0` where IPv6 is off, as in some pods.
fn bind(addr: &str) -> Result<TcpListener, ServeError> {
    let bad = |detail: &str| ServeError::BadAddress {
        addr: addr.to_string(),
        detail: detail.to_string(),
    };
    let candidates = listen_addresses(addr).map_err(|detail| bad(&detail))?;
    let mut last_error = None;
    for candidate in &candidates {
        match TcpListener::bind(candidate) {
            Ok(listener) => return Ok(listener),
            Err(err) => last_error = Some(err),
        }
    }
    Err(ServeError::Bind {
        addr: addr.to_string(),
        detail: last_error
            .map(|err| err.to_string())
            .unwrap_or_else(|| "no address to bind".to_string()),
    })
}

/// The socket addresses `addr` stands for, in the order to try them.
fn listen_addresses(addr: &str) -> Result<Vec<SocketAddr>, String> {
    let (host, port) = addr.rsplit_once(':').ok_or_else(|| "no port".to_string())?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("port {port:?} is not a number from 0 to 65535"))?;
    if host.is_empty() {
        return Ok(vec![
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        ]);
    }
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.contains(':') && !addr.contains('[') {
        return Err("an IPv6 host needs brackets, as in [::1]:8080".to_string());
    }
    let resolved: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|err| format!("cannot resolve host {host:?}: {err}"))?
        .collect();
    if resolved.is_empty() {
        return Err(format!("host {host:?} has no address"));
    }
    Ok(resolved)
}

fn accept_loop(
    listener: TcpListener,
    stopping: &AtomicBool,
    metrics: &Arc<Metrics>,
    health: &Arc<Health>,
) {
    let slots = Arc::new(Slots::default());
    let refusals = Refusals::start();
    while !stopping.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => dispatch(stream, &slots, &refusals, metrics, health),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(ACCEPT_POLL),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => {
                // EMFILE and friends: back off instead of spinning on the error.
                log::warn!("metrics server: accept: {err}");
                std::thread::sleep(ACCEPT_POLL);
            }
        }
    }
}

/// Hands one connection to a thread of its own, or turns it away when no slot
/// can be had. Nothing here waits on the client.
fn dispatch(
    stream: TcpStream,
    slots: &Arc<Slots>,
    refusals: &Refusals,
    metrics: &Arc<Metrics>,
    health: &Arc<Health>,
) {
    if stream.set_nonblocking(false).is_err() {
        return;
    }
    let Some(slot) = Slots::admit(slots, &stream) else {
        refusals.refuse(stream);
        return;
    };
    let metrics = Arc::clone(metrics);
    let health = Arc::clone(health);
    let spawned = std::thread::Builder::new()
        .name("metrics-conn".into())
        .stack_size(CONNECTION_STACK)
        .spawn(move || serve_connection(stream, slot, &metrics, &health));
    if let Err(err) = spawned {
        // The closure, its slot included, is dropped: the table stays right.
        log::warn!("metrics server: cannot start a connection thread: {err}");
    }
}

/// The connection slots. When all are taken, the connection that has been
/// reading its head the longest is cut off and its slot goes to the newcomer:
/// slow clients can then delay a probe by at most [`MAX_CONNECTIONS`] newer
/// connections, never starve it, and a probe's head arrives in one read.
#[derive(Default)]
struct Slots {
    table: Mutex<SlotTable>,
}

#[derive(Default)]
struct SlotTable {
    next_id: u64,
    /// Connections reading their head, oldest first, each with a handle to
    /// cut it off.
    reading: VecDeque<(u64, TcpStream)>,
    /// Connections past their head: answering or lingering.
    answering: usize,
    /// Connection threads not yet ended, cut-off ones included.
    threads: usize,
}

impl Slots {
    /// A slot for `stream`, or `None`: every slot is answering, or
    /// [`MAX_THREADS`] is reached.
    fn admit(slots: &Arc<Slots>, stream: &TcpStream) -> Option<Slot> {
        let handle = stream.try_clone().ok()?;
        let mut table = slots.lock();
        if table.threads >= MAX_THREADS {
            return None;
        }
        if table.reading.len() + table.answering >= MAX_CONNECTIONS {
            let (_, oldest) = table.reading.pop_front()?;
            // Its blocked read returns at once and its thread ends.
            let _ = oldest.shutdown(std::net::Shutdown::Both);
        }
        let id = table.next_id;
        table.next_id += 1;
        table.reading.push_back((id, handle));
        table.threads += 1;
        Some(Slot {
            slots: Arc::clone(slots),
            id,
            answering: false,
        })
    }

    fn lock(&self) -> MutexGuard<'_, SlotTable> {
        // The table stays consistent under every panic point (none in it).
        crate::shutdown::lock(&self.table)
    }
}

/// One connection's slot, held by its thread and given back when dropped,
/// whatever way the thread ends.
struct Slot {
    slots: Arc<Slots>,
    id: u64,
    answering: bool,
}

impl Slot {
    /// The head is in: the connection can no longer be cut off for a
    /// newcomer. `false` if it already was.
    fn start_answering(&mut self) -> bool {
        let mut table = self.slots.lock();
        let Some(index) = table.reading.iter().position(|(id, _)| *id == self.id) else {
            return false;
        };
        table.reading.remove(index);
        table.answering += 1;
        self.answering = true;
        true
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut table = self.slots.lock();
        if self.answering {
            table.answering -= 1;
        } else if let Some(index) = table.reading.iter().position(|(id, _)| *id == self.id) {
            table.reading.remove(index);
        }
        table.threads -= 1;
    }
}

/// Connections over the cap: the accept thread writes their 503 without
/// blocking (a new socket's send buffer is empty, so it fits) and queues them
/// for one closer thread, which drains what they send before closing (see
/// [`close_gracefully`]). When that queue is full the connection is dropped.
struct Refusals {
    queue: Option<SyncSender<TcpStream>>,
}

impl Refusals {
    /// Without a closer thread (it could not start), refused connections are
    /// simply dropped after their 503.
    fn start() -> Refusals {
        let (queue, waiting) = mpsc::sync_channel(MAX_REFUSED_WAITING);
        let closer = std::thread::Builder::new()
            .name("metrics-closer".into())
            .stack_size(CONNECTION_STACK)
            .spawn(move || close_refused(&waiting));
        match closer {
            Ok(_) => Refusals { queue: Some(queue) },
            Err(err) => {
                log::warn!("metrics server: cannot start the closer thread: {err}");
                Refusals { queue: None }
            }
        }
    }

    fn refuse(&self, mut stream: TcpStream) {
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        let busy = Response::text(503, "Service Unavailable", "too many connections\n");
        // One non-blocking write; should it not all fit, the client gets less.
        if stream
            .write(format!("{}{}", busy.head(), busy.body).as_bytes())
            .is_err()
            || stream.shutdown(std::net::Shutdown::Write).is_err()
        {
            return;
        }
        if let Some(queue) = &self.queue {
            // Full: the stream is dropped here, its 503 already on the way.
            let _ = queue.try_send(stream);
        }
    }
}

/// The closer thread: it ends when the accept loop drops its [`Refusals`].
fn close_refused(waiting: &Receiver<TcpStream>) {
    for stream in waiting {
        if stream.set_nonblocking(false).is_ok() {
            drain(stream, LINGER_BUSY);
        }
    }
}

/// Serves one request; the slot is given back when this returns, after the
/// linger.
fn serve_connection(mut stream: TcpStream, mut slot: Slot, metrics: &Metrics, health: &Health) {
    let head = read_head(&mut stream);
    if !slot.start_answering() {
        return; // cut off for a newcomer
    }
    let response = match head {
        Ok(head) => match parse_request_line(&head) {
            Some((method, target)) => route(method, target, metrics, health),
            None => Response::text(400, "Bad Request", "bad request line\n"),
        },
        Err(HeadError::TooLarge) => Response::text(
            431,
            "Request Header Fields Too Large",
            "request head too large\n",
        ),
        // Nothing useful to say to a peer that went quiet or away.
        Err(HeadError::Io) => return,
    };
    let deadline = Instant::now() + ANSWER_DEADLINE;
    let written = write_by(&mut stream, response.head().as_bytes(), deadline)
        .and_then(|()| write_by(&mut stream, response.body(), deadline));
    if written.is_ok() {
        close_gracefully(stream, LINGER);
    }
}

/// Writes all of `bytes` by `deadline`. A write timeout alone bounds each
/// call, not the answer: a client that keeps reading a little could hold the
/// connection for as long as the body lasts.
fn write_by(stream: &mut TcpStream, bytes: &[u8], deadline: Instant) -> io::Result<()> {
    let mut written = 0;
    while written < bytes.len() {
        let left = deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or(io::ErrorKind::TimedOut)?;
        stream.set_write_timeout(Some(left))?;
        match stream.write(&bytes[written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Closing a socket with unread input makes the kernel send a reset, which can
/// destroy the answer before the client reads it (a POST body, a request that
/// arrives after a 503). So: send FIN, then read and discard for a moment.
fn close_gracefully(stream: TcpStream, linger: Duration) {
    if stream.shutdown(std::net::Shutdown::Write).is_ok() {
        drain(stream, linger);
    }
}

/// Reads and discards for `linger` at most, then closes.
fn drain(mut stream: TcpStream, linger: Duration) {
    let started = Instant::now();
    let mut sink = [0u8; 4096];
    // Bounded in bytes as well as time: a client streaming at us is dropped.
    for _ in 0..64 {
        let Some(left) = linger
            .checked_sub(started.elapsed())
            .filter(|l| !l.is_zero())
        else {
            return;
        };
        if stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum HeadError {
    TooLarge,
    Io,
}

/// A request head as it arrives, and the deadline it must meet: the first
/// byte within [`FIRST_BYTE_DEADLINE`] of the accept, the rest within
/// [`HEAD_DEADLINE`] of that first byte. Later bytes never move the deadline,
/// so a trickling client cannot stretch it. Time is passed in, so the rule is
/// tested without sleeping.
struct HeadBuffer {
    bytes: Vec<u8>,
    deadline: Instant,
}

impl HeadBuffer {
    fn new(accepted: Instant) -> HeadBuffer {
        HeadBuffer {
            bytes: Vec::with_capacity(512),
            deadline: accepted + FIRST_BYTE_DEADLINE,
        }
    }

    fn push(&mut self, data: &[u8], now: Instant) {
        if self.bytes.is_empty() && !data.is_empty() {
            self.deadline = now + HEAD_DEADLINE;
        }
        self.bytes.extend_from_slice(data);
    }

    /// How long the next read may wait; `None` once the deadline has passed.
    fn time_left(&self, now: Instant) -> Option<Duration> {
        self.deadline
            .checked_duration_since(now)
            .filter(|left| !left.is_zero())
    }

    /// The head once complete (`Ok(Some)`), not yet (`Ok(None)`), or too big.
    fn take(&mut self) -> Result<Option<Vec<u8>>, HeadError> {
        if let Some(end) = head_end(&self.bytes) {
            let mut head = std::mem::take(&mut self.bytes);
            head.truncate(end);
            return Ok(Some(head));
        }
        if self.bytes.len() >= MAX_REQUEST_HEAD {
            return Err(HeadError::TooLarge);
        }
        Ok(None)
    }

    /// How much the next read may add: the head's terminator may straddle the
    /// limit, anything past it is never buffered.
    fn room(&self) -> usize {
        MAX_REQUEST_HEAD + 4 - self.bytes.len()
    }
}

/// Reads up to the blank line that ends the request head, within
/// [`MAX_REQUEST_HEAD`] bytes and the deadlines of [`HeadBuffer`]. A body, if
/// any, is never read: no route takes one.
fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, HeadError> {
    let mut head = HeadBuffer::new(Instant::now());
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(complete) = head.take()? {
            return Ok(complete);
        }
        let left = head.time_left(Instant::now()).ok_or(HeadError::Io)?;
        stream
            .set_read_timeout(Some(left))
            .map_err(|_| HeadError::Io)?;
        let room = head.room().min(chunk.len());
        match stream.read(&mut chunk[..room]) {
            Ok(0) => return Err(HeadError::Io),
            Ok(n) => head.push(&chunk[..n], Instant::now()),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(HeadError::Io),
        }
    }
}

/// Where the head ends: after `\r\n\r\n`, or `\n\n` from a lax client.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `GET /metrics?x=y HTTP/1.1` gives `("GET", "/metrics")`.
fn parse_request_line(head: &[u8]) -> Option<(&str, &str)> {
    let line_end = head.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&head[..line_end])
        .ok()?
        .trim_end_matches('\r');
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || method.is_empty() || !version.starts_with("HTTP/1.") {
        return None;
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    Some((method, path))
}

/// The answer to one request. HEAD is answered like GET without the body, as
/// HTTP requires of every server; every other method gets 405.
fn route(method: &str, path: &str, metrics: &Metrics, health: &Health) -> Response {
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        let mut response = Response::text(405, "Method Not Allowed", "only GET is served\n");
        response.allow = true;
        return response;
    }
    let mut response = match path {
        "/metrics" => Response {
            status: 200,
            reason: "OK",
            content_type: METRICS_CONTENT_TYPE,
            body: metrics.render(),
            allow: false,
            head_only: false,
        },
        "/healthz" => Response::text(200, "OK", "ok\n"),
        "/readyz" => match health.readiness() {
            Ok(()) => Response::text(200, "OK", "ok\n"),
            Err(reason) => Response::text(
                503,
                "Service Unavailable",
                &format!("not ready: {reason}\n"),
            ),
        },
        _ => Response::text(
            404,
            "Not Found",
            "not found; try /metrics, /healthz or /readyz\n",
        ),
    };
    response.head_only = head_only;
    response
}

struct Response {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    body: String,
    /// Send `Allow: GET, HEAD` (with a 405).
    allow: bool,
    /// A HEAD request: headers only.
    head_only: bool,
}

impl Response {
    fn text(status: u16, reason: &'static str, body: &str) -> Response {
        Response {
            status,
            reason,
            content_type: TEXT_CONTENT_TYPE,
            body: body.to_string(),
            allow: false,
            head_only: false,
        }
    }

    /// The status line and headers; a HEAD answer has those of the GET one.
    fn head(&self) -> String {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.reason,
            self.content_type,
            self.body.len()
        );
        if self.allow {
            head.push_str("Allow: GET, HEAD\r\n");
        }
        head.push_str("\r\n");
        head
    }

    /// What goes on the wire after the head: nothing for HEAD.
    fn body(&self) -> &[u8] {
        if self.head_only {
            &[]
        } else {
            self.body.as_bytes()
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    struct Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Answer {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    fn send(addr: SocketAddr, request: &[u8]) -> Answer {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream.write_all(request).expect("send");
        let mut reader = io::BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).expect("status line");
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').expect("header colon");
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let mut body = String::new();
        reader.read_to_string(&mut body).expect("body");
        Answer {
            status,
            headers,
            body,
        }
    }

    fn get(addr: SocketAddr, path: &str) -> Answer {
        send(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes(),
        )
    }

    fn server(leader_election: bool) -> (Server, Arc<Metrics>, Arc<Health>) {
        let metrics = Arc::new(Metrics::new());
        let health = Arc::new(Health::new(leader_election));
        let server =
            start("127.0.0.1:0", Arc::clone(&metrics), Arc::clone(&health)).expect("start");
        (server, metrics, health)
    }

    #[test]
    fn metrics_are_served_in_the_text_format() {
        let (server, metrics, _) = server(true);
        metrics.scale_write("up");
        let answer = get(server.local_addr(), "/metrics");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("Content-Type"), Some(METRICS_CONTENT_TYPE));
        assert_eq!(
            answer.header("Content-Length"),
            Some(answer.body.len().to_string().as_str())
        );
        assert!(
            answer
                .body
                .contains("memhpa_scale_writes_total{direction=\"up\"} 1\n"),
            "{}",
            answer.body
        );
        server.stop();
    }

    #[test]
    fn query_strings_are_ignored() {
        let (server, _, _) = server(false);
        assert_eq!(get(server.local_addr(), "/healthz?verbose=1").status, 200);
        server.stop();
    }

    #[test]
    fn healthz_is_ok_while_not_ready() {
        let (server, _, health) = server(true);
        assert!(health.readiness().is_err());
        let answer = get(server.local_addr(), "/healthz");
        assert_eq!((answer.status, answer.body.as_str()), (200, "ok\n"));
        server.stop();
    }

    #[test]
    fn readyz_waits_for_the_first_list_and_the_elector() {
        let (server, _, health) = server(true);
        let addr = server.local_addr();
        let answer = get(addr, "/readyz");
        assert_eq!(answer.status, 503);
        assert!(answer.body.contains("watch"), "{}", answer.body);
        assert_eq!(answer.body.lines().count(), 1);

        health.set_synced(true);
        let answer = get(addr, "/readyz");
        assert_eq!(answer.status, 503);
        assert!(answer.body.contains("elector"), "{}", answer.body);

        health.set_elector_running(true);
        assert_eq!(get(addr, "/readyz").status, 200);

        health.set_synced(false);
        assert_eq!(get(addr, "/readyz").status, 503, "watch down again");
        server.stop();
    }

    #[test]
    fn readyz_ignores_the_elector_without_leader_election() {
        let health = Health::new(false);
        health.set_synced(true);
        assert_eq!(health.readiness(), Ok(()));
    }

    #[test]
    fn unknown_paths_are_404_and_other_methods_405() {
        let (server, _, _) = server(false);
        let addr = server.local_addr();
        assert_eq!(get(addr, "/").status, 404);
        assert_eq!(get(addr, "/metrics/extra").status, 404);
        let post = send(
            addr,
            b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        );
        assert_eq!(post.status, 405);
        assert_eq!(post.header("Allow"), Some("GET, HEAD"));
        assert_eq!(send(addr, b"DELETE /nope HTTP/1.1\r\n\r\n").status, 405);
        server.stop();
    }

    #[test]
    fn head_gets_headers_without_a_body() {
        let (server, _, _) = server(false);
        let answer = send(server.local_addr(), b"HEAD /metrics HTTP/1.1\r\n\r\n");
        assert_eq!(answer.status, 200);
        assert!(answer.body.is_empty());
        let length: usize = answer
            .header("Content-Length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(length > 0, "the length of the GET body");
        server.stop();
    }

    #[test]
    fn malformed_request_lines_are_400() {
        let (server, _, _) = server(false);
        let addr = server.local_addr();
        assert_eq!(send(addr, b"GET\r\n\r\n").status, 400);
        assert_eq!(send(addr, b"GET /metrics SPDY/3\r\n\r\n").status, 400);
        assert_eq!(send(addr, b"\xff\xfe /x HTTP/1.1\r\n\r\n").status, 400);
        server.stop();
    }

    #[test]
    fn oversized_request_heads_are_refused() {
        let (server, _, _) = server(false);
        let mut request = b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec();
        request.extend(std::iter::repeat(b'a').take(MAX_REQUEST_HEAD * 2));
        request.extend_from_slice(b"\r\n\r\n");
        let mut stream = TcpStream::connect(server.local_addr()).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        // The server may close before all of it is sent; that is fine.
        let _ = stream.write_all(&request);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer:?}");
        server.stop();
    }

    #[test]
    fn a_newcomer_beyond_the_cap_takes_the_slot_of_the_oldest_reader() {
        let (server, _, _) = server(false);
        let addr = server.local_addr();
        // Idle connections that hold every slot while they read their head...
        let mut idle: Vec<TcpStream> = (0..MAX_CONNECTIONS)
            .map(|_| TcpStream::connect(addr).expect("connect"))
            .collect();
        // ...then one more. Accept order is connection order, so every idle one
        // has its slot first, and the oldest gives it up.
        let answer = get(addr, "/healthz");
        assert_eq!(answer.status, 200, "{}", answer.body);
        let oldest = &mut idle[0];
        oldest
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        assert_eq!(oldest.read(&mut [0u8; 16]).ok(), Some(0), "cut off");
        server.stop();
    }

    /// Connected pairs on 127.0.0.1: (client, server side).
    fn pairs(count: usize) -> Vec<(TcpStream, TcpStream)> {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        (0..count)
            .map(|_| {
                let client = TcpStream::connect(addr).expect("connect");
                let (server, _) = listener.accept().expect("accept");
                (client, server)
            })
            .collect()
    }

    #[test]
    fn no_slot_when_every_one_is_answering() {
        let slots = Arc::new(Slots::default());
        let streams = pairs(MAX_CONNECTIONS + 1);
        let mut held: Vec<Slot> = streams[..MAX_CONNECTIONS]
            .iter()
            .map(|(_, server)| Slots::admit(&slots, server).expect("a free slot"))
            .collect();
        for slot in &mut held {
            assert!(slot.start_answering());
        }
        let newcomer = &streams[MAX_CONNECTIONS].1;
        assert!(Slots::admit(&slots, newcomer).is_none(), "all answering");
        held.pop();
        assert!(Slots::admit(&slots, newcomer).is_some(), "one given back");
    }

    #[test]
    fn a_cut_off_connection_cannot_start_answering_and_threads_are_bounded() {
        let slots = Arc::new(Slots::default());
        let streams = pairs(MAX_THREADS + 1);
        // Their threads have not ended, so every slot taken over still counts.
        let mut held: Vec<Slot> = streams[..MAX_THREADS]
            .iter()
            .map(|(_, server)| Slots::admit(&slots, server).expect("a slot"))
            .collect();
        assert!(!held[0].start_answering(), "cut off for a newcomer");
        assert!(held[MAX_THREADS - 1].start_answering());
        assert!(
            Slots::admit(&slots, &streams[MAX_THREADS].1).is_none(),
            "thread cap"
        );
        held.clear();
        let table = slots.lock();
        assert_eq!(
            (table.reading.len(), table.answering, table.threads),
            (0, 0, 0)
        );
    }

    #[test]
    fn a_refused_connection_gets_503() {
        let refusals = Refusals::start();
        let (mut client, server) = pairs(1).pop().expect("a pair");
        refusals.refuse(server);
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut answer = String::new();
        client.read_to_string(&mut answer).expect("the answer");
        assert!(answer.starts_with("HTTP/1.1 503 "), "{answer:?}");
        assert!(answer.ends_with("too many connections\n"), "{answer:?}");
    }

    #[test]
    fn a_stopped_server_refuses_connections() {
        let (server, _, _) = server(false);
        let addr = server.local_addr();
        assert_eq!(get(addr, "/healthz").status, 200);
        server.stop();
        assert!(TcpStream::connect(addr).is_err());
    }

    #[test]
    fn address_forms() {
        let all = listen_addresses(":8080").expect(":8080");
        assert_eq!(
            all,
            vec![
                SocketAddr::from((Ipv6Addr::UNSPECIFIED, 8080)),
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, 8080)),
            ]
        );
        assert_eq!(
            listen_addresses("127.0.0.1:9000"),
            Ok(vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 9000))])
        );
        assert_eq!(
            listen_addresses("[::1]:9000"),
            Ok(vec![SocketAddr::from((Ipv6Addr::LOCALHOST, 9000))])
        );
    }

    #[test]
    fn bad_addresses_are_named_in_the_error() {
        for bad in ["8080", ":http", ":70000", "::1:80", ""] {
            let err = listen_addresses(bad).expect_err(bad);
            assert!(!err.is_empty(), "{bad}");
        }
        let err = match start(":x", Arc::new(Metrics::new()), Arc::new(Health::new(false))) {
            Err(err) => err.to_string(),
            Ok(_) => panic!(":x started"),
        };
        assert!(err.contains("\":x\"") && err.contains("port"), "{err}");
    }

    #[test]
    fn the_head_deadline_runs_from_the_first_byte_not_from_each_read() {
        let accepted = Instant::now();
        let mut head = HeadBuffer::new(accepted);
        let first = accepted + Duration::from_secs(1);
        head.push(b"G", first);
        // A byte every half second never buys more time.
        for tick in 1..6 {
            head.push(b"E", first + Duration::from_millis(500 * tick));
        }
        assert_eq!(
            head.time_left(first + HEAD_DEADLINE - Duration::from_millis(1)),
            Some(Duration::from_millis(1))
        );
        assert_eq!(head.time_left(first + HEAD_DEADLINE), None);
        assert_eq!(head.take(), Ok(None));
    }

    #[test]
    fn a_silent_connection_has_the_first_byte_deadline() {
        let accepted = Instant::now();
        let head = HeadBuffer::new(accepted);
        assert!(head.time_left(accepted).is_some());
        assert_eq!(head.time_left(accepted + FIRST_BYTE_DEADLINE), None);
    }

    #[test]
    fn a_head_is_taken_whole_and_bounded() {
        let now = Instant::now();
        let mut head = HeadBuffer::new(now);
        head.push(b"GET / HTTP/1.1\r\n\r\nbody", now);
        assert_eq!(head.take(), Ok(Some(b"GET / HTTP/1.1\r\n\r\n".to_vec())));
        let mut big = HeadBuffer::new(now);
        big.push(&vec![b'a'; MAX_REQUEST_HEAD], now);
        assert_eq!(big.take(), Err(HeadError::TooLarge));
        assert_eq!(big.room(), 4);
    }

    #[test]
    fn request_line_parsing() {
        assert_eq!(
            parse_request_line(b"GET /readyz HTTP/1.0\r\n\r\n"),
            Some(("GET", "/readyz"))
        );
        assert_eq!(parse_request_line(b"GET  /x HTTP/1.1\r\n"), None);
        assert_eq!(parse_request_line(b"GET /x HTTP/1.1 extra\r\n"), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\n\n"), Some(16));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
    }

    /// `promtool check metrics` from Debian's prometheus package parses the
    /// exposition strictly and lints names. Under CI=true a missing promtool is
    /// a failure, so the check cannot silently stop running.
    #[test]
    fn promtool_accepts_the_served_metrics() {
        let Some(promtool) = find_promtool() else {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "promtool is not installed (apt-get install prometheus) and CI=true"
            );
            eprintln!("promtool not found; skipping the exposition check outside CI");
            return;
        };
        let (server, metrics, _) = server(true);
        metrics.reconcile(crate::metrics::ReconcileResult::Success, 0.04);
        metrics.reconcile(crate::metrics::ReconcileResult::Error, 12.0);
        metrics.scale_write("down");
        metrics.set_memhpa("demo", "web \"quoted\"\nline", 2, 3, Some(91));
        metrics.prom_query(0.2, Some("timeout"));
        metrics.api_request("patch", 409);
        metrics.watch_restart("gone");
        metrics.set_leader(true);
        let body = get(server.local_addr(), "/metrics").body;
        server.stop();

        let mut child = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("promtool runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(body.as_bytes())
            .expect("feed promtool");
        let out = child.wait_with_output().expect("promtool finishes");
        assert!(
            out.status.success(),
            "promtool check metrics failed:\n{}{}\n--- input ---\n{body}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The lint messages go to stdout; there must be none.
        assert!(
            out.stdout.is_empty() && out.stderr.is_empty(),
            "promtool complained:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn find_promtool() -> Option<std::path::PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join("promtool"))
            .find(|candidate| candidate.is_file())
    }
}
