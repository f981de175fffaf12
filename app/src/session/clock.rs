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
        let offset = t1 as i64 - ((t0 as i128 + t2 as i128) / 2) as i64;
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
        let sharer_in_helper_clock = sharer_us as i64 - self.offset_us();
        (helper_us as i64 - sharer_in_helper_clock) as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
