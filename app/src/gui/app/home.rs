//! The first screens: home (get help, give help and signing in) and the helper's code.

use std::time::Instant;

use iced::widget::{button, column, container, row, text, text_input, Column};
use iced::{Alignment, Element, Length};

use super::{centered, heading, ids, App, Message};
use crate::gui::sign_in::{HelperAuth, SignInPrompt};
use crate::gui::style::{self, Icon};
use crate::session::CodeRetiredReason;

impl App {
    pub(super) fn home<'a>(
        &'a self,
        code: &'a str,
        error: Option<&'a str>,
        notice: Option<&'a str>,
    ) -> Element<'a, Message> {
        let t = &self.t;
        let mut get_help = column![
            heading(Icon::GetHelp, t.get("home-get-help-title")),
            text(t.get("home-get-help-body")).size(style::BODY),
            text(t.get("home-code-label")).size(style::SMALL),
            text_input(&t.get("home-code-placeholder"), code)
                .id(ids::CODE_INPUT)
                .on_input(Message::CodeChanged)
                .on_submit(Message::SubmitCode)
                .font(iced::Font::MONOSPACE)
                .size(24)
                .padding(10),
            style::action(Icon::Check, t.get("home-submit"))
                .style(self.ring("home-submit", button::primary))
                .on_press(Message::SubmitCode),
        ]
        .spacing(10);
        if let Some(error) = error {
            get_help = get_help.push(
                row![
                    style::icon(Icon::Alert).style(text::danger),
                    text(error).size(style::BODY).style(text::danger)
                ]
                .spacing(6),
            );
        }
        let help_someone = self.help_someone_section();
        let section = |content: Column<'a, Message>| {
            container(content.width(360))
                .padding(20)
                .height(Length::Fixed(330.0))
                .style(style::card)
        };
        let mut page = column![].spacing(style::GAP_LARGE).padding(30);
        if let Some(notice) = notice {
            page = page.push(text(notice).size(style::HEADING));
        }
        centered(page.push(row![section(get_help), section(help_someone)].spacing(24)))
    }

    /// "Help someone", with the sign-in it needs: the button, who is signed in, or the
    /// step the sign-in waits for (the browser, or a code to enter elsewhere).
    pub(super) fn help_someone_section(&self) -> Column<'_, Message> {
        let t = &self.t;
        let title = column![
            heading(Icon::HelpSomeone, t.get("home-help-someone-title")),
            text(t.get("home-help-someone-body")).size(style::BODY),
        ]
        .spacing(10);
        let help_button = |enabled: bool| {
            style::action(Icon::HelpSomeone, t.get("home-help-someone"))
                .style(self.ring("home-help-someone", button::primary))
                .on_press_maybe(enabled.then_some(Message::HelpSomeone))
        };
        match &self.auth {
            HelperAuth::Dev(name) => column![
                title,
                help_button(true),
                text(t.with("home-signed-in-as-dev", &[("name", name)])).size(14),
            ]
            .spacing(10),
            HelperAuth::SignedIn { session, .. } => {
                let who = match &session.email {
                    Some(email) => format!("{} ({email})", session.display_name),
                    None => session.display_name.clone(),
                };
                column![
                    title,
                    help_button(true),
                    row![
                        text(t.with("home-signed-in-as", &[("name", &who)])).size(14),
                        button(text(t.get("sign-in-sign-out")).size(14))
                            .style(self.ring("sign-in-sign-out", button::text))
                            .on_press(Message::SignOut),
                    ]
                    .spacing(8)
                    .align_y(Alignment::Center),
                ]
                .spacing(10)
            }
            HelperAuth::SignedOut { error } => {
                let mut section = column![
                    title,
                    help_button(true),
                    text(t.get("home-sign-in-needed")).size(14),
                    button(text(t.get("sign-in-with-code")).size(14))
                        .style(self.ring("sign-in-with-code", button::text))
                        .on_press(Message::SignIn { device: true }),
                ]
                .spacing(10);
                if let Some(error) = error {
                    section = section.push(text(error).style(text::danger));
                }
                section
            }
            HelperAuth::ChoosingProvider { providers, .. } => {
                let mut section = column![title, text(t.get("sign-in-choose"))].spacing(10);
                for name in providers {
                    section =
                        section.push(
                            button(text(t.with("sign-in-with-provider", &[("provider", name)])))
                                .style(self.ring(
                                    &format!("sign-in-with-provider:{name}"),
                                    button::primary,
                                ))
                                .on_press(Message::SignInWith {
                                    provider: name.clone(),
                                }),
                        );
                }
                section.push(
                    button(text(t.get("sign-in-cancel")))
                        .style(self.ring("sign-in-cancel", button::secondary))
                        .on_press(Message::CancelSignIn),
                )
            }
            HelperAuth::SigningIn { device, prompt, .. } => {
                let mut section = column![title].spacing(10);
                section = match prompt {
                    None => section.push(text(t.get("sign-in-starting"))),
                    // The address itself is too long to read: it is opened or copied.
                    Some(SignInPrompt::Browser { .. }) => {
                        section.push(text(t.get("sign-in-browser-waiting"))).push(
                            row![
                                button(text(t.get("sign-in-open-again")).size(14))
                                    .style(self.ring("sign-in-open-again", button::text))
                                    .on_press(Message::OpenSignInAgain),
                                button(text(t.get("sign-in-copy-address")).size(14))
                                    .style(self.ring("sign-in-copy-address", button::text))
                                    .on_press(Message::CopySignInAddress),
                            ]
                            .spacing(8),
                        )
                    }
                    Some(SignInPrompt::Device(code)) => section
                        .push(text(t.with(
                            "sign-in-device-open",
                            &[("address", &code.verification_uri)],
                        )))
                        .push(text(&code.user_code).size(32))
                        .push(
                            button(text(t.get("sign-in-copy-address")).size(14))
                                .style(self.ring("sign-in-copy-address", button::text))
                                .on_press(Message::CopySignInAddress),
                        ),
                };
                let mut actions = row![button(text(t.get("sign-in-cancel")))
                    .style(self.ring("sign-in-cancel", button::secondary))
                    .on_press(Message::CancelSignIn)]
                .spacing(10);
                if !device {
                    actions = actions.push(
                        button(text(t.get("sign-in-with-code")))
                            .style(self.ring("sign-in-with-code", button::text))
                            .on_press(Message::SignIn { device: true }),
                    );
                }
                section.push(actions)
            }
        }
    }

    pub(super) fn helper_code<'a>(
        &'a self,
        code: Option<&'a str>,
        expires_at: Option<Instant>,
        joined: bool,
        copied: bool,
        replaced: Option<CodeRetiredReason>,
    ) -> Element<'a, Message> {
        let t = &self.t;
        let replaced = replaced.map(|reason| {
            text(t.get(match reason {
                CodeRetiredReason::WrongCode => "helper-code-replaced-wrong",
                CodeRetiredReason::Abandoned => "helper-code-replaced-abandoned",
            }))
            .style(text::warning)
        });
        let Some(code) = code else {
            return centered(
                column![
                    text(t.get("helper-getting-code")).size(20),
                    button(text(t.get("helper-cancel")))
                        .style(self.ring("helper-cancel", button::primary))
                        .on_press(Message::CancelHelper),
                ]
                .spacing(20)
                .align_x(Alignment::Center),
            );
        };
        let remaining = expires_at.map(|at| at.saturating_duration_since(self.now));
        let expiry = match remaining {
            Some(r) if r.is_zero() => t.get("helper-code-expired"),
            Some(r) => {
                let secs = r.as_secs();
                t.with(
                    "helper-code-expires",
                    &[
                        ("minutes", &(secs / 60).to_string()),
                        ("seconds", &format!("{:02}", secs % 60)),
                    ],
                )
            }
            None => String::new(),
        };
        let status = if joined {
            t.get("helper-joined")
        } else {
            t.get("helper-waiting")
        };
        let copy_label = if copied {
            t.get("helper-copied")
        } else {
            t.get("helper-copy")
        };
        let copy_icon = if copied { Icon::Check } else { Icon::Copy };
        centered(
            container(
                column![heading(Icon::HelpSomeone, t.get("helper-code-title"))]
                    .push(replaced)
                    .push(
                        column![
                            text(code).size(64).font(iced::Font::MONOSPACE),
                            text(expiry).size(style::BODY),
                            row![
                                style::action(copy_icon, copy_label)
                                    .style(self.ring("helper-copy", button::primary))
                                    .on_press(Message::CopyCode),
                                style::action(Icon::Close, t.get("helper-cancel"))
                                    .style(self.ring("helper-cancel", button::secondary))
                                    .on_press(Message::CancelHelper),
                            ]
                            .spacing(10),
                            text(status).size(style::BODY),
                        ]
                        .spacing(style::GAP_LARGE)
                        .align_x(Alignment::Center),
                    )
                    .spacing(style::GAP_LARGE)
                    .align_x(Alignment::Center),
            )
            .padding(28)
            .style(style::card),
        )
    }
}
