//! A counting HTTP proxy on 127.0.0.1 in front of Prometheus: it forwards each
//! request on its own upstream connection and counts requests per path.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};

use super::http::{guard, Request};
use super::server::Server;

/// A bound on the proxy's accept loop, far above what a test sends.
const MAX_CONNECTIONS: usize = 10_000;
/// A bound on one relayed answer.
const MAX_ANSWER: u64 = 64 * 1024 * 1024;

pub struct CountingProxy {
    server: Server,
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl CountingProxy {
    pub fn start(upstream: SocketAddr) -> CountingProxy {
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let shared = Arc::clone(&counts);
        // One request per client connection: the forwarded answer carries
        // `Connection: close`, so the client opens a new one for the next.
        let server = Server::start(MAX_CONNECTIONS, move |request, writer| {
            let path = request.path.split('?').next().unwrap_or("").to_string();
            *shared.lock().expect("proxy lock").entry(path).or_insert(0) += 1;
            if let Some(answer) = forward(upstream, &request) {
                let _ = writer.write_all(&answer);
            }
        });
        CountingProxy { server, counts }
    }

    pub fn url(&self) -> String {
        self.server.url()
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
