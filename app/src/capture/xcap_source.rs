//! The desktop through `xcap`: GDI on Windows (where desktop duplication is unavailable:
//! Wine, some RDP sessions and drivers), macOS, and X11 when asked for (which is how it is
//! tested here). Each frame is one screenshot through the platform's API — on X11 a new
//! connection and `GetImage`, ~30 ms for 1080p against ~1 ms for MIT-SHM — so the X11
//! backend stays the default there.

use xcap::Monitor;

use super::secure_desktop::SecureDesktopProbe;
use super::{CaptureError, CaptureInfo, MonitorInfo, ScreenSource};
use crate::media::frame::BgraFrame;

/// Not `Send`: xcap's `Monitor` holds platform handles (an `HMONITOR` on Windows); the
/// pipeline opens and uses it on its own thread.
pub struct XcapSource {
    monitors: Vec<Monitor>,
    infos: Vec<MonitorInfo>,
    current: usize,
    secure_desktop: SecureDesktopProbe,
    /// Why the faster platform capture (desktop duplication) is not used, if it was tried.
    fallback: Option<String>,
}

fn failed(e: xcap::XCapError) -> CaptureError {
    CaptureError::Failed(e.to_string())
}

impl XcapSource {
    /// Lists the monitors and shows the primary one; `fallback` says why this is used
    /// instead of a faster capture, when one was tried.
    pub fn open(fallback: Option<String>) -> Result<Self, CaptureError> {
        let monitors = Monitor::all().map_err(failed)?;
        let infos = monitor_infos(&monitors)?;
        let current = infos.iter().position(|m| m.primary).unwrap_or(0);
        Ok(Self {
            monitors,
            infos,
            current,
            secure_desktop: SecureDesktopProbe::default(),
            fallback,
        })
    }
}

/// The monitors as the helper sees them: names, positions and scale from the platform.
pub fn monitor_infos(monitors: &[Monitor]) -> Result<Vec<MonitorInfo>, CaptureError> {
    let mut infos = Vec::with_capacity(monitors.len());
    for (index, m) in monitors.iter().enumerate() {
        let name = m
            .friendly_name()
            .ok()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| m.name().ok())
            .unwrap_or_else(|| format!("Screen {}", index + 1));
        let scale = m.scale_factor().unwrap_or(1.0);
        infos.push(MonitorInfo {
            // Our own small ids: the platform's (RandR outputs, HMONITOR handles, display
            // ids) mean nothing to the helper.
            id: index as u32,
            name,
            screen: 0,
            x: m.x().map_err(failed)?,
            y: m.y().map_err(failed)?,
            // H.264 4:2:0 needs even sizes; an odd last column or row is not shown.
            width: m.width().map_err(failed)? & !1,
            height: m.height().map_err(failed)? & !1,
            width_mm: 0,
            primary: m.is_primary().unwrap_or(false),
            scale_percent: (f64::from(scale) * 100.0).round().clamp(50.0, 400.0) as u32,
        });
    }
    if infos.iter().all(|m| m.width < 16 || m.height < 16) {
        return Err(CaptureError::NoScreen);
    }
    Ok(infos)
}

impl ScreenSource for XcapSource {
    fn monitors(&self) -> &[MonitorInfo] {
        &self.infos
    }

    fn current(&self) -> &MonitorInfo {
        &self.infos[self.current]
    }

    fn method(&self) -> CaptureInfo {
        CaptureInfo {
            method: if cfg!(windows) { "gdi" } else { "xcap" }.into(),
            fallback: self.fallback.clone(),
        }
    }

    fn select(&mut self, id: u32) -> Result<(), CaptureError> {
        let index = super::monitor_index(&self.infos, id)?;
        self.current = index;
        Ok(())
    }

    fn capture(&mut self, out: &mut BgraFrame) -> Result<(), CaptureError> {
        let image = self.monitors[self.current]
            .capture_image()
            .map_err(failed)?;
        // The monitor may have changed size since it was listed (a resolution change).
        let (width, height) = (image.width() & !1, image.height() & !1);
        if width < 16 || height < 16 {
            return Err(CaptureError::Failed(format!(
                "the screen is {}×{}",
                image.width(),
                image.height()
            )));
        }
        if (out.width, out.height) != (width, height) {
            *out = BgraFrame::new(width, height);
        }
        let info = &mut self.infos[self.current];
        (info.width, info.height) = (width, height);
        let src_stride = image.width() as usize * 4;
        let row_bytes = width as usize * 4;
        let rgba = image.as_raw();
        for (dst, src) in out
            .data
            .chunks_exact_mut(out.stride as usize)
            .zip(rgba.chunks_exact(src_stride))
        {
            for (d, s) in dst[..row_bytes]
                .chunks_exact_mut(4)
                .zip(src[..row_bytes].chunks_exact(4))
            {
                d.copy_from_slice(&[s[2], s[1], s[0], 255]);
            }
        }
        Ok(())
    }

    fn out_of_reach(&mut self) -> bool {
        self.secure_desktop.active(std::time::Instant::now())
    }
}
