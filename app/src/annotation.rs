//! Annotations: the helper's pen strokes and laser pointer, drawn on the sharer's screen.
//! Coordinates are pixels of the monitor being shown. [`Sketch`] is the drawing both sides
//! keep (sans-IO); it takes whatever the network sends and never grows without bound.

use serde::{Deserialize, Serialize};

/// Strokes kept; the oldest goes when a new one would pass this.
pub const MAX_STROKES: usize = 256;
pub const MAX_POINTS_PER_STROKE: usize = 4096;
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
                if self.strokes.len() >= MAX_STROKES {
                    self.strokes.remove(0);
                }
                let start = self.clamp((*x, *y));
                self.strokes.retain(|s| s.id != *id);
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
                let stroke = self
                    .strokes
                    .iter_mut()
                    .find(|s| s.id == *id)
                    .ok_or(AnnotationError::UnknownStroke(*id))?;
                let room = MAX_POINTS_PER_STROKE.saturating_sub(stroke.points.len());
                stroke.points.extend(clamped.into_iter().take(room));
            }
            Annotation::Laser { x, y } => self.laser = Some(self.clamp((*x, *y))),
            Annotation::LaserOff => self.laser = None,
            Annotation::Clear => {
                self.strokes.clear();
                self.laser = None;
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
