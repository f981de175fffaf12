//! `tandem-bench session`: how fast a session starts, on loopback, in process.
//!
//! Measures, over N sessions: code submitted → consent prompt on the sharer, and
//! Allow → first decoded frame on the helper; plus the cost of one pairing (SPAKE2 + Noise,
//! both sides, no network). Prints a Markdown table for BENCHMARKS.md.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};

mod codec;
mod files;
mod gui;
mod input;
mod latency;
mod mailbox;
mod network;
mod reconnect;
mod throughput;
mod turn_guard;
mod vnc_peer;
mod wan;
mod wine_capture;
use clap::{Parser, Subcommand};
use tandem::session::{
    Command, Event, HelperIdentity, SessionConfig, SessionHandle, SourceSpec, VideoConfig,
};
use tandem_crypto::{Pairing, PairingRole, SessionCode};
use tokio::sync::mpsc;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Session start-up latency.
    Session {
        #[arg(long, default_value_t = 20)]
        runs: usize,
        #[arg(long, default_value_t = 1280)]
        width: u32,
        #[arg(long, default_value_t = 720)]
        height: u32,
    },
    /// Screen-to-helper latency of a real session under Xvfb, per scene.
    Latency {
        #[arg(long, default_value_t = 8)]
        seconds: u64,
        /// The sharer's frame-rate cap.
        #[arg(long, default_value_t = 30)]
        fps: u32,
        #[arg(long, default_value_t = 1920)]
        width: u32,
        #[arg(long, default_value_t = 1080)]
        height: u32,
        /// Then the same scenes on sway (Wayland, wlr-screencopy) in the same run.
        #[arg(long)]
        wayland: bool,
    },
    /// Input latency: helper command → X event on the sharer's display, against local XTest.
    Input {
        #[arg(long, default_value_t = 200)]
        samples: usize,
    },
    /// Set-up time and path quality per network shape (namespaces + coturn; needs root).
    Network {
        #[arg(long, default_value_t = 10)]
        runs: usize,
        #[arg(long, default_value_t = 6)]
        seconds: u64,
    },
    /// The sharer moves to another network mid-session: how long until frames arrive
    /// again, direct and relayed (namespaces + coturn; needs root).
    Reconnect {
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
    /// The latency scenes through emulated internet paths (dsl, lte, wifi-bad, step, far),
    /// direct and relayed over TLS 443 (namespaces + coturn; needs root).
    Wan {
        /// Profiles to run (all when none is given).
        #[arg(long = "profile")]
        profiles: Vec<String>,
        /// `direct`, `relayed` and/or `vnc` (all when none is given).
        #[arg(long = "path")]
        paths: Vec<String>,
        #[arg(long, default_value_t = 12)]
        seconds: u64,
        /// The scrolling scene runs this long (latency growth shows over a minute).
        #[arg(long, default_value_t = 60)]
        scroll_seconds: u64,
        /// Pointer moves and key presses timed on the idle desktop.
        #[arg(long, default_value_t = 30)]
        input_samples: usize,
        /// Only the scenes whose label contains one of these (e.g. `scrolling`).
        #[arg(long = "scene")]
        scenes: Vec<String>,
    },
    /// One end of `network`'s bulk transfer (run by it inside a namespace).
    #[command(hide = true)]
    QuicPeer {
        #[arg(long)]
        rendezvous: String,
        /// Join this nameplate and send; without it, allocate one and receive.
        #[arg(long)]
        nameplate: Option<String>,
        #[arg(long)]
        turn_ca: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 64)]
        megabytes: usize,
        /// Only through the TURN relay (as `tandem --relay-only`).
        #[arg(long)]
        relay_only: bool,
    },
    /// A file sent through a session, direct and through a TURN/TLS relay: its throughput
    /// against a bare QUIC bulk transfer on the same path, and the input latency and frame
    /// rate during it against without (Xvfb, coturn on loopback).
    Files {
        #[arg(long, default_value_t = 300)]
        megabytes: usize,
        /// Input samples before the transfer (the reference).
        #[arg(long, default_value_t = 100)]
        samples: usize,
    },
    /// What one full-screen capture costs the Windows build under Wine (GDI) beside the
    /// Linux build on the same Xvfb.
    WineCapture {
        #[arg(long, default_value_t = 60)]
        frames: u32,
        #[arg(long, default_value_t = 1920)]
        width: u32,
        #[arg(long, default_value_t = 1080)]
        height: u32,
        /// The Windows `tandem.exe` (default: the debug build of scripts/build-windows.sh).
        #[arg(long)]
        exe: Option<std::path::PathBuf>,
    },
    /// What the helper's window costs per frame of a 1080p stream (real GUI under Xvfb).
    Gui {
        #[arg(long, default_value_t = 8)]
        seconds: u64,
    },
    /// Rendezvous load: pairings/s, latency, memory per pending nameplate; memory and Redis
    /// stores, and magic-wormhole's mailbox server as the reference.
    Mailbox {
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "memory,redis,wormhole"
        )]
        servers: Vec<mailbox::Server>,
        /// Plain WebSocket, TLS, or both (every server over each).
        #[arg(long, value_enum, value_delimiter = ',', default_value = "ws,wss")]
        transports: Vec<mailbox::Transport>,
        /// Concurrent pairings in flight (each holds two connections); every server runs
        /// at each.
        #[arg(long, value_delimiter = ',', default_value = "100,1000")]
        concurrency: Vec<usize>,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Waiting helpers for the memory-per-nameplate figure.
        #[arg(long, default_value_t = 2000)]
        pending: usize,
        /// The server binary (e.g. a release build); default: next to this one.
        #[arg(long)]
        rendezvous_bin: Option<std::path::PathBuf>,
        /// Load from this many worker processes (each holds its share of the sockets).
        #[arg(long, default_value_t = 1)]
        load_processes: usize,
    },
    /// One load process of `mailbox --load-processes N` (prints its result as JSON).
    #[command(hide = true)]
    MailboxWorker {
        #[arg(long, value_enum)]
        server: mailbox::Server,
        #[arg(long)]
        helper_url: String,
        #[arg(long)]
        sharer_url: String,
        /// The CA to trust for `wss://`.
        #[arg(long)]
        ca: Option<std::path::PathBuf>,
        #[arg(long)]
        concurrency: usize,
        #[arg(long)]
        seconds: u64,
    },
    /// The video leg on desktop-like scenes, with ffmpeg's libx264 on the same frames.
    /// What the embedded TURN server's guard costs per relayed packet, against a copy and
    /// an allocation lookup (the least a relay does), in the same run.
    TurnGuard {
        #[arg(long, default_value_t = 2_000_000)]
        packets: usize,
    },
    Codec {
        #[arg(long, default_value_t = 150)]
        frames: usize,
        #[arg(long, default_value_t = 1920)]
        width: u32,
        #[arg(long, default_value_t = 1080)]
        height: u32,
        #[arg(long, default_value_t = 2_500_000)]
        bitrate: u32,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The sessions run in this process: their logs (RUST_LOG) go to stderr.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match cli.what {
        What::Session {
            runs,
            width,
            height,
        } => session(runs, width, height).await,
        What::Codec {
            frames,
            width,
            height,
            bitrate,
        } => codec::run(frames, width, height, bitrate),
        // Blocking (processes, X clients) on a blocking thread, off the runtime's workers.
        What::Gui { seconds } => tokio::task::spawn_blocking(move || gui::run(seconds)).await?,
        What::WineCapture {
            frames,
            width,
            height,
            exe,
        } => {
            tokio::task::spawn_blocking(move || wine_capture::run(frames, width, height, exe))
                .await?
        }
        What::Latency {
            seconds,
            fps,
            width,
            height,
            wayland,
        } => latency::run(seconds, fps, width, height, wayland).await,
        What::Input { samples } => input::run(samples).await,
        What::TurnGuard { packets } => turn_guard::run(packets),
        What::Mailbox {
            servers,
            transports,
            concurrency,
            seconds,
            pending,
            rendezvous_bin,
            load_processes,
        } => {
            mailbox::run(
                servers,
                transports,
                concurrency,
                seconds,
                pending,
                load_processes,
                rendezvous_bin,
            )
            .await
        }
        What::MailboxWorker {
            server,
            helper_url,
            sharer_url,
            ca,
            concurrency,
            seconds,
        } => mailbox::worker(server, helper_url, sharer_url, ca, concurrency, seconds).await,
        What::QuicPeer {
            rendezvous,
            nameplate,
            turn_ca,
            megabytes,
            relay_only,
        } => throughput::run(rendezvous, nameplate, turn_ca, megabytes, relay_only).await,
        What::Files { megabytes, samples } => files::run(megabytes, samples).await,
        What::Network { runs, seconds } => {
            tokio::task::spawn_blocking(move || network::run(runs, seconds)).await?
        }
        What::Reconnect { runs } => {
            tokio::task::spawn_blocking(move || reconnect::run(runs)).await?
        }
        What::Wan {
            profiles,
            paths,
            seconds,
            scroll_seconds,
            input_samples,
            scenes,
        } => {
            wan::run(
                profiles,
                paths,
                seconds,
                scroll_seconds,
                input_samples,
                scenes,
            )
            .await
        }
    }
}

async fn wait_for(
    rx: &mut mpsc::Receiver<Event>,
    what: &str,
    pred: impl Fn(&Event) -> bool,
) -> anyhow::Result<Event> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(ev)) if pred(&ev) => return Ok(ev),
            Ok(Some(_)) => continue,
            Ok(None) => bail!("session ended before {what}"),
            Err(_) => bail!("timed out waiting for {what}"),
        }
    }
}

async fn session(runs: usize, width: u32, height: u32) -> anyhow::Result<()> {
    let rendezvous =
        tandem_rendezvous::EmbeddedRendezvous::start(tandem_rendezvous::ServerConfig {
            allow_dev_identity: true,
            allocate_limit: tandem_rendezvous::rate_limit::Limit {
                per_minute: 100_000,
                burst: 100_000,
            },
            join_limit: tandem_rendezvous::rate_limit::Limit {
                per_minute: 100_000,
                burst: 100_000,
            },
            ..Default::default()
        })
        .await?;
    let url = rendezvous.url.clone();
    let config = SessionConfig {
        rendezvous: url,
        video: VideoConfig {
            source: SourceSpec::TestPattern { width, height },
            ..VideoConfig::default()
        },
        ..SessionConfig::default()
    };

    let mut to_prompt = Vec::new();
    let mut to_first_frame = Vec::new();
    let mut setup = Vec::new();
    for run in 0..runs {
        let mut helper = SessionHandle::helper(
            config.clone(),
            HelperIdentity::Dev {
                name: "Anna Rossi".into(),
            },
        );
        let Some(code) = helper.code().await else {
            bail!("the helper ended early: {:?}", helper.task.await?);
        };
        let submitted = Instant::now();
        let mut sharer = SessionHandle::sharer(config.clone(), code);
        wait_for(&mut sharer.events, "consent prompt", |e| {
            matches!(e, Event::ConsentRequested { .. })
        })
        .await?;
        to_prompt.push(submitted.elapsed());
        // A person takes a moment to read the prompt; by then the path is usually up.
        // Measure both: with no pause (worst case), and the usual case after 300 ms.
        if run % 2 == 1 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let allowed = Instant::now();
        sharer.send(Command::Allow);
        wait_for(&mut helper.events, "first frame", |e| {
            matches!(e, Event::FrameReceived { .. })
        })
        .await?;
        let first = allowed.elapsed();
        to_first_frame.push((run % 2 == 1, first));
        if let Event::Connected { setup_ms, .. } = wait_for(&mut sharer.events, "connected", |e| {
            matches!(e, Event::Connected { .. })
        })
        .await?
        {
            setup.push(Duration::from_millis(setup_ms));
        }
        helper.send(Command::End);
        helper.task.await?.context("helper")?;
        sharer.task.await?.context("sharer")?;
    }

    let pairing = pairing_cost(200);
    let immediate: Vec<Duration> = to_first_frame
        .iter()
        .filter(|(p, _)| !p)
        .map(|(_, d)| *d)
        .collect();
    let after_pause: Vec<Duration> = to_first_frame
        .iter()
        .filter(|(p, _)| *p)
        .map(|(_, d)| *d)
        .collect();
    println!(
        "| measurement ({runs} sessions, {width}×{height}, loopback) | median | p90 | min | max |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    row("code submitted → consent prompt", &mut to_prompt);
    row(
        "path set-up on the sharer: pairing done → QUIC connected (ICE + QUIC handshake)",
        &mut setup,
    );
    row(
        &format!(
            "Allow → first decoded frame, Allow at once (n={})",
            immediate.len()
        ),
        &mut immediate.clone(),
    );
    row(
        &format!(
            "Allow → first decoded frame, Allow after 300 ms (n={})",
            after_pause.len()
        ),
        &mut after_pause.clone(),
    );
    row(
        "one pairing, SPAKE2 + Noise, both sides, in memory (n=200)",
        &mut pairing.clone(),
    );
    Ok(())
}

fn pairing_cost(n: usize) -> Vec<Duration> {
    let code = SessionCode::parse("ABC-DEF-GH3").unwrap_or_else(|_| unreachable!("valid"));
    (0..n)
        .map(|_| {
            let start = Instant::now();
            let mut h = Pairing::new(PairingRole::Helper, &code);
            let mut s = Pairing::new(PairingRole::Sharer, &code);
            loop {
                let mut moved = false;
                while let Some(m) = h.poll_transmit() {
                    let _ = s.handle_message(&m);
                    moved = true;
                }
                while let Some(m) = s.poll_transmit() {
                    let _ = h.handle_message(&m);
                    moved = true;
                }
                if !moved {
                    break;
                }
            }
            assert!(h.is_established() && s.is_established());
            start.elapsed()
        })
        .collect()
}

fn row(name: &str, v: &mut [Duration]) {
    if v.is_empty() {
        return;
    }
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    println!(
        "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
        ms(p(0.5)),
        ms(p(0.9)),
        ms(v[0]),
        ms(v[v.len() - 1])
    );
}
