//! What the helper sends on its input stream: pointer, buttons, wheel and physical keys.

use serde::{Deserialize, Serialize};

/// Largest input message; real ones are tens of bytes.
pub const MAX_INPUT_LEN: usize = 1024;
/// At most this many wheel notches per message on either axis (a hostile helper must not
/// make the sharer loop for minutes).
pub const MAX_WHEEL_NOTCHES: i32 = 50;

/// One input event from the helper, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputEvent {
    /// The pointer is at (`x`, `y`) in the pixels of monitor `monitor` (as listed by the
    /// sharer). Moves meant for another monitor than the one shown are dropped.
    PointerMove {
        monitor: u32,
        x: u32,
        y: u32,
    },
    Button {
        button: PointerButton,
        down: bool,
    },
    /// Wheel notches: positive `dy` scrolls down, positive `dx` scrolls right.
    Wheel {
        dx: i32,
        dy: i32,
    },
    /// A physical key, by its W3C `KeyboardEvent.code` name ("KeyA", "ShiftLeft"), so the
    /// sharer's keyboard layout decides which character it types.
    Key {
        code: String,
        down: bool,
    },
    /// The helper's modifier state, sent when it changes without a key event (the helper's
    /// window lost focus with Shift held): held modifier keys it does not list are released.
    Modifiers(Modifiers),
    /// Text to type on the sharer's desktop, for fields that refuse a paste: each character
    /// as the sharer's own layout types it (or the platform's Unicode input). Typed only
    /// while the helper holds no key (a held Ctrl would turn letters into shortcuts);
    /// printable characters, newlines and tabs only.
    Text {
        text: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointerButton {
    Left,
    Middle,
    Right,
    Back,
    Forward,
}

impl std::str::FromStr for PointerButton {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "left" => PointerButton::Left,
            "middle" => PointerButton::Middle,
            "right" => PointerButton::Right,
            "back" => PointerButton::Back,
            "forward" => PointerButton::Forward,
            _ => {
                return Err(format!(
                    "unknown button {s:?} (left, middle, right, back, forward)"
                ))
            }
        })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Modifiers {
    #[serde(default)]
    pub shift: bool,
    #[serde(default)]
    pub ctrl: bool,
    #[serde(default)]
    pub alt: bool,
    #[serde(default)]
    pub meta: bool,
}

/// Why the sharer did not hand over control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineReason {
    /// The person said no.
    Declined,
    /// Asked again too soon after a "no".
    TooSoon,
    /// This screen cannot be controlled (a test pattern, or no input injection here).
    NotPossible,
}

impl DeclineReason {
    pub fn describe(self) -> &'static str {
        match self {
            DeclineReason::Declined => "the sharer declined the request for control",
            DeclineReason::TooSoon => {
                "the sharer declined a moment ago; wait a little before asking again"
            }
            DeclineReason::NotPossible => "this screen cannot be controlled",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_events_have_a_stable_readable_wire_form() {
        let cases = [
            (
                InputEvent::PointerMove {
                    monitor: 1,
                    x: 10,
                    y: 20,
                },
                r#"{"type":"pointer_move","monitor":1,"x":10,"y":20}"#,
            ),
            (
                InputEvent::Button {
                    button: PointerButton::Right,
                    down: true,
                },
                r#"{"type":"button","button":"right","down":true}"#,
            ),
            (
                InputEvent::Key {
                    code: "KeyA".into(),
                    down: false,
                },
                r#"{"type":"key","code":"KeyA","down":false}"#,
            ),
            (
                InputEvent::Modifiers(Modifiers {
                    shift: true,
                    ..Modifiers::default()
                }),
                r#"{"type":"modifiers","shift":true,"ctrl":false,"alt":false,"meta":false}"#,
            ),
        ];
        for (event, json) in cases {
            assert_eq!(serde_json::to_string(&event).expect("json"), json);
            assert_eq!(
                serde_json::from_str::<InputEvent>(json).expect("parse"),
                event
            );
        }
        assert!(serde_json::from_str::<InputEvent>(r#"{"type":"teleport"}"#).is_err());
        assert!(serde_json::from_str::<InputEvent>(
            r#"{"type":"pointer_move","monitor":0,"x":-1,"y":0}"#
        )
        .is_err());
    }
}
