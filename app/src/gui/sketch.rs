//! Drawing annotations: the canvas layer both windows use (over the helper's picture, and
//! in the sharer's overlay), and the outline of a sketch as rectangles for a shaped overlay
//! window where no compositor makes transparency possible.

use iced::widget::canvas::{self, Frame, Geometry, LineCap, LineJoin, Path, Stroke};
use iced::{mouse, Color, Point, Rectangle, Renderer, Theme};

use crate::annotation::{PenColour, Sketch};
use crate::input::view::ViewTransform;

/// Pen width and laser dot radius, in the sharer's pixels.
pub const PEN_WIDTH: f32 = 5.0;
pub const LASER_RADIUS: f32 = 9.0;

pub fn colour(c: PenColour) -> Color {
    let [r, g, b] = c.rgb();
    Color::from_rgb8(r, g, b)
}

const LASER: Color = Color::from_rgba(1.0, 0.05, 0.1, 0.85);

/// Draws `sketch` mapped through `transform` (monitor pixels → view).
pub struct SketchLayer<'a> {
    pub sketch: &'a Sketch,
    pub transform: ViewTransform,
    /// Drawn into a window cut to [`outline`]: paint past the outline's edges, so the cut
    /// itself is the edge and nothing of the window's own background shows.
    pub shaped: bool,
}

/// Wide enough to cover the outline's squares even across their corners.
const SHAPED_PEN_WIDTH: f32 = 12.0;

impl<Message> canvas::Program<Message> for SketchLayer<'_> {
    type State = ();

    fn draw(
        &self,
        _state: &(),
        renderer: &Renderer,
        _theme: &Theme,
        bounds: Rectangle,
        _cursor: mouse::Cursor,
    ) -> Vec<Geometry> {
        let mut frame = Frame::new(renderer, bounds.size());
        let scale = self.transform.scale() as f32;
        let pen = if self.shaped {
            SHAPED_PEN_WIDTH
        } else {
            PEN_WIDTH
        };
        let at = |(x, y): (u32, u32)| {
            let (vx, vy) = self
                .transform
                .to_view(f64::from(x) + 0.5, f64::from(y) + 0.5);
            Point::new(vx as f32, vy as f32)
        };
        for stroke in &self.sketch.strokes {
            let Some((first, rest)) = stroke.points.split_first() else {
                continue;
            };
            let path = if rest.is_empty() {
                Path::circle(at(*first), pen * scale / 2.0)
            } else {
                Path::new(|b| {
                    b.move_to(at(*first));
                    for p in rest {
                        b.line_to(at(*p));
                    }
                })
            };
            if rest.is_empty() {
                frame.fill(&path, colour(stroke.colour));
            } else {
                frame.stroke(
                    &path,
                    Stroke::default()
                        .with_color(colour(stroke.colour))
                        .with_width(pen * scale)
                        .with_line_cap(LineCap::Round)
                        .with_line_join(LineJoin::Round),
                );
            }
        }
        if let Some(p) = self.sketch.laser {
            let r = LASER_RADIUS * scale.max(0.5);
            let dot = if self.shaped {
                let c = at(p);
                Path::rectangle(
                    Point::new(c.x - r - 1.0, c.y - r - 1.0),
                    iced::Size::new(2.0 * r + 2.0, 2.0 * r + 2.0),
                )
            } else {
                Path::circle(at(p), r)
            };
            frame.fill(&dot, LASER);
        }
        vec![frame.into_geometry()]
    }
}

/// A rectangle of the overlay's outline: x, y, width, height.
pub type OutlineRect = (i16, i16, u16, u16);

const HALF: i32 = (PEN_WIDTH / 2.0) as i32 + 2;

fn square(x: f32, y: f32) -> OutlineRect {
    let clamp = |v: i32| v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
    let side = (2 * HALF) as u16;
    (clamp(x as i32 - HALF), clamp(y as i32 - HALF), side, side)
}

/// Squares of the pen's width stepped along `points` from index `from` on (the squares
/// for the points before it are already there).
fn stroke_squares(points: &[(u32, u32)], from: usize, out: &mut Vec<OutlineRect>) {
    for i in from..points.len() {
        let (x, y) = (points[i].0 as f32, points[i].1 as f32);
        match i.checked_sub(1).map(|p| points[p]) {
            Some((px, py)) => {
                let (px, py) = (px as f32, py as f32);
                let steps = ((x - px).hypot(y - py) / HALF as f32).ceil().max(1.0) as usize;
                for step in 1..=steps {
                    let f = step as f32 / steps as f32;
                    out.push(square(px + (x - px) * f, py + (y - py) * f));
                }
            }
            None => out.push(square(x, y)),
        }
    }
}

fn laser_box((x, y): (u32, u32)) -> OutlineRect {
    let r = LASER_RADIUS.ceil() as i32;
    let clamp = |v: i32| v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
    (
        clamp(x as i32 - r),
        clamp(y as i32 - r),
        (2 * r) as u16,
        (2 * r) as u16,
    )
}

/// Rectangles covering everything `sketch` draws (one monitor pixel = one window pixel):
/// squares of the pen's width stepped along every segment, and the laser dot's box. How
/// many is bounded by the sketch's ink budget ([`crate::annotation::MAX_INK`]).
pub fn outline(sketch: &Sketch) -> Vec<OutlineRect> {
    OutlineCache::default().update(sketch)
}

/// The outline kept as the sketch grows: a message that adds a few points steps only the
/// new segments, instead of every stroke again.
#[derive(Debug, Default)]
pub struct OutlineCache {
    strokes: std::collections::HashMap<u32, StrokeOutline>,
}

/// One stroke's part of the outline: its first point, the points covered, their squares.
type StrokeOutline = ((u32, u32), usize, Vec<OutlineRect>);

impl OutlineCache {
    pub fn update(&mut self, sketch: &Sketch) -> Vec<OutlineRect> {
        self.strokes
            .retain(|id, _| sketch.strokes.iter().any(|s| s.id == *id));
        let mut all = Vec::new();
        for stroke in &sketch.strokes {
            let Some(&first) = stroke.points.first() else {
                continue;
            };
            let entry = self
                .strokes
                .entry(stroke.id)
                .or_insert_with(|| (first, 0, Vec::new()));
            // A stroke started again under the same id is a new stroke.
            if entry.0 != first || entry.1 > stroke.points.len() {
                *entry = (first, 0, Vec::new());
            }
            stroke_squares(&stroke.points, entry.1, &mut entry.2);
            entry.1 = stroke.points.len();
            all.extend_from_slice(&entry.2);
        }
        all.extend(sketch.laser.map(laser_box));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotation::Annotation;

    #[test]
    fn the_outline_covers_the_stroke_and_nothing_far_away() {
        let mut s = Sketch::new(200, 200);
        s.apply(&Annotation::StrokeStart {
            id: 1,
            colour: PenColour::Red,
            x: 10,
            y: 100,
        })
        .expect("start");
        s.apply(&Annotation::StrokeTo {
            id: 1,
            points: vec![(110, 100)],
        })
        .expect("to");
        let rects = outline(&s);
        let covered = |x: i16, y: i16| {
            rects
                .iter()
                .any(|&(rx, ry, w, h)| x >= rx && y >= ry && x < rx + w as i16 && y < ry + h as i16)
        };
        for x in 10..=110 {
            assert!(covered(x, 100), "({x}, 100) on the line");
        }
        assert!(!covered(60, 120), "20 px off the line");
        assert!(!covered(150, 100), "past the end");
    }

    #[test]
    fn the_outline_grows_with_the_sketch_as_if_made_anew() {
        let mut s = Sketch::new(500, 500);
        let mut cache = OutlineCache::default();
        let start = |id, x, y| Annotation::StrokeStart {
            id,
            colour: PenColour::Red,
            x,
            y,
        };
        s.apply(&start(1, 10, 10)).expect("start");
        assert_eq!(cache.update(&s), outline(&s));
        for step in 1..20u32 {
            s.apply(&Annotation::StrokeTo {
                id: 1,
                points: vec![(10 + step * 7, 10 + step * 3)],
            })
            .expect("to");
            s.apply(&Annotation::Laser { x: step, y: step })
                .expect("laser");
            assert_eq!(cache.update(&s), outline(&s), "step {step}");
        }
        // Restarted under the same id, another stroke, a clear.
        s.apply(&start(1, 300, 300)).expect("restart");
        s.apply(&start(2, 5, 400)).expect("second");
        s.apply(&Annotation::StrokeTo {
            id: 2,
            points: vec![(50, 450)],
        })
        .expect("to");
        assert_eq!(cache.update(&s), outline(&s));
        s.apply(&Annotation::Clear).expect("clear");
        assert_eq!(cache.update(&s), vec![]);
    }

    /// The worst a helper can draw (every stroke zigzagging across a 4K monitor) stays a
    /// bounded outline: the ink budget bounds it.
    #[test]
    fn the_worst_sketch_has_a_bounded_outline() {
        let mut s = Sketch::new(3840, 2160);
        for id in 0..crate::annotation::MAX_STROKES as u32 {
            s.apply(&Annotation::StrokeStart {
                id,
                colour: PenColour::Red,
                x: 0,
                y: 0,
            })
            .expect("start");
            for _ in 0..64 {
                let points = (0..64)
                    .map(|i| if i % 2 == 0 { (3839, 2159) } else { (0, 0) })
                    .collect();
                s.apply(&Annotation::StrokeTo { id, points }).expect("to");
            }
        }
        let rects = outline(&s).len();
        let bound =
            crate::annotation::MAX_INK as usize / HALF as usize + crate::annotation::MAX_POINTS + 1;
        assert!(rects <= bound, "{rects} rectangles");
    }
}
