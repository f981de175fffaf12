//! What the two peers say to each other: the signals over the end-to-end Noise channel
//! (this module), and once connected the control stream, input stream and frames
//! ([`tandem_proto::protocol`], re-exported here).
//!
//! - [`Signal`]: over the Noise channel through the rendezvous mailbox, before and while
//!   the direct path is set up (introduction, hello, ICE, certificate fingerprint, consent).

use serde::{Deserialize, Serialize};
use tandem_crypto::Fingerprint;

pub use tandem_proto::protocol::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Signal {
    /// Helper → sharer, first after pairing: who the helper is, signed by the rendezvous
    /// (see `tandem_rendezvous::introduction`).
    Introduction {
        introduction: tandem_rendezvous::wire::SignedIntroduction,
    },
    Hello {
        version: u32,
        role: Role,
        capabilities: Vec<String>,
        /// SHA-256 of this side's per-session QUIC certificate.
        fingerprint: Fingerprint,
        ice_ufrag: String,
        ice_pwd: String,
        /// Candidates known at once (host); later ones are trickled.
        candidates: Vec<String>,
    },
    IceCandidate {
        candidate: String,
    },
    EndOfCandidates,
    /// Sharer → helper: the answer to "may I see your screen?".
    Consent {
        granted: bool,
    },
    Bye {
        reason: EndReason,
    },
}

/// What the two sides of a running session say in their resumption room at the
/// rendezvous after the path was lost (sealed with the session's resume channel; see
/// `session::reconnect`). Each offer starts a fresh ICE session on that side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResumeSignal {
    Offer {
        ufrag: String,
        pwd: String,
        candidates: Vec<String>,
    },
    /// A candidate found later, for the offer with this `ufrag`.
    Candidate { ufrag: String, candidate: String },
}
