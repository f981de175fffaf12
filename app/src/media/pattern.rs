//! A synthetic, moving test pattern: stands in for a screen where none is captured.

use super::frame::BgraFrame;

/// Colour bars that scroll, a box that bounces, and the frame number as a row of bits
/// (top-left, 32 cells of 8×8) so that a receiver can tell frames apart.
pub struct TestPattern {
    width: u32,
    height: u32,
    frame: u64,
}

const BARS: [[u8; 3]; 8] = [
    [235, 235, 235],
    [16, 235, 235],
    [235, 235, 16],
    [16, 235, 16],
    [235, 16, 235],
    [16, 16, 235],
    [235, 16, 16],
    [16, 16, 16],
];

impl TestPattern {
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            frame: 0,
        }
    }

    pub fn frame_number(&self) -> u64 {
        self.frame
    }

    /// Draws the next frame into `out` (which must have this pattern's size).
    pub fn draw_next(&mut self, out: &mut BgraFrame) {
        let (w, h) = (self.width as usize, self.height as usize);
        let stride = out.stride as usize;
        let shift = (self.frame as usize * 4) % w.max(1);
        let bar_w = (w / BARS.len()).max(1);
        // One row of bars, then copy it down: cheap enough for 1080p at 60 fps.
        {
            let row = &mut out.data[..w * 4];
            for x in 0..w {
                let [b, g, r] = BARS[((x + shift) / bar_w) % BARS.len()];
                row[x * 4..x * 4 + 4].copy_from_slice(&[b, g, r, 255]);
            }
        }
        for y in 1..h {
            let (head, tail) = out.data.split_at_mut(y * stride);
            tail[..w * 4].copy_from_slice(&head[..w * 4]);
        }
        // Bouncing box.
        let size = (h / 6).max(8);
        let span_x = w.saturating_sub(size).max(1);
        let span_y = h.saturating_sub(size).max(1);
        let t = self.frame as usize;
        let bx = bounce(t * 7, span_x);
        let by = bounce(t * 5, span_y);
        for y in by..(by + size).min(h) {
            let row = &mut out.data[y * stride..y * stride + w * 4];
            for x in bx..(bx + size).min(w) {
                row[x * 4..x * 4 + 4].copy_from_slice(&[40, 40, 40, 255]);
            }
        }
        // Frame counter bits.
        for bit in 0..32usize {
            let on = (self.frame >> bit) & 1 == 1;
            let v = if on { 255 } else { 0 };
            for y in 0..8.min(h) {
                for x in bit * 8..((bit + 1) * 8).min(w) {
                    out.data[y * stride + x * 4..y * stride + x * 4 + 4]
                        .copy_from_slice(&[v, v, v, 255]);
                }
            }
        }
        self.frame += 1;
    }
}

fn bounce(t: usize, span: usize) -> usize {
    let period = 2 * span;
    let p = t % period;
    if p < span {
        p
    } else {
        period - p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_differ_and_carry_their_number() {
        let mut p = TestPattern::new(320, 240);
        let mut a = BgraFrame::new(320, 240);
        let mut b = BgraFrame::new(320, 240);
        p.draw_next(&mut a);
        p.draw_next(&mut b);
        assert_ne!(a.data, b.data);
        // Frame 1: bit 0 set (white), bit 1 clear (black).
        assert_eq!(&b.data[0..4], &[255, 255, 255, 255]);
        assert_eq!(&b.data[8 * 4..8 * 4 + 4], &[0, 0, 0, 255]);
    }
}
