//! The HTTP/1.1 the fake API server speaks: keep-alive requests with a
//! Content-Length or chunked body (both bounded), whole answers with a
//! Content-Length, and chunked streams for watches.
//!
//! Reads wake every [`POLL`] so a connection thread notices shutdown, and give
//! up on a peer that stays silent past [`IDLE_LIMIT`] or sends a request more
//! slowly than [`REQUEST_LIMIT`]: no thread of the fake can hang forever.

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often a blocked read wakes up to look at the stop flag.
pub const POLL: Duration = Duration::from_millis(200);
/// An idle keep-alive connection is closed after this long.
pub const IDLE_LIMIT: Duration = Duration::from_secs(60);
/// A request that has begun must be complete within this.
pub const REQUEST_LIMIT: Duration = Duration::from_secs(10);
/// Writes to a peer that stopped reading fail after this.
pub const WRITE_LIMIT: Duration = Duration::from_secs(10);

const MAX_LINE: usize = 16 * 1024;
const MAX_HEADERS: usize = 100;
/// Bodies above this get 413: memhpa never sends anything near it.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

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
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The first query parameter `name`, decoded as Go's url.ParseQuery does.
    pub fn param(&self, name: &str) -> Option<String> {
        query_param(&self.query, name)
    }
}

/// The first parameter `name` of a raw query string, decoded.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(key) == name).then(|| form_decode(value))
    })
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed, went silent, or the server is stopping: just close.
    Closed,
    /// The head or the body is over its bound: answer 413, then close.
    TooLarge,
    /// Not HTTP/1.x as we understand it: answer 400, then close.
    Malformed(String),
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
    request.body = read_body(reader, &request, deadline)?;
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

fn is_timeout(err: &io::Error) -> bool {
    matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// One CRLF- or LF-terminated line, without its terminator.
fn read_line(reader: &mut BufReader<TcpStream>, deadline: Instant) -> Result<String, ReadError> {
    let mut buf = Vec::new();
    loop {
        let room = (MAX_LINE + 1).saturating_sub(buf.len()) as u64;
        match reader.by_ref().take(room).read_until(b'\n', &mut buf) {
            Ok(_) if buf.ends_with(b"\n") => break,
            Ok(_) if buf.len() > MAX_LINE => return Err(ReadError::TooLarge),
            Ok(_) => return Err(ReadError::Closed),
            Err(err) if is_timeout(&err) && Instant::now() < deadline => continue,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return Err(ReadError::Closed),
        }
    }
    while buf
        .last()
        .is_some_and(|&byte| byte == b'\n' || byte == b'\r')
    {
        buf.pop();
    }
    String::from_utf8(buf).map_err(|_| ReadError::Malformed("a line is not UTF-8".into()))
}

fn read_headers(
    reader: &mut BufReader<TcpStream>,
    deadline: Instant,
) -> Result<Vec<(String, String)>, ReadError> {
    let mut headers = Vec::new();
    for _ in 0..MAX_HEADERS {
        let line = read_line(reader, deadline)?;
        if line.is_empty() {
            return Ok(headers);
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(ReadError::Malformed(format!("bad header line {line:?}")));
        };
        headers.push((key.trim().to_string(), value.trim().to_string()));
    }
    Err(ReadError::TooLarge)
}

fn read_body(
    reader: &mut BufReader<TcpStream>,
    request: &Request,
    deadline: Instant,
) -> Result<Vec<u8>, ReadError> {
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return read_chunked_body(reader, deadline);
    }
    let length = match request.header("content-length") {
        None => 0,
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| ReadError::Malformed(format!("bad Content-Length {text:?}")))?,
    };
    if length > MAX_BODY {
        return Err(ReadError::TooLarge);
    }
    let mut body = vec![0; length];
    read_exact(reader, &mut body, deadline)?;
    Ok(body)
}

fn read_chunked_body(
    reader: &mut BufReader<TcpStream>,
    deadline: Instant,
) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    // Each round reads one chunk, so the bound on the body bounds the rounds.
    for _ in 0..=MAX_BODY {
        let line = read_line(reader, deadline)?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ReadError::Malformed(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            read_headers(reader, deadline)?;
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(ReadError::TooLarge);
        }
        let start = body.len();
        body.resize(start + size, 0);
        read_exact(reader, &mut body[start..], deadline)?;
        if !read_line(reader, deadline)?.is_empty() {
            return Err(ReadError::Malformed("chunk not followed by CRLF".into()));
        }
    }
    Err(ReadError::TooLarge)
}

fn read_exact(
    reader: &mut BufReader<TcpStream>,
    mut buf: &mut [u8],
    deadline: Instant,
) -> Result<(), ReadError> {
    while !buf.is_empty() {
        match reader.read(buf) {
            Ok(0) => return Err(ReadError::Closed),
            Ok(n) => buf = &mut buf[n..],
            Err(err) if is_timeout(&err) && Instant::now() < deadline => continue,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return Err(ReadError::Closed),
        }
    }
    Ok(())
}

/// Writes a whole answer with a Content-Length. `extra` are added headers.
pub fn write_full(
    stream: &mut TcpStream,
    status: u16,
    extra: &[(&str, String)],
    body: &[u8],
    close: bool,
) -> io::Result<()> {
    let mut head = status_head(status);
    head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

fn status_head(status: u16) -> String {
    format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nCache-Control: no-cache, private\r\n",
        reason(status)
    )
}

/// A chunked answer in progress: a watch writes one event per chunk.
pub struct ChunkedWriter<'a> {
    stream: &'a mut TcpStream,
}

impl<'a> ChunkedWriter<'a> {
    /// Sends the status line and headers of a chunked answer.
    pub fn start(stream: &'a mut TcpStream, status: u16) -> io::Result<ChunkedWriter<'a>> {
        let mut head = status_head(status);
        head.push_str("Transfer-Encoding: chunked\r\n\r\n");
        stream.write_all(head.as_bytes())?;
        stream.flush()?;
        Ok(ChunkedWriter { stream })
    }

    /// Sends `data` as one chunk, at once.
    pub fn chunk(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.stream
            .write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
        self.stream.write_all(data)?;
        self.stream.write_all(b"\r\n")?;
        self.stream.flush()
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

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Undoes `application/x-www-form-urlencoded` (`+` is a space); bad escapes
/// are kept as they are.
pub fn form_decode(text: &str) -> String {
    decode(text, true)
}

/// Undoes percent-encoding in a path (`+` stays `+`).
pub fn percent_decode(text: &str) -> String {
    decode(text, false)
}

fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], escaped) {
            (b'+', _) if plus_is_space => out.push(b' '),
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 2;
            }
            (other, _) => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Accepted connections get these timeouts so a silent peer cannot hang a thread.
pub fn guard(stream: &TcpStream) {
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(WRITE_LIMIT));
    let _ = stream.set_nodelay(true);
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn form_decode_plus_and_escapes() {
        assert_eq!(
            form_decode("app%3Dweb%2Ctier+in+%28a%29"),
            "app=web,tier in (a)"
        );
    }

    #[test]
    fn percent_decode_keeps_plus() {
        assert_eq!(percent_decode("/a+b%2Fc"), "/a+b/c");
    }

    #[test]
    fn bad_escape_kept() {
        assert_eq!(form_decode("100%zz%4"), "100%zz%4");
    }

    #[test]
    fn query_param_first_match_decoded() {
        let query = "watch=1&labelSelector=app%3Dweb&labelSelector=x";
        assert_eq!(
            query_param(query, "labelSelector").as_deref(),
            Some("app=web")
        );
        assert_eq!(query_param(query, "watch").as_deref(), Some("1"));
        assert_eq!(query_param(query, "missing"), None);
    }
}
