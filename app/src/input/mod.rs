//! Remote control: what the helper sends, how the sharer decides whether to obey, and how
//! it lands on the sharer's desktop.
//!
//! - [`InputEvent`]: the wire format on the helper's input stream.
//! - [`view::ViewTransform`]: the helper's scaled view → the shared monitor's pixels.
//! - [`gate::ControlGate`]: the sharer's request / grant / revoke state; the only authority.
//! - [`translate::InputTranslator`]: wire events → platform operations, remembering what is
//!   held so that it can all be released.
//! - [`inject`]: the operations on the real desktop (enigo), on their own thread.

pub mod gate;
pub mod inject;
pub mod translate;
pub mod view;
pub mod win;
#[cfg(target_os = "linux")]
pub mod wlr;

pub use tandem_proto::input::{
    DeclineReason, InputEvent, Modifiers, PointerButton, MAX_INPUT_LEN, MAX_WHEEL_NOTCHES,
};

/// The Linux input code of a pointer button (`BTN_LEFT`…), as Wayland protocols want it.
pub fn evdev_button(button: PointerButton) -> u32 {
    match button {
        PointerButton::Left => 0x110,
        PointerButton::Right => 0x111,
        PointerButton::Middle => 0x112,
        PointerButton::Back => 0x113,
        PointerButton::Forward => 0x114,
    }
}
