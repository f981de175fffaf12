//! The iced GUI: a thin layer over the session engine. `app` holds the screens, `engine`
//! runs sessions for it, `keys` turns the helper's mouse and keyboard into input events,
//! `sketch` draws annotations, `i18n` holds the words.

pub mod app;
pub mod engine;
pub mod i18n;
pub mod keys;
#[cfg(windows)]
mod overlay_windows;
#[cfg(target_os = "linux")]
mod overlay_x11;
pub mod sign_in;
pub mod sketch;
pub mod style;
#[cfg(test)]
mod tests;

pub use app::{App, GuiOptions, Message, WindowPlace};
pub use style::ThemeChoice;

/// Opens the Tandem window and runs until it is closed. A daemon, because the sharer's
/// annotation overlay is a second window.
pub fn run(options: GuiOptions) -> iced::Result {
    iced::daemon(
        move || {
            let (_, opened) = iced::window::open(App::main_window(options.place));
            let system_theme = iced::system::theme().map(Message::SystemTheme);
            (
                App::new(options.clone()),
                iced::Task::batch([opened.map(Message::WindowOpened), system_theme]),
            )
        },
        App::update,
        App::view,
    )
    .title(App::title)
    .theme(App::theme)
    .font(style::ICON_FONT_BYTES)
    .subscription(App::subscription)
    // Built in: the same letters on every system, also one without any fonts installed.
    .default_font(iced::Font::with_name("Fira Sans"))
    // Each window paints its own background: the overlay must stay see-through.
    .style(|_, theme| iced::theme::Style {
        background_color: iced::Color::TRANSPARENT,
        text_color: theme.palette().text,
    })
    .run()
}
