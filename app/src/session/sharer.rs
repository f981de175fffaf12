//! The sharer's side of a session.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::annotation::{Annotation, MAX_POINTS_PER_MESSAGE};
use tandem_crypto::{PairingRole, SessionCode};
use tandem_rendezvous::client::Joined;
use tandem_rendezvous::introduction::Introduction;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::connect::{establish, Established, Outcome};
use super::helper::finish;
use super::media_loop::{close_gracefully, ended_with_connection, ControlChannel};
use super::pause::{PauseState, ResumeOutcome};
use super::rate::RateGate;
use super::remote_control::{spawn_input_reader, InputStreamError, RemoteControl};
use super::signaling::{pair, Incoming, Signaling};
use super::upgrade::{PathUpgrade, UpgradeStep};
use super::video::{send_frame, spawn_pipeline, PipelineControl, PipelineOutput};
use super::{emit, Command, CommandSource, Event, EventSink, SessionConfig, SessionError};
use crate::capture::CaptureError;
use crate::input::gate::RequestOutcome;
use crate::input::{DeclineReason, InputEvent};
use crate::protocol::{now_us, Control, CursorPicture, EndReason, Role, Signal};

/// No packet from the helper for this long (it pings every 500 ms) and held input is released.
const SILENT_PATH: Duration = Duration::from_millis(1500);

/// Runs a whole sharer session: join → pairing → consent (while the path is set up) →
/// sharing → end. No frame is produced, let alone sent, before the person allows it.
pub async fn run_sharer(
    config: SessionConfig,
    code: SessionCode,
    mut commands: CommandSource,
    events: EventSink,
) -> Result<EndReason, SessionError> {
    let mut mailbox = config.connect_mailbox().await?;
    let joined = mailbox.join(code.nameplate.as_str()).await?;
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
    let mut remote = RemoteControl::new(&config.video.source);
    let mut pause = PauseState::default();
    let mut chat_rate = RateGate::chat();
    let mut drawing_rate = RateGate::drawing();
    let mut upgrade = PathUpgrade::new(Role::Sharer, &config.ice, &path);
    let mut input = None;
    let mut accepting_input = true;
    let mut last_received = (0u64, Instant::now());
    let mut path_probe = tokio::time::interval(Duration::from_millis(250));

    let sharing = async {
        let reason = loop {
            tokio::select! {
                msg = control.recv() => match msg {
                    Ok(Control::Chat { text }) => {
                        if chat_rate.admit(Instant::now()) {
                            emit(&events, Event::Chat { from: Role::Helper, text });
                        }
                    }
                    Ok(Control::FrameAck { seq }) => pipeline.ack(seq),
                    Ok(Control::KeyframeRequest) => pipeline.force_keyframe.store(true, Ordering::Relaxed),
                    Ok(Control::Ping { t0_us }) => control.send(&Control::Pong { t0_us, t1_us: now_us() }).await?,
                    Ok(Control::SelectMonitor { id }) => pipeline.request_monitor(id),
                    Ok(Control::RequestControl) => match remote.on_request() {
                        RequestOutcome::Ask => emit(&events, Event::ControlRequested { helper_name: helper_name.clone() }),
                        RequestOutcome::Ignore => {}
                        // Answered without bothering the person.
                        RequestOutcome::Decline(reason) => control.send(&Control::ControlDeclined { reason }).await?,
                    },
                    Ok(msg @ (Control::PathProbe { .. } | Control::PathProbeCandidate { .. })) => {
                        if let Some(reply) = upgrade.on_control(msg, &ice).await {
                            control.send(&reply).await?;
                        }
                    }
                    Ok(Control::Annotate { annotation }) => {
                        // Nothing is drawn while the person has paused the session; bulk is
                        // refused here, the rest is bounded by the overlay's sketch.
                        let oversized = matches!(&annotation, Annotation::StrokeTo { points, .. } if points.len() > MAX_POINTS_PER_MESSAGE);
                        if !pause.is_paused() && !oversized && drawing_rate.admit(Instant::now()) {
                            emit(&events, Event::Annotation(annotation));
                        }
                    }
                    Ok(Control::ReleaseControl) => {
                        if remote.release() {
                            emit(&events, Event::ControlReleased);
                        }
                    }
                    Ok(Control::Pong { .. }
                        | Control::Monitors { .. }
                        | Control::Cursor { .. }
                        | Control::CursorShape(_)
                        | Control::ControlGranted
                        | Control::ControlDeclined { .. }
                        | Control::ControlRevoked
                        | Control::ResumeRefused { .. }
                        | Control::SecureDesktop { .. }) => {}
                    Ok(Control::Pause) => {
                        if pause.pause(Role::Helper) {
                            apply_pause(&pause, &pipeline, &mut remote);
                            emit(&events, Event::Paused { by: Role::Helper });
                        }
                    }
                    // The helper lifts only its own pause; the person's stands, and the helper
                    // is told why.
                    Ok(Control::Resume) => match pause.resume(Role::Helper) {
                        ResumeOutcome::Resumed => {
                            apply_pause(&pause, &pipeline, &mut remote);
                            emit(&events, Event::Resumed { by: Role::Helper });
                        }
                        ResumeOutcome::StillPaused { by } => {
                            control.send(&Control::ResumeRefused { paused_by: by }).await?;
                        }
                        ResumeOutcome::NotPaused => {}
                    },
                    Ok(Control::End { reason }) => {
                        connection.close(0u32.into(), b"end");
                        break reason;
                    }
                    Err(e) => {
                        debug!("control stream: {e}");
                        break EndReason::PeerLost;
                    }
                },
                output = outgoing.recv() => match output {
                    Some(PipelineOutput::Monitors { monitors, current, capture }) => {
                        remote.on_monitors(&monitors, current);
                        emit(&events, Event::Monitors { monitors: monitors.clone(), current, capture: Some(capture.clone()) });
                        control.send(&Control::Monitors { monitors, current, capture: Some(capture) }).await?;
                    }
                    // A Windows prompt on the secure desktop: the person answers it; the
                    // helper waits, told why the picture stands still.
                    Some(PipelineOutput::OutOfReach(active)) => {
                        remote.set_out_of_reach(active);
                        emit(&events, Event::SecureDesktop { active });
                        control.send(&Control::SecureDesktop { active }).await?;
                    }
                    Some(PipelineOutput::Cursor(p)) => {
                        control.send(&Control::Cursor { x: p.x, y: p.y, visible: p.visible }).await?;
                    }
                    Some(PipelineOutput::CursorShape(c)) => {
                        control.send(&Control::CursorShape(CursorPicture::from_shape(&c))).await?;
                    }
                    Some(PipelineOutput::Frame(frame)) => {
                        // Frames go out concurrently; ordering is restored by sequence number.
                        frames_sent += 1;
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
                cmd = commands.recv() => match cmd {
                    Some(Command::Chat(text)) => control.send(&Control::Chat { text }).await?,
                    Some(Command::Pause) => {
                        if pause.pause(Role::Sharer) {
                            apply_pause(&pause, &pipeline, &mut remote);
                            control.send(&Control::Pause).await?;
                            emit(&events, Event::Paused { by: Role::Sharer });
                        }
                    }
                    // The person lifts every pause, the helper's too.
                    Some(Command::Resume) => {
                        if pause.resume(Role::Sharer) == ResumeOutcome::Resumed {
                            apply_pause(&pause, &pipeline, &mut remote);
                            control.send(&Control::Resume).await?;
                            emit(&events, Event::Resumed { by: Role::Sharer });
                        }
                    }
                    // Locally first: no picture, no input from here on; then the helper is
                    // told (bounded: a helper that does not read costs two seconds).
                    Some(Command::End) | None => {
                        pipeline.stop.store(true, Ordering::Relaxed);
                        remote.revoke();
                        close_gracefully(&connection, &mut control, EndReason::SharerEnded).await;
                        break EndReason::SharerEnded;
                    }
                    Some(Command::SelectMonitor(id)) => pipeline.request_monitor(id),
                    Some(Command::GrantControl) => match remote.grant() {
                        Ok(true) => {
                            control.send(&Control::ControlGranted).await?;
                            emit(&events, Event::ControlGranted);
                        }
                        Ok(false) => {}
                        Err(e) => {
                            warn!("{e}");
                            let reason = DeclineReason::NotPossible;
                            control.send(&Control::ControlDeclined { reason }).await?;
                            emit(&events, Event::ControlDeclined { reason, message: e.to_string() });
                        }
                    },
                    Some(Command::DeclineControl) => {
                        if remote.decline() {
                            let reason = DeclineReason::Declined;
                            control.send(&Control::ControlDeclined { reason }).await?;
                            emit(&events, Event::ControlDeclined { reason, message: reason.describe().into() });
                        }
                    }
                    Some(Command::RevokeControl) => {
                        if remote.revoke() {
                            control.send(&Control::ControlRevoked).await?;
                            emit(&events, Event::ControlRevoked);
                        }
                    }
                    Some(Command::Allow
                        | Command::Decline
                        | Command::RequestKeyframe
                        | Command::RequestControl
                        | Command::ReleaseControl
                        | Command::Annotate(_)
                        | Command::Input(_)) => {}
                },
                stream = connection.accept_uni(), if accepting_input => {
                    // The helper's only unidirectional stream is its input stream.
                    accepting_input = false;
                    if let Ok(stream) = stream {
                        input = Some(spawn_input_reader(stream));
                    }
                }
                msg = next_input(&mut input) => match msg {
                    Ok(event) => remote.on_input(&event),
                    Err(InputStreamError::Malformed(e)) => debug!("skipped: {e}"),
                    Err(InputStreamError::Ended) => {
                        // The helper closed it, or the connection is going: the other branches
                        // will tell which.
                        remote.release_held();
                        input = None;
                    }
                    Err(e @ InputStreamError::Violation(_)) => {
                        warn!("{e}");
                        remote.release_held();
                        close_gracefully(&connection, &mut control, EndReason::ProtocolError).await;
                        break EndReason::ProtocolError;
                    }
                },
                _ = path_probe.tick() => {
                    // The helper pings twice a second: silence this long means the path is gone
                    // (QUIC gives up only after its idle timeout), and a key held down meanwhile
                    // would repeat on the sharer's screen. Let go now.
                    let received = connection.stats().udp_rx.bytes;
                    if received != last_received.0 {
                        last_received = (received, Instant::now());
                    } else if last_received.1.elapsed() > SILENT_PATH && remote.holds_anything() {
                        debug!("no packets from the helper for {SILENT_PATH:?}: releasing held input");
                        remote.release_held();
                    }
                    // What the congestion controller lets through now: one window per round trip.
                    let rtt = connection.rtt().as_secs_f64().max(0.001);
                    let cwnd_bits = connection.stats().path.cwnd as f64 * 8.0;
                    pipeline.set_path_estimate((cwnd_bits / rtt) as u64);
                }
                step = upgrade.next(&ice) => match step {
                    UpgradeStep::Send(msg) => control.send(&msg).await?,
                    UpgradeStep::Switched(path) => emit(&events, Event::PathChanged { path }),
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
    drop(remote);
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
            Ok(introduction.verify(&joined.introducer_keys, code.nameplate.as_str(), now)?)
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

/// Frames, input and drawing stop while anyone's pause stands; a full picture follows the
/// last pause lifted.
fn apply_pause(pause: &PauseState, pipeline: &PipelineControl, remote: &mut RemoteControl) {
    let paused = pause.is_paused();
    if !paused {
        pipeline.force_keyframe.store(true, Ordering::Relaxed);
    }
    pipeline.paused.store(paused, Ordering::Relaxed);
    remote.set_paused(paused);
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
