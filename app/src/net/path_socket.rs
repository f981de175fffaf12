//! A quinn socket that sends over whichever ICE pair is selected right now.
//!
//! QUIC sees one fixed, virtual peer address; the real addresses live here. When ICE
//! selects a better pair (later: relay → direct), packets simply start flowing there and
//! QUIC never notices a migration.

use std::collections::HashSet;
use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use tokio::sync::mpsc;

use super::transport::{LocalTransport, Transports};

/// The address QUIC believes its peer has: in the IPv6 discard-only prefix (RFC 6666), so it
/// can never be mistaken for a real one.
pub const VIRTUAL_PEER: SocketAddr = SocketAddr::V6(SocketAddrV6::new(
    Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 1),
    1,
    0,
    0,
));
const VIRTUAL_LOCAL: SocketAddr = SocketAddr::V6(SocketAddrV6::new(
    Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 2),
    1,
    0,
    0,
));

pub struct Datagram {
    pub from: SocketAddr,
    pub payload: Vec<u8>,
}

#[derive(Default)]
struct Selection {
    current: Option<(SocketAddr, SocketAddr)>,
    /// Remote addresses session traffic is accepted from: candidates the peer signalled over
    /// the authenticated channel, and pairs ICE selected (peer-reflexive ones included). The
    /// two sides select at slightly different moments, so the first QUIC packet may arrive
    /// before this side's own selection; dropping it would cost a retransmission timeout.
    allowed: HashSet<SocketAddr>,
}

/// The selected (local, remote) pair, shared between the ICE task and the socket.
#[derive(Clone, Default)]
pub struct SelectedPair(Arc<RwLock<Selection>>);

impl SelectedPair {
    pub fn set(&self, local: SocketAddr, remote: SocketAddr) {
        let mut s = self.0.write().unwrap_or_else(|p| p.into_inner());
        s.current = Some((local, remote));
        s.allowed.insert(remote);
    }

    pub fn allow(&self, remote: SocketAddr) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .allowed
            .insert(remote);
    }

    pub fn get(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).current
    }

    pub fn accepts(&self, from: SocketAddr) -> bool {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .allowed
            .contains(&from)
    }
}

pub struct PathSocket {
    /// The ICE session whose selected pair carries the traffic; replaced when a better
    /// path is found later (relay → direct).
    route: RwLock<(Transports, SelectedPair)>,
    incoming: Mutex<mpsc::Receiver<Datagram>>,
}

impl fmt::Debug for PathSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PathSocket")
            .field("selected", &self.selected().get())
            .finish()
    }
}

impl PathSocket {
    pub fn new(
        transports: Transports,
        selected: SelectedPair,
        incoming: mpsc::Receiver<Datagram>,
    ) -> Self {
        Self {
            route: RwLock::new((transports, selected)),
            incoming: Mutex::new(incoming),
        }
    }

    fn selected(&self) -> SelectedPair {
        self.route
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    /// From now on, send over `selected` (a pair of another ICE session, whose received
    /// traffic already flows into this socket).
    pub fn switch_to(&self, transports: Transports, selected: SelectedPair) {
        *self.route.write().unwrap_or_else(|p| p.into_inner()) = (transports, selected);
    }

    fn current(&self) -> Option<(LocalTransport, SocketAddr)> {
        let route = self.route.read().unwrap_or_else(|p| p.into_inner());
        let (local, remote) = route.1.get()?;
        route.0.get(&local).map(|t| (t, remote))
    }
}

impl AsyncUdpSocket for PathSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(Poller { socket: self })
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        let route = self.route.read().unwrap_or_else(|p| p.into_inner());
        match route.1.get() {
            Some((local, remote)) => match route.0.try_send(&local, remote, transmit.contents) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(e),
                // Any other failure is a lost packet, as on the wire: quinn ends the whole
                // connection on a send error, and a network that just went away (no
                // route, the address removed) must not end the session — the path keeper
                // finds another (see `session::reconnect`).
                Err(e) => {
                    tracing::trace!("packet not sent: {e}");
                    Ok(())
                }
                Ok(()) => Ok(()),
            },
            // No path yet: QUIC retransmits once there is one.
            None => Ok(()),
        }
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let mut incoming = self.incoming.lock().unwrap_or_else(|p| p.into_inner());
        let mut filled = 0;
        while filled < bufs.len().min(meta.len()) {
            let poll = if filled == 0 {
                incoming.poll_recv(cx)
            } else {
                match incoming.try_recv() {
                    Ok(d) => Poll::Ready(Some(d)),
                    Err(_) => break,
                }
            };
            match poll {
                Poll::Ready(Some(d)) => {
                    let n = d.payload.len().min(bufs[filled].len());
                    bufs[filled][..n].copy_from_slice(&d.payload[..n]);
                    meta[filled] = RecvMeta {
                        addr: VIRTUAL_PEER,
                        len: n,
                        stride: n,
                        ecn: None,
                        dst_ip: Some(VIRTUAL_LOCAL.ip()),
                    };
                    filled += 1;
                }
                // None: the ICE agent stopped, so the session is ending and drops the
                // endpoint next. Nothing more will arrive, which is not an error (quinn
                // would log one at ERROR level for every normal end).
                Poll::Ready(None) | Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(filled))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(VIRTUAL_LOCAL)
    }

    fn may_fragment(&self) -> bool {
        false
    }
}

#[derive(Debug)]
struct Poller {
    socket: Arc<PathSocket>,
}

impl UdpPoller for Poller {
    fn poll_writable(self: Pin<&mut Self>, cx: &mut Context) -> Poll<io::Result<()>> {
        match self.socket.current() {
            Some((LocalTransport::Udp(socket), _)) => socket.poll_send_ready(cx),
            // A relay queues (its task writes to the server); none yet: QUIC waits anyway.
            _ => Poll::Ready(Ok(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// quinn ends the whole connection when a send fails: a packet that cannot leave (the
    /// network went away) must be a lost packet instead.
    #[tokio::test]
    async fn a_packet_that_cannot_leave_is_lost_not_an_error() {
        let udp = Arc::new(
            tokio::net::UdpSocket::bind("127.0.0.1:0")
                .await
                .expect("bind"),
        );
        let local = udp.local_addr().expect("addr");
        // Ready to write, so that the kernel answers rather than tokio's readiness.
        udp.writable().await.expect("writable");
        let transports = Transports::default();
        transports.insert(local, LocalTransport::Udp(udp));
        let selected = SelectedPair::default();
        // An IPv6 destination from an IPv4 socket: the kernel refuses at once, as it does
        // for a route or an address that vanished.
        selected.set(local, "[2001:db8::1]:9".parse().expect("addr"));
        let (_tx, rx) = mpsc::channel(1);
        let socket = PathSocket::new(transports.clone(), selected.clone(), rx);
        assert!(
            transports
                .try_send(&local, "[2001:db8::1]:9".parse().expect("addr"), b"x")
                .is_err_and(|e| e.kind() != io::ErrorKind::WouldBlock),
            "the send itself fails"
        );
        let transmit = Transmit {
            destination: VIRTUAL_PEER,
            ecn: None,
            contents: b"quic",
            segment_size: None,
            src_ip: None,
        };
        assert!(socket.try_send(&transmit).is_ok());
    }

    /// The ICE agent stops when the session ends, a moment before the endpoint is dropped:
    /// an error here made quinn log `ERROR quinn::endpoint: I/O error: ICE path closed`
    /// after every normal end (the README's demo printed it).
    #[tokio::test]
    async fn a_path_that_stopped_delivers_nothing_and_is_no_error() {
        let (tx, rx) = mpsc::channel(1);
        let socket = PathSocket::new(Transports::default(), SelectedPair::default(), rx);
        drop(tx);
        let mut buf = [0u8; 64];
        let mut bufs = [IoSliceMut::new(&mut buf)];
        let mut meta = [RecvMeta::default()];
        let poll =
            std::future::poll_fn(|cx| Poll::Ready(socket.poll_recv(cx, &mut bufs, &mut meta)))
                .await;
        assert!(poll.is_pending(), "{poll:?}");
    }
}
