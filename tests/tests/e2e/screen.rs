//! Real screens: capture from Xvfb, content checked on the helper, monitors, idle and
//! keyframes on request.

use std::time::Duration;

use tandem::capture::x11::X11Capture;
use tandem::capture::ScreenSource;
use tandem::media::frame::BgraFrame;
use tandem_tests::gui::psnr;
use tandem_tests::xvfb::{known_picture, known_pixel, Painter, Xvfb};
use tandem_tests::{helper_with_code, Peer, Rendezvous};

const T: Duration = Duration::from_secs(20);

fn solid(width: u32, height: u32, bgr: [u8; 3]) -> Vec<u8> {
    (0..width * height)
        .flat_map(|_| [bgr[0], bgr[1], bgr[2], 255])
        .collect()
}

#[test]
fn two_x_screens_are_two_monitors_and_capture_shows_what_is_drawn() {
    let x = Xvfb::start(&[(1280, 720), (800, 600)]);
    let p0 = Painter::open(&x.display, 0);
    let p1 = Painter::open(&x.display, 1);
    p0.show(&solid(1280, 720, [200, 10, 10]));
    p1.show(&solid(800, 600, [10, 10, 200]));

    let mut capture = X11Capture::open(Some(&x.display)).expect("open display");
    assert!(
        capture.uses_shared_memory(),
        "Xvfb on this machine supports MIT-SHM"
    );
    let sizes: Vec<(u32, u32)> = capture
        .monitors()
        .iter()
        .map(|m| (m.width, m.height))
        .collect();
    assert_eq!(sizes, vec![(1280, 720), (800, 600)]);
    assert_eq!(capture.current().id, 0);

    let mut frame = BgraFrame::new(16, 16);
    capture.capture(&mut frame).expect("capture screen 0");
    assert_eq!((frame.width, frame.height), (1280, 720));
    assert_eq!(&frame.data[..3], &[200, 10, 10]);
    capture.select(1).expect("select screen 1");
    capture.capture(&mut frame).expect("capture screen 1");
    assert_eq!((frame.width, frame.height), (800, 600));
    let mid = ((300 * 800 + 400) * 4) as usize;
    assert_eq!(&frame.data[mid..mid + 3], &[10, 10, 200]);
    assert!(capture.select(7).is_err());

    // XDamage: a quiet screen is known to be unchanged; drawing is noticed.
    // (A notification already on its way when a capture resets the damage can cost one more
    // capture; after that a quiet screen stays quiet.)
    assert!(capture.uses_damage_events());
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(100));
        if capture.changed() == Some(true) {
            capture.capture(&mut frame).expect("capture");
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(capture.changed(), Some(false), "nothing was drawn");
    p1.show(&solid(800, 600, [10, 200, 10]));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while capture.changed() != Some(true) {
        assert!(
            std::time::Instant::now() < deadline,
            "drawing was not reported"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    capture.capture(&mut frame).expect("capture");
    assert_eq!(&frame.data[mid..mid + 3], &[10, 200, 10]);
}

/// Waits until the capture hears of drawing (hang guard only), then captures.
fn capture_after_drawing(capture: &mut X11Capture, frame: &mut BgraFrame) {
    let deadline = std::time::Instant::now() + T;
    while capture.changed() != Some(true) {
        assert!(
            std::time::Instant::now() < deadline,
            "drawing was not reported"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    capture.capture(frame).expect("capture");
}

/// What a capture opened now reads of monitor `id`: the whole screen, the reference.
fn whole_read(display: &str, id: u32) -> BgraFrame {
    let mut capture = X11Capture::open(Some(display)).expect("open display");
    capture.select(id).expect("monitor");
    let mut frame = BgraFrame::new(1, 1);
    capture.capture(&mut frame).expect("capture");
    assert!(
        capture.captured_area().is_none(),
        "a first capture is whole"
    );
    frame
}

/// With XDamage, a capture reads only what was drawn on the shown monitor into the frame
/// it keeps, and that frame is then exactly what reading the whole screen gives: for small
/// drawings far apart, for drawing on another screen (nothing to read), and for a drawing
/// over most of the screen (read whole).
#[test]
fn a_capture_reads_only_what_was_drawn_and_its_frame_matches_a_whole_read() {
    let (w, h) = (640u32, 480u32);
    let x = Xvfb::start(&[(w, h), (320, 240)]);
    let p0 = Painter::open(&x.display, 0);
    let p1 = Painter::open(&x.display, 1);
    p0.show(&known_picture(w, h));
    let mut capture = X11Capture::open(Some(&x.display)).expect("open display");
    let mut frame = BgraFrame::new(1, 1);
    capture.capture(&mut frame).expect("capture");
    assert!(
        capture.captured_area().is_none(),
        "a first capture is whole"
    );
    // Let drawing that was under way settle into one more capture.
    std::thread::sleep(Duration::from_millis(200));
    if capture.changed() == Some(true) {
        capture.capture(&mut frame).expect("capture");
    }

    p0.fill_rect(100, 50, 20, 10, 0x00ff00);
    p0.fill_rect(500, 400, 8, 8, 0xff0000);
    capture_after_drawing(&mut capture, &mut frame);
    let parts = capture.captured_area().expect("read in parts").to_vec();
    let area: u32 = parts.iter().map(|r| r.width * r.height).sum();
    let covers = |x: u32, y: u32| {
        parts
            .iter()
            .any(|r| x >= r.x && y >= r.y && x < r.x + r.width && y < r.y + r.height)
    };
    assert!(
        covers(100, 50) && covers(119, 59) && covers(500, 400) && covers(507, 407),
        "the drawings are read: {parts:?}"
    );
    assert!(area < w * h / 20, "little else is read: {parts:?}");
    let at = |f: &BgraFrame, x: u32, y: u32| {
        let i = ((y * f.width + x) * 4) as usize;
        [f.data[i], f.data[i + 1], f.data[i + 2]]
    };
    assert_eq!(at(&frame, 110, 55), [0, 255, 0]);
    assert_eq!(at(&frame, 503, 403), [0, 0, 255]);
    assert!(
        frame.data == whole_read(&x.display, 0).data,
        "the kept frame is the screen"
    );

    // Drawing on the other screen: nothing of this one is read.
    p1.fill_rect(0, 0, 50, 50, 0x0000ff);
    capture_after_drawing(&mut capture, &mut frame);
    assert_eq!(capture.captured_area(), Some(&[][..]));

    // Most of the screen drawn: it is read whole.
    p0.show(&solid(w, h, [30, 60, 90]));
    capture_after_drawing(&mut capture, &mut frame);
    assert!(capture.captured_area().is_none());
    assert!(frame.data == whole_read(&x.display, 0).data);
}

fn load_png(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("saved frame"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png data");
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// The still picture the helper saved, against what is on the screen.
fn saved_picture_psnr(path: &std::path::Path, w: u32, h: u32) -> f64 {
    let (fw, fh, rgba) = load_png(path);
    assert_eq!((fw, fh), (w, h), "the picture has the screen's size");
    let expected: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .flat_map(|(x, y)| {
            let (r, g, b) = known_pixel(x, y, w, h);
            [r, g, b]
        })
        .collect();
    let got: Vec<u8> = rgba.chunks(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    psnr(&expected, &got)
}

/// An Xvfb screen showing the known picture, and a helper with a code who saves the last
/// picture it gets to `out`.
struct StillScreen {
    x: Xvfb,
    painter: Painter,
    rv: Rendezvous,
    helper: Peer,
    code: String,
    out: std::path::PathBuf,
}

fn still_screen_and_helper(w: u32, h: u32, tag: &str) -> StillScreen {
    let x = Xvfb::start(&[(w, h)]);
    let painter = Painter::open(&x.display, 0);
    painter.show(&known_picture(w, h));
    let rv = Rendezvous::start(&[]);
    let out = std::env::temp_dir().join(format!("tandem-{tag}-{}.png", std::process::id()));
    let out_arg = out.to_string_lossy().to_string();
    let mut helper = Peer::assist(&rv.url, "Anna Rossi", &["--save-frame", &out_arg]);
    let code = helper.code(T);
    StillScreen {
        x,
        painter,
        rv,
        helper,
        code,
        out,
    }
}

#[test]
fn the_helper_sees_what_is_on_the_sharers_screen_and_an_idle_screen_sends_nothing() {
    let (w, h) = (1280, 720);
    let StillScreen {
        x,
        painter,
        rv,
        mut helper,
        code,
        out,
    } = still_screen_and_helper(w, h, "frame");
    let mut sharer = Peer::share_display(&rv.url, &code, &x.display, &[]);
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    let monitors = helper.wait_for("monitors", T);
    assert_eq!(monitors["monitors"][0]["width"], w);
    let first = helper.wait_for("frame_received", T);
    assert_eq!(
        (first["width"].as_u64(), first["height"].as_u64()),
        (Some(1280), Some(720))
    );
    assert_eq!(first["keyframe"], true);

    // The still screen is refined for a moment, then nothing more is sent.
    helper.count_for(Duration::from_millis(1500), |v| {
        v["event"] == "frame_received"
    });
    let idle = helper.count_for(Duration::from_millis(1500), |v| {
        v["event"] == "frame_received"
    });
    if idle != 0 {
        let t0 = helper.seen[0].0;
        for (at, v) in &helper.seen {
            if v["event"] == "frame_received" {
                eprintln!(
                    "{:>6} ms seq {} key {} bytes {}",
                    at.duration_since(t0).as_millis(),
                    v["seq"],
                    v["keyframe"],
                    v["bytes"]
                );
            }
        }
    }
    assert_eq!(idle, 0, "an unchanged screen kept sending frames");

    // A keyframe on request arrives even though nothing changed.
    helper.type_line("/keyframe");
    let key = helper
        .wait_until(T, |v| v["event"] == "frame_received")
        .expect("a frame after /keyframe");
    assert_eq!(key["keyframe"], true, "{key}");

    // A change on screen is sent again.
    painter.show(&solid(w, h, [0, 140, 255]));
    helper
        .wait_until(T, |v| {
            v["event"] == "frame_received" && v["keyframe"] == false
        })
        .expect("a frame after the screen changed");
    painter.show(&known_picture(w, h));
    helper.count_for(Duration::from_millis(1500), |v| {
        v["event"] == "frame_received"
    });

    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());

    if let Some(dir) = std::env::var_os("TANDEM_TEST_ARTIFACTS") {
        let _ = std::fs::copy(
            &out,
            std::path::Path::new(&dir).join("helper-still-frame.png"),
        );
    }
    let quality = saved_picture_psnr(&out, w, h);
    let (_, _, rgba) = load_png(&out);
    let _ = std::fs::remove_file(&out);
    eprintln!("PSNR of the still picture on the helper: {quality:.1} dB");
    assert!(quality > 30.0, "PSNR {quality:.1} dB");
    // And the blocks have their colours.
    for (fx, fy, rgb) in [
        (0.2, 0.2, [220u8, 30, 30]),
        (0.5, 0.2, [30, 200, 40]),
        (0.8, 0.2, [30, 60, 220]),
    ] {
        let (px, py) = ((fx * w as f64) as u32, (fy * h as f64) as u32);
        let i = ((py * w + px) * 4) as usize;
        for c in 0..3 {
            let d = (i32::from(rgba[i + c]) - i32::from(rgb[c])).abs();
            assert!(
                d <= 12,
                "pixel ({px},{py}) channel {c}: {} vs {}",
                rgba[i + c],
                rgb[c]
            );
        }
    }
}

#[test]
fn the_helper_switches_monitor_and_gets_a_keyframe_of_the_other_screen() {
    let x = Xvfb::start(&[(1280, 720), (800, 600)]);
    Painter::open(&x.display, 0).show(&solid(1280, 720, [200, 10, 10]));
    let other = Painter::open(&x.display, 1);
    other.show(&solid(800, 600, [10, 10, 200]));
    let rv = Rendezvous::start(&[]);
    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = Peer::share_display(&rv.url, &code, &x.display, &[]);
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    let list = helper.wait_for("monitors", T);
    assert_eq!(list["monitors"].as_array().map(Vec::len), Some(2));
    assert_eq!(list["current"], 0);
    helper.wait_for("frame_received", T);
    helper.type_line("/monitor 1");
    let switched = helper.wait_for("monitors", T);
    assert_eq!(switched["current"], 1);
    let f = helper
        .wait_until(T, |v| v["event"] == "frame_received" && v["width"] == 800)
        .expect("a frame of the second screen");
    assert_eq!(f["height"], 600);
    assert_eq!(f["keyframe"], true);
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());
}

#[test]
fn the_helper_follows_the_pointer_and_gets_its_picture() {
    let x = Xvfb::start(&[(1280, 720)]);
    let painter = Painter::open(&x.display, 0);
    painter.show(&solid(1280, 720, [90, 90, 90]));
    let rv = Rendezvous::start(&[]);
    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = Peer::share_display(&rv.url, &code, &x.display, &[]);
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    let shape = helper.wait_for("cursor_shape", T);
    let (w, h) = (
        shape["width"].as_u64().unwrap_or(0),
        shape["height"].as_u64().unwrap_or(0),
    );
    assert!(w > 0 && h > 0 && w <= 256 && h <= 256, "{shape}");
    assert!(shape["hot_x"].as_u64() < Some(w) && shape["hot_y"].as_u64() < Some(h));

    for (px, py) in [(300, 200), (1000, 650), (5, 7)] {
        painter.warp_pointer(px, py);
        let at = helper
            .wait_until(T, |v| {
                v["event"] == "cursor" && v["x"] == px && v["y"] == py
            })
            .unwrap_or_else(|| panic!("pointer at ({px},{py}) not seen: {}", helper.history()));
        assert_eq!(at["visible"], true);
    }
    // Moving the pointer alone sends no video.
    helper.count_for(Duration::from_millis(1000), |v| {
        v["event"] == "frame_received"
    });
    let before = helper.count("frame_received");
    painter.warp_pointer(640, 360);
    helper
        .wait_until(T, |v| v["event"] == "cursor" && v["x"] == 640)
        .expect("pointer");
    helper.count_for(Duration::from_millis(500), |_| false);
    assert_eq!(
        helper.count("frame_received"),
        before,
        "a pointer move re-sent video"
    );

    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());
}

#[test]
fn monitors_carry_the_desktop_scale_and_titled_windows_are_listed() {
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{
        AtomEnum, ConnectionExt as _, CreateWindowAux, PropMode, WindowClass,
    };
    use x11rb::wrapper::ConnectionExt as _;

    let x = Xvfb::start(&[(1280, 720), (800, 600)]);
    let capture = X11Capture::open(Some(&x.display)).expect("open display");
    assert!(
        capture.monitors().iter().all(|m| m.scale_percent == 100),
        "no DPI setting: 100 %"
    );

    // What a desktop set to 150 % publishes; and an application window with a title.
    let (conn, _) = x11rb::connect(Some(&x.display)).expect("connect");
    let root = conn.setup().roots[0].root;
    conn.change_property8(
        PropMode::REPLACE,
        root,
        AtomEnum::RESOURCE_MANAGER,
        AtomEnum::STRING,
        b"Xft.antialias:\t1\nXft.dpi:\t144\n",
    )
    .expect("resources");
    let window = conn.generate_id().expect("id");
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        window,
        root,
        50,
        60,
        300,
        200,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &CreateWindowAux::new(),
    )
    .expect("window");
    conn.change_property8(
        PropMode::REPLACE,
        window,
        AtomEnum::WM_NAME,
        AtomEnum::STRING,
        b"Invoice.pdf - Viewer",
    )
    .expect("title");
    // An untitled window is not something a person would pick.
    let untitled = conn.generate_id().expect("id");
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        untitled,
        root,
        0,
        0,
        10,
        10,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &CreateWindowAux::new(),
    )
    .expect("window");
    conn.map_window(window).expect("map");
    conn.map_window(untitled).expect("map");
    conn.sync().expect("sync");

    let capture = X11Capture::open(Some(&x.display)).expect("open display");
    let scales: Vec<u32> = capture.monitors().iter().map(|m| m.scale_percent).collect();
    assert_eq!(
        scales,
        vec![150, 100],
        "screen 0 has the setting, screen 1 not"
    );

    let windows = tandem::capture::x11::list_windows(Some(&x.display)).expect("windows");
    assert_eq!(windows.len(), 1, "{windows:?}");
    let w = &windows[0];
    assert_eq!(w.title, "Invoice.pdf - Viewer");
    assert_eq!(
        (w.screen, w.x, w.y, w.width, w.height),
        (0, 50, 60, 300, 200)
    );
}

#[test]
fn busy_motion_is_coded_smaller_and_a_still_screen_comes_back_sharp_at_full_size() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tandem_tests::scenes::{Scene, SceneKind};

    let (w, h) = (1280, 720);
    let StillScreen {
        x,
        painter,
        rv,
        mut helper,
        code,
        out,
    } = still_screen_and_helper(w, h, "motion");
    let mut sharer = Peer::share_display(&rv.url, &code, &x.display, &[]);
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    let first = helper.wait_for("frame_received", T);
    assert_eq!(first["width"], w, "a still screen starts at full size");

    // Every pixel changing 30 times a second: far more than 2.5 Mbit/s can carry at any
    // quantiser, so the sharer codes the motion smaller (the helper stretches it back).
    let stop = Arc::new(AtomicBool::new(false));
    let motion = {
        let stop = stop.clone();
        let display = x.display.clone();
        std::thread::spawn(move || {
            let painter = Painter::open(&display, 0);
            let mut scene = Scene::new(SceneKind::FullMotion, w, h);
            let mut buf = vec![0u8; (w * h * 4) as usize];
            while !stop.load(Ordering::Relaxed) {
                scene.next(&mut buf);
                painter.show(&buf);
                std::thread::sleep(Duration::from_millis(33));
            }
        })
    };
    let smaller = helper.wait_until(T, |v| {
        v["event"] == "frame_received" && v["width"].as_u64().is_some_and(|fw| fw < u64::from(w))
    });
    stop.store(true, Ordering::Relaxed);
    motion.join().expect("painter");
    let smaller = smaller.expect("motion coded smaller than the screen");
    let (sw, sh) = (
        smaller["width"].as_u64().unwrap_or(0),
        smaller["height"].as_u64().unwrap_or(0),
    );
    assert!(
        sw * u64::from(h) == sh * u64::from(w) || sw.abs_diff(sh * 16 / 9) <= 2,
        "the shape is kept: {sw}×{sh}"
    );

    // Still again: the picture is refined at full size and is sharp.
    painter.show(&known_picture(w, h));
    helper
        .wait_until(T, |v| {
            v["event"] == "frame_received" && v["width"] == w && v["keyframe"] == true
        })
        .expect("the still picture at full size");
    helper.count_for(Duration::from_millis(1500), |v| {
        v["event"] == "frame_received"
    });
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());
    let quality = saved_picture_psnr(&out, w, h);
    let _ = std::fs::remove_file(&out);
    eprintln!("PSNR of the still picture after motion: {quality:.1} dB");
    assert!(quality > 30.0, "PSNR {quality:.1} dB");
}

#[test]
fn the_xcap_backend_shows_the_screen_to_the_helper() {
    let (w, h) = (1024, 768);
    let StillScreen {
        x,
        painter,
        rv,
        mut helper,
        code,
        out,
    } = still_screen_and_helper(w, h, "xcap");
    // xcap finds the display through $DISPLAY, as it would on a desktop.
    let mut sharer = Peer::spawn_with_env(
        "sharer",
        &[
            "share",
            "--json",
            "--rendezvous",
            &rv.url,
            "--capture",
            "xcap",
            &code,
        ],
        &[("DISPLAY", &x.display)],
    );
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    let monitors = helper.wait_for("monitors", T);
    let list = monitors["monitors"].as_array().expect("monitor list");
    assert_eq!(list.len(), 1, "{monitors}");
    assert_eq!(
        (list[0]["width"].as_u64(), list[0]["height"].as_u64()),
        (Some(1024), Some(768))
    );
    assert_eq!(list[0]["id"], 0);
    let first = helper.wait_for("frame_received", T);
    assert_eq!(
        (first["width"].as_u64(), first["height"].as_u64()),
        (Some(1024), Some(768))
    );
    // A change on screen arrives too (no damage events here: the tile hash finds it).
    painter.show(&solid(w, h, [0, 140, 255]));
    helper
        .wait_until(T, |v| {
            v["event"] == "frame_received" && v["keyframe"] == false
        })
        .expect("a frame after the screen changed");
    painter.show(&known_picture(w, h));
    helper.count_for(Duration::from_millis(2000), |v| {
        v["event"] == "frame_received"
    });
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());
    let quality = saved_picture_psnr(&out, w, h);
    let _ = std::fs::remove_file(&out);
    eprintln!("PSNR through xcap: {quality:.1} dB");
    assert!(quality > 30.0, "PSNR {quality:.1} dB");
}
