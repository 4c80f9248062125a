//! What the MemHpa CRD's schema and its CEL rule reject on create and update,
//! as 422 Invalid with one cause per field (fixture memhpa-create-invalid-422).
//! Only the rules manifests/crd.yaml states (ranges, required fields, and the
//! CEL rule `minReplicas <= maxReplicas`) are checked; the fake applies no
//! schema defaults, so a client must cope with absent optional fields.

use serde_json::Value;

use super::routes::ResourceType;
use super::status::{invalid, Failure};

type Cause = (&'static str, &'static str, String);

/// Checks a MemHpa about to be stored; other resource types pass.
pub fn validate(rtype: &ResourceType, name: &str, object: &Value) -> Result<(), Failure> {
    if rtype.plural != "memhpas" {
        return Ok(());
    }
    let causes = memhpa_causes(object.get("spec"));
    if causes.is_empty() {
        Ok(())
    } else {
        Err(invalid(rtype.kind, rtype.group, name, &causes))
    }
}

fn required(field: &'static str) -> Cause {
    (field, "FieldValueRequired", "Required value".to_string())
}

fn bad(field: &'static str, value: &Value, why: String) -> Cause {
    (
        field,
        "FieldValueInvalid",
        format!("Invalid value: {value}: {why}"),
    )
}

fn memhpa_causes(spec: Option<&Value>) -> Vec<Cause> {
    let Some(spec) = spec.filter(|s| s.is_object()) else {
        return vec![required("spec")];
    };
    let mut causes = Vec::new();
    match spec.get("scaleTargetRef") {
        Some(target) if target.is_object() => {
            for (field, key) in [
                ("spec.scaleTargetRef.kind", "kind"),
                ("spec.scaleTargetRef.name", "name"),
            ] {
                if target
                    .get(key)
                    .and_then(Value::as_str)
                    .map_or(true, str::is_empty)
                {
                    causes.push(required(field));
                }
            }
        }
        _ => causes.push(required("spec.scaleTargetRef")),
    }
    let max = integer_at(
        spec,
        "maxReplicas",
        "spec.maxReplicas",
        1,
        None,
        &mut causes,
        true,
    );
    let min = integer_at(
        spec,
        "minReplicas",
        "spec.minReplicas",
        1,
        None,
        &mut causes,
        false,
    );
    integer_at(
        spec,
        "targetUtilizationPercentage",
        "spec.targetUtilizationPercentage",
        1,
        Some(100),
        &mut causes,
        false,
    );
    if let Some(max) = max {
        // The CEL rule `minReplicas <= maxReplicas`, with minReplicas' default of 1.
        if min.unwrap_or(1) > max {
            causes.push((
                "spec",
                "FieldValueInvalid",
                "Invalid value: \"object\": minReplicas must be <= maxReplicas".to_string(),
            ));
        }
    }
    causes
}

/// The integer at `spec.key` within `[low, high]`, recording why not.
fn integer_at(
    spec: &Value,
    key: &str,
    field: &'static str,
    low: i64,
    high: Option<i64>,
    causes: &mut Vec<Cause>,
    is_required: bool,
) -> Option<i64> {
    let Some(value) = spec.get(key) else {
        if is_required {
            causes.push(required(field));
        }
        return None;
    };
    let Some(number) = value.as_i64() else {
        causes.push(bad(
            field,
            value,
            format!("{field} in body must be of type integer"),
        ));
        return None;
    };
    if number < low {
        causes.push(bad(
            field,
            value,
            format!("{field} in body should be greater than or equal to {low}"),
        ));
        return None;
    }
    if let Some(high) = high.filter(|&high| number > high) {
        causes.push(bad(
            field,
            value,
            format!("{field} in body should be less than or equal to {high}"),
        ));
        return None;
    }
    Some(number)
}
