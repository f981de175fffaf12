//! `tandem demo`: a whole session on this machine with the rendezvous embedded (the
//! README's first command). Behind the `demo` feature (on by default): it links the
//! rendezvous's server, which the packages people install leave out.

use std::io::Write;
use std::time::Duration;

use tandem::session::{Command, Event, HelperIdentity, SessionConfig, SessionHandle};

use tokio::io::AsyncBufReadExt;

use super::{terminal, VideoArgs};

/// `tandem demo` with a display: the embedded rendezvous here, and a helper window and a
/// sharer window as two processes, as two people would have them.
pub async fn in_windows(video: VideoArgs) -> anyhow::Result<i32> {
    let rendezvous = tandem_rendezvous::EmbeddedRendezvous::start_for_demo().await?;
    let url = rendezvous.url.clone();
    println!("Embedded rendezvous on {url}");
    println!("Helper window: click “Help someone”. Sharer window: type the code it shows.");
    let exe = std::env::current_exe()?;
    let mut video_args = Vec::new();
    if let Some((w, h)) = video.test_pattern {
        video_args.extend(["--test-pattern".to_owned(), format!("{w}x{h}")]);
    }
    if let Some(display) = &video.display {
        video_args.extend(["--display".to_owned(), display.clone()]);
    }
    if let Some(monitor) = video.monitor {
        video_args.extend(["--monitor".to_owned(), monitor.to_string()]);
    }
    let spawn = |extra: &[&str]| {
        tokio::process::Command::new(&exe)
            .arg("gui")
            .args(["--rendezvous", &url])
            .args(extra)
            .args(&video_args)
            .kill_on_drop(true)
            .spawn()
    };
    // Side by side, as the two people's screens would be: the helper on the left.
    let mut helper = spawn(&["--dev-identity", "Anna Rossi", "--place", "left"])?;
    let mut sharer = spawn(&["--place", "right"])?;
    let (helper_status, sharer_status) = tokio::select! {
        statuses = async { (helper.wait().await, sharer.wait().await) } => statuses,
        _ = tokio::signal::ctrl_c() => return Ok(0),
    };
    drop(rendezvous);
    Ok(if helper_status?.success() && sharer_status?.success() {
        0
    } else {
        1
    })
}

/// The README's first command without a display: everything on this machine, in the
/// terminal.
pub async fn in_terminal(seconds: u64, video: VideoArgs) -> anyhow::Result<i32> {
    let rendezvous = tandem_rendezvous::EmbeddedRendezvous::start_for_demo().await?;
    let url = rendezvous.url.clone();
    println!("Embedded rendezvous on {url}");

    let base = SessionConfig {
        rendezvous: url,
        video: video.config(),
        ..SessionConfig::default()
    };
    let mut helper = SessionHandle::helper(
        base.clone(),
        HelperIdentity::Dev {
            name: "Anna Rossi".into(),
        },
    );
    let Some(code) = helper.code().await else {
        helper.task.await??;
        anyhow::bail!("the helper stopped before getting a code");
    };
    println!("[helper] Your code: {code} — the sharer types it in.");
    let mut sharer = SessionHandle::sharer(base, code);

    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    let (mut helper_done, mut sharer_done) = (false, false);
    let mut frames = 0u64;
    let mut latencies = Vec::new();
    while !(helper_done && sharer_done) {
        tokio::select! {
            ev = sharer.events.recv(), if !sharer_done => match ev {
                Some(Event::ConsentRequested { helper_name, .. }) => {
                    print!("[sharer] {} wants to see your screen. Allow? [y/N] ", tandem::peer_text::for_terminal(&helper_name));
                    let _ = std::io::stdout().flush();
                    let answer = lines.next_line().await.ok().flatten().unwrap_or_default();
                    let allow = terminal::yes(&answer);
                    sharer.send(if allow { Command::Allow } else { Command::Decline });
                }
                Some(Event::Ended { message, frames, .. }) => {
                    println!("[sharer] ended: {message}; {frames} frames sent");
                }
                Some(Event::Connected { path, setup_ms }) => {
                    println!("[sharer] connected {} ({} ↔ {}) in {setup_ms} ms", path.kind, path.local, path.remote);
                }
                Some(_) => {}
                None => sharer_done = true,
            },
            ev = helper.events.recv(), if !helper_done => match ev {
                Some(Event::ConsentGiven) => {
                    println!("[helper] allowed; sharing for {seconds} s");
                    deadline = Some(Box::pin(tokio::time::sleep(Duration::from_secs(seconds))));
                    helper.send(Command::Chat("Hello, I can see your screen now.".into()));
                }
                Some(Event::FrameReceived { latency_ms, .. }) => {
                    frames += 1;
                    latencies.push(latency_ms);
                }
                Some(Event::Stats { fps, kbit_per_s, latency_ms, .. }) => println!(
                    "[helper] {fps:5.1} fps {kbit_per_s:7.0} kbit/s latency {}",
                    latency_ms.map(|l| format!("{l:.1} ms")).unwrap_or_else(|| "–".into())
                ),
                Some(Event::Ended { message, .. }) => println!("[helper] ended: {message}"),
                Some(Event::ConsentDeclined) => println!("[helper] the sharer declined"),
                Some(_) => {}
                None => helper_done = true,
            },
            _ = async { match deadline.as_mut() { Some(d) => d.await, None => std::future::pending().await } } => {
                deadline = None;
                helper.send(Command::End);
            }
            _ = tokio::signal::ctrl_c() => {
                helper.send(Command::End);
            }
        }
    }
    let helper_result = helper.task.await?;
    let sharer_result = sharer.task.await?;
    drop(rendezvous);
    latencies.sort_by(|a, b| a.total_cmp(b));
    if let Some(p50) = latencies.get(latencies.len() / 2) {
        println!("Demo summary: {frames} frames decoded, median latency {p50:.1} ms");
    }
    helper_result?;
    sharer_result?;
    Ok(0)
}
