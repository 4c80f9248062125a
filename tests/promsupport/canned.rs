//! A server that answers every request with the next of a list of canned
//! answers, and keeps what it received.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread;

use super::http::{accept, read_request, write_response, Request};

pub struct Canned {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Canned {
    /// Serves `answers` (status, body) in order, one connection each, then stops.
    pub fn start(answers: Vec<(u16, Vec<u8>)>) -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        thread::spawn(move || {
            for (status, body) in answers {
                let Ok((mut reader, mut writer)) = accept(&listener) else {
                    return;
                };
                if let Some(request) = read_request(&mut reader) {
                    log.lock().expect("log lock").push(request);
                }
                write_response(&mut writer, status, "application/json", &body);
            }
        });
        Canned { addr, seen }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().expect("log lock").clone()
    }
}
