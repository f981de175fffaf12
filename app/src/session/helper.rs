//! The helper's side of a session.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tandem_crypto::{PairingRole, SessionCode};
use tandem_rendezvous::records::{Feature, SessionReport};
use tandem_rendezvous::wire::HelperIdentity;
use tandem_rendezvous::{MailboxClient, PeerEvent};
use tokio::time::MissedTickBehavior;
use tracing::debug;

use super::clock::ClockOffset;
use super::connect::{establish, Established, Outcome};
use super::file_transfer::{inspect, FileReport, FileTasks};
use super::helper_core::{HelperAction, HelperCore};
use super::media_loop::{end_session, ended_with_connection, ControlChannel, Stats, StreamWriter};
use super::reconnect::{PathKeeper, PathStep};
use super::remote_control::send_clipboard;
use super::sharer::{sleep_until, unreadable};
use super::signaling::pair;
use super::transfers::FileAction;
use super::upgrade::{PathUpgrade, UpgradeStep};
use super::video::{spawn_receiver, ReceiverEvent};
use super::{
    emit, CodeRetiredReason, Command, CommandSource, Event, EventSink, SessionConfig, SessionError,
};
use crate::clipboard::{next_copy, LocalClipboard};
use crate::input::InputEvent;
use crate::protocol::{now_us, Control, EndReason, Role, Signal, StreamKind, STREAM_REFUSED};

/// What the helper's app tells the rendezvous at the end (see `tandem_rendezvous::records`):
/// the reason, which features were used and the path type. Never content or names.
#[derive(Debug, Default)]
struct Usage {
    report_token: Option<String>,
    features: BTreeSet<Feature>,
    path: Option<&'static str>,
    shown: bool,
}

impl Usage {
    fn used(&mut self, feature: Feature) {
        self.features.insert(feature);
    }

    fn report(&self, result: &Result<EndReason, SessionError>) -> SessionReport {
        let mut features: Vec<Feature> = self.features.iter().copied().collect();
        if features.is_empty() && self.shown {
            features.push(Feature::ViewOnly);
        }
        let (end_reason, error_kind) = match result {
            Ok(reason) => (reason.as_str().to_string(), None),
            Err(e) => ("error".to_string(), Some(e.kind().to_string())),
        };
        SessionReport {
            end_reason,
            features,
            path: self.path.map(String::from),
            error_kind,
        }
    }
}

/// How long the report at the end may take (the rendezvous may be unreachable by then).
const REPORT_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs a whole helper session: code → pairing → path → consent → viewing → end; then
/// reports to the rendezvous how it went.
pub async fn run_helper(
    config: SessionConfig,
    identity: HelperIdentity,
    commands: CommandSource,
    events: EventSink,
) -> Result<EndReason, SessionError> {
    let mut usage = Usage::default();
    let result = helper_session(&config, identity, commands, events, &mut usage).await;
    let report = usage
        .report_token
        .clone()
        .map(|token| (token, usage.report(&result)));
    if let Some((token, report)) = report {
        let sent = tokio::time::timeout(
            REPORT_TIMEOUT,
            MailboxClient::report_session(
                &config.rendezvous,
                config.rendezvous_tls.clone(),
                config.insecure_rendezvous,
                &token,
                report,
            ),
        )
        .await;
        match sent {
            Ok(Ok(())) => debug!("session reported"),
            Ok(Err(e)) => debug!("session report: {e}"),
            Err(_) => debug!("session report timed out"),
        }
    }
    result
}

async fn helper_session(
    config: &SessionConfig,
    identity: HelperIdentity,
    mut commands: CommandSource,
    events: EventSink,
    usage: &mut Usage,
) -> Result<EndReason, SessionError> {
    let mut config = config.clone();
    let local_ice_servers = config.ice.servers.clone();
    // A code that someone burned (a wrong guess) or abandoned is replaced at once: the
    // helper reads out the new one instead of starting again.
    let (mut signaling, allocation) = loop {
        let mut mailbox = config.connect_mailbox().await?;
        let allocation = mailbox.allocate(identity.clone()).await?;
        let nameplate = tandem_crypto::Nameplate::parse(&allocation.nameplate)
            .map_err(|e| SessionError::Protocol(format!("rendezvous sent a bad nameplate: {e}")))?;
        // The secret half never leaves this machine except by voice.
        let code = SessionCode::generate(nameplate);
        emit(
            &events,
            Event::CodeIssued {
                code: code.to_string(),
                expires_in_secs: allocation.expires_in_secs,
            },
        );

        // Wait for the sharer (the rendezvous ends the wait when the code expires).
        loop {
            tokio::select! {
                ev = mailbox.recv() => match ev? {
                    PeerEvent::PeerJoined => break,
                    other => debug!(?other, "ignored while waiting"),
                },
                cmd = commands.recv() => if matches!(cmd, Some(Command::End) | None) {
                    mailbox.close().await;
                    return finish(&events, EndReason::HelperEnded, 0);
                },
            }
        }
        usage.report_token = mailbox.report_token().map(String::from);
        emit(&events, Event::PeerJoined);

        let paired = tokio::time::timeout(
            config.pairing_timeout,
            pair(mailbox, PairingRole::Helper, &code),
        )
        .await;
        let reason = match paired {
            Ok(Ok(signaling)) => break (signaling, allocation),
            Ok(Err(SessionError::Pairing(_))) => CodeRetiredReason::WrongCode,
            Ok(Err(SessionError::Network(_))) | Err(_) => CodeRetiredReason::Abandoned,
            Ok(Err(e)) => return Err(e),
        };
        emit(
            &events,
            Event::CodeRetired {
                reason,
                message: match reason {
                    CodeRetiredReason::WrongCode => {
                        "someone entered the code with a mistake, so it cannot be used again"
                    }
                    CodeRetiredReason::Abandoned => "someone entered the code and went away",
                }
                .into(),
            },
        );
    };
    // The rendezvous's STUN/TURN servers come first; any configured locally follow.
    config.ice.servers = allocation.ice_servers.clone();
    config.ice.servers.extend(local_ice_servers);
    // First of all: who this helper is, as the rendezvous signed it.
    signaling
        .send(&Signal::Introduction {
            introduction: allocation.introduction.clone(),
        })
        .await?;
    emit(&events, Event::Paired { peer_name: None });

    let Established {
        endpoint,
        connection,
        ice,
        pending_chat,
        path,
        resume,
    } = match establish(Role::Helper, &config, signaling, &mut commands, &events).await? {
        Outcome::Ready(established) => *established,
        Outcome::Ended(reason) => return finish(&events, reason, 0),
    };
    // Ready means connected and allowed: the screen is being shown.
    usage.shown = true;
    usage.path = Some(path.kind);

    let (send, recv) = connection
        .open_bi()
        .await
        .map_err(|e| SessionError::Network(e.to_string()))?;
    let mut control = ControlChannel::new(send, recv, connection.clone());
    // The first message makes the stream visible to the sharer.
    control.send(&Control::Ping { t0_us: now_us() }).await?;
    if !pending_chat.is_empty() {
        usage.used(Feature::Chat);
    }
    for text in pending_chat {
        control.send(&Control::Chat { text }).await?;
    }
    let clipboard_open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut frames = spawn_receiver(
        connection.clone(),
        config.frame_sink.clone(),
        std::sync::Arc::clone(&clipboard_open),
    )
    .map_err(SessionError::Video)?;
    let mut outputs = Outputs {
        input: InputStream::default(),
        files: FileTasks::new(connection.clone(), config.files.receive_dir.clone()),
    };
    let mut upgrade = PathUpgrade::new(Role::Helper, &config.ice, &path);
    let mut keeper = PathKeeper::new(Role::Helper, &config, &resume, &ice, Instant::now());
    let mut current_path = path;
    let mut clock = ClockOffset::default();
    let mut stats = Stats::default();
    let mut frames_decoded = 0u64;
    let mut core = HelperCore::default();
    core.set_file_receiving(outputs.files.can_receive(), config.files.limits);
    // Opened when the sharer first allows clipboard sharing.
    let mut clipboard: Option<LocalClipboard> = None;
    let mut ping = tokio::time::interval(Duration::from_millis(500));
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut report = tokio::time::interval(Duration::from_secs(1));
    report.tick().await;

    let viewing = async {
        let reason = loop {
            // What the core decided, carried out; then the next thing that happens.
            let ended = drive(
                &mut core,
                &mut outputs,
                &mut clipboard,
                &clipboard_open,
                &mut control,
                &connection,
                &events,
            )
            .await?;
            usage.features.extend(core.features().iter().copied());
            if let Some(reason) = ended {
                break reason;
            }
            tokio::select! {
                msg = control.recv() => match msg {
                    // Transport messages come back from the core; the rules are its.
                    Ok(msg) => match core.handle_control(Instant::now(), msg) {
                        Some(Control::Pong { t0_us, t1_us }) => clock.sample(t0_us, t1_us, now_us()),
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
                ev = frames.recv() => match ev {
                    Some(ReceiverEvent::Decoded(d)) => {
                        frames_decoded += 1;
                        let latency_ms = clock.latency_ms(d.header.capture_us, d.received_us);
                        stats.record(
                            d.bytes,
                            latency_ms,
                            f64::from(d.header.encode_us) / 1000.0,
                            d.decode_ms,
                        );
                        control.send(&Control::FrameAck { seq: d.header.seq }).await?;
                        emit(&events, Event::FrameReceived {
                            seq: d.header.seq,
                            bytes: d.bytes,
                            width: d.width,
                            height: d.height,
                            keyframe: d.header.keyframe,
                            latency_ms,
                            decode_ms: d.decode_ms,
                        });
                    }
                    Some(ReceiverEvent::NeedKeyframe) => control.send(&Control::KeyframeRequest).await?,
                    Some(ReceiverEvent::Copied(text)) => core.handle_clipboard_from_sharer(Instant::now(), text),
                    Some(ReceiverEvent::File(head, mut stream)) => match core.take_file_stream(head) {
                        Some(file) => outputs.files.receive(stream, file),
                        None => {
                            debug!("refused a file stream for {}", head.id);
                            let _ = stream.stop(STREAM_REFUSED.into());
                        }
                    },
                    None => break EndReason::PeerLost,
                },
                // The UI gone is the person ending the session.
                cmd = commands.recv() => match cmd {
                    Some(Command::SendFile(path)) => match inspect(&path).await {
                        Ok(file) => core.handle_local_file(file),
                        Err(message) => emit(&events, unreadable(&path, message)),
                    },
                    cmd => core.handle_command(Instant::now(), cmd.unwrap_or(Command::End)),
                },
                Some(report) = outputs.files.reports.recv() => match report {
                    FileReport::Progress { id, bytes } => core.handle_file_progress(Instant::now(), id, bytes),
                    FileReport::Finished { id, result } => {
                        outputs.files.forget(id);
                        core.handle_file_finished(id, result);
                    }
                    FileReport::PeerStopped { id } => {
                        outputs.files.forget(id);
                        core.handle_file_peer_stopped(id);
                    }
                },
                text = next_copy(&mut clipboard) => core.handle_local_clipboard(text),
                _ = ping.tick() => {
                    control.send(&Control::Ping { t0_us: now_us() }).await?;
                    match keeper.observe(Instant::now(), connection.stats().udp_rx.bytes) {
                        Some(PathStep::Lost) => emit(&events, Event::Reconnecting),
                        Some(PathStep::Restored(_)) => emit(&events, Event::PathChanged { path: current_path.clone() }),
                        Some(PathStep::GaveUp) | None => {}
                    }
                }
                _ = report.tick() => emit(&events, stats.take(connection.rtt())),
                () = sleep_until(core.poll_timeout()) => core.handle_timeout(Instant::now()),
                step = upgrade.next(&ice) => match step {
                    UpgradeStep::Send(msg) => control.send(&msg).await?,
                    UpgradeStep::Switched(path) => {
                        usage.path = Some(path.kind);
                        current_path = path.clone();
                        emit(&events, Event::PathChanged { path });
                    }
                },
                step = keeper.next() => match step {
                    PathStep::Restored(Some(path)) => {
                        // A relay found after a network change is left for a direct path
                        // as at the start.
                        upgrade = PathUpgrade::new(Role::Helper, &config.ice, &path);
                        usage.path = Some(path.kind);
                        current_path = path.clone();
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
    let reason = match viewing.await {
        Ok(reason) => reason,
        Err(e) => ended_with_connection(&connection, EndReason::SharerEnded, e)?,
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
    finish(&events, reason, frames_decoded)
}

/// Carries out what the core decided: input on the input stream, control messages to the
/// sharer (in order), events for the person. Returns the end when the core ended the
/// session (the sharer told first when it should be).
async fn drive(
    core: &mut HelperCore,
    outputs: &mut Outputs,
    clipboard: &mut Option<LocalClipboard>,
    clipboard_open: &std::sync::atomic::AtomicBool,
    control: &mut ControlChannel,
    connection: &quinn::Connection,
    events: &EventSink,
) -> Result<Option<EndReason>, SessionError> {
    let mut ended = None;
    while let Some(action) = core.poll_action() {
        match action {
            HelperAction::SendInput(event) => {
                tracing::trace!(?event, "input");
                outputs.input.send(connection, &event).await?;
            }
            HelperAction::WatchClipboard(on) => {
                clipboard_open.store(on, std::sync::atomic::Ordering::Release);
                if on && clipboard.is_none() {
                    match LocalClipboard::open() {
                        Ok(c) => *clipboard = Some(c),
                        Err(e) => {
                            debug!("{e}");
                            core.handle_clipboard_unavailable(e.to_string());
                        }
                    }
                }
                if let Some(c) = clipboard {
                    c.watch(on);
                }
            }
            HelperAction::SetClipboard(text) => {
                if let Some(c) = clipboard {
                    c.set(text);
                }
            }
            HelperAction::SendClipboard(text) => {
                let connection = connection.clone();
                tokio::spawn(async move {
                    if let Err(e) = send_clipboard(&connection, text).await {
                        debug!("a copy was not sent: {e}");
                    }
                });
            }
            HelperAction::File(FileAction::Send { id, path, size }) => {
                outputs.files.send(id, path, size)
            }
            HelperAction::File(FileAction::Stop(id)) => outputs.files.stop(id),
            HelperAction::File(FileAction::Hold(on)) => outputs.files.hold(on),
            HelperAction::File(FileAction::Discard(path)) => outputs.files.discard(&path),
            HelperAction::End {
                reason,
                tell_sharer,
            } => ended = Some((reason, tell_sharer)),
        }
    }
    while let Some(msg) = core.poll_transmit() {
        control.send(&msg).await?;
    }
    while let Some(event) = core.poll_event() {
        emit(events, event);
    }
    let Some((reason, tell_sharer)) = ended else {
        return Ok(None);
    };
    end_session(connection, control, reason, tell_sharer).await;
    Ok(Some(reason))
}

pub(super) fn finish(
    events: &EventSink,
    reason: EndReason,
    frames: u64,
) -> Result<EndReason, SessionError> {
    emit(
        events,
        Event::Ended {
            reason,
            message: reason.describe().to_string(),
            frames,
        },
    );
    Ok(reason)
}

/// Where the core's input and files go.
struct Outputs {
    input: InputStream,
    files: FileTasks,
}

/// The helper's input stream, opened with the first event and written by its own task
/// (see [`StreamWriter`]): a sharer that stops reading cannot stall this side's loop.
#[derive(Default)]
struct InputStream {
    stream: Option<StreamWriter>,
}

impl InputStream {
    async fn send(
        &mut self,
        connection: &quinn::Connection,
        event: &InputEvent,
    ) -> Result<(), SessionError> {
        let stream = match &mut self.stream {
            Some(s) => s,
            None => {
                let s = connection
                    .open_uni()
                    .await
                    .map_err(|e| SessionError::Network(format!("input stream: {e}")))?;
                self.stream.insert(StreamWriter::new(
                    s,
                    connection.clone(),
                    Some(StreamKind::Input.byte()),
                ))
            }
        };
        // Input is never dropped here: a key release lost would leave a key down.
        stream.send(event, false)
    }
}
