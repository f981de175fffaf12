//! The sharer's annotation overlay on X11: a window over the shared monitor that lets every
//! click through. With a compositor it is simply transparent; without one a transparent
//! window would show black, so the window is instead cut (X Shape) to what is drawn.

use x11rb::connection::Connection;
use x11rb::protocol::shape::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{ClipOrdering, ConnectionExt as _, Rectangle};
use x11rb::rust_connection::RustConnection;

#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    #[error("cannot reach the X display: {0}")]
    Connect(String),
    #[error("X request failed: {0}")]
    Request(String),
}

fn request<E: std::fmt::Display>(e: E) -> OverlayError {
    OverlayError::Request(e.to_string())
}

pub struct X11Overlay {
    conn: RustConnection,
    screen: usize,
}

impl X11Overlay {
    pub fn connect(display: Option<&str>) -> Result<Self, OverlayError> {
        let (conn, screen) =
            x11rb::connect(display).map_err(|e| OverlayError::Connect(e.to_string()))?;
        Ok(Self { conn, screen })
    }

    /// Whether a compositing manager runs (it owns `_NET_WM_CM_Sn`): only then do
    /// transparent windows show what is under them.
    pub fn compositor_running(&self) -> Result<bool, OverlayError> {
        let name = format!("_NET_WM_CM_S{}", self.screen);
        let atom = self
            .conn
            .intern_atom(false, name.as_bytes())
            .map_err(request)?
            .reply()
            .map_err(request)?
            .atom;
        let owner = self
            .conn
            .get_selection_owner(atom)
            .map_err(request)?
            .reply()
            .map_err(request)?
            .owner;
        Ok(owner != x11rb::NONE)
    }

    /// Clicks and keys go to whatever is under the window.
    pub fn pass_input_through(&self, window: u32) -> Result<(), OverlayError> {
        self.conn
            .shape_rectangles(
                shape::SO::SET,
                shape::SK::INPUT,
                ClipOrdering::UNSORTED,
                window,
                0,
                0,
                &[],
            )
            .map_err(request)?;
        self.conn.flush().map_err(request)
    }

    /// The window shows only these rectangles (x, y, width, height); none hides it whole.
    pub fn set_visible_region(
        &self,
        window: u32,
        rects: &[(i16, i16, u16, u16)],
    ) -> Result<(), OverlayError> {
        let rects: Vec<Rectangle> = rects
            .iter()
            .map(|&(x, y, width, height)| Rectangle {
                x,
                y,
                width,
                height,
            })
            .collect();
        self.conn
            .shape_rectangles(
                shape::SO::SET,
                shape::SK::BOUNDING,
                ClipOrdering::UNSORTED,
                window,
                0,
                0,
                &rects,
            )
            .map_err(request)?;
        self.conn.flush().map_err(request)
    }

    /// Keeps the overlay above other windows (a stacking request; with no window manager
    /// nothing else restacks it).
    pub fn raise(&self, window: u32) -> Result<(), OverlayError> {
        use x11rb::protocol::xproto::{ConfigureWindowAux, StackMode};
        self.conn
            .configure_window(
                window,
                &ConfigureWindowAux::new().stack_mode(StackMode::ABOVE),
            )
            .map_err(request)?;
        self.conn.flush().map_err(request)
    }
}
