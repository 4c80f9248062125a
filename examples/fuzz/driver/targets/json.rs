//! MemHpa, Scale and Pod JSON as the API server may send it: decoded through
//! the public types, round-tripped, and handed to what the controller does
//! next with each (the spec check, the scale path, the pod observation). A
//! share of the inputs also goes through the real client from 127.0.0.1, as a
//! success and, through `KubeError::from_response`, as an error body.

use std::collections::HashMap;
use std::time::Duration;

use memhpa::algorithm::{
    decide, ContainerObservation, History, Observation, PodObservation, Policy,
};
use memhpa::api::{parse_quantity, Basis, MemHpa, MemHpaSpec, ObjectList, Pod, Scale, Status};
use memhpa::kube::{Client, KubeConfig, KubeError, ScaleTarget};

use super::super::fixtures;
use super::super::loopback::Loopback;
use super::super::rng::Rng;
use super::{message_ok, round_trip};
use crate::driver::engine::Target;

pub struct Json {
    name: &'static str,
    seeds: Vec<Vec<u8>>,
    check: fn(&[u8], &Client, &mut Rng) -> Result<(), String>,
    client: Option<Client>,
}

pub fn memhpa() -> Json {
    let mut seeds = kube_seeds(&["memhpa-"]);
    let example: serde_json::Value =
        serde_json::from_str(memhpa::simulate::EXAMPLE).expect("the built-in example is JSON");
    let wrapped = serde_json::json!({
        "apiVersion": "memhpa.io/v1",
        "kind": "MemHpa",
        "metadata": {"name": "web", "namespace": "demo", "resourceVersion": "1", "generation": 1},
        "spec": example["spec"],
    });
    seeds.push(wrapped.to_string().into_bytes());
    Json::new("memhpa", seeds, check_memhpa)
}

pub fn scale() -> Json {
    let mut seeds = kube_seeds(&["scale-"]);
    seeds.push(
        br#"{"spec":{"replicas":3},"status":{"replicas":2,"selector":"app=web,tier in (a,b),!canary"}}"#
            .to_vec(),
    );
    Json::new("scale", seeds, check_scale)
}

pub fn pod() -> Json {
    let mut seeds = kube_seeds(&["pods-"]);
    let items: Vec<Vec<u8>> = seeds
        .iter()
        .filter_map(|list| serde_json::from_slice::<serde_json::Value>(list).ok())
        .filter_map(|list| list["items"].as_array().cloned())
        .flatten()
        .map(|item| item.to_string().into_bytes())
        .collect();
    seeds.extend(items);
    seeds.push(
        br#"{"metadata":{"name":"p","deletionTimestamp":"2026-01-01T00:00:00Z"},"spec":{"containers":[{"name":"app","resources":{"limits":{"memory":"1.5Gi"},"requests":{"memory":129e6}}}]},"status":{"phase":"Running"}}"#
            .to_vec(),
    );
    Json::new("pod", seeds, check_pod)
}

fn kube_seeds(prefixes: &[&str]) -> Vec<Vec<u8>> {
    fixtures::bodies(&fixtures::load("kube-apiserver-1.24"), prefixes)
}

impl Json {
    fn new(
        name: &'static str,
        seeds: Vec<Vec<u8>>,
        check: fn(&[u8], &Client, &mut Rng) -> Result<(), String>,
    ) -> Json {
        Json {
            name,
            seeds,
            check,
            client: None,
        }
    }
}

impl Target for Json {
    fn name(&self) -> &'static str {
        self.name
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        let mut seeds = self.seeds.clone();
        seeds.push(b"{}".to_vec());
        seeds
    }

    fn check(&mut self, input: &[u8], rng: &mut Rng) -> Result<(), String> {
        error_body(input, rng)?;
        let client = self.client.get_or_insert_with(|| {
            let mut config = KubeConfig::new(&Loopback::get().url());
            config.request_timeout = Duration::from_secs(10);
            Client::new(config).expect("a kube client for 127.0.0.1")
        });
        (self.check)(input, client, rng)
    }
}

/// Any body as an error answer: a Status when it is one, quoted otherwise.
fn error_body(input: &[u8], rng: &mut Rng) -> Result<(), String> {
    let status = *rng.pick(&[400, 401, 403, 404, 409, 410, 422, 429, 500, 503, 504]);
    let retry_after = rng.one_in(2).then(|| {
        *rng.pick(&[
            "1",
            "0",
            "-1",
            "18446744073709551616",
            "1e308",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "",
        ])
    });
    let err = KubeError::from_response("get", "/api/x", status, retry_after, input);
    message_ok("error body", &err)?;
    let _ = (err.is_retryable(), err.retry_after(), err.code());
    if let Ok(decoded) = serde_json::from_slice::<Status>(input) {
        round_trip("Status", &decoded)?;
    }
    Ok(())
}

/// One input in four also goes through the client: a 200 with this body.
fn through_client<T>(
    input: &[u8],
    rng: &mut Rng,
    call: impl FnOnce() -> Result<T, KubeError>,
) -> Result<(), String> {
    if !rng.one_in(4) {
        return Ok(());
    }
    Loopback::get().answer(200, input);
    match call() {
        Ok(_) => Ok(()),
        Err(err) => message_ok("client", &err),
    }
}

fn check_memhpa(input: &[u8], client: &Client, rng: &mut Rng) -> Result<(), String> {
    if let Ok(list) = serde_json::from_slice::<ObjectList<MemHpa>>(input) {
        round_trip("MemHpaList", &list)?;
    }
    through_client(input, rng, || client.get_memhpa("demo", "web"))?;
    let Ok(hpa) = serde_json::from_slice::<MemHpa>(input) else {
        return Ok(());
    };
    round_trip("MemHpa", &hpa)?;
    match Policy::from_spec(&hpa.spec) {
        Ok(policy) => {
            let replicas = *rng.pick(&[1, 3, policy.max_replicas, i64::from(i32::MAX)]);
            decides(
                &policy,
                observation(replicas, replicas, standard_pods()),
                rng,
            )?;
        }
        Err(err) => message_ok("MemHpa spec", &err)?,
    }
    let Some(target) = &hpa.spec.scale_target_ref else {
        return Ok(());
    };
    match ScaleTarget::from_ref(&target.api_version, &target.kind, &target.name) {
        Ok(scale) => path_stays_put(&scale, hpa.metadata.namespace.as_deref().unwrap_or("demo")),
        Err(err) => message_ok("scaleTargetRef", &err),
    }
}

/// A name or namespace from the object must stay one path segment.
fn path_stays_put(scale: &ScaleTarget, namespace: &str) -> Result<(), String> {
    let path = scale.path(namespace);
    let segments = if path.starts_with("/apis/") { 9 } else { 8 };
    let clean = !path.contains(['?', '#', ' ']) && !path.split('/').any(|s| s == ".." || s == ".");
    if path.split('/').count() != segments || !clean {
        return Err(format!("scale path {path:?} escapes its segments"));
    }
    Ok(())
}

fn check_scale(input: &[u8], client: &Client, rng: &mut Rng) -> Result<(), String> {
    let target = ScaleTarget::from_ref("apps/v1", "Deployment", "web").expect("a Deployment");
    through_client(input, rng, || client.get_scale("demo", &target))?;
    let Ok(scale) = serde_json::from_slice::<Scale>(input) else {
        return Ok(());
    };
    round_trip("Scale", &scale)?;
    let obs = observation(scale.spec.replicas, scale.status.replicas, standard_pods());
    decides(&fixed_policy(), obs, rng)
}

fn check_pod(input: &[u8], client: &Client, rng: &mut Rng) -> Result<(), String> {
    through_client(input, rng, || client.list_pods("demo", "app=web"))?;
    let mut pods = Vec::new();
    if let Ok(list) = serde_json::from_slice::<ObjectList<Pod>>(input) {
        round_trip("PodList", &list)?;
        pods.extend(list.items);
    }
    if let Ok(pod) = serde_json::from_slice::<Pod>(input) {
        round_trip("Pod", &pod)?;
        pods.push(pod);
    }
    pods.iter().try_for_each(observe)?;
    let bytes = *rng.pick(&[0.0, 1.0, 5e8, (1u64 << 50) as f64, 1e18]);
    let observed = pods
        .iter()
        .map(|pod| {
            let usage = pod
                .spec
                .containers
                .iter()
                .map(|c| (c.name.clone(), bytes))
                .collect();
            PodObservation::from_pod(pod, &usage)
        })
        .collect();
    let replicas = *rng.pick(&[1, 2, 3, i64::from(i32::MAX)]);
    decides(
        &fixed_policy(),
        observation(replicas, replicas, observed),
        rng,
    )
}

/// A valid policy: the built-in example's spec, for a Deployment.
fn fixed_policy() -> Policy {
    static POLICY: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    POLICY.get_or_init(example_policy).clone()
}

fn example_policy() -> Policy {
    let example: serde_json::Value =
        serde_json::from_str(memhpa::simulate::EXAMPLE).expect("the built-in example is JSON");
    let mut spec: MemHpaSpec =
        serde_json::from_value(example["spec"].clone()).expect("the example spec");
    spec.scale_target_ref
        .get_or_insert_with(Default::default)
        .api_version = "apps/v1".into();
    let target = spec.scale_target_ref.as_mut().expect("set above");
    target.kind = "Deployment".into();
    target.name = "web".into();
    Policy::from_spec(&spec).expect("the example spec is valid")
}

/// Three running pods at 90% of a 1 GiB limit.
fn standard_pods() -> Vec<PodObservation> {
    (0..3)
        .map(|i| PodObservation {
            name: format!("web-{i}"),
            phase: memhpa::algorithm::PodPhase::Running,
            deleted: false,
            containers: vec![ContainerObservation {
                name: "app".into(),
                usage_bytes: Some(0.9 * (1u64 << 30) as f64),
                limit_bytes: Some(1 << 30),
                request_bytes: Some(1 << 29),
            }],
        })
        .collect()
}

fn observation(spec: i64, status: i64, pods: Vec<PodObservation>) -> Observation {
    Observation {
        spec_replicas: spec,
        status_replicas: status,
        pods,
        metrics_error: None,
    }
}

/// The algorithm on what the server said: a rescale stays within the policy's
/// bounds and starts from the Scale's count, and the history takes it.
fn decides(policy: &Policy, obs: Observation, rng: &mut Rng) -> Result<(), String> {
    let now = *rng.pick(&[0, 1_800_000_000, i64::from(i32::MAX), 1 << 52]);
    let mut history = History::starting_at(now - 600, obs.spec_replicas);
    let decision = decide(&obs, policy, &history, now);
    if let Some(r) = &decision.rescale {
        let in_bounds = (policy.min_replicas..=policy.max_replicas).contains(&r.to);
        if !in_bounds || r.from != obs.spec_replicas || r.to == r.from {
            return Err(format!(
                "decide: rescale {} -> {} outside [{}, {}] from a Scale at {}",
                r.from, r.to, policy.min_replicas, policy.max_replicas, obs.spec_replicas
            ));
        }
    }
    history.apply(&decision, policy, now, true);
    Ok(())
}

/// The observation keeps exactly the memory limits that parse (what it makes of
/// one that does not is the calculator's business).
fn observe(pod: &Pod) -> Result<(), String> {
    let usage: HashMap<String, f64> = pod
        .spec
        .containers
        .iter()
        .map(|c| (c.name.clone(), 1.0))
        .collect();
    let observed = PodObservation::from_pod(pod, &usage);
    for (container, seen) in pod.spec.containers.iter().zip(&observed.containers) {
        let limit = container.resources.limits.get("memory").map(parse_quantity);
        let expected = match limit {
            Some(Err(_)) => continue,
            parsed => parsed.and_then(Result::ok),
        };
        if seen.capacity(Basis::Limits) != expected {
            return Err(format!(
                "pod container {:?}: limit {:?} observed as {:?}",
                container.name,
                container.resources.limits.get("memory"),
                seen.capacity(Basis::Limits)
            ));
        }
    }
    Ok(())
}
