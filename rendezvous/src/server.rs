//! The HTTP/WebSocket server: `/v1/mailbox`, `/healthz`, `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Router};
use futures_util::{SinkExt, StreamExt};
use tandem_crypto::{Nameplate, RoomId};
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use crate::client_address::{network_of, TrustedProxies};
use crate::display_name;
use crate::introduction::{IntroducerKey, Introduction, IntroductionSigner};
use crate::listener::{serve_connections, Admission, ConnectionLimits, ConnectionPermit, Refusal};
use crate::metrics::{Metrics, ResultLabel};
use crate::oidc::{OidcVerifier, VerifyError};
use crate::rate_limit::{KeyedRateLimiter, Limit, Limiter, SharedRateLimit};
use crate::records::{Clock, RecordStore, SessionRecords, SystemClock};
use crate::store::{MailboxEvent, Side, Store, StoreError, Subscription};
use crate::turn_credentials::IceServersConfig;
use crate::wire::{
    ClientMessage, ErrorCode, HelperIdentity, RoomSide, ServerMessage, SignInInfo, MAILBOX_PATH,
    MAX_BODY_LEN, MAX_MESSAGES_PER_SIDE, OPERATOR_SESSIONS_PATH, SIGN_IN_PATH,
};

/// A client that does not read what it is sent within this long is dropped (it holds a
/// connection and, through TCP back-pressure, its mailbox).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Accept `HelperIdentity::Dev` (a name on trust). Only for demos and tests.
    pub allow_dev_identity: bool,
    pub nameplate_ttl: Duration,
    /// Code requests per client network (checked before the sign-in is).
    pub allocate_limit: Limit,
    /// Code requests per signed-in account.
    pub account_allocate_limit: Limit,
    /// Join attempts per client network.
    pub join_limit: Limit,
    /// Join attempts from everyone together: sweeping the nameplates from many networks
    /// stays slow.
    pub global_join_limit: Limit,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` headers name the client.
    pub trusted_proxies: TrustedProxies,
    /// Connection caps and timeouts of the listener.
    pub connection_limits: ConnectionLimits,
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
            // A support centre behind one address asks for many codes; each account for few.
            allocate_limit: Limit {
                per_minute: 60,
                burst: 120,
            },
            account_allocate_limit: Limit {
                per_minute: 10,
                burst: 20,
            },
            join_limit: Limit {
                per_minute: 10,
                burst: 20,
            },
            global_join_limit: Limit {
                per_minute: 60_000,
                burst: 2_000,
            },
            trusted_proxies: TrustedProxies::default(),
            connection_limits: ConnectionLimits::default(),
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
    account_limiter: Limiter,
    join_limiter: Limiter,
    global_join_limiter: Limiter,
    /// Signs the helpers' introductions (see [`crate::introduction`]).
    introducer: IntroductionSigner,
    admission: Arc<Admission>,
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
            None => Limiter::Local(KeyedRateLimiter::new(limit)),
        };
        // Only the system's random source failing stops this; nothing runs without it.
        #[allow(clippy::expect_used)]
        let introducer = IntroductionSigner::generate().expect("a signing key");
        Arc::new(Self {
            records,
            allocate_limiter: limiter("allocate", config.allocate_limit),
            account_limiter: limiter("account", config.account_allocate_limit),
            join_limiter: limiter("join", config.join_limit),
            global_join_limiter: limiter("join-all", config.global_join_limit),
            introducer,
            admission: Arc::new(Admission::new(
                config.connection_limits.clone(),
                config.trusted_proxies.clone(),
            )),
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

/// Serves on an already-bound listener (plain HTTP; TLS with [`serve_tls`]) until
/// `shutdown`; WebSockets already open go on (see [`AppState::drain`]).
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, None, state, shutdown).await
}

/// Serves with TLS (rustls; the configuration is read per connection, so a reload applies
/// to the next one).
pub async fn serve_tls(
    listener: std::net::TcpListener,
    state: Arc<AppState>,
    tls: axum_server::tls_rustls::RustlsConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    serve_with(listener, Some(tls), state, shutdown).await
}

async fn serve_with(
    listener: TcpListener,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    spawn_sweeper(&state);
    // Known to the other instances before the first helper is introduced.
    if let Err(e) = state
        .store
        .announce_introducer_key(state.introducer.public_key())
        .await
    {
        warn!("announcing the introduction key: {e}");
    }
    let refusals = Arc::clone(&state);
    serve_connections(
        listener,
        tls,
        router(Arc::clone(&state)),
        Arc::clone(&state.admission),
        move |refusal| {
            let reason = match refusal {
                Refusal::Total => "total",
                Refusal::PerNetwork => "per_network",
            };
            count(&refusals.metrics.connections_refused, reason);
        },
        shutdown,
    )
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
            state.account_limiter.sweep();
            state.join_limiter.sweep();
            // Other instances hand this key to their sharers.
            if let Err(e) = state
                .store
                .announce_introducer_key(state.introducer.public_key())
                .await
            {
                debug!("announcing the introduction key: {e}");
            }
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
    permit: Option<Extension<ConnectionPermit>>,
    headers: HeaderMap,
    State(state): State<Arc<AppState>>,
) -> impl IntoResponse {
    let client = state.config.trusted_proxies.client(peer.ip(), &headers);
    // Limits count per network: an IPv4 address, an IPv6 /64.
    let network = network_of(client).to_string();
    // The JSON envelope adds base64 (4/3) plus a little framing.
    ws.max_message_size(MAX_BODY_LEN * 4 / 3 + 1024)
        // Mailbox messages are small and every one is sent at once: the 128 KiB default
        // buffers would be most of what a waiting helper costs (`tandem-bench mailbox`).
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .on_upgrade(move |socket| async move {
            // The connection's place under the caps is held until the WebSocket closes.
            let _permit = permit;
            state.metrics.connections.inc();
            handle_connection(socket, &network, &state).await;
            state.metrics.connections.dec();
        })
}

/// False when the client is gone or does not read within [`SEND_TIMEOUT`].
async fn send(socket: &mut WebSocket, msg: &ServerMessage) -> bool {
    match serde_json::to_string(msg) {
        Ok(text) => matches!(
            tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await,
            Ok(Ok(()))
        ),
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
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.close()).await;
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

async fn handle_connection(mut socket: WebSocket, network: &str, state: &AppState) {
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
        ClientMessage::Allocate { identity } => helper(socket, network, identity, state).await,
        ClientMessage::Join { nameplate } => sharer(socket, network, &nameplate, state).await,
        ClientMessage::Resume { room, side } => resume(socket, network, &room, side, state).await,
        ClientMessage::Report { token, report } => match state.records.report(&token, report).await
        {
            Ok(()) => {
                let _ = send(&mut socket, &ServerMessage::Reported).await;
                let _ = tokio::time::timeout(SEND_TIMEOUT, socket.close()).await;
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

/// Who a helper is, as far as the rendezvous can tell.
struct Identified {
    name: String,
    /// The verified organisation; `None` for a name taken on trust.
    affiliation: Option<String>,
    /// What the per-account limit counts against (never a name or an address in clear).
    account: String,
}

async fn helper(mut socket: WebSocket, network: &str, identity: HelperIdentity, state: &AppState) {
    let asked = std::time::Instant::now();
    // Checked before the sign-in, which costs a signature check (and maybe a key fetch).
    if !state.allocate_limiter.check(network).await {
        count(&state.metrics.allocations, "rate_limited");
        return refuse(
            &mut socket,
            ErrorCode::RateLimited,
            "too many codes requested; wait a minute",
        )
        .await;
    }
    let identified = match identity {
        HelperIdentity::Dev { name } if state.config.allow_dev_identity => {
            display_name::abbreviate(&name).map(|name| Identified {
                name,
                affiliation: None,
                account: format!("dev:{network}"),
            })
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
                    let digest = ring::digest::digest(
                        &ring::digest::SHA256,
                        format!("{}\0{}", helper.issuer, helper.subject).as_bytes(),
                    );
                    Some(Identified {
                        name: helper.display_name,
                        affiliation: helper.affiliation,
                        account: hex::encode(&digest.as_ref()[..16]),
                    })
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
    let Some(identified) = identified else {
        count(&state.metrics.allocations, "identity_refused");
        return refuse(&mut socket, ErrorCode::IdentityRefused, "no usable name").await;
    };
    if !state.account_limiter.check(&identified.account).await {
        count(&state.metrics.allocations, "rate_limited");
        return refuse(
            &mut socket,
            ErrorCode::RateLimited,
            "too many codes requested for this account; wait a minute",
        )
        .await;
    }
    let ttl = state.config.nameplate_ttl;
    let (nameplate, mut events) = match state.store.allocate(ttl).await {
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
    // Who the helper is and the sharer's TURN credentials go to the helper, signed: the
    // sharer gets them over the end-to-end channel, after proving the whole code.
    let now = SystemTime::now();
    let introduction = state.introducer.sign(&Introduction {
        nameplate: nameplate.to_string(),
        helper_name: identified.name,
        affiliation: identified.affiliation,
        ice_servers: state
            .config
            .ice_servers
            .issue(&format!("{nameplate}-sharer"), now),
        expires_at: unix_secs(now) + ttl.as_secs(),
    });
    let introduction = match introduction {
        Ok(i) => i,
        Err(e) => {
            state.store.leave(nameplate, Side::Helper).await;
            return refuse(&mut socket, ErrorCode::Unavailable, e.to_string()).await;
        }
    };
    let allocated = ServerMessage::Allocated {
        nameplate: nameplate.to_string(),
        expires_in_secs: ttl.as_secs(),
        ice_servers: state
            .config
            .ice_servers
            .issue(&format!("{nameplate}-helper"), now),
        introduction,
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
        relay(
            socket,
            Mailbox::Code(nameplate),
            Side::Helper,
            events,
            state,
        )
        .await;
    } else {
        state.store.leave(nameplate, Side::Helper).await;
        let _ = state
            .store
            .publish(nameplate, Side::Sharer, MailboxEvent::PeerLeft)
            .await;
    }
}

/// The join limits (per network and for everyone), for sharers and for room visits alike;
/// refuses the client when they are spent.
async fn join_allowed(socket: &mut WebSocket, network: &str, state: &AppState) -> bool {
    if state.join_limiter.check(network).await && state.global_join_limiter.check("all").await {
        return true;
    }
    count(&state.metrics.joins, "rate_limited");
    refuse(
        socket,
        ErrorCode::RateLimited,
        "too many attempts; wait a minute",
    )
    .await;
    false
}

async fn sharer(mut socket: WebSocket, network: &str, nameplate: &str, state: &AppState) {
    let asked = std::time::Instant::now();
    if !join_allowed(&mut socket, network, state).await {
        return;
    }
    let Ok(nameplate) = Nameplate::parse(nameplate) else {
        count(&state.metrics.joins, "bad_request");
        return refuse(&mut socket, ErrorCode::BadRequest, "malformed nameplate").await;
    };
    let events = match state.store.claim(nameplate).await {
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
    // No name and no credentials: a stranger who guessed a nameplate learns nothing.
    let joined = ServerMessage::Joined {
        introducer_keys: state.introducer_keys().await,
        server_time: unix_secs(SystemTime::now()),
    };
    if send(&mut socket, &joined).await {
        relay(
            socket,
            Mailbox::Code(nameplate),
            Side::Sharer,
            events,
            state,
        )
        .await;
    } else {
        state.store.leave(nameplate, Side::Sharer).await;
        let _ = state
            .store
            .publish(nameplate, Side::Helper, MailboxEvent::PeerLeft)
            .await;
    }
}

/// A session's two sides meeting again after a network change. They are counted as join
/// attempts (a stranger cannot find a room by guessing, but must not flood the store
/// trying), and a side that is already in its room cannot come twice.
async fn resume(
    mut socket: WebSocket,
    network: &str,
    room: &str,
    side: RoomSide,
    state: &AppState,
) {
    if !join_allowed(&mut socket, network, state).await {
        return;
    }
    let Some(room) = RoomId::from_hex(room) else {
        return refuse(&mut socket, ErrorCode::BadRequest, "malformed room").await;
    };
    let side = match side {
        RoomSide::Helper => Side::Helper,
        RoomSide::Sharer => Side::Sharer,
    };
    let (events, peer_present) = match state
        .store
        .meet(room, side, state.config.mailbox_lifetime)
        .await
    {
        Ok(v) => v,
        Err(StoreError::Used) => {
            return refuse(
                &mut socket,
                ErrorCode::UsedNameplate,
                "already in this room",
            )
            .await
        }
        Err(e) => return refuse(&mut socket, ErrorCode::Unavailable, e.to_string()).await,
    };
    let mailbox = Mailbox::Room(room);
    if peer_present {
        let _ = mailbox
            .publish(state, side.peer(), MailboxEvent::PeerJoined)
            .await;
    }
    if send(&mut socket, &ServerMessage::Met { peer_present }).await {
        relay(socket, mailbox, side, events, state).await;
    } else {
        mailbox.leave(state, side).await;
        let _ = mailbox
            .publish(state, side.peer(), MailboxEvent::PeerLeft)
            .await;
    }
}

/// Where a relay forwards: a code's mailbox, or a session's resumption room.
#[derive(Debug, Clone, Copy)]
enum Mailbox {
    Code(Nameplate),
    Room(RoomId),
}

impl Mailbox {
    async fn publish(
        self,
        state: &AppState,
        to: Side,
        event: MailboxEvent,
    ) -> Result<(), StoreError> {
        match self {
            Mailbox::Code(nameplate) => state.store.publish(nameplate, to, event).await,
            Mailbox::Room(room) => state.store.publish_room(room, to, event).await,
        }
    }

    async fn leave(self, state: &AppState, side: Side) {
        match self {
            Mailbox::Code(nameplate) => state.store.leave(nameplate, side).await,
            Mailbox::Room(room) => state.store.leave_room(room, side).await,
        }
    }
}

/// Forwards opaque messages between the two sides until one leaves or the pairing fails.
async fn relay(
    mut socket: WebSocket,
    mailbox: Mailbox,
    side: Side,
    mut events: Subscription,
    state: &AppState,
) {
    let mut sent: u32 = 0;
    let mut vanished = false;
    let mut overflowed = false;
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
                    // In a room the other side may come after this one.
                    Some(MailboxEvent::PeerJoined) if matches!(mailbox, Mailbox::Room(_)) => {
                        ServerMessage::PeerJoined { report_token: None }
                    }
                    Some(MailboxEvent::PeerJoined) => continue,
                    Some(MailboxEvent::Overflowed) => {
                        state.metrics.mailbox_overflows.inc();
                        refuse(
                            &mut socket,
                            ErrorCode::MailboxOverflow,
                            "the mailbox was closed: one side stopped reading",
                        )
                        .await;
                        overflowed = true;
                        break;
                    }
                    None => break,
                };
                let last = !matches!(msg, ServerMessage::Message { .. } | ServerMessage::PeerJoined { .. });
                if !send(&mut socket, &msg).await {
                    // A client that does not read: if its queue overflowed meanwhile, the
                    // other side hears why.
                    overflowed = events.overflowed();
                    if overflowed {
                        state.metrics.mailbox_overflows.inc();
                    } else {
                        // Nobody there to write to: the client vanished, even if the write
                        // noticed before the read did (its record must not wait for a
                        // report that cannot come). What it said before vanishing may still
                        // be unread (a reset connection keeps it readable): its last word,
                        // such as a sharer's decline, must reach the other side.
                        vanished = true;
                        forward_last_words(&mut socket, mailbox, side, &mut sent, state).await;
                    }
                    break;
                }
                if last {
                    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.close()).await;
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
                    let _ = mailbox.publish(state, side.peer(), MailboxEvent::Message(body)).await;
                }
                Read::Message(Ok(ClientMessage::PairingFailed)) if matches!(mailbox, Mailbox::Code(_)) => {
                    let Mailbox::Code(nameplate) = mailbox else { break };
                    info!(%nameplate, "pairing failed; nameplate burned");
                    state.metrics.pairing_failures.inc();
                    let _ = state.store.burn(nameplate).await;
                    let _ = state.store.publish(nameplate, side.peer(), MailboxEvent::PairingFailed).await;
                    state.store.leave(nameplate, side).await;
                    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.close()).await;
                    return;
                }
                Read::Message(Ok(_)) => {
                    refuse(&mut socket, ErrorCode::BadRequest, "already paired").await;
                    break;
                }
                Read::Message(Err(e)) => {
                    warn!(?mailbox, "malformed message: {e}");
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
    if let Mailbox::Code(nameplate) = mailbox {
        if vanished {
            state.records.vanished(nameplate).await;
        } else if side == Side::Helper {
            state.records.mailbox_closed(nameplate).await;
        }
    }
    mailbox.leave(state, side).await;
    // An overflow closes the mailbox for the other side too, with the same clear error.
    let last = if overflowed {
        MailboxEvent::Overflowed
    } else {
        MailboxEvent::PeerLeft
    };
    let _ = mailbox.publish(state, side.peer(), last).await;
}

/// How long a vanished client's unread messages are looked for: they are already in this
/// machine's buffers, so this bounds only a client that keeps its end half open.
const LAST_WORDS_WAIT: Duration = Duration::from_secs(1);

/// Forwards what a client sent before a write to it failed, within the same limits as
/// the relay; stops at the first thing that is not a message.
async fn forward_last_words(
    socket: &mut WebSocket,
    mailbox: Mailbox,
    side: Side,
    sent: &mut u32,
    state: &AppState,
) {
    let drain = async {
        while let Read::Message(Ok(ClientMessage::Send { body })) = next_read(socket).await {
            *sent += 1;
            if body.len() > MAX_BODY_LEN * 4 / 3 + 4 || *sent > MAX_MESSAGES_PER_SIDE {
                return;
            }
            state.metrics.messages_forwarded.inc();
            let _ = mailbox
                .publish(state, side.peer(), MailboxEvent::Message(body))
                .await;
        }
    };
    let _ = tokio::time::timeout(LAST_WORDS_WAIT, drain).await;
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl AppState {
    /// The keys a sharer accepts introductions under: this instance's, and those the other
    /// instances announced.
    async fn introducer_keys(&self) -> Vec<IntroducerKey> {
        let own = self.introducer.public_key().clone();
        let mut keys = vec![own.clone()];
        keys.extend(
            self.store
                .introducer_keys()
                .await
                .into_iter()
                .filter(|k| k.id != own.id)
                .take(crate::introduction::MAX_INTRODUCER_KEYS - 1),
        );
        keys
    }
}
