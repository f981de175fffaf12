//! The network path: ICE finds a working address pair, QUIC runs on top of it.

pub mod ice;
pub mod ice_servers;
pub mod path_socket;
pub mod quic;
pub mod relay;
pub mod transport;

use serde::{Deserialize, Serialize};

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

/// [`PathInfo`] as read back (by a script or a test): its kind and transport must be
/// among those a path is made with.
#[derive(Deserialize)]
struct PathInfoText {
    kind: String,
    transport: String,
    local: String,
    remote: String,
    local_type: String,
    remote_type: String,
}

// By hand: serde's derive would ask the input to live for 'static (the `&'static str`s).
impl<'de> Deserialize<'de> for PathInfo {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = PathInfoText::deserialize(deserializer)?;
        Self::try_from(text).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<PathInfoText> for PathInfo {
    type Error = String;

    fn try_from(t: PathInfoText) -> Result<Self, String> {
        let known = |text: &str, among: &[&'static str]| {
            among
                .iter()
                .find(|k| **k == text)
                .copied()
                .ok_or_else(|| format!("unknown path value {text:?}"))
        };
        Ok(Self {
            kind: known(&t.kind, &["direct", "relayed"])?,
            transport: known(&t.transport, &["udp", "tcp", "tls"])?,
            local: t.local,
            remote: t.remote,
            local_type: t.local_type,
            remote_type: t.remote_type,
        })
    }
}
