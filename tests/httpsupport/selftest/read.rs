//! Tests of tests/httpsupport/read.rs.

use crate::httpsupport::read::{read_request, ReadError, Request, MAX_BODY, MAX_HEADERS, MAX_LINE};

fn read(raw: &str) -> Result<Request, ReadError> {
    read_request(&mut raw.as_bytes())
}

#[test]
fn content_length_body_is_read_and_the_rest_left() {
    let raw = "POST /api/v1/query?x=1 HTTP/1.1\r\nContent-Length: 3\r\nX-A: b\r\n\r\nabcNEXT";
    let mut reader = raw.as_bytes();
    let request = read_request(&mut reader).expect("request");
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/api/v1/query?x=1");
    assert_eq!(request.header("x-a"), Some("b"));
    assert_eq!(request.body, b"abc");
    assert_eq!(reader, b"NEXT");
}

#[test]
fn chunked_body_is_joined() {
    let raw = "POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n3;x=y\nabc\n2\nde\n0\nT: 1\n\n";
    assert_eq!(read(raw).expect("request").body, b"abcde");
}

#[test]
fn bounds_are_refused() {
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_LINE));
    assert!(matches!(read(&long), Err(ReadError::TooLarge)));
    let many = format!("GET / HTTP/1.1\r\n{}\r\n", "A: b\r\n".repeat(MAX_HEADERS));
    assert!(matches!(read(&many), Err(ReadError::TooLarge)));
    let big = format!("PUT / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", MAX_BODY + 1);
    assert!(matches!(read(&big), Err(ReadError::TooLarge)));
}

#[test]
fn broken_requests_are_told_apart() {
    assert!(matches!(read(""), Err(ReadError::Closed)));
    assert!(matches!(
        read("GET / HTTP/1.1\r\nHost"),
        Err(ReadError::Closed)
    ));
    let short_body = "PUT / HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc";
    assert!(matches!(read(short_body), Err(ReadError::Closed)));
    for raw in [
        "GET\r\n\r\n",
        "GET / HTTP/1.1\r\nno colon\r\n\r\n",
        "PUT / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ] {
        assert!(matches!(read(raw), Err(ReadError::Malformed(_))), "{raw:?}");
    }
}
