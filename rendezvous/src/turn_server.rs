//! A TURN server inside the rendezvous, for the one-binary deployment: UDP, and TLS on a
//! TCP port (443 passes corporate firewalls). The TURN protocol is webrtc-rs's `turn`
//! server; what it lacks is a stream transport, so TLS connections are adapted here into
//! the packet interface it reads (one "peer address" per connection, STUN/ChannelData
//! framing on the stream). Credentials are the TURN REST API scheme the rendezvous issues.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tracing::{debug, info};
use turn::auth::{generate_auth_key, AuthHandler};
use turn::relay::relay_static::RelayAddressGeneratorStatic;
use turn::server::config::{ConnConfig, ServerConfig as TurnConfig};
use turn::server::Server;
use webrtc_util::vnet::net::Net;
use webrtc_util::Conn;

use crate::client_address::TrustedProxies;
use crate::listener::{Admission, ConnectionLimits};
use crate::turn_credentials::rest_password;
use crate::turn_framing::{frame_len, MAX_FRAME};
use crate::turn_guard::{PeerPolicy, TurnGuard, TurnQuotas, Verdict};

/// A TLS client must hold an allocation this long after connecting, or is dropped (a
/// connection that never authenticates costs a descriptor and a task).
const UNAUTHENTICATED_FOR: Duration = Duration::from_secs(30);
/// A client with an allocation that sends nothing for this long is gone (TURN clients
/// refresh permissions every 5 minutes).
const IDLE_FOR: Duration = Duration::from_secs(10 * 60);
/// Frames queued for one TLS client at most (about a second of video at full rate).
const OUTGOING_FRAMES: usize = 512;

pub const REALM: &str = "tandem";

#[derive(Debug, thiserror::Error)]
pub enum TurnServerError {
    #[error("TURN listener {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    #[error("TURN server: {0}")]
    Server(String),
}

pub struct EmbeddedTurnConfig {
    pub udp: Option<SocketAddr>,
    pub tls: Option<(SocketAddr, Arc<rustls::ServerConfig>)>,
    /// The address peers send to (the public IP of this machine).
    pub relay_ip: IpAddr,
    /// Where relay sockets are bound: the listen IP, so that their packets leave from the
    /// advertised address on a machine with several (unspecified: let routing choose).
    pub relay_bind: IpAddr,
    pub secret: String,
    /// Peers that may be relayed to although private or local (test networks).
    pub allow_peers: Vec<ipnet::IpNet>,
    pub quotas: TurnQuotas,
    /// Caps and timeouts of the TLS listener (the same kind as the rendezvous's).
    pub connection_limits: ConnectionLimits,
}

/// Runs until dropped.
pub struct EmbeddedTurn {
    server: Option<Server>,
    pub udp: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
}

impl Drop for EmbeddedTurn {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            tokio::spawn(async move {
                let _ = server.close().await;
            });
        }
    }
}

/// `expiry:label` usernames with `base64(HMAC-SHA1(secret, username))` passwords.
struct RestAuth {
    secret: String,
}

impl AuthHandler for RestAuth {
    fn auth_handle(
        &self,
        username: &str,
        realm: &str,
        _src: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        let expiry: u64 = username
            .split(':')
            .next()
            .and_then(|e| e.parse().ok())
            .ok_or_else(|| turn::Error::Other("not a REST username".into()))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(u64::MAX);
        if expiry < now {
            return Err(turn::Error::Other("expired credentials".into()));
        }
        let password = rest_password(&self.secret, username);
        Ok(generate_auth_key(username, realm, &password))
    }
}

pub async fn start(config: EmbeddedTurnConfig) -> Result<EmbeddedTurn, TurnServerError> {
    let mut conn_configs = Vec::new();
    let mut own = vec![config.relay_ip, config.relay_bind];
    own.extend(config.udp.map(|a| a.ip()));
    own.extend(config.tls.as_ref().map(|(a, _)| a.ip()));
    let guard = TurnGuard::new(
        PeerPolicy {
            allow: config.allow_peers.clone(),
            own,
        },
        config.quotas.clone(),
    );
    let guarded = |conn: Arc<dyn Conn + Send + Sync>| -> Result<Arc<dyn Conn + Send + Sync>, TurnServerError> {
        Ok(Arc::new(
            GuardedConn::new(conn, Arc::clone(&guard)).map_err(|e| TurnServerError::Server(e.to_string()))?,
        ))
    };
    let relay = || -> Box<dyn turn::relay::RelayAddressGenerator + Send + Sync> {
        Box::new(RelayAddressGeneratorStatic {
            relay_address: config.relay_ip,
            address: config.relay_bind.to_string(),
            net: Arc::new(Net::new(None)),
        })
    };
    let mut udp_addr = None;
    if let Some(addr) = config.udp {
        let socket = UdpSocket::bind(addr)
            .await
            .map_err(|e| TurnServerError::Listen {
                addr,
                reason: e.to_string(),
            })?;
        udp_addr = socket.local_addr().ok();
        conn_configs.push(ConnConfig {
            conn: guarded(Arc::new(socket))?,
            relay_addr_generator: relay(),
        });
    }
    let mut tls_addr = None;
    if let Some((addr, tls)) = config.tls {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| TurnServerError::Listen {
                addr,
                reason: e.to_string(),
            })?;
        let local = listener.local_addr().map_err(|e| TurnServerError::Listen {
            addr,
            reason: e.to_string(),
        })?;
        tls_addr = Some(local);
        let admission = Arc::new(Admission::new(
            config.connection_limits.clone(),
            TrustedProxies::default(),
        ));
        conn_configs.push(ConnConfig {
            conn: guarded(Arc::new(StreamConns::serve(
                listener,
                local,
                tls,
                admission,
                Arc::clone(&guard),
            )))?,
            relay_addr_generator: relay(),
        });
    }
    // The guard learns when the server closes an allocation (expiry, refresh to 0).
    let (closed_tx, mut closed_rx) = mpsc::channel::<turn::allocation::AllocationInfo>(1024);
    let closed_guard = Arc::clone(&guard);
    tokio::spawn(async move {
        while let Some(info) = closed_rx.recv().await {
            closed_guard.closed(info.five_tuple.dst_addr, info.five_tuple.src_addr);
        }
    });
    let server = Server::new(TurnConfig {
        conn_configs,
        realm: REALM.into(),
        auth_handler: Arc::new(RestAuth {
            secret: config.secret,
        }),
        channel_bind_timeout: Duration::from_secs(0),
        alloc_close_notify: Some(closed_tx),
    })
    .await
    .map_err(|e| TurnServerError::Server(e.to_string()))?;
    info!(udp = ?udp_addr, tls = ?tls_addr, relay = %config.relay_ip, "embedded TURN ready");
    Ok(EmbeddedTurn {
        server: Some(server),
        udp: udp_addr,
        tls: tls_addr,
    })
}

/// Every TLS connection on one listener, seen as one packet socket: a message read from a
/// connection comes "from" its remote address; one sent "to" that address is written to it.
struct StreamConns {
    local: SocketAddr,
    incoming: tokio::sync::Mutex<mpsc::Receiver<(Vec<u8>, SocketAddr)>>,
    writers: Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>,
}

impl StreamConns {
    fn serve(
        listener: TcpListener,
        local: SocketAddr,
        tls: Arc<rustls::ServerConfig>,
        admission: Arc<Admission>,
        guard: Arc<TurnGuard>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(1024);
        let writers: Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>> = Arc::default();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let registry = writers.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(v) => v,
                    Err(e) => {
                        // Out of descriptors, or a reset before accept: keep serving.
                        debug!("TURN accept: {e}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let Ok(permit) = admission.admit(peer.ip()) else {
                    debug!(%peer, "TURN TLS connection over the cap");
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let (acceptor, tx, registry, guard) = (
                    acceptor.clone(),
                    tx.clone(),
                    registry.clone(),
                    Arc::clone(&guard),
                );
                let handshake_timeout = admission.limits().tls_handshake_timeout;
                tokio::spawn(async move {
                    let _permit = permit;
                    let stream =
                        match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                            Ok(Ok(s)) => s,
                            _ => {
                                debug!(%peer, "TURN TLS handshake failed");
                                return;
                            }
                        };
                    let (mut reader, mut writer) = tokio::io::split(stream);
                    // Bounded: a client that does not read loses packets, as over UDP,
                    // instead of growing the server.
                    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(OUTGOING_FRAMES);
                    if let Ok(mut map) = registry.lock() {
                        map.insert(peer, out_tx);
                    }
                    let write_task = tokio::spawn(async move {
                        while let Some(frame) = out_rx.recv().await {
                            if writer.write_all(&frame).await.is_err() {
                                break;
                            }
                        }
                    });
                    let mut buf = Vec::with_capacity(MAX_FRAME);
                    let mut chunk = vec![0u8; 16 * 1024];
                    let connected = tokio::time::Instant::now();
                    'read: loop {
                        // Until it allocates, a client has what is left of its first
                        // seconds; then it may be quiet for a while.
                        let wait = if guard.has_allocation(local, peer) {
                            IDLE_FOR
                        } else {
                            UNAUTHENTICATED_FOR.saturating_sub(connected.elapsed())
                        };
                        let n = match tokio::time::timeout(wait, reader.read(&mut chunk)).await {
                            Ok(Ok(0) | Err(_)) => break,
                            Ok(Ok(n)) => n,
                            Err(_) => {
                                debug!(%peer, "TURN TLS connection idle or never allocated");
                                break;
                            }
                        };
                        buf.extend_from_slice(&chunk[..n]);
                        loop {
                            match frame_len(&buf) {
                                Ok(Some(len)) => {
                                    let frame: Vec<u8> = buf.drain(..len).collect();
                                    if tx.send((frame, peer)).await.is_err() {
                                        break 'read;
                                    }
                                }
                                Ok(None) if buf.len() <= MAX_FRAME => break,
                                // Garbage or an impossible length: drop the client.
                                _ => break 'read,
                            }
                        }
                    }
                    if let Ok(mut map) = registry.lock() {
                        map.remove(&peer);
                    }
                    write_task.abort();
                });
            }
        });
        Self {
            local,
            incoming: tokio::sync::Mutex::new(rx),
            writers,
        }
    }
}

fn io_err(msg: &str) -> webrtc_util::Error {
    webrtc_util::Error::Io(std::io::Error::other(msg.to_string()).into())
}

#[async_trait]
impl Conn for StreamConns {
    async fn connect(&self, _addr: SocketAddr) -> Result<(), webrtc_util::Error> {
        Err(io_err("not supported"))
    }

    async fn recv(&self, buf: &mut [u8]) -> Result<usize, webrtc_util::Error> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), webrtc_util::Error> {
        let mut rx = self.incoming.lock().await;
        loop {
            let (frame, from) = rx.recv().await.ok_or_else(|| io_err("listener closed"))?;
            if frame.len() <= buf.len() {
                buf[..frame.len()].copy_from_slice(&frame);
                return Ok((frame.len(), from));
            }
        }
    }

    async fn send(&self, _buf: &[u8]) -> Result<usize, webrtc_util::Error> {
        Err(io_err("not connected"))
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> Result<usize, webrtc_util::Error> {
        let writer = self
            .writers
            .lock()
            .ok()
            .and_then(|m| m.get(&target).cloned());
        match writer {
            // A full queue (the client does not read) or a client that went away: as with
            // UDP, the message is simply lost.
            Some(w) => {
                let _ = w.try_send(buf.to_vec());
                Ok(buf.len())
            }
            None => Ok(buf.len()),
        }
    }

    fn local_addr(&self) -> Result<SocketAddr, webrtc_util::Error> {
        Ok(self.local)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> Result<(), webrtc_util::Error> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

/// A client-facing socket of the TURN server with the guard in front.
pub struct GuardedConn {
    inner: Arc<dyn Conn + Send + Sync>,
    local: SocketAddr,
    guard: Arc<TurnGuard>,
}

impl GuardedConn {
    pub fn new(
        inner: Arc<dyn Conn + Send + Sync>,
        guard: Arc<TurnGuard>,
    ) -> Result<Self, webrtc_util::Error> {
        let local = inner.local_addr()?;
        Ok(Self {
            inner,
            local,
            guard,
        })
    }
}

#[async_trait]
impl Conn for GuardedConn {
    async fn connect(&self, addr: SocketAddr) -> Result<(), webrtc_util::Error> {
        self.inner.connect(addr).await
    }

    async fn recv(&self, buf: &mut [u8]) -> Result<usize, webrtc_util::Error> {
        self.recv_from(buf).await.map(|(n, _)| n)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), webrtc_util::Error> {
        loop {
            let (n, from) = self.inner.recv_from(buf).await?;
            match self
                .guard
                .inbound(self.local, from, &buf[..n], Instant::now())
            {
                Verdict::Pass => return Ok((n, from)),
                Verdict::Drop => continue,
                Verdict::Reply(answer) => {
                    let _ = self.inner.send_to(&answer, from).await;
                }
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> Result<usize, webrtc_util::Error> {
        self.inner.send(buf).await
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> Result<usize, webrtc_util::Error> {
        match self.guard.outbound(self.local, target, buf, Instant::now()) {
            Verdict::Pass | Verdict::Reply(_) => self.inner.send_to(buf, target).await,
            // Lost, as on a congested path.
            Verdict::Drop => Ok(buf.len()),
        }
    }

    fn local_addr(&self) -> Result<SocketAddr, webrtc_util::Error> {
        Ok(self.local)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.remote_addr()
    }

    async fn close(&self) -> Result<(), webrtc_util::Error> {
        self.inner.close().await
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_credentials_are_checked_with_the_secret_and_the_clock() {
        let auth = RestAuth { secret: "s".into() };
        let addr: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        let future = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() + 600)
            .unwrap_or(0);
        let user = format!("{future}:ABCD-helper");
        let key = auth.auth_handle(&user, REALM, addr).expect("valid");
        assert_eq!(
            key,
            generate_auth_key(&user, REALM, &rest_password("s", &user))
        );
        assert!(
            auth.auth_handle("1000:old", REALM, addr).is_err(),
            "expired"
        );
        assert!(auth.auth_handle("anna", REALM, addr).is_err(), "not REST");
    }
}
