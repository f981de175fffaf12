//! The files part of the window: the helper's "Send file…" / "Ask for a file" and files
//! dropped on the picture; the sharer's questions (take this file? which file to give?);
//! both sides' transfers with a progress bar, speed, time left, and Cancel.

use std::path::PathBuf;

use iced::widget::{button, column, container, progress_bar, row, text, Column};
use iced::{Alignment, Element, Length, Task};

use super::{App, Message, Screen};
use crate::file::{runs_as_program, FileRefusal};
use crate::session::{Command, Event, FileDirection};
use crate::units::human_size;

/// Transfers listed at once; finished ones make room first.
const KEPT_ROWS: usize = 12;

/// Rows shown in the sharer's small bar (the newest).
pub(super) const BAR_ROWS: usize = 2;

/// Height of one transfer's row in the sharer's bar.
pub(super) const BAR_ROW_HEIGHT: f32 = 58.0;

#[derive(Debug, Clone, PartialEq)]
pub enum FileStage {
    /// Helper: offered; the sharer's person decides.
    Offered,
    /// Helper: the sharer's person was asked for a file.
    Requested,
    /// Sharer: the person is asked whether to take it.
    Asking,
    /// Sharer: the helper asks for a file; the person chooses one.
    Choosing,
    Moving {
        bytes: u64,
        bytes_per_sec: u64,
        secs_left: Option<u64>,
    },
    /// `path`: where it was saved (the receiving side).
    Done { path: Option<String> },
    /// Declined, cancelled or failed: why, in the person's words.
    Stopped { message: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileRow {
    pub id: u32,
    pub name: String,
    pub size: u64,
    pub direction: FileDirection,
    pub stage: FileStage,
}

impl FileRow {
    fn finished(&self) -> bool {
        matches!(
            self.stage,
            FileStage::Done { .. } | FileStage::Stopped { .. }
        )
    }
}

fn refusal_key(reason: FileRefusal) -> &'static str {
    match reason {
        FileRefusal::Declined => "file-refusal-declined",
        FileRefusal::TooLarge => "file-refusal-too-large",
        FileRefusal::TooMany => "file-refusal-too-many",
        FileRefusal::Busy => "file-refusal-busy",
        FileRefusal::BadName => "file-refusal-bad-name",
        FileRefusal::Paused => "file-refusal-paused",
        FileRefusal::Unavailable => "file-refusal-unavailable",
        FileRefusal::Corrupted => "file-refusal-corrupted",
        FileRefusal::Failed => "file-refusal-failed",
        FileRefusal::NotAsked => "file-refusal-not-asked",
        FileRefusal::TooSoon => "file-refusal-too-soon",
        FileRefusal::Stalled => "file-refusal-stalled",
    }
}

/// Asks the desktop's file chooser (the portal) for one file; `Ok(None)`: the person
/// closed it.
#[cfg(target_os = "linux")]
async fn pick_file(title: String) -> Result<Option<PathBuf>, String> {
    use ashpd::desktop::file_chooser::SelectedFiles;
    let request = SelectedFiles::open_file()
        .title(title.as_str())
        .modal(true)
        .multiple(false)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    match request.response() {
        Ok(files) => Ok(files.uris().first().and_then(|u| u.to_file_path().ok())),
        Err(ashpd::Error::Response(ashpd::desktop::ResponseError::Cancelled)) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Windows: the system's Open dialog.
#[cfg(windows)]
async fn pick_file(title: String) -> Result<Option<PathBuf>, String> {
    Ok(rfd::AsyncFileDialog::new()
        .set_title(title)
        .pick_file()
        .await
        .map(|file| file.path().to_path_buf()))
}

/// No chooser is wired on this platform yet: files are dropped on the window instead.
#[cfg(not(any(target_os = "linux", windows)))]
async fn pick_file(_title: String) -> Result<Option<PathBuf>, String> {
    Err("no file chooser".into())
}

impl App {
    fn row_mut(&mut self, id: u32) -> Option<&mut FileRow> {
        self.files.iter_mut().rev().find(|r| r.id == id && id != 0)
    }

    fn add_row(&mut self, row: FileRow) {
        if self.files.len() >= KEPT_ROWS {
            match self.files.iter().position(FileRow::finished) {
                Some(i) => {
                    self.files.remove(i);
                }
                None => return,
            }
        }
        self.files.push(row);
    }

    /// Upserts row `id` with `update`, or adds `new` when there is none.
    fn upsert(&mut self, id: u32, new: FileRow, update: impl FnOnce(&mut FileRow)) {
        match self.row_mut(id) {
            Some(row) => update(row),
            None => self.add_row(new),
        }
    }

    /// What the session said about files.
    pub(super) fn file_event(&mut self, event: Event) -> Task<Message> {
        let mut asks = false;
        match event {
            // A question for the person: the bar asks to be seen, as for control.
            Event::FileOffered { id, name, size, .. } => {
                self.add_row(FileRow {
                    id,
                    name,
                    size,
                    direction: FileDirection::Receiving,
                    stage: FileStage::Asking,
                });
                asks = true;
            }
            Event::FileRequested { id, .. } => {
                self.add_row(FileRow {
                    id,
                    name: String::new(),
                    size: 0,
                    direction: FileDirection::Sending,
                    stage: FileStage::Choosing,
                });
                asks = true;
            }
            // On the sharer this answers a request: that row goes on.
            Event::FileOfferSent { id, name, size } => {
                let new = FileRow {
                    id,
                    name: name.clone(),
                    size,
                    direction: FileDirection::Sending,
                    stage: FileStage::Offered,
                };
                self.upsert(id, new, |row| {
                    row.name = name;
                    row.size = size;
                    row.stage = FileStage::Offered;
                });
            }
            Event::FileRequestSent { id } => self.add_row(FileRow {
                id,
                name: String::new(),
                size: 0,
                direction: FileDirection::Receiving,
                stage: FileStage::Requested,
            }),
            Event::FileStarted {
                id,
                name,
                size,
                direction,
            } => {
                let moving = FileStage::Moving {
                    bytes: 0,
                    bytes_per_sec: 0,
                    secs_left: None,
                };
                let new = FileRow {
                    id,
                    name: name.clone(),
                    size,
                    direction,
                    stage: moving.clone(),
                };
                self.upsert(id, new, |row| {
                    row.name = name;
                    row.size = size;
                    row.stage = moving;
                });
            }
            Event::FileProgress {
                id,
                bytes,
                bytes_per_sec,
                secs_left,
                ..
            } => {
                if let Some(row) = self.row_mut(id) {
                    if matches!(row.stage, FileStage::Moving { .. }) {
                        row.stage = FileStage::Moving {
                            bytes,
                            bytes_per_sec,
                            secs_left,
                        };
                    }
                }
            }
            Event::FileDone { id, path, .. } => {
                if let Some(row) = self.row_mut(id) {
                    row.stage = FileStage::Done { path };
                }
            }
            Event::FileDeclined {
                id, name, reason, ..
            } => {
                let message = self.t.get(refusal_key(reason));
                match self.row_mut(id) {
                    Some(row) => row.stage = FileStage::Stopped { message },
                    // This side's own "no" (its row is gone already) needs no line; a file
                    // refused unasked (an unsafe name, too large) or a local error does.
                    None if reason == FileRefusal::Declined && id != 0 => {}
                    None => self.add_row(FileRow {
                        id,
                        name: name.unwrap_or_default(),
                        size: 0,
                        direction: FileDirection::Sending,
                        stage: FileStage::Stopped { message },
                    }),
                }
            }
            Event::FileCancelled { id, by } => {
                let message = if Some(by) == self.role {
                    self.t.get("file-cancelled-by-you")
                } else {
                    self.t
                        .with("file-cancelled-by-peer", &[("name", &self.peer())])
                };
                if let Some(row) = self.row_mut(id) {
                    row.stage = FileStage::Stopped { message };
                }
            }
            Event::FileFailed { id, reason, .. } => {
                let message = self.t.get(refusal_key(reason));
                if let Some(row) = self.row_mut(id) {
                    row.stage = FileStage::Stopped { message };
                }
            }
            _ => {}
        }
        if asks {
            return Task::batch([
                self.fit_bar(),
                self.call_attention(iced::window::UserAttention::Critical),
            ]);
        }
        self.fit_bar()
    }

    /// The person's file actions.
    pub(super) fn file_message(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::ChooseFileToSend => {
                let title = self.t.get("file-choose-title");
                return Task::perform(pick_file(title), Message::FileChosen);
            }
            Message::FileChosen(Ok(Some(path))) => self.send(Command::SendFile(path)),
            Message::FileChosen(Ok(None)) => {}
            Message::FileChosen(Err(e)) => {
                tracing::debug!("file chooser: {e}");
                let notice = self.t.get("file-no-chooser");
                match &mut self.screen {
                    Screen::Viewer(v) => v.notice = Some(notice),
                    _ => self.add_row(FileRow {
                        id: 0,
                        name: String::new(),
                        size: 0,
                        direction: FileDirection::Sending,
                        stage: FileStage::Stopped { message: notice },
                    }),
                }
            }
            // Dropped on the helper's picture: offered. On the sharer's bar: only as the
            // answer to the helper's request.
            Message::FileDropped(path) => match &self.screen {
                Screen::Viewer(v) if v.consented => self.send(Command::SendFile(path)),
                Screen::Sharing { .. } if self.choosing().is_some() => {
                    self.send(Command::SendFile(path))
                }
                _ => {}
            },
            Message::AskForFile => self.send(Command::RequestFile),
            // The question closes at once; the session's events tell the rest.
            Message::AcceptFile(id) => {
                // Only the offer still asked about (it may have been withdrawn meanwhile).
                let Some(row) = self.row_mut(id).filter(|r| r.stage == FileStage::Asking) else {
                    return Task::none();
                };
                row.stage = FileStage::Moving {
                    bytes: 0,
                    bytes_per_sec: 0,
                    secs_left: None,
                };
                self.send(Command::AcceptFile(id));
            }
            Message::DeclineFile(id) => {
                self.files.retain(|r| {
                    r.id != id || !matches!(r.stage, FileStage::Asking | FileStage::Choosing)
                });
                self.send(Command::DeclineFile(id));
                return self.fit_bar();
            }
            Message::CancelFile(id) => self.send(Command::CancelFile(id)),
            Message::DismissFile(id) => {
                if let Some(i) = self.files.iter().position(|r| r.id == id && r.finished()) {
                    self.files.remove(i);
                }
                return self.fit_bar();
            }
            Message::OpenReceiveFolder => {
                if let Some(dir) = &self.session.files.receive_dir {
                    open_folder(dir);
                }
            }
            _ => {}
        }
        Task::none()
    }

    /// Sharer: the helper's offer the person is asked about, oldest first.
    pub(super) fn asking(&self) -> Option<&FileRow> {
        self.files.iter().find(|r| r.stage == FileStage::Asking)
    }

    /// Sharer: the helper's request for a file, oldest first.
    pub(super) fn choosing(&self) -> Option<&FileRow> {
        self.files.iter().find(|r| r.stage == FileStage::Choosing)
    }

    /// The sharer's bar grows by the transfers it shows.
    pub(super) fn bar_rows(&self) -> usize {
        self.files.len().min(BAR_ROWS)
    }

    pub(super) fn fit_bar(&self) -> Task<Message> {
        match (&self.screen, self.window) {
            (Screen::Sharing { .. }, Some(id)) if !self.chat_open => {
                iced::window::resize(id, iced::Size::new(super::BAR_WIDTH, self.bar_height()))
            }
            _ => Task::none(),
        }
    }

    /// The sharer's bar's height for what it shows now.
    pub fn bar_height(&self) -> f32 {
        let chat_notice = if self.unread_chat_line().is_some() {
            super::CHAT_NOTICE_HEIGHT + crate::gui::style::GAP
        } else {
            0.0
        };
        // The shared clipboard's line, and the band's second line for a long explanation.
        let (clipboard, explained) = match &self.screen {
            Screen::Sharing {
                clipboard,
                reconnecting,
                secure_desktop,
                ..
            } => (
                *clipboard == super::SharerControl::Helper,
                *reconnecting || *secure_desktop,
            ),
            _ => (false, false),
        };
        super::BAR_HEIGHT
            + self.bar_rows() as f32 * BAR_ROW_HEIGHT
            + chat_notice
            + if clipboard { 32.0 } else { 0.0 }
            + if explained { 24.0 } else { 0.0 }
    }

    /// Sharer: "Anna R. wants to send you a file" (Accept / Decline).
    pub(super) fn file_offer_dialog<'a>(
        &'a self,
        helper_name: &'a str,
        row: &'a FileRow,
    ) -> Element<'a, Message> {
        let t = &self.t;
        column![
            text(t.with("file-offer-title", &[("name", helper_name)])).size(20),
            text(t.with(
                "file-offer-body",
                &[("file", &row.name), ("size", &human_size(row.size))],
            ))
            .size(14),
            text(if runs_as_program(&row.name) {
                t.with("file-offer-program", &[("name", helper_name)])
            } else {
                String::new()
            })
            .size(14)
            .style(text::danger),
            row![
                crate::gui::style::action(crate::gui::style::Icon::Check, t.get("file-accept"))
                    .style(self.ring("file-accept", button::primary))
                    .on_press(Message::AcceptFile(row.id)),
                crate::gui::style::action(crate::gui::style::Icon::Close, t.get("file-decline"))
                    .style(self.ring("file-decline", button::secondary))
                    .on_press(Message::DeclineFile(row.id)),
            ]
            .spacing(12),
        ]
        .spacing(8)
        .padding(10)
        .into()
    }

    /// Sharer: "Anna R. asks for a file" (Choose file… / Decline).
    pub(super) fn file_request_dialog<'a>(
        &'a self,
        helper_name: &'a str,
        row: &'a FileRow,
    ) -> Element<'a, Message> {
        let t = &self.t;
        column![
            text(t.with("file-request-title", &[("name", helper_name)])).size(20),
            text(t.get("file-request-body")).size(14),
            row![
                crate::gui::style::action(crate::gui::style::Icon::SendFile, t.get("file-choose"))
                    .style(self.ring("file-choose", button::primary))
                    .on_press(Message::ChooseFileToSend),
                crate::gui::style::action(crate::gui::style::Icon::Close, t.get("file-decline"))
                    .style(self.ring("file-decline", button::secondary))
                    .on_press(Message::DeclineFile(row.id)),
            ]
            .spacing(12),
        ]
        .spacing(8)
        .padding(10)
        .into()
    }

    /// The transfers, newest last (`at_most` of them).
    pub(super) fn file_rows(&self, at_most: usize) -> Element<'_, Message> {
        let skip = self.files.len().saturating_sub(at_most);
        Column::with_children(self.files.iter().skip(skip).map(|r| self.file_row(r)))
            .spacing(6)
            .into()
    }

    fn file_row<'a>(&'a self, r: &'a FileRow) -> Element<'a, Message> {
        let t = &self.t;
        let peer = self.peer();
        let name = if r.name.is_empty() {
            t.get("file-unnamed")
        } else {
            r.name.clone()
        };
        let (status, bar, action): (String, Option<f32>, Option<Element<'a, Message>>) =
            match &r.stage {
                FileStage::Offered => (
                    t.with("file-waiting-accept", &[("name", &peer)]),
                    None,
                    Some(self.cancel_button(r.id)),
                ),
                FileStage::Requested => (
                    t.with("file-waiting-choice", &[("name", &peer)]),
                    None,
                    Some(self.cancel_button(r.id)),
                ),
                FileStage::Asking | FileStage::Choosing => (t.get("file-waiting-you"), None, None),
                FileStage::Moving {
                    bytes,
                    bytes_per_sec,
                    secs_left,
                } => {
                    let percent = bytes.saturating_mul(100).checked_div(r.size).unwrap_or(100);
                    let left = match secs_left {
                        Some(s) => t.with("file-left-secs", &[("secs", &s.to_string())]),
                        None => t.get("file-left-unknown"),
                    };
                    let verb = match r.direction {
                        FileDirection::Sending => t.get("file-moving-send"),
                        FileDirection::Receiving => t.get("file-moving-receive"),
                    };
                    (
                        format!(
                            "{verb} · {}",
                            t.with(
                                "file-progress",
                                &[
                                    ("percent", &percent.to_string()),
                                    ("speed", &human_size(*bytes_per_sec)),
                                    ("left", &left),
                                ],
                            )
                        ),
                        Some(if r.size == 0 {
                            1.0
                        } else {
                            (*bytes as f64 / r.size as f64) as f32
                        }),
                        Some(self.cancel_button(r.id)),
                    )
                }
                FileStage::Done { path } => {
                    let status = match r.direction {
                        FileDirection::Sending => t.get("file-done-sent"),
                        FileDirection::Receiving => t.with(
                            "file-done-received",
                            &[("path", path.as_deref().unwrap_or_default())],
                        ),
                    };
                    let action: Element<'a, Message> = if r.direction == FileDirection::Receiving
                        && self.session.files.receive_dir.is_some()
                    {
                        row![
                            button(text(t.get("file-open-folder")).size(13))
                                .on_press(Message::OpenReceiveFolder),
                            self.dismiss_button(r.id),
                        ]
                        .spacing(6)
                        .into()
                    } else {
                        self.dismiss_button(r.id)
                    };
                    (status, Some(1.0), Some(action))
                }
                FileStage::Stopped { message } => {
                    (message.clone(), None, Some(self.dismiss_button(r.id)))
                }
            };
        let size = if r.size > 0 {
            format!(" ({})", human_size(r.size))
        } else {
            String::new()
        };
        let mut info = column![
            text(format!("{name}{size}")).size(14),
            text(status).size(12)
        ]
        .spacing(2)
        .width(Length::Fill);
        if let Some(fraction) = bar {
            info = info.push(progress_bar(0.0..=1.0, fraction).girth(6));
        }
        let mut line = row![info].spacing(8).align_y(Alignment::Center);
        if let Some(action) = action {
            line = line.push(action);
        }
        container(line).padding([2, 8]).into()
    }

    fn cancel_button(&self, id: u32) -> Element<'_, Message> {
        button(text(self.t.get("file-cancel")).size(13))
            .style(button::secondary)
            .on_press(Message::CancelFile(id))
            .into()
    }

    fn dismiss_button(&self, id: u32) -> Element<'_, Message> {
        button(text(self.t.get("file-dismiss")).size(13))
            .style(button::secondary)
            .on_press(Message::DismissFile(id))
            .into()
    }

    /// Helper: whether its toolbar offers files (the screen is shown).
    pub(super) fn files_allowed(&self) -> bool {
        matches!(&self.screen, Screen::Viewer(v) if v.consented)
    }
}

/// Opens `dir` in the desktop's file manager (created first: it may not exist yet).
fn open_folder(dir: &std::path::Path) {
    let _ = std::fs::create_dir_all(dir);
    let program = if cfg!(windows) {
        "explorer"
    } else if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(program)
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        tracing::warn!("opening {}: {e}", dir.display());
    }
}
