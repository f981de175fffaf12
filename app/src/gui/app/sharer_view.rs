//! The sharer's screens: the consent dialog, the bar while sharing with its questions,
//! and the chat panel both sides use.

use iced::widget::{button, column, container, row, scrollable, text, text_input, Column};
use iced::{Alignment, Element, Length};

use super::{
    centered, files, heading, ids, App, ChatLine, Message, SharerControl, CHAT_NOTICE_HEIGHT,
};
use crate::gui::style::{self, Icon};
use crate::session::Role;

impl App {
    pub(super) fn consent<'a>(
        &'a self,
        helper_name: &'a str,
        affiliation: Option<&'a str>,
    ) -> Element<'a, Message> {
        let t = &self.t;
        // Who vouches for the name, beside it: the organisation the rendezvous verified,
        // or a plain warning that nobody did.
        let vouched = match affiliation {
            Some(org) => row![
                style::icon(Icon::Verified).style(text::success),
                text(t.with(
                    "consent-verified",
                    &[("name", helper_name), ("organisation", org)],
                ))
                .style(text::success)
            ],
            None => row![
                style::icon(Icon::Unverified).style(text::warning),
                text(t.with("consent-unverified", &[("name", helper_name)])).style(text::warning)
            ],
        }
        .spacing(8)
        .align_y(Alignment::Center);
        centered(
            container(
                column![
                    heading(
                        Icon::Sharing,
                        t.with("consent-title", &[("name", helper_name)])
                    ),
                    vouched,
                    text(t.with("consent-body", &[("name", helper_name)])).size(style::BODY),
                    row![
                        style::action(Icon::Check, t.get("consent-allow"))
                            .style(self.ring("consent-allow", button::primary))
                            .on_press(Message::Allow),
                        style::action(Icon::Close, t.get("consent-cancel"))
                            .style(self.ring("consent-cancel", button::secondary))
                            .on_press(Message::Cancel),
                    ]
                    .spacing(12),
                ]
                .spacing(style::GAP_LARGE)
                .max_width(540),
            )
            .padding(24)
            .style(style::card),
        )
    }

    /// A question in the bar (control, the clipboard): what is asked, Allow and Decline.
    fn bar_question<'a>(
        &'a self,
        helper_name: &'a str,
        (title, body): (&str, &str),
        allow: Message,
        decline: Message,
    ) -> Element<'a, Message> {
        let t = &self.t;
        centered(
            column![
                text(t.with(title, &[("name", helper_name)])).size(20),
                text(t.with(body, &[("name", helper_name)])).size(14),
                row![
                    style::action(Icon::Check, t.get("control-allow"))
                        .style(self.ring("control-allow", button::primary))
                        .on_press(allow),
                    style::action(Icon::Close, t.get("control-decline"))
                        .style(self.ring("control-decline", button::secondary))
                        .on_press(decline),
                ]
                .spacing(12),
            ]
            .spacing(8)
            .padding(10),
        )
    }

    pub(super) fn sharing<'a>(
        &'a self,
        helper_name: &'a str,
        control: SharerControl,
        clipboard: SharerControl,
        paused_by: Option<Role>,
        secure_desktop: bool,
        reconnecting: bool,
    ) -> Element<'a, Message> {
        let t = &self.t;
        if clipboard == SharerControl::Asked && control != SharerControl::Asked {
            return self.bar_question(
                helper_name,
                ("clipboard-request-title", "clipboard-request-body"),
                Message::GrantClipboard,
                Message::DeclineClipboard,
            );
        }
        if control != SharerControl::Asked && clipboard != SharerControl::Asked {
            if let Some(row) = self.asking() {
                return centered(self.file_offer_dialog(helper_name, row));
            }
            if let Some(row) = self.choosing() {
                return centered(self.file_request_dialog(helper_name, row));
            }
        }
        if control == SharerControl::Asked {
            return self.bar_question(
                helper_name,
                ("control-request-title", "control-request-body"),
                Message::GrantControl,
                Message::DeclineControl,
            );
        }
        let who = match control {
            // What the person must do now comes first.
            _ if reconnecting => t.with("sharing-reconnecting", &[("name", helper_name)]),
            _ if secure_desktop => t.with("sharing-secure-desktop", &[("name", helper_name)]),
            SharerControl::Helper => t.with("sharing-control-helper", &[("name", helper_name)]),
            _ => t.get("sharing-control-you"),
        };
        // The band says at a glance what is happening, in the border's colour.
        let state = if paused_by.is_some() || reconnecting || secure_desktop {
            style::BarState::Quiet
        } else if control == SharerControl::Helper {
            style::BarState::Controlled
        } else {
            style::BarState::Shared
        };
        let band_icon = match state {
            _ if reconnecting => Icon::Reconnecting,
            _ if secure_desktop => Icon::Lock,
            _ if paused_by.is_some() => Icon::Pause,
            style::BarState::Controlled => Icon::Control,
            _ => Icon::Sharing,
        };
        let headline = match paused_by {
            Some(_) if !reconnecting && !secure_desktop => {
                format!(
                    "{} · {}",
                    t.with("sharing-with", &[("name", helper_name)]),
                    t.get("sharing-paused")
                )
            }
            _ => t.with("sharing-with", &[("name", helper_name)]),
        };
        let band = container(
            row![
                style::icon(band_icon).size(style::HEADING),
                column![
                    text(headline).size(style::HEADING),
                    text(who).size(style::SMALL),
                ]
                .spacing(2),
            ]
            .spacing(10)
            .align_y(Alignment::Center),
        )
        .padding([6, 10])
        .width(Length::Fill)
        .style(style::bar_band(state));
        let pause = match paused_by {
            // The person may lift the helper's pause too.
            Some(_) => style::action(Icon::Resume, t.get("sharing-resume"))
                .style(self.ring("sharing-resume", button::primary))
                .on_press(Message::Resume),
            None => style::action(Icon::Pause, t.get("sharing-pause"))
                .style(self.ring("sharing-pause", button::secondary))
                .on_press(Message::Pause),
        };
        let chat_label = if self.chat_unread {
            format!("{} •", t.get("sharing-chat"))
        } else {
            t.get("sharing-chat")
        };
        let mut buttons = row![
            pause,
            style::action(Icon::Chat, chat_label)
                .style(self.ring("sharing-chat", button::secondary))
                .on_press(Message::ToggleChat)
        ]
        .spacing(style::GAP);
        if control == SharerControl::Helper {
            buttons = buttons.push(
                style::action(Icon::TakeBack, t.get("sharing-take-back"))
                    .style(self.ring("sharing-take-back", button::primary))
                    .on_press(Message::RevokeControl),
            );
        }
        buttons = buttons.push(iced::widget::space::horizontal()).push(
            style::action(Icon::End, t.get("sharing-end"))
                .style(self.ring("sharing-end", button::danger))
                .on_press(Message::End),
        );
        let mut lines = column![band].spacing(style::GAP);
        // Shared clipboard: said, with its Stop beside it (the buttons' row is full).
        if clipboard == SharerControl::Helper {
            lines = lines.push(
                row![
                    style::icon(Icon::Clipboard).size(style::SMALL),
                    text(t.with("sharing-clipboard-shared", &[("name", helper_name)]))
                        .size(style::SMALL),
                    button(text(t.get("sharing-stop-clipboard")).size(style::SMALL))
                        .padding([2, 8])
                        .style(self.ring("sharing-stop-clipboard", button::secondary))
                        .on_press(Message::RevokeClipboard),
                ]
                .spacing(6)
                .align_y(Alignment::Center),
            );
        }
        lines = lines.push(buttons);
        // A message that came while the chat was closed shows in the bar itself.
        if let Some(line) = self.unread_chat_line() {
            lines = lines.push(
                container(
                    row![
                        style::icon(Icon::Chat),
                        text(format!("{helper_name}: {}", isolated(&line.text)))
                            .size(style::SMALL)
                            .width(Length::Fill)
                            .wrapping(text::Wrapping::WordOrGlyph),
                        button(text(t.get("sharing-chat-reply")).size(style::SMALL))
                            .padding([4, 10])
                            .style(self.ring("sharing-chat-reply", button::primary))
                            .on_press(Message::ToggleChat),
                    ]
                    .spacing(style::GAP)
                    .align_y(Alignment::Center),
                )
                .padding([4, 8])
                .center_y(CHAT_NOTICE_HEIGHT)
                .clip(true)
                .style(style::panel),
            );
        }
        if !self.files.is_empty() && !self.chat_open {
            lines = lines.push(self.file_rows(files::BAR_ROWS));
        }
        // Above an open chat, at the top; alone, in the middle of the bar.
        let bar = container(lines).padding(10);
        if self.chat_open {
            bar.into()
        } else {
            bar.center_y(Length::Fill).into()
        }
    }

    /// The helper's newest message while the chat is closed and unread.
    pub(super) fn unread_chat_line(&self) -> Option<&ChatLine> {
        if !self.chat_unread || self.chat_open {
            return None;
        }
        self.chat
            .iter()
            .rev()
            .find(|line| Some(line.from) != self.role)
    }

    pub(super) fn chat_panel(&self) -> Element<'_, Message> {
        let t = &self.t;
        let lines: Element<'_, Message> = if self.chat.is_empty() {
            text(t.get("chat-empty")).size(14).into()
        } else {
            Column::with_children(self.chat.iter().map(|line| {
                let who = if Some(line.from) == self.role {
                    t.get("chat-you")
                } else {
                    self.peer()
                };
                text(format!("{who}: {}", isolated(&line.text)))
                    .size(14)
                    .into()
            }))
            .spacing(4)
            .into()
        };
        let mut panel = column![
            text(t.get("chat-title")).size(18),
            scrollable(lines).height(Length::Fill),
            row![
                text_input(&t.get("chat-placeholder"), &self.chat_draft)
                    .id(ids::CHAT_INPUT)
                    .on_input(Message::ChatDraft)
                    .on_submit(Message::SendChat),
                button(text(t.get("chat-send")))
                    .style(self.ring("chat-send", button::primary))
                    .on_press(Message::SendChat),
            ]
            .spacing(6),
        ]
        .spacing(8);
        if self.role == Some(Role::Helper) {
            // For a password box or a terminal that refuses a paste.
            panel = panel.push(
                button(text(t.get("chat-type-as-keys")))
                    .style(button::secondary)
                    .on_press_maybe(
                        (self.controls_screen() && !self.chat_draft.is_empty())
                            .then_some(Message::TypeDraft),
                    ),
            );
        }
        container(panel)
            .width(280)
            .height(Length::Fill)
            .padding(8)
            .into()
    }
}

/// The other side's words, isolated (U+2068 … U+2069): a direction override or an
/// unclosed right-to-left run in a message cannot turn around the words shown after it,
/// nor reach back into the name before it.
fn isolated(message: &str) -> String {
    format!("\u{2068}{message}\u{2069}")
}
