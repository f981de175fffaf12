//! Frame buffers and colour conversion (via the `yuv` crate).

use yuv::{
    BufferStoreMut, YuvConversionMode, YuvPlanarImage, YuvPlanarImageMut, YuvRange,
    YuvStandardMatrix,
};

#[derive(Debug, thiserror::Error)]
#[error("colour conversion: {0}")]
pub struct ConvertError(String);

/// A screen-like frame, 4 bytes per pixel in B, G, R, A order.
#[derive(Clone)]
pub struct BgraFrame {
    pub width: u32,
    pub height: u32,
    pub stride: u32,
    pub data: Vec<u8>,
}

impl BgraFrame {
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            stride: width * 4,
            data: vec![0; (width * height * 4) as usize],
        }
    }
}

/// Shrinks BGRA frames (a box filter, SIMD): what the encoder gets when the path cannot
/// carry full-size motion.
pub struct Downscaler {
    resizer: fast_image_resize::Resizer,
    out: BgraFrame,
}

impl Downscaler {
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            resizer: fast_image_resize::Resizer::new(),
            out: BgraFrame::new(width, height),
        }
    }

    pub fn size(&self) -> (u32, u32) {
        (self.out.width, self.out.height)
    }

    /// `frame` shrunk to this downscaler's size.
    pub fn shrink(&mut self, frame: &BgraFrame) -> Result<&BgraFrame, ConvertError> {
        use fast_image_resize::images::{Image, ImageRef};
        use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions};
        if frame.stride != frame.width * 4 {
            return Err(ConvertError(format!(
                "cannot shrink a frame with padded rows (stride {})",
                frame.stride
            )));
        }
        let src = ImageRef::new(frame.width, frame.height, &frame.data, PixelType::U8x4)
            .map_err(|e| ConvertError(e.to_string()))?;
        let (w, h) = (self.out.width, self.out.height);
        let mut dst = Image::from_slice_u8(w, h, &mut self.out.data, PixelType::U8x4)
            .map_err(|e| ConvertError(e.to_string()))?;
        // A screen's alpha carries nothing: no premultiplication pass.
        let options = ResizeOptions::new()
            .resize_alg(ResizeAlg::Convolution(FilterType::Box))
            .use_alpha(false);
        self.resizer
            .resize(&src, &mut dst, &options)
            .map_err(|e| ConvertError(e.to_string()))?;
        Ok(&self.out)
    }
}

/// Rows `from..to` of a plane `width` bytes wide.
fn plane_rows(
    plane: &mut [u8],
    width: usize,
    from: usize,
    to: usize,
) -> Result<&mut [u8], ConvertError> {
    plane
        .get_mut(from * width..to * width)
        .ok_or_else(|| ConvertError("plane smaller than its size".into()))
}

/// Planar 4:2:0, the encoder's input.
pub struct I420Frame {
    pub width: u32,
    pub height: u32,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

impl I420Frame {
    /// Dimensions must be even (H.264 4:2:0).
    pub fn new(width: u32, height: u32) -> Self {
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        Self {
            width,
            height,
            y: vec![0; (width * height) as usize],
            u: vec![0; (cw * ch) as usize],
            v: vec![0; (cw * ch) as usize],
        }
    }

    pub fn chroma_width(&self) -> u32 {
        self.width.div_ceil(2)
    }

    /// Converts a BGRA frame of the same size into this buffer (BT.601, limited range, as
    /// H.264 decoders assume by default).
    pub fn fill_from_bgra(&mut self, bgra: &BgraFrame) -> Result<(), ConvertError> {
        self.fill_rows_from_bgra(bgra, 0, self.height)
    }

    /// [`Self::fill_from_bgra`] for rows `top..bottom` only (widened to even rows: a chroma
    /// sample covers two); the other rows keep what they held.
    pub fn fill_rows_from_bgra(
        &mut self,
        bgra: &BgraFrame,
        top: u32,
        bottom: u32,
    ) -> Result<(), ConvertError> {
        if bgra.width != self.width || bgra.height != self.height {
            return Err(ConvertError(format!(
                "a {}×{} picture into a {}×{} buffer",
                bgra.width, bgra.height, self.width, self.height
            )));
        }
        let top = (top & !1).min(self.height);
        let bottom = bottom.saturating_add(1).min(self.height) & !1;
        if bottom <= top {
            return Ok(());
        }
        let (w, cw) = (self.width as usize, self.chroma_width() as usize);
        let (t, b) = (top as usize, bottom as usize);
        let stride = bgra.stride as usize;
        let y = plane_rows(&mut self.y, w, t, b)?;
        let u = plane_rows(&mut self.u, cw, t / 2, b / 2)?;
        let v = plane_rows(&mut self.v, cw, t / 2, b / 2)?;
        let src = bgra
            .data
            .get(t * stride..b * stride)
            .ok_or_else(|| ConvertError("picture smaller than its size".into()))?;
        let mut planar = YuvPlanarImageMut {
            y_plane: BufferStoreMut::Borrowed(y),
            y_stride: self.width,
            u_plane: BufferStoreMut::Borrowed(u),
            u_stride: cw as u32,
            v_plane: BufferStoreMut::Borrowed(v),
            v_stride: cw as u32,
            width: self.width,
            height: bottom - top,
        };
        yuv::bgra_to_yuv420(
            &mut planar,
            src,
            bgra.stride,
            YuvRange::Limited,
            YuvStandardMatrix::Bt601,
            YuvConversionMode::Balanced,
        )
        .map_err(|e| ConvertError(e.to_string()))
    }
}

impl openh264::formats::YUVSource for I420Frame {
    fn dimensions(&self) -> (usize, usize) {
        (self.width as usize, self.height as usize)
    }

    fn strides(&self) -> (usize, usize, usize) {
        let cw = self.chroma_width() as usize;
        (self.width as usize, cw, cw)
    }

    fn y(&self) -> &[u8] {
        &self.y
    }

    fn u(&self) -> &[u8] {
        &self.u
    }

    fn v(&self) -> &[u8] {
        &self.v
    }
}

/// Converts planar 4:2:0 (possibly with padded strides) to tightly packed RGBA.
#[allow(clippy::too_many_arguments)]
pub fn i420_to_rgba(
    y: &[u8],
    u: &[u8],
    v: &[u8],
    strides: (usize, usize, usize),
    width: u32,
    height: u32,
    out: &mut Vec<u8>,
) -> Result<(), ConvertError> {
    out.resize((width * height * 4) as usize, 0);
    let planar = YuvPlanarImage {
        y_plane: y,
        y_stride: strides.0 as u32,
        u_plane: u,
        u_stride: strides.1 as u32,
        v_plane: v,
        v_stride: strides.2 as u32,
        width,
        height,
    };
    yuv::yuv420_to_rgba(
        &planar,
        out,
        width * 4,
        YuvRange::Limited,
        YuvStandardMatrix::Bt601,
    )
    .map_err(|e| ConvertError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(width: u32, height: u32, seed: u32) -> BgraFrame {
        let mut frame = BgraFrame::new(width, height);
        for (i, px) in frame.data.chunks_exact_mut(4).enumerate() {
            let v = (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed);
            px.copy_from_slice(&v.to_le_bytes());
        }
        frame
    }

    /// Converting only the rows that changed gives exactly what converting it all gives,
    /// whatever the rows' parity (a chroma row covers two picture rows).
    #[test]
    fn converting_the_changed_rows_equals_converting_the_whole_picture() {
        let (w, h) = (64, 48);
        let before = picture(w, h, 1);
        for (top, bottom) in [(10, 20), (11, 20), (11, 21), (0, 1), (47, 48), (30, 30)] {
            let mut after = before.clone();
            let stride = after.stride as usize;
            let rows = top as usize * stride..bottom as usize * stride;
            for b in &mut after.data[rows] {
                *b = b.wrapping_add(77);
            }
            let mut partial = I420Frame::new(w, h);
            partial.fill_from_bgra(&before).expect("whole");
            partial
                .fill_rows_from_bgra(&after, top, bottom)
                .expect("rows");
            let mut whole = I420Frame::new(w, h);
            whole.fill_from_bgra(&after).expect("whole");
            assert!(
                partial.y == whole.y && partial.u == whole.u && partial.v == whole.v,
                "rows {top}..{bottom}"
            );
        }
        // A picture of another size is refused, not converted into the wrong rows.
        let mut yuv = I420Frame::new(w, h);
        assert!(yuv.fill_rows_from_bgra(&picture(32, 48, 0), 0, 2).is_err());
    }
}
