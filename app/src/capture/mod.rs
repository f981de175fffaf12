//! Screen sources behind one small trait: the X11 backend (MIT-SHM over a persistent
//! connection), `xcap` for the other platforms (Windows, macOS, Wayland) and the synthetic
//! test pattern.

pub mod cost;
#[cfg(any(windows, test))]
pub mod duplication_pixels;
#[cfg(windows)]
pub mod dxgi;
#[cfg(target_os = "linux")]
pub mod portal;
pub mod secure_desktop;
#[cfg(target_os = "linux")]
pub mod wlr;
#[cfg(target_os = "linux")]
pub mod x11;
pub mod xcap_source;

use serde::{Deserialize, Serialize};

pub use tandem_proto::screen::{CaptureInfo, CursorShape, MonitorInfo, MAX_CURSOR_SIDE};

use crate::media::frame::BgraFrame;
use crate::media::pattern::TestPattern;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot open the display {display}: {reason}")]
    Connect { display: String, reason: String },
    #[error("the display has no usable screen")]
    NoScreen,
    #[error("no monitor with id {0}")]
    NoSuchMonitor(u32),
    #[error("unsupported pixel format: depth {depth}, {bits_per_pixel} bits per pixel")]
    PixelFormat { depth: u8, bits_per_pixel: u8 },
    #[error("capture failed: {0}")]
    Failed(String),
    #[error("screen capture is not supported on this platform yet")]
    Unsupported,
    #[error("screen sharing was not allowed (the desktop's dialog was cancelled)")]
    Declined,
    #[error("{0}")]
    NoPortal(String),
}

/// A top-level window on the sharer's desktop (for a person choosing what to show).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowInfo {
    pub id: u32,
    pub title: String,
    /// The X screen it is on.
    pub screen: u32,
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

/// A screen being shown. Used on one thread (the pipeline's), so platform handles need not
/// be `Send`.
pub trait ScreenSource {
    fn monitors(&self) -> &[MonitorInfo];
    /// The monitor being captured.
    fn current(&self) -> &MonitorInfo;
    fn select(&mut self, id: u32) -> Result<(), CaptureError>;
    /// How this source captures (and, for a fallback, why the faster way is not used).
    fn method(&self) -> CaptureInfo;
    /// Captures the current monitor into `out`, resizing it when the monitor's size changed.
    /// A source that knows what was drawn may write only those parts: `out` then keeps the
    /// rest from the previous capture (see [`Self::captured_area`]).
    fn capture(&mut self, out: &mut BgraFrame) -> Result<(), CaptureError>;

    /// The parts of the frame the last [`Self::capture`] wrote, when it wrote only parts;
    /// `None` when it wrote all of it. Outside them the frame is what it was before, so
    /// the damage hash and the conversion need not look there.
    fn captured_area(&self) -> Option<&[crate::media::damage::Rect]> {
        None
    }

    /// From now on, read the whole monitor at every capture (see
    /// [`crate::session::VideoConfig::whole_frames`]).
    fn read_whole_frames(&mut self) {}
    /// True once after monitors were plugged in, removed or changed; [`Self::monitors`] and
    /// [`Self::current`] then tell the new set (the shown one gone: the first one left).
    fn monitors_changed(&mut self) -> bool {
        false
    }

    /// `Some(false)` when the source knows for sure that nothing was drawn since the last
    /// capture (then capturing can be skipped entirely); `None` when it cannot tell.
    fn changed(&mut self) -> Option<bool> {
        None
    }

    /// Waits up to `timeout` for something to be drawn; returns like [`Self::changed`].
    /// Sources that cannot tell return `None` at once.
    fn wait_for_change(&mut self, timeout: std::time::Duration) -> Option<bool> {
        let _ = timeout;
        None
    }

    /// The pointer now, if this source knows it.
    fn cursor_position(&mut self) -> Option<CursorPosition> {
        None
    }

    /// The pointer's picture, when it changed since the last call.
    fn cursor_shape(&mut self) -> Option<CursorShape> {
        None
    }

    /// True while the desktop is out of reach of capture and input: Windows' secure
    /// desktop (a UAC prompt, Ctrl+Alt+Del, the lock screen). No frames meanwhile.
    fn out_of_reach(&mut self) -> bool {
        false
    }
}

/// The position of monitor `id` in `monitors` (how every source's `select` finds it).
pub fn monitor_index(monitors: &[MonitorInfo], id: u32) -> Result<usize, CaptureError> {
    monitors
        .iter()
        .position(|m| m.id == id)
        .ok_or(CaptureError::NoSuchMonitor(id))
}

/// Where the pointer is, relative to the shown monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorPosition {
    pub x: i32,
    pub y: i32,
    /// False when the pointer is on another monitor or screen.
    pub visible: bool,
}

/// Which screen the sharer shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A moving synthetic picture, for demos and tests without a display.
    TestPattern { width: u32, height: u32 },
    /// An X11 display (`None`: `$DISPLAY`), optionally one monitor of it.
    X11 {
        display: Option<String>,
        monitor: Option<u32>,
    },
    /// This desktop through the platform's capture API (`xcap`): GDI on Windows, macOS.
    Xcap { monitor: Option<u32> },
    /// Windows: desktop duplication (DXGI); with `or_gdi`, GDI where duplication is
    /// unavailable (Wine, some RDP sessions and drivers), the reason told to the helper.
    Duplication { monitor: Option<u32>, or_gdi: bool },
    /// A Wayland desktop through the ScreenCast portal and PipeWire (the person allows it
    /// in the desktop's own dialog).
    Portal { monitor: Option<u32> },
    /// A wlroots compositor (sway…) through its screencopy protocol; input through its
    /// virtual pointer and keyboard.
    Wlr { monitor: Option<u32> },
}

/// Whether this is a Wayland session. Its `$DISPLAY`, if any, is XWayland, which holds only
/// the X applications: capturing it would show the rest of the desktop black, and XTest
/// input would reach only those applications.
pub fn wayland_session() -> bool {
    wayland_in(&env_var)
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn wayland_in(env: &dyn Fn(&str) -> Option<String>) -> bool {
    env("WAYLAND_DISPLAY").is_some()
        || env("XDG_SESSION_TYPE").is_some_and(|t| t.eq_ignore_ascii_case("wayland"))
}

impl SourceSpec {
    /// The sharer's own screen: X11 when the desktop is an X display (the fast backend),
    /// on Wayland the compositor's own protocol where it is wlroots and the portal
    /// elsewhere, else the platform's capture API. A display named explicitly is always X11.
    pub fn this_desktop(display: Option<String>, monitor: Option<u32>) -> Self {
        #[cfg(target_os = "linux")]
        let wlroots = wlr::screencopy_available;
        #[cfg(not(target_os = "linux"))]
        let wlroots = || false;
        Self::this_desktop_in(display, monitor, &env_var, &wlroots)
    }

    fn this_desktop_in(
        display: Option<String>,
        monitor: Option<u32>,
        env: &dyn Fn(&str) -> Option<String>,
        wlroots: &dyn Fn() -> bool,
    ) -> Self {
        let x11_desktop = cfg!(target_os = "linux")
            && (display.is_some() || (env("DISPLAY").is_some() && !wayland_in(env)));
        if x11_desktop {
            Self::X11 { display, monitor }
        } else if cfg!(target_os = "linux") && wayland_in(env) {
            // wlroots: no dialog to pass and no PipeWire hop, and its input needs the
            // compositor's protocols anyway (see `wlr`).
            if wlroots() {
                Self::Wlr { monitor }
            } else {
                Self::Portal { monitor }
            }
        } else if cfg!(windows) {
            Self::Duplication {
                monitor,
                or_gdi: true,
            }
        } else {
            Self::Xcap { monitor }
        }
    }
}

pub fn open(spec: &SourceSpec) -> Result<Box<dyn ScreenSource>, CaptureError> {
    match spec {
        SourceSpec::TestPattern { width, height } => {
            Ok(Box::new(PatternSource::new(*width, *height)))
        }
        #[cfg(target_os = "linux")]
        SourceSpec::X11 { display, monitor } => {
            let mut source = x11::X11Capture::open(display.as_deref())?;
            if let Some(id) = monitor {
                source.select(*id)?;
            }
            Ok(Box::new(source))
        }
        #[cfg(not(target_os = "linux"))]
        SourceSpec::X11 { .. } => Err(CaptureError::Unsupported),
        #[cfg(target_os = "linux")]
        SourceSpec::Portal { monitor } => {
            let mut source = portal::PortalSource::open()?;
            if let Some(id) = monitor {
                source.select(*id)?;
            }
            Ok(Box::new(source))
        }
        #[cfg(not(target_os = "linux"))]
        SourceSpec::Portal { .. } => Err(CaptureError::Unsupported),
        #[cfg(target_os = "linux")]
        SourceSpec::Wlr { monitor } => {
            let mut source = wlr::WlrSource::open()?;
            if let Some(id) = monitor {
                source.select(*id)?;
            }
            Ok(Box::new(source))
        }
        #[cfg(not(target_os = "linux"))]
        SourceSpec::Wlr { .. } => Err(CaptureError::Unsupported),
        SourceSpec::Xcap { monitor } => {
            let mut source = xcap_source::XcapSource::open(None)?;
            if let Some(id) = monitor {
                source.select(*id)?;
            }
            Ok(Box::new(source))
        }
        #[cfg(windows)]
        SourceSpec::Duplication { monitor, or_gdi } => {
            let mut source: Box<dyn ScreenSource> = match dxgi::DuplicationSource::open() {
                Ok(source) => Box::new(source),
                Err(e) if *or_gdi => {
                    let why = match e {
                        CaptureError::Failed(why) => why,
                        other => other.to_string(),
                    };
                    tracing::info!("desktop duplication unavailable ({why}): capturing with GDI");
                    Box::new(xcap_source::XcapSource::open(Some(format!(
                        "desktop duplication unavailable: {why}"
                    )))?)
                }
                Err(e) => return Err(e),
            };
            if let Some(id) = monitor {
                source.select(*id)?;
            }
            Ok(source)
        }
        #[cfg(not(windows))]
        SourceSpec::Duplication { .. } => Err(CaptureError::Unsupported),
    }
}

/// The synthetic test pattern as a screen.
pub struct PatternSource {
    pattern: TestPattern,
    monitors: Vec<MonitorInfo>,
}

impl PatternSource {
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            pattern: TestPattern::new(width, height),
            monitors: vec![MonitorInfo {
                id: 0,
                name: "test pattern".into(),
                screen: 0,
                x: 0,
                y: 0,
                width,
                height,
                width_mm: 0,
                primary: true,
                scale_percent: 100,
            }],
        }
    }
}

impl ScreenSource for PatternSource {
    fn monitors(&self) -> &[MonitorInfo] {
        &self.monitors
    }

    fn current(&self) -> &MonitorInfo {
        &self.monitors[0]
    }

    fn select(&mut self, id: u32) -> Result<(), CaptureError> {
        if id == 0 {
            Ok(())
        } else {
            Err(CaptureError::NoSuchMonitor(id))
        }
    }

    fn method(&self) -> CaptureInfo {
        CaptureInfo::new("test-pattern")
    }

    fn capture(&mut self, out: &mut BgraFrame) -> Result<(), CaptureError> {
        let m = &self.monitors[0];
        if out.width != m.width || out.height != m.height {
            *out = BgraFrame::new(m.width, m.height);
        }
        self.pattern.draw_next(out);
        Ok(())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn an_x_desktop_is_captured_through_x11_and_a_wayland_one_through_the_portal_or_wlroots() {
        let x11 = |m| SourceSpec::X11 {
            display: None,
            monitor: m,
        };
        let pick = |vars: &[(&str, &str)]| {
            SourceSpec::this_desktop_in(None, Some(1), &env(vars), &|| false)
        };
        assert_eq!(pick(&[("DISPLAY", ":0")]), x11(Some(1)));
        assert_eq!(
            pick(&[("DISPLAY", ":0"), ("XDG_SESSION_TYPE", "x11")]),
            x11(Some(1))
        );
        // GNOME or KDE on Wayland: $DISPLAY is XWayland, which would show black windows.
        let portal = SourceSpec::Portal { monitor: Some(1) };
        assert_eq!(
            pick(&[("DISPLAY", ":0"), ("WAYLAND_DISPLAY", "wayland-0")]),
            portal
        );
        assert_eq!(
            pick(&[("DISPLAY", ":1"), ("XDG_SESSION_TYPE", "wayland")]),
            portal
        );
        assert_eq!(pick(&[("WAYLAND_DISPLAY", "wayland-0")]), portal);
        // A wlroots compositor (sway) is captured through its own protocol.
        assert_eq!(
            SourceSpec::this_desktop_in(
                None,
                Some(1),
                &env(&[("WAYLAND_DISPLAY", "wayland-1")]),
                &|| true
            ),
            SourceSpec::Wlr { monitor: Some(1) }
        );
        // A display asked for by name is X11 whatever the session.
        assert_eq!(
            SourceSpec::this_desktop_in(
                Some(":5".into()),
                None,
                &env(&[("WAYLAND_DISPLAY", "wayland-0")]),
                &|| true
            ),
            SourceSpec::X11 {
                display: Some(":5".into()),
                monitor: None
            }
        );
    }
}
