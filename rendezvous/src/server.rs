//! The HTTP/WebSocket server: `/v1/mailbox`, `/healthz`, `/metrics`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use tandem_crypto::Nameplate;
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use crate::display_name;
use crate::metrics::{Metrics, ResultLabel};
use crate::oidc::{OidcVerifier, VerifyError};
use crate::rate_limit::{IpRateLimiter, Limit, Limiter, SharedRateLimit};
use crate::records::{Clock, RecordStore, SessionRecords, SystemClock};
use crate::store::{MailboxEvent, Side, Store, StoreError, Subscription};
use crate::turn_credentials::IceServersConfig;
use crate::wire::{
    ClientMessage, ErrorCode, HelperIdentity, ServerMessage, SignInInfo, MAILBOX_PATH,
    MAX_BODY_LEN, MAX_MESSAGES_PER_SIDE, OPERATOR_SESSIONS_PATH, SIGN_IN_PATH,
};

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Accept `HelperIdentity::Dev` (a name on trust). Only for demos and tests.
    pub allow_dev_identity: bool,
    pub nameplate_ttl: Duration,
    pub allocate_limit: Limit,
    pub join_limit: Limit,
    /// A connection must say what it wants within this time.
    pub first_message_timeout: Duration,
    /// A paired mailbox is closed after this long, whatever happens in it.
    pub mailbox_lifetime: Duration,
    /// STUN/TURN servers handed to both parties.
    pub ice_servers: IceServersConfig,
    /// Identity providers whose ID tokens sign helpers in.
    pub sign_in: Option<Arc<OidcVerifier>>,
    /// Bearer token for the operator's aggregate view of session records; `None`: no view.
    pub operator_token: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            allow_dev_identity: false,
            nameplate_ttl: Duration::from_secs(600),
            allocate_limit: Limit {
                per_minute: 10,
                burst: 20,
            },
            join_limit: Limit {
                per_minute: 10,
                burst: 20,
            },
            first_message_timeout: Duration::from_secs(10),
            mailbox_lifetime: Duration::from_secs(30 * 60),
            ice_servers: IceServersConfig::default(),
            sign_in: None,
            operator_token: None,
        }
    }
}

pub struct AppState {
    config: ServerConfig,
    store: Arc<dyn Store>,
    /// What is kept about sessions, for three days.
    pub records: Arc<dyn RecordStore>,
    metrics: Metrics,
    allocate_limiter: Limiter,
    join_limiter: Limiter,
}

impl AppState {
    pub fn new(config: ServerConfig, store: Arc<dyn Store>) -> Arc<Self> {
        Self::with_clock(config, store, Arc::new(SystemClock))
    }

    /// With the session records' clock chosen (tests move it).
    pub fn with_clock(
        config: ServerConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        Self::with_records(config, store, Arc::new(SessionRecords::new(clock)))
    }

    /// With the session records kept elsewhere (Redis, for several instances).
    pub fn with_records(
        config: ServerConfig,
        store: Arc<dyn Store>,
        records: Arc<dyn RecordStore>,
    ) -> Arc<Self> {
        Self::with_shared(config, store, records, None)
    }

    /// Everything shared by the instances: store, records and (when given) rate limits.
    pub fn with_shared(
        config: ServerConfig,
        store: Arc<dyn Store>,
        records: Arc<dyn RecordStore>,
        limits: Option<Arc<dyn SharedRateLimit>>,
    ) -> Arc<Self> {
        let limiter = |bucket: &'static str, limit: Limit| match &limits {
            Some(shared) => Limiter::Shared {
                shared: Arc::clone(shared),
                bucket,
                limit,
            },
            None => Limiter::Local(IpRateLimiter::new(limit)),
        };
        Arc::new(Self {
            records,
            allocate_limiter: limiter("allocate", config.allocate_limit),
            join_limiter: limiter("join", config.join_limit),
            config,
            store,
            metrics: Metrics::new(),
        })
    }
}

impl AppState {
    /// Open mailbox connections right now.
    pub fn open_connections(&self) -> i64 {
        self.metrics.connections.get()
    }

    /// After the listener has closed: waits until every live mailbox has finished, or
    /// `at_most`; returns how many were still open.
    pub async fn drain(&self, at_most: Duration) -> i64 {
        let deadline = tokio::time::Instant::now() + at_most;
        loop {
            let open = self.open_connections();
            if open <= 0 || tokio::time::Instant::now() >= deadline {
                return open.max(0);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn sign_in_info(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    axum::Json(SignInInfo {
        providers: state
            .config
            .sign_in
            .as_ref()
            .map(|v| v.sign_in_providers())
            .unwrap_or_default(),
        dev_identity_allowed: state.config.allow_dev_identity,
    })
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(MAILBOX_PATH, get(mailbox))
        .route(SIGN_IN_PATH, get(sign_in_info))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route(OPERATOR_SESSIONS_PATH, get(operator_sessions))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Serves on an already-bound listener (plain HTTP; put TLS in front with [`serve_tls`]).
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    spawn_sweeper(&state);
    // Pairing is a ping-pong of small messages: Nagle + delayed ACK would add ~40 ms a turn.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Serves with TLS (rustls).
pub async fn serve_tls(
    listener: std::net::TcpListener,
    state: Arc<AppState>,
    tls: axum_server::tls_rustls::RustlsConfig,
    handle: axum_server::Handle<SocketAddr>,
) -> std::io::Result<()> {
    spawn_sweeper(&state);
    axum_server::from_tcp_rustls(listener, tls)?
        .handle(handle)
        .serve(router(state).into_make_service_with_connect_info::<SocketAddr>())
        .await
}

fn spawn_sweeper(state: &Arc<AppState>) {
    let weak = Arc::downgrade(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { break };
            state.store.sweep().await;
            let purged = state.records.purge().await;
            if purged > 0 {
                debug!(purged, "session records past retention removed");
            }
            state.allocate_limiter.sweep();
            state.join_limiter.sweep();
        }
    });
}

/// Aggregates of the session records, for the operator (`Authorization: Bearer TOKEN`,
/// with the token from `--operator-token`; without one the endpoint does not exist).
async fn operator_sessions(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    let Some(expected) = state.config.operator_token.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Digests are compared, so the time taken says nothing about the token.
    let digest = |s: &str| ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    let ok = given.is_some_and(|g| digest(g).as_ref() == digest(expected).as_ref());
    if !ok {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    axum::Json(state.records.summary().await).into_response()
}

/// Ready when the store answers (Redis reachable, subscriber connection up): a load
/// balancer sends no one to an instance that would refuse every code.
async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    match state.store.ready().await {
        Ok(()) => (StatusCode::OK, "ready".to_string()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let active = state.store.active_mailboxes().await;
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(active),
    )
}

async fn mailbox(
    ws: WebSocketUpgrade,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    State(state): State<Arc<AppState>>,
) -> impl IntoResponse {
    // The JSON envelope adds base64 (4/3) plus a little framing.
    ws.max_message_size(MAX_BODY_LEN * 4 / 3 + 1024)
        // Mailbox messages are small and every one is sent at once: the 128 KiB default
        // buffers would be most of what a waiting helper costs (`tandem-bench mailbox`).
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .on_upgrade(move |socket| async move {
            state.metrics.connections.inc();
            handle_connection(socket, peer.ip(), &state).await;
            state.metrics.connections.dec();
        })
}

async fn send(socket: &mut WebSocket, msg: &ServerMessage) -> bool {
    match serde_json::to_string(msg) {
        Ok(text) => socket.send(Message::Text(text.into())).await.is_ok(),
        Err(_) => false,
    }
}

async fn refuse(socket: &mut WebSocket, code: ErrorCode, message: impl Into<String>) {
    let _ = send(
        socket,
        &ServerMessage::Error {
            code,
            message: message.into(),
        },
    )
    .await;
    let _ = socket.close().await;
}

/// Reads the next client message; `None` when the socket closed.
async fn next_message(socket: &mut WebSocket) -> Option<Result<ClientMessage, String>> {
    match next_read(socket).await {
        Read::Message(m) => Some(m),
        Read::Closed | Read::Lost => None,
    }
}

enum Read {
    Message(Result<ClientMessage, String>),
    /// The client closed the WebSocket properly.
    Closed,
    /// The connection ended without a close: the client vanished.
    Lost,
}

async fn next_read(socket: &mut WebSocket) -> Read {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                return Read::Message(serde_json::from_str(&text).map_err(|e| e.to_string()))
            }
            Some(Ok(Message::Binary(_))) => {
                return Read::Message(Err("binary frames are not used".into()))
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) => return Read::Closed,
            Some(Err(_)) | None => return Read::Lost,
        }
    }
}

async fn handle_connection(mut socket: WebSocket, ip: IpAddr, state: &AppState) {
    let first = match tokio::time::timeout(
        state.config.first_message_timeout,
        next_message(&mut socket),
    )
    .await
    {
        Ok(Some(Ok(m))) => m,
        Ok(Some(Err(e))) => {
            return refuse(&mut socket, ErrorCode::BadRequest, e).await;
        }
        Ok(None) => return,
        Err(_) => return refuse(&mut socket, ErrorCode::BadRequest, "no request in time").await,
    };
    match first {
        ClientMessage::Allocate { identity } => helper(socket, ip, identity, state).await,
        ClientMessage::Join { nameplate } => sharer(socket, ip, &nameplate, state).await,
        ClientMessage::Report { token, report } => match state.records.report(&token, report).await
        {
            Ok(()) => {
                let _ = send(&mut socket, &ServerMessage::Reported).await;
                let _ = socket.close().await;
            }
            Err(e) => refuse(&mut socket, ErrorCode::BadRequest, e.to_string()).await,
        },
        _ => refuse(&mut socket, ErrorCode::BadRequest, "allocate or join first").await,
    }
}

fn count(
    family: &prometheus_client::metrics::family::Family<
        ResultLabel,
        prometheus_client::metrics::counter::Counter,
    >,
    result: &'static str,
) {
    family.get_or_create(&ResultLabel { result }).inc();
}

async fn helper(mut socket: WebSocket, ip: IpAddr, identity: HelperIdentity, state: &AppState) {
    let asked = std::time::Instant::now();
    if !state.allocate_limiter.check(ip).await {
        count(&state.metrics.allocations, "rate_limited");
        return refuse(
            &mut socket,
            ErrorCode::RateLimited,
            "too many codes requested; wait a minute",
        )
        .await;
    }
    let name = match identity {
        HelperIdentity::Dev { name } if state.config.allow_dev_identity => {
            display_name::abbreviate(&name)
        }
        HelperIdentity::Dev { .. } => {
            count(&state.metrics.allocations, "identity_refused");
            return refuse(
                &mut socket,
                ErrorCode::IdentityRefused,
                "this server requires sign-in (dev identities are disabled)",
            )
            .await;
        }
        HelperIdentity::IdToken { token } => {
            let Some(verifier) = state.config.sign_in.as_ref() else {
                count(&state.metrics.allocations, "identity_refused");
                return refuse(
                    &mut socket,
                    ErrorCode::IdentityRefused,
                    "this server has no identity provider configured",
                )
                .await;
            };
            match verifier.verify(&token).await {
                Ok(helper) => {
                    debug!(issuer = %helper.issuer, "helper signed in");
                    Some(helper.display_name)
                }
                Err(e) => {
                    let (code, label) = match &e {
                        VerifyError::Expired => (ErrorCode::SignInExpired, "sign_in_expired"),
                        VerifyError::ProviderUnreachable(_) => {
                            (ErrorCode::SignInUnavailable, "sign_in_unavailable")
                        }
                        _ => (ErrorCode::IdentityRefused, "identity_refused"),
                    };
                    debug!("sign-in refused: {e}");
                    count(&state.metrics.allocations, label);
                    return refuse(&mut socket, code, e.to_string()).await;
                }
            }
        }
    };
    let Some(name) = name else {
        count(&state.metrics.allocations, "identity_refused");
        return refuse(&mut socket, ErrorCode::IdentityRefused, "no usable name").await;
    };
    let ttl = state.config.nameplate_ttl;
    let (nameplate, mut events) = match state.store.allocate(name, ttl).await {
        Ok(v) => v,
        Err(e) => {
            count(&state.metrics.allocations, "unavailable");
            return refuse(&mut socket, ErrorCode::Unavailable, e.to_string()).await;
        }
    };
    count(&state.metrics.allocations, "ok");
    state
        .metrics
        .allocate_seconds
        .observe(asked.elapsed().as_secs_f64());
    debug!(%nameplate, "allocated");
    let allocated = ServerMessage::Allocated {
        nameplate: nameplate.to_string(),
        expires_in_secs: ttl.as_secs(),
        ice_servers: state
            .config
            .ice_servers
            .issue(&format!("{nameplate}-helper"), SystemTime::now()),
    };
    if !send(&mut socket, &allocated).await {
        state.store.leave(nameplate, Side::Helper).await;
        return;
    }
    // Wait for the sharer, at most until the nameplate expires.
    let deadline = tokio::time::sleep(ttl);
    tokio::pin!(deadline);
    let joined = loop {
        tokio::select! {
            _ = &mut deadline => break false,
            ev = events.recv() => match ev {
                Some(MailboxEvent::PeerJoined) => break true,
                Some(_) => continue,
                None => break false,
            },
            msg = next_message(&mut socket) => match msg {
                // Nothing but waiting is allowed before the sharer arrives.
                Some(Ok(_)) | Some(Err(_)) => {
                    state.store.leave(nameplate, Side::Helper).await;
                    return refuse(&mut socket, ErrorCode::BadRequest, "not paired yet").await;
                }
                None => {
                    state.store.leave(nameplate, Side::Helper).await;
                    return;
                }
            }
        }
    };
    if !joined {
        state.store.leave(nameplate, Side::Helper).await;
        return refuse(
            &mut socket,
            ErrorCode::ExpiredNameplate,
            "the code expired before anyone used it",
        )
        .await;
    }
    // Pairing: the session's record starts here.
    let report_token = state.records.open(nameplate).await;
    let peer_joined = ServerMessage::PeerJoined {
        report_token: Some(report_token),
    };
    if send(&mut socket, &peer_joined).await {
        relay(socket, nameplate, Side::Helper, events, state).await;
    } else {
        state.store.leave(nameplate, Side::Helper).await;
        let _ = state
            .store
            .publish(nameplate, Side::Sharer, MailboxEvent::PeerLeft)
            .await;
    }
}

async fn sharer(mut socket: WebSocket, ip: IpAddr, nameplate: &str, state: &AppState) {
    let asked = std::time::Instant::now();
    if !state.join_limiter.check(ip).await {
        count(&state.metrics.joins, "rate_limited");
        return refuse(
            &mut socket,
            ErrorCode::RateLimited,
            "too many attempts; wait a minute",
        )
        .await;
    }
    let Ok(nameplate) = Nameplate::parse(nameplate) else {
        count(&state.metrics.joins, "bad_request");
        return refuse(&mut socket, ErrorCode::BadRequest, "malformed nameplate").await;
    };
    let (helper_name, events) = match state.store.claim(nameplate).await {
        Ok(v) => v,
        Err(e) => {
            let (code, label) = match e {
                StoreError::Unknown => (ErrorCode::UnknownNameplate, "unknown"),
                StoreError::Expired => (ErrorCode::ExpiredNameplate, "expired"),
                StoreError::Used => (ErrorCode::UsedNameplate, "used"),
                StoreError::Exhausted | StoreError::Unavailable(_) => {
                    (ErrorCode::Unavailable, "unavailable")
                }
            };
            count(&state.metrics.joins, label);
            return refuse(&mut socket, code, e.to_string()).await;
        }
    };
    count(&state.metrics.joins, "ok");
    state
        .metrics
        .join_seconds
        .observe(asked.elapsed().as_secs_f64());
    let _ = state
        .store
        .publish(nameplate, Side::Helper, MailboxEvent::PeerJoined)
        .await;
    let joined = ServerMessage::Joined {
        helper_name,
        ice_servers: state
            .config
            .ice_servers
            .issue(&format!("{nameplate}-sharer"), SystemTime::now()),
    };
    if send(&mut socket, &joined).await {
        relay(socket, nameplate, Side::Sharer, events, state).await;
    } else {
        state.store.leave(nameplate, Side::Sharer).await;
        let _ = state
            .store
            .publish(nameplate, Side::Helper, MailboxEvent::PeerLeft)
            .await;
    }
}

/// Forwards opaque messages between the two sides until one leaves or the pairing fails.
async fn relay(
    mut socket: WebSocket,
    nameplate: Nameplate,
    side: Side,
    mut events: Subscription,
    state: &AppState,
) {
    let mut sent: u32 = 0;
    let mut vanished = false;
    let lifetime = tokio::time::sleep(state.config.mailbox_lifetime);
    tokio::pin!(lifetime);
    loop {
        tokio::select! {
            _ = &mut lifetime => {
                refuse(&mut socket, ErrorCode::MailboxExpired, "mailbox lifetime exceeded").await;
                break;
            }
            ev = events.recv() => {
                let msg = match ev {
                    Some(MailboxEvent::Message(body)) => ServerMessage::Message { body },
                    Some(MailboxEvent::PeerLeft) => ServerMessage::PeerLeft,
                    Some(MailboxEvent::PairingFailed) => ServerMessage::PairingFailed,
                    Some(MailboxEvent::PeerJoined) => continue,
                    None => break,
                };
                let last = !matches!(msg, ServerMessage::Message { .. });
                if !send(&mut socket, &msg).await || last {
                    let _ = socket.close().await;
                    break;
                }
            }
            msg = next_read(&mut socket) => match msg {
                Read::Message(Ok(ClientMessage::Send { body })) => {
                    if body.len() > MAX_BODY_LEN * 4 / 3 + 4 {
                        refuse(&mut socket, ErrorCode::MessageTooLarge, "message too large").await;
                        break;
                    }
                    sent += 1;
                    if sent > MAX_MESSAGES_PER_SIDE {
                        refuse(&mut socket, ErrorCode::TooManyMessages, "too many messages").await;
                        break;
                    }
                    state.metrics.messages_forwarded.inc();
                    let _ = state.store.publish(nameplate, side.peer(), MailboxEvent::Message(body)).await;
                }
                Read::Message(Ok(ClientMessage::PairingFailed)) => {
                    info!(%nameplate, "pairing failed; nameplate burned");
                    state.metrics.pairing_failures.inc();
                    let _ = state.store.burn(nameplate).await;
                    let _ = state.store.publish(nameplate, side.peer(), MailboxEvent::PairingFailed).await;
                    state.store.leave(nameplate, side).await;
                    let _ = socket.close().await;
                    return;
                }
                Read::Message(Ok(_)) => {
                    refuse(&mut socket, ErrorCode::BadRequest, "already paired").await;
                    break;
                }
                Read::Message(Err(e)) => {
                    warn!(%nameplate, "malformed message: {e}");
                    refuse(&mut socket, ErrorCode::BadRequest, e).await;
                    break;
                }
                Read::Closed => break,
                Read::Lost => {
                    vanished = true;
                    break;
                }
            }
        }
    }
    // The record learns whether the mailbox ended as the apps end it, or a side vanished.
    if vanished {
        state.records.vanished(nameplate).await;
    } else if side == Side::Helper {
        state.records.mailbox_closed(nameplate).await;
    }
    state.store.leave(nameplate, side).await;
    let _ = state
        .store
        .publish(nameplate, side.peer(), MailboxEvent::PeerLeft)
        .await;
}
