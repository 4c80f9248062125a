//! A stand-in Prometheus on 127.0.0.1: `POST /api/v1/query` is answered with a
//! success vector holding one series per pod named in the query's
//! `pod=~"a|b|..."` alternation, container `app`, in the query's namespace, at a
//! working set that wobbles by up to ±[`WOBBLE`] around a fixed figure from
//! one query to the next, as a real one does between scrapes (the shape of the fixture
//! prometheus-2.42/query-per-container-raw.txt). It counts the queries so the
//! bench can check the one-query-per-namespace rule under load.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A request body larger than this is refused: memhpa splits its queries far
/// below it.
const MAX_BODY: usize = 8 << 20;
/// A connection idle this long is dropped, so no thread outlives its use.
const IDLE: Duration = Duration::from_secs(30);
/// How far a pod's working set moves between two queries: a quiet
/// process's page cache and heap breathe by a few hundred KiB. Inside the
/// tolerance, so no figure of a decision changes, but any byte count
/// recorded exactly would.
pub const WOBBLE: u64 = 256 << 10;

pub struct PromStub {
    addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl PromStub {
    /// Serves every pod at `usage_bytes` until dropped.
    pub fn start(usage_bytes: u64) -> io::Result<PromStub> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let queries = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counter, accepted, flag) = (
            Arc::clone(&queries),
            Arc::clone(&connections),
            Arc::clone(&stop),
        );
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                accepted.fetch_add(1, Ordering::SeqCst);
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || {
                    let _ = serve_connection(stream, usage_bytes, &counter);
                });
            }
        });
        Ok(PromStub {
            addr,
            queries,
            connections,
            stop,
            accept: Some(accept),
        })
    }

    /// What `-prom-url` takes.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queries answered so far.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far (with keep-alive, far fewer than
    /// queries).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for PromStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Answers requests on one keep-alive connection until the client closes it.
fn serve_connection(stream: TcpStream, usage_bytes: u64, queries: &AtomicUsize) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE))?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let Some((request_line, content_length)) = read_head(&mut reader)? else {
            return Ok(());
        };
        if content_length > MAX_BODY {
            return respond(&mut writer, 413, b"{}");
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body)?;
        if !request_line.starts_with("POST /api/v1/query ") {
            respond(
                &mut writer,
                404,
                b"{\"status\":\"error\",\"error\":\"not found\"}",
            )?;
            continue;
        }
        let nth = queries.fetch_add(1, Ordering::SeqCst) as u64;
        let query = form_value(&String::from_utf8_lossy(&body), "query").unwrap_or_default();
        respond(&mut writer, 200, &vector_answer(&query, usage_bytes, nth))?;
    }
}

/// The request line and Content-Length, or `None` at a clean end of stream.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<(String, usize)>> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(None);
    }
    let mut content_length = 0;
    // A head of more than 100 lines is not from memhpa's HTTP client.
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end();
        if line.is_empty() {
            return Ok(Some((request_line, content_length)));
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "header too long",
    ))
}

fn respond(writer: &mut TcpStream, code: u16, body: &[u8]) -> io::Result<()> {
    let reason = match code {
        200 => "OK",
        404 => "Not Found",
        _ => "Payload Too Large",
    };
    // One write: a head and a body in separate small segments would meet
    // Nagle's algorithm and the client's delayed ACK, a 40 ms stall per query
    // that is the stub's, not memhpa's.
    let mut response = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    writer.write_all(&response)?;
    writer.flush()
}

/// The decoded value of `name` in an `application/x-www-form-urlencoded` body.
fn form_value(body: &str, name: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| percent_decode(value))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The text of the double-quoted matcher value after `key` (`pod=~"`), with
/// PromQL string and regex escapes dropped: the bench's names hold no
/// metacharacters, so dropping backslashes recovers them.
fn matcher_value(query: &str, key: &str) -> Option<String> {
    let start = query.find(key)? + key.len();
    let mut out = String::new();
    let mut escaped = false;
    for c in query[start..].chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(out),
            _ => {
                if c != '\\' {
                    out.push(c);
                }
                escaped = false;
            }
        }
    }
    None
}

/// One `app` series per pod of the alternation; an empty vector when the query
/// names no pods (as Prometheus answers a matcher that matches nothing).
fn vector_answer(query: &str, usage_bytes: u64, nth: u64) -> Vec<u8> {
    let namespace = matcher_value(query, "namespace=\"").unwrap_or_default();
    let pods = matcher_value(query, "pod=~\"").unwrap_or_default();
    let result: Vec<serde_json::Value> = pods
        .split('|')
        .filter(|pod| !pod.is_empty())
        .enumerate()
        .map(|(i, pod)| {
            let bytes = usage_bytes - WOBBLE + wobble(nth, i as u64) % (2 * WOBBLE + 1);
            serde_json::json!({
                "metric": {"container": "app", "namespace": namespace, "pod": pod},
                "value": [1_795_348_991.561, bytes.to_string()]
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "status": "success",
        "data": {"resultType": "vector", "result": result}
    }))
    .unwrap_or_default()
}

/// A spread-out number from the query's and the series' index (SplitMix64's
/// finaliser): different in every query, the same in every run.
fn wobble(nth: u64, series: u64) -> u64 {
    let mut z = nth.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ series.wrapping_add(1);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
