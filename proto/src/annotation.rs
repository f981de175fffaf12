//! Annotations: the helper's pen strokes and laser pointer, drawn on the sharer's screen.
//! Coordinates are pixels of the monitor being shown. [`Sketch`] is the drawing both sides
//! keep (sans-IO); it takes whatever the network sends and never grows without bound.

use serde::{Deserialize, Serialize};

/// Strokes kept; the oldest goes when a new one would pass this.
pub const MAX_STROKES: usize = 256;
pub const MAX_POINTS_PER_STROKE: usize = 4096;
/// Points of all strokes together.
pub const MAX_POINTS: usize = 16_384;
/// Length of all strokes together, in monitor pixels: about fifty strokes across a 4K
/// screen. Drawing costs what the ink is long (the overlay's outline is one square per few
/// pixels of it): past this a hostile helper's zigzags are dropped, not drawn.
pub const MAX_INK: u64 = 200_000;
/// Points in one [`Annotation::StrokeTo`]; the helper sends a few at a time.
pub const MAX_POINTS_PER_MESSAGE: usize = 64;

/// A fixed palette: readable on most screens, and nothing arbitrary from the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PenColour {
    #[default]
    Red,
    Yellow,
    Blue,
    Green,
}

impl PenColour {
    pub const ALL: [PenColour; 4] = [Self::Red, Self::Yellow, Self::Blue, Self::Green];

    pub fn rgb(self) -> [u8; 3] {
        match self {
            PenColour::Red => [230, 30, 40],
            PenColour::Yellow => [250, 200, 0],
            PenColour::Blue => [20, 100, 240],
            PenColour::Green => [20, 170, 60],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Annotation {
    /// A new pen stroke at (`x`, `y`).
    StrokeStart {
        id: u32,
        colour: PenColour,
        x: u32,
        y: u32,
    },
    /// Stroke `id` goes on through these points.
    StrokeTo {
        id: u32,
        points: Vec<(u32, u32)>,
    },
    /// The laser pointer is at (`x`, `y`): shown, not kept.
    Laser {
        x: u32,
        y: u32,
    },
    LaserOff,
    /// Everything drawn goes away.
    Clear,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stroke {
    pub id: u32,
    pub colour: PenColour,
    pub points: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnotationError {
    #[error("stroke {0} was never started")]
    UnknownStroke(u32),
    #[error("{0} points in one message (at most {MAX_POINTS_PER_MESSAGE})")]
    TooManyPoints(usize),
}

/// What is drawn over one monitor of `width`×`height` pixels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sketch {
    pub strokes: Vec<Stroke>,
    pub laser: Option<(u32, u32)>,
    width: u32,
    height: u32,
    /// Points and ink length of all strokes (see [`MAX_POINTS`], [`MAX_INK`]).
    points: usize,
    ink: u64,
}

/// Length of the segment between two points, rounded up (what drawing it costs).
pub fn segment_length((ax, ay): (u32, u32), (bx, by): (u32, u32)) -> u64 {
    let (dx, dy) = (f64::from(ax) - f64::from(bx), f64::from(ay) - f64::from(by));
    dx.hypot(dy).ceil() as u64
}

fn stroke_ink(points: &[(u32, u32)]) -> u64 {
    points.windows(2).map(|w| segment_length(w[0], w[1])).sum()
}

impl Sketch {
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            ..Self::default()
        }
    }

    /// The monitor changed: what was drawn belonged to the old picture.
    pub fn resize(&mut self, width: u32, height: u32) {
        *self = Self::new(width, height);
    }

    pub fn is_empty(&self) -> bool {
        self.strokes.is_empty() && self.laser.is_none()
    }

    /// Length of everything drawn, in monitor pixels.
    pub fn ink(&self) -> u64 {
        self.ink
    }

    fn drop_stroke(&mut self, index: usize) {
        let gone = self.strokes.remove(index);
        self.points -= gone.points.len();
        self.ink -= stroke_ink(&gone.points);
    }

    fn clamp(&self, (x, y): (u32, u32)) -> (u32, u32) {
        (
            x.min(self.width.saturating_sub(1)),
            y.min(self.height.saturating_sub(1)),
        )
    }

    /// Applies one annotation; points outside the monitor are pulled to its edge.
    pub fn apply(&mut self, annotation: &Annotation) -> Result<(), AnnotationError> {
        match annotation {
            Annotation::StrokeStart { id, colour, x, y } => {
                if let Some(same) = self.strokes.iter().position(|s| s.id == *id) {
                    self.drop_stroke(same);
                }
                if self.strokes.len() >= MAX_STROKES {
                    self.drop_stroke(0);
                }
                if self.points >= MAX_POINTS {
                    return Ok(());
                }
                let start = self.clamp((*x, *y));
                self.points += 1;
                self.strokes.push(Stroke {
                    id: *id,
                    colour: *colour,
                    points: vec![start],
                });
            }
            Annotation::StrokeTo { id, points } => {
                if points.len() > MAX_POINTS_PER_MESSAGE {
                    return Err(AnnotationError::TooManyPoints(points.len()));
                }
                let clamped: Vec<_> = points.iter().map(|p| self.clamp(*p)).collect();
                let (mut points_total, mut ink) = (self.points, self.ink);
                let stroke = self
                    .strokes
                    .iter_mut()
                    .find(|s| s.id == *id)
                    .ok_or(AnnotationError::UnknownStroke(*id))?;
                // Point by point, while the stroke, all points and all ink stay in bounds.
                for p in clamped {
                    let Some(&last) = stroke.points.last() else {
                        break;
                    };
                    let length = segment_length(last, p);
                    if stroke.points.len() >= MAX_POINTS_PER_STROKE
                        || points_total >= MAX_POINTS
                        || ink + length > MAX_INK
                    {
                        break;
                    }
                    stroke.points.push(p);
                    points_total += 1;
                    ink += length;
                }
                (self.points, self.ink) = (points_total, ink);
            }
            Annotation::Laser { x, y } => self.laser = Some(self.clamp((*x, *y))),
            Annotation::LaserOff => self.laser = None,
            Annotation::Clear => {
                self.strokes.clear();
                self.laser = None;
                (self.points, self.ink) = (0, 0);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strokes_grow_and_clear() {
        let mut s = Sketch::new(100, 50);
        s.apply(&Annotation::StrokeStart {
            id: 1,
            colour: PenColour::Blue,
            x: 10,
            y: 10,
        })
        .expect("start");
        s.apply(&Annotation::StrokeTo {
            id: 1,
            points: vec![(20, 20), (500, 500)],
        })
        .expect("to");
        assert_eq!(s.strokes[0].points, vec![(10, 10), (20, 20), (99, 49)]);
        s.apply(&Annotation::Laser { x: 5, y: 6 }).expect("laser");
        assert_eq!(s.laser, Some((5, 6)));
        s.apply(&Annotation::Clear).expect("clear");
        assert!(s.is_empty());
    }

    #[test]
    fn hostile_annotations_are_bounded() {
        let mut s = Sketch::new(100, 100);
        assert_eq!(
            s.apply(&Annotation::StrokeTo {
                id: 9,
                points: vec![(1, 1)]
            }),
            Err(AnnotationError::UnknownStroke(9))
        );
        for id in 0..(MAX_STROKES as u32 + 10) {
            s.apply(&Annotation::StrokeStart {
                id,
                colour: PenColour::Red,
                x: 0,
                y: 0,
            })
            .expect("start");
        }
        assert_eq!(s.strokes.len(), MAX_STROKES);
        assert_eq!(s.strokes[0].id, 10, "the oldest went first");
        let last = MAX_STROKES as u32 + 9;
        assert!(matches!(
            s.apply(&Annotation::StrokeTo {
                id: last,
                points: vec![(1, 1); MAX_POINTS_PER_MESSAGE + 1]
            }),
            Err(AnnotationError::TooManyPoints(_))
        ));
        for _ in 0..(MAX_POINTS_PER_STROKE / MAX_POINTS_PER_MESSAGE + 2) {
            s.apply(&Annotation::StrokeTo {
                id: last,
                points: vec![(1, 1); MAX_POINTS_PER_MESSAGE],
            })
            .expect("to");
        }
        let stroke = s.strokes.last().expect("stroke");
        assert_eq!(stroke.points.len(), MAX_POINTS_PER_STROKE);
    }

    /// A helper zigzagging corner to corner of a 4K monitor in every stroke: before the ink
    /// cap that was 256 × 4096 segments of ~4400 px, a billion outline squares.
    #[test]
    fn a_zigzagging_helper_is_held_to_the_ink_budget() {
        let mut s = Sketch::new(3840, 2160);
        for id in 0..MAX_STROKES as u32 {
            s.apply(&Annotation::StrokeStart {
                id,
                colour: PenColour::Red,
                x: 0,
                y: 0,
            })
            .expect("start");
            for _ in 0..(MAX_POINTS_PER_STROKE / MAX_POINTS_PER_MESSAGE) {
                let points = (0..MAX_POINTS_PER_MESSAGE)
                    .map(|i| if i % 2 == 0 { (3839, 2159) } else { (0, 0) })
                    .collect();
                s.apply(&Annotation::StrokeTo { id, points }).expect("to");
            }
        }
        assert!(s.ink() <= MAX_INK, "{}", s.ink());
        let points: usize = s.strokes.iter().map(|st| st.points.len()).sum();
        assert!(points <= MAX_POINTS);
        assert_eq!(
            s.ink(),
            s.strokes
                .iter()
                .map(|st| stroke_ink(&st.points))
                .sum::<u64>()
        );
        // Clearing gives the whole budget back.
        s.apply(&Annotation::Clear).expect("clear");
        assert_eq!(s.ink(), 0);
        s.apply(&Annotation::StrokeStart {
            id: 1,
            colour: PenColour::Red,
            x: 0,
            y: 0,
        })
        .expect("start");
        s.apply(&Annotation::StrokeTo {
            id: 1,
            points: vec![(100, 0)],
        })
        .expect("to");
        assert_eq!(s.ink(), 100);
    }

    #[test]
    fn evicted_and_restarted_strokes_give_their_ink_back() {
        let mut s = Sketch::new(1000, 1000);
        for id in 0..(MAX_STROKES as u32 + 5) {
            s.apply(&Annotation::StrokeStart {
                id,
                colour: PenColour::Red,
                x: 0,
                y: 0,
            })
            .expect("start");
            s.apply(&Annotation::StrokeTo {
                id,
                points: vec![(10, 0)],
            })
            .expect("to");
        }
        assert_eq!(s.ink(), 10 * MAX_STROKES as u64);
        s.apply(&Annotation::StrokeStart {
            id: 7,
            colour: PenColour::Red,
            x: 0,
            y: 0,
        })
        .expect("restart");
        assert_eq!(s.ink(), 10 * (MAX_STROKES as u64 - 1));
    }

    #[test]
    fn wire_form_is_readable() {
        let json = serde_json::to_string(&Annotation::StrokeStart {
            id: 3,
            colour: PenColour::Yellow,
            x: 1,
            y: 2,
        })
        .expect("json");
        assert_eq!(
            json,
            r#"{"op":"stroke_start","id":3,"colour":"yellow","x":1,"y":2}"#
        );
    }
}
