//! Quality control for the encoder (sans-IO): picks the quantiser for each frame so that
//! frames fit the bit budget at the wanted frame rate. When the path or the content asks for
//! more than the budget, quality gives way first (higher QP) and frame rate only when quality
//! is at its floor; when frames come in well under budget, quality climbs back step by step.
//!
//! openh264's own rate control cannot do this for screen content here: in quality mode it
//! ignores run-time bitrate changes, and in bitrate mode it needs its own frame skipping,
//! which would take the decision to drop frames away from the pipeline's pacing.

/// Sharpest quantiser used: still pictures are refined to this.
pub const QP_BEST: u8 = 20;
/// Where a new stream starts.
pub const QP_START: u8 = 26;
/// Past this, text is unreadable: the frame rate gives way instead.
pub const QP_WORST: u8 = 44;
/// Consecutive frames well under budget before quality steps up by one.
const CALM_FRAMES: u32 = 2;

#[derive(Debug, Clone)]
pub struct QualityController {
    qp: u8,
    calm: u32,
}

impl Default for QualityController {
    fn default() -> Self {
        Self {
            qp: QP_START,
            calm: 0,
        }
    }
}

impl QualityController {
    /// The quantiser for the next frame that carries a change.
    pub fn qp(&self) -> u8 {
        self.qp
    }

    /// Whether a still picture last encoded at `qp` is worth refining at [`QP_BEST`].
    pub fn worth_refining(qp: u8) -> bool {
        qp > QP_BEST + 1
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
            // +6 QP halves the bits, roughly: jump most of the way at once, so a burst of
            // motion costs one or two oversized frames, not a queue.
            let step = (6.0 * ratio.log2()).ceil().clamp(1.0, 8.0) as u8;
            self.qp = self.qp.saturating_add(step).min(QP_WORST);
            self.calm = 0;
        } else if ratio < 0.6 {
            self.calm += 1;
            if self.calm >= CALM_FRAMES {
                self.qp = self.qp.saturating_sub(1).max(QP_BEST);
                self.calm = 0;
            }
        } else {
            self.calm = 0;
        }
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
}
