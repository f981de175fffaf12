//! What the embedded TURN server may relay to, and how much.
//!
//! webrtc-rs's `turn` server relays to any address a client names: with credentials from
//! `allocated` a client could reach 127.0.0.1, the machine's private network or the
//! server's own services through the relay. It has no hook for that, so this guard sits
//! between the server and its client-facing sockets and reads each STUN message first:
//! CreatePermission, ChannelBind and Send naming a forbidden peer are answered with
//! `403 Forbidden` (or dropped, for an indication) and never reach the server. It also
//! counts each credential's allocations (`486 Allocation Quota Reached` past the limit) and
//! its relayed bytes (a token bucket; packets over it are dropped, as a congested path
//! would).
//!
//! Forbidden peers: loopback, private (RFC 1918), shared (CGNAT, RFC 6598), link-local,
//! multicast, broadcast, unspecified and reserved IPv4; loopback, unspecified, ULA,
//! link-local, multicast IPv6 and IPv4 mapped into IPv6; and this server's own addresses,
//! except the relay ports of its live allocations (two relayed parties meet there). An
//! allow-list opens exceptions (test networks).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ipnet::IpNet;

const MAGIC_COOKIE: u32 = 0x2112_A442;
const HEADER_LEN: usize = 20;

const ALLOCATE_REQUEST: u16 = 0x0003;
const ALLOCATE_SUCCESS: u16 = 0x0103;
const CREATE_PERMISSION_REQUEST: u16 = 0x0008;
const CHANNEL_BIND_REQUEST: u16 = 0x0009;
const SEND_INDICATION: u16 = 0x0016;
const DATA_INDICATION: u16 = 0x0017;

const ATTR_USERNAME: u16 = 0x0006;
const ATTR_ERROR_CODE: u16 = 0x0009;
const ATTR_XOR_PEER_ADDRESS: u16 = 0x0012;
const ATTR_XOR_RELAYED_ADDRESS: u16 = 0x0016;

/// Allocate requests waiting for the server's answer, at most (an answer comes within
/// milliseconds; the rest are clients that never authenticate).
const MAX_PENDING: usize = 4096;
const PENDING_FOR: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct TurnQuotas {
    /// Live allocations one credential may hold (a session side makes one per transport,
    /// and again when it looks for a better path).
    pub allocations_per_credential: usize,
    /// Relayed bytes per second per credential, both directions together.
    pub bytes_per_second: u64,
    /// What may be relayed at once beyond the rate.
    pub burst_bytes: u64,
}

impl Default for TurnQuotas {
    fn default() -> Self {
        Self {
            allocations_per_credential: 10,
            // 20 Mbit/s: several times what a session's video needs.
            bytes_per_second: 2_500_000,
            burst_bytes: 1_000_000,
        }
    }
}

/// Which peers may be relayed to.
#[derive(Debug, Clone, Default)]
pub struct PeerPolicy {
    /// Exceptions to the forbidden ranges (`--turn-allow-peer`, for test networks).
    pub allow: Vec<IpNet>,
    /// This server's addresses (listen and relay IPs).
    pub own: Vec<IpAddr>,
}

impl PeerPolicy {
    fn permits(&self, peer: SocketAddr, live_relays: &HashSet<SocketAddr>) -> bool {
        let ip = canonical(peer.ip());
        if self.allow.iter().any(|net| net.contains(&ip)) {
            return true;
        }
        if self.own.iter().any(|own| canonical(*own) == ip) || ip.is_unspecified() {
            return live_relays.contains(&SocketAddr::new(ip, peer.port()));
        }
        is_public(ip)
    }
}

/// An IPv4 address seen through an IPv6 socket is the IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Not a range a relay must reach on a stranger's behalf.
pub fn is_public(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || a == 0
        // Shared address space (carrier-grade NAT), RFC 6598.
        || (a == 100 && (64..128).contains(&b))
        // Reserved (240/4).
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local fc00::/7, link-local fe80::/10.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        // IPv4-compatible (deprecated) and NAT64 local-use prefixes reach IPv4 ranges.
        || (ip.segments()[..6] == [0, 0, 0, 0, 0, 0])
        || (first == 0x64 && ip.segments()[1] == 0xff9b && ip.segments()[2] == 1)
        // The well-known NAT64 prefix reaches the IPv4 address it embeds.
        || (ip.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && !is_public_v4(embedded_v4(ip))))
}

fn embedded_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let o = ip.octets();
    Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

/// A parsed STUN message, as much as the guard needs.
struct Stun<'a> {
    kind: u16,
    transaction: [u8; 12],
    attributes: &'a [u8],
}

fn parse_stun(b: &[u8]) -> Option<Stun<'_>> {
    if b.len() < HEADER_LEN || b[0] & 0xc0 != 0 {
        return None;
    }
    let kind = u16::from_be_bytes([b[0], b[1]]);
    let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
    if u32::from_be_bytes([b[4], b[5], b[6], b[7]]) != MAGIC_COOKIE || b.len() < HEADER_LEN + len {
        return None;
    }
    let mut transaction = [0u8; 12];
    transaction.copy_from_slice(&b[8..20]);
    Some(Stun {
        kind,
        transaction,
        attributes: &b[HEADER_LEN..HEADER_LEN + len],
    })
}

impl Stun<'_> {
    fn attributes(&self) -> impl Iterator<Item = (u16, &[u8])> {
        let mut rest = self.attributes;
        std::iter::from_fn(move || {
            if rest.len() < 4 {
                return None;
            }
            let kind = u16::from_be_bytes([rest[0], rest[1]]);
            let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
            let value = rest.get(4..4 + len)?;
            let padded = (4 + len + 3) & !3;
            rest = rest.get(padded..).unwrap_or_default();
            Some((kind, value))
        })
    }

    fn xor_address(&self, value: &[u8]) -> Option<SocketAddr> {
        if value.len() < 4 {
            return None;
        }
        let port = u16::from_be_bytes([value[2], value[3]]) ^ (MAGIC_COOKIE >> 16) as u16;
        let ip = match value[1] {
            0x01 if value.len() >= 8 => {
                let raw = u32::from_be_bytes([value[4], value[5], value[6], value[7]]);
                IpAddr::V4(Ipv4Addr::from(raw ^ MAGIC_COOKIE))
            }
            0x02 if value.len() >= 20 => {
                let mut key = [0u8; 16];
                key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
                key[4..].copy_from_slice(&self.transaction);
                let mut raw = [0u8; 16];
                for (i, byte) in raw.iter_mut().enumerate() {
                    *byte = value[4 + i] ^ key[i];
                }
                IpAddr::V6(Ipv6Addr::from(raw))
            }
            _ => return None,
        };
        Some(SocketAddr::new(ip, port))
    }

    fn peers(&self) -> impl Iterator<Item = Option<SocketAddr>> + '_ {
        self.attributes()
            .filter(|(kind, _)| *kind == ATTR_XOR_PEER_ADDRESS)
            .map(|(_, v)| self.xor_address(v))
    }

    fn username(&self) -> Option<String> {
        self.attributes()
            .find(|(kind, _)| *kind == ATTR_USERNAME)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
            .map(str::to_owned)
    }
}

/// An error response for `request` (`class`/`number`: 4/3 is 403).
fn error_response(request: &Stun<'_>, class: u8, number: u8, reason: &str) -> Vec<u8> {
    let reason = reason.as_bytes();
    let value_len = 4 + reason.len();
    let padded = (value_len + 3) & !3;
    let mut out = Vec::with_capacity(HEADER_LEN + 4 + padded);
    out.extend_from_slice(&(request.kind | 0x0110).to_be_bytes());
    out.extend_from_slice(&((4 + padded) as u16).to_be_bytes());
    out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    out.extend_from_slice(&request.transaction);
    out.extend_from_slice(&ATTR_ERROR_CODE.to_be_bytes());
    out.extend_from_slice(&(value_len as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, class, number]);
    out.extend_from_slice(reason);
    out.resize(HEADER_LEN + 4 + padded, 0);
    out
}

/// ChannelData (RFC 8656 §12.4): channel numbers 0x4000–0x4FFF start with bits 01.
fn is_channel_data(b: &[u8]) -> bool {
    b.len() >= 4 && b[0] & 0xc0 == 0x40
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// One client of one listener (the server's five-tuple without the protocol).
type Client = (SocketAddr, SocketAddr);

struct Allocation {
    username: String,
    relay: Option<SocketAddr>,
}

#[derive(Default)]
struct State {
    /// Allocate requests not yet answered: client and transaction → username.
    pending: HashMap<(Client, [u8; 12]), (String, Instant)>,
    allocations: HashMap<Client, Allocation>,
    per_credential: HashMap<String, usize>,
    relays: HashSet<SocketAddr>,
    buckets: HashMap<String, Bucket>,
}

/// What to do with one packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Drop,
    /// Answer the client with this instead of passing the request on.
    Reply(Vec<u8>),
}

/// Shared by every listener of one TURN server.
pub struct TurnGuard {
    policy: PeerPolicy,
    quotas: TurnQuotas,
    state: Mutex<State>,
}

impl TurnGuard {
    pub fn new(policy: PeerPolicy, quotas: TurnQuotas) -> Arc<Self> {
        Arc::new(Self {
            policy,
            quotas,
            state: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `client` (on the listener at `local`) holds an allocation.
    pub fn has_allocation(&self, local: SocketAddr, client: SocketAddr) -> bool {
        self.lock().allocations.contains_key(&(local, client))
    }

    /// A packet from a client, before the server sees it.
    pub fn inbound(
        &self,
        local: SocketAddr,
        from: SocketAddr,
        packet: &[u8],
        now: Instant,
    ) -> Verdict {
        let client = (local, from);
        if is_channel_data(packet) {
            return self.spend(client, packet.len(), now);
        }
        let Some(msg) = parse_stun(packet) else {
            return Verdict::Pass;
        };
        match msg.kind {
            CREATE_PERMISSION_REQUEST | CHANNEL_BIND_REQUEST | SEND_INDICATION => {
                let allowed = {
                    let state = self.lock();
                    let mut peers = msg.peers().peekable();
                    peers.peek().is_some()
                        && peers.all(|p| p.is_some_and(|p| self.policy.permits(p, &state.relays)))
                };
                match (allowed, msg.kind) {
                    (true, SEND_INDICATION) => self.spend(client, packet.len(), now),
                    (true, _) => Verdict::Pass,
                    (false, SEND_INDICATION) => Verdict::Drop,
                    (false, _) => Verdict::Reply(error_response(&msg, 4, 3, "Forbidden")),
                }
            }
            ALLOCATE_REQUEST => {
                // The first attempt has no credentials (the server asks for them).
                let Some(username) = msg.username() else {
                    return Verdict::Pass;
                };
                let mut state = self.lock();
                let held = state.per_credential.get(&username).copied().unwrap_or(0);
                if held >= self.quotas.allocations_per_credential {
                    return Verdict::Reply(error_response(&msg, 4, 86, "Allocation Quota Reached"));
                }
                state
                    .pending
                    .retain(|_, (_, at)| now.duration_since(*at) < PENDING_FOR);
                if state.pending.len() < MAX_PENDING {
                    state
                        .pending
                        .insert((client, msg.transaction), (username, now));
                }
                Verdict::Pass
            }
            _ => Verdict::Pass,
        }
    }

    /// A packet from the server to a client.
    pub fn outbound(
        &self,
        local: SocketAddr,
        to: SocketAddr,
        packet: &[u8],
        now: Instant,
    ) -> Verdict {
        let client = (local, to);
        if is_channel_data(packet) {
            return self.spend(client, packet.len(), now);
        }
        let Some(msg) = parse_stun(packet) else {
            return Verdict::Pass;
        };
        match msg.kind {
            DATA_INDICATION => self.spend(client, packet.len(), now),
            ALLOCATE_SUCCESS => {
                let relay = msg
                    .attributes()
                    .find(|(kind, _)| *kind == ATTR_XOR_RELAYED_ADDRESS)
                    .and_then(|(_, v)| msg.xor_address(v));
                let mut state = self.lock();
                if let Some((username, _)) = state.pending.remove(&(client, msg.transaction)) {
                    if !state.allocations.contains_key(&client) {
                        *state.per_credential.entry(username.clone()).or_insert(0) += 1;
                        if let Some(relay) = relay {
                            state.relays.insert(relay);
                        }
                        state
                            .allocations
                            .insert(client, Allocation { username, relay });
                    }
                }
                Verdict::Pass
            }
            _ => Verdict::Pass,
        }
    }

    /// The server closed the allocation of `client` on the listener at `local`.
    pub fn closed(&self, local: SocketAddr, client: SocketAddr) {
        let mut state = self.lock();
        if let Some(allocation) = state.allocations.remove(&(local, client)) {
            if let Some(relay) = allocation.relay {
                state.relays.remove(&relay);
            }
            let left = match state.per_credential.get_mut(&allocation.username) {
                Some(n) => {
                    *n = n.saturating_sub(1);
                    *n
                }
                None => 0,
            };
            if left == 0 {
                state.per_credential.remove(&allocation.username);
                state.buckets.remove(&allocation.username);
            }
        }
    }

    /// Relayed bytes of `client`'s credential; traffic of clients without an allocation
    /// is the server's to refuse.
    fn spend(&self, client: Client, bytes: usize, now: Instant) -> Verdict {
        let mut state = self.lock();
        let Some(username) = state.allocations.get(&client).map(|a| a.username.clone()) else {
            return Verdict::Pass;
        };
        let (rate, burst) = (
            self.quotas.bytes_per_second as f64,
            self.quotas.burst_bytes as f64,
        );
        let bucket = state.buckets.entry(username).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.at = now;
        if bucket.tokens >= bytes as f64 {
            bucket.tokens -= bytes as f64;
            Verdict::Pass
        } else {
            Verdict::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn private_and_special_ranges_are_not_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "224.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b:1::a00:1",
            "64:ff9b::7f00:1",
        ] {
            assert!(!is_public(ip(private)), "{private}");
        }
        for public in [
            "203.0.113.7",
            "8.8.8.8",
            "100.128.0.1",
            "2001:db8::1",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(ip(public)), "{public}");
        }
    }

    /// A STUN message of `kind` with `attrs` (type, value), as a client would send it.
    fn stun(kind: u16, txid: [u8; 12], attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut body = Vec::new();
        for (t, v) in attrs {
            body.extend_from_slice(&t.to_be_bytes());
            body.extend_from_slice(&(v.len() as u16).to_be_bytes());
            body.extend_from_slice(v);
            body.resize((body.len() + 3) & !3, 0);
        }
        let mut m = Vec::new();
        m.extend_from_slice(&kind.to_be_bytes());
        m.extend_from_slice(&(body.len() as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        m.extend_from_slice(&txid);
        m.extend_from_slice(&body);
        m
    }

    fn xor_addr(addr: SocketAddr, txid: [u8; 12]) -> Vec<u8> {
        let mut v = vec![0];
        let port = addr.port() ^ (MAGIC_COOKIE >> 16) as u16;
        match addr.ip() {
            IpAddr::V4(v4) => {
                v.push(1);
                v.extend_from_slice(&port.to_be_bytes());
                v.extend_from_slice(&(u32::from(v4) ^ MAGIC_COOKIE).to_be_bytes());
            }
            IpAddr::V6(v6) => {
                v.push(2);
                v.extend_from_slice(&port.to_be_bytes());
                let mut key = MAGIC_COOKIE.to_be_bytes().to_vec();
                key.extend_from_slice(&txid);
                v.extend(v6.octets().iter().zip(key).map(|(a, k)| a ^ k));
            }
        }
        v
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("addr")
    }

    #[test]
    fn permissions_and_sends_to_forbidden_peers_are_refused_before_the_server() {
        let own = ip("203.0.113.1");
        let guard = TurnGuard::new(
            PeerPolicy {
                allow: vec![],
                own: vec![own],
            },
            TurnQuotas::default(),
        );
        let (local, client, now) = (
            addr("203.0.113.1:3478"),
            addr("198.51.100.9:5000"),
            Instant::now(),
        );
        let tx = [7u8; 12];
        for peer in [
            "127.0.0.1:22",
            "10.0.0.5:6379",
            "[::1]:80",
            "[fd00::1]:80",
            "203.0.113.1:8443",
        ] {
            let peer = addr(peer);
            let request = stun(
                CREATE_PERMISSION_REQUEST,
                tx,
                &[(ATTR_XOR_PEER_ADDRESS, xor_addr(peer, tx))],
            );
            let Verdict::Reply(answer) = guard.inbound(local, client, &request, now) else {
                panic!("{peer} was let through");
            };
            let answer = parse_stun(&answer).expect("a STUN answer");
            assert_eq!(
                answer.kind, 0x0118,
                "{peer}: CreatePermission error response"
            );
            assert_eq!(answer.transaction, tx);
            let code = answer
                .attributes()
                .find(|(k, _)| *k == ATTR_ERROR_CODE)
                .map(|(_, v)| (v[2], v[3]));
            assert_eq!(code, Some((4, 3)), "{peer}: 403");
            let bind = stun(
                CHANNEL_BIND_REQUEST,
                tx,
                &[(ATTR_XOR_PEER_ADDRESS, xor_addr(peer, tx))],
            );
            assert!(matches!(
                guard.inbound(local, client, &bind, now),
                Verdict::Reply(_)
            ));
            let send = stun(
                SEND_INDICATION,
                tx,
                &[(ATTR_XOR_PEER_ADDRESS, xor_addr(peer, tx))],
            );
            assert_eq!(guard.inbound(local, client, &send, now), Verdict::Drop);
        }
        // One good and one bad peer in the same request: refused.
        let mixed = stun(
            CREATE_PERMISSION_REQUEST,
            tx,
            &[
                (ATTR_XOR_PEER_ADDRESS, xor_addr(addr("198.51.100.20:9"), tx)),
                (ATTR_XOR_PEER_ADDRESS, xor_addr(addr("127.0.0.1:9"), tx)),
            ],
        );
        assert!(matches!(
            guard.inbound(local, client, &mixed, now),
            Verdict::Reply(_)
        ));
        // A public peer passes.
        let ok = stun(
            CREATE_PERMISSION_REQUEST,
            tx,
            &[(ATTR_XOR_PEER_ADDRESS, xor_addr(addr("198.51.100.20:9"), tx))],
        );
        assert_eq!(guard.inbound(local, client, &ok, now), Verdict::Pass);
        // Garbage is the server's to refuse.
        assert_eq!(guard.inbound(local, client, &[1, 2, 3], now), Verdict::Pass);
    }

    #[test]
    fn the_servers_own_address_is_reachable_only_at_its_live_relays() {
        let own = ip("203.0.113.1");
        let guard = TurnGuard::new(
            PeerPolicy {
                allow: vec![],
                own: vec![own],
            },
            TurnQuotas::default(),
        );
        let (local, now) = (addr("203.0.113.1:3478"), Instant::now());
        let (a, b) = (addr("198.51.100.9:5000"), addr("192.0.2.4:6000"));
        let relay_of_b = addr("203.0.113.1:50000");
        // b allocates; the server answers with its relay address.
        let tx = [1u8; 12];
        let alloc = stun(
            ALLOCATE_REQUEST,
            tx,
            &[(ATTR_USERNAME, b"9:ABCD-sharer".to_vec())],
        );
        assert_eq!(guard.inbound(local, b, &alloc, now), Verdict::Pass);
        let success = stun(
            ALLOCATE_SUCCESS,
            tx,
            &[(ATTR_XOR_RELAYED_ADDRESS, xor_addr(relay_of_b, tx))],
        );
        assert_eq!(guard.outbound(local, b, &success, now), Verdict::Pass);
        let to = |peer: SocketAddr| {
            stun(
                CREATE_PERMISSION_REQUEST,
                tx,
                &[(ATTR_XOR_PEER_ADDRESS, xor_addr(peer, tx))],
            )
        };
        assert_eq!(
            guard.inbound(local, a, &to(relay_of_b), now),
            Verdict::Pass,
            "relay to relay"
        );
        assert!(matches!(
            guard.inbound(local, a, &to(addr("203.0.113.1:8443")), now),
            Verdict::Reply(_)
        ));
        guard.closed(local, b);
        assert!(
            matches!(
                guard.inbound(local, a, &to(relay_of_b), now),
                Verdict::Reply(_)
            ),
            "gone with its allocation"
        );
        // An allow-list opens a test network.
        let open = TurnGuard::new(
            PeerPolicy {
                allow: vec!["127.0.0.0/8".parse().expect("net")],
                own: vec![],
            },
            TurnQuotas::default(),
        );
        assert_eq!(
            open.inbound(local, a, &to(addr("127.0.0.1:9")), now),
            Verdict::Pass
        );
    }

    #[test]
    fn allocations_and_bytes_are_counted_per_credential() {
        let quotas = TurnQuotas {
            allocations_per_credential: 2,
            bytes_per_second: 1000,
            burst_bytes: 2000,
        };
        let guard = TurnGuard::new(PeerPolicy::default(), quotas);
        let local = addr("203.0.113.1:3478");
        let now = Instant::now();
        let user = b"9:ABCD-helper".to_vec();
        let mut clients = Vec::new();
        for i in 0..3u8 {
            let client = addr(&format!("198.51.100.9:{}", 5000 + u16::from(i)));
            let tx = [i; 12];
            let alloc = stun(ALLOCATE_REQUEST, tx, &[(ATTR_USERNAME, user.clone())]);
            let verdict = guard.inbound(local, client, &alloc, now);
            if i < 2 {
                assert_eq!(verdict, Verdict::Pass);
                let relay = addr(&format!("203.0.113.1:{}", 50000 + u16::from(i)));
                let success = stun(
                    ALLOCATE_SUCCESS,
                    tx,
                    &[(ATTR_XOR_RELAYED_ADDRESS, xor_addr(relay, tx))],
                );
                guard.outbound(local, client, &success, now);
                clients.push(client);
            } else {
                let Verdict::Reply(answer) = verdict else {
                    panic!("third allocation let through")
                };
                let answer = parse_stun(&answer).expect("stun");
                assert_eq!(answer.kind, 0x0113);
                let code = answer
                    .attributes()
                    .find(|(k, _)| *k == ATTR_ERROR_CODE)
                    .map(|(_, v)| (v[2], v[3]));
                assert_eq!(code, Some((4, 86)));
            }
        }
        // The two allocations share one byte budget: 2000 at once, then 1000 a second.
        let channel_data = |n: usize| {
            let mut b = vec![0x40, 0x00];
            b.extend_from_slice(&((n - 4) as u16).to_be_bytes());
            b.resize(n, 0);
            b
        };
        assert_eq!(
            guard.inbound(local, clients[0], &channel_data(1200), now),
            Verdict::Pass
        );
        assert_eq!(
            guard.outbound(local, clients[1], &channel_data(700), now),
            Verdict::Pass
        );
        assert_eq!(
            guard.inbound(local, clients[1], &channel_data(200), now),
            Verdict::Drop
        );
        let later = now + Duration::from_millis(500);
        assert_eq!(
            guard.inbound(local, clients[1], &channel_data(500), later),
            Verdict::Pass
        );
        // A closed allocation frees its place.
        guard.closed(local, clients[0]);
        let tx = [9u8; 12];
        let alloc = stun(ALLOCATE_REQUEST, tx, &[(ATTR_USERNAME, user)]);
        assert_eq!(
            guard.inbound(local, addr("198.51.100.9:6000"), &alloc, later),
            Verdict::Pass
        );
    }
}
