//! Windows' secure desktop. UAC prompts, Ctrl+Alt+Del and the lock screen run on a desktop
//! of their own (`Winlogon`) that no normal process can capture or send input to: while it
//! is up, a capture shows a stale or black picture and `SendInput` is refused. The sharer
//! notices by asking which desktop receives input now; the helper is told to wait, and the
//! picture resumes by itself when the prompt closes.

use std::time::{Duration, Instant};

/// The question is cheap (two system calls), but needs asking only a few times a second.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// Whether the secure desktop is up, asked at most every [`CHECK_EVERY`].
#[derive(Debug, Default)]
pub struct SecureDesktopProbe {
    checked: Option<Instant>,
    active: bool,
}

impl SecureDesktopProbe {
    pub fn active(&mut self, now: Instant) -> bool {
        if self
            .checked
            .is_none_or(|t| now.saturating_duration_since(t) >= CHECK_EVERY)
        {
            self.checked = Some(now);
            self.active = input_desktop_is_elsewhere();
        }
        self.active
    }
}

/// True when the desktop receiving input is not this process's ("Default"): the secure
/// desktop, whose handle a normal process is not even allowed to open.
#[cfg(windows)]
fn input_desktop_is_elsewhere() -> bool {
    use windows::Win32::Foundation::HANDLE;
    use windows::Win32::System::StationsAndDesktops::{
        CloseDesktop, GetUserObjectInformationW, OpenInputDesktop, DESKTOP_CONTROL_FLAGS,
        DESKTOP_READOBJECTS, UOI_NAME,
    };
    // SAFETY: plain calls; the handle is closed on every path, the buffer outlives the call
    // and its size in bytes is what is passed.
    unsafe {
        let Ok(desktop) = OpenInputDesktop(DESKTOP_CONTROL_FLAGS(0), false, DESKTOP_READOBJECTS)
        else {
            return true;
        };
        let mut name = [0u16; 64];
        let named = GetUserObjectInformationW(
            HANDLE(desktop.0),
            UOI_NAME,
            Some(name.as_mut_ptr().cast()),
            (name.len() * 2) as u32,
            None,
        );
        let _ = CloseDesktop(desktop);
        if named.is_err() {
            return false;
        }
        let len = name.iter().position(|&c| c == 0).unwrap_or(name.len());
        !String::from_utf16_lossy(&name[..len]).eq_ignore_ascii_case("Default")
    }
}

/// Only Windows has a secure desktop.
#[cfg(not(windows))]
fn input_desktop_is_elsewhere() -> bool {
    false
}
