//! The sharer on Wayland: GNOME (mutter 43, headless) through the real ScreenCast portal
//! (`xdg-desktop-portal-gnome`) and PipeWire, the portal's dialog answered with the
//! desktop's own keyboard, as the person would.

use std::time::Duration;

use tandem::media::frame::BgraFrame;
use tandem_tests::gui::Screenshot;
use tandem_tests::wayland::GnomeDesktop;
use tandem_tests::{helper_with_code, Peer, Rendezvous};

const T: Duration = Duration::from_secs(60);
const TAB: u32 = 0xff09;
const RETURN: u32 = 0xff0d;

fn out_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("wayland-e2e")
}

fn save(frame: &BgraFrame, name: &str) -> Screenshot {
    let shot = Screenshot::from_bgra(frame.width, frame.height, frame.stride, &frame.data);
    shot.save_png(&out_dir().join(name));
    shot
}

/// Waits until the portal's dialog is on the screen (its light card over mutter's dark
/// blue background) and returns a picture of it.
fn wait_for_dialog(desktop: &GnomeDesktop) -> Screenshot {
    let deadline = std::time::Instant::now() + T;
    loop {
        let shot = save(&desktop.screenshot(), "1-portal-dialog.png");
        let light = |(r, g, b): (u8, u8, u8)| r > 230 && g > 230 && b > 230;
        if shot.count_near((desktop.width / 2, desktop.height / 2 + 100), 20, light) > 1000 {
            return shot;
        }
        assert!(std::time::Instant::now() < deadline, "no portal dialog");
        std::thread::sleep(Duration::from_millis(200));
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

fn psnr(a: &Screenshot, b: &Screenshot) -> f64 {
    assert_eq!((a.width, a.height), (b.width, b.height));
    let mut total = 0f64;
    let (mut n, mut x, mut y) = (0f64, 0, 0);
    while y < a.height {
        let (p, q) = (a.pixel(x, y), b.pixel(x, y));
        for (u, v) in [(p.0, q.0), (p.1, q.1), (p.2, q.2)] {
            total += (f64::from(u) - f64::from(v)).powi(2);
            n += 1.0;
        }
        x += 1;
        if x == a.width {
            (x, y) = (0, y + 1);
        }
    }
    10.0 * (255.0f64.powi(2) / (total / n).max(1e-9)).log10()
}

fn load_png(path: &std::path::Path) -> Screenshot {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(path).expect("saved frame"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png data");
    let bgra: Vec<u8> = buf[..info.buffer_size()]
        .chunks_exact(4)
        .flat_map(|p| [p[2], p[1], p[0], 255])
        .collect();
    Screenshot::from_bgra(info.width, info.height, info.width * 4, &bgra)
}

#[test]
fn a_gnome_wayland_screen_reaches_the_helper_through_the_portal_and_pipewire() {
    let desktop = GnomeDesktop::start(1280, 720);
    let rv = Rendezvous::start(&[]);
    let out = out_dir().join("helper-frame.png");
    let _ = std::fs::create_dir_all(out_dir());
    let out_arg = out.to_string_lossy().to_string();
    let mut helper = Peer::assist(&rv.url, "Anna Rossi", &["--save-frame", &out_arg]);
    let code = helper.wait_for("code_issued", T)["code"]
        .as_str()
        .expect("code")
        .to_string();
    // `--capture auto` on a Wayland session: the portal.
    let mut sharer = share_on(&desktop, &rv, &code);
    wait_for_dialog(&desktop);
    // The person picks the monitor (the list's row) and presses Share.
    desktop.press_keys(&[TAB, TAB, TAB, TAB, RETURN]);

    let monitors = helper.wait_for("monitors", T);
    assert_eq!(monitors["monitors"][0]["width"], 1280, "{monitors}");
    assert_eq!(monitors["monitors"][0]["height"], 720, "{monitors}");
    let first = helper.wait_for("frame_received", T);
    assert_eq!(
        (first["width"].as_u64(), first["height"].as_u64()),
        (Some(1280), Some(720))
    );
    // Control is not offered on this path yet, and the helper is told so.
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
    let got = load_png(&out);
    let quality = psnr(&screen, &got);
    eprintln!("PSNR of the Wayland screen on the helper: {quality:.1} dB");
    assert!(quality > 30.0, "PSNR {quality:.1} dB");
}

#[test]
fn a_cancelled_portal_dialog_ends_the_share_with_clear_words() {
    let desktop = GnomeDesktop::start(1280, 720);
    let rv = Rendezvous::start(&[]);
    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = share_on(&desktop, &rv, &code);
    wait_for_dialog(&desktop);
    // The person goes to Cancel (the third stop of the dialog's focus) and presses it.
    desktop.press_keys(&[TAB, TAB, TAB, RETURN]);
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
