//! The sharer's session rules, without I/O: consent to control, pauses and who may lift
//! them, what the helper's input may do and when held keys are let go, chat and drawing
//! limits, the monitor shown, Windows' secure desktop.
//!
//! # Driving contract
//!
//! The driver (`sharer.rs`) owns the connection, the video pipeline and the input injector;
//! the core owns every decision. Time is passed in, never read.
//!
//! 1. Feed what happened, each call with the current time where it matters:
//!    [`SharerCore::handle_control`] (a message on the helper's control stream; transport
//!    messages come back to the driver), [`SharerCore::handle_command`] (the person),
//!    [`SharerCore::handle_input`] (the helper's input stream),
//!    [`SharerCore::handle_monitors`] and [`SharerCore::handle_out_of_reach`] (the
//!    pipeline), [`SharerCore::handle_injector_opened`] (the answer to
//!    [`SharerAction::OpenInjector`]), [`SharerCore::handle_packets`] (bytes arrived from
//!    the helper), [`SharerCore::handle_input_ended`].
//! 2. After each, drain [`SharerCore::poll_transmit`] (control messages, in order),
//!    [`SharerCore::poll_event`] (for the person's UI) and [`SharerCore::poll_action`]
//!    (for the screen and the desktop), until each returns `None`.
//! 3. Call [`SharerCore::handle_timeout`] once [`SharerCore::poll_timeout`] is reached.
//! 4. [`SharerAction::End`] ends the session: nothing more is fed after it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::clipboard_rules::{ClipboardRules, Outgoing};
use super::pause::{PauseState, ResumeOutcome};
use super::rate::RateGate;
use super::transfers::{FileAction, FileLimits, FileTransfers, IncomingFile, LocalFile, Output};
use super::{Command, Event};
use crate::annotation::{Annotation, MAX_POINTS_PER_MESSAGE};
use crate::capture::{CaptureInfo, MonitorInfo};
use crate::file::{FileHead, FileRefusal};
use crate::input::gate::{ControlGate, ControlState, RequestOutcome};
use crate::input::translate::{InjectOp, InputTranslator};
use crate::input::{DeclineReason, InputEvent};
use crate::protocol::{ClipboardContent, Control, EndReason, Role};

/// No packet from the helper for this long (it pings every 500 ms): held input is released.
pub const SILENT_PATH: Duration = Duration::from_millis(1500);

/// What the driver does for the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharerAction {
    /// Open the desktop's input injection (before the first grant); answer with
    /// [`SharerCore::handle_injector_opened`].
    OpenInjector,
    /// Inject these, in order.
    Inject(Vec<InjectOp>),
    /// Drop whatever input is still queued, then play these releases.
    Release(Vec<InjectOp>),
    /// The picture stops (`true`) or resumes with a full frame (`false`).
    Pause(bool),
    /// Show this monitor.
    SelectMonitor(u32),
    /// Start (`true`) or stop watching this desktop's clipboard for copies; started, only
    /// changes from now on are reported (to [`SharerCore::handle_local_clipboard`]).
    WatchClipboard(bool),
    /// Put the helper's copy on this desktop's clipboard.
    SetClipboard(ClipboardContent),
    /// Send this copy to the helper on a clipboard stream.
    SendClipboard(ClipboardContent),
    /// Move a file's bytes, stop them, or hold them.
    File(FileAction),
    /// The session ends; `tell_helper`: close it gracefully with an `End` message.
    End {
        reason: EndReason,
        tell_helper: bool,
    },
}

pub struct SharerCore {
    helper_name: String,
    gate: ControlGate,
    injector_open: bool,
    /// The person allowed control while the injector was being opened.
    granting: bool,
    translator: InputTranslator,
    pause: PauseState,
    chat_rate: RateGate,
    drawing_rate: RateGate,
    shown: Option<MonitorInfo>,
    out_of_reach: bool,
    /// The releases sent as the secure desktop came, sent again as it goes.
    released_into_prompt: Vec<InjectOp>,
    /// When bytes from the helper last arrived.
    last_heard: Instant,
    /// Input events dropped by the gate (a hostile or confused helper).
    refused: u64,
    /// The person's permission for clipboard sharing (asked, granted and revoked as
    /// control is, and stopped by any pause).
    clipboard: ControlGate,
    clipboard_rules: ClipboardRules,
    /// Clipboard copies from the helper dropped (not allowed, or too many).
    refused_clipboard: u64,
    files: FileTransfers,
    ended: bool,
    transmit: VecDeque<Control>,
    events: VecDeque<Event>,
    actions: VecDeque<SharerAction>,
}

impl SharerCore {
    /// `controllable`: whether this desktop can take input at all.
    pub fn new(helper_name: String, controllable: bool, now: Instant) -> Self {
        let files = FileTransfers::new(Role::Sharer, helper_name.clone());
        Self {
            helper_name,
            gate: ControlGate::new(controllable),
            injector_open: false,
            granting: false,
            translator: InputTranslator::default(),
            pause: PauseState::default(),
            chat_rate: RateGate::chat(),
            drawing_rate: RateGate::drawing(),
            shown: None,
            out_of_reach: false,
            released_into_prompt: Vec::new(),
            last_heard: now,
            refused: 0,
            clipboard: ControlGate::new(false),
            clipboard_rules: ClipboardRules::default(),
            refused_clipboard: 0,
            files,
            ended: false,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            actions: VecDeque::new(),
        }
    }

    /// Whether this desktop's clipboard can be reached (before the session starts); without
    /// it a request is declined without asking the person.
    pub fn set_clipboard_available(&mut self, available: bool) {
        self.clipboard = ControlGate::new(available);
    }

    /// Where received files may be saved (none: offers are declined as unavailable), and
    /// this app's limits on them.
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

    pub fn poll_action(&mut self) -> Option<SharerAction> {
        self.pump_files();
        self.actions.pop_front()
    }

    /// What the transfers decided, in the order they decided it.
    fn pump_files(&mut self) {
        while let Some(out) = self.files.poll() {
            match out {
                Output::Transmit(msg) => self.transmit.push_back(msg),
                Output::Event(event) => self.events.push_back(event),
                Output::Action(action) => self.actions.push_back(SharerAction::File(action)),
            }
        }
    }

    /// When [`Self::handle_timeout`] is next due: while the helper holds something, or a
    /// file's bytes move.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.ended {
            return None;
        }
        let silence = self
            .translator
            .holds_anything()
            .then(|| self.last_heard + SILENT_PATH);
        silence.into_iter().chain(self.files.poll_timeout()).min()
    }

    /// Who paused, if the session is paused.
    #[cfg(test)]
    pub fn paused_by(&self) -> Option<Role> {
        self.pause.owner()
    }

    #[cfg(test)]
    pub fn control(&self) -> ControlState {
        self.gate.state()
    }

    /// Input events the gate dropped so far.
    #[cfg(test)]
    pub fn refused_input(&self) -> u64 {
        self.refused
    }

    /// Clipboard copies from the helper dropped so far.
    #[cfg(test)]
    pub fn refused_clipboard(&self) -> u64 {
        self.refused_clipboard
    }

    /// The helper has been silent too long (the path is gone; QUIC would give up only after
    /// its idle timeout): a key held meanwhile would repeat on the screen. Let go now.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.ended {
            return;
        }
        if now.saturating_duration_since(self.last_heard) >= SILENT_PATH {
            self.release_held();
        }
        self.files.handle_timeout(now);
    }

    pub fn handle_packets(&mut self, now: Instant) {
        self.last_heard = now;
    }

    /// A message from the helper. Transport messages (clock probes, frame acks, path
    /// probes) are the driver's and come back.
    pub fn handle_control(&mut self, now: Instant, msg: Control) -> Option<Control> {
        if self.ended {
            return None;
        }
        match msg {
            Control::Chat { text } => {
                if self.chat_rate.admit(now) {
                    self.events.push_back(Event::Chat {
                        from: Role::Helper,
                        text,
                    });
                }
            }
            Control::SelectMonitor { id } => {
                self.actions.push_back(SharerAction::SelectMonitor(id))
            }
            Control::RequestControl => match self.gate.on_request(now) {
                RequestOutcome::Ask => self.events.push_back(Event::ControlRequested {
                    helper_name: self.helper_name.clone(),
                }),
                RequestOutcome::Ignore => {}
                // Answered without bothering the person.
                RequestOutcome::Decline(reason) => {
                    self.transmit.push_back(Control::ControlDeclined { reason })
                }
            },
            Control::ReleaseControl => {
                if self.gate.release() {
                    self.granting = false;
                    self.release_held();
                    self.events.push_back(Event::ControlReleased);
                }
            }
            Control::Annotate { annotation } => {
                // Nothing is drawn while paused; bulk is refused here, the rest is bounded
                // by the overlay's sketch.
                let oversized = matches!(&annotation, Annotation::StrokeTo { points, .. } if points.len() > MAX_POINTS_PER_MESSAGE);
                if !self.pause.is_paused() && !oversized && self.drawing_rate.admit(now) {
                    self.events.push_back(Event::Annotation(annotation));
                }
            }
            Control::Pause => {
                if self.pause.pause(Role::Helper) {
                    self.apply_pause(now);
                    self.events.push_back(Event::Paused { by: Role::Helper });
                }
            }
            // The helper lifts only its own pause; the person's stands, and the helper is
            // told why.
            Control::Resume => match self.pause.resume(Role::Helper) {
                ResumeOutcome::Resumed => {
                    self.apply_pause(now);
                    self.events.push_back(Event::Resumed { by: Role::Helper });
                }
                ResumeOutcome::StillPaused { by } => {
                    self.transmit
                        .push_back(Control::ResumeRefused { paused_by: by });
                }
                ResumeOutcome::NotPaused => {}
            },
            Control::End { reason } => {
                self.release_held();
                self.end(reason, false);
            }
            Control::RequestClipboard => match self.clipboard.on_request(now) {
                RequestOutcome::Ask => self.events.push_back(Event::ClipboardRequested {
                    helper_name: self.helper_name.clone(),
                }),
                RequestOutcome::Ignore => {}
                RequestOutcome::Decline(reason) => self
                    .transmit
                    .push_back(Control::ClipboardDeclined { reason }),
            },
            Control::ReleaseClipboard => {
                let was_granted = self.clipboard.state() == ControlState::Granted;
                if self.clipboard.release() {
                    if was_granted {
                        self.stop_clipboard();
                    }
                    self.events
                        .push_back(Event::ClipboardStopped { by: Role::Helper });
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
            | Control::FrameAck { .. }
            | Control::KeyframeRequest
            | Control::PathProbe { .. }
            | Control::PathProbeCandidate { .. }) => return Some(msg),
            // What only a sharer sends means nothing coming from the helper.
            Control::Pong { .. }
            | Control::Monitors { .. }
            | Control::Cursor { .. }
            | Control::CursorShape(_)
            | Control::ControlGranted
            | Control::ControlDeclined { .. }
            | Control::ControlRevoked
            | Control::ResumeRefused { .. }
            | Control::SecureDesktop { .. }
            | Control::ClipboardGranted
            | Control::ClipboardDeclined { .. }
            | Control::ClipboardRevoked => {}
        }
        None
    }

    /// What the person did.
    pub fn handle_command(&mut self, now: Instant, command: Command) {
        if self.ended {
            return;
        }
        match command {
            Command::Chat(text) => self.transmit.push_back(Control::Chat { text }),
            Command::Pause => {
                if self.pause.pause(Role::Sharer) {
                    self.apply_pause(now);
                    self.transmit.push_back(Control::Pause);
                    self.events.push_back(Event::Paused { by: Role::Sharer });
                }
            }
            // The person lifts every pause, the helper's too.
            Command::Resume => {
                if self.pause.resume(Role::Sharer) == ResumeOutcome::Resumed {
                    self.apply_pause(now);
                    self.transmit.push_back(Control::Resume);
                    self.events.push_back(Event::Resumed { by: Role::Sharer });
                }
            }
            // Locally first: no input from here on; then the helper is told.
            Command::End => {
                self.gate.revoke();
                self.release_held();
                self.end(EndReason::SharerEnded, true);
            }
            Command::SelectMonitor(id) => self.actions.push_back(SharerAction::SelectMonitor(id)),
            Command::GrantControl => {
                if self.gate.state() != ControlState::Requested {
                    return;
                }
                if self.injector_open {
                    self.grant();
                } else if !self.granting {
                    self.granting = true;
                    self.actions.push_back(SharerAction::OpenInjector);
                }
            }
            Command::DeclineControl => {
                if self.gate.decline(now) {
                    self.granting = false;
                    let reason = DeclineReason::Declined;
                    self.transmit.push_back(Control::ControlDeclined { reason });
                    self.events.push_back(Event::ControlDeclined {
                        reason,
                        message: reason.describe().into(),
                    });
                }
            }
            Command::RevokeControl => {
                let had = self.gate.revoke();
                self.granting = false;
                self.release_held();
                if had {
                    self.transmit.push_back(Control::ControlRevoked);
                    self.events.push_back(Event::ControlRevoked);
                }
            }
            Command::GrantClipboard => {
                if self.clipboard.grant() {
                    self.clipboard_rules.reset();
                    self.actions.push_back(SharerAction::WatchClipboard(true));
                    self.transmit.push_back(Control::ClipboardGranted);
                    self.events.push_back(Event::ClipboardGranted);
                }
            }
            Command::DeclineClipboard => {
                if self.clipboard.decline(now) {
                    let reason = DeclineReason::Declined;
                    self.transmit
                        .push_back(Control::ClipboardDeclined { reason });
                    self.events.push_back(Event::ClipboardDeclined {
                        reason,
                        message: clipboard_decline_message(reason).into(),
                    });
                }
            }
            Command::RevokeClipboard => {
                if self.clipboard.revoke() {
                    self.stop_clipboard();
                    self.transmit.push_back(Control::ClipboardRevoked);
                    self.events
                        .push_back(Event::ClipboardStopped { by: Role::Sharer });
                }
            }
            Command::AcceptFile(id) => self.files.accept(now, id),
            Command::DeclineFile(id) => self.files.decline(now, id),
            Command::CancelFile(id) => self.files.cancel(id),
            // The driver reads the file and hands it to `handle_local_file`.
            Command::SendFile(_) => {}
            // The helper's commands.
            Command::Allow
            | Command::Decline
            | Command::RequestFile
            | Command::RequestKeyframe
            | Command::RequestControl
            | Command::ReleaseControl
            | Command::Annotate(_)
            | Command::Input(_)
            | Command::RequestClipboard
            | Command::ReleaseClipboard => {}
        }
    }

    /// The answer to [`SharerAction::OpenInjector`]. Failing, control is impossible for the
    /// rest of the session and the error says why.
    pub fn handle_injector_opened(&mut self, result: Result<(), String>) {
        let asked = std::mem::take(&mut self.granting);
        match result {
            Ok(()) => {
                self.injector_open = true;
                if asked {
                    self.grant();
                }
            }
            Err(message) => {
                self.gate.lose_ability();
                let reason = DeclineReason::NotPossible;
                self.transmit.push_back(Control::ControlDeclined { reason });
                self.events
                    .push_back(Event::ControlDeclined { reason, message });
            }
        }
    }

    fn grant(&mut self) {
        if self.gate.grant() {
            self.transmit.push_back(Control::ControlGranted);
            self.events.push_back(Event::ControlGranted);
        }
    }

    /// Every event from the helper passes the gate here, or goes nowhere. `now`: input is
    /// the helper heard from.
    pub fn handle_input(&mut self, now: Instant, event: &InputEvent) {
        self.last_heard = now;
        // While the person is asked something the helper asked for (a file, the
        // clipboard), the helper's input waits: it must not answer for them.
        if self.files.has_question() || self.clipboard.state() == ControlState::Requested {
            if self.translator.holds_anything() {
                self.release_held();
            }
            self.refused += 1;
            return;
        }
        let (Some(shown), true, false, false) = (
            &self.shown,
            self.gate.allows_input() && self.injector_open,
            self.out_of_reach,
            self.ended,
        ) else {
            self.refused += 1;
            if self.refused == 1 || self.refused.is_power_of_two() {
                tracing::debug!(refused = self.refused, "input without control ignored");
            }
            return;
        };
        let mut ops = Vec::with_capacity(2);
        match self.translator.translate(event, shown, &mut ops) {
            Ok(()) if !ops.is_empty() => self.actions.push_back(SharerAction::Inject(ops)),
            Ok(()) => {}
            Err(skipped) => tracing::debug!("input skipped: {skipped}"),
        }
    }

    /// A copy from the helper (read whole from its clipboard stream): it lands only while
    /// the person allows clipboard sharing and nobody paused.
    pub fn handle_clipboard_from_helper(&mut self, now: Instant, content: ClipboardContent) {
        let allowed = !self.ended && self.clipboard.allows_input();
        let bytes = content.len();
        match self.clipboard_rules.incoming(now, content, allowed) {
            Some(content) => {
                self.actions.push_back(SharerAction::SetClipboard(content));
                self.events.push_back(Event::ClipboardReceived { bytes });
            }
            None => {
                self.refused_clipboard += 1;
                tracing::debug!(
                    refused = self.refused_clipboard,
                    "clipboard copy from the helper not taken"
                );
            }
        }
    }

    /// This desktop's clipboard changed (reported only while watched). A copy made while
    /// paused is dropped, not kept for later.
    pub fn handle_local_clipboard(&mut self, content: ClipboardContent) {
        let allowed = !self.ended && self.clipboard.allows_input();
        let limit = content.limit();
        match self.clipboard_rules.outgoing(content, allowed) {
            Outgoing::Send(content) => {
                self.events.push_back(Event::ClipboardSent {
                    bytes: content.len(),
                });
                self.actions.push_back(SharerAction::SendClipboard(content));
            }
            Outgoing::TooLarge(bytes) => self
                .events
                .push_back(Event::ClipboardTooLarge { bytes, limit }),
            Outgoing::Skip => {}
        }
    }

    /// The file the person chose for the helper's oldest request (read by the driver).
    pub fn handle_local_file(&mut self, file: LocalFile) {
        if !self.ended {
            self.files.send(file);
        }
    }

    /// A file stream from the helper: `Some` only for a file the person accepted, once;
    /// anything else is stopped unread and nothing is written.
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

    /// The helper reset or stopped transfer `id`'s stream.
    pub fn handle_file_peer_stopped(&mut self, id: u32) {
        if !self.ended {
            self.files.peer_stopped(id);
        }
    }

    /// Transfer `id`'s task ended (see [`FileTransfers::finished`]).
    pub fn handle_file_finished(
        &mut self,
        id: u32,
        result: Result<Option<std::path::PathBuf>, FileRefusal>,
    ) {
        if !self.ended {
            self.files.finished(id, result);
        }
    }

    /// The input stream ended (the helper closed it, or the connection is going).
    pub fn handle_input_ended(&mut self) {
        self.release_held();
    }

    /// The helper broke the input stream's rules: the session cannot trust it further.
    pub fn handle_input_violation(&mut self) {
        self.release_held();
        self.end(EndReason::ProtocolError, true);
    }

    /// The monitors, at start and after every change or switch.
    pub fn handle_monitors(
        &mut self,
        monitors: Vec<MonitorInfo>,
        current: u32,
        capture: CaptureInfo,
    ) {
        self.shown = monitors.iter().find(|m| m.id == current).cloned();
        self.events.push_back(Event::Monitors {
            monitors: monitors.clone(),
            current,
            capture: Some(capture.clone()),
        });
        self.transmit.push_back(Control::Monitors {
            monitors,
            current,
            capture: Some(capture),
        });
    }

    /// Windows' secure desktop came up (`true`) or went away. Whatever the helper held is
    /// released both times: as it comes (a key held into a UAC prompt would stay down on
    /// the desktop behind it) and as it goes (Windows refused releases meanwhile). Input in
    /// between is dropped: it could not land, and must not play once the prompt closes.
    pub fn handle_out_of_reach(&mut self, active: bool) {
        if active == self.out_of_reach || self.ended {
            return;
        }
        self.out_of_reach = active;
        let ops = if active {
            let mut ops = Vec::new();
            self.translator.release_all(&mut ops);
            self.released_into_prompt.clone_from(&ops);
            ops
        } else {
            std::mem::take(&mut self.released_into_prompt)
        };
        self.actions.push_back(SharerAction::Release(ops));
        self.events.push_back(Event::SecureDesktop { active });
        self.transmit.push_back(Control::SecureDesktop { active });
    }

    /// The session is over, however it ended (an error included): what the helper still
    /// holds, for the driver to release before it lets the desktop go.
    pub fn release_everything(&mut self) -> Vec<InjectOp> {
        let mut ops = Vec::new();
        self.translator.release_all(&mut ops);
        ops
    }

    /// Everything pressed remotely is let go, and queued input dropped: nothing sent before
    /// a revoke or pause plays after it.
    fn release_held(&mut self) {
        let mut ops = Vec::new();
        self.translator.release_all(&mut ops);
        if self.injector_open {
            self.actions.push_back(SharerAction::Release(ops));
        }
    }

    /// Frames, input and drawing stop while anyone's pause stands; a full picture follows
    /// the last pause lifted.
    fn apply_pause(&mut self, now: Instant) {
        let paused = self.pause.is_paused();
        self.gate.set_paused(paused);
        self.clipboard.set_paused(paused);
        self.files.set_paused(now, paused);
        if paused {
            self.release_held();
        }
        self.actions.push_back(SharerAction::Pause(paused));
    }

    fn stop_clipboard(&mut self) {
        self.clipboard_rules.reset();
        self.actions.push_back(SharerAction::WatchClipboard(false));
    }

    fn end(&mut self, reason: EndReason, tell_helper: bool) {
        self.ended = true;
        self.actions.push_back(SharerAction::End {
            reason,
            tell_helper,
        });
    }
}

/// What the helper is told when clipboard sharing is not allowed.
pub fn clipboard_decline_message(reason: DeclineReason) -> &'static str {
    match reason {
        DeclineReason::Declined => "the sharer declined clipboard sharing",
        DeclineReason::TooSoon => {
            "the sharer declined a moment ago; wait a little before asking again"
        }
        DeclineReason::NotPossible => "the sharer's clipboard cannot be reached on their computer",
    }
}

#[cfg(test)]
mod tests {
    //! Every rule, driven as the session drives it, in virtual time: the helper's side is
    //! played by the control messages and input events it would send.

    use super::*;

    fn monitor() -> MonitorInfo {
        MonitorInfo {
            id: 0,
            name: "m".into(),
            screen: 0,
            x: 0,
            y: 0,
            width: 640,
            height: 480,
            width_mm: 0,
            primary: true,
            scale_percent: 100,
        }
    }

    fn key(code: &str, down: bool) -> InputEvent {
        InputEvent::Key {
            code: code.into(),
            down,
        }
    }

    /// What one step produced, drained as the driver drains it.
    #[derive(Debug, Default)]
    struct Out {
        sent: Vec<Control>,
        events: Vec<Event>,
        actions: Vec<SharerAction>,
    }

    impl Out {
        fn injected(&self) -> Vec<InjectOp> {
            self.actions
                .iter()
                .filter_map(|a| match a {
                    SharerAction::Inject(ops) => Some(ops.clone()),
                    _ => None,
                })
                .flatten()
                .collect()
        }

        fn released(&self) -> Vec<InjectOp> {
            self.actions
                .iter()
                .filter_map(|a| match a {
                    SharerAction::Release(ops) => Some(ops.clone()),
                    _ => None,
                })
                .flatten()
                .collect()
        }
    }

    /// A sharer in a session, its injector opening as the driver would open it.
    struct Sharer {
        core: SharerCore,
        now: Instant,
        injector_works: bool,
    }

    impl Sharer {
        fn new(controllable: bool) -> Self {
            let now = Instant::now();
            let mut core = SharerCore::new("Anna R.".into(), controllable, now);
            core.handle_monitors(vec![monitor()], 0, CaptureInfo::new("test-pattern"));
            let mut this = Self {
                core,
                now,
                injector_works: true,
            };
            this.drain();
            this
        }

        fn drain(&mut self) -> Out {
            let mut out = Out::default();
            while let Some(action) = self.core.poll_action() {
                if action == SharerAction::OpenInjector {
                    let result = if self.injector_works {
                        Ok(())
                    } else {
                        Err("no input here".to_string())
                    };
                    self.core.handle_injector_opened(result);
                }
                out.actions.push(action);
            }
            while let Some(msg) = self.core.poll_transmit() {
                out.sent.push(msg);
            }
            while let Some(event) = self.core.poll_event() {
                out.events.push(event);
            }
            out
        }

        fn helper(&mut self, msg: Control) -> Out {
            let back = self.core.handle_control(self.now, msg);
            assert_eq!(back, None);
            self.drain()
        }

        fn person(&mut self, command: Command) -> Out {
            self.core.handle_command(self.now, command);
            self.drain()
        }

        fn input(&mut self, event: InputEvent) -> Out {
            self.core.handle_input(self.now, &event);
            self.drain()
        }

        fn later(&mut self, by: Duration) {
            self.now += by;
        }

        /// The helper asks and the person allows.
        fn granted() -> Self {
            let mut s = Self::new(true);
            s.helper(Control::RequestControl);
            let out = s.person(Command::GrantControl);
            assert!(out.sent.contains(&Control::ControlGranted), "{out:?}");
            s
        }
    }

    #[test]
    fn input_lands_only_between_a_grant_and_a_revoke() {
        let mut s = Sharer::new(true);
        // Before anything: dropped.
        assert!(s.input(key("KeyA", true)).actions.is_empty());
        // Asked, not yet answered: dropped.
        let out = s.helper(Control::RequestControl);
        assert!(
            matches!(&out.events[..], [Event::ControlRequested { helper_name }] if helper_name == "Anna R.")
        );
        assert!(s.input(key("KeyA", true)).actions.is_empty());
        // Allowed: the injector opens first, then control is granted.
        let out = s.person(Command::GrantControl);
        assert_eq!(out.actions[0], SharerAction::OpenInjector);
        assert_eq!(out.sent, [Control::ControlGranted]);
        assert!(matches!(&out.events[..], [Event::ControlGranted]));
        assert_eq!(s.input(key("KeyA", true)).injected().len(), 1);
        // Revoked: what is held is released, and input is dropped again.
        let out = s.person(Command::RevokeControl);
        assert_eq!(out.released().len(), 1, "{out:?}");
        assert_eq!(out.sent, [Control::ControlRevoked]);
        assert!(s.input(key("KeyB", true)).actions.is_empty());
        assert_eq!(s.core.refused_input(), 3);
    }

    #[test]
    fn a_screen_that_cannot_take_input_declines_without_asking_the_person() {
        let mut s = Sharer::new(false);
        let out = s.helper(Control::RequestControl);
        assert!(out.events.is_empty());
        assert_eq!(
            out.sent,
            [Control::ControlDeclined {
                reason: DeclineReason::NotPossible
            }]
        );
        // An injector that fails to open: said so, and never asked again.
        let mut s = Sharer::new(true);
        s.injector_works = false;
        s.helper(Control::RequestControl);
        let out = s.person(Command::GrantControl);
        assert_eq!(
            out.sent,
            [Control::ControlDeclined {
                reason: DeclineReason::NotPossible
            }]
        );
        assert!(
            matches!(&out.events[..], [Event::ControlDeclined { message, .. }] if message == "no input here")
        );
        assert!(s.input(key("KeyA", true)).actions.is_empty());
        let out = s.helper(Control::RequestControl);
        assert!(out.events.is_empty());
    }

    #[test]
    fn requests_cannot_nag_the_person() {
        let mut s = Sharer::new(true);
        assert_eq!(s.helper(Control::RequestControl).events.len(), 1);
        // Asked again while the question is up: nothing new.
        for _ in 0..100 {
            let out = s.helper(Control::RequestControl);
            assert!(out.events.is_empty() && out.sent.is_empty());
        }
        s.person(Command::DeclineControl);
        // Right after a no: declined as too soon, without asking.
        s.later(Duration::from_secs(9));
        let out = s.helper(Control::RequestControl);
        assert!(out.events.is_empty());
        assert_eq!(
            out.sent,
            [Control::ControlDeclined {
                reason: DeclineReason::TooSoon
            }]
        );
        s.later(Duration::from_secs(2));
        assert_eq!(s.helper(Control::RequestControl).events.len(), 1);
    }

    #[test]
    fn a_pause_is_lifted_only_by_whoever_may_lift_it() {
        let mut s = Sharer::granted();
        s.input(key("ShiftLeft", true));
        // The person pauses: the picture stops, what the helper held is released.
        let out = s.person(Command::Pause);
        assert!(out.actions.contains(&SharerAction::Pause(true)));
        assert_eq!(out.released().len(), 1);
        assert_eq!(out.sent, [Control::Pause]);
        assert_eq!(s.core.paused_by(), Some(Role::Sharer));
        // Input, drawing and the helper's resume go nowhere.
        assert!(s.input(key("KeyA", true)).actions.is_empty());
        let drawing = Control::Annotate {
            annotation: Annotation::Laser { x: 1, y: 1 },
        };
        assert!(s.helper(drawing.clone()).events.is_empty());
        let out = s.helper(Control::Resume);
        assert_eq!(
            out.sent,
            [Control::ResumeRefused {
                paused_by: Role::Sharer
            }]
        );
        assert!(out.actions.is_empty());
        // The person resumes: a full picture follows, control is back.
        let out = s.person(Command::Resume);
        assert!(out.actions.contains(&SharerAction::Pause(false)));
        assert_eq!(s.core.paused_by(), None);
        assert_eq!(s.input(key("KeyA", true)).injected().len(), 1);
        assert_eq!(s.helper(drawing).events.len(), 1);

        // The helper's own pause: it lifts it, or the person does.
        s.helper(Control::Pause);
        assert_eq!(s.core.paused_by(), Some(Role::Helper));
        let out = s.person(Command::Resume);
        assert_eq!(out.sent, [Control::Resume]);
        assert_eq!(s.core.paused_by(), None);
        s.helper(Control::Pause);
        let out = s.helper(Control::Resume);
        assert!(matches!(
            &out.events[..],
            [Event::Resumed { by: Role::Helper }]
        ));
    }

    #[test]
    fn held_keys_are_released_when_the_helper_falls_silent() {
        let mut s = Sharer::granted();
        s.core.handle_packets(s.now);
        assert_eq!(s.core.poll_timeout(), None, "nothing held, nothing to time");
        s.input(key("ShiftLeft", true));
        let due = s
            .core
            .poll_timeout()
            .expect("a timeout while a key is held");
        assert_eq!(due, s.now + SILENT_PATH);
        // Packets keep coming: the timeout moves on, nothing is released.
        s.later(Duration::from_millis(1000));
        s.core.handle_packets(s.now);
        s.later(Duration::from_millis(1000));
        s.core.handle_timeout(s.now);
        assert!(s.drain().released().is_empty());
        // Silence: released at the deadline, not before.
        s.later(Duration::from_millis(499));
        s.core.handle_timeout(s.now);
        assert!(s.drain().released().is_empty());
        s.later(Duration::from_millis(1));
        s.core.handle_timeout(s.now);
        assert_eq!(s.drain().released().len(), 1);
        assert_eq!(s.core.poll_timeout(), None);
    }

    /// Right after a reconnection the driver's last reading of the byte count is seconds
    /// old: a key pressed then must not be let go at once by the silence rule.
    #[test]
    fn a_key_pressed_after_a_silence_is_held_until_the_next_silence() {
        let mut s = Sharer::granted();
        s.core.handle_packets(s.now);
        s.later(Duration::from_secs(5));
        let pressed = s.input(key("KeyB", true)).injected();
        assert_eq!(pressed.len(), 1);
        assert_eq!(s.core.poll_timeout(), Some(s.now + SILENT_PATH));
        s.core.handle_timeout(s.now);
        assert!(s.drain().released().is_empty(), "released at once");
        let released = s.input(key("KeyB", false)).injected();
        assert_eq!(released.len(), 1, "the helper's own release lands");
    }

    #[test]
    fn a_windows_prompt_releases_held_keys_and_drops_input_until_it_closes() {
        let mut s = Sharer::granted();
        let pressed = s.input(key("ShiftLeft", true)).injected();
        let InjectOp::Key {
            keycode,
            down: true,
        } = pressed[0]
        else {
            panic!("not a press: {pressed:?}");
        };
        let shift_up = InjectOp::Key {
            keycode,
            down: false,
        };
        // The prompt comes with Shift held: released at once, both people told.
        s.core.handle_out_of_reach(true);
        let out = s.drain();
        assert_eq!(out.released(), [shift_up]);
        assert_eq!(out.sent, [Control::SecureDesktop { active: true }]);
        // Typing into the prompt from afar goes nowhere, and does not play afterwards.
        assert!(s.input(key("KeyA", true)).actions.is_empty());
        assert!(s.input(key("KeyA", false)).actions.is_empty());
        // Closed: Shift released again (Windows refused it while the prompt was up).
        s.core.handle_out_of_reach(false);
        let out = s.drain();
        assert_eq!(out.released(), [shift_up]);
        assert_eq!(out.sent, [Control::SecureDesktop { active: false }]);
        assert_eq!(s.input(key("KeyB", true)).injected().len(), 1);
    }

    #[test]
    fn floods_of_chat_and_drawing_are_cut_and_bulk_drawing_refused() {
        let mut s = Sharer::new(true);
        let chats = (0..1000)
            .map(|i| {
                s.helper(Control::Chat {
                    text: format!("{i}"),
                })
                .events
                .len()
            })
            .sum::<usize>();
        assert!(chats <= 25, "{chats} chat lines shown from a flood");
        let bulk = Control::Annotate {
            annotation: Annotation::StrokeTo {
                id: 1,
                points: vec![(1, 1); MAX_POINTS_PER_MESSAGE + 1],
            },
        };
        assert!(s.helper(bulk).events.is_empty());
        let drawn = (0..10_000)
            .map(|_| {
                s.helper(Control::Annotate {
                    annotation: Annotation::Laser { x: 1, y: 1 },
                })
                .events
                .len()
            })
            .sum::<usize>();
        assert!(drawn <= 500, "{drawn} drawings from a flood");
    }

    #[test]
    fn the_helper_cannot_act_as_the_sharer_nor_reach_outside_the_screen() {
        let mut s = Sharer::granted();
        for msg in [
            Control::ControlGranted,
            Control::ControlRevoked,
            Control::ResumeRefused {
                paused_by: Role::Helper,
            },
            Control::SecureDesktop { active: true },
            Control::Monitors {
                monitors: Vec::new(),
                current: 7,
                capture: None,
            },
        ] {
            let out = s.helper(msg);
            assert!(out.sent.is_empty() && out.events.is_empty() && out.actions.is_empty());
        }
        assert_eq!(s.core.control(), ControlState::Granted);
        // A pointer far outside the shown monitor is kept on it.
        let out = s.input(InputEvent::PointerMove {
            monitor: 0,
            x: 1_000_000,
            y: 1_000_000,
        });
        assert_eq!(
            out.injected(),
            [InjectOp::MoveTo {
                screen: 0,
                monitor: 0,
                x: 639,
                y: 479
            }]
        );
        // Transport messages are the driver's.
        assert_eq!(
            s.core.handle_control(s.now, Control::KeyframeRequest),
            Some(Control::KeyframeRequest)
        );
    }

    #[test]
    fn an_end_from_either_side_releases_everything_and_nothing_follows() {
        let mut s = Sharer::granted();
        s.input(key("ShiftLeft", true));
        let out = s.helper(Control::End {
            reason: EndReason::HelperEnded,
        });
        assert_eq!(out.released().len(), 1);
        assert!(out.actions.contains(&SharerAction::End {
            reason: EndReason::HelperEnded,
            tell_helper: false
        }));
        assert!(s.input(key("KeyA", true)).actions.is_empty());
        assert!(s.person(Command::Pause).actions.is_empty());

        let mut s = Sharer::granted();
        s.input(key("ControlLeft", true));
        let out = s.person(Command::End);
        assert_eq!(out.released().len(), 1);
        assert_eq!(
            out.actions.last(),
            Some(&SharerAction::End {
                reason: EndReason::SharerEnded,
                tell_helper: true
            })
        );
        // An input stream that breaks its rules ends the session as a protocol error.
        let mut s = Sharer::granted();
        s.core.handle_input_violation();
        assert!(s.drain().actions.contains(&SharerAction::End {
            reason: EndReason::ProtocolError,
            tell_helper: true
        }));
    }
}
