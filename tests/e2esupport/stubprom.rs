//! A stand-in Prometheus on 127.0.0.1 whose answer the test changes while it
//! runs: every `POST /api/v1/query` gets an instant vector of
//! `container_memory_working_set_bytes`-shaped samples, one per pod set with
//! [`StubProm::set`]. The client keeps the series of the namespace and pods it
//! asked for, so answering with all of them is what a real server holding
//! more series looks like.
//!
//! For tests about leadership, where what matters is who scales, not
//! PromQL; the Prometheus path itself is tested against the real server.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use serde_json::{json, Value};

use crate::promsupport::http::{guard, read_request, write_response};

/// A bound on the accept loop, far above a test's queries.
const MAX_CONNECTIONS: usize = 100_000;

#[derive(Default)]
struct State {
    /// (namespace, pod) -> working set bytes of its container `app`.
    usage: Mutex<BTreeMap<(String, String), f64>>,
    queries: AtomicUsize,
    stop: AtomicBool,
}

pub struct StubProm {
    addr: SocketAddr,
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

impl StubProm {
    pub fn start() -> StubProm {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State::default());
        let serving = Arc::clone(&state);
        let thread = thread::spawn(move || serve(listener, &serving));
        StubProm {
            addr,
            state,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the working set of the container `app` of `ns/pod`.
    pub fn set(&self, ns: &str, pod: &str, bytes: f64) {
        self.state
            .usage
            .lock()
            .expect("stub lock")
            .insert((ns.to_string(), pod.to_string()), bytes);
    }

    /// Queries answered so far.
    pub fn queries(&self) -> usize {
        self.state.queries.load(Ordering::SeqCst)
    }
}

impl Drop for StubProm {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(listener: TcpListener, state: &State) {
    for _ in 0..MAX_CONNECTIONS {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        if state.stop.load(Ordering::SeqCst) {
            return;
        }
        guard(&stream);
        let Ok(mut writer) = stream.try_clone() else {
            continue;
        };
        let Some(request) = read_request(&mut BufReader::new(stream)) else {
            continue;
        };
        if request.method == "POST" && request.path.starts_with("/api/v1/query") {
            state.queries.fetch_add(1, Ordering::SeqCst);
            let body = answer(&state.usage.lock().expect("stub lock")).to_string();
            write_response(&mut writer, 200, "application/json", body.as_bytes());
        } else {
            write_response(&mut writer, 404, "text/plain", b"not found\n");
        }
    }
}

fn answer(usage: &BTreeMap<(String, String), f64>) -> Value {
    let result: Vec<Value> = usage
        .iter()
        .map(|((namespace, pod), bytes)| {
            json!({
                "metric": { "namespace": namespace, "pod": pod, "container": "app" },
                "value": [1_700_000_000.0, format!("{bytes}")],
            })
        })
        .collect();
    json!({ "status": "success", "data": { "resultType": "vector", "result": result } })
}
