//! The helper sees the sharer's monitor scaled into a view (a window, a panel); pointer
//! positions in that view map back to the monitor's pixels.

/// How a `frame_width`×`frame_height` picture is fitted into a `view_width`×`view_height`
/// area: scaled to fit with its aspect ratio kept, centred, with bars on the other axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewTransform {
    frame_width: u32,
    frame_height: u32,
    scale: f64,
    offset_x: f64,
    offset_y: f64,
}

impl ViewTransform {
    /// `None` when either area is empty.
    pub fn fit(
        frame_width: u32,
        frame_height: u32,
        view_width: f64,
        view_height: f64,
    ) -> Option<Self> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if frame_width == 0 || frame_height == 0 || !positive(view_width) || !positive(view_height)
        {
            return None;
        }
        let scale =
            (view_width / f64::from(frame_width)).min(view_height / f64::from(frame_height));
        Some(Self {
            frame_width,
            frame_height,
            scale,
            offset_x: (view_width - f64::from(frame_width) * scale) / 2.0,
            offset_y: (view_height - f64::from(frame_height) * scale) / 2.0,
        })
    }

    /// One view pixel per frame pixel.
    pub fn identity(frame_width: u32, frame_height: u32) -> Self {
        Self {
            frame_width,
            frame_height,
            scale: 1.0,
            offset_x: 0.0,
            offset_y: 0.0,
        }
    }

    /// View pixels per frame pixel.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Where the picture sits in the view: x, y, width, height.
    pub fn picture_rect(&self) -> (f64, f64, f64, f64) {
        (
            self.offset_x,
            self.offset_y,
            f64::from(self.frame_width) * self.scale,
            f64::from(self.frame_height) * self.scale,
        )
    }

    /// The frame pixel under view point (`x`, `y`); `None` on the bars or outside.
    pub fn to_frame(&self, x: f64, y: f64) -> Option<(u32, u32)> {
        let fx = ((x - self.offset_x) / self.scale).floor();
        let fy = ((y - self.offset_y) / self.scale).floor();
        let inside = fx >= 0.0
            && fy >= 0.0
            && fx < f64::from(self.frame_width)
            && fy < f64::from(self.frame_height);
        inside.then_some((fx as u32, fy as u32))
    }

    /// Like [`Self::to_frame`], but a point outside is pulled to the nearest edge (a drag
    /// that leaves the view keeps going along the border).
    pub fn to_frame_clamped(&self, x: f64, y: f64) -> (u32, u32) {
        let fx = ((x - self.offset_x) / self.scale).floor();
        let fy = ((y - self.offset_y) / self.scale).floor();
        (
            fx.clamp(0.0, f64::from(self.frame_width - 1)) as u32,
            fy.clamp(0.0, f64::from(self.frame_height - 1)) as u32,
        )
    }

    /// The view point at the centre of frame pixel (`x`, `y`) (where to draw the cursor).
    pub fn to_view(&self, x: f64, y: f64) -> (f64, f64) {
        (
            self.offset_x + x * self.scale,
            self.offset_y + y * self.scale,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_size_view_doubles_coordinates() {
        let t = ViewTransform::fit(1920, 1080, 960.0, 540.0).expect("fit");
        assert_eq!(t.scale(), 0.5);
        assert_eq!(t.to_frame(0.0, 0.0), Some((0, 0)));
        assert_eq!(t.to_frame(100.0, 50.0), Some((200, 100)));
        assert_eq!(t.to_frame(959.9, 539.9), Some((1919, 1079)));
        assert_eq!(t.to_frame(960.0, 10.0), None);
    }

    #[test]
    fn letterboxed_view_ignores_the_bars() {
        // 16:9 picture in a square view: bars above and below.
        let t = ViewTransform::fit(1600, 900, 800.0, 800.0).expect("fit");
        let (x, y, w, h) = t.picture_rect();
        assert_eq!((x, y, w, h), (0.0, 175.0, 800.0, 450.0));
        assert_eq!(t.to_frame(400.0, 100.0), None);
        assert_eq!(t.to_frame(400.0, 175.0), Some((800, 0)));
        assert_eq!(t.to_frame(400.0, 624.9), Some((800, 899)));
        assert_eq!(t.to_frame_clamped(-50.0, 1000.0), (0, 899));
        assert_eq!(t.to_view(800.0, 450.0), (400.0, 400.0));
    }

    #[test]
    fn upscaled_view_and_empty_areas() {
        let t = ViewTransform::fit(640, 360, 1280.0, 720.0).expect("fit");
        assert_eq!(t.to_frame(1279.0, 719.0), Some((639, 359)));
        assert_eq!(t.to_frame(3.0, 3.0), Some((1, 1)));
        assert!(ViewTransform::fit(0, 10, 10.0, 10.0).is_none());
        assert!(ViewTransform::fit(10, 10, 0.0, 10.0).is_none());
        assert!(ViewTransform::fit(10, 10, f64::NAN, 10.0).is_none());
        assert_eq!(
            ViewTransform::identity(8, 8).to_frame(7.5, 0.0),
            Some((7, 0))
        );
    }
}
