//! What one full capture costs on this machine, per method (`tandem screens --time-capture`):
//! a person or a benchmark can see which method a desktop gets and what it pays per frame,
//! in wall time and in this thread's CPU time.

use std::time::Instant;

use serde::Serialize;

use super::{CaptureError, ScreenSource};
use crate::media::frame::BgraFrame;

#[derive(Debug, Clone, Serialize)]
pub struct CaptureCost {
    pub method: String,
    pub fallback: Option<String>,
    pub width: u32,
    pub height: u32,
    pub frames: u32,
    pub wall_ms_p50: f64,
    pub wall_ms_p95: f64,
    /// This thread's CPU per frame (the capturing process only; a display server's share
    /// is not in it).
    pub cpu_ms_per_frame: f64,
}

/// Captures `frames` full pictures of the shown monitor (after one to warm up).
pub fn measure(source: &mut dyn ScreenSource, frames: u32) -> Result<CaptureCost, CaptureError> {
    let frames = frames.max(1);
    let mut frame = BgraFrame::new(source.current().width, source.current().height);
    source.capture(&mut frame)?;
    let mut wall = Vec::with_capacity(frames as usize);
    let cpu_before = thread_cpu_seconds();
    for _ in 0..frames {
        let started = Instant::now();
        source.capture(&mut frame)?;
        wall.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let cpu = thread_cpu_seconds() - cpu_before;
    wall.sort_by(f64::total_cmp);
    let at = |q: f64| wall[((wall.len() - 1) as f64 * q).round() as usize];
    let method = source.method();
    Ok(CaptureCost {
        method: method.method,
        fallback: method.fallback,
        width: frame.width,
        height: frame.height,
        frames,
        wall_ms_p50: at(0.5),
        wall_ms_p95: at(0.95),
        cpu_ms_per_frame: cpu * 1e3 / f64::from(frames),
    })
}

#[cfg(target_os = "linux")]
fn thread_cpu_seconds() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the struct passed.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

#[cfg(windows)]
fn thread_cpu_seconds() -> f64 {
    use windows::Win32::Foundation::FILETIME;
    use windows::Win32::System::Threading::{GetCurrentThread, GetThreadTimes};
    let (mut created, mut exited, mut kernel, mut user) = (
        FILETIME::default(),
        FILETIME::default(),
        FILETIME::default(),
        FILETIME::default(),
    );
    // SAFETY: the pseudo-handle of this thread and out-pointers to locals.
    let ok = unsafe {
        GetThreadTimes(
            GetCurrentThread(),
            &mut created,
            &mut exited,
            &mut kernel,
            &mut user,
        )
    };
    if ok.is_err() {
        return 0.0;
    }
    // FILETIMEs count 100 ns.
    let ticks = |t: FILETIME| u64::from(t.dwHighDateTime) << 32 | u64::from(t.dwLowDateTime);
    (ticks(kernel) + ticks(user)) as f64 / 1e7
}

#[cfg(not(any(target_os = "linux", windows)))]
fn thread_cpu_seconds() -> f64 {
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::PatternSource;

    #[test]
    fn the_test_pattern_is_measured_with_its_size_and_method() {
        let mut source = PatternSource::new(64, 48);
        let cost = measure(&mut source, 5).unwrap();
        assert_eq!(cost.method, "test-pattern");
        assert_eq!((cost.width, cost.height, cost.frames), (64, 48, 5));
        assert!(cost.wall_ms_p50 <= cost.wall_ms_p95);
        assert!(cost.cpu_ms_per_frame >= 0.0);
    }
}
