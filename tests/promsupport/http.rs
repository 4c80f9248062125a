//! The little HTTP/1.1 the helpers need: read one request, write one answer.
//! The reading, decoding and writing themselves are tests/httpsupport's.

use std::io::BufReader;
use std::net::TcpStream;

use crate::httpsupport::{self, query_param, write_whole};
pub use crate::httpsupport::{accept, guard};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The request target as sent, query included.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        httpsupport::header(&self.headers, name)
    }

    /// The form field `name` of a url-encoded body, decoded.
    pub fn form_field(&self, name: &str) -> Option<String> {
        query_param(std::str::from_utf8(&self.body).ok()?, name)
    }
}

/// Reads one request (headers and a bounded body); `None` when the peer sent
/// none, or one over the bounds or not HTTP.
pub fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let request = httpsupport::read_request(reader).ok()?;
    Some(Request {
        method: request.method,
        path: request.target,
        headers: request.headers,
        body: request.body,
    })
}

/// Writes a whole answer and asks the client to close the connection.
pub fn write_response(stream: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) {
    let close = [("Connection", "close".to_string())];
    let _ = write_whole(stream, status, content_type, &close, body);
}
