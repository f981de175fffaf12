//! The window without a mouse: Tab and Shift+Tab move through a screen's text boxes and
//! buttons in reading order, the focused button wears a ring in the text's colour, and
//! Enter or Space presses it. iced's buttons take no focus themselves, so the app keeps
//! the place: each screen lists what can be reached, and the view asks whether a button
//! is the one focused.

use iced::widget::button;
use iced::{Task, Theme};

use super::{App, HelperAuth, Message, Screen, SharerControl, ToolbarItem};
use crate::gui::style;

/// One stop of the keyboard on a screen.
#[derive(Debug, Clone)]
pub enum FocusTarget {
    /// A text box (iced focuses it; typing goes there).
    Input(&'static str),
    /// A button, known by its label's key (unique on its screen), and what it does.
    Button { key: String, message: Message },
}

impl App {
    /// What Tab reaches on this screen, in reading order: only what can be used now.
    pub fn focus_ring(&self) -> Vec<FocusTarget> {
        let mut ring = Vec::new();
        let mut push = |key: &str, message: Message| {
            ring.push(FocusTarget::Button {
                key: key.to_owned(),
                message,
            });
        };
        match &self.screen {
            Screen::Home { .. } => {
                ring.push(FocusTarget::Input(super::ids::CODE_INPUT));
                let mut push = |key: &str, message: Message| {
                    ring.push(FocusTarget::Button {
                        key: key.to_owned(),
                        message,
                    });
                };
                push("home-submit", Message::SubmitCode);
                match &self.auth {
                    HelperAuth::Dev(_) => push("home-help-someone", Message::HelpSomeone),
                    HelperAuth::SignedIn { .. } => {
                        push("home-help-someone", Message::HelpSomeone);
                        push("sign-in-sign-out", Message::SignOut);
                    }
                    HelperAuth::SignedOut { .. } => {
                        push("home-help-someone", Message::HelpSomeone);
                        push("sign-in-with-code", Message::SignIn { device: true });
                    }
                    HelperAuth::ChoosingProvider { providers, .. } => {
                        for name in providers {
                            push(
                                &format!("sign-in-with-provider:{name}"),
                                Message::SignInWith {
                                    provider: name.clone(),
                                },
                            );
                        }
                        push("sign-in-cancel", Message::CancelSignIn);
                    }
                    HelperAuth::SigningIn { device, prompt, .. } => {
                        match prompt {
                            Some(super::SignInPrompt::Browser { .. }) => {
                                push("sign-in-open-again", Message::OpenSignInAgain);
                                push("sign-in-copy-address", Message::CopySignInAddress);
                            }
                            Some(super::SignInPrompt::Device(_)) => {
                                push("sign-in-copy-address", Message::CopySignInAddress);
                            }
                            None => {}
                        }
                        push("sign-in-cancel", Message::CancelSignIn);
                        if !device {
                            push("sign-in-with-code", Message::SignIn { device: true });
                        }
                    }
                }
            }
            Screen::HelperCode { code, .. } => {
                if code.is_some() {
                    push("helper-copy", Message::CopyCode);
                }
                push("helper-cancel", Message::CancelHelper);
            }
            Screen::SharerJoining => {}
            Screen::SharerConsent { .. } => {
                push("consent-allow", Message::Allow);
                push("consent-cancel", Message::Cancel);
            }
            Screen::Sharing {
                control,
                clipboard,
                paused_by,
                ..
            } => {
                let (control, clipboard) = (*control, *clipboard);
                if clipboard == SharerControl::Asked && control != SharerControl::Asked {
                    push("control-allow", Message::GrantClipboard);
                    push("control-decline", Message::DeclineClipboard);
                } else if let (false, Some(row)) = (
                    control == SharerControl::Asked || clipboard == SharerControl::Asked,
                    self.asking(),
                ) {
                    push("file-accept", Message::AcceptFile(row.id));
                    push("file-decline", Message::DeclineFile(row.id));
                } else if let (false, Some(row)) = (
                    control == SharerControl::Asked || clipboard == SharerControl::Asked,
                    self.choosing(),
                ) {
                    push("file-choose", Message::ChooseFileToSend);
                    push("file-decline", Message::DeclineFile(row.id));
                } else if control == SharerControl::Asked {
                    push("control-allow", Message::GrantControl);
                    push("control-decline", Message::DeclineControl);
                } else {
                    // The clipboard's line comes above the buttons' row.
                    if clipboard == SharerControl::Helper {
                        push("sharing-stop-clipboard", Message::RevokeClipboard);
                    }
                    match paused_by {
                        Some(_) => push("sharing-resume", Message::Resume),
                        None => push("sharing-pause", Message::Pause),
                    }
                    push("sharing-chat", Message::ToggleChat);
                    if control == SharerControl::Helper {
                        push("sharing-take-back", Message::RevokeControl);
                    }
                    push("sharing-end", Message::End);
                    if self.unread_chat_line().is_some() {
                        push("sharing-chat-reply", Message::ToggleChat);
                    }
                }
                if self.chat_open {
                    self.push_chat_stops(&mut ring);
                }
            }
            Screen::Viewer(v) => {
                let wide = self.window_width >= style::WIDE_TOOLBAR;
                let (end, items): (Vec<ToolbarItem>, Vec<ToolbarItem>) = self
                    .toolbar_items(v)
                    .into_iter()
                    .partition(|item| item.kind == super::ItemKind::Danger);
                let (kept, overflow): (Vec<_>, Vec<_>) =
                    items.into_iter().partition(|item| wide || !item.overflow);
                for item in kept {
                    if let Some(message) = item.on_press {
                        push(item.key, message);
                    }
                }
                if !wide {
                    push("viewer-more", Message::ToggleMore);
                }
                for item in end {
                    if let Some(message) = item.on_press {
                        push(item.key, message);
                    }
                }
                // The open menu's entries follow its button's row.
                if !wide && v.more_open {
                    for item in overflow {
                        if let Some(message) = item.on_press {
                            push(item.key, Message::MenuChoice(Box::new(message)));
                        }
                    }
                }
                if self.chat_open {
                    self.push_chat_stops(&mut ring);
                }
            }
        }
        ring
    }

    fn push_chat_stops(&self, ring: &mut Vec<FocusTarget>) {
        ring.push(FocusTarget::Input(super::ids::CHAT_INPUT));
        ring.push(FocusTarget::Button {
            key: "chat-send".into(),
            message: Message::SendChat,
        });
    }

    /// Tab (`forward`) or Shift+Tab: the next stop, around the end.
    pub(super) fn move_focus(&mut self, forward: bool) -> Task<Message> {
        let ring = self.focus_ring();
        if ring.is_empty() {
            self.focus = None;
            return Task::none();
        }
        let n = ring.len();
        let next = match self.focus {
            None if forward => 0,
            None => n - 1,
            Some(i) if forward => (i + 1) % n,
            Some(i) => (i + n - 1) % n,
        };
        self.focus = Some(next);
        match &ring[next] {
            FocusTarget::Input(id) => iced::widget::operation::focus(*id),
            // Typing must not go on into a text box while a button has the focus.
            FocusTarget::Button { .. } => iced_runtime::task::effect(iced_runtime::Action::widget(
                iced::advanced::widget::operation::focusable::unfocus(),
            )),
        }
    }

    /// The key of the focused button, if a button has the focus.
    pub(super) fn focused_key(&self) -> Option<String> {
        // Nothing to work out for a person using the mouse.
        let index = self.focus?;
        match self.focus_ring().into_iter().nth(index)? {
            FocusTarget::Button { key, .. } => Some(key),
            FocusTarget::Input(_) => None,
        }
    }

    /// Enter or Space: what the focused button does.
    pub(super) fn focused_press(&self) -> Option<Message> {
        let index = self.focus?;
        match self.focus_ring().into_iter().nth(index)? {
            FocusTarget::Button { message, .. } => Some(message),
            FocusTarget::Input(_) => None,
        }
    }

    /// A button's style, with the focus ring when it is the focused one.
    pub(super) fn ring<'a>(
        &self,
        key: &str,
        base: fn(&Theme, button::Status) -> button::Style,
    ) -> impl Fn(&Theme, button::Status) -> button::Style + 'a {
        style::focusable(base, self.focused_key().is_some_and(|k| k == key))
    }
}
