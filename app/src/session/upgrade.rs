//! Relay → direct: while a session runs through a TURN relay, keep looking for a direct
//! path and move the QUIC session onto it when one works, without the user noticing.
//!
//! The ICE agent does not switch pairs once it has nominated one, so each search is a new
//! ICE session (an ICE restart, relays left out) signalled over the QUIC control stream.
//! The helper opens attempts; when one selects a direct pair, its sockets take over the
//! session's [`PathSocket`](crate::net::path_socket::PathSocket) and QUIC carries on (its
//! peer address is virtual, so it sees no migration at all).

use std::time::Duration;

use rtc_ice::state::ConnectionState;
use tokio::time::Instant;
use tracing::debug;

use crate::net::ice::{IceOptions, IceSession, IceUpdate};
use crate::net::PathInfo;
use crate::protocol::{Control, Role};

/// Give an attempt this long to find a direct pair.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(8);
/// The peer's attempts are joined at most this often: each binds sockets and starts an ICE
/// agent, and a hostile peer must not make that a flood.
const MIN_PEER_ATTEMPT_GAP: Duration = Duration::from_secs(1);
/// Waits between attempts: soon at first (a network that just changed), then rarely.
const BACKOFF: [Duration; 4] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(30),
];

pub(super) enum UpgradeStep {
    /// Tell the peer.
    Send(Control),
    /// The session now runs on this path.
    Switched(PathInfo),
}

struct Attempt {
    number: u32,
    ice: IceSession,
    deadline: Instant,
    started_checks: bool,
}

pub(super) struct PathUpgrade {
    role: Role,
    options: IceOptions,
    active: bool,
    attempt: Option<Attempt>,
    attempts_made: u32,
    next_try: Option<Instant>,
    /// The search that found the direct path; its sockets carry the session.
    winner: Option<IceSession>,
    /// Which of the peer's attempts may be joined.
    gate: ProbeGate,
}

/// Admits the peer's search attempts: newer than any before, and not too often.
#[derive(Debug, Default)]
struct ProbeGate {
    last_number: Option<u32>,
    last_at: Option<Instant>,
}

impl ProbeGate {
    fn admit(&mut self, number: u32, now: Instant) -> bool {
        let newer = self.last_number.is_none_or(|last| number > last);
        let spaced = self
            .last_at
            .is_none_or(|at| now.saturating_duration_since(at) >= MIN_PEER_ATTEMPT_GAP);
        if newer && spaced {
            self.last_number = Some(number);
            self.last_at = Some(now);
        }
        newer && spaced
    }
}

impl PathUpgrade {
    /// Searches only when the session is relayed and relaying was not asked for.
    pub fn new(role: Role, options: &IceOptions, path: &PathInfo) -> Self {
        let active = path.kind == "relayed" && !options.relay_only;
        let options = IceOptions {
            gather_relays: false,
            ..options.clone()
        };
        Self {
            role,
            options,
            active,
            attempt: None,
            attempts_made: 0,
            next_try: (active && role == Role::Helper).then(|| Instant::now() + BACKOFF[0]),
            winner: None,
            gate: ProbeGate::default(),
        }
    }

    fn backoff(&self) -> Duration {
        BACKOFF[(self.attempts_made as usize).min(BACKOFF.len() - 1)]
    }

    async fn begin(&mut self, number: u32, main: &IceSession) -> Option<Control> {
        let controlling = self.role == Role::Helper;
        let ice = match IceSession::start_feeding(controlling, self.options.clone(), main).await {
            Ok(ice) => ice,
            Err(e) => {
                debug!("path probe: {e}");
                return None;
            }
        };
        let offer = Control::PathProbe {
            attempt: number,
            ufrag: ice.local_ufrag.clone(),
            pwd: ice.local_pwd.clone(),
            candidates: ice.local_candidates.clone(),
        };
        self.attempt = Some(Attempt {
            number,
            ice,
            deadline: Instant::now() + ATTEMPT_TIMEOUT,
            started_checks: false,
        });
        Some(offer)
    }

    /// The peer's side of an attempt. Returns what to send back.
    pub async fn on_control(&mut self, msg: Control, main: &IceSession) -> Option<Control> {
        if !self.active {
            // Asked by the peer (its side is relayed even if this one is not): join in,
            // unless this side relays on purpose or already moved.
            self.active = matches!(msg, Control::PathProbe { .. })
                && !self.options.relay_only
                && self.winner.is_none();
            if !self.active {
                return None;
            }
        }
        match msg {
            Control::PathProbe {
                attempt,
                ufrag,
                pwd,
                candidates,
            } => {
                let mut reply = None;
                let current = self.attempt.as_ref().map(|a| a.number);
                if current != Some(attempt) {
                    if self.role == Role::Helper || !self.gate.admit(attempt, Instant::now()) {
                        // An answer to an attempt already given up, or a peer asking too
                        // often.
                        return None;
                    }
                    // One attempt at a time: the one before is dropped, its sockets closed.
                    self.attempt = None;
                    reply = self.begin(attempt, main).await;
                }
                if let Some(a) = self.attempt.as_mut().filter(|a| a.number == attempt) {
                    for c in candidates {
                        let _ = a.ice.add_remote_candidate(&c);
                    }
                    if !a.started_checks {
                        a.ice.start_checks(ufrag, pwd);
                        a.started_checks = true;
                    }
                }
                reply
            }
            Control::PathProbeCandidate { attempt, candidate } => {
                if let Some(a) = self.attempt.as_ref().filter(|a| a.number == attempt) {
                    let _ = a.ice.add_remote_candidate(&candidate);
                }
                None
            }
            _ => None,
        }
    }

    /// The next thing to do; never ready while there is nothing to search. Cancel-safe.
    pub async fn next(&mut self, main: &IceSession) -> UpgradeStep {
        loop {
            let deadline = match (&self.attempt, self.next_try) {
                (Some(a), _) => Some(a.deadline),
                (None, Some(t)) => Some(t),
                (None, None) => None,
            };
            let timer = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            let update = async {
                match self.attempt.as_mut() {
                    Some(a) => a.ice.updates.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = timer => {
                    if self.attempt.take().is_some() {
                        // Gave up on this one; try again later.
                        self.attempts_made += 1;
                        if self.role == Role::Helper {
                            self.next_try = Some(Instant::now() + self.backoff());
                        }
                        continue;
                    }
                    self.next_try = None;
                    let number = self.attempts_made + 1;
                    if let Some(offer) = self.begin(number, main).await {
                        return UpgradeStep::Send(offer);
                    }
                    self.attempts_made += 1;
                    self.next_try = Some(Instant::now() + self.backoff());
                }
                update = update => {
                    let Some(a) = self.attempt.as_ref() else { continue };
                    let number = a.number;
                    match update {
                        Some(IceUpdate::LocalCandidate(candidate)) => {
                            return UpgradeStep::Send(Control::PathProbeCandidate { attempt: number, candidate });
                        }
                        Some(IceUpdate::Selected(info)) if info.kind == "direct" => {
                            if let Some(a) = self.attempt.take() {
                                a.ice.take_over(&main.socket);
                                debug!(?info, "moved the session to a direct path");
                                // Its sockets carry the session now: keep it for good.
                                self.active = false;
                                self.next_try = None;
                                self.winner = Some(a.ice);
                            }
                            return UpgradeStep::Switched(info);
                        }
                        Some(IceUpdate::State(ConnectionState::Failed)) | None => {
                            self.attempt = None;
                            self.attempts_made += 1;
                            if self.role == Role::Helper {
                                self.next_try = Some(Instant::now() + self.backoff());
                            }
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peers_attempts_are_joined_only_when_newer_and_spaced() {
        let mut gate = ProbeGate::default();
        let t0 = Instant::now();
        assert!(gate.admit(1, t0));
        // A flood of new numbers in the same second: refused.
        for n in 2..1000 {
            assert!(!gate.admit(n, t0 + Duration::from_millis(u64::from(n) / 2)));
        }
        let t1 = t0 + MIN_PEER_ATTEMPT_GAP;
        assert!(!gate.admit(1, t1), "the same attempt again");
        assert!(gate.admit(5, t1));
        assert!(!gate.admit(4, t1 + Duration::from_secs(10)), "an older one");
        assert!(gate.admit(u32::MAX, t1 + Duration::from_secs(10)));
        assert!(
            !gate.admit(u32::MAX, t1 + Duration::from_secs(20)),
            "nothing after the last"
        );
    }
}
