//! QUIC endpoints over the ICE path, with pinned per-session certificates.

use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{Connection, Endpoint, EndpointConfig, TransportConfig, VarInt};
use tandem_crypto::cert::{pinned_client_config, pinned_server_config};
use tandem_crypto::{Fingerprint, SessionCertificate};

use super::path_socket::{PathSocket, VIRTUAL_PEER};

#[derive(Debug, thiserror::Error)]
pub enum QuicError {
    #[error("TLS: {0}")]
    Tls(String),
    #[error("QUIC endpoint: {0}")]
    Endpoint(#[from] std::io::Error),
    #[error("QUIC connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    #[error("QUIC connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("the peer never connected")]
    NoIncoming,
}

/// `accepts_video`: the helper receives one unidirectional stream per video frame; the
/// sharer accepts a few (input, clipboard, files) and the one control stream.
fn transport(accepts_video: bool, idle: Duration) -> Arc<TransportConfig> {
    let mut t = TransportConfig::default();
    t.keep_alive_interval(Some(Duration::from_millis(1000)));
    // How long without any packet before QUIC itself gives up (the session's own path
    // keeper tries to reconnect first).
    t.max_idle_timeout(Some(
        VarInt::from_u32(idle.as_millis().min(u128::from(u32::MAX)) as u32).into(),
    ));
    if accepts_video {
        // One video frame per unidirectional stream: allow many in flight.
        t.max_concurrent_uni_streams(VarInt::from_u32(256));
        t.max_concurrent_bidi_streams(VarInt::from_u32(0));
    } else {
        // The input stream, a copy being read, and the files that may be open at once
        // (the session refuses more of each kind than it takes), with room to spare so a
        // stream never waits for credit behind them.
        t.max_concurrent_uni_streams(VarInt::from_u32(16));
        t.max_concurrent_bidi_streams(VarInt::from_u32(1));
    }
    t.stream_receive_window(VarInt::from_u32(4 * 1024 * 1024));
    t.receive_window(VarInt::from_u32(16 * 1024 * 1024));
    t.send_window(16 * 1024 * 1024);
    t.initial_rtt(Duration::from_millis(50));
    Arc::new(t)
}

/// Sharer side: accepts exactly one connection from the helper's pinned certificate.
pub async fn accept(
    socket: Arc<PathSocket>,
    own: &SessionCertificate,
    helper: Fingerprint,
    idle: Duration,
) -> Result<(Endpoint, Connection), QuicError> {
    let tls = pinned_server_config(own, helper).map_err(|e| QuicError::Tls(e.to_string()))?;
    let crypto = QuicServerConfig::try_from(tls).map_err(|e| QuicError::Tls(e.to_string()))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    server.transport_config(transport(false, idle));
    let endpoint = Endpoint::new_with_abstract_socket(
        EndpointConfig::default(),
        Some(server),
        socket,
        Arc::new(quinn::TokioRuntime),
    )?;
    let incoming = endpoint.accept().await.ok_or(QuicError::NoIncoming)?;
    let conn = incoming.await?;
    Ok((endpoint, conn))
}

/// Helper side: connects to the sharer, which must present the pinned certificate.
pub async fn connect(
    socket: Arc<PathSocket>,
    own: &SessionCertificate,
    sharer: Fingerprint,
    idle: Duration,
) -> Result<(Endpoint, Connection), QuicError> {
    let tls = pinned_client_config(own, sharer).map_err(|e| QuicError::Tls(e.to_string()))?;
    let crypto = QuicClientConfig::try_from(tls).map_err(|e| QuicError::Tls(e.to_string()))?;
    let mut client = quinn::ClientConfig::new(Arc::new(crypto));
    client.transport_config(transport(true, idle));
    let mut endpoint = Endpoint::new_with_abstract_socket(
        EndpointConfig::default(),
        None,
        socket,
        Arc::new(quinn::TokioRuntime),
    )?;
    endpoint.set_default_client_config(client);
    let conn = endpoint.connect(VIRTUAL_PEER, "tandem.invalid")?.await?;
    Ok((endpoint, conn))
}
