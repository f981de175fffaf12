//! The Tandem rendezvous: allocates nameplates, pairs a helper and a sharer in a mailbox and
//! forwards their (end-to-end encrypted) pairing messages. It never sees a session key.
//!
//! Features: `client` (the app's side: the mailbox client, fetching JSON documents) and
//! `server` (the service, its stores and its TURN server). Without either, only what the
//! two speak — wire messages, names, introductions, TURN framing — for decoders and fuzzing.

pub mod display_name;
pub mod introduction;
pub mod records;
pub mod turn_framing;
pub mod turn_guard;
pub mod wire;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "client")]
pub mod http_json;

#[cfg(feature = "server")]
pub mod client_address;
#[cfg(feature = "server")]
pub mod embedded;
#[cfg(feature = "server")]
pub mod listener;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod oidc;
#[cfg(feature = "server")]
pub mod rate_limit;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod turn_credentials;
#[cfg(feature = "server")]
pub mod turn_server;

#[cfg(feature = "client")]
pub use client::{ClientError, MailboxClient, PeerEvent};
#[cfg(feature = "server")]
pub use embedded::EmbeddedRendezvous;
#[cfg(feature = "server")]
pub use server::{serve, serve_tls, AppState, ServerConfig};
#[cfg(feature = "server")]
pub use store::{memory::MemoryStore, Store};
