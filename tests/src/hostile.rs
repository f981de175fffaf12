//! A hostile rendezvous: speaks the real mailbox protocol but attacks the pairing, to show
//! that a malicious or compromised server cannot get into a session.

use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use futures_util::StreamExt;
use spake2::{Ed25519Group, Identity, Password, Spake2};
use tandem_rendezvous::introduction::{Introduction, IntroductionSigner};
use tandem_rendezvous::wire::{ClientMessage, ServerMessage, MAILBOX_PATH};
use tokio::sync::mpsc;

const NAMEPLATE: &str = "H0ST";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attack {
    /// Replace each side's SPAKE2 message with the server's own, made with a guessed secret:
    /// a man in the middle who does not know the code.
    SubstitutePake,
    /// Forward the pairing honestly, then alter every later message (the introduction,
    /// hello with ICE credentials, candidates and certificate fingerprints, consent).
    TamperAfterPairing,
    /// Forward everything honestly, but give the sharer a key other than the one that signed
    /// the helper's introduction: as if the helper brought a name from another rendezvous.
    ForeignIntroduction,
}

#[derive(Default)]
struct Slots {
    to_helper: Option<mpsc::UnboundedSender<ServerMessage>>,
    to_sharer: Option<mpsc::UnboundedSender<ServerMessage>>,
    helper_rx: Option<mpsc::UnboundedReceiver<ServerMessage>>,
}

struct Hostile {
    attack: Attack,
    slots: Mutex<Slots>,
    /// What a rendezvous signs introductions with (a hostile one vouches for anything).
    signer: IntroductionSigner,
    /// The key the sharer is told about under [`Attack::ForeignIntroduction`].
    other: IntroductionSigner,
}

pub struct HostileRendezvous {
    pub url: String,
    _runtime: tokio::runtime::Runtime,
}

impl HostileRendezvous {
    pub fn start(attack: Attack) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let url = format!("ws://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Hostile {
            attack,
            slots: Mutex::new(Slots::default()),
            signer: IntroductionSigner::generate().expect("key"),
            other: IntroductionSigner::generate().expect("key"),
        });
        let app = Router::new()
            .route(MAILBOX_PATH, get(upgrade))
            .with_state(state);
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            _runtime: runtime,
        }
    }
}

async fn upgrade(ws: WebSocketUpgrade, State(state): State<Arc<Hostile>>) -> impl IntoResponse {
    ws.on_upgrade(move |socket| connection(socket, state))
}

async fn send(socket: &mut WebSocket, msg: &ServerMessage) -> bool {
    let text = serde_json::to_string(msg).expect("serialize");
    socket.send(Message::Text(text.into())).await.is_ok()
}

async fn recv(socket: &mut WebSocket) -> Option<ClientMessage> {
    loop {
        match socket.next().await? {
            Ok(Message::Text(t)) => return serde_json::from_str(&t).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

fn forged_spake_message() -> String {
    let (_, msg) = Spake2::<Ed25519Group>::start_symmetric(
        &Password::new(b"GUES"),
        &Identity::new(format!("tandem/1/pairing/{NAMEPLATE}").as_bytes()),
    );
    B64.encode(msg)
}

fn tamper(body: &str) -> String {
    let mut bytes = B64.decode(body).expect("base64 from a real client");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    B64.encode(bytes)
}

async fn connection(mut socket: WebSocket, state: Arc<Hostile>) {
    let (mut inbox, outbox) = match recv(&mut socket).await {
        Some(ClientMessage::Allocate { .. }) => {
            let (tx, rx) = mpsc::unbounded_channel();
            let (peer_tx, peer_rx) = mpsc::unbounded_channel();
            {
                let mut slots = state.slots.lock().expect("lock");
                slots.to_helper = Some(tx);
                slots.helper_rx = Some(peer_rx);
                slots.to_sharer = None;
                drop(peer_tx);
            }
            if !send(
                &mut socket,
                &ServerMessage::Allocated {
                    nameplate: NAMEPLATE.into(),
                    expires_in_secs: 600,
                    ice_servers: junk_ice_servers(),
                    introduction: state
                        .signer
                        .sign(&Introduction {
                            nameplate: NAMEPLATE.into(),
                            helper_name: "Anna R.".into(),
                            affiliation: None,
                            ice_servers: junk_ice_servers(),
                            expires_at: u64::MAX,
                        })
                        .expect("sign"),
                },
            )
            .await
            {
                return;
            }
            // The helper's outgoing messages go to the sharer once it arrives.
            (rx, Side::Helper)
        }
        Some(ClientMessage::Join { .. }) => {
            let (tx, rx) = mpsc::unbounded_channel();
            let to_helper = {
                let mut slots = state.slots.lock().expect("lock");
                slots.to_sharer = Some(tx);
                slots.to_helper.clone()
            };
            if let Some(h) = &to_helper {
                let _ = h.send(ServerMessage::PeerJoined { report_token: None });
            }
            if !send(
                &mut socket,
                &ServerMessage::Joined {
                    introducer_keys: vec![match state.attack {
                        Attack::ForeignIntroduction => state.other.public_key().clone(),
                        _ => state.signer.public_key().clone(),
                    }],
                    server_time: 0,
                },
            )
            .await
            {
                return;
            }
            (rx, Side::Sharer)
        }
        _ => return,
    };
    let mut sent_by_me = 0usize;
    loop {
        tokio::select! {
            msg = inbox.recv() => match msg {
                Some(m) => if !send(&mut socket, &m).await { break },
                None => break,
            },
            msg = recv(&mut socket) => match msg {
                Some(ClientMessage::Send { body }) => {
                    let index = sent_by_me;
                    sent_by_me += 1;
                    let body = match (state.attack, index) {
                        (Attack::SubstitutePake, 0) => forged_spake_message(),
                        (Attack::TamperAfterPairing, i) if i >= 2 => tamper(&body),
                        _ => body,
                    };
                    let target = {
                        let slots = state.slots.lock().expect("lock");
                        match outbox {
                            Side::Helper => slots.to_sharer.clone(),
                            Side::Sharer => slots.to_helper.clone(),
                        }
                    };
                    if let Some(t) = target {
                        let _ = t.send(ServerMessage::Message { body });
                    }
                }
                // A hostile server hides pairing failures from the other side.
                Some(ClientMessage::PairingFailed) => {}
                Some(_) => {}
                None => break,
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Side {
    Helper,
    Sharer,
}

/// A hostile rendezvous also hands out ICE servers: unreachable, malformed or nonsense ones
/// must cost nothing but a log line (and a relay it controls could see only ciphertext).
fn junk_ice_servers() -> Vec<tandem_rendezvous::wire::IceServer> {
    vec![tandem_rendezvous::wire::IceServer {
        urls: vec![
            "turn:127.0.0.1:9?transport=udp".into(),
            "turns:127.0.0.1:9?transport=tcp".into(),
            "stun:[::1]:notaport".into(),
            "gopher://example".into(),
        ],
        username: Some("x".into()),
        credential: Some("y".into()),
    }]
}
