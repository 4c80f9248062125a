//! Built-in kinds memhpa touches: Scale, Pod, Event and Lease.

use super::meta::{ObjectMeta, ObjectReference};
use super::quantity::{parse_quantity, QuantityError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// autoscaling/v1 Scale, the `/scale` subresource of every target kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scale {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ScaleSpec,
    #[serde(default)]
    pub status: ScaleStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleSpec {
    /// Absent means 0 on the wire (omitempty in Go).
    #[serde(default)]
    pub replicas: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleStatus {
    #[serde(default)]
    pub replicas: i64,
    /// A label-selector string such as `app=web,tier in (a,b)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
}

/// core/v1 Pod, the fields the replica calculator needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PodSpec,
    #[serde(default)]
    pub status: PodStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub containers: Vec<Container>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub resources: ResourceRequirements,
}

/// Quantities stay strings (`100Mi`, `1G`, `128974848`); parse with `parse_quantity`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirements {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, serde_json::Value>,
}

impl ResourceRequirements {
    /// The `memory` limit in bytes: `Ok(None)` when there is none, an error
    /// naming the input when it is malformed or beyond any physical memory.
    pub fn memory_limit(&self) -> Result<Option<u64>, QuantityError> {
        memory(&self.limits)
    }

    /// The `memory` request in bytes, as [`ResourceRequirements::memory_limit`].
    pub fn memory_request(&self) -> Result<Option<u64>, QuantityError> {
        memory(&self.requests)
    }
}

fn memory(list: &BTreeMap<String, serde_json::Value>) -> Result<Option<u64>, QuantityError> {
    list.get("memory").map(parse_quantity).transpose()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    /// Pending, Running, Succeeded, Failed or Unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

/// core/v1 Event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub involved_object: ObjectReference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default)]
    pub source: EventSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// `Normal` or `Warning`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// coordination.k8s.io/v1 Lease.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: LeaseSpec,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_duration_seconds: Option<i64>,
    /// MicroTime: RFC 3339 with microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquire_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_transitions: Option<i64>,
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::api::QuantityErrorKind;

    fn resources(limits: serde_json::Value) -> ResourceRequirements {
        serde_json::from_value(serde_json::json!({ "limits": limits })).expect("decodes")
    }

    #[test]
    fn memory_limit_absent_set_malformed_and_absurd_are_told_apart() {
        assert_eq!(resources(serde_json::json!({})).memory_limit(), Ok(None));
        assert_eq!(
            resources(serde_json::json!({"memory": "64Mi"})).memory_limit(),
            Ok(Some(64 << 20))
        );
        let malformed = resources(serde_json::json!({"memory": "bogus"})).memory_limit();
        assert!(
            matches!(malformed, Err(ref e) if matches!(e.kind, QuantityErrorKind::Malformed(_))),
            "{malformed:?}"
        );
        let absurd = resources(serde_json::json!({"memory": "1e308"}))
            .memory_limit()
            .expect_err("absurd");
        assert_eq!(
            absurd.kind,
            QuantityErrorKind::BeyondPhysicalMemory { bytes: u64::MAX }
        );
        assert!(absurd
            .to_string()
            .contains("\"1e308\" is beyond any physical memory"));
    }
}
