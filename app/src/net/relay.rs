//! A TURN allocation (RFC 8656) driven by the sans-IO `rtc-turn` client, reached over UDP,
//! TCP or TLS. Over a stream the app frames STUN messages and ChannelData itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc_shared::{TransportContext, TransportMessage, TransportProtocol};
use rtc_turn::client::{Client, ClientConfig, Event};
use sansio::Protocol;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, trace};

use tandem_rendezvous::turn_framing::{frame_len, NotTurn};

use super::ice_servers::{ServerUrl, TurnTransport};
use super::transport::{Inbound, RelayCommand};

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("cannot resolve the TURN server {0}")]
    Resolve(String),
    #[error("cannot reach the TURN server {server}: {reason}")]
    Connect { server: String, reason: String },
    #[error("TLS with the TURN server {server}: {reason}")]
    Tls { server: String, reason: String },
    #[error("the TURN server {server} refused the allocation: {reason}")]
    Refused { server: String, reason: String },
    #[error("the TURN server {0} did not answer")]
    Timeout(String),
    #[error("not a TURN URL")]
    NotTurn,
}

/// A working allocation.
pub struct Relay {
    /// The address peers send to; the relay candidate.
    pub relayed: SocketAddr,
    pub server: SocketAddr,
    pub over: TurnTransport,
    pub commands: mpsc::UnboundedSender<RelayCommand>,
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

enum Io {
    Udp(UdpSocket),
    Stream(Box<dyn Stream>),
}

/// Allocates a relay on `url`; packets it receives go to `inbound`. The allocation lives
/// until the returned [`Relay`]'s command sender (and every clone) is dropped.
pub async fn allocate(
    url: &ServerUrl,
    tls: Option<Arc<rustls::ClientConfig>>,
    inbound: Inbound,
    timeout: Duration,
) -> Result<Relay, RelayError> {
    let ServerUrl::Turn {
        host,
        transport,
        username,
        password,
        ..
    } = url
    else {
        return Err(RelayError::NotTurn);
    };
    let name = format!("{}:{}", url.host_port().0, url.host_port().1);
    let server = url
        .resolve()
        .await
        .ok_or_else(|| RelayError::Resolve(name.clone()))?;
    let connect_err = |e: std::io::Error| RelayError::Connect {
        server: name.clone(),
        reason: e.to_string(),
    };
    let (io, local) = match transport {
        TurnTransport::Udp => {
            let socket = UdpSocket::bind(("0.0.0.0", 0)).await.map_err(connect_err)?;
            let local = socket.local_addr().map_err(connect_err)?;
            (Io::Udp(socket), local)
        }
        TurnTransport::Tcp | TurnTransport::Tls => {
            let tcp = tokio::time::timeout(timeout, TcpStream::connect(server))
                .await
                .map_err(|_| RelayError::Timeout(name.clone()))?
                .map_err(connect_err)?;
            let _ = tcp.set_nodelay(true);
            let local = tcp.local_addr().map_err(connect_err)?;
            if *transport == TurnTransport::Tls {
                let tls_err = |reason: String| RelayError::Tls {
                    server: name.clone(),
                    reason,
                };
                let config = tls.ok_or_else(|| tls_err("no TLS configuration".into()))?;
                let server_name = rustls::pki_types::ServerName::try_from(
                    host.trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_string(),
                )
                .map_err(|e| tls_err(e.to_string()))?;
                let stream = tokio::time::timeout(
                    timeout,
                    tokio_rustls::TlsConnector::from(config).connect(server_name, tcp),
                )
                .await
                .map_err(|_| RelayError::Timeout(name.clone()))?
                .map_err(|e| tls_err(e.to_string()))?;
                (Io::Stream(Box::new(stream)), local)
            } else {
                (Io::Stream(Box::new(tcp)), local)
            }
        }
    };
    let crypto = rtc_ice::crypto::default_provider().map_err(|e| RelayError::Refused {
        server: name.clone(),
        reason: e.to_string(),
    })?;
    let protocol = match transport {
        TurnTransport::Udp => TransportProtocol::UDP,
        _ => TransportProtocol::TCP,
    };
    let client = Client::new(
        ClientConfig {
            turn_serv_addr: server.to_string(),
            local_addr: local,
            transport_protocol: protocol,
            username: username.clone(),
            password: password.clone(),
            software: "tandem".into(),
            ..Default::default()
        },
        crypto,
    )
    .map_err(|e| RelayError::Refused {
        server: name.clone(),
        reason: e.to_string(),
    })?;
    let (commands, command_rx) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = oneshot::channel();
    tokio::spawn(run(
        RelayTask {
            client,
            server,
            local,
            protocol,
            inbound,
            ready: Some(ready_tx),
            relayed: None,
        },
        io,
        command_rx,
    ));
    let relayed = tokio::time::timeout(timeout, ready_rx)
        .await
        .map_err(|_| RelayError::Timeout(name.clone()))?
        .map_err(|_| RelayError::Timeout(name.clone()))?
        .map_err(|reason| RelayError::Refused {
            server: name.clone(),
            reason,
        })?;
    Ok(Relay {
        relayed,
        server,
        over: *transport,
        commands,
    })
}

struct RelayTask {
    client: Client,
    server: SocketAddr,
    local: SocketAddr,
    protocol: TransportProtocol,
    inbound: Inbound,
    ready: Option<oneshot::Sender<Result<SocketAddr, String>>>,
    relayed: Option<SocketAddr>,
}

impl RelayTask {
    fn fail(&mut self, reason: String) {
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(Err(reason));
        }
    }

    /// False when the task should stop.
    fn handle_events(&mut self) -> bool {
        while let Some(ev) = self.client.poll_event() {
            match ev {
                Event::AllocateResponse(_, relayed) => {
                    self.relayed = Some(relayed);
                    if let Some(ready) = self.ready.take() {
                        let _ = ready.send(Ok(relayed));
                    }
                }
                Event::AllocateError(_, e) => {
                    self.fail(e.to_string());
                    return false;
                }
                Event::TransactionTimeout(_) if self.relayed.is_none() => {
                    self.fail("no answer".into());
                    return false;
                }
                Event::DataIndicationOrChannelData(_, peer, data) => {
                    if let Some(relayed) = self.relayed {
                        if !self.inbound.deliver(relayed, peer, &data) {
                            return false;
                        }
                    }
                }
                Event::CreatePermissionError(_, e) => debug!("TURN permission refused: {e}"),
                other => trace!(?other, "TURN event"),
            }
        }
        true
    }

    fn feed(&mut self, message: &[u8]) {
        let msg = TransportMessage {
            now: Instant::now(),
            transport: TransportContext {
                local_addr: self.local,
                peer_addr: self.server,
                ecn: None,
                transport_protocol: self.protocol,
            },
            message: BytesMut::from(message),
        };
        if let Err(e) = self.client.handle_read(msg) {
            trace!("TURN: {e}");
        }
    }

    fn command(&mut self, cmd: RelayCommand) {
        let Some(relayed) = self.relayed else { return };
        let now = Instant::now();
        let Ok(mut relay) = self.client.relay(relayed) else {
            return;
        };
        match cmd {
            RelayCommand::Send { peer, data } => {
                if let Err(e) = relay.send_to(now, &data, peer) {
                    // No permission yet: ask, and let ICE or QUIC retransmit.
                    trace!(%peer, "relay send: {e}");
                    let _ = relay.create_permission(now, peer);
                }
            }
            RelayCommand::Permit(peer) => {
                if let Err(e) = relay.create_permission(now, peer) {
                    debug!(%peer, "TURN permission: {e}");
                }
            }
        }
    }
}

/// Sends everything the client wants sent to the server.
async fn flush(
    task: &mut RelayTask,
    udp: &Option<UdpSocket>,
    writer: &mut Option<tokio::io::WriteHalf<Box<dyn Stream>>>,
) -> std::io::Result<()> {
    while let Some(out) = task.client.poll_write() {
        match (udp, writer.as_mut()) {
            (Some(s), _) => s.send_to(&out.message, task.server).await.map(|_| ())?,
            (None, Some(w)) => w.write_all(&out.message).await?,
            (None, None) => {}
        }
    }
    Ok(())
}

async fn run(mut task: RelayTask, io: Io, mut commands: mpsc::UnboundedReceiver<RelayCommand>) {
    let now = Instant::now();
    if let Err(e) = task.client.allocate(now) {
        task.fail(e.to_string());
        return;
    }
    let (mut reader, mut writer, udp) = match io {
        Io::Udp(s) => (None, None, Some(s)),
        Io::Stream(s) => {
            let (r, w) = tokio::io::split(s);
            (Some(r), Some(w), None)
        }
    };
    let mut datagram = vec![0u8; 65536];
    let mut stream_buf = BytesMut::with_capacity(65536);
    loop {
        if let Err(e) = flush(&mut task, &udp, &mut writer).await {
            debug!("TURN server connection: {e}");
            task.fail(e.to_string());
            return;
        }
        if !task.handle_events() {
            return;
        }
        let deadline = task
            .client
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        tokio::select! {
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                if let Err(e) = task.client.handle_timeout(Instant::now()) {
                    trace!("TURN timeout: {e}");
                }
            }
            received = async {
                match (&udp, &mut reader) {
                    (Some(s), _) => s.recv_from(&mut datagram).await.map(|(n, from)| (n, Some(from))),
                    (None, Some(r)) => r.read_buf(&mut stream_buf).await.map(|n| (n, None)),
                    (None, None) => std::future::pending().await,
                }
            } => match received {
                Ok((n, Some(from))) => {
                    if from == task.server {
                        task.feed(&datagram[..n]);
                    }
                }
                Ok((0, None)) | Err(_) => {
                    debug!("the TURN server closed the connection");
                    task.fail("connection closed".into());
                    return;
                }
                Ok((_, None)) => loop {
                    match frame_len(&stream_buf) {
                        Ok(Some(len)) => {
                            let frame = stream_buf.split_to(len);
                            task.feed(&frame);
                        }
                        Ok(None) => break,
                        Err(NotTurn) => {
                            debug!("garbage from the TURN server");
                            task.fail("garbage from the server".into());
                            return;
                        }
                    }
                },
            },
            cmd = commands.recv() => match cmd {
                Some(cmd) => task.command(cmd),
                None => {
                    // Session over: release the allocation (best effort).
                    if let Some(relayed) = task.relayed {
                        if let Ok(mut relay) = task.client.relay(relayed) {
                            let _ = relay.close(Instant::now());
                        }
                        let _ = flush(&mut task, &udp, &mut writer).await;
                    }
                    return;
                }
            },
        }
    }
}
