//! The video legs: on the sharer a pipeline thread (source → I420 → H.264) feeding one QUIC
//! stream per frame; on the helper a stream reader feeding a decoder thread.
//!
//! Pacing: the sharer encodes a new frame only while fewer than [`MAX_IN_FLIGHT`] frames are
//! unacknowledged by the helper's decoder, so a slow path or a slow decoder never builds a
//! queue: frames are skipped before they are encoded, and what is shown is always recent.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use quinn::Connection;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::{DecodedFrameRef, FrameSink, VideoConfig};
use crate::capture::{self, CaptureInfo, CursorPosition, CursorShape, MonitorInfo, ScreenSource};
use crate::media::damage::DamageTracker;
use crate::media::frame::BgraFrame;
use crate::media::h264::{VideoDecoder, VideoEncoder};
use crate::media::rate::{scaled_size, QualityController, QP_BEST};
use crate::protocol::{
    now_us, ClipboardContent, FrameHeader, StreamKind, MAX_FRAME_LEN, STREAM_REFUSED,
};

pub const MAX_IN_FLIGHT: u64 = 3;
/// After the screen stops changing, this many more frames of the still picture are encoded at
/// the best quantiser (P-frames that sharpen what a busy moment left blurry), then nothing is
/// sent. The first does nearly all of it; the second cleans up what the first left.
const REFINEMENT_FRAMES: u32 = 2;
/// Refinement frames are spaced out and never hold back a real change: they would otherwise
/// fill every frame slot and a keystroke would wait for the next one.
const REFINEMENT_INTERVAL: Duration = Duration::from_millis(100);
const NO_MONITOR_REQUEST: i64 = -1;
/// A still picture shown smaller during motion is refined at full size (a keyframe, often a
/// few hundred kilobits) only when the path can pay for it within a second or so; on a
/// thinner path it is refined at the size it has, and grows back as frames get cheap.
const FULL_SIZE_REFINEMENT_MIN_BPS: f64 = 1_500_000.0;
/// A frame bigger than this much of a second of the video's budget is never sent as it is
/// when a smaller or coarser coding is still possible.
const MAX_FRAME_SECONDS: f64 = 0.5;
/// The same for a keyframe, which is needed whatever the motion (a new picture, a new
/// size): a page of text at 1080p is ~2 Mbit, most of a second at 2.5 Mbit/s, and paid
/// once. Past this it is the content that the path cannot carry at this size (noise, a
/// video), and coding it smaller is the only way to show anything soon.
const MAX_KEYFRAME_SECONDS: f64 = 2.0;
/// At most this many codings of one frame.
const MAX_REDOS: u32 = 3;
/// What a keyframe is weighed as, in P-frames, when it tells the quality controller about
/// the content.
const KEYFRAME_WEIGHT: usize = 8;
/// A frame that took at most this long from capture to coded, and used at most half its
/// share of the budget (a caret, a small region), may be followed by the next one after
/// [`FAST_INTERVAL`] instead of the configured interval: a change drawn 30 times a second
/// is then captured as soon as it is drawn, instead of waiting for a cap that drifts in and
/// out of phase with it (up to a whole interval). A small change at 1080p costs 5-7 ms here,
/// most of it the encoder's pass over the picture: at most half a core at 60 frames/s.
const CHEAP_WORK: Duration = Duration::from_micros(8_000);
const FAST_INTERVAL: Duration = Duration::from_micros(16_667);

/// What a coded change cost, for the frame-rate cap.
struct CodedFrame {
    /// Capture to coded.
    work: Duration,
    bits: usize,
    /// Its share of the budget at the configured frame rate.
    budget_bits: f64,
    /// Coded smaller than the screen (motion beyond the budget).
    scaled: bool,
}

/// How long after a change was captured the next one may be: the configured interval, or
/// [`FAST_INTERVAL`] after a change that was cheap in time and in bits.
fn frame_gap(config: &VideoConfig, interval: Duration, frame: &CodedFrame) -> Duration {
    let cheap = !config.whole_frames
        && !frame.scaled
        && frame.work <= CHEAP_WORK
        && frame.bits as f64 <= frame.budget_bits / 2.0;
    if cheap {
        interval.min(FAST_INTERVAL)
    } else {
        interval
    }
}

/// Which rows of the frame changed since the encoder last converted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unconverted {
    Rows(u32, u32),
    Nothing,
    /// Unknown (a reset, a new size, a failed coding): convert it all.
    All,
}

impl Unconverted {
    fn add(self, bounds: Option<crate::media::damage::Rect>) -> Self {
        let Some(b) = bounds else {
            return self;
        };
        let (top, bottom) = (b.y, b.y.saturating_add(b.height));
        match self {
            Self::Nothing => Self::Rows(top, bottom),
            Self::Rows(t, bt) => Self::Rows(t.min(top), bt.max(bottom)),
            Self::All => Self::All,
        }
    }

    fn rows(self) -> Option<(u32, u32)> {
        match self {
            Self::Rows(t, b) => Some((t, b)),
            Self::Nothing => Some((0, 0)),
            Self::All => None,
        }
    }
}

/// Shared between the sharer's session task and its pipeline thread.
pub struct PipelineControl {
    pub paused: AtomicBool,
    pub stop: AtomicBool,
    pub force_keyframe: AtomicBool,
    /// Sequence number the next frame will get.
    pub next_seq: AtomicU64,
    /// One past the highest sequence the helper has decoded.
    pub acked_through: AtomicU64,
    /// A monitor the helper asked for, or -1.
    select_monitor: AtomicI64,
    /// Bits per second the path can take now (0: no estimate yet, use the configured rate).
    path_bps: AtomicU64,
}

impl Default for PipelineControl {
    fn default() -> Self {
        Self {
            paused: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            force_keyframe: AtomicBool::new(false),
            next_seq: AtomicU64::new(0),
            acked_through: AtomicU64::new(0),
            select_monitor: AtomicI64::new(NO_MONITOR_REQUEST),
            path_bps: AtomicU64::new(0),
        }
    }
}

impl PipelineControl {
    /// The helper decoded frame `seq`. Only frames that were sent count: an ack from the
    /// future (a hostile or confused helper) must not switch pacing off.
    pub fn ack(&self, seq: u64) {
        if seq < self.next_seq.load(Ordering::Relaxed) {
            self.acked_through.fetch_max(seq + 1, Ordering::Relaxed);
        }
    }

    pub fn request_monitor(&self, id: u32) {
        self.select_monitor.store(i64::from(id), Ordering::Relaxed);
    }

    /// The session's latest estimate of what the path carries (QUIC cwnd / RTT).
    pub fn set_path_estimate(&self, bits_per_second: u64) {
        self.path_bps.store(bits_per_second, Ordering::Relaxed);
    }

    fn in_flight(&self) -> u64 {
        self.next_seq
            .load(Ordering::Relaxed)
            .saturating_sub(self.acked_through.load(Ordering::Relaxed))
    }
}

pub enum PipelineOutput {
    Frame(OutgoingFrame),
    Cursor(CursorPosition),
    CursorShape(CursorShape),
    /// The monitor list, at start and after every switch.
    Monitors {
        monitors: Vec<MonitorInfo>,
        current: u32,
        capture: CaptureInfo,
    },
    /// The desktop went out of reach (Windows' secure desktop: `true`), or came back.
    OutOfReach(bool),
}

pub struct OutgoingFrame {
    pub header: FrameHeader,
    pub data: Vec<u8>,
}

/// Starts the sharer's pipeline thread, which opens the screen source and runs capture →
/// damage check → BGRA→I420 → H.264; returns once the source is open (or why it is not).
/// The source lives on that thread only: platform capture handles (an `HMONITOR`) need not
/// move between threads. It ends when `control.stop` is set or the receiver is dropped.
///
/// Opening can take as long as the person needs to answer the desktop's screen-sharing
/// dialog (Wayland): it is awaited, never blocking the runtime.
pub async fn spawn_pipeline(
    config: VideoConfig,
    control: Arc<PipelineControl>,
) -> Result<mpsc::Receiver<PipelineOutput>, capture::CaptureError> {
    let (tx, rx) = mpsc::channel(2);
    let (opened_tx, opened_rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("tandem-capture".into())
        .spawn(move || {
            let mut source = match capture::open(&config.source) {
                Ok(source) => {
                    let _ = opened_tx.send(Ok(()));
                    source
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                    return;
                }
            };
            if let Err(e) = run_pipeline(&config, source.as_mut(), &control, &tx) {
                warn!("video pipeline stopped: {e}");
            }
            debug!("video pipeline stopped");
        })
        .map_err(|e| capture::CaptureError::Failed(e.to_string()))?;
    opened_rx.await.map_err(|_| {
        capture::CaptureError::Failed("the capture thread ended before opening the screen".into())
    })??;
    Ok(rx)
}

fn announce(source: &dyn ScreenSource, tx: &mpsc::Sender<PipelineOutput>) -> bool {
    tx.blocking_send(PipelineOutput::Monitors {
        monitors: source.monitors().to_vec(),
        current: source.current().id,
        capture: source.method(),
    })
    .is_ok()
}

fn run_pipeline(
    config: &VideoConfig,
    source: &mut dyn ScreenSource,
    control: &PipelineControl,
    tx: &mpsc::Sender<PipelineOutput>,
) -> Result<(), String> {
    if !announce(source, tx) {
        return Ok(());
    }
    if config.whole_frames {
        source.read_whole_frames();
    }
    let mut frame = BgraFrame::new(source.current().width, source.current().height);
    let mut encoder: Option<VideoEncoder> = None;
    let mut damage = DamageTracker::new();
    let mut unconverted = Unconverted::All;
    // The last frame sent was a keyframe, and the budget then made the pipeline wait.
    let mut last_sent_keyframe = false;
    let mut catching_up = false;
    let mut refinements_left = 0u32;
    let mut budget = BitBudget::new(f64::from(config.bitrate_bps));
    let mut quality = QualityController::default();
    let interval = Duration::from_secs_f64(1.0 / config.fps.max(1) as f64);
    // Frames are at least `interval` apart; within that, a change is captured as soon as the
    // display reports it (no clock tick to wait for: that alone would add half a frame
    // interval of latency on average).
    let mut next_allowed = Instant::now();
    let mut next_refinement = Instant::now();
    let mut last_cursor: Option<CursorPosition> = None;
    let mut out_of_reach = false;
    // The pointer is followed at up to 60 Hz, whatever the video does.
    let cursor_interval = Duration::from_millis(16);
    'frames: while !control.stop.load(Ordering::Relaxed) && !tx.is_closed() {
        let now = Instant::now();
        if now < next_allowed {
            std::thread::sleep((next_allowed - now).min(cursor_interval));
        }
        // A UAC prompt or the lock screen: nothing can be captured until it closes; then a
        // fresh keyframe, whatever the damage tracker remembers from before.
        let reach = source.out_of_reach();
        if reach != out_of_reach {
            out_of_reach = reach;
            if tx.blocking_send(PipelineOutput::OutOfReach(reach)).is_err() {
                break;
            }
            if !reach {
                damage.reset();
                unconverted = Unconverted::All;
                control.force_keyframe.store(true, Ordering::Relaxed);
            }
        }
        if out_of_reach {
            next_allowed = Instant::now() + interval;
            continue;
        }
        if !control.paused.load(Ordering::Relaxed) {
            if let Some(shape) = source.cursor_shape() {
                if tx
                    .blocking_send(PipelineOutput::CursorShape(shape))
                    .is_err()
                {
                    break;
                }
            }
            let position = source.cursor_position();
            if position.is_some() && position != last_cursor {
                last_cursor = position;
                if let Some(p) = position {
                    if tx.blocking_send(PipelineOutput::Cursor(p)).is_err() {
                        break;
                    }
                }
            }
        }
        if Instant::now() < next_allowed {
            continue;
        }
        if source.monitors_changed() {
            damage.reset();
            unconverted = Unconverted::All;
            control.force_keyframe.store(true, Ordering::Relaxed);
            if !announce(source, tx) {
                break;
            }
        }
        let wanted = control
            .select_monitor
            .swap(NO_MONITOR_REQUEST, Ordering::Relaxed);
        if let Ok(id) = u32::try_from(wanted) {
            match source.select(id) {
                Ok(()) => {
                    damage.reset();
                    unconverted = Unconverted::All;
                    control.force_keyframe.store(true, Ordering::Relaxed);
                    if !announce(source, tx) {
                        break;
                    }
                }
                Err(e) => warn!("monitor {id}: {e}"),
            }
        }
        let target = target_bps(config.bitrate_bps, control.path_bps.load(Ordering::Relaxed));
        budget.refill(target);
        if control.paused.load(Ordering::Relaxed)
            || control.in_flight() >= MAX_IN_FLIGHT
            || budget.exhausted()
        {
            // Waiting for a keyframe to be paid for: the next frame will carry all the
            // motion of the wait.
            catching_up |= budget.exhausted() && last_sent_keyframe;
            next_allowed = Instant::now() + interval.min(Duration::from_millis(5));
            continue;
        }
        let key_requested = control.force_keyframe.load(Ordering::Relaxed);
        let refinement_due = refinements_left > 0 && Instant::now() >= next_refinement;
        let must_encode = key_requested || refinement_due || encoder.is_none();
        // When the display says nothing was drawn, there is nothing to capture either: the
        // previous picture is still in `frame` for a refinement or a requested keyframe.
        let known_still = if must_encode {
            encoder.is_some() && source.changed() == Some(false)
        } else {
            let wait = if refinements_left > 0 {
                next_refinement.saturating_duration_since(Instant::now())
            } else {
                interval
            };
            match source.wait_for_change(wait.min(cursor_interval)) {
                // Nothing drawn for a whole interval: look again (stop, pause, requests).
                Some(false) => continue,
                Some(true) | None => false,
            }
        };
        let started = Instant::now();
        let capture_us = now_us();
        if !known_still {
            if let Err(e) = source.capture(&mut frame) {
                return Err(e.to_string());
            }
        }
        // An unchanged screen costs a hash: once refined, nothing is encoded or sent. Only
        // what the capture wrote is hashed, and only the rows that changed are converted.
        let changed = !known_still && {
            // After `read_whole_frames` the source says it wrote everything.
            let found = damage.update_in(&frame, source.captured_area());
            unconverted = if config.whole_frames {
                Unconverted::All
            } else {
                unconverted.add(found.bounds)
            };
            !found.is_empty()
        };
        let mut refining = false;
        if changed {
            refinements_left = if QualityController::worth_refining(quality.qp()) {
                REFINEMENT_FRAMES
            } else {
                0
            };
            next_refinement = started + REFINEMENT_INTERVAL;
        } else {
            let refine_now = refinements_left > 0 && started >= next_refinement;
            refining = refine_now;
            if !key_requested && !refine_now {
                if refinements_left == 0 {
                    next_allowed = started + interval;
                }
                continue;
            }
            if refine_now {
                refinements_left -= 1;
                next_refinement = started + REFINEMENT_INTERVAL;
            }
        }
        // Motion that quality alone cannot pay for is coded smaller (the helper stretches
        // it back); a still picture is worth its full size again. A frame that came out
        // hopelessly large for the path is coded again at once, as the controller now says,
        // instead of being sent: it would hold every later frame back for seconds.
        let mut redone = 0;
        let encoded = loop {
            let divisor = if refining && target >= FULL_SIZE_REFINEMENT_MIN_BPS {
                1
            } else {
                quality.divisor()
            };
            let coded = scaled_size(frame.width, frame.height, divisor);
            let qp = if refining { QP_BEST } else { quality.qp() };
            let size_changed = encoder.as_ref().is_none_or(|e| e.size() != coded);
            if size_changed {
                debug!(
                    "coding {}×{} of {}×{}",
                    coded.0, coded.1, frame.width, frame.height
                );
                encoder = Some(
                    VideoEncoder::new(coded.0, coded.1, config.fps as f32, qp)
                        .map_err(|e| e.to_string())?,
                );
            }
            let Some(enc) = encoder.as_mut() else {
                continue 'frames;
            };
            let keyframe =
                size_changed || redone > 0 || control.force_keyframe.swap(false, Ordering::Relaxed);
            if let Err(e) = enc.set_qp(qp) {
                warn!("{e}");
            }
            let rows = unconverted.rows();
            unconverted = Unconverted::Nothing;
            let encoded = match enc.encode_changed(&frame, keyframe, rows) {
                Ok(e) => e,
                Err(e) => {
                    warn!("encode failed: {e}");
                    unconverted = Unconverted::All;
                    control.force_keyframe.store(true, Ordering::Relaxed);
                    continue 'frames;
                }
            };
            if encoded.data.is_empty() {
                continue 'frames;
            }
            let bits = encoded.data.len() * 8;
            let frame_budget = target / f64::from(config.fps.max(1));
            // A keyframe, and the frame that catches up with the motion of the wait a
            // keyframe caused, are paid once: they are weighed as such, not as the motion of
            // one frame interval.
            let paid_once = encoded.keyframe || (catching_up && changed);
            let hopeless = bits as f64
                > target
                    * if paid_once {
                        MAX_KEYFRAME_SECONDS
                    } else {
                        MAX_FRAME_SECONDS
                    };
            let before = (quality.divisor(), quality.qp());
            if changed && !paid_once {
                quality.observe(bits, frame_budget);
            } else if changed && hopeless {
                // An ordinary keyframe costs several P-frames and says little about motion;
                // one that eats seconds of the path does (noise, a video).
                quality.observe(bits / KEYFRAME_WEIGHT, frame_budget);
            }
            let recoded = (quality.divisor(), quality.qp()) != before;
            if hopeless && recoded && !refining && redone < MAX_REDOS {
                debug!(bits, "a frame too large for the path: coded again");
                redone += 1;
                continue;
            }
            break encoded;
        };
        budget.spend(encoded.data.len());
        last_sent_keyframe = encoded.keyframe;
        catching_up = false;
        // The frame-rate cap counts real changes; a refinement never delays the next one.
        if changed || key_requested {
            let cost = CodedFrame {
                work: started.elapsed(),
                bits: encoded.data.len() * 8,
                budget_bits: target / f64::from(config.fps.max(1)),
                scaled: quality.divisor() > 1,
            };
            next_allowed = started + frame_gap(config, interval, &cost);
        }
        let seq = control.next_seq.fetch_add(1, Ordering::Relaxed);
        let out = OutgoingFrame {
            header: FrameHeader {
                seq,
                capture_us,
                width: frame.width as u16,
                height: frame.height as u16,
                keyframe: encoded.keyframe,
                encode_us: encoded.convert_us + encoded.encode_us,
            },
            data: encoded.data,
        };
        if tx.blocking_send(PipelineOutput::Frame(out)).is_err() {
            break;
        }
    }
    Ok(())
}

/// What the video may use: the session's target from the path (`video_rate`), never above
/// the configured rate nor below a floor where a screen is still readable.
fn target_bps(configured: u32, path_bps: u64) -> f64 {
    let configured = f64::from(configured);
    if path_bps == 0 {
        return configured;
    }
    (path_bps as f64).clamp(super::video_rate::FLOOR_BPS.min(configured), configured)
}

/// A token bucket in bits: a quarter of a second of burst, and sustained overshoot turns
/// into skipped frames instead of a growing queue. Any frame may start while the bucket is
/// not empty (a keyframe overdraws it, and the frames after it wait until it is repaid);
/// the burst bounds the queue a still screen's saved-up budget can build at the bottleneck
/// when motion starts (a whole second of it stood in a DSL modem's buffer).
const BURST: f64 = 0.25;

struct BitBudget {
    tokens: f64,
    last: Instant,
}

impl BitBudget {
    fn new(rate: f64) -> Self {
        Self {
            tokens: rate * BURST,
            last: Instant::now(),
        }
    }

    fn refill(&mut self, rate: f64) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + rate * elapsed).min(rate * BURST);
    }

    fn exhausted(&self) -> bool {
        self.tokens < 0.0
    }

    fn spend(&mut self, bytes: usize) {
        self.tokens -= bytes as f64 * 8.0;
    }
}

/// Below the control stream (chat, cursor, answers to input), above files: on a thin
/// uplink a keyframe in the send buffer must not hold back a control message.
const VIDEO_PRIORITY: i32 = -1;

/// Sends one frame on its own unidirectional stream.
pub async fn send_frame(conn: &Connection, frame: &OutgoingFrame) -> Result<(), String> {
    let mut stream = conn.open_uni().await.map_err(|e| e.to_string())?;
    let _ = stream.set_priority(VIDEO_PRIORITY);
    let mut head = [0u8; 1 + FrameHeader::LEN];
    head[0] = StreamKind::VideoFrame.byte();
    head[1..].copy_from_slice(&frame.header.encode());
    stream.write_all(&head).await.map_err(|e| e.to_string())?;
    stream
        .write_all(&frame.data)
        .await
        .map_err(|e| e.to_string())?;
    stream.finish().map_err(|e| e.to_string())?;
    Ok(())
}

/// A frame the helper decoded.
pub struct Decoded {
    pub header: FrameHeader,
    pub bytes: usize,
    pub width: u32,
    pub height: u32,
    pub decode_ms: f64,
    pub received_us: u64,
}

pub enum ReceiverEvent {
    Decoded(Decoded),
    /// The decoder lost sync; ask the sharer for a keyframe.
    NeedKeyframe,
    /// A copy from the sharer, read whole (the session's core decides whether it lands).
    Copied(ClipboardContent),
    /// A file stream from the sharer, its head read (the core decides whether it is taken).
    File(crate::file::FileHead, quinn::RecvStream),
}

/// Frame streams read concurrently on the helper, at most.
const FRAMES_READ_AT_ONCE: usize = 8;

/// Reads frame streams and decodes them in order on a dedicated thread; copies from the
/// sharer only while `clipboard_open` (else their streams are stopped unread); file streams'
/// heads, for the session to decide.
pub fn spawn_receiver(
    conn: Connection,
    sink: Option<FrameSink>,
    clipboard_open: Arc<AtomicBool>,
) -> Result<mpsc::Receiver<ReceiverEvent>, String> {
    let (frames_tx, mut frames_rx) = mpsc::channel::<(FrameHeader, Vec<u8>)>(64);
    let (events_tx, events_rx) = mpsc::channel(64);
    // Frames read at once, at most: each may be up to MAX_FRAME_LEN, and a sharer that
    // opens many streams and finishes none must not make that many buffers (QUIC's flow
    // control holds the rest back).
    let reading = Arc::new(tokio::sync::Semaphore::new(FRAMES_READ_AT_ONCE));
    // One copy read at a time (each up to the clipboard limit).
    let copying = Arc::new(AtomicBool::new(false));
    let copies_tx = events_tx.clone();

    tokio::spawn(async move {
        while let Ok(mut stream) = conn.accept_uni().await {
            let frames_tx = frames_tx.clone();
            let reading = Arc::clone(&reading);
            let copying = Arc::clone(&copying);
            let clipboard_open = Arc::clone(&clipboard_open);
            let copies_tx = copies_tx.clone();
            tokio::spawn(async move {
                let Ok(_permit) = reading.acquire_owned().await else {
                    return;
                };
                // Frames and copies come from the sharer; anything else is refused unread.
                match stream.read_u8().await {
                    Ok(kind) if StreamKind::from_byte(kind) == Some(StreamKind::VideoFrame) => {}
                    Ok(kind)
                        if StreamKind::from_byte(kind) == Some(StreamKind::Clipboard)
                            && clipboard_open.load(Ordering::Acquire)
                            && !copying.swap(true, Ordering::AcqRel) =>
                    {
                        match ClipboardContent::read(&mut stream).await {
                            Ok(content) => {
                                let _ = copies_tx.send(ReceiverEvent::Copied(content)).await;
                            }
                            Err(e) => {
                                debug!("a clipboard stream from the sharer: {e}");
                                let _ = stream.stop(STREAM_REFUSED.into());
                            }
                        }
                        copying.store(false, Ordering::Release);
                        return;
                    }
                    Ok(kind) if StreamKind::from_byte(kind) == Some(StreamKind::File) => {
                        match crate::file::FileHead::read(&mut stream).await {
                            Ok(head) => {
                                let _ = copies_tx.send(ReceiverEvent::File(head, stream)).await;
                            }
                            Err(e) => debug!("a file stream from the sharer: {e}"),
                        }
                        return;
                    }
                    Ok(kind) => {
                        debug!("refused a stream of kind {kind:#04x} from the sharer");
                        let _ = stream.stop(STREAM_REFUSED.into());
                        return;
                    }
                    Err(_) => return,
                }
                let data = match stream.read_to_end(MAX_FRAME_LEN + FrameHeader::LEN).await {
                    Ok(d) => d,
                    Err(e) => {
                        debug!("frame stream: {e}");
                        return;
                    }
                };
                let Some(header) = FrameHeader::decode(&data) else {
                    warn!("malformed frame header");
                    return;
                };
                let _ = frames_tx
                    .send((header, data[FrameHeader::LEN..].to_vec()))
                    .await;
            });
        }
    });

    let mut decoder = VideoDecoder::new().map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("tandem-decode".into())
        .spawn(move || {
            let mut reorder: BTreeMap<u64, (FrameHeader, Vec<u8>)> = BTreeMap::new();
            let mut next: Option<u64> = None;
            let mut waiting_for_key = true;
            while let Some((header, data)) = frames_rx.blocking_recv() {
                if next.is_some_and(|n| header.seq < n) {
                    continue;
                }
                reorder.insert(header.seq, (header, data));
                // Resynchronise if a gap persists while later frames pile up.
                if reorder.len() > 8 {
                    if let Some((&key_seq, _)) = reorder.iter().find(|(_, (h, _))| h.keyframe) {
                        reorder = reorder.split_off(&key_seq);
                        next = Some(key_seq);
                    } else {
                        let _ = events_tx.blocking_send(ReceiverEvent::NeedKeyframe);
                        reorder.clear();
                        next = None;
                        waiting_for_key = true;
                        continue;
                    }
                }
                loop {
                    let expected = match next {
                        Some(n) => n,
                        None => match reorder.iter().find(|(_, (h, _))| h.keyframe) {
                            Some((&s, _)) => s,
                            None => break,
                        },
                    };
                    let Some((header, data)) = reorder.remove(&expected) else {
                        break;
                    };
                    // The sharer's numbers: checked, never trusted to stay small.
                    next = expected.checked_add(1);
                    if waiting_for_key && !header.keyframe {
                        let _ = events_tx.blocking_send(ReceiverEvent::NeedKeyframe);
                        continue;
                    }
                    waiting_for_key = false;
                    let started = Instant::now();
                    match decoder.decode(&data) {
                        Ok(Some(picture)) => {
                            if let Some(sink) = &sink {
                                sink(&DecodedFrameRef {
                                    seq: header.seq,
                                    width: picture.width,
                                    height: picture.height,
                                    screen_width: u32::from(header.width),
                                    screen_height: u32::from(header.height),
                                    rgba: picture.rgba,
                                });
                            }
                            let decoded = Decoded {
                                header,
                                bytes: data.len(),
                                width: picture.width,
                                height: picture.height,
                                decode_ms: started.elapsed().as_secs_f64() * 1000.0,
                                received_us: now_us(),
                            };
                            if events_tx
                                .blocking_send(ReceiverEvent::Decoded(decoded))
                                .is_err()
                            {
                                return;
                            }
                        }
                        Ok(None) => {}
                        Err(e) => {
                            warn!("decode failed: {e}");
                            waiting_for_key = true;
                            let _ = events_tx.blocking_send(ReceiverEvent::NeedKeyframe);
                        }
                    }
                }
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(events_rx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::PatternSource;

    /// The monitor side of a test source: that of its `pattern` field.
    macro_rules! monitors_of_the_pattern {
        () => {
            fn monitors(&self) -> &[MonitorInfo] {
                self.pattern.monitors()
            }
            fn current(&self) -> &MonitorInfo {
                self.pattern.current()
            }
            fn select(&mut self, id: u32) -> Result<(), capture::CaptureError> {
                self.pattern.select(id)
            }
            fn method(&self) -> CaptureInfo {
                self.pattern.method()
            }
        };
    }

    /// The test pattern, with a Windows prompt the test opens and closes.
    struct Prompted {
        pattern: PatternSource,
        prompt: Arc<AtomicBool>,
        captures: Arc<AtomicU64>,
        looks: Arc<AtomicU64>,
    }

    impl ScreenSource for Prompted {
        monitors_of_the_pattern!();
        fn capture(&mut self, out: &mut BgraFrame) -> Result<(), capture::CaptureError> {
            self.captures.fetch_add(1, Ordering::Relaxed);
            self.pattern.capture(out)
        }
        fn out_of_reach(&mut self) -> bool {
            self.looks.fetch_add(1, Ordering::Relaxed);
            self.prompt.load(Ordering::Relaxed)
        }
    }

    /// Full-screen noise (the worst case: a video), each capture taking `slow` more (a
    /// machine having a slow day).
    struct Noise {
        pattern: PatternSource,
        state: u64,
        slow: Duration,
    }

    impl ScreenSource for Noise {
        monitors_of_the_pattern!();
        fn capture(&mut self, out: &mut BgraFrame) -> Result<(), capture::CaptureError> {
            std::thread::sleep(self.slow);
            for px in out.data.chunks_exact_mut(8) {
                self.state ^= self.state << 13;
                self.state ^= self.state >> 7;
                self.state ^= self.state << 17;
                px.copy_from_slice(&self.state.to_le_bytes());
            }
            Ok(())
        }
    }

    /// On a thin path, noise is coded smaller from the very first frame sent (an oversized
    /// keyframe is coded again, never sent): the decision depends on what frames cost, not
    /// on how fast the machine makes them, so a slow machine decides the same.
    #[test]
    fn noise_on_a_thin_path_is_coded_smaller_from_the_first_frame_however_slow_the_machine() {
        for slow in [Duration::ZERO, Duration::from_millis(80)] {
            let source = Noise {
                pattern: PatternSource::new(1280, 720),
                state: 0x9e37_79b9_7f4a_7c15,
                slow,
            };
            let control = PipelineControl::default();
            control.set_path_estimate(500_000);
            let coded: Vec<(u32, usize)> = coded_frames(source, VideoConfig::default(), control, 3)
                .into_iter()
                .map(|(width, bits, _)| (width, bits))
                .collect();
            eprintln!("slowed by {slow:?}: (coded width, bits) {coded:?}");
            assert!(
                coded.iter().all(|(w, _)| *w < 1280),
                "slowed by {slow:?}: a frame went out at full size: {coded:?}"
            );
        }
    }

    #[test]
    fn only_changes_cheap_in_time_and_bits_may_follow_each_other_faster_than_the_cap() {
        let config = VideoConfig::default();
        let interval = Duration::from_secs_f64(1.0 / 30.0);
        let caret = CodedFrame {
            work: Duration::from_millis(2),
            bits: 8_000,
            budget_bits: 2_500_000.0 / 30.0,
            scaled: false,
        };
        assert_eq!(frame_gap(&config, interval, &caret), FAST_INTERVAL);
        let slow = CodedFrame {
            work: Duration::from_millis(9),
            ..caret
        };
        assert_eq!(
            frame_gap(&config, interval, &slow),
            interval,
            "costly in time"
        );
        let big = CodedFrame {
            bits: 60_000,
            ..caret
        };
        assert_eq!(
            frame_gap(&config, interval, &big),
            interval,
            "costly in bits"
        );
        let scaled = CodedFrame {
            scaled: true,
            ..caret
        };
        assert_eq!(frame_gap(&config, interval, &scaled), interval, "motion");
        let whole = VideoConfig {
            whole_frames: true,
            ..VideoConfig::default()
        };
        assert_eq!(
            frame_gap(&whole, interval, &caret),
            interval,
            "the reference"
        );
        // A cap already above 60 frames/s is never lowered.
        let fast = Duration::from_millis(8);
        assert_eq!(frame_gap(&config, fast, &caret), fast);
    }

    /// A page of text scrolling up by two rows every 1/30 s: its first keyframe at 720p
    /// costs most of a second of a 2.5 Mbit/s budget, its P-frames less than their share.
    struct ScrollingText {
        pattern: PatternSource,
        page: Vec<u8>,
        /// The page moves with time, as a real scroll does: a capture after a pause shows
        /// all the motion of the pause at once.
        started: Instant,
    }

    impl ScrollingText {
        const LINE: usize = 16;

        fn new(width: u32, height: u32) -> Self {
            // Twice the screen's height of "glyphs": 8×16 cells of dark strokes on white.
            let (w, h) = (width as usize, 2 * height as usize);
            let mut page = vec![255u8; w * h * 4];
            let mut state = 0x2545_f491_4f6c_dd1du64;
            for cell_y in (0..h).step_by(Self::LINE) {
                for cell_x in (0..w).step_by(8) {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    // One cell in three is a space, one line in three is blank.
                    if state % 3 == 0 || (cell_y / Self::LINE) % 3 == 2 {
                        continue;
                    }
                    for y in 3..13 {
                        for x in 1..7 {
                            if (state >> ((y * 6 + x) % 61)) & 1 == 1 {
                                let at = ((cell_y + y) * w + cell_x + x) * 4;
                                page[at..at + 3].copy_from_slice(&[20, 20, 20]);
                            }
                        }
                    }
                }
            }
            Self {
                pattern: PatternSource::new(width, height),
                page,
                started: Instant::now(),
            }
        }
    }

    impl ScreenSource for ScrollingText {
        monitors_of_the_pattern!();
        fn capture(&mut self, out: &mut BgraFrame) -> Result<(), capture::CaptureError> {
            let row = out.width as usize * 4;
            // Two rows every 1/30 s.
            let offset =
                (self.started.elapsed().as_millis() as usize / 33 * 2) % out.height as usize;
            let start = offset * row;
            out.data
                .copy_from_slice(&self.page[start..start + out.height as usize * row]);
            Ok(())
        }
    }

    /// Where the path carries the configured rate, scrolling text stays at full size and
    /// sharp: its first keyframe is large (a whole page of text) but a keyframe is needed
    /// whatever the motion, and the P-frames after it fit. (A keyframe weighed against half
    /// a second of budget, as a P-frame is, was coded again coarser, and at 1080p shrank the
    /// scroll to 640×360 for good: every step back up was another keyframe. And the frame
    /// after the keyframe's wait for budget, which carries all the scrolling of that wait,
    /// was judged as one frame's motion: coded again and shrunk.)
    #[test]
    fn scrolling_text_on_a_path_that_carries_the_rate_stays_at_full_size() {
        let (w, h) = (1280, 720);
        let source = ScrollingText::new(w, h);
        let config = VideoConfig::default();
        let budget = f64::from(config.bitrate_bps);
        let coded = coded_frames(source, config, PipelineControl::default(), 20);
        eprintln!("(coded width, bits, keyframe) {coded:?}");
        assert!(
            coded.iter().all(|(width, ..)| *width == w),
            "scrolling text was shrunk: {coded:?}"
        );
        // And the first keyframe, worth more than half a second of budget (a P-frame that
        // large would be coded again) but less than two, went out as first coded: not
        // coarser either.
        let (_, first_bits, first_key) = coded[0];
        assert!(first_key, "{coded:?}");
        assert!(
            first_bits as f64 > 0.5 * budget,
            "the first keyframe was coded again coarser (or the page is too plain to test \
             this): {first_bits} bits"
        );
    }

    /// The next output, acknowledging frames as a helper would (hang guard only).
    /// Runs the pipeline over `source` until `count` frames were decoded, then stops it:
    /// each frame's (decoded width, bits, keyframe).
    fn coded_frames(
        mut source: impl ScreenSource + Send + 'static,
        config: VideoConfig,
        control: PipelineControl,
        count: usize,
    ) -> Vec<(u32, usize, bool)> {
        let control = Arc::new(control);
        let (tx, mut rx) = mpsc::channel(2);
        let pipeline = {
            let control = Arc::clone(&control);
            std::thread::spawn(move || run_pipeline(&config, &mut source, &control, &tx))
        };
        let mut decoder = VideoDecoder::new().expect("decoder");
        let mut coded = Vec::new();
        while coded.len() < count {
            if let PipelineOutput::Frame(f) = next(&mut rx, &control) {
                let bits = f.data.len() * 8;
                match decoder.decode(&f.data) {
                    Ok(Some(picture)) => coded.push((picture.width, bits, f.header.keyframe)),
                    other => panic!("frame {} not decoded: {:?}", f.header.seq, other.err()),
                }
            }
        }
        control.stop.store(true, Ordering::Relaxed);
        drop(rx);
        let _ = pipeline.join();
        coded
    }

    fn next(rx: &mut mpsc::Receiver<PipelineOutput>, control: &PipelineControl) -> PipelineOutput {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match rx.try_recv() {
                Ok(out) => {
                    if let PipelineOutput::Frame(f) = &out {
                        control.ack(f.header.seq);
                    }
                    return out;
                }
                Err(mpsc::error::TryRecvError::Empty) => {
                    assert!(Instant::now() < deadline, "the pipeline went silent");
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(mpsc::error::TryRecvError::Disconnected) => panic!("the pipeline stopped"),
            }
        }
    }

    #[test]
    fn a_windows_prompt_stops_the_picture_and_its_end_brings_a_keyframe() {
        let prompt = Arc::new(AtomicBool::new(false));
        let captures = Arc::new(AtomicU64::new(0));
        let looks = Arc::new(AtomicU64::new(0));
        let mut source = Prompted {
            pattern: PatternSource::new(64, 64),
            prompt: Arc::clone(&prompt),
            captures: Arc::clone(&captures),
            looks: Arc::clone(&looks),
        };
        let control = Arc::new(PipelineControl::default());
        let (tx, mut rx) = mpsc::channel(2);
        let config = VideoConfig {
            fps: 200,
            ..VideoConfig::default()
        };
        let pipeline = {
            let control = Arc::clone(&control);
            std::thread::spawn(move || run_pipeline(&config, &mut source, &control, &tx))
        };
        assert!(matches!(
            next(&mut rx, &control),
            PipelineOutput::Monitors { .. }
        ));
        while !matches!(next(&mut rx, &control), PipelineOutput::Frame(_)) {}

        prompt.store(true, Ordering::Relaxed);
        // Frames already on their way may still come; then the notice.
        loop {
            match next(&mut rx, &control) {
                PipelineOutput::OutOfReach(true) => break,
                PipelineOutput::Frame(_) | PipelineOutput::Cursor(_) => {}
                _ => panic!("unexpected output before the notice"),
            }
        }
        let captured = captures.load(Ordering::Relaxed);
        let looked = looks.load(Ordering::Relaxed);
        // The loop goes round many times while the prompt is up: nothing is captured.
        let deadline = Instant::now() + Duration::from_secs(30);
        while looks.load(Ordering::Relaxed) < looked + 20 {
            assert!(Instant::now() < deadline, "the pipeline stopped looking");
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(
            captures.load(Ordering::Relaxed),
            captured,
            "captured behind a prompt"
        );
        assert!(rx.try_recv().is_err(), "output while the prompt was up");

        prompt.store(false, Ordering::Relaxed);
        assert!(matches!(
            next(&mut rx, &control),
            PipelineOutput::OutOfReach(false)
        ));
        match next(&mut rx, &control) {
            PipelineOutput::Frame(f) => {
                assert!(f.header.keyframe, "the picture resumes with a keyframe")
            }
            _ => panic!("no frame after the prompt closed"),
        }
        control.stop.store(true, Ordering::Relaxed);
        drop(rx);
        pipeline.join().expect("pipeline thread").expect("pipeline");
    }

    #[test]
    fn acks_for_frames_never_sent_do_not_switch_pacing_off() {
        let control = PipelineControl::default();
        control.next_seq.store(10, Ordering::Relaxed);
        assert_eq!(control.in_flight(), 10);
        // A helper claiming to have decoded frames far in the future (or u64::MAX: no
        // overflow either).
        control.ack(u64::MAX - 1);
        control.ack(u64::MAX);
        control.ack(10);
        assert_eq!(
            control.in_flight(),
            10,
            "pacing still counts what is in flight"
        );
        control.ack(6);
        assert_eq!(control.in_flight(), 3);
        control.ack(2);
        assert_eq!(control.in_flight(), 3, "acks never go backwards");
    }

    #[test]
    fn target_follows_the_path_within_bounds() {
        assert_eq!(target_bps(2_500_000, 0), 2_500_000.0);
        assert_eq!(target_bps(2_500_000, 100_000_000), 2_500_000.0);
        assert_eq!(target_bps(2_500_000, 1_000_000), 1_000_000.0);
        assert_eq!(target_bps(2_500_000, 10_000), 250_000.0);
    }

    #[test]
    fn budget_allows_a_burst_then_paces() {
        let mut b = BitBudget::new(1_000_000.0);
        b.spend(25_000); // a 200 kbit frame fits in the burst
        assert!(!b.exhausted());
        b.spend(25_000); // the next one overdraws
        assert!(b.exhausted());
        b.tokens = -1.0;
        b.last = Instant::now() - Duration::from_millis(10);
        b.refill(1_000_000.0);
        assert!(!b.exhausted(), "10 ms at 1 Mbit/s repays 1 bit");
        b.last = Instant::now() - Duration::from_secs(5);
        b.refill(1_000_000.0);
        assert_eq!(
            b.tokens, 250_000.0,
            "the burst is capped at a quarter second"
        );
    }
}
