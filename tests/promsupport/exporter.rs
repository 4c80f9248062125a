//! A cAdvisor-shaped exporter: `/metrics` serves
//! `container_memory_working_set_bytes{namespace,pod,container}` gauges whose
//! values the test sets at run time, and counts the scrapes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};

use super::http::{write_response, Request};
use super::server::Server;

pub const METRIC: &str = "container_memory_working_set_bytes";

/// Connections served before the exporter gives up: a bound on its loop far
/// above what a test needs (one scrape a second).
const MAX_CONNECTIONS: usize = 100_000;

type Key = (String, String, String);

#[derive(Default)]
struct State {
    series: BTreeMap<Key, f64>,
    scrapes: usize,
}

pub struct Exporter {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl Exporter {
    pub fn start() -> Exporter {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let server = Server::start(MAX_CONNECTIONS, move |request, writer| {
            answer(&shared, &request, writer)
        });
        Exporter { server, state }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Sets one series; `container` "" is the pod-level cgroup, "POD" the pause
    /// container, as cAdvisor names them.
    pub fn set(&self, namespace: &str, pod: &str, container: &str, value: f64) {
        let key = (
            namespace.to_string(),
            pod.to_string(),
            container.to_string(),
        );
        self.state
            .lock()
            .expect("exporter lock")
            .series
            .insert(key, value);
    }

    /// Sets several series at once: no scrape sees some of them changed and
    /// others not, as a real workload's pods change between two scrapes.
    pub fn set_many(&self, series: &[(&str, &str, &str, f64)]) {
        let mut state = self.state.lock().expect("exporter lock");
        for &(namespace, pod, container, value) in series {
            let key = (
                namespace.to_string(),
                pod.to_string(),
                container.to_string(),
            );
            state.series.insert(key, value);
        }
    }

    pub fn remove(&self, namespace: &str, pod: &str, container: &str) {
        let key = (
            namespace.to_string(),
            pod.to_string(),
            container.to_string(),
        );
        self.state
            .lock()
            .expect("exporter lock")
            .series
            .remove(&key);
    }

    /// How many times `/metrics` was served.
    pub fn scrapes(&self) -> usize {
        self.state.lock().expect("exporter lock").scrapes
    }

    /// The exposition text `/metrics` serves now.
    pub fn exposition(&self) -> String {
        exposition(&self.state.lock().expect("exporter lock").series)
    }
}

fn answer(state: &Mutex<State>, request: &Request, writer: &mut TcpStream) {
    if request.path.starts_with("/metrics") {
        let body = {
            let mut state = state.lock().expect("exporter lock");
            state.scrapes += 1;
            exposition(&state.series)
        };
        write_response(writer, 200, "text/plain; version=0.0.4", body.as_bytes());
    } else {
        write_response(writer, 404, "text/plain", b"not found\n");
    }
}

fn exposition(series: &BTreeMap<Key, f64>) -> String {
    let mut out = format!(
        "# HELP {METRIC} Current working set of the container in bytes\n# TYPE {METRIC} gauge\n"
    );
    for ((namespace, pod, container), value) in series {
        let _ = writeln!(
            out,
            "{METRIC}{{container=\"{}\",namespace=\"{}\",pod=\"{}\"}} {}",
            escape(container),
            escape(namespace),
            escape(pod),
            number(*value)
        );
    }
    out
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The text format spells the special values `NaN`, `+Inf` and `-Inf`.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{value}")
    }
}
