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
    ClientMessage, ErrorCode, HelperIdentity, IceServer, ServerMessage, MAILBOX_PATH,
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
}

/// What the sharer learns on joining.
#[derive(Debug, Clone)]
pub struct Joined {
    /// Verified by the rendezvous ("Anna R.").
    pub helper_name: String,
    pub ice_servers: Vec<IceServer>,
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

impl MailboxClient {
    /// Connects to `base` (`ws://host:port` or `wss://host`).
    pub async fn connect(
        base: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<Self, ClientError> {
        let url = format!("{}{}", base.trim_end_matches('/'), MAILBOX_PATH);
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
        token: &str,
        report: crate::records::SessionReport,
    ) -> Result<(), ClientError> {
        let mut client = Self::connect(base, tls).await?;
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
            } => Ok(Allocation {
                nameplate,
                expires_in_secs,
                ice_servers,
            }),
            other => Err(ClientError::Protocol(format!(
                "expected allocated, got {other:?}"
            ))),
        }
    }

    /// Sharer: claims a nameplate; returns the helper's verified short name.
    pub async fn join(&mut self, nameplate: &str) -> Result<Joined, ClientError> {
        self.send_msg(&ClientMessage::Join {
            nameplate: nameplate.to_string(),
        })
        .await?;
        match self.recv_msg().await? {
            ServerMessage::Joined {
                helper_name,
                ice_servers,
            } => Ok(Joined {
                helper_name,
                ice_servers,
            }),
            other => Err(ClientError::Protocol(format!(
                "expected joined, got {other:?}"
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
