//! The sharer's annotation overlay on Windows: a layered window whose background colour is
//! its colour key, so only the drawing shows, every click goes through to the window under
//! it (`WS_EX_TRANSPARENT`), it never takes the focus or a taskbar button, and it stays
//! above everything but the sharer's own bar. A colour key rather than per-pixel alpha:
//! it works with the software renderer and with any GPU driver.

use std::ffi::c_void;

use windows::Win32::Foundation::{COLORREF, HWND};
use windows::Win32::UI::WindowsAndMessaging::{
    GetWindowLongPtrW, SetLayeredWindowAttributes, SetWindowLongPtrW, SetWindowPos, GWL_EXSTYLE,
    HWND_TOPMOST, LWA_COLORKEY, SWP_FRAMECHANGED, SWP_NOACTIVATE, SWP_NOMOVE, SWP_NOSIZE,
    WS_EX_LAYERED, WS_EX_NOACTIVATE, WS_EX_TOOLWINDOW, WS_EX_TRANSPARENT,
};

/// The overlay's background, shown as nothing: almost black, so the soft edge of a stroke
/// blends into a dark outline rather than a coloured fringe.
pub const KEY: (u8, u8, u8) = (1, 0, 1);

fn hwnd(native: u64) -> HWND {
    HWND(native as usize as *mut c_void)
}

/// Makes the overlay window `native` (its `HWND`) see-through where nothing is drawn and
/// click-through everywhere, then puts it on top with `bar` above it.
pub fn prepare(native: u64, bar: Option<u64>) -> windows::core::Result<()> {
    let overlay = hwnd(native);
    let (r, g, b) = KEY;
    // SAFETY: plain calls on a window handle of this process (a stale one makes them fail,
    // which is reported).
    unsafe {
        let style = GetWindowLongPtrW(overlay, GWL_EXSTYLE);
        let wanted = (WS_EX_LAYERED | WS_EX_TRANSPARENT | WS_EX_TOOLWINDOW | WS_EX_NOACTIVATE).0;
        SetWindowLongPtrW(overlay, GWL_EXSTYLE, style | wanted as isize);
        SetLayeredWindowAttributes(
            overlay,
            COLORREF(u32::from(r) | u32::from(g) << 8 | u32::from(b) << 16),
            255,
            LWA_COLORKEY,
        )?;
        let flags = SWP_NOMOVE | SWP_NOSIZE | SWP_NOACTIVATE;
        SetWindowPos(
            overlay,
            Some(HWND_TOPMOST),
            0,
            0,
            0,
            0,
            flags | SWP_FRAMECHANGED,
        )?;
        if let Some(bar) = bar {
            SetWindowPos(hwnd(bar), Some(HWND_TOPMOST), 0, 0, 0, 0, flags)?;
        }
    }
    Ok(())
}
