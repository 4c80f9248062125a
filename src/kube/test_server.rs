//! A canned HTTP/1.1 server on 127.0.0.1 for the tests that need a real
//! socket: it answers each connection with the next canned answer and reports
//! the request it read. Every wait is bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

/// How long the server waits on a silent client.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

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

/// One request as the server read it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
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
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
            let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
            let Ok(mut writer) = stream.try_clone() else {
                return;
            };
            let mut reader = BufReader::new(stream);
            let Some(request) = read_request(&mut reader) else {
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

fn read_request(reader: &mut impl BufRead) -> Option<Seen> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    for _ in 0..100 {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            let length: usize = headers
                .iter()
                .find(|(key, _): &&(String, String)| key.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, value)| value.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length.min(1 << 20)];
            reader.read_exact(&mut body).ok()?;
            return Some(Seen {
                method,
                target,
                headers,
                body,
            });
        }
        let (key, value) = header.split_once(':')?;
        headers.push((key.trim().to_string(), value.trim().to_string()));
    }
    None
}

fn write_full(
    writer: &mut impl Write,
    status: u16,
    headers: &[(&'static str, String)],
    body: &[u8],
) {
    let mut head = format!(
        "HTTP/1.1 {status} Canned\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (key, value) in headers {
        head.push_str(&format!("{key}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = writer.write_all(head.as_bytes());
    let _ = writer.write_all(body);
    let _ = writer.flush();
}

fn write_chunked(writer: &mut TcpStream, chunks: &[Vec<u8>], finish: bool) {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    let _ = writer.write_all(head.as_bytes());
    for chunk in chunks {
        let _ = writer.write_all(format!("{:x}\r\n", chunk.len()).as_bytes());
        let _ = writer.write_all(chunk);
        let _ = writer.write_all(b"\r\n");
        let _ = writer.flush();
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
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        let Ok(connection) = rustls::ServerConnection::new(config) else {
            return;
        };
        let mut reader = BufReader::new(rustls::StreamOwned::new(connection, stream));
        let request = read_request(&mut reader);
        if request.is_some() {
            write_full(reader.get_mut(), 200, &[], &body);
            reader.get_mut().conn.send_close_notify();
            let _ = reader.get_mut().flush();
        }
        let _ = sender.send(request);
    });
    (url, seen)
}
