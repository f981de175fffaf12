//! An X client on the sharer's screen that records the input it receives, as an application
//! would: a window over the whole screen with the keyboard focus. Keys are reported with the
//! keysym the current keyboard layout gives them, so a test sees what a person would see.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AutoRepeatMode, ChangeKeyboardControlAux, ConnectionExt as _, CreateWindowAux, EventMask,
    InputFocus, WindowClass,
};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::COPY_DEPTH_FROM_PARENT;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Key {
        keycode: u8,
        /// What the layout makes of it, with Shift applied.
        keysym: u32,
        down: bool,
    },
    Button {
        button: u8,
        down: bool,
        x: i16,
        y: i16,
    },
    Motion {
        x: i16,
        y: i16,
    },
}

pub struct EventRecorder {
    events: Arc<Mutex<Vec<(Instant, Recorded)>>>,
    conn: Arc<RustConnection>,
    window: u32,
}

impl EventRecorder {
    /// Covers X screen `screen` of `display` and takes the keyboard focus. Key autorepeat is
    /// switched off on the display so a held key reads as one press until its release.
    pub fn start(display: &str, screen: usize) -> Self {
        Self::open(display, screen, true)
    }

    /// The same with an input-only window: whatever is drawn on the screen stays visible
    /// (and captured) under it.
    pub fn start_invisible(display: &str, screen: usize) -> Self {
        Self::open(display, screen, false)
    }

    fn open(display: &str, screen: usize, visible: bool) -> Self {
        let (conn, _) = x11rb::connect(Some(display)).expect("recorder connects");
        let conn = Arc::new(conn);
        let s = conn.setup().roots[screen].clone();
        let window = conn.generate_id().expect("id");
        let (class, aux) = if visible {
            (
                WindowClass::INPUT_OUTPUT,
                CreateWindowAux::new().background_pixel(s.black_pixel),
            )
        } else {
            (WindowClass::INPUT_ONLY, CreateWindowAux::new())
        };
        conn.create_window(
            if visible { COPY_DEPTH_FROM_PARENT } else { 0 },
            window,
            s.root,
            0,
            0,
            s.width_in_pixels,
            s.height_in_pixels,
            0,
            class,
            0,
            &aux.override_redirect(1).event_mask(
                EventMask::KEY_PRESS
                    | EventMask::KEY_RELEASE
                    | EventMask::BUTTON_PRESS
                    | EventMask::BUTTON_RELEASE
                    | EventMask::POINTER_MOTION,
            ),
        )
        .expect("create window");
        conn.map_window(window).expect("map");
        conn.set_input_focus(InputFocus::POINTER_ROOT, window, x11rb::CURRENT_TIME)
            .expect("focus");
        conn.change_keyboard_control(
            &ChangeKeyboardControlAux::new().auto_repeat_mode(AutoRepeatMode::OFF),
        )
        .expect("autorepeat off");
        // A round trip: when it returns, the window is there and focused.
        conn.get_input_focus()
            .expect("sync")
            .reply()
            .expect("sync reply");
        let events = Arc::new(Mutex::new(Vec::new()));
        let (sink, reader) = (events.clone(), conn.clone());
        std::thread::spawn(move || {
            while let Ok(ev) = reader.wait_for_event() {
                let at = Instant::now();
                let rec = match ev {
                    Event::KeyPress(k) | Event::KeyRelease(k) => Recorded::Key {
                        keycode: k.detail,
                        keysym: keysym(&reader, k.detail, u16::from(k.state)),
                        down: matches!(ev, Event::KeyPress(_)),
                    },
                    Event::ButtonPress(b) | Event::ButtonRelease(b) => Recorded::Button {
                        button: b.detail,
                        down: matches!(ev, Event::ButtonPress(_)),
                        x: b.root_x,
                        y: b.root_y,
                    },
                    Event::MotionNotify(m) => Recorded::Motion {
                        x: m.root_x,
                        y: m.root_y,
                    },
                    _ => continue,
                };
                if let Ok(mut v) = sink.lock() {
                    v.push((at, rec));
                }
            }
        });
        Self {
            events,
            conn,
            window,
        }
    }

    /// Takes the recording window away (the screen under it shows again).
    pub fn close(self) {
        let _ = self.conn.destroy_window(self.window);
        let _ = self.conn.flush();
    }

    pub fn events(&self) -> Vec<Recorded> {
        self.events
            .lock()
            .map(|v| v.iter().map(|(_, e)| *e).collect())
            .unwrap_or_default()
    }

    pub fn timed_events(&self) -> Vec<(Instant, Recorded)> {
        self.events.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Waits for `count` key presses (panics with what came after `timeout`), lets a
    /// possible extra one arrive, and returns the keysyms of every press, in order.
    pub fn pressed_keysyms(&self, count: usize, timeout: Duration) -> Vec<u32> {
        self.wait_until(timeout, "every key", |e| {
            e.iter()
                .filter(|e| matches!(e, Recorded::Key { down: true, .. }))
                .count()
                >= count
        });
        std::thread::sleep(Duration::from_millis(500));
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Recorded::Key {
                    keysym, down: true, ..
                } => Some(keysym),
                _ => None,
            })
            .collect()
    }

    /// Everything but pointer motion.
    pub fn presses(&self) -> Vec<Recorded> {
        self.events()
            .into_iter()
            .filter(|e| !matches!(e, Recorded::Motion { .. }))
            .collect()
    }

    pub fn clear(&self) {
        if let Ok(mut v) = self.events.lock() {
            v.clear();
        }
    }

    /// Waits until `pred` holds for the events so far; panics with them after `timeout`.
    pub fn wait_until(&self, timeout: Duration, what: &str, pred: impl Fn(&[Recorded]) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let events = self.events();
            if pred(&events) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; recorded: {events:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The connection, for a test that changes the display (e.g. the pointer).
    pub fn connection(&self) -> &RustConnection {
        &self.conn
    }
}

/// The keysym for `keycode` in the current core keyboard mapping, shifted if Shift is down
/// (what `XLookupKeysym` does for the first group).
fn keysym(conn: &RustConnection, keycode: u8, state: u16) -> u32 {
    let Ok(reply) = conn
        .get_keyboard_mapping(keycode, 1)
        .map_err(|_| ())
        .and_then(|c| c.reply().map_err(|_| ()))
    else {
        return 0;
    };
    let syms = reply.keysyms;
    let shifted = state & u16::from(x11rb::protocol::xproto::KeyButMask::SHIFT) != 0;
    let lower = syms.first().copied().unwrap_or(0);
    let upper = syms.get(1).copied().filter(|&s| s != 0).unwrap_or(lower);
    if shifted {
        upper
    } else {
        lower
    }
}

/// Runs `setxkbmap LAYOUT` on the display.
pub fn set_layout(display: &str, layout: &str) {
    let status = std::process::Command::new("setxkbmap")
        .args(["-display", display, layout])
        .status()
        .unwrap_or_else(|e| panic!("cannot run setxkbmap ({e}): run scripts/setup-deps.sh test"));
    assert!(status.success(), "setxkbmap {layout} failed");
}
