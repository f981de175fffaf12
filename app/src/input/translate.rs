//! Wire events → operations on the sharer's desktop, in the sharer's coordinates and key
//! codes. Remembers every key and button it pressed, so that revoking, pausing, ending or
//! losing the helper releases them all and nothing stays stuck.

use std::str::FromStr;

use keycode::{KeyMap, KeyMappingCode, KeyModifiers};

use super::{InputEvent, Modifiers, PointerButton, MAX_WHEEL_NOTCHES};
use crate::capture::MonitorInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScrollAxis {
    Vertical,
    Horizontal,
}

/// One operation for the [`super::inject::Injector`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectOp {
    /// Absolute position on X screen `screen` (0 elsewhere), in that screen's pixels: the
    /// shown monitor's origin plus a pixel inside it. `monitor` says which monitor that is
    /// (on Wayland with scaled monitors, origins are logical and pixel ranges may overlap).
    MoveTo {
        screen: u32,
        monitor: u32,
        x: i32,
        y: i32,
    },
    Button {
        button: PointerButton,
        down: bool,
    },
    /// Positive: down / right.
    Scroll {
        axis: ScrollAxis,
        notches: i32,
    },
    /// A platform key code (X11: the X keycode).
    Key {
        keycode: u16,
        down: bool,
    },
    /// One character typed (pressed and released) as the desktop's layout makes it.
    Char(char),
}

/// At most this many characters per text message (the input message's size limit is the
/// other bound): a helper types a field's worth, not a book.
pub const MAX_TYPED_CHARS: usize = 256;

/// Characters that may be typed: printable ones, newline (a carriage return is dropped)
/// and tab — no other control characters, which would act as keys the helper did not press.
pub fn typeable(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\t') || !c.is_control()
}

/// Why an event was not turned into operations (logged, never fatal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skipped {
    #[error("pointer move for monitor {0}, which is not the one shown")]
    OtherMonitor(u32),
    #[error("unknown key code {0:?}")]
    UnknownKey(String),
    #[error("release of a key or button that was not pressed remotely")]
    NotHeld,
    #[error("press of a button already held")]
    AlreadyHeld,
    #[error("text while keys are held (they would turn it into shortcuts)")]
    KeysHeld,
    #[error("text longer than {MAX_TYPED_CHARS} characters")]
    TooMuchText,
    #[error("{0:?} cannot be typed")]
    NotTypeable(char),
}

#[derive(Debug, Default)]
pub struct InputTranslator {
    /// Held keys in press order, with their modifier bit if they are modifiers.
    held_keys: Vec<(u16, Option<KeyModifiers>)>,
    held_buttons: Vec<PointerButton>,
}

/// The platform key code for a W3C code name, with its modifier bit.
pub fn platform_key(code: &str) -> Option<(u16, Option<KeyModifiers>)> {
    let map = KeyMap::from(KeyMappingCode::from_str(code).ok()?);
    let keycode = platform_keycode(&map)?;
    Some((keycode, map.modifier))
}

#[cfg(all(unix, not(target_os = "macos")))]
fn platform_keycode(map: &KeyMap) -> Option<u16> {
    (map.xkb != 0).then_some(map.xkb)
}

#[cfg(windows)]
fn platform_keycode(map: &KeyMap) -> Option<u16> {
    (map.win != 0).then_some(map.win)
}

#[cfg(target_os = "macos")]
fn platform_keycode(map: &KeyMap) -> Option<u16> {
    (map.mac != 0xffff).then_some(map.mac)
}

fn modifier_allowed(bit: KeyModifiers, m: &Modifiers) -> bool {
    if bit.intersects(KeyModifiers::ShiftLeft | KeyModifiers::ShiftRight) {
        m.shift
    } else if bit.intersects(KeyModifiers::ControlLeft | KeyModifiers::ControlRight) {
        m.ctrl
    } else if bit.intersects(KeyModifiers::AltLeft | KeyModifiers::AltRight) {
        m.alt
    } else {
        m.meta
    }
}

impl InputTranslator {
    /// Appends the operations for `event` to `out`. `shown` is the monitor the helper sees.
    pub fn translate(
        &mut self,
        event: &InputEvent,
        shown: &MonitorInfo,
        out: &mut Vec<InjectOp>,
    ) -> Result<(), Skipped> {
        match event {
            InputEvent::PointerMove { monitor, x, y } => {
                if *monitor != shown.id {
                    return Err(Skipped::OtherMonitor(*monitor));
                }
                // Clamped to the monitor: a helper cannot reach outside what it is shown.
                let x = (*x).min(shown.width.saturating_sub(1)) as i32;
                let y = (*y).min(shown.height.saturating_sub(1)) as i32;
                out.push(InjectOp::MoveTo {
                    screen: shown.screen,
                    monitor: shown.id,
                    x: shown.x + x,
                    y: shown.y + y,
                });
            }
            InputEvent::Button { button, down } => {
                let held = self.held_buttons.contains(button);
                match (down, held) {
                    (true, true) => return Err(Skipped::AlreadyHeld),
                    (false, false) => return Err(Skipped::NotHeld),
                    (true, false) => self.held_buttons.push(*button),
                    (false, true) => self.held_buttons.retain(|b| b != button),
                }
                out.push(InjectOp::Button {
                    button: *button,
                    down: *down,
                });
            }
            InputEvent::Wheel { dx, dy } => {
                let clamp = |v: i32| v.clamp(-MAX_WHEEL_NOTCHES, MAX_WHEEL_NOTCHES);
                if *dy != 0 {
                    out.push(InjectOp::Scroll {
                        axis: ScrollAxis::Vertical,
                        notches: clamp(*dy),
                    });
                }
                if *dx != 0 {
                    out.push(InjectOp::Scroll {
                        axis: ScrollAxis::Horizontal,
                        notches: clamp(*dx),
                    });
                }
            }
            InputEvent::Text { text } => {
                if !self.held_keys.is_empty() {
                    return Err(Skipped::KeysHeld);
                }
                if text.chars().count() > MAX_TYPED_CHARS {
                    return Err(Skipped::TooMuchText);
                }
                if let Some(c) = text.chars().find(|&c| !typeable(c)) {
                    return Err(Skipped::NotTypeable(c));
                }
                // CR LF from a Windows helper is one Enter.
                out.extend(
                    text.replace("\r\n", "\n")
                        .chars()
                        .filter(|&c| c != '\r')
                        .map(InjectOp::Char),
                );
            }
            InputEvent::Key { code, down } => {
                let (keycode, modifier) =
                    platform_key(code).ok_or_else(|| Skipped::UnknownKey(code.clone()))?;
                let held = self.held_keys.iter().any(|(k, _)| *k == keycode);
                if *down {
                    // A second press of a held key is the helper's auto-repeat: pass it on.
                    if !held {
                        self.held_keys.push((keycode, modifier));
                    }
                } else if held {
                    self.held_keys.retain(|(k, _)| *k != keycode);
                } else {
                    // Never release a key the sharer is holding on their own keyboard.
                    return Err(Skipped::NotHeld);
                }
                out.push(InjectOp::Key {
                    keycode,
                    down: *down,
                });
            }
            InputEvent::Modifiers(m) => {
                let (stale, keep): (Vec<_>, Vec<_>) = self
                    .held_keys
                    .iter()
                    .partition(|(_, bit)| bit.is_some_and(|b| !modifier_allowed(b, m)));
                self.held_keys = keep;
                out.extend(stale.into_iter().map(|(keycode, _)| InjectOp::Key {
                    keycode,
                    down: false,
                }));
            }
        }
        Ok(())
    }

    /// Releases everything pressed remotely: buttons first, then keys in reverse order.
    pub fn release_all(&mut self, out: &mut Vec<InjectOp>) {
        out.extend(self.held_buttons.drain(..).map(|button| InjectOp::Button {
            button,
            down: false,
        }));
        out.extend(
            self.held_keys
                .drain(..)
                .rev()
                .map(|(keycode, _)| InjectOp::Key {
                    keycode,
                    down: false,
                }),
        );
    }

    pub fn holds_anything(&self) -> bool {
        !self.held_keys.is_empty() || !self.held_buttons.is_empty()
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn monitor() -> MonitorInfo {
        MonitorInfo {
            id: 1,
            name: "right".into(),
            screen: 0,
            x: 1920,
            y: 100,
            width: 1280,
            height: 720,
            width_mm: 0,
            scale_percent: 100,
            primary: false,
        }
    }

    fn run(t: &mut InputTranslator, ev: InputEvent) -> Result<Vec<InjectOp>, Skipped> {
        let mut out = Vec::new();
        t.translate(&ev, &monitor(), &mut out).map(|_| out)
    }

    fn key(code: &str, down: bool) -> InputEvent {
        InputEvent::Key {
            code: code.into(),
            down,
        }
    }

    fn text(s: &str) -> InputEvent {
        InputEvent::Text { text: s.into() }
    }

    #[test]
    fn text_is_typed_character_by_character_and_never_under_a_held_key() {
        let mut t = InputTranslator::default();
        assert_eq!(
            run(&mut t, text("è€\r\nx\ty")),
            Ok(vec![
                InjectOp::Char('è'),
                InjectOp::Char('€'),
                InjectOp::Char('\n'),
                InjectOp::Char('x'),
                InjectOp::Char('\t'),
                InjectOp::Char('y'),
            ])
        );
        // Ctrl held: "c" would be a copy, "w" would close a window.
        run(&mut t, key("ControlLeft", true)).expect("press");
        assert_eq!(run(&mut t, text("cw")), Err(Skipped::KeysHeld));
        run(&mut t, key("ControlLeft", false)).expect("release");
        // Control characters (escape, backspace, the terminal's ^C) are keys nobody pressed.
        assert_eq!(
            run(&mut t, text("ok\u{1b}")),
            Err(Skipped::NotTypeable('\u{1b}'))
        );
        assert_eq!(
            run(&mut t, text("\u{3}")),
            Err(Skipped::NotTypeable('\u{3}'))
        );
        let long = "a".repeat(MAX_TYPED_CHARS + 1);
        assert_eq!(run(&mut t, text(&long)), Err(Skipped::TooMuchText));
        // Nothing is held after typing: a revoke has nothing to release.
        let mut released = Vec::new();
        t.release_all(&mut released);
        assert!(released.is_empty());
    }

    #[test]
    fn moves_land_on_the_shown_monitor_and_stay_inside_it() {
        let mut t = InputTranslator::default();
        let mv = |monitor, x, y| InputEvent::PointerMove { monitor, x, y };
        assert_eq!(
            run(&mut t, mv(1, 10, 20)),
            Ok(vec![InjectOp::MoveTo {
                screen: 0,
                monitor: 1,
                x: 1930,
                y: 120
            }])
        );
        assert_eq!(
            run(&mut t, mv(1, 99_999, 99_999)),
            Ok(vec![InjectOp::MoveTo {
                screen: 0,
                monitor: 1,
                x: 1920 + 1279,
                y: 100 + 719
            }])
        );
        assert_eq!(run(&mut t, mv(0, 1, 1)), Err(Skipped::OtherMonitor(0)));
    }

    #[test]
    fn physical_keys_become_x_keycodes() {
        // X keycode = evdev + 8: KeyA is evdev 30, Semicolon 39, ShiftLeft 42.
        assert_eq!(platform_key("KeyA").map(|k| k.0), Some(38));
        assert_eq!(platform_key("Semicolon").map(|k| k.0), Some(47));
        assert_eq!(
            platform_key("ShiftLeft"),
            Some((50, Some(KeyModifiers::ShiftLeft)))
        );
        assert_eq!(platform_key("Enter").map(|k| k.0), Some(36));
        assert_eq!(platform_key("NoSuchKey"), None);
        assert_eq!(platform_key(""), None);
    }

    #[test]
    fn releases_only_what_was_pressed_remotely() {
        let mut t = InputTranslator::default();
        assert_eq!(run(&mut t, key("KeyA", false)), Err(Skipped::NotHeld));
        assert_eq!(
            run(
                &mut t,
                InputEvent::Button {
                    button: PointerButton::Left,
                    down: false
                }
            ),
            Err(Skipped::NotHeld)
        );
        assert_eq!(
            run(&mut t, key("Bogus", true)),
            Err(Skipped::UnknownKey("Bogus".into()))
        );
        run(&mut t, key("ShiftLeft", true)).expect("shift");
        run(&mut t, key("KeyA", true)).expect("a");
        run(&mut t, key("KeyA", true)).expect("auto-repeat passes");
        run(
            &mut t,
            InputEvent::Button {
                button: PointerButton::Left,
                down: true,
            },
        )
        .expect("button");
        assert_eq!(
            run(
                &mut t,
                InputEvent::Button {
                    button: PointerButton::Left,
                    down: true
                }
            ),
            Err(Skipped::AlreadyHeld)
        );
        assert!(t.holds_anything());
        let mut out = Vec::new();
        t.release_all(&mut out);
        assert_eq!(
            out,
            vec![
                InjectOp::Button {
                    button: PointerButton::Left,
                    down: false
                },
                InjectOp::Key {
                    keycode: 38,
                    down: false
                },
                InjectOp::Key {
                    keycode: 50,
                    down: false
                },
            ]
        );
        assert!(!t.holds_anything());
        out.clear();
        t.release_all(&mut out);
        assert!(out.is_empty(), "nothing twice");
    }

    #[test]
    fn modifier_state_releases_stale_modifiers_only() {
        let mut t = InputTranslator::default();
        run(&mut t, key("ShiftLeft", true)).expect("shift");
        run(&mut t, key("ControlRight", true)).expect("ctrl");
        run(&mut t, key("KeyB", true)).expect("b");
        let ops = run(
            &mut t,
            InputEvent::Modifiers(Modifiers {
                ctrl: true,
                ..Modifiers::default()
            }),
        )
        .expect("modifiers");
        assert_eq!(
            ops,
            vec![InjectOp::Key {
                keycode: 50,
                down: false
            }]
        );
        // Ctrl and B are still held.
        let mut out = Vec::new();
        t.release_all(&mut out);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn wheel_is_bounded() {
        let mut t = InputTranslator::default();
        assert_eq!(
            run(
                &mut t,
                InputEvent::Wheel {
                    dx: -3,
                    dy: i32::MAX
                }
            ),
            Ok(vec![
                InjectOp::Scroll {
                    axis: ScrollAxis::Vertical,
                    notches: MAX_WHEEL_NOTCHES
                },
                InjectOp::Scroll {
                    axis: ScrollAxis::Horizontal,
                    notches: -3
                },
            ])
        );
        assert_eq!(run(&mut t, InputEvent::Wheel { dx: 0, dy: 0 }), Ok(vec![]));
    }
}
