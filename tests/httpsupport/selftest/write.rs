//! Tests of tests/httpsupport/write.rs.

use crate::httpsupport::write::{write_chunk, write_whole};

#[test]
fn whole_answer_has_length_then_headers_in_order() {
    let mut out = Vec::new();
    let headers = [("B", "2".to_string()), ("A", "1".to_string())];
    write_whole(&mut out, 404, "text/plain", &headers, b"gone\n").expect("write");
    assert_eq!(
        String::from_utf8(out).expect("utf-8"),
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nB: 2\r\nA: 1\r\n\r\ngone\n"
    );
}

#[test]
fn chunk_is_sized_in_hex_and_empty_sends_nothing() {
    let mut out = Vec::new();
    write_chunk(&mut out, &[b'x'; 26]).expect("chunk");
    write_chunk(&mut out, b"").expect("empty");
    let mut expected = b"1a\r\n".to_vec();
    expected.extend([b'x'; 26]);
    expected.extend(b"\r\n");
    assert_eq!(out, expected);
}
