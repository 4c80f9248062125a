//! What one MemHpa's behavior remembers between reconciles: recent
//! recommendations (for stabilization) and recent scale events (for rate
//! policies).
//!
//! The controller keeps one `History` per MemHpa and, once a `Decision` is
//! settled on what came of its Scale write, calls [`History::apply`]. Time is always passed in (Unix seconds),
//! so tests never touch a clock. Entries older than the policy's longest window
//! or period are pruned on every write, and each list is also capped in length,
//! so the state stays bounded however often reconciles run.

use super::decide::Decision;
use super::policy::Policy;

/// A hard cap per list, in case reconciles come much faster than the resync
/// (a watch storm): past it the oldest entries go first.
const MAX_ENTRIES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub at: i64,
    pub replicas: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleEvent {
    pub at: i64,
    /// Replicas added (scale-up) or removed (scale-down); always positive.
    pub change: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    recommendations: Vec<Sample>,
    scale_ups: Vec<ScaleEvent>,
    scale_downs: Vec<ScaleEvent>,
}

impl History {
    pub fn new() -> History {
        History::default()
    }

    /// Records what a decision leaves behind: its unstabilized recommendation
    /// (if it made one) and, if the Scale was actually written, the scale event.
    pub fn apply(&mut self, decision: &Decision, policy: &Policy, now: i64, rescaled: bool) {
        if let Some(r) = decision.stabilization_sample {
            self.record_recommendation(now, r);
        }
        if rescaled {
            if let Some(r) = &decision.rescale {
                self.record_scale(now, r.from, r.to);
            }
        }
        self.prune(now, policy.longest_lookback_seconds());
    }

    /// The history of a target first seen at `now` with `replicas`: that count
    /// is its first recommendation, as Kubernetes' HPA records it
    /// (`recordInitialRecommendation`). So neither a new MemHpa nor a
    /// controller restart or failover, which starts from an empty memory, can
    /// scale down before a whole scale-down window has been seen.
    pub fn starting_at(now: i64, replicas: i64) -> History {
        let mut history = History::new();
        history.record_recommendation(now, replicas);
        history
    }

    pub fn record_recommendation(&mut self, now: i64, replicas: i64) {
        push_capped(&mut self.recommendations, Sample { at: now, replicas });
    }

    /// Records a write of the Scale from `from` to `to` replicas.
    pub fn record_scale(&mut self, now: i64, from: i64, to: i64) {
        let change = to.saturating_sub(from);
        if change > 0 {
            push_capped(&mut self.scale_ups, ScaleEvent { at: now, change });
        } else if change < 0 {
            let change = change.saturating_neg();
            push_capped(&mut self.scale_downs, ScaleEvent { at: now, change });
        }
    }

    /// Drops everything no window or period of `lookback_seconds` can still see.
    pub fn prune(&mut self, now: i64, lookback_seconds: i64) {
        let cutoff = now.saturating_sub(lookback_seconds);
        self.recommendations.retain(|s| s.at > cutoff);
        self.scale_ups.retain(|e| e.at > cutoff);
        self.scale_downs.retain(|e| e.at > cutoff);
    }

    pub fn recommendations(&self) -> &[Sample] {
        &self.recommendations
    }

    /// Replicas added by scale-ups strictly after `now - period_seconds`.
    pub fn added_since(&self, now: i64, period_seconds: i64) -> i64 {
        sum_after(&self.scale_ups, now.saturating_sub(period_seconds))
    }

    /// Replicas removed by scale-downs strictly after `now - period_seconds`.
    pub fn removed_since(&self, now: i64, period_seconds: i64) -> i64 {
        sum_after(&self.scale_downs, now.saturating_sub(period_seconds))
    }

    // Only tests count what a history holds; the controller never needs to.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.recommendations.len() + self.scale_ups.len() + self.scale_downs.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn sum_after(events: &[ScaleEvent], cutoff: i64) -> i64 {
    events
        .iter()
        .filter(|e| e.at > cutoff)
        .fold(0i64, |acc, e| acc.saturating_add(e.change))
}

fn push_capped<T>(list: &mut Vec<T>, item: T) {
    if list.len() >= MAX_ENTRIES {
        list.remove(0);
    }
    list.push(item);
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn scale_events_split_by_direction_and_window() {
        let mut h = History::new();
        h.record_scale(100, 2, 5);
        h.record_scale(110, 5, 4);
        h.record_scale(120, 4, 4);
        assert_eq!(h.added_since(120, 30), 3);
        assert_eq!(h.removed_since(120, 30), 1);
        // Strictly after the cutoff: an event exactly `period` old no longer counts.
        assert_eq!(h.added_since(115, 15), 0);
        assert_eq!(h.removed_since(125, 15), 0);
        assert_eq!(h.removed_since(124, 15), 1);
    }

    #[test]
    fn prune_keeps_only_the_lookback() {
        let mut h = History::new();
        for t in 0..100 {
            h.record_recommendation(t * 10, t);
        }
        h.prune(990, 300);
        let kept: Vec<i64> = h.recommendations().iter().map(|s| s.at).collect();
        assert_eq!(kept.first(), Some(&700));
        assert_eq!(kept.len(), 30);
    }

    #[test]
    fn capped_in_length() {
        let mut h = History::new();
        for _ in 0..(MAX_ENTRIES + 10) {
            h.record_recommendation(5, 1);
        }
        assert_eq!(h.recommendations().len(), MAX_ENTRIES);
    }
}
