//! One HTTP server on 127.0.0.1 for the targets that must go through the real
//! clients (Prometheus has no other public entry point, and the pod list's
//! query string is only built on the way out). It answers every request with
//! the answer set last and keeps the requests it read. Keep-alive, so a fuzz
//! run costs one connection, not one per input.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;

use crate::httpsupport::{guard, read_request, write_whole, Request};

#[derive(Default)]
struct Shared {
    answer: (u16, Vec<u8>),
    seen: Vec<Request>,
}

pub struct Loopback {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

/// Requests kept at most; the targets take them after every call.
const MAX_SEEN: usize = 64;

impl Loopback {
    /// The process' one server, started on first use.
    pub fn get() -> &'static Loopback {
        static SERVER: OnceLock<Loopback> = OnceLock::new();
        SERVER.get_or_init(Loopback::start)
    }

    fn start() -> Loopback {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Mutex::new(Shared::default()));
        let state = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&state);
                thread::spawn(move || serve(stream, &state));
            }
        });
        Loopback { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What every request gets from now on; forgets the requests seen so far.
    pub fn answer(&self, status: u16, body: &[u8]) {
        let mut shared = self.shared.lock().expect("loopback lock");
        shared.answer = (status, body.to_vec());
        shared.seen.clear();
    }

    pub fn take_requests(&self) -> Vec<Request> {
        std::mem::take(&mut self.shared.lock().expect("loopback lock").seen)
    }
}

/// Answers requests on one connection until the client closes it, goes
/// silent past httpsupport's timeout, or sends something unreadable.
fn serve(stream: TcpStream, state: &Mutex<Shared>) {
    guard(&stream);
    // Head and body go out in two writes; without this, Nagle's algorithm and
    // the client's delayed ACK make every answer wait 40 ms.
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = std::io::BufReader::new(stream);
    while let Ok(request) = read_request(&mut reader) {
        let (status, body) = {
            let mut shared = state.lock().expect("loopback lock");
            if shared.seen.len() < MAX_SEEN {
                shared.seen.push(request);
            }
            shared.answer.clone()
        };
        if write_whole(&mut writer, status, "application/json", &[], &body).is_err() {
            return;
        }
    }
}
