//! The holes a hostile review found (issue 16), each closed and shown closed through the
//! real binaries on loopback: a slow-client flood, a stalled mailbox reader, a stranger
//! joining a live code, the embedded TURN relaying to this machine, and escape sequences
//! sent to the sharer's terminal.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tandem_rendezvous::wire::{ClientMessage, ServerMessage};
use tandem_rendezvous::PeerEvent;
use tandem_tests::{bin, helper_with_code, Peer, Rendezvous};

const T: Duration = Duration::from_secs(20);

/// A TCP connection from `source` (another loopback address: another client network).
fn connect_from(source: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::V4(SocketAddrV4::new(source, 0)).into())?;
    socket.connect_timeout(&to.into(), Duration::from_secs(5))?;
    Ok(socket.into())
}

fn addr_of(url: &str) -> SocketAddr {
    url.trim_start_matches("ws://")
        .parse()
        .expect("ws://IP:PORT")
}

/// `GET /healthz` on a fresh connection: the service still answers.
fn healthz(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok")
}

/// True once the server has closed `s` (a read returns end of file or a reset).
fn closed_by_server(s: &mut TcpStream) -> bool {
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let mut byte = [0u8; 64];
    match s.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// Item 3: 300 half-sent requests (and idle connections) from one client network against a
/// rendezvous limited to 256 open files, as the review ran it: `/healthz` keeps answering,
/// a real pairing from another address succeeds, and the slow connections are closed.
#[test]
fn a_slowloris_client_does_not_take_the_rendezvous_down() {
    let rv = Rendezvous::start_with_file_limit(
        256,
        &["--max-connections", "200", "--header-timeout-secs", "2"],
    );
    let addr = addr_of(&rv.url);
    let attacker = Ipv4Addr::new(127, 0, 0, 2);
    let mut slow: Vec<TcpStream> = Vec::new();
    for i in 0..300 {
        let Ok(mut s) = connect_from(attacker, addr) else {
            continue;
        };
        // Two thirds send half a request, the rest nothing at all.
        if i % 3 != 0 {
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        }
        slow.push(s);
    }
    assert!(healthz(addr), "/healthz during the flood");

    // A real pairing, from 127.0.0.1, while the slow connections are held.
    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = Peer::share(&rv.url, &code, &[]);
    sharer.wait_for("consent_requested", T);
    sharer.type_line("y");
    helper.wait_for("frame_received", T);
    helper.type_line("/end");
    assert!(helper.wait_exit(T).success());
    assert!(sharer.wait_exit(T).success());

    // Every slow connection is closed by the server: refused at once past the network's
    // cap, or after the header timeout (a hang guard, not a measure).
    let deadline = Instant::now() + T;
    let mut open: Vec<&mut TcpStream> = slow.iter_mut().collect();
    while !open.is_empty() && Instant::now() < deadline {
        open.retain_mut(|s| !closed_by_server(s));
    }
    assert_eq!(open.len(), 0, "slow connections still open");
    assert!(healthz(addr), "/healthz after the flood");
    let metrics = http_get(addr, "/metrics");
    assert!(
        metrics.contains("tandem_rendezvous_connections_refused_total{result=\"per_network\"}"),
        "the cap was what refused them: {metrics}"
    );
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
}

/// Item 3, the TURN-over-TLS listener: idle TCP connections that never start TLS, and TLS
/// connections that never allocate, are closed; past the network's cap they are refused.
#[test]
fn idle_and_unauthenticated_turn_tls_connections_are_closed() {
    let ca = tandem_tests::turn::TestCa::new(&["127.0.0.1"]);
    let port = tandem_tests::turn::free_port("127.0.0.1");
    let listen = format!("127.0.0.1:{port}");
    let cert = ca.cert_pem.to_string_lossy().into_owned();
    let key = ca.key_pem.to_string_lossy().into_owned();
    let _rv = Rendezvous::start(&[
        "--turn-listen-tls",
        &listen,
        "--turn-tls-cert",
        &cert,
        "--turn-tls-key",
        &key,
        "--header-timeout-secs",
        "2",
        "--max-connections-per-network",
        "20",
    ]);
    let to: SocketAddr = listen.parse().expect("addr");
    let attacker = Ipv4Addr::new(127, 0, 0, 3);
    let mut idle: Vec<TcpStream> = (0..60)
        .filter_map(|_| connect_from(attacker, to).ok())
        .collect();
    // TLS done, then silence: never an allocation.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let tls = tandem_rendezvous::client::tls_config(Some(&ca.ca_pem)).expect("tls");
    let silent = runtime.block_on(async {
        let tcp = tokio::net::TcpStream::connect(to).await.expect("connect");
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
        tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .expect("handshake")
    });
    let deadline = Instant::now() + T;
    let mut open: Vec<&mut TcpStream> = idle.iter_mut().collect();
    while !open.is_empty() && Instant::now() < deadline {
        open.retain_mut(|s| !closed_by_server(s));
    }
    assert_eq!(open.len(), 0, "idle TURN connections still open");
    let closed = runtime.block_on(async {
        use tokio::io::AsyncReadExt;
        let mut silent = silent;
        let mut buf = [0u8; 16];
        tokio::time::timeout(T * 2, silent.read(&mut buf)).await
    });
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "a TLS client that never allocated is dropped: {closed:?}"
    );
}

/// Item 4 with the memory store: a helper that stops reading while the sharer sends 64 KiB
/// messages. The server keeps a bounded queue for it, then closes the mailbox, and the
/// sharer hears why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_mailbox_reader_closes_the_mailbox_with_a_clear_error() {
    let rv = Rendezvous::start(&[]);
    tandem_tests::mailbox::stalled_reader_is_refused(&rv.url, &rv.url).await;
}

/// Item 5: a stranger who joins a live nameplate without the secret learns neither the
/// helper's name nor any TURN credential (they come later, signed, through the helper),
/// and joins are limited per client: behind a trusted proxy by the address it forwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_with_a_nameplate_learns_nothing_and_is_rate_limited() {
    let rv = Rendezvous::start(&[
        "--stun-url",
        "stun:203.0.113.1:3478",
        "--turn-url",
        "turn:203.0.113.1:3478?transport=udp",
        "--turn-secret",
        "s3cret",
        "--join-per-minute",
        "1",
        "--join-burst",
        "3",
        "--trusted-proxy",
        "127.0.0.1/32",
    ]);
    let (mut helper, allocation) = tandem_tests::mailbox::dev_helper(&rv.url, "Anna Rossi").await;
    // The raw answer to a join: no name, no relay credentials.
    let joined = raw_join(&rv.url, &allocation.nameplate, None).await;
    assert!(!joined.contains("Anna"), "{joined}");
    assert!(!joined.contains("turn:"), "{joined}");
    assert!(!joined.contains("credential"), "{joined}");
    assert!(joined.contains("\"introducer_keys\""), "{joined}");
    assert_eq!(helper.recv().await.expect("joined"), PeerEvent::PeerJoined);

    // Joins per client: the forwarded address counts, from the trusted proxy.
    let limited = |answer: &str| answer.contains("rate_limited");
    for _ in 0..3 {
        assert!(!limited(
            &raw_join(&rv.url, "ZZZZ", Some("198.51.100.7")).await
        ));
    }
    assert!(limited(
        &raw_join(&rv.url, "ZZZZ", Some("198.51.100.7")).await
    ));
    assert!(
        !limited(&raw_join(&rv.url, "ZZZZ", Some("198.51.100.8")).await),
        "another client behind the same proxy has its own budget"
    );
}

/// Item 5: the forwarding header of an untrusted client is ignored — it cannot pose as
/// many clients to dodge the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_forwarding_header_does_not_dodge_the_limit() {
    let rv = Rendezvous::start(&["--join-per-minute", "1", "--join-burst", "2"]);
    for i in 0..2 {
        let answer = raw_join(&rv.url, "ZZZZ", Some(&format!("198.51.100.{i}"))).await;
        assert!(!answer.contains("rate_limited"), "{answer}");
    }
    let answer = raw_join(&rv.url, "ZZZZ", Some("198.51.100.99")).await;
    assert!(answer.contains("rate_limited"), "{answer}");
}

/// Sends a join on a WebSocket of its own (with `X-Forwarded-For` when given) and returns
/// the server's first answer as it came.
async fn raw_join(url: &str, nameplate: &str, forwarded_for: Option<&str>) -> String {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let mut request = format!("{url}/v1/mailbox")
        .into_client_request()
        .expect("request");
    if let Some(ip) = forwarded_for {
        request
            .headers_mut()
            .insert("x-forwarded-for", ip.parse().expect("header"));
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    let join = ClientMessage::Join {
        nameplate: nameplate.into(),
    };
    ws.send(Message::Text(
        serde_json::to_string(&join).expect("json").into(),
    ))
    .await
    .expect("send");
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let answer = text.to_string();
                // Parses as a real message, whatever it says.
                let _: ServerMessage = serde_json::from_str(&answer).expect("a server message");
                return answer;
            }
            Some(Ok(_)) => continue,
            other => panic!("no answer: {other:?}"),
        }
    }
}

/// Item 6: with the credentials a helper gets, the embedded TURN server relays to a public
/// peer but not to this machine: a permission for a loopback service is refused, and
/// nothing reaches it. The same client against a server told to allow loopback (a test
/// network) does reach it, so the test would see a relay that leaks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_turn_server_does_not_relay_to_this_machine() {
    let open = Rendezvous::start(&[
        "--turn-listen-udp",
        "127.0.0.1:0",
        "--turn-allow-peer",
        "127.0.0.0/8",
    ]);
    assert!(
        relays_to_loopback(&open.url).await,
        "an allowed test network is reached"
    );
    let guarded = Rendezvous::start(&["--turn-listen-udp", "127.0.0.1:0"]);
    assert!(
        !relays_to_loopback(&guarded.url).await,
        "the relay reached a loopback service"
    );
}

/// Allocates with a helper's credentials and tries to reach a UDP service on 127.0.0.1
/// through the relay; true when the service heard from it.
async fn relays_to_loopback(rendezvous: &str) -> bool {
    use tandem::net::ice_servers::{parse_servers, ServerUrl, TurnTransport};
    use tandem::net::path_socket::SelectedPair;
    use tandem::net::transport::{Inbound, RelayCommand};
    let (_mailbox, allocation) = tandem_tests::mailbox::dev_helper(rendezvous, "Mallory M").await;
    let url = parse_servers(&allocation.ice_servers)
        .into_iter()
        .find(|s| {
            matches!(
                s,
                ServerUrl::Turn {
                    transport: TurnTransport::Udp,
                    ..
                }
            )
        })
        .expect("a TURN URL with credentials");
    let service = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let target = service.local_addr().expect("addr");
    let (stun, _stun_rx) = tokio::sync::mpsc::channel(64);
    let (data, _data_rx) = tokio::sync::mpsc::channel(64);
    let inbound = Inbound {
        stun,
        data,
        selected: SelectedPair::default(),
    };
    let relay = tandem::net::relay::allocate(&url, None, inbound, Duration::from_secs(5))
        .await
        .expect("allocation");
    let _ = relay.commands.send(RelayCommand::Permit(target));
    // Sent again and again for a while: a permission takes a round trip.
    let heard = tokio::time::timeout(Duration::from_secs(3), async {
        let mut buf = [0u8; 64];
        loop {
            let _ = relay.commands.send(RelayCommand::Send {
                peer: target,
                data: b"through the relay".to_vec(),
            });
            if let Ok(Ok((n, _))) =
                tokio::time::timeout(Duration::from_millis(100), service.recv_from(&mut buf)).await
            {
                return n > 0;
            }
        }
    })
    .await;
    matches!(heard, Ok(true))
}

/// Item 7: a helper's chat with escape sequences (set the terminal's title, clear the
/// screen, fake a status line) is printed on the sharer's terminal as text, not obeyed.
#[test]
fn escape_sequences_from_the_helper_are_printed_not_obeyed() {
    let rv = Rendezvous::start(&[]);
    let (mut helper, code) = helper_with_code(&rv.url);
    let mut sharer = Command::new(bin("tandem"))
        .args([
            "share",
            "--rendezvous",
            &rv.url,
            "--test-pattern",
            "640x360",
            &code,
        ])
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sharer");
    let mut stdin = sharer.stdin.take().expect("stdin");
    let mut stdout = sharer.stdout.take().expect("stdout");
    // What the sharer's terminal shows, as it comes (read in a thread: a hang guard).
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut chunk) {
            if n == 0 || tx.send(chunk[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    let mut read_until = |what: &str| {
        let deadline = Instant::now() + T;
        while !String::from_utf8_lossy(&printed).contains(what) {
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {what:?} on the sharer's terminal"));
            printed.extend_from_slice(&chunk);
        }
    };
    read_until("Allow? [y/N]");
    writeln!(stdin, "y").expect("allow");
    helper.wait_for("consent_given", T);
    helper.wait_for("frame_received", T);
    helper.type_line("\u{1b}]0;pwned\u{7}Hello\u{1b}[2J\rSession ended: call +1 555 0100");
    read_until("0100\n");
    helper.type_line("/end");
    helper.wait_exit(T);
    let _ = sharer.kill();
    let _ = sharer.wait();
    let text = String::from_utf8_lossy(&printed);
    assert!(
        !printed.contains(&0x1b),
        "an escape reached the terminal: {text:?}"
    );
    assert!(
        !printed.contains(&0x07),
        "a bell reached the terminal: {text:?}"
    );
    assert!(
        !printed.contains(&b'\r'),
        "a carriage return reached the terminal"
    );
    assert!(
        text.contains("Helper: \\u{1b}]0;pwned\\u{7}Hello\\u{1b}[2J\\u{d}Session ended"),
        "{text:?}"
    );
}
