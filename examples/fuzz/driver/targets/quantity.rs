//! Resource quantities. No formatter exists to round-trip through, so the
//! property is against exact arithmetic: `<digits>[.<digits>]<suffix>` must
//! parse to the exact byte count rounded up (integers exactly, fractions within
//! one byte of float rounding), surrounding blanks must not matter, and a JSON
//! number must mean what its text means.

use memhpa::api::parse_quantity;
use serde_json::Value;

use super::super::rng::Rng;
use super::message_ok;
use crate::driver::engine::Target;

pub struct Quantity;

/// Suffixes and their value as a fraction `num / den`.
const SUFFIXES: &[(&str, u128, u128)] = &[
    ("", 1, 1),
    ("Ki", 1 << 10, 1),
    ("Mi", 1 << 20, 1),
    ("Gi", 1 << 30, 1),
    ("Ti", 1 << 40, 1),
    ("Pi", 1 << 50, 1),
    ("Ei", 1 << 60, 1),
    ("m", 1, 1000),
    ("k", 1_000, 1),
    ("M", 1_000_000, 1),
    ("G", 1_000_000_000, 1),
    ("T", 1_000_000_000_000, 1),
    ("P", 1_000_000_000_000_000, 1),
    ("E", 1_000_000_000_000_000_000, 1),
    ("e3", 1_000, 1),
    ("E6", 1_000_000, 1),
    ("e-3", 1, 1000),
    ("e0", 1, 1),
];

/// Below this the f64 the parser works in holds every integer exactly.
const EXACT: u128 = 1 << 53;
/// Exactness is asked of counts up to 1 PiB only: beyond it a quantity is
/// absurd, and refusing it is right too.
const REAL: u128 = 1 << 50;

impl Target for Quantity {
    fn name(&self) -> &'static str {
        "quantity"
    }

    fn seeds(&self) -> Vec<Vec<u8>> {
        [
            "100Mi",
            "20Mi",
            "1Gi",
            "512Ki",
            "1G",
            "128M",
            "1k",
            "128974848",
            "1.5Gi",
            "1500m",
            "129e6",
            "1E3",
            " 64Mi ",
            "0",
            "0.5",
            "1Ei",
            "16E",
            "1e18",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect()
    }

    fn generate(&mut self, rng: &mut Rng) -> Option<Vec<u8>> {
        let digits = rng.range(1, 20);
        let whole: String = (0..digits)
            .map(|_| char::from(b'0' + rng.below(10) as u8))
            .collect();
        let fraction = if rng.one_in(3) {
            let len = rng.range(1, 6);
            let digits: String = (0..len)
                .map(|_| char::from(b'0' + rng.below(10) as u8))
                .collect();
            format!(".{digits}")
        } else {
            String::new()
        };
        let (suffix, _, _) = rng.pick(SUFFIXES);
        Some(format!("{whole}{fraction}{suffix}").into_bytes())
    }

    fn check(&mut self, input: &[u8], _rng: &mut Rng) -> Result<(), String> {
        let text = String::from_utf8_lossy(input).into_owned();
        let parsed = parse_quantity(&Value::String(text.clone()));
        if let Err(err) = &parsed {
            message_ok("quantity", err)?;
        }
        let padded = parse_quantity(&Value::String(format!(" {text}\t")));
        if padded.as_ref().ok() != parsed.as_ref().ok() {
            return Err(format!(
                "quantity {text:?}: blanks change {parsed:?} to {padded:?}"
            ));
        }
        if let Some(expected) = exact(&text) {
            check_exact(&text, parsed.as_ref().ok().copied(), expected)?;
        }
        json_number_agrees(input)
    }
}

/// The exact byte count of `<digits>[.<digits>]<suffix>`, rounded up, when it is
/// small enough for the comparison to be fair; `None` for anything else.
fn exact(text: &str) -> Option<(u128, bool)> {
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let split = if split == 0 { return None } else { split };
    let (number, suffix) = text.split_at(split);
    exact_with(number, suffix)
}

fn exact_with(number: &str, suffix: &str) -> Option<(u128, bool)> {
    let (_, num, den) = SUFFIXES.iter().find(|(s, _, _)| *s == suffix)?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || whole.len() > 20 || fraction.len() > 6 || fraction.contains('.') {
        return None;
    }
    let scale = 10u128.pow(fraction.len() as u32);
    let mantissa = whole.parse::<u128>().ok()? * scale + fraction.parse::<u128>().unwrap_or(0);
    let total_num = mantissa.checked_mul(*num)?;
    let total_den = scale * den;
    let value = total_num.div_ceil(total_den);
    let whole_number_exact = fraction.is_empty() && mantissa < EXACT && *den == 1;
    (value <= REAL).then_some((value, whole_number_exact))
}

fn check_exact(text: &str, got: Option<u64>, (value, strict): (u128, bool)) -> Result<(), String> {
    let Some(got) = got else {
        return Err(format!(
            "quantity {text:?}: refused, but it is {value} bytes"
        ));
    };
    let got = u128::from(got);
    let close = got == value || (!strict && got.abs_diff(value) <= 1);
    if !close {
        return Err(format!(
            "quantity {text:?}: parsed as {got}, exactly {value} bytes"
        ));
    }
    Ok(())
}

/// A JSON integer is that many bytes.
fn json_number_agrees(input: &[u8]) -> Result<(), String> {
    let Ok(value @ Value::Number(_)) = serde_json::from_slice::<Value>(input) else {
        return Ok(());
    };
    let parsed = parse_quantity(&value);
    match value.as_u64() {
        Some(n) if u128::from(n) <= REAL && parsed != Ok(n) => {
            Err(format!("quantity {value}: parsed as {parsed:?}, not {n}"))
        }
        _ => Ok(()),
    }
}
