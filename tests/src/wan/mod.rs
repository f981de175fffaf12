//! Internet paths on one machine: a userspace link emulator between a peer and its network
//! (the kernel here has no `netem`). [`profile`] says what a path does, [`link`] models one
//! direction without I/O, [`forwarder`] runs both directions on real interfaces.
//!
//! Rate is emulated in the model rather than with `tbf`: one place serialises, queues and
//! delays each frame, so a frame's delay is the sum of its wait behind the bottleneck and the
//! path (as on a real uplink), a rate schedule (`step`) needs no `tc` calls mid-run, and the
//! whole behaviour is proven in virtual time.

pub mod forwarder;
pub mod link;
pub mod profile;

pub use forwarder::Forwarder;
pub use profile::{Direction, Loss, Profile, Rate};
