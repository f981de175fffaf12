//! Tandem's cryptography, with no I/O: session codes, the SPAKE2 + Noise pairing that turns a
//! code read over the phone into an end-to-end encrypted channel, and per-session QUIC
//! certificates pinned by fingerprint.
//!
//! Everything here is a pure state machine or a pure function so that it can be driven by any
//! carrier (the rendezvous mailbox in production, a vector of bytes in tests).

pub mod cert;
pub mod code;
pub mod pairing;
pub mod resume;

pub use cert::{CertError, Fingerprint, SessionCertificate};
pub use code::{CodeError, Nameplate, Secret, SessionCode};
pub use pairing::{Pairing, PairingError, PairingRole, SecureChannel};
pub use resume::{ResumeChannel, ResumeError, ResumeSecret, RoomId};
