//! Network shapes on one machine: network namespaces joined by veth pairs to a "public"
//! bridge, with nftables NAT and firewalls. Everything is created under a unique prefix and
//! deleted on drop; no packet leaves the namespaces a test creates.
//!
//! The public segment is 203.0.113.0/24 (TEST-NET-3): the rendezvous on .2, TURN on .1.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub const TURN_IP: &str = "203.0.113.1";
pub const RENDEZVOUS_IP: &str = "203.0.113.2";
/// The rendezvous's own (embedded) TURN server, when a test asks for it.
pub const EMBEDDED_TURN_IP: &str = "203.0.113.3";

/// How a peer reaches the public segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    /// Directly on the public segment (a LAN shared with the other peer, no NAT).
    Public,
    /// Behind a NAT that keeps one public port per local socket (iptables/nft masquerade:
    /// endpoint-independent mapping, address-dependent filtering).
    ConeNat,
    /// Behind a NAT that picks a new random port per destination (`fully-random`).
    SymmetricNat,
    /// Behind a NAT + corporate firewall: only outbound TCP to port 443 passes.
    Tcp443Firewall,
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?} ({e}): needs root and iproute2/nftables"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn in_ns(ns: &str, args: &[&str]) {
    let mut full = vec!["ip", "netns", "exec", ns];
    full.extend_from_slice(args);
    run(&full);
}

fn nft(ns: &str, ruleset: &str) {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("nft");
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().expect("nft stdin");
        stdin.write_all(ruleset.as_bytes()).expect("nft rules");
    }
    let status = child.wait().expect("nft wait");
    assert!(status.success(), "nft rules failed in {ns}:\n{ruleset}");
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A public segment and two peers, each attached its own way.
pub struct Topology {
    prefix: String,
    namespaces: Vec<String>,
    /// What shapes the sharer's access link, if anything.
    sharer_link: Option<crate::wan::Profile>,
    /// Link emulators: stopped before the namespaces go.
    links: Vec<crate::wan::Forwarder>,
    /// Where the public services run.
    pub public: String,
    pub helper: String,
    pub sharer: String,
}

impl Topology {
    pub fn new(helper: Attachment, sharer: Attachment) -> Self {
        Self::build(helper, sharer, None)
    }

    /// Like [`Topology::new`], with the sharer's access link (between the sharer and its
    /// router, or the public segment) shaped as `profile` by a link emulator.
    pub fn shaped(helper: Attachment, sharer: Attachment, profile: crate::wan::Profile) -> Self {
        Self::build(helper, sharer, Some(profile))
    }

    fn build(helper: Attachment, sharer: Attachment, link: Option<crate::wan::Profile>) -> Self {
        assert!(
            unsafe_is_root(),
            "network namespace tests need root (CI runs them as root)"
        );
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("tdm{}-{n}", std::process::id() % 100_000);
        let mut t = Self {
            public: format!("{prefix}-pub"),
            helper: format!("{prefix}-helper"),
            sharer: format!("{prefix}-sharer"),
            prefix,
            namespaces: Vec::new(),
            sharer_link: link,
            links: Vec::new(),
        };
        t.add_ns(&t.public.clone());
        let public = t.public.clone();
        // A fixed address: a bridge otherwise takes the lowest of its ports', so a router
        // joining later (a peer moving to another network) could change it under the
        // other routers' ARP caches, and their packets to the old one would be dropped.
        in_ns(
            &public,
            &[
                "ip",
                "link",
                "add",
                "br0",
                "address",
                "02:00:00:00:01:01",
                "type",
                "bridge",
            ],
        );
        in_ns(
            &public,
            &["ip", "addr", "add", "203.0.113.1/24", "dev", "br0"],
        );
        in_ns(
            &public,
            &["ip", "addr", "add", "203.0.113.2/24", "dev", "br0"],
        );
        in_ns(
            &public,
            &["ip", "addr", "add", "203.0.113.3/24", "dev", "br0"],
        );
        in_ns(&public, &["ip", "link", "set", "br0", "up"]);
        in_ns(&public, &["ip", "link", "set", "lo", "up"]);
        // A default route to nowhere: coturn needs one, or it drops a TLS client whose
        // permission names an unroutable (private) address.
        in_ns(
            &public,
            &[
                "ip", "link", "add", "void0", "type", "veth", "peer", "name", "void1",
            ],
        );
        in_ns(&public, &["ip", "link", "set", "void1", "up"]);
        in_ns(
            &public,
            &["ip", "addr", "add", "198.51.100.1/24", "dev", "void0"],
        );
        in_ns(&public, &["ip", "link", "set", "void0", "up"]);
        in_ns(
            &public,
            &["ip", "route", "add", "default", "via", "198.51.100.254"],
        );
        in_ns(
            &public,
            &[
                "ip",
                "neigh",
                "add",
                "198.51.100.254",
                "lladdr",
                "02:00:00:00:00:01",
                "dev",
                "void0",
            ],
        );
        let (h, s) = (t.helper.clone(), t.sharer.clone());
        t.attach(&h, helper, 10);
        t.attach(&s, sharer, 20);
        t
    }

    fn add_ns(&mut self, ns: &str) {
        let _ = Command::new("ip").args(["netns", "del", ns]).output();
        run(&["ip", "netns", "add", ns]);
        in_ns(ns, &["ip", "link", "set", "lo", "up"]);
        self.namespaces.push(ns.to_string());
    }

    /// A veth from `peer_if` in `peer_ns` to `far_if` in `far_ns`; when `shape` is given,
    /// through a link emulator in a namespace of its own between them.
    fn veth(
        &mut self,
        (peer_ns, peer_if): (&str, &str),
        (far_ns, far_if): (&str, &str),
        shape: Option<crate::wan::Profile>,
    ) {
        let Some(profile) = shape else {
            run(&[
                "ip", "link", "add", peer_if, "netns", peer_ns, "type", "veth", "peer", "name",
                far_if, "netns", far_ns,
            ]);
            return;
        };
        let link = format!("{}-link{}", self.prefix, self.links.len());
        self.add_ns(&link);
        // The link only carries frames: no addresses, no IPv6 chatter of its own.
        for key in ["all", "default"] {
            let _ = Command::new("ip")
                .args(["netns", "exec", &link, "sysctl", "-q", "-w"])
                .arg(format!("net.ipv6.conf.{key}.disable_ipv6=1"))
                .output();
        }
        run(&[
            "ip", "link", "add", peer_if, "netns", peer_ns, "type", "veth", "peer", "name",
            "peer0", "netns", &link,
        ]);
        run(&[
            "ip", "link", "add", far_if, "netns", far_ns, "type", "veth", "peer", "name", "net0",
            "netns", &link,
        ]);
        // Frames must cross one at a time and complete: no segmentation or checksum left to
        // a later hop (a raw socket would see a 64 KB super-frame, or a packet without its
        // checksum, and re-send it as it is).
        for (ns, dev) in [
            (peer_ns, peer_if),
            (far_ns, far_if),
            (link.as_str(), "peer0"),
            (link.as_str(), "net0"),
        ] {
            in_ns(
                ns,
                &[
                    "ethtool", "-K", dev, "tx", "off", "rx", "off", "tso", "off", "gso", "off",
                    "gro", "off",
                ],
            );
        }
        for dev in ["peer0", "net0"] {
            in_ns(&link, &["ip", "link", "set", dev, "promisc", "on", "up"]);
        }
        self.links.push(crate::wan::Forwarder::start(
            &link, "peer0", "net0", &profile,
        ));
    }

    /// A veth from `ns` (named `inner`) into the public bridge.
    fn join_bridge(
        &mut self,
        ns: &str,
        inner: &str,
        public_ip: &str,
        shape: Option<crate::wan::Profile>,
    ) {
        let outer = format!("v{}", rand_suffix());
        let public = self.public.clone();
        self.veth((ns, inner), (&public, &outer), shape);
        in_ns(
            &self.public,
            &["ip", "link", "set", &outer, "master", "br0"],
        );
        in_ns(&self.public, &["ip", "link", "set", &outer, "up"]);
        in_ns(
            ns,
            &[
                "ip",
                "addr",
                "add",
                &format!("{public_ip}/24"),
                "dev",
                inner,
            ],
        );
        in_ns(ns, &["ip", "link", "set", inner, "up"]);
    }

    /// Peer `ns` attached as asked; `index` numbers its addresses.
    fn attach(&mut self, ns: &str, how: Attachment, index: u8) {
        self.add_ns(ns);
        let public_ip = format!("203.0.113.{index}");
        let shape = if ns == self.sharer {
            self.sharer_link.clone()
        } else {
            None
        };
        if how == Attachment::Public {
            self.join_bridge(ns, "eth0", &public_ip, shape);
            return;
        }
        self.nat_router(ns, how, index, "eth0", shape);
    }

    /// Peer `ns` behind a new NAT router numbered `index` (public address 203.0.113.INDEX,
    /// LAN 10.INDEX.0.0/24), through its interface `peer_if`, with its default route there.
    fn nat_router(
        &mut self,
        ns: &str,
        how: Attachment,
        index: u8,
        peer_if: &str,
        shape: Option<crate::wan::Profile>,
    ) {
        let public_ip = format!("203.0.113.{index}");
        // peer ── lan ── router ── wan ── public bridge
        let router = format!("{}-r{index}", self.prefix);
        self.add_ns(&router);
        self.join_bridge(&router, "wan", &public_ip, None);
        let lan_net = format!("10.{index}.0");
        self.veth((ns, peer_if), (&router, "lan"), shape);
        in_ns(
            &router,
            &[
                "ip",
                "addr",
                "add",
                &format!("{lan_net}.1/24"),
                "dev",
                "lan",
            ],
        );
        in_ns(&router, &["ip", "link", "set", "lan", "up"]);
        in_ns(
            ns,
            &[
                "ip",
                "addr",
                "add",
                &format!("{lan_net}.2/24"),
                "dev",
                peer_if,
            ],
        );
        in_ns(ns, &["ip", "link", "set", peer_if, "up"]);
        in_ns(
            ns,
            &[
                "ip",
                "route",
                "add",
                "default",
                "via",
                &format!("{lan_net}.1"),
            ],
        );
        in_ns(&router, &["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
        let masquerade = match how {
            Attachment::SymmetricNat => "masquerade fully-random",
            _ => "masquerade",
        };
        // Like a home router, the NAT silently drops unsolicited packets to itself: an
        // unanswered hole-punching packet must not leave a conntrack entry (or an ICMP error)
        // that would make the NAT pick another port for the peer's own outgoing packet.
        let forward = match how {
            Attachment::Tcp443Firewall => {
                "policy drop; ct state established,related accept; \
                 iifname \"lan\" tcp dport 443 accept;"
            }
            _ => "policy accept;",
        };
        nft(
            &router,
            &format!(
                "table ip tandem {{\n\
                 chain post {{ type nat hook postrouting priority 100; oifname \"wan\" {masquerade}; }}\n\
                 chain forward {{ type filter hook forward priority 0; {forward} }}\n\
                 chain input {{ type filter hook input priority 0; iifname \"wan\" meta l4proto udp drop; }}\n\
                 }}\n"
            ),
        );
    }

    /// Peer `index` moves to another network, as a laptop from Wi-Fi to a phone's
    /// hotspot: its interface loses its address and goes down, and a second interface
    /// comes up behind another NAT (router `index + 1`, attached as `how`), with the
    /// default route there.
    pub fn move_to_another_network(&mut self, index: u8, how: Attachment) {
        let ns = if index == 10 {
            self.helper.clone()
        } else {
            self.sharer.clone()
        };
        in_ns(&ns, &["ip", "addr", "flush", "dev", "eth0"]);
        in_ns(&ns, &["ip", "link", "set", "eth0", "down"]);
        self.nat_router(&ns, how, index + 1, "eth1", None);
    }

    /// Replaces nftables table `table` in the router of peer `index` with one chain of
    /// `rules` on the forward hook (`None`: just delete it).
    fn router_rules(&self, index: u8, table: &str, priority: i32, rules: Option<&str>) {
        let router = format!("{}-r{index}", self.prefix);
        let _ = Command::new("ip")
            .args([
                "netns", "exec", &router, "nft", "delete", "table", "ip", table,
            ])
            .output();
        if let Some(rules) = rules {
            nft(
                &router,
                &format!(
                    "table ip {table} {{\n chain forward {{ type filter hook forward priority {priority}; {rules} }}\n}}\n"
                ),
            );
        }
    }

    /// When the sharer's link emulator started (time zero of its profile's schedule).
    pub fn link_started(&self) -> Option<std::time::Instant> {
        self.links.first().map(crate::wan::Forwarder::started)
    }

    /// Blocks (or unblocks) UDP between peer `index`'s network and `ip`, at its router.
    pub fn block_udp_with(&self, index: u8, ip: &str, blocked: bool) {
        let rules =
            format!("ip daddr {ip} meta l4proto udp drop; ip saddr {ip} meta l4proto udp drop;");
        self.router_rules(index, "tandemblock", -20, blocked.then_some(rules.as_str()));
    }

    /// Cuts peer `index`'s network off entirely (every protocol, both ways: the
    /// rendezvous and the relays too), or restores it.
    pub fn set_outage(&self, index: u8, cut: bool) {
        self.router_rules(index, "tandemoutage", -30, cut.then_some("drop;"));
    }

    /// Drops this share of UDP packets the router of peer `index` forwards, both ways
    /// (0 to stop, 100 for an outage).
    pub fn set_udp_loss(&self, index: u8, percent: u32) {
        let rules = if percent >= 100 {
            "meta l4proto udp drop;".to_string()
        } else {
            format!("meta l4proto udp numgen random mod 100 < {percent} drop;")
        };
        self.router_rules(
            index,
            "tandemloss",
            -10,
            (percent > 0).then_some(rules.as_str()),
        );
    }
}

/// Moves the calling thread into network namespace `ns` (sockets it opens from then on
/// live there; threads it starts inherit it).
pub fn enter(ns: &str) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(format!("/run/netns/{ns}"))?;
    // SAFETY: setns on a descriptor we own; it changes only this thread's namespace.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Runs `f` on a thread of its own in namespace `ns` and returns its result.
pub fn in_namespace<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        enter(&ns).unwrap_or_else(|e| panic!("cannot enter {ns}: {e}"));
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

fn rand_suffix() -> String {
    format!("{:08x}", rand::random::<u32>())
}

fn unsafe_is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.links.clear();
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// A topology with its public services running: coturn (UDP 3478, TLS 443, a test CA) on
/// [`TURN_IP`] and the rendezvous on [`RENDEZVOUS_IP`]:443, handing out both relays.
pub struct World {
    // Dropped in this order: services, then the namespaces.
    /// coturn, unless the rendezvous runs its own TURN server.
    pub turn: Option<crate::turn::Coturn>,
    pub rendezvous: crate::Rendezvous,
    pub ca: crate::turn::TestCa,
    pub topo: Topology,
}

pub fn world(helper: Attachment, sharer: Attachment) -> World {
    world_on(Topology::new(helper, sharer))
}

/// Like [`world`], with the sharer's access link shaped as `profile` (see
/// [`Topology::shaped`]).
pub fn world_shaped(helper: Attachment, sharer: Attachment, profile: crate::wan::Profile) -> World {
    world_on(Topology::shaped(helper, sharer, profile))
}

fn world_on(topo: Topology) -> World {
    use crate::turn::{Coturn, TestCa, TURN_SECRET};
    let ca = TestCa::new(&[TURN_IP]);
    let turn = Coturn::start_with(
        TURN_IP,
        3478,
        443,
        &ca,
        Some(&topo.public),
        // Private addresses are nobody's peers on the public side: refuse them at once.
        &[
            "--denied-peer-ip=10.0.0.0-10.255.255.255",
            "--denied-peer-ip=192.168.0.0-192.168.255.255",
        ],
    );
    let rendezvous = crate::Rendezvous::start_in(
        &topo.public,
        &format!("{RENDEZVOUS_IP}:443"),
        &[
            "--stun-url",
            &format!("stun:{TURN_IP}:3478"),
            "--turn-url",
            &format!("turn:{TURN_IP}:3478?transport=udp"),
            "--turn-url",
            &format!("turns:{TURN_IP}:443?transport=tcp"),
            "--turn-secret",
            TURN_SECRET,
        ],
    );
    World {
        turn: Some(turn),
        rendezvous,
        ca,
        topo,
    }
}

/// Like [`world`], but no coturn: the rendezvous is the TURN server too (UDP 3478 and TLS
/// 443 on [`EMBEDDED_TURN_IP`]), as in the one-binary deployment.
pub fn world_with_embedded_turn(helper: Attachment, sharer: Attachment) -> World {
    let topo = Topology::new(helper, sharer);
    let ca = crate::turn::TestCa::new(&[EMBEDDED_TURN_IP]);
    let cert = ca.cert_pem.to_string_lossy().into_owned();
    let key = ca.key_pem.to_string_lossy().into_owned();
    let rendezvous = crate::Rendezvous::start_in(
        &topo.public,
        &format!("{RENDEZVOUS_IP}:443"),
        &[
            "--turn-listen-udp",
            &format!("{EMBEDDED_TURN_IP}:3478"),
            "--turn-listen-tls",
            &format!("{EMBEDDED_TURN_IP}:443"),
            "--turn-tls-cert",
            &cert,
            "--turn-tls-key",
            &key,
        ],
    );
    World {
        turn: None,
        rendezvous,
        ca,
        topo,
    }
}

impl World {
    /// A helper in its namespace, with `extra` arguments.
    pub fn helper(&self, extra: &[&str]) -> crate::Peer {
        let ca = self.ca.ca_path();
        let mut args = vec![
            "assist",
            "--json",
            "--rendezvous",
            &self.rendezvous.url,
            "--dev-identity",
            "Anna Rossi",
            "--turn-ca",
            &ca,
            // The test rendezvous in its namespace speaks plain WebSocket.
            "--insecure-rendezvous",
        ];
        args.extend_from_slice(extra);
        crate::Peer::spawn_in(&self.topo.helper, "helper", &args)
    }

    /// A sharer in its namespace joining with `code`; `extra` before the code.
    pub fn sharer(&self, code: &str, extra: &[&str]) -> crate::Peer {
        let ca = self.ca.ca_path();
        let mut args = vec![
            "share",
            "--json",
            "--rendezvous",
            &self.rendezvous.url,
            "--turn-ca",
            &ca,
            "--insecure-rendezvous",
        ];
        args.extend_from_slice(extra);
        args.push(code);
        crate::Peer::spawn_in(&self.topo.sharer, "sharer", &args)
    }
}
