//! The consumer's counters (SPEC.md §12.6), kept off the hot path: a commit adds to
//! `events_consumed` and its bytes only when it crosses a multiple of 64 events, and the lag's
//! high-water mark is kept in the consumer until then, so that reading one event writes no
//! counter line. The counters catch up with the cursor at the first empty poll, on
//! [`RawConsumer::flush`] and when the consumer leaves (R12.6.c).

use super::RawConsumer;

/// Events between two additions to `events_consumed` while the consumer is busy.
const COUNT_EVERY: i64 = 64;

/// The last sequence before the next multiple of [`COUNT_EVERY`] events after `counted`: the
/// commit that reaches it adds to the counters. Aligned to multiples rather than counted from
/// the last addition, so where the additions fall does not depend on how the events were
/// batched: a consumer that never catches up leaves the same count behind every time (which
/// lets the conformance case catch one that never does).
pub(super) fn next_count_at(counted: i64) -> i64 {
    let events = counted.saturating_add(1).max(0);
    (events / COUNT_EVERY + 1)
        .checked_mul(COUNT_EVERY)
        .map_or(i64::MAX, |end| end - 1)
}

impl RawConsumer {
    /// After committing `seq`: adds to the counters when the commit crossed a multiple of 64
    /// events. One compare with a field; `count_at` is `i64::MAX` without counters.
    #[inline(always)]
    pub(super) fn count_committed(&mut self, seq: i64) {
        if seq >= self.count_at {
            self.count_consumed(seq);
        }
    }

    /// Records a lag (the producer cursor minus this consumer's next sequence, plus one) for
    /// `consumer_lag_max`; a local compare, published with the next addition.
    #[inline(always)]
    pub(super) fn note_lag(&mut self, lag: u64) {
        if lag > self.lag_max {
            self.lag_max = lag;
        }
    }

    /// Brings `events_consumed`, its bytes and `consumer_lag_max` up to `committed`, the
    /// cursor's value.
    #[cold]
    #[inline(never)]
    pub(super) fn count_consumed(&mut self, committed: i64) {
        if let Some(c) = &self.counters {
            let n = committed.saturating_sub(self.counted).max(0) as u64;
            c.consumed.add(n);
            c.consumed_bytes
                .add(n.saturating_mul(self.element_size as u64));
            c.lag_max.record_max(self.lag_max);
            self.counted = committed;
            self.count_at = next_count_at(committed);
        }
    }

    /// Brings this consumer's counters (`events_consumed`, `events_consumed_bytes`,
    /// `consumer_lag_max`; SPEC.md §12.6) up to everything it has read. A busy consumer adds to
    /// them once per 64 events; they catch up by themselves at its first poll that finds
    /// nothing and when it leaves. Call this where a reader of the counters segment (for
    /// example `ringproof stat`) must see an exact count while the consumer is still busy.
    #[inline(always)]
    pub fn flush(&mut self) {
        let behind = self.counted < self.next - 1 && self.counters.is_some();
        if behind && !mutant!("consumer.counters-unflushed") {
            self.count_consumed(self.next - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn additions_fall_on_multiples_of_64_events() {
        // Nothing consumed yet (cursor -1): the 64th event (sequence 63) is the first addition.
        assert_eq!(next_count_at(-1), 63);
        assert_eq!(next_count_at(0), 63);
        assert_eq!(next_count_at(62), 63);
        assert_eq!(next_count_at(63), 127);
        assert_eq!(next_count_at(1000), 1023);
        // A resumed consumer counts from wherever it resumed.
        assert_eq!(next_count_at(1023), 1087);
        // Hostile or huge cursors never overflow.
        assert_eq!(next_count_at(i64::MAX), i64::MAX);
        assert_eq!(next_count_at(i64::MIN), 63);
    }
}
