//! Accepting connections on the open internet: every connection is counted against a
//! global cap and a cap per client network before anything is read from it, a TLS
//! handshake and a request's headers must arrive in time, and the count holds until the
//! connection (or the WebSocket it became) is closed. Without this, a few hundred
//! half-sent requests exhaust the file descriptors and `/healthz` stops answering.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;
use tracing::debug;

use crate::client_address::{network_of, TrustedProxies};

#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Open connections at most, all clients together (keep well under the file limit).
    pub max_total: usize,
    /// Open connections at most from one client network (an IPv4 address, an IPv6 /64);
    /// trusted proxies are exempt.
    pub max_per_network: usize,
    /// A request's headers (and, idle between requests, the next request's) must arrive
    /// within this.
    pub header_timeout: Duration,
    /// A TLS handshake must finish within this.
    pub tls_handshake_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_total: 16_000,
            max_per_network: 64,
            header_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// Held while a connection is open; a request carries it in its extensions so that a
/// WebSocket made from the connection keeps holding it.
#[derive(Clone)]
pub struct ConnectionPermit(#[allow(dead_code)] Arc<Held>);

/// Open connections per client network.
type NetworkCounts = Arc<Mutex<HashMap<IpAddr, usize>>>;

struct Held {
    _total: OwnedSemaphorePermit,
    network: Option<(IpAddr, NetworkCounts)>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some((net, counts)) = &self.network {
            let mut counts = counts.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = counts.get_mut(net) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(net);
                }
            }
        }
    }
}

/// Admission: the caps, checked at accept time.
pub struct Admission {
    limits: ConnectionLimits,
    total: Arc<Semaphore>,
    per_network: NetworkCounts,
    trusted: TrustedProxies,
}

/// Why a connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Total,
    PerNetwork,
}

impl Admission {
    pub fn new(limits: ConnectionLimits, trusted: TrustedProxies) -> Self {
        Self {
            total: Arc::new(Semaphore::new(limits.max_total.max(1))),
            per_network: Arc::default(),
            limits,
            trusted,
        }
    }

    pub fn limits(&self) -> &ConnectionLimits {
        &self.limits
    }

    pub fn admit(&self, peer: IpAddr) -> Result<ConnectionPermit, Refusal> {
        let total = Arc::clone(&self.total)
            .try_acquire_owned()
            .map_err(|_| Refusal::Total)?;
        let network = if self.trusted.contains(peer) {
            None
        } else {
            let net = network_of(peer);
            let mut counts = self.per_network.lock().unwrap_or_else(|p| p.into_inner());
            let n = counts.entry(net).or_insert(0);
            if *n >= self.limits.max_per_network {
                return Err(Refusal::PerNetwork);
            }
            *n += 1;
            Some((net, Arc::clone(&self.per_network)))
        };
        Ok(ConnectionPermit(Arc::new(Held {
            _total: total,
            network,
        })))
    }
}

/// Where a connection's TLS configuration comes from (reloaded on SIGHUP).
pub type TlsSource = axum_server::tls_rustls::RustlsConfig;

/// Accepts until `shutdown`; HTTP connections then finish their request and close, while
/// WebSockets already open go on (the caller drains them).
pub async fn serve_connections(
    listener: TcpListener,
    tls: Option<TlsSource>,
    router: Router,
    admission: Arc<Admission>,
    refused: impl Fn(Refusal),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(v) => v,
                Err(e) => {
                    // Out of descriptors or a reset before accept: keep serving the others.
                    debug!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let permit = match admission.admit(peer.ip()) {
            Ok(p) => p,
            Err(refusal) => {
                refused(refusal);
                drop(tcp);
                continue;
            }
        };
        // Pairing is a ping-pong of small messages: Nagle + delayed ACK would add ~40 ms a turn.
        let _ = tcp.set_nodelay(true);
        let (tls, router, limits, stop) = (
            tls.clone(),
            router.clone(),
            admission.limits.clone(),
            stop_rx.clone(),
        );
        tokio::spawn(async move {
            match tls {
                None => serve_one(tcp, peer, permit, router, &limits, stop).await,
                Some(tls) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(tls.get_inner());
                    let handshake =
                        tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(tcp));
                    match handshake.await {
                        Ok(Ok(stream)) => {
                            serve_one(stream, peer, permit, router, &limits, stop).await
                        }
                        Ok(Err(e)) => debug!(%peer, "TLS handshake: {e}"),
                        Err(_) => debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    Ok(())
}

async fn serve_one<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    peer: SocketAddr,
    permit: ConnectionPermit,
    router: Router,
    limits: &ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(permit.clone());
        router.clone().oneshot(request.map(axum::body::Body::new))
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024);
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                debug!(%peer, "connection: {e}");
            }
        }
        _ = async { stop.wait_for(|stopped| *stopped).await.map(|_| ()) } => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_network_and_in_total_release_when_dropped() {
        let admission = Admission::new(
            ConnectionLimits {
                max_total: 3,
                max_per_network: 2,
                ..ConnectionLimits::default()
            },
            TrustedProxies::new(vec!["10.0.0.1/32".parse().expect("net")]),
        );
        let a: IpAddr = "2001:db8:0:1::1".parse().expect("ip");
        let a2: IpAddr = "2001:db8:0:1::2".parse().expect("ip");
        let b: IpAddr = "192.0.2.1".parse().expect("ip");
        let first = admission.admit(a).expect("first");
        let _second = admission.admit(a2).expect("same /64, second");
        assert_eq!(admission.admit(a).err(), Some(Refusal::PerNetwork));
        let _third = admission.admit(b).expect("another network");
        assert_eq!(admission.admit(b).err(), Some(Refusal::Total));
        drop(first);
        let _again = admission.admit(a).expect("a slot came back");
        // A trusted proxy is not capped per network (but counts in the total).
        let admission = Admission::new(
            ConnectionLimits {
                max_total: 10,
                max_per_network: 1,
                ..ConnectionLimits::default()
            },
            TrustedProxies::new(vec!["10.0.0.1/32".parse().expect("net")]),
        );
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let held: Vec<_> = (0..5)
            .map(|_| admission.admit(proxy).expect("proxy"))
            .collect();
        assert_eq!(held.len(), 5);
    }
}
