//! Video: frames, the synthetic test pattern, the H.264 codec and its quality control.

pub mod damage;
pub mod frame;
pub mod h264;
pub mod pattern;
pub mod rate;
