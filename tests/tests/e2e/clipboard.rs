//! Clipboard sharing end to end: a helper and a sharer, each on an X display of its own
//! (two Xvfb servers), their clipboards set and read with `xclip` as a person's copy and
//! paste would; copies cross only with the sharer's consent, both ways, and stop when it is
//! withdrawn.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tandem::session::{Event, Role};
use tandem_tests::gui::Screenshot;
use tandem_tests::xvfb::Xvfb;
use tandem_tests::{Peer, Rendezvous};

const T: Duration = Duration::from_secs(20);
/// How long "nothing arrives" is watched for (several clipboard polls).
const QUIET: Duration = Duration::from_millis(1500);

/// A copy on an X display: `xclip` owns the clipboard until someone else takes it.
pub(crate) struct Copied(Child);

impl Copied {
    pub(crate) fn on(display: &str, text: &str) -> Self {
        let mut child = Command::new("xclip")
            .args(["-selection", "clipboard", "-in", "-quiet"])
            .env("DISPLAY", display)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("xclip (apt install xclip)");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write to xclip");
        drop(stdin);
        // Copied once a paste gives it (xclip takes the clipboard a moment after it starts).
        wait_pasted(display, text);
        Self(child)
    }
}

impl Drop for Copied {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A picture copied on an X display, offered as `image/png` by `xclip`.
struct CopiedPicture(Child);

impl CopiedPicture {
    fn on(display: &str, png: &std::path::Path) -> Self {
        let child = Command::new("xclip")
            .args([
                "-selection",
                "clipboard",
                "-target",
                "image/png",
                "-in",
                "-quiet",
            ])
            .arg(png)
            .env("DISPLAY", display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("xclip");
        Self(child)
    }
}

impl Drop for CopiedPicture {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a paste on `display` would give (`None`: an empty clipboard, or an owner that did
/// not answer within a few seconds: `xclip` itself waits for ever, and Wine's clipboard was
/// once seen never to answer one request, holding the whole run until its hang guard).
fn pasted(display: &str) -> Option<String> {
    let mut child = Command::new("xclip")
        .args(["-selection", "clipboard", "-out"])
        .env("DISPLAY", display)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("xclip");
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        match child.try_wait().expect("xclip") {
            Some(_) => break,
            None if std::time::Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let out = child.wait_with_output().expect("xclip");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Waits until a paste on `display` gives `want` (the copy is set by the session's own
/// clipboard thread just after its event).
pub(crate) fn wait_pasted(display: &str, want: &str) {
    let deadline = std::time::Instant::now() + T;
    loop {
        let got = pasted(display);
        if got.as_deref() == Some(want) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{display}: pasted {got:?}, wanted {want:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A helper whose own desktop (and clipboard) is X display `display`.
fn helper_on(display: &str, rv: &Rendezvous) -> Peer {
    Peer::spawn_with_env(
        "helper",
        &[
            "assist",
            "--json",
            "--rendezvous",
            &rv.url,
            "--dev-identity",
            "Anna Rossi",
        ],
        &[("DISPLAY", display)],
    )
}

#[test]
fn copies_cross_both_ways_only_with_the_sharers_consent() {
    let screen = Xvfb::start(&[(640, 480)]);
    let desk = Xvfb::start(&[(640, 480)]);
    let rv = Rendezvous::start(&[]);
    let mut helper = helper_on(&desk.display, &rv);
    let code = helper.code(T);
    let mut sharer = Peer::spawn_with_env(
        "sharer",
        &[
            "share",
            "--json",
            "--rendezvous",
            &rv.url,
            "--display",
            &screen.display,
            &code,
        ],
        &[("DISPLAY", &screen.display)],
    );
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    helper.wait_for("frame_received", T);
    // The helper controls the screen, so its input stream is open: copies must still get
    // streams of their own beside it.
    helper.take_control(&mut sharer, T);
    helper.type_line("/move 5 5");

    // What each person had copied before: it stays where it is.
    let _sharers_own = Copied::on(&screen.display, "the sharer's own copy");
    let _helpers_old = Copied::on(&desk.display, "copied before anyone asked");

    helper.type_line("/clipboard");
    let asked = sharer.wait_for("clipboard_requested", T);
    assert_eq!(asked["helper_name"], "Anna R.");
    sharer.type_line("y");
    sharer.wait_for("clipboard_granted", T);
    helper.wait_for("clipboard_granted", T);
    let crossed = sharer.count_for(QUIET, |v| v["event"] == "clipboard_received");
    assert_eq!(crossed, 0, "a copy made before the grant crossed");
    assert_eq!(
        pasted(&screen.display).as_deref(),
        Some("the sharer's own copy")
    );

    // The helper copies a command: the sharer pastes it.
    let command = "sudo systemctl restart cups\n€ ✓";
    let _c = Copied::on(&desk.display, command);
    sharer.wait_event(
        T,
        |e| matches!(e, Event::ClipboardReceived { bytes } if *bytes == command.len()),
    );
    wait_pasted(&screen.display, command);
    // ...and it is not echoed back to the helper.
    // The sharer copies an error message: the helper pastes it.
    let error = "cups: printer 'office' is offline";
    let _e = Copied::on(&screen.display, error);
    helper.wait_event(
        T,
        |e| matches!(e, Event::ClipboardReceived { bytes } if *bytes == error.len()),
    );
    wait_pasted(&desk.display, error);
    let echoes = helper
        .seen
        .iter()
        .filter(|(_, v)| v["event"] == "clipboard_received")
        .count();
    assert_eq!(echoes, 1, "the helper's own copy came back");

    // The sharer copies a picture (a screenshot of an error dialog, say): the helper
    // pastes the same pixels.
    let dir = std::env::temp_dir().join(format!("tandem-clipboard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (w, h) = (64, 40);
    let bgra: Vec<u8> = (0..w * h)
        .flat_map(|i| [(i % 251) as u8, (i / 7 % 256) as u8, 200, 255])
        .collect();
    let picture = Screenshot::from_bgra(w, h, w * 4, &bgra);
    let sent_png = dir.join("sent.png");
    picture.save_png(&sent_png);
    let _p = CopiedPicture::on(&screen.display, &sent_png);
    helper.wait_event(T, |e| matches!(e, Event::ClipboardReceived { .. }));
    let got_png = dir.join("got.png");
    let deadline = std::time::Instant::now() + T;
    let pasted_picture = loop {
        let out = Command::new("xclip")
            .args(["-selection", "clipboard", "-target", "image/png", "-out"])
            .env("DISPLAY", &desk.display)
            .output()
            .expect("xclip");
        if out.status.success() && out.stdout.starts_with(b"\x89PNG") {
            std::fs::write(&got_png, &out.stdout).expect("write");
            break Screenshot::load_png(&got_png);
        }
        assert!(std::time::Instant::now() < deadline, "no picture pasted");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!((pasted_picture.width, pasted_picture.height), (w, h));
    assert_eq!(pasted_picture.rgb, picture.rgb, "the same pixels");
    let _ = std::fs::remove_dir_all(&dir);

    // The person stops it: both are told, and a new copy stays where it was made.
    sharer.type_line("/clipboard off");
    helper.wait_event(T, |e| {
        matches!(e, Event::ClipboardStopped { by: Role::Sharer })
    });
    let _late = Copied::on(&desk.display, "after the revoke");
    let crossed = sharer.count_for(QUIET, |v| v["event"] == "clipboard_received");
    assert_eq!(crossed, 0, "a copy crossed after the revoke");
    assert_ne!(
        pasted(&screen.display).as_deref(),
        Some("after the revoke"),
        "a copy crossed after the revoke"
    );

    helper.type_line("/end");
    helper.wait_for("ended", T);
    sharer.wait_for("ended", T);
}

/// On a wlroots desktop the sharer's clipboard is reached through the data-control
/// protocol (no X server there): sway, with `wl-copy` and `wl-paste` as the person's copy
/// and paste.
#[test]
fn copies_cross_on_sway_through_the_data_control_protocol() {
    use tandem_tests::sway::SwayDesktop;
    use tandem_tests::wayland::WaylandDesktop;

    let desktop = SwayDesktop::start(1280, 720);
    let desk = Xvfb::start(&[(640, 480)]);
    let rv = Rendezvous::start(&[]);
    let mut helper = helper_on(&desk.display, &rv);
    let code = helper.code(T);
    let mut sharer = Peer::spawn_command(
        "sharer",
        desktop.tandem(),
        &["share", "--json", "--rendezvous", &rv.url, &code],
    );
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    helper.wait_for("frame_received", T);
    helper.type_line("/clipboard");
    sharer.wait_for("clipboard_requested", T);
    sharer.type_line("y");
    helper.wait_for("clipboard_granted", T);

    // The person on sway copies a line: the helper pastes it.
    let line = "journalctl -b -u cups";
    let copied = desktop
        .command(&"wl-copy")
        .arg(line)
        .status()
        .expect("wl-copy (apt install wl-clipboard)");
    assert!(copied.success());
    helper.wait_event(
        T,
        |e| matches!(e, Event::ClipboardReceived { bytes } if *bytes == line.len()),
    );
    wait_pasted(&desk.display, line);

    // The helper copies: the person on sway pastes it.
    let reply = "lpstat -p -d";
    let _c = Copied::on(&desk.display, reply);
    sharer.wait_event(
        T,
        |e| matches!(e, Event::ClipboardReceived { bytes } if *bytes == reply.len()),
    );
    let deadline = std::time::Instant::now() + T;
    loop {
        let out = desktop
            .command(&"wl-paste")
            .arg("--no-newline")
            .output()
            .expect("wl-paste");
        let pasted = String::from_utf8_lossy(&out.stdout).into_owned();
        if pasted == reply {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sway pasted {pasted:?}, wanted {reply:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    helper.type_line("/end");
    helper.wait_for("ended", T);
    sharer.wait_for("ended", T);
}
