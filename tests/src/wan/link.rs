//! One direction of an emulated link, without I/O: frames go in with the time they arrived
//! and come out at the time the path would deliver them. The forwarder drives it with the
//! real clock; the tests below with a virtual one.
//!
//! Driving contract: call [`LinkModel::arrive`] for every frame as it arrives, then
//! [`LinkModel::deliver`] until it returns `None`, and wake no later than
//! [`LinkModel::next_delivery`].
//!
//! What a frame goes through, in order: loss (independent or in bursts), the bottleneck (one
//! frame on the wire at a time at the current rate, behind those queued before it; a frame
//! that would wait longer than the buffer allows is dropped), then the path's delay with
//! jitter, which never reorders; reordering and duplication are separate, rare events.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::profile::{Direction, Loss};

/// What happened to the frames so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LinkStats {
    pub arrived: u64,
    pub lost: u64,
    /// Dropped because the bottleneck's buffer was full.
    pub overflowed: u64,
    pub delivered: u64,
}

pub struct LinkModel {
    dir: Direction,
    start: Instant,
    rng: StdRng,
    /// Gilbert–Elliott state: in a loss burst.
    bursting: bool,
    /// When the bottleneck has sent everything queued so far.
    busy_until: Instant,
    /// The latest delivery time of an in-order frame: jitter never delivers before it.
    last_in_order: Instant,
    /// Frames past the bottleneck, by delivery time (then arrival order).
    in_flight: BTreeMap<(Instant, u64), Vec<u8>>,
    next_id: u64,
    stats: LinkStats,
}

impl LinkModel {
    /// `start` is time zero of the rate schedule; `seed` makes a run repeatable.
    pub fn new(dir: Direction, start: Instant, seed: u64) -> Self {
        Self {
            dir,
            start,
            rng: StdRng::seed_from_u64(seed),
            bursting: false,
            busy_until: start,
            last_in_order: start,
            in_flight: BTreeMap::new(),
            next_id: 0,
            stats: LinkStats::default(),
        }
    }

    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Bits per second now (`None`: no bottleneck).
    pub fn rate_at(&self, now: Instant) -> Option<u64> {
        self.dir.rate.at(now.saturating_duration_since(self.start))
    }

    fn lose(&mut self) -> bool {
        match self.dir.loss {
            Loss::None => false,
            Loss::Random(p) => self.rng.gen_bool(p.clamp(0.0, 1.0)),
            Loss::Bursty { mean, burst } => {
                // Leave a burst with probability 1/burst per packet; enter one at the rate
                // that makes the long-run share of packets in bursts `mean`.
                let leave = (1.0 / burst.max(1.0)).clamp(0.0, 1.0);
                let mean = mean.clamp(0.0, 0.99);
                let enter = (mean * leave / (1.0 - mean)).clamp(0.0, 1.0);
                self.bursting = if self.bursting {
                    !self.rng.gen_bool(leave)
                } else {
                    self.rng.gen_bool(enter)
                };
                self.bursting
            }
        }
    }

    /// A frame arrived at `now`.
    pub fn arrive(&mut self, now: Instant, frame: Vec<u8>) {
        self.stats.arrived += 1;
        if self.lose() {
            self.stats.lost += 1;
            return;
        }
        let sent = match self.rate_at(now) {
            None => now,
            Some(bps) => {
                let wait = self.busy_until.saturating_duration_since(now);
                if wait > self.dir.queue {
                    self.stats.overflowed += 1;
                    return;
                }
                let on_wire = Duration::from_secs_f64(frame.len() as f64 * 8.0 / bps.max(1) as f64);
                self.busy_until = self.busy_until.max(now) + on_wire;
                self.busy_until
            }
        };
        let jitter = self.dir.jitter.as_secs_f64();
        let delay = if jitter > 0.0 {
            let offset = self.rng.gen_range(-jitter..=jitter);
            Duration::from_secs_f64((self.dir.delay.as_secs_f64() + offset).max(0.0))
        } else {
            self.dir.delay
        };
        let duplicate = self.dir.duplicate > 0.0 && self.rng.gen_bool(self.dir.duplicate);
        let at = if self.dir.reorder > 0.0 && self.rng.gen_bool(self.dir.reorder) {
            // Held back: the frames after it overtake it.
            (sent + delay).max(self.last_in_order) + self.dir.reorder_by
        } else {
            self.last_in_order = (sent + delay).max(self.last_in_order);
            self.last_in_order
        };
        if duplicate {
            self.in_flight.insert((at, self.next_id), frame.clone());
            self.next_id += 1;
        }
        self.in_flight.insert((at, self.next_id), frame);
        self.next_id += 1;
    }

    /// The next frame due by `now`, if any.
    pub fn deliver(&mut self, now: Instant) -> Option<Vec<u8>> {
        let entry = self.in_flight.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        self.stats.delivered += 1;
        Some(entry.remove())
    }

    /// When the next frame is due.
    pub fn next_delivery(&self) -> Option<Instant> {
        self.in_flight.keys().next().map(|(at, _)| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::super::profile::{Profile, Rate};
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Runs `model` in virtual time: frames of `len` bytes offered every `gap` for `span`;
    /// returns (offered at, delivered at) of each delivered frame, by its number.
    fn run(
        model: &mut LinkModel,
        t0: Instant,
        len: usize,
        gap: Duration,
        span: Duration,
    ) -> Vec<(Instant, Instant, u32)> {
        let mut out = Vec::new();
        let mut offered = std::collections::HashMap::new();
        let mut now = t0;
        let mut n = 0u32;
        let end = t0 + span;
        loop {
            let next_offer = (now < end).then_some(now);
            let next = match (next_offer, model.next_delivery()) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => break,
            };
            while let Some(f) = model.deliver(next) {
                let id = u32::from_le_bytes([f[0], f[1], f[2], f[3]]);
                out.push((offered[&id], next, id));
            }
            if next_offer == Some(next) {
                let mut frame = vec![0u8; len];
                frame[..4].copy_from_slice(&n.to_le_bytes());
                offered.insert(n, next);
                model.arrive(next, frame);
                n += 1;
                now = next + gap;
            }
        }
        out
    }

    #[test]
    fn an_idle_link_delivers_after_the_delay_plus_the_time_on_the_wire() {
        let t0 = Instant::now();
        let mut link = LinkModel::new(Profile::dsl().up, t0, 1);
        link.arrive(t0, vec![0; 1250]);
        // 1250 bytes at 2 Mbit/s: 5 ms on the wire, then 20 ms of path.
        assert_eq!(link.next_delivery(), Some(t0 + ms(25)));
        assert_eq!(link.deliver(t0 + ms(24)), None);
        assert!(link.deliver(t0 + ms(25)).is_some());
    }

    #[test]
    fn an_overloaded_bottleneck_carries_its_rate_and_drops_past_its_buffer() {
        let t0 = Instant::now();
        let dir = Profile::dsl().up;
        let mut link = LinkModel::new(dir.clone(), t0, 1);
        // 1250-byte frames every 2.5 ms: 4 Mbit/s into 2.
        let delivered = run(&mut link, t0, 1250, Duration::from_micros(2500), ms(10_000));
        let last = delivered.last().expect("some delivered").1;
        let first = delivered[0].1;
        let bits = (delivered.len() - 1) as f64 * 1250.0 * 8.0;
        let rate = bits / last.duration_since(first).as_secs_f64();
        assert!((rate - 2e6).abs() < 2e6 * 0.001, "{rate}");
        let stats = link.stats();
        assert_eq!(stats.lost, 0);
        assert!(
            stats.overflowed > 1500,
            "half is more than the link takes: {stats:?}"
        );
        // The standing queue never exceeds the buffer: delay ≤ path + buffer + one frame.
        let worst = delivered
            .iter()
            .map(|(sent, got, _)| got.duration_since(*sent))
            .max()
            .expect("some");
        assert!(worst <= dir.delay + dir.queue + ms(5), "{worst:?}");
        assert!(
            worst >= dir.delay + dir.queue - ms(5),
            "the buffer fills: {worst:?}"
        );
    }

    #[test]
    fn jitter_varies_the_delay_within_its_bounds_and_never_reorders() {
        let t0 = Instant::now();
        let dir = Direction {
            rate: Rate::Unlimited,
            delay: ms(40),
            jitter: ms(20),
            ..Direction::clear()
        };
        let mut link = LinkModel::new(dir, t0, 7);
        let delivered = run(&mut link, t0, 100, ms(10), ms(20_000));
        assert_eq!(delivered.len(), 2000);
        let ids: Vec<u32> = delivered.iter().map(|d| d.2).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "reordered");
        let delays: Vec<f64> = delivered
            .iter()
            .map(|(s, g, _)| g.duration_since(*s).as_secs_f64() * 1e3)
            .collect();
        let min = delays.iter().copied().fold(f64::MAX, f64::min);
        let max = delays.iter().copied().fold(0.0, f64::max);
        let mean = delays.iter().sum::<f64>() / delays.len() as f64;
        assert!(min >= 20.0 - 1e-6 && max <= 60.0 + 1e-6, "{min} {max}");
        assert!(max - min > 30.0, "it does vary: {min}..{max}");
        // In-order delivery holds some back, so the mean is a little above the delay.
        assert!((40.0..48.0).contains(&mean), "{mean}");
    }

    #[test]
    fn random_loss_and_bursty_loss_lose_their_share_bursts_in_runs() {
        let t0 = Instant::now();
        let lte = Profile::lte().up;
        let mut link = LinkModel::new(
            Direction {
                rate: Rate::Unlimited,
                ..lte
            },
            t0,
            3,
        );
        let delivered = run(&mut link, t0, 100, ms(1), ms(100_000));
        let share = 1.0 - delivered.len() as f64 / 100_000.0;
        assert!((0.009..0.011).contains(&share), "{share}");

        let wifi = Profile::wifi_bad().up;
        let mut link = LinkModel::new(
            Direction {
                rate: Rate::Unlimited,
                ..wifi
            },
            t0,
            4,
        );
        let delivered = run(&mut link, t0, 100, ms(1), ms(100_000));
        let ids: Vec<u32> = delivered.iter().map(|d| d.2).collect();
        let share = 1.0 - ids.len() as f64 / 100_000.0;
        assert!((0.027..0.033).contains(&share), "{share}");
        let gaps: Vec<u32> = ids
            .windows(2)
            .map(|w| w[1] - w[0] - 1)
            .filter(|g| *g > 0)
            .collect();
        let mean_run = gaps.iter().sum::<u32>() as f64 / gaps.len() as f64;
        assert!((2.7..3.3).contains(&mean_run), "{mean_run}");
    }

    #[test]
    fn the_step_profile_changes_its_rate_every_ten_seconds() {
        let t0 = Instant::now();
        let link = LinkModel::new(Profile::step().up, t0, 1);
        assert_eq!(link.rate_at(t0), Some(5_000_000));
        assert_eq!(link.rate_at(t0 + ms(9_999)), Some(5_000_000));
        assert_eq!(link.rate_at(t0 + ms(10_000)), Some(1_000_000));
        assert_eq!(link.rate_at(t0 + ms(20_000)), Some(5_000_000));
        // Carried: 1250-byte frames every ms (10 Mbit/s offered) for 30 s.
        let mut link = LinkModel::new(Profile::step().up, t0, 1);
        let delivered = run(&mut link, t0, 1250, ms(1), ms(30_000));
        let per_phase = |from: u64, to: u64| {
            delivered
                .iter()
                .filter(|(s, _, _)| {
                    *s >= t0 + ms(from * 1000 + 500) && *s < t0 + ms(to * 1000 - 500)
                })
                .count() as f64
                * 10_000.0
                / ((to - from) as f64 - 1.0)
        };
        let (a, b, c) = (per_phase(1, 10), per_phase(11, 20), per_phase(21, 30));
        assert!((a - 5e6).abs() < 0.05 * 5e6, "{a}");
        assert!((b - 1e6).abs() < 0.05 * 1e6, "{b}");
        assert!((c - 5e6).abs() < 0.05 * 5e6, "{c}");
    }

    #[test]
    fn reordered_frames_are_overtaken_and_duplicates_delivered_twice() {
        let t0 = Instant::now();
        let dir = Direction {
            delay: ms(10),
            reorder: 0.05,
            reorder_by: ms(5),
            duplicate: 0.02,
            ..Direction::clear()
        };
        let mut link = LinkModel::new(dir, t0, 9);
        let delivered = run(&mut link, t0, 100, ms(1), ms(10_000));
        let ids: Vec<u32> = delivered.iter().map(|d| d.2).collect();
        let late = ids.windows(2).filter(|w| w[1] < w[0]).count() as f64 / 10_000.0;
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        let dups = (ids.len() - unique.len()) as f64 / 10_000.0;
        assert_eq!(unique.len(), 10_000, "nothing lost");
        assert!((0.04..0.06).contains(&late), "{late}");
        assert!((0.015..0.025).contains(&dups), "{dups}");
    }
}
