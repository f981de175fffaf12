//! The sharer's desktop input as the session drives it: the injector thread (opened at the
//! first grant) and the helper's input stream. What may be injected is decided by
//! `SharerCore`; this only carries it out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::capture::SourceSpec;
use crate::file::FileHead;
use crate::input::inject::{InjectError, InjectorThread};
use crate::input::translate::InjectOp;
use crate::input::{InputEvent, MAX_INPUT_LEN};
use crate::protocol::{
    read_message_max, ClipboardContent, FramingError, StreamKind, STREAM_REFUSED,
};

#[derive(Debug, Clone, Copy)]
enum WaylandInput {
    /// The RemoteDesktop portal session the screen came from.
    Portal,
    /// A wlroots compositor's virtual pointer and keyboard.
    Wlroots,
}

/// Where the helper's input lands: the shared desktop's injector.
pub(super) struct DesktopInput {
    controllable: bool,
    injector: Option<InjectorThread>,
    /// Where input goes: the display being shared.
    display: Option<String>,
    /// Where input goes when not to an X display.
    wayland: Option<WaylandInput>,
}

impl DesktopInput {
    pub fn new(source: &SourceSpec) -> Self {
        let (controllable, display) = match source {
            SourceSpec::X11 { display, .. } => (cfg!(target_os = "linux"), display.clone()),
            // enigo injects on Windows and macOS, and on Linux through XTest; in a Wayland
            // session that would reach only the X applications, so control is declined as
            // not possible (view and annotation still work).
            SourceSpec::Xcap { .. } => (
                !cfg!(target_os = "linux")
                    || (std::env::var_os("DISPLAY").is_some()
                        && !crate::capture::wayland_session()),
                None,
            ),
            // Wayland: through the portal session the screen came from, if the desktop
            // has the RemoteDesktop portal and the person allowed input in its dialog.
            #[cfg(target_os = "linux")]
            SourceSpec::Portal { .. } => (crate::capture::portal::remote_input_available(), None),
            #[cfg(not(target_os = "linux"))]
            SourceSpec::Portal { .. } => (false, None),
            // wlroots: the compositor's virtual pointer and keyboard.
            #[cfg(target_os = "linux")]
            SourceSpec::Wlr { .. } => (crate::input::wlr::available(), None),
            #[cfg(not(target_os = "linux"))]
            SourceSpec::Wlr { .. } => (false, None),
            // Windows: SendInput.
            SourceSpec::Duplication { .. } => (cfg!(windows), None),
            SourceSpec::TestPattern { .. } => (false, None),
        };
        Self {
            controllable,
            injector: None,
            display,
            wayland: match source {
                SourceSpec::Portal { .. } => Some(WaylandInput::Portal),
                SourceSpec::Wlr { .. } => Some(WaylandInput::Wlroots),
                _ => None,
            },
        }
    }

    /// Whether this desktop can take input at all.
    pub fn controllable(&self) -> bool {
        self.controllable
    }

    /// Opens the injector (once).
    pub fn open(&mut self) -> Result<(), InjectError> {
        if self.injector.is_some() {
            return Ok(());
        }
        let display = self.display.clone();
        let opened = match self.wayland {
            #[cfg(target_os = "linux")]
            Some(WaylandInput::Portal) => {
                InjectorThread::spawn(crate::capture::portal::PortalInjector::open)
            }
            #[cfg(target_os = "linux")]
            Some(WaylandInput::Wlroots) => {
                InjectorThread::spawn(crate::input::wlr::WlrInjector::open)
            }
            #[cfg(not(target_os = "linux"))]
            Some(_) => Err(InjectError::Stopped),
            // Windows: scan codes through SendInput (enigo would map them to virtual keys
            // through the layout first).
            #[cfg(windows)]
            None => {
                let _ = display;
                InjectorThread::spawn(crate::input::win::SendInputInjector::open)
            }
            #[cfg(not(windows))]
            None => InjectorThread::spawn(move || {
                crate::input::inject::DesktopInjector::open(display.as_deref())
            }),
        };
        self.injector = Some(opened?);
        Ok(())
    }

    pub fn inject(&self, ops: Vec<InjectOp>) {
        if let Some(injector) = &self.injector {
            match injector.send(ops) {
                Ok(()) => {}
                Err(e @ InjectError::Behind) => debug!("{e}"),
                Err(e) => warn!("{e}"),
            }
        }
    }

    /// Drops whatever input is still queued, then plays `ops`.
    pub fn release(&self, ops: Vec<InjectOp>) {
        if let Some(injector) = &self.injector {
            if let Err(e) = injector.flush_then(ops) {
                warn!("releasing held input: {e}");
            }
        }
    }
}

/// What the input stream reader reports besides events.
#[derive(Debug, thiserror::Error)]
pub(super) enum InputStreamError {
    /// One message could not be read (e.g. from a newer version); the next may be fine.
    #[error("malformed input message: {0}")]
    Malformed(String),
    /// The helper broke the stream's rules: the session cannot trust it further.
    #[error("input stream: {0}")]
    Violation(String),
    /// The stream ended or was reset, or the connection went away.
    #[error("input stream ended")]
    Ended,
}

/// Input events read but not yet handled, at most: the reader then waits, and QUIC's flow
/// control holds the helper back.
const QUEUED_INPUT: usize = 64;

/// What becomes of a unidirectional stream from the helper, by its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// The session's input stream.
    Input,
    /// One copied text (one read at a time).
    Clipboard,
    /// A file: its head is read, and the session's core decides.
    File,
    /// Stopped unread; the session goes on (a kind only a sharer sends, one this version
    /// does not know, a second input stream, or a copy while another is being read).
    Refuse,
}

/// `take_input` claims the session's one input stream, saying whether it was already
/// taken; `take_clipboard` claims the one clipboard read in progress, likewise (also
/// `true` while the person does not allow clipboard sharing).
fn route(
    kind: u8,
    take_input: impl FnOnce() -> bool,
    take_clipboard: impl FnOnce() -> bool,
) -> Route {
    match StreamKind::from_byte(kind) {
        Some(StreamKind::Input) if !take_input() => Route::Input,
        Some(StreamKind::Clipboard) if !take_clipboard() => Route::Clipboard,
        Some(StreamKind::File) => Route::File,
        _ => Route::Refuse,
    }
}

/// What the helper's streams carry to the session loop.
pub(super) struct HelperStreams {
    pub input: mpsc::Receiver<Result<InputEvent, InputStreamError>>,
    /// Copies from the helper, read whole; the session's core decides whether they land.
    pub clipboard: mpsc::Receiver<ClipboardContent>,
    /// Whether the person allows clipboard sharing now: while not, a clipboard stream is
    /// stopped unread (the core checks each copy anyway; this spares reading a hostile
    /// helper's megabyte for nothing).
    pub clipboard_open: Arc<AtomicBool>,
    /// File streams, their head read; the core decides whether each is taken.
    pub files: mpsc::Receiver<(FileHead, quinn::RecvStream)>,
}

/// Accepts the helper's unidirectional streams on a task of its own and reads its input
/// stream (cancel-safe for the session loop). Each stream's kind is read on its own task:
/// one that never sends it holds up no other (QUIC's stream limit bounds how many wait).
pub(super) fn spawn_stream_router(connection: quinn::Connection) -> HelperStreams {
    let (tx, rx) = mpsc::channel(QUEUED_INPUT);
    let (clipboard_tx, clipboard) = mpsc::channel(2);
    let (files_tx, files) = mpsc::channel(4);
    let input_taken = Arc::new(AtomicBool::new(false));
    // At most one copy (up to the size limit) is held in memory at a time.
    let clipboard_busy = Arc::new(AtomicBool::new(false));
    let clipboard_open = Arc::new(AtomicBool::new(false));
    let open = Arc::clone(&clipboard_open);
    tokio::spawn(async move {
        while let Ok(mut stream) = connection.accept_uni().await {
            let tx = tx.clone();
            let clipboard_tx = clipboard_tx.clone();
            let files_tx = files_tx.clone();
            let input_taken = Arc::clone(&input_taken);
            let clipboard_busy = Arc::clone(&clipboard_busy);
            let open = Arc::clone(&open);
            tokio::spawn(async move {
                let Ok(kind) = stream.read_u8().await else {
                    return;
                };
                match route(
                    kind,
                    || input_taken.swap(true, Ordering::AcqRel),
                    || !open.load(Ordering::Acquire) || clipboard_busy.swap(true, Ordering::AcqRel),
                ) {
                    Route::Input => read_input(stream, tx).await,
                    Route::Clipboard => {
                        match ClipboardContent::read(&mut stream).await {
                            Ok(content) => {
                                let _ = clipboard_tx.send(content).await;
                            }
                            Err(e) => {
                                debug!("a clipboard stream from the helper: {e}");
                                let _ = stream.stop(STREAM_REFUSED.into());
                            }
                        }
                        clipboard_busy.store(false, Ordering::Release);
                    }
                    Route::File => match FileHead::read(&mut stream).await {
                        Ok(head) => {
                            let _ = files_tx.send((head, stream)).await;
                        }
                        Err(e) => debug!("a file stream from the helper: {e}"),
                    },
                    Route::Refuse => {
                        debug!("refused a stream of kind {kind:#04x} from the helper");
                        let _ = stream.stop(STREAM_REFUSED.into());
                    }
                }
            });
        }
    });
    HelperStreams {
        input: rx,
        clipboard,
        clipboard_open,
        files,
    }
}

/// Sends one copy to the peer on a clipboard stream of its own (video and input never
/// wait behind it).
pub(super) async fn send_clipboard(
    connection: &quinn::Connection,
    content: ClipboardContent,
) -> Result<(), String> {
    let Some(bytes) = content.encode_stream() else {
        return Err("too large".into());
    };
    let mut stream = connection.open_uni().await.map_err(|e| e.to_string())?;
    stream.write_all(&bytes).await.map_err(|e| e.to_string())?;
    stream.finish().map_err(|e| e.to_string())?;
    Ok(())
}

/// Reads input events (the stream's kind byte already read) until the stream ends or
/// breaks its rules.
async fn read_input(
    mut stream: impl AsyncRead + Unpin,
    tx: mpsc::Sender<Result<InputEvent, InputStreamError>>,
) {
    loop {
        let msg = match read_message_max(&mut stream, MAX_INPUT_LEN).await {
            Ok(event) => Ok(event),
            Err(FramingError::Malformed(e)) => Err(InputStreamError::Malformed(e.to_string())),
            Err(e @ FramingError::TooLarge(_)) => Err(InputStreamError::Violation(e.to_string())),
            Err(FramingError::Io(_) | FramingError::Closed) => Err(InputStreamError::Ended),
        };
        let last = matches!(
            msg,
            Err(InputStreamError::Violation(_) | InputStreamError::Ended)
        );
        if tx.send(msg).await.is_err() || last {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;
    use crate::protocol::write_message;

    async fn read_all(bytes: Vec<u8>) -> Vec<Result<InputEvent, InputStreamError>> {
        let (mut w, r) = tokio::io::duplex(64 * 1024);
        let (tx, mut rx) = mpsc::channel(QUEUED_INPUT);
        tokio::spawn(read_input(r, tx));
        w.write_all(&bytes).await.expect("write");
        drop(w);
        let mut out = Vec::new();
        while let Some(m) = rx.recv().await {
            out.push(m);
        }
        out
    }

    #[tokio::test]
    async fn the_input_stream_survives_a_bad_message_but_not_broken_framing() {
        let ok = InputEvent::Wheel { dx: 0, dy: 1 };
        let mut bytes = Vec::new();
        let mut msg = Vec::new();
        write_message(&mut msg, &ok).await.expect("encode");
        bytes.extend_from_slice(&msg);
        bytes.extend_from_slice(&5u32.to_be_bytes());
        bytes.extend_from_slice(b"{bad}");
        bytes.extend_from_slice(&msg);
        let out = read_all(bytes.clone()).await;
        assert!(matches!(out[0], Ok(ref e) if *e == ok));
        assert!(matches!(out[1], Err(InputStreamError::Malformed(_))));
        assert!(matches!(out[2], Ok(ref e) if *e == ok));
        assert!(matches!(out[3], Err(InputStreamError::Ended)));
        assert_eq!(out.len(), 4);

        let mut huge = Vec::new();
        huge.extend_from_slice(&(MAX_INPUT_LEN as u32 + 1).to_be_bytes());
        huge.extend_from_slice(&msg);
        let out = read_all(huge).await;
        assert!(matches!(out[..], [Err(InputStreamError::Violation(_))]));
    }

    #[test]
    fn streams_are_taken_by_kind_and_the_rest_refused() {
        let taken = std::cell::Cell::new(false);
        let take = || taken.replace(true);
        let copying = std::cell::Cell::new(false);
        let copy = || copying.replace(true);
        assert_eq!(route(StreamKind::Input.byte(), take, copy), Route::Input);
        // A second input stream, a frame stream (only a sharer sends those), a kind from a
        // newer version: refused, and none of them claims the input stream.
        assert_eq!(route(StreamKind::Input.byte(), take, copy), Route::Refuse);
        taken.set(false);
        assert_eq!(
            route(StreamKind::VideoFrame.byte(), take, copy),
            Route::Refuse
        );
        assert_eq!(route(0x7f, take, copy), Route::Refuse);
        assert!(!taken.get());
        assert!(!copying.get());
        // One copy read at a time: a second while the first is read is refused.
        assert_eq!(
            route(StreamKind::Clipboard.byte(), take, copy),
            Route::Clipboard
        );
        assert_eq!(
            route(StreamKind::Clipboard.byte(), take, copy),
            Route::Refuse
        );
        assert!(!taken.get(), "a copy never claims the input stream");
        // While the person does not allow clipboard sharing, a copy is refused unread (the
        // router is told it is "taken").
        let closed = || true;
        assert_eq!(
            route(StreamKind::Clipboard.byte(), take, closed),
            Route::Refuse
        );
    }
}
