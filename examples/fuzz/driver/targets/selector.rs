//! Label selectors, as `Scale.status.selector` hands them to memhpa. memhpa
//! does not parse them: it sends them to the API server. So the property is
//! on the way out: through the real client to 127.0.0.1, the `labelSelector`
//! the server decodes is exactly the selector, in the pods path of exactly
//! the namespace, and an empty selector never leaves. The fake API server's
//! parser (tests/kubesupport) reads every input too, and must not panic.

use std::time::Duration;

use memhpa::kube::{Client, ErrorKind, KubeConfig, KubeError};

use super::super::fake_selector;
use super::super::loopback::Loopback;
use super::super::rng::Rng;
use super::message_ok;
use crate::driver::engine::Target;
use crate::httpsupport::{percent_decode, query_param};

pub struct Selector {
    client: Option<Client>,
}

/// Past this the request line outgrows the test server's bound; such a selector
/// still goes through the parser, not through HTTP.
const MAX_SENT: usize = 4096;

const EMPTY_POD_LIST: &[u8] = br#"{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}"#;

const NAMESPACES: &[&str] = &["demo", "a/b", "..", "x?y#z", "é ü", "%2F"];

const REQUIREMENTS: &[&str] = &[
    "app=web",
    "app==web",
    "tier!=db",
    "tier in (a,b)",
    "env notin (prod, dev)",
    "canary",
    "!canary",
    "gen>1",
    "gen<10",
    "example.com/role=front",
    "app=",
    "k8s.io/x in ()",
];

impl Selector {
    pub fn new() -> Selector {
        Selector { client: None }
    }

    fn client(&mut self) -> &Client {
        self.client.get_or_insert_with(|| {
            let mut config = KubeConfig::new(&Loopback::get().url());
            config.request_timeout = Duration::from_secs(10);
            Client::new(config).expect("a kube client for 127.0.0.1")
        })
    }
}

impl Target for Selector {
    fn name(&self) -> &'static str {
        "selector"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        let mut seeds: Vec<Vec<u8>> = REQUIREMENTS.iter().map(|r| r.as_bytes().to_vec()).collect();
        seeds.push(b"app=web,tier in (a,b),!canary".to_vec());
        seeds.push(b"  ".to_vec());
        seeds.push(b"a=b&c=d#e".to_vec());
        seeds
    }

    fn generate(&mut self, rng: &mut Rng) -> Option<Vec<u8>> {
        let parts: Vec<&str> = (0..rng.range(1, 6))
            .map(|_| *rng.pick(REQUIREMENTS))
            .collect();
        let glue = *rng.pick(&[",", ", ", " , ", ",,"]);
        Some(parts.join(glue).into_bytes())
    }

    fn check(&mut self, input: &[u8], rng: &mut Rng) -> Result<(), String> {
        let selector = String::from_utf8_lossy(input).into_owned();
        if let Ok(parsed) = fake_selector::parse(&selector) {
            let labels = serde_json::json!({"app": "web", "gen": "5", "tier": "a"});
            let _ = parsed.matches(labels.as_object());
        }
        if selector.len() > MAX_SENT {
            return Ok(());
        }
        let namespace = *rng.pick(NAMESPACES);
        Loopback::get().answer(200, EMPTY_POD_LIST);
        let listed = self.client().list_pods(namespace, &selector);
        let requests = Loopback::get().take_requests();
        if selector.trim().is_empty() {
            return match (listed, requests.is_empty()) {
                (
                    Err(KubeError {
                        kind: ErrorKind::MissingField { .. },
                        ..
                    }),
                    true,
                ) => Ok(()),
                (other, _) => Err(format!("selector {selector:?}: sent, or {other:?}")),
            };
        }
        if let Err(err) = listed {
            message_ok("selector", &err)?;
            return Err(format!("selector {selector:?}: listing failed: {err}"));
        }
        let [request] = requests.as_slice() else {
            return Err(format!(
                "selector {selector:?}: {} requests",
                requests.len()
            ));
        };
        arrived_intact(&request.target, namespace, &selector)
    }
}

/// The server side of the property: one path, one namespace segment, one
/// labelSelector, decoded back to what was sent.
fn arrived_intact(target: &str, namespace: &str, selector: &str) -> Result<(), String> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segments: Vec<&str> = path.split('/').collect();
    let namespace_ok = segments.len() == 6
        && segments[..4] == ["", "api", "v1", "namespaces"]
        && percent_decode(segments[4]) == namespace
        && segments[5] == "pods";
    let sent = query_param(query, "labelSelector");
    let pairs = query.split('&').count();
    if !namespace_ok || sent.as_deref() != Some(selector) || pairs != 2 || target.contains('#') {
        return Err(format!(
            "selector {selector:?} in namespace {namespace:?} arrived as {target:?}"
        ));
    }
    Ok(())
}
