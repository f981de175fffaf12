//! From an encrypted channel to a working session: ICE and QUIC set up while the sharer is
//! asked for consent, so the first frame can follow "Allow" at once.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use quinn::{Connection, Endpoint};
use rtc_ice::state::ConnectionState;
use tandem_crypto::{Fingerprint, SessionCertificate};
use tracing::debug;

use super::signaling::{Incoming, Signaling};
use super::{emit, Command, CommandSource, Event, EventSink, SessionConfig, SessionError};
use crate::net::ice::{IceSession, IceUpdate};

/// The longest a connected session waits to learn whether a peer-reflexive pair is relayed.
const PATH_SETTLE: std::time::Duration = std::time::Duration::from_millis(1500);
use crate::net::quic::{self, QuicError};
use crate::net::PathInfo;
use crate::protocol::{EndReason, Role, Signal, PROTOCOL_VERSION};

pub(super) struct Established {
    pub endpoint: Endpoint,
    pub connection: Connection,
    /// Kept for the whole session: it owns the sockets and keeps the pair alive.
    pub ice: IceSession,
    /// Chat typed before the path was up, to send first.
    pub pending_chat: Vec<String>,
    pub path: PathInfo,
    /// To meet the peer again if the path is lost (see `session::reconnect`).
    pub resume: tandem_crypto::ResumeSecret,
}

pub(super) enum Outcome {
    Ready(Box<Established>),
    Ended(EndReason),
}

type QuicFuture = Pin<Box<dyn Future<Output = Result<(Endpoint, Connection), QuicError>> + Send>>;

/// QUIC gives up on a silent peer only after the reconnection limit: until then the
/// session's own path keeper decides (see `session::reconnect`).
fn quic_idle_timeout(config: &SessionConfig) -> std::time::Duration {
    config.reconnect_limit + std::time::Duration::from_secs(10)
}

/// How long a failed connection waits for the peer's reason through the mailbox.
const PEER_WORD_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The peer's reason for ending, if it gives one (candidates still in flight are skipped).
async fn peer_word(signaling: &mut Signaling) -> Option<EndReason> {
    loop {
        match signaling.recv().await {
            Ok(Incoming::Signal(Signal::Consent { granted: false })) => {
                return Some(EndReason::Declined)
            }
            Ok(Incoming::Signal(Signal::Bye { reason })) => return Some(reason),
            Ok(Incoming::Signal(_)) => {}
            Ok(Incoming::PeerLeft) | Err(_) => return None,
        }
    }
}

async fn maybe<F: Future + Unpin>(f: &mut Option<F>) -> F::Output {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

/// Runs the set-up phase; the mailbox is closed when it ends, whatever the outcome (after
/// it the peers talk only over QUIC).
pub(super) async fn establish(
    role: Role,
    config: &SessionConfig,
    mut signaling: Signaling,
    commands: &mut CommandSource,
    events: &EventSink,
) -> Result<Outcome, SessionError> {
    let outcome = establish_over(role, config, &mut signaling, commands, events).await;
    signaling.close().await;
    outcome
}

async fn establish_over(
    role: Role,
    config: &SessionConfig,
    signaling: &mut Signaling,
    commands: &mut CommandSource,
    events: &EventSink,
) -> Result<Outcome, SessionError> {
    let started = Instant::now();
    let cert = SessionCertificate::generate().map_err(|e| SessionError::Network(e.to_string()))?;
    let mut ice = IceSession::start(role == Role::Helper, config.ice.clone())
        .await
        .map_err(|e| SessionError::Network(e.to_string()))?;

    signaling
        .send(&Signal::Hello {
            version: PROTOCOL_VERSION,
            role,
            capabilities: vec!["video/h264".into(), "chat".into()],
            fingerprint: cert.fingerprint,
            ice_ufrag: ice.local_ufrag.clone(),
            ice_pwd: ice.local_pwd.clone(),
            candidates: ice.local_candidates.clone(),
        })
        .await?;

    let mut peer_fingerprint: Option<Fingerprint> = None;
    let mut path: Option<PathInfo> = None;
    let mut quic_attempt: Option<QuicFuture> = None;
    let mut connected: Option<(Endpoint, Connection)> = None;
    let mut connected_after = std::time::Duration::ZERO;
    // The sharer decides; the helper learns the decision.
    let mut consent: Option<bool> = None;
    let mut pending_chat = Vec::new();
    let mut mailbox_open = true;
    let mut remote_candidates_done = false;
    let deadline = tokio::time::sleep(config.connect_timeout);
    tokio::pin!(deadline);
    // A pair whose remote side was learnt from a check (peer-reflexive) may be the peer's
    // relay whose candidate is still on its way: wait briefly for the peer's last candidate
    // so that "direct" or "relayed" is reported truthfully.
    let settle = tokio::time::sleep(PATH_SETTLE);
    tokio::pin!(settle);
    let mut settling = false;

    loop {
        if connected.is_some() && consent == Some(true) {
            let path_known = match &path {
                Some(p) => {
                    p.kind == "relayed"
                        || p.remote_type != "prflx"
                        || remote_candidates_done
                        || !mailbox_open
                }
                None => false,
            };
            if path_known || (settling && settle.is_elapsed()) {
                break;
            }
            if !settling && path.is_some() {
                settling = true;
                settle
                    .as_mut()
                    .reset(tokio::time::Instant::now() + PATH_SETTLE);
            }
        }
        // Start QUIC once we know whom to trust and (for the client) where to send.
        if quic_attempt.is_none() && connected.is_none() {
            if let Some(fp) = peer_fingerprint {
                let socket = ice.socket.clone();
                let own = cert.clone();
                let idle = quic_idle_timeout(config);
                match role {
                    Role::Sharer => {
                        quic_attempt = Some(Box::pin(async move {
                            quic::accept(socket, &own, fp, idle).await
                        }));
                    }
                    Role::Helper if path.is_some() => {
                        quic_attempt = Some(Box::pin(async move {
                            quic::connect(socket, &own, fp, idle).await
                        }));
                    }
                    Role::Helper => {}
                }
            }
        }
        tokio::select! {
            _ = &mut settle, if settling && !settle.is_elapsed() => {}
            _ = &mut deadline => {
                let _ = signaling.send(&Signal::Bye { reason: EndReason::NoPath }).await;
                return Err(SessionError::Timeout("connecting to the other side"));
            }
            incoming = signaling.recv(), if mailbox_open => match incoming? {
                Incoming::Signal(Signal::Hello { version, fingerprint, ice_ufrag, ice_pwd, role: peer_role, candidates, .. }) => {
                    if version != PROTOCOL_VERSION || peer_role == role || peer_fingerprint.is_some() {
                        return Err(SessionError::Protocol("unexpected hello".into()));
                    }
                    peer_fingerprint = Some(fingerprint);
                    // Candidates first, so that checks start with real pairs rather than
                    // peer-reflexive guesses.
                    for candidate in candidates {
                        if let Err(e) = ice.add_remote_candidate(&candidate) {
                            debug!("ignoring candidate: {e}");
                        }
                    }
                    ice.start_checks(ice_ufrag, ice_pwd);
                }
                Incoming::Signal(Signal::IceCandidate { candidate }) => {
                    if let Err(e) = ice.add_remote_candidate(&candidate) {
                        debug!("ignoring candidate: {e}");
                    }
                }
                Incoming::Signal(Signal::EndOfCandidates) => remote_candidates_done = true,
                Incoming::Signal(Signal::Consent { granted }) if role == Role::Helper => {
                    consent = Some(granted);
                    if granted {
                        emit(events, Event::ConsentGiven);
                    } else {
                        emit(events, Event::ConsentDeclined);
                        return Ok(Outcome::Ended(EndReason::Declined));
                    }
                }
                Incoming::Signal(Signal::Bye { reason }) => return Ok(Outcome::Ended(reason)),
                Incoming::Signal(other) => {
                    return Err(SessionError::Protocol(format!("unexpected signal {other:?}")));
                }
                Incoming::PeerLeft => {
                    mailbox_open = false;
                    // After consent the mailbox is no longer needed; before it, the peer is gone.
                    if consent.is_none() {
                        return Ok(Outcome::Ended(EndReason::PeerLost));
                    }
                }
            },
            update = ice.updates.recv() => match update {
                Some(IceUpdate::Selected(info)) => {
                    if path.is_none() {
                        debug!(?info, "path selected");
                    }
                    path = Some(info);
                }
                Some(IceUpdate::State(ConnectionState::Failed)) => {
                    let _ = signaling.send(&Signal::Bye { reason: EndReason::NoPath }).await;
                    return Ok(Outcome::Ended(EndReason::NoPath));
                }
                Some(IceUpdate::State(_)) => {}
                // Trickled while the mailbox is open; after that the path is up anyway.
                Some(IceUpdate::LocalCandidate(candidate)) => {
                    if mailbox_open {
                        signaling.send(&Signal::IceCandidate { candidate }).await?;
                    }
                }
                Some(IceUpdate::GatheringDone) => {
                    if mailbox_open {
                        signaling.send(&Signal::EndOfCandidates).await?;
                    }
                }
                None => return Err(SessionError::Network("ICE stopped".into())),
            },
            result = maybe(&mut quic_attempt) => {
                quic_attempt = None;
                match result {
                    Ok(pair) => {
                        connected_after = started.elapsed();
                        connected = Some(pair);
                    }
                    Err(e) => {
                        // A peer that declined or ended closes its side at once; its word
                        // comes through the mailbox, which can be slower than QUIC's close.
                        if mailbox_open {
                            let said = tokio::time::timeout(
                                PEER_WORD_GRACE,
                                peer_word(signaling),
                            )
                            .await;
                            if let Ok(Some(reason)) = said {
                                if reason == EndReason::Declined && role == Role::Helper {
                                    emit(events, Event::ConsentDeclined);
                                }
                                return Ok(Outcome::Ended(reason));
                            }
                        }
                        return Err(SessionError::Network(e.to_string()));
                    }
                }
            }
            cmd = commands.recv() => match cmd {
                Some(Command::Allow) if role == Role::Sharer && consent.is_none() => {
                    consent = Some(true);
                    signaling.send(&Signal::Consent { granted: true }).await?;
                    emit(events, Event::ConsentGiven);
                }
                Some(Command::Decline) if role == Role::Sharer && consent.is_none() => {
                    signaling.send(&Signal::Consent { granted: false }).await?;
                    emit(events, Event::ConsentDeclined);
                    return Ok(Outcome::Ended(EndReason::Declined));
                }
                Some(Command::Chat(text)) => pending_chat.push(text),
                Some(Command::End) | None => {
                    let reason = match role {
                        Role::Helper => EndReason::HelperEnded,
                        Role::Sharer if consent.is_none() => EndReason::Declined,
                        Role::Sharer => EndReason::SharerEnded,
                    };
                    let _ = signaling.send(&Signal::Bye { reason }).await;
                    return Ok(Outcome::Ended(reason));
                }
                Some(_) => {}
            },
        }
    }

    let (endpoint, connection) = match connected {
        Some(c) => c,
        None => return Err(SessionError::Network("not connected".into())),
    };
    let path = match path {
        Some(p) => p,
        None => {
            return Err(SessionError::Network(
                "connected without a selected path".into(),
            ))
        }
    };
    emit(
        events,
        Event::Connected {
            path: path.clone(),
            setup_ms: connected_after.as_millis() as u64,
        },
    );
    Ok(Outcome::Ready(Box::new(Established {
        endpoint,
        connection,
        ice,
        pending_chat,
        path,
        resume: signaling.resume_secret().clone(),
    })))
}
