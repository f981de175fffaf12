//! Files between the two sides, without I/O: who may offer and ask, what the receiving
//! person must allow first, the sharer's limits, and each transfer's progress, speed and
//! time left. Both cores hold one; the driver moves the bytes (`file_transfer.rs`).
//!
//! The helper sends files (each offered, and allowed by the sharing person) and asks for
//! them (the sharing person chooses one, or declines). Ids are the helper's, increasing, so
//! the sharer never keeps more than the transfers in progress.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::rate::RateGate;
use super::{Event, FileDirection};
use crate::file::{check_file_name, clean_file_name, FileHead, FileRefusal};
use crate::protocol::{Control, Role};

/// Transfers offered, asked for or running at once (either way): more are declined as busy.
pub const MAX_OPEN_TRANSFERS: usize = 8;

/// How often a transfer's progress is reported.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Over how long the speed is averaged.
const SPEED_WINDOW: Duration = Duration::from_secs(2);

/// A transfer whose bytes have not moved for this long (and not because of a pause) is
/// given up: a peer that stalls must not hold a slot and a part file for the whole session.
pub const STALLED: Duration = Duration::from_secs(60);

/// After the person declines, the helper's offers and requests are declined unasked for
/// this long: a "no" is not worn down by asking again and again.
pub const DECLINE_QUIET: Duration = Duration::from_secs(10);

/// What the receiving app accepts (the sharer's app sets them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimits {
    /// Largest file, bytes.
    pub max_size: u64,
    /// Files per session, received or sent.
    pub max_files: u32,
}

impl Default for FileLimits {
    fn default() -> Self {
        Self {
            max_size: 4 * 1024 * 1024 * 1024,
            max_files: 100,
        }
    }
}

/// A file on this computer, about to be offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    pub path: PathBuf,
    /// As offered: [`clean_file_name`] of the file's own name.
    pub name: String,
    pub size: u64,
}

impl LocalFile {
    pub fn new(path: PathBuf, size: u64) -> Self {
        let name = path
            .file_name()
            .map(|n| clean_file_name(&n.to_string_lossy()))
            .unwrap_or_else(|| clean_file_name(""));
        Self { path, name, size }
    }
}

/// What the driver does for the transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAction {
    /// Stream this local file as transfer `id` (its size as offered).
    Send { id: u32, path: PathBuf, size: u64 },
    /// Stop transfer `id`'s stream; what arrived of it is deleted.
    Stop(u32),
    /// Delete this file: it was saved just as its transfer was cancelled (both people were
    /// told nothing of it was kept).
    Discard(PathBuf),
    /// Hold every transfer's bytes (`true`: the session is paused) or let them go again.
    Hold(bool),
}

/// A file stream the receiver takes: where its bytes go is the driver's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingFile {
    pub id: u32,
    pub name: String,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Sharer: the person is asked whether to take the helper's offer.
    Asked,
    /// The sharer's person is asked to choose a file for the helper (on the sharer), or
    /// the helper waits for that choice (on the helper).
    Requested,
    /// Offered to the peer; waiting for its answer.
    Offered,
    /// Bytes are moving; `streaming`: the receiver took its stream; `saved`: the receiver
    /// already said it arrived whole (its word may come before the sender's task ends).
    Running { streaming: bool, saved: bool },
    /// The sender wrote everything; the receiver's verdict is awaited.
    Delivered,
}

#[derive(Debug)]
struct Transfer {
    name: String,
    size: u64,
    direction: FileDirection,
    stage: Stage,
    path: Option<PathBuf>,
    meter: Meter,
    /// When its bytes last moved (or it started, or a pause was lifted).
    moved_at: Option<Instant>,
}

/// Progress and speed of one transfer.
#[derive(Debug, Default)]
struct Meter {
    bytes: u64,
    at: Option<Instant>,
    bytes_per_sec: f64,
    reported: Option<Instant>,
}

impl Meter {
    fn update(&mut self, now: Instant, bytes: u64) {
        if let Some(at) = self.at {
            let dt = now.saturating_duration_since(at).as_secs_f64();
            if dt <= 0.0 {
                // Counted with the next sample.
                return;
            }
            let rate = bytes.saturating_sub(self.bytes) as f64 / dt;
            // The first sample sets the speed; later ones move it over the window.
            let weight = if self.bytes_per_sec == 0.0 {
                1.0
            } else {
                (dt / SPEED_WINDOW.as_secs_f64()).min(1.0)
            };
            self.bytes_per_sec += (rate - self.bytes_per_sec) * weight;
        }
        self.at = Some(now);
        self.bytes = bytes;
    }

    fn due(&self, now: Instant) -> bool {
        self.reported
            .is_none_or(|at| now.saturating_duration_since(at) >= PROGRESS_EVERY)
    }
}

pub struct FileTransfers {
    role: Role,
    /// The peer's name, for the person's questions (on the sharer).
    peer_name: String,
    limits: FileLimits,
    /// Whether this side has a folder to save files in.
    can_receive: bool,
    transfers: BTreeMap<u32, Transfer>,
    /// Helper: the next id it gives. Sharer: the helper's last id seen.
    last_id: u32,
    counted: u32,
    /// Sharer: questions put to the person this session (offers and requests), and when
    /// the person last said no.
    questions: u32,
    declined_at: Option<Instant>,
    peer_rate: RateGate,
    paused: bool,
    out: VecDeque<Output>,
}

/// What a call produced, for the core to pass on.
#[derive(Debug)]
pub enum Output {
    Transmit(Control),
    Event(Event),
    Action(FileAction),
}

impl FileTransfers {
    pub fn new(role: Role, peer_name: String) -> Self {
        Self {
            role,
            peer_name,
            limits: FileLimits::default(),
            can_receive: false,
            transfers: BTreeMap::new(),
            last_id: 0,
            counted: 0,
            questions: 0,
            declined_at: None,
            // People offer a few files a minute; a burst covers dropping several at once.
            peer_rate: RateGate::new(1, MAX_OPEN_TRANSFERS as u32),
            paused: false,
            out: VecDeque::new(),
        }
    }

    /// Whether files can be received here at all, and within which limits.
    pub fn set_receiving(&mut self, can_receive: bool, limits: FileLimits) {
        self.can_receive = can_receive;
        self.limits = limits;
    }

    pub fn poll(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    fn transmit(&mut self, msg: Control) {
        self.out.push_back(Output::Transmit(msg));
    }

    fn event(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    fn declined(&mut self, id: u32, name: Option<String>, reason: FileRefusal) {
        self.event(Event::FileDeclined {
            id,
            name,
            reason,
            message: reason.describe().into(),
        });
    }

    /// The session paused or resumed (any pause holds the bytes; offers from the peer
    /// are declined meanwhile).
    pub fn set_paused(&mut self, now: Instant, paused: bool) {
        if self.paused != paused {
            self.paused = paused;
            if !paused {
                // Held bytes were not stalled: the clock starts again.
                for t in self.transfers.values_mut() {
                    if t.moved_at.is_some() {
                        t.moved_at = Some(now);
                    }
                }
            }
            self.out.push_back(Output::Action(FileAction::Hold(paused)));
        }
    }

    /// The peer's messages about files; `false` when `msg` is not one.
    pub fn handle_control(&mut self, now: Instant, msg: &Control) -> bool {
        match msg {
            Control::FileOffer { id, name, size } => self.on_offer(now, *id, name, *size),
            Control::RequestFile { id } => self.on_request(now, *id),
            Control::FileAccepted { id } => self.on_accepted(now, *id),
            Control::FileDeclined { id, reason } => {
                if let Some(t) = self.transfers.get(id) {
                    if matches!(t.stage, Stage::Offered | Stage::Requested) {
                        let name = (!t.name.is_empty()).then(|| t.name.clone());
                        self.transfers.remove(id);
                        self.declined(*id, name, *reason);
                    }
                }
            }
            Control::FileCancel { id } => {
                if let Some(t) = self.transfers.remove(id) {
                    if matches!(t.stage, Stage::Running { .. } | Stage::Delivered) {
                        self.out.push_back(Output::Action(FileAction::Stop(*id)));
                    }
                    let by = peer(self.role);
                    self.event(Event::FileCancelled { id: *id, by });
                }
            }
            Control::FileSaved { id } => {
                let stage = self.transfers.get(id).map(|t| (t.direction, t.stage));
                match stage {
                    Some((FileDirection::Sending, Stage::Delivered)) => self.delivered(*id),
                    // The receiver's word came before this side's task ended: done then.
                    Some((FileDirection::Sending, Stage::Running { streaming, .. })) => {
                        if let Some(t) = self.transfers.get_mut(id) {
                            t.stage = Stage::Running {
                                streaming,
                                saved: true,
                            };
                        }
                    }
                    _ => {}
                }
            }
            Control::FileFailed { id, reason } => {
                if self.sending(*id) {
                    self.transfers.remove(id);
                    self.out.push_back(Output::Action(FileAction::Stop(*id)));
                    self.event(Event::FileFailed {
                        id: *id,
                        reason: *reason,
                        message: reason.describe().into(),
                    });
                }
            }
            _ => return false,
        }
        true
    }

    fn delivered(&mut self, id: u32) {
        if let Some(t) = self.transfers.remove(&id) {
            self.event(Event::FileDone {
                id,
                name: t.name,
                size: t.size,
                direction: FileDirection::Sending,
                path: None,
            });
        }
    }

    fn sending(&self, id: u32) -> bool {
        self.transfers.get(&id).is_some_and(|t| {
            t.direction == FileDirection::Sending
                && matches!(t.stage, Stage::Running { .. } | Stage::Delivered)
        })
    }

    /// A new id from the helper must be larger than any before (stale or replayed ids are
    /// ignored), and costs a token of the peer's rate.
    fn fresh_from_helper(&mut self, now: Instant, id: u32) -> Result<(), Option<FileRefusal>> {
        if id <= self.last_id {
            tracing::debug!(id, "a file id not newer than the last: ignored");
            return Err(None);
        }
        self.last_id = id;
        if self.paused {
            return Err(Some(FileRefusal::Paused));
        }
        if self.transfers.len() >= MAX_OPEN_TRANSFERS || !self.peer_rate.admit(now) {
            return Err(Some(FileRefusal::Busy));
        }
        // Each file allowed may have been asked about a few times; beyond that, the helper
        // is only nagging.
        if self.counted >= self.limits.max_files
            || self.questions >= self.limits.max_files.saturating_mul(3)
        {
            return Err(Some(FileRefusal::TooMany));
        }
        if self
            .declined_at
            .is_some_and(|at| now.saturating_duration_since(at) < DECLINE_QUIET)
        {
            return Err(Some(FileRefusal::TooSoon));
        }
        Ok(())
    }

    /// Sharer: whether the person is asked to take a file. (Not while they choose a file the
    /// helper asked for: the helper may have to guide them to it.)
    pub fn has_question(&self) -> bool {
        self.transfers.values().any(|t| t.stage == Stage::Asked)
    }

    /// Why a file offered to this side cannot be taken at all, if it cannot.
    fn unreceivable(&self, name: &str, size: u64) -> Option<FileRefusal> {
        if check_file_name(name).is_err() {
            Some(FileRefusal::BadName)
        } else if !self.can_receive {
            Some(FileRefusal::Unavailable)
        } else if size > self.limits.max_size {
            Some(FileRefusal::TooLarge)
        } else {
            None
        }
    }

    fn on_offer(&mut self, now: Instant, id: u32, name: &str, size: u64) {
        match self.role {
            Role::Sharer => {
                if let Err(refusal) = self.fresh_from_helper(now, id) {
                    if let Some(reason) = refusal {
                        self.transmit(Control::FileDeclined { id, reason });
                    }
                    return;
                }
                let reason = self.unreceivable(name, size);
                if let Some(reason) = reason {
                    self.transmit(Control::FileDeclined { id, reason });
                    // The person hears of it: a name that tries to reach outside the folder
                    // says something about who sent it (shown cleaned, never as sent).
                    self.declined(id, Some(clean_file_name(name)), reason);
                    return;
                }
                self.questions += 1;
                self.transfers.insert(
                    id,
                    Transfer::new(name.into(), size, FileDirection::Receiving, Stage::Asked),
                );
                self.event(Event::FileOffered {
                    id,
                    name: name.into(),
                    size,
                    from: self.peer_name.clone(),
                });
            }
            // Only a file this side asked for is taken, and taken without asking again.
            Role::Helper => {
                let asked = self
                    .transfers
                    .get(&id)
                    .is_some_and(|t| t.stage == Stage::Requested);
                if !asked {
                    self.transmit(Control::FileDeclined {
                        id,
                        reason: FileRefusal::NotAsked,
                    });
                    return;
                }
                let reason = self.unreceivable(name, size);
                if let Some(reason) = reason {
                    self.transfers.remove(&id);
                    self.transmit(Control::FileDeclined { id, reason });
                    self.declined(id, Some(clean_file_name(name)), reason);
                    return;
                }
                if let Some(t) = self.transfers.get_mut(&id) {
                    t.name = name.into();
                    t.size = size;
                    t.stage = Stage::Running {
                        streaming: false,
                        saved: false,
                    };
                }
                self.transmit(Control::FileAccepted { id });
                self.started(now, id);
            }
        }
    }

    fn on_request(&mut self, now: Instant, id: u32) {
        if self.role != Role::Sharer {
            return;
        }
        if let Err(refusal) = self.fresh_from_helper(now, id) {
            if let Some(reason) = refusal {
                self.transmit(Control::FileDeclined { id, reason });
            }
            return;
        }
        self.questions += 1;
        self.transfers.insert(
            id,
            Transfer::new(String::new(), 0, FileDirection::Sending, Stage::Requested),
        );
        self.event(Event::FileRequested {
            id,
            helper_name: self.peer_name.clone(),
        });
    }

    fn on_accepted(&mut self, now: Instant, id: u32) {
        let Some(t) = self.transfers.get_mut(&id) else {
            return;
        };
        if t.direction != FileDirection::Sending || t.stage != Stage::Offered {
            return;
        }
        t.stage = Stage::Running {
            streaming: false,
            saved: false,
        };
        if let Some(path) = t.path.clone() {
            let size = t.size;
            self.out
                .push_back(Output::Action(FileAction::Send { id, path, size }));
        }
        self.started(now, id);
    }

    fn started(&mut self, now: Instant, id: u32) {
        if let Some(t) = self.transfers.get_mut(&id) {
            t.moved_at = Some(now);
            let event = Event::FileStarted {
                id,
                name: t.name.clone(),
                size: t.size,
                direction: t.direction,
            };
            self.event(event);
        }
    }

    /// The person's side: send `file` (the helper offers it; the sharer gives it for the
    /// helper's oldest request).
    pub fn send(&mut self, file: LocalFile) {
        let id = match self.role {
            Role::Helper => {
                if self.transfers.len() >= MAX_OPEN_TRANSFERS {
                    self.declined(0, Some(file.name), FileRefusal::Busy);
                    return;
                }
                self.last_id += 1;
                self.last_id
            }
            Role::Sharer => {
                let oldest = self
                    .transfers
                    .iter()
                    .find(|(_, t)| t.stage == Stage::Requested)
                    .map(|(id, _)| *id);
                let Some(id) = oldest else {
                    self.declined(0, Some(file.name), FileRefusal::NotAsked);
                    return;
                };
                self.counted += 1;
                id
            }
        };
        let mut transfer = Transfer::new(
            file.name.clone(),
            file.size,
            FileDirection::Sending,
            Stage::Offered,
        );
        transfer.path = Some(file.path);
        self.transfers.insert(id, transfer);
        self.transmit(Control::FileOffer {
            id,
            name: file.name.clone(),
            size: file.size,
        });
        self.event(Event::FileOfferSent {
            id,
            name: file.name,
            size: file.size,
        });
    }

    /// Helper: ask the sharer for a file.
    pub fn request(&mut self) {
        if self.role != Role::Helper {
            return;
        }
        if self.transfers.len() >= MAX_OPEN_TRANSFERS {
            self.declined(0, None, FileRefusal::Busy);
            return;
        }
        self.last_id += 1;
        let id = self.last_id;
        self.transfers.insert(
            id,
            Transfer::new(String::new(), 0, FileDirection::Receiving, Stage::Requested),
        );
        self.transmit(Control::RequestFile { id });
        self.event(Event::FileRequestSent { id });
    }

    /// Sharer's person: take the helper's offer `id`.
    pub fn accept(&mut self, now: Instant, id: u32) {
        let Some(t) = self.transfers.get_mut(&id) else {
            return;
        };
        if t.stage != Stage::Asked {
            return;
        }
        if self.counted >= self.limits.max_files {
            self.transfers.remove(&id);
            self.transmit(Control::FileDeclined {
                id,
                reason: FileRefusal::TooMany,
            });
            self.declined(id, None, FileRefusal::TooMany);
            return;
        }
        t.stage = Stage::Running {
            streaming: false,
            saved: false,
        };
        self.counted += 1;
        self.transmit(Control::FileAccepted { id });
        self.started(now, id);
    }

    /// Sharer's person: refuse the helper's offer or request `id`.
    pub fn decline(&mut self, now: Instant, id: u32) {
        let waiting = self
            .transfers
            .get(&id)
            .is_some_and(|t| matches!(t.stage, Stage::Asked | Stage::Requested));
        if waiting {
            self.declined_at = Some(now);
            self.refuse(id);
        }
    }

    fn refuse(&mut self, id: u32) {
        let name = self.transfers.remove(&id).map(|t| t.name);
        let reason = FileRefusal::Declined;
        self.transmit(Control::FileDeclined { id, reason });
        self.declined(id, name.filter(|n| !n.is_empty()), reason);
    }

    /// Either person: stop transfer `id`, whatever its stage (an unanswered question is
    /// declined).
    pub fn cancel(&mut self, id: u32) {
        let Some(t) = self.transfers.get(&id) else {
            return;
        };
        match t.stage {
            Stage::Asked | Stage::Requested if self.role == Role::Sharer => self.refuse(id),
            _ => {
                let stage = t.stage;
                self.transfers.remove(&id);
                if matches!(stage, Stage::Running { .. } | Stage::Delivered) {
                    self.out.push_back(Output::Action(FileAction::Stop(id)));
                }
                self.transmit(Control::FileCancel { id });
                self.event(Event::FileCancelled { id, by: self.role });
            }
        }
    }

    /// A file stream arrived: taken only for an accepted transfer to this side, once, with
    /// the size offered. A stream refused here is stopped unread.
    pub fn take_stream(&mut self, head: FileHead) -> Option<IncomingFile> {
        let t = self.transfers.get_mut(&head.id)?;
        if t.direction != FileDirection::Receiving
            || t.stage
                != (Stage::Running {
                    streaming: false,
                    saved: false,
                })
        {
            return None;
        }
        if head.size != t.size {
            self.finished(head.id, Err(FileRefusal::Failed));
            return None;
        }
        t.stage = Stage::Running {
            streaming: true,
            saved: false,
        };
        Some(IncomingFile {
            id: head.id,
            name: t.name.clone(),
            size: t.size,
        })
    }

    /// `bytes` of transfer `id` have moved so far.
    pub fn progress(&mut self, now: Instant, id: u32, bytes: u64) {
        let Some(t) = self.transfers.get_mut(&id) else {
            return;
        };
        t.moved_at = Some(now);
        t.meter.update(now, bytes);
        if !t.meter.due(now) && bytes < t.size {
            return;
        }
        t.meter.reported = Some(now);
        let speed = t.meter.bytes_per_sec;
        let left = t.size.saturating_sub(bytes);
        let secs_left = (speed >= 1.0).then(|| (left as f64 / speed).ceil() as u64);
        let event = Event::FileProgress {
            id,
            bytes,
            size: t.size,
            bytes_per_sec: speed as u64,
            secs_left,
        };
        self.event(event);
    }

    /// The driver's task for `id` ended: a receiver's with where the file was saved, a
    /// sender's with `None` once everything was written; or why it failed.
    pub fn finished(&mut self, id: u32, result: Result<Option<PathBuf>, FileRefusal>) {
        let Some(t) = self.transfers.get_mut(&id) else {
            // Cancelled meanwhile: a file saved all the same is not kept.
            if let Ok(Some(path)) = result {
                self.out
                    .push_back(Output::Action(FileAction::Discard(path)));
            }
            return;
        };
        match (t.direction, result) {
            (FileDirection::Sending, Ok(_)) => {
                if matches!(t.stage, Stage::Running { saved: true, .. }) {
                    self.delivered(id);
                } else {
                    t.stage = Stage::Delivered;
                }
            }
            (FileDirection::Receiving, Ok(path)) => {
                if let Some(t) = self.transfers.remove(&id) {
                    self.transmit(Control::FileSaved { id });
                    self.event(Event::FileDone {
                        id,
                        name: t.name,
                        size: t.size,
                        direction: FileDirection::Receiving,
                        path: path.map(|p| p.display().to_string()),
                    });
                }
            }
            (direction, Err(reason)) => {
                self.transfers.remove(&id);
                self.out.push_back(Output::Action(FileAction::Stop(id)));
                // The receiver says why; a sender that could not read its own file cancels.
                self.transmit(match direction {
                    FileDirection::Receiving => Control::FileFailed { id, reason },
                    FileDirection::Sending => Control::FileCancel { id },
                });
                self.event(Event::FileFailed {
                    id,
                    reason,
                    message: reason.describe().into(),
                });
            }
        }
    }

    /// When [`Self::handle_timeout`] is next due: a moving transfer's stall deadline (none
    /// while paused: held bytes are not stalled).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.paused {
            return None;
        }
        self.transfers
            .values()
            .filter(|t| t.awaits_bytes())
            .filter_map(|t| t.moved_at)
            .min()
            .map(|at| at + STALLED)
    }

    /// Gives up every transfer whose bytes have not moved for [`STALLED`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.paused {
            return;
        }
        let stalled: Vec<u32> = self
            .transfers
            .iter()
            .filter(|(_, t)| {
                t.awaits_bytes()
                    && t.moved_at
                        .is_some_and(|at| now.saturating_duration_since(at) >= STALLED)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in stalled {
            self.finished(id, Err(FileRefusal::Stalled));
        }
    }

    /// The peer reset or stopped transfer `id`'s stream as a cancel, whether or not its
    /// `FileCancel` arrives (a peer that only resets must not hold a transfer open).
    pub fn peer_stopped(&mut self, id: u32) {
        if self.transfers.remove(&id).is_some() {
            self.out.push_back(Output::Action(FileAction::Stop(id)));
            let by = peer(self.role);
            self.event(Event::FileCancelled { id, by });
        }
    }
}

impl Transfer {
    /// Bytes are still to move. (Once all have, the receiver checks and writes them to disk,
    /// which for a large file on a slow disk may take long: not a stall.)
    fn awaits_bytes(&self) -> bool {
        matches!(self.stage, Stage::Running { .. }) && self.meter.bytes < self.size
    }

    fn new(name: String, size: u64, direction: FileDirection, stage: Stage) -> Self {
        Self {
            name,
            size,
            direction,
            stage,
            path: None,
            meter: Meter::default(),
            moved_at: None,
        }
    }
}

fn peer(role: Role) -> Role {
    match role {
        Role::Helper => Role::Sharer,
        Role::Sharer => Role::Helper,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(t: &mut FileTransfers) -> Vec<Output> {
        std::iter::from_fn(|| t.poll()).collect()
    }

    #[test]
    fn speed_and_time_left_follow_the_bytes() {
        let mut t = FileTransfers::new(Role::Helper, String::new());
        t.send(LocalFile::new("/tmp/x.bin".into(), 10_000_000));
        t.handle_control(Instant::now(), &Control::FileAccepted { id: 1 });
        drain(&mut t);
        let start = Instant::now();
        let mut last = None;
        // 1 MB/s for five seconds, reported every 100 ms: events at most every 250 ms.
        for tenth in 0..=50u64 {
            t.progress(
                start + Duration::from_millis(100 * tenth),
                1,
                tenth * 100_000,
            );
            for out in drain(&mut t) {
                if let Output::Event(Event::FileProgress {
                    bytes_per_sec,
                    secs_left,
                    ..
                }) = out
                {
                    last = Some((tenth, bytes_per_sec, secs_left));
                }
            }
        }
        let (tenth, speed, left) = last.expect("progress reported");
        assert!(tenth >= 48, "reported at {tenth}");
        assert!((900_000..=1_100_000).contains(&speed), "{speed} B/s");
        assert!(matches!(left, Some(5..=6)), "{left:?}");
    }
}
