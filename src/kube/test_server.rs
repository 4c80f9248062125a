//! A canned HTTP/1.1 server on 127.0.0.1 for the tests that need a real
//! socket: it answers each connection with the next canned answer and reports
//! the request it read. Every wait is bounded.
//!
//! The request reading and answer writing are the integration tests' shared
//! HTTP pieces, included by path: the library cannot depend on tests/.

use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::thread;

#[path = "../../tests/httpsupport/mod.rs"]
mod httpsupport;

/// One request as the server read it.
pub(crate) use httpsupport::Request as Seen;
use httpsupport::{accept, guard, read_request, write_chunk, write_whole};

/// One canned answer.
pub(crate) enum Answer {
    /// A whole response with a Content-Length.
    Full {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// A 200 with a chunked body of these chunks; then the server closes the
    /// stream, or (`hold`) keeps it open until the client goes away.
    Chunked { chunks: Vec<Vec<u8>>, hold: bool },
    /// Reads the request and never answers.
    Silent,
}

impl Answer {
    pub(crate) fn json(status: u16, body: &str) -> Answer {
        Answer::Full {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }
}

/// Serves `answers` in order, one connection each; returns the base URL and
/// the requests as they arrive.
pub(crate) fn serve(answers: Vec<Answer>) -> (String, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().expect("local addr"));
    let (sender, seen) = mpsc::channel();
    thread::spawn(move || {
        for answer in answers {
            let Ok((mut reader, mut writer)) = accept(&listener) else {
                return;
            };
            let Ok(request) = read_request(&mut reader) else {
                return;
            };
            let _ = sender.send(request);
            match answer {
                Answer::Full {
                    status,
                    headers,
                    body,
                } => write_full(&mut writer, status, &headers, &body),
                Answer::Chunked { chunks, hold } => {
                    write_chunked(&mut writer, &chunks, !hold);
                    if hold {
                        wait_for_close(&mut reader);
                    }
                }
                Answer::Silent => wait_for_close(&mut reader),
            }
        }
    });
    (url, seen)
}

fn write_full(
    writer: &mut impl Write,
    status: u16,
    headers: &[(&'static str, String)],
    body: &[u8],
) {
    let mut all = vec![("Connection", "close".to_string())];
    all.extend_from_slice(headers);
    let _ = write_whole(writer, status, "application/json", &all, body);
}

fn write_chunked(writer: &mut TcpStream, chunks: &[Vec<u8>], finish: bool) {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    let _ = writer.write_all(head.as_bytes());
    for chunk in chunks {
        let _ = write_chunk(writer, chunk);
    }
    if finish {
        let _ = writer.write_all(b"0\r\n\r\n");
        let _ = writer.flush();
    }
}

/// Blocks until the client closes the connection, or the I/O timeout.
fn wait_for_close(reader: &mut BufReader<TcpStream>) {
    let mut sink = [0u8; 512];
    for _ in 0..10_000 {
        match reader.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Serves one https connection with the certificate and key in `tls_dir`
/// (`server.pem`, `server-key.pem`, for 127.0.0.1), answering `body` with 200.
/// Reports the request, or `None` when the client gave up in the handshake.
pub(crate) fn serve_tls(tls_dir: &Path, body: &str) -> (String, mpsc::Receiver<Option<Seen>>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let read = |name: &str| std::fs::read(tls_dir.join(name)).expect("test PKI file");
    let certs = CertificateDer::pem_slice_iter(&read("server.pem"))
        .collect::<Result<Vec<_>, _>>()
        .expect("server certificate");
    let key = PrivateKeyDer::from_pem_slice(&read("server-key.pem")).expect("server key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let url = format!("https://{}", listener.local_addr().expect("local addr"));
    let body = body.as_bytes().to_vec();
    let (sender, seen) = mpsc::channel();
    thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        guard(&stream);
        let Ok(connection) = rustls::ServerConnection::new(config) else {
            return;
        };
        let mut reader = BufReader::new(rustls::StreamOwned::new(connection, stream));
        let request = read_request(&mut reader).ok();
        if request.is_some() {
            write_full(reader.get_mut(), 200, &[], &body);
            reader.get_mut().conn.send_close_notify();
            let _ = reader.get_mut().flush();
        }
        let _ = sender.send(request);
    });
    (url, seen)
}
