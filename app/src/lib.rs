//! Tandem: remote assistance. This crate is the headless session engine (network, media,
//! session state) and the `tandem` command line on top of it.

pub use tandem_proto::annotation;
pub use tandem_proto::file;
pub mod capture;
pub mod clipboard;
pub mod gui;
pub mod input;
pub mod media;
pub mod net;
pub mod peer_text;
pub mod protocol;
pub mod session;
pub mod sign_in;
pub mod units;
