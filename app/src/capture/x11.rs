//! X11 capture with MIT-SHM: the server writes the image straight into memory shared with
//! us, over one persistent connection (~1 ms per 1080p frame here, against ~30 ms for a new
//! connection and a plain GetImage per frame). Falls back to GetImage when the server is
//! remote and cannot share memory.
//!
//! Every X screen is a monitor source, and RandR monitors split a screen further.
//!
//! With XDamage, only what was drawn is read: the damaged rectangles of the shown monitor
//! are fetched from the server and copied into the frame kept from the last capture, so a
//! blinking caret costs a few KB, not the whole 8 MB screen (and the pipeline hashes and
//! converts only those parts: [`ScreenSource::captured_area`]). The whole monitor is read
//! again after a monitor switch or a size change, when most of it was drawn, and every few
//! seconds of activity as a safety net.

use x11rb::connection::Connection;
use x11rb::protocol::damage::{self, ConnectionExt as _};
use x11rb::protocol::randr::ConnectionExt as _;
use x11rb::protocol::shm::{self, ConnectionExt as _};
use x11rb::protocol::xfixes::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _, ImageFormat, MapState, Window};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;

use super::{
    CaptureError, CaptureInfo, CursorPosition, CursorShape, MonitorInfo, ScreenSource, WindowInfo,
    MAX_CURSOR_SIDE,
};
use crate::media::damage::Rect;
use crate::media::frame::BgraFrame;

/// Past this many damaged rectangles, or this share of the monitor, the whole monitor is
/// read in one request (one round trip each costs more than the pixels they save).
const MAX_PARTS: usize = 32;
const MAX_PARTIAL_SHARE: f64 = 0.5;
/// The whole monitor is read at least this often while things change, whatever XDamage
/// says (a driver or server that misreports damage would otherwise freeze a region).
const FULL_REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// What a capture must read of a monitor, from the damage reported in root coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DamagedParts {
    Nothing,
    /// These rectangles, in the monitor's coordinates, clipped to it.
    Rects(Vec<Rect>),
    Whole,
}

/// Clips the server's damage rectangles (root coordinates) to the monitor at
/// (`mx`, `my`) of `mw`×`mh`, and decides whether reading them one by one pays.
pub fn damaged_parts(
    damage: &[(i32, i32, u32, u32)],
    mx: i32,
    my: i32,
    mw: u32,
    mh: u32,
) -> DamagedParts {
    let mut rects = Vec::new();
    let mut area = 0u64;
    let (right, bottom) = (i64::from(mx) + i64::from(mw), i64::from(my) + i64::from(mh));
    for &(x, y, w, h) in damage {
        let x0 = i64::from(x).max(i64::from(mx));
        let y0 = i64::from(y).max(i64::from(my));
        let x1 = (i64::from(x) + i64::from(w)).min(right);
        let y1 = (i64::from(y) + i64::from(h)).min(bottom);
        if x1 <= x0 || y1 <= y0 {
            continue;
        }
        let rect = Rect {
            x: (x0 - i64::from(mx)) as u32,
            y: (y0 - i64::from(my)) as u32,
            width: (x1 - x0) as u32,
            height: (y1 - y0) as u32,
        };
        area += u64::from(rect.width) * u64::from(rect.height);
        rects.push(rect);
    }
    if rects.is_empty() {
        return DamagedParts::Nothing;
    }
    let whole = u64::from(mw) * u64::from(mh);
    if rects.len() > MAX_PARTS || area as f64 > MAX_PARTIAL_SHARE * whole as f64 {
        return DamagedParts::Whole;
    }
    DamagedParts::Rects(rects)
}

/// A System V shared memory segment attached to this process and to the X server.
struct SharedSegment {
    addr: *mut u8,
    size: usize,
    seg: shm::Seg,
}

// SAFETY: the mapping is owned by this struct; it is only read through `&self` after the X
// server has finished writing (the ShmGetImage reply has arrived).
unsafe impl Send for SharedSegment {}

impl SharedSegment {
    fn new(conn: &RustConnection, size: usize) -> Result<Self, CaptureError> {
        // SAFETY: plain System V calls; results are checked before use.
        let shmid = unsafe { libc::shmget(libc::IPC_PRIVATE, size, libc::IPC_CREAT | 0o600) };
        if shmid < 0 {
            return Err(CaptureError::Failed(format!(
                "shmget: {}",
                std::io::Error::last_os_error()
            )));
        }
        // SAFETY: attaching a segment we just created; checked for the error value below.
        let addr = unsafe { libc::shmat(shmid, std::ptr::null(), 0) };
        if addr as isize == -1 {
            // SAFETY: removing the segment we created.
            unsafe { libc::shmctl(shmid, libc::IPC_RMID, std::ptr::null_mut()) };
            return Err(CaptureError::Failed(format!(
                "shmat: {}",
                std::io::Error::last_os_error()
            )));
        }
        let seg = conn.generate_id().map_err(failed)?;
        let attached = conn
            .shm_attach(seg, shmid as u32, false)
            .map_err(failed)
            .and_then(|c| c.check().map_err(failed));
        // Mark for removal now: it disappears when both we and the server detach, even if
        // this process dies.
        // SAFETY: the segment is still attached; IPC_RMID only schedules removal.
        unsafe { libc::shmctl(shmid, libc::IPC_RMID, std::ptr::null_mut()) };
        let segment = Self {
            addr: addr.cast(),
            size,
            seg,
        };
        attached?;
        Ok(segment)
    }

    fn bytes(&self, len: usize) -> &[u8] {
        // SAFETY: `addr` maps `size` bytes for the life of `self`; len is clamped.
        unsafe { std::slice::from_raw_parts(self.addr, len.min(self.size)) }
    }
}

impl Drop for SharedSegment {
    fn drop(&mut self) {
        // SAFETY: detaching our own mapping once.
        unsafe { libc::shmdt(self.addr.cast()) };
    }
}

fn failed(e: impl std::fmt::Display) -> CaptureError {
    CaptureError::Failed(e.to_string())
}

/// Which X screen's root window a monitor is part of.
#[derive(Debug, Clone, Copy)]
struct Placement {
    root: Window,
}

pub struct X11Capture {
    conn: RustConnection,
    monitors: Vec<MonitorInfo>,
    placements: Vec<Placement>,
    current: usize,
    shm: Option<SharedSegment>,
    shm_available: bool,
    /// XDamage on every root: the server says when anything was drawn, so an idle screen
    /// costs no capture at all. `None` when the extension is missing.
    damage: Option<DamageWatch>,
    /// The next capture reads the whole monitor (first one, another monitor, a new size).
    whole_next: bool,
    /// Every capture reads the whole monitor.
    whole_always: bool,
    last_whole: std::time::Instant,
    /// What the last capture wrote into the frame; `None`: all of it.
    captured: Option<Vec<Rect>>,
    /// Drawing reported since the last capture.
    dirty: bool,
    /// XFixes reported a new cursor picture (or none was sent yet).
    cursor_dirty: bool,
}

impl X11Capture {
    pub fn open(display: Option<&str>) -> Result<Self, CaptureError> {
        let name = display
            .map(str::to_string)
            .or_else(|| std::env::var("DISPLAY").ok())
            .unwrap_or_default();
        let (conn, default_screen) =
            x11rb::connect(display).map_err(|e| CaptureError::Connect {
                display: name.clone(),
                reason: e.to_string(),
            })?;
        let shm_available = conn
            .shm_query_version()
            .ok()
            .and_then(|c| c.reply().ok())
            .is_some();
        let (monitors, placements) = enumerate(&conn)?;
        if monitors.is_empty() {
            return Err(CaptureError::NoScreen);
        }
        // Start on the primary monitor of the screen named in the display string.
        let default_root = conn.setup().roots.get(default_screen).map(|s| s.root);
        let current = (0..monitors.len())
            .find(|&i| Some(placements[i].root) == default_root && monitors[i].primary)
            .or_else(|| (0..monitors.len()).find(|&i| Some(placements[i].root) == default_root))
            .unwrap_or(0);
        let damage = watch_damage(&conn);
        Ok(Self {
            conn,
            monitors,
            placements,
            current,
            shm: None,
            shm_available,
            damage,
            whole_next: true,
            whole_always: false,
            last_whole: std::time::Instant::now(),
            captured: None,
            dirty: true,
            cursor_dirty: true,
        })
    }

    pub fn uses_damage_events(&self) -> bool {
        self.damage.is_some()
    }

    pub fn uses_shared_memory(&self) -> bool {
        self.shm_available
    }

    fn capture_shm(&mut self, out: &mut BgraFrame) -> Result<(), CaptureError> {
        let m = &self.monitors[self.current];
        let whole = Rect {
            x: 0,
            y: 0,
            width: m.width,
            height: m.height,
        };
        self.capture_shm_rect(out, whole)
    }

    /// Reads `rect` of the current monitor (its coordinates) into the same place of `out`.
    fn capture_shm_rect(&mut self, out: &mut BgraFrame, rect: Rect) -> Result<(), CaptureError> {
        let m = &self.monitors[self.current];
        let p = &self.placements[self.current];
        // The segment is sized for the whole monitor, so it never shrinks between parts.
        let size = (m.width * m.height * 4) as usize;
        if self.shm.as_ref().is_none_or(|s| s.size < size) {
            if let Some(old) = self.shm.take() {
                let _ = self.conn.shm_detach(old.seg);
            }
            self.shm = Some(SharedSegment::new(&self.conn, size)?);
        }
        let Some(seg) = self.shm.as_ref() else {
            return Err(CaptureError::Failed("no shared memory".into()));
        };
        let reply = self
            .conn
            .shm_get_image(
                p.root,
                (m.x + rect.x as i32) as i16,
                (m.y + rect.y as i32) as i16,
                rect.width as u16,
                rect.height as u16,
                !0,
                ImageFormat::Z_PIXMAP.into(),
                seg.seg,
                0,
            )
            .map_err(failed)?
            .reply()
            .map_err(failed)?;
        check_format(reply.depth, &self.conn)?;
        // 32 bits per pixel: the part's rows are packed at its own width.
        let row = rect.width as usize * 4;
        let part = seg.bytes(row * rect.height as usize);
        let stride = out.stride as usize;
        for (i, src) in part.chunks_exact(row).enumerate() {
            let start = (rect.y as usize + i) * stride + rect.x as usize * 4;
            if let Some(dst) = out.data.get_mut(start..start + row) {
                dst.copy_from_slice(src);
            }
        }
        Ok(())
    }

    /// Subtracts the damage of every root (so drawing during the read is reported again)
    /// and returns what was drawn on the current monitor's root, in root coordinates
    /// (`None`: not known, read everything).
    fn take_damage(&mut self, want_parts: bool) -> Option<Vec<(i32, i32, u32, u32)>> {
        let watch = self.damage.as_ref()?;
        let root = self.placements[self.current].root;
        let mut fetch = false;
        for (screen, d) in self.conn.setup().roots.iter().zip(&watch.objects) {
            let parts = if want_parts && screen.root == root {
                fetch = true;
                watch.region
            } else {
                x11rb::NONE
            };
            let _ = self.conn.damage_subtract(*d, x11rb::NONE, parts);
        }
        if !fetch {
            let _ = self.conn.flush();
            return None;
        }
        let reply = self
            .conn
            .xfixes_fetch_region(watch.region)
            .ok()?
            .reply()
            .ok()?;
        Some(
            reply
                .rectangles
                .iter()
                .map(|r| {
                    (
                        i32::from(r.x),
                        i32::from(r.y),
                        u32::from(r.width),
                        u32::from(r.height),
                    )
                })
                .collect(),
        )
    }

    fn capture_get_image(&mut self, out: &mut BgraFrame) -> Result<(), CaptureError> {
        let m = &self.monitors[self.current];
        let p = &self.placements[self.current];
        let reply = self
            .conn
            .get_image(
                ImageFormat::Z_PIXMAP,
                p.root,
                m.x as i16,
                m.y as i16,
                m.width as u16,
                m.height as u16,
                !0,
            )
            .map_err(failed)?
            .reply()
            .map_err(failed)?;
        check_format(reply.depth, &self.conn)?;
        let size = out.data.len();
        if reply.data.len() < size {
            return Err(CaptureError::Failed("short image".into()));
        }
        out.data.copy_from_slice(&reply.data[..size]);
        Ok(())
    }
}

/// Only 24/32-bit TrueColor in 32 bits per pixel (B, G, R, X in memory) is handled; that is
/// what every current X server uses.
fn check_format(depth: u8, conn: &RustConnection) -> Result<(), CaptureError> {
    let bpp = conn
        .setup()
        .pixmap_formats
        .iter()
        .find(|f| f.depth == depth)
        .map(|f| f.bits_per_pixel)
        .unwrap_or(0);
    if (depth == 24 || depth == 32) && bpp == 32 {
        Ok(())
    } else {
        Err(CaptureError::PixelFormat {
            depth,
            bits_per_pixel: bpp,
        })
    }
}

/// XDamage on every root (in the order of the setup's roots) and a region to fetch damage
/// into.
struct DamageWatch {
    objects: Vec<damage::Damage>,
    region: xfixes::Region,
}

fn watch_damage(conn: &RustConnection) -> Option<DamageWatch> {
    // XDamage needs XFixes negotiated first.
    conn.xfixes_query_version(5, 0).ok()?.reply().ok()?;
    for screen in &conn.setup().roots {
        // Cursor picture changes arrive on the same event queue.
        let _ = conn.xfixes_select_cursor_input(
            screen.root,
            x11rb::protocol::xfixes::CursorNotifyMask::DISPLAY_CURSOR,
        );
    }
    conn.damage_query_version(1, 1).ok()?.reply().ok()?;
    let mut objects = Vec::new();
    for screen in &conn.setup().roots {
        let id = conn.generate_id().ok()?;
        conn.damage_create(id, screen.root, damage::ReportLevel::NON_EMPTY)
            .ok()?
            .check()
            .ok()?;
        objects.push(id);
    }
    let region = conn.generate_id().ok()?;
    conn.xfixes_create_region(region, &[]).ok()?.check().ok()?;
    Some(DamageWatch { objects, region })
}

/// `Xft.dpi` from the screen's resource database (what desktops set for scaling).
fn xft_dpi(conn: &RustConnection, root: Window) -> Option<f64> {
    let reply = conn
        .get_property(
            false,
            root,
            AtomEnum::RESOURCE_MANAGER,
            AtomEnum::STRING,
            0,
            1 << 16,
        )
        .ok()?
        .reply()
        .ok()?;
    String::from_utf8_lossy(&reply.value)
        .lines()
        .find_map(|line| line.strip_prefix("Xft.dpi:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|dpi| *dpi > 0.0)
}

/// The scale in 25 % steps: from `Xft.dpi` when the desktop sets it, else from the
/// physical width (96 dpi is 100 %); 100 % when neither is known.
pub fn scale_percent(xft_dpi: Option<f64>, width_px: u32, width_mm: u32) -> u32 {
    let dpi = xft_dpi
        .or_else(|| (width_mm > 0).then(|| f64::from(width_px) / (f64::from(width_mm) / 25.4)));
    dpi.map_or(100, |dpi| {
        ((dpi / 96.0 * 4.0).round() as u32 * 25).clamp(100, 400)
    })
}

/// The top-level windows with a title on every X screen: the window manager's client list
/// when there is one, else the root's mapped children.
pub fn list_windows(display: Option<&str>) -> Result<Vec<WindowInfo>, CaptureError> {
    let (conn, _) = x11rb::connect(display).map_err(|e| CaptureError::Connect {
        display: display.unwrap_or("$DISPLAY").to_owned(),
        reason: e.to_string(),
    })?;
    let atom = |name: &str| -> Option<u32> {
        Some(
            conn.intern_atom(false, name.as_bytes())
                .ok()?
                .reply()
                .ok()?
                .atom,
        )
    };
    let (client_list, net_wm_name, utf8) = (
        atom("_NET_CLIENT_LIST"),
        atom("_NET_WM_NAME"),
        atom("UTF8_STRING"),
    );
    let text = |window: Window, property: u32, kind: u32| -> Option<String> {
        let reply = conn
            .get_property(false, window, property, kind, 0, 4096)
            .ok()?
            .reply()
            .ok()?;
        (!reply.value.is_empty()).then(|| String::from_utf8_lossy(&reply.value).into_owned())
    };
    let mut windows = Vec::new();
    for (screen_index, screen) in conn.setup().roots.iter().enumerate() {
        let managed: Option<Vec<u32>> = client_list.and_then(|list| {
            let reply = conn
                .get_property(false, screen.root, list, AtomEnum::WINDOW, 0, 4096)
                .ok()?
                .reply()
                .ok()?;
            let ids: Vec<u32> = reply.value32()?.collect();
            (!ids.is_empty()).then_some(ids)
        });
        let candidates = match managed {
            Some(ids) => ids,
            None => {
                conn.query_tree(screen.root)
                    .map_err(|e| CaptureError::Failed(e.to_string()))?
                    .reply()
                    .map_err(|e| CaptureError::Failed(e.to_string()))?
                    .children
            }
        };
        for window in candidates {
            let Ok(Ok(attributes)) = conn.get_window_attributes(window).map(|c| c.reply()) else {
                continue;
            };
            if attributes.map_state != MapState::VIEWABLE {
                continue;
            }
            let title = net_wm_name
                .zip(utf8)
                .and_then(|(name, utf8)| text(window, name, utf8))
                .or_else(|| text(window, AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()));
            let Some(title) = title else {
                continue;
            };
            let Ok(Ok(geometry)) = conn.get_geometry(window).map(|c| c.reply()) else {
                continue;
            };
            let Ok(Ok(origin)) = conn
                .translate_coordinates(window, screen.root, 0, 0)
                .map(|c| c.reply())
            else {
                continue;
            };
            windows.push(WindowInfo {
                id: window,
                title,
                screen: screen_index as u32,
                x: i32::from(origin.dst_x),
                y: i32::from(origin.dst_y),
                width: u32::from(geometry.width),
                height: u32::from(geometry.height),
            });
        }
    }
    Ok(windows)
}

fn enumerate(conn: &RustConnection) -> Result<(Vec<MonitorInfo>, Vec<Placement>), CaptureError> {
    let mut monitors = Vec::new();
    let mut placements = Vec::new();
    for (screen_index, screen) in conn.setup().roots.iter().enumerate() {
        let xft_dpi = xft_dpi(conn, screen.root);
        let randr = conn
            .randr_get_monitors(screen.root, true)
            .ok()
            .and_then(|c| c.reply().ok())
            .map(|r| r.monitors)
            .unwrap_or_default();
        let whole = |id: u32| MonitorInfo {
            id,
            name: format!("screen {screen_index}"),
            screen: screen_index as u32,
            x: 0,
            y: 0,
            width: u32::from(screen.width_in_pixels),
            height: u32::from(screen.height_in_pixels),
            width_mm: u32::from(screen.width_in_millimeters),
            primary: true,
            scale_percent: scale_percent(
                xft_dpi,
                u32::from(screen.width_in_pixels),
                u32::from(screen.width_in_millimeters),
            ),
        };
        // Xvfb reports one monitor covering the screen, or none: either way the screen itself.
        let usable: Vec<_> = randr
            .iter()
            .filter(|m| m.width > 0 && m.height > 0)
            .collect();
        if usable.is_empty() {
            monitors.push(whole(monitors.len() as u32));
            placements.push(Placement { root: screen.root });
            continue;
        }
        for m in usable {
            let name = conn
                .get_atom_name(m.name)
                .ok()
                .and_then(|c| c.reply().ok())
                .map(|r| String::from_utf8_lossy(&r.name).into_owned())
                .unwrap_or_else(|| format!("monitor {}", monitors.len()));
            monitors.push(MonitorInfo {
                id: monitors.len() as u32,
                name,
                screen: screen_index as u32,
                x: i32::from(m.x),
                y: i32::from(m.y),
                width: u32::from(m.width),
                height: u32::from(m.height),
                width_mm: m.width_in_millimeters,
                primary: m.primary,
                scale_percent: scale_percent(xft_dpi, u32::from(m.width), m.width_in_millimeters),
            });
            placements.push(Placement { root: screen.root });
        }
    }
    // H.264 4:2:0 needs even sizes; the odd last column/row is simply not shown.
    for m in &mut monitors {
        m.width &= !1;
        m.height &= !1;
    }
    Ok((monitors, placements))
}

impl ScreenSource for X11Capture {
    fn monitors(&self) -> &[MonitorInfo] {
        &self.monitors
    }

    fn method(&self) -> CaptureInfo {
        if self.shm_available {
            CaptureInfo::new("x11-shm")
        } else {
            CaptureInfo {
                method: "x11-getimage".into(),
                fallback: Some("the X server has no MIT-SHM".into()),
            }
        }
    }

    fn current(&self) -> &MonitorInfo {
        &self.monitors[self.current]
    }

    fn select(&mut self, id: u32) -> Result<(), CaptureError> {
        let index = super::monitor_index(&self.monitors, id)?;
        self.current = index;
        self.dirty = true;
        self.whole_next = true;
        Ok(())
    }

    fn changed(&mut self) -> Option<bool> {
        self.damage.as_ref()?;
        // Drain pending events; any damage notification means "capture again". (Damage is
        // not filtered by monitor: a change elsewhere costs one capture and a hash.)
        while let Ok(Some(event)) = self.conn.poll_for_event() {
            tracing::trace!(?event, "X event");
            match event {
                Event::DamageNotify(_) => self.dirty = true,
                Event::XfixesCursorNotify(_) => self.cursor_dirty = true,
                _ => {}
            }
        }
        Some(self.dirty)
    }

    fn cursor_position(&mut self) -> Option<CursorPosition> {
        let m = &self.monitors[self.current];
        let root = self.placements[self.current].root;
        let reply = self.conn.query_pointer(root).ok()?.reply().ok()?;
        let (x, y) = (i32::from(reply.root_x) - m.x, i32::from(reply.root_y) - m.y);
        let inside = x >= 0 && y >= 0 && x < m.width as i32 && y < m.height as i32;
        Some(CursorPosition {
            x,
            y,
            visible: reply.same_screen && inside,
        })
    }

    fn cursor_shape(&mut self) -> Option<CursorShape> {
        let _ = self.changed();
        if !self.cursor_dirty {
            return None;
        }
        self.cursor_dirty = false;
        let reply = self.conn.xfixes_get_cursor_image().ok()?.reply().ok()?;
        let (w, h) = (u32::from(reply.width), u32::from(reply.height));
        if w == 0 || h == 0 || w > MAX_CURSOR_SIDE || h > MAX_CURSOR_SIDE {
            return None;
        }
        // XFixes gives premultiplied ARGB in native-endian u32s.
        let rgba = reply
            .cursor_image
            .iter()
            .flat_map(|&p| {
                let a = (p >> 24) as u8;
                let un = |c: u32| -> u8 {
                    let c = (c & 0xff) as u16;
                    if a == 0 {
                        0
                    } else {
                        ((c * 255 + u16::from(a) / 2) / u16::from(a)).min(255) as u8
                    }
                };
                [un(p >> 16), un(p >> 8), un(p), a]
            })
            .collect();
        Some(CursorShape {
            serial: reply.cursor_serial,
            width: w,
            height: h,
            hot_x: u32::from(reply.xhot),
            hot_y: u32::from(reply.yhot),
            rgba,
        })
    }

    fn wait_for_change(&mut self, timeout: std::time::Duration) -> Option<bool> {
        use std::os::fd::AsRawFd;
        if self.changed()? {
            return Some(true);
        }
        // Sleep on the X socket: wakes as soon as the server sends anything.
        let mut fd = libc::pollfd {
            fd: self.conn.stream().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        unsafe { libc::poll(&mut fd, 1, ms) };
        self.changed()
    }

    fn capture(&mut self, out: &mut BgraFrame) -> Result<(), CaptureError> {
        self.dirty = false;
        let m = &self.monitors[self.current];
        let (mx, my, w, h) = (m.x, m.y, m.width, m.height);
        let resized = out.width != w || out.height != h;
        if resized {
            *out = BgraFrame::new(w, h);
        }
        // Parts only into a frame that holds this monitor's last picture, through shared
        // memory (a GetImage per part costs a round trip and a copy of its own).
        let parts_possible = !resized
            && !self.whole_next
            && !self.whole_always
            && self.shm_available
            && self.last_whole.elapsed() < FULL_REFRESH;
        // The damage is reset before reading, so drawing during the read is reported again.
        let parts = match self.take_damage(parts_possible) {
            Some(damage) if parts_possible => damaged_parts(&damage, mx, my, w, h),
            _ => DamagedParts::Whole,
        };
        match parts {
            DamagedParts::Nothing => {
                self.captured = Some(Vec::new());
                return Ok(());
            }
            DamagedParts::Rects(rects) => {
                let mut read = Ok(());
                for &rect in &rects {
                    read = self.capture_shm_rect(out, rect);
                    if read.is_err() {
                        break;
                    }
                }
                match read {
                    Ok(()) => {
                        self.captured = Some(rects);
                        return Ok(());
                    }
                    // Read the whole monitor below (and so fall back to GetImage if
                    // shared memory itself is what failed).
                    Err(e) => tracing::debug!("reading damaged parts failed: {e}"),
                }
            }
            DamagedParts::Whole => {}
        }
        self.captured = None;
        self.whole_next = false;
        self.last_whole = std::time::Instant::now();
        if self.shm_available {
            match self.capture_shm(out) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    // A remote or restricted server: fall back for good.
                    tracing::debug!("MIT-SHM capture failed, using GetImage: {e}");
                    self.shm_available = false;
                    self.shm = None;
                }
            }
        }
        self.capture_get_image(out)
    }

    fn captured_area(&self) -> Option<&[Rect]> {
        self.captured.as_deref()
    }

    fn read_whole_frames(&mut self) {
        self.whole_always = true;
    }
}

#[cfg(test)]
mod scale_tests {
    use super::scale_percent;

    #[test]
    fn scale_from_dpi_setting_or_physical_size() {
        assert_eq!(scale_percent(Some(96.0), 1920, 0), 100);
        assert_eq!(scale_percent(Some(144.0), 1920, 0), 150);
        assert_eq!(
            scale_percent(Some(192.0), 3840, 600),
            200,
            "the setting wins"
        );
        // 3840 px over 344 mm is ~284 dpi: 300 %.
        assert_eq!(scale_percent(None, 3840, 344), 300);
        // 1920 px over 477 mm is ~102 dpi: 100 %.
        assert_eq!(scale_percent(None, 1920, 477), 100);
        assert_eq!(scale_percent(None, 1920, 0), 100, "unknown");
        assert_eq!(scale_percent(Some(20.0), 1920, 0), 100, "never below 100 %");
    }
}

#[cfg(test)]
mod damage_tests {
    use super::{damaged_parts, DamagedParts, Rect, MAX_PARTS};

    #[test]
    fn damage_is_clipped_to_the_monitor_and_read_whole_when_parts_do_not_pay() {
        // A monitor at (1920, 0), 1280×1024, on a root spanning two monitors.
        let parts = |d: &[(i32, i32, u32, u32)]| damaged_parts(d, 1920, 0, 1280, 1024);
        assert_eq!(parts(&[]), DamagedParts::Nothing);
        assert_eq!(
            parts(&[(0, 0, 100, 100)]),
            DamagedParts::Nothing,
            "on the other monitor"
        );
        assert_eq!(
            parts(&[(1900, 10, 40, 20), (3190, 1020, 100, 100)]),
            DamagedParts::Rects(vec![
                Rect {
                    x: 0,
                    y: 10,
                    width: 20,
                    height: 20
                },
                Rect {
                    x: 1270,
                    y: 1020,
                    width: 10,
                    height: 4
                },
            ]),
            "straddling edges: clipped"
        );
        assert_eq!(
            parts(&[(1920, 0, 1280, 600)]),
            DamagedParts::Whole,
            "most of it"
        );
        let many: Vec<_> = (0..=MAX_PARTS as i32)
            .map(|i| (1920 + i * 10, 0, 5, 5))
            .collect();
        assert_eq!(parts(&many), DamagedParts::Whole, "too many round trips");
        // Hostile sizes from a confused server do not overflow.
        assert_eq!(
            parts(&[(i32::MAX, i32::MAX, u32::MAX, u32::MAX)]),
            DamagedParts::Nothing
        );
    }
}
