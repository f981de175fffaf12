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

use super::rate::RateGate;
use super::{Command, Event};
use crate::input::gate::ControlState;
use crate::input::InputEvent;
use crate::protocol::{Control, EndReason, Role};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelperAction {
    /// Send this on the input stream.
    SendInput(InputEvent),
    /// The session ends; `tell_sharer`: close it gracefully with an `End` message.
    End {
        reason: EndReason,
        tell_sharer: bool,
    },
}

pub struct HelperCore {
    control: ControlState,
    paused_by_sharer: bool,
    paused_by_me: bool,
    chat_rate: RateGate,
    pointer_rate: RateGate,
    features: BTreeSet<Feature>,
    ended: bool,
    transmit: VecDeque<Control>,
    events: VecDeque<Event>,
    actions: VecDeque<HelperAction>,
}

impl Default for HelperCore {
    fn default() -> Self {
        Self {
            control: ControlState::ViewOnly,
            paused_by_sharer: false,
            paused_by_me: false,
            chat_rate: RateGate::chat(),
            pointer_rate: RateGate::pointer(),
            features: BTreeSet::new(),
            ended: false,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            actions: VecDeque::new(),
        }
    }
}

impl HelperCore {
    pub fn poll_transmit(&mut self) -> Option<Control> {
        self.transmit.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub fn poll_action(&mut self) -> Option<HelperAction> {
        self.actions.pop_front()
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
                self.events.push_back(Event::Paused { by: Role::Sharer });
            }
            // The sharer's resume lifts every pause, this side's too.
            Control::Resume => {
                self.paused_by_sharer = false;
                self.paused_by_me = false;
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
            | Control::Annotate { .. }) => tracing::debug!(?other, "ignored control message"),
        }
        None
    }

    /// What the person helping did.
    pub fn handle_command(&mut self, command: Command) {
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
                self.transmit.push_back(Control::Pause);
                self.events.push_back(Event::Paused { by: Role::Helper });
            }
            // Sent even when the sharer's pause is known to stand: the sharer decides, and
            // says why when it does not resume.
            Command::Resume => {
                self.transmit.push_back(Control::Resume);
                if !self.paused_by_sharer {
                    self.paused_by_me = false;
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
            Command::Input(event) => self.actions.push_back(HelperAction::SendInput(event)),
            Command::Annotate(annotation) => {
                self.features.insert(Feature::Annotation);
                self.transmit.push_back(Control::Annotate { annotation });
            }
            // The sharer's commands.
            Command::Allow
            | Command::Decline
            | Command::GrantControl
            | Command::DeclineControl
            | Command::RevokeControl => {}
        }
    }

    fn end(&mut self, reason: EndReason, tell_sharer: bool) {
        self.ended = true;
        self.actions.push_back(HelperAction::End {
            reason,
            tell_sharer,
        });
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Helper => "helper",
        Role::Sharer => "person sharing",
    }
}
