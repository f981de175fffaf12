//! Where a local candidate's packets go out and how received ones are sorted.
//!
//! A host candidate is a UDP socket; a relay candidate is an allocation on a TURN server,
//! reached over UDP, TCP or TLS. Both ICE (checks) and QUIC (the session, through
//! [`PathSocket`](super::path_socket::PathSocket)) send "from" a local candidate address;
//! this map says how.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use bytes::BytesMut;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::trace;

use super::ice_servers::TurnTransport;
use super::path_socket::{Datagram, SelectedPair};

/// A packet for the relay task to send to `peer` through its allocation.
#[derive(Debug)]
pub enum RelayCommand {
    Send {
        peer: SocketAddr,
        data: Vec<u8>,
    },
    /// Let `peer` send to the allocation (TURN CreatePermission).
    Permit(SocketAddr),
}

#[derive(Clone, Debug)]
pub enum LocalTransport {
    Udp(Arc<UdpSocket>),
    Relay {
        commands: mpsc::UnboundedSender<RelayCommand>,
        over: TurnTransport,
    },
}

/// Local candidate address → how to send from it. Relays join as they are allocated.
#[derive(Clone, Default, Debug)]
pub struct Transports(Arc<RwLock<HashMap<SocketAddr, LocalTransport>>>);

impl Transports {
    pub fn insert(&self, local: SocketAddr, t: LocalTransport) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(local, t);
    }

    pub fn get(&self, local: &SocketAddr) -> Option<LocalTransport> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(local)
            .cloned()
    }

    /// Every relay, to be told about a new remote candidate.
    pub fn relays(&self) -> Vec<mpsc::UnboundedSender<RelayCommand>> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter_map(|t| match t {
                LocalTransport::Relay { commands, .. } => Some(commands.clone()),
                LocalTransport::Udp(_) => None,
            })
            .collect()
    }

    /// Sends without waiting: a full socket buffer drops the packet, as UDP would. Called
    /// for every packet: works under the read lock, nothing cloned.
    pub fn try_send(&self, local: &SocketAddr, remote: SocketAddr, data: &[u8]) -> io::Result<()> {
        let map = self.0.read().unwrap_or_else(|p| p.into_inner());
        match map.get(local) {
            Some(LocalTransport::Udp(s)) => s.try_send_to(data, remote).map(|_| ()),
            Some(LocalTransport::Relay { commands, .. }) => commands
                .send(RelayCommand::Send {
                    peer: remote,
                    data: data.to_vec(),
                })
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "relay closed")),
            None => Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("no local transport {local}"),
            )),
        }
    }
}

/// STUN messages waiting for the ICE agent, at most.
pub const STUN_QUEUE: usize = 1024;
/// Session datagrams waiting for QUIC, at most (a few MB; QUIC reads them at once unless
/// the process is starved, and a flood beyond that is dropped as a full socket would).
pub const DATA_QUEUE: usize = 4096;

/// Sorts received packets: STUN to the ICE agent, session traffic to QUIC (only from
/// addresses the peer signalled or ICE verified). Both queues are bounded: what arrives
/// faster than it is read is lost, as on any UDP socket, instead of growing the process.
#[derive(Clone)]
pub struct Inbound {
    pub stun: mpsc::Sender<(SocketAddr, SocketAddr, BytesMut)>,
    pub data: mpsc::Sender<Datagram>,
    pub selected: SelectedPair,
}

impl Inbound {
    /// False once nobody listens any more.
    pub fn deliver(&self, local: SocketAddr, from: SocketAddr, packet: &[u8]) -> bool {
        use mpsc::error::TrySendError;
        if rtc_stun::message::is_stun_message(packet) {
            !matches!(
                self.stun.try_send((local, from, BytesMut::from(packet))),
                Err(TrySendError::Closed(_))
            )
        } else if self.selected.accepts(from) {
            !matches!(
                self.data.try_send(Datagram {
                    from,
                    payload: packet.to_vec(),
                }),
                Err(TrySendError::Closed(_))
            )
        } else {
            trace!(%from, "dropped non-STUN packet from an unverified address");
            !self.data.is_closed()
        }
    }
}
