//! The headless session engine: helper and sharer roles, driven by [`Command`]s, reporting
//! [`Event`]s. The CLI and the GUI are thin layers on top; nothing here knows about either.

mod clipboard_rules;
mod clock;
mod connect;
#[cfg(test)]
mod core_pair;
mod file_transfer;
mod handle;
mod helper;
mod helper_core;
mod media_loop;
mod pause;
mod rate;
mod reconnect;
mod remote_control;
mod sharer;
mod sharer_core;
mod signaling;
mod transfers;
mod upgrade;
mod video;
mod video_rate;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tandem_crypto::PairingError;
use tandem_rendezvous::ClientError;

pub use crate::annotation::Annotation;
pub use crate::capture::{CaptureInfo, MonitorInfo, SourceSpec};
pub use crate::file::FileRefusal;
pub use crate::input::{DeclineReason, InputEvent, Modifiers, PointerButton};
pub use crate::net::ice::IceOptions;
pub use crate::net::PathInfo;
pub use crate::protocol::{CursorPicture, EndReason, Role};
pub use handle::SessionHandle;
pub use helper::run_helper;
pub use sharer::run_sharer;
pub use tandem_rendezvous::wire::HelperIdentity;
pub use transfers::FileLimits;

/// What the user (or a script, or the GUI) asks the session to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Sharer: allow the helper to see the screen.
    Allow,
    /// Sharer: refuse.
    Decline,
    Chat(String),
    Pause,
    Resume,
    End,
    /// Helper: ask for a full picture now.
    RequestKeyframe,
    /// Helper: show this monitor of the sharer's.
    SelectMonitor(u32),
    /// Helper: ask to control the sharer's screen.
    RequestControl,
    /// Helper: give control back (or withdraw the request).
    ReleaseControl,
    /// Helper: one input event for the sharer's desktop. Sent as asked; the sharer obeys
    /// only while it has granted control, so the UI offers input only then.
    Input(InputEvent),
    /// Sharer: let the helper control the screen (answers [`Event::ControlRequested`]).
    GrantControl,
    /// Sharer: refuse the pending request.
    DeclineControl,
    /// Sharer: take control back; every key and button the helper held is released.
    RevokeControl,
    /// Helper: draw on the sharer's screen (coordinates on the shown monitor).
    Annotate(Annotation),
    /// Helper: ask to share clipboards (the person is asked).
    RequestClipboard,
    /// Helper: stop sharing clipboards (or withdraw the request).
    ReleaseClipboard,
    /// Sharer: let copies cross both ways (answers [`Event::ClipboardRequested`]).
    GrantClipboard,
    /// Sharer: refuse the pending request.
    DeclineClipboard,
    /// Sharer: stop clipboard sharing.
    RevokeClipboard,
    /// Helper: offer this file to the sharer (the person there decides). Sharer: give it
    /// for the helper's oldest request ([`Event::FileRequested`]).
    SendFile(PathBuf),
    /// Helper: ask the sharer for a file (the person there chooses one, or declines).
    RequestFile,
    /// Sharer: take the helper's file `id` (answers [`Event::FileOffered`]).
    AcceptFile(u32),
    /// Sharer: refuse the helper's file or request `id`.
    DeclineFile(u32),
    /// Either: stop transfer `id`; what arrived of it is deleted.
    CancelFile(u32),
}

/// Which way a file goes, seen from this side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileDirection {
    Sending,
    Receiving,
}

/// What the session reports. Serialized one per line by `--json`; scripts and tests read
/// it back typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Helper: the code to read to the sharer.
    CodeIssued {
        code: String,
        expires_in_secs: u64,
    },
    /// Helper: the code can no longer be used — someone typed it wrong (one guess per code),
    /// or joined and left — and a fresh one follows at once (`code_issued`).
    CodeRetired {
        reason: CodeRetiredReason,
        message: String,
    },
    /// Helper: someone entered the nameplate; pairing starts.
    PeerJoined,
    /// Both: the code matched; the channel is end-to-end encrypted.
    Paired {
        peer_name: Option<String>,
    },
    /// Sharer: ask the person whether `helper_name` may see the screen. `affiliation` is the
    /// organisation the rendezvous verified ("contoso.com"); `None`: the name is not verified.
    ConsentRequested {
        helper_name: String,
        affiliation: Option<String>,
    },
    ConsentGiven,
    ConsentDeclined,
    /// The direct/relayed path and QUIC are up.
    Connected {
        path: PathInfo,
        setup_ms: u64,
    },
    /// The session moved to another path (relay → direct, or a reconnection after the
    /// network changed), or packets flow again on the old one after `reconnecting`.
    PathChanged {
        path: PathInfo,
    },
    /// Both: nothing has arrived for a few seconds — the network changed or dropped. The
    /// session looks for a new path through the rendezvous (no new code) and ends with
    /// `peer_lost` if none is found within the limit. Held keys are released meanwhile.
    Reconnecting,
    /// Helper: a frame was decoded.
    FrameReceived {
        seq: u64,
        bytes: usize,
        width: u32,
        height: u32,
        keyframe: bool,
        latency_ms: f64,
        decode_ms: f64,
    },
    /// Sharer: a frame left for the helper.
    FrameSent {
        seq: u64,
        bytes: usize,
        keyframe: bool,
    },
    Chat {
        from: Role,
        text: String,
    },
    Paused {
        by: Role,
    },
    Resumed {
        by: Role,
    },
    /// Helper: the resume did not lift the pause — `paused_by` (the person sharing) paused
    /// the session, and only they can resume it. Frames, input and drawing stay stopped.
    ResumeRefused {
        paused_by: Role,
        message: String,
    },
    /// Sharer's pointer moved (coordinates on the shown monitor).
    Cursor {
        x: i32,
        y: i32,
        visible: bool,
    },
    /// Sharer's pointer changed picture.
    CursorShape(CursorPicture),
    /// The sharer's monitors and which one is shown.
    Monitors {
        monitors: Vec<MonitorInfo>,
        current: u32,
        /// How the sharer's screen is captured (absent from older sharers).
        capture: Option<CaptureInfo>,
    },
    /// Once a second while connected.
    Stats {
        fps: f64,
        kbit_per_s: f64,
        rtt_ms: f64,
        /// Medians over the last second: capture → decoded, sharer's convert + encode,
        /// helper's decode + RGBA.
        latency_ms: Option<f64>,
        encode_ms: Option<f64>,
        decode_ms: Option<f64>,
    },
    /// Sharer: ask the person whether `helper_name` may control the screen.
    ControlRequested {
        helper_name: String,
    },
    /// Both: the helper controls the sharer's screen.
    ControlGranted,
    /// Both: control was not handed over.
    ControlDeclined {
        reason: DeclineReason,
        message: String,
    },
    /// Both: the sharer took control back.
    ControlRevoked,
    /// Both: the sharer's Windows shows a prompt on its secure desktop (UAC, Ctrl+Alt+Del,
    /// lock screen), which cannot be shown or controlled: the helper waits for the person
    /// to answer it; `active: false` when it closed and the picture resumed.
    SecureDesktop {
        active: bool,
    },
    /// Both: the helper gave control back.
    ControlReleased,
    /// Sharer: ask the person whether `helper_name` may share clipboards with them.
    ClipboardRequested {
        helper_name: String,
    },
    /// Both: a copy on either side now reaches the other (only changes made from now on).
    ClipboardGranted,
    /// Both: clipboard sharing was not allowed.
    ClipboardDeclined {
        reason: DeclineReason,
        message: String,
    },
    /// Both: clipboard sharing stopped (`by` the sharer revoking it or the helper).
    ClipboardStopped {
        by: Role,
    },
    /// Both: the other side's copy is now on this side's clipboard (its size only; what was
    /// copied is never reported or logged).
    ClipboardReceived {
        bytes: usize,
    },
    /// Both: this side's copy was sent to the other.
    ClipboardSent {
        bytes: usize,
    },
    /// Both: this side's copy was too large to send (`limit` bytes at most).
    ClipboardTooLarge {
        bytes: usize,
        limit: usize,
    },
    /// Sharer: ask the person whether to take this file from `from` (the helper); it is
    /// saved in the receive folder under `name` (or `name (1)`…, never over a file).
    FileOffered {
        id: u32,
        name: String,
        size: u64,
        from: String,
    },
    /// Sharer: the helper asks for a file; the person chooses one
    /// ([`Command::SendFile`]) or declines ([`Command::DeclineFile`]).
    FileRequested {
        id: u32,
        helper_name: String,
    },
    /// Helper: the file is offered; the sharer's person decides.
    FileOfferSent {
        id: u32,
        name: String,
        size: u64,
    },
    /// Helper: the sharer was asked for a file.
    FileRequestSent {
        id: u32,
    },
    /// Both: transfer `id` was accepted and its bytes move.
    FileStarted {
        id: u32,
        name: String,
        size: u64,
        direction: FileDirection,
    },
    /// Both: a few times a second while bytes move.
    FileProgress {
        id: u32,
        bytes: u64,
        size: u64,
        bytes_per_sec: u64,
        secs_left: Option<u64>,
    },
    /// Both: it arrived whole (its SHA-256 checked); `path`: where the receiver saved it.
    FileDone {
        id: u32,
        name: String,
        size: u64,
        direction: FileDirection,
        path: Option<String>,
    },
    /// Both: the offer or request was not taken (`id` 0: it never left this side).
    FileDeclined {
        id: u32,
        name: Option<String>,
        reason: FileRefusal,
        message: String,
    },
    /// Both: stopped by `by`; nothing of it was kept.
    FileCancelled {
        id: u32,
        by: Role,
    },
    /// Both: it did not arrive (damaged, unreadable, not writable); nothing of it was kept.
    FileFailed {
        id: u32,
        reason: FileRefusal,
        message: String,
    },
    /// Sharer: the helper draws on the screen; shown in an overlay until cleared or ended.
    Annotation(Annotation),
    Ended {
        reason: EndReason,
        message: String,
        frames: u64,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Rendezvous(#[from] ClientError),
    #[error("pairing failed: {0}")]
    Pairing(#[from] PairingError),
    #[error("{0}")]
    Network(String),
    #[error("the other side broke the protocol: {0}")]
    Protocol(String),
    #[error("timed out while {0}")]
    Timeout(&'static str),
    #[error(transparent)]
    Introduction(#[from] tandem_rendezvous::introduction::IntroductionError),
    #[error("video: {0}")]
    Video(String),
}

impl SessionError {
    /// A stable, short name for scripts (`--json`) and telemetry.
    pub fn kind(&self) -> &'static str {
        use tandem_rendezvous::wire::ErrorCode;
        match self {
            SessionError::Rendezvous(ClientError::Refused { code, .. }) => match code {
                ErrorCode::UnknownNameplate => "unknown_code",
                ErrorCode::ExpiredNameplate => "expired_code",
                ErrorCode::UsedNameplate => "used_code",
                ErrorCode::RateLimited => "rate_limited",
                ErrorCode::IdentityRefused => "identity_refused",
                ErrorCode::SignInExpired => "sign_in_expired",
                ErrorCode::SignInUnavailable => "sign_in_unavailable",
                _ => "rendezvous_refused",
            },
            SessionError::Rendezvous(_) => "rendezvous_unreachable",
            SessionError::Pairing(_) => "wrong_code",
            SessionError::Network(_) => "network",
            SessionError::Protocol(_) => "protocol",
            SessionError::Timeout(_) => "timeout",
            SessionError::Introduction(_) => "introduction_refused",
            SessionError::Video(_) => "video",
        }
    }
}

/// What the sharer shows and how.
#[derive(Debug, Clone)]
pub struct VideoConfig {
    pub source: SourceSpec,
    pub fps: u32,
    pub bitrate_bps: u32,
    /// Read, hash and convert the whole screen for every frame, at the `fps` cap for every
    /// frame: what the pipeline did before it touched only what changed. Slower; for a
    /// display server that misreports what it drew, and the benchmarks' reference.
    pub whole_frames: bool,
}

impl Default for VideoConfig {
    fn default() -> Self {
        Self {
            source: SourceSpec::TestPattern {
                width: 1280,
                height: 720,
            },
            fps: 30,
            bitrate_bps: 2_500_000,
            whole_frames: false,
        }
    }
}

/// A decoded frame on the helper, lent to a [`FrameSink`].
pub struct DecodedFrameRef<'a> {
    pub seq: u64,
    /// The picture's size: smaller than the screen while the path cannot carry full-size
    /// motion.
    pub width: u32,
    pub height: u32,
    /// The sharer's screen (monitor) it shows, which pointer and annotation coordinates
    /// refer to: the picture is meant to be shown stretched to this.
    pub screen_width: u32,
    pub screen_height: u32,
    /// Tightly packed RGBA.
    pub rgba: &'a [u8],
}

/// Receives every decoded frame on the helper's decoder thread (a GUI, a recorder, a test).
/// It must be quick: it runs between decodes.
pub type FrameSink = Arc<dyn Fn(&DecodedFrameRef<'_>) + Send + Sync>;

#[derive(Clone)]
pub struct SessionConfig {
    /// `ws://host:port` or `wss://host`.
    pub rendezvous: String,
    pub rendezvous_tls: Option<Arc<rustls::ClientConfig>>,
    pub ice: IceOptions,
    pub video: VideoConfig,
    /// From the peer joining to an encrypted channel.
    pub pairing_timeout: Duration,
    /// From pairing to a working path.
    pub connect_timeout: Duration,
    /// Helper: where decoded frames go.
    pub frame_sink: Option<FrameSink>,
    /// Talk to a rendezvous on another machine without TLS (`--insecure-rendezvous`).
    pub insecure_rendezvous: bool,
    /// How long a session whose path was lost tries to reconnect before it ends.
    pub reconnect_limit: Duration,
    /// Where files from the other side are saved, and the limits on them.
    pub files: FileSettings,
}

/// Files from the other side: where they go (`None`: none are taken) and how many, how big.
#[derive(Debug, Clone)]
pub struct FileSettings {
    pub receive_dir: Option<PathBuf>,
    pub limits: FileLimits,
}

impl Default for FileSettings {
    fn default() -> Self {
        Self {
            receive_dir: file_transfer::default_receive_dir(),
            limits: FileLimits::default(),
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            rendezvous: "ws://127.0.0.1:8443".into(),
            rendezvous_tls: None,
            ice: IceOptions::default(),
            video: VideoConfig::default(),
            pairing_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(30),
            frame_sink: None,
            insecure_rendezvous: false,
            reconnect_limit: Duration::from_secs(60),
            files: FileSettings::default(),
        }
    }
}

/// Why a code was given up for a fresh one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeRetiredReason {
    /// Someone entered the code with a wrong secret: the guess burned it.
    WrongCode,
    /// Someone entered the code and went away (or never finished) before pairing.
    Abandoned,
}

impl SessionConfig {
    /// The mailbox connection, refusing plain text to another machine unless asked.
    async fn connect_mailbox(&self) -> Result<tandem_rendezvous::MailboxClient, ClientError> {
        use tandem_rendezvous::MailboxClient;
        let tls = self.rendezvous_tls.clone();
        if self.insecure_rendezvous {
            MailboxClient::connect_allowing_plain_text(&self.rendezvous, tls).await
        } else {
            MailboxClient::connect(&self.rendezvous, tls).await
        }
    }
}

/// Events waiting for the UI at most: many seconds of a busy session. What the peer can
/// make arrive fast (chat, drawing, pointer moves) is also rate-limited where it arrives
/// (see [`rate::RateGate`]), so a UI that keeps up never loses one.
pub const QUEUED_EVENTS: usize = 4096;

/// Where events go: bounded, and never waited on by the session.
pub type EventSink = tokio::sync::mpsc::Sender<Event>;
pub type CommandSource = tokio::sync::mpsc::UnboundedReceiver<Command>;

fn emit(events: &EventSink, event: Event) {
    use tokio::sync::mpsc::error::TrySendError;
    match events.try_send(event) {
        // A closed sink means the UI went away; the session still ends cleanly on its own.
        Ok(()) | Err(TrySendError::Closed(_)) => {}
        Err(TrySendError::Full(event)) => {
            tracing::debug!(?event, "the UI is behind: event dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotation::PenColour;

    /// What `--json` prints reads back as the same event: scripts and tests can match
    /// typed events.
    #[test]
    fn every_kind_of_event_reads_back_as_printed() {
        let path = PathInfo {
            kind: "relayed",
            transport: "tls",
            local: "203.0.113.1:40000".into(),
            remote: "203.0.113.10:50000".into(),
            local_type: "relay".into(),
            remote_type: "srflx".into(),
        };
        let events = vec![
            Event::CodeIssued {
                code: "Q7K-2M9-XPR".into(),
                expires_in_secs: 600,
            },
            Event::CodeRetired {
                reason: CodeRetiredReason::WrongCode,
                message: "wrong".into(),
            },
            Event::Connected {
                path: path.clone(),
                setup_ms: 68,
            },
            Event::Reconnecting,
            Event::PathChanged { path },
            Event::Monitors {
                monitors: vec![MonitorInfo {
                    id: 0,
                    name: "screen".into(),
                    screen: 0,
                    x: 0,
                    y: 0,
                    width: 800,
                    height: 600,
                    width_mm: 212,
                    primary: true,
                    scale_percent: 100,
                }],
                current: 0,
                capture: Some(CaptureInfo {
                    method: "x11-shm".into(),
                    fallback: None,
                }),
            },
            Event::CursorShape(CursorPicture {
                serial: 1,
                width: 1,
                height: 1,
                hot_x: 0,
                hot_y: 0,
                rgba: "AAAAAA==".into(),
            }),
            Event::Annotation(Annotation::StrokeStart {
                id: 1,
                colour: PenColour::Blue,
                x: 3,
                y: 4,
            }),
            Event::ControlDeclined {
                reason: DeclineReason::TooSoon,
                message: "later".into(),
            },
            Event::ClipboardRequested {
                helper_name: "Anna R.".into(),
            },
            Event::ClipboardStopped { by: Role::Sharer },
            Event::ClipboardReceived { bytes: 12 },
            Event::Stats {
                fps: 30.0,
                kbit_per_s: 255.0,
                rtt_ms: 1.5,
                latency_ms: None,
                encode_ms: Some(2.0),
                decode_ms: None,
            },
            Event::Ended {
                reason: EndReason::PeerLost,
                message: "gone".into(),
                frames: 42,
            },
        ];
        for event in events {
            let line = serde_json::to_string(&event).expect("print");
            let back: Event = serde_json::from_str(&line).expect(&line);
            assert_eq!(back, event, "{line}");
        }
        // A path kind no path is made with is refused, not invented.
        let odd = r#"{"event":"path_changed","path":{"kind":"teleported","transport":"udp","local":"a","remote":"b","local_type":"host","remote_type":"host"}}"#;
        assert!(serde_json::from_str::<Event>(odd).is_err());
    }
}
