//! Kubernetes resource quantities (`100Mi`, `1.5G`, `129e6`, `128974848`) as bytes.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityError {
    pub input: String,
    pub why: &'static str,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bounded: the input comes from a pod spec and ends up in logs.
        let input = crate::quote::quote(&self.input, 64);
        write!(f, "invalid quantity {input}: {}", self.why)
    }
}

impl std::error::Error for QuantityError {}

/// Parses a memory quantity into whole bytes, rounding a fraction up as
/// `resource.Quantity.Value()` does. Accepts a JSON string or number.
pub fn parse_quantity(value: &serde_json::Value) -> Result<u64, QuantityError> {
    match value {
        serde_json::Value::String(s) => parse_str(s),
        serde_json::Value::Number(n) => parse_str(&n.to_string()),
        other => Err(QuantityError {
            input: other.to_string(),
            why: "expected a string or a number",
        }),
    }
}

fn parse_str(input: &str) -> Result<u64, QuantityError> {
    let err = |why| QuantityError {
        input: input.to_string(),
        why,
    };
    let s = input.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    if number.is_empty() {
        return Err(err("no number"));
    }
    if number.starts_with('-') {
        return Err(err("negative"));
    }
    let mantissa: f64 = number.parse().map_err(|_| err("not a number"))?;
    let multiplier: f64 = match suffix {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        _ => parse_exponent(suffix).ok_or_else(|| err("unknown suffix"))?,
    };
    let bytes = (mantissa * multiplier).ceil();
    if !bytes.is_finite() || bytes > u64::MAX as f64 {
        return Err(err("too large"));
    }
    Ok(bytes as u64)
}

/// Decimal exponent form: `e6`, `E3`.
fn parse_exponent(suffix: &str) -> Option<f64> {
    let digits = suffix
        .strip_prefix('e')
        .or_else(|| suffix.strip_prefix('E'))?;
    let exp: i32 = digits.parse().ok()?;
    if !(-18..=18).contains(&exp) {
        return None;
    }
    Some(10f64.powi(exp))
}

#[cfg(test)]
mod test {
    use super::*;
    use serde_json::json;

    fn q(s: &str) -> Result<u64, QuantityError> {
        parse_quantity(&json!(s))
    }

    #[test]
    fn binary_suffixes() {
        assert_eq!(q("100Mi"), Ok(104_857_600));
        assert_eq!(q("20Mi"), Ok(20_971_520));
        assert_eq!(q("1Gi"), Ok(1_073_741_824));
        assert_eq!(q("512Ki"), Ok(524_288));
    }

    #[test]
    fn decimal_suffixes() {
        assert_eq!(q("1G"), Ok(1_000_000_000));
        assert_eq!(q("128M"), Ok(128_000_000));
        assert_eq!(q("1k"), Ok(1000));
    }

    #[test]
    fn plain_and_fraction() {
        assert_eq!(q("128974848"), Ok(128_974_848));
        assert_eq!(q("1.5Gi"), Ok(1_610_612_736));
        assert_eq!(q("1500m"), Ok(2), "millibytes round up");
    }

    #[test]
    fn exponent() {
        assert_eq!(q("129e6"), Ok(129_000_000));
        assert_eq!(q("1E3"), Ok(1000));
    }

    #[test]
    fn json_number() {
        assert_eq!(parse_quantity(&json!(1024)), Ok(1024));
    }

    #[test]
    fn invalid() {
        assert!(q("").is_err());
        assert!(q("Mi").is_err());
        assert!(q("10Xi").is_err());
        assert!(q("-5Mi").is_err());
        assert!(q("1e999").is_err());
        assert!(parse_quantity(&json!(null)).is_err());
        assert!(parse_quantity(&json!({"a": 1})).is_err());
    }
}
