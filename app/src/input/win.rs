//! Input on Windows: `SendInput` with hardware scan codes, so that a key is a physical key
//! and the sharer's own keyboard layout decides what it types (the same promise as X
//! keycodes on Linux); the pointer in absolute coordinates over the whole virtual desktop;
//! the wheel on both axes.
//!
//! The scan-code arithmetic is plain data and is tested on every platform; only
//! [`SendInputInjector`] needs Windows.

/// A key as `SendInput` wants it: the scan code's low byte, and whether it is one of the
/// keys that a PC keyboard sends with an `E0` prefix (right Ctrl/Alt, the arrows, the
/// navigation block, the Windows keys, the keypad's Enter and `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanCode {
    pub code: u8,
    pub extended: bool,
}

impl ScanCode {
    /// From the Windows column of the W3C / Chromium key table (`0xE0xx` = extended).
    /// `None` for codes that are not a single scan code (Pause sends `E1` sequences).
    pub fn from_table(win: u16) -> Option<Self> {
        let [prefix, code] = win.to_be_bytes();
        match prefix {
            0x00 if code != 0 => Some(Self {
                code,
                extended: false,
            }),
            0xE0 if code != 0 => Some(Self {
                code,
                extended: true,
            }),
            _ => None,
        }
    }
}

/// Position `v` (pixels, relative to the virtual desktop's origin) on `SendInput`'s
/// absolute scale of 0..=65535 over `extent` pixels. Windows (and Wine) map a value `a`
/// back to pixel `a * extent / 65536`, rounding down: the smallest `a` that lands on `v` is
/// `v * 65536 / extent` rounded up.
pub fn absolute_axis(v: i32, extent: i32) -> i32 {
    if extent <= 1 {
        return 0;
    }
    let (v, extent) = (i64::from(v.clamp(0, extent - 1)), i64::from(extent));
    ((v * 65536 + extent - 1) / extent).min(65535) as i32
}

/// The wheel's `mouseData` for `notches` (positive: down / right, as on the wire). Windows
/// counts vertical positive *up*, horizontal positive right, in steps of `WHEEL_DELTA`.
pub fn wheel_data(vertical: bool, notches: i32) -> i32 {
    const WHEEL_DELTA: i32 = 120;
    let steps = notches.saturating_mul(WHEEL_DELTA);
    if vertical {
        steps.saturating_neg()
    } else {
        steps
    }
}

#[cfg(windows)]
pub use imp::SendInputInjector;

#[cfg(windows)]
mod imp {
    use windows::Win32::UI::Input::KeyboardAndMouse::{
        GetKeyboardLayout, MapVirtualKeyExW, SendInput, INPUT, INPUT_0, INPUT_KEYBOARD,
        INPUT_MOUSE, KEYBDINPUT, KEYBD_EVENT_FLAGS, KEYEVENTF_EXTENDEDKEY, KEYEVENTF_KEYUP,
        KEYEVENTF_SCANCODE, KEYEVENTF_UNICODE, MAPVK_VSC_TO_VK_EX, MOUSEEVENTF_ABSOLUTE,
        MOUSEEVENTF_HWHEEL, MOUSEEVENTF_LEFTDOWN, MOUSEEVENTF_LEFTUP, MOUSEEVENTF_MIDDLEDOWN,
        MOUSEEVENTF_MIDDLEUP, MOUSEEVENTF_MOVE, MOUSEEVENTF_RIGHTDOWN, MOUSEEVENTF_RIGHTUP,
        MOUSEEVENTF_VIRTUALDESK, MOUSEEVENTF_WHEEL, MOUSEEVENTF_XDOWN, MOUSEEVENTF_XUP, MOUSEINPUT,
        MOUSE_EVENT_FLAGS, VIRTUAL_KEY,
    };
    use windows::Win32::UI::WindowsAndMessaging::{
        GetForegroundWindow, GetSystemMetrics, GetWindowThreadProcessId, SM_CXVIRTUALSCREEN,
        SM_CYVIRTUALSCREEN, SM_XVIRTUALSCREEN, SM_YVIRTUALSCREEN,
    };

    use super::{absolute_axis, wheel_data, ScanCode};
    use crate::input::inject::{InjectError, Injector};
    use crate::input::translate::{InjectOp, ScrollAxis};
    use crate::input::PointerButton;

    const XBUTTON1: i32 = 1;
    const XBUTTON2: i32 = 2;

    /// `SendInput` on the desktop this process runs on.
    pub struct SendInputInjector {
        /// Where the helper's pointer last went, on the absolute scale: buttons are sent
        /// there, so that a click lands where it was aimed even when the person's own
        /// mouse (or, under Wine, a late pointer event from X) moved the pointer between.
        aimed: Option<(i32, i32)>,
    }

    impl SendInputInjector {
        pub fn open() -> Result<Self, InjectError> {
            Ok(Self { aimed: None })
        }
    }

    const AT_POINT: MOUSE_EVENT_FLAGS =
        MOUSE_EVENT_FLAGS(MOUSEEVENTF_MOVE.0 | MOUSEEVENTF_ABSOLUTE.0 | MOUSEEVENTF_VIRTUALDESK.0);

    fn mouse(flags: MOUSE_EVENT_FLAGS, dx: i32, dy: i32, data: i32) -> INPUT {
        INPUT {
            r#type: INPUT_MOUSE,
            Anonymous: INPUT_0 {
                mi: MOUSEINPUT {
                    dx,
                    dy,
                    // Wheel amounts are signed; the field is a DWORD.
                    mouseData: data as u32,
                    dwFlags: flags,
                    time: 0,
                    dwExtraInfo: 0,
                },
            },
        }
    }

    /// The virtual key the scan code is under the layout of the window that has the focus
    /// (the sharer's). Windows ignores it when `KEYEVENTF_SCANCODE` is set and maps the
    /// scan code itself; Wine 8 does not, and its programs would see key 0.
    fn virtual_key(scan: ScanCode) -> VIRTUAL_KEY {
        let code = u32::from(scan.code) | if scan.extended { 0xE000 } else { 0 };
        // SAFETY: plain queries; a missing foreground window gives thread 0, whose layout
        // is this thread's.
        let vk = unsafe {
            let thread = GetWindowThreadProcessId(GetForegroundWindow(), None);
            MapVirtualKeyExW(code, MAPVK_VSC_TO_VK_EX, Some(GetKeyboardLayout(thread)))
        };
        VIRTUAL_KEY(u16::try_from(vk).unwrap_or(0))
    }

    fn key(scan: ScanCode, down: bool) -> INPUT {
        let mut flags: KEYBD_EVENT_FLAGS = KEYEVENTF_SCANCODE;
        if scan.extended {
            flags |= KEYEVENTF_EXTENDEDKEY;
        }
        keyboard(virtual_key(scan), u16::from(scan.code), flags, down)
    }

    /// One UTF-16 unit typed through Windows' Unicode input, whatever the layout.
    fn unicode(unit: u16, down: bool) -> INPUT {
        keyboard(VIRTUAL_KEY(0), unit, KEYEVENTF_UNICODE, down)
    }

    fn keyboard(vk: VIRTUAL_KEY, scan: u16, mut flags: KEYBD_EVENT_FLAGS, down: bool) -> INPUT {
        if !down {
            flags |= KEYEVENTF_KEYUP;
        }
        INPUT {
            r#type: INPUT_KEYBOARD,
            Anonymous: INPUT_0 {
                ki: KEYBDINPUT {
                    wVk: vk,
                    wScan: scan,
                    dwFlags: flags,
                    time: 0,
                    dwExtraInfo: 0,
                },
            },
        }
    }

    fn send(input: INPUT) -> Result<(), InjectError> {
        // SAFETY: one fully initialised INPUT and its size, as SendInput requires.
        let sent = unsafe { SendInput(&[input], std::mem::size_of::<INPUT>() as i32) };
        if sent == 1 {
            Ok(())
        } else {
            // Blocked by UIPI (a window of a higher integrity level has the focus) or by
            // the secure desktop being up.
            Err(InjectError::Inject(format!(
                "SendInput refused the event: {}",
                windows::core::Error::from_thread()
            )))
        }
    }

    impl Injector for SendInputInjector {
        fn inject(&mut self, op: &InjectOp) -> Result<(), InjectError> {
            match *op {
                InjectOp::MoveTo { x, y, .. } => {
                    // SAFETY: GetSystemMetrics has no preconditions.
                    let (vx, vy, vw, vh) = unsafe {
                        (
                            GetSystemMetrics(SM_XVIRTUALSCREEN),
                            GetSystemMetrics(SM_YVIRTUALSCREEN),
                            GetSystemMetrics(SM_CXVIRTUALSCREEN),
                            GetSystemMetrics(SM_CYVIRTUALSCREEN),
                        )
                    };
                    let at = (
                        absolute_axis(x.saturating_sub(vx), vw),
                        absolute_axis(y.saturating_sub(vy), vh),
                    );
                    self.aimed = Some(at);
                    send(mouse(AT_POINT, at.0, at.1, 0))
                }
                InjectOp::Button { button, down } => {
                    let (flags, data) = match (button, down) {
                        (PointerButton::Left, true) => (MOUSEEVENTF_LEFTDOWN, 0),
                        (PointerButton::Left, false) => (MOUSEEVENTF_LEFTUP, 0),
                        (PointerButton::Right, true) => (MOUSEEVENTF_RIGHTDOWN, 0),
                        (PointerButton::Right, false) => (MOUSEEVENTF_RIGHTUP, 0),
                        (PointerButton::Middle, true) => (MOUSEEVENTF_MIDDLEDOWN, 0),
                        (PointerButton::Middle, false) => (MOUSEEVENTF_MIDDLEUP, 0),
                        (PointerButton::Back, true) => (MOUSEEVENTF_XDOWN, XBUTTON1),
                        (PointerButton::Back, false) => (MOUSEEVENTF_XUP, XBUTTON1),
                        (PointerButton::Forward, true) => (MOUSEEVENTF_XDOWN, XBUTTON2),
                        (PointerButton::Forward, false) => (MOUSEEVENTF_XUP, XBUTTON2),
                    };
                    match self.aimed {
                        Some((dx, dy)) => send(mouse(flags | AT_POINT, dx, dy, data)),
                        None => send(mouse(flags, 0, 0, data)),
                    }
                }
                InjectOp::Scroll { axis, notches } => {
                    let vertical = axis == ScrollAxis::Vertical;
                    let flags = if vertical {
                        MOUSEEVENTF_WHEEL
                    } else {
                        MOUSEEVENTF_HWHEEL
                    };
                    send(mouse(flags, 0, 0, wheel_data(vertical, notches)))
                }
                InjectOp::Key { keycode, down } => {
                    let scan = ScanCode::from_table(keycode).ok_or_else(|| {
                        InjectError::Inject(format!("no scan code for {keycode:#06x}"))
                    })?;
                    send(key(scan, down))
                }
                // Windows' own Unicode input: any character, whatever the layout.
                InjectOp::Char(c) => {
                    let mut units = [0u16; 2];
                    let units = if c == '\n' {
                        &['\r' as u16][..]
                    } else {
                        c.encode_utf16(&mut units)
                    };
                    for down in [true, false] {
                        for &unit in units.iter() {
                            send(unicode(unit, down))?;
                        }
                    }
                    Ok(())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use keycode::{KeyMap, KeyMappingCode};

    use super::*;

    fn scan_of(code: &str) -> Option<ScanCode> {
        let map = KeyMap::from(KeyMappingCode::from_str(code).expect("known W3C code"));
        ScanCode::from_table(map.win)
    }

    fn plain(code: u8) -> Option<ScanCode> {
        Some(ScanCode {
            code,
            extended: false,
        })
    }

    fn extended(code: u8) -> Option<ScanCode> {
        Some(ScanCode {
            code,
            extended: true,
        })
    }

    /// The W3C codes the wire carries against the scan codes of a PC keyboard (set 1, as
    /// Windows' `KEYBDINPUT.wScan` takes them).
    #[test]
    fn the_wire_codes_become_pc_scan_codes() {
        let table = [
            ("Escape", plain(0x01)),
            ("Digit1", plain(0x02)),
            ("Digit0", plain(0x0B)),
            ("Minus", plain(0x0C)),
            ("Backspace", plain(0x0E)),
            ("Tab", plain(0x0F)),
            ("KeyQ", plain(0x10)),
            ("KeyY", plain(0x15)),
            ("BracketLeft", plain(0x1A)),
            ("Enter", plain(0x1C)),
            ("ControlLeft", plain(0x1D)),
            ("KeyA", plain(0x1E)),
            ("Semicolon", plain(0x27)),
            ("Quote", plain(0x28)),
            ("Backquote", plain(0x29)),
            ("ShiftLeft", plain(0x2A)),
            ("Backslash", plain(0x2B)),
            ("KeyZ", plain(0x2C)),
            ("Slash", plain(0x35)),
            ("ShiftRight", plain(0x36)),
            ("AltLeft", plain(0x38)),
            ("Space", plain(0x39)),
            ("CapsLock", plain(0x3A)),
            ("F1", plain(0x3B)),
            ("F10", plain(0x44)),
            ("F11", plain(0x57)),
            ("F12", plain(0x58)),
            ("Numpad7", plain(0x47)),
            ("NumpadSubtract", plain(0x4A)),
            ("NumpadAdd", plain(0x4E)),
            ("NumpadDecimal", plain(0x53)),
            ("IntlBackslash", plain(0x56)),
            ("IntlRo", plain(0x73)),
            ("IntlYen", plain(0x7D)),
            // The E0 keys.
            ("NumpadEnter", extended(0x1C)),
            ("ControlRight", extended(0x1D)),
            ("NumpadDivide", extended(0x35)),
            ("PrintScreen", extended(0x37)),
            ("AltRight", extended(0x38)),
            ("NumLock", extended(0x45)),
            ("Home", extended(0x47)),
            ("ArrowUp", extended(0x48)),
            ("PageUp", extended(0x49)),
            ("ArrowLeft", extended(0x4B)),
            ("ArrowRight", extended(0x4D)),
            ("End", extended(0x4F)),
            ("ArrowDown", extended(0x50)),
            ("PageDown", extended(0x51)),
            ("Insert", extended(0x52)),
            ("Delete", extended(0x53)),
            ("MetaLeft", extended(0x5B)),
            ("MetaRight", extended(0x5C)),
            ("ContextMenu", extended(0x5D)),
        ];
        for (code, want) in table {
            assert_eq!(scan_of(code), want, "{code}");
        }
    }

    #[test]
    fn codes_without_one_scan_code_are_refused() {
        assert_eq!(ScanCode::from_table(0), None);
        assert_eq!(ScanCode::from_table(0xE100), None);
        assert_eq!(ScanCode::from_table(0xE11D), None);
        assert_eq!(ScanCode::from_table(0xE000), None);
    }

    #[test]
    fn the_absolute_scale_spans_the_virtual_desktop_and_maps_back_to_the_same_pixel() {
        assert_eq!(absolute_axis(0, 1920), 0);
        assert_eq!(absolute_axis(5000, 1920), absolute_axis(1919, 1920));
        assert_eq!(absolute_axis(-3, 1920), 0);
        assert_eq!(absolute_axis(7, 1), 0);
        // Every pixel of these desktops lands where it was aimed, up to the last one.
        for extent in [1920, 3840, 1366, 7680, 800] {
            for v in 0..extent {
                let a = i64::from(absolute_axis(v, extent));
                assert_eq!((a * i64::from(extent) / 65536) as i32, v, "{v} of {extent}");
            }
        }
    }

    #[test]
    fn the_wheel_turns_the_way_the_helper_turned_it() {
        assert_eq!(wheel_data(true, 1), -120, "down is negative on Windows");
        assert_eq!(wheel_data(true, -2), 240);
        assert_eq!(wheel_data(false, 3), 360, "right is positive");
        assert_eq!(wheel_data(true, i32::MIN), i32::MAX);
    }
}
