//! A MemHpa spec, validated and with the autoscaling/v2 defaults applied.
//!
//! The user's object is never changed: `Policy` is a separate, typed copy. A bad
//! field is reported (as `InvalidSpec`) instead of being "fixed", which is what the
//! 2017 controller did silently.

use crate::api::{self, parse_quantity, Basis, MemHpaSpec, ScalingRules};
use std::fmt;

/// Kubernetes stores replica counts and policy values as int32.
const INT32_MAX: i64 = i32::MAX as i64;
const MAX_STABILIZATION_WINDOW_SECONDS: i64 = 3600;
const MAX_PERIOD_SECONDS: i64 = 1800;

/// The validated form of a `MemHpaSpec`.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub target: TargetRef,
    pub min_replicas: i64,
    pub max_replicas: i64,
    /// 1..=100, percent of the pods' memory limits (or requests).
    pub target_utilization: i64,
    pub basis: Basis,
    /// Count only this container of each pod.
    pub container: Option<String>,
    /// Bytes each counted pod (or its counted container) holds whatever its
    /// load; 0, the default, is Kubernetes' proportional rule.
    pub pod_baseline_bytes: u64,
    pub scale_up: Rules,
    pub scale_down: Rules,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
}

/// One direction's behavior (autoscaling/v2 HPAScalingRules), fully defaulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub stabilization_window_seconds: i64,
    pub select: Select,
    pub policies: Vec<RatePolicy>,
}

/// How the limits of several rate policies combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    /// The policy that allows the biggest change wins.
    Max,
    /// The policy that allows the smallest change wins.
    Min,
    /// No scaling in this direction at all.
    Disabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePolicy {
    pub kind: RateKind,
    pub value: i64,
    pub period_seconds: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateKind {
    Pods,
    Percent,
}

/// A spec field that cannot be used, with its path and the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecError {
    /// A required field is absent.
    Missing { field: String },
    /// A field is present but its value is out of range or unknown.
    Invalid {
        field: String,
        got: String,
        expected: String,
    },
}

impl SpecError {
    /// The field path, e.g. `spec.behavior.scaleDown.policies[1].periodSeconds`.
    pub fn field(&self) -> &str {
        match self {
            SpecError::Missing { field } | SpecError::Invalid { field, .. } => field,
        }
    }

    fn invalid(
        field: impl Into<String>,
        got: impl fmt::Display,
        expected: impl Into<String>,
    ) -> SpecError {
        SpecError::Invalid {
            field: field.into(),
            got: got.to_string(),
            expected: expected.into(),
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::Missing { field } => write!(f, "{field}: required but missing"),
            SpecError::Invalid {
                field,
                got,
                expected,
            } => write!(f, "{field}: expected {expected}, got {got}"),
        }
    }
}

impl std::error::Error for SpecError {}

impl Policy {
    /// Validates every field and applies the defaults (minReplicas 1, target 80,
    /// basis limits, autoscaling/v2 behavior).
    pub fn from_spec(spec: &MemHpaSpec) -> Result<Policy, SpecError> {
        let target = target_ref(spec.scale_target_ref.as_ref())?;
        let min_replicas = spec.min_replicas.unwrap_or(1);
        in_range("spec.minReplicas", min_replicas, 1, INT32_MAX)?;
        let max_replicas = spec.max_replicas.ok_or_else(|| SpecError::Missing {
            field: "spec.maxReplicas".into(),
        })?;
        if max_replicas < min_replicas {
            return Err(SpecError::invalid(
                "spec.maxReplicas",
                max_replicas,
                format!("at least minReplicas ({min_replicas})"),
            ));
        }
        in_range("spec.maxReplicas", max_replicas, 1, INT32_MAX)?;
        let target_utilization = spec.target_utilization_percentage.unwrap_or(80);
        in_range(
            "spec.targetUtilizationPercentage",
            target_utilization,
            1,
            100,
        )?;
        let basis = match spec.basis.as_deref() {
            None => Basis::Limits,
            Some(s) => Basis::parse(s).ok_or_else(|| {
                SpecError::invalid("spec.basis", quote(s), "\"limits\" or \"requests\"")
            })?,
        };
        let container = match spec.container.as_deref() {
            Some("") => {
                return Err(SpecError::invalid(
                    "spec.container",
                    "\"\"",
                    "a container name",
                ))
            }
            other => other.map(str::to_string),
        };
        let pod_baseline_bytes = match &spec.pod_baseline {
            None => 0,
            Some(value) => parse_quantity(value).map_err(|e| {
                SpecError::invalid(
                    "spec.podBaseline",
                    e.to_string(),
                    "a memory quantity, e.g. 120Mi",
                )
            })?,
        };
        let behavior = spec.behavior.as_ref();
        let scale_up = rules(
            "spec.behavior.scaleUp",
            behavior.and_then(|b| b.scale_up.as_ref()),
            default_scale_up(),
        )?;
        let scale_down = rules(
            "spec.behavior.scaleDown",
            behavior.and_then(|b| b.scale_down.as_ref()),
            default_scale_down(),
        )?;
        Ok(Policy {
            target,
            min_replicas,
            max_replicas,
            target_utilization,
            basis,
            container,
            pod_baseline_bytes,
            scale_up,
            scale_down,
        })
    }

    /// The longest time any part of the behavior looks back: how much history to keep.
    pub fn longest_lookback_seconds(&self) -> i64 {
        [&self.scale_up, &self.scale_down]
            .iter()
            .flat_map(|r| {
                std::iter::once(r.stabilization_window_seconds)
                    .chain(r.policies.iter().map(|p| p.period_seconds))
            })
            .max()
            .unwrap_or(0)
    }
}

/// autoscaling/v2 default for scale-up: no stabilization, the larger of 4 pods or
/// 100% per 15 s.
pub fn default_scale_up() -> Rules {
    Rules {
        stabilization_window_seconds: 0,
        select: Select::Max,
        policies: vec![
            RatePolicy {
                kind: RateKind::Pods,
                value: 4,
                period_seconds: 15,
            },
            RatePolicy {
                kind: RateKind::Percent,
                value: 100,
                period_seconds: 15,
            },
        ],
    }
}

/// autoscaling/v2 default for scale-down: 5 minutes of stabilization, then 100% per 15 s.
pub fn default_scale_down() -> Rules {
    Rules {
        stabilization_window_seconds: 300,
        select: Select::Max,
        policies: vec![RatePolicy {
            kind: RateKind::Percent,
            value: 100,
            period_seconds: 15,
        }],
    }
}

fn target_ref(r: Option<&api::CrossVersionObjectReference>) -> Result<TargetRef, SpecError> {
    let r = r.ok_or_else(|| SpecError::Missing {
        field: "spec.scaleTargetRef".into(),
    })?;
    let non_empty = |field: &str, v: &str| {
        if v.is_empty() {
            Err(SpecError::Missing {
                field: format!("spec.scaleTargetRef.{field}"),
            })
        } else {
            Ok(v.to_string())
        }
    };
    Ok(TargetRef {
        api_version: non_empty("apiVersion", &r.api_version)?,
        kind: non_empty("kind", &r.kind)?,
        name: non_empty("name", &r.name)?,
    })
}

/// Fills each unset field from `defaults`, field by field, as autoscaling/v2
/// defaulting does: a user who sets only `stabilizationWindowSeconds` keeps the
/// default policies.
fn rules(path: &str, given: Option<&ScalingRules>, defaults: Rules) -> Result<Rules, SpecError> {
    let Some(given) = given else {
        return Ok(defaults);
    };
    let stabilization_window_seconds = match given.stabilization_window_seconds {
        Some(w) => in_range(
            &format!("{path}.stabilizationWindowSeconds"),
            w,
            0,
            MAX_STABILIZATION_WINDOW_SECONDS,
        )?,
        None => defaults.stabilization_window_seconds,
    };
    let select = match given.select_policy.as_deref() {
        None => defaults.select,
        Some("Max") => Select::Max,
        Some("Min") => Select::Min,
        Some("Disabled") => Select::Disabled,
        Some(other) => {
            return Err(SpecError::invalid(
                format!("{path}.selectPolicy"),
                quote(other),
                "\"Max\", \"Min\" or \"Disabled\"",
            ))
        }
    };
    let policies = match &given.policies {
        None => defaults.policies,
        Some(list) if list.is_empty() => {
            return Err(SpecError::invalid(
                format!("{path}.policies"),
                "[]",
                "at least one policy",
            ))
        }
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, p)| rate_policy(&format!("{path}.policies[{i}]"), p))
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(Rules {
        stabilization_window_seconds,
        select,
        policies,
    })
}

fn rate_policy(path: &str, p: &api::ScalingPolicy) -> Result<RatePolicy, SpecError> {
    let kind = match p.type_.as_str() {
        "Pods" => RateKind::Pods,
        "Percent" => RateKind::Percent,
        other => {
            return Err(SpecError::invalid(
                format!("{path}.type"),
                quote(other),
                "\"Pods\" or \"Percent\"",
            ))
        }
    };
    Ok(RatePolicy {
        kind,
        value: in_range(&format!("{path}.value"), p.value, 1, INT32_MAX)?,
        period_seconds: in_range(
            &format!("{path}.periodSeconds"),
            p.period_seconds,
            1,
            MAX_PERIOD_SECONDS,
        )?,
    })
}

fn in_range(field: &str, v: i64, lo: i64, hi: i64) -> Result<i64, SpecError> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(SpecError::invalid(
            field,
            v,
            format!("an integer from {lo} to {hi}"),
        ))
    }
}

/// The spec is the user's (or a hostile writer's): quoted bounded, since the
/// message goes to conditions, Events and logs.
fn quote(s: &str) -> String {
    crate::quote::quote(s, 64)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::api::{Behavior, CrossVersionObjectReference, ScalingPolicy};

    fn spec() -> MemHpaSpec {
        MemHpaSpec {
            scale_target_ref: Some(CrossVersionObjectReference {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                name: "web".into(),
            }),
            max_replicas: Some(10),
            ..Default::default()
        }
    }

    fn err(s: &MemHpaSpec) -> String {
        match Policy::from_spec(s) {
            Ok(p) => panic!("expected an error, got {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn pod_baseline_is_a_quantity_and_absent_is_zero() {
        assert_eq!(
            Policy::from_spec(&spec())
                .expect("valid")
                .pod_baseline_bytes,
            0
        );
        for (value, bytes) in [
            (serde_json::json!("120Mi"), 120 << 20),
            (serde_json::json!(1000), 1000),
            (serde_json::json!("0"), 0),
        ] {
            let mut s = spec();
            s.pod_baseline = Some(value.clone());
            let p = Policy::from_spec(&s).expect("valid");
            assert_eq!(p.pod_baseline_bytes, bytes, "{value}");
        }
        let mut s = spec();
        s.pod_baseline = Some(serde_json::json!("lots"));
        let e = err(&s);
        assert!(e.starts_with("spec.podBaseline"), "{e}");
        assert!(e.contains("lots"), "{e}");
    }

    #[test]
    fn defaults_applied() {
        let p = Policy::from_spec(&spec()).expect("valid");
        assert_eq!(p.min_replicas, 1);
        assert_eq!(p.target_utilization, 80);
        assert_eq!(p.basis, Basis::Limits);
        assert_eq!(p.container, None);
        assert_eq!(p.scale_up, default_scale_up());
        assert_eq!(p.scale_down, default_scale_down());
        assert_eq!(p.scale_down.stabilization_window_seconds, 300);
        assert_eq!(p.longest_lookback_seconds(), 300);
    }

    #[test]
    fn partial_rules_keep_other_defaults() {
        let mut s = spec();
        s.behavior = Some(Behavior {
            scale_up: None,
            scale_down: Some(ScalingRules {
                stabilization_window_seconds: Some(60),
                ..Default::default()
            }),
        });
        let p = Policy::from_spec(&s).expect("valid");
        assert_eq!(p.scale_down.stabilization_window_seconds, 60);
        assert_eq!(p.scale_down.policies, default_scale_down().policies);
        assert_eq!(p.scale_up, default_scale_up());
    }

    #[test]
    fn missing_max_replicas() {
        let mut s = spec();
        s.max_replicas = None;
        assert_eq!(err(&s), "spec.maxReplicas: required but missing");
    }

    #[test]
    fn missing_target_name() {
        let mut s = spec();
        if let Some(r) = s.scale_target_ref.as_mut() {
            r.name.clear();
        }
        assert_eq!(err(&s), "spec.scaleTargetRef.name: required but missing");
        s.scale_target_ref = None;
        assert_eq!(err(&s), "spec.scaleTargetRef: required but missing");
    }

    #[test]
    fn min_above_max() {
        let mut s = spec();
        s.min_replicas = Some(11);
        assert_eq!(
            err(&s),
            "spec.maxReplicas: expected at least minReplicas (11), got 10"
        );
    }

    #[test]
    fn min_zero() {
        let mut s = spec();
        s.min_replicas = Some(0);
        assert_eq!(
            err(&s),
            "spec.minReplicas: expected an integer from 1 to 2147483647, got 0"
        );
    }

    #[test]
    fn target_out_of_range() {
        let mut s = spec();
        s.target_utilization_percentage = Some(101);
        assert_eq!(
            err(&s),
            "spec.targetUtilizationPercentage: expected an integer from 1 to 100, got 101"
        );
    }

    #[test]
    fn unknown_basis() {
        let mut s = spec();
        s.basis = Some("usage".into());
        assert_eq!(
            err(&s),
            "spec.basis: expected \"limits\" or \"requests\", got \"usage\""
        );
    }

    #[test]
    fn empty_container() {
        let mut s = spec();
        s.container = Some(String::new());
        assert!(err(&s).starts_with("spec.container:"));
    }

    #[test]
    fn bad_period_names_index() {
        let mut s = spec();
        s.behavior = Some(Behavior {
            scale_up: None,
            scale_down: Some(ScalingRules {
                policies: Some(vec![
                    ScalingPolicy {
                        type_: "Pods".into(),
                        value: 1,
                        period_seconds: 60,
                    },
                    ScalingPolicy {
                        type_: "Percent".into(),
                        value: 10,
                        period_seconds: 1801,
                    },
                ]),
                ..Default::default()
            }),
        });
        assert_eq!(
            err(&s),
            "spec.behavior.scaleDown.policies[1].periodSeconds: expected an integer from 1 to 1800, got 1801"
        );
    }

    #[test]
    fn bad_policy_type_and_select() {
        let mut s = spec();
        s.behavior = Some(Behavior {
            scale_up: Some(ScalingRules {
                select_policy: Some("Biggest".into()),
                ..Default::default()
            }),
            scale_down: None,
        });
        assert_eq!(
            err(&s),
            "spec.behavior.scaleUp.selectPolicy: expected \"Max\", \"Min\" or \"Disabled\", got \"Biggest\""
        );
        s.behavior = Some(Behavior {
            scale_up: Some(ScalingRules {
                policies: Some(vec![ScalingPolicy {
                    type_: "pods".into(),
                    value: 1,
                    period_seconds: 15,
                }]),
                ..Default::default()
            }),
            scale_down: None,
        });
        assert_eq!(err(&s), "spec.behavior.scaleUp.policies[0].type: expected \"Pods\" or \"Percent\", got \"pods\"");
    }

    #[test]
    fn window_and_value_ranges() {
        let mut s = spec();
        s.behavior = Some(Behavior {
            scale_up: Some(ScalingRules {
                stabilization_window_seconds: Some(3601),
                ..Default::default()
            }),
            scale_down: None,
        });
        assert!(err(&s).starts_with("spec.behavior.scaleUp.stabilizationWindowSeconds:"));
        s.behavior = Some(Behavior {
            scale_up: None,
            scale_down: Some(ScalingRules {
                policies: Some(vec![ScalingPolicy {
                    type_: "Pods".into(),
                    value: 0,
                    period_seconds: 15,
                }]),
                ..Default::default()
            }),
        });
        assert!(err(&s).starts_with("spec.behavior.scaleDown.policies[0].value:"));
        s.behavior = Some(Behavior {
            scale_up: None,
            scale_down: Some(ScalingRules {
                policies: Some(vec![]),
                ..Default::default()
            }),
        });
        assert_eq!(
            err(&s),
            "spec.behavior.scaleDown.policies: expected at least one policy, got []"
        );
    }
}
