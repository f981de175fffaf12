//! Drives a sans-IO `rtc-ice` agent with real UDP sockets: one socket per local interface
//! address, so that every host candidate's base is exactly the socket it arrived on.
//!
//! STUN packets go to the agent; everything else is session traffic (QUIC) and is handed to
//! the [`PathSocket`](super::path_socket::PathSocket), which sends on the selected pair.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc_ice::agent::agent_config::AgentConfig;
use rtc_ice::candidate::candidate_host::CandidateHostConfig;
use rtc_ice::candidate::candidate_relay::CandidateRelayConfig;
use rtc_ice::candidate::candidate_server_reflexive::CandidateServerReflexiveConfig;
use rtc_ice::candidate::{unmarshal_candidate, Candidate, CandidateConfig, CandidateType};
use rtc_ice::mdns::MulticastDnsMode;
use rtc_ice::state::ConnectionState;
use rtc_ice::{Agent, Event};
use rtc_shared::{TransportContext, TransportMessage, TransportProtocol};
use sansio::Protocol;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tracing::{debug, trace, warn};

use super::ice_servers::{parse_servers, ServerUrl, TurnTransport};
use super::path_socket::{Datagram, PathSocket, SelectedPair};
use super::relay;
use super::transport::{Inbound, LocalTransport, RelayCommand, Transports, DATA_QUEUE, STUN_QUEUE};
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
    /// Allocate TURN relays (off for a later search for a direct path).
    pub gather_relays: bool,
}

impl Default for IceOptions {
    fn default() -> Self {
        Self {
            include_loopback: true,
            only_addresses: Vec::new(),
            servers: Vec::new(),
            relay_only: false,
            turn_ca: None,
            gather_relays: true,
        }
    }
}

/// What the ICE task tells the session.
#[derive(Debug, Clone)]
pub enum IceUpdate {
    State(ConnectionState),
    Selected(PathInfo),
    /// A candidate found after the start (server-reflexive, relay), to trickle to the peer.
    LocalCandidate(String),
    /// Every server was asked; no more local candidates will come.
    GatheringDone,
}

enum Command {
    Start {
        ufrag: String,
        pwd: String,
    },
    RemoteCandidate(Box<Candidate>),
    /// A relay candidate: checks use it, and the peer hears of it.
    AddRelay(Box<Candidate>),
    /// A server-reflexive address: only the peer needs it (checks go from its base).
    Announce(String),
    GatheringDone,
}

/// See `relay_acceptance_min_wait` below.
const RELAY_MIN_WAIT: Duration = Duration::from_millis(500);

/// How long gathering may take before the session goes on without the slow servers.
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);

/// The session traffic queue of an ICE session's [`PathSocket`].
#[derive(Clone)]
pub struct SessionFeed(mpsc::Sender<Datagram>);

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
    transports: Transports,
    /// Where session traffic received on this session's pairs goes.
    data: mpsc::Sender<Datagram>,
    /// Its socket readers, agent and gatherer: stopped with it, so a search that is given up
    /// closes its sockets (a reader blocked on a quiet socket would otherwise live forever).
    tasks: Vec<tokio::task::AbortHandle>,
}

impl Drop for IceSession {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl IceSession {
    /// Binds sockets, gathers host candidates and starts the agent task.
    pub async fn start(controlling: bool, options: IceOptions) -> Result<Self, IceError> {
        Self::start_with_sink(controlling, options, None).await
    }

    /// A second ICE session whose received session traffic goes to `feeds`'s socket, so
    /// that its pair can take over (see [`PathSocket::switch_to`]).
    pub async fn start_feeding(
        controlling: bool,
        options: IceOptions,
        feeds: &IceSession,
    ) -> Result<Self, IceError> {
        Self::start_with_sink(controlling, options, Some(feeds.data.clone())).await
    }

    /// Where this session's received traffic goes, for a later session to feed (see
    /// [`Self::start_feeding_into`]): it can outlive a borrow of the session.
    pub fn feed(&self) -> SessionFeed {
        SessionFeed(self.data.clone())
    }

    /// [`Self::start_feeding`] from a [`SessionFeed`].
    pub async fn start_feeding_into(
        controlling: bool,
        options: IceOptions,
        feed: SessionFeed,
    ) -> Result<Self, IceError> {
        Self::start_with_sink(controlling, options, Some(feed.0)).await
    }

    /// Makes `socket` send over this session's selected pair.
    pub fn take_over(&self, socket: &PathSocket) {
        socket.switch_to(self.transports.clone(), self.selected.clone());
    }

    async fn start_with_sink(
        controlling: bool,
        options: IceOptions,
        sink: Option<mpsc::Sender<Datagram>>,
    ) -> Result<Self, IceError> {
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
            // A relay is the last resort: give hole punching this long to find a direct
            // pair first (later ones are still found: see session::upgrade). It runs while
            // the sharer reads the consent prompt, so it is rarely felt.
            relay_acceptance_min_wait: Some(RELAY_MIN_WAIT),
            ..Default::default()
        };
        let mut agent = Agent::new(Instant::now(), Arc::new(config), crypto).map_err(agent_err)?;

        let mut local_candidates = Vec::new();
        if !options.relay_only {
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
        }
        let creds = agent.get_local_credentials().clone();

        let transports = Transports::default();
        for (addr, socket) in &sockets {
            transports.insert(*addr, LocalTransport::Udp(socket.clone()));
        }
        let (stun_tx, stun_rx) = mpsc::channel::<(SocketAddr, SocketAddr, BytesMut)>(STUN_QUEUE);
        let (data_tx, data_rx) = mpsc::channel::<Datagram>(DATA_QUEUE);
        let selected = SelectedPair::default();
        let socket = Arc::new(PathSocket::new(
            transports.clone(),
            selected.clone(),
            data_rx,
        ));
        let data_tx = sink.unwrap_or(data_tx);
        let inbound = Inbound {
            stun: stun_tx,
            data: data_tx.clone(),
            selected: selected.clone(),
        };
        // Answers from STUN servers go to the gatherer, not to the agent.
        let servers = parse_servers(&options.servers);
        let stun_servers = Arc::new(RwLock::new(HashSet::new()));
        let (gather_tx, gather_rx) = mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        for (local, sock) in &sockets {
            tasks.push(
                tokio::spawn(read_loop(
                    *local,
                    sock.clone(),
                    inbound.clone(),
                    stun_servers.clone(),
                    gather_tx.clone(),
                ))
                .abort_handle(),
            );
        }

        let selected_for_session = selected.clone();
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (upd_tx, upd_rx) = mpsc::unbounded_channel();
        tasks.push(
            tokio::spawn(agent_loop(
                agent,
                transports.clone(),
                cmd_rx,
                stun_rx,
                upd_tx,
                selected,
            ))
            .abort_handle(),
        );
        let transports_for_session = transports.clone();
        let hosts: Vec<(SocketAddr, Arc<UdpSocket>)> = sockets
            .iter()
            .filter(|(a, _)| !a.ip().is_loopback())
            .map(|(a, s)| (*a, s.clone()))
            .collect();
        let gatherer = tokio::spawn(gather(
            Gatherer {
                servers,
                gather_relays: options.gather_relays,
                relay_only: options.relay_only,
                turn_ca: options.turn_ca.clone(),
                hosts,
                inbound,
                transports,
                stun_servers,
                commands: cmd_tx.clone(),
            },
            gather_rx,
        ));
        tasks.push(gatherer.abort_handle());

        Ok(Self {
            commands: cmd_tx,
            local_ufrag: creds.ufrag,
            local_pwd: creds.pwd,
            local_candidates,
            socket,
            updates: upd_rx,
            selected: selected_for_session,
            transports: transports_for_session,
            data: data_tx,
            tasks,
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
    inbound: Inbound,
    stun_servers: Arc<RwLock<HashSet<SocketAddr>>>,
    gatherer: mpsc::UnboundedSender<(SocketAddr, SocketAddr, Vec<u8>)>,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(v) => v,
            Err(e) => {
                // ICMP errors surface here on Linux (e.g. port unreachable); keep reading.
                trace!(%local, "recv: {e}");
                if inbound.stun.is_closed() {
                    return;
                }
                continue;
            }
        };
        let packet = &buf[..n];
        // Servers only ever answer with STUN: other packets skip the lookup.
        let from_server = rtc_stun::message::is_stun_message(packet)
            && stun_servers
                .read()
                .map(|s| s.contains(&from))
                .unwrap_or(false);
        if from_server {
            let _ = gatherer.send((local, from, packet.to_vec()));
        } else if !inbound.deliver(local, from, packet) {
            return;
        }
    }
}

/// What the gatherer needs: the servers, the host sockets to ask from, and where results go.
struct Gatherer {
    servers: Vec<ServerUrl>,
    gather_relays: bool,
    relay_only: bool,
    turn_ca: Option<std::path::PathBuf>,
    hosts: Vec<(SocketAddr, Arc<UdpSocket>)>,
    inbound: Inbound,
    transports: Transports,
    stun_servers: Arc<RwLock<HashSet<SocketAddr>>>,
    commands: mpsc::UnboundedSender<Command>,
}

/// Server-reflexive addresses (STUN Binding from every host socket) and relays (a TURN
/// allocation per TURN URL), all at once; each result goes to the agent as it comes.
async fn gather(g: Gatherer, answers: mpsc::UnboundedReceiver<(SocketAddr, SocketAddr, Vec<u8>)>) {
    let tls = if g.gather_relays
        && g.servers.iter().any(|s| {
            matches!(
                s,
                ServerUrl::Turn {
                    transport: TurnTransport::Tls,
                    ..
                }
            )
        }) {
        match tandem_rendezvous::client::tls_config(g.turn_ca.as_deref()) {
            Ok(c) => Some(c),
            Err(e) => {
                warn!("TLS for TURN: {e}");
                None
            }
        }
    } else {
        None
    };
    let relays = g
        .servers
        .iter()
        .filter(|s| g.gather_relays && matches!(s, ServerUrl::Turn { .. }))
        .map(|url| {
            let (inbound, transports, commands, tls) = (
                g.inbound.clone(),
                g.transports.clone(),
                g.commands.clone(),
                tls.clone(),
            );
            async move {
                match relay::allocate(url, tls, inbound, GATHER_TIMEOUT).await {
                    Ok(r) => {
                        debug!(relayed = %r.relayed, over = r.over.name(), "TURN allocation");
                        let candidate = CandidateRelayConfig {
                            base_config: CandidateConfig {
                                network: "udp".to_owned(),
                                address: r.relayed.ip().to_string(),
                                port: r.relayed.port(),
                                component: 1,
                                priority: relay_priority(r.over),
                                ..Default::default()
                            },
                            // The relay's own view of us is none of the peer's business.
                            rel_addr: "0.0.0.0".into(),
                            rel_port: 0,
                            url: None,
                        }
                        .new_candidate_relay();
                        match candidate {
                            Ok(c) => {
                                transports.insert(
                                    r.relayed,
                                    LocalTransport::Relay {
                                        commands: r.commands,
                                        over: r.over,
                                    },
                                );
                                let _ = commands.send(Command::AddRelay(Box::new(c)));
                            }
                            Err(e) => warn!("relay candidate: {e}"),
                        }
                    }
                    Err(e) => warn!("{e}"),
                }
            }
        });
    let reflexive = async {
        if g.relay_only {
            return;
        }
        // TURN servers answer Binding requests on their UDP port too.
        let mut servers = Vec::new();
        for url in &g.servers {
            let stun_capable = matches!(
                url,
                ServerUrl::Stun { .. }
                    | ServerUrl::Turn {
                        transport: TurnTransport::Udp,
                        ..
                    }
            );
            if stun_capable {
                if let Some(addr) = url.resolve().await {
                    if !servers.contains(&addr) {
                        servers.push(addr);
                    }
                }
            }
        }
        if let Ok(mut set) = g.stun_servers.write() {
            set.extend(servers.iter().copied());
        }
        for srflx in server_reflexive(&g.hosts, &servers, answers).await {
            let _ = g.commands.send(Command::Announce(srflx));
        }
    };
    futures_util::future::join(futures_util::future::join_all(relays), reflexive).await;
    let _ = g.commands.send(Command::GatheringDone);
}

/// RFC 8445 §5.1.2.1 priority for a relay candidate: type preference 0, and a local
/// preference that ranks the relay's own leg, UDP over TCP over TLS (each costs more).
fn relay_priority(over: TurnTransport) -> u32 {
    let local_preference: u32 = match over {
        TurnTransport::Udp => 65535,
        TurnTransport::Tcp => 32767,
        TurnTransport::Tls => 16383,
    };
    (local_preference << 8) + (256 - 1)
}

/// Asks every server from every host socket (three tries) and returns the distinct
/// server-reflexive candidates (SDP), those that differ from their base.
async fn server_reflexive(
    hosts: &[(SocketAddr, Arc<UdpSocket>)],
    servers: &[SocketAddr],
    mut answers: mpsc::UnboundedReceiver<(SocketAddr, SocketAddr, Vec<u8>)>,
) -> Vec<String> {
    use rtc_stun::message::{Getter, Message, Setter, BINDING_REQUEST};
    use rtc_stun::xoraddr::XorMappedAddress;

    if servers.is_empty() || hosts.is_empty() {
        return Vec::new();
    }
    // transaction id → the host socket it was sent from
    let mut pending = HashMap::new();
    let mut requests = Vec::new();
    for (local, socket) in hosts {
        for server in servers {
            let mut msg = Message::new();
            let setters: [Box<dyn Setter>; 2] = [
                Box::new(rtc_stun::message::TransactionId::new()),
                Box::new(BINDING_REQUEST),
            ];
            if msg.build(&setters).is_err() {
                continue;
            }
            pending.insert(msg.transaction_id, *local);
            requests.push((socket.clone(), *server, msg.raw.clone(), msg.transaction_id));
        }
    }
    let mut found: Vec<(SocketAddr, SocketAddr)> = Vec::new();
    let started = tokio::time::Instant::now();
    // Sent at once, and again (if unanswered) at 300 and 900 ms; given up at 1.5 s.
    let mut sends = [0u64, 300, 900]
        .map(|ms| started + Duration::from_millis(ms))
        .into_iter()
        .peekable();
    let deadline = started + Duration::from_millis(1500);
    while !pending.is_empty() {
        let next_send = sends.peek().copied();
        let wait_until = next_send.unwrap_or(deadline);
        let answer = match tokio::time::timeout_at(wait_until, answers.recv()).await {
            Err(_) if next_send.is_some() => {
                sends.next();
                for (socket, server, raw, id) in &requests {
                    if pending.contains_key(id) {
                        let _ = socket.send_to(raw, server).await;
                    }
                }
                continue;
            }
            Err(_) | Ok(None) => break,
            Ok(Some(answer)) => answer,
        };
        let (local, _from, packet) = answer;
        let mut msg = Message::new();
        msg.raw = packet;
        if msg.decode().is_err() {
            continue;
        }
        if pending.get(&msg.transaction_id) != Some(&local) {
            continue;
        }
        pending.remove(&msg.transaction_id);
        let mut mapped = XorMappedAddress::default();
        if mapped.get_from(&msg).is_ok() {
            let public = SocketAddr::new(mapped.ip, mapped.port);
            if public != local && !found.iter().any(|(_, p)| *p == public) {
                found.push((local, public));
            }
        }
    }
    found
        .into_iter()
        .filter_map(|(base, public)| {
            CandidateServerReflexiveConfig {
                base_config: CandidateConfig {
                    network: "udp".to_owned(),
                    address: public.ip().to_string(),
                    port: public.port(),
                    component: 1,
                    ..Default::default()
                },
                rel_addr: base.ip().to_string(),
                rel_port: base.port(),
                url: None,
            }
            .new_candidate_server_reflexive()
            .ok()
            .map(|c| c.marshal())
        })
        .collect()
}

async fn agent_loop(
    mut agent: Agent,
    transports: Transports,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut stun: mpsc::Receiver<(SocketAddr, SocketAddr, BytesMut)>,
    updates: mpsc::UnboundedSender<IceUpdate>,
    selected: SelectedPair,
) {
    let (_keep, mut closed) = watch::channel(());
    // Remote addresses seen so far: a relay allocated later needs permissions for them.
    let mut remotes: Vec<SocketAddr> = Vec::new();
    // The peer's relay addresses: a check from one can arrive before its candidate, and the
    // pair is then "peer-reflexive" although every packet goes through the peer's relay.
    let mut remote_relays: Vec<SocketAddr> = Vec::new();
    let mut current: Option<(Box<Candidate>, Box<Candidate>, Option<TurnTransport>)> = None;
    loop {
        // Flush what the agent wants to send and report.
        while let Some(out) = agent.poll_write() {
            let local = out.transport.local_addr;
            if let Err(e) = transports.try_send(&local, out.transport.peer_addr, &out.message) {
                trace!(%local, peer = %out.transport.peer_addr, "send: {e}");
            }
        }
        while let Some(ev) = agent.poll_event() {
            match ev.event {
                Event::ConnectionStateChange(state) => {
                    debug!(%state, "ICE state");
                    let _ = updates.send(IceUpdate::State(state));
                }
                Event::SelectedCandidatePairChange(local, remote) => {
                    let relay = match transports.get(&local.addr()) {
                        Some(LocalTransport::Relay { over, .. }) => Some(over),
                        _ => None,
                    };
                    let info = path_info(&local, &remote, relay, &remote_relays);
                    debug!(?info, "ICE selected pair");
                    selected.set(local.addr(), remote.addr());
                    let _ = updates.send(IceUpdate::Selected(info));
                    current = Some((local, remote, relay));
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
                    // The relays must let the peer's packets through (TURN permissions).
                    let addr = c.addr();
                    if c.candidate_type() == CandidateType::Relay && !remote_relays.contains(&addr) {
                        remote_relays.push(addr);
                        // The selected pair turns out to run through the peer's relay.
                        if let Some((local, remote, relay)) = &current {
                            if remote.addr() == addr {
                                let info = path_info(local, remote, *relay, &remote_relays);
                                debug!(?info, "selected pair is relayed by the peer");
                                let _ = updates.send(IceUpdate::Selected(info));
                            }
                        }
                    }
                    if !remotes.contains(&addr) {
                        remotes.push(addr);
                        for relay in transports.relays() {
                            let _ = relay.send(RelayCommand::Permit(addr));
                        }
                    }
                    if let Err(e) = agent.add_remote_candidate(*c) {
                        debug!("remote candidate refused: {e}");
                    }
                }
                Some(Command::AddRelay(c)) => {
                    let relayed = c.addr();
                    if let Some(LocalTransport::Relay { commands, .. }) = transports.get(&relayed) {
                        for addr in &remotes {
                            let _ = commands.send(RelayCommand::Permit(*addr));
                        }
                    }
                    let sdp = c.marshal();
                    match agent.add_local_candidate(*c) {
                        Ok(_) => { let _ = updates.send(IceUpdate::LocalCandidate(sdp)); }
                        Err(e) => warn!("relay candidate refused: {e}"),
                    }
                }
                Some(Command::Announce(sdp)) => { let _ = updates.send(IceUpdate::LocalCandidate(sdp)); }
                Some(Command::GatheringDone) => { let _ = updates.send(IceUpdate::GatheringDone); }
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

fn path_info(
    local: &Candidate,
    remote: &Candidate,
    relay: Option<TurnTransport>,
    remote_relays: &[SocketAddr],
) -> PathInfo {
    let relayed = local.candidate_type() == CandidateType::Relay
        || remote.candidate_type() == CandidateType::Relay
        || remote_relays.contains(&remote.addr());
    PathInfo {
        kind: if relayed { "relayed" } else { "direct" },
        // How this side's packets leave: to its relay over UDP/TCP/TLS, or plain UDP.
        transport: relay.map_or("udp", TurnTransport::name),
        local: local.addr().to_string(),
        remote: remote.addr().to_string(),
        local_type: local.candidate_type().to_string(),
        remote_type: if remote_relays.contains(&remote.addr()) {
            CandidateType::Relay.to_string()
        } else {
            remote.candidate_type().to_string()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_descriptors() -> usize {
        std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
    }

    /// A search given up (a path probe replaced by the next) must close its sockets: before,
    /// its readers waited on them for ever, one socket and task per interface per attempt.
    #[tokio::test]
    async fn a_dropped_ice_session_closes_its_sockets() {
        let options = IceOptions {
            only_addresses: vec![IpAddr::from([127, 0, 0, 1])],
            gather_relays: false,
            ..IceOptions::default()
        };
        // The runtime's own descriptors settle after the first session.
        drop(IceSession::start(true, options.clone()).await.expect("ice"));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let before = open_descriptors();
        for _ in 0..50 {
            drop(IceSession::start(true, options.clone()).await.expect("ice"));
        }
        // Aborted tasks drop their sockets at their next poll (a hang guard, not a measure).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while open_descriptors() > before && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            open_descriptors() <= before,
            "{} descriptors open after 50 sessions came and went, {before} before",
            open_descriptors()
        );
    }
}
