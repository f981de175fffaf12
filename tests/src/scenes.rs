//! Deterministic desktop-like frames for benchmarks: what a shared screen does in practice.

/// A frame sequence generator (BGRA, fixed size).
pub struct Scene {
    pub kind: SceneKind,
    pub width: u32,
    pub height: u32,
    base: Vec<u8>,
    document: Vec<u8>,
    frame: u64,
    rng: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SceneKind {
    /// Nothing moves.
    Idle,
    /// About ten characters a second appear in a terminal window.
    Typing,
    /// A full-screen document scrolls by 4 px a frame (120 px/s at 30 fps).
    Scrolling,
    /// Every pixel changes every frame (video, worst case).
    FullMotion,
}

impl SceneKind {
    pub const ALL: [SceneKind; 4] = [
        SceneKind::Idle,
        SceneKind::Typing,
        SceneKind::Scrolling,
        SceneKind::FullMotion,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SceneKind::Idle => "idle desktop",
            SceneKind::Typing => "typing in a terminal",
            SceneKind::Scrolling => "full-screen scrolling",
            SceneKind::FullMotion => "full motion (worst case)",
        }
    }
}

fn glyph_on(c: u32, gx: u32, gy: u32) -> bool {
    // A pseudo-glyph: 6×10 strokes that differ per character code.
    let h = c.wrapping_mul(2_654_435_761) ^ (gx * 7 + gy * 13);
    gx > 0 && gx < 7 && gy > 2 && gy < 13 && (h >> 5) % 3 == 0
}

/// Text colours: foreground, background (RGB).
struct Ink {
    fg: [u8; 3],
    bg: [u8; 3],
}

/// Fills the rectangle (x0, y0, w, h) with lines of pseudo-text.
fn draw_text_block(
    buf: &mut [u8],
    width: u32,
    (x0, y0, w, h): (u32, u32, u32, u32),
    seed: u32,
    ink: Ink,
) {
    let Ink { fg, bg } = ink;
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            let (col, row) = ((x - x0) / 8, (y - y0) / 16);
            // Lines of varying length, like prose.
            let line_len = 40 + (row.wrapping_mul(37) + seed) % 60;
            let c = if col < line_len {
                row * 131 + col + seed
            } else {
                0
            };
            let on = c != 0 && glyph_on(c, (x - x0) % 8, (y - y0) % 16);
            let px = if on { fg } else { bg };
            let i = ((y * width + x) * 4) as usize;
            buf[i..i + 4].copy_from_slice(&[px[2], px[1], px[0], 255]);
        }
    }
}

impl Scene {
    pub fn new(kind: SceneKind, width: u32, height: u32) -> Self {
        let mut base = vec![0u8; (width * height * 4) as usize];
        // Desktop: a soft gradient, a window with text, a taskbar.
        for y in 0..height {
            for x in 0..width {
                let i = ((y * width + x) * 4) as usize;
                base[i..i + 4].copy_from_slice(&[
                    (90 + y * 80 / height) as u8,
                    (60 + x * 40 / width) as u8,
                    40,
                    255,
                ]);
            }
        }
        let (ww, wh) = (width * 2 / 3, height * 2 / 3);
        draw_text_block(
            &mut base,
            width,
            (width / 8, height / 8, ww, wh),
            1,
            Ink {
                fg: [20, 20, 20],
                bg: [250, 250, 250],
            },
        );
        for y in height - 40..height {
            for x in 0..width {
                let i = ((y * width + x) * 4) as usize;
                base[i..i + 4].copy_from_slice(&[48, 40, 36, 255]);
            }
        }
        // A tall document for scrolling: three screens of text.
        let doc_h = height * 3;
        let mut document = vec![0u8; (width * doc_h * 4) as usize];
        draw_text_block(
            &mut document,
            width,
            (0, 0, width, doc_h),
            7,
            Ink {
                fg: [30, 30, 30],
                bg: [255, 255, 255],
            },
        );
        Self {
            kind,
            width,
            height,
            base,
            document,
            frame: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// Writes the next frame into `out` (BGRA, this scene's size); returns the rows that
    /// changed (`start..end`), empty when nothing did.
    pub fn next(&mut self, out: &mut [u8]) -> std::ops::Range<u32> {
        let (w, h) = (self.width, self.height);
        let first = self.frame == 0;
        let mut dirty = 0..0;
        match self.kind {
            SceneKind::Idle => {
                if first {
                    out.copy_from_slice(&self.base);
                    dirty = 0..h;
                }
            }
            SceneKind::Typing => {
                if first {
                    out.copy_from_slice(&self.base);
                    dirty = 0..h;
                }
                // One character every third frame, in a terminal at the bottom left.
                if self.frame % 3 == 0 {
                    let n = (self.frame / 3) as u32;
                    let cols = (w / 3) / 8;
                    let (cx, cy) = (n % cols, (n / cols) % 12);
                    let (x0, y0) = (w / 10 + cx * 8, h * 3 / 5 + cy * 16);
                    if !first {
                        dirty = y0..y0 + 16;
                    }
                    for y in y0..y0 + 16 {
                        for x in x0..x0 + 8 {
                            let on = glyph_on(n + 11, x - x0, y - y0);
                            let v = if on { 220 } else { 24 };
                            let i = ((y * w + x) * 4) as usize;
                            out[i..i + 4].copy_from_slice(&[v, v, v, 255]);
                        }
                    }
                }
            }
            SceneKind::Scrolling => {
                let doc_h = h * 3;
                let offset = ((self.frame * 4) % u64::from(doc_h - h)) as u32;
                let row = (w * 4) as usize;
                let start = (offset * w * 4) as usize;
                out.copy_from_slice(&self.document[start..start + row * h as usize]);
                dirty = 0..h;
            }
            SceneKind::FullMotion => {
                for px in out.chunks_exact_mut(8) {
                    // xorshift: cheap, reproducible noise.
                    self.rng ^= self.rng << 13;
                    self.rng ^= self.rng >> 7;
                    self.rng ^= self.rng << 17;
                    let b = self.rng.to_le_bytes();
                    px.copy_from_slice(&[b[0], b[1], b[2], 255, b[3], b[4], b[5], 255]);
                }
                dirty = 0..h;
            }
        }
        self.frame += 1;
        dirty
    }
}

/// A frame counter drawn as 24 black/white cells of 16×16 px in the top-left corner, big
/// enough to survive compression (and a 4× shrink): 20 bits of counter and a 4-bit check,
/// so a cell misread in a blurry picture is dropped rather than taken for another frame.
pub const STAMP_BITS: u32 = 24;
pub const STAMP_CELL: u32 = 16;
const STAMP_VALUE_BITS: u32 = 20;

fn stamp_check(value: u32) -> u32 {
    (value ^ (value >> 4) ^ (value >> 8) ^ (value >> 12) ^ (value >> 16)) & 0xf
}

/// Draws `value` (modulo 2²⁰) into a BGRA/RGBA buffer `width` pixels wide.
pub fn stamp(out: &mut [u8], width: u32, value: u32) {
    let value = value & ((1 << STAMP_VALUE_BITS) - 1);
    let word = value | (stamp_check(value) << STAMP_VALUE_BITS);
    for bit in 0..STAMP_BITS {
        let v = if (word >> bit) & 1 == 1 { 255 } else { 0 };
        for y in 0..STAMP_CELL {
            for x in bit * STAMP_CELL..(bit + 1) * STAMP_CELL {
                let i = ((y * width + x) * 4) as usize;
                out[i..i + 4].copy_from_slice(&[v, v, v, 255]);
            }
        }
    }
}

/// Reads a stamp back from a decoded RGBA picture `width` pixels wide that shows a screen
/// `screen_width` wide (smaller when the picture was coded scaled down): the centre pixel
/// of each cell. `None` when the check does not match.
pub fn read_stamp(rgba: &[u8], width: u32, screen_width: u32) -> Option<u32> {
    let scale = f64::from(width) / f64::from(screen_width.max(1));
    let mut word = 0;
    for bit in 0..STAMP_BITS {
        let centre = |v: u32| (f64::from(v) * scale) as u32;
        let (x, y) = (
            centre(bit * STAMP_CELL + STAMP_CELL / 2),
            centre(STAMP_CELL / 2),
        );
        let i = ((y * width + x) * 4) as usize;
        if rgba.get(i + 1).copied().unwrap_or(0) > 128 {
            word |= 1 << bit;
        }
    }
    let value = word & ((1 << STAMP_VALUE_BITS) - 1);
    (word >> STAMP_VALUE_BITS == stamp_check(value)).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_reads_back_at_full_and_quarter_size() {
        let width = 640;
        let mut full = vec![0u8; (width * 32 * 4) as usize];
        stamp(&mut full, width, 0xabcde);
        assert_eq!(read_stamp(&full, width, width), Some(0xabcde));
        // A 4× box shrink of the first 16 rows.
        let small_w = width / 4;
        let mut small = vec![0u8; (small_w * 4 * 4) as usize];
        for y in 0..4 {
            for x in 0..small_w {
                let src = ((y * 4 * width + x * 4) * 4) as usize;
                let dst = ((y * small_w + x) * 4) as usize;
                small[dst..dst + 4].copy_from_slice(&full[src..src + 4]);
            }
        }
        assert_eq!(read_stamp(&small, small_w, width), Some(0xabcde));
        // One flipped cell fails the check.
        let cell = (STAMP_CELL / 2 * width + 3 * STAMP_CELL + STAMP_CELL / 2) as usize * 4;
        full[cell + 1] = 255 - full[cell + 1];
        assert_eq!(read_stamp(&full, width, width), None);
    }
}
