//! Kubernetes resource quantities (`100Mi`, `1.5G`, `129e6`, `128974848`) as
//! bytes, and the bound on any byte count memhpa takes as real.

use std::fmt;

/// The largest byte count taken as real anywhere (1 PiB): more memory than any
/// machine has, small enough that sums stay exact in f64. A quantity or a
/// Prometheus sample beyond it is broken or hostile input, never a figure to
/// scale on.
pub const MAX_BYTES: u64 = 1 << 50;

/// Whether a sample is a byte count memhpa can use: finite, not negative and
/// at most [`MAX_BYTES`]. NaN, the infinities, negative numbers and `1e308`
/// are not; a pod with such a sample is *missing*, never zero or huge.
pub fn is_byte_count(bytes: f64) -> bool {
    bytes.is_finite() && (0.0..=MAX_BYTES as f64).contains(&bytes)
}

/// Quoted inputs are cut to this many characters in messages.
const QUOTE_LIMIT: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityError {
    pub input: String,
    pub kind: QuantityErrorKind,
}

/// Why a quantity is refused: the two are told apart so that a limit of
/// `1e308` is reported as absurd, not as malformed or absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityErrorKind {
    /// Not a quantity at all; the reason in words.
    Malformed(&'static str),
    /// A well-formed quantity of more than [`MAX_BYTES`]: `bytes` is its value,
    /// saturated at `u64::MAX` (`1e308` does not fit).
    BeyondPhysicalMemory { bytes: u64 },
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let input = crate::quote::quote(&self.input, QUOTE_LIMIT);
        match self.kind {
            QuantityErrorKind::Malformed(why) => write!(f, "invalid quantity {input}: {why}"),
            QuantityErrorKind::BeyondPhysicalMemory { .. } => write!(
                f,
                "quantity {input} is beyond any physical memory (more than 1 PiB)"
            ),
        }
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
            kind: QuantityErrorKind::Malformed("expected a string or a number"),
        }),
    }
}

fn parse_str(input: &str) -> Result<u64, QuantityError> {
    let err = |why| QuantityError {
        input: input.to_string(),
        kind: QuantityErrorKind::Malformed(why),
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
    let bytes = match multiplier(suffix) {
        Some(multiplier) => mantissa * multiplier,
        // Parsed whole, so that `1e308` and `0e999` come out right rather than
        // as an overflowing power of ten times the mantissa.
        None if is_exponent(suffix) => format!("{number}{suffix}")
            .parse::<f64>()
            .map_err(|_| err("not a number"))?,
        None => return Err(err("unknown suffix")),
    };
    // A float-to-int `as` saturates: +Inf and 1e308 become u64::MAX.
    let bytes = bytes.ceil() as u64;
    if bytes > MAX_BYTES {
        return Err(QuantityError {
            input: input.to_string(),
            kind: QuantityErrorKind::BeyondPhysicalMemory { bytes },
        });
    }
    Ok(bytes)
}

/// The binary and decimal SI suffixes.
fn multiplier(suffix: &str) -> Option<f64> {
    Some(match suffix {
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
        _ => return None,
    })
}

/// Decimal exponent form: `e6`, `E3`, `e+9`, `e-3`.
fn is_exponent(suffix: &str) -> bool {
    let Some(exponent) = suffix
        .strip_prefix('e')
        .or_else(|| suffix.strip_prefix('E'))
    else {
        return false;
    };
    let digits = exponent
        .strip_prefix('+')
        .or_else(|| exponent.strip_prefix('-'))
        .unwrap_or(exponent);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
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
        assert_eq!(q("1e+3"), Ok(1000));
        assert_eq!(q("1500e-3"), Ok(2));
        assert_eq!(q("0e999"), Ok(0));
        assert_eq!(q("1e-999"), Ok(0));
    }

    #[test]
    fn json_number() {
        assert_eq!(parse_quantity(&json!(1024)), Ok(1024));
    }

    fn beyond(input: &str, bytes: u64) -> Result<u64, QuantityError> {
        Err(QuantityError {
            input: input.to_string(),
            kind: QuantityErrorKind::BeyondPhysicalMemory { bytes },
        })
    }

    #[test]
    fn up_to_one_pebibyte() {
        assert_eq!(q("1Pi"), Ok(MAX_BYTES));
        assert_eq!(q("1125899906842624"), Ok(MAX_BYTES));
    }

    #[test]
    fn beyond_physical_memory() {
        for (input, bytes) in [
            ("1125899906842625", MAX_BYTES + 1),
            ("2Pi", 2 * MAX_BYTES),
            ("1Ei", 1 << 60),
            ("1e18", 1_000_000_000_000_000_000),
            ("1e308", u64::MAX),
            ("1e999", u64::MAX),
        ] {
            assert_eq!(q(input), beyond(input, bytes), "{input}");
        }
        // serde_json writes the JSON number back as `1e+308`.
        assert_eq!(parse_quantity(&json!(1e308)), beyond("1e+308", u64::MAX));
    }

    #[test]
    fn beyond_physical_memory_message_quotes_the_input() {
        let err = q("1e308").expect_err("absurd");
        assert_eq!(
            err.to_string(),
            "quantity \"1e308\" is beyond any physical memory (more than 1 PiB)"
        );
        let err = q("10Xi").expect_err("malformed");
        assert_eq!(err.to_string(), "invalid quantity \"10Xi\": unknown suffix");
    }

    #[test]
    fn byte_counts() {
        assert!(is_byte_count(0.0));
        assert!(is_byte_count(MAX_BYTES as f64));
        for bad in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -1.0,
            1e308,
            -1e308,
        ] {
            assert!(!is_byte_count(bad), "{bad}");
        }
    }

    #[test]
    fn invalid() {
        assert!(q("").is_err());
        assert!(q("Mi").is_err());
        assert!(q("10Xi").is_err());
        assert!(q("1e").is_err());
        assert!(q("1e+").is_err());
        assert!(q("1e3x").is_err());
        assert!(q("-5Mi").is_err());
        assert!(parse_quantity(&json!(null)).is_err());
        assert!(parse_quantity(&json!({"a": 1})).is_err());
    }
}
