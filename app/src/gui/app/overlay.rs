//! The sharer's overlay over the shared monitor: the border that says it is shared and
//! what the helper draws, click-through, above everything but the bar (X11 shaped or
//! transparent; Windows colour-keyed).

use iced::widget::container;
use iced::{window, Element, Length, Point, Size, Task};

use super::{App, Message, Screen, SharerControl};
use crate::annotation::Sketch;
use crate::gui::sketch::SketchLayer;
use crate::input::view::ViewTransform;
use crate::session::{MonitorInfo, SourceSpec};

/// The border around the shared monitor, in its pixels.
pub const SHARED_BORDER_WIDTH: u16 = 6;

/// Amber: shared.
pub const SHARED_BORDER: iced::Color = iced::Color::from_rgb(0.961, 0.620, 0.043);

/// Red: the helper has control.
pub const SHARED_BORDER_CONTROLLED: iced::Color = iced::Color::from_rgb(0.863, 0.149, 0.149);

/// The four strips of the shared monitor's border (x, y, width, height), for a window
/// that is cut to what it shows.
pub fn border_strips(width: u32, height: u32) -> [(i16, i16, u16, u16); 4] {
    let w = u16::try_from(width).unwrap_or(u16::MAX);
    let h = u16::try_from(height).unwrap_or(u16::MAX);
    let b = SHARED_BORDER_WIDTH.min(w / 2).min(h / 2);
    let right = i16::try_from(w - b).unwrap_or(i16::MAX);
    let bottom = i16::try_from(h - b).unwrap_or(i16::MAX);
    [
        (0, 0, w, b),
        (0, bottom, w, b),
        (0, 0, b, h),
        (right, 0, b, h),
    ]
}

/// The sharer's overlay: what the helper drew over the shared monitor.
#[derive(Debug, Default)]
pub struct Overlay {
    pub sketch: Sketch,
    pub monitor: Option<MonitorInfo>,
    pub window: Option<window::Id>,
    pub(super) native: Option<u64>,
    /// No compositor: the window is cut to the drawing instead of being transparent.
    pub(super) shaped: bool,
    /// Windows: a layered window whose background colour is its colour key.
    pub(super) colour_keyed: bool,
    /// The cut, kept up to date as strokes grow (X11 without a compositor only).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(super) outline: crate::gui::sketch::OutlineCache,
}

impl App {
    /// Sharer: the overlay window over the shown monitor, opened at the first drawing (only
    /// when the shared screen is this machine's X display).
    /// Opens the overlay over the shared monitor: the border that says it is shared, and
    /// what the helper draws. Only while sharing. On Windows only once something is drawn,
    /// and without the border: under Wine the overlay window never shows a frame after its
    /// first (tried: a colour key; a window region set on every change with InvalidateRect;
    /// no layered or transparent style at all; a size other than the screen's — the
    /// region follows the strokes, the pixels stay those of the first frame), so opened at
    /// Allow it would only ever show the border. Not shipped until seen on real Windows.
    pub(super) fn open_overlay(&mut self) -> Task<Message> {
        if self.overlay.window.is_some()
            || !matches!(self.screen, Screen::Sharing { .. })
            || (cfg!(windows) && self.overlay.sketch.is_empty())
        {
            return Task::none();
        }
        // Over an X desktop, or the Windows desktop (a Wayland compositor places no window
        // where a client asks, so there is no overlay there).
        let display = match &self.session.video.source {
            SourceSpec::X11 { display, .. } => Some(display.clone()),
            SourceSpec::Duplication { .. } | SourceSpec::Xcap { .. } if cfg!(windows) => None,
            _ => return Task::none(),
        };
        let Some(monitor) = self.overlay.monitor.clone() else {
            return Task::none();
        };
        self.overlay.colour_keyed = cfg!(windows);
        #[cfg(target_os = "linux")]
        if let Some(display) = display {
            if self.x11.is_none() {
                match crate::gui::overlay_x11::X11Overlay::connect(display.as_deref()) {
                    Ok(x11) => self.x11 = Some(x11),
                    Err(e) => {
                        tracing::warn!("no annotation overlay: {e}");
                        return Task::none();
                    }
                }
            }
            self.overlay.shaped = !self
                .x11
                .as_ref()
                .is_some_and(|x| x.compositor_running().unwrap_or(false));
        }
        #[cfg(not(target_os = "linux"))]
        let _ = display;
        let (id, opened) = window::open(window::Settings {
            size: Size::new(monitor.width as f32, monitor.height as f32),
            position: window::Position::Specific(Point::new(monitor.x as f32, monitor.y as f32)),
            decorations: false,
            transparent: !self.overlay.shaped && !self.overlay.colour_keyed,
            // A shaped overlay is shown only once cut to the drawing: never a black flash.
            visible: !self.overlay.shaped,
            resizable: false,
            level: window::Level::AlwaysOnTop,
            exit_on_close_request: false,
            #[cfg(target_os = "linux")]
            platform_specific: window::settings::PlatformSpecific {
                application_id: "tandem-overlay".into(),
                // Not managed by a window manager: no frame, no taskbar entry, not movable.
                override_redirect: true,
            },
            ..window::Settings::default()
        });
        self.overlay.window = Some(id);
        Task::batch([
            opened.map(Message::OverlayOpened),
            window::enable_mouse_passthrough(id),
            window::set_level(id, window::Level::AlwaysOnTop),
        ])
    }

    /// The overlay window exists natively: clicks go through, and it stays on top.
    pub(super) fn overlay_prepared(&self) {
        #[cfg(windows)]
        if let Some(native) = self.overlay.native {
            if let Err(e) = crate::gui::overlay_windows::prepare(native, self.bar_native) {
                tracing::warn!("overlay: {e}");
            }
        }
        #[cfg(target_os = "linux")]
        if let (Some(x11), Some(native)) = (&self.x11, self.overlay.native) {
            if let Ok(window) = u32::try_from(native) {
                // Over every window but the sharer's own bar: a drawing must never hide
                // (or imitate) the bar's Pause and End.
                let bar = self.bar_native.and_then(|b| u32::try_from(b).ok());
                if let Err(e) = x11
                    .pass_input_through(window)
                    .and_then(|()| x11.raise(window))
                    .and_then(|()| bar.map_or(Ok(()), |bar| x11.raise(bar)))
                {
                    tracing::warn!("overlay: {e}");
                }
            }
        }
    }

    /// The shared monitor's border: amber while shared, red while the helper has control
    /// (the person must see at a glance that someone else moves the mouse), grey while
    /// paused.
    pub(super) fn shared_border_colour(&self) -> iced::Color {
        match &self.screen {
            Screen::Sharing {
                paused_by: Some(_), ..
            } => iced::Color::from_rgb8(0x9c, 0xa3, 0xaf),
            Screen::Sharing {
                control: SharerControl::Helper,
                ..
            } => SHARED_BORDER_CONTROLLED,
            _ => SHARED_BORDER,
        }
    }

    /// Without a compositor, the overlay shows only where something is drawn, and its
    /// border.
    pub(super) fn reshape_overlay(&mut self) {
        #[cfg(target_os = "linux")]
        if let (true, Some(x11), Some(native)) =
            (self.overlay.shaped, &self.x11, self.overlay.native)
        {
            if let Ok(window) = u32::try_from(native) {
                let mut rects = self.overlay.outline.update(&self.overlay.sketch);
                if let Some(m) = &self.overlay.monitor {
                    rects.extend(border_strips(m.width, m.height));
                }
                // Mapping the overlay (winit maps it raised) put it above the bar: every
                // change of what it shows puts the bar back on top.
                let bar = self.bar_native.and_then(|b| u32::try_from(b).ok());
                if let Err(e) = x11
                    .set_visible_region(window, &rects)
                    .and_then(|()| bar.map_or(Ok(()), |bar| x11.raise(bar)))
                {
                    tracing::warn!("overlay: {e}");
                }
            }
        }
    }

    /// The sharer's overlay: the helper's drawing at the monitor's own pixels.
    pub(super) fn overlay_view(&self) -> Element<'_, Message> {
        let monitor = self.overlay.monitor.as_ref();
        let (w, h) = monitor.map_or((1, 1), |m| (m.width.max(1), m.height.max(1)));
        let drawing = iced::widget::canvas(SketchLayer {
            sketch: &self.overlay.sketch,
            transform: ViewTransform::identity(w, h),
            shaped: self.overlay.shaped,
        })
        .width(Length::Fill)
        .height(Length::Fill);
        let border = iced::Border {
            color: self.shared_border_colour(),
            width: if cfg!(windows) {
                0.0
            } else {
                f32::from(SHARED_BORDER_WIDTH)
            },
            radius: 0.0.into(),
        };
        // Windows: the background is the colour key, shown as nothing.
        #[cfg(windows)]
        let background = self.overlay.colour_keyed.then(|| {
            let (r, g, b) = crate::gui::overlay_windows::KEY;
            iced::Color::from_rgb8(r, g, b).into()
        });
        #[cfg(not(windows))]
        let background = None;
        container(drawing)
            .style(move |_: &iced::Theme| container::Style {
                background,
                border,
                ..container::Style::default()
            })
            .width(Length::Fill)
            .height(Length::Fill)
            .into()
    }
}
