//! Estimates the offset between the sharer's and the helper's wall clocks from ping/pong
//! (the sample with the smallest round trip wins, as in NTP), so that frame latency can be
//! measured across machines.

#[derive(Debug, Default, Clone, Copy)]
pub struct ClockOffset {
    best: Option<(u64, i64)>,
}

impl ClockOffset {
    /// `t0` sent (helper clock), `t1` answered (sharer clock), `t2` received (helper clock).
    pub fn sample(&mut self, t0: u64, t1: u64, t2: u64) {
        let Some(rtt) = t2.checked_sub(t0) else {
            return;
        };
        // The sharer's clock value comes from the network: no arithmetic on it may overflow.
        let offset = (i128::from(t1) - (i128::from(t0) + i128::from(t2)) / 2)
            .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        if self.best.is_none_or(|(best_rtt, _)| rtt <= best_rtt) {
            self.best = Some((rtt, offset));
        }
    }

    /// Sharer clock minus helper clock, µs.
    pub fn offset_us(&self) -> i64 {
        self.best.map(|(_, o)| o).unwrap_or(0)
    }

    /// Latency of something stamped `sharer_us` on the sharer and seen now (`helper_us`).
    pub fn latency_ms(&self, sharer_us: u64, helper_us: u64) -> f64 {
        let sharer_in_helper_clock = i128::from(sharer_us) - i128::from(self.offset_us());
        (i128::from(helper_us) - sharer_in_helper_clock) as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_clock_values_do_not_overflow() {
        let mut c = ClockOffset::default();
        c.sample(1_000, u64::MAX, 2_000);
        assert!(c.offset_us() > 0);
        assert!(c.latency_ms(u64::MAX, 0).is_finite());
        c.sample(0, 0, 0);
        assert!(c.latency_ms(0, u64::MAX).is_finite());
    }

    #[test]
    fn picks_the_tightest_sample() {
        let mut c = ClockOffset::default();
        // Sharer clock is 5 s ahead; one-way delay 10 ms, then a noisy 300 ms sample.
        c.sample(1_000_000, 6_010_000, 1_020_000);
        c.sample(2_000_000, 7_250_000, 2_300_000);
        assert_eq!(c.offset_us(), 5_000_000);
        assert!((c.latency_ms(6_010_000, 1_030_000) - 20.0).abs() < 1e-9);
    }
}
