//! Sessions across network shapes built from namespaces (see `tandem_tests::netns`): a
//! public segment with the rendezvous and coturn, peers on it directly, behind NATs, or
//! behind a firewall that lets only TCP 443 out. Each asserts the path it expects.
//! Needs root (CI runs as root).

use std::time::Duration;

use serde_json::Value;
use tandem_tests::netns::{Attachment, Topology, RENDEZVOUS_IP, TURN_IP};
use tandem_tests::turn::{Coturn, TestCa, TURN_SECRET};
use tandem_tests::{Peer, Rendezvous};

const T: Duration = Duration::from_secs(40);

struct World {
    // Drop order: peers first (declared by the caller after), then services, then namespaces.
    _turn: Coturn,
    rendezvous: Rendezvous,
    ca: TestCa,
    topo: Topology,
}

fn world(helper: Attachment, sharer: Attachment) -> World {
    let topo = Topology::new(helper, sharer);
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
    let rendezvous = Rendezvous::start_in(
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
        _turn: turn,
        rendezvous,
        ca,
        topo,
    }
}

/// Runs a session to 60 frames; returns what each side reported as its path.
fn session(w: &World) -> (Value, Value) {
    let ca = w.ca.ca_path();
    let url = w.rendezvous.url.clone();
    let mut helper = Peer::spawn_in(
        &w.topo.helper,
        "helper",
        &[
            "assist",
            "--json",
            "--rendezvous",
            &url,
            "--dev-identity",
            "Anna Rossi",
            "--turn-ca",
            &ca,
        ],
    );
    let code = helper.wait_for("code_issued", T)["code"]
        .as_str()
        .expect("code")
        .to_string();
    let mut sharer = Peer::spawn_in(
        &w.topo.sharer,
        "sharer",
        &[
            "share",
            "--json",
            "--rendezvous",
            &url,
            "--test-pattern",
            "640x360",
            "--turn-ca",
            &ca,
            &code,
        ],
    );
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    let helper_path = helper.wait_for("connected", T)["path"].clone();
    let sharer_path = sharer.wait_for("connected", T)["path"].clone();
    for _ in 0..60 {
        helper.wait_for("frame_received", T);
    }
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());
    eprintln!("helper path: {helper_path}\nsharer path: {sharer_path}");
    (helper_path, sharer_path)
}

#[test]
fn same_segment_is_direct_between_host_candidates() {
    let w = world(Attachment::Public, Attachment::Public);
    let (h, s) = session(&w);
    for p in [&h, &s] {
        assert_eq!(p["kind"], "direct", "{p}");
        assert_eq!(p["local_type"], "host", "{p}");
    }
}

#[test]
fn both_behind_cone_nats_is_direct_through_the_nat_mappings() {
    let w = world(Attachment::ConeNat, Attachment::ConeNat);
    let (h, s) = session(&w);
    for p in [&h, &s] {
        assert_eq!(p["kind"], "direct", "{p}");
        assert_eq!(p["transport"], "udp", "{p}");
        // The peer is reached at its NAT's public address, learnt by STUN or by ICE itself.
        let remote = p["remote_type"].as_str().unwrap_or_default();
        assert!(matches!(remote, "srflx" | "prflx"), "{p}");
    }
}

#[test]
fn symmetric_nats_on_both_sides_go_through_the_relay() {
    let w = world(Attachment::SymmetricNat, Attachment::SymmetricNat);
    let (h, s) = session(&w);
    for p in [&h, &s] {
        assert_eq!(p["kind"], "relayed", "{p}");
    }
}

#[test]
fn a_sharer_behind_a_tcp_443_only_firewall_is_relayed_over_tls() {
    let w = world(Attachment::ConeNat, Attachment::Tcp443Firewall);
    let (h, s) = session(&w);
    assert_eq!(s["kind"], "relayed", "{s}");
    assert_eq!(s["local_type"], "relay", "{s}");
    assert_eq!(s["transport"], "tls", "{s}");
    assert_eq!(h["kind"], "relayed", "{h}");
}
