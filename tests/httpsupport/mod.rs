//! The HTTP/1.1 pieces all the test servers need, kept in one place:
//! reading a request with every part bounded, percent and form decoding,
//! socket timeouts for one-shot helpers, and writing whole answers.
//!
//! A test file (or examples/bench_controller) declares `mod httpsupport;`
//! beside `mod promsupport;` or `mod kubesupport;`, which use it as
//! `crate::httpsupport` (one copy even where a test file has both). The
//! library's unit-test server, src/kube/test_server.rs, includes it by
//! `#[path]`: the library cannot reach tests/ otherwise.
//!
//! The unit tests of these modules are in `selftest/`, compiled by
//! tests/fake_apiserver.rs alone so that they run once.
//!
//! What stays with one server stays there: the fake API server's keep-alive
//! polling, its path/query split and its chunked watch streams are in
//! tests/kubesupport/http.rs.

// Each includer uses a different part of this module.
#![allow(dead_code, unused_imports)]

pub(crate) mod decode;
pub(crate) mod read;
pub(crate) mod write;

use std::io::{self, BufReader};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

pub use decode::{form_decode, percent_decode, query_param};
pub use read::{
    header, is_timeout, read_body, read_headers, read_line, read_request, ReadError, Request,
    MAX_BODY,
};
pub use write::{reason, status_line, write_chunk, write_whole};

/// How long a one-shot helper waits on a silent peer before giving up.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Gives an accepted connection of a one-shot helper [`IO_TIMEOUT`] both ways,
/// so that a silent peer cannot hang it.
pub fn guard(stream: &TcpStream) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
}

/// Accepts the next connection of a one-shot helper, [`guard`]ed, as a
/// reader and a writer on the same socket.
pub fn accept(listener: &TcpListener) -> io::Result<(BufReader<TcpStream>, TcpStream)> {
    let (stream, _) = listener.accept()?;
    guard(&stream);
    let writer = stream.try_clone()?;
    Ok((BufReader::new(stream), writer))
}
