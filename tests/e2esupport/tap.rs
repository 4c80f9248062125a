//! A recording relay in front of the fake API server, one per memhpa process,
//! so a test knows which process sent which request. The fake logs every
//! request but not who sent it (it keeps neither the token nor the
//! User-Agent), and with two controllers on one fake "only the leader
//! writes" needs exactly that.
//!
//! The relay reads the client's side as HTTP/1.1 (request heads, then a
//! `Content-Length` body), logs method and target, and forwards the bytes
//! unchanged; the server's side is copied back raw, so long-lived chunked
//! watch streams pass through as they are. A chunked request body (memhpa
//! sends none) switches that connection to a raw copy.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

/// Bounds on the relay's loops, far above what a test sends.
const MAX_CONNECTIONS: usize = 10_000;
const MAX_REQUESTS_PER_CONNECTION: usize = 100_000;
const MAX_HEAD_LINES: usize = 100;
const MAX_BODY: u64 = 16 * 1024 * 1024;

/// One request as it went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tapped {
    pub method: String,
    /// `path?query` as sent.
    pub target: String,
}

impl Tapped {
    /// A Scale, MemHpa status or Event write: what only a leader may send.
    /// Lease writes are the election itself and do not count.
    pub fn is_controller_write(&self) -> bool {
        let write = matches!(self.method.as_str(), "PUT" | "POST" | "PATCH" | "DELETE");
        write && !self.target.contains("/leases")
    }
}

#[derive(Default)]
struct Shared {
    log: Mutex<Vec<Tapped>>,
    /// Both ends of every relayed connection, to cut them on drop.
    streams: Mutex<Vec<TcpStream>>,
    stop: AtomicBool,
}

pub struct ApiTap {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl ApiTap {
    /// Relays 127.0.0.1:random to `upstream` (the fake's address).
    pub fn start(upstream: SocketAddr) -> ApiTap {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared::default());
        let accepting = Arc::clone(&shared);
        let accept = thread::spawn(move || accept_loop(listener, upstream, accepting));
        ApiTap {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// What `-apiserver` takes.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Tapped> {
        self.shared.log.lock().expect("tap log").clone()
    }

    /// The Scale, status and Event writes this process sent.
    pub fn controller_writes(&self) -> Vec<Tapped> {
        self.requests()
            .into_iter()
            .filter(Tapped::is_controller_write)
            .collect()
    }
}

impl Drop for ApiTap {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        for stream in self.shared.streams.lock().expect("tap streams").iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Shared>) {
    for _ in 0..MAX_CONNECTIONS {
        let Ok((client, _)) = listener.accept() else {
            return;
        };
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(server) = TcpStream::connect(upstream) else {
            // The fake is gone: the client sees a closed connection, as it
            // would with the real server down.
            continue;
        };
        {
            let mut streams = shared.streams.lock().expect("tap streams");
            for stream in [&client, &server] {
                if let Ok(clone) = stream.try_clone() {
                    streams.push(clone);
                }
            }
        }
        let shared = Arc::clone(&shared);
        thread::spawn(move || relay(client, server, &shared));
    }
}

/// Copies the server's side back on a thread of its own and parses the
/// client's side here; when either ends, both are cut.
fn relay(client: TcpStream, server: TcpStream, shared: &Shared) {
    let (Ok(mut client_out), Ok(mut server_in)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let back = thread::spawn(move || {
        let _ = io::copy(&mut server_in, &mut client_out);
        let _ = client_out.shutdown(Shutdown::Both);
    });
    let mut server_out = server;
    let _ = forward_requests(BufReader::new(client), &mut server_out, shared);
    let _ = server_out.shutdown(Shutdown::Both);
    let _ = back.join();
}

fn forward_requests(
    mut client: BufReader<TcpStream>,
    server: &mut TcpStream,
    shared: &Shared,
) -> io::Result<()> {
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        let Some(head) = read_head(&mut client)? else {
            return Ok(());
        };
        let mut request_line = head.first().map(String::as_str).unwrap_or("").split(' ');
        let method = request_line.next().unwrap_or("").to_string();
        let target = request_line.next().unwrap_or("").to_string();
        shared
            .log
            .lock()
            .expect("tap log")
            .push(Tapped { method, target });
        server.write_all(head.concat().as_bytes())?;
        if header(&head, "transfer-encoding").is_some() {
            io::copy(&mut client, server)?;
            return Ok(());
        }
        let length = header(&head, "content-length")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            .min(MAX_BODY);
        let copied = io::copy(&mut (&mut client).take(length), server)?;
        if copied < length {
            return Ok(());
        }
    }
    Ok(())
}

/// The head's lines, CRLF kept; `None` at a clean end of the stream.
fn read_head(client: &mut BufReader<TcpStream>) -> io::Result<Option<Vec<String>>> {
    let mut lines = Vec::new();
    for _ in 0..MAX_HEAD_LINES {
        let mut line = String::new();
        if client.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let end = line == "\r\n" || line == "\n";
        lines.push(line);
        if end {
            return Ok(Some(lines));
        }
    }
    Err(io::Error::other("request head too long"))
}

fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}
