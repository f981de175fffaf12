//! `tandem-bench latency`: screen-to-helper latency of a real session under Xvfb.
//!
//! An X client animates a scene at 30 Hz and stamps a frame counter on it; the sharer
//! captures the display for real (MIT-SHM), encodes and sends over QUIC on loopback; the
//! helper's frame sink reads the counter back from each decoded picture. Latency is from the
//! moment the X server had the frame drawn to the moment the helper had it decoded.
//!
//! With `--wayland`, the same scenes then run on sway (headless, software rendering): the
//! same X client draws through sway's Xwayland, and the sharer captures the compositor's
//! output through wlr-screencopy — the Wayland path beside the X11 one, in one run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tandem::capture::x11::X11Capture;
use tandem::capture::ScreenSource;
use tandem::media::frame::BgraFrame;
use tandem::session::{
    Command, DecodedFrameRef, Event, FrameSink, HelperIdentity, SessionConfig, SessionHandle,
    SourceSpec, VideoConfig,
};
use tandem_tests::scenes::{read_stamp, stamp, Scene, SceneKind, STAMP_CELL};
use tandem_tests::xvfb::{Painter, Xvfb};

#[derive(Default)]
pub(super) struct Observed {
    /// When the X server had each stamped counter, and when the helper first decoded it.
    pub drawn: HashMap<u32, Instant>,
    pub seen: HashMap<u32, Instant>,
    pub bytes: usize,
    pub frames: usize,
    /// Decoded pictures by coded size (smaller than the screen while motion is scaled down).
    pub coded: HashMap<(u32, u32), usize>,
}

/// The X client that animates `kind` at 30 Hz on `display` and stamps a counter on it
/// whenever it draws (every frame when `stamp_every_frame`), until `stop`.
pub(super) fn spawn_painter(
    kind: SceneKind,
    stamp_every_frame: bool,
    display: &str,
    (width, height): (u32, u32),
    observed: Arc<Mutex<Observed>>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let display = display.to_string();
    std::thread::spawn(move || {
        let painter = Painter::open(&display, 0);
        let mut scene = Scene::new(kind, width, height);
        let mut buf = vec![0u8; (width * height * 4) as usize];
        let mut counter = 1u32;
        let mut next = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let dirty = scene.next(&mut buf);
            // The counter changes with the content, or every frame when asked to.
            if kind != SceneKind::Idle && (stamp_every_frame || !dirty.is_empty()) {
                stamp(&mut buf, width, counter);
                painter.show_rows(&buf, 0..STAMP_CELL);
                if !dirty.is_empty() {
                    painter.show_rows(&buf, dirty);
                }
                if let Ok(mut o) = observed.lock() {
                    o.drawn.insert(counter, Instant::now());
                }
                counter += 1;
            } else if !dirty.is_empty() {
                painter.show_rows(&buf, dirty);
            }
            next += Duration::from_millis(33);
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    })
}

/// The helper's frame sink: reads the counter back from each decoded picture.
pub(super) fn stamp_sink(observed: Arc<Mutex<Observed>>, measuring: Arc<AtomicBool>) -> FrameSink {
    Arc::new(move |f: &DecodedFrameRef<'_>| {
        let now = Instant::now();
        let value = read_stamp(f.rgba, f.width, f.screen_width);
        if let Ok(mut o) = observed.lock() {
            if measuring.load(Ordering::Relaxed) {
                o.frames += 1;
                *o.coded.entry((f.width, f.height)).or_insert(0) += 1;
            }
            if let Some(value) = value {
                o.seen.entry(value).or_insert(now);
            }
        }
    })
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}

/// CPU seconds used so far by a process, or by one of our threads (by name).
fn cpu_seconds(stat_path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks())
}

fn thread_stat(name: &str) -> Option<String> {
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let path = entry.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim() == name {
            return Some(path.join("stat").to_string_lossy().into_owned());
        }
    }
    None
}

pub fn percentile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// The desktop a table is measured on.
struct Target {
    source: SourceSpec,
    /// Where the scene's X client draws.
    display: String,
    /// The desktop's own processes, whose CPU time is reported.
    desktop_pids: Vec<u32>,
}

pub async fn run(
    seconds: u64,
    fps: u32,
    width: u32,
    height: u32,
    wayland: bool,
) -> anyhow::Result<()> {
    let xvfb = Xvfb::start(&[(width, height)]);
    let display = xvfb.display.clone();

    capture_reference(&display, width, height)?;

    // An in-process rendezvous on loopback.
    let rendezvous = tandem_rendezvous::EmbeddedRendezvous::start_for_demo().await?;
    let url = rendezvous.url.clone();

    println!();
    println!("Screen → helper, {width}×{height}, 30 Hz animation, sharer capped at {fps} fps, loopback, {seconds} s per scene (first 2 s not counted).");
    let x11 = Target {
        source: SourceSpec::X11 {
            display: Some(display.clone()),
            monitor: None,
        },
        display,
        desktop_pids: vec![xvfb.pid()],
    };
    scenes(
        &url,
        &x11,
        (seconds, fps),
        width,
        height,
        "X11 (Xvfb, MIT-SHM)",
        "Xvfb",
    )
    .await?;
    drop(xvfb);
    if wayland {
        // Its start talks blocking D-Bus: off the runtime's own blocking rules.
        let sway = tokio::task::block_in_place(|| {
            tandem_tests::sway::SwayDesktop::start_with(width, height, true)
        });
        // The sharer (this process) reaches the compositor by its socket's full path.
        std::env::set_var("WAYLAND_DISPLAY", sway.socket());
        let display = sway.x_display.clone().context("sway started no Xwayland")?;
        wlr_capture_reference(width, height)?;
        // (The compositor itself, not the runuser that started it as the desktop's user.)
        let mut desktop_pids = process_ids("sway");
        desktop_pids.extend(process_ids("Xwayland"));
        let target = Target {
            source: SourceSpec::Wlr { monitor: None },
            display,
            desktop_pids,
        };
        scenes(
            &url,
            &target,
            (seconds, fps),
            width,
            height,
            "Wayland (sway headless, pixman; wlr-screencopy)",
            "sway + Xwayland",
        )
        .await?;
    }
    Ok(())
}

/// Processes whose command is `name`.
fn process_ids(name: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
                .filter(|pid| {
                    std::fs::read_to_string(format!("/proc/{pid}/comm"))
                        .is_ok_and(|c| c.trim() == name)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn desktop_cpu(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|pid| cpu_seconds(&format!("/proc/{pid}/stat")))
        .sum()
}

async fn scenes(
    url: &str,
    target: &Target,
    (seconds, fps): (u64, u32),
    width: u32,
    height: u32,
    title: &str,
    desktop: &str,
) -> anyhow::Result<()> {
    println!();
    println!("{title}:");
    println!();
    println!("Each scene twice, back to back: the pipeline as it is (reads, hashes and converts what changed; small changes at up to 60 frames/s) and the reference `--whole-frames` (the whole screen every frame, at the cap).");
    println!();
    println!("| scene | pipeline | latency p50 | p95 | frames/s shown | kbit/s | picture coded at (most frames) | sharer pipeline CPU (% of a core) | {desktop} CPU (% of a core, incl. drawing) |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (kind, stamp_every_frame, label) in [
        (SceneKind::Idle, false, "idle desktop"),
        (SceneKind::Typing, false, "typing, 10 keystrokes/s"),
        (
            SceneKind::Typing,
            true,
            "small region changing 30×/s (typing + stamp every frame)",
        ),
        (SceneKind::Scrolling, true, "full-screen scrolling"),
        (SceneKind::FullMotion, true, "full motion (worst case)"),
    ] {
        for whole_frames in [false, true] {
            scene_run(
                SceneSpec {
                    kind,
                    stamp_every_frame,
                    label,
                    whole_frames,
                },
                url,
                target,
                (seconds, fps),
                width,
                height,
            )
            .await?;
        }
    }
    Ok(())
}

struct SceneSpec {
    kind: SceneKind,
    stamp_every_frame: bool,
    label: &'static str,
    /// The reference: the whole screen every frame (`VideoConfig::whole_frames`).
    whole_frames: bool,
}

async fn scene_run(
    spec: SceneSpec,
    url: &str,
    target: &Target,
    (seconds, fps): (u64, u32),
    width: u32,
    height: u32,
) -> anyhow::Result<()> {
    let SceneSpec {
        kind,
        stamp_every_frame,
        label,
        whole_frames,
    } = spec;
    let observed = Arc::new(Mutex::new(Observed::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));

    let painter = spawn_painter(
        kind,
        stamp_every_frame,
        &target.display,
        (width, height),
        observed.clone(),
        stop.clone(),
    );
    let sink = stamp_sink(observed.clone(), measuring.clone());
    let base = SessionConfig {
        rendezvous: url.to_string(),
        video: VideoConfig {
            source: target.source.clone(),
            fps,
            whole_frames,
            ..VideoConfig::default()
        },
        ..SessionConfig::default()
    };
    let helper_config = SessionConfig {
        frame_sink: Some(sink),
        ..base.clone()
    };
    let mut helper = SessionHandle::helper(
        helper_config,
        HelperIdentity::Dev {
            name: "Bench".into(),
        },
    );
    let Some(code) = helper.code().await else {
        bail!("helper ended early: {:?}", helper.task.await?);
    };
    let mut sharer = SessionHandle::sharer(base, code);
    sharer.send(Command::Allow);

    // Count bytes from the helper's events; start measuring after a warm-up.
    let warmup = Duration::from_secs(2);
    let total = Duration::from_secs(seconds.max(3));
    let started = Instant::now();
    let mut cpu_start: Option<(f64, f64, Instant)> = None;
    while started.elapsed() < total {
        if cpu_start.is_none() && started.elapsed() >= warmup {
            if let Ok(mut o) = observed.lock() {
                o.seen.clear();
                o.coded.clear();
                o.bytes = 0;
                o.frames = 0;
            }
            measuring.store(true, Ordering::Relaxed);
            let pipeline = thread_stat("tandem-capture")
                .and_then(|p| cpu_seconds(&p))
                .unwrap_or(0.0);
            let x = desktop_cpu(&target.desktop_pids);
            cpu_start = Some((pipeline, x, Instant::now()));
        }
        tokio::select! {
            ev = helper.events.recv() => {
                if let Some(Event::FrameReceived { bytes, .. }) = ev {
                    if measuring.load(Ordering::Relaxed) {
                        if let Ok(mut o) = observed.lock() { o.bytes += bytes; }
                    }
                }
            }
            _ = sharer.events.recv() => {}
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    let (pipe0, x0, t0) = cpu_start.context("no measurement window")?;
    let window = t0.elapsed().as_secs_f64();
    let pipeline_cpu = thread_stat("tandem-capture")
        .and_then(|p| cpu_seconds(&p))
        .unwrap_or(pipe0)
        - pipe0;
    let xvfb_cpu = desktop_cpu(&target.desktop_pids) - x0;
    measuring.store(false, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let _ = painter.join();
    helper.send(Command::End);
    let _ = helper.task.await?;
    let _ = sharer.task.await?;

    let o = observed.lock().map_err(|_| anyhow::anyhow!("lock"))?;
    let mut latencies: Vec<f64> = o
        .seen
        .iter()
        .filter_map(|(v, seen)| {
            o.drawn
                .get(v)
                .map(|d| seen.saturating_duration_since(*d).as_secs_f64() * 1e3)
        })
        .collect();
    let fps = o.frames as f64 / window;
    let kbps = o.bytes as f64 * 8.0 / window / 1000.0;
    let lat = |v: &mut Vec<f64>, q| {
        let p = percentile(v, q);
        if p.is_nan() {
            "–".to_string()
        } else {
            format!("{p:.1} ms")
        }
    };
    let coded = o
        .coded
        .iter()
        .max_by_key(|(_, n)| **n)
        .map_or("–".to_string(), |((w, h), _)| format!("{w}×{h}"));
    println!(
        "| {} | {} | {} | {} | {fps:.1} | {kbps:.0} | {coded} | {:.1} | {:.1} |",
        label,
        if whole_frames {
            "whole frames (reference)"
        } else {
            "changes only"
        },
        lat(&mut latencies, 0.5),
        lat(&mut latencies, 0.95),
        pipeline_cpu / window * 100.0,
        xvfb_cpu / window * 100.0,
    );
    Ok(())
}

/// Our capture against ffmpeg's x11grab on the same display (1 s each, a still screen).
fn capture_reference(display: &str, width: u32, height: u32) -> anyhow::Result<()> {
    let mut capture = X11Capture::open(Some(display))?;
    // What a whole frame costs (a still screen would otherwise cost nothing to read: the
    // damage says nothing was drawn).
    capture.read_whole_frames();
    let mut frame = BgraFrame::new(width, height);
    let n = 60;
    let mut times = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        capture.capture(&mut frame)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let ours = percentile(&mut times, 0.5);
    let before = children_cpu_seconds();
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "x11grab",
            "-framerate",
            "60",
        ])
        .args(["-video_size", &format!("{width}x{height}"), "-i", display])
        .args(["-frames:v", &n.to_string(), "-f", "null", "-"])
        .status()
        .context("ffmpeg")?;
    if !status.success() {
        bail!("ffmpeg x11grab failed");
    }
    let ffmpeg_ms = (children_cpu_seconds() - before) * 1e3 / f64::from(n);
    println!("Capture of one {width}×{height} frame: ours (MIT-SHM, persistent connection) {ours:.2} ms median wall time; ffmpeg x11grab {ffmpeg_ms:.2} ms CPU per frame (its process, incl. start-up); ratio {:.2}.", ours / ffmpeg_ms.max(1e-6));
    Ok(())
}

/// One full picture asked of the compositor and copied (what a change costs the sharer).
fn wlr_capture_reference(width: u32, height: u32) -> anyhow::Result<()> {
    let mut capture = tandem::capture::wlr::WlrSource::open()?;
    let mut frame = BgraFrame::new(width, height);
    let mut times = Vec::new();
    let cpu_before = thread_cpu_seconds();
    for _ in 0..60 {
        let t = Instant::now();
        capture.capture(&mut frame)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let cpu_ms = (thread_cpu_seconds() - cpu_before) * 1e3 / 60.0;
    println!("Capture of one {width}×{height} frame through wlr-screencopy (SHM): {:.2} ms median wall time (the compositor renders the copy), {cpu_ms:.2} ms of the sharer's CPU.", percentile(&mut times, 0.5));
    Ok(())
}

fn thread_cpu_seconds() -> f64 {
    // SAFETY: clock_gettime only writes the struct we pass.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

fn children_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}
