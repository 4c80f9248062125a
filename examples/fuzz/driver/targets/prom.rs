//! Prometheus answers: status and body, served from 127.0.0.1 to the real
//! [`Client::pod_usage`] (the decoder has no other public door). Whatever the
//! body, the answer is a usage or an error, and a usage holds byte counts only.

use std::time::Duration;

use memhpa::prom::{Client, Counted, PromOptions};

use super::super::fixtures;
use super::super::loopback::Loopback;
use super::super::rng::Rng;
use super::message_ok;
use crate::driver::engine::Target;

pub struct PromResponse {
    seeds: Vec<Vec<u8>>,
    client: Option<Client>,
}

const PODS: &[&str] = &["web-1", "web-2"];
const CONTAINERS: &[&str] = &["app", "sidecar"];

/// A per-container answer, a per-pod sum, warnings and an API error.
const BODIES: &[(u16, &str)] = &[
    (
        200,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"namespace":"demo","pod":"web-1","container":"app"},"value":[1.5,"1048576"]},{"metric":{"namespace":"demo","pod":"web-1","container":"sidecar"},"value":[1.5,"2e6"]},{"metric":{"namespace":"demo","pod":"web-2","container":"app"},"value":[1.5,"NaN"]}]}}"#,
    ),
    (
        200,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"pod":"web-1"},"value":[1,"10"]},{"metric":{"pod":"web-2"},"value":[1,"+Inf"]}]},"warnings":["w",1]}"#,
    ),
    (
        422,
        r#"{"status":"error","errorType":"execution","error":"many-to-many matching"}"#,
    ),
    (
        200,
        r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
    ),
];

impl PromResponse {
    pub fn new() -> PromResponse {
        let mut seeds: Vec<Vec<u8>> = fixtures::load("prometheus-2.42")
            .into_iter()
            .map(|f| framed(f.status, &f.body))
            .collect();
        seeds.extend(BODIES.iter().map(|(s, b)| framed(*s, b.as_bytes())));
        PromResponse {
            seeds,
            client: None,
        }
    }

    fn client(&mut self) -> &Client {
        self.client.get_or_insert_with(|| {
            Client::new(PromOptions {
                base_url: Loopback::get().url(),
                timeout: Duration::from_secs(10),
                ..PromOptions::default()
            })
            .expect("a Prometheus client for 127.0.0.1")
        })
    }
}

/// The input form: the status on the first line, then the body.
fn framed(status: u16, body: &[u8]) -> Vec<u8> {
    let mut out = format!("{status}\n").into_bytes();
    out.extend_from_slice(body);
    out
}

/// The status of a framed input, kept to codes an HTTP server may send with a
/// body (no 1xx, 204, 304 or redirects): those test ureq, not memhpa.
fn unframe(input: &[u8]) -> (u16, &[u8]) {
    let (head, body) = match input.iter().position(|&b| b == b'\n') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (&b""[..], input),
    };
    let status = std::str::from_utf8(head)
        .ok()
        .and_then(|s| s.trim().parse::<u16>().ok())
        .unwrap_or(200);
    let status = match status {
        200..=203 | 206..=299 | 400..=599 => status,
        _ => 200 + status % 3 * 100,
    };
    (status, body)
}

impl Target for PromResponse {
    fn name(&self) -> &'static str {
        "prom"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        self.seeds.clone()
    }

    fn check(&mut self, input: &[u8], _rng: &mut Rng) -> Result<(), String> {
        let (status, body) = unframe(input);
        Loopback::get().answer(status, body);
        let pods: Vec<String> = PODS.iter().map(|p| p.to_string()).collect();
        let usage = match self.client().pod_usage("demo", &pods) {
            Ok(usage) => usage,
            Err(err) => return message_ok("prom", &err),
        };
        let containers: Vec<String> = CONTAINERS.iter().map(|c| c.to_string()).collect();
        for pod in PODS {
            let counted = [
                Counted::AllOf(&containers),
                Counted::Only("app"),
                Counted::AllOf(&[]),
            ];
            for counted in counted {
                if let Ok(bytes) = usage.bytes(pod, counted) {
                    if !bytes.is_finite() || bytes < 0.0 {
                        return Err(format!(
                            "prom: {pod} {counted:?} is {bytes} bytes, not a byte count"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
