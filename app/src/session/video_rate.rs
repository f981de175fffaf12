//! How many bits per second the video may use, from what the path actually does: the rate at
//! which the helper's acknowledgements say frames were delivered, and how much longer frames
//! now take to be acknowledged than they did at best (a queue standing at the bottleneck: a
//! DSL modem's buffer, a phone's radio). QUIC's congestion window alone keeps filling such a
//! buffer until it overflows, and every frame then waits behind it: the video must back off
//! before that, to just under what is delivered, and climb back while frames cross freely.
//!
//! The signal is each frame's own time from sent to acknowledged, the least of the last
//! quarter second against the least of the last ten: unsmoothed (QUIC's smoothed round trip
//! lags a queue by many round trips, and read after a keyframe it cut the rate to the
//! floor), and it is the delay the person watching sees.
//!
//! Sans-IO: the sharer's loop reports frames sent and acknowledged and samples the path;
//! the target is what the pipeline's bit budget refills at.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Never below this: a screen stays readable (at a low frame rate) on any path.
pub const FLOOR_BPS: f64 = 250_000.0;
/// A frame this much slower than the best means a queue is building.
const QUEUE_HIGH: Duration = Duration::from_millis(60);
/// Below this the path has room: the target climbs. Above a frame interval (33 ms at
/// 30 fps): at full use of the path a frame takes up to an interval to cross with no queue.
const QUEUE_LOW: Duration = Duration::from_millis(35);
/// The best frame delay is looked for over this long (a path change moves it).
const BASE_WINDOW: Duration = Duration::from_secs(10);
/// A frame delay older than this says nothing about the queue now.
const FRESH: Duration = Duration::from_millis(500);
/// The queue is read from the frames acknowledged this recently (the least of them).
const RECENT: Duration = Duration::from_millis(250);
/// Delivery is measured over this window: short enough to see a step down within a second.
const DELIVERY_WINDOW: Duration = Duration::from_millis(500);
/// After a cut, the next one waits for the path to answer: the best frame delay plus the
/// threshold, at least this.
const CUT_SPACING: Duration = Duration::from_millis(100);
/// A cut lands a little under what was delivered, so the queue drains.
const CUT_TO: f64 = 0.85;
/// Nor does one cut take more than half.
const CUT_AT_MOST: f64 = 0.5;
/// Climbing: this share of the target per sample (samples are ~100 ms apart), at least
/// `CLIMB_MIN_BPS`.
const CLIMB: f64 = 0.05;
const CLIMB_MIN_BPS: f64 = 20_000.0;
/// Frames remembered while unacknowledged (the pipeline keeps only a few in flight; a helper
/// that never acknowledges cannot make this grow).
const MAX_TRACKED: usize = 64;
/// Frame delays kept for the base (bounded whatever the frame rate).
const MAX_DELAYS: usize = 1024;
/// Share of the congestion controller's rate (window / round trip) the video may take: the
/// rest is for control, input echoes, clipboard and files.
const CWND_SHARE: f64 = 0.7;
/// How far above what was delivered the target may reach past the window's share.
const PROBE_ABOVE_DELIVERED: f64 = 1.5;

#[derive(Debug)]
struct Unacked {
    seq: u64,
    bytes: usize,
    sent: Instant,
    /// Its size's time at the target when it was sent.
    on_wire: Duration,
}

#[derive(Debug)]
pub struct VideoRate {
    configured: f64,
    target: Option<f64>,
    unacked: VecDeque<Unacked>,
    /// Acknowledged frames in the delivery window: (when, bytes).
    delivered: VecDeque<(Instant, usize)>,
    /// Frame delays (sent → acknowledged, less the time on the wire): (when, delay).
    delays: VecDeque<(Instant, Duration)>,
    last_cut: Option<Instant>,
}

impl VideoRate {
    pub fn new(configured_bps: u32) -> Self {
        Self {
            configured: f64::from(configured_bps).max(FLOOR_BPS),
            target: None,
            unacked: VecDeque::new(),
            delivered: VecDeque::new(),
            delays: VecDeque::new(),
            last_cut: None,
        }
    }

    pub fn on_sent(&mut self, now: Instant, seq: u64, bytes: usize) {
        if self.unacked.len() >= MAX_TRACKED {
            self.unacked.pop_front();
        }
        let on_wire = Duration::from_secs_f64(bytes as f64 * 8.0 / self.target().max(1.0));
        self.unacked.push_back(Unacked {
            seq,
            bytes,
            sent: now,
            on_wire,
        });
    }

    /// The helper decoded frame `seq`. Frames before it that were never acknowledged were
    /// skipped or lost: they are forgotten, not counted. An unknown `seq` counts nothing.
    pub fn on_acked(&mut self, now: Instant, seq: u64) {
        while let Some(front) = self.unacked.front() {
            if front.seq > seq {
                break;
            }
            if front.seq == seq {
                self.delivered.push_back((now, front.bytes));
                // As it was: subtracting the frame's time at the target rate made the best
                // delay near zero whenever the target sat far under the path (a keyframe
                // at a low target), and the path's own round trip then read as a queue.
                let delay = now.saturating_duration_since(front.sent);
                if self.delays.len() >= MAX_DELAYS {
                    self.delays.pop_front();
                }
                self.delays.push_back((now, delay));
            }
            self.unacked.pop_front();
        }
        self.expire(now);
    }

    fn expire(&mut self, now: Instant) {
        while self
            .delivered
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > DELIVERY_WINDOW)
        {
            self.delivered.pop_front();
        }
        while self
            .delays
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > BASE_WINDOW)
        {
            self.delays.pop_front();
        }
    }

    /// Bits per second delivered over the last window.
    pub fn delivered_bps(&self) -> f64 {
        let bytes: usize = self.delivered.iter().map(|(_, b)| b).sum();
        bytes as f64 * 8.0 / DELIVERY_WINDOW.as_secs_f64()
    }

    /// The current target (the configured rate until the path was sampled).
    fn target(&self) -> f64 {
        self.target.unwrap_or(self.configured)
    }

    /// How much longer than the best the recent frames took (if any were acknowledged
    /// recently), whether the oldest unacknowledged one is overdue, and the best.
    fn queuing(&self, now: Instant) -> (Option<Duration>, bool, Duration) {
        let base = self
            .delays
            .iter()
            .map(|(_, d)| *d)
            .min()
            .unwrap_or_default();
        // The least of the recent frames: a lost packet (retransmitted a round trip later)
        // or jitter delays one frame, a queue delays them all.
        let latest = self
            .delays
            .iter()
            .rev()
            .take_while(|(at, _)| now.saturating_duration_since(*at) <= RECENT)
            .map(|(_, d)| *d)
            .min()
            .or_else(|| {
                self.delays
                    .back()
                    .filter(|(at, _)| now.saturating_duration_since(*at) <= FRESH)
                    .map(|(_, d)| *d)
            })
            .map(|d| d.saturating_sub(base));
        // A frame still unacknowledged long past the base: a lost packet waiting for its
        // retransmission, or a path that stalled. Not a reason to cut (one loss is not a
        // queue), but no time to climb either.
        let stuck = self.unacked.front().is_some_and(|f| {
            now.saturating_duration_since(f.sent)
                .saturating_sub(f.on_wire)
                .saturating_sub(base)
                > QUEUE_HIGH
        });
        (latest, stuck, base)
    }

    /// A sample of the path: the congestion controller's rate (window / round trip), every
    /// ~100 ms. Returns the new target.
    pub fn on_path(&mut self, now: Instant, cwnd_bps: f64) -> f64 {
        self.expire(now);
        let delivered = self.delivered_bps();
        // QUIC's window grows only while the sender fills it, and a video that keeps under
        // a share of it never does: above what it allows, the video may still go half again
        // over what was delivered, so that the window can open.
        let cap = (cwnd_bps * CWND_SHARE)
            .max(delivered * PROBE_ABOVE_DELIVERED)
            .clamp(FLOOR_BPS, self.configured);
        let Some(target) = self.target else {
            self.target = Some(cap);
            return cap;
        };
        let (queuing, stuck, base) = self.queuing(now);
        let climb = target + (target * CLIMB).max(CLIMB_MIN_BPS);
        let next = match queuing {
            Some(q) if q > QUEUE_HIGH => {
                let spaced = self.last_cut.is_none_or(|at| {
                    now.saturating_duration_since(at) >= CUT_SPACING.max(base + QUEUE_HIGH)
                });
                if spaced {
                    self.last_cut = Some(now);
                    // A large frame acknowledged at once reads as a burst of delivery: a
                    // cut never raises the target.
                    (delivered * CUT_TO).max(target * CUT_AT_MOST).min(target)
                } else {
                    target
                }
            }
            _ if stuck => target,
            // Frames cross freely, or none are being sent (a still screen): room to climb.
            Some(q) if q < QUEUE_LOW => climb,
            None => climb,
            Some(_) => target,
        };
        let next = next.clamp(FLOOR_BPS, cap);
        self.target = Some(next);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A simulated bottleneck of `link_bps` with `base` round trip: frames of `frame_bits`
    /// at 30/s while the target allows; returns the target after each 100-ms sample.
    fn simulate(
        rate: &mut VideoRate,
        link: &[(u64, f64)],
        base: Duration,
        seconds: u64,
    ) -> Vec<f64> {
        let t0 = Instant::now();
        let mut seq = 0u64;
        let mut targets = Vec::new();
        let mut pending: VecDeque<(u64, f64)> = VecDeque::new();
        let mut budget = 0.0f64;
        for tick in 0..seconds * 300 {
            // 300 ticks a second (3.3 ms).
            let now = t0 + Duration::from_micros(tick * 3333);
            let secs = tick as f64 / 300.0;
            let link_bps = link
                .iter()
                .rev()
                .find(|(from, _)| secs >= *from as f64)
                .map_or(link[0].1, |(_, b)| *b);
            budget = (budget + rate.target() / 300.0).min(rate.target() * 0.25);
            // The pipeline's limit on frames in flight.
            if tick % 10 == 0 && budget >= 0.0 && pending.len() < 3 {
                // A frame: what the budget allows, up to 200 kbit.
                let bits = 200_000.0f64.min(rate.target() / 30.0 * 1.5);
                budget -= bits;
                rate.on_sent(now, seq, (bits / 8.0) as usize);
                pending.push_back((seq, bits));
                seq += 1;
            }
            // The bottleneck drains; a frame is acknowledged once fully through.
            let mut drained = link_bps / 300.0;
            while let Some((s, bits)) = pending.front_mut() {
                if *bits > drained {
                    *bits -= drained;
                    break;
                }
                drained -= *bits;
                rate.on_acked(now + base, *s);
                pending.pop_front();
            }
            if tick % 30 == 0 {
                targets.push(rate.on_path(now, 10e6));
            }
        }
        targets
    }

    #[test]
    fn starts_at_a_share_of_the_congestion_window_and_never_above_the_configured_rate() {
        let mut rate = VideoRate::new(2_500_000);
        let t0 = Instant::now();
        assert_eq!(rate.on_path(t0, 1e6), 700_000.0);
        let mut rate = VideoRate::new(2_500_000);
        assert_eq!(rate.on_path(t0, 100e6), 2_500_000.0);
        let mut rate = VideoRate::new(2_500_000);
        assert_eq!(rate.on_path(t0, 1_000.0), FLOOR_BPS);
    }

    #[test]
    fn a_queue_cuts_the_target_under_what_is_delivered_and_an_empty_one_lets_it_climb() {
        // A 1 Mbit/s path under a 2.5 Mbit/s video: the target saws around the link (cut
        // under it when frames queue, climbing past it until they do again; the frames in
        // flight keep what is sent at the link).
        let mut rate = VideoRate::new(2_500_000);
        let targets = simulate(&mut rate, &[(0, 1e6)], ms(40), 20);
        let settled = &targets[50..];
        let max = settled.iter().copied().fold(0.0, f64::max);
        let min = settled.iter().copied().fold(f64::MAX, f64::min);
        let mean = settled.iter().sum::<f64>() / settled.len() as f64;
        assert!(max <= 1.5e6, "never far above the link: {max}");
        assert!(min >= 0.5e6, "never far below it: {min}");
        assert!((0.8e6..=1.3e6).contains(&mean), "around it: {mean}");
    }

    #[test]
    fn a_step_down_is_followed_within_a_second_and_a_step_up_climbs_back() {
        let mut rate = VideoRate::new(5_000_000);
        let targets = simulate(&mut rate, &[(0, 5e6), (10, 1e6), (20, 5e6)], ms(40), 30);
        // 10 samples a second: before the step, at 1 s after it, and well after the step up.
        assert!(targets[95] > 3e6, "{}", targets[95]);
        assert!(
            targets[110] <= 1.2e6,
            "a second after the step: {}",
            targets[110]
        );
        assert!(targets[290] > 3e6, "climbed back: {}", targets[290]);
    }

    #[test]
    fn one_late_frame_among_prompt_ones_is_loss_or_jitter_not_a_queue() {
        let t0 = Instant::now();
        let mut rate = VideoRate::new(2_500_000);
        rate.on_path(t0, 10e6);
        // Frames of 10 kbit every 33 ms, acknowledged 40 ms later; every fifth one 150 ms
        // later (a retransmission).
        let mut targets = Vec::new();
        for i in 0..300u64 {
            let sent = t0 + ms(33 * i);
            rate.on_sent(sent, i, 1_250);
            let late = if i % 5 == 4 { 150 } else { 40 };
            rate.on_acked(sent + ms(late), i);
            if i % 3 == 0 {
                targets.push(rate.on_path(sent + ms(late), 10e6));
            }
        }
        assert!(
            targets.iter().all(|t| *t == 2_500_000.0),
            "cut on a late frame: {targets:?}"
        );
    }

    #[test]
    fn a_frame_waiting_for_a_retransmission_holds_the_rate_and_cuts_nothing() {
        let t0 = Instant::now();
        let mut rate = VideoRate::new(2_500_000);
        rate.on_path(t0, 1e6);
        // One frame never acknowledged for 150 ms (its lost packet resent), the next ones
        // prompt: the target stays where it was.
        rate.on_sent(t0, 0, 1_250);
        let held = rate.on_path(t0 + ms(150), 1e6);
        assert_eq!(
            held, 700_000.0,
            "neither cut nor climbed while a frame is overdue"
        );
        for i in 1..20u64 {
            let sent = t0 + ms(150 + 33 * i);
            rate.on_sent(sent, i, 1_250);
            rate.on_acked(sent + ms(40), i);
        }
        let after = rate.on_path(t0 + ms(150 + 33 * 20), 1e6);
        assert!(after >= held, "{after}");
    }

    #[test]
    fn a_video_under_the_windows_share_may_probe_above_it() {
        let t0 = Instant::now();
        let mut rate = VideoRate::new(2_500_000);
        // A small window (1 Mbit/s: 700 kbit/s for the video) but 1 Mbit/s delivered.
        rate.on_path(t0, 1e6);
        for i in 0..15u64 {
            rate.on_sent(t0 + ms(33 * i), i, 4_166);
            rate.on_acked(t0 + ms(33 * i + 40), i);
        }
        let mut target = 0.0;
        for i in 0..30u64 {
            target = rate.on_path(t0 + ms(540 + i), 1e6);
        }
        assert!(target > 700_000.0, "{target}");
        assert!(target <= 1_500_000.0 * 1.01, "{target}");
    }

    #[test]
    fn a_keyframe_still_crossing_cuts_nothing_and_its_delivery_raises_nothing() {
        let t0 = Instant::now();
        let mut rate = VideoRate::new(2_500_000);
        assert_eq!(rate.on_path(t0, 10e6), 2_500_000.0);
        rate.on_sent(t0, 0, 150_000);
        // The queue is the keyframe's own (it takes 480 ms at the rate): no cut.
        for i in 1..=5 {
            let target = rate.on_path(t0 + ms(100 * i), 10e6);
            assert_eq!(target, 2_500_000.0, "cut while the keyframe crossed");
        }
        // Acknowledged at once: 2.4 Mbit/s "delivered" in the window.
        rate.on_acked(t0 + ms(600), 0);
        let target = rate.on_path(t0 + ms(600), 10e6);
        assert!((1_250_000.0..=2_500_000.0).contains(&target), "{target}");
    }

    #[test]
    fn acknowledgements_of_unsent_or_skipped_frames_count_nothing_and_memory_is_bounded() {
        let t0 = Instant::now();
        let mut rate = VideoRate::new(2_500_000);
        rate.on_acked(t0, 1_000);
        assert_eq!(rate.delivered_bps(), 0.0);
        for seq in 0..10_000 {
            rate.on_sent(t0, seq, 10_000);
        }
        assert!(rate.unacked.len() <= MAX_TRACKED);
        // Frame 9 990 acknowledged: the ones before it were skipped, not delivered.
        rate.on_acked(t0, 9_990);
        assert_eq!(
            rate.delivered_bps(),
            160_000.0,
            "10 kB in the half-second window"
        );
        rate.on_acked(t0, 9_990);
        assert_eq!(rate.delivered_bps(), 160_000.0, "twice counts once");
        for i in 0..3_000u64 {
            rate.on_sent(t0, 20_000 + i, 100);
            rate.on_acked(t0 + Duration::from_micros(i), 20_000 + i);
            rate.on_path(t0 + Duration::from_micros(i), 1e6);
        }
        assert!(rate.delays.len() <= MAX_DELAYS);
    }
}
