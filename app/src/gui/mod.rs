//! The iced GUI: a thin layer over the session engine. `app` holds the screens, `engine`
//! runs sessions for it, `keys` turns the helper's mouse and keyboard into input events,
//! `i18n` holds the words.

pub mod app;
pub mod engine;
pub mod i18n;
pub mod keys;
#[cfg(test)]
mod tests;

pub use app::{App, GuiOptions, Message};

/// Opens the Tandem window and runs until it is closed.
pub fn run(options: GuiOptions) -> iced::Result {
    iced::application(move || App::new(options.clone()), App::update, App::view)
        .title(App::title)
        .subscription(App::subscription)
        .window_size((900.0, 640.0))
        .run()
}
