//! The rendezvous over real sockets, in process: protocol, refusals, limits, TLS, metrics.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tandem_rendezvous::client::tls_config;
use tandem_rendezvous::rate_limit::Limit;
use tandem_rendezvous::wire::{ErrorCode, HelperIdentity};
use tandem_rendezvous::{
    AppState, ClientError, MailboxClient, MemoryStore, PeerEvent, ServerConfig,
};
use tokio::net::TcpListener;

fn dev() -> HelperIdentity {
    HelperIdentity::Dev {
        name: "Anna Rossi".into(),
    }
}

fn permissive() -> ServerConfig {
    ServerConfig {
        allow_dev_identity: true,
        allocate_limit: Limit {
            per_minute: 1000,
            burst: 1000,
        },
        join_limit: Limit {
            per_minute: 1000,
            burst: 1000,
        },
        ..ServerConfig::default()
    }
}

async fn start(config: ServerConfig) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}", listener.local_addr().expect("addr"));
    let state = AppState::new(config, Arc::new(MemoryStore::new()));
    tokio::spawn(tandem_rendezvous::serve(
        listener,
        state,
        std::future::pending(),
    ));
    url
}

fn refused(e: ClientError) -> ErrorCode {
    match e {
        ClientError::Refused { code, .. } => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn pairs_and_forwards_opaque_messages_both_ways() {
    let url = start(permissive()).await;
    let mut helper = MailboxClient::connect(&url, None).await.expect("connect");
    let alloc = helper.allocate(dev()).await.expect("allocate");
    assert_eq!(alloc.nameplate.len(), 4);
    assert_eq!(alloc.expires_in_secs, 600);

    let mut sharer = MailboxClient::connect(&url, None).await.expect("connect");
    // Nameplates are entered the way people type them.
    let joined = sharer
        .join(&alloc.nameplate.to_lowercase())
        .await
        .expect("join");
    // Who the helper is comes only through the helper, signed: the join says nothing.
    let introduction = alloc
        .introduction
        .verify(
            &joined.introducer_keys,
            &alloc.nameplate,
            joined.server_time,
        )
        .expect("the helper's introduction is signed by this rendezvous");
    assert_eq!(introduction.helper_name, "Anna R.");
    assert_eq!(
        introduction.affiliation, None,
        "a dev identity is not verified"
    );
    assert!(introduction.ice_servers.is_empty(), "none configured");
    assert_eq!(helper.recv().await.expect("event"), PeerEvent::PeerJoined);

    helper.send(b"\x00\x01binary\xff").await.expect("send");
    assert_eq!(
        sharer.recv().await.expect("event"),
        PeerEvent::Message(b"\x00\x01binary\xff".to_vec())
    );
    sharer.send(b"reply").await.expect("send");
    assert_eq!(
        helper.recv().await.expect("event"),
        PeerEvent::Message(b"reply".to_vec())
    );

    sharer.close().await;
    assert_eq!(helper.recv().await.expect("event"), PeerEvent::PeerLeft);
}

#[tokio::test]
async fn dev_identity_is_refused_unless_enabled() {
    let url = start(ServerConfig::default()).await;
    let mut helper = MailboxClient::connect(&url, None).await.expect("connect");
    let err = helper.allocate(dev()).await.expect_err("refused");
    assert_eq!(refused(err), ErrorCode::IdentityRefused);
}

#[tokio::test]
async fn pairing_failure_burns_and_tells_the_other_side() {
    let url = start(permissive()).await;
    let mut helper = MailboxClient::connect(&url, None).await.expect("connect");
    let np = helper.allocate(dev()).await.expect("allocate").nameplate;
    let mut sharer = MailboxClient::connect(&url, None).await.expect("connect");
    sharer.join(&np).await.expect("join");
    assert_eq!(helper.recv().await.expect("event"), PeerEvent::PeerJoined);
    sharer.report_pairing_failed().await.expect("report");
    assert_eq!(
        helper.recv().await.expect("event"),
        PeerEvent::PairingFailed
    );
    let mut again = MailboxClient::connect(&url, None).await.expect("connect");
    assert_eq!(
        refused(again.join(&np).await.expect_err("refused")),
        ErrorCode::UsedNameplate
    );
}

#[tokio::test]
async fn join_and_allocate_are_rate_limited_per_ip() {
    let url = start(ServerConfig {
        allow_dev_identity: true,
        allocate_limit: Limit {
            per_minute: 1,
            burst: 2,
        },
        join_limit: Limit {
            per_minute: 1,
            burst: 3,
        },
        ..ServerConfig::default()
    })
    .await;
    for i in 0..3 {
        let mut c = MailboxClient::connect(&url, None).await.expect("connect");
        let r = c.join("ZZZZ").await;
        assert_eq!(
            refused(r.expect_err("no such nameplate")),
            ErrorCode::UnknownNameplate,
            "try {i}"
        );
    }
    let mut c = MailboxClient::connect(&url, None).await.expect("connect");
    assert_eq!(
        refused(c.join("ZZZZ").await.expect_err("limited")),
        ErrorCode::RateLimited
    );

    let mut keep = Vec::new();
    for _ in 0..2 {
        let mut c = MailboxClient::connect(&url, None).await.expect("connect");
        c.allocate(dev()).await.expect("within burst");
        keep.push(c);
    }
    let mut c = MailboxClient::connect(&url, None).await.expect("connect");
    assert_eq!(
        refused(c.allocate(dev()).await.expect_err("limited")),
        ErrorCode::RateLimited
    );
}

#[tokio::test]
async fn malformed_input_gets_a_clear_error_and_never_kills_the_server() {
    let url = start(permissive()).await;
    let mailbox = format!("{url}/v1/mailbox");
    for bad in [
        "not json",
        "{\"type\":\"join\"}",
        "{\"type\":\"send\",\"body\":\"AAAA\"}",
        "{\"type\":\"join\",\"nameplate\":\"AB!D\"}",
        "{\"type\":\"allocate\",\"identity\":{\"kind\":\"dev\",\"name\":\"  \"}}",
    ] {
        let (mut ws, _) = tokio_tungstenite::connect_async(mailbox.as_str())
            .await
            .expect("connect");
        ws.send(tokio_tungstenite::tungstenite::Message::Text(bad.into()))
            .await
            .expect("send");
        let reply = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("an answer, not silence")
            .expect("a frame")
            .expect("ok frame");
        let text = reply.into_text().expect("text");
        assert!(text.contains("\"type\":\"error\""), "{bad} → {text}");
        assert!(
            text.contains("bad_request") || text.contains("identity_refused"),
            "{bad} → {text}"
        );
    }
    // Still serving.
    let mut helper = MailboxClient::connect(&url, None).await.expect("connect");
    helper
        .allocate(dev())
        .await
        .expect("allocate after garbage");
}

#[tokio::test]
async fn health_and_metrics() {
    let url = start(permissive()).await;
    let mut helper = MailboxClient::connect(&url, None).await.expect("connect");
    let _np = helper.allocate(dev()).await.expect("allocate");
    let http = url.replace("ws://", "");
    let get = |path: &'static str| {
        let http = http.clone();
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(&http).await.expect("tcp");
            s.write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .expect("write");
            let mut out = String::new();
            s.read_to_string(&mut out).await.expect("read");
            out
        }
    };
    assert!(get("/healthz").await.ends_with("ok"));
    let metrics = get("/metrics").await;
    assert!(
        metrics.contains("tandem_rendezvous_allocations_total{result=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tandem_rendezvous_active_mailboxes 1"),
        "{metrics}"
    );
    // One allocation observed by the latency histogram.
    assert!(
        metrics.contains("tandem_rendezvous_allocate_seconds_count 1"),
        "{metrics}"
    );
    assert!(
        get("/readyz").await.ends_with("ready"),
        "the in-memory store is always ready"
    );
}

#[tokio::test]
async fn tls_with_a_private_ca() {
    // A self-signed certificate for 127.0.0.1, trusted by the client as an extra CA.
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("cert");
    let dir = std::env::temp_dir().join(format!("tandem-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, certified.cert.pem()).expect("write");

    let key = rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der())
        .expect("key");
    let server_tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .expect("server config");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let state = AppState::new(permissive(), Arc::new(MemoryStore::new()));
    tokio::spawn(tandem_rendezvous::serve_tls(
        listener,
        state,
        axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(server_tls)),
        std::future::pending::<()>(),
    ));
    let url = format!("wss://127.0.0.1:{port}");

    // Without the CA: refused by the client's certificate check.
    assert!(matches!(
        MailboxClient::connect(&url, None).await.err(),
        Some(ClientError::Connect { .. })
    ));
    let tls = tls_config(Some(&ca)).expect("tls config");
    let mut helper = MailboxClient::connect(&url, Some(tls))
        .await
        .expect("connect over TLS");
    helper.allocate(dev()).await.expect("allocate over TLS");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A session's two sides meet again in their room after a network change: whoever comes
/// second finds the first there, the first hears it arrive, messages pass both ways; a
/// side cannot come twice, a malformed room is refused, and a stranger in another room
/// hears nothing.
#[tokio::test]
async fn the_two_sides_of_a_session_meet_again_in_their_room() {
    use tandem_rendezvous::wire::RoomSide;
    let url = start(permissive()).await;
    let room = "00112233445566778899aabbccddeeff";
    let mut sharer = MailboxClient::connect(&url, None).await.expect("connect");
    assert!(!sharer.resume(room, RoomSide::Sharer).await.expect("resume"));
    let mut again = MailboxClient::connect(&url, None).await.expect("connect");
    assert_eq!(
        refused(
            again
                .resume(room, RoomSide::Sharer)
                .await
                .expect_err("twice")
        ),
        ErrorCode::UsedNameplate
    );
    let mut malformed = MailboxClient::connect(&url, None).await.expect("connect");
    assert_eq!(
        refused(
            malformed
                .resume("../../etc", RoomSide::Helper)
                .await
                .expect_err("malformed")
        ),
        ErrorCode::BadRequest
    );
    let mut stranger = MailboxClient::connect(&url, None).await.expect("connect");
    assert!(!stranger
        .resume("ffeeddccbbaa99887766554433221100", RoomSide::Helper)
        .await
        .expect("another room"));

    let mut helper = MailboxClient::connect(&url, None).await.expect("connect");
    assert!(helper.resume(room, RoomSide::Helper).await.expect("resume"));
    assert!(matches!(
        sharer.recv().await.expect("joined"),
        PeerEvent::PeerJoined
    ));
    helper.send(b"offer").await.expect("send");
    sharer.send(b"answer").await.expect("send");
    assert!(matches!(sharer.recv().await.expect("msg"), PeerEvent::Message(m) if m == b"offer"));
    assert!(matches!(helper.recv().await.expect("msg"), PeerEvent::Message(m) if m == b"answer"));
    helper.close().await;
    assert!(matches!(
        sharer.recv().await.expect("left"),
        PeerEvent::PeerLeft
    ));
    assert!(
        tokio::time::timeout(Duration::from_millis(200), stranger.recv())
            .await
            .is_err(),
        "the other room heard something"
    );
}

/// A side that says its last word and vanishes at once (its connection reset, as when an
/// app closes with messages still unread) must still be heard: the decline of a sharer who
/// pressed Cancel was lost when the rendezvous happened to be writing to it at that moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_last_word_before_a_reset_reaches_the_other_side() {
    let url = start(ServerConfig {
        account_allocate_limit: Limit {
            per_minute: 1000,
            burst: 1000,
        },
        ..permissive()
    })
    .await;
    for round in 0..30 {
        let mut helper = MailboxClient::connect(&url, None).await.expect("connect");
        let np = helper.allocate(dev()).await.expect("allocate").nameplate;
        let mut sharer = MailboxClient::connect(&url, None).await.expect("connect");
        sharer.join(&np).await.expect("join");
        assert_eq!(helper.recv().await.expect("event"), PeerEvent::PeerJoined);
        // The helper keeps talking (its candidates); the sharer reads none of it.
        for _ in 0..20 {
            helper.send(b"candidate").await.expect("send");
        }
        sharer.send(b"declined").await.expect("send");
        drop(sharer);
        for _ in 0..20 {
            // The mailbox may already be closed towards a vanished sharer.
            let _ = helper.send(b"candidate").await;
        }
        let heard = tokio::time::timeout(Duration::from_secs(10), helper.recv())
            .await
            .expect("an answer, not silence");
        assert_eq!(
            heard.expect("event"),
            PeerEvent::Message(b"declined".to_vec()),
            "round {round}: the last word was lost"
        );
    }
}
