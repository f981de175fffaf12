//! The helper's session rules, without I/O: what the sharer's messages mean for the person
//! helping (and how often they may come), the state of control and of both pauses, and
//! which features the session used (for the report at its end).
//!
//! # Driving contract
//!
//! As `SharerCore`'s: feed [`HelperCore::handle_control`] (a message from the sharer;
//! transport messages — clock probes, path probes — come back to the driver) and
//! [`HelperCore::handle_command`] (the person), then drain [`HelperCore::poll_transmit`],
//! [`HelperCore::poll_event`] and [`HelperCore::poll_action`] until `None`. Time is passed
//! in. [`HelperAction::End`] ends the session. Input is passed on as the person gives it:
//! the sharer's gate decides whether it lands.

use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

use tandem_rendezvous::records::Feature;

use super::clipboard_rules::{ClipboardRules, Outgoing};
use super::rate::RateGate;
use super::sharer_core::clipboard_decline_message;
use super::transfers::{FileAction, FileLimits, FileTransfers, IncomingFile, LocalFile, Output};
use super::{Command, Event};
use crate::file::{FileHead, FileRefusal};
use crate::input::gate::ControlState;
use crate::input::{DeclineReason, InputEvent};
use crate::protocol::{ClipboardContent, Control, EndReason, Role};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelperAction {
    /// Send this on the input stream.
    SendInput(InputEvent),
    /// Start (`true`) or stop watching this computer's clipboard; started, only changes
    /// from now on are reported (to [`HelperCore::handle_local_clipboard`]).
    WatchClipboard(bool),
    /// Put the sharer's copy on this computer's clipboard.
    SetClipboard(ClipboardContent),
    /// Send this copy to the sharer on a clipboard stream.
    SendClipboard(ClipboardContent),
    /// Move a file's bytes, stop them, or hold them.
    File(FileAction),
    /// The session ends; `tell_sharer`: close it gracefully with an `End` message.
    End {
        reason: EndReason,
        tell_sharer: bool,
    },
}

pub struct HelperCore {
    control: ControlState,
    /// Clipboard sharing, as the sharer last said.
    clipboard: ControlState,
    clipboard_rules: ClipboardRules,
    paused_by_sharer: bool,
    paused_by_me: bool,
    chat_rate: RateGate,
    pointer_rate: RateGate,
    features: BTreeSet<Feature>,
    files: FileTransfers,
    ended: bool,
    transmit: VecDeque<Control>,
    events: VecDeque<Event>,
    actions: VecDeque<HelperAction>,
}

impl Default for HelperCore {
    fn default() -> Self {
        Self {
            control: ControlState::ViewOnly,
            clipboard: ControlState::ViewOnly,
            clipboard_rules: ClipboardRules::default(),
            paused_by_sharer: false,
            paused_by_me: false,
            chat_rate: RateGate::chat(),
            pointer_rate: RateGate::pointer(),
            features: BTreeSet::new(),
            files: FileTransfers::new(Role::Helper, String::new()),
            ended: false,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            actions: VecDeque::new(),
        }
    }
}

impl HelperCore {
    /// Where files asked from the sharer may be saved, and within which limits.
    pub fn set_file_receiving(&mut self, can_receive: bool, limits: FileLimits) {
        self.files.set_receiving(can_receive, limits);
    }

    pub fn poll_transmit(&mut self) -> Option<Control> {
        self.pump_files();
        self.transmit.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.pump_files();
        self.events.pop_front()
    }

    pub fn poll_action(&mut self) -> Option<HelperAction> {
        self.pump_files();
        self.actions.pop_front()
    }

    /// What the transfers decided, in the order they decided it.
    fn pump_files(&mut self) {
        while let Some(out) = self.files.poll() {
            match out {
                Output::Transmit(msg) => self.transmit.push_back(msg),
                Output::Event(event) => {
                    if matches!(event, Event::FileStarted { .. }) {
                        self.features.insert(Feature::FileTransfer);
                    }
                    self.events.push_back(event);
                }
                Output::Action(action) => self.actions.push_back(HelperAction::File(action)),
            }
        }
    }

    /// Any pause holds the files' bytes.
    fn update_pause(&mut self, now: Instant) {
        self.files
            .set_paused(now, self.paused_by_sharer || self.paused_by_me);
    }

    /// When [`Self::handle_timeout`] is next due: while a file's bytes move.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.ended {
            return None;
        }
        self.files.poll_timeout()
    }

    /// Gives up transfers that stalled.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.ended {
            self.files.handle_timeout(now);
        }
    }

    /// What the session used so far, for its report.
    pub fn features(&self) -> &BTreeSet<Feature> {
        &self.features
    }

    /// Whether this helper controls the sharer's screen (as the sharer last said).
    #[cfg(test)]
    pub fn control(&self) -> ControlState {
        self.control
    }

    /// Who paused, as far as this side knows (the sharer's pause wins).
    #[cfg(test)]
    pub fn paused_by(&self) -> Option<Role> {
        if self.paused_by_sharer {
            Some(Role::Sharer)
        } else if self.paused_by_me {
            Some(Role::Helper)
        } else {
            None
        }
    }

    /// A message from the sharer. Transport messages come back to the driver.
    pub fn handle_control(&mut self, now: Instant, msg: Control) -> Option<Control> {
        if self.ended {
            return None;
        }
        match msg {
            Control::Chat { text } => {
                self.features.insert(Feature::Chat);
                if self.chat_rate.admit(now) {
                    self.events.push_back(Event::Chat {
                        from: Role::Sharer,
                        text,
                    });
                }
            }
            Control::Pause => {
                self.features.insert(Feature::Pause);
                self.paused_by_sharer = true;
                self.update_pause(now);
                self.events.push_back(Event::Paused { by: Role::Sharer });
            }
            // The sharer's resume lifts every pause, this side's too.
            Control::Resume => {
                self.paused_by_sharer = false;
                self.paused_by_me = false;
                self.update_pause(now);
                self.events.push_back(Event::Resumed { by: Role::Sharer });
            }
            Control::ResumeRefused { paused_by } => self.events.push_back(Event::ResumeRefused {
                paused_by,
                message: format!(
                    "the {} paused the session; only they can resume it",
                    role_name(paused_by)
                ),
            }),
            Control::End { reason } => self.end(reason, false),
            Control::Monitors {
                monitors,
                current,
                capture,
            } => self.events.push_back(Event::Monitors {
                monitors,
                current,
                capture,
            }),
            Control::Cursor { x, y, visible } => {
                if self.pointer_rate.admit(now) {
                    self.events.push_back(Event::Cursor { x, y, visible });
                }
            }
            // Network input: checked before anyone draws it.
            Control::CursorShape(picture) => {
                if !self.pointer_rate.admit(now) {
                    tracing::debug!("cursor pictures too fast: one dropped");
                } else if picture.is_valid() {
                    self.events.push_back(Event::CursorShape(picture));
                } else {
                    tracing::debug!("ignoring a malformed cursor picture");
                }
            }
            Control::ControlGranted => {
                self.features.insert(Feature::Control);
                self.control = ControlState::Granted;
                self.events.push_back(Event::ControlGranted);
            }
            Control::ControlDeclined { reason } => {
                self.control = ControlState::ViewOnly;
                self.events.push_back(Event::ControlDeclined {
                    reason,
                    message: reason.describe().into(),
                });
            }
            Control::ControlRevoked => {
                self.control = ControlState::ViewOnly;
                self.events.push_back(Event::ControlRevoked);
            }
            Control::SecureDesktop { active } => {
                self.events.push_back(Event::SecureDesktop { active })
            }
            // Only an answer to this side's request counts: a sharer cannot switch it on.
            Control::ClipboardGranted => {
                if self.clipboard == ControlState::Requested {
                    self.features.insert(Feature::Clipboard);
                    self.clipboard = ControlState::Granted;
                    self.clipboard_rules.reset();
                    self.actions.push_back(HelperAction::WatchClipboard(true));
                    self.events.push_back(Event::ClipboardGranted);
                }
            }
            Control::ClipboardDeclined { reason } => {
                if self.clipboard == ControlState::Requested {
                    self.clipboard = ControlState::ViewOnly;
                    self.events.push_back(Event::ClipboardDeclined {
                        reason,
                        message: clipboard_decline_message(reason).into(),
                    });
                }
            }
            Control::ClipboardRevoked => {
                if self.clipboard == ControlState::Granted {
                    self.stop_clipboard();
                    self.events
                        .push_back(Event::ClipboardStopped { by: Role::Sharer });
                }
            }
            msg @ (Control::RequestFile { .. }
            | Control::FileOffer { .. }
            | Control::FileAccepted { .. }
            | Control::FileDeclined { .. }
            | Control::FileCancel { .. }
            | Control::FileSaved { .. }
            | Control::FileFailed { .. }) => {
                self.files.handle_control(now, &msg);
            }
            msg @ (Control::Ping { .. }
            | Control::Pong { .. }
            | Control::PathProbe { .. }
            | Control::PathProbeCandidate { .. }) => return Some(msg),
            // What only a helper sends means nothing coming from the sharer.
            other @ (Control::FrameAck { .. }
            | Control::KeyframeRequest
            | Control::SelectMonitor { .. }
            | Control::RequestControl
            | Control::ReleaseControl
            | Control::Annotate { .. }
            | Control::RequestClipboard
            | Control::ReleaseClipboard) => tracing::debug!(?other, "ignored control message"),
        }
        None
    }

    /// What the person helping did.
    pub fn handle_command(&mut self, now: Instant, command: Command) {
        if self.ended {
            return;
        }
        match command {
            Command::Chat(text) => {
                self.features.insert(Feature::Chat);
                self.transmit.push_back(Control::Chat { text });
            }
            Command::Pause => {
                self.features.insert(Feature::Pause);
                self.paused_by_me = true;
                self.update_pause(now);
                self.transmit.push_back(Control::Pause);
                self.events.push_back(Event::Paused { by: Role::Helper });
            }
            // Sent even when the sharer's pause is known to stand: the sharer decides, and
            // says why when it does not resume.
            Command::Resume => {
                self.transmit.push_back(Control::Resume);
                if !self.paused_by_sharer {
                    self.paused_by_me = false;
                    self.update_pause(now);
                    self.events.push_back(Event::Resumed { by: Role::Helper });
                }
            }
            Command::End => self.end(EndReason::HelperEnded, true),
            Command::RequestKeyframe => self.transmit.push_back(Control::KeyframeRequest),
            Command::SelectMonitor(id) => self.transmit.push_back(Control::SelectMonitor { id }),
            Command::RequestControl => {
                if self.control == ControlState::ViewOnly {
                    self.control = ControlState::Requested;
                }
                self.transmit.push_back(Control::RequestControl);
            }
            Command::ReleaseControl => {
                self.control = ControlState::ViewOnly;
                self.transmit.push_back(Control::ReleaseControl);
                self.events.push_back(Event::ControlReleased);
            }
            // Text goes in pieces the sharer's input stream takes (its messages are small).
            Command::Input(InputEvent::Text { text }) => {
                for piece in text_pieces(&text) {
                    self.actions
                        .push_back(HelperAction::SendInput(InputEvent::Text { text: piece }));
                }
            }
            Command::Input(event) => self.actions.push_back(HelperAction::SendInput(event)),
            Command::Annotate(annotation) => {
                self.features.insert(Feature::Annotation);
                self.transmit.push_back(Control::Annotate { annotation });
            }
            Command::RequestClipboard => {
                if self.clipboard == ControlState::ViewOnly {
                    self.clipboard = ControlState::Requested;
                    self.transmit.push_back(Control::RequestClipboard);
                }
            }
            Command::ReleaseClipboard => {
                let was = self.clipboard;
                if was != ControlState::ViewOnly {
                    self.transmit.push_back(Control::ReleaseClipboard);
                    if was == ControlState::Granted {
                        self.stop_clipboard();
                    }
                    self.clipboard = ControlState::ViewOnly;
                    self.events
                        .push_back(Event::ClipboardStopped { by: Role::Helper });
                }
            }
            Command::RequestFile => self.files.request(),
            Command::CancelFile(id) => self.files.cancel(id),
            // The driver reads the file and hands it to `handle_local_file`.
            Command::SendFile(_) => {}
            // The sharer's commands.
            Command::AcceptFile(_)
            | Command::DeclineFile(_)
            | Command::Allow
            | Command::Decline
            | Command::GrantControl
            | Command::DeclineControl
            | Command::RevokeControl
            | Command::GrantClipboard
            | Command::DeclineClipboard
            | Command::RevokeClipboard => {}
        }
    }

    /// A copy from the sharer: taken only while this side shares clipboards (a sharer
    /// cannot push text into a helper that never asked).
    pub fn handle_clipboard_from_sharer(&mut self, now: Instant, content: ClipboardContent) {
        let allowed = !self.ended && self.clipboard == ControlState::Granted;
        let bytes = content.len();
        if let Some(content) = self.clipboard_rules.incoming(now, content, allowed) {
            self.actions.push_back(HelperAction::SetClipboard(content));
            self.events.push_back(Event::ClipboardReceived { bytes });
        }
    }

    /// This computer's clipboard changed (reported only while watched). Nothing crosses
    /// while the sharer's pause stands, nor later for what was copied meanwhile.
    pub fn handle_local_clipboard(&mut self, content: ClipboardContent) {
        let allowed =
            !self.ended && self.clipboard == ControlState::Granted && !self.paused_by_sharer;
        let limit = content.limit();
        match self.clipboard_rules.outgoing(content, allowed) {
            Outgoing::Send(content) => {
                self.events.push_back(Event::ClipboardSent {
                    bytes: content.len(),
                });
                self.actions.push_back(HelperAction::SendClipboard(content));
            }
            Outgoing::TooLarge(bytes) => self
                .events
                .push_back(Event::ClipboardTooLarge { bytes, limit }),
            Outgoing::Skip => {}
        }
    }

    /// A file the person chose to send (read by the driver).
    pub fn handle_local_file(&mut self, file: LocalFile) {
        if !self.ended {
            self.files.send(file);
        }
    }

    /// A file stream from the sharer: `Some` only for a file this side asked for, once.
    pub fn take_file_stream(&mut self, head: FileHead) -> Option<IncomingFile> {
        if self.ended {
            return None;
        }
        self.files.take_stream(head)
    }

    /// `bytes` of transfer `id` moved so far (from the driver's task).
    pub fn handle_file_progress(&mut self, now: Instant, id: u32, bytes: u64) {
        self.files.progress(now, id, bytes);
    }

    /// The sharer reset or stopped transfer `id`'s stream.
    pub fn handle_file_peer_stopped(&mut self, id: u32) {
        if !self.ended {
            self.files.peer_stopped(id);
        }
    }

    /// Transfer `id`'s task ended.
    pub fn handle_file_finished(
        &mut self,
        id: u32,
        result: Result<Option<std::path::PathBuf>, FileRefusal>,
    ) {
        if !self.ended {
            self.files.finished(id, result);
        }
    }

    /// This computer's clipboard cannot be reached: sharing stops (the sharer is told) and
    /// the person is told why.
    pub fn handle_clipboard_unavailable(&mut self, message: String) {
        if self.clipboard == ControlState::ViewOnly {
            return;
        }
        self.transmit.push_back(Control::ReleaseClipboard);
        self.stop_clipboard();
        self.events.push_back(Event::ClipboardDeclined {
            reason: DeclineReason::NotPossible,
            message,
        });
    }

    fn stop_clipboard(&mut self) {
        self.clipboard = ControlState::ViewOnly;
        self.clipboard_rules.reset();
        self.actions.push_back(HelperAction::WatchClipboard(false));
    }

    fn end(&mut self, reason: EndReason, tell_sharer: bool) {
        self.ended = true;
        self.actions.push_back(HelperAction::End {
            reason,
            tell_sharer,
        });
    }
}

/// Bytes of text per input message: with its JSON it stays well under the sharer's limit.
const TEXT_PIECE_BYTES: usize = 600;

/// `text` cut into pieces of at most [`TEXT_PIECE_BYTES`] and the sharer's character limit,
/// never inside a character.
fn text_pieces(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut piece = String::new();
    let mut chars = 0;
    for c in text.chars() {
        if piece.len() + c.len_utf8() > TEXT_PIECE_BYTES
            || chars == crate::input::translate::MAX_TYPED_CHARS
        {
            pieces.push(std::mem::take(&mut piece));
            chars = 0;
        }
        piece.push(c);
        chars += 1;
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    pieces
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Helper => "helper",
        Role::Sharer => "person sharing",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::translate::MAX_TYPED_CHARS;
    use crate::input::MAX_INPUT_LEN;

    #[test]
    fn long_text_is_sent_in_pieces_the_sharer_takes() {
        let text = format!("{}{}", "é€𝄞x".repeat(300), "\n".repeat(400));
        let mut core = HelperCore::default();
        core.handle_command(
            Instant::now(),
            Command::Input(InputEvent::Text { text: text.clone() }),
        );
        let mut joined = String::new();
        while let Some(HelperAction::SendInput(event)) = core.poll_action() {
            let framed = crate::protocol::frame_message(&event).expect("frames");
            assert!(framed.len() - 4 <= MAX_INPUT_LEN, "{} bytes", framed.len());
            let InputEvent::Text { text: piece } = event else {
                panic!("not text: {event:?}");
            };
            assert!(piece.chars().count() <= MAX_TYPED_CHARS);
            joined.push_str(&piece);
        }
        assert_eq!(joined, text);
    }
}
