//! The cluster the child controls: N MemHpas spread round-robin over the
//! namespaces, each with its own Deployment of `pods_per_target` Running
//! pods whose one container (`app`) has a memory limit and request, and
//! optionally pods no MemHpa targets (the rest of a big cluster, which the
//! pod cache holds all the same).
//!
//! The pods carry what a real one does beside the fields memhpa reads
//! (owner reference, image, ports, env, a volume, tolerations): about 1.3
//! KiB of JSON each, where a real pod with its `managedFields` is about 3.5
//! KiB (fixture pods-list-by-selector).
//!
//! The stub Prometheus reports every pod at [`USAGE_BYTES`] (give or take
//! its wobble), 78% of the limit against a target of 80%: inside the 10%
//! tolerance, so after the first pass a tick decides nothing new and the
//! figures are those of a quiet steady state.

use serde_json::{json, Value};

use crate::kubesupport::FakeApiServer;

const LIMIT_MIB: u64 = 256;
pub const USAGE_BYTES: u64 = 200 << 20;
const TARGET_PERCENT: u64 = 80;

/// How the MemHpas and pods are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub memhpas: usize,
    pub namespaces: usize,
    pub pods_per_target: usize,
    /// Pods that no MemHpa targets, spread over the namespaces.
    pub other_pods: usize,
}

impl Layout {
    pub fn new(memhpas: usize, namespaces: usize, pods_per_target: usize) -> Layout {
        Layout {
            memhpas,
            namespaces: namespaces.clamp(1, memhpas.max(1)),
            pods_per_target,
            other_pods: 0,
        }
    }

    pub fn with_other_pods(self, other_pods: usize) -> Layout {
        Layout { other_pods, ..self }
    }

    pub fn pods(&self) -> usize {
        self.memhpas * self.pods_per_target + self.other_pods
    }

    pub fn namespace_of(&self, index: usize) -> String {
        format!("bench-{}", index % self.namespaces)
    }
}

/// Stores the MemHpas, Deployments and pods in the fake.
pub fn populate(fake: &FakeApiServer, layout: Layout) {
    for index in 0..layout.memhpas {
        let ns = layout.namespace_of(index);
        let name = format!("web-{index}");
        put_app(fake, &ns, &name, layout.pods_per_target);
        fake.create_memhpa(memhpa(&ns, &name, TARGET_PERCENT));
    }
    for index in 0..layout.other_pods {
        let ns = layout.namespace_of(index);
        let owner = format!("batch-{}", index / 50);
        fake.put_pod(&ns, pod(&owner, &format!("{owner}-{index}")));
    }
}

/// A Deployment `ns/name` of `pods` Running pods labelled `app=name`.
pub fn put_app(fake: &FakeApiServer, ns: &str, name: &str, pods: usize) {
    fake.put_deployment(ns, name, pods as i64, &[("app", name)]);
    for replica in 0..pods {
        fake.put_pod(ns, pod(name, &format!("{name}-{replica}")));
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

fn pod(app: &str, name: &str) -> Value {
    json!({
        "metadata": {
            "name": name,
            "generateName": format!("{app}-"),
            "labels": {"app": app, "pod-template-hash": "6d78db4d54"},
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{app}-6d78db4d54"),
                "uid": "5397a88b-9d90-4de6-8280-72230b6210e3", "controller": true,
                "blockOwnerDeletion": true
            }]
        },
        "spec": {
            "containers": [{
                "name": "app",
                "image": "registry.example/app:1.4.2",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "MODE", "value": "serve"}],
                "resources": {
                    "limits": {"memory": format!("{LIMIT_MIB}Mi")},
                    "requests": {"memory": format!("{}Mi", LIMIT_MIB / 2)}
                },
                "volumeMounts": [{"name": "kube-api-access", "readOnly": true,
                                  "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                "terminationMessagePath": "/dev/termination-log",
                "imagePullPolicy": "IfNotPresent"
            }],
            "volumes": [{"name": "kube-api-access", "projected": {"defaultMode": 420}}],
            "restartPolicy": "Always",
            "serviceAccountName": "default",
            "nodeName": "node-1",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ]
        },
        "status": {"phase": "Running", "qosClass": "Burstable", "podIP": "10.0.0.1",
                   "startTime": "2026-11-22T12:00:15Z"}
    })
}

/// A MemHpa `ns/name` for Deployment `name` at `target_percent`.
pub fn memhpa(ns: &str, name: &str, target_percent: u64) -> Value {
    json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 1,
            "maxReplicas": 10,
            "targetUtilizationPercentage": target_percent
        }
    })
}
