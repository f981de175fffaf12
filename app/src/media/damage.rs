//! Which parts of the screen changed since the last frame, by hashing 64×64 tiles (xxh3).
//! An unchanged screen costs one pass of hashing and nothing is encoded or sent; when the
//! capture says which parts it wrote, only the tiles under them are hashed.

use xxhash_rust::xxh3::Xxh3;

use super::frame::BgraFrame;

pub const TILE: u32 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub changed_tiles: usize,
    pub total_tiles: usize,
    /// Bounding box of the changed tiles, `None` when nothing changed.
    pub bounds: Option<Rect>,
}

impl Damage {
    pub fn is_empty(&self) -> bool {
        self.changed_tiles == 0
    }
}

#[derive(Default)]
pub struct DamageTracker {
    width: u32,
    height: u32,
    hashes: Vec<u64>,
    /// Which tiles this update looks at (kept between frames: no allocation per frame).
    look: Vec<bool>,
}

impl DamageTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget the previous frame: the next one counts as entirely changed.
    pub fn reset(&mut self) {
        self.hashes.clear();
    }

    pub fn update(&mut self, frame: &BgraFrame) -> Damage {
        self.update_in(frame, None)
    }

    /// Like [`Self::update`] when only `written` parts of `frame` can differ from the last
    /// frame (the rest was left as it was): only the tiles under them are hashed. `None`:
    /// the whole frame may have changed. A new size, or the first frame after
    /// [`Self::reset`], is hashed whole whatever `written` says.
    pub fn update_in(&mut self, frame: &BgraFrame, written: Option<&[Rect]>) -> Damage {
        let cols = frame.width.div_ceil(TILE);
        let rows = frame.height.div_ceil(TILE);
        let total = (cols * rows) as usize;
        let fresh =
            self.width != frame.width || self.height != frame.height || self.hashes.len() != total;
        if fresh {
            self.width = frame.width;
            self.height = frame.height;
            self.hashes = vec![0; total];
        }
        // The tiles to look at: every one, or those under a written part.
        let mut look = std::mem::take(&mut self.look);
        look.clear();
        look.resize(total, written.is_none() || fresh);
        if let (Some(parts), false) = (written, fresh) {
            for r in parts {
                let (c0, r0) = (r.x / TILE, r.y / TILE);
                let c1 = (r.x.saturating_add(r.width)).div_ceil(TILE).min(cols);
                let r1 = (r.y.saturating_add(r.height)).div_ceil(TILE).min(rows);
                for row in r0..r1 {
                    for col in c0..c1 {
                        look[(row * cols + col) as usize] = true;
                    }
                }
            }
        }
        let stride = frame.stride as usize;
        let mut changed = 0usize;
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0u32, 0u32);
        for row in 0..rows {
            let top = row * TILE;
            let bottom = (top + TILE).min(frame.height);
            for col in 0..cols {
                if !look[(row * cols + col) as usize] {
                    continue;
                }
                let left = col * TILE;
                let right = (left + TILE).min(frame.width);
                let mut hasher = Xxh3::new();
                for y in top..bottom {
                    let start = y as usize * stride + left as usize * 4;
                    let end = y as usize * stride + right as usize * 4;
                    hasher.update(&frame.data[start..end]);
                }
                let h = hasher.digest();
                let slot = &mut self.hashes[(row * cols + col) as usize];
                if fresh || *slot != h {
                    *slot = h;
                    changed += 1;
                    x0 = x0.min(left);
                    y0 = y0.min(top);
                    x1 = x1.max(right);
                    y1 = y1.max(bottom);
                }
            }
        }
        self.look = look;
        Damage {
            changed_tiles: changed,
            total_tiles: total,
            bounds: (changed > 0).then(|| Rect {
                x: x0,
                y: y0,
                width: x1 - x0,
                height: y1 - y0,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exactly_the_changed_tiles() {
        let mut frame = BgraFrame::new(200, 130);
        let mut tracker = DamageTracker::new();
        let first = tracker.update(&frame);
        assert_eq!(first.changed_tiles, 4 * 3);
        assert!(tracker.update(&frame).is_empty());

        // One pixel in the tile at column 2, row 1.
        let (x, y) = (150usize, 70usize);
        frame.data[y * frame.stride as usize + x * 4] = 255;
        let d = tracker.update(&frame);
        assert_eq!(d.changed_tiles, 1);
        assert_eq!(
            d.bounds,
            Some(Rect {
                x: 128,
                y: 64,
                width: 64,
                height: 64
            })
        );
        // The ragged edge tile (right column is 8 px wide) is tracked too.
        frame.data[129 * frame.stride as usize + 199 * 4 + 1] = 9;
        let d = tracker.update(&frame);
        assert_eq!(d.changed_tiles, 1);
        assert_eq!(
            d.bounds.map(|b| (b.x, b.y, b.width, b.height)),
            Some((192, 128, 8, 2))
        );

        tracker.reset();
        assert_eq!(tracker.update(&frame).changed_tiles, 12);
    }

    #[test]
    fn with_written_parts_only_the_tiles_under_them_are_looked_at() {
        let mut frame = BgraFrame::new(256, 128);
        let mut tracker = DamageTracker::new();
        let part = |x, y, width, height| Rect {
            x,
            y,
            width,
            height,
        };
        // A first frame is hashed whole, whatever the capture says it wrote.
        assert_eq!(tracker.update_in(&frame, Some(&[])).changed_tiles, 8);
        let poke = |frame: &mut BgraFrame, x: usize, y: usize| {
            frame.data[y * frame.stride as usize + x * 4] ^= 0xff;
        };
        // Written: a part straddling the tiles at columns 0-1 of row 0. A change there is
        // found; one elsewhere is, by the contract, not written and so not looked for.
        poke(&mut frame, 70, 10);
        poke(&mut frame, 200, 100);
        let d = tracker.update_in(&frame, Some(&[part(60, 5, 10, 10)]));
        assert_eq!(d.changed_tiles, 1);
        assert_eq!(d.bounds, Some(part(64, 0, 64, 64)));
        // Nothing written: nothing changed.
        assert!(tracker.update_in(&frame, Some(&[])).is_empty());
        // The whole frame: the other change is found now.
        let d = tracker.update_in(&frame, None);
        assert_eq!(d.bounds, Some(part(192, 64, 64, 64)));
        // A part reaching past the frame's edge is clipped, not a panic.
        poke(&mut frame, 255, 127);
        let d = tracker.update_in(&frame, Some(&[part(250, 120, 1000, 1000)]));
        assert_eq!(d.changed_tiles, 1);
    }
}
