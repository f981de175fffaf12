//! The rendezvous client used by the app: one WebSocket to the mailbox.

use std::path::Path;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::wire::{
    ClientMessage, ErrorCode, HelperIdentity, IceServer, IntroducerKey, RoomSide, ServerMessage,
    SignedIntroduction, MAILBOX_PATH,
};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the rendezvous at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("{message}")]
    Refused { code: ErrorCode, message: String },
    #[error("rendezvous protocol error: {0}")]
    Protocol(String),
    #[error("the rendezvous closed the connection")]
    Closed,
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error(
        "refusing to talk to the rendezvous at {0} without TLS: use wss://, or \
         --insecure-rendezvous on a network you trust"
    )]
    Insecure(String),
}

/// What the peer side of the mailbox did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    PeerJoined,
    Message(Vec<u8>),
    PeerLeft,
    PairingFailed,
}

#[derive(Debug, Clone)]
pub struct Allocation {
    pub nameplate: String,
    pub expires_in_secs: u64,
    pub ice_servers: Vec<IceServer>,
    /// To forward to the sharer once paired.
    pub introduction: SignedIntroduction,
}

/// What the sharer learns on joining: only the keys that the helper's introduction must be
/// signed with.
#[derive(Debug, Clone)]
pub struct Joined {
    pub introducer_keys: Vec<IntroducerKey>,
    /// The rendezvous's clock when it answered, Unix seconds.
    pub server_time: u64,
}

#[derive(Debug)]
pub struct MailboxClient {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Helper: the token for the session report, given at pairing.
    report_token: Option<String>,
}

/// TLS trust for `wss://` URLs: the public web roots plus an optional extra CA (PEM), e.g. a
/// company's own or a self-signed development certificate.
pub fn tls_config(extra_ca_pem: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca_pem {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?
            .collect::<Result<_, _>>()
            .map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(ClientError::Tls(format!(
                "{}: no certificate found",
                path.display()
            )));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Whether `url` may be used without TLS: only on this machine, unless the person said so.
/// A helper's ID token and the nameplate travel on this connection.
pub fn check_plain_text(url: &str, allow_remote: bool) -> Result<(), ClientError> {
    let Some(rest) = url.strip_prefix("ws://") else {
        return Ok(());
    };
    let parsed = url::Url::parse(url).map_err(|e| ClientError::Connect {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    let local = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if local || allow_remote {
        Ok(())
    } else {
        Err(ClientError::Insecure(format!(
            "ws://{}",
            rest.split('/').next().unwrap_or_default()
        )))
    }
}

impl MailboxClient {
    /// Connects to `base` (`wss://host`, or `ws://` on this machine).
    pub async fn connect(
        base: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Self, ClientError> {
        Self::open(base, tls, false).await
    }

    /// [`Self::connect`], allowing `ws://` to another machine (`--insecure-rendezvous`).
    pub async fn connect_allowing_plain_text(
        base: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Self, ClientError> {
        Self::open(base, tls, true).await
    }

    async fn open(
        base: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
        allow_plain_text: bool,
    ) -> Result<Self, ClientError> {
        let url = format!("{}{}", base.trim_end_matches('/'), MAILBOX_PATH);
        check_plain_text(&url, allow_plain_text)?;
        let connector = match tls {
            Some(config) => Some(tokio_tungstenite::Connector::Rustls(config)),
            None if url.starts_with("wss://") => {
                Some(tokio_tungstenite::Connector::Rustls(tls_config(None)?))
            }
            None => None,
        };
        let (ws, _) =
            tokio_tungstenite::connect_async_tls_with_config(url.as_str(), None, true, connector)
                .await
                .map_err(|e| ClientError::Connect {
                    url: url.clone(),
                    reason: e.to_string(),
                })?;
        Ok(Self {
            ws,
            report_token: None,
        })
    }

    /// Helper: the token that lets the app report how the session went (see
    /// [`Self::report_session`]); known once the sharer has joined.
    pub fn report_token(&self) -> Option<&str> {
        self.report_token.as_deref()
    }

    /// The helper's report at the end of a session, on a connection of its own.
    pub async fn report_session(
        base: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
        allow_plain_text: bool,
        token: &str,
        report: crate::records::SessionReport,
    ) -> Result<(), ClientError> {
        let mut client = Self::open(base, tls, allow_plain_text).await?;
        client
            .send_msg(&ClientMessage::Report {
                token: token.to_string(),
                report,
            })
            .await?;
        let answer = client.recv_msg().await;
        client.close().await;
        match answer? {
            ServerMessage::Reported => Ok(()),
            other => Err(ClientError::Protocol(format!(
                "expected reported, got {other:?}"
            ))),
        }
    }

    async fn send_msg(&mut self, msg: &ClientMessage) -> Result<(), ClientError> {
        let text = serde_json::to_string(msg).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.ws
            .send(Message::Text(text.into()))
            .await
            .map_err(|_| ClientError::Closed)
    }

    async fn recv_msg(&mut self) -> Result<ServerMessage, ClientError> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let msg: ServerMessage = serde_json::from_str(&text)
                        .map_err(|e| ClientError::Protocol(e.to_string()))?;
                    if let ServerMessage::Error { code, message } = msg {
                        return Err(ClientError::Refused { code, message });
                    }
                    return Ok(msg);
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Binary(_))) => {
                    return Err(ClientError::Protocol("unexpected binary frame".into()))
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    return Err(ClientError::Closed)
                }
            }
        }
    }

    /// Helper: asks for a nameplate.
    pub async fn allocate(&mut self, identity: HelperIdentity) -> Result<Allocation, ClientError> {
        self.send_msg(&ClientMessage::Allocate { identity }).await?;
        match self.recv_msg().await? {
            ServerMessage::Allocated {
                nameplate,
                expires_in_secs,
                ice_servers,
                introduction,
            } => Ok(Allocation {
                nameplate,
                expires_in_secs,
                ice_servers,
                introduction,
            }),
            other => Err(ClientError::Protocol(format!(
                "expected allocated, got {other:?}"
            ))),
        }
    }

    /// Sharer: claims a nameplate.
    pub async fn join(&mut self, nameplate: &str) -> Result<Joined, ClientError> {
        self.send_msg(&ClientMessage::Join {
            nameplate: nameplate.to_string(),
        })
        .await?;
        match self.recv_msg().await? {
            ServerMessage::Joined {
                introducer_keys,
                server_time,
            } => Ok(Joined {
                introducer_keys,
                server_time,
            }),
            other => Err(ClientError::Protocol(format!(
                "expected joined, got {other:?}"
            ))),
        }
    }

    /// Either side of a session whose network changed: enters the session's room. Returns
    /// whether the other side is there already (otherwise [`PeerEvent::PeerJoined`] comes).
    pub async fn resume(&mut self, room: &str, side: RoomSide) -> Result<bool, ClientError> {
        self.send_msg(&ClientMessage::Resume {
            room: room.to_string(),
            side,
        })
        .await?;
        match self.recv_msg().await? {
            ServerMessage::Met { peer_present } => Ok(peer_present),
            other => Err(ClientError::Protocol(format!(
                "expected met, got {other:?}"
            ))),
        }
    }

    pub async fn send(&mut self, body: &[u8]) -> Result<(), ClientError> {
        self.send_msg(&ClientMessage::Send {
            body: B64.encode(body),
        })
        .await
    }

    pub async fn report_pairing_failed(&mut self) -> Result<(), ClientError> {
        self.send_msg(&ClientMessage::PairingFailed).await
    }

    /// The next event from the peer side. Cancel-safe.
    pub async fn recv(&mut self) -> Result<PeerEvent, ClientError> {
        match self.recv_msg().await? {
            ServerMessage::PeerJoined { report_token } => {
                self.report_token = report_token;
                Ok(PeerEvent::PeerJoined)
            }
            ServerMessage::Message { body } => B64
                .decode(body.as_bytes())
                .map(PeerEvent::Message)
                .map_err(|e| ClientError::Protocol(format!("bad message body: {e}"))),
            ServerMessage::PeerLeft => Ok(PeerEvent::PeerLeft),
            ServerMessage::PairingFailed => Ok(PeerEvent::PairingFailed),
            other => Err(ClientError::Protocol(format!("unexpected {other:?}"))),
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_only_on_this_machine_unless_asked() {
        for local in [
            "ws://127.0.0.1:8443/v1/mailbox",
            "ws://[::1]:1/v1/mailbox",
            "ws://localhost/v1/mailbox",
            "wss://rendezvous.example.org/v1/mailbox",
        ] {
            assert!(check_plain_text(local, false).is_ok(), "{local}");
        }
        for remote in [
            "ws://rendezvous.example.org/v1/mailbox",
            "ws://203.0.113.1:8443/v1/mailbox",
            "ws://127.0.0.1.example.org/v1/mailbox",
        ] {
            assert!(
                matches!(
                    check_plain_text(remote, false),
                    Err(ClientError::Insecure(_))
                ),
                "{remote}"
            );
            assert!(check_plain_text(remote, true).is_ok(), "{remote}");
        }
    }
}
