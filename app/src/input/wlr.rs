//! Input on wlroots compositors (sway…), which have no RemoteDesktop portal: the
//! compositor's virtual-pointer and virtual-keyboard protocols.
//!
//! Keys stay physical: a virtual keyboard must bring its own keymap, and this one brings
//! the seat's (the layout the person's own keyboard has), so an evdev key code means what
//! it means on their keyboard. wlroots does not derive modifiers from a virtual keyboard's
//! keys, so the keymap's state is tracked here (xkbcommon) and sent after every key.
//! enigo's Wayland backend uploads a keymap of its own making instead, which would replace
//! the person's layout for as long as the helper types: hence this module.

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::time::Instant;

use wayland_client::protocol::{wl_keyboard, wl_pointer, wl_seat};
use wayland_client::{Connection, Dispatch, Proxy, QueueHandle, WEnum};
use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::{
    zwp_virtual_keyboard_manager_v1, zwp_virtual_keyboard_v1,
};
use wayland_protocols_wlr::virtual_pointer::v1::client::{
    zwlr_virtual_pointer_manager_v1, zwlr_virtual_pointer_v1,
};
use xkbcommon::xkb;

use super::inject::{InjectError, Injector};
use super::translate::{InjectOp, ScrollAxis};
use crate::capture::wlr::{has_global, no_events, WlrConnection, WlrState};
use crate::capture::MonitorInfo;

/// Left Shift's X key code (evdev 42 + 8).
const SHIFT_LEFT: u16 = 50;

/// A keymap larger than this is not a keymap (the usual ones are ~60 KB).
const MAX_KEYMAP: u32 = 4 << 20;
/// One wheel notch, in wl_pointer axis units (what libinput reports for a mouse wheel).
const NOTCH: f64 = 15.0;

/// Whether the compositor at `$WAYLAND_DISPLAY` takes virtual pointers and keyboards.
pub fn available() -> bool {
    WlrConnection::open().is_ok_and(|wl| {
        has_global(
            &wl.globals,
            zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1::interface().name,
        ) && has_global(
            &wl.globals,
            zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1::interface().name,
        )
    })
}

pub struct WlrInjector {
    wl: WlrConnection,
    seat: wl_seat::WlSeat,
    pointers: zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1,
    /// One virtual pointer per monitor (absolute positions are relative to it), made when
    /// the pointer first goes there.
    pointer: Vec<(u32, zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1)>,
    /// The monitor the pointer was last moved to: buttons and wheel go through its pointer.
    last_monitor: Option<u32>,
    monitors: Vec<MonitorInfo>,
    keyboard: zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1,
    keys: xkb::State,
    sent_modifiers: (u32, u32, u32, u32),
    started: Instant,
}

fn open_failed(reason: impl Into<String>) -> InjectError {
    InjectError::Open {
        display: "the Wayland desktop".into(),
        reason: reason.into(),
    }
}

impl WlrInjector {
    pub fn open() -> Result<Self, InjectError> {
        let mut wl = WlrConnection::open().map_err(open_failed)?;
        let missing = "the desktop offers no virtual pointer and keyboard (wlroots protocols)";
        let pointers: zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1 = wl
            .globals
            .bind(&wl.qh, 1..=2, ())
            .map_err(|_| open_failed(missing))?;
        let keyboards: zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1 = wl
            .globals
            .bind(&wl.qh, 1..=1, ())
            .map_err(|_| open_failed(missing))?;
        let seat: wl_seat::WlSeat = wl
            .globals
            .bind(&wl.qh, 1..=7, ())
            .map_err(|_| open_failed("the desktop has no seat"))?;
        // The seat says whether it has a keyboard; if so, that keyboard's keymap follows.
        wl.roundtrip().map_err(open_failed)?;
        let seat_keyboard = wl
            .state
            .seat_has_keyboard
            .then(|| seat.get_keyboard(&wl.qh, ()));
        wl.roundtrip().map_err(open_failed)?;
        let keymap = sharers_keymap(wl.state.keymap.take())?;
        if let Some(k) = seat_keyboard {
            if k.version() >= 3 {
                k.release();
            }
        }
        let text = keymap.get_as_string(xkb::KEYMAP_FORMAT_TEXT_V1);
        let size = u32::try_from(text.len() + 1).map_err(|_| open_failed("keymap too large"))?;
        let mut file = crate::capture::wlr::memfd(c"tandem-keymap", 0)
            .map_err(|e| open_failed(format!("cannot share the keymap: {e}")))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.write_all(&[0]))
            .map_err(|e| open_failed(format!("cannot share the keymap: {e}")))?;
        let keyboard = keyboards.create_virtual_keyboard(&seat, &wl.qh, ());
        keyboard.keymap(wl_keyboard::KeymapFormat::XkbV1.into(), file.as_fd(), size);
        let monitors = wl.state.monitors();
        let mut this = Self {
            wl,
            seat,
            pointers,
            pointer: Vec::new(),
            last_monitor: None,
            monitors,
            keyboard,
            keys: xkb::State::new(&keymap),
            sent_modifiers: (0, 0, 0, 0),
            started: Instant::now(),
        };
        // The pointers now, not at the first move: on a seat that had no pointer, windows
        // make theirs only when told the seat has one, and would miss a click sent at once.
        for id in this.monitors.iter().map(|m| m.id).collect::<Vec<_>>() {
            this.pointer_on(id);
        }
        // A refusal (e.g. a compositor that lets only trusted clients type) shows here.
        this.wl.roundtrip().map_err(open_failed)?;
        Ok(this)
    }

    fn time(&self) -> u32 {
        // Wrapping milliseconds, as the protocol's timestamps are.
        self.started.elapsed().as_millis() as u32
    }

    /// The virtual pointer for a monitor, made on first use.
    fn pointer_on(&mut self, id: u32) -> &zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1 {
        if let Some(i) = self.pointer.iter().position(|(m, _)| *m == id) {
            return &self.pointer[i].1;
        }
        let output = self.wl.output(id).cloned();
        let pointer = if self.pointers.version() >= 2 {
            self.pointers.create_virtual_pointer_with_output(
                Some(&self.seat),
                output.as_ref(),
                &self.wl.qh,
                (),
            )
        } else {
            self.pointers
                .create_virtual_pointer(Some(&self.seat), &self.wl.qh, ())
        };
        self.pointer.push((id, pointer));
        &self.pointer[self.pointer.len() - 1].1
    }

    fn any_pointer(&mut self) -> Option<&zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1> {
        let id = self.last_monitor.or(self.monitors.first().map(|m| m.id))?;
        Some(self.pointer_on(id))
    }

    /// `(x, y)`: the monitor's origin plus a pixel in it (see [`InjectOp::MoveTo`]).
    fn move_to(&mut self, monitor: u32, x: i32, y: i32) {
        if self.wl.state.outputs_changed {
            // Plugged or unplugged since: ids are the source's (both list in the
            // registry's order).
            self.wl.state.outputs_changed = false;
            self.monitors = self.wl.state.monitors();
        }
        let Some(m) = self
            .monitors
            .iter()
            .find(|m| m.id == monitor)
            .or(self.monitors.first())
            .cloned()
        else {
            return;
        };
        let time = self.time();
        let v1 = self.pointers.version() < 2;
        // Version 1 maps positions onto the whole desktop rather than one monitor.
        let (origin, extent) = if v1 {
            desktop_extent(&self.monitors)
        } else {
            ((m.x, m.y), (m.width, m.height))
        };
        let px = u32::try_from(x.saturating_sub(origin.0)).unwrap_or(0);
        let py = u32::try_from(y.saturating_sub(origin.1)).unwrap_or(0);
        self.last_monitor = Some(m.id);
        let pointer = self.pointer_on(m.id);
        pointer.motion_absolute(time, px, py, extent.0.max(1), extent.1.max(1));
        pointer.frame();
    }

    /// Types `c` with the key of the sharer's layout that makes it, with Shift if that
    /// key's second level does (the keymap is the seat's own, so this is what the person
    /// would press).
    fn type_char(&mut self, c: char) -> Result<(), InjectError> {
        let keysym = match c {
            '\n' => xkb::Keysym::Return,
            '\t' => xkb::Keysym::Tab,
            c => xkb::utf32_to_keysym(u32::from(c)),
        };
        let keymap = self.keys.get_keymap();
        let layout = self.keys.serialize_layout(xkb::STATE_LAYOUT_EFFECTIVE);
        let found = (keymap.min_keycode().raw()..=keymap.max_keycode().raw())
            .flat_map(|code| [(code, 0u32), (code, 1u32)])
            .find(|&(code, level)| {
                keymap
                    .key_get_syms_by_level(xkb::Keycode::new(code), layout, level)
                    .contains(&keysym)
            });
        let Some((code, level)) = found else {
            return Err(InjectError::Inject(format!(
                "{c:?} is on no key of this keyboard layout"
            )));
        };
        let Ok(code) = u16::try_from(code) else {
            return Ok(());
        };
        let shift = level == 1;
        if shift {
            self.key(SHIFT_LEFT, true);
        }
        self.key(code, true);
        self.key(code, false);
        if shift {
            self.key(SHIFT_LEFT, false);
        }
        Ok(())
    }

    fn key(&mut self, keycode: u16, down: bool) {
        // X key codes are evdev codes + 8, as xkbcommon counts them.
        let Some(evdev) = u32::from(keycode).checked_sub(8).filter(|c| *c > 0) else {
            return;
        };
        let time = self.time();
        let state = if down {
            wl_keyboard::KeyState::Pressed
        } else {
            wl_keyboard::KeyState::Released
        };
        self.keyboard.key(time, evdev, state.into());
        let direction = if down {
            xkb::KeyDirection::Down
        } else {
            xkb::KeyDirection::Up
        };
        self.keys
            .update_key(xkb::Keycode::new(u32::from(keycode)), direction);
        let modifiers = (
            self.keys.serialize_mods(xkb::STATE_MODS_DEPRESSED),
            self.keys.serialize_mods(xkb::STATE_MODS_LATCHED),
            self.keys.serialize_mods(xkb::STATE_MODS_LOCKED),
            self.keys.serialize_layout(xkb::STATE_LAYOUT_EFFECTIVE),
        );
        if modifiers != self.sent_modifiers {
            self.sent_modifiers = modifiers;
            self.keyboard
                .modifiers(modifiers.0, modifiers.1, modifiers.2, modifiers.3);
        }
    }
}

/// The bounding box of all monitors: version 1 of the protocol maps onto it.
fn desktop_extent(monitors: &[MonitorInfo]) -> ((i32, i32), (u32, u32)) {
    let left = monitors.iter().map(|m| m.x).min().unwrap_or(0);
    let top = monitors.iter().map(|m| m.y).min().unwrap_or(0);
    let right = monitors
        .iter()
        .map(|m| m.x + m.width as i32)
        .max()
        .unwrap_or(1);
    let bottom = monitors
        .iter()
        .map(|m| m.y + m.height as i32)
        .max()
        .unwrap_or(1);
    (
        (left, top),
        (
            u32::try_from(right - left).unwrap_or(1),
            u32::try_from(bottom - top).unwrap_or(1),
        ),
    )
}

/// The seat's keymap, or (a seat without a keyboard yet) the one the compositor itself
/// would compile: xkbcommon's defaults, which honour `XKB_DEFAULT_LAYOUT` and friends.
fn sharers_keymap(sent: Option<(std::os::fd::OwnedFd, u32)>) -> Result<xkb::Keymap, InjectError> {
    let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
    if let Some((fd, size)) = sent {
        if size > MAX_KEYMAP {
            return Err(open_failed(format!("the seat's keymap is {size} bytes")));
        }
        let file = std::fs::File::from(fd);
        let mut bytes = vec![0u8; size as usize];
        // At an offset: the descriptor's position is shared with the compositor.
        file.read_exact_at(&mut bytes, 0)
            .map_err(|e| open_failed(format!("cannot read the seat's keymap: {e}")))?;
        let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
        bytes.truncate(end);
        let text =
            String::from_utf8(bytes).map_err(|_| open_failed("the seat's keymap is not text"))?;
        return xkb::Keymap::new_from_string(
            &context,
            text,
            xkb::KEYMAP_FORMAT_TEXT_V1,
            xkb::KEYMAP_COMPILE_NO_FLAGS,
        )
        .ok_or_else(|| open_failed("the seat's keymap does not compile"));
    }
    xkb::Keymap::new_from_names(&context, "", "", "", "", None, xkb::KEYMAP_COMPILE_NO_FLAGS)
        .ok_or_else(|| open_failed("no keymap: xkeyboard-config is missing"))
}

impl Injector for WlrInjector {
    fn inject(&mut self, op: &InjectOp) -> Result<(), InjectError> {
        match *op {
            InjectOp::MoveTo { monitor, x, y, .. } => self.move_to(monitor, x, y),
            InjectOp::Button { button, down } => {
                let time = self.time();
                let state = if down {
                    wl_pointer::ButtonState::Pressed
                } else {
                    wl_pointer::ButtonState::Released
                };
                if let Some(pointer) = self.any_pointer() {
                    pointer.button(time, super::evdev_button(button), state);
                    pointer.frame();
                }
            }
            InjectOp::Scroll { axis, notches } => {
                let time = self.time();
                let axis = match axis {
                    ScrollAxis::Vertical => wl_pointer::Axis::VerticalScroll,
                    ScrollAxis::Horizontal => wl_pointer::Axis::HorizontalScroll,
                };
                if let Some(pointer) = self.any_pointer() {
                    pointer.axis_source(wl_pointer::AxisSource::Wheel);
                    pointer.axis_discrete(time, axis, NOTCH * f64::from(notches), notches);
                    pointer.frame();
                }
            }
            InjectOp::Key { keycode, down } => self.key(keycode, down),
            InjectOp::Char(c) => self.type_char(c)?,
        }
        // Sends, and takes in what the compositor said meanwhile (outputs plugged, errors),
        // without waiting: unread, its messages would pile up until it drops us.
        let failed = |e: String| InjectError::Inject(e);
        self.wl.read_events(Instant::now()).map_err(failed)?;
        self.wl
            .queue
            .dispatch_pending(&mut self.wl.state)
            .map(|_| ())
            .map_err(|e| InjectError::Inject(format!("the Wayland connection failed: {e}")))
    }
}

impl Drop for WlrInjector {
    fn drop(&mut self) {
        for (_, pointer) in self.pointer.drain(..) {
            pointer.destroy();
        }
        self.keyboard.destroy();
        let _ = self.wl.conn.flush();
    }
}

impl Dispatch<wl_seat::WlSeat, ()> for WlrState {
    fn event(
        state: &mut Self,
        _: &wl_seat::WlSeat,
        event: wl_seat::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_seat::Event::Capabilities {
            capabilities: WEnum::Value(caps),
        } = event
        {
            state.seat_has_keyboard = caps.contains(wl_seat::Capability::Keyboard);
        }
    }
}

impl Dispatch<wl_keyboard::WlKeyboard, ()> for WlrState {
    fn event(
        state: &mut Self,
        _: &wl_keyboard::WlKeyboard,
        event: wl_keyboard::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_keyboard::Event::Keymap {
            format: WEnum::Value(wl_keyboard::KeymapFormat::XkbV1),
            fd,
            size,
        } = event
        {
            state.keymap = Some((fd, size));
        }
    }
}

no_events!(
    zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1,
    zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1,
    zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1,
    zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_pointers_map_onto_the_box_around_every_monitor() {
        let m = |id, x, y, width, height| MonitorInfo {
            id,
            name: String::new(),
            screen: 0,
            x,
            y,
            width,
            height,
            width_mm: 0,
            primary: id == 0,
            scale_percent: 100,
        };
        assert_eq!(
            desktop_extent(&[m(0, 0, 0, 1920, 1080), m(1, 1920, -200, 1280, 1024)]),
            ((0, -200), (3200, 1280))
        );
    }

    #[test]
    fn a_keymap_the_seat_sends_is_read_whole_and_a_huge_one_is_refused() {
        let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        let de = xkb::Keymap::new_from_names(
            &context,
            "",
            "",
            "de",
            "",
            None,
            xkb::KEYMAP_COMPILE_NO_FLAGS,
        )
        .expect("xkeyboard-config has de");
        let text = de.get_as_string(xkb::KEYMAP_FORMAT_TEXT_V1);
        let mut file = crate::capture::wlr::memfd(c"test-keymap", 0).expect("memfd");
        file.write_all(text.as_bytes()).expect("write");
        file.write_all(&[0]).expect("write");
        let size = text.len() as u32 + 1;
        let keymap = sharers_keymap(Some((file.into(), size))).expect("compiles");
        // evdev KEY_Y (21; X key code 29), the key right of T, is Z on a German keyboard.
        let state = xkb::State::new(&keymap);
        assert_eq!(
            state.key_get_one_sym(xkb::Keycode::new(21 + 8)),
            xkb::Keysym::z
        );
        let huge = crate::capture::wlr::memfd(c"test-keymap", 0).expect("memfd");
        assert!(sharers_keymap(Some((huge.into(), MAX_KEYMAP + 1))).is_err());
    }
}
