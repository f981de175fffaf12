//! Sessions across network shapes built from namespaces (see `tandem_tests::netns`): a
//! public segment with the rendezvous and coturn, peers on it directly, behind NATs, or
//! behind a firewall that lets only TCP 443 out. Each asserts the path it expects.
//! Needs root (CI runs as root).

use std::time::Duration;

use serde_json::Value;
use tandem::session::Event;
use tandem_tests::netns::{world, world_with_embedded_turn, Attachment, World};
use tandem_tests::Peer;

const T: Duration = Duration::from_secs(40);

/// A helper and a sharer (showing `sharer_extra`) in their namespaces, the sharer's
/// consent given.
fn start_session(w: &World, sharer_extra: &[&str]) -> (Peer, Peer) {
    let mut helper = w.helper(&[]);
    let code = helper.code(T);
    let mut sharer = w.sharer(&code, sharer_extra);
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    (helper, sharer)
}

/// Runs a session to 60 frames; returns what each side reported as its path.
fn session(w: &World) -> (Value, Value) {
    let (mut helper, mut sharer) = start_session(w, &["--test-pattern", "640x360"]);
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

/// Helper behind a cone NAT whose router drops 5 % of UDP (both ways) for 20 s, sharer on
/// a real (Xvfb) screen: every input event lands once and in order, and once the loss
/// stops the video is fresh again within a second.
#[test]
fn under_5_percent_loss_input_arrives_once_in_order_and_video_recovers() {
    use tandem_tests::xrecord::EventRecorder;
    use tandem_tests::xvfb::Xvfb;

    let w = world(Attachment::ConeNat, Attachment::ConeNat);
    let x = Xvfb::start(&[(800, 600)]);
    let rec = EventRecorder::start(&x.display, 0);
    let (mut helper, mut sharer) = start_session(&w, &["--display", &x.display]);
    helper.wait_for("frame_received", T);
    helper.type_line("/control");
    sharer.wait_for("control_requested", T);
    sharer.type_line("y");
    helper.wait_for("control_granted", T);

    // A moving picture, so that video flows the whole time.
    let painter = tandem_tests::xvfb::Painter::open(&x.display, 0);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let animation = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut shade = 0u8;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                shade = shade.wrapping_add(7);
                let mut picture = vec![shade; 800 * 600 * 4];
                for px in picture.chunks_mut(4).step_by(97) {
                    px[1] = shade.wrapping_mul(3);
                }
                painter.show(&picture);
                std::thread::sleep(Duration::from_millis(33));
            }
        })
    };

    w.topo.set_udp_loss(10, 5);
    let letters: Vec<char> = ('a'..='z').collect();
    let mut expected = Vec::new();
    let started = std::time::Instant::now();
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(20) {
        let c = letters[i % letters.len()];
        helper.type_line(&format!("/key Key{}", c.to_ascii_uppercase()));
        expected.push(c as u32);
        i += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    w.topo.set_udp_loss(10, 0);
    let loss_off = std::time::Instant::now();
    helper.drain();

    // Video: a frame captured after the loss stopped, shown within a second of it.
    let fresh = helper.wait_until(T, |v| {
        v["event"] == "frame_received" && v["latency_ms"].as_f64().is_some_and(|l| l < 150.0)
    });
    assert!(fresh.is_some(), "video never recovered");
    eprintln!(
        "video fresh again {:?} after the loss stopped",
        loss_off.elapsed()
    );

    let typed = rec.pressed_keysyms(expected.len(), T);
    assert_eq!(typed, expected, "keys lost, repeated or reordered");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = animation.join();
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
}

/// A 3-second outage (all UDP dropped at the helper's NAT) does not end the session; an
/// outage that cuts the helper's network off entirely (the rendezvous too) for longer than
/// the reconnection limit ends it cleanly, with the reason, on both sides.
#[test]
fn a_short_outage_is_ridden_out_and_a_long_one_ends_cleanly() {
    let w = world(Attachment::ConeNat, Attachment::ConeNat);
    let (mut helper, mut sharer) = start_session(&w, &["--test-pattern", "640x360"]);
    helper.wait_for("frame_received", T);

    w.topo.set_udp_loss(10, 100);
    std::thread::sleep(Duration::from_secs(3));
    w.topo.set_udp_loss(10, 0);
    let back = std::time::Instant::now();
    helper.drain();
    helper
        .wait_until(T, |v| {
            v["event"] == "frame_received" && v["latency_ms"].as_f64().is_some_and(|l| l < 150.0)
        })
        .unwrap_or_else(|| panic!("no fresh frame after a 3 s outage: {}", helper.history()));
    eprintln!("fresh video {:?} after a 3 s outage ended", back.elapsed());
    assert_eq!(helper.count("ended"), 0);
    assert_eq!(sharer.count("ended"), 0);

    // Past the limit (the tests' peers reconnect for 8 s): both give up.
    w.topo.set_outage(10, true);
    let h = helper.wait_for("ended", T);
    let s = sharer.wait_for("ended", T);
    assert_eq!(h["reason"], "peer_lost", "{h}");
    assert_eq!(s["reason"], "peer_lost", "{s}");
    assert!(
        helper.find("reconnecting").is_some(),
        "{}",
        helper.history()
    );
    assert!(
        sharer.find("reconnecting").is_some(),
        "{}",
        sharer.history()
    );
    assert_eq!(helper.wait_exit(T).code(), Some(3));
    assert_eq!(sharer.wait_exit(T).code(), Some(3));
}

/// The sharer's laptop moves to another network mid-session (its interface loses its
/// address; another comes up behind a different NAT): the same session goes on — no new
/// code, frames and input again, the new path reported on both sides.
#[test]
fn the_session_survives_the_sharer_moving_to_another_network() {
    survives_the_sharers_move(Attachment::ConeNat, "direct");
}

/// The same through relays: both behind symmetric NATs, before and after.
#[test]
fn a_relayed_session_survives_the_sharer_moving_to_another_network() {
    survives_the_sharers_move(Attachment::SymmetricNat, "relayed");
}

fn survives_the_sharers_move(nat: Attachment, kind: &str) {
    use tandem_tests::xrecord::{EventRecorder, Recorded};
    use tandem_tests::xvfb::Xvfb;

    let mut w = world(nat, nat);
    let x = Xvfb::start(&[(800, 600)]);
    let rec = EventRecorder::start(&x.display, 0);
    let limit = ["--reconnect-limit", "40"];
    let mut helper = w.helper(&limit);
    let code = helper.code(T);
    let mut sharer = w.sharer(
        &code,
        &[&["--display", &x.display][..], &limit[..]].concat(),
    );
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    let before = sharer.wait_for("connected", T)["path"].clone();
    helper.wait_for("frame_received", T);
    helper.take_control(&mut sharer, T);
    let typed = |helper: &mut tandem_tests::Peer,
                 sharer: &mut tandem_tests::Peer,
                 key: &str,
                 keysym: u32| {
        rec.clear();
        helper.type_line(&format!("/key {key}"));
        let deadline = std::time::Instant::now() + T;
        while !rec
            .events()
            .iter()
            .any(|e| matches!(e, Recorded::Key { keysym: k, down: true, .. } if *k == keysym))
        {
            if std::time::Instant::now() > deadline {
                helper.drain();
                sharer.drain();
                panic!(
                    "{key} did not land: {:?}\nhelper: {}\nsharer: {}",
                    rec.events(),
                    helper.history(),
                    sharer.history()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    typed(&mut helper, &mut sharer, "KeyA", 'a' as u32);

    w.topo.move_to_another_network(20, nat);
    let moved = std::time::Instant::now();
    helper.wait_event(T, |e| matches!(e, Event::Reconnecting));
    sharer.wait_event(T, |e| matches!(e, Event::Reconnecting));
    let changed = |peer: &mut tandem_tests::Peer| match peer
        .wait_event(T, |e| matches!(e, Event::PathChanged { .. }))
    {
        Event::PathChanged { path } => path,
        other => unreachable!("{other:?}"),
    };
    let after = changed(&mut sharer);
    let helper_after = changed(&mut helper);
    eprintln!("path before: {before}\nsharer's path after: {after:?}\nhelper's: {helper_after:?}");
    // The sharer now sends from its new network (or its relay there).
    assert!(
        after.local.starts_with("10.21.0.2:") || after.local_type == "relay",
        "{after:?}"
    );
    assert_ne!(before["local"], after.local.as_str());
    assert_eq!(after.kind, kind, "{after:?}");
    assert_eq!(helper_after.kind, kind, "{helper_after:?}");
    // Frames again: one captured after the move arrives.
    helper.drain();
    helper.wait_for("frame_received", T);
    eprintln!("frames again {:?} after the move", moved.elapsed());
    // Input again, with control still granted: the same session.
    typed(&mut helper, &mut sharer, "KeyB", 'b' as u32);
    assert_eq!(
        helper.count("code_issued"),
        1,
        "no new code after the first"
    );
    assert_eq!(helper.count("ended"), 0);
    assert_eq!(sharer.count("ended"), 0);
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());
}

/// UDP between the two NATs is blocked at first, so the session starts through the relay;
/// once it is unblocked the session moves to a direct path on its own and goes on.
#[test]
fn a_relayed_session_moves_to_a_direct_path_when_one_opens() {
    let w = world(Attachment::ConeNat, Attachment::ConeNat);
    // The sharer's NAT is 203.0.113.20; TURN (203.0.113.1) stays reachable.
    w.topo.block_udp_with(10, "203.0.113.20", true);
    let (mut helper, mut sharer) = start_session(&w, &["--test-pattern", "640x360"]);
    let first = helper.wait_for("connected", T);
    assert_eq!(first["path"]["kind"], "relayed", "{first}");
    for _ in 0..30 {
        helper.wait_for("frame_received", T);
    }
    w.topo.block_udp_with(10, "203.0.113.20", false);
    let unblocked = std::time::Instant::now();
    let moved = helper.wait_for("path_changed", Duration::from_secs(45));
    eprintln!("moved {:?} after unblocking: {moved}", unblocked.elapsed());
    assert_eq!(moved["path"]["kind"], "direct", "{moved}");
    let sharer_moved = sharer.wait_for("path_changed", T);
    assert_eq!(sharer_moved["path"]["kind"], "direct", "{sharer_moved}");
    // The same session goes on: more frames, no new connection, no end.
    helper.drain();
    for _ in 0..60 {
        helper.wait_for("frame_received", T);
    }
    assert_eq!(helper.count("connected"), 1);
    assert_eq!(helper.count("ended"), 0);
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());
}

/// The same firewall, with no coturn at all: the rendezvous's embedded TURN server relays
/// over TLS on 443 (the one-binary deployment).
#[test]
fn the_embedded_turn_server_relays_a_firewalled_sharer_over_tls_443() {
    let w = world_with_embedded_turn(Attachment::ConeNat, Attachment::Tcp443Firewall);
    let (h, s) = session(&w);
    assert_eq!(s["kind"], "relayed", "{s}");
    assert_eq!(s["local_type"], "relay", "{s}");
    assert_eq!(s["transport"], "tls", "{s}");
    assert!(
        s["local"]
            .as_str()
            .unwrap_or_default()
            .starts_with("203.0.113.3:"),
        "relayed by the embedded server: {s}"
    );
    assert_eq!(h["kind"], "relayed", "{h}");
}
