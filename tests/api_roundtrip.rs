//! The MemHpa wire types against hand-written JSON in the API server's shape, and
//! manifests/crd.yaml against what `Policy::from_spec` accepts.
//!
//! No YAML crate is allowed, so the CRD is read by indentation (`Schema`): enough
//! for a file we write ourselves in block style with flow-style lists.

use memhpa::algorithm::{Policy, SpecError};
use memhpa::api::{Basis, MemHpa, MemHpaSpec, ObjectList};
use serde_json::{json, Value};

const CRD: &str = include_str!("../manifests/crd.yaml");

/// A full object as `kubectl get memhpa web -o json` shows it, with every field
/// our types model (names as in manifests/crd.yaml, after autoscaling/v2).
fn full_object() -> Value {
    json!({
        "apiVersion": "memhpa.io/v1",
        "kind": "MemHpa",
        "metadata": {
            "name": "web",
            "namespace": "demo",
            "uid": "5aedc382-04c5-4dc7-a5ea-ea5c48072291",
            "resourceVersion": "572",
            "generation": 2,
            "creationTimestamp": "2026-11-22T12:02:31Z",
            "labels": {"app": "web"}
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2,
            "maxReplicas": 10,
            "targetUtilizationPercentage": 60,
            "basis": "requests",
            "container": "app",
            "behavior": {
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "selectPolicy": "Max",
                    "policies": [
                        {"type": "Pods", "value": 4, "periodSeconds": 15},
                        {"type": "Percent", "value": 100, "periodSeconds": 15}
                    ]
                },
                "scaleDown": {
                    "stabilizationWindowSeconds": 300,
                    "selectPolicy": "Min",
                    "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}]
                }
            }
        },
        "status": {
            "observedGeneration": 1,
            "lastScaleTime": "2026-11-22T12:05:00Z",
            "currentReplicas": 2,
            "desiredReplicas": 5,
            "currentUtilizationPercentage": 80,
            "currentMemoryBytes": 167772160,
            "conditions": [
                {
                    "type": "AbleToScale",
                    "status": "True",
                    "lastTransitionTime": "2026-11-22T12:00:00Z",
                    "reason": "SucceededRescale",
                    "message": "the HPA controller was able to update the target scale to 5"
                },
                {
                    "type": "ScalingLimited",
                    "status": "False",
                    "lastTransitionTime": "2026-11-22T12:00:00Z",
                    "reason": "DesiredWithinRange",
                    "message": "the desired count is within the acceptable range"
                }
            ]
        }
    })
}

#[test]
fn full_object_decodes_field_by_field() {
    let m: MemHpa = serde_json::from_value(full_object()).expect("decodes");
    assert_eq!(m.metadata.key(), "demo/web");
    assert_eq!(m.metadata.generation, Some(2));
    let target = m.spec.scale_target_ref.as_ref().expect("scaleTargetRef");
    assert_eq!(
        (
            target.api_version.as_str(),
            target.kind.as_str(),
            target.name.as_str()
        ),
        ("apps/v1", "Deployment", "web")
    );
    assert_eq!(
        (m.spec.min_replicas, m.spec.max_replicas),
        (Some(2), Some(10))
    );
    assert_eq!(m.spec.target_utilization_percentage, Some(60));
    assert_eq!(m.spec.basis.as_deref(), Some("requests"));
    assert_eq!(m.spec.container.as_deref(), Some("app"));
    let behavior = m.spec.behavior.as_ref().expect("behavior");
    let down = behavior.scale_down.as_ref().expect("scaleDown");
    assert_eq!(down.stabilization_window_seconds, Some(300));
    assert_eq!(down.select_policy.as_deref(), Some("Min"));
    let policy = &down.policies.as_ref().expect("policies")[0];
    assert_eq!(
        (policy.type_.as_str(), policy.value, policy.period_seconds),
        ("Percent", 10, 60)
    );
    let status = m.status.as_ref().expect("status");
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(
        status.last_scale_time.as_deref(),
        Some("2026-11-22T12:05:00Z")
    );
    assert_eq!(status.current_memory_bytes, Some(167_772_160));
    assert_eq!(status.current_utilization_percentage, Some(80));
    assert_eq!(status.conditions[1].type_, "ScalingLimited");
    assert_eq!(
        status.conditions[1].reason.as_deref(),
        Some("DesiredWithinRange")
    );
}

#[test]
fn full_object_round_trips_exactly() {
    let m: MemHpa = serde_json::from_value(full_object()).expect("decodes");
    assert_eq!(serde_json::to_value(&m).expect("encodes"), full_object());
}

#[test]
fn full_spec_is_a_valid_policy() {
    let m: MemHpa = serde_json::from_value(full_object()).expect("decodes");
    let p = Policy::from_spec(&m.spec).expect("valid");
    assert_eq!(p.basis, Basis::Requests);
    assert_eq!(p.container.as_deref(), Some("app"));
    assert_eq!(p.scale_down.policies[0].period_seconds, 60);
}

#[test]
fn minimal_object_omits_absent_fields() {
    let minimal = json!({
        "apiVersion": "memhpa.io/v1",
        "kind": "MemHpa",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db"},
            "maxReplicas": 3
        }
    });
    let m: MemHpa = serde_json::from_value(minimal.clone()).expect("decodes");
    assert_eq!(m.spec.min_replicas, None);
    assert_eq!(m.status, None);
    assert_eq!(serde_json::to_value(&m).expect("encodes"), minimal);
}

#[test]
fn status_without_conditions_omits_the_list() {
    let m: MemHpa = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"maxReplicas": 3},
        "status": {"currentReplicas": 1}
    }))
    .expect("decodes");
    let back = serde_json::to_value(&m).expect("encodes");
    assert_eq!(back["status"], json!({"currentReplicas": 1}));
}

#[test]
fn server_fields_we_do_not_model_are_ignored() {
    let mut doc = full_object();
    doc["metadata"]["managedFields"] = json!([{"manager": "kubectl", "operation": "Update"}]);
    doc["metadata"]["annotations"] = json!({"a": "b"});
    doc["spec"]["somethingNew"] = json!(true);
    let m: MemHpa = serde_json::from_value(doc).expect("decodes");
    assert_eq!(serde_json::to_value(&m).expect("encodes"), full_object());
}

#[test]
fn snake_case_keys_are_not_read() {
    // A spec written with Rust names instead of the wire names must not pass for
    // a valid one: the fields stay unset and validation says what is missing.
    let m: MemHpa = serde_json::from_value(json!({
        "spec": {"max_replicas": 3, "scale_target_ref": {"kind": "Deployment"}}
    }))
    .expect("decodes");
    assert_eq!(m.spec, MemHpaSpec::default());
}

#[test]
fn list_of_memhpas_decodes() {
    let list: ObjectList<MemHpa> = serde_json::from_value(json!({
        "apiVersion": "memhpa.io/v1",
        "kind": "MemHpaList",
        "metadata": {"resourceVersion": "572", "continue": ""},
        "items": [full_object(), full_object()]
    }))
    .expect("decodes");
    assert_eq!(list.items.len(), 2);
    assert_eq!(list.metadata.resource_version.as_deref(), Some("572"));
}

// ---- manifests/crd.yaml against Policy::from_spec ----

/// A node of the CRD text: its `key: value` line and the lines under it, found
/// by indentation.
#[derive(Clone, Copy)]
struct Schema<'a> {
    head: &'a str,
    lines: &'a [&'a str],
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '-']).len()
}

fn meaningful(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && !t.starts_with('#')
}

impl<'a> Schema<'a> {
    /// The block under the first `key:` line at the shallowest indentation of
    /// this node's lines.
    fn child(self, key: &str) -> Schema<'a> {
        let level = self
            .lines
            .iter()
            .filter(|l| meaningful(l))
            .map(|l| indent(l))
            .min()
            .unwrap_or(0);
        let wanted = format!("{key}:");
        let start = self
            .lines
            .iter()
            .position(|l| {
                indent(l) == level && l.trim_start_matches([' ', '-']).starts_with(&wanted)
            })
            .unwrap_or_else(|| panic!("no key {key:?} in the CRD at this level"));
        let end = self.lines[start + 1..]
            .iter()
            .position(|l| meaningful(l) && indent(l) <= level)
            .map_or(self.lines.len(), |i| start + 1 + i);
        Schema {
            head: self.lines[start],
            lines: &self.lines[start + 1..end],
        }
    }

    fn path(self, keys: &[&str]) -> Schema<'a> {
        keys.iter().fold(self, |node, key| node.child(key))
    }

    /// The text after `key:` on this node's line.
    fn value(self) -> &'a str {
        let first = self.head.trim_start_matches([' ', '-']);
        first.split_once(':').map_or("", |(_, v)| v.trim())
    }

    /// A flow-style list value, `[a, "b"]`, unquoted.
    fn list(self) -> Vec<String> {
        let v = self.value();
        let inner = v
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .unwrap_or_else(|| panic!("not a flow list: {v:?}"));
        inner
            .split(',')
            .map(|s| s.trim().trim_matches('"').to_string())
            .collect()
    }

    fn int(self, key: &str) -> i64 {
        let v = self.child(key).value();
        v.parse()
            .unwrap_or_else(|_| panic!("{key}: not an integer: {v:?}"))
    }

    fn has(self, key: &str) -> bool {
        let wanted = format!("{key}:");
        self.lines
            .iter()
            .any(|l| l.trim_start_matches([' ', '-']).starts_with(&wanted))
    }
}

fn crd_lines() -> Vec<&'static str> {
    CRD.lines().collect()
}

fn spec_schema<'a>(lines: &'a [&'a str]) -> Schema<'a> {
    let root = lines
        .iter()
        .position(|l| l.trim() == "openAPIV3Schema:")
        .expect("openAPIV3Schema");
    Schema {
        head: "",
        lines: &lines[root + 1..],
    }
    .path(&["properties", "spec"])
}

fn base_spec() -> Value {
    json!({
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "maxReplicas": 10
    })
}

fn check(spec: Value) -> Result<Policy, SpecError> {
    let spec: MemHpaSpec = serde_json::from_value(spec).expect("spec decodes");
    Policy::from_spec(&spec)
}

fn with(pointer_path: &[&str], value: Value) -> Value {
    let mut spec = base_spec();
    let mut node = &mut spec;
    for key in &pointer_path[..pointer_path.len() - 1] {
        node = &mut node[*key];
    }
    node[pointer_path[pointer_path.len() - 1]] = value;
    spec
}

#[test]
fn crd_names_match_api_constants() {
    let lines = crd_lines();
    let root = Schema {
        head: "",
        lines: &lines,
    };
    let spec = root.path(&["spec"]);
    assert_eq!(spec.child("group").value(), memhpa::api::GROUP);
    let names = spec.child("names");
    assert_eq!(names.child("kind").value(), memhpa::api::KIND);
    assert_eq!(names.child("plural").value(), memhpa::api::PLURAL);
    assert_eq!(names.child("shortNames").list(), ["mhpa"]);
    assert_eq!(spec.child("scope").value(), "Namespaced");
    assert_eq!(
        root.path(&["metadata", "name"]).value(),
        format!("{}.{}", memhpa::api::PLURAL, memhpa::api::GROUP)
    );
    assert!(CRD.contains(&format!("- name: {}\n", memhpa::api::VERSION)));
    assert!(CRD.contains("subresources:\n        status: {}"));
}

#[test]
fn crd_required_fields_are_required_by_policy() {
    let lines = crd_lines();
    let spec = spec_schema(&lines);
    let required = spec.child("required").list();
    assert_eq!(required, ["scaleTargetRef", "maxReplicas"]);
    for field in &required {
        let mut s = base_spec();
        s.as_object_mut().expect("object").remove(field.as_str());
        assert_eq!(
            check(s).unwrap_err(),
            SpecError::Missing {
                field: format!("spec.{field}")
            }
        );
    }
    let target_required = spec
        .path(&["properties", "scaleTargetRef", "required"])
        .list();
    assert_eq!(target_required, ["apiVersion", "kind", "name"]);
    for field in &target_required {
        let err = check(with(&["scaleTargetRef", field], json!(""))).unwrap_err();
        assert_eq!(err.field(), format!("spec.scaleTargetRef.{field}"));
    }
}

#[test]
fn crd_target_kinds_are_accepted() {
    let lines = crd_lines();
    let kinds = spec_schema(&lines)
        .path(&["properties", "scaleTargetRef", "properties", "kind", "enum"])
        .list();
    assert_eq!(
        kinds,
        [
            "Deployment",
            "StatefulSet",
            "ReplicaSet",
            "ReplicationController"
        ]
    );
    for kind in kinds {
        let p = check(with(&["scaleTargetRef", "kind"], json!(kind))).expect("valid");
        assert_eq!(p.target.kind, kind);
    }
}

#[test]
fn crd_basis_enum_and_default_match_policy() {
    let lines = crd_lines();
    let basis = spec_schema(&lines).path(&["properties", "basis"]);
    let values = basis.child("enum").list();
    assert_eq!(values, ["limits", "requests"]);
    for v in &values {
        let p = check(with(&["basis"], json!(v))).expect("valid");
        assert_eq!(p.basis.as_str(), v);
    }
    assert!(check(with(&["basis"], json!("Limits"))).is_err());
    assert_eq!(basis.child("default").value(), Basis::default().as_str());
}

#[test]
fn crd_replica_and_target_ranges_match_policy() {
    let lines = crd_lines();
    let props = spec_schema(&lines).child("properties");
    let min = props.child("minReplicas");
    assert_eq!(min.int("minimum"), 1);
    assert!(check(with(&["minReplicas"], json!(0))).is_err());
    assert_eq!(
        check(base_spec()).expect("valid").min_replicas,
        min.int("default")
    );
    assert_eq!(props.child("maxReplicas").int("minimum"), 1);
    let target = props.child("targetUtilizationPercentage");
    let (lo, hi) = (target.int("minimum"), target.int("maximum"));
    assert_eq!((lo, hi), (1, 100));
    for ok in [lo, hi] {
        assert!(check(with(&["targetUtilizationPercentage"], json!(ok))).is_ok());
    }
    for bad in [lo - 1, hi + 1] {
        assert!(check(with(&["targetUtilizationPercentage"], json!(bad))).is_err());
    }
    assert_eq!(
        check(base_spec()).expect("valid").target_utilization,
        target.int("default")
    );
}

#[test]
fn crd_cel_rule_matches_policy() {
    let lines = crd_lines();
    let rule = spec_schema(&lines).child("x-kubernetes-validations");
    assert!(rule.has("rule"));
    assert_eq!(
        rule.child("rule").value(),
        "\"!has(self.minReplicas) || self.minReplicas <= self.maxReplicas\""
    );
    assert!(check(with(&["minReplicas"], json!(10))).is_ok());
    assert!(check(with(&["minReplicas"], json!(11))).is_err());
}

#[test]
fn crd_container_must_be_non_empty_as_policy() {
    let lines = crd_lines();
    let container = spec_schema(&lines).path(&["properties", "container"]);
    assert_eq!(container.int("minLength"), 1);
    assert!(check(with(&["container"], json!(""))).is_err());
    assert!(check(with(&["container"], json!("app"))).is_ok());
}

#[test]
fn crd_behavior_matches_policy_in_both_directions() {
    let lines = crd_lines();
    let behavior = spec_schema(&lines).path(&["properties", "behavior", "properties"]);
    for direction in ["scaleUp", "scaleDown"] {
        let rules = behavior.path(&[direction, "properties"]);
        let at = |field: &str, v: Value| with(&["behavior", direction, field], v);

        let window = rules.child("stabilizationWindowSeconds");
        let (lo, hi) = (window.int("minimum"), window.int("maximum"));
        assert_eq!((lo, hi), (0, 3600));
        assert!(check(at("stabilizationWindowSeconds", json!(hi))).is_ok());
        assert!(check(at("stabilizationWindowSeconds", json!(hi + 1))).is_err());
        assert!(check(at("stabilizationWindowSeconds", json!(lo - 1))).is_err());

        let selects = rules.path(&["selectPolicy", "enum"]).list();
        assert_eq!(selects, ["Max", "Min", "Disabled"]);
        for s in &selects {
            assert!(
                check(at("selectPolicy", json!(s))).is_ok(),
                "{direction} {s}"
            );
        }
        assert!(check(at("selectPolicy", json!("max"))).is_err());

        let policies = rules.child("policies");
        assert_eq!(policies.int("minItems"), 1);
        assert!(check(at("policies", json!([]))).is_err());
        let item = policies.child("items");
        assert_eq!(
            item.child("required").list(),
            ["type", "value", "periodSeconds"]
        );
        let item = item.child("properties");
        let types = item.path(&["type", "enum"]).list();
        assert_eq!(types, ["Pods", "Percent"]);
        let policy = |t: &str, value: i64, period: i64| {
            at(
                "policies",
                json!([{"type": t, "value": value, "periodSeconds": period}]),
            )
        };
        for t in &types {
            assert!(check(policy(t, 1, 15)).is_ok(), "{direction} {t}");
        }
        assert!(check(policy("Replicas", 1, 15)).is_err());
        assert_eq!(item.child("value").int("minimum"), 1);
        assert!(check(policy("Pods", 0, 15)).is_err());
        let period = item.child("periodSeconds");
        let (lo, hi) = (period.int("minimum"), period.int("maximum"));
        assert_eq!((lo, hi), (1, 1800));
        assert!(check(policy("Pods", 1, hi)).is_ok());
        assert!(check(policy("Pods", 1, hi + 1)).is_err());
        assert!(check(policy("Pods", 1, lo - 1)).is_err());
    }
}

#[test]
fn crd_status_schema_has_every_status_field() {
    let lines = crd_lines();
    let root = lines
        .iter()
        .position(|l| l.trim() == "openAPIV3Schema:")
        .expect("openAPIV3Schema");
    let status = Schema {
        head: "",
        lines: &lines[root + 1..],
    }
    .path(&["properties", "status", "properties"]);
    let m: MemHpa = serde_json::from_value(full_object()).expect("decodes");
    let encoded = serde_json::to_value(m.status).expect("encodes");
    for key in encoded.as_object().expect("status object").keys() {
        assert!(status.has(key), "status.{key} is not in the CRD schema");
    }
    let conditions = status.child("conditions");
    assert_eq!(conditions.child("x-kubernetes-list-type").value(), "map");
    assert_eq!(
        conditions.child("x-kubernetes-list-map-keys").list(),
        ["type"]
    );
    for key in encoded["conditions"][0]
        .as_object()
        .expect("condition")
        .keys()
    {
        assert!(
            conditions.path(&["items", "properties"]).has(key),
            "conditions[].{key} is not in the CRD schema"
        );
    }
    assert_eq!(
        status.path(&["lastScaleTime", "format"]).value(),
        "date-time"
    );
}

#[test]
fn crd_printer_columns_point_at_real_fields() {
    let doc = full_object();
    let paths: Vec<&str> = CRD
        .lines()
        .filter_map(|l| l.trim().strip_prefix("jsonPath: "))
        .collect();
    assert_eq!(paths.len(), 8, "{paths:?}");
    for path in paths {
        let pointer = path.replace('.', "/");
        assert!(
            doc.pointer(&pointer).is_some(),
            "printer column {path} names no field of a full object"
        );
    }
    for column in [
        "Reference",
        "Target %",
        "Utilization %",
        "MinPods",
        "MaxPods",
        "Replicas",
        "Age",
    ] {
        assert!(
            CRD.contains(&format!("- name: {column}\n")),
            "no column {column}"
        );
    }
}

/// The demo manifest cannot be parsed without a YAML crate; its MemHpa spec is
/// checked by the same indentation reader.
#[test]
fn demo_memhpa_targets_the_demo_deployment() {
    let demo = include_str!("../manifests/memhpa-demo.yaml");
    let docs: Vec<&str> = demo.split("\n---\n").collect();
    let memhpa = docs
        .iter()
        .find(|d| d.contains("kind: MemHpa"))
        .expect("a MemHpa document");
    let deployment = docs
        .iter()
        .find(|d| d.contains("kind: Deployment\n"))
        .expect("a Deployment document");
    let lines: Vec<&str> = memhpa.lines().collect();
    let spec = Schema {
        head: "",
        lines: &lines,
    }
    .child("spec");
    let target = spec.child("scaleTargetRef");
    assert_eq!(target.child("kind").value(), "Deployment");
    assert_eq!(target.child("name").value(), "web");
    assert_eq!(spec.int("minReplicas"), 1);
    assert_eq!(spec.int("maxReplicas"), 10);
    assert_eq!(spec.int("targetUtilizationPercentage"), 50);
    assert!(deployment.contains("  name: web\n  namespace: demo\n"));
    assert!(memhpa.contains("  name: web\n  namespace: demo\n"));
    assert!(deployment.contains("limits:\n              memory:"));
}
