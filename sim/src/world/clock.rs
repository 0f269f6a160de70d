//! A machine's clock: what `now` its actor reads, given the true simulated time. An
//! offset, a drift in parts per million, and steps (an NTP step sets the clock forward or
//! back at once). The actor only ever sees this local time; the oracle judges on true time.

use serde::{Deserialize, Serialize};
use shardsim_core::Instant;

const PPM: i128 = 1_000_000;

/// Local time as a linear function of true time since an anchor: re-anchored whenever the
/// drift changes or the clock steps, so each change applies from its moment on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalClock {
    anchor_true_ms: u64,
    /// Local time at the anchor; may be negative (a clock set before the epoch reads 0).
    anchor_local_ms: i64,
    drift_ppm: i64,
}

impl LocalClock {
    /// The local reading at true time `true_now` (never before it: true time only grows).
    pub fn local(&self, true_now: Instant) -> Instant {
        Instant(self.local_ms(true_now.as_ms()).max(0) as u64)
    }

    fn local_ms(&self, true_ms: u64) -> i64 {
        if self.drift_ppm == 0 {
            // The common case, without 128-bit division: a stepped clock that keeps time.
            let since = true_ms.saturating_sub(self.anchor_true_ms).min(i64::MAX as u64) as i64;
            return self.anchor_local_ms.saturating_add(since);
        }
        let since = true_ms.saturating_sub(self.anchor_true_ms);
        self.drifted_ms_narrow(since).unwrap_or_else(|| self.drifted_ms_wide(since))
    }

    /// A drifting clock's reading in 64-bit arithmetic, which the actor loop's deadline
    /// lookups can afford (128-bit division is a library call); `None` where it would
    /// overflow. Exactly [`Self::drifted_ms_wide`] wherever it answers: both divisions
    /// round toward zero.
    fn drifted_ms_narrow(&self, since_ms: u64) -> Option<i64> {
        let since = i64::try_from(since_ms).ok()?;
        let drifted = since.checked_add(since.checked_mul(self.drift_ppm)? / PPM as i64)?;
        self.anchor_local_ms.checked_add(drifted)
    }

    fn drifted_ms_wide(&self, since_ms: u64) -> i64 {
        let since = i128::from(since_ms);
        let drifted = since + since * i128::from(self.drift_ppm) / PPM;
        (i128::from(self.anchor_local_ms) + drifted).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// The earliest true time at or after the anchor when the clock reads `local` or
    /// more: when a deadline set on this clock comes due.
    pub fn true_time_of(&self, local: Instant) -> Instant {
        let ahead = i128::from(local.as_ms()) - i128::from(self.anchor_local_ms);
        if ahead <= 0 {
            return Instant(self.anchor_true_ms);
        }
        if self.drift_ppm == 0 {
            return Instant(self.anchor_true_ms.saturating_add(ahead.min(i128::from(u64::MAX / 2)) as u64));
        }
        let rate = PPM + i128::from(self.drift_ppm);
        // About ahead / rate; then exactly the first true millisecond whose reading (the
        // drift's share rounds toward zero) reaches `local`.
        // In 64 bits where it fits (the same quotient), as in `drifted_ms_narrow`.
        let dividend = ahead * PPM + rate - 1;
        let narrow = i64::try_from(dividend).ok().zip(i64::try_from(rate).ok());
        let estimate = narrow
            .and_then(|(dividend, divisor)| dividend.checked_div(divisor))
            .map_or_else(|| dividend / rate, i128::from);
        let mut since = estimate.min(i128::from(u64::MAX / 2)) as u64;
        let reads = |since: u64| self.local_ms(self.anchor_true_ms + since);
        while reads(since) < local.as_ms() as i64 {
            since += 1;
        }
        while since > 0 && reads(since - 1) >= local.as_ms() as i64 {
            since -= 1;
        }
        Instant(self.anchor_true_ms + since)
    }

    fn reanchor(&mut self, true_now: Instant) {
        self.anchor_local_ms = self.local_ms(true_now.as_ms());
        self.anchor_true_ms = true_now.as_ms();
    }

    /// How far the clock reads ahead of true time at `true_now` (negative: behind), before
    /// a reading below zero is clamped to zero; and its drift. Together with true time
    /// they say everything the clock will read from now on.
    pub fn offset_and_drift(&self, true_now: Instant) -> (i64, i64) {
        (self.local_ms(true_now.as_ms()).wrapping_sub(true_now.as_ms() as i64), self.drift_ppm)
    }

    /// From `true_now` on, the clock runs `drift_ppm` fast (or slow, if negative).
    pub fn set_drift(&mut self, true_now: Instant, drift_ppm: i64) {
        self.reanchor(true_now);
        self.drift_ppm = drift_ppm;
    }

    /// The clock is set `by_ms` forward (or back, if negative) at `true_now`.
    pub fn step(&mut self, true_now: Instant, by_ms: i64) {
        self.reanchor(true_now);
        self.anchor_local_ms = self.anchor_local_ms.saturating_add(by_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perfect_clock_reads_true_time() {
        let clock = LocalClock::default();
        assert_eq!(clock.local(Instant(12_345)), Instant(12_345));
        assert_eq!(clock.true_time_of(Instant(700)), Instant(700));
    }

    #[test]
    fn drift_and_steps_apply_from_their_moment_on() {
        let mut clock = LocalClock::default();
        clock.set_drift(Instant(1_000), 10_000); // 1 % fast from 1 s on
        assert_eq!(clock.local(Instant(1_000)), Instant(1_000));
        assert_eq!(clock.local(Instant(2_000)), Instant(2_010));
        clock.step(Instant(2_000), -500);
        assert_eq!(clock.local(Instant(2_000)), Instant(1_510), "an NTP step back");
        assert_eq!(clock.local(Instant(3_000)), Instant(2_520));
        clock.step(Instant(3_000), -5_000);
        assert_eq!(clock.local(Instant(3_000)), Instant(0), "a clock before its epoch reads zero");
    }

    #[test]
    fn the_narrow_reading_is_the_wide_one_wherever_it_answers() {
        for drift_ppm in [-999_999, -3_000, -1, 1, 250, 10_000, 999_999] {
            for anchor_local_ms in [i64::MIN + 5, -7_000, 0, 123_456, i64::MAX - 5] {
                let clock = LocalClock { anchor_true_ms: 1_000, anchor_local_ms, drift_ppm };
                for since_ms in [0, 1, 999, 1_000_001, 86_400_000, 1 << 40, u64::MAX / 2, u64::MAX] {
                    let wide = clock.drifted_ms_wide(since_ms);
                    if let Some(narrow) = clock.drifted_ms_narrow(since_ms) {
                        assert_eq!(narrow, wide, "drift {drift_ppm}, anchor {anchor_local_ms}, since {since_ms}");
                    }
                }
            }
        }
        let everyday = LocalClock { anchor_true_ms: 0, anchor_local_ms: 5, drift_ppm: -3_000 };
        assert!(everyday.drifted_ms_narrow(3_600_000).is_some(), "an hour's reading stays narrow");
    }

    #[test]
    fn a_deadline_comes_due_when_the_local_clock_reaches_it() {
        let mut clock = LocalClock::default();
        clock.set_drift(Instant(0), -3_000);
        clock.step(Instant(100), 250);
        for deadline in [0, 349, 350, 351, 1_000, 7_777, 100_000] {
            let due = clock.true_time_of(Instant(deadline));
            assert!(clock.local(due) >= Instant(deadline), "{deadline}: due at {due} reads {}", clock.local(due));
            if due > Instant(100) {
                let before = Instant(due.as_ms() - 1);
                assert!(clock.local(before) < Instant(deadline), "{deadline}: {due} is not the earliest");
            }
        }
    }
}
