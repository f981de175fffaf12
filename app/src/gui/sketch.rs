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

/// Rectangles covering everything `sketch` draws (one monitor pixel = one window pixel):
/// squares of the pen's width stepped along every segment, and the laser dot's box.
pub fn outline(sketch: &Sketch) -> Vec<(i16, i16, u16, u16)> {
    let half = (PEN_WIDTH / 2.0).ceil() as i32 + 1;
    let side = (2 * half) as u16;
    let mut rects = Vec::new();
    let square = |x: f32, y: f32| {
        let clamp = |v: i32| v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
        (clamp(x as i32 - half), clamp(y as i32 - half), side, side)
    };
    for stroke in &sketch.strokes {
        let mut previous: Option<(f32, f32)> = None;
        for &(x, y) in &stroke.points {
            let (x, y) = (x as f32, y as f32);
            if let Some((px, py)) = previous {
                let steps = ((x - px).hypot(y - py) / half as f32).ceil().max(1.0) as usize;
                for i in 1..=steps {
                    let f = i as f32 / steps as f32;
                    rects.push(square(px + (x - px) * f, py + (y - py) * f));
                }
            } else {
                rects.push(square(x, y));
            }
            previous = Some((x, y));
        }
    }
    if let Some((x, y)) = sketch.laser {
        let r = LASER_RADIUS.ceil() as i32;
        rects.push((
            (x as i32 - r) as i16,
            (y as i32 - r) as i16,
            (2 * r) as u16,
            (2 * r) as u16,
        ));
    }
    rects
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
}
