//! Files end to end: the real `tandem` processes on Xvfb, each with a receive folder of its
//! own. A file crosses only after the person there accepts it, arrives whole (SHA-256
//! checked by the receiver, and here again by the test), never over an existing file; a
//! cancelled one leaves nothing behind; unsafe names arrive cleaned; the helper can ask for
//! a file. Meanwhile the picture and the helper's input keep going.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tandem::session::{Event, FileDirection, FileRefusal, Role};
use tandem_tests::xrecord::{EventRecorder, Recorded};
use tandem_tests::xvfb::{Motion, Xvfb};
use tandem_tests::{Peer, Rendezvous};

const T: Duration = Duration::from_secs(30);
/// A 100 MB file's hang guard: generous for two cores under load.
const TRANSFER: Duration = Duration::from_secs(240);

/// A fresh directory of the test's own.
fn fresh_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-files-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// Writes `size` bytes that do not compress, returning their SHA-256.
fn random_file(path: &Path, size: usize) -> String {
    let mut hasher = Sha256::new();
    tandem_tests::write_incompressible(path, size, |chunk| hasher.update(chunk))
        .expect("write the file");
    hex(&hasher.finalize())
}

fn sha256_of(path: &Path) -> String {
    let mut file = std::fs::File::open(path).expect("open");
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).expect("read");
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The names in `dir`, sorted (part files included: they start with a dot).
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Waits until `dir` holds exactly `want` (a task may still be deleting a part file).
fn wait_names(dir: &Path, want: &[&str]) {
    let deadline = Instant::now() + T;
    loop {
        let names = names_in(dir);
        if names == want {
            return;
        }
        assert!(Instant::now() < deadline, "{}: {names:?}", dir.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The helper offers a 1 GiB (sparse) file; the person accepts it and pauses at once, so
/// it is held part-way. Returns the file's path.
fn send_and_hold_a_big_file(source: &Path, helper: &mut Peer, sharer: &mut Peer) -> PathBuf {
    let big = source.join("big.img");
    std::fs::File::create(&big)
        .and_then(|f| f.set_len(1 << 30))
        .expect("sparse file");
    helper.type_line(&format!("/send {}", big.display()));
    sharer.wait_event(T, |e| matches!(e, Event::FileOffered { .. }));
    sharer.type_line("y");
    sharer.type_line("/pause");
    big
}

fn start_session(
    screen: &str,
    rv: &Rendezvous,
    helper_dir: &Path,
    sharer_dir: &Path,
) -> (Peer, Peer) {
    let helper_dir = helper_dir.to_string_lossy();
    let mut helper = Peer::assist(&rv.url, "Anna Rossi", &["--receive-dir", &helper_dir]);
    let code = helper.code(T);
    let sharer_dir = sharer_dir.to_string_lossy();
    let mut sharer = Peer::share_display(&rv.url, &code, screen, &["--receive-dir", &sharer_dir]);
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    helper.wait_for("frame_received", T);
    (helper, sharer)
}

#[test]
fn a_100_mb_file_crosses_whole_with_consent_while_picture_and_input_go_on() {
    let screen = Xvfb::start(&[(640, 480)]);
    let _motion = Motion::on(&screen.display);
    let recorder = EventRecorder::start_invisible(&screen.display, 0);
    let rv = Rendezvous::start(&[]);
    let (source, helper_dir, sharer_dir) = (fresh_dir("src"), fresh_dir("h"), fresh_dir("s"));
    let (mut helper, mut sharer) = start_session(&screen.display, &rv, &helper_dir, &sharer_dir);
    helper.take_control(&mut sharer, T);

    let size = 100 * 1024 * 1024;
    let path = source.join("Relazione finale.bin");
    let sha = random_file(&path, size);
    // A file of that name is already there: it must stay as it is.
    std::fs::write(sharer_dir.join("Relazione finale.bin"), b"mine").expect("write");

    helper.type_line(&format!("/send {}", path.display()));
    let offered = sharer.wait_event(T, |e| matches!(e, Event::FileOffered { .. }));
    let Event::FileOffered {
        id,
        name,
        size: offered_size,
        from,
    } = offered
    else {
        unreachable!()
    };
    assert_eq!(
        (name.as_str(), offered_size, from.as_str()),
        ("Relazione finale.bin", size as u64, "Anna R.")
    );
    // Nothing crossed before the answer.
    assert_eq!(names_in(&sharer_dir), ["Relazione finale.bin"]);
    sharer.type_line("y");
    helper.wait_event(T, |e| {
        matches!(
            e,
            Event::FileStarted {
                direction: FileDirection::Sending,
                ..
            }
        )
    });
    let started = Instant::now();
    let hang_guard = started + TRANSFER;

    // While it crosses: the helper moves the sharer's pointer; each move must land.
    let mut sent_moves = Vec::new();
    let mut n = 0u32;
    let done = loop {
        if let Some((_, v)) = helper
            .seen
            .iter()
            .rev()
            .find(|(_, v)| v["event"] == "file_done" || v["event"] == "file_failed")
        {
            break v.clone();
        }
        assert!(Instant::now() < hang_guard, "no end: {}", helper.history());
        let (x, y) = (20 + (n % 600), 20 + (n / 600) % 440);
        helper.type_line(&format!("/move {x} {y}"));
        sent_moves.push((x as i16, y as i16));
        n += 1;
        helper.count_for(Duration::from_millis(25), |_| false);
    };
    assert_eq!(done["event"], "file_done", "{}", helper.history());
    let transfer_secs = started.elapsed().as_secs_f64();
    let saved = sharer.wait_event(T, |e| {
        matches!(
            e,
            Event::FileDone {
                direction: FileDirection::Receiving,
                ..
            }
        )
    });
    let Event::FileDone {
        path: Some(saved),
        id: saved_id,
        ..
    } = saved
    else {
        panic!("no path: {saved:?}")
    };
    assert_eq!(saved_id, id);
    // Saved beside the existing file, never over it; whole; no part file left.
    assert_eq!(
        Path::new(&saved),
        sharer_dir.join("Relazione finale (1).bin")
    );
    assert_eq!(sha256_of(Path::new(&saved)), sha);
    assert_eq!(
        std::fs::read(sharer_dir.join("Relazione finale.bin")).expect("read"),
        b"mine"
    );
    wait_names(
        &sharer_dir,
        &["Relazione finale (1).bin", "Relazione finale.bin"],
    );

    // The picture kept coming during the transfer, and every move landed.
    let (from_at, to_at) = (
        helper
            .seen
            .iter()
            .find(|(_, v)| v["event"] == "file_started")
            .map(|(at, _)| *at),
        helper
            .seen
            .iter()
            .find(|(_, v)| v["event"] == "file_done")
            .map(|(at, _)| *at),
    );
    let (from_at, to_at) = (from_at.expect("started"), to_at.expect("done"));
    let frames = helper
        .seen
        .iter()
        .filter(|(at, v)| v["event"] == "frame_received" && *at >= from_at && *at <= to_at)
        .count();
    assert!(frames > 0, "no frame arrived during the transfer");
    let deadline = Instant::now() + T;
    loop {
        let landed = recorder
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Recorded::Motion { x, y } => Some((x, y)),
                _ => None,
            })
            .collect::<Vec<_>>();
        if sent_moves.iter().all(|m| landed.contains(m)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "moves sent during the transfer were lost"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "100 MiB in {transfer_secs:.1} s ({:.0} Mbit/s); {frames} frames ({:.1} fps) and {} moves landed meanwhile",
        size as f64 * 8.0 / transfer_secs / 1e6,
        frames as f64 / to_at.duration_since(from_at).as_secs_f64(),
        sent_moves.len()
    );
    helper.type_line("/end");
    sharer.wait_for("ended", T);
    for dir in [source, helper_dir, sharer_dir] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn a_cancelled_file_leaves_nothing_unsafe_names_arrive_cleaned_and_the_helper_can_ask() {
    let screen = Xvfb::start(&[(320, 240)]);
    let rv = Rendezvous::start(&[]);
    let (source, helper_dir, sharer_dir) = (fresh_dir("src2"), fresh_dir("h2"), fresh_dir("s2"));
    let (mut helper, mut sharer) = start_session(&screen.display, &rv, &helper_dir, &sharer_dir);

    // A large file, accepted and at once held by the person's pause, then cancelled by
    // them: nothing of it stays.
    let big = send_and_hold_a_big_file(&source, &mut helper, &mut sharer);
    sharer.wait_event(T, |e| matches!(e, Event::FileStarted { .. }));
    helper.wait_event(T, |e| matches!(e, Event::Paused { by: Role::Sharer }));
    sharer.type_line("/cancel 1");
    helper.wait_event(T, |e| {
        matches!(
            e,
            Event::FileCancelled {
                id: 1,
                by: Role::Sharer
            }
        )
    });
    sharer.wait_event(T, |e| matches!(e, Event::FileCancelled { id: 1, .. }));
    wait_names(&sharer_dir, &[]);
    assert_eq!(std::fs::metadata(&big).expect("still there").len(), 1 << 30);
    sharer.type_line("/resume");
    helper.wait_event(T, |e| matches!(e, Event::Resumed { .. }));

    // Names that would hide, reach elsewhere or disguise themselves arrive cleaned.
    for (local, arrives) in [
        (".bashrc", "bashrc"),
        ("invoice\u{202E}fdp.exe", "invoicefdp.exe"),
        ("CON.txt", "_CON.txt"),
    ] {
        let path = source.join(local);
        std::fs::write(&path, local.as_bytes()).expect("write");
        helper.type_line(&format!("/send {}", path.display()));
        let offered = sharer.wait_event(T, |e| matches!(e, Event::FileOffered { .. }));
        assert!(
            matches!(&offered, Event::FileOffered { name, .. } if name == arrives),
            "{offered:?}"
        );
        sharer.type_line("y");
        sharer.wait_event(T, |e| matches!(e, Event::FileDone { .. }));
        assert_eq!(
            std::fs::read(sharer_dir.join(arrives)).expect("saved"),
            local.as_bytes()
        );
    }
    // The helper asks for a log file; the person gives it.
    let log = source.join("Xorg.0.log");
    std::fs::write(&log, b"(EE) no screens found\n").expect("write");
    helper.type_line("/fetch");
    sharer.wait_event(T, |e| matches!(e, Event::FileRequested { .. }));
    sharer.type_line(&log.display().to_string());
    let done = helper.wait_event(T, |e| {
        matches!(
            e,
            Event::FileDone {
                direction: FileDirection::Receiving,
                ..
            }
        )
    });
    assert!(
        matches!(&done, Event::FileDone { name, .. } if name == "Xorg.0.log"),
        "{done:?}"
    );
    assert_eq!(
        std::fs::read(helper_dir.join("Xorg.0.log")).expect("fetched"),
        b"(EE) no screens found\n"
    );

    // Declined: the helper is told, nothing is written.
    let path = source.join("declined.txt");
    std::fs::write(&path, b"no").expect("write");
    helper.type_line(&format!("/send {}", path.display()));
    helper.wait_event(T, |e| matches!(e, Event::FileOfferSent { id: 6, .. }));
    sharer.wait_event(T, |e| matches!(e, Event::FileOffered { .. }));
    sharer.type_line("n");
    helper.wait_event(T, |e| {
        matches!(
            e,
            Event::FileDeclined {
                reason: FileRefusal::Declined,
                ..
            }
        )
    });
    assert!(!sharer_dir.join("declined.txt").exists());
    // Offered again at once: declined without asking the person again.
    helper.type_line(&format!("/send {}", path.display()));
    helper.wait_event(T, |e| {
        matches!(
            e,
            Event::FileDeclined {
                reason: FileRefusal::TooSoon,
                ..
            }
        )
    });
    assert_eq!(
        sharer
            .seen
            .iter()
            .filter(|(_, v)| v["event"] == "file_offered" && v["name"] == "declined.txt")
            .count(),
        1
    );

    helper.type_line("/end");
    sharer.wait_for("ended", T);
    for dir in [source, helper_dir, sharer_dir] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn a_session_ending_mid_transfer_leaves_no_part_file() {
    let screen = Xvfb::start(&[(320, 240)]);
    let rv = Rendezvous::start(&[]);
    let (source, helper_dir, sharer_dir) = (fresh_dir("src3"), fresh_dir("h3"), fresh_dir("s3"));
    let (mut helper, mut sharer) = start_session(&screen.display, &rv, &helper_dir, &sharer_dir);
    send_and_hold_a_big_file(&source, &mut helper, &mut sharer);
    // Some of it arrived (a part file exists), then the person ends the session.
    helper.wait_event(T, |e| matches!(e, Event::Paused { by: Role::Sharer }));
    let deadline = Instant::now() + T;
    while names_in(&sharer_dir).is_empty() {
        assert!(Instant::now() < deadline, "no part file was ever written");
        std::thread::sleep(Duration::from_millis(20));
    }
    sharer.type_line("/end");
    assert!(sharer.wait_exit(T).success());
    // Gone by the time the process is.
    assert_eq!(names_in(&sharer_dir), Vec::<String>::new());
    helper.wait_for("ended", T);
    for dir in [source, helper_dir, sharer_dir] {
        let _ = std::fs::remove_dir_all(dir);
    }
}
