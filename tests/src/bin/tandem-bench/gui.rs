//! `tandem-bench gui`: what the helper's window costs per frame of a 1080p stream. The real
//! `tandem gui` (software renderer, under Xvfb) is driven into a session with a sharer
//! streaming a 1920×1080 moving picture at 30 fps; the window reports each second how many
//! frames were decoded and how many it showed, and the helper's CPU time is read from /proc.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tandem::gui::app::{Screen, Viewer};
use tandem_tests::gui::{clipboard_text, locate, Hands, WINDOW};
use tandem_tests::xvfb::Xvfb;
use tandem_tests::{bin, Peer, Rendezvous};

#[derive(Default, Clone, Copy)]
struct Second {
    decoded: u64,
    shown: u64,
    decode_ms: f64,
}

fn parse(line: &str) -> Option<Second> {
    // Strip colour codes, then read `key=value` pairs.
    let mut plain = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    if !plain.contains("tandem::gui::stats") {
        return None;
    }
    let value = |key: &str| {
        plain
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .and_then(|v| v.parse::<f64>().ok())
    };
    Some(Second {
        decoded: value("decoded=")? as u64,
        shown: value("shown=")? as u64,
        decode_ms: value("decode_ms=").unwrap_or(0.0),
    })
}

fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    Some(ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64)
}

struct Row {
    mode: &'static str,
    decoded_fps: f64,
    shown_fps: f64,
    cpu_percent: f64,
    decode_ms: f64,
    ui_ms_per_shown: f64,
}

fn measure(mode: &'static str, actual_size: bool, seconds: u64) -> anyhow::Result<Row> {
    let x = Xvfb::start(&[(1920, 1080)]);
    let rv = Rendezvous::start(&[]);
    let seconds_seen: Arc<Mutex<Vec<Second>>> = Arc::default();
    let mut helper = Command::new(bin("tandem"))
        .args([
            "gui",
            "--rendezvous",
            &rv.url,
            "--lang",
            "en",
            "--dev-identity",
            "Anna Rossi",
        ])
        .env("DISPLAY", &x.display)
        .env("ICED_BACKEND", "tiny-skia")
        .env("RUST_LOG", "warn,tandem::gui::stats=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("tandem gui")?;
    let stderr = helper.stderr.take().context("stderr")?;
    let sink = Arc::clone(&seconds_seen);
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(s) = parse(&line) {
                if let Ok(mut v) = sink.lock() {
                    v.push(s);
                }
            }
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    let hands = Hands::new(&x.display);
    let home = Screen::Home {
        code: String::new(),
        error: None,
        notice: None,
    };
    hands.click(locate(home, WINDOW, "Help someone"));
    let copy = locate(
        Screen::HelperCode {
            code: Some("ABC-DEF-GH3".into()),
            expires_at: None,
            joined: false,
            copied: false,
            replaced: None,
        },
        WINDOW,
        "Copy",
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        std::thread::sleep(Duration::from_millis(300));
        hands.click(copy);
        if let Some(code) = clipboard_text(&x.display).filter(|c| c.len() == 11) {
            break code;
        }
        if Instant::now() > deadline {
            bail!("no code from the helper's window");
        }
    };
    let mut sharer = Peer::spawn(
        "sharer",
        &[
            "share",
            "--json",
            "--rendezvous",
            &rv.url,
            "--test-pattern",
            "1920x1080",
            &code,
        ],
    );
    sharer.wait_for("consent_requested", Duration::from_secs(20));
    sharer.type_line("y");
    sharer.wait_for("connected", Duration::from_secs(20));
    if actual_size {
        std::thread::sleep(Duration::from_secs(1));
        let viewer = Screen::Viewer(Box::new(Viewer {
            consented: true,
            fit: true,
            ..Viewer::default()
        }));
        hands.click(locate(viewer, WINDOW, "Actual size"));
    }
    std::thread::sleep(Duration::from_secs(3));
    let pid = helper.id();
    let cpu0 = cpu_seconds(pid).context("helper cpu")?;
    let from = seconds_seen.lock().map(|v| v.len()).unwrap_or(0);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let cpu = cpu_seconds(pid).context("helper cpu")? - cpu0;
    let elapsed = t0.elapsed().as_secs_f64();
    let seen: Vec<Second> = seconds_seen
        .lock()
        .map(|v| v[from..].to_vec())
        .unwrap_or_default();
    let _ = helper.kill();
    let _ = helper.wait();
    sharer.kill();
    if seen.is_empty() {
        bail!("the window reported nothing");
    }
    let n = seen.len() as f64;
    let decoded_fps = seen.iter().map(|s| s.decoded as f64).sum::<f64>() / n;
    let shown_fps = seen.iter().map(|s| s.shown as f64).sum::<f64>() / n;
    let decode_ms = seen.iter().map(|s| s.decode_ms).sum::<f64>() / n;
    let cpu_ms_per_s = cpu * 1000.0 / elapsed;
    let ui_ms_per_shown = (cpu_ms_per_s - decoded_fps * decode_ms).max(0.0) / shown_fps.max(1.0);
    Ok(Row {
        mode,
        decoded_fps,
        shown_fps,
        cpu_percent: cpu_ms_per_s / 10.0,
        decode_ms,
        ui_ms_per_shown,
    })
}

pub fn run(seconds: u64) -> anyhow::Result<()> {
    println!("Helper window (tandem gui, tiny-skia under Xvfb) showing a 1920×1080 test pattern at 30 fps, {seconds} s per row.");
    println!("| view | decoded fps | shown fps | helper CPU % of a core | decode+RGBA ms | UI ms per shown frame |");
    println!("|---|---|---|---|---|---|");
    for (mode, actual) in [
        ("fit, 900×640 window", false),
        ("actual size, 900×640 window", true),
    ] {
        let r = measure(mode, actual, seconds)?;
        println!(
            "| {} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} |",
            r.mode, r.decoded_fps, r.shown_fps, r.cpu_percent, r.decode_ms, r.ui_ms_per_shown
        );
    }
    println!("UI ms per shown frame = (helper CPU − decoded frames × decode ms) / shown frames: the copy into the image, layout, software rendering and presenting.");
    Ok(())
}
