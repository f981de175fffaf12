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

pub use tandem_proto::input::{
    DeclineReason, InputEvent, Modifiers, PointerButton, INPUT_STREAM_KIND, MAX_INPUT_LEN,
    MAX_WHEEL_NOTCHES,
};
