//! Exponential backoff with jitter, capped at 30 s, for retrying the API
//! server. Jitter spreads the retries of many replicas (or many MemHpas) so
//! they do not arrive together after an outage; the randomness comes from a
//! tiny seeded generator, as no cryptographic quality is needed.

use std::time::Duration;

/// No wait is ever longer than this, a Retry-After included.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How the random part is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Anywhere in `[0, d]`: the widest spread.
    Full,
    /// In `[d/2, d]`: never shorter than half the exponential step.
    Equal,
}

/// Waits of `base * 2^n` (capped), jittered; `reset` after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    jitter: Jitter,
    attempt: u32,
    rng: SplitMix64,
}

impl Backoff {
    /// Freshly seeded, so replicas and restarts differ.
    pub fn new(base: Duration, jitter: Jitter) -> Backoff {
        Backoff::with_seed(base, jitter, crate::seed::fresh())
    }

    /// A fixed seed, for tests.
    pub fn with_seed(base: Duration, jitter: Jitter, seed: u64) -> Backoff {
        Backoff {
            base,
            cap: MAX_BACKOFF,
            jitter,
            attempt: 0,
            rng: SplitMix64(seed),
        }
    }

    /// A lower cap than [`MAX_BACKOFF`]; a higher one is clamped to it.
    #[cfg(test)]
    fn with_cap(mut self, cap: Duration) -> Backoff {
        self.cap = cap.min(MAX_BACKOFF);
        self
    }

    /// The wait before the next attempt. Not an `Iterator`: it never ends, and
    /// an `Option` would only be unwrapped at every call.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let ceiling_nanos = ceiling.as_nanos() as u64;
        let nanos = match self.jitter {
            Jitter::Full => self.rng.below(ceiling_nanos),
            Jitter::Equal => ceiling_nanos / 2 + self.rng.below(ceiling_nanos - ceiling_nanos / 2),
        };
        Duration::from_nanos(nanos)
    }

    /// The wait after a response that said `Retry-After`: at least that, at
    /// least the next backoff step, and never beyond the cap.
    pub fn after(&mut self, retry_after: Duration) -> Duration {
        self.next().max(retry_after).min(self.cap)
    }

    /// After a success: the next failure starts from `base` again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// `base * 2^attempt`, capped, without overflow.
    fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.base
            .checked_mul(factor)
            .unwrap_or(self.cap)
            .min(self.cap)
    }
}

/// SplitMix64 (Steele, Lea and Flood): small, fast, and fine for jitter.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform enough in `[0, bound]` (the modulo bias is irrelevant here).
    fn below(&mut self, bound: u64) -> u64 {
        match bound.checked_add(1) {
            Some(span) => self.next_u64() % span,
            None => self.next_u64(),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const BASE: Duration = Duration::from_millis(500);

    #[test]
    fn full_jitter_stays_under_the_doubling_ceiling() {
        let mut backoff = Backoff::with_seed(BASE, Jitter::Full, 1);
        for attempt in 0..10u32 {
            let ceiling = (BASE * 2u32.pow(attempt)).min(MAX_BACKOFF);
            let wait = backoff.next();
            assert!(wait <= ceiling, "attempt {attempt}: {wait:?} > {ceiling:?}");
        }
    }

    #[test]
    fn equal_jitter_is_at_least_half_the_ceiling() {
        let mut backoff = Backoff::with_seed(BASE, Jitter::Equal, 2);
        for attempt in 0..12u32 {
            let ceiling = (BASE * 2u32.pow(attempt)).min(MAX_BACKOFF);
            let wait = backoff.next();
            assert!(
                wait >= ceiling / 2 && wait <= ceiling,
                "attempt {attempt}: {wait:?} outside [{:?}, {ceiling:?}]",
                ceiling / 2
            );
        }
    }

    #[test]
    fn capped_at_thirty_seconds_even_after_many_attempts() {
        let mut backoff = Backoff::with_seed(Duration::from_secs(10), Jitter::Equal, 3);
        for _ in 0..200 {
            assert!(backoff.next() <= MAX_BACKOFF);
        }
        let late = backoff.next();
        assert!(late >= MAX_BACKOFF / 2, "{late:?}");
    }

    #[test]
    fn reset_starts_over() {
        let mut backoff = Backoff::with_seed(BASE, Jitter::Equal, 4);
        for _ in 0..8 {
            backoff.next();
        }
        backoff.reset();
        assert!(backoff.next() <= BASE);
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let mut backoff = Backoff::with_seed(BASE, Jitter::Full, 5);
        assert!(backoff.after(Duration::from_secs(7)) >= Duration::from_secs(7));
        assert_eq!(backoff.after(Duration::from_secs(3600)), MAX_BACKOFF);
    }

    #[test]
    fn lower_cap_is_kept_and_higher_is_clamped() {
        let mut low = Backoff::with_seed(BASE, Jitter::Equal, 6).with_cap(Duration::from_secs(2));
        for _ in 0..20 {
            assert!(low.next() <= Duration::from_secs(2));
        }
        let high = Backoff::with_seed(BASE, Jitter::Equal, 6).with_cap(Duration::from_secs(600));
        assert_eq!(high.cap, MAX_BACKOFF);
    }

    #[test]
    fn seeds_give_different_sequences() {
        let mut a = Backoff::with_seed(Duration::from_secs(20), Jitter::Full, 7);
        let mut b = Backoff::with_seed(Duration::from_secs(20), Jitter::Full, 8);
        let a: Vec<_> = (0..5).map(|_| a.next()).collect();
        let b: Vec<_> = (0..5).map(|_| b.next()).collect();
        assert_ne!(a, b);
    }
}
