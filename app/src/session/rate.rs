//! How fast the peer may make things happen on this side: chat lines, drawing, pointer
//! moves. Within the rate everything passes; a flood beyond it is dropped where it arrives,
//! so it never reaches the person's screen or the queues in between.

use std::time::{Duration, Instant};

/// A token bucket: `burst` at once, refilled at `per_second`.
#[derive(Debug, Clone)]
pub struct RateGate {
    per_second: f64,
    burst: f64,
    tokens: f64,
    at: Option<Instant>,
    dropped: u64,
}

impl RateGate {
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            at: None,
            dropped: 0,
        }
    }

    /// Chat lines from the peer: people type a few a minute.
    pub fn chat() -> Self {
        Self::new(5, 20)
    }

    /// Drawing (pen, laser) from the helper: a pen moves at the display's rate.
    pub fn drawing() -> Self {
        Self::new(240, 480)
    }

    /// Pointer positions and pictures from the sharer.
    pub fn pointer() -> Self {
        Self::new(240, 480)
    }

    /// True when one more may pass at `now`.
    pub fn admit(&mut self, now: Instant) -> bool {
        let elapsed = self
            .at
            .map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
        self.at = Some(now);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.per_second).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            self.dropped += 1;
            if self.dropped.is_power_of_two() {
                tracing::debug!(dropped = self.dropped, "the peer is sending too fast");
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate() {
        let mut gate = RateGate::new(10, 3);
        let t0 = Instant::now();
        assert!(gate.admit(t0) && gate.admit(t0) && gate.admit(t0));
        assert!(!gate.admit(t0), "past the burst");
        assert!(!gate.admit(t0 + Duration::from_millis(50)));
        assert!(
            gate.admit(t0 + Duration::from_millis(160)),
            "a tenth of a second refills one"
        );
        // A flood over ten seconds gets through at the rate, no more.
        let passed = (0..100_000)
            .filter(|i| gate.admit(t0 + Duration::from_micros(200_000 + i * 100)))
            .count();
        assert!(passed <= 3 + 100 + 1, "{passed}");
    }
}
