//! The pixel work of Windows desktop duplication, kept apart from the API calls so it is
//! tested on every platform: the desktop image comes in the panel's own orientation (a
//! portrait monitor's picture lies on its side) and the pointer comes in one of three
//! formats, which the helper receives as straight RGBA.

use super::{CursorShape, MAX_CURSOR_SIDE};
use crate::media::frame::BgraFrame;

/// How the desktop is turned against the image duplication hands over (DXGI's
/// `DXGI_MODE_ROTATION`, clockwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Identity,
    Rotate90,
    Rotate180,
    Rotate270,
}

impl Rotation {
    /// The desktop's size for an image of `width`×`height`.
    pub fn desktop_size(self, width: u32, height: u32) -> (u32, u32) {
        match self {
            Rotation::Identity | Rotation::Rotate180 => (width, height),
            Rotation::Rotate90 | Rotation::Rotate270 => (height, width),
        }
    }

    /// The image pixel shown at desktop pixel (`x`, `y`) of a `desk_w`×`desk_h` desktop.
    fn source_of(self, x: u32, y: u32, desk_w: u32, desk_h: u32) -> (u32, u32) {
        match self {
            Rotation::Identity => (x, y),
            // The image's top-left corner is the desktop's top-right one.
            Rotation::Rotate90 => (y, desk_w - 1 - x),
            Rotation::Rotate180 => (desk_w - 1 - x, desk_h - 1 - y),
            // The image's top-left corner is the desktop's bottom-left one.
            Rotation::Rotate270 => (desk_h - 1 - y, x),
        }
    }
}

/// Why a mapped desktop image cannot be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the desktop image ({width}×{height}, {pitch} bytes per row) does not fit {len} bytes")]
pub struct ImageTooShort {
    pub width: u32,
    pub height: u32,
    pub pitch: usize,
    pub len: usize,
}

/// Copies a BGRA image of `width`×`height` (rows `pitch` bytes apart) into `out`, turned
/// upright; `out` is resized to the desktop's size, odd sides cut to even (H.264 4:2:0).
pub fn copy_upright(
    image: &[u8],
    pitch: usize,
    width: u32,
    height: u32,
    rotation: Rotation,
    out: &mut BgraFrame,
) -> Result<(), ImageTooShort> {
    let too_short = ImageTooShort {
        width,
        height,
        pitch,
        len: image.len(),
    };
    let row_bytes = width as usize * 4;
    if height == 0 || pitch < row_bytes || image.len() < pitch * (height as usize - 1) + row_bytes {
        return Err(too_short);
    }
    let (desk_w, desk_h) = rotation.desktop_size(width, height);
    let (out_w, out_h) = (desk_w & !1, desk_h & !1);
    if (out.width, out.height) != (out_w, out_h) {
        *out = BgraFrame::new(out_w, out_h);
    }
    let stride = out.stride as usize;
    if rotation == Rotation::Identity {
        let bytes = out_w as usize * 4;
        for (dst, src) in out.data.chunks_exact_mut(stride).zip(image.chunks(pitch)) {
            dst[..bytes].copy_from_slice(&src[..bytes]);
        }
        return Ok(());
    }
    for y in 0..out_h {
        let dst = &mut out.data[y as usize * stride..][..out_w as usize * 4];
        for (x, px) in dst.chunks_exact_mut(4).enumerate() {
            let (sx, sy) = rotation.source_of(x as u32, y, desk_w, desk_h);
            let at = sy as usize * pitch + sx as usize * 4;
            px.copy_from_slice(&image[at..at + 4]);
        }
    }
    Ok(())
}

/// DXGI's pointer formats (`DXGI_OUTDUPL_POINTER_SHAPE_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointerFormat {
    /// 1 bit per pixel: an AND mask over an XOR mask, so `height` is twice the pointer's.
    Monochrome,
    /// 32-bit BGRA with straight alpha.
    Color,
    /// 32-bit BGR whose top byte says: 0 = opaque colour, 0xFF = XOR with the screen.
    MaskedColor,
}

impl PointerFormat {
    pub fn from_dxgi(kind: u32) -> Option<Self> {
        match kind {
            1 => Some(Self::Monochrome),
            2 => Some(Self::Color),
            4 => Some(Self::MaskedColor),
            _ => None,
        }
    }
}

/// The pointer's picture as the helper draws it, or `None` when the data does not hold
/// what its description says (never trusted blindly: it sizes allocations). XOR pixels
/// (the text cursor's inverted screen) cannot be shown by a layer drawn on top; they are
/// shown black where they would change the screen, and left out where they would not.
pub fn pointer_shape(
    format: PointerFormat,
    width: u32,
    height: u32,
    pitch: usize,
    hot: (u32, u32),
    data: &[u8],
    serial: u32,
) -> Option<CursorShape> {
    let rows = match format {
        PointerFormat::Monochrome => height / 2,
        PointerFormat::Color | PointerFormat::MaskedColor => height,
    };
    if width == 0 || rows == 0 || width > MAX_CURSOR_SIDE || rows > MAX_CURSOR_SIDE {
        return None;
    }
    let min_pitch = match format {
        PointerFormat::Monochrome => (width as usize).div_ceil(8),
        PointerFormat::Color | PointerFormat::MaskedColor => width as usize * 4,
    };
    if pitch < min_pitch || data.len() < pitch * (height as usize - 1) + min_pitch {
        return None;
    }
    let mut rgba = Vec::with_capacity((width * rows * 4) as usize);
    for y in 0..rows as usize {
        for x in 0..width as usize {
            let pixel = match format {
                PointerFormat::Monochrome => {
                    let bit = |row: usize| (data[row * pitch + x / 8] >> (7 - x % 8)) & 1 == 1;
                    match (bit(y), bit(y + rows as usize)) {
                        (false, false) => [0, 0, 0, 255],
                        (false, true) => [255, 255, 255, 255],
                        (true, false) => [0, 0, 0, 0],
                        (true, true) => [0, 0, 0, 255],
                    }
                }
                PointerFormat::Color => {
                    let p = &data[y * pitch + x * 4..][..4];
                    [p[2], p[1], p[0], p[3]]
                }
                PointerFormat::MaskedColor => {
                    let p = &data[y * pitch + x * 4..][..4];
                    match (p[3], [p[2], p[1], p[0]]) {
                        (0, [r, g, b]) => [r, g, b, 255],
                        // XOR with black changes nothing.
                        (_, [0, 0, 0]) => [0, 0, 0, 0],
                        (_, _) => [0, 0, 0, 255],
                    }
                }
            };
            rgba.extend_from_slice(&pixel);
        }
    }
    Some(CursorShape {
        serial,
        width,
        height: rows,
        hot_x: hot.0.min(width - 1),
        hot_y: hot.1.min(rows - 1),
        rgba,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4×2 image whose pixels are numbered 0..8 row by row (the number in every byte).
    fn numbered(width: u32, height: u32, pitch: usize) -> Vec<u8> {
        let mut image = vec![0xEE; pitch * height as usize];
        for y in 0..height as usize {
            for x in 0..width as usize {
                let n = (y * width as usize + x) as u8;
                image[y * pitch + x * 4..][..4].copy_from_slice(&[n; 4]);
            }
        }
        image
    }

    fn numbers(frame: &BgraFrame) -> Vec<Vec<u8>> {
        frame
            .data
            .chunks_exact(frame.stride as usize)
            .map(|row| row.chunks_exact(4).map(|p| p[0]).collect())
            .collect()
    }

    #[test]
    fn a_turned_desktop_is_copied_upright() {
        // Image, 4×2 with padding at the end of each row:
        //   0 1 2 3
        //   4 5 6 7
        let image = numbered(4, 2, 20);
        let mut out = BgraFrame::new(2, 2);
        copy_upright(&image, 20, 4, 2, Rotation::Identity, &mut out).unwrap();
        assert_eq!(numbers(&out), [vec![0, 1, 2, 3], vec![4, 5, 6, 7]]);
        // A monitor turned 90° clockwise: the image's first row is the desktop's last column.
        copy_upright(&image, 20, 4, 2, Rotation::Rotate90, &mut out).unwrap();
        assert_eq!((out.width, out.height), (2, 4));
        assert_eq!(
            numbers(&out),
            [vec![4, 0], vec![5, 1], vec![6, 2], vec![7, 3]]
        );
        copy_upright(&image, 20, 4, 2, Rotation::Rotate180, &mut out).unwrap();
        assert_eq!(numbers(&out), [vec![7, 6, 5, 4], vec![3, 2, 1, 0]]);
        copy_upright(&image, 20, 4, 2, Rotation::Rotate270, &mut out).unwrap();
        assert_eq!(
            numbers(&out),
            [vec![3, 7], vec![2, 6], vec![1, 5], vec![0, 4]]
        );
    }

    #[test]
    fn an_odd_desktop_is_cut_to_even_and_a_short_image_is_refused() {
        let image = numbered(5, 3, 20);
        let mut out = BgraFrame::new(2, 2);
        copy_upright(&image, 20, 5, 3, Rotation::Identity, &mut out).unwrap();
        assert_eq!(numbers(&out), [vec![0, 1, 2, 3], vec![5, 6, 7, 8]]);
        let err = copy_upright(&image[..50], 20, 5, 3, Rotation::Identity, &mut out);
        assert!(err.is_err());
        assert!(copy_upright(&image, 8, 5, 3, Rotation::Identity, &mut out).is_err());
        assert!(copy_upright(&[], 0, 0, 0, Rotation::Rotate90, &mut out).is_err());
    }

    #[test]
    fn the_three_pointer_formats_become_straight_rgba() {
        // Colour: BGRA in, RGBA out.
        let colour = [10, 20, 30, 128, 1, 2, 3, 0];
        let shape = pointer_shape(PointerFormat::Color, 2, 1, 8, (1, 0), &colour, 7).unwrap();
        assert_eq!(shape.rgba, [30, 20, 10, 128, 3, 2, 1, 0]);
        assert_eq!((shape.hot_x, shape.hot_y, shape.serial), (1, 0, 7));

        // Monochrome, 8×1: AND row then XOR row, one byte each.
        // AND 0b0011_0000, XOR 0b0101_0000 → black, white, transparent, black (inverted), …
        let mono = [0b0011_0000, 0b0101_0000];
        let shape = pointer_shape(PointerFormat::Monochrome, 8, 2, 1, (0, 0), &mono, 1).unwrap();
        assert_eq!(shape.height, 1);
        let px: Vec<&[u8]> = shape.rgba.chunks(4).collect();
        assert_eq!(px[0], [0, 0, 0, 255]);
        assert_eq!(px[1], [255, 255, 255, 255]);
        assert_eq!(px[2], [0, 0, 0, 0]);
        assert_eq!(px[3], [0, 0, 0, 255]);
        assert_eq!(px[4], [0, 0, 0, 255]);

        // Masked colour: opaque colour, XOR with black (invisible), XOR with a colour.
        let masked = [9, 8, 7, 0, 0, 0, 0, 0xFF, 50, 50, 50, 0xFF];
        let shape =
            pointer_shape(PointerFormat::MaskedColor, 3, 1, 12, (0, 0), &masked, 1).unwrap();
        assert_eq!(shape.rgba, [7, 8, 9, 255, 0, 0, 0, 0, 0, 0, 0, 255]);
    }

    #[test]
    fn a_pointer_description_that_lies_about_its_data_is_refused() {
        let data = [0u8; 64];
        // Too big, zero-sized, a pitch shorter than a row, data shorter than the rows.
        assert!(pointer_shape(PointerFormat::Color, 300, 1, 1200, (0, 0), &data, 1).is_none());
        assert!(pointer_shape(PointerFormat::Color, 0, 1, 0, (0, 0), &data, 1).is_none());
        assert!(pointer_shape(PointerFormat::Monochrome, 8, 1, 1, (0, 0), &data, 1).is_none());
        assert!(pointer_shape(PointerFormat::Color, 4, 4, 8, (0, 0), &data, 1).is_none());
        assert!(pointer_shape(PointerFormat::Color, 4, 8, 16, (0, 0), &data, 1).is_none());
        // A hot spot outside the picture is pulled inside.
        let shape = pointer_shape(PointerFormat::Color, 2, 2, 8, (9, 9), &data, 1).unwrap();
        assert_eq!((shape.hot_x, shape.hot_y), (1, 1));
        assert_eq!(PointerFormat::from_dxgi(3), None);
    }
}
