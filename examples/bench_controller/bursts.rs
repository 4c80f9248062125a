//! A tick's work, from the arrival times of memhpa's per-MemHpa completion
//! lines: a tick shows as a burst of exactly N lines, set apart from the next
//! by a quiet spell.

use std::time::{Duration, Instant};

/// From first to last completion of each tick seen whole, shortest first.
/// A burst cut by the start or end of the sampling has fewer than `per_tick`
/// lines, and two ticks run together have more: neither counts.
pub fn tick_spans(times: &[Instant], per_tick: usize, quiet: Duration) -> Vec<Duration> {
    let mut spans = Vec::new();
    let mut start = 0;
    for end in 1..=times.len() {
        let split = end == times.len() || times[end].duration_since(times[end - 1]) > quiet;
        if split {
            if end - start == per_tick {
                spans.push(times[end - 1].duration_since(times[start]));
            }
            start = end;
        }
    }
    spans.sort();
    spans
}

#[cfg(test)]
mod test {
    use super::*;

    fn at(base: Instant, ms: &[u64]) -> Vec<Instant> {
        ms.iter()
            .map(|m| base + Duration::from_millis(*m))
            .collect()
    }

    #[test]
    fn whole_ticks_only() {
        let base = Instant::now();
        // A partial tick, two whole ones of 3, then two ticks run together.
        let times = at(
            base,
            &[
                0, 2000, 2010, 2030, 4000, 4005, 4020, 6000, 6001, 6002, 6100, 6101, 6102,
            ],
        );
        let spans = tick_spans(&times, 3, Duration::from_millis(200));
        assert_eq!(
            spans,
            vec![Duration::from_millis(20), Duration::from_millis(30)]
        );
    }
}
