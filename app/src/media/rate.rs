//! Quality control for the encoder (sans-IO): picks the quantiser and the picture size for
//! each frame so that frames fit the bit budget at the wanted frame rate. When the path or
//! the content asks for more than the budget, quality gives way first (higher QP), then the
//! picture size (fewer pixels, shown stretched on the helper), and the frame rate only when
//! both are at their floor; when frames come in well under budget, quality climbs back step
//! by step and then the size.
//!
//! openh264's own rate control cannot do this for screen content here: in quality mode it
//! ignores run-time bitrate changes, and in bitrate mode it needs its own frame skipping,
//! which would take the decision to drop frames away from the pipeline's pacing.

/// Sharpest quantiser used: still pictures are refined to this.
pub const QP_BEST: u8 = 20;
/// Where a new stream starts.
pub const QP_START: u8 = 26;
/// Past this, text is unreadable: the picture size and then the frame rate give way instead.
pub const QP_WORST: u8 = 44;
/// While the picture is scaled down, quality climbs no further than this: pixels matter more
/// for a screen than a finer quantiser, so spare bits go to size first.
pub const QP_SCALED_FLOOR: u8 = 30;
/// The picture is never coded at less than 1/4 of the screen's width and height.
pub const MAX_DIVISOR: u32 = 4;
/// Nor narrower than this (a small screen is not shrunk to a stamp).
const MIN_SCALED_WIDTH: u32 = 320;
/// Consecutive frames well under budget before quality steps up by one.
const CALM_FRAMES: u32 = 2;
/// Frames over budget at the worst quantiser before the picture shrinks (one is enough when
/// it is far over).
const STRAINED_FRAMES: u32 = 2;
/// The picture shrinks only once quality has mostly given way: from this quantiser on (or
/// when a frame would be far over budget even at the worst). A single busy frame (a window
/// opening, a scene cut) at a fine quantiser says nothing about sustained motion.
const SHRINK_FROM_QP: u8 = QP_WORST - 6;
/// Consecutive frames that would fit at the next larger size, at this quantiser, before the
/// picture grows (between it and `SHRINK_FROM_QP`'s overshoot lies the hysteresis).
const GROW_AT_QP: u8 = QP_WORST - 6;
const ROOMY_FRAMES: u32 = 10;
/// What a frame is aimed at after a size change, as a share of its budget.
const AIM: f64 = 0.8;

/// The coded size for a screen of `width`×`height` at `divisor` (even, as H.264 4:2:0 needs).
pub fn scaled_size(width: u32, height: u32, divisor: u32) -> (u32, u32) {
    let divisor = divisor.clamp(1, (width / MIN_SCALED_WIDTH).max(1));
    if divisor == 1 {
        return (width, height);
    }
    ((width / divisor) & !1, (height / divisor) & !1)
}

/// How the bits of a frame change with the quantiser: +6 QP halves them, roughly.
fn qp_factor(from: u8, to: u8) -> f64 {
    2f64.powf(-(f64::from(to) - f64::from(from)) / 6.0)
}

#[derive(Debug, Clone)]
pub struct QualityController {
    qp: u8,
    divisor: u32,
    calm: u32,
    strained: u32,
    roomy: u32,
}

impl Default for QualityController {
    fn default() -> Self {
        Self {
            qp: QP_START,
            divisor: 1,
            calm: 0,
            strained: 0,
            roomy: 0,
        }
    }
}

impl QualityController {
    /// The quantiser for the next frame that carries a change.
    pub fn qp(&self) -> u8 {
        self.qp
    }

    /// The picture is coded at 1/`divisor` of the screen's width and height (see
    /// [`scaled_size`]).
    pub fn divisor(&self) -> u32 {
        self.divisor
    }

    /// Whether a still picture last encoded at `qp` is worth refining at [`QP_BEST`].
    pub fn worth_refining(qp: u8) -> bool {
        qp > QP_BEST + 1
    }

    fn floor(&self) -> u8 {
        if self.divisor > 1 {
            QP_SCALED_FLOOR
        } else {
            QP_BEST
        }
    }

    /// Feeds back the size of a frame that carried a change (not a keyframe, not a
    /// refinement: both are expected to be larger and say nothing about the motion).
    /// `target_bits` is what one frame may use at the wanted frame rate.
    pub fn observe(&mut self, bits: usize, target_bits: f64) {
        if target_bits <= 0.0 {
            return;
        }
        let ratio = bits as f64 / target_bits;
        if ratio > 1.2 {
            self.calm = 0;
            self.roomy = 0;
            // What this frame would have cost at the worst quantiser.
            let at_worst = ratio * qp_factor(self.qp, QP_WORST);
            // Far over budget even at the worst quantiser (noise, full-screen video): no use
            // climbing there first, each oversized frame costs seconds of budget.
            let hopeless = at_worst > 4.0;
            if at_worst > 1.2
                && (self.qp >= SHRINK_FROM_QP || hopeless)
                && self.divisor < MAX_DIVISOR
            {
                self.strained += 1;
                if self.strained >= STRAINED_FRAMES || at_worst > 2.0 {
                    self.shrink(at_worst);
                    return;
                }
            } else {
                self.strained = 0;
            }
            // Jump most of the way at once, so a burst of motion costs one or two oversized
            // frames, not a queue.
            let step = (6.0 * ratio.log2()).ceil().clamp(1.0, 8.0) as u8;
            self.qp = self.qp.saturating_add(step).min(QP_WORST);
            return;
        }
        self.strained = 0;
        if self.divisor > 1 {
            // Pixels scale the bits with the area.
            let larger = f64::from(self.divisor) / f64::from(self.divisor - 1);
            if ratio * larger * larger * qp_factor(self.qp, GROW_AT_QP) < AIM {
                self.roomy += 1;
                if self.roomy >= ROOMY_FRAMES {
                    self.divisor -= 1;
                    self.roomy = 0;
                    self.calm = 0;
                    return;
                }
            } else {
                self.roomy = 0;
            }
        }
        if ratio < 0.6 {
            self.calm += 1;
            if self.calm >= CALM_FRAMES {
                self.qp = self.qp.saturating_sub(1).max(self.floor());
                self.calm = 0;
            }
        } else {
            self.calm = 0;
        }
    }

    /// Fewer pixels: enough, by the area, for a frame that cost `at_worst` budgets at the
    /// worst quantiser; the quantiser is then set for the new size.
    fn shrink(&mut self, at_worst: f64) {
        let wanted = (f64::from(self.divisor) * at_worst.sqrt()).ceil() as u32;
        let divisor = wanted.clamp(self.divisor + 1, MAX_DIVISOR);
        let area = f64::from(self.divisor) / f64::from(divisor);
        let expected = at_worst * area * area;
        // Back off from the worst quantiser as far as the smaller picture pays for.
        let spare = (6.0 * (AIM / expected).log2()).floor().clamp(0.0, 255.0) as u8;
        self.divisor = divisor;
        self.qp = QP_WORST.saturating_sub(spare).max(QP_SCALED_FLOOR);
        self.strained = 0;
        self.calm = 0;
        self.roomy = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_frames_raise_qp_in_proportion() {
        let mut q = QualityController::default();
        q.observe(4_000, 1_000.0); // 4× over: about +12
        assert_eq!(q.qp(), QP_START + 8, "one step is capped");
        let mut q = QualityController::default();
        q.observe(1_500, 1_000.0);
        assert_eq!(q.qp(), QP_START + 4);
        let mut q = QualityController::default();
        q.observe(1_100, 1_000.0);
        assert_eq!(q.qp(), QP_START, "within tolerance: no change");
    }

    #[test]
    fn quality_climbs_back_slowly_and_stops_at_the_best() {
        let mut q = QualityController::default();
        for _ in 0..10 {
            q.observe(100_000, 1_000.0);
        }
        assert_eq!(q.qp(), QP_WORST, "never past the worst");
        q.observe(100, 1_000.0);
        assert_eq!(q.qp(), QP_WORST, "one calm frame is not enough");
        q.observe(100, 1_000.0);
        assert_eq!(q.qp(), QP_WORST - 1);
        for _ in 0..200 {
            q.observe(100, 1_000.0);
        }
        assert_eq!(q.qp(), QP_BEST);
        // A frame in the comfortable band interrupts the calm streak.
        let mut q = QualityController::default();
        q.observe(100, 1_000.0);
        q.observe(900, 1_000.0);
        q.observe(100, 1_000.0);
        assert_eq!(q.qp(), QP_START);
    }

    #[test]
    fn refinement_only_when_it_would_sharpen() {
        assert!(QualityController::worth_refining(QP_START));
        assert!(!QualityController::worth_refining(QP_BEST));
        assert!(!QualityController::worth_refining(QP_BEST + 1));
    }

    #[test]
    fn no_budget_means_no_decision() {
        let mut q = QualityController::default();
        q.observe(10, 0.0);
        assert_eq!(q.qp(), QP_START);
    }

    #[test]
    fn motion_that_quality_cannot_pay_for_shrinks_the_picture() {
        let mut q = QualityController::default();
        // A busy frame at a fine quantiser (a window opening: 3 budgets at QP 44 by the
        // model): quality gives way first, the size stays.
        q.observe(24_000, 1_000.0);
        assert_eq!((q.qp(), q.divisor()), (QP_START + 8, 1));
        // From QP 38 on, it is plain that even the worst quantiser cannot pay: fewer pixels.
        q.observe(12_000, 1_000.0);
        assert_eq!(q.divisor(), 1);
        q.observe(5_000, 1_000.0);
        assert!(q.divisor() > 1);
        assert!((QP_SCALED_FLOOR..=QP_WORST).contains(&q.qp()));
        // Still far too much: the picture shrinks to its smallest, not further.
        for _ in 0..10 {
            q.observe(20_000, 1_000.0);
        }
        assert_eq!(q.divisor(), MAX_DIVISOR);
        assert_eq!(q.qp(), QP_WORST, "then only the frame rate is left");
    }

    #[test]
    fn a_frame_hopeless_even_at_the_worst_quantiser_shrinks_at_once() {
        let mut q = QualityController::default();
        // Noise: 150 budgets at QP 26, ~19 at QP 44.
        q.observe(150_000, 1_000.0);
        assert_eq!(q.divisor(), MAX_DIVISOR);
    }

    #[test]
    fn a_slight_overshoot_at_the_worst_quantiser_needs_two_frames() {
        let mut q = QualityController::default();
        for _ in 0..10 {
            q.observe(1_300, 1_000.0);
            if q.qp() == QP_WORST {
                break;
            }
        }
        assert_eq!((q.qp(), q.divisor()), (QP_WORST, 1));
        q.observe(1_300, 1_000.0);
        assert_eq!(q.divisor(), 1, "one frame over is not a trend");
        q.observe(1_300, 1_000.0);
        assert_eq!(q.divisor(), 2);
        // A quarter of the pixels: the bits allow a finer quantiser than the worst.
        assert!(q.qp() < QP_WORST, "qp {}", q.qp());
    }

    fn shrunk_to_the_smallest() -> QualityController {
        let mut q = QualityController::default();
        while q.divisor() < MAX_DIVISOR {
            q.observe(100_000, 1_000.0);
        }
        assert_eq!(q.qp(), QP_WORST);
        q
    }

    #[test]
    fn the_picture_grows_back_when_it_would_fit() {
        let mut q = shrunk_to_the_smallest();
        // Frames that fit at this size but would not at the next: nothing changes.
        for _ in 0..100 {
            q.observe(700, 1_000.0);
        }
        assert_eq!((q.qp(), q.divisor()), (QP_WORST, MAX_DIVISOR));
        // Cheap frames: the picture grows one step per streak, back to full size.
        for _ in 0..ROOMY_FRAMES * 3 {
            q.observe(100, 1_000.0);
        }
        assert_eq!(q.divisor(), 1);
        // At full size quality climbs on to the best.
        for _ in 0..200 {
            q.observe(100, 1_000.0);
        }
        assert_eq!(q.qp(), QP_BEST);
    }

    #[test]
    fn while_scaled_quality_stops_at_the_scaled_floor() {
        let mut q = QualityController::default();
        while q.divisor() == 1 {
            q.observe(1_300, 1_000.0);
        }
        assert_eq!(q.divisor(), 2);
        // Calm enough to sharpen, not cheap enough to grow: at full size these would cost
        // 0.55 × 4 × 2^((30 − 38) / 6) ≈ 0.87 of the budget even at QP 38.
        for _ in 0..200 {
            q.observe(550, 1_000.0);
        }
        assert_eq!((q.qp(), q.divisor()), (QP_SCALED_FLOOR, 2));
    }

    #[test]
    fn an_oversized_frame_interrupts_growing() {
        let mut q = shrunk_to_the_smallest();
        for _ in 0..ROOMY_FRAMES - 1 {
            q.observe(10, 1_000.0);
        }
        q.observe(1_500, 1_000.0);
        for _ in 0..ROOMY_FRAMES - 1 {
            q.observe(10, 1_000.0);
        }
        assert_eq!(q.divisor(), MAX_DIVISOR);
    }

    #[test]
    fn scaled_sizes_are_even_and_not_tiny() {
        assert_eq!(scaled_size(1920, 1080, 1), (1920, 1080));
        assert_eq!(scaled_size(1920, 1080, 2), (960, 540));
        assert_eq!(scaled_size(1920, 1080, 3), (640, 360));
        assert_eq!(scaled_size(1920, 1080, 4), (480, 270 & !1));
        assert_eq!(scaled_size(1366, 768, 3), (454, 256));
        assert_eq!(
            scaled_size(640, 480, 4),
            (320, 240),
            "at most down to 320 wide"
        );
        assert_eq!(scaled_size(320, 240, 4), (320, 240));
    }
}
