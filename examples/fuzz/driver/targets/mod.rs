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
    if &second != first {
        return Err(format!(
            "{what}: decode(encode(x)) != x: {first:?} vs {second:?}"
        ));
    }
    let again = serde_json::to_vec(&second).map_err(|e| format!("{what}: cannot encode: {e}"))?;
    if again != encoded {
        return Err(format!("{what}: encoding is not stable"));
    }
    Ok(())
}
