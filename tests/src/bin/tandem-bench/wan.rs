//! `tandem-bench wan`: the latency harness's scenes through emulated internet paths (needs
//! root). The sharer's access link is shaped by the link emulator (`tandem_tests::wan`);
//! the helper and the sharer run in this process, each on a runtime whose threads live in
//! its own network namespace, so the session crosses the emulated link, the NATs and (for
//! the relayed rows) coturn over TLS 443 for real. Figures are reported **minus the
//! profile's one-way delay**: what Tandem adds to the path.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tandem::input::translate::platform_key;
use tandem::net::PathInfo;
use tandem::session::{
    Command, Event, HelperIdentity, InputEvent, SessionConfig, SessionHandle, SourceSpec,
    VideoConfig,
};
use tandem_tests::netns::{world_shaped, Attachment, Topology, World};
use tandem_tests::scenes::SceneKind;
use tandem_tests::wan::Profile;
use tandem_tests::xrecord::EventRecorder;
use tandem_tests::xvfb::Xvfb;

use super::input::{measure, SampleKind};
use super::latency::{percentile, spawn_painter, stamp_sink, Observed};
use super::vnc_peer;
use super::wait_for;

const WIDTH: u32 = 1920;
const HEIGHT: u32 = 1080;
const WARM_UP: Duration = Duration::from_secs(2);
/// The sharer's address when it is on the public segment (the VNC server must be reachable).
const SHARER_PUBLIC_IP: &str = "203.0.113.20";

/// The two runtimes of a session: each one's threads in its peer's namespace.
struct Runtimes {
    helper: tokio::runtime::Runtime,
    sharer: tokio::runtime::Runtime,
}

impl Runtimes {
    /// Without waiting: a runtime cannot be dropped from the bench's own async context.
    fn shut_down(self) {
        self.helper.shutdown_background();
        self.sharer.shutdown_background();
    }
}

fn runtime_in(ns: &str) -> anyhow::Result<tokio::runtime::Runtime> {
    let ns = ns.to_string();
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            if let Err(e) = tandem_tests::netns::enter(&ns) {
                panic!("cannot enter {ns}: {e}");
            }
        })
        .build()?)
}

#[derive(Clone, Copy, PartialEq)]
enum PathChoice {
    Direct,
    Relayed,
    /// x11vnc and a VNC viewer over TCP, the sharer on the public segment.
    Vnc,
}

impl PathChoice {
    fn attachments(self) -> (Attachment, Attachment) {
        match self {
            PathChoice::Direct => (Attachment::ConeNat, Attachment::ConeNat),
            PathChoice::Relayed => (Attachment::ConeNat, Attachment::Tcp443Firewall),
            PathChoice::Vnc => (Attachment::ConeNat, Attachment::Public),
        }
    }
}

struct Session {
    helper: SessionHandle,
    sharer: SessionHandle,
    path: PathInfo,
    monitor: u32,
}

/// A session across the world, the sharer showing the Xvfb display, control granted.
async fn start_session(
    w: &World,
    rt: &Runtimes,
    display: &str,
    sink: tandem::session::FrameSink,
) -> anyhow::Result<Session> {
    let base = SessionConfig {
        rendezvous: w.rendezvous.url.clone(),
        insecure_rendezvous: true,
        video: VideoConfig {
            source: SourceSpec::X11 {
                display: Some(display.to_string()),
                monitor: None,
            },
            ..VideoConfig::default()
        },
        ..SessionConfig::default()
    };
    let mut base = base;
    base.ice.turn_ca = Some(w.ca.ca_path().into());
    let helper_config = SessionConfig {
        frame_sink: Some(sink),
        ..base.clone()
    };
    let (mut helper, code) = rt
        .helper
        .spawn(async move {
            let mut helper = SessionHandle::helper(
                helper_config,
                HelperIdentity::Dev {
                    name: "Bench".into(),
                },
            );
            let code = helper.code().await;
            (helper, code)
        })
        .await?;
    let Some(code) = code else {
        bail!("helper ended early: {:?}", helper.task.await?);
    };
    let mut sharer = rt
        .sharer
        .spawn(async move { SessionHandle::sharer(base, code) })
        .await?;
    sharer.send(Command::Allow);
    let Event::Connected { path, .. } = wait_for(&mut sharer.events, "connected", |e| {
        matches!(e, Event::Connected { .. })
    })
    .await?
    else {
        bail!("unexpected event");
    };
    let Event::Monitors { current, .. } = wait_for(&mut helper.events, "monitors", |e| {
        matches!(e, Event::Monitors { .. })
    })
    .await?
    else {
        bail!("unexpected event");
    };
    helper.send(Command::RequestControl);
    wait_for(&mut sharer.events, "control request", |e| {
        matches!(e, Event::ControlRequested { .. })
    })
    .await?;
    sharer.send(Command::GrantControl);
    wait_for(&mut helper.events, "control", |e| {
        matches!(e, Event::ControlGranted)
    })
    .await?;
    Ok(Session {
        helper,
        sharer,
        path,
        monitor: current,
    })
}

struct SceneSpec {
    kind: SceneKind,
    stamp_every_frame: bool,
    label: &'static str,
    seconds: u64,
}

/// Latency of frame `v` in ms, by the time it was drawn.
fn latencies(o: &Observed) -> Vec<(Instant, f64)> {
    let mut v: Vec<(Instant, f64)> = o
        .seen
        .iter()
        .filter_map(|(n, seen)| {
            o.drawn
                .get(n)
                .map(|d| (*d, seen.saturating_duration_since(*d).as_secs_f64() * 1e3))
        })
        .collect();
    v.sort_by_key(|(d, _)| *d);
    v
}

/// Least-squares slope of latency over time, in ms per 10 s (a standing queue grows).
fn trend(v: &[(Instant, f64)]) -> f64 {
    let Some(first) = v.first().map(|x| x.0) else {
        return f64::NAN;
    };
    let xs: Vec<f64> = v
        .iter()
        .map(|(t, _)| t.duration_since(first).as_secs_f64())
        .collect();
    let n = xs.len() as f64;
    let (mx, my) = (
        xs.iter().sum::<f64>() / n,
        v.iter().map(|x| x.1).sum::<f64>() / n,
    );
    let (mut num, mut den) = (0.0, 0.0);
    for (x, (_, y)) in xs.iter().zip(v) {
        num += (x - mx) * (y - my);
        den += (x - mx) * (x - mx);
    }
    if den == 0.0 {
        return f64::NAN;
    }
    num / den * 10.0
}

/// After each rate step-down in the window: how long until latency settled back, that is
/// until the first moment from which a whole second of frames has its 90th percentile
/// within twice the settled median (or 30 ms above it), the settled median being that of
/// the step's last 3 s. A later isolated spike (a keyframe) does not count against it.
fn recoveries(v: &[(Instant, f64)], step_downs: &[Instant], hold: Duration) -> Vec<f64> {
    let mut out = Vec::new();
    let second = Duration::from_secs(1);
    for &down in step_downs {
        let end = down + hold;
        let after: Vec<&(Instant, f64)> =
            v.iter().filter(|(t, _)| *t >= down && *t < end).collect();
        let mut settled: Vec<f64> = after
            .iter()
            .filter(|(t, _)| *t >= end - Duration::from_secs(3))
            .map(|x| x.1)
            .collect();
        if settled.is_empty() || after.is_empty() {
            continue;
        }
        let base = percentile(&mut settled, 0.5);
        let limit = (base * 2.0).max(base + 30.0);
        let recovered = after
            .iter()
            .map(|(t, _)| *t)
            .filter(|t| *t + second <= end)
            .find(|t| {
                let mut next: Vec<f64> = after
                    .iter()
                    .filter(|(u, _)| *u >= *t && *u < *t + second)
                    .map(|x| x.1)
                    .collect();
                percentile(&mut next, 0.9) <= limit
            })
            .unwrap_or(end);
        out.push(recovered.duration_since(down).as_secs_f64() * 1e3);
    }
    out
}

struct Row {
    p50: f64,
    p95: f64,
    fps: f64,
    kbps: f64,
    trend: f64,
    coded: String,
    recovery: Vec<f64>,
}

#[allow(clippy::too_many_arguments)]
async fn scene_run(
    spec: &SceneSpec,
    w: &World,
    rt: &Runtimes,
    xvfb: &Xvfb,
    profile: &Profile,
    input_samples: usize,
) -> anyhow::Result<(Row, PathInfo, Option<(Vec<f64>, Vec<f64>)>)> {
    let observed = Arc::new(Mutex::new(Observed::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    // The idle desktop has no painter: input is recorded by a window of its own, which
    // must be the top one.
    let painter = (spec.kind != SceneKind::Idle).then(|| {
        spawn_painter(
            spec.kind,
            spec.stamp_every_frame,
            &xvfb.display,
            (WIDTH, HEIGHT),
            observed.clone(),
            stop.clone(),
        )
    });
    let sink = stamp_sink(observed.clone(), measuring.clone());
    let mut s = start_session(w, rt, &xvfb.display, sink).await?;
    let (mut helper_events, mut sharer_events) = (
        std::mem::replace(&mut s.helper.events, tokio::sync::mpsc::channel(1).1),
        std::mem::replace(&mut s.sharer.events, tokio::sync::mpsc::channel(1).1),
    );
    // Bytes from the helper's events once measuring; the sharer's are drained so its
    // channel never fills.
    let bytes = {
        let observed = observed.clone();
        let measuring = measuring.clone();
        tokio::spawn(async move {
            while let Some(ev) = helper_events.recv().await {
                if let Event::FrameReceived { bytes, .. } = ev {
                    if let Ok(mut o) = observed.lock() {
                        if measuring.load(Ordering::Relaxed) {
                            o.bytes += bytes;
                        }
                    }
                }
            }
        })
    };
    let drain = tokio::spawn(async move { while sharer_events.recv().await.is_some() {} });
    tokio::time::sleep(WARM_UP).await;
    if let Ok(mut o) = observed.lock() {
        o.seen.clear();
        o.bytes = 0;
        o.frames = 0;
        o.coded.clear();
    }
    measuring.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    let window = Duration::from_secs(spec.seconds);
    // On the idle desktop, input: helper command → X event on the sharer's display.
    let input = if spec.kind == SceneKind::Idle && input_samples > 0 {
        let commands = s.helper.commands.clone();
        let monitor = s.monitor;
        let (keycode, _) = platform_key("KeyA").context("KeyA")?;
        let rec = EventRecorder::start_invisible(&xvfb.display, 0);
        let rec_samples = tokio::task::block_in_place(|| {
            measure(&rec, input_samples, keycode as u8, |sample| {
                let event = match sample {
                    SampleKind::Move(x, y) => InputEvent::PointerMove { monitor, x, y },
                    SampleKind::Key(down) => InputEvent::Key {
                        code: "KeyA".into(),
                        down,
                    },
                };
                let _ = commands.send(Command::Input(event));
            })
        })?;
        Some((rec_samples.moves, rec_samples.keys))
    } else {
        None
    };
    let left = window.saturating_sub(t0.elapsed());
    tokio::time::sleep(left).await;
    let elapsed = t0.elapsed().as_secs_f64();
    measuring.store(false, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    if let Some(painter) = painter {
        let _ = painter.join();
    }
    s.helper.send(Command::End);
    let _ = s.helper.task.await?;
    let _ = s.sharer.task.await?;
    bytes.abort();
    drain.abort();

    let o = observed.lock().map_err(|_| anyhow::anyhow!("lock"))?;
    let row = row_of(&o, profile, &w.topo, (t0, window), elapsed);
    let input = input.map(|(mut moves, mut keys)| {
        let down = profile.down.delay.as_secs_f64() * 1e3;
        for x in moves.iter_mut().chain(keys.iter_mut()) {
            *x -= down;
        }
        (moves, keys)
    });
    Ok((row, s.path, input))
}

/// What one run of a scene shows, from the stamps drawn and seen.
fn row_of(
    o: &Observed,
    profile: &Profile,
    topo: &Topology,
    (t0, window): (Instant, Duration),
    elapsed: f64,
) -> Row {
    let v: Vec<(Instant, f64)> = latencies(o).into_iter().filter(|(t, _)| *t >= t0).collect();
    let one_way = profile.up.delay.as_secs_f64() * 1e3;
    let mut lat: Vec<f64> = v.iter().map(|x| x.1 - one_way).collect();
    let step_downs = step_downs(profile, topo, t0, t0 + window);
    let hold = match &profile.up.rate {
        tandem_tests::wan::Rate::Steps { every, .. } => *every,
        _ => Duration::ZERO,
    };
    Row {
        p50: percentile(&mut lat, 0.5),
        p95: percentile(&mut lat, 0.95),
        fps: o.frames as f64 / elapsed,
        kbps: o.bytes as f64 * 8.0 / elapsed / 1000.0,
        trend: trend(&v),
        coded: o
            .coded
            .iter()
            .max_by_key(|(_, n)| **n)
            .map_or("–".to_string(), |((w, h), _)| format!("{w}×{h}")),
        recovery: recoveries(&v, &step_downs, hold),
    }
}

/// The same scene read through x11vnc by a VNC viewer in the helper's namespace.
async fn vnc_scene_run(
    spec: &SceneSpec,
    topo: &Topology,
    helper_rt: &tokio::runtime::Runtime,
    xvfb: &Xvfb,
    profile: &Profile,
) -> anyhow::Result<Row> {
    let observed = Arc::new(Mutex::new(Observed::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let painter = (spec.kind != SceneKind::Idle).then(|| {
        spawn_painter(
            spec.kind,
            spec.stamp_every_frame,
            &xvfb.display,
            (WIDTH, HEIGHT),
            observed.clone(),
            stop.clone(),
        )
    });
    let server = vnc_peer::X11Vnc::start(&topo.sharer, &xvfb.display)?;
    let counted = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let window = Duration::from_secs(spec.seconds);
    let until = Instant::now() + WARM_UP + window;
    let viewer = helper_rt.spawn(vnc_peer::view(
        format!("{SHARER_PUBLIC_IP}:{}", vnc_peer::PORT),
        (WIDTH, HEIGHT),
        observed.clone(),
        measuring.clone(),
        until,
        counted.clone(),
    ));
    tokio::time::sleep(WARM_UP).await;
    if let Ok(mut o) = observed.lock() {
        o.seen.clear();
        o.frames = 0;
    }
    let bytes0 = counted.load(Ordering::Relaxed);
    measuring.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    let result = viewer.await;
    let elapsed = t0.elapsed().as_secs_f64();
    measuring.store(false, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    if let Some(painter) = painter {
        let _ = painter.join();
    }
    drop(server);
    result??;
    let mut o = observed.lock().map_err(|_| anyhow::anyhow!("lock"))?;
    o.bytes = (counted.load(Ordering::Relaxed) - bytes0) as usize;
    o.coded.insert((WIDTH, HEIGHT), 1);
    Ok(row_of(&o, profile, topo, (t0, window), elapsed))
}

/// The moments within [from, to) at which the profile's uplink rate steps down.
fn step_downs(profile: &Profile, topo: &Topology, from: Instant, to: Instant) -> Vec<Instant> {
    let Some(start) = topo.link_started() else {
        return Vec::new();
    };
    let tandem_tests::wan::Rate::Steps { bps, every } = &profile.up.rate else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut t = start + *every;
    let mut i = 1usize;
    while t < to {
        let (prev, now) = (bps[(i - 1) % bps.len()], bps[i % bps.len()]);
        if now < prev && t >= from {
            out.push(t);
        }
        t += *every;
        i += 1;
    }
    out
}

fn ms(v: f64) -> String {
    if v.is_nan() {
        "–".into()
    } else {
        format!("{v:.1} ms")
    }
}

pub async fn run(
    profiles: Vec<String>,
    paths: Vec<String>,
    seconds: u64,
    scroll_seconds: u64,
    input_samples: usize,
    only_scenes: Vec<String>,
) -> anyhow::Result<()> {
    let profiles: Vec<Profile> = if profiles.is_empty() {
        Profile::all()
    } else {
        profiles
            .iter()
            .map(|n| Profile::named(n).with_context(|| format!("no profile {n}")))
            .collect::<anyhow::Result<_>>()?
    };
    let paths: Vec<PathChoice> = if paths.is_empty() {
        vec![PathChoice::Direct, PathChoice::Relayed, PathChoice::Vnc]
    } else {
        paths
            .iter()
            .map(|p| match p.as_str() {
                "direct" => Ok(PathChoice::Direct),
                "relayed" => Ok(PathChoice::Relayed),
                "vnc" => Ok(PathChoice::Vnc),
                other => bail!("no path {other} (direct, relayed, vnc)"),
            })
            .collect::<anyhow::Result<_>>()?
    };
    let xvfb = Xvfb::start(&[(WIDTH, HEIGHT)]);
    println!();
    println!("Screen → helper through emulated paths, {WIDTH}×{HEIGHT}, 30 Hz animation, sharer capped at 30 fps; latency is screen → decoded **minus the path's one-way delay**; input is helper command → X event on the sharer's display minus the one-way delay ({input_samples} moves and key presses on the idle desktop). Trend: least-squares slope of latency over the run (a standing queue grows). Step: time from each rate step-down until latency settled.");
    println!();
    println!("| path | scene | latency p50 | p95 | trend /10 s | frames/s | kbit/s | coded at | step-down → settled |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let scenes = |step: bool| {
        let long = |s: u64| if step { s.max(25) } else { s };
        vec![
            SceneSpec {
                kind: SceneKind::Idle,
                stamp_every_frame: false,
                label: "idle desktop + input",
                seconds,
            },
            SceneSpec {
                kind: SceneKind::Typing,
                stamp_every_frame: false,
                label: "typing, 10 keystrokes/s",
                seconds: long(seconds),
            },
            SceneSpec {
                kind: SceneKind::Typing,
                stamp_every_frame: true,
                label: "region changing 30×/s",
                seconds: long(seconds),
            },
            SceneSpec {
                kind: SceneKind::Scrolling,
                stamp_every_frame: true,
                label: "full-screen scrolling",
                seconds: long(scroll_seconds),
            },
            SceneSpec {
                kind: SceneKind::FullMotion,
                stamp_every_frame: true,
                label: "full motion",
                seconds: long(seconds),
            },
        ]
    };
    let mut inputs = Vec::new();
    for profile in &profiles {
        for &path in &paths {
            let (h, s) = path.attachments();
            let w = tokio::task::block_in_place(|| world_shaped(h, s, profile.clone()));
            let rt = Runtimes {
                helper: runtime_in(&w.topo.helper)?,
                sharer: runtime_in(&w.topo.sharer)?,
            };
            let step = matches!(profile.up.rate, tandem_tests::wan::Rate::Steps { .. });
            for spec in scenes(step).into_iter().filter(|s| {
                only_scenes.is_empty() || only_scenes.iter().any(|o| s.label.contains(o.as_str()))
            }) {
                let result = if path == PathChoice::Vnc {
                    vnc_scene_run(&spec, &w.topo, &rt.helper, &xvfb, profile)
                        .await
                        .map(|row| {
                            (
                                row,
                                format!("{} VNC (x11vnc, ZRLE) over tcp", profile.name),
                                None,
                            )
                        })
                } else {
                    scene_run(&spec, &w, &rt, &xvfb, profile, input_samples)
                        .await
                        .map(|(row, used, input)| {
                            let label = format!(
                                "{} {} {}↔{} over {}",
                                profile.name,
                                used.kind,
                                used.local_type,
                                used.remote_type,
                                used.transport
                            );
                            (row, label, input)
                        })
                };
                let (row, label, input) = match result {
                    Ok(r) => r,
                    Err(e) => {
                        rt.shut_down();
                        return Err(e);
                    }
                };
                let recovery = if row.recovery.is_empty() {
                    "–".to_string()
                } else {
                    row.recovery
                        .iter()
                        .map(|r| format!("{r:.0} ms"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                println!(
                    "| {label} | {} | {} | {} | {} | {:.1} | {:.0} | {} | {recovery} |",
                    spec.label,
                    ms(row.p50),
                    ms(row.p95),
                    if row.trend.is_nan() {
                        "–".to_string()
                    } else {
                        format!("{:+.1} ms", row.trend)
                    },
                    row.fps,
                    row.kbps,
                    row.coded,
                );
                if let Some((mut moves, mut keys)) = input {
                    inputs.push((
                        label,
                        percentile(&mut moves, 0.5),
                        percentile(&mut moves, 0.95),
                        percentile(&mut keys, 0.5),
                        percentile(&mut keys, 0.95),
                    ));
                }
            }
            rt.shut_down();
            tokio::task::block_in_place(|| drop(w));
        }
    }
    println!();
    println!("| path | pointer move p50 | p95 | key press p50 | p95 |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (label, m50, m95, k50, k95) in inputs {
        println!(
            "| {label} | {} | {} | {} | {} |",
            ms(m50),
            ms(m95),
            ms(k50),
            ms(k95)
        );
    }
    Ok(())
}
