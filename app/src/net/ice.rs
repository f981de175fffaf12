//! Drives a sans-IO `rtc-ice` agent with real UDP sockets: one socket per local interface
//! address, so that every host candidate's base is exactly the socket it arrived on.
//!
//! STUN packets go to the agent; everything else is session traffic (QUIC) and is handed to
//! the [`PathSocket`](super::path_socket::PathSocket), which sends on the selected pair.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc_ice::agent::agent_config::AgentConfig;
use rtc_ice::candidate::candidate_host::CandidateHostConfig;
use rtc_ice::candidate::{unmarshal_candidate, Candidate, CandidateConfig, CandidateType};
use rtc_ice::mdns::MulticastDnsMode;
use rtc_ice::state::ConnectionState;
use rtc_ice::{Agent, Event};
use rtc_shared::{TransportContext, TransportMessage, TransportProtocol};
use sansio::Protocol;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tracing::{debug, trace, warn};

use super::path_socket::{Datagram, PathSocket, SelectedPair};
use super::PathInfo;
use tandem_rendezvous::wire::IceServer;

#[derive(Debug, thiserror::Error)]
pub enum IceError {
    #[error("no usable network interface")]
    NoInterfaces,
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("ICE: {0}")]
    Agent(String),
    #[error("bad remote candidate: {0}")]
    BadCandidate(String),
}

fn agent_err(e: impl std::fmt::Display) -> IceError {
    IceError::Agent(e.to_string())
}

#[derive(Debug, Clone)]
pub struct IceOptions {
    /// Offer loopback host candidates. Useful when both peers share a machine; harmless
    /// otherwise (checks to a remote loopback address only ever reach this machine and fail
    /// STUN authentication).
    pub include_loopback: bool,
    /// Restrict host candidates to these addresses (tests in network namespaces).
    pub only_addresses: Vec<IpAddr>,
    /// STUN and TURN servers (from the rendezvous, then any configured locally).
    pub servers: Vec<IceServer>,
    /// Only relay candidates: the peer never learns this machine's addresses (and tests
    /// can force the relay on one machine).
    pub relay_only: bool,
    /// Extra CA to trust for `turns:` servers (besides the public web roots).
    pub turn_ca: Option<std::path::PathBuf>,
}

impl Default for IceOptions {
    fn default() -> Self {
        Self {
            include_loopback: true,
            only_addresses: Vec::new(),
            servers: Vec::new(),
            relay_only: false,
            turn_ca: None,
        }
    }
}

/// What the ICE task tells the session.
#[derive(Debug, Clone)]
pub enum IceUpdate {
    State(ConnectionState),
    Selected(PathInfo),
}

enum Command {
    Start { ufrag: String, pwd: String },
    RemoteCandidate(Box<Candidate>),
}

/// Handle to a running ICE task.
pub struct IceSession {
    commands: mpsc::UnboundedSender<Command>,
    pub local_ufrag: String,
    pub local_pwd: String,
    /// Candidates to trickle to the peer (SDP `candidate:` attribute values).
    pub local_candidates: Vec<String>,
    pub socket: Arc<PathSocket>,
    pub updates: mpsc::UnboundedReceiver<IceUpdate>,
    selected: SelectedPair,
}

impl IceSession {
    /// Binds sockets, gathers host candidates and starts the agent task.
    pub async fn start(controlling: bool, options: IceOptions) -> Result<Self, IceError> {
        let addresses = local_addresses(&options)?;
        let mut sockets: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
        for ip in addresses {
            match UdpSocket::bind(SocketAddr::new(ip, 0)).await {
                Ok(s) => {
                    let addr = s.local_addr()?;
                    sockets.insert(addr, Arc::new(s));
                }
                Err(e) => warn!(%ip, "cannot bind: {e}"),
            }
        }
        if sockets.is_empty() {
            return Err(IceError::NoInterfaces);
        }

        let crypto = rtc_ice::crypto::default_provider().map_err(agent_err)?;
        let config = AgentConfig {
            multicast_dns_mode: MulticastDnsMode::Disabled,
            is_controlling: controlling,
            disconnected_timeout: Some(Duration::from_secs(4)),
            failed_timeout: Some(Duration::from_secs(8)),
            keepalive_interval: Some(Duration::from_secs(1)),
            check_interval: Duration::from_millis(50),
            // "Connect on whichever pair works first": the defaults hold a working
            // peer-reflexive pair back for a full second in case something better shows up.
            host_acceptance_min_wait: Some(Duration::ZERO),
            srflx_acceptance_min_wait: Some(Duration::from_millis(50)),
            prflx_acceptance_min_wait: Some(Duration::from_millis(50)),
            ..Default::default()
        };
        let mut agent = Agent::new(Instant::now(), Arc::new(config), crypto).map_err(agent_err)?;

        let mut local_candidates = Vec::new();
        for addr in sockets.keys() {
            let candidate = CandidateHostConfig {
                base_config: CandidateConfig {
                    network: "udp".to_owned(),
                    address: addr.ip().to_string(),
                    port: addr.port(),
                    component: 1,
                    ..Default::default()
                },
                ..Default::default()
            }
            .new_candidate_host()
            .map_err(agent_err)?;
            local_candidates.push(candidate.marshal());
            agent.add_local_candidate(candidate).map_err(agent_err)?;
        }
        let creds = agent.get_local_credentials().clone();

        let (stun_tx, stun_rx) = mpsc::unbounded_channel::<(SocketAddr, SocketAddr, BytesMut)>();
        let (data_tx, data_rx) = mpsc::unbounded_channel::<Datagram>();
        let selected = SelectedPair::default();
        let socket = Arc::new(PathSocket::new(sockets.clone(), selected.clone(), data_rx));

        for (local, sock) in &sockets {
            tokio::spawn(read_loop(
                *local,
                sock.clone(),
                stun_tx.clone(),
                data_tx.clone(),
                selected.clone(),
            ));
        }

        let selected_for_session = selected.clone();
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (upd_tx, upd_rx) = mpsc::unbounded_channel();
        tokio::spawn(agent_loop(
            agent, sockets, cmd_rx, stun_rx, upd_tx, selected,
        ));

        Ok(Self {
            commands: cmd_tx,
            local_ufrag: creds.ufrag,
            local_pwd: creds.pwd,
            local_candidates,
            socket,
            updates: upd_rx,
            selected: selected_for_session,
        })
    }

    /// The peer's ICE credentials: connectivity checks start.
    pub fn start_checks(&self, ufrag: String, pwd: String) {
        let _ = self.commands.send(Command::Start { ufrag, pwd });
    }

    pub fn add_remote_candidate(&self, sdp: &str) -> Result<(), IceError> {
        let c = unmarshal_candidate(sdp).map_err(|e| IceError::BadCandidate(e.to_string()))?;
        self.selected.allow(c.addr());
        let _ = self.commands.send(Command::RemoteCandidate(Box::new(c)));
        Ok(())
    }
}

fn local_addresses(options: &IceOptions) -> Result<Vec<IpAddr>, IceError> {
    if !options.only_addresses.is_empty() {
        return Ok(options.only_addresses.clone());
    }
    let mut out = Vec::new();
    for iface in if_addrs::get_if_addrs()? {
        let ip = iface.ip();
        // IPv4 only for now: dual-stack doubles the checks for no gain on the paths we test.
        if !ip.is_ipv4() {
            continue;
        }
        if ip.is_loopback() && !options.include_loopback {
            continue;
        }
        out.push(ip);
    }
    Ok(out)
}

/// Reads one socket forever, splitting STUN from session traffic.
async fn read_loop(
    local: SocketAddr,
    socket: Arc<UdpSocket>,
    stun: mpsc::UnboundedSender<(SocketAddr, SocketAddr, BytesMut)>,
    data: mpsc::UnboundedSender<Datagram>,
    selected: SelectedPair,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(v) => v,
            Err(e) => {
                // ICMP errors surface here on Linux (e.g. port unreachable); keep reading.
                trace!(%local, "recv: {e}");
                if stun.is_closed() {
                    return;
                }
                continue;
            }
        };
        let packet = &buf[..n];
        if rtc_stun::message::is_stun_message(packet) {
            if stun.send((local, from, BytesMut::from(packet))).is_err() {
                return;
            }
        } else if selected.accepts(from) {
            if data
                .send(Datagram {
                    from,
                    payload: packet.to_vec(),
                })
                .is_err()
            {
                return;
            }
        } else {
            trace!(%from, "dropped non-STUN packet from an unverified address");
        }
    }
}

async fn agent_loop(
    mut agent: Agent,
    sockets: HashMap<SocketAddr, Arc<UdpSocket>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut stun: mpsc::UnboundedReceiver<(SocketAddr, SocketAddr, BytesMut)>,
    updates: mpsc::UnboundedSender<IceUpdate>,
    selected: SelectedPair,
) {
    let (_keep, mut closed) = watch::channel(());
    loop {
        // Flush what the agent wants to send and report.
        while let Some(out) = agent.poll_write() {
            let local = out.transport.local_addr;
            match sockets.get(&local) {
                Some(s) => {
                    if let Err(e) = s.try_send_to(&out.message, out.transport.peer_addr) {
                        trace!(%local, peer = %out.transport.peer_addr, "send: {e}");
                    }
                }
                None => debug!(%local, "no socket for local address"),
            }
        }
        while let Some(ev) = agent.poll_event() {
            match ev.event {
                Event::ConnectionStateChange(state) => {
                    debug!(%state, "ICE state");
                    let _ = updates.send(IceUpdate::State(state));
                }
                Event::SelectedCandidatePairChange(local, remote) => {
                    let info = path_info(&local, &remote);
                    debug!(?info, "ICE selected pair");
                    selected.set(local.addr(), remote.addr());
                    let _ = updates.send(IceUpdate::Selected(info));
                }
                _ => {}
            }
        }
        if updates.is_closed() {
            let _ = agent.close();
            return;
        }
        let deadline = agent
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_millis(200));
        let sleep = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline));
        tokio::select! {
            _ = sleep => {
                if let Err(e) = agent.handle_timeout(Instant::now()) {
                    trace!("ICE timeout: {e}");
                }
            }
            cmd = commands.recv() => match cmd {
                Some(Command::Start { ufrag, pwd }) => {
                    let controlling = agent.role();
                    if let Err(e) = agent.start_connectivity_checks(Instant::now(), controlling, ufrag, pwd) {
                        warn!("cannot start ICE checks: {e}");
                    }
                }
                Some(Command::RemoteCandidate(c)) => {
                    if let Err(e) = agent.add_remote_candidate(*c) {
                        debug!("remote candidate refused: {e}");
                    }
                }
                None => {
                    let _ = agent.close();
                    return;
                }
            },
            pkt = stun.recv() => match pkt {
                Some((local, peer, message)) => {
                    let msg = TransportMessage {
                        now: Instant::now(),
                        transport: TransportContext {
                            local_addr: local,
                            peer_addr: peer,
                            ecn: None,
                            transport_protocol: TransportProtocol::UDP,
                        },
                        message,
                    };
                    if let Err(e) = agent.handle_read(msg) {
                        trace!(%peer, "STUN: {e}");
                    }
                }
                None => return,
            },
            _ = closed.changed() => return,
        }
    }
}

fn path_info(local: &Candidate, remote: &Candidate) -> PathInfo {
    let relayed = local.candidate_type() == CandidateType::Relay
        || remote.candidate_type() == CandidateType::Relay;
    PathInfo {
        kind: if relayed { "relayed" } else { "direct" },
        transport: "udp",
        local: local.addr().to_string(),
        remote: remote.addr().to_string(),
        local_type: local.candidate_type().to_string(),
        remote_type: remote.candidate_type().to_string(),
    }
}
