//! The sharer's side of a session.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tandem_crypto::{PairingRole, SessionCode};
use tandem_rendezvous::client::Joined;
use tandem_rendezvous::introduction::Introduction;
use tokio::sync::mpsc;
use tracing::{debug, trace, warn};

use super::connect::{establish, Established, Outcome};
use super::file_transfer::{inspect, FileReport, FileTasks};
use super::helper::finish;
use super::media_loop::{close_gracefully, end_session, ended_with_connection, ControlChannel};
use super::reconnect::{PathKeeper, PathStep};
use super::remote_control::{send_clipboard, spawn_stream_router, DesktopInput, InputStreamError};
use super::sharer_core::{SharerAction, SharerCore};
use super::signaling::{pair, Incoming, Signaling};
use super::transfers::FileAction;
use super::upgrade::{PathUpgrade, UpgradeStep};
use super::video::{send_frame, spawn_pipeline, PipelineControl, PipelineOutput};
use super::{emit, Command, CommandSource, Event, EventSink, SessionConfig, SessionError};
use crate::capture::CaptureError;
use crate::clipboard::{next_copy, LocalClipboard};
use crate::input::InputEvent;
use crate::protocol::{now_us, Control, CursorPicture, EndReason, Role, Signal, STREAM_REFUSED};

/// Runs a whole sharer session: join → pairing → consent (while the path is set up) →
/// sharing → end. No frame is produced, let alone sent, before the person allows it.
pub async fn run_sharer(
    config: SessionConfig,
    code: SessionCode,
    mut commands: CommandSource,
    events: EventSink,
) -> Result<EndReason, SessionError> {
    let mut mailbox = config.connect_mailbox().await?;
    let joined = mailbox.join(code.nameplate().as_str()).await?;
    let mut signaling = tokio::time::timeout(
        config.pairing_timeout,
        pair(mailbox, PairingRole::Sharer, &code),
    )
    .await
    .map_err(|_| SessionError::Timeout("pairing"))??;
    // Only now, with the whole code proved, does the helper say who it is — in words the
    // rendezvous signed.
    let introduction = match tokio::time::timeout(
        config.pairing_timeout,
        introduction(&mut signaling, &joined, &code),
    )
    .await
    .map_err(|_| SessionError::Timeout("waiting for the helper's introduction"))?
    {
        Ok(introduction) => introduction,
        Err(e) => {
            let _ = signaling
                .send(&Signal::Bye {
                    reason: EndReason::ProtocolError,
                })
                .await;
            signaling.close().await;
            return Err(e);
        }
    };
    let helper_name = introduction.helper_name;
    // The rendezvous's STUN/TURN servers come first; any configured locally follow.
    let mut config = config;
    config.ice.servers.splice(0..0, introduction.ice_servers);
    emit(
        &events,
        Event::Paired {
            peer_name: Some(helper_name.clone()),
        },
    );
    emit(
        &events,
        Event::ConsentRequested {
            helper_name: helper_name.clone(),
            affiliation: introduction.affiliation,
        },
    );

    let Established {
        endpoint,
        connection,
        ice,
        mut pending_chat,
        path,
        resume,
    } = match establish(Role::Sharer, &config, signaling, &mut commands, &events).await? {
        Outcome::Ready(established) => *established,
        Outcome::Ended(reason) => return finish(&events, reason, 0),
    };

    // Consent was given and the path is up: only now does the video pipeline exist. It
    // starts while the helper's control stream is still being accepted.
    let pipeline = Arc::new(PipelineControl::default());
    // Opening the screen can wait on the desktop's own dialog (Wayland) for as long as the
    // person takes: meanwhile End, and the helper leaving, still end the session.
    let opening = spawn_pipeline(config.video.clone(), pipeline.clone());
    tokio::pin!(opening);
    let opened = loop {
        tokio::select! {
            opened = &mut opening => break opened,
            cmd = commands.recv() => match cmd {
                Some(Command::Chat(text)) => pending_chat.push(text),
                Some(Command::End) | None => {
                    pipeline.stop.store(true, Ordering::Relaxed);
                    if let Ok(Ok((send, recv))) =
                        tokio::time::timeout(Duration::from_secs(1), connection.accept_bi()).await
                    {
                        let mut control = ControlChannel::new(send, recv, connection.clone());
                        close_gracefully(&connection, &mut control, EndReason::SharerEnded)
                            .await;
                    } else {
                        connection.close(0u32.into(), b"end");
                    }
                    return finish(&events, EndReason::SharerEnded, 0);
                }
                // Nothing else means anything before the screen is shown.
                Some(_) => {}
            },
            closed = connection.closed() => {
                pipeline.stop.store(true, Ordering::Relaxed);
                let reason = match closed {
                    quinn::ConnectionError::ApplicationClosed(_) => EndReason::HelperEnded,
                    _ => EndReason::PeerLost,
                };
                return finish(&events, reason, 0);
            }
        }
    };
    let (send, recv) = tokio::time::timeout(Duration::from_secs(10), connection.accept_bi())
        .await
        .map_err(|_| SessionError::Timeout("waiting for the helper's control stream"))?
        .map_err(|e| SessionError::Network(e.to_string()))?;
    let mut control = ControlChannel::new(send, recv, connection.clone());
    let mut outgoing = match opened {
        Ok(outgoing) => outgoing,
        Err(e) => {
            // The helper is told, not left to time out: a cancelled desktop dialog is the
            // person not allowing the share.
            let reason = if matches!(e, CaptureError::Declined) {
                EndReason::Declined
            } else {
                EndReason::SharerEnded
            };
            close_gracefully(&connection, &mut control, reason).await;
            return Err(SessionError::Video(e.to_string()));
        }
    };
    for text in pending_chat {
        control.send(&Control::Chat { text }).await?;
    }
    let mut frames_sent = 0u64;
    let mut video_rate = super::video_rate::VideoRate::new(config.video.bitrate_bps);
    let desktop = DesktopInput::new(&config.video.source);
    let mut core = SharerCore::new(helper_name.clone(), desktop.controllable(), Instant::now());
    // Opened for the session whether or not the helper asks: a request is then answered
    // at once when this desktop has no clipboard to share.
    let local_clipboard = match LocalClipboard::open() {
        Ok(c) => Some(c),
        Err(e) => {
            debug!("{e}");
            None
        }
    };
    core.set_clipboard_available(local_clipboard.is_some());
    let files = FileTasks::new(connection.clone(), config.files.receive_dir.clone());
    core.set_file_receiving(files.can_receive(), config.files.limits);
    let mut upgrade = PathUpgrade::new(Role::Sharer, &config.ice, &path);
    let mut current_path = path;
    let streams = spawn_stream_router(connection.clone());
    let mut input = Some(streams.input);
    let mut helper_copies = streams.clipboard;
    let mut helper_files = streams.files;
    let mut desk = Desk {
        input: desktop,
        clipboard: SharedClipboard {
            local: local_clipboard,
            open: streams.clipboard_open,
        },
        files,
    };
    let mut last_received = 0u64;
    // Often enough for the video's rate to follow a queue within a few round trips.
    let mut path_probe = tokio::time::interval(Duration::from_millis(100));
    let mut keeper = PathKeeper::new(Role::Sharer, &config, &resume, &ice, Instant::now());

    let sharing = async {
        let reason = loop {
            // What the core decided, carried out; then the next thing that happens.
            if let Some(reason) = drive(
                &mut core,
                &mut desk,
                &pipeline,
                &mut control,
                &connection,
                &events,
            )
            .await?
            {
                break reason;
            }
            let timeout = core.poll_timeout();
            tokio::select! {
                msg = control.recv() => match msg {
                    // Transport messages come back from the core; the rules are its.
                    Ok(msg) => match core.handle_control(Instant::now(), msg) {
                        Some(Control::FrameAck { seq }) => {
                            pipeline.ack(seq);
                            video_rate.on_acked(Instant::now(), seq);
                        }
                        Some(Control::KeyframeRequest) => pipeline.force_keyframe.store(true, Ordering::Relaxed),
                        Some(Control::Ping { t0_us }) => control.send(&Control::Pong { t0_us, t1_us: now_us() }).await?,
                        Some(msg @ (Control::PathProbe { .. } | Control::PathProbeCandidate { .. })) => {
                            if let Some(reply) = upgrade.on_control(msg, &ice).await {
                                control.send(&reply).await?;
                            }
                        }
                        Some(_) | None => {}
                    },
                    Err(e) => {
                        debug!("control stream: {e}");
                        break EndReason::PeerLost;
                    }
                },
                output = outgoing.recv() => match output {
                    Some(PipelineOutput::Monitors { monitors, current, capture }) => {
                        core.handle_monitors(monitors, current, capture);
                    }
                    // A Windows prompt on the secure desktop: the person answers it; the
                    // helper waits, told why the picture stands still.
                    Some(PipelineOutput::OutOfReach(active)) => core.handle_out_of_reach(active),
                    Some(PipelineOutput::Cursor(p)) => {
                        control.send(&Control::Cursor { x: p.x, y: p.y, visible: p.visible }).await?;
                    }
                    Some(PipelineOutput::CursorShape(c)) => {
                        control.send(&Control::CursorShape(CursorPicture::from_shape(&c))).await?;
                    }
                    Some(PipelineOutput::Frame(frame)) => {
                        // Frames go out concurrently; ordering is restored by sequence number.
                        frames_sent += 1;
                        video_rate.on_sent(Instant::now(), frame.header.seq, frame.data.len());
                        emit(&events, Event::FrameSent {
                            seq: frame.header.seq,
                            bytes: frame.data.len(),
                            keyframe: frame.header.keyframe,
                        });
                        let conn = connection.clone();
                        tokio::spawn(async move {
                            if let Err(e) = send_frame(&conn, &frame).await {
                                debug!("frame {} not sent: {e}", frame.header.seq);
                            }
                        });
                    }
                    // The pipeline stops on its own only when capture failed.
                    None => {
                        close_gracefully(&connection, &mut control, EndReason::SharerEnded).await;
                        return Err(SessionError::Video("screen capture stopped".into()));
                    }
                },
                // The UI gone is the person ending the session.
                cmd = commands.recv() => match cmd {
                    Some(Command::SendFile(path)) => match inspect(&path).await {
                        Ok(file) => core.handle_local_file(file),
                        Err(message) => emit(&events, unreadable(&path, message)),
                    },
                    cmd => core.handle_command(Instant::now(), cmd.unwrap_or(Command::End)),
                },
                Some(text) = helper_copies.recv() => core.handle_clipboard_from_helper(Instant::now(), text),
                Some((head, mut stream)) = helper_files.recv() => match core.take_file_stream(head) {
                    Some(file) => desk.files.receive(stream, file),
                    None => {
                        debug!("refused a file stream for {}", head.id);
                        let _ = stream.stop(STREAM_REFUSED.into());
                    }
                },
                Some(report) = desk.files.reports.recv() => match report {
                    FileReport::Progress { id, bytes } => core.handle_file_progress(Instant::now(), id, bytes),
                    FileReport::Finished { id, result } => {
                        desk.files.forget(id);
                        core.handle_file_finished(id, result);
                    }
                    FileReport::PeerStopped { id } => {
                        desk.files.forget(id);
                        core.handle_file_peer_stopped(id);
                    }
                },
                text = next_copy(&mut desk.clipboard.local) => core.handle_local_clipboard(text),
                msg = next_input(&mut input) => match msg {
                    Ok(event) => {
                        tracing::trace!(?event, "input");
                        core.handle_input(Instant::now(), &event);
                    }
                    Err(InputStreamError::Malformed(e)) => debug!("skipped: {e}"),
                    Err(InputStreamError::Ended) => {
                        debug!("the input stream ended");
                        // The helper closed it, or the connection is going: the other branches
                        // will tell which.
                        core.handle_input_ended();
                        input = None;
                    }
                    Err(e @ InputStreamError::Violation(_)) => {
                        warn!("{e}");
                        core.handle_input_violation();
                    }
                },
                _ = path_probe.tick() => {
                    // The helper pings twice a second: the core lets go of held input when
                    // it falls silent.
                    let received = connection.stats().udp_rx.bytes;
                    if received != last_received {
                        last_received = received;
                        core.handle_packets(Instant::now());
                    }
                    match keeper.observe(Instant::now(), received) {
                        Some(PathStep::Lost) => emit(&events, Event::Reconnecting),
                        Some(PathStep::Restored(_)) => emit(&events, Event::PathChanged { path: current_path.clone() }),
                        Some(PathStep::GaveUp) | None => {}
                    }
                    // What the video may use: under what the path delivers once frames
                    // queue, at most a share of what the congestion window lets through.
                    let rtt = connection.rtt();
                    let cwnd_bits = connection.stats().path.cwnd as f64 * 8.0;
                    let target = video_rate
                        .on_path(Instant::now(), cwnd_bits / rtt.as_secs_f64().max(0.001));
                    trace!(target_kbps = target / 1e3, rtt_ms = rtt.as_secs_f64() * 1e3, "video rate");
                    pipeline.set_path_estimate(target as u64);
                }
                () = sleep_until(timeout) => core.handle_timeout(Instant::now()),
                step = upgrade.next(&ice) => match step {
                    UpgradeStep::Send(msg) => control.send(&msg).await?,
                    UpgradeStep::Switched(path) => {
                        current_path = path.clone();
                        emit(&events, Event::PathChanged { path });
                    }
                },
                step = keeper.next() => match step {
                    PathStep::Restored(Some(path)) => {
                        // A relay found after a network change is left for a direct path
                        // as at the start.
                        upgrade = PathUpgrade::new(Role::Sharer, &config.ice, &path);
                        current_path = path.clone();
                        // A full picture at once: what was queued meanwhile is stale.
                        pipeline.force_keyframe.store(true, Ordering::Relaxed);
                        emit(&events, Event::PathChanged { path });
                    }
                    PathStep::GaveUp => {
                        connection.close(0u32.into(), b"peer lost");
                        break EndReason::PeerLost;
                    }
                    PathStep::Lost | PathStep::Restored(None) => {}
                },
                _ = connection.closed() => break EndReason::PeerLost,
            }
        };
        Ok::<EndReason, SessionError>(reason)
    };
    let ended = match sharing.await {
        Ok(reason) => Ok(reason),
        Err(e) => ended_with_connection(&connection, EndReason::HelperEnded, e),
    };
    // Whatever ended the session, nothing the helper pressed stays pressed.
    desk.input.release(core.release_everything());
    drop(desk);
    pipeline.stop.store(true, Ordering::Relaxed);
    let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
    finish(&events, ended?, frames_sent)
}

/// The helper's first signal: its introduction, checked against the keys this side's own
/// connection to the rendezvous returned, for the nameplate this side typed.
async fn introduction(
    signaling: &mut Signaling,
    joined: &Joined,
    code: &SessionCode,
) -> Result<Introduction, SessionError> {
    match signaling.recv().await? {
        Incoming::Signal(Signal::Introduction { introduction }) => {
            // Expiry by the rendezvous's clock: this machine's may be wrong.
            let skew = joined.server_time as i64 - unix_now() as i64;
            let now = (unix_now() as i64).saturating_add(skew).max(0) as u64;
            Ok(introduction.verify(&joined.introducer_keys, code.nameplate().as_str(), now)?)
        }
        Incoming::Signal(other) => Err(SessionError::Protocol(format!(
            "expected the helper's introduction, got {}",
            signal_name(&other)
        ))),
        Incoming::PeerLeft => Err(SessionError::Network(
            "the helper left before saying who it is".into(),
        )),
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn signal_name(signal: &Signal) -> &'static str {
    match signal {
        Signal::Introduction { .. } => "introduction",
        Signal::Hello { .. } => "hello",
        Signal::IceCandidate { .. } => "ice_candidate",
        Signal::EndOfCandidates => "end_of_candidates",
        Signal::Consent { .. } => "consent",
        Signal::Bye { .. } => "bye",
    }
}

/// Carries out what the core decided: actions on the screen and the desktop, control
/// messages to the helper (in order), events for the person. Returns the end when the core
/// ended the session (the helper told first when it should be).
async fn drive(
    core: &mut SharerCore,
    desk: &mut Desk,
    pipeline: &PipelineControl,
    control: &mut ControlChannel,
    connection: &quinn::Connection,
    events: &EventSink,
) -> Result<Option<EndReason>, SessionError> {
    let mut ended = None;
    while let Some(action) = core.poll_action() {
        match action {
            SharerAction::OpenInjector => {
                let opened = desk.input.open().map_err(|e| {
                    warn!("{e}");
                    e.to_string()
                });
                core.handle_injector_opened(opened);
            }
            SharerAction::Inject(ops) => {
                tracing::trace!(?ops, "inject");
                desk.input.inject(ops);
            }
            SharerAction::Release(ops) => {
                tracing::trace!(?ops, "release");
                desk.input.release(ops);
            }
            // A full picture follows the last pause lifted.
            SharerAction::Pause(paused) => {
                if !paused {
                    pipeline.force_keyframe.store(true, Ordering::Relaxed);
                }
                pipeline.paused.store(paused, Ordering::Relaxed);
            }
            SharerAction::SelectMonitor(id) => pipeline.request_monitor(id),
            SharerAction::WatchClipboard(on) => {
                desk.clipboard.open.store(on, Ordering::Release);
                if let Some(local) = &desk.clipboard.local {
                    local.watch(on);
                }
            }
            SharerAction::SetClipboard(text) => {
                if let Some(local) = &desk.clipboard.local {
                    local.set(text);
                }
            }
            SharerAction::SendClipboard(text) => {
                let connection = connection.clone();
                tokio::spawn(async move {
                    if let Err(e) = send_clipboard(&connection, text).await {
                        debug!("a copy was not sent: {e}");
                    }
                });
            }
            SharerAction::File(FileAction::Send { id, path, size }) => {
                desk.files.send(id, path, size)
            }
            SharerAction::File(FileAction::Stop(id)) => desk.files.stop(id),
            SharerAction::File(FileAction::Hold(on)) => desk.files.hold(on),
            SharerAction::File(FileAction::Discard(path)) => desk.files.discard(&path),
            SharerAction::End {
                reason,
                tell_helper,
            } => ended = Some((reason, tell_helper)),
        }
    }
    while let Some(msg) = core.poll_transmit() {
        control.send(&msg).await?;
    }
    while let Some(event) = core.poll_event() {
        emit(events, event);
    }
    let Some((reason, tell_helper)) = ended else {
        return Ok(None);
    };
    // Locally first: no picture from here on; then the helper is told (bounded: a helper
    // that does not read costs two seconds).
    pipeline.stop.store(true, Ordering::Relaxed);
    end_session(connection, control, reason, tell_helper).await;
    Ok(Some(reason))
}

/// Ready at `deadline`; never without one.
pub(super) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// A file the person chose that cannot be offered (gone, a folder, unreadable).
pub(super) fn unreadable(path: &std::path::Path, message: String) -> Event {
    Event::FileDeclined {
        id: 0,
        name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
        reason: crate::file::FileRefusal::Failed,
        message,
    }
}

/// What the core's actions reach on this computer: input, the clipboard, files.
struct Desk {
    input: DesktopInput,
    clipboard: SharedClipboard,
    files: FileTasks,
}

/// This desktop's clipboard in the session, and whether the helper's copies are read at all.
struct SharedClipboard {
    local: Option<LocalClipboard>,
    open: Arc<std::sync::atomic::AtomicBool>,
}

/// The next message from the input stream; never ready while there is none.
async fn next_input(
    input: &mut Option<mpsc::Receiver<Result<InputEvent, InputStreamError>>>,
) -> Result<InputEvent, InputStreamError> {
    match input {
        Some(rx) => rx.recv().await.unwrap_or(Err(InputStreamError::Ended)),
        None => std::future::pending().await,
    }
}
