//! Internet paths as data: what one direction of an access link does to packets, and the
//! named profiles the tests and `tandem-bench wan` run through.

use std::time::Duration;

/// How the bottleneck's rate behaves over time.
#[derive(Debug, Clone, PartialEq)]
pub enum Rate {
    /// No bottleneck: packets leave as they come.
    Unlimited,
    /// Bits per second on the wire (Ethernet frames counted whole).
    Fixed(u64),
    /// The rate cycles through these, each held for `every` (a link whose capacity
    /// changes under the session: a phone moving between cells).
    Steps { bps: Vec<u64>, every: Duration },
}

impl Rate {
    /// The rate at `since_start` into the run (`None`: unlimited).
    pub fn at(&self, since_start: Duration) -> Option<u64> {
        match self {
            Rate::Unlimited => None,
            Rate::Fixed(bps) => Some(*bps),
            Rate::Steps { bps, every } => {
                if bps.is_empty() {
                    return None;
                }
                let step = since_start.as_nanos() / every.as_nanos().max(1);
                bps.get((step % bps.len() as u128) as usize).copied()
            }
        }
    }
}

/// Which packets are lost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    None,
    /// Each packet independently, with this probability.
    Random(f64),
    /// Gilbert–Elliott: a good state that loses nothing and a bad state that loses every
    /// packet; `mean` is the long-run loss, `burst` the mean number of packets lost in a row
    /// (Wi-Fi with interference loses runs, not single packets).
    Bursty {
        mean: f64,
        burst: f64,
    },
}

/// One direction of a link: a bottleneck queue drained at `rate`, then the path's delay.
#[derive(Debug, Clone, PartialEq)]
pub struct Direction {
    pub rate: Rate,
    /// The bottleneck's buffer, as time at the current rate: a packet that would wait longer
    /// than this is dropped (a modem's tail drop).
    pub queue: Duration,
    /// Fixed one-way delay after the bottleneck.
    pub delay: Duration,
    /// Each packet's delay varies uniformly within ± this (without reordering: a jittery
    /// radio link delivers late, not out of order).
    pub jitter: Duration,
    pub loss: Loss,
    /// Probability that a packet is held back by `reorder_by` and overtaken.
    pub reorder: f64,
    pub reorder_by: Duration,
    /// Probability that a packet is delivered twice.
    pub duplicate: f64,
}

impl Direction {
    /// A perfect direction: no bottleneck, no delay, nothing lost.
    pub fn clear() -> Self {
        Self {
            rate: Rate::Unlimited,
            queue: Duration::from_millis(100),
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: Loss::None,
            reorder: 0.0,
            reorder_by: Duration::from_millis(5),
            duplicate: 0.0,
        }
    }

    fn shaped(bps: u64, one_way: Duration) -> Self {
        Self {
            rate: Rate::Fixed(bps),
            delay: one_way,
            ..Self::clear()
        }
    }
}

/// An access link: `up` is what the peer sends, `down` what it receives.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: &'static str,
    pub up: Direction,
    pub down: Direction,
}

const MBIT: u64 = 1_000_000;

impl Profile {
    /// The round trip the profile adds with empty queues.
    pub fn rtt(&self) -> Duration {
        self.up.delay + self.down.delay
    }

    /// ADSL: 2 Mbit/s up, 16 down, 40 ms round trip, a generous modem buffer.
    pub fn dsl() -> Self {
        let one_way = Duration::from_millis(20);
        Self {
            name: "dsl",
            up: Direction {
                queue: Duration::from_millis(200),
                ..Direction::shaped(2 * MBIT, one_way)
            },
            down: Direction::shaped(16 * MBIT, one_way),
        }
    }

    /// A phone's LTE: 5 Mbit/s each way, 80 ms round trip with ±20 ms of jitter, 1 % loss.
    pub fn lte() -> Self {
        let dir = Direction {
            jitter: Duration::from_millis(20),
            loss: Loss::Random(0.01),
            ..Direction::shaped(5 * MBIT, Duration::from_millis(40))
        };
        Self {
            name: "lte",
            up: dir.clone(),
            down: dir,
        }
    }

    /// Wi-Fi with interference: 3 % loss in bursts, 30 ms round trip, 20 Mbit/s.
    pub fn wifi_bad() -> Self {
        let dir = Direction {
            loss: Loss::Bursty {
                mean: 0.03,
                burst: 3.0,
            },
            ..Direction::shaped(20 * MBIT, Duration::from_millis(15))
        };
        Self {
            name: "wifi-bad",
            up: dir.clone(),
            down: dir,
        }
    }

    /// The uplink steps 5 → 1 → 5 Mbit/s every 10 s; 40 ms round trip.
    pub fn step() -> Self {
        let one_way = Duration::from_millis(20);
        Self {
            name: "step",
            up: Direction {
                rate: Rate::Steps {
                    bps: vec![5 * MBIT, MBIT],
                    every: Duration::from_secs(10),
                },
                ..Direction::shaped(5 * MBIT, one_way)
            },
            down: Direction::shaped(16 * MBIT, one_way),
        }
    }

    /// Another continent: 150 ms round trip, 10 Mbit/s each way.
    pub fn far() -> Self {
        let dir = Direction::shaped(10 * MBIT, Duration::from_millis(75));
        Self {
            name: "far",
            up: dir.clone(),
            down: dir,
        }
    }

    pub fn all() -> Vec<Self> {
        vec![
            Self::dsl(),
            Self::lte(),
            Self::wifi_bad(),
            Self::step(),
            Self::far(),
        ]
    }

    pub fn named(name: &str) -> Option<Self> {
        Self::all().into_iter().find(|p| p.name == name)
    }
}
