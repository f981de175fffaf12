//! The sharer on Wayland: GNOME (mutter 43, headless) through the real ScreenCast portal
//! (`xdg-desktop-portal-gnome`) and PipeWire, the portal's dialog answered with the
//! desktop's own keyboard, as the person would.

use std::time::Duration;

use tandem::media::frame::BgraFrame;
use tandem_tests::gui::Screenshot;
use tandem_tests::wayland::{GnomeDesktop, WaylandDesktop};
use tandem_tests::xvfb::known_picture;
use tandem_tests::{helper_with_code, Peer, Rendezvous};

const T: Duration = Duration::from_secs(60);
const TAB: u32 = 0xff09;
const RETURN: u32 = 0xff0d;
const SPACE: u32 = 0x20;
/// GNOME 43's "Remote desktop" dialog, by its focus order: the monitor (chosen already),
/// the "Allow remote interaction" row, its switch, Cancel, Share.
const SHARE_VIEW_ONLY: [u32; 6] = [TAB, TAB, TAB, TAB, TAB, RETURN];
const SHARE_WITH_INPUT: [u32; 7] = [TAB, TAB, TAB, SPACE, TAB, TAB, RETURN];
const CANCEL: [u32; 5] = [TAB, TAB, TAB, TAB, RETURN];

fn out_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("wayland-e2e")
}

fn save(frame: &BgraFrame, name: &str) -> Screenshot {
    let shot = Screenshot::from_bgra(frame.width, frame.height, frame.stride, &frame.data);
    shot.save_png(&out_dir().join(name));
    shot
}

/// Whether the portal's dialog is on `shot` (the dark grey of its title, where mutter's
/// background is blue, the recorder's window blank and the known picture's blocks
/// coloured).
fn dialog_shown(desktop: &GnomeDesktop, shot: &Screenshot) -> bool {
    let title = |(r, g, b): (u8, u8, u8)| {
        r < 100 && r.abs_diff(g) < 16 && g.abs_diff(b) < 16 && r.abs_diff(b) < 16
    };
    shot.count_near((desktop.width / 2, desktop.height / 2 - 128), 60, title) > 50
}

/// Waits until the portal's dialog is on the screen and has settled, and returns a picture
/// of it. Settled means the same picture three times in a row: under load the dialog is
/// drawn before its opening animation ends and before it has the keyboard focus (its
/// header bar is drawn again when it gets it), and keys pressed then go to the window
/// behind it — one lost Tab and Return lands on Cancel.
fn wait_for_dialog(desktop: &GnomeDesktop) -> Screenshot {
    let deadline = std::time::Instant::now() + T;
    let mut last: Option<Screenshot> = None;
    let mut same = 0;
    loop {
        let shot = save(&desktop.screenshot(), "1-portal-dialog.png");
        if dialog_shown(desktop, &shot) {
            same = match &last {
                Some(previous) if previous.psnr(&shot) > 100.0 => same + 1,
                _ => 0,
            };
            if same >= 2 {
                return shot;
            }
            last = Some(shot);
        } else {
            last = None;
            same = 0;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no settled portal dialog"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Whether the dialog's "Allow remote interaction" switch is on (GNOME's accent blue where
/// the switch is grey when off).
fn remote_interaction_on(desktop: &GnomeDesktop) -> bool {
    let shot = Screenshot::from_bgra_frame(&desktop.screenshot());
    let accent = |(r, g, b): (u8, u8, u8)| b > 180 && r < 120 && g > 90 && g < 170;
    shot.count_near(
        (desktop.width / 2 + 190, desktop.height / 2 + 72),
        20,
        accent,
    ) > 50
}

/// Answers the dialog "Share, with remote interaction", checking the switch is on before
/// pressing Share (a missed key would otherwise press Cancel, and the test would fail
/// for a reason that is not Tandem's).
fn share_with_input(desktop: &GnomeDesktop) {
    desktop.press_keys(&SHARE_WITH_INPUT[..4]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !remote_interaction_on(desktop) {
        assert!(
            std::time::Instant::now() < deadline,
            "the dialog's switch did not turn on: see {}",
            out_dir().join("1-portal-dialog.png").display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    desktop.press_keys(&SHARE_WITH_INPUT[4..]);
}

/// Waits until the dialog is gone from the screen, as the person would before using it.
fn wait_for_dialog_gone(desktop: &GnomeDesktop) {
    let deadline = std::time::Instant::now() + T;
    while dialog_shown(desktop, &Screenshot::from_bgra_frame(&desktop.screenshot())) {
        assert!(
            std::time::Instant::now() < deadline,
            "the portal dialog stays"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn share_on(desktop: &GnomeDesktop, rv: &Rendezvous, code: &str) -> Peer {
    let mut sharer = Peer::spawn_command(
        "sharer",
        desktop.tandem(),
        &["share", "--json", "--rendezvous", &rv.url, code],
    );
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    sharer
}

#[test]
fn a_gnome_wayland_screen_reaches_the_helper_through_the_portal_and_pipewire() {
    let (w, h) = (1280, 720);
    let desktop = GnomeDesktop::start(w, h);
    // A Wayland-native window shows the known picture of the X11 screen tests.
    let picture = desktop.runtime_dir().join("known.png");
    let known = Screenshot::from_bgra(w, h, w * 4, &known_picture(w, h));
    known.save_png(&picture);
    let _window = desktop.input_recorder_showing(Some(&picture));
    let rv = Rendezvous::start(&[]);
    let out = out_dir().join("helper-frame.png");
    let _ = std::fs::create_dir_all(out_dir());
    let out_arg = out.to_string_lossy().to_string();
    let mut helper = Peer::assist(&rv.url, "Anna Rossi", &["--save-frame", &out_arg]);
    let code = helper.code(T);
    // `--capture auto` on a Wayland session: the portal.
    let mut sharer = share_on(&desktop, &rv, &code);
    wait_for_dialog(&desktop);
    // The person leaves "Allow remote interaction" off and presses Share.
    desktop.press_keys(&SHARE_VIEW_ONLY);

    let monitors = helper.wait_for("monitors", T);
    assert_eq!(monitors["monitors"][0]["width"], 1280, "{monitors}");
    assert_eq!(monitors["monitors"][0]["height"], 720, "{monitors}");
    let first = helper.wait_for("frame_received", T);
    assert_eq!(
        (first["width"].as_u64(), first["height"].as_u64()),
        (Some(1280), Some(720))
    );
    // The person did not allow remote interaction: control is not possible, and the
    // helper is told so.
    helper.type_line("/control");
    let declined = helper.wait_for("control_declined", T);
    assert_eq!(declined["reason"], "not_possible", "{declined}");

    // A still screen: refined for a moment, then nothing is sent.
    helper.count_for(Duration::from_millis(2000), |v| {
        v["event"] == "frame_received"
    });
    let idle = helper.count_for(Duration::from_millis(2000), |v| {
        v["event"] == "frame_received"
    });
    assert_eq!(idle, 0, "an unchanged Wayland screen kept sending frames");

    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());

    let screen = save(&desktop.screenshot(), "2-desktop.png");
    // The compositor shows the picture as it is…
    let shown = known.psnr(&screen);
    assert!(
        shown > 40.0,
        "the window shows the picture: PSNR {shown:.1} dB"
    );
    // …and the helper gets it.
    let got = Screenshot::load_png(&out);
    let quality = known.psnr(&got);
    eprintln!("PSNR of the Wayland screen on the helper: {quality:.1} dB");
    assert!(quality > 30.0, "PSNR {quality:.1} dB");
    for (fx, fy, rgb) in [
        (0.2, 0.2, (220u8, 30u8, 30u8)),
        (0.5, 0.2, (30, 200, 40)),
        (0.8, 0.2, (30, 60, 220)),
    ] {
        let (px, py) = ((fx * f64::from(w)) as u32, (fy * f64::from(h)) as u32);
        let p = got.pixel(px, py);
        let close =
            p.0.abs_diff(rgb.0) < 20 && p.1.abs_diff(rgb.1) < 20 && p.2.abs_diff(rgb.2) < 20;
        assert!(close, "({px}, {py}) is {p:?}, not {rgb:?}");
    }
}

#[test]
fn a_cancelled_portal_dialog_ends_the_share_with_clear_words() {
    let desktop = GnomeDesktop::start(1280, 720);
    let rv = Rendezvous::start(&[]);
    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = share_on(&desktop, &rv, &code);
    wait_for_dialog(&desktop);
    desktop.press_keys(&CANCEL);
    let error = sharer.wait_for("error", T);
    let message = error["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("not allowed"), "{error}");
    let _ = sharer.wait_exit(T);
    let ended = helper.wait_for("ended", T);
    assert_eq!(
        ended["reason"], "declined",
        "the helper is told why: {ended}"
    );
}

/// The helper asks, the person on the sharer's side says yes.
fn take_control(helper: &mut Peer, sharer: &mut Peer) {
    helper.take_control(sharer, T);
}

fn key_events(events: &[serde_json::Value]) -> Vec<(u64, bool)> {
    events
        .iter()
        .filter(|e| e["event"] == "key")
        .map(|e| (e["keycode"].as_u64().unwrap_or(0), e["down"] == true))
        .collect()
}

#[test]
fn the_helper_clicks_and_types_on_gnome_through_the_remote_desktop_portal() {
    let desktop = GnomeDesktop::start(1280, 720);
    // A Wayland-native window, full screen: window coordinates are screen coordinates.
    let recorder = desktop.input_recorder();
    let rv = Rendezvous::start(&[]);
    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = share_on(&desktop, &rv, &code);
    save(
        &wait_for_dialog(&desktop).into_bgra(),
        "1-portal-dialog-remote.png",
    );
    share_with_input(&desktop);
    helper.wait_for("monitors", T);
    helper.wait_for("frame_received", T);
    wait_for_dialog_gone(&desktop);
    // The dialog's keys are not the helper's.
    recorder.clear();

    // Nothing lands before the person grants control. (The input travels on its own
    // stream: it is given time to arrive, and be refused, before the grant.)
    helper.type_line("/click 300 200");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !recorder.events().iter().any(|v| v["event"] == "button"),
        "input without a grant: {:?}",
        recorder.events()
    );
    take_control(&mut helper, &mut sharer);
    // Each click where the pointer already is, as a person's hand would: the helper sees
    // the pointer arrive (the compositor's own report), then clicks.
    for (x, y, button) in [(200, 100, ""), (640, 360, " right")] {
        helper.type_line(&format!("/move {x} {y}"));
        helper
            .wait_until(T, |v| v["event"] == "cursor" && v["x"] == x && v["y"] == y)
            .unwrap_or_else(|| panic!("pointer at ({x}, {y}) not seen: {}", helper.history()));
        helper.type_line(&format!("/click {x} {y}{button}"));
    }
    recorder.wait_until(T, "two clicks", |e| {
        e.iter().filter(|v| v["event"] == "button").count() >= 4
    });
    let clicks: Vec<(u64, bool, i64, i64)> = recorder
        .events()
        .iter()
        .filter(|v| v["event"] == "button")
        .map(|v| {
            (
                v["button"].as_u64().unwrap_or(0),
                v["down"] == true,
                v["x"].as_i64().unwrap_or(-1),
                v["y"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(
        clicks,
        vec![
            (1, true, 200, 100),
            (1, false, 200, 100),
            (3, true, 640, 360),
            (3, false, 640, 360)
        ],
        "only the clicks after the grant, where the helper pointed"
    );
    // The pointer travels as its own layer (PipeWire's cursor metadata): its position was
    // seen above, and its picture.
    let shape = match helper.find("cursor_shape") {
        Some(shape) => shape.clone(),
        None => helper.wait_for("cursor_shape", T),
    };
    let (sw, sh) = (
        shape["width"].as_u64().unwrap_or(0),
        shape["height"].as_u64().unwrap_or(0),
    );
    assert!(sw > 0 && sh > 0 && sw <= 256 && sh <= 256, "{shape}");

    // Physical keys: Q and the key right of L (evdev 16 and 39, +8 as Wayland sends them).
    recorder.clear();
    helper.type_line("/key KeyQ Semicolon");
    recorder.wait_until(T, "two keys", |e| key_events(e).len() >= 4);
    assert_eq!(
        key_events(&recorder.events()),
        vec![(24, true), (24, false), (47, true), (47, false)]
    );
    let names: Vec<String> = recorder
        .events()
        .iter()
        .filter(|v| v["event"] == "key" && v["down"] == true)
        .map(|v| v["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        names,
        ["q", "semicolon"],
        "the sharer's (US) layout applies"
    );

    // A key held when the person revokes control is released.
    recorder.clear();
    helper.type_line("/keydown KeyA");
    recorder.wait_until(T, "a held", |e| key_events(e) == [(38, true)]);
    sharer.type_line("/revoke");
    recorder.wait_until(T, "a released on revoke", |e| {
        key_events(e) == [(38, true), (38, false)]
    });
    // And nothing more lands after it.
    helper.type_line("/click 10 10");
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());
    assert!(
        !recorder.events().iter().any(|v| v["event"] == "button"),
        "input after the revoke: {:?}",
        recorder.events()
    );
}

#[test]
fn either_side_can_end_while_the_desktop_dialog_is_up() {
    let desktop = GnomeDesktop::start(1280, 720);
    let rv = Rendezvous::start(&[]);
    // The sharer ends: both are told at once, and the dialog goes with the app.
    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = share_on(&desktop, &rv, &code);
    wait_for_dialog(&desktop);
    sharer.type_line("/end");
    assert_eq!(sharer.wait_for("ended", T)["reason"], "sharer_ended");
    assert!(sharer.wait_exit(T).success());
    assert_eq!(helper.wait_for("ended", T)["reason"], "sharer_ended");
    wait_for_dialog_gone(&desktop);

    // The helper ends: the sharer is told while the person is still looking at the dialog.
    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = share_on(&desktop, &rv, &code);
    wait_for_dialog(&desktop);
    helper.type_line("/end");
    assert_eq!(sharer.wait_for("ended", T)["reason"], "helper_ended");
    assert!(sharer.wait_exit(T).success());
    wait_for_dialog_gone(&desktop);
}
