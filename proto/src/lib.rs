//! What two Tandem peers say to each other once connected, as data: the control stream's
//! messages, the input stream's events, frame headers, annotations and the sharer's screen
//! description. Everything here is decoded from a peer, so every decoder bounds what it
//! accepts (and is fuzzed: see `fuzz/`).

pub mod annotation;
pub mod file;
pub mod input;
pub mod protocol;
pub mod screen;
