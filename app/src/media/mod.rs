//! Video: frames, the synthetic test pattern, and the H.264 codec.

pub mod damage;
pub mod frame;
pub mod h264;
pub mod pattern;
