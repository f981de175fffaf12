//! The sharer's screen as the helper learns it: monitors, and the pointer's picture.

use serde::{Deserialize, Serialize};

/// One monitor the sharer can show, in the coordinates of its X screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorInfo {
    pub id: u32,
    pub name: String,
    /// The X screen it belongs to (`:0.1` is screen 1); 0 on other platforms.
    #[serde(default)]
    pub screen: u32,
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    /// Physical size, when the display reports it (for scale).
    pub width_mm: u32,
    pub primary: bool,
    /// The desktop's scale for this monitor, in percent (100, 125, 150, 200…): from the
    /// desktop's DPI setting (`Xft.dpi`), else from the physical size.
    #[serde(default = "full_scale")]
    pub scale_percent: u32,
}

/// How the sharer's screen is captured, shown in the helper's connection info (a slow or
/// fallen-back method explains a slow picture).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureInfo {
    /// `x11-shm`, `dxgi`, `gdi`, `portal`, `wlr-screencopy`, `xcap`, `test-pattern`.
    pub method: String,
    /// Why the platform's faster method is not the one used, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

impl CaptureInfo {
    pub fn new(method: &str) -> Self {
        Self {
            method: method.into(),
            fallback: None,
        }
    }
}

fn full_scale() -> u32 {
    100
}

/// The pointer's picture, sent separately from the video so it stays sharp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorShape {
    /// Changes whenever the picture does.
    pub serial: u32,
    pub width: u32,
    pub height: u32,
    pub hot_x: u32,
    pub hot_y: u32,
    /// Straight (not premultiplied) RGBA.
    pub rgba: Vec<u8>,
}

/// Largest cursor accepted from the network or the display.
pub const MAX_CURSOR_SIDE: u32 = 256;
