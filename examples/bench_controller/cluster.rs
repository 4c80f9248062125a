//! The cluster the child controls: N MemHpas spread round-robin over up to
//! `namespaces` namespaces, each with its own Deployment of two Running pods
//! whose one container (`app`) has a memory limit.
//!
//! The stub Prometheus reports every pod at [`USAGE_BYTES`], 78% of the limit
//! against a target of 80%: inside the 10% tolerance, so after the first pass
//! a tick writes nothing and the figures are those of a quiet steady state.

use serde_json::{json, Value};

use crate::kubesupport::FakeApiServer;

pub const PODS_PER_TARGET: usize = 2;
const LIMIT_MIB: u64 = 256;
pub const USAGE_BYTES: u64 = 200 << 20;
const TARGET_PERCENT: u64 = 80;

/// How the MemHpas are laid out.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub memhpas: usize,
    pub namespaces: usize,
}

impl Layout {
    /// `memhpas` over at most `max_namespaces` namespaces (fewer MemHpas than
    /// that get one namespace each).
    pub fn new(memhpas: usize, max_namespaces: usize) -> Layout {
        Layout {
            memhpas,
            namespaces: memhpas.clamp(1, max_namespaces.max(1)),
        }
    }

    fn namespace_of(&self, index: usize) -> String {
        format!("bench-{}", index % self.namespaces)
    }
}

/// Stores the MemHpas, Deployments and pods in the fake.
pub fn populate(fake: &FakeApiServer, layout: Layout) {
    for index in 0..layout.memhpas {
        let ns = layout.namespace_of(index);
        let name = format!("web-{index}");
        fake.put_deployment(&ns, &name, PODS_PER_TARGET as i64, &[("app", &name)]);
        for replica in 0..PODS_PER_TARGET {
            fake.put_pod(&ns, pod(&name, replica));
        }
        fake.create_memhpa(memhpa(&ns, &name));
    }
}

/// MemHpas whose status the controller has written (it always sets
/// observedGeneration).
pub fn with_status(fake: &FakeApiServer) -> usize {
    fake.memhpas()
        .iter()
        .filter(|m| m.pointer("/status/observedGeneration").is_some())
        .count()
}

fn pod(app: &str, replica: usize) -> Value {
    json!({
        "metadata": {"name": format!("{app}-{replica}"), "labels": {"app": app}},
        "spec": {"containers": [{
            "name": "app",
            "resources": {
                "limits": {"memory": format!("{LIMIT_MIB}Mi")},
                "requests": {"memory": format!("{}Mi", LIMIT_MIB / 2)}
            }
        }]},
        "status": {"phase": "Running"}
    })
}

fn memhpa(ns: &str, name: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1,
            "maxReplicas": 10,
            "targetUtilizationPercentage": TARGET_PERCENT
        }
    })
}
