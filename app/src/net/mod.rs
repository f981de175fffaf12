//! The network path: ICE finds a working address pair, QUIC runs on top of it.

pub mod ice;
pub mod ice_servers;
pub mod path_socket;
pub mod quic;
pub mod relay;
pub mod transport;

use serde::Serialize;

/// How the session's packets travel, as shown to users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathInfo {
    /// `direct` (host or server-reflexive pair) or `relayed` (through TURN).
    pub kind: &'static str,
    pub transport: &'static str,
    pub local: String,
    pub remote: String,
    pub local_type: String,
    pub remote_type: String,
}
