//! The fuzz targets, one module each, and the checks they share.

use std::fmt::Display;

use super::engine::Target;

mod argv;
mod json;
mod prom;
mod quantity;
mod scenario;
mod selector;
mod watch;

/// Every target, in the order the table prints them.
pub fn all() -> Vec<Box<dyn Target>> {
    vec![
        Box::new(watch::WatchStream::new()),
        Box::new(prom::PromResponse::new()),
        Box::new(json::memhpa()),
        Box::new(json::scale()),
        Box::new(json::pod()),
        Box::new(quantity::Quantity),
        Box::new(selector::Selector::new()),
        Box::new(scenario::ScenarioFile::new()),
        Box::new(argv::Argv::new()),
    ]
}

/// The names `FUZZ_TARGETS` may list.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|t| t.name()).collect()
}

/// Longest error message accepted: errors quote their input, and a bounded
/// quote keeps a hostile megabyte out of the logs.
pub const MAX_MESSAGE: usize = 16 * 1024;

/// An error must say something, and not too much.
pub fn message_ok(what: &str, err: &dyn Display) -> Result<(), String> {
    let text = err.to_string();
    if text.trim().is_empty() {
        return Err(format!("{what}: an error with an empty message"));
    }
    if text.len() > MAX_MESSAGE {
        return Err(format!(
            "{what}: an error message of {} bytes (over {MAX_MESSAGE}): {}...",
            text.len(),
            text.chars().take(120).collect::<String>()
        ));
    }
    Ok(())
}

/// serde's view of "decode, encode, decode again gives the same value and
/// the same bytes", for every Serialize type the targets read.
pub fn round_trip<T>(what: &str, first: &T) -> Result<(), String>
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let encoded = serde_json::to_vec(first).map_err(|e| format!("{what}: cannot encode: {e}"))?;
    let second: T = serde_json::from_slice(&encoded).map_err(|e| {
        format!(
            "{what}: its own encoding does not decode: {e}: {}",
            String::from_utf8_lossy(&encoded[..encoded.len().min(200)])
        )
    })?;
    if &second == first {
        let again =
            serde_json::to_vec(&second).map_err(|e| format!("{what}: cannot encode: {e}"))?;
        if again != encoded {
            return Err(format!("{what}: encoding is not stable"));
        }
        return Ok(());
    }
    // serde_json (without its float_roundtrip feature) may read a float back
    // one ulp off; only raw `Value` fields hold floats, and memhpa reads none
    // of them to the last digit.
    let a = serde_json::to_value(first).map_err(|e| format!("{what}: {e}"))?;
    let b = serde_json::to_value(&second).map_err(|e| format!("{what}: {e}"))?;
    if !close(&a, &b) {
        return Err(format!(
            "{what}: decode(encode(x)) != x: {first:?} vs {second:?}"
        ));
    }
    Ok(())
}

/// Equal, but for floats that differ in the last bits.
fn close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs()),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| close(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
        }
        _ => a == b,
    }
}
