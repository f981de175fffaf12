//! `tandem-bench input`: input latency, helper command → event received by an X client on
//! the sharer's display, through a real session on loopback (in process). The reference is
//! the same injection done locally (enigo/XTest straight into the display), in the same run.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tandem::input::inject::{DesktopInjector, Injector};
use tandem::input::translate::{platform_key, InjectOp};
use tandem::session::{
    Command, Event, HelperIdentity, InputEvent, SessionConfig, SessionHandle, SourceSpec,
    VideoConfig,
};
use tandem_tests::xrecord::{EventRecorder, Recorded};
use tandem_tests::xvfb::Xvfb;

use super::latency::percentile;
use super::wait_for;

const GAP: Duration = Duration::from_millis(20);

/// The position of sample `i`: unique, so each motion event names its sample.
fn spot(i: usize) -> (u32, u32) {
    (10 + (i % 1000) as u32, 10 + (i / 1000) as u32)
}

/// Waits for the recorder to see `want`, returns the time it arrived.
fn arrival(rec: &EventRecorder, from: usize, want: Recorded) -> anyhow::Result<(Instant, usize)> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let events = rec.timed_events();
        if let Some(pos) = events[from.min(events.len())..]
            .iter()
            .position(|(_, e)| *e == want)
        {
            let i = from + pos;
            return Ok((events[i].0, i + 1));
        }
        if Instant::now() > deadline {
            bail!("{want:?} never arrived");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

pub(super) struct Samples {
    pub moves: Vec<f64>,
    pub keys: Vec<f64>,
}

/// Runs `samples` moves and key presses through `send`, timing each to its arrival.
pub(super) fn measure(
    rec: &EventRecorder,
    samples: usize,
    keycode: u8,
    mut send: impl FnMut(SampleKind),
) -> anyhow::Result<Samples> {
    let mut out = Samples {
        moves: Vec::new(),
        keys: Vec::new(),
    };
    rec.clear();
    let mut cursor = 0;
    for i in 0..samples {
        let (x, y) = spot(i);
        let t0 = Instant::now();
        send(SampleKind::Move(x, y));
        let (at, next) = arrival(
            rec,
            cursor,
            Recorded::Motion {
                x: x as i16,
                y: y as i16,
            },
        )?;
        cursor = next;
        out.moves.push(at.duration_since(t0).as_secs_f64() * 1e3);
        std::thread::sleep(GAP);

        let t0 = Instant::now();
        send(SampleKind::Key(true));
        let deadline = Instant::now() + Duration::from_secs(5);
        let at = loop {
            let events = rec.timed_events();
            if let Some((pos, (at, _))) = events
                .iter()
                .enumerate()
                .skip(cursor)
                .find(|(_, (_, e))| matches!(e, Recorded::Key { keycode: k, down: true, .. } if *k == keycode))
            {
                cursor = pos + 1;
                break *at;
            }
            if Instant::now() > deadline {
                bail!("key press never arrived");
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        out.keys.push(at.duration_since(t0).as_secs_f64() * 1e3);
        send(SampleKind::Key(false));
        std::thread::sleep(GAP);
    }
    Ok(out)
}

#[derive(Clone, Copy)]
pub(super) enum SampleKind {
    Move(u32, u32),
    Key(bool),
}

pub async fn run(samples: usize) -> anyhow::Result<()> {
    let (width, height) = (1280, 720);
    let xvfb = Xvfb::start(&[(width, height)]);
    let display = xvfb.display.clone();
    let rec = EventRecorder::start(&display, 0);
    let (keycode, _) = platform_key("KeyA").context("KeyA")?;

    // Reference: XTest straight into the display from this process.
    let reference = {
        let mut local = DesktopInjector::open(Some(&display))?;
        measure(&rec, samples, keycode as u8, |s| {
            let op = match s {
                SampleKind::Move(x, y) => InjectOp::MoveTo {
                    screen: 0,
                    monitor: 0,
                    x: x as i32,
                    y: y as i32,
                },
                SampleKind::Key(down) => InjectOp::Key { keycode, down },
            };
            let _ = local.inject(&op);
        })?
    };

    // Tandem: a real session on loopback, control granted.
    let rendezvous = tandem_rendezvous::EmbeddedRendezvous::start_for_demo().await?;
    let config = SessionConfig {
        rendezvous: rendezvous.url.clone(),
        video: VideoConfig {
            source: SourceSpec::X11 {
                display: Some(display.clone()),
                monitor: None,
            },
            ..VideoConfig::default()
        },
        ..SessionConfig::default()
    };
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
    let monitors = wait_for(&mut helper.events, "monitors", |e| {
        matches!(e, Event::Monitors { .. })
    })
    .await?;
    let Event::Monitors { current, .. } = monitors else {
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
    // Drain events in the background so neither channel grows.
    let (mut helper_events, mut sharer_events) = (
        std::mem::replace(&mut helper.events, tokio::sync::mpsc::channel(1).1),
        std::mem::replace(&mut sharer.events, tokio::sync::mpsc::channel(1).1),
    );
    tokio::spawn(async move { while helper_events.recv().await.is_some() {} });
    tokio::spawn(async move { while sharer_events.recv().await.is_some() {} });

    let commands = helper.commands.clone();
    let (tandem, rec) = tokio::task::spawn_blocking({
        move || -> anyhow::Result<(Samples, EventRecorder)> {
            let samples = measure(&rec, samples, keycode as u8, |s| {
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
            })?;
            Ok((samples, rec))
        }
    })
    .await??;
    helper.send(Command::End);
    let _ = helper.task.await?;
    let _ = sharer.task.await?;
    drop(rec);
    drop(xvfb);

    println!();
    println!("Input: command sent → event received by an X client on the sharer's display ({width}×{height} Xvfb, loopback, {samples} samples each, {} ms apart).", GAP.as_millis());
    println!();
    println!("| path | pointer move p50 | p95 | key press p50 | p95 |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let mut rows = [
        ("local XTest (reference)", reference),
        ("Tandem session (helper → sharer)", tandem),
    ];
    let mut medians = Vec::new();
    for (label, s) in rows.iter_mut() {
        let (m50, m95) = (
            percentile(&mut s.moves, 0.5),
            percentile(&mut s.moves, 0.95),
        );
        let (k50, k95) = (percentile(&mut s.keys, 0.5), percentile(&mut s.keys, 0.95));
        medians.push((m50, k50));
        println!("| {label} | {m50:.2} ms | {m95:.2} ms | {k50:.2} ms | {k95:.2} ms |");
    }
    if let [(rm, rk), (tm, tk)] = medians[..] {
        println!();
        println!(
            "Session overhead over local injection (medians): move +{:.2} ms, key +{:.2} ms.",
            tm - rm,
            tk - rk
        );
    }
    Ok(())
}
