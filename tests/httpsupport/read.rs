//! Reading one request with every part bounded: the length of a line, the
//! number of headers, the body (Content-Length or chunked), and the time a
//! request that has begun may take.
//!
//! Each function takes a `deadline`: a read that times out (the socket's read
//! timeout) is retried until then, and ends the request after it. A deadline
//! already passed therefore makes the socket timeout the only bound.

use std::io::{self, BufRead, ErrorKind, Read};
use std::time::Instant;

pub const MAX_LINE: usize = 16 * 1024;
pub const MAX_HEADERS: usize = 100;
/// Bodies above this are refused (the fake API server answers 413): no
/// client under test sends anything near it.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

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

/// One request as received, its target as sent (query included).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// Reads one whole request for a helper that answers one request per
/// connection: the socket's read timeout bounds every read, and a request
/// line without a version is taken as it is.
pub fn read_request(reader: &mut impl BufRead) -> Result<Request, ReadError> {
    // Already passed: a read that times out is not retried.
    let deadline = Instant::now();
    let line = read_line(reader, deadline)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(ReadError::Malformed(format!("bad request line {line:?}")));
    };
    let (method, target) = (method.to_string(), target.to_string());
    let headers = read_headers(reader, deadline)?;
    let body = read_body(reader, &headers, deadline)?;
    Ok(Request {
        method,
        target,
        headers,
        body,
    })
}

/// The value of the first header `name`, case-insensitively.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// A read that ran into the socket's timeout rather than failing.
pub fn is_timeout(err: &io::Error) -> bool {
    matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// One CRLF- or LF-terminated line, without its terminator.
pub fn read_line(reader: &mut impl BufRead, deadline: Instant) -> Result<String, ReadError> {
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

/// Header lines up to the empty one that ends them.
pub fn read_headers(
    reader: &mut impl BufRead,
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

/// The body announced by `headers`: chunked, or Content-Length (none is empty).
pub fn read_body(
    reader: &mut impl BufRead,
    headers: &[(String, String)],
    deadline: Instant,
) -> Result<Vec<u8>, ReadError> {
    let chunked = header(headers, "transfer-encoding")
        .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return read_chunked_body(reader, deadline);
    }
    let length = match header(headers, "content-length") {
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

fn read_chunked_body(reader: &mut impl BufRead, deadline: Instant) -> Result<Vec<u8>, ReadError> {
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
    reader: &mut impl Read,
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
