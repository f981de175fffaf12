//! Sessions through a real coturn on loopback: relay-only peers (no host candidates), over
//! TURN/UDP and TURN/TLS, with credentials the rendezvous issues (TURN REST API).

use std::time::Duration;

use tandem_tests::turn::{free_port, Coturn, TestCa, TURN_SECRET};
use tandem_tests::{Peer, Rendezvous};

const T: Duration = Duration::from_secs(30);

fn relayed_session(turn_url: &str, ca: &TestCa, expect_transport: &str) {
    let rv = Rendezvous::start(&["--turn-url", turn_url, "--turn-secret", TURN_SECRET]);
    relayed_session_via(&rv, ca, expect_transport);
}

/// Relay-only peers through whatever TURN servers `rv` hands out; the first relay
/// candidate pair they use must go over `expect_transport`.
fn relayed_session_via(rv: &Rendezvous, ca: &TestCa, expect_transport: &str) {
    let ca_path = ca.ca_path();
    let extra = ["--relay-only", "--turn-ca", &ca_path];
    let mut helper = Peer::assist(&rv.url, "Anna Rossi", &extra);
    let code = helper.code(T);
    let mut sharer = Peer::share(&rv.url, &code, &extra);
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    for peer in [&mut helper, &mut sharer] {
        let connected = peer.wait_for("connected", T);
        assert_eq!(connected["path"]["kind"], "relayed", "{connected}");
        assert_eq!(connected["path"]["local_type"], "relay", "{connected}");
        assert_eq!(
            connected["path"]["transport"], expect_transport,
            "{connected}"
        );
    }
    let mut frames = 0;
    while frames < 60 {
        helper.wait_for("frame_received", T);
        frames += 1;
    }
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());
}

#[test]
fn relay_only_sessions_go_through_coturn_over_udp_tcp_and_tls() {
    let ca = TestCa::new(&["127.0.0.1"]);
    let turn = Coturn::start(
        "127.0.0.1",
        free_port("127.0.0.1"),
        free_port("127.0.0.1"),
        &ca,
        None,
    );
    relayed_session(&turn.tls_url(), &ca, "tls");
    relayed_session(&turn.udp_url(), &ca, "udp");
    // coturn takes plain TCP on its UDP port number too.
    let tcp_url = format!("turn:{}:{}?transport=tcp", turn.ip, turn.udp_port);
    relayed_session(&tcp_url, &ca, "tcp");
}

#[test]
fn relay_only_sessions_go_through_the_rendezvous_own_turn_server() {
    let ca = TestCa::new(&["127.0.0.1"]);
    let cert = ca.cert_pem.to_string_lossy().into_owned();
    let key = ca.key_pem.to_string_lossy().into_owned();
    let tls_only = Rendezvous::start(&[
        "--turn-listen-tls",
        "127.0.0.1:0",
        "--turn-tls-cert",
        &cert,
        "--turn-tls-key",
        &key,
    ]);
    relayed_session_via(&tls_only, &ca, "tls");
    let udp_only = Rendezvous::start(&["--turn-listen-udp", "127.0.0.1:0"]);
    relayed_session_via(&udp_only, &ca, "udp");
}
