//! The files part of the window: the sharer's questions, both sides' progress bars.

use super::App;
use crate::session::Event;

impl App {
    pub(super) fn file_event(&mut self, event: Event) {
        let _ = event;
    }
}
