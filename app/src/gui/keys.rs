//! The helper's keyboard and mouse over the viewer, as engine input events.

use iced::keyboard::key::{Code, Physical};
use iced::mouse;

use crate::input::{InputEvent, Modifiers, PointerButton};

/// The W3C `KeyboardEvent.code` name of a physical key. iced names keys as the W3C does,
/// except the OS keys ("Super" for the W3C "Meta").
pub fn w3c_code(key: Physical) -> Option<String> {
    let Physical::Code(code) = key else {
        return None;
    };
    let name = match code {
        Code::SuperLeft => "MetaLeft".to_owned(),
        Code::SuperRight => "MetaRight".to_owned(),
        other => format!("{other:?}"),
    };
    // A key without a W3C name (so no key code on any sharer) is not worth sending.
    name.parse::<keycode::KeyMappingCode>().ok()?;
    Some(name)
}

pub fn key_event(key: Physical, down: bool) -> Option<InputEvent> {
    w3c_code(key).map(|code| InputEvent::Key { code, down })
}

pub fn modifiers(m: iced::keyboard::Modifiers) -> Modifiers {
    Modifiers {
        shift: m.shift(),
        ctrl: m.control(),
        alt: m.alt(),
        meta: m.logo(),
    }
}

pub fn button(button: mouse::Button) -> Option<PointerButton> {
    Some(match button {
        mouse::Button::Left => PointerButton::Left,
        mouse::Button::Middle => PointerButton::Middle,
        mouse::Button::Right => PointerButton::Right,
        mouse::Button::Back => PointerButton::Back,
        mouse::Button::Forward => PointerButton::Forward,
        mouse::Button::Other(_) => return None,
    })
}

/// Wheel notches from a scroll: lines count one each; pixels (touchpads) one per 40 px,
/// rounded away from zero so a small swipe still scrolls. iced's "up" is positive y, the
/// wire's "down" is positive.
pub fn wheel(delta: mouse::ScrollDelta) -> Option<InputEvent> {
    let (dx, dy) = match delta {
        mouse::ScrollDelta::Lines { x, y } => (x, y),
        mouse::ScrollDelta::Pixels { x, y } => (x / 40.0, y / 40.0),
    };
    let notches = |v: f32| -> i32 {
        if v.abs() < f32::EPSILON {
            0
        } else {
            (v.abs().ceil().min(50.0) as i32) * v.signum() as i32
        }
    };
    let (dx, dy) = (notches(-dx), notches(-dy));
    (dx != 0 || dy != 0).then_some(InputEvent::Wheel { dx, dy })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physical_keys_get_their_w3c_names() {
        assert_eq!(
            w3c_code(Physical::Code(Code::KeyA)).as_deref(),
            Some("KeyA")
        );
        assert_eq!(
            w3c_code(Physical::Code(Code::Semicolon)).as_deref(),
            Some("Semicolon")
        );
        assert_eq!(
            w3c_code(Physical::Code(Code::ShiftLeft)).as_deref(),
            Some("ShiftLeft")
        );
        assert_eq!(
            w3c_code(Physical::Code(Code::SuperLeft)).as_deref(),
            Some("MetaLeft")
        );
        assert_eq!(
            w3c_code(Physical::Code(Code::NumpadEnter)).as_deref(),
            Some("NumpadEnter")
        );
        assert_eq!(
            w3c_code(Physical::Code(Code::Digit1)).as_deref(),
            Some("Digit1")
        );
    }

    #[test]
    fn wheel_notches_follow_the_wire_convention() {
        assert_eq!(
            wheel(mouse::ScrollDelta::Lines { x: 0.0, y: -1.0 }),
            Some(InputEvent::Wheel { dx: 0, dy: 1 }),
            "scrolling towards the person is down"
        );
        assert_eq!(
            wheel(mouse::ScrollDelta::Pixels { x: 10.0, y: 0.0 }),
            Some(InputEvent::Wheel { dx: -1, dy: 0 })
        );
        assert_eq!(wheel(mouse::ScrollDelta::Lines { x: 0.0, y: 0.0 }), None);
    }
}
