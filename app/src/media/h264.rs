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

use super::frame::{i420_to_rgba, BgraFrame, Downscaler, I420Frame};

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
    /// Time spent shrinking (when coded smaller than the screen) and in BGRA→I420, and in
    /// the encoder proper, µs.
    pub convert_us: u32,
    pub encode_us: u32,
}

pub struct VideoEncoder {
    encoder: Encoder,
    yuv: I420Frame,
    /// `yuv` holds the last full-size frame given, converted whole (so changed rows are
    /// enough to bring it up to date).
    holds_frame: bool,
    /// Frames larger than the coded size are shrunk first.
    downscaler: Option<Downscaler>,
    /// The encoder's parameters as it holds them (read back once it has started), to change
    /// the quantiser without a reset.
    params: Box<SEncParamExt>,
    qp: u8,
    /// The next frame must be an IDR: the first real one (see [`VideoEncoder::new`]).
    intra_pending: bool,
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
        self.params.sSpatialLayers[0].iDLayerQp = i32::from(qp);
        // SAFETY: the encoder is initialised (see `new`), `params` is a complete
        // SEncParamExt read back from this encoder and outlives the call, which copies it.
        // Only the layer quantiser differs, which openh264 applies without a reset or an IDR.
        let code = unsafe {
            self.encoder.raw_api().set_option(
                ENCODER_OPTION_SVC_ENCODE_PARAM_EXT,
                std::ptr::from_mut::<SEncParamExt>(&mut self.params).cast(),
            )
        };
        if code != 0 {
            return Err(CodecError::SetQp(qp, code));
        }
        self.qp = qp;
        Ok(())
    }

    /// The running parameters, read back from an initialised encoder.
    fn read_params(encoder: &mut Encoder) -> Result<Box<SEncParamExt>, CodecError> {
        // SAFETY: SEncParamExt is plain old data (integers, floats, bools and arrays of
        // them); all-zero is a valid value that GetOption overwrites entirely.
        let mut params: Box<SEncParamExt> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: initialised encoder; GetOption copies exactly one SEncParamExt into it.
        let code = unsafe {
            encoder.raw_api().get_option(
                ENCODER_OPTION_SVC_ENCODE_PARAM_EXT,
                std::ptr::from_mut::<SEncParamExt>(&mut params).cast(),
            )
        };
        if code != 0 {
            return Err(CodecError::SetQp(QP_START, code));
        }
        Ok(params)
    }
}

fn check_size(w: u32, h: u32) -> Result<(), CodecError> {
    if w % 2 != 0 || h % 2 != 0 || !(16..=8192).contains(&w) || !(16..=8192).contains(&h) {
        return Err(CodecError::BadSize(w, h));
    }
    Ok(())
}

impl VideoEncoder {
    /// An encoder at `qp` (clamped to what the quality control uses); quality is then set per
    /// frame with [`Self::set_qp`]. Frames of another size are scaled to `width`×`height`
    /// before they are encoded.
    pub fn new(width: u32, height: u32, fps: f32, qp: u8) -> Result<Self, CodecError> {
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
        let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config)?;
        // The crate sets openh264 up on the first frame, at its default quantiser (26), and
        // the quantiser can only be changed after that. A new encoder usually means a new
        // size in the middle of heavy motion, where an IDR at 26 would cost seconds of
        // budget: so a blank frame starts it (its output is dropped; the decoder never sees
        // it) and the first real frame is an IDR at the wanted quantiser.
        let yuv = I420Frame::new(width, height);
        encoder.encode(&yuv)?;
        let params = Self::read_params(&mut encoder)?;
        let mut this = Self {
            encoder,
            yuv,
            downscaler: None,
            holds_frame: false,
            qp: u8::try_from(params.sSpatialLayers[0].iDLayerQp).unwrap_or(QP_START),
            params,
            intra_pending: true,
        };
        this.set_qp(qp)?;
        Ok(this)
    }

    pub fn encode(
        &mut self,
        frame: &BgraFrame,
        keyframe: bool,
    ) -> Result<EncodedFrame, CodecError> {
        self.encode_changed(frame, keyframe, None)
    }

    /// [`Self::encode`] when only rows `changed` (top, bottom) of `frame` differ from the
    /// frame this encoder was last given (`None`: any may): only those rows are converted,
    /// when the encoder still holds that frame at full size. An empty range: the same frame
    /// again (a refinement, a requested keyframe).
    pub fn encode_changed(
        &mut self,
        frame: &BgraFrame,
        keyframe: bool,
        changed: Option<(u32, u32)>,
    ) -> Result<EncodedFrame, CodecError> {
        let started = std::time::Instant::now();
        // Until the conversion below succeeds, what the buffer holds is not known.
        let held = std::mem::take(&mut self.holds_frame);
        if (frame.width, frame.height) == self.size() {
            match changed {
                Some((top, bottom)) if held => self.yuv.fill_rows_from_bgra(frame, top, bottom)?,
                _ => self.yuv.fill_from_bgra(frame)?,
            }
            self.holds_frame = true;
        } else {
            let (w, h) = self.size();
            let downscaler = self.downscaler.get_or_insert_with(|| Downscaler::new(w, h));
            self.yuv.fill_from_bgra(downscaler.shrink(frame)?)?;
        }
        let converted = std::time::Instant::now();
        if keyframe || self.intra_pending {
            self.encoder.force_intra_frame();
        }
        let (data, keyframe) = {
            let bitstream = self.encoder.encode(&self.yuv)?;
            let keyframe = matches!(bitstream.frame_type(), FrameType::IDR | FrameType::I);
            (bitstream.to_vec(), keyframe)
        };
        self.intra_pending &= !keyframe;
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
        let mut enc = VideoEncoder::new(w, h, 30.0, QP_START).expect("encoder");
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
        let mut enc = VideoEncoder::new(w, h, 30.0, QP_START).expect("encoder");
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
    fn a_new_encoder_starts_with_an_idr_at_the_quantiser_asked_for() {
        let (w, h) = (320, 240);
        let mut frame = BgraFrame::new(w, h);
        let mut seed = 0x9e37_79b9_u32;
        for px in frame.data.chunks_mut(4) {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            px.copy_from_slice(&[(seed >> 24) as u8, (seed >> 16) as u8, seed as u8, 255]);
        }
        let idr_size = |qp: u8| {
            let mut enc = VideoEncoder::new(w, h, 30.0, qp).expect("encoder");
            assert_eq!(enc.qp(), qp);
            let encoded = enc.encode(&frame, false).expect("encode");
            assert!(encoded.keyframe, "the first frame is an IDR");
            let mut dec = VideoDecoder::new().expect("decoder");
            assert!(dec.decode(&encoded.data).expect("decode").is_some());
            encoded.data.len()
        };
        let (fine, coarse) = (idr_size(QP_BEST), idr_size(QP_WORST));
        assert!(coarse * 4 < fine, "QP 44: {coarse} bytes, QP 20: {fine}");
    }

    #[test]
    fn a_frame_coded_at_half_size_keeps_the_picture() {
        let (w, h) = (640, 480);
        let mut frame = BgraFrame::new(w, h);
        // Large blocks survive a 2× shrink: left half blue, right half orange.
        for (i, px) in frame.data.chunks_mut(4).enumerate() {
            let x = i as u32 % w;
            px.copy_from_slice(if x < w / 2 {
                &[200, 60, 20, 255]
            } else {
                &[20, 140, 240, 255]
            });
        }
        let mut enc = VideoEncoder::new(w / 2, h / 2, 30.0, QP_START).expect("encoder");
        let mut dec = VideoDecoder::new().expect("decoder");
        let encoded = enc.encode(&frame, true).expect("encode");
        let decoded = dec.decode(&encoded.data).expect("decode").expect("picture");
        assert_eq!((decoded.width, decoded.height), (w / 2, h / 2));
        let at = |x: u32, y: u32| {
            let i = ((y * decoded.width + x) * 4) as usize;
            [decoded.rgba[i], decoded.rgba[i + 1], decoded.rgba[i + 2]]
        };
        let close = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) < 12);
        assert!(close(at(40, 100), [20, 60, 200]), "{:?}", at(40, 100));
        assert!(close(at(280, 100), [240, 140, 20]), "{:?}", at(280, 100));
    }

    #[test]
    fn odd_sizes_and_garbage_are_errors_not_panics() {
        assert!(VideoEncoder::new(321, 240, 30.0, QP_START).is_err());
        let mut dec = VideoDecoder::new().expect("decoder");
        let _ = dec.decode(&[0, 0, 0, 1, 0x65, 1, 2, 3, 4, 5]);
        let _ = dec.decode(&[0xff; 100]);
    }
}
