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
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::promsupport::http::{write_response, Request};
use crate::promsupport::server::Server;

/// A bound on the accept loop, far above a test's queries.
const MAX_CONNECTIONS: usize = 100_000;

#[derive(Default)]
struct State {
    /// (namespace, pod) -> working set bytes of its container `app`.
    usage: Mutex<BTreeMap<(String, String), f64>>,
    queries: AtomicUsize,
}

pub struct StubProm {
    server: Server,
    state: Arc<State>,
}

impl StubProm {
    pub fn start() -> StubProm {
        let state = Arc::new(State::default());
        let serving = Arc::clone(&state);
        let server = Server::start(MAX_CONNECTIONS, move |request, writer| {
            respond(&serving, &request, writer)
        });
        StubProm { server, state }
    }

    pub fn url(&self) -> String {
        self.server.url()
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

fn respond(state: &State, request: &Request, writer: &mut TcpStream) {
    if request.method == "POST" && request.path.starts_with("/api/v1/query") {
        state.queries.fetch_add(1, Ordering::SeqCst);
        let body = answer(&state.usage.lock().expect("stub lock")).to_string();
        write_response(writer, 200, "application/json", body.as_bytes());
    } else {
        write_response(writer, 404, "text/plain", b"not found\n");
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
