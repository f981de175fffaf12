//! H.264 with openh264 (built from its bundled source): real-time camera profile at low
//! complexity, no B-frames, IDR on demand.

use openh264::decoder::{Decoder, DecoderConfig};
use openh264::encoder::{
    Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, QpRange,
    RateControlMode, UsageType,
};
use openh264::formats::YUVSource;
use openh264::OpenH264API;
use openh264_sys2::{SEncParamExt, ENCODER_OPTION_SVC_ENCODE_PARAM_EXT};

use super::rate::{QP_BEST, QP_START, QP_WORST};

use super::frame::{i420_to_rgba, BgraFrame, I420Frame};

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("openh264: {0}")]
    OpenH264(#[from] openh264::Error),
    #[error(transparent)]
    Convert(#[from] super::frame::ConvertError),
    #[error("frame size {0}×{1} is not supported (must be even, 16…8192)")]
    BadSize(u32, u32),
    #[error("openh264 refused the quantiser {0} (code {1})")]
    SetQp(u8, i32),
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
    /// The encoder's parameters as it holds them (read back once it has started), to change
    /// the quantiser without a reset; `None` until the first frame.
    params: Option<Box<SEncParamExt>>,
    qp: u8,
}

impl VideoEncoder {
    pub fn size(&self) -> (u32, u32) {
        (self.yuv.width, self.yuv.height)
    }

    pub fn qp(&self) -> u8 {
        self.qp
    }

    /// The quantiser for the frames that follow (clamped to what the quality control uses).
    /// The encoder runs without its own rate control: this is the only quality knob.
    pub fn set_qp(&mut self, qp: u8) -> Result<(), CodecError> {
        let qp = qp.clamp(QP_BEST, QP_WORST);
        if qp == self.qp {
            return Ok(());
        }
        if let Some(params) = self.params.as_mut() {
            params.sSpatialLayers[0].iDLayerQp = i32::from(qp);
            // SAFETY: the encoder is initialised (a frame was encoded), `params` is a
            // complete SEncParamExt read back from this encoder and outlives the call, which
            // copies it. Only the layer quantiser differs, which openh264 applies without a
            // reset or an IDR.
            let code = unsafe {
                self.encoder.raw_api().set_option(
                    ENCODER_OPTION_SVC_ENCODE_PARAM_EXT,
                    std::ptr::from_mut::<SEncParamExt>(params).cast(),
                )
            };
            if code != 0 {
                return Err(CodecError::SetQp(qp, code));
            }
        }
        self.qp = qp;
        Ok(())
    }

    /// Reads the running parameters back and applies the wanted quantiser: the crate sets up
    /// the encoder lazily on the first frame, with openh264's default layer quantiser.
    fn adopt_params(&mut self) -> Result<(), CodecError> {
        // SAFETY: SEncParamExt is plain old data (integers, floats, bools and arrays of
        // them); all-zero is a valid value that GetOption overwrites entirely.
        let mut params: Box<SEncParamExt> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: initialised encoder; GetOption copies exactly one SEncParamExt into it.
        let code = unsafe {
            self.encoder.raw_api().get_option(
                ENCODER_OPTION_SVC_ENCODE_PARAM_EXT,
                std::ptr::from_mut::<SEncParamExt>(&mut params).cast(),
            )
        };
        if code != 0 {
            return Err(CodecError::SetQp(self.qp, code));
        }
        let wanted = self.qp;
        self.qp = u8::try_from(params.sSpatialLayers[0].iDLayerQp).unwrap_or(0);
        self.params = Some(params);
        self.set_qp(wanted)
    }
}

fn check_size(w: u32, h: u32) -> Result<(), CodecError> {
    if w % 2 != 0 || h % 2 != 0 || !(16..=8192).contains(&w) || !(16..=8192).contains(&h) {
        return Err(CodecError::BadSize(w, h));
    }
    Ok(())
}

impl VideoEncoder {
    /// An encoder at [`QP_START`]; quality is then set per frame with [`Self::set_qp`].
    pub fn new(width: u32, height: u32, fps: f32) -> Result<Self, CodecError> {
        check_size(width, height)?;
        let config = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .complexity(Complexity::Low)
            // Quality and frame dropping are decided by `media::rate` and the pipeline.
            .rate_control_mode(RateControlMode::Off)
            .qp(QpRange::new(QP_BEST, QP_WORST))
            .max_frame_rate(FrameRate::from_hz(fps))
            .skip_frames(false)
            // Background detection skips blocks it judges static against a reconstruction
            // made at another quantiser: after a jump to a high QP it froze the picture.
            .background_detection(false)
            // No periodic IDR: keyframes are sent when asked for (loss, monitor switch).
            .intra_frame_period(IntraFramePeriod::from_num_frames(0))
            .num_threads(1);
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config)?;
        Ok(Self {
            encoder,
            yuv: I420Frame::new(width, height),
            params: None,
            qp: QP_START,
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
        let (data, keyframe) = {
            let bitstream = self.encoder.encode(&self.yuv)?;
            let keyframe = matches!(bitstream.frame_type(), FrameType::IDR | FrameType::I);
            (bitstream.to_vec(), keyframe)
        };
        if self.params.is_none() {
            // The crate sets the encoder up on the first frame (at openh264's base quantiser,
            // which is QP_START): from now on the quantiser can be changed.
            self.adopt_params()?;
        }
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
        let mut enc = VideoEncoder::new(w, h, 30.0).expect("encoder");
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
    fn the_quantiser_changes_size_without_a_keyframe() {
        let (w, h) = (320, 240);
        let mut frame = BgraFrame::new(w, h);
        let mut enc = VideoEncoder::new(w, h, 30.0).expect("encoder");
        let mut dec = VideoDecoder::new().expect("decoder");
        let mut sizes = Vec::new();
        // Fresh texture every frame, so every frame costs about the same at one QP.
        let mut seed = 0x2545_f491_u32;
        for (i, qp) in [26u8, 26, 40, 40, 20, 20].into_iter().enumerate() {
            enc.set_qp(qp).expect("qp");
            assert_eq!(enc.qp(), qp);
            for px in frame.data.chunks_mut(4) {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let v = (seed >> 24) as u8 / 4 + 96;
                px.copy_from_slice(&[v, v / 2, 255 - v, 255]);
            }
            let encoded = enc.encode(&frame, false).expect("encode");
            assert_eq!(
                encoded.keyframe,
                i == 0,
                "frame {i}: only the first is a keyframe"
            );
            assert!(dec.decode(&encoded.data).expect("decode").is_some());
            sizes.push(encoded.data.len());
        }
        // Frames 1, 3 and 5 code the same kind of change at QP 26, 40 and 20.
        assert!(sizes[3] * 2 < sizes[1], "QP 40 is much smaller: {sizes:?}");
        assert!(sizes[5] > sizes[1], "QP 20 is larger: {sizes:?}");
        assert!(
            sizes[5] > 10 * sizes[3],
            "quality climbs back after QP 40: {sizes:?}"
        );
        enc.set_qp(99).expect("clamped");
        assert_eq!(enc.qp(), crate::media::rate::QP_WORST);
    }

    #[test]
    fn odd_sizes_and_garbage_are_errors_not_panics() {
        assert!(VideoEncoder::new(321, 240, 30.0).is_err());
        let mut dec = VideoDecoder::new().expect("decoder");
        let _ = dec.decode(&[0, 0, 0, 1, 0x65, 1, 2, 3, 4, 5]);
        let _ = dec.decode(&[0xff; 100]);
    }
}
