//! `limit` and `continue` on lists, as kube-apiserver 1.24 pages them
//! (api-concepts.md, "Retrieving large results sets in chunks"):
//! - `limit=N` (N > 0) returns at most N matching items. When more remain,
//!   `metadata.continue` holds an opaque token and `metadata.remainingItemCount`
//!   how many are left (without a field selector, as the real server counts
//!   them only then); the last page has no token (a custom resource's list
//!   says `continue: ""`, as every one of its lists does).
//! - The token is unpadded URL-safe base64 of `{"v":"meta.k8s.io/v1","rv":R,"start":"<key>\u0000"}`,
//!   the real server's shape: every page carries the first page's
//!   resourceVersion R. A token that does not decode is 400; one whose R was
//!   compacted is 410 Expired, with the real server's message.
//!
//! - Every later page is served from the state at R, as the real server
//!   serves it from the etcd snapshot: the fake undoes the logged changes
//!   since R. When the log no longer holds them, the token is expired.

use serde_json::Value;

use super::status::{self, Failure};

/// A decoded `continue` token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continue {
    pub rv: u64,
    /// `namespace/name` of the last item sent (the next page starts after it).
    pub after: String,
}

impl Continue {
    pub fn encode(&self) -> String {
        // Field for field as Go marshals the struct, in its order.
        let start = Value::from(format!("{}\u{0}", self.after));
        let inner = format!(
            r#"{{"v":"meta.k8s.io/v1","rv":{},"start":{start}}}"#,
            self.rv
        );
        base64(inner.as_bytes())
    }

    pub fn decode(token: &str) -> Result<Continue, Failure> {
        let invalid = |why: &str| status::bad_request(format!("continue key is not valid: {why}"));
        let bytes = unbase64(token).ok_or_else(|| invalid("illegal base64 data"))?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| invalid(&e.to_string()))?;
        if value.get("v").and_then(Value::as_str) != Some("meta.k8s.io/v1") {
            return Err(invalid("server does not recognize this encoded key"));
        }
        let rv = value.get("rv").and_then(Value::as_u64).filter(|rv| *rv > 0);
        let start = value.get("start").and_then(Value::as_str);
        match (rv, start.and_then(|s| s.strip_suffix('\u{0}'))) {
            (Some(rv), Some(after)) => Ok(Continue {
                rv,
                after: after.to_string(),
            }),
            (None, _) => Err(invalid(
                "incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
            )),
            (_, None) => Err(invalid("encoded start key is not valid")),
        }
    }
}

/// 410 for a token older than the compaction, worded as the real server.
pub fn continue_expired() -> Failure {
    let mut failure = status::expired(0, 0);
    failure.body["message"] = Value::from(
        "The provided continue parameter is too old to display a consistent list result. \
         You can start a new list without the continue parameter, or use the continue token \
         in this response to retrieve the remainder of the results. Continuing with the \
         provided token results in an inconsistent list - objects that were created, \
         modified, or deleted between the time the first chunk was returned and now may \
         show up in the list.",
    );
    failure
}

/// `limit` as the server reads it: absent, 0 or negative mean "no limit".
pub fn limit(text: Option<&str>) -> Result<Option<usize>, Failure> {
    match text {
        None | Some("") => Ok(None),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n > 0 => Ok(Some(n as usize)),
            Ok(_) => Ok(None),
            Err(_) => Err(status::bad_request(format!(
                "limit: Invalid value: {text:?}: must be an integer"
            ))),
        },
    }
}

/// Go's `base64.RawURLEncoding`, the real server's.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            }
        }
    }
    out
}

fn unbase64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
