//! H.264 with openh264 (built from its bundled source): real-time camera profile at low
//! complexity, no B-frames, IDR on demand.

use openh264::decoder::{Decoder, DecoderConfig};
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, UsageType,
};
use openh264::formats::YUVSource;
use openh264::OpenH264API;

use super::frame::{i420_to_rgba, BgraFrame, I420Frame};

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("openh264: {0}")]
    OpenH264(#[from] openh264::Error),
    #[error(transparent)]
    Convert(#[from] super::frame::ConvertError),
    #[error("frame size {0}×{1} is not supported (must be even, 16…8192)")]
    BadSize(u32, u32),
}

pub struct EncodedFrame {
    pub data: Vec<u8>,
    pub keyframe: bool,
    /// Time spent in BGRA→I420 and in the encoder proper, µs.
    pub convert_us: u32,
    pub encode_us: u32,
}

pub struct VideoEncoder {
    encoder: Encoder,
    yuv: I420Frame,
}

impl VideoEncoder {
    pub fn size(&self) -> (u32, u32) {
        (self.yuv.width, self.yuv.height)
    }
}

fn check_size(w: u32, h: u32) -> Result<(), CodecError> {
    if w % 2 != 0 || h % 2 != 0 || !(16..=8192).contains(&w) || !(16..=8192).contains(&h) {
        return Err(CodecError::BadSize(w, h));
    }
    Ok(())
}

impl VideoEncoder {
    pub fn new(width: u32, height: u32, bitrate_bps: u32, fps: f32) -> Result<Self, CodecError> {
        check_size(width, height)?;
        let config = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .complexity(Complexity::Low)
            .bitrate(BitRate::from_bps(bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(fps))
            // Dropping frames is our rate control's decision, not the encoder's.
            .skip_frames(false)
            // No periodic IDR: keyframes are sent when asked for (loss, monitor switch).
            .intra_frame_period(IntraFramePeriod::from_num_frames(0))
            .num_threads(1);
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config)?;
        Ok(Self {
            encoder,
            yuv: I420Frame::new(width, height),
        })
    }

    pub fn encode(
        &mut self,
        frame: &BgraFrame,
        keyframe: bool,
    ) -> Result<EncodedFrame, CodecError> {
        let started = std::time::Instant::now();
        self.yuv.fill_from_bgra(frame)?;
        let converted = std::time::Instant::now();
        if keyframe {
            self.encoder.force_intra_frame();
        }
        let bitstream = self.encoder.encode(&self.yuv)?;
        let keyframe = matches!(bitstream.frame_type(), FrameType::IDR | FrameType::I);
        let data = bitstream.to_vec();
        Ok(EncodedFrame {
            data,
            keyframe,
            convert_us: (converted - started).as_micros() as u32,
            encode_us: converted.elapsed().as_micros() as u32,
        })
    }
}

pub struct DecodedFrame<'a> {
    pub width: u32,
    pub height: u32,
    /// Tightly packed RGBA, ready for a GUI image.
    pub rgba: &'a [u8],
}

pub struct VideoDecoder {
    decoder: Decoder,
    rgba: Vec<u8>,
}

impl VideoDecoder {
    pub fn new() -> Result<Self, CodecError> {
        Ok(Self {
            decoder: Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new())?,
            rgba: Vec::new(),
        })
    }

    /// Decodes one access unit; `None` when the decoder produced no picture yet.
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<DecodedFrame<'_>>, CodecError> {
        let Some(yuv) = self.decoder.decode(data)? else {
            return Ok(None);
        };
        let (w, h) = yuv.dimensions();
        let (w, h) = (w as u32, h as u32);
        i420_to_rgba(
            yuv.y(),
            yuv.u(),
            yuv.v(),
            yuv.strides(),
            w,
            h,
            &mut self.rgba,
        )?;
        Ok(Some(DecodedFrame {
            width: w,
            height: h,
            rgba: &self.rgba,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::pattern::TestPattern;

    fn psnr(a: &[u8], b: &[u8]) -> f64 {
        let mse: f64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
            .sum::<f64>()
            / a.len() as f64;
        10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10()
    }

    #[test]
    fn roundtrip_keeps_the_picture() {
        let (w, h) = (320, 240);
        let mut pattern = TestPattern::new(w, h);
        let mut frame = BgraFrame::new(w, h);
        let mut enc = VideoEncoder::new(w, h, 2_000_000, 30.0).expect("encoder");
        let mut dec = VideoDecoder::new().expect("decoder");
        for i in 0..10 {
            pattern.draw_next(&mut frame);
            let encoded = enc.encode(&frame, i == 0).expect("encode");
            assert_eq!(encoded.keyframe, i == 0, "frame {i}");
            let decoded = dec.decode(&encoded.data).expect("decode").expect("picture");
            assert_eq!((decoded.width, decoded.height), (w, h));
            // Compare as RGB (decoded RGBA vs source BGRA).
            let src: Vec<u8> = frame
                .data
                .chunks(4)
                .flat_map(|p| [p[2], p[1], p[0]])
                .collect();
            let out: Vec<u8> = decoded
                .rgba
                .chunks(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            let q = psnr(&src, &out);
            assert!(q > 28.0, "frame {i}: PSNR {q:.1} dB");
        }
        // A keyframe on request mid-stream.
        pattern.draw_next(&mut frame);
        assert!(enc.encode(&frame, true).expect("encode").keyframe);
    }

    #[test]
    fn odd_sizes_and_garbage_are_errors_not_panics() {
        assert!(VideoEncoder::new(321, 240, 1_000_000, 30.0).is_err());
        let mut dec = VideoDecoder::new().expect("decoder");
        let _ = dec.decode(&[0, 0, 0, 1, 0x65, 1, 2, 3, 4, 5]);
        let _ = dec.decode(&[0xff; 100]);
    }
}
