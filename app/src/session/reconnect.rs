//! The session survives a network change.
//!
//! When nothing has arrived for [`PATH_LOST_AFTER`] (the helper pings twice a second, QUIC
//! keeps alive every second), the path is lost: the laptop moved from Wi-Fi to a hotspot,
//! a NAT rebound, a relay restarted. Both sides keep the QUIC connection (its idle timeout
//! is longer than the reconnection limit) and go back to the rendezvous — not to the code's
//! mailbox, which is gone, but to the session's *room*, named by a secret both derived at
//! pairing (`tandem_crypto::resume`): no new code, nobody without the session's keys can
//! come in or read what is said there. Each side starts a fresh ICE session (relays
//! included, on whatever interfaces the machine has now), the two exchange offers sealed
//! with the resume channel, and the pair ICE selects takes over the session's socket, as
//! the relay → direct upgrade does: QUIC's peer address is virtual, so QUIC only sees
//! packets flow again.
//!
//! Convergence: an attempt is a room visit plus an ICE session. A side that receives an
//! offer for a *different* peer ICE session than the one its checks run with starts over
//! with that offer, and answers it; a side that starts over for its own reasons (timeout,
//! the room closed) sends a new offer. So the newest offer of either side always finds an
//! answer, and the two never start over in turn forever.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tandem_crypto::{ResumeChannel, ResumeSecret};
use tandem_rendezvous::wire::RoomSide;
use tandem_rendezvous::{MailboxClient, PeerEvent};
use tokio::task::JoinHandle;
use tracing::{debug, info};

use super::{SessionConfig, SessionError};
use crate::net::ice::{IceOptions, IceSession, IceUpdate, SessionFeed};
use crate::net::path_socket::PathSocket;
use crate::net::PathInfo;
use crate::protocol::{ResumeSignal, Role};

/// Nothing received for this long: the path is lost.
pub(super) const PATH_LOST_AFTER: Duration = Duration::from_secs(3);
/// One attempt (a room visit and an ICE session) is given this long to find a pair.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Reaching the rendezvous and entering the room.
const RENDEZVOUS_TIMEOUT: Duration = Duration::from_secs(3);
/// Between attempts, so that an unreachable rendezvous is not hammered.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// The peer may make this side start over at most this often.
const MIN_RESTART_GAP: Duration = Duration::from_secs(1);
/// Candidates one offer may carry (a machine has a few interfaces and relays).
const MAX_CANDIDATES: usize = 32;

/// What [`PathKeeper`] reports.
#[derive(Debug)]
pub(super) enum PathStep {
    /// Nothing has arrived for [`PATH_LOST_AFTER`]: reconnecting.
    Lost,
    /// Packets arrive again: on a new path (`Some`, found by a reconnection) or on the old
    /// one (`None`).
    Restored(Option<PathInfo>),
    /// Still nothing after the limit: the session is over.
    GaveUp,
}

/// Everything an attempt needs; shared by the attempts of a session's whole life (the
/// resume channel's counters run on across them).
struct Context {
    role: Role,
    config: SessionConfig,
    options: IceOptions,
    room: String,
    channel: Mutex<ResumeChannel>,
    feed: SessionFeed,
    socket: Arc<PathSocket>,
}

/// The rules of losing a path and of giving up, without I/O: [`PathKeeper`] drives it with
/// the connection's received byte count and the clock; the tests below drive it in
/// virtual time.
#[derive(Debug)]
pub(super) struct PathWatch {
    limit: Duration,
    last_rx_bytes: u64,
    last_rx_at: Instant,
    /// Since when the session has been looking for a new path.
    lost_since: Option<Instant>,
    /// Packets arrived again while looking (the old path came back).
    flowing: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum WatchStep {
    /// Nothing arrived for [`PATH_LOST_AFTER`]. `search`: start looking for a new path
    /// (false when a search still runs from an earlier loss).
    Lost { search: bool },
    /// Packets arrive again on the old path.
    Flowing,
    /// The limit passed and nothing arrives: the session is over.
    GaveUp,
    /// The limit passed but the old path carries packets: stop looking, go on there.
    StopSearching,
}

impl PathWatch {
    pub fn new(limit: Duration, now: Instant) -> Self {
        Self {
            limit,
            last_rx_bytes: 0,
            last_rx_at: now,
            lost_since: None,
            flowing: false,
        }
    }

    /// With how many bytes the connection has received so far.
    pub fn observe(&mut self, now: Instant, rx_bytes: u64) -> Option<WatchStep> {
        if rx_bytes != self.last_rx_bytes {
            self.last_rx_bytes = rx_bytes;
            self.last_rx_at = now;
            if self.lost_since.is_some() && !self.flowing {
                self.flowing = true;
                return Some(WatchStep::Flowing);
            }
            return None;
        }
        let silent = now.saturating_duration_since(self.last_rx_at) >= PATH_LOST_AFTER;
        if !silent || (self.lost_since.is_some() && !self.flowing) {
            return None;
        }
        self.flowing = false;
        let search = self.lost_since.is_none();
        self.lost_since.get_or_insert(now);
        Some(WatchStep::Lost { search })
    }

    /// A new path carries the session; it gets its own time to bring the first packets.
    pub fn found(&mut self, now: Instant) {
        self.lost_since = None;
        self.flowing = false;
        self.last_rx_at = now;
    }

    /// When the search gives up.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.lost_since.map(|since| since + self.limit)
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Option<WatchStep> {
        let due = self.poll_timeout().is_some_and(|at| at <= now);
        if !due {
            return None;
        }
        self.lost_since = None;
        if std::mem::take(&mut self.flowing) {
            Some(WatchStep::StopSearching)
        } else {
            Some(WatchStep::GaveUp)
        }
    }
}

/// Watches the path and, when it is lost, finds another.
pub(super) struct PathKeeper {
    context: Arc<Context>,
    watch: PathWatch,
    attempt: Option<JoinHandle<(IceSession, PathInfo)>>,
    /// The ICE session a reconnection found: its sockets carry the session now.
    carrying: Option<IceSession>,
}

impl PathKeeper {
    pub fn new(
        role: Role,
        config: &SessionConfig,
        resume: &ResumeSecret,
        main: &IceSession,
        now: Instant,
    ) -> Self {
        let pairing_role = match role {
            Role::Helper => tandem_crypto::PairingRole::Helper,
            Role::Sharer => tandem_crypto::PairingRole::Sharer,
        };
        let options = IceOptions {
            gather_relays: true,
            ..config.ice.clone()
        };
        Self {
            context: Arc::new(Context {
                role,
                config: config.clone(),
                options,
                room: resume.room().to_hex(),
                channel: Mutex::new(resume.channel(pairing_role)),
                feed: main.feed(),
                socket: main.socket.clone(),
            }),
            watch: PathWatch::new(config.reconnect_limit, now),
            attempt: None,
            carrying: None,
        }
    }

    /// Called often (every few hundred ms) with how many bytes the connection has
    /// received so far.
    pub fn observe(&mut self, now: Instant, rx_bytes: u64) -> Option<PathStep> {
        match self.watch.observe(now, rx_bytes)? {
            WatchStep::Lost { search } => {
                if search {
                    info!("the path is lost: reconnecting through the rendezvous");
                    self.attempt = Some(tokio::spawn(reconnect(self.context.clone())));
                }
                Some(PathStep::Lost)
            }
            WatchStep::Flowing => Some(PathStep::Restored(None)),
            WatchStep::GaveUp | WatchStep::StopSearching => None,
        }
    }

    /// Ready when a reconnection found a path, or the limit passed. Never ready while the
    /// path is fine. Cancel-safe.
    pub async fn next(&mut self) -> PathStep {
        loop {
            let Some(give_up_at) = self.watch.poll_timeout() else {
                return std::future::pending().await;
            };
            let found = async {
                match self.attempt.as_mut() {
                    Some(attempt) => attempt.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                found = found => {
                    self.attempt = None;
                    match found {
                        Ok((ice, path)) => {
                            info!(?path, "the session goes on over a new path");
                            self.watch.found(Instant::now());
                            self.carrying = Some(ice);
                            return PathStep::Restored(Some(path));
                        }
                        // Only an abort or a panic ends the attempts' task.
                        Err(e) => debug!("reconnection stopped: {e}"),
                    }
                }
                () = tokio::time::sleep_until(give_up_at.into()) => {
                    if self.attempt.as_ref().is_some_and(|a| a.is_finished()) {
                        // Found at the last moment: not to be thrown away.
                        continue;
                    }
                    match self.watch.handle_timeout(Instant::now()) {
                        Some(WatchStep::GaveUp) => {
                            if let Some(attempt) = self.attempt.take() {
                                attempt.abort();
                            }
                            return PathStep::GaveUp;
                        }
                        // The old path came back by itself: the session simply goes on.
                        Some(_) => {
                            if let Some(attempt) = self.attempt.take() {
                                attempt.abort();
                            }
                        }
                        None => {}
                    }
                }
            }
        }
    }
}

impl Drop for PathKeeper {
    fn drop(&mut self) {
        if let Some(attempt) = self.attempt.take() {
            attempt.abort();
        }
    }
}

/// Attempts until one finds a path; the caller stops it at the limit.
async fn reconnect(context: Arc<Context>) -> (IceSession, PathInfo) {
    loop {
        match attempt(&context).await {
            Ok(found) => return found,
            Err(e) => {
                info!("reconnection attempt: {e}");
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    }
}

/// One side's fresh ICE session, and what it has told the peer.
struct Offer {
    ice: IceSession,
    /// Candidates found after the start, included in the offer if it is not sent yet.
    later: Vec<String>,
    sent: bool,
    /// The peer's ICE session this one runs its checks with.
    checks_with: Option<String>,
}

impl Offer {
    async fn new(context: &Context) -> Result<Self, SessionError> {
        let controlling = context.role == Role::Helper;
        let ice = IceSession::start_feeding_into(
            controlling,
            context.options.clone(),
            context.feed.clone(),
        )
        .await
        .map_err(|e| SessionError::Network(e.to_string()))?;
        Ok(Self {
            ice,
            later: Vec::new(),
            sent: false,
            checks_with: None,
        })
    }

    fn signal(&self) -> ResumeSignal {
        let mut candidates = self.ice.local_candidates.clone();
        candidates.extend(self.later.iter().cloned());
        candidates.truncate(MAX_CANDIDATES);
        ResumeSignal::Offer {
            ufrag: self.ice.local_ufrag.clone(),
            pwd: self.ice.local_pwd.clone(),
            candidates,
        }
    }

    fn answer(&mut self, ufrag: String, pwd: String, candidates: &[String]) {
        for candidate in candidates.iter().take(MAX_CANDIDATES) {
            if let Err(e) = self.ice.add_remote_candidate(candidate) {
                debug!("ignoring candidate: {e}");
            }
        }
        self.ice.start_checks(ufrag.clone(), pwd);
        self.checks_with = Some(ufrag);
    }
}

async fn send(
    mailbox: &mut MailboxClient,
    context: &Context,
    signal: &ResumeSignal,
) -> Result<(), SessionError> {
    let plain = serde_json::to_vec(signal).map_err(|e| SessionError::Protocol(e.to_string()))?;
    let sealed = context
        .channel
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .seal(&plain)
        .map_err(|e| SessionError::Protocol(e.to_string()))?;
    mailbox.send(&sealed).await?;
    Ok(())
}

fn open(context: &Context, sealed: &[u8]) -> Result<ResumeSignal, SessionError> {
    let plain = context
        .channel
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .open(sealed)
        .map_err(|e| SessionError::Protocol(format!("resume message rejected: {e}")))?;
    serde_json::from_slice(&plain)
        .map_err(|e| SessionError::Protocol(format!("bad resume message: {e}")))
}

/// One visit to the room: until a pair is selected (it then carries the session), the
/// attempt times out, or the room closes before checks began.
async fn attempt(context: &Context) -> Result<(IceSession, PathInfo), SessionError> {
    let side = match context.role {
        Role::Helper => RoomSide::Helper,
        Role::Sharer => RoomSide::Sharer,
    };
    // Bounded: on a network that is still coming up (no NAT yet, a captive portal) a TCP
    // connection attempt is retried by the kernel only after 1, 3, 7, 15 s…; a fresh one
    // is better.
    let (mut mailbox, mut peer_present) = tokio::time::timeout(RENDEZVOUS_TIMEOUT, async {
        debug!(role = ?context.role, "reaching the rendezvous");
        let mut mailbox = context.config.connect_mailbox().await?;
        debug!("entering the room");
        let present = mailbox.resume(&context.room, side).await?;
        Ok::<_, SessionError>((mailbox, present))
    })
    .await
    .map_err(|_| SessionError::Timeout("reaching the rendezvous"))??;
    debug!(peer_present, "in the session's room");
    let mut room_open = true;
    let mut offer = Offer::new(context).await?;
    let mut last_restart: Option<Instant> = None;
    let deadline = tokio::time::sleep(ATTEMPT_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        if peer_present && room_open && !offer.sent {
            send(&mut mailbox, context, &offer.signal()).await?;
            debug!(ufrag = offer.ice.local_ufrag, "offer sent");
            offer.sent = true;
        }
        tokio::select! {
            () = &mut deadline => return Err(SessionError::Timeout("reconnecting")),
            event = mailbox.recv(), if room_open => match event {
                // It arrived after this side: it has not heard the offer yet.
                Ok(PeerEvent::PeerJoined) => {
                    peer_present = true;
                    offer.sent = false;
                }
                Ok(PeerEvent::Message(sealed)) => match open(context, &sealed) {
                    Ok(ResumeSignal::Offer { ufrag, pwd, candidates }) => {
                        peer_present = true;
                        debug!(%ufrag, checks_with = ?offer.checks_with, "the peer's offer");
                        if offer.checks_with.as_ref().is_some_and(|with| *with != ufrag) {
                            // The peer started over: so does this side, answering it — at
                            // most once a second (each start binds sockets and asks the
                            // relays for allocations; a peer must not make that a flood).
                            if last_restart.is_some_and(|at: Instant| at.elapsed() < MIN_RESTART_GAP) {
                                debug!("the peer starts over too often: offer ignored");
                                continue;
                            }
                            last_restart = Some(Instant::now());
                            offer = Offer::new(context).await?;
                        }
                        if offer.checks_with.is_none() {
                            offer.answer(ufrag, pwd, &candidates);
                        }
                    }
                    Ok(ResumeSignal::Candidate { ufrag, candidate }) => {
                        if offer.checks_with.as_ref() == Some(&ufrag) {
                            let _ = offer.ice.add_remote_candidate(&candidate);
                        }
                    }
                    // Not the peer (the rendezvous, or a message replayed): ignored.
                    Err(e) => debug!("{e}"),
                },
                Ok(PeerEvent::PairingFailed) => {}
                Ok(PeerEvent::PeerLeft) | Err(_) => {
                    debug!("the room closed");
                    // The peer may have found the path and left; the checks go on.
                    room_open = false;
                    if offer.checks_with.is_none() {
                        return Err(SessionError::Network("the room closed".into()));
                    }
                }
            },
            update = offer.ice.updates.recv() => match update {
                Some(IceUpdate::LocalCandidate(candidate)) => {
                    if offer.sent && room_open {
                        let ufrag = offer.ice.local_ufrag.clone();
                        send(&mut mailbox, context, &ResumeSignal::Candidate { ufrag, candidate }).await?;
                    } else if offer.later.len() < MAX_CANDIDATES {
                        offer.later.push(candidate);
                    }
                }
                Some(IceUpdate::Selected(path)) => {
                    offer.ice.take_over(&context.socket);
                    if room_open {
                        mailbox.close().await;
                    }
                    return Ok((offer.ice, path));
                }
                Some(IceUpdate::State(rtc_ice::state::ConnectionState::Failed)) | None => {
                    return Err(SessionError::Network("no pair found".into()));
                }
                Some(_) => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(60);

    fn secs(t0: Instant, s: f64) -> Instant {
        t0 + Duration::from_secs_f64(s)
    }

    #[test]
    fn silence_is_a_lost_path_once_and_the_limit_ends_the_session() {
        let t0 = Instant::now();
        let mut watch = PathWatch::new(LIMIT, t0);
        assert_eq!(watch.observe(secs(t0, 0.5), 100), None);
        assert_eq!(watch.observe(secs(t0, 3.0), 100), None, "2.5 s of silence");
        assert_eq!(
            watch.observe(secs(t0, 3.5), 100),
            Some(WatchStep::Lost { search: true })
        );
        // One search for one loss, however long the silence.
        for s in [4.0, 10.0, 30.0, 62.0] {
            assert_eq!(watch.observe(secs(t0, s), 100), None);
        }
        assert_eq!(watch.poll_timeout(), Some(secs(t0, 63.5)));
        assert_eq!(watch.handle_timeout(secs(t0, 63.0)), None, "not yet");
        assert_eq!(
            watch.handle_timeout(secs(t0, 63.5)),
            Some(WatchStep::GaveUp)
        );
        assert_eq!(watch.poll_timeout(), None);
    }

    #[test]
    fn a_path_found_gets_its_own_time_before_it_counts_as_lost() {
        let t0 = Instant::now();
        let mut watch = PathWatch::new(LIMIT, t0);
        assert_eq!(
            watch.observe(secs(t0, 3.0), 0),
            Some(WatchStep::Lost { search: true })
        );
        watch.found(secs(t0, 10.0));
        assert_eq!(watch.poll_timeout(), None, "nothing to give up on");
        // The first packets on the new path take a moment: not lost again at once.
        assert_eq!(watch.observe(secs(t0, 10.25), 0), None);
        assert_eq!(watch.observe(secs(t0, 12.9), 0), None);
        assert_eq!(watch.observe(secs(t0, 13.0), 50), None, "packets: fine");
        assert_eq!(
            watch.observe(secs(t0, 16.0), 50),
            Some(WatchStep::Lost { search: true }),
            "a later loss is a new search"
        );
    }

    #[test]
    fn the_old_path_coming_back_is_reported_and_the_search_stops_at_the_limit() {
        let t0 = Instant::now();
        let mut watch = PathWatch::new(LIMIT, t0);
        assert_eq!(
            watch.observe(secs(t0, 3.0), 0),
            Some(WatchStep::Lost { search: true })
        );
        assert_eq!(watch.observe(secs(t0, 5.0), 10), Some(WatchStep::Flowing));
        assert_eq!(watch.observe(secs(t0, 5.5), 20), None);
        // Lost again while the first search still runs: said, but no second search.
        assert_eq!(
            watch.observe(secs(t0, 8.5), 20),
            Some(WatchStep::Lost { search: false })
        );
        assert_eq!(watch.observe(secs(t0, 9.0), 30), Some(WatchStep::Flowing));
        // Packets flow at the limit: the session goes on where it is.
        assert_eq!(
            watch.handle_timeout(secs(t0, 63.0)),
            Some(WatchStep::StopSearching)
        );
        assert_eq!(watch.poll_timeout(), None);
        assert_eq!(watch.observe(secs(t0, 63.5), 40), None);
        assert_eq!(
            watch.observe(secs(t0, 66.5), 40),
            Some(WatchStep::Lost { search: true })
        );
    }

    #[test]
    fn a_short_limit_is_kept() {
        let t0 = Instant::now();
        let mut watch = PathWatch::new(Duration::from_secs(8), t0);
        assert_eq!(
            watch.observe(secs(t0, 3.0), 0),
            Some(WatchStep::Lost { search: true })
        );
        assert_eq!(
            watch.handle_timeout(secs(t0, 11.0)),
            Some(WatchStep::GaveUp)
        );
    }
}
