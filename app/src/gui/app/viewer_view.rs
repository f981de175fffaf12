//! The helper's screen: the toolbar (one row when wide, "More" when narrow), the
//! connection's facts, and the sharer's picture with the pointer and the drawings.

use iced::widget::{
    button, column, container, image, mouse_area, pick_list, pin, responsive, row, scrollable,
    stack, text, Column,
};
use iced::{Alignment, Element, Length, Size};

use super::{centered, App, Choice, ControlState, Message, Tool, Viewer};
use crate::annotation::PenColour;
use crate::gui::engine::RemoteFrame;
use crate::gui::sketch::SketchLayer;
use crate::gui::style::{self, Icon};
use crate::input::view::ViewTransform;
use crate::input::PointerButton;
use crate::session::Role;

/// One entry of the helper's toolbar.
pub(super) struct ToolbarItem {
    /// Its words' key: what the keyboard's focus knows it by.
    pub(super) key: &'static str,
    pub(super) icon: Icon,
    pub(super) label: String,
    /// `None`: shown, not usable now.
    pub(super) on_press: Option<Message>,
    pub(super) kind: ItemKind,
    /// Goes into "More" in a narrow window, and is an icon alone in a wide one.
    pub(super) overflow: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ItemKind {
    Plain,
    /// The session's main action (asking for control).
    Main,
    /// The tool or state in use.
    Chosen,
    /// End.
    Danger,
}

impl ToolbarItem {
    /// The entry as a button with its icon and words (`wide`: filling a menu's width).
    fn button<'a>(self, in_menu: bool, focused: bool) -> Element<'a, Message> {
        let base: fn(&iced::Theme, button::Status) -> button::Style = match self.kind {
            ItemKind::Main | ItemKind::Chosen => button::primary,
            ItemKind::Danger => button::danger,
            ItemKind::Plain if in_menu => button::text,
            ItemKind::Plain => button::secondary,
        };
        let on_press = if in_menu {
            self.on_press.map(|m| Message::MenuChoice(Box::new(m)))
        } else {
            self.on_press
        };
        let b = style::action(self.icon, self.label)
            .style(style::focusable(base, focused))
            .on_press_maybe(on_press);
        if in_menu {
            b.width(Length::Fill).into()
        } else {
            b.into()
        }
    }
}

fn colour_key(colour: PenColour) -> &'static str {
    match colour {
        PenColour::Red => "viewer-colour-red",
        PenColour::Yellow => "viewer-colour-yellow",
        PenColour::Blue => "viewer-colour-blue",
        PenColour::Green => "viewer-colour-green",
    }
}

impl App {
    pub(super) fn viewer<'a>(&'a self, v: &'a Viewer) -> Element<'a, Message> {
        responsive(move |size| self.viewer_sized(v, size.width >= style::WIDE_TOOLBAR)).into()
    }

    /// The toolbar's entries but the monitor choice and the pen's colour, in the order
    /// they show; `ToolbarItem::overflow` ones go into "More" in a narrow window.
    pub(super) fn toolbar_items(&self, v: &Viewer) -> Vec<ToolbarItem> {
        let t = &self.t;
        let live = v.consented && v.paused_by.is_none();
        let item = |icon, key: &'static str, on_press: Option<Message>| ToolbarItem {
            key,
            icon,
            label: t.get(key),
            on_press,
            kind: ItemKind::Plain,
            overflow: true,
        };
        let (fit_icon, fit_key) = if v.fit {
            (Icon::ActualSize, "viewer-actual-size")
        } else {
            (Icon::Fit, "viewer-fit")
        };
        let control = match v.control {
            Some(ControlState::Granted) => ToolbarItem {
                kind: ItemKind::Chosen,
                ..item(
                    Icon::Control,
                    "viewer-release-control",
                    Some(Message::ReleaseControl),
                )
            },
            Some(ControlState::Requested) => item(Icon::Waiting, "viewer-control-pending", None),
            Some(ControlState::None) | None => ToolbarItem {
                kind: ItemKind::Main,
                ..item(
                    Icon::Control,
                    "viewer-request-control",
                    v.consented.then_some(Message::RequestControl),
                )
            },
        };
        let clipboard = match v.clipboard {
            Some(ControlState::Granted) => item(
                Icon::ClipboardOff,
                "viewer-stop-clipboard",
                Some(Message::ReleaseClipboard),
            ),
            Some(ControlState::Requested) => item(Icon::Waiting, "viewer-clipboard-pending", None),
            Some(ControlState::None) | None => item(
                Icon::Clipboard,
                "viewer-share-clipboard",
                v.consented.then_some(Message::RequestClipboard),
            ),
        };
        let tool = |tool: Tool, icon, key: &'static str| ToolbarItem {
            kind: if v.tool == tool {
                ItemKind::Chosen
            } else {
                ItemKind::Plain
            },
            ..item(icon, key, live.then_some(Message::SelectTool(tool)))
        };
        let pause = match v.paused_by {
            Some(Role::Helper) => item(Icon::Resume, "viewer-resume", Some(Message::Resume)),
            // The sharer's pause is theirs to lift.
            Some(Role::Sharer) => item(Icon::Pause, "viewer-pause", None),
            None => item(
                Icon::Pause,
                "viewer-pause",
                v.consented.then_some(Message::Pause),
            ),
        };
        let chat = ToolbarItem {
            label: if self.chat_unread {
                format!("{} •", t.get("viewer-chat"))
            } else {
                t.get("viewer-chat")
            },
            ..item(Icon::Chat, "viewer-chat", Some(Message::ToggleChat))
        };
        let files = self.files_allowed();
        vec![
            item(fit_icon, fit_key, Some(Message::ToggleFit)),
            ToolbarItem {
                overflow: false,
                ..control
            },
            clipboard,
            item(
                Icon::SendFile,
                "viewer-send-file",
                files.then_some(Message::ChooseFileToSend),
            ),
            item(
                Icon::AskFile,
                "viewer-ask-file",
                files.then_some(Message::AskForFile),
            ),
            tool(Tool::Pen, Icon::Pen, "viewer-pen"),
            tool(Tool::Laser, Icon::Laser, "viewer-laser"),
            item(
                Icon::Clear,
                "viewer-clear",
                (!v.sketch.is_empty()).then_some(Message::ClearAnnotations),
            ),
            ToolbarItem {
                overflow: false,
                ..pause
            },
            ToolbarItem {
                overflow: false,
                ..chat
            },
            ToolbarItem {
                kind: ItemKind::Danger,
                overflow: false,
                ..item(Icon::End, "viewer-end", Some(Message::End))
            },
        ]
    }

    /// The line under the toolbar's connection facts: path, round trip, frames/s.
    pub(super) fn viewer_info(&self, v: &Viewer) -> String {
        let t = &self.t;
        match (&v.path, v.rtt_ms, v.fps) {
            (Some(path), rtt, fps) => {
                let kind = if path.kind == "relayed" {
                    t.get("viewer-path-relayed")
                } else {
                    t.get("viewer-path-direct")
                };
                let mut stats = t.with(
                    "viewer-stats",
                    &[
                        ("path", &kind),
                        ("rtt", &rtt.map_or("–".into(), |r| format!("{r:.0}"))),
                        ("fps", &fps.map_or("–".into(), |f| format!("{f:.0}"))),
                    ],
                );
                if let Some(capture) = &v.capture {
                    // The sharer's words: shown safe and short.
                    let method: String = crate::peer_text::for_terminal(&capture.method)
                        .chars()
                        .take(24)
                        .collect();
                    stats = format!(
                        "{stats} · {}",
                        t.with("viewer-capture", &[("method", &method)])
                    );
                }
                // Say why the picture is soft: busy motion is coded smaller for a moment.
                match &v.shown {
                    Some((frame, _)) if frame.picture_width < frame.width => {
                        format!("{stats} · {}", t.get("viewer-reduced"))
                    }
                    _ => stats,
                }
            }
            _ => String::new(),
        }
    }

    /// The helper's toolbar in one row: in a wide window every entry (the less used as
    /// icons with a tooltip), in a narrow one the main entries and "More"; and the "More"
    /// menu when it is open.
    pub(super) fn viewer_toolbar<'a>(
        &'a self,
        v: &'a Viewer,
        wide: bool,
    ) -> (Element<'a, Message>, Option<Element<'a, Message>>) {
        let t = &self.t;
        let choices: Vec<Choice<u32>> = v
            .monitors
            .iter()
            .enumerate()
            .map(|(index, m)| Choice {
                value: m.id,
                label: t.with(
                    "viewer-monitor-item",
                    &[
                        ("index", &(index + 1).to_string()),
                        ("name", &m.name),
                        ("width", &m.width.to_string()),
                        ("height", &m.height.to_string()),
                    ],
                ),
            })
            .collect();
        let selected = choices
            .iter()
            .find(|c| c.value == v.current_monitor)
            .cloned();
        let monitor = row![
            style::icon(Icon::Monitor),
            // Fixed widths keep every entry where it was when labels change.
            pick_list(choices, selected, Message::SelectMonitor)
                .width(190)
                .text_size(style::BODY),
        ]
        .spacing(6)
        .align_y(Alignment::Center);
        let colours: Vec<Choice<PenColour>> = PenColour::ALL
            .iter()
            .map(|&colour| Choice {
                value: colour,
                label: t.get(colour_key(colour)),
            })
            .collect();
        let colour = colours.iter().find(|c| c.value == v.colour).cloned();
        let colour_list = move |width: f32| {
            pick_list(colours.clone(), colour.clone(), Message::SelectColour)
                .width(width)
                .text_size(style::BODY)
        };
        let info = self.viewer_info(v);
        let focused = self.focused_key();
        let (end, items): (Vec<_>, Vec<_>) = self
            .toolbar_items(v)
            .into_iter()
            .partition(|item| item.kind == ItemKind::Danger);
        let mut bar = row![monitor].spacing(style::GAP).align_y(Alignment::Center);
        let mut menu = None;
        if wide {
            for item in items {
                let after_pen = item.icon == Icon::Pen;
                bar = bar.push(if item.overflow {
                    style::icon_action(
                        item.icon,
                        item.label,
                        item.on_press,
                        item.kind == ItemKind::Chosen,
                        focused.as_deref() == Some(item.key),
                    )
                } else {
                    let focused = focused.as_deref() == Some(item.key);
                    item.button(false, focused)
                });
                if after_pen {
                    bar = bar.push(colour_list(96.0));
                }
            }
            // The facts go between the actions and End, which stays at the far right.
            bar = bar.push(
                text(info)
                    .size(style::SMALL)
                    .width(Length::Fill)
                    .align_x(iced::alignment::Horizontal::Right),
            );
        } else {
            let (kept, overflow): (Vec<_>, Vec<_>) =
                items.into_iter().partition(|item| !item.overflow);
            for item in kept {
                let focused = focused.as_deref() == Some(item.key);
                bar = bar.push(item.button(false, focused));
            }
            let more = style::action(Icon::More, t.get("viewer-more"))
                .style(self.ring(
                    "viewer-more",
                    if v.more_open {
                        button::primary
                    } else {
                        button::secondary
                    },
                ))
                .on_press(Message::ToggleMore);
            bar = bar.push(more).push(iced::widget::space::horizontal());
            if v.more_open {
                let mut entries = Column::new().spacing(4).width(260);
                for item in overflow {
                    let pen = item.icon == Icon::Pen;
                    let focused = focused.as_deref() == Some(item.key);
                    entries = entries.push(item.button(true, focused));
                    if pen {
                        entries = entries.push(
                            row![
                                text(t.get("viewer-colour")).size(style::BODY),
                                colour_list(140.0)
                            ]
                            .spacing(style::GAP)
                            .align_y(Alignment::Center)
                            .padding([0, 12]),
                        );
                    }
                }
                menu = Some(
                    container(container(entries).padding(6).style(style::panel))
                        .align_right(Length::Fill)
                        .padding([4, 8])
                        .into(),
                );
            }
        }
        for item in end {
            let focused = focused.as_deref() == Some(item.key);
            bar = bar.push(item.button(false, focused));
        }
        let toolbar = container(bar.padding([6, 10]))
            .width(Length::Fill)
            .style(style::toolbar)
            .into();
        (toolbar, menu)
    }

    pub(super) fn viewer_sized<'a>(&'a self, v: &'a Viewer, wide: bool) -> Element<'a, Message> {
        let t = &self.t;
        let (toolbar, menu) = self.viewer_toolbar(v, wide);
        // A narrow toolbar has no room for the connection's facts: a line at the bottom.
        let status = (!wide)
            .then(|| self.viewer_info(v))
            .filter(|info| !info.is_empty())
            .map(|info| container(text(info).size(style::SMALL)).padding([2, 10]));
        let mut body = column![toolbar];
        if let Some(notice) = &v.notice {
            body = body.push(container(text(notice)).padding([2, 8]));
        }
        if !self.files.is_empty() {
            body = body.push(self.file_rows(4));
        }
        let screen: Element<'a, Message> = if let Some((frame, _)) = &v.shown {
            self.remote_screen(v, frame)
        } else {
            let waiting = if v.consented {
                t.get("viewer-waiting-picture")
            } else if let Some(name) = &self.peer_name {
                t.with("helper-waiting-consent", &[("name", name)])
            } else {
                t.get("helper-waiting-consent-anonymous")
            };
            centered(text(waiting).size(20))
        };
        let screen = if self.chat_open {
            row![screen, self.chat_panel()].into()
        } else {
            screen
        };
        // The "More" menu opens over the picture, under its button.
        let screen = match menu {
            Some(menu) => stack![screen, menu].into(),
            None => screen,
        };
        let mut body = body.push(screen);
        if let Some(by) = v.paused_by {
            let key = if by == Role::Helper {
                "viewer-paused-by-you"
            } else {
                "viewer-paused"
            };
            body = body.push(container(text(t.get(key))).padding(6));
        }
        body.push(status).into()
    }

    /// The sharer's screen, with the pointer drawn on top, taking mouse input.
    pub(super) fn remote_screen<'a>(
        &'a self,
        v: &'a Viewer,
        frame: &'a RemoteFrame,
    ) -> Element<'a, Message> {
        let fit = v.fit;
        let sketch = &v.sketch;
        let cursor = v.cursor;
        let cursor_picture = v.cursor_picture.as_ref();
        let (width, height) = (frame.width, frame.height);
        let picture = frame.handle.clone();
        let area = move |size: Size| -> Element<'a, Message> {
            let transform = if fit {
                ViewTransform::fit(width, height, f64::from(size.width), f64::from(size.height))
            } else {
                Some(ViewTransform::identity(width, height))
            };
            let mut layers = stack![image(picture.clone())
                .width(Length::Fill)
                .height(Length::Fill)
                // At 1:1 the area is exactly the screen's size: a picture coded smaller
                // (busy motion on a thin path) is stretched to it.
                .content_fit(if fit {
                    iced::ContentFit::Contain
                } else {
                    iced::ContentFit::Fill
                })];
            if let Some(transform) = transform {
                layers = layers.push(
                    iced::widget::canvas(SketchLayer {
                        sketch,
                        transform,
                        shaped: false,
                    })
                    .width(Length::Fill)
                    .height(Length::Fill),
                );
            }
            if let (Some((x, y)), Some((pic, handle)), Some(transform)) =
                (cursor, cursor_picture, transform)
            {
                let (vx, vy) = transform.to_view(
                    f64::from(x) - f64::from(pic.hot_x),
                    f64::from(y) - f64::from(pic.hot_y),
                );
                let scale = transform.scale() as f32;
                layers = layers.push(
                    pin(image(handle.clone())
                        .width(pic.width as f32 * scale)
                        .height(pic.height as f32 * scale))
                    .x(vx as f32)
                    .y(vy as f32),
                );
            }
            mouse_area(layers)
                .on_move(move |p| Message::PointerMoved(p, size))
                .on_press(Message::PointerButton(PointerButton::Left, true))
                .on_release(Message::PointerButton(PointerButton::Left, false))
                .on_right_press(Message::PointerButton(PointerButton::Right, true))
                .on_right_release(Message::PointerButton(PointerButton::Right, false))
                .on_middle_press(Message::PointerButton(PointerButton::Middle, true))
                .on_middle_release(Message::PointerButton(PointerButton::Middle, false))
                .on_scroll(Message::Wheel)
                .on_exit(Message::PointerLeft)
                .into()
        };
        if fit {
            responsive(area).into()
        } else {
            let size = Size::new(width as f32, height as f32);
            scrollable(
                container(area(size))
                    .width(width as f32)
                    .height(height as f32),
            )
            .direction(scrollable::Direction::Both {
                vertical: scrollable::Scrollbar::default(),
                horizontal: scrollable::Scrollbar::default(),
            })
            .width(Length::Fill)
            .height(Length::Fill)
            .into()
        }
    }
}
