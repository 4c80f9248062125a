//! The cluster objects the end-to-end tests put into the fake, and the part
//! of a Deployment controller they need: the fake has none, so after memhpa
//! resizes a Deployment the test makes its pods exist (or go away) itself.

use serde_json::{json, Value};

use crate::kubesupport::FakeApiServer;

pub const MI: f64 = 1024.0 * 1024.0;

/// Memory limit of every test pod's one container, `app`.
pub const LIMIT_MI: f64 = 100.0;

/// A Running pod labelled `app=APP` with one container `app` limited to
/// [`LIMIT_MI`].
pub fn running_pod(name: &str, app: &str) -> Value {
    json!({
        "metadata": { "name": name, "labels": { "app": app } },
        "spec": { "containers": [{
            "name": "app",
            "image": "registry.example/app:1",
            "resources": { "limits": { "memory": format!("{LIMIT_MI}Mi") } },
        }]},
        "status": { "phase": "Running" },
    })
}

/// The names the pods of `app` get: `APP-1` .. `APP-N`.
pub fn pod_names(app: &str, replicas: i64) -> Vec<String> {
    (1..=replicas).map(|i| format!("{app}-{i}")).collect()
}

/// A Deployment `app` in `ns` selecting `app=APP`, with `replicas` Running
/// pods.
pub fn deployment_with_pods(fake: &FakeApiServer, ns: &str, app: &str, replicas: i64) {
    fake.put_deployment(ns, app, replicas, &[("app", app)]);
    sync_pods(fake, ns, app, replicas);
}

/// Makes exactly the pods `APP-1` .. `APP-replicas` exist, as the
/// Deployment's ReplicaSet would; returns their names.
pub fn sync_pods(fake: &FakeApiServer, ns: &str, app: &str, replicas: i64) -> Vec<String> {
    let names = pod_names(app, replicas);
    for name in &names {
        fake.put_pod(ns, running_pod(name, app));
    }
    // Scale-downs remove the highest ordinals; a bound far above any test.
    for i in replicas + 1..=replicas + 50 {
        fake.delete_pod(ns, &format!("{app}-{i}"));
    }
    names
}

/// A MemHpa `ns/name` on Deployment `target` with `behavior` (autoscaling/v2
/// shape, `{}` for the defaults).
pub fn memhpa(
    ns: &str,
    name: &str,
    target: &str,
    (min, max): (i64, i64),
    target_percent: i64,
    behavior: Value,
) -> Value {
    json!({
        "apiVersion": "memhpa.io/v1",
        "kind": "MemHpa",
        "metadata": { "name": name, "namespace": ns },
        "spec": {
            "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": target },
            "minReplicas": min,
            "maxReplicas": max,
            "targetUtilizationPercentage": target_percent,
            "behavior": behavior,
        },
    })
}

/// Scale-down stabilization of `seconds`, and rate policies wide enough that
/// they never hold a step back, so only the window decides when.
pub fn scale_down_window(seconds: i64) -> Value {
    json!({
        "scaleDown": {
            "stabilizationWindowSeconds": seconds,
            "policies": [{ "type": "Percent", "value": 100, "periodSeconds": 1 }],
        },
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "policies": [{ "type": "Percent", "value": 1000, "periodSeconds": 1 }],
        },
    })
}

/// The condition `type_` of a MemHpa's status: (status, reason, message).
pub fn condition(memhpa: &Value, type_: &str) -> Option<(String, String, String)> {
    let conditions = memhpa.get("status")?.get("conditions")?.as_array()?;
    let found = conditions
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))?;
    let text = |field: &str| {
        found
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Some((text("status"), text("reason"), text("message")))
}

/// The `type`, `reason` and `message` of every Event of `ns`.
pub fn events(fake: &FakeApiServer, ns: &str) -> Vec<(String, String, String)> {
    fake.events(ns)
        .iter()
        .map(|e| {
            let text = |field: &str| {
                e.get(field)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            (text("type"), text("reason"), text("message"))
        })
        .collect()
}

/// The last `n` requests the fake answered, one a line, for failure messages.
pub fn fake_tail(fake: &FakeApiServer, n: usize) -> String {
    let requests = fake.requests();
    let lines: Vec<String> = requests[requests.len().saturating_sub(n)..]
        .iter()
        .map(|r| format!("{} {} -> {}", r.method, r.target(), r.status))
        .collect();
    format!(
        "--- fake API server (last {n} of {} requests) ---\n{}",
        requests.len(),
        lines.join("\n")
    )
}
