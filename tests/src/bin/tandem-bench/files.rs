//! `tandem-bench files`: a file sent helper → sharer through a real session (in process, the
//! sharer showing an Xvfb screen with motion, control granted), direct on loopback and
//! through coturn over TURN/TLS. Per path, in the same run:
//! - the file's throughput against a bare QUIC bulk transfer over the same stack and path
//!   (`quic-peer`, two processes), the reference;
//! - the helper's input latency (command → X event on the sharer's display) and the frames
//!   decoded per second during the transfer against the same just before it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tandem::input::translate::platform_key;
use tandem::session::{
    Command, Event, FileDirection, FileSettings, HelperIdentity, IceOptions, InputEvent,
    SessionConfig, SessionHandle, SourceSpec, VideoConfig,
};
use tandem_rendezvous::turn_credentials::IceServersConfig;
use tandem_tests::turn::{free_port, Coturn, TestCa, TURN_SECRET};
use tandem_tests::xrecord::EventRecorder;
use tandem_tests::xvfb::{Motion, Xvfb};

use super::input::{measure, SampleKind, Samples};
use super::latency::percentile;
use super::wait_for;

/// What the helper's events said, kept by a task that drains them.
#[derive(Default)]
struct Seen {
    frames: Vec<Instant>,
    started: Option<Instant>,
    done: Option<Instant>,
    failed: Option<String>,
}

struct PathResult {
    label: &'static str,
    reference_mbit: f64,
    file_mbit: f64,
    idle: Samples,
    during: Samples,
    fps_idle: f64,
    fps_during: f64,
}

pub async fn run(megabytes: usize, samples: usize) -> anyhow::Result<()> {
    let (width, height) = (1280, 720);
    let xvfb = Xvfb::start(&[(width, height)]);
    let display = xvfb.display.clone();
    let _motion = Motion::on(&display);
    let recorder = Arc::new(EventRecorder::start_invisible(&display, 0));
    let ca = TestCa::new(&["127.0.0.1"]);
    let turn = Coturn::start(
        "127.0.0.1",
        free_port("127.0.0.1"),
        free_port("127.0.0.1"),
        &ca,
        None,
    );
    let rendezvous =
        tandem_rendezvous::EmbeddedRendezvous::start(tandem_rendezvous::ServerConfig {
            allow_dev_identity: true,
            ice_servers: IceServersConfig {
                turn_urls: vec![turn.tls_url()],
                turn_secret: Some(TURN_SECRET.into()),
                ..IceServersConfig::default()
            },
            ..tandem_rendezvous::ServerConfig::default()
        })
        .await?;
    let dir = std::env::temp_dir().join(format!("tandem-bench-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("in"))?;
    let file = dir.join("payload.bin");
    tandem_tests::write_incompressible(&file, megabytes << 20, |_| {})?;

    let mut results = Vec::new();
    for (label, relay_only) in [
        ("direct (loopback)", false),
        ("TURN/TLS relay (coturn on loopback)", true),
    ] {
        let reference_mbit = bare_quic(&rendezvous.url, &ca.ca_path(), relay_only, megabytes)?;
        let config = SessionConfig {
            rendezvous: rendezvous.url.clone(),
            ice: IceOptions {
                relay_only,
                turn_ca: Some(ca.ca_path().into()),
                ..IceOptions::default()
            },
            video: VideoConfig {
                source: SourceSpec::X11 {
                    display: Some(display.clone()),
                    monitor: None,
                },
                ..VideoConfig::default()
            },
            files: FileSettings {
                receive_dir: Some(dir.join("in")),
                ..FileSettings::default()
            },
            ..SessionConfig::default()
        };
        let (mut r, received) =
            session(config, &file, Arc::clone(&recorder), samples, label).await?;
        r.reference_mbit = reference_mbit;
        results.push(r);
        let _ = std::fs::remove_file(received);
    }
    let _ = std::fs::remove_dir_all(&dir);
    drop(turn);

    println!();
    println!(
        "Files: one {megabytes} MiB file helper → sharer in a session (sharer: {width}×{height} Xvfb with a moving band, control granted); the reference is a bare QUIC bulk transfer over the same ICE/QUIC stack and path, in the same run. Input: pointer moves, command → X event on the sharer's display, {} samples before the transfer and as many as fit during it.",
        samples
    );
    println!();
    println!("| path | bare QUIC | file in a session | ratio | move p50 / p95 before | during | fps before | during |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &mut results {
        let (b50, b95) = (
            percentile(&mut r.idle.moves, 0.5),
            percentile(&mut r.idle.moves, 0.95),
        );
        let (d50, d95) = (
            percentile(&mut r.during.moves, 0.5),
            percentile(&mut r.during.moves, 0.95),
        );
        println!(
            "| {} | {:.0} Mbit/s | {:.0} Mbit/s | {:.2} | {b50:.2} / {b95:.2} ms | {d50:.2} / {d95:.2} ms (n={}) | {:.1} | {:.1} |",
            r.label,
            r.reference_mbit,
            r.file_mbit,
            r.file_mbit / r.reference_mbit,
            r.during.moves.len(),
            r.fps_idle,
            r.fps_during,
        );
    }
    Ok(())
}

/// Two `quic-peer` processes on loopback: Mbit/s as the receiver saw it.
fn bare_quic(
    rendezvous: &str,
    ca: &str,
    relay_only: bool,
    megabytes: usize,
) -> anyhow::Result<f64> {
    use std::io::BufRead;
    use std::process::{Command as Process, Stdio};
    let me = std::env::current_exe()?;
    let mb = megabytes.to_string();
    let peer = |extra: &[&str]| -> anyhow::Result<std::process::Child> {
        let mut cmd = Process::new(&me);
        cmd.args([
            "quic-peer",
            "--rendezvous",
            rendezvous,
            "--turn-ca",
            ca,
            "--megabytes",
            &mb,
        ])
        .args(extra)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped());
        if relay_only {
            cmd.arg("--relay-only");
        }
        Ok(cmd.spawn()?)
    };
    let mut receiver = peer(&[])?;
    let mut lines = std::io::BufReader::new(receiver.stdout.take().context("stdout")?).lines();
    let first = lines.next().context("receiver said nothing")??;
    let nameplate = first
        .strip_prefix("nameplate ")
        .context("no nameplate")?
        .to_string();
    let mut sender = peer(&["--nameplate", &nameplate])?;
    let result = lines.next().context("no result")??;
    let _ = receiver.wait();
    let _ = sender.kill();
    let _ = sender.wait();
    let v: serde_json::Value = serde_json::from_str(&result)?;
    if relay_only && v["path"]["kind"] != "relayed" {
        bail!("the reference did not go through the relay: {v}");
    }
    v["mbit_per_s"].as_f64().context("no mbit_per_s")
}

async fn session(
    config: SessionConfig,
    file: &std::path::Path,
    recorder: Arc<EventRecorder>,
    samples: usize,
    label: &'static str,
) -> anyhow::Result<(PathResult, PathBuf)> {
    let relay_only = config.ice.relay_only;
    let mut helper = SessionHandle::helper(
        config.clone(),
        HelperIdentity::Dev {
            name: "Bench".into(),
        },
    );
    let Some(code) = helper.code().await else {
        bail!("helper ended early: {:?}", helper.task.await?);
    };
    let mut sharer = SessionHandle::sharer(config, code);
    sharer.send(Command::Allow);
    let connected = wait_for(&mut helper.events, "connected", |e| {
        matches!(e, Event::Connected { .. })
    })
    .await?;
    if let Event::Connected { path, .. } = &connected {
        if relay_only && path.kind != "relayed" {
            bail!("the session did not go through the relay: {path:?}");
        }
    }
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

    // The helper's events feed `seen`; the sharer's person accepts every file offered.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut helper_events = std::mem::replace(&mut helper.events, tokio::sync::mpsc::channel(1).1);
    let seen_by_task = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Some(ev) = helper_events.recv().await {
            let now = Instant::now();
            let Ok(mut s) = seen_by_task.lock() else {
                return;
            };
            match ev {
                Event::FrameReceived { .. } => s.frames.push(now),
                Event::FileStarted { .. } => s.started = Some(now),
                Event::FileDone {
                    direction: FileDirection::Sending,
                    ..
                } => s.done = Some(now),
                Event::FileFailed { message, .. } | Event::FileDeclined { message, .. } => {
                    s.failed = Some(message)
                }
                _ => {}
            }
        }
    });
    let mut sharer_events = std::mem::replace(&mut sharer.events, tokio::sync::mpsc::channel(1).1);
    let sharer_commands = sharer.commands.clone();
    let (saved_tx, saved_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut saved_tx = Some(saved_tx);
        while let Some(ev) = sharer_events.recv().await {
            match ev {
                Event::FileOffered { id, .. } => {
                    let _ = sharer_commands.send(Command::AcceptFile(id));
                }
                Event::FileDone { path: Some(p), .. } => {
                    if let Some(tx) = saved_tx.take() {
                        let _ = tx.send(PathBuf::from(p));
                    }
                }
                _ => {}
            }
        }
    });

    let (keycode, _) = platform_key("KeyA").context("KeyA")?;
    let commands = helper.commands.clone();
    let send = move |s: SampleKind| {
        let event = match s {
            SampleKind::Move(x, y) => InputEvent::PointerMove {
                monitor: current,
                x,
                y,
            },
            SampleKind::Key(down) => InputEvent::Key {
                code: "KeyA".into(),
                down,
            },
        };
        let _ = commands.send(Command::Input(event));
    };

    // Before: the reference.
    let rec = Arc::clone(&recorder);
    let send_idle = send.clone();
    let idle_from = Instant::now();
    let idle =
        tokio::task::spawn_blocking(move || measure(&rec, samples, keycode as u8, send_idle))
            .await??;
    let idle_to = Instant::now();

    // During: as many samples as fit in the transfer.
    helper.send(Command::SendFile(file.to_path_buf()));
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if seen.lock().map(|s| s.started.is_some()).unwrap_or(false) {
            break;
        }
        if Instant::now() > deadline {
            bail!("the transfer never started");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rec = Arc::clone(&recorder);
    let seen_while = Arc::clone(&seen);
    let during = tokio::task::spawn_blocking(move || -> anyhow::Result<Samples> {
        let mut all = Samples {
            moves: Vec::new(),
            keys: Vec::new(),
        };
        loop {
            let (done, failed) = seen_while
                .lock()
                .map(|s| (s.done.is_some(), s.failed.clone()))
                .unwrap_or((true, None));
            if let Some(why) = failed {
                bail!("the transfer failed: {why}");
            }
            if done {
                return Ok(all);
            }
            if Instant::now() > deadline {
                bail!("the transfer never ended");
            }
            let some = measure(&rec, 2, keycode as u8, send.clone())?;
            all.moves.extend(some.moves);
            all.keys.extend(some.keys);
        }
    })
    .await??;
    let saved = tokio::time::timeout(Duration::from_secs(60), saved_rx)
        .await
        .context("the sharer never saved the file")??;

    let (file_mbit, fps_idle, fps_during) = {
        let s = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let (started, done) = (s.started.context("started")?, s.done.context("done")?);
        let secs = done.duration_since(started).as_secs_f64().max(1e-6);
        let bytes = std::fs::metadata(file)?.len() as f64;
        let count = |from: Instant, to: Instant| {
            s.frames.iter().filter(|t| **t >= from && **t <= to).count() as f64
        };
        (
            bytes * 8.0 / secs / 1e6,
            count(idle_from, idle_to) / idle_to.duration_since(idle_from).as_secs_f64(),
            count(started, done) / secs,
        )
    };
    helper.send(Command::End);
    let _ = helper.task.await?;
    let _ = sharer.task.await?;
    Ok((
        PathResult {
            label,
            reference_mbit: 0.0,
            file_mbit,
            idle,
            during,
            fps_idle,
            fps_during,
        },
        saved,
    ))
}
