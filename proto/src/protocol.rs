//! What the two peers say to each other once connected (the signals before that, over the
//! end-to-end Noise channel, are the app's `protocol::Signal`).
//!
//! - [`Control`]: over the QUIC control stream.
//! - Video: one QUIC unidirectional stream per encoded frame, a [`FrameHeader`] then H.264.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// 2: every unidirectional stream starts with its [`StreamKind`] (frames too).
pub const PROTOCOL_VERSION: u32 = 2;

/// The first byte of every unidirectional stream: what it carries. One registry, so a new
/// kind (a file, the clipboard) is added here, and no stream is ever guessed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum StreamKind {
    /// Helper → sharer: input events, one stream for the session.
    Input = 0x01,
    /// Sharer → helper: one encoded frame, a [`FrameHeader`] then H.264.
    VideoFrame = 0x02,
    /// Either way, while the sharer allows it: one copy (see [`ClipboardContent`]).
    Clipboard = 0x03,
    /// Either way, once its offer was accepted: one file (see [`crate::file`]).
    File = 0x04,
}

impl StreamKind {
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x01 => Some(Self::Input),
            0x02 => Some(Self::VideoFrame),
            0x03 => Some(Self::Clipboard),
            0x04 => Some(Self::File),
            _ => None,
        }
    }

    pub fn byte(self) -> u8 {
        self as u8
    }
}

/// The application error code a stream is stopped with when it is refused (a kind this
/// side does not take, or one too many of a kind): the session goes on.
pub const STREAM_REFUSED: u32 = 0x10;
/// Largest control message; anything bigger is a protocol violation.
pub const MAX_CONTROL_LEN: usize = 64 * 1024;
/// Largest encoded frame accepted from the network (a 4K keyframe fits comfortably).
pub const MAX_FRAME_LEN: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Helper,
    Sharer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The helper ended the session.
    HelperEnded,
    /// The sharer ended the session.
    SharerEnded,
    /// The sharer did not allow screen sharing.
    Declined,
    /// The other side stopped answering.
    PeerLost,
    /// The codes did not match (or someone tampered with the pairing).
    PairingFailed,
    /// No network path between the two could be found.
    NoPath,
    /// The other side broke the protocol.
    ProtocolError,
}

impl EndReason {
    /// As in the JSON events (`helper_ended`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::HelperEnded => "helper_ended",
            EndReason::SharerEnded => "sharer_ended",
            EndReason::Declined => "declined",
            EndReason::PeerLost => "peer_lost",
            EndReason::PairingFailed => "pairing_failed",
            EndReason::NoPath => "no_path",
            EndReason::ProtocolError => "protocol_error",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            EndReason::HelperEnded => "the helper ended the session",
            EndReason::SharerEnded => "the sharer ended the session",
            EndReason::Declined => "screen sharing was not allowed",
            EndReason::PeerLost => "the connection to the other side was lost",
            EndReason::PairingFailed => "the code did not match",
            EndReason::NoPath => "no network path could be found",
            EndReason::ProtocolError => "the other side sent something invalid",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Control {
    Chat {
        text: String,
    },
    /// Either side: I pause.
    Pause,
    /// Either side: I lift my pause (the sharer: every pause).
    Resume,
    /// Sharer → helper: your resume did not lift the pause; `paused_by` owns it.
    ResumeRefused {
        paused_by: Role,
    },
    End {
        reason: EndReason,
    },
    /// Clock and RTT probe; times are the sender's wall clock in µs since the epoch.
    Ping {
        t0_us: u64,
    },
    Pong {
        t0_us: u64,
        t1_us: u64,
    },
    /// Helper → sharer: frame `seq` was decoded (drives frames-in-flight pacing).
    FrameAck {
        seq: u64,
    },
    KeyframeRequest,
    /// Sharer → helper: the monitors that can be shown.
    Monitors {
        monitors: Vec<crate::screen::MonitorInfo>,
        current: u32,
        /// How the screen is captured (absent from older sharers).
        #[serde(default)]
        capture: Option<crate::screen::CaptureInfo>,
    },
    /// Helper → sharer: show this monitor.
    SelectMonitor {
        id: u32,
    },
    /// Sharer → helper: where the pointer is on the shown monitor.
    Cursor {
        x: i32,
        y: i32,
        visible: bool,
    },
    /// Sharer → helper: the pointer's picture.
    CursorShape(CursorPicture),
    /// Helper → sharer: may I control your screen?
    RequestControl,
    /// Helper → sharer: I give control back (or withdraw my request).
    ReleaseControl,
    /// Sharer → helper: input on the input stream will be obeyed from now on.
    ControlGranted,
    ControlDeclined {
        reason: crate::input::DeclineReason,
    },
    /// Sharer → helper: the sharer took control back.
    ControlRevoked,
    /// Both: a new search for a direct path while the session runs relayed (attempt
    /// `attempt`, opened by the helper): ICE credentials and first candidates.
    PathProbe {
        attempt: u32,
        ufrag: String,
        pwd: String,
        candidates: Vec<String>,
    },
    /// Helper → sharer: draw on the sharer's screen (pen, laser pointer, clear).
    Annotate {
        annotation: crate::annotation::Annotation,
    },
    /// Both: a candidate found later in attempt `attempt`.
    PathProbeCandidate {
        attempt: u32,
        candidate: String,
    },
    /// Sharer → helper: a Windows prompt (UAC, Ctrl+Alt+Del, the lock screen) is up on the
    /// secure desktop, which no normal program can show or control (`active`); or it
    /// closed and the picture resumes (`!active`).
    SecureDesktop {
        active: bool,
    },
    /// Helper → sharer: asks to share clipboards (the person is asked, as for control).
    RequestClipboard,
    /// Helper → sharer: stops sharing clipboards (or withdraws the request).
    ReleaseClipboard,
    /// Sharer → helper: copies now cross both ways, on [`StreamKind::Clipboard`] streams.
    ClipboardGranted,
    ClipboardDeclined {
        reason: crate::input::DeclineReason,
    },
    /// Sharer → helper: the person stopped clipboard sharing.
    ClipboardRevoked,
    /// Helper → sharer: please choose a file to send me; your offer will carry `id`.
    RequestFile {
        id: u32,
    },
    /// Either side: may I send you this file? (The sharer's only ever answers a
    /// `RequestFile` of the same id.) Ids are the helper's: it numbers its offers and its
    /// requests.
    FileOffer {
        id: u32,
        name: String,
        size: u64,
    },
    /// The receiver: send it, on a [`StreamKind::File`] stream.
    FileAccepted {
        id: u32,
    },
    /// The receiver, to an offer; the sharer, to a request.
    FileDeclined {
        id: u32,
        reason: crate::file::FileRefusal,
    },
    /// Either side: stop this transfer; what arrived of it is deleted.
    FileCancel {
        id: u32,
    },
    /// The receiver: it arrived whole (its SHA-256 matched) and is saved.
    FileSaved {
        id: u32,
    },
    /// The receiver: it arrived but could not be kept (damaged, or not written).
    FileFailed {
        id: u32,
        reason: crate::file::FileRefusal,
    },
}

impl Control {
    /// What may be dropped when the peer does not keep up: a later one supersedes it, or
    /// it only measures.
    pub fn is_lossy(&self) -> bool {
        matches!(
            self,
            Control::Cursor { .. }
                | Control::Ping { .. }
                | Control::Pong { .. }
                | Control::FrameAck { .. }
        )
    }
}

/// The pointer's picture as it travels and as the helper reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorPicture {
    /// Changes whenever the picture does.
    pub serial: u32,
    pub width: u32,
    pub height: u32,
    pub hot_x: u32,
    pub hot_y: u32,
    /// Straight (not premultiplied) RGBA, base64.
    pub rgba: String,
}

impl CursorPicture {
    pub fn from_shape(shape: &crate::screen::CursorShape) -> Self {
        use base64::Engine;
        Self {
            serial: shape.serial,
            width: shape.width,
            height: shape.height,
            hot_x: shape.hot_x,
            hot_y: shape.hot_y,
            rgba: base64::engine::general_purpose::STANDARD.encode(&shape.rgba),
        }
    }

    /// Network input: sizes in bounds, hotspot inside, pixel data of the right length.
    pub fn is_valid(&self) -> bool {
        use base64::Engine;
        let max = crate::screen::MAX_CURSOR_SIDE;
        let (w, h) = (self.width, self.height);
        if w == 0 || h == 0 || w > max || h > max || self.hot_x >= w || self.hot_y >= h {
            return false;
        }
        base64::engine::general_purpose::STANDARD
            .decode(&self.rgba)
            .is_ok_and(|b| b.len() == (w * h * 4) as usize)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    #[error("stream: {0}")]
    Io(#[from] std::io::Error),
    #[error("message of {0} bytes is too large")]
    TooLarge(usize),
    #[error("malformed message: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("stream closed")]
    Closed,
}

/// One length-prefixed JSON message, ready to write.
pub fn frame_message<T: Serialize>(msg: &T) -> Result<Vec<u8>, FramingError> {
    let body = serde_json::to_vec(msg)?;
    if body.len() > MAX_CONTROL_LEN {
        return Err(FramingError::TooLarge(body.len()));
    }
    let mut buf = Vec::with_capacity(4 + body.len());
    buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
    buf.extend_from_slice(&body);
    Ok(buf)
}

/// Writes one length-prefixed JSON message.
pub async fn write_message<W: AsyncWriteExt + Unpin, T: Serialize>(
    w: &mut W,
    msg: &T,
) -> Result<(), FramingError> {
    w.write_all(&frame_message(msg)?).await?;
    Ok(())
}

/// Reads one length-prefixed JSON message; `Closed` at a clean end of stream.
pub async fn read_message<R: AsyncReadExt + Unpin, T: for<'de> Deserialize<'de>>(
    r: &mut R,
) -> Result<T, FramingError> {
    read_message_max(r, MAX_CONTROL_LEN).await
}

/// [`read_message`] with a smaller size limit.
pub async fn read_message_max<R: AsyncReadExt + Unpin, T: for<'de> Deserialize<'de>>(
    r: &mut R,
    max_len: usize,
) -> Result<T, FramingError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(FramingError::Closed)
        }
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max_len {
        return Err(FramingError::TooLarge(len));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    Ok(serde_json::from_slice(&body)?)
}

/// Largest copied text that crosses (UTF-8 bytes): a log or a script fits; a bigger copy
/// is not offered (a file transfer is the way for it).
pub const MAX_CLIPBOARD_TEXT: usize = 1024 * 1024;

/// Largest copied picture that crosses, as PNG: a screenshot of a window fits.
pub const MAX_CLIPBOARD_IMAGE: usize = 8 * 1024 * 1024;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The body of a [`StreamKind::Clipboard`] stream after its kind byte: a format byte
/// (`0x01`: UTF-8 text, `0x02`: a PNG picture), the length (u32, big endian), the bytes;
/// then the stream ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClipboardContent {
    Text(String),
    /// A PNG file's bytes (checked as such by whoever decodes it, within its own limits).
    Png(Vec<u8>),
}

#[derive(Debug, thiserror::Error)]
pub enum ClipboardStreamError {
    #[error("stream: {0}")]
    Io(#[from] std::io::Error),
    #[error("clipboard format {0:#04x} is not known")]
    UnknownFormat(u8),
    #[error("clipboard text of {0} bytes is too large")]
    TooLarge(usize),
    #[error("clipboard text is not UTF-8")]
    NotText,
    #[error("clipboard picture is not a PNG")]
    NotPng,
}

impl From<&str> for ClipboardContent {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl ClipboardContent {
    const FORMAT_TEXT: u8 = 0x01;
    const FORMAT_PNG: u8 = 0x02;

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }

    /// The most a copy of this kind may be.
    pub fn limit(&self) -> usize {
        match self {
            Self::Text(_) => MAX_CLIPBOARD_TEXT,
            Self::Png(_) => MAX_CLIPBOARD_IMAGE,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            Self::Text(text) => text.as_bytes(),
            Self::Png(png) => png,
        }
    }

    /// The whole stream, kind byte first. `None` when the copy is over its limit.
    pub fn encode_stream(&self) -> Option<Vec<u8>> {
        let body = self.bytes();
        if body.len() > self.limit() {
            return None;
        }
        let format = match self {
            Self::Text(_) => Self::FORMAT_TEXT,
            Self::Png(_) => Self::FORMAT_PNG,
        };
        let mut out = Vec::with_capacity(6 + body.len());
        out.push(StreamKind::Clipboard.byte());
        out.push(format);
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(body);
        Some(out)
    }

    /// Reads the body (the kind byte already read); never allocates more than the limit.
    pub async fn read<R: AsyncReadExt + Unpin>(r: &mut R) -> Result<Self, ClipboardStreamError> {
        let format = r.read_u8().await?;
        let limit = match format {
            Self::FORMAT_TEXT => MAX_CLIPBOARD_TEXT,
            Self::FORMAT_PNG => MAX_CLIPBOARD_IMAGE,
            other => return Err(ClipboardStreamError::UnknownFormat(other)),
        };
        let len = r.read_u32().await? as usize;
        if len > limit {
            return Err(ClipboardStreamError::TooLarge(len));
        }
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).await?;
        if format == Self::FORMAT_PNG {
            if !body.starts_with(PNG_SIGNATURE) {
                return Err(ClipboardStreamError::NotPng);
            }
            return Ok(Self::Png(body));
        }
        String::from_utf8(body)
            .map(Self::Text)
            .map_err(|_| ClipboardStreamError::NotText)
    }
}

/// Precedes each encoded frame on its stream. Fixed binary layout, big endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub seq: u64,
    /// Sharer's wall clock when the frame was captured, µs since the epoch.
    pub capture_us: u64,
    /// The screen the frame shows; the coded picture may be smaller (scaled down while the
    /// path cannot carry full-size motion) and is shown stretched to this.
    pub width: u16,
    pub height: u16,
    pub keyframe: bool,
    /// Time the sharer spent converting and encoding this frame, µs.
    pub encode_us: u32,
}

impl FrameHeader {
    pub const LEN: usize = 8 + 8 + 2 + 2 + 1 + 4;

    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[0..8].copy_from_slice(&self.seq.to_be_bytes());
        b[8..16].copy_from_slice(&self.capture_us.to_be_bytes());
        b[16..18].copy_from_slice(&self.width.to_be_bytes());
        b[18..20].copy_from_slice(&self.height.to_be_bytes());
        b[20] = u8::from(self.keyframe);
        b[21..25].copy_from_slice(&self.encode_us.to_be_bytes());
        b
    }

    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() < Self::LEN || b[20] > 1 {
            return None;
        }
        let u64_at =
            |i: usize| -> Option<u64> { Some(u64::from_be_bytes(b[i..i + 8].try_into().ok()?)) };
        let u16_at =
            |i: usize| -> Option<u16> { Some(u16::from_be_bytes(b[i..i + 2].try_into().ok()?)) };
        Some(Self {
            seq: u64_at(0)?,
            capture_us: u64_at(8)?,
            width: u16_at(16)?,
            height: u16_at(18)?,
            keyframe: b[20] == 1,
            encode_us: u32::from_be_bytes(b[21..25].try_into().ok()?),
        })
    }
}

/// Wall clock in µs since the Unix epoch.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn clipboard_streams_carry_text_and_refuse_the_rest_without_allocating() {
        let text = ClipboardContent::Text("sudo apt install tandem\n€ ✓".into());
        let stream = text.encode_stream().expect("small enough");
        assert_eq!(stream[0], StreamKind::Clipboard.byte());
        let read = ClipboardContent::read(&mut &stream[1..])
            .await
            .expect("read");
        assert_eq!(read, text);
        let mut png = PNG_SIGNATURE.to_vec();
        png.extend_from_slice(&[1, 2, 3]);
        let picture = ClipboardContent::Png(png);
        let stream = picture.encode_stream().expect("small enough");
        let read = ClipboardContent::read(&mut &stream[1..])
            .await
            .expect("read");
        assert_eq!(read, picture);
        let mut not_png = stream.clone();
        not_png[7] = b'J';
        assert!(matches!(
            ClipboardContent::read(&mut &not_png[1..]).await,
            Err(ClipboardStreamError::NotPng)
        ));

        let big = ClipboardContent::Text("x".repeat(MAX_CLIPBOARD_TEXT + 1));
        assert!(big.encode_stream().is_none(), "over the limit: not offered");
        let big = ClipboardContent::Png(vec![0; MAX_CLIPBOARD_IMAGE + 1]);
        assert!(big.encode_stream().is_none(), "over the limit: not offered");
        // A length over the limit is refused before anything is allocated for it.
        let mut huge = vec![0x01];
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            ClipboardContent::read(&mut &huge[..]).await,
            Err(ClipboardStreamError::TooLarge(_))
        ));
        let mut not_text = [0x01, 0, 0, 0, 2, 0xff, 0xfe];
        assert!(matches!(
            ClipboardContent::read(&mut &not_text[..]).await,
            Err(ClipboardStreamError::NotText)
        ));
        not_text[0] = 0x09;
        assert!(matches!(
            ClipboardContent::read(&mut &not_text[..]).await,
            Err(ClipboardStreamError::UnknownFormat(0x09))
        ));
        // Cut short: an error, not a hang or a partial text.
        assert!(ClipboardContent::read(&mut &stream[1..stream.len() - 1])
            .await
            .is_err());
    }

    #[test]
    fn frame_header_roundtrip_and_rejects_garbage() {
        let h = FrameHeader {
            seq: 42,
            capture_us: 1_700_000_000_000_000,
            width: 1920,
            height: 1080,
            keyframe: true,
            encode_us: 12_345,
        };
        assert_eq!(FrameHeader::decode(&h.encode()), Some(h));
        assert_eq!(FrameHeader::decode(&[0; 5]), None);
        let mut bad = h.encode();
        bad[20] = 7;
        assert_eq!(FrameHeader::decode(&bad), None);
    }

    #[test]
    fn cursor_pictures_from_the_network_are_checked() {
        let shape = crate::screen::CursorShape {
            serial: 7,
            width: 2,
            height: 3,
            hot_x: 1,
            hot_y: 2,
            rgba: vec![9; 2 * 3 * 4],
        };
        let good = CursorPicture::from_shape(&shape);
        assert!(good.is_valid());
        let json = serde_json::to_string(&Control::CursorShape(good.clone())).expect("json");
        assert!(json.contains("\"type\":\"cursor_shape\""), "{json}");
        assert_eq!(
            serde_json::from_str::<Control>(&json).expect("parse"),
            Control::CursorShape(good.clone())
        );
        for bad in [
            CursorPicture {
                hot_x: 2,
                ..good.clone()
            },
            CursorPicture {
                width: 0,
                ..good.clone()
            },
            CursorPicture {
                width: 4096,
                ..good.clone()
            },
            CursorPicture {
                rgba: "AAAA".into(),
                ..good.clone()
            },
            CursorPicture {
                rgba: "!!".into(),
                ..good.clone()
            },
        ] {
            assert!(!bad.is_valid(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn framing_roundtrip_and_limits() {
        let mut buf = Vec::new();
        write_message(
            &mut buf,
            &Control::Chat {
                text: "ciao".into(),
            },
        )
        .await
        .expect("write");
        let mut r = buf.as_slice();
        let m: Control = read_message(&mut r).await.expect("read");
        assert_eq!(
            m,
            Control::Chat {
                text: "ciao".into()
            }
        );
        let mut r: &[u8] = &[];
        assert!(matches!(
            read_message::<_, Control>(&mut r).await,
            Err(FramingError::Closed)
        ));
        let huge = (MAX_CONTROL_LEN as u32 + 1).to_be_bytes();
        let mut r: &[u8] = &huge;
        assert!(matches!(
            read_message::<_, Control>(&mut r).await,
            Err(FramingError::TooLarge(_))
        ));
        let mut junk = 3u32.to_be_bytes().to_vec();
        junk.extend_from_slice(b"{x}");
        let mut r = junk.as_slice();
        assert!(matches!(
            read_message::<_, Control>(&mut r).await,
            Err(FramingError::Malformed(_))
        ));
    }
}
