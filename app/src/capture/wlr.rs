//! wlroots compositors (sway, river, Hyprland…): the screen straight from the compositor
//! through `wlr-screencopy`, over one Wayland connection kept for the session.
//!
//! Why not the ScreenCast portal here: xdg-desktop-portal-wlr is itself a screencopy client
//! that adds a PipeWire hop, needs DMA-BUF (a GPU render node) before its 0.8 (Debian 12
//! ships 0.7), and is often not set up on sway at all; and on wlroots there is no
//! RemoteDesktop portal, so input goes through the compositor's own protocols anyway
//! (`crate::input::wlr`). `copy_with_damage` gives what the pipeline needs: the compositor
//! answers only once something was drawn, so a still screen costs nothing. The pointer is
//! drawn into the picture (screencopy does not say where it is).
//!
//! The compositor is the sharer's own, but what it sends is still checked: sizes and
//! strides are bounded before anything is allocated.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use wayland_client::globals::{registry_queue_init, GlobalList, GlobalListContents};
use wayland_client::protocol::{wl_buffer, wl_output, wl_registry, wl_shm, wl_shm_pool};
use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle, WEnum};
use wayland_protocols::xdg::xdg_output::zv1::client::{zxdg_output_manager_v1, zxdg_output_v1};
use wayland_protocols_wlr::screencopy::v1::client::{
    zwlr_screencopy_frame_v1, zwlr_screencopy_manager_v1,
};

use super::{CaptureError, CaptureInfo, MonitorInfo, ScreenSource};
use crate::media::frame::BgraFrame;

/// Larger than any monitor; a buffer beyond it is refused before it is allocated.
const MAX_SIDE: u32 = 16_384;
/// How long a picture asked for at once may take (the compositor renders at its own pace).
const CAPTURE_TIMEOUT: Duration = Duration::from_secs(2);
/// After every monitor refused a copy (all blanked), how long before asking again.
const REST: Duration = Duration::from_secs(1);
/// More pixels than any monitor has (8K is 33 M): a buffer beyond it is refused.
const MAX_PIXELS: u64 = 64 << 20;

/// Whether the Wayland compositor at `$WAYLAND_DISPLAY` offers wlr-screencopy.
pub fn screencopy_available() -> bool {
    Connection::connect_to_env()
        .ok()
        .and_then(|conn| registry_queue_init::<WlrState>(&conn).ok())
        .is_some_and(|(globals, _)| {
            has_global(
                &globals,
                zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1::interface().name,
            )
        })
}

pub(crate) fn has_global(globals: &GlobalList, interface: &str) -> bool {
    globals
        .contents()
        .with_list(|list| list.iter().any(|g| g.interface == interface))
}

/// One output as the compositor describes it.
#[derive(Debug, Default)]
pub(crate) struct OutputEntry {
    pub output: Option<wl_output::WlOutput>,
    /// The registry's name for it: how its removal is announced.
    pub global: u32,
    pub id: u32,
    pub removed: bool,
    position: (i32, i32),
    logical_position: Option<(i32, i32)>,
    mode: (i32, i32),
    swapped: bool,
    width_mm: i32,
    scale: i32,
    name: Option<String>,
    make_model: String,
}

impl OutputEntry {
    pub fn info(&self, primary: bool) -> MonitorInfo {
        let (w, h) = if self.swapped {
            (self.mode.1, self.mode.0)
        } else {
            self.mode
        };
        let (x, y) = self.logical_position.unwrap_or(self.position);
        MonitorInfo {
            id: self.id,
            name: self.name.clone().unwrap_or_else(|| self.make_model.clone()),
            screen: 0,
            x,
            y,
            width: u32::try_from(w).unwrap_or(0),
            height: u32::try_from(h).unwrap_or(0),
            width_mm: u32::try_from(self.width_mm).unwrap_or(0),
            primary,
            scale_percent: u32::try_from(self.scale.max(1))
                .unwrap_or(1)
                .saturating_mul(100),
        }
    }
}

/// What the picture in flight has been told so far.
#[derive(Debug, Default)]
struct FrameState {
    generation: u64,
    /// Width, height, stride and byte order of the SHM buffer to copy into.
    buffer: Option<ShmLayout>,
    buffer_done: bool,
    y_invert: bool,
    ready: bool,
    failed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ShmLayout {
    format: wl_shm::Format,
    width: u32,
    height: u32,
    stride: u32,
}

impl ShmLayout {
    fn checked(
        format: WEnum<wl_shm::Format>,
        width: u32,
        height: u32,
        stride: u32,
    ) -> Option<Self> {
        let WEnum::Value(format) = format else {
            return None;
        };
        let usable = matches!(
            format,
            wl_shm::Format::Xrgb8888
                | wl_shm::Format::Argb8888
                | wl_shm::Format::Xbgr8888
                | wl_shm::Format::Abgr8888
        );
        let sane = (1..=MAX_SIDE).contains(&width)
            && (1..=MAX_SIDE).contains(&height)
            && u64::from(width) * u64::from(height) <= MAX_PIXELS
            && stride >= width * 4
            && stride <= width * 4 + 4096;
        (usable && sane).then_some(Self {
            format,
            width,
            height,
            stride,
        })
    }

    /// Byte order R, G, B in memory (the pipeline wants B, G, R).
    fn red_first(&self) -> bool {
        matches!(
            self.format,
            wl_shm::Format::Xbgr8888 | wl_shm::Format::Abgr8888
        )
    }

    fn bytes(&self) -> usize {
        self.stride as usize * self.height as usize
    }
}

/// The Wayland connection's state, shared with the wlroots input (`crate::input::wlr`).
#[derive(Debug, Default)]
pub(crate) struct WlrState {
    pub outputs: Vec<OutputEntry>,
    next_output_id: u32,
    frame: FrameState,
    /// Set by the seat (`crate::input::wlr`).
    pub seat_has_keyboard: bool,
    /// The seat's keymap as the compositor sent it (the sharer's layout).
    pub keymap: Option<(std::os::fd::OwnedFd, u32)>,
    /// Names outputs plugged in later too.
    xdg: Option<zxdg_output_manager_v1::ZxdgOutputManagerV1>,
    /// An output was added, removed or changed since this was last cleared.
    pub outputs_changed: bool,
}

impl WlrState {
    fn add_output(
        &mut self,
        registry: &wl_registry::WlRegistry,
        global: u32,
        version: u32,
        qh: &QueueHandle<Self>,
    ) {
        let output: wl_output::WlOutput = registry.bind(global, version.min(4), qh, global);
        if let Some(xdg) = &self.xdg {
            xdg.get_xdg_output(&output, qh, global);
        }
        // Announced as a change once described (its `done`).
        let id = self.next_output_id;
        self.next_output_id += 1;
        self.outputs.push(OutputEntry {
            output: Some(output),
            global,
            id,
            scale: 1,
            ..OutputEntry::default()
        });
    }

    fn output_mut(&mut self, global: u32) -> Option<&mut OutputEntry> {
        self.outputs.iter_mut().find(|o| o.global == global)
    }

    /// The outputs that are still there, first one primary.
    pub fn monitors(&self) -> Vec<MonitorInfo> {
        self.outputs
            .iter()
            .filter(|o| !o.removed && o.mode.0 > 0 && o.mode.1 > 0)
            .enumerate()
            .map(|(i, o)| o.info(i == 0))
            .collect()
    }
}

/// A connection to the compositor with its outputs listed.
pub(crate) struct WlrConnection {
    pub conn: Connection,
    pub queue: EventQueue<WlrState>,
    pub qh: QueueHandle<WlrState>,
    pub globals: GlobalList,
    pub state: WlrState,
}

impl WlrConnection {
    pub fn open() -> Result<Self, String> {
        let conn = Connection::connect_to_env().map_err(|e| format!("no Wayland display: {e}"))?;
        let (globals, queue) = registry_queue_init::<WlrState>(&conn).map_err(|e| e.to_string())?;
        let qh = queue.handle();
        let mut state = WlrState {
            xdg: globals.bind(&qh, 1..=3, ()).ok(),
            ..WlrState::default()
        };
        let registry = globals.registry().clone();
        let outputs: Vec<(u32, u32)> = globals.contents().with_list(|list| {
            list.iter()
                .filter(|g| g.interface == wl_output::WlOutput::interface().name)
                .map(|g| (g.name, g.version))
                .collect()
        });
        for (global, version) in outputs {
            state.add_output(&registry, global, version, &qh);
        }
        let mut this = Self {
            conn,
            queue,
            qh,
            globals,
            state,
        };
        // Geometry, modes and names arrive after the binds.
        this.roundtrip()?;
        this.roundtrip()?;
        this.state.outputs_changed = false;
        Ok(this)
    }

    pub fn roundtrip(&mut self) -> Result<(), String> {
        self.queue
            .roundtrip(&mut self.state)
            .map(|_| ())
            .map_err(|e| format!("the Wayland connection failed: {e}"))
    }

    /// Waits until events arrive or `deadline` passes, and reads them into the queue
    /// (dispatching is the caller's); false when the deadline passed first.
    pub fn read_events(&mut self, deadline: Instant) -> Result<bool, String> {
        let failed = |e: &dyn std::fmt::Display| format!("the Wayland connection failed: {e}");
        self.conn.flush().map_err(|e| failed(&e))?;
        let Some(guard) = self.queue.prepare_read() else {
            // Already queued.
            return Ok(true);
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut fd = libc::pollfd {
                fd: guard.connection_fd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let timeout_ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
            // SAFETY: one valid pollfd, living across the call.
            let ready = unsafe { libc::poll(&mut fd, 1, timeout_ms) };
            if ready < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(failed(&e));
            }
            if ready == 0 {
                return Ok(false);
            }
            return match guard.read() {
                Ok(_) => Ok(true),
                Err(wayland_client::backend::WaylandError::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock =>
                {
                    Ok(true)
                }
                Err(e) => Err(failed(&e)),
            };
        }
    }

    /// The output behind a monitor id, if it is still there.
    pub fn output(&self, id: u32) -> Option<&wl_output::WlOutput> {
        self.state
            .outputs
            .iter()
            .find(|o| o.id == id && !o.removed)
            .and_then(|o| o.output.as_ref())
    }
}

/// An anonymous in-memory file (for SHM buffers and keymaps).
pub(crate) fn memfd(name: &std::ffi::CStr, len: u64) -> std::io::Result<File> {
    // SAFETY: a NUL-terminated name; the result is checked before use.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new descriptor nobody else owns.
    let file = unsafe { File::from_raw_fd(fd) };
    file.set_len(len)?;
    Ok(file)
}

struct ShmBuffer {
    layout: ShmLayout,
    file: File,
    pool: wl_shm_pool::WlShmPool,
    buffer: wl_buffer::WlBuffer,
}

impl Drop for ShmBuffer {
    fn drop(&mut self) {
        self.buffer.destroy();
        self.pool.destroy();
    }
}

struct InFlight {
    frame: zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1,
    with_damage: bool,
    copy_sent: bool,
}

/// The screen of a wlroots compositor.
pub struct WlrSource {
    wl: WlrConnection,
    manager: zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1,
    shm: wl_shm::WlShm,
    monitors: Vec<MonitorInfo>,
    current: usize,
    buffer: Option<ShmBuffer>,
    in_flight: Option<InFlight>,
    /// A copy finished that `capture` has not taken yet.
    fresh: bool,
    /// The layout and orientation of that copy.
    fresh_y_invert: bool,
    /// Copies refused in a row (a monitor switched off): past one per monitor, capture fails.
    refusals: usize,
    /// The shown monitor changed without being asked (the one shown could not be copied).
    moved: bool,
    /// Every monitor refused a copy: none is asked for until then.
    resting_until: Option<Instant>,
}

impl WlrSource {
    pub fn open() -> Result<Self, CaptureError> {
        let unavailable = |reason: String| CaptureError::NoPortal(reason);
        let wl = WlrConnection::open().map_err(unavailable)?;
        let manager = wl.globals.bind(&wl.qh, 1..=3, ()).map_err(|_| {
            unavailable("this Wayland desktop does not offer wlr-screencopy (a wlroots compositor such as sway does)".into())
        })?;
        let shm = wl
            .globals
            .bind(&wl.qh, 1..=1, ())
            .map_err(|_| unavailable("the Wayland desktop offers no shared memory".into()))?;
        let monitors = wl.state.monitors();
        if monitors.is_empty() {
            return Err(CaptureError::NoScreen);
        }
        Ok(Self {
            wl,
            manager,
            shm,
            monitors,
            current: 0,
            buffer: None,
            in_flight: None,
            fresh: false,
            fresh_y_invert: false,
            refusals: 0,
            moved: false,
            resting_until: None,
        })
    }

    fn failed(e: String) -> CaptureError {
        CaptureError::Failed(e)
    }

    fn cancel(&mut self) {
        if let Some(f) = self.in_flight.take() {
            f.frame.destroy();
        }
        self.wl.state.frame = FrameState {
            generation: self.wl.state.frame.generation + 1,
            ..FrameState::default()
        };
    }

    /// Asks for the next picture; with damage, the compositor answers once something is
    /// drawn (at once for the first such request on an output).
    fn start(&mut self, with_damage: bool) -> Result<(), CaptureError> {
        self.cancel();
        if self.wl.state.outputs.iter().all(|o| o.removed) {
            return Err(CaptureError::NoScreen);
        }
        let id = self.monitors[self.current].id;
        let output = match self.wl.output(id) {
            Some(o) => o.clone(),
            None => {
                // The shown monitor was unplugged: show the first one left (and say so).
                let left = self.wl.state.monitors();
                let first = left.first().ok_or(CaptureError::NoScreen)?;
                let output = self
                    .wl
                    .output(first.id)
                    .ok_or(CaptureError::NoScreen)?
                    .clone();
                self.monitors = left;
                self.current = 0;
                self.moved = true;
                output
            }
        };
        let generation = self.wl.state.frame.generation;
        // The pointer is drawn in: screencopy does not say where it is.
        let frame = self
            .manager
            .capture_output(1, &output, &self.wl.qh, generation);
        self.in_flight = Some(InFlight {
            frame,
            with_damage,
            copy_sent: false,
        });
        Ok(())
    }

    /// Moves the picture in flight on after events arrived: copies once the buffer is
    /// described, and notes the picture when it is ready.
    fn advance(&mut self) -> Result<(), String> {
        let Some(flight) = self.in_flight.as_mut() else {
            return Ok(());
        };
        let state = &self.wl.state.frame;
        if state.failed {
            if let Some(f) = self.in_flight.take() {
                f.frame.destroy();
            }
            let id = self.monitors[self.current].id;
            if self.wl.output(id).is_none() {
                // Unplugged while copying: the next request moves to another monitor.
                return Ok(());
            }
            return self.move_on();
        }
        if state.ready {
            self.refusals = 0;
            self.fresh = true;
            self.fresh_y_invert = state.y_invert;
            if let Some(f) = self.in_flight.take() {
                f.frame.destroy();
            }
            return Ok(());
        }
        let described = state.buffer_done || self.manager.version() < 3;
        let Some(layout) = state.buffer.filter(|_| described && !flight.copy_sent) else {
            return Ok(());
        };
        if self.buffer.as_ref().is_none_or(|b| b.layout != layout) {
            self.buffer = None;
            let file = memfd(c"tandem-screencopy", layout.bytes() as u64)
                .map_err(|e| format!("cannot allocate a screen buffer: {e}"))?;
            let size = i32::try_from(layout.bytes()).map_err(|_| "screen too large")?;
            let pool = self.shm.create_pool(file.as_fd(), size, &self.wl.qh, ());
            let buffer = pool.create_buffer(
                0,
                layout.width as i32,
                layout.height as i32,
                layout.stride as i32,
                layout.format,
                &self.wl.qh,
                (),
            );
            self.buffer = Some(ShmBuffer {
                layout,
                file,
                pool,
                buffer,
            });
        }
        let Some(shm) = self.buffer.as_ref() else {
            return Ok(());
        };
        if flight.with_damage && self.manager.version() >= 2 {
            flight.frame.copy_with_damage(&shm.buffer);
        } else {
            flight.frame.copy(&shm.buffer);
        }
        flight.copy_sent = true;
        Ok(())
    }

    /// The shown monitor cannot be copied (switched off: sway keeps a disabled output
    /// listed, and refuses or never answers its copies): shows the next one instead, unless
    /// none could be copied.
    fn move_on(&mut self) -> Result<(), String> {
        self.cancel();
        self.refusals += 1;
        if self.refusals > self.monitors.len() {
            // None can be copied (every screen blanked): the last picture stays, and the
            // compositor is asked again after a rest, not in a tight loop.
            self.refusals = 0;
            self.resting_until = Some(Instant::now() + REST);
            return Ok(());
        }
        let next = (self.current + 1) % self.monitors.len();
        self.moved |= next != self.current;
        self.current = next;
        Ok(())
    }

    /// Whether the compositor is being left alone after refusing every monitor.
    fn resting(&mut self) -> bool {
        match self.resting_until {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                self.resting_until = None;
                false
            }
            None => false,
        }
    }

    /// Handles what the compositor sends until a picture is ready or `deadline` passes.
    fn pump(&mut self, deadline: Instant) -> Result<bool, CaptureError> {
        loop {
            self.wl
                .queue
                .dispatch_pending(&mut self.wl.state)
                .map_err(|e| Self::failed(e.to_string()))?;
            self.advance().map_err(Self::failed)?;
            if self.fresh {
                return Ok(true);
            }
            if self.in_flight.is_none() {
                if self.resting() {
                    return Ok(false);
                }
                // Failed on an unplugged monitor: ask again on the one now shown.
                self.start(false)?;
                continue;
            }
            if !self.wl.read_events(deadline).map_err(Self::failed)? {
                return Ok(false);
            }
        }
    }

    fn read_into(&mut self, out: &mut BgraFrame) -> Result<(), CaptureError> {
        let shm = self
            .buffer
            .as_ref()
            .ok_or_else(|| Self::failed("no picture".into()))?;
        let ShmLayout {
            width,
            height,
            stride,
            ..
        } = shm.layout;
        if out.width != width || out.height != height {
            *out = BgraFrame::new(width, height);
        }
        let row = width as usize * 4;
        let read = |e: std::io::Error| Self::failed(format!("reading the screen buffer: {e}"));
        if stride as usize == row && !self.fresh_y_invert {
            shm.file
                .read_exact_at(&mut out.data[..row * height as usize], 0)
                .map_err(read)?;
        } else {
            for y in 0..height as usize {
                let source = if self.fresh_y_invert {
                    height as usize - 1 - y
                } else {
                    y
                };
                shm.file
                    .read_exact_at(
                        &mut out.data[y * row..][..row],
                        (source * stride as usize) as u64,
                    )
                    .map_err(read)?;
            }
        }
        if shm.layout.red_first() {
            for px in out.data.chunks_exact_mut(4) {
                px.swap(0, 2);
            }
        }
        let shown = &mut self.monitors[self.current];
        (shown.width, shown.height) = (width, height);
        Ok(())
    }
}

impl ScreenSource for WlrSource {
    fn monitors(&self) -> &[MonitorInfo] {
        &self.monitors
    }

    fn method(&self) -> CaptureInfo {
        CaptureInfo::new("wlr-screencopy")
    }

    fn current(&self) -> &MonitorInfo {
        &self.monitors[self.current]
    }

    fn select(&mut self, id: u32) -> Result<(), CaptureError> {
        let index = super::monitor_index(&self.monitors, id)?;
        self.cancel();
        self.fresh = false;
        self.current = index;
        Ok(())
    }

    fn capture(&mut self, out: &mut BgraFrame) -> Result<(), CaptureError> {
        while !self.fresh {
            if self.resting() {
                // Nothing can be copied: the last picture stands.
                return Ok(());
            }
            // A picture is wanted now: one waiting for damage may never come.
            if self.in_flight.as_ref().is_none_or(|f| f.with_damage) {
                self.start(false)?;
            }
            if !self.pump(Instant::now() + CAPTURE_TIMEOUT)? {
                self.move_on().map_err(|e| {
                    Self::failed(format!(
                        "{e}: no picture within {} s",
                        CAPTURE_TIMEOUT.as_secs()
                    ))
                })?;
            }
        }
        self.fresh = false;
        self.read_into(out)?;
        // Watch for the next change at once: the compositor answers when it is drawn.
        self.start(true)
    }

    fn monitors_changed(&mut self) -> bool {
        // Announcements already read from the socket (pictures are waited for often).
        if self.wl.queue.dispatch_pending(&mut self.wl.state).is_err() {
            return false;
        }
        let moved = std::mem::take(&mut self.moved);
        if !std::mem::take(&mut self.wl.state.outputs_changed) {
            return moved;
        }
        let monitors = self.wl.state.monitors();
        if monitors == self.monitors || monitors.is_empty() {
            return moved;
        }
        let shown = self.monitors[self.current].id;
        self.current = match monitors.iter().position(|m| m.id == shown) {
            Some(i) => i,
            None => {
                // The shown monitor went away: the first one left is shown.
                self.cancel();
                self.fresh = false;
                0
            }
        };
        self.monitors = monitors;
        true
    }

    fn changed(&mut self) -> Option<bool> {
        if self.in_flight.is_none() && !self.fresh {
            return None;
        }
        self.pump(Instant::now()).ok()?;
        // Never "still" for sure: what a client drew just now reaches the output only at
        // the compositor's next frame (an X client's through Xwayland a frame later), and a
        // wrong "still" during motion would send a full-quality refinement of a moving
        // picture. Unsure, the caller captures and compares, which costs one copy.
        self.fresh.then_some(true)
    }

    fn wait_for_change(&mut self, timeout: Duration) -> Option<bool> {
        if self.fresh {
            return Some(true);
        }
        if let Some(until) = self.resting_until.filter(|_| self.resting()) {
            std::thread::sleep(until.saturating_duration_since(Instant::now()).min(timeout));
            return Some(false);
        }
        if self.in_flight.is_none() && self.start(true).is_err() {
            return None;
        }
        self.pump(Instant::now() + timeout).ok()
    }
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for WlrState {
    fn event(
        state: &mut Self,
        registry: &wl_registry::WlRegistry,
        event: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        match event {
            wl_registry::Event::Global {
                name,
                interface,
                version,
            } if interface == wl_output::WlOutput::interface().name => {
                // A monitor plugged in during the session.
                state.add_output(registry, name, version, qh);
            }
            wl_registry::Event::GlobalRemove { name } => {
                if let Some(o) = state.output_mut(name) {
                    o.removed = true;
                    if let Some(output) = o.output.take() {
                        if output.version() >= 3 {
                            output.release();
                        }
                    }
                    state.outputs_changed = true;
                }
            }
            _ => {}
        }
    }
}

impl Dispatch<wl_output::WlOutput, u32> for WlrState {
    fn event(
        state: &mut Self,
        _: &wl_output::WlOutput,
        event: wl_output::Event,
        global: &u32,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if matches!(event, wl_output::Event::Done) {
            state.outputs_changed = true;
            return;
        }
        let Some(o) = state.output_mut(*global) else {
            return;
        };
        match event {
            wl_output::Event::Geometry {
                x,
                y,
                physical_width,
                make,
                model,
                transform,
                ..
            } => {
                o.position = (x, y);
                o.width_mm = physical_width;
                o.make_model = format!("{make} {model}").trim().to_string();
                o.swapped = matches!(
                    transform,
                    WEnum::Value(
                        wl_output::Transform::_90
                            | wl_output::Transform::_270
                            | wl_output::Transform::Flipped90
                            | wl_output::Transform::Flipped270
                    )
                );
            }
            wl_output::Event::Mode {
                flags: WEnum::Value(flags),
                width,
                height,
                ..
            } if flags.contains(wl_output::Mode::Current) => o.mode = (width, height),
            wl_output::Event::Scale { factor } => o.scale = factor,
            wl_output::Event::Name { name } => o.name = Some(name),
            _ => {}
        }
    }
}

impl Dispatch<zxdg_output_v1::ZxdgOutputV1, u32> for WlrState {
    fn event(
        state: &mut Self,
        _: &zxdg_output_v1::ZxdgOutputV1,
        event: zxdg_output_v1::Event,
        global: &u32,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if matches!(event, zxdg_output_v1::Event::Done) {
            state.outputs_changed = true;
            return;
        }
        let Some(o) = state.output_mut(*global) else {
            return;
        };
        match event {
            zxdg_output_v1::Event::LogicalPosition { x, y } => o.logical_position = Some((x, y)),
            zxdg_output_v1::Event::Name { name } if o.name.is_none() => o.name = Some(name),
            _ => {}
        }
    }
}

impl Dispatch<zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1, u64> for WlrState {
    fn event(
        state: &mut Self,
        _: &zwlr_screencopy_frame_v1::ZwlrScreencopyFrameV1,
        event: zwlr_screencopy_frame_v1::Event,
        generation: &u64,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let frame = &mut state.frame;
        if *generation != frame.generation {
            return;
        }
        match event {
            zwlr_screencopy_frame_v1::Event::Buffer {
                format,
                width,
                height,
                stride,
            } => {
                // Several may be offered (v3); B, G, R order is taken over R, G, B.
                if let Some(layout) = ShmLayout::checked(format, width, height, stride) {
                    if frame
                        .buffer
                        .is_none_or(|b| b.red_first() && !layout.red_first())
                    {
                        frame.buffer = Some(layout);
                    }
                }
            }
            zwlr_screencopy_frame_v1::Event::BufferDone => {
                frame.buffer_done = true;
                if frame.buffer.is_none() {
                    // Only DMA-BUF or unknown formats: nothing this source can read.
                    frame.failed = true;
                }
            }
            zwlr_screencopy_frame_v1::Event::Flags { flags } => {
                frame.y_invert = matches!(flags, WEnum::Value(f) if f.contains(zwlr_screencopy_frame_v1::Flags::YInvert));
            }
            zwlr_screencopy_frame_v1::Event::Ready { .. } => frame.ready = true,
            zwlr_screencopy_frame_v1::Event::Failed => frame.failed = true,
            _ => {}
        }
    }
}

macro_rules! no_events {
    ($($proxy:ty),* $(,)?) => {$(
        impl Dispatch<$proxy, ()> for WlrState {
            fn event(
                _: &mut Self,
                _: &$proxy,
                _: <$proxy as Proxy>::Event,
                _: &(),
                _: &Connection,
                _: &QueueHandle<Self>,
            ) {
            }
        }
    )*};
}
pub(crate) use no_events;

no_events!(
    wl_shm::WlShm,
    wl_shm_pool::WlShmPool,
    wl_buffer::WlBuffer,
    zxdg_output_manager_v1::ZxdgOutputManagerV1,
    zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_the_source_cannot_read_or_cannot_afford_are_refused() {
        let ok = |f| ShmLayout::checked(WEnum::Value(f), 1920, 1080, 7680);
        assert!(ok(wl_shm::Format::Xrgb8888).is_some());
        assert!(ok(wl_shm::Format::Abgr8888).is_some_and(|l| l.red_first()));
        assert!(ok(wl_shm::Format::Rgb565).is_none());
        assert!(ShmLayout::checked(WEnum::Unknown(0x1234), 16, 16, 64).is_none());
        let argb = WEnum::Value(wl_shm::Format::Argb8888);
        // A stride shorter than a row, absurd padding, or a side beyond any monitor.
        assert!(ShmLayout::checked(argb, 1920, 1080, 7676).is_none());
        assert!(ShmLayout::checked(argb, 16, 16, 1 << 30).is_none());
        assert!(ShmLayout::checked(argb, MAX_SIDE + 1, 16, (MAX_SIDE + 1) * 4).is_none());
        assert!(ShmLayout::checked(argb, MAX_SIDE, MAX_SIDE, MAX_SIDE * 4).is_none());
        assert!(ShmLayout::checked(argb, 0, 16, 0).is_none());
    }
}
