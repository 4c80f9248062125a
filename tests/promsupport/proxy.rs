//! A counting HTTP proxy on 127.0.0.1 in front of Prometheus: it forwards each
//! request on its own upstream connection and counts requests per path.

use std::collections::BTreeMap;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use super::http::{guard, read_request, Request};

/// A bound on the proxy's accept loop, far above what a test sends.
const MAX_CONNECTIONS: usize = 10_000;
/// A bound on one relayed answer.
const MAX_ANSWER: u64 = 64 * 1024 * 1024;

pub struct CountingProxy {
    addr: SocketAddr,
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CountingProxy {
    pub fn start(upstream: SocketAddr) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, stopping) = (Arc::clone(&counts), Arc::clone(&stop));
        let thread = thread::spawn(move || serve(listener, upstream, shared, stopping));
        CountingProxy {
            addr,
            counts,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests forwarded for `path` (without the query string).
    pub fn count(&self, path: &str) -> usize {
        self.counts
            .lock()
            .expect("proxy lock")
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Requests forwarded, all paths together.
    pub fn total(&self) -> usize {
        self.counts.lock().expect("proxy lock").values().sum()
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    listener: TcpListener,
    upstream: SocketAddr,
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
    stop: Arc<AtomicBool>,
) {
    for _ in 0..MAX_CONNECTIONS {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        if stop.load(Ordering::SeqCst) {
            return;
        }
        guard(&stream);
        let Ok(mut writer) = stream.try_clone() else {
            continue;
        };
        let mut reader = BufReader::new(stream);
        // One request per client connection: the forwarded answer carries
        // `Connection: close`, so the client opens a new one for the next.
        let Some(request) = read_request(&mut reader) else {
            continue;
        };
        let path = request.path.split('?').next().unwrap_or("").to_string();
        *counts.lock().expect("proxy lock").entry(path).or_insert(0) += 1;
        if let Some(answer) = forward(upstream, &request) {
            let _ = writer.write_all(&answer);
        }
    }
}

/// Sends `request` upstream with `Connection: close` and returns the raw answer.
fn forward(upstream: SocketAddr, request: &Request) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).ok()?;
    guard(&stream);
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.path);
    for (key, value) in &request.headers {
        if !key.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{key}: {value}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(&request.body).ok()?;
    let mut answer = Vec::new();
    stream.take(MAX_ANSWER).read_to_end(&mut answer).ok()?;
    Some(answer)
}
