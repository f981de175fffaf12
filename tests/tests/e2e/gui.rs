//! The real `tandem` windows on two virtual displays, driven by clicks and typing through
//! XTest: the helper gets a code and copies it, the sharer types it and allows, the viewer
//! shows the sharer's screen, a pen stroke appears on the sharer's screen, End brings both
//! back home. Screenshots of each step go to target/gui-e2e/.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tandem::gui::app::{ControlState, Screen, SharerControl, Viewer};
use tandem_tests::gui::{
    clipboard_text, locate, locate_id, stacking, wait_for_screen, Hands, Screenshot, BAR, WINDOW,
};
use tandem_tests::xrecord::{EventRecorder, Recorded};
use tandem_tests::xvfb::{known_picture, Painter, Xvfb};
use tandem_tests::{bin, Rendezvous};

const T: Duration = Duration::from_secs(30);

struct Window(Child);

impl Window {
    fn open(display: &str, rendezvous: &str, helper: Option<&str>) -> Self {
        Self::open_with(display, rendezvous, helper, &["--theme", "light"])
    }

    fn open_with(display: &str, rendezvous: &str, helper: Option<&str>, args: &[&str]) -> Self {
        let mut cmd = Command::new(bin("tandem"));
        cmd.args(["gui", "--rendezvous", rendezvous, "--lang", "en"])
            .args(args)
            .env("DISPLAY", display)
            // Software rendering: no GPU here, and stable pixels.
            .env("ICED_BACKEND", "tiny-skia")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(name) = helper {
            cmd.args(["--dev-identity", name]);
        }
        Self(cmd.spawn().expect("tandem gui"))
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn out_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("gui-e2e")
}

fn near(a: (u8, u8, u8), b: (u8, u8, u8), tolerance: u8) -> bool {
    a.0.abs_diff(b.0) <= tolerance
        && a.1.abs_diff(b.1) <= tolerance
        && a.2.abs_diff(b.2) <= tolerance
}

fn count(
    shot: &Screenshot,
    region: (u32, u32, u32, u32),
    colour: (u8, u8, u8),
    tolerance: u8,
) -> usize {
    let (x0, y0, x1, y1) = region;
    let mut n = 0;
    for y in y0..y1.min(shot.height) {
        for x in x0..x1.min(shot.width) {
            if near(shot.pixel(x, y), colour, tolerance) {
                n += 1;
            }
        }
    }
    n
}

/// The light palette's window background (`style::light_theme`).
const BACKGROUND: (u8, u8, u8) = (247, 248, 250);
/// The pen's default colour (annotation::PenColour::Red).
const PEN_RED: (u8, u8, u8) = (230, 30, 40);
/// The known picture's blocks.
const BLOCK_RED: (u8, u8, u8) = (220, 30, 30);
const BLOCK_GREEN: (u8, u8, u8) = (30, 200, 40);
const BLOCK_BLUE: (u8, u8, u8) = (30, 60, 220);
/// The border around the shared monitor: amber while shared, red while controlled.
const BORDER_SHARED: (u8, u8, u8) = (245, 158, 11);
const BORDER_CONTROLLED: (u8, u8, u8) = (220, 38, 38);

/// The sharer's monitor (1280×800) has the border in `colour` on all four sides (the
/// top-left corner is under the sharer's bar, which stays above it).
fn bordered(s: &Screenshot, colour: (u8, u8, u8)) -> bool {
    [
        (2, 400),
        (1277, 400),
        (640, 2),
        (640, 797),
        (1278, 1),
        (1, 798),
        (1278, 798),
    ]
    .into_iter()
    .all(|(x, y)| near(s.pixel(x, y), colour, 6))
}

/// Whether a primary (blue) button is drawn at `at` (its label's letters are white, so
/// look at the area around the centre).
fn primary_button_at(shot: &Screenshot, at: (i16, i16)) -> bool {
    let at = (at.0 as u32, at.1 as u32);
    shot.count_near(at, 10, |(r, g, b)| b > 200 && r < 120 && g < 140) > 150
}

/// The helper's code screen (where its buttons are does not depend on the code).
fn code_screen() -> Screen {
    Screen::HelperCode {
        code: Some("ABC-DEF-GH3".into()),
        expires_at: None,
        joined: false,
        copied: false,
        replaced: None,
    }
}

fn home() -> Screen {
    Screen::Home {
        code: String::new(),
        error: None,
        notice: None,
    }
}

#[test]
fn a_whole_session_through_the_windows() {
    whole_session(false);
}

/// With a compositor the overlay is a transparent window instead of a shaped one.
#[test]
fn a_whole_session_through_the_windows_with_a_compositor() {
    whole_session(true);
}

struct Compositor(Child);

impl Drop for Compositor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn whole_session(compositor: bool) {
    let sharer_x = Xvfb::start(&[(1280, 800)]);
    let helper_x = Xvfb::start(&[(1280, 800)]);
    let _compositor = compositor.then(|| {
        let child = Command::new("xcompmgr")
            .arg("-n")
            .env("DISPLAY", &sharer_x.display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run xcompmgr ({e}): run scripts/setup-deps.sh test")
            });
        // Until it owns the compositing selection, windows would not know it is there.
        std::thread::sleep(Duration::from_millis(500));
        Compositor(child)
    });
    let out_dir = || out_dir().join(if compositor { "composited" } else { "shaped" });
    let painter = Painter::open(&sharer_x.display, 0);
    let picture = known_picture(1280, 800);
    painter.show(&picture);
    let rv = Rendezvous::start(&[]);
    let _sharer = Window::open(&sharer_x.display, &rv.url, None);
    let _helper = Window::open(&helper_x.display, &rv.url, Some("Anna Rossi"));
    let window_area = (0, 0, WINDOW.0 as u32, WINDOW.1 as u32);
    let is_window = |s: &Screenshot| {
        near(s.pixel(5, 5), BACKGROUND, 2) && near(s.pixel(890, 630), BACKGROUND, 2)
    };
    wait_for_screen(&helper_x.display, T, "the helper's window", is_window);
    wait_for_screen(&sharer_x.display, T, "the sharer's window", is_window);
    let helper = Hands::new(&helper_x.display);
    let sharer = Hands::new(&sharer_x.display);

    // Helper: "Help someone", then "Copy" once the code shows.
    helper.click(locate(home(), WINDOW, "Help someone"));
    let copy = locate(code_screen(), WINDOW, "Copy");
    let deadline = Instant::now() + T;
    let code = loop {
        std::thread::sleep(Duration::from_millis(500));
        helper.click(copy);
        if let Some(code) = clipboard_text(&helper_x.display).filter(|c| c.len() == 11) {
            break code;
        }
        assert!(
            Instant::now() < deadline,
            "no code on the helper's clipboard"
        );
    };
    Screenshot::take(&helper_x.display).save_png(&out_dir().join("1-helper-code.png"));

    // Sharer: types it as heard on the phone and presses Enter.
    sharer.click(locate_id(home(), WINDOW, "code"));
    sharer.type_text(&code.to_lowercase().replace('-', " "));
    sharer.enter();
    // The demo's helper names itself (a dev identity): the dialog says it is not verified.
    let consent = Screen::SharerConsent {
        helper_name: "Anna R.".into(),
        affiliation: None,
    };
    let allow = locate(consent, WINDOW, "Allow");
    // The Allow button is the one primary (blue) button on that screen.
    let shot = wait_for_screen(&sharer_x.display, T, "the consent dialog", |s| {
        primary_button_at(s, allow)
    });
    shot.save_png(&out_dir().join("2-sharer-consent.png"));
    sharer.click(allow);
    // The sharer's window shrinks to its bar; the desktop under it repaints (our painter
    // does not handle Expose, so it is told).
    std::thread::sleep(Duration::from_millis(700));
    painter.show(&picture);
    // While shared, a border around the shared monitor says so, over everything but the bar.
    let shot = wait_for_screen(&sharer_x.display, T, "the shared monitor's border", |s| {
        bordered(s, BORDER_SHARED)
    });
    shot.save_png(&out_dir().join("2b-sharer-shared-border.png"));

    // The helper sees the sharer's screen: the known picture's three blocks, scaled.
    let shot = wait_for_screen(
        &helper_x.display,
        T,
        "the sharer's screen in the viewer",
        |s| {
            [BLOCK_RED, BLOCK_GREEN, BLOCK_BLUE]
                .iter()
                .all(|&c| count(s, window_area, c, 12) > 3000)
        },
    );
    shot.save_png(&out_dir().join("3-helper-viewer.png"));

    // A pen stroke in the viewer appears on the sharer's real screen (no compositor here:
    // the overlay window is cut to the stroke).
    // The window is narrower than the one-row toolbar: the pen is in "More".
    let viewer = |more_open| {
        Screen::Viewer(Box::new(Viewer {
            consented: true,
            fit: true,
            more_open,
            ..Viewer::default()
        }))
    };
    helper.click(locate(viewer(false), WINDOW, "More"));
    helper.click(locate(viewer(true), WINDOW, "Pen"));
    helper.drag(&[(250, 450), (350, 470), (450, 490), (550, 510), (650, 530)]);
    let whole = (0, 0, 1280, 800);
    wait_for_screen(
        &sharer_x.display,
        T,
        "the stroke on the sharer's screen",
        |s| count(s, whole, PEN_RED, 3) > 300,
    );
    // The desktop repaints what the overlay window exposed; the overlay must not hide it.
    painter.show(&picture);
    let shot = Screenshot::take(&sharer_x.display);
    assert!(
        count(&shot, whole, PEN_RED, 3) > 300,
        "the stroke stays on top"
    );
    shot.save_png(&out_dir().join("4-sharer-annotation.png"));
    // The overlay is above every window but the sharer's own bar: a drawing never hides
    // (or imitates) its Pause and End.
    let stack = stacking(&sharer_x.display);
    let overlay = stack
        .iter()
        .position(|(_, class)| class.contains("overlay"));
    let bar = stack
        .iter()
        .position(|(_, class)| !class.contains("overlay") && class.contains("andem"));
    assert!(
        matches!((overlay, bar), (Some(o), Some(b)) if b > o),
        "the bar is under the overlay: {stack:?}"
    );
    assert!(
        count(&shot, whole, BLOCK_RED, 3) > 10_000,
        "the rest of the sharer's screen stays visible under the overlay"
    );
    Screenshot::take(&helper_x.display).save_png(&out_dir().join("5-helper-annotation.png"));

    // Remote control through the windows: the helper asks, the sharer's bar asks the
    // person, and then the helper's clicks and keys in the viewer land on the sharer's
    // screen where the helper pointed.
    // The pen off: the pointer again.
    helper.click(locate(viewer(false), WINDOW, "More"));
    helper.click(locate(viewer(true), WINDOW, "Pen"));
    helper.click(locate(viewer(false), WINDOW, "Request control"));
    let asked = Screen::Sharing {
        helper_name: "Anna R.".into(),
        control: SharerControl::Asked,
        clipboard: SharerControl::None,
        paused_by: None,
        secure_desktop: false,
        reconnecting: false,
    };
    let allow_control = locate(asked, BAR, "Allow");
    let shot = wait_for_screen(
        &sharer_x.display,
        T,
        "the control request in the bar",
        |s| primary_button_at(s, allow_control),
    );
    shot.save_png(&out_dir().join("5b-sharer-control-request.png"));
    sharer.click(allow_control);
    // Controlled: the border turns red.
    wait_for_screen(
        &sharer_x.display,
        T,
        "the border of a controlled screen",
        |s| bordered(s, BORDER_CONTROLLED),
    );
    std::thread::sleep(Duration::from_millis(800));
    let recorder = EventRecorder::start(&sharer_x.display, 0);
    // Where the picture sits in the helper's window: its top edge is the sharer's border
    // (red now: control is granted), in the middle column; it is fitted below the toolbar
    // and the notice line, above the status line: its size is what lies between its top
    // and bottom edges.
    let shot = Screenshot::take(&helper_x.display);
    let top = (40..400)
        .find(|&y| near(shot.pixel(450, y), BORDER_CONTROLLED, 40))
        .expect("the picture's top edge in the viewer");
    let bottom = (top + 100..WINDOW.1 as u32)
        .rev()
        .find(|&y| near(shot.pixel(450, y), BORDER_CONTROLLED, 40))
        .expect("the picture's bottom edge in the viewer");
    let (top, w) = (f64::from(top), f64::from(WINDOW.0));
    let scale = (f64::from(bottom) + 1.0 - top) / 800.0;
    let left = (w - 1280.0 * scale) / 2.0;
    let to_window = |x: f64, y: f64| ((left + x * scale) as i16, (top + y * scale) as i16);
    helper.click(to_window(640.0, 400.0));
    recorder.wait_until(T, "the helper's click", |e| {
        e.iter()
            .any(|e| matches!(e, Recorded::Button { down: true, .. }))
    });
    let press = recorder
        .presses()
        .into_iter()
        .find(|e| matches!(e, Recorded::Button { down: true, .. }));
    let Some(Recorded::Button { button, x, y, .. }) = press else {
        panic!("no press")
    };
    assert_eq!(button, 1);
    assert!(
        (x - 640).abs() <= 4 && (y - 400).abs() <= 4,
        "the click landed at ({x}, {y}), not near (640, 400)"
    );
    helper.type_text("q");
    recorder.wait_until(T, "the helper's key", |e| {
        e.iter().any(|e| {
            matches!(
                e,
                Recorded::Key {
                    keysym: 0x71,
                    down: true,
                    ..
                }
            )
        })
    });
    recorder.close();
    painter.show(&picture);

    // End from the helper's toolbar (now saying "Release control"): both back home, the
    // drawing gone.
    let controlling = Screen::Viewer(Box::new(Viewer {
        consented: true,
        fit: true,
        control: Some(ControlState::Granted),
        ..Viewer::default()
    }));
    helper.click(locate(controlling, WINDOW, "End"));
    // Home again, each with a word on how the session ended (which moves the sections).
    let home_saying = |notice: &str| {
        let submit = locate(
            Screen::Home {
                code: String::new(),
                error: None,
                notice: Some(notice.into()),
            },
            WINDOW,
            "Submit",
        );
        move |s: &Screenshot| primary_button_at(s, submit) && near(s.pixel(890, 630), BACKGROUND, 2)
    };
    let helper_home = home_saying("You ended the session.");
    let shot = wait_for_screen(&helper_x.display, T, "the helper back home", helper_home);
    shot.save_png(&out_dir().join("6-helper-home.png"));
    let sharer_home = home_saying("Anna R. ended the session.");
    let shot = wait_for_screen(
        &sharer_x.display,
        T,
        "the sharer back home, drawing and border gone",
        |s| {
            sharer_home(s)
                && count(s, whole, PEN_RED, 3) == 0
                && !bordered(s, BORDER_SHARED)
                && !bordered(s, BORDER_CONTROLLED)
        },
    );
    shot.save_png(&out_dir().join("7-sharer-home.png"));
}

/// Someone who uses no mouse, on a desktop set to dark: the window opens dark, Tab walks
/// from the code box to "Submit" and "Help someone", Enter asks for a code, and on the
/// code's screen Tab and Enter press "Copy" — real key presses through the X server.
#[test]
fn the_keyboard_alone_gets_and_copies_a_code_in_a_dark_window() {
    /// The dark palette's background and accent (`style::dark_theme`).
    const DARK: (u8, u8, u8) = (29, 33, 39);
    const ACCENT: (u8, u8, u8) = (107, 159, 255);
    const TAB: u32 = 0xff09;
    let x = Xvfb::start(&[(1280, 800)]);
    let rv = Rendezvous::start(&[]);
    let _window = Window::open_with(
        &x.display,
        &rv.url,
        Some("Anna Rossi"),
        &["--theme", "dark"],
    );
    let shot = wait_for_screen(&x.display, T, "a dark window", |s| {
        near(s.pixel(5, 5), DARK, 2) && near(s.pixel(890, 630), DARK, 2)
    });
    shot.save_png(&out_dir().join("keyboard-1-home-dark.png"));
    let hands = Hands::new(&x.display);
    // The window gets the keyboard as a window manager would give it: a click on nothing.
    hands.click((450, 600));
    for _ in 0..3 {
        hands.tap(TAB);
    }
    hands.enter();
    let copy = locate(code_screen(), WINDOW, "Copy");
    let shot = wait_for_screen(&x.display, T, "the code's screen", |s| {
        s.count_near((copy.0 as u32, copy.1 as u32), 10, |p| near(p, ACCENT, 12)) > 150
    });
    shot.save_png(&out_dir().join("keyboard-2-code-dark.png"));
    hands.tap(TAB);
    hands.enter();
    let deadline = Instant::now() + T;
    while clipboard_text(&x.display).is_none_or(|c| c.len() != 11) {
        assert!(
            Instant::now() < deadline,
            "the code never reached the clipboard"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The window follows the desktop's light/dark setting, live, as a GNOME desktop states
/// it: GSettings' `color-scheme` (in dconf), read by the real `xdg-desktop-portal` and its
/// GTK backend on a private session bus and passed to the app as
/// `org.freedesktop.appearance color-scheme`. Set to dark, the window opens dark; set back
/// to light while it runs, it turns light.
#[test]
fn the_window_follows_the_desktops_dark_setting_live() {
    const DARK: (u8, u8, u8) = (29, 33, 39);
    let x = Xvfb::start(&[(1280, 800)]);
    let home = tandem_tests::tempdir::Dir::new("tandem-dark-desktop");
    let flip = home.path().join("flip");
    let rv = Rendezvous::start(&[]);
    // One session bus for the desktop's settings, the portal and the app; the setting goes
    // back to light once the test says so (a file), never after a pause.
    let script = format!(
        "gsettings set org.gnome.desktop.interface color-scheme prefer-dark && \
         {tandem} gui --rendezvous {url} --lang en & \
         app=$!; while [ ! -e {flip} ]; do sleep 0.05; done; \
         gsettings set org.gnome.desktop.interface color-scheme prefer-light; wait $app",
        tandem = bin("tandem").display(),
        url = rv.url,
        flip = flip.display(),
    );
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    /// The session's processes (bus, portal and its backend, dconf, the app): one
    /// process group, ended with the test.
    struct Group(Child);
    impl Drop for Group {
        fn drop(&mut self) {
            // SAFETY: kill(2) on a process group this test started; no memory is touched.
            unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
            let _ = self.0.wait();
        }
    }
    let _session = Group(
        Command::new("dbus-run-session")
            .args(["--", "sh", "-c", &script])
            .env("DISPLAY", &x.display)
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_RUNTIME_DIR", home.path())
            .env("XDG_CURRENT_DESKTOP", "GNOME")
            .env("XDG_SESSION_TYPE", "x11")
            .env("GDK_BACKEND", "x11")
            .env("ICED_BACKEND", "tiny-skia")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("dbus-run-session (scripts/setup-deps.sh test)"),
    );
    let shot = wait_for_screen(&x.display, T, "a dark window on a dark desktop", |s| {
        near(s.pixel(5, 5), DARK, 2) && near(s.pixel(890, 630), DARK, 2)
    });
    shot.save_png(&out_dir().join("desktop-dark.png"));
    std::fs::write(&flip, b"").expect("flip");
    wait_for_screen(
        &x.display,
        T,
        "the window turned light with the desktop",
        |s| near(s.pixel(5, 5), BACKGROUND, 2) && near(s.pixel(890, 630), BACKGROUND, 2),
    );
}

/// The window follows the desktop's scale factor as a HiDPI desktop sets it (`Xft.dpi:
/// 192` in the X resources, what `xrdb` writes): it opens at twice its size in pixels, with
/// everything in it twice as large, rather than tiny.
#[test]
fn the_window_follows_the_desktops_scale_factor() {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{AtomEnum, ConnectionExt, PropMode};
    use x11rb::wrapper::ConnectionExt as _;
    let x = Xvfb::start(&[(2560, 1600)]);
    let (conn, screen) = x11rb::connect(Some(&x.display)).expect("connect");
    let root = conn.setup().roots[screen].root;
    let resources = conn
        .intern_atom(false, b"RESOURCE_MANAGER")
        .expect("atom")
        .reply()
        .expect("atom reply")
        .atom;
    let dpi = b"Xft.dpi:\t192\n";
    conn.change_property(
        PropMode::REPLACE,
        root,
        resources,
        AtomEnum::STRING,
        8,
        dpi.len() as u32,
        dpi,
    )
    .expect("set Xft.dpi");
    conn.sync().expect("sync");
    let rv = Rendezvous::start(&[]);
    let _window = Window::open(&x.display, &rv.url, None);
    let deadline = Instant::now() + T;
    let size = loop {
        let found = stacking(&x.display)
            .into_iter()
            .filter(|(_, class)| class == "tandem")
            .find_map(|(w, _)| {
                let g = conn.get_geometry(w).ok()?.reply().ok()?;
                Some((g.width, g.height))
            });
        if let Some(size) = found.filter(|&(w, _)| w > 1) {
            break size;
        }
        assert!(Instant::now() < deadline, "no window");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        (u32::from(size.0), u32::from(size.1)),
        (2 * WINDOW.0 as u32, 2 * WINDOW.1 as u32),
        "the window at twice its logical size"
    );
    // The home screen drawn at that scale: "Submit"'s blue button where the layout puts it,
    // twice as far from the corner.
    let submit = locate(home(), WINDOW, "Submit");
    let scaled = (submit.0 * 2, submit.1 * 2);
    let shot = wait_for_screen(&x.display, T, "the home screen at 2x", |s| {
        primary_button_at(s, scaled)
    });
    shot.save_png(&out_dir().join("scale-2x-home.png"));
}

/// `tandem demo` on a display: two windows, the helper's and the sharer's, side by side
/// and whole on the monitor rather than one on top of the other, titled so a task bar tells
/// them apart once a session runs (`Tandem` before).
#[test]
fn the_demo_opens_its_two_windows_side_by_side() {
    use std::os::unix::process::CommandExt;
    use x11rb::protocol::xproto::ConnectionExt;

    let (width, height) = (1920u16, 1080u16);
    let x = Xvfb::start(&[(u32::from(width), u32::from(height))]);
    let demo = Command::new(bin("tandem"))
        .arg("demo")
        .env("DISPLAY", &x.display)
        .env("ICED_BACKEND", "tiny-skia")
        .env("RUST_LOG", "warn")
        .env("TANDEM_LANG", "en")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        // Its own process group: the two windows are its children, ended with it.
        .process_group(0)
        .spawn()
        .expect("tandem demo");
    struct Group(Child);
    impl Drop for Group {
        fn drop(&mut self) {
            // SAFETY: kill(2) on a process group this test started; no memory is touched.
            unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
            let _ = self.0.wait();
        }
    }
    let _group = Group(demo);

    let (conn, _) = x11rb::connect(Some(&x.display)).expect("connect");
    let deadline = Instant::now() + T;
    let windows = loop {
        let windows: Vec<(i16, i16, u16, u16)> = stacking(&x.display)
            .into_iter()
            .filter(|(_, class)| class == "tandem")
            .filter_map(|(w, _)| {
                let g = conn.get_geometry(w).ok()?.reply().ok()?;
                Some((g.x, g.y, g.width, g.height))
            })
            .collect();
        if windows.len() == 2 {
            break windows;
        }
        assert!(Instant::now() < deadline, "two windows, got {windows:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut windows = windows;
    windows.sort();
    let (left, right) = (windows[0], windows[1]);
    for (wx, wy, ww, wh) in [left, right] {
        assert!(
            wx >= 0 && wy >= 0 && wx as u16 + ww <= width && wy as u16 + wh <= height,
            "each window whole on the monitor: {windows:?}"
        );
    }
    assert!(
        left.0 as u16 + left.2 <= right.0 as u16,
        "side by side, not overlapping: {windows:?}"
    );
    // Both say what they are (no session yet: the app's name).
    let net_wm_name = conn
        .intern_atom(false, b"_NET_WM_NAME")
        .expect("atom")
        .reply()
        .expect("atom")
        .atom;
    let titles: Vec<String> = stacking(&x.display)
        .into_iter()
        .filter(|(_, class)| class == "tandem")
        .map(|(w, _)| {
            let reply = conn
                .get_property(
                    false,
                    w,
                    net_wm_name,
                    x11rb::protocol::xproto::AtomEnum::ANY,
                    0,
                    256,
                )
                .expect("property")
                .reply()
                .expect("property");
            String::from_utf8_lossy(&reply.value).into_owned()
        })
        .collect();
    assert_eq!(titles, ["Tandem", "Tandem"]);

    // A picture once both have drawn (their backgrounds are light, Xvfb's is black).
    let centre = |(wx, wy, ww, wh): (i16, i16, u16, u16)| {
        (wx as u32 + u32::from(ww) / 2, wy as u32 + u32::from(wh) / 4)
    };
    loop {
        let shot = Screenshot::take(&x.display);
        let drawn = [left, right].into_iter().all(|w| {
            let (cx, cy) = centre(w);
            shot.pixel(cx, cy) != (0, 0, 0)
        });
        if drawn {
            shot.save_png(&out_dir().join("demo-side-by-side.png"));
            break;
        }
        assert!(Instant::now() < deadline, "the windows never drew");
        std::thread::sleep(Duration::from_millis(200));
    }
}
