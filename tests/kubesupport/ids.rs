//! Server-assigned values: uids, `generateName` suffixes and timestamps.

use std::time::{SystemTime, UNIX_EPOCH};

use memhpa::rfc3339::{format_seconds, unix_seconds};

/// The characters apiserver's name generator draws from (no vowels, so no
/// words).
pub const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A splitmix64 stream seeded from the clock: unique enough for one test
/// process, and no crate needed.
#[derive(Debug)]
pub struct Ids {
    state: u64,
}

impl Ids {
    pub fn new() -> Ids {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Ids {
            state: nanos ^ 0x9e37_79b9_7f4a_7c15,
        }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// An RFC 4122 version-4 shaped uid.
    pub fn uid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }

    /// The five random characters appended to a `generateName`.
    pub fn name_suffix(&mut self) -> String {
        (0..5)
            .map(|_| NAME_ALPHABET[(self.next() % NAME_ALPHABET.len() as u64) as usize] as char)
            .collect()
    }
}

/// Now, as `metav1.Time` writes it.
pub fn now_rfc3339() -> String {
    format_seconds(unix_seconds(SystemTime::now()))
}
