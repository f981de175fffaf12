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

/// Sorts received packets: STUN to the ICE agent, session traffic to QUIC (only from
/// addresses the peer signalled or ICE verified).
#[derive(Clone)]
pub struct Inbound {
    pub stun: mpsc::UnboundedSender<(SocketAddr, SocketAddr, BytesMut)>,
    pub data: mpsc::UnboundedSender<Datagram>,
    pub selected: SelectedPair,
}

impl Inbound {
    /// False once nobody listens any more.
    pub fn deliver(&self, local: SocketAddr, from: SocketAddr, packet: &[u8]) -> bool {
        if rtc_stun::message::is_stun_message(packet) {
            self.stun
                .send((local, from, BytesMut::from(packet)))
                .is_ok()
        } else if self.selected.accepts(from) {
            self.data
                .send(Datagram {
                    from,
                    payload: packet.to_vec(),
                })
                .is_ok()
        } else {
            trace!(%from, "dropped non-STUN packet from an unverified address");
            !self.data.is_closed()
        }
    }
}
