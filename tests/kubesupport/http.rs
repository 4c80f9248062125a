//! The HTTP/1.1 the fake API server speaks: keep-alive requests with a
//! Content-Length or chunked body (both bounded), whole answers with a
//! Content-Length, and chunked streams for watches.
//!
//! Reads wake every [`POLL`] so a connection thread notices shutdown, and give
//! up on a peer that stays silent past [`IDLE_LIMIT`] or sends a request more
//! slowly than [`REQUEST_LIMIT`]: no thread of the fake can hang forever.
//!
//! The bounded line, header and body reading, the decoding and the answer
//! writing it shares with the other test servers are in tests/httpsupport.

use std::io::{self, BufRead, BufReader, ErrorKind, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::httpsupport::{
    self, is_timeout, percent_decode, read_body, read_headers, read_line, status_line, write_chunk,
    write_whole,
};
pub use crate::httpsupport::{query_param, ReadError};

/// How often a blocked read wakes up to look at the stop flag.
pub const POLL: Duration = Duration::from_millis(200);
/// An idle keep-alive connection is closed after this long.
pub const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// A request that has begun must be complete within this.
pub const REQUEST_LIMIT: Duration = Duration::from_secs(10);
/// Writes to a peer that stopped reading fail after this.
pub const WRITE_LIMIT: Duration = Duration::from_secs(10);

/// One request as received, with the target split into path and query.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The raw query string, without the `?`.
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// HTTP/1.0, or `Connection: close`: answer, then close.
    pub close: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        httpsupport::header(&self.headers, name)
    }

    /// The first query parameter `name`, decoded as Go's url.ParseQuery does.
    pub fn param(&self, name: &str) -> Option<String> {
        query_param(&self.query, name)
    }
}

/// Waits for the next request on a keep-alive connection and reads it whole.
pub fn read_request(
    reader: &mut BufReader<TcpStream>,
    stop: &AtomicBool,
) -> Result<Request, ReadError> {
    wait_for_data(reader, stop)?;
    let deadline = Instant::now() + REQUEST_LIMIT;
    let line = read_line(reader, deadline)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed(format!("bad request line {line:?}")));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Malformed(format!(
            "unsupported version {version:?}"
        )));
    }
    let headers = read_headers(reader, deadline)?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = Request {
        method: method.to_string(),
        path: percent_decode(path),
        query: query.to_string(),
        headers,
        body: Vec::new(),
        close: version == "HTTP/1.0",
    };
    if request
        .header("connection")
        .is_some_and(|value| value.eq_ignore_ascii_case("close"))
    {
        request.close = true;
    }
    request.body = read_body(reader, &request.headers, deadline)?;
    Ok(request)
}

/// Blocks (in [`POLL`] steps) until a byte arrives, the peer closes, the idle
/// limit passes or the server stops.
fn wait_for_data(reader: &mut BufReader<TcpStream>, stop: &AtomicBool) -> Result<(), ReadError> {
    let idle_until = Instant::now() + IDLE_LIMIT;
    loop {
        if stop.load(Ordering::SeqCst) {
            return Err(ReadError::Closed);
        }
        match reader.fill_buf() {
            Ok([]) => return Err(ReadError::Closed),
            Ok(_) => return Ok(()),
            Err(err) if is_timeout(&err) && Instant::now() < idle_until => continue,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return Err(ReadError::Closed),
        }
    }
}

/// Writes a whole JSON answer with a Content-Length. `extra` are added headers.
pub fn write_full(
    stream: &mut TcpStream,
    status: u16,
    extra: &[(&str, String)],
    body: &[u8],
    close: bool,
) -> io::Result<()> {
    let mut headers = vec![("Cache-Control", "no-cache, private".to_string())];
    headers.extend_from_slice(extra);
    if close {
        headers.push(("Connection", "close".to_string()));
    }
    write_whole(stream, status, "application/json", &headers, body)
}

/// A chunked answer in progress: a watch writes one event per chunk.
pub struct ChunkedWriter<'a> {
    stream: &'a mut TcpStream,
}

impl<'a> ChunkedWriter<'a> {
    /// Sends the status line and headers of a chunked answer.
    pub fn start(stream: &'a mut TcpStream, status: u16) -> io::Result<ChunkedWriter<'a>> {
        let mut head = status_line(status);
        head.push_str("Content-Type: application/json\r\nCache-Control: no-cache, private\r\n");
        head.push_str("Transfer-Encoding: chunked\r\n\r\n");
        stream.write_all(head.as_bytes())?;
        stream.flush()?;
        Ok(ChunkedWriter { stream })
    }

    /// Sends `data` as one chunk, at once.
    pub fn chunk(&mut self, data: &[u8]) -> io::Result<()> {
        write_chunk(self.stream, data)
    }

    /// Ends the answer properly; the connection may then carry more requests.
    pub fn finish(self) -> io::Result<()> {
        self.stream.write_all(b"0\r\n\r\n")?;
        self.stream.flush()
    }

    /// Drops the connection mid-answer, as a failing proxy or a crashing
    /// server would: the client sees the stream end without its last chunk.
    pub fn cut(self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// Accepted connections get these timeouts so a silent peer cannot hang a thread.
pub fn guard(stream: &TcpStream) {
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(WRITE_LIMIT));
    let _ = stream.set_nodelay(true);
}
