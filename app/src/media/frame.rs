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
        let cw = self.chroma_width();
        let mut planar = YuvPlanarImageMut {
            y_plane: BufferStoreMut::Borrowed(&mut self.y),
            y_stride: self.width,
            u_plane: BufferStoreMut::Borrowed(&mut self.u),
            u_stride: cw,
            v_plane: BufferStoreMut::Borrowed(&mut self.v),
            v_stride: cw,
            width: self.width,
            height: self.height,
        };
        yuv::bgra_to_yuv420(
            &mut planar,
            &bgra.data,
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
