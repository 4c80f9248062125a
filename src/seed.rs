//! One seed for everything that must differ between replicas and restarts
//! (Event names, backoff jitter, elector identities). Not for secrets.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh 64-bit seed. std's hasher keys come from the OS's random source
/// (getrandom, no file), and each `RandomState` in a thread gets new keys,
/// so two calls, two threads or two processes started in the same
/// nanosecond still differ; the clock and pid are mixed in for good measure.
pub(crate) fn fresh() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    RandomState::new().hash_one((std::process::id(), nanos))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn two_seeds_differ() {
        // Equal keys and an equal nanosecond would make them equal; the
        // per-call key increment of RandomState rules that out.
        assert_ne!(fresh(), fresh());
    }
}
