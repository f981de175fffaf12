//! The sharer on a wlroots desktop: sway (headless, software rendering) through its own
//! protocols — the screen by wlr-screencopy, input by the virtual pointer and keyboard —
//! with a Wayland-native window that shows a known picture and records what it receives.

use std::time::Duration;

use tandem_tests::gui::Screenshot;
use tandem_tests::sway::{PluggedKeyboard, SwayDesktop};
use tandem_tests::wayland::{InputRecorder, WaylandDesktop};
use tandem_tests::xvfb::known_picture;
use tandem_tests::{helper_with_code, Peer, Rendezvous};

const T: Duration = Duration::from_secs(60);

fn out_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sway-e2e")
}

fn share_on(desktop: &SwayDesktop, rv: &Rendezvous, code: &str) -> Peer {
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
fn a_sway_screen_reaches_the_helper_through_screencopy() {
    let (w, h) = (1280, 720);
    let desktop = SwayDesktop::start(w, h);
    let picture = desktop.runtime_dir().join("known.png");
    let known = Screenshot::from_bgra(w, h, w * 4, &known_picture(w, h));
    known.save_png(&picture);
    let _window = desktop.input_recorder_showing(Some(&picture));

    // What can be shared, without a dialog: the compositor's outputs.
    let listed = desktop
        .tandem()
        .args(["screens", "--json"])
        .output()
        .expect("tandem screens");
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    let lines: Vec<serde_json::Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines[0]["capture"]["method"], "wlr-screencopy", "{listed}");
    let monitor = &lines[1];
    assert_eq!(monitor["monitor"]["name"], "HEADLESS-1", "{listed}");
    assert_eq!(monitor["monitor"]["width"], 1280, "{listed}");

    let rv = Rendezvous::start(&[]);
    let _ = std::fs::create_dir_all(out_dir());
    let out = out_dir().join("helper-frame.png");
    let out_arg = out.to_string_lossy().to_string();
    let mut helper = Peer::assist(&rv.url, "Anna Rossi", &["--save-frame", &out_arg]);
    let code = helper.code(T);
    // `--capture auto` on sway: the compositor's screencopy.
    let mut sharer = share_on(&desktop, &rv, &code);
    let monitors = helper.wait_for("monitors", T);
    assert_eq!(monitors["monitors"][0]["width"], 1280, "{monitors}");
    assert_eq!(monitors["monitors"][0]["height"], 720, "{monitors}");
    let first = helper.wait_for("frame_received", T);
    assert_eq!(
        (first["width"].as_u64(), first["height"].as_u64()),
        (Some(1280), Some(720))
    );

    // A still screen: refined for a moment, then nothing is sent (the compositor answers a
    // copy-with-damage only when something is drawn).
    helper.count_for(Duration::from_millis(2000), |v| {
        v["event"] == "frame_received"
    });
    let idle = helper.count_for(Duration::from_millis(2000), |v| {
        v["event"] == "frame_received"
    });
    assert_eq!(idle, 0, "an unchanged sway screen kept sending frames");

    // A monitor plugged in during the session is offered to the helper, who can show it.
    desktop.swaymsg(&["create_output"]);
    desktop.swaymsg(&["output", "HEADLESS-2", "mode", "800x600"]);
    let two = helper
        .wait_until(T, |v| {
            v["event"] == "monitors"
                && v["monitors"][1]["name"] == "HEADLESS-2"
                && v["monitors"][1]["width"] == 800
        })
        .unwrap_or_else(|| panic!("no second monitor: {}", helper.history()));
    let added = two["monitors"][1]["id"].clone();
    helper.type_line(&format!("/monitor {added}"));
    helper
        .wait_until(T, |v| v["event"] == "frame_received" && v["width"] == 800)
        .unwrap_or_else(|| panic!("no frame of the new monitor: {}", helper.history()));
    let first = monitors["monitors"][0]["id"].clone();
    helper.type_line(&format!("/monitor {first}"));
    helper
        .wait_until(T, |v| v["event"] == "frame_received" && v["width"] == 1280)
        .unwrap_or_else(|| panic!("no frame of the first monitor: {}", helper.history()));
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());

    let screen = desktop.screenshot();
    screen.save_png(&out_dir().join("desktop.png"));
    let shown = known.psnr(&screen);
    assert!(shown > 40.0, "sway shows the picture: PSNR {shown:.1} dB");
    let got = Screenshot::load_png(&out);
    let quality = known.psnr(&got);
    eprintln!("PSNR of the sway screen on the helper: {quality:.1} dB");
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

fn pressed_names(recorder: &InputRecorder) -> Vec<String> {
    recorder
        .events()
        .iter()
        .filter(|v| v["event"] == "key" && v["down"] == true)
        .map(|v| v["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A session with control granted, on a desktop whose keyboard has `layout` (`None`: no
/// keyboard plugged in, the compositor's default).
struct Controlled {
    _desktop: SwayDesktop,
    recorder: InputRecorder,
    helper: Peer,
    sharer: Peer,
    _rv: Rendezvous,
    _keyboard: Option<PluggedKeyboard>,
}

fn controlled_session(layout: Option<&str>) -> Controlled {
    let desktop = SwayDesktop::start(1280, 720);
    let recorder = desktop.input_recorder();
    // The person's keyboard stays plugged in for the session.
    let keyboard = layout.map(|layout| desktop.plug_keyboard(layout));
    let rv = Rendezvous::start(&[]);
    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = share_on(&desktop, &rv, &code);
    helper.wait_for("frame_received", T);
    recorder.clear();
    // Nothing lands before the person grants control. (The input travels on its own
    // stream: it is given time to arrive, and be refused, before the grant.)
    helper.type_line("/click 300 200");
    helper.type_line("/key KeyB");
    std::thread::sleep(Duration::from_millis(500));
    let before = recorder.events();
    assert!(
        !before
            .iter()
            .any(|v| v["event"] == "key" || v["event"] == "button"),
        "input without a grant: {before:?}"
    );
    take_control(&mut helper, &mut sharer);
    Controlled {
        _desktop: desktop,
        recorder,
        helper,
        sharer,
        _rv: rv,
        _keyboard: keyboard,
    }
}

#[test]
fn the_helper_clicks_scrolls_and_types_on_sway_and_a_revoke_releases_held_keys() {
    // Bound whole: the desktop and the keyboard live to the end of the test.
    let Controlled {
        _desktop,
        recorder,
        mut helper,
        mut sharer,
        _rv,
        _keyboard,
    } = controlled_session(None);
    for (x, y, button) in [(200, 100, ""), (640, 360, " right")] {
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
    helper.type_line("/wheel 0 2");
    recorder.wait_until(T, "a scroll down", |e| {
        e.iter()
            .any(|v| v["event"] == "scroll" && v["dy"].as_f64() > Some(0.0))
    });

    // Physical keys: Q and the key right of L (evdev 16 and 39, +8 as Wayland sends them),
    // under the compositor's default (US) layout; Shift applies.
    recorder.clear();
    helper.type_line("/key KeyQ Semicolon ShiftLeft+KeyQ");
    recorder.wait_until(T, "three keys", |e| {
        key_events(e).iter().filter(|(_, down)| *down).count() >= 4
    });
    assert_eq!(pressed_names(&recorder), ["q", "semicolon", "Shift_L", "Q"]);
    assert_eq!(
        key_events(&recorder.events())[..4],
        [(24, true), (24, false), (47, true), (47, false)]
    );

    // A key held when the person revokes control is released.
    recorder.wait_until(T, "shift released", |e| {
        key_events(e).last() == Some(&(50, false))
    });
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
fn keys_follow_the_layout_of_the_sharers_own_keyboard_on_sway() {
    // A German keyboard: the key right of T is Z, the key right of L is Ö.
    // Bound whole: the desktop and the keyboard live to the end of the test.
    let Controlled {
        _desktop,
        recorder,
        mut helper,
        mut sharer,
        _rv,
        _keyboard,
    } = controlled_session(Some("de"));
    helper.type_line("/key KeyY Semicolon ShiftLeft+KeyY");
    recorder.wait_until(T, "three keys", |e| {
        key_events(e).iter().filter(|(_, down)| *down).count() >= 4
    });
    assert_eq!(
        pressed_names(&recorder),
        ["z", "odiaeresis", "Shift_L", "Z"],
        "the sharer's layout applies to the physical keys"
    );
    // Text typed as keys: each character with the key (and Shift) of the German layout
    // that makes it, every key let go.
    recorder.clear();
    helper.type_line("/type Zö?");
    recorder.wait_until(T, "the text", |e| {
        key_events(e).iter().filter(|(_, down)| !*down).count() >= 5
    });
    assert_eq!(
        pressed_names(&recorder),
        ["Shift_L", "Z", "odiaeresis", "Shift_L", "question"],
    );
    let keys = key_events(&recorder.events());
    assert_eq!(
        keys.iter().filter(|(_, down)| *down).count(),
        keys.iter().filter(|(_, down)| !*down).count(),
        "{keys:?}"
    );
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());
}
