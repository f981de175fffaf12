//! The Tandem rendezvous: allocates nameplates, pairs a helper and a sharer in a mailbox and
//! forwards their (end-to-end encrypted) pairing messages. It never sees a session key.

pub mod client;
pub mod client_address;
pub mod display_name;
pub mod embedded;
pub mod http_json;
pub mod introduction;
pub mod listener;
pub mod metrics;
pub mod oidc;
pub mod rate_limit;
pub mod records;
pub mod server;
pub mod store;
pub mod turn_credentials;
pub mod turn_framing;
pub mod turn_guard;
pub mod turn_server;
pub mod wire;

pub use client::{ClientError, MailboxClient, PeerEvent};
pub use embedded::EmbeddedRendezvous;
pub use server::{serve, serve_tls, AppState, ServerConfig};
pub use store::{memory::MemoryStore, Store};
