//! This computer's clipboard for a session's clipboard sharing: a thread that owns the
//! platform clipboard (`arboard`: X11, Wayland's data-control protocol, Windows), puts the
//! peer's copies on it, and while watched reports the person's new copies.
//!
//! Nothing is kept after the session: the thread holds the last copy only to notice a
//! change, and on X11 a copy put here by the peer disappears with the session (its owner
//! goes), unless the desktop runs a clipboard manager that takes it.

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::debug;

/// How often a watched clipboard is read (platforms notify no change that `arboard` sees).
const POLL: Duration = Duration::from_millis(300);

#[derive(Debug, thiserror::Error)]
#[error("the clipboard cannot be reached: {0}")]
pub struct ClipboardUnavailable(#[source] arboard::Error);

enum Request {
    Watch(bool),
    Set(String),
}

/// The clipboard thread's handle; dropping it ends the thread.
pub struct LocalClipboard {
    requests: std_mpsc::Sender<Request>,
    /// The person's new copies while watched (a few at most: the session takes them as
    /// they come, and a stale one is worth nothing).
    pub changes: mpsc::Receiver<String>,
}

impl LocalClipboard {
    /// Opens the desktop's clipboard (the session's `DISPLAY` / `WAYLAND_DISPLAY`).
    pub fn open() -> Result<Self, ClipboardUnavailable> {
        let clipboard = arboard::Clipboard::new().map_err(ClipboardUnavailable)?;
        let (requests, rx) = std_mpsc::channel();
        let (tx, changes) = mpsc::channel(4);
        std::thread::Builder::new()
            .name("tandem-clipboard".into())
            .spawn(move || serve(clipboard, &rx, &tx))
            .map_err(|e| {
                ClipboardUnavailable(arboard::Error::Unknown {
                    description: e.to_string(),
                })
            })?;
        Ok(Self { requests, changes })
    }

    /// Start reporting copies made from now on (what is on the clipboard already is not
    /// reported), or stop.
    pub fn watch(&self, on: bool) {
        let _ = self.requests.send(Request::Watch(on));
    }

    /// Put the peer's copy on this clipboard (not reported back as a change).
    pub fn set(&self, text: String) {
        let _ = self.requests.send(Request::Set(text));
    }
}

fn read(clipboard: &mut arboard::Clipboard) -> Option<String> {
    // Empty, or something other than text (an image, files): nothing to offer.
    clipboard.get_text().ok()
}

fn serve(
    mut clipboard: arboard::Clipboard,
    requests: &std_mpsc::Receiver<Request>,
    changes: &mpsc::Sender<String>,
) {
    let mut watching = false;
    let mut last: Option<String> = None;
    loop {
        match requests.recv_timeout(POLL) {
            Ok(Request::Watch(on)) => {
                watching = on;
                last = if on { read(&mut clipboard) } else { None };
            }
            Ok(Request::Set(text)) => {
                if let Err(e) = clipboard.set_text(text.as_str()) {
                    debug!("the peer's copy could not be put on the clipboard: {e}");
                }
                last = Some(text);
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                if !watching {
                    continue;
                }
                let now = read(&mut clipboard);
                if now.is_some() && now != last {
                    last.clone_from(&now);
                    if let Some(text) = now {
                        let _ = changes.try_send(text);
                    }
                }
            }
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}
