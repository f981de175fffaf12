//! The window's look in one place: the light and dark palettes (one accent colour), the
//! type scale, spacing, and the icons (a subset of Lucide, bundled as a font so an icon is
//! text: it takes the theme's colours, scales with the system's factor and costs no image
//! decoder).

use iced::widget::{button, container, row, text, tooltip, Text};
use iced::{Alignment, Border, Color, Element, Font, Theme};

/// The bundled icon font (see `app/assets/README.md`).
pub const ICON_FONT_BYTES: &[u8] = include_bytes!("../../assets/lucide-tandem.ttf");
/// Its family name.
pub const ICON_FONT: Font = Font::with_name("lucide");

/// Type scale.
pub const TITLE: f32 = 24.0;
pub const HEADING: f32 = 18.0;
pub const BODY: f32 = 15.0;
pub const SMALL: f32 = 13.0;

/// Spacing scale.
pub const GAP: f32 = 8.0;
pub const GAP_LARGE: f32 = 16.0;

/// The helper's toolbar shows every tool in one row from this window width (logical
/// pixels); narrower, the less used ones move into a "More" menu.
pub const WIDE_TOOLBAR: f32 = 1280.0;

/// Which palette the window uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ThemeChoice {
    /// Light or dark as the system says (light when it says nothing).
    #[default]
    System,
    Light,
    Dark,
}

impl ThemeChoice {
    /// The theme for this choice, given what the system prefers.
    pub fn theme(self, system: iced::theme::Mode) -> Theme {
        let dark = match self {
            Self::System => system == iced::theme::Mode::Dark,
            Self::Light => false,
            Self::Dark => true,
        };
        if dark {
            dark_theme()
        } else {
            light_theme()
        }
    }
}

/// The accent: a calm blue that reads as "act here" on both backgrounds.
const ACCENT_LIGHT: Color = Color::from_rgb(0.145, 0.388, 0.922);
const ACCENT_DARK: Color = Color::from_rgb(0.420, 0.624, 1.0);

pub fn light_theme() -> Theme {
    Theme::custom(
        "Tandem light",
        iced::theme::Palette {
            background: Color::from_rgb(0.969, 0.973, 0.980),
            text: Color::from_rgb(0.122, 0.137, 0.157),
            primary: ACCENT_LIGHT,
            success: Color::from_rgb(0.102, 0.498, 0.216),
            warning: Color::from_rgb(0.706, 0.325, 0.035),
            danger: Color::from_rgb(0.812, 0.133, 0.180),
        },
    )
}

pub fn dark_theme() -> Theme {
    Theme::custom(
        "Tandem dark",
        iced::theme::Palette {
            background: Color::from_rgb(0.114, 0.129, 0.153),
            text: Color::from_rgb(0.902, 0.910, 0.922),
            primary: ACCENT_DARK,
            success: Color::from_rgb(0.247, 0.725, 0.314),
            warning: Color::from_rgb(0.941, 0.706, 0.161),
            danger: Color::from_rgb(0.973, 0.322, 0.286),
        },
    )
}

/// The icons the window uses (Lucide names in the comments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icon {
    /// monitor
    Monitor,
    /// minimize-2
    Fit,
    /// maximize-2
    ActualSize,
    /// mouse-pointer-2
    Control,
    /// hourglass
    Waiting,
    /// clipboard-copy
    Clipboard,
    /// clipboard-x
    ClipboardOff,
    /// file-up
    SendFile,
    /// file-down
    AskFile,
    /// pencil
    Pen,
    /// locate-fixed
    Laser,
    /// eraser
    Clear,
    /// pause
    Pause,
    /// play
    Resume,
    /// message-circle
    Chat,
    /// phone-off
    End,
    /// ellipsis
    More,
    /// x
    Close,
    /// copy
    Copy,
    /// check
    Check,
    /// shield-check
    Verified,
    /// shield-alert
    Unverified,
    /// life-buoy
    GetHelp,
    /// hand-helping
    HelpSomeone,
    /// hand
    TakeBack,
    /// refresh-cw
    Reconnecting,
    /// send
    Send,
    /// keyboard
    Keyboard,
    /// log-out
    SignOut,
    /// log-in
    SignIn,
    /// circle-alert
    Alert,
    /// lock
    Lock,
    /// cast
    Sharing,
    /// wifi
    Network,
}

impl Icon {
    pub fn glyph(self) -> char {
        match self {
            Self::Monitor => '\u{e121}',
            Self::Fit => '\u{e11f}',
            Self::ActualSize => '\u{e117}',
            Self::Control => '\u{e1c3}',
            Self::Waiting => '\u{e296}',
            Self::Clipboard => '\u{e225}',
            Self::ClipboardOff => '\u{e222}',
            Self::SendFile => '\u{e32b}',
            Self::AskFile => '\u{e31b}',
            Self::Pen => '\u{e1f9}',
            Self::Laser => '\u{e1db}',
            Self::Clear => '\u{e28f}',
            Self::Pause => '\u{e132}',
            Self::Resume => '\u{e140}',
            Self::Chat => '\u{e11a}',
            Self::End => '\u{e13c}',
            Self::More => '\u{e0ba}',
            Self::Close => '\u{e1b2}',
            Self::Copy => '\u{e0a2}',
            Self::Check => '\u{e070}',
            Self::Verified => '\u{e1ff}',
            Self::Unverified => '\u{e1fe}',
            Self::GetHelp => '\u{e107}',
            Self::HelpSomeone => '\u{e3bc}',
            Self::TakeBack => '\u{e1d7}',
            Self::Reconnecting => '\u{e149}',
            Self::Send => '\u{e156}',
            Self::Keyboard => '\u{e284}',
            Self::SignOut => '\u{e112}',
            Self::SignIn => '\u{e111}',
            Self::Alert => '\u{e07b}',
            Self::Lock => '\u{e10f}',
            Self::Sharing => '\u{e06a}',
            Self::Network => '\u{e1ae}',
        }
    }
}

/// An icon at the body text's size.
pub fn icon<'a>(icon: Icon) -> Text<'a> {
    text(icon.glyph().to_string())
        .font(ICON_FONT)
        .size(BODY + 2.0)
        .line_height(1.0)
}

/// An icon followed by its words, as a button's content.
pub fn labelled<'a, M: 'a>(glyph: Icon, label: impl text::IntoFragment<'a>) -> Element<'a, M> {
    row![icon(glyph), text(label).size(BODY)]
        .spacing(6)
        .align_y(Alignment::Center)
        .into()
}

/// A button with an icon and words.
pub fn action<'a, M: Clone + 'a>(
    glyph: Icon,
    label: impl text::IntoFragment<'a>,
) -> button::Button<'a, M> {
    button(labelled(glyph, label)).padding([6, 12])
}

/// A button that is only an icon, its words in a tooltip (and for the tests, which find
/// it by the icon).
pub fn icon_action<'a, M: Clone + 'a>(
    glyph: Icon,
    label: impl text::IntoFragment<'a>,
    on_press: Option<M>,
    chosen: bool,
    has_focus: bool,
) -> Element<'a, M> {
    let base = if chosen {
        button::primary
    } else {
        button::secondary
    };
    let b = button(icon(glyph))
        .padding([7, 9])
        .on_press_maybe(on_press)
        .style(focusable(base, has_focus));
    tooltip(
        b,
        container(text(label).size(SMALL))
            .padding([4, 8])
            .style(container::dark),
        tooltip::Position::Bottom,
    )
    .gap(4)
    .into()
}

/// A section of a screen: a card. (No shadow: the software renderer's damage tracking
/// left a blurred shadow's surroundings unpainted on a real X window.)
pub fn card(theme: &Theme) -> container::Style {
    let palette = theme.extended_palette();
    container::Style {
        background: Some(palette.background.weakest.color.into()),
        border: Border {
            color: palette.background.strong.color,
            width: 1.0,
            radius: 10.0.into(),
        },
        ..container::Style::default()
    }
}

/// The helper's toolbar strip.
pub fn toolbar(theme: &Theme) -> container::Style {
    let palette = theme.extended_palette();
    container::Style {
        background: Some(palette.background.weak.color.into()),
        border: Border {
            color: palette.background.strong.color,
            width: 0.0,
            radius: 0.0.into(),
        },
        ..container::Style::default()
    }
}

/// What the sharer's bar says about the session, by how much it asks of the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarState {
    /// Shared; the person has the mouse and keyboard.
    Shared,
    /// The helper controls the screen: red, as the border.
    Controlled,
    /// Paused, or nothing is sent: grey.
    Quiet,
}

/// The coloured band at the top of the sharer's bar: the same colour as the border
/// around the shared monitor, so the two read as one sign.
pub fn bar_band(state: BarState) -> impl Fn(&Theme) -> container::Style {
    move |theme: &Theme| {
        let colour = match state {
            BarState::Shared => super::app::SHARED_BORDER,
            BarState::Controlled => super::app::SHARED_BORDER_CONTROLLED,
            BarState::Quiet => theme.extended_palette().background.strong.color,
        };
        // Dark words on amber, white on red: both read at 4.5:1 or better.
        let text = match state {
            BarState::Quiet => theme.palette().text,
            BarState::Shared => Color::from_rgb(0.11, 0.09, 0.04),
            BarState::Controlled => Color::WHITE,
        };
        container::Style {
            background: Some(colour.into()),
            text_color: Some(text),
            border: Border {
                radius: 6.0.into(),
                ..Border::default()
            },
            ..container::Style::default()
        }
    }
}

/// A floating panel (the "More" menu, a chat notice).
pub fn panel(theme: &Theme) -> container::Style {
    let palette = theme.extended_palette();
    container::Style {
        background: Some(palette.background.base.color.into()),
        border: Border {
            color: palette.background.strong.color,
            width: 1.0,
            radius: 8.0.into(),
        },
        ..container::Style::default()
    }
}

/// The keyboard's place among a screen's buttons: `base`, with a ring drawn over it when
/// `has_focus`. Every button that Tab can reach takes its style through this.
pub fn focusable(
    base: fn(&Theme, button::Status) -> button::Style,
    has_focus: bool,
) -> impl Fn(&Theme, button::Status) -> button::Style {
    move |theme, status| {
        let mut s = base(theme, status);
        if has_focus {
            // In the text's colour: it stands out from the background and from any button.
            s.border = Border {
                color: theme.palette().text,
                width: 3.0,
                radius: 4.0.into(),
            };
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_decides_unless_the_person_chose() {
        use iced::theme::Mode;
        let is_dark = |t: Theme| t.extended_palette().is_dark;
        assert!(!is_dark(ThemeChoice::System.theme(Mode::Light)));
        assert!(is_dark(ThemeChoice::System.theme(Mode::Dark)));
        // No preference: light.
        assert!(!is_dark(ThemeChoice::System.theme(Mode::None)));
        assert!(is_dark(ThemeChoice::Dark.theme(Mode::Light)));
        assert!(!is_dark(ThemeChoice::Light.theme(Mode::Dark)));
    }

    #[test]
    fn text_reads_on_both_backgrounds() {
        // WCAG's contrast ratio, at least 7:1 for body text in both palettes.
        fn luminance(c: Color) -> f32 {
            let channel = |v: f32| {
                if v <= 0.039_28 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)
        }
        for theme in [light_theme(), dark_theme()] {
            let p = theme.palette();
            let (a, b) = (luminance(p.text), luminance(p.background));
            let ratio = (a.max(b) + 0.05) / (a.min(b) + 0.05);
            assert!(ratio >= 7.0, "{}: contrast {ratio:.1}", theme);
        }
    }

    #[test]
    fn every_icon_is_in_the_bundled_font() {
        // The subset font's character map must hold every glyph the window asks for, or
        // the icon draws as a box.
        let face = ttf_parser::Face::parse(ICON_FONT_BYTES, 0).expect("a font");
        for icon in ALL_ICONS {
            assert!(
                face.glyph_index(icon.glyph()).is_some(),
                "{icon:?} is not in lucide-tandem.ttf"
            );
        }
    }

    const ALL_ICONS: &[Icon] = &[
        Icon::Monitor,
        Icon::Fit,
        Icon::ActualSize,
        Icon::Control,
        Icon::Waiting,
        Icon::Clipboard,
        Icon::ClipboardOff,
        Icon::SendFile,
        Icon::AskFile,
        Icon::Pen,
        Icon::Laser,
        Icon::Clear,
        Icon::Pause,
        Icon::Resume,
        Icon::Chat,
        Icon::End,
        Icon::More,
        Icon::Close,
        Icon::Copy,
        Icon::Check,
        Icon::Verified,
        Icon::Unverified,
        Icon::GetHelp,
        Icon::HelpSomeone,
        Icon::TakeBack,
        Icon::Reconnecting,
        Icon::Send,
        Icon::Keyboard,
        Icon::SignOut,
        Icon::SignIn,
        Icon::Alert,
        Icon::Lock,
        Icon::Sharing,
        Icon::Network,
    ];
}
