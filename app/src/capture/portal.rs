//! Wayland: the desktop through the `org.freedesktop.portal.ScreenCast` portal and the
//! PipeWire stream it hands over. The compositor sends a new buffer only when something was
//! drawn, so a still screen costs nothing here: [`ScreenSource::changed`] and
//! [`ScreenSource::wait_for_change`] know for sure.
//!
//! Two threads serve one source: the portal's (a small Tokio runtime holding the D-Bus
//! connection, since the portal closes the session when that connection goes) and
//! PipeWire's (its main loop, copying each buffer into the latest picture). The pipeline
//! thread only reads that picture.
//!
//! The person is asked once per run of the app: the portal's restore token is kept in
//! memory (never on disk) and offered to the next session, which the portal then grants
//! without a dialog.

use std::io::Cursor;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ashpd::desktop::remote_desktop::{Axis, DeviceType, KeyState, RemoteDesktop};
use ashpd::desktop::screencast::{CursorMode, Screencast, SourceType, Stream};
use ashpd::desktop::PersistMode;
use pipewire::spa;
use spa::param::format::{FormatProperties, MediaSubtype, MediaType};
use spa::param::video::{VideoFormat, VideoInfoRaw};
use spa::param::ParamType;
use spa::pod::serialize::PodSerializer;
use spa::pod::{self, Pod};
use spa::utils::{Direction, Fraction, Rectangle, SpaTypes};

use super::{
    CaptureError, CaptureInfo, CursorPosition, CursorShape, MonitorInfo, ScreenSource,
    MAX_CURSOR_SIDE,
};
use crate::input::inject::{InjectError, Injector};
use crate::input::translate::{InjectOp, ScrollAxis};
use crate::media::frame::BgraFrame;

/// How long the first picture may take once the stream is granted.
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest picture accepted from the compositor (a 8K monitor).
const MAX_SIDE: u32 = 8192;

/// The restore token of this run (never written anywhere): a second session does not ask.
static RESTORE_TOKEN: Mutex<Option<String>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn portal_error(e: ashpd::Error) -> CaptureError {
    use ashpd::desktop::ResponseError;
    match e {
        ashpd::Error::Response(ResponseError::Cancelled) => CaptureError::Declined,
        ashpd::Error::PortalNotFound(_) => CaptureError::NoPortal(
            "this desktop has no screen-sharing portal (install xdg-desktop-portal and the \
             one for your desktop: -gnome, -kde or -wlr)"
                .into(),
        ),
        ashpd::Error::Zbus(e) => CaptureError::NoPortal(format!(
            "the desktop's portal did not answer ({e}); is xdg-desktop-portal running?"
        )),
        other => CaptureError::Failed(format!("screen-sharing portal: {other}")),
    }
}

/// What the portal granted.
struct Granted {
    streams: Vec<Stream>,
    remote: OwnedFd,
    /// The pointer travels as PipeWire metadata, not in the picture.
    cursor_metadata: bool,
}

/// Input for the desktop, played by the portal's thread through the RemoteDesktop
/// portal's `Notify*` calls. Present only while a session that the person allowed to take
/// input is open.
#[derive(Clone)]
struct RemoteInput {
    ops: tokio::sync::mpsc::Sender<InjectOp>,
}

/// The input of the open portal session, if the desktop granted keyboard and pointer.
static REMOTE_INPUT: Mutex<Option<RemoteInput>> = Mutex::new(None);

/// Whether the open portal session can take input (the desktop has the RemoteDesktop
/// portal and the person allowed it in the dialog).
pub fn remote_input_available() -> bool {
    lock(&REMOTE_INPUT).is_some()
}

/// The portal session, open while this lives (its thread closes it on drop).
struct PortalSession {
    close: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The session the portal opened: screen cast alone, or with remote input.
enum Opened<'a> {
    Cast(ashpd::desktop::Session<'a, Screencast<'a>>),
    Remote(
        RemoteDesktop<'a>,
        ashpd::desktop::Session<'a, RemoteDesktop<'a>>,
    ),
}

impl Opened<'_> {
    async fn close(&self) {
        let _ = match self {
            Opened::Cast(session) => session.close().await,
            Opened::Remote(_, session) => session.close().await,
        };
    }
}

impl PortalSession {
    fn open() -> Result<(Self, Granted), CaptureError> {
        let (granted_tx, granted_rx) = std::sync::mpsc::sync_channel(1);
        let (close_tx, close_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tandem-portal".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = granted_tx.send(Err(CaptureError::Failed(e.to_string())));
                        return;
                    }
                };
                runtime.block_on(serve(granted_tx, close_rx));
            })
            .map_err(|e| CaptureError::Failed(e.to_string()))?;
        // As long as the person takes to answer: the session does not wait on this (End
        // and the helper leaving are handled meanwhile), and the thread ends with the answer.
        let granted = granted_rx.recv().map_err(|_| {
            CaptureError::Failed("the screen-sharing portal's thread stopped".into())
        })??;
        let session = Self {
            close: Some(close_tx),
            thread: Some(thread),
        };
        Ok((session, granted))
    }
}

impl Drop for PortalSession {
    fn drop(&mut self) {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The portal's thread: opens the session, then plays input until the source is dropped.
async fn serve(
    granted_tx: std::sync::mpsc::SyncSender<Result<Granted, CaptureError>>,
    close_rx: tokio::sync::oneshot::Receiver<()>,
) {
    let (opened, granted, input) = match open_session().await {
        Ok(v) => v,
        Err(e) => {
            let _ = granted_tx.send(Err(e));
            return;
        }
    };
    let streams = granted.streams.clone();
    let (ops_tx, mut ops) = tokio::sync::mpsc::channel::<InjectOp>(256);
    if input {
        *lock(&REMOTE_INPUT) = Some(RemoteInput { ops: ops_tx });
    } else {
        drop(ops_tx);
    }
    if granted_tx.send(Ok(granted)).is_err() {
        *lock(&REMOTE_INPUT) = None;
        opened.close().await;
        return;
    }
    tokio::pin!(close_rx);
    loop {
        tokio::select! {
            _ = &mut close_rx => break,
            op = ops.recv(), if input => match (op, &opened) {
                (Some(op), Opened::Remote(proxy, session)) => {
                    if let Err(e) = play(proxy, session, &streams, op).await {
                        tracing::warn!("input through the portal: {e}");
                    }
                }
                _ => break,
            },
        }
    }
    *lock(&REMOTE_INPUT) = None;
    opened.close().await;
}

/// Asks the portal for the screen, with keyboard and pointer where the desktop offers
/// them (one dialog for both). Returns whether input was granted.
async fn open_session() -> Result<(Opened<'static>, Granted, bool), CaptureError> {
    let cast = Screencast::new().await.map_err(portal_error)?;
    // The pointer as its own layer, as on X11 (sharp, and moving it costs no video);
    // drawn into the picture where the compositor cannot send it apart.
    let cursor = match cast.available_cursor_modes().await {
        Ok(modes) if modes.contains(CursorMode::Metadata) => CursorMode::Metadata,
        Ok(modes) if modes.contains(CursorMode::Embedded) => CursorMode::Embedded,
        _ => CursorMode::Hidden,
    };
    let cursor_metadata = cursor == CursorMode::Metadata;
    let wanted = DeviceType::Keyboard | DeviceType::Pointer;
    let remote = match RemoteDesktop::new().await {
        Ok(remote) => match remote.available_device_types().await {
            Ok(types) if types.contains(wanted) => Some(remote),
            _ => None,
        },
        Err(_) => None,
    };
    let token = lock(&RESTORE_TOKEN).clone();
    let Some(remote) = remote else {
        // wlroots and other desktops without the RemoteDesktop portal: view only.
        let session = cast.create_session().await.map_err(portal_error)?;
        let opened = async {
            cast.select_sources(
                &session,
                cursor,
                SourceType::Monitor.into(),
                true,
                token.as_deref(),
                // Remembered while the app runs, and by the portal no longer than that.
                PersistMode::Application,
            )
            .await?;
            let response = cast.start(&session, None).await?.response()?;
            let remote = cast.open_pipe_wire_remote(&session).await?;
            Ok::<_, ashpd::Error>((response, remote))
        }
        .await;
        let (response, fd) = match opened {
            Ok(v) => v,
            Err(e) => {
                let _ = session.close().await;
                return Err(portal_error(e));
            }
        };
        return match granted(
            response.restore_token(),
            response.streams(),
            fd,
            cursor_metadata,
        ) {
            Ok(granted) => Ok((Opened::Cast(session), granted, false)),
            Err(e) => {
                let _ = session.close().await;
                Err(e)
            }
        };
    };
    let session = remote.create_session().await.map_err(portal_error)?;
    // Restore tokens for remote desktop sessions came with version 2 of the portal.
    let persists = remote.get_property::<u32>("version").await.unwrap_or(1) >= 2;
    let opened = async {
        remote
            .select_devices(
                &session,
                wanted,
                token.as_deref().filter(|_| persists),
                if persists {
                    PersistMode::Application
                } else {
                    PersistMode::DoNot
                },
            )
            .await?;
        // In a remote desktop session the devices' selection persists, not the cast's.
        cast.select_sources(
            &session,
            cursor,
            SourceType::Monitor.into(),
            true,
            None,
            PersistMode::DoNot,
        )
        .await?;
        let response = remote.start(&session, None).await?.response()?;
        let fd = cast.open_pipe_wire_remote(&session).await?;
        Ok::<_, ashpd::Error>((response, fd))
    }
    .await;
    let (response, fd) = match opened {
        Ok(v) => v,
        Err(e) => {
            let _ = session.close().await;
            return Err(portal_error(e));
        }
    };
    let streams = response.streams().unwrap_or_default();
    match granted(response.restore_token(), streams, fd, cursor_metadata) {
        // The person may have turned "Allow remote interaction" off in the dialog.
        Ok(granted) => Ok((
            Opened::Remote(remote, session),
            granted,
            response.devices().contains(wanted),
        )),
        Err(e) => {
            let _ = session.close().await;
            Err(e)
        }
    }
}

/// What the portal's answer grants, the same for a cast and a remote desktop session: the
/// restore token kept for this run, the streams (at least one), the PipeWire connection.
fn granted(
    token: Option<&str>,
    streams: &[Stream],
    remote: OwnedFd,
    cursor_metadata: bool,
) -> Result<Granted, CaptureError> {
    if let Some(token) = token {
        *lock(&RESTORE_TOKEN) = Some(token.to_string());
    }
    if streams.is_empty() {
        return Err(CaptureError::NoScreen);
    }
    Ok(Granted {
        streams: streams.to_vec(),
        remote,
        cursor_metadata,
    })
}

/// One input operation through the RemoteDesktop portal. Pointer positions are relative to
/// the stream they fall in; keys are evdev codes (X keycodes less 8): physical keys, so the
/// sharer's own layout applies.
async fn play(
    remote: &RemoteDesktop<'_>,
    session: &ashpd::desktop::Session<'_, RemoteDesktop<'_>>,
    streams: &[Stream],
    op: InjectOp,
) -> Result<(), ashpd::Error> {
    let state = |down: bool| {
        if down {
            KeyState::Pressed
        } else {
            KeyState::Released
        }
    };
    match op {
        InjectOp::MoveTo { x, y, .. } => {
            let inside = |s: &&Stream| {
                let (sx, sy) = s.position().unwrap_or((0, 0));
                let (w, h) = s.size().unwrap_or((0, 0));
                x >= sx && y >= sy && x < sx + w && y < sy + h
            };
            let Some(stream) = streams.iter().find(inside).or(streams.first()) else {
                return Ok(());
            };
            let (sx, sy) = stream.position().unwrap_or((0, 0));
            remote
                .notify_pointer_motion_absolute(
                    session,
                    stream.pipe_wire_node_id(),
                    f64::from(x - sx),
                    f64::from(y - sy),
                )
                .await
        }
        InjectOp::Button { button, down } => {
            remote
                .notify_pointer_button(
                    session,
                    crate::input::evdev_button(button) as i32,
                    state(down),
                )
                .await
        }
        InjectOp::Scroll { axis, notches } => {
            let axis = match axis {
                ScrollAxis::Vertical => Axis::Vertical,
                ScrollAxis::Horizontal => Axis::Horizontal,
            };
            remote
                .notify_pointer_axis_discrete(session, axis, notches)
                .await
        }
        // The compositor finds the key for the character in the person's layout.
        InjectOp::Char(c) => {
            let keysym = match c {
                '\n' => xkbcommon::xkb::Keysym::Return,
                '\t' => xkbcommon::xkb::Keysym::Tab,
                c => xkbcommon::xkb::utf32_to_keysym(u32::from(c)),
            };
            let keysym = keysym.raw() as i32;
            remote
                .notify_keyboard_keysym(session, keysym, KeyState::Pressed)
                .await?;
            remote
                .notify_keyboard_keysym(session, keysym, KeyState::Released)
                .await
        }
        InjectOp::Key { keycode, down } => match i32::from(keycode) - 8 {
            code if code > 0 => {
                remote
                    .notify_keyboard_keycode(session, code, state(down))
                    .await
            }
            _ => Ok(()),
        },
    }
}

/// The desktop's input through the open portal session (see [`remote_input_available`]).
pub struct PortalInjector {
    ops: tokio::sync::mpsc::Sender<InjectOp>,
}

impl PortalInjector {
    pub fn open() -> Result<Self, InjectError> {
        let input = lock(&REMOTE_INPUT)
            .clone()
            .ok_or_else(|| InjectError::Open {
                display: "the Wayland desktop".into(),
                reason: "the desktop did not allow remote input".into(),
            })?;
        Ok(Self { ops: input.ops })
    }
}

impl Injector for PortalInjector {
    fn inject(&mut self, op: &InjectOp) -> Result<(), InjectError> {
        // On the injector's own thread: waiting here never stalls the session.
        self.ops
            .blocking_send(*op)
            .map_err(|_| InjectError::Stopped)
    }
}

/// The latest picture of the stream, shared by PipeWire's thread and the pipeline's.
#[derive(Default)]
struct Latest {
    /// Counts pictures; the pipeline remembers the last one it took.
    sequence: u64,
    frame: Option<BgraFrame>,
    /// Why the stream ended, once it did.
    ended: Option<String>,
    /// The pointer from the stream's metadata: where it is on the stream (`None`: not on
    /// it), and its picture when that changed and was not taken yet.
    pointer: Option<(i32, i32)>,
    pointer_shape: Option<CursorShape>,
}

#[derive(Default)]
struct Shared {
    latest: Mutex<Latest>,
    arrived: Condvar,
}

impl Shared {
    /// Waits until the stream's first picture is there (returned locked), or says why not.
    fn first_picture(&self, timeout: Duration) -> Result<MutexGuard<'_, Latest>, CaptureError> {
        let deadline = Instant::now() + timeout;
        let mut latest = lock(&self.latest);
        loop {
            if let Some(why) = &latest.ended {
                return Err(CaptureError::Failed(why.clone()));
            }
            if latest.frame.is_some() {
                return Ok(latest);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(CaptureError::Failed(
                    "the screen stream sent no picture".into(),
                ));
            }
            latest = self
                .arrived
                .wait_timeout(latest, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    fn end(&self, why: String) {
        let mut latest = lock(&self.latest);
        latest.ended.get_or_insert(why);
        self.arrived.notify_all();
    }
}

/// One PipeWire stream being read on its own thread; stopped on drop.
struct PipewireStream {
    stop: pipewire::channel::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PipewireStream {
    fn start(
        remote: Option<OwnedFd>,
        node: u32,
        cursor_metadata: bool,
        shared: Arc<Shared>,
    ) -> Result<Self, CaptureError> {
        let (stop, stop_rx) = pipewire::channel::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tandem-pipewire".into())
            .spawn(move || {
                if let Err(e) = run_stream(remote, node, cursor_metadata, &shared, stop_rx) {
                    shared.end(e);
                }
            })
            .map_err(|e| CaptureError::Failed(e.to_string()))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for PipewireStream {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The formats asked of the compositor: 4 bytes per pixel, any size, any rate.
fn enum_format() -> Result<Vec<u8>, String> {
    let object = pod::object!(
        SpaTypes::ObjectParamFormat,
        ParamType::EnumFormat,
        pod::property!(FormatProperties::MediaType, Id, MediaType::Video),
        pod::property!(FormatProperties::MediaSubtype, Id, MediaSubtype::Raw),
        pod::property!(
            FormatProperties::VideoFormat,
            Choice,
            Enum,
            Id,
            VideoFormat::BGRx,
            VideoFormat::BGRx,
            VideoFormat::BGRA,
            VideoFormat::RGBx,
            VideoFormat::RGBA
        ),
        pod::property!(
            FormatProperties::VideoSize,
            Choice,
            Range,
            Rectangle,
            Rectangle {
                width: 1280,
                height: 720
            },
            Rectangle {
                width: 16,
                height: 16
            },
            Rectangle {
                width: MAX_SIDE,
                height: MAX_SIDE
            }
        ),
        pod::property!(
            FormatProperties::VideoFramerate,
            Choice,
            Range,
            Fraction,
            Fraction { num: 60, denom: 1 },
            Fraction { num: 0, denom: 1 },
            Fraction { num: 240, denom: 1 }
        ),
    );
    PodSerializer::serialize(Cursor::new(Vec::new()), &pod::Value::Object(object))
        .map(|(cursor, _)| cursor.into_inner())
        .map_err(|e| format!("{e:?}"))
}

struct StreamState {
    format: VideoInfoRaw,
    shared: Arc<Shared>,
    cursor_metadata: bool,
    /// The last pointer picture's id from the compositor (0: none yet).
    cursor_id: u32,
}

/// The pointer's metadata as this side reads it: the header, then room for the bitmap's
/// header and a picture of up to [`MAX_CURSOR_SIDE`]² pixels. PipeWire hands it over only
/// when the buffer's region is at least this large, so every read below stays inside it,
/// whatever offsets and sizes the compositor wrote.
#[repr(C)]
struct PointerRoom {
    cursor: spa::sys::spa_meta_cursor,
    rest: [u8; std::mem::size_of::<spa::sys::spa_meta_bitmap>()
        + (MAX_CURSOR_SIDE * MAX_CURSOR_SIDE * 4) as usize],
}

impl spa::buffer::meta::Metadata for PointerRoom {
    const META_TYPE: u32 = spa::sys::SPA_META_Cursor;
}

const CURSOR_META_SIZE: usize = std::mem::size_of::<PointerRoom>();

/// The buffers' metadata asked for: the pointer's.
fn cursor_meta_param() -> Result<Vec<u8>, String> {
    let object = pod::Object {
        type_: SpaTypes::ObjectParamMeta.as_raw(),
        id: ParamType::Meta.as_raw(),
        properties: vec![
            pod::Property::new(
                spa::sys::SPA_PARAM_META_type,
                pod::Value::Id(spa::utils::Id(spa::sys::SPA_META_Cursor)),
            ),
            // A range that holds what compositors offer (mutter: a fixed room for 384²
            // pixels), at least the room this side reads: larger regions are read only
            // as far as that room.
            pod::Property::new(
                spa::sys::SPA_PARAM_META_size,
                pod::Value::Choice(pod::ChoiceValue::Int(spa::utils::Choice(
                    spa::utils::ChoiceFlags::empty(),
                    spa::utils::ChoiceEnum::Range {
                        default: CURSOR_META_SIZE as i32,
                        min: CURSOR_META_SIZE as i32,
                        max: (std::mem::size_of::<spa::sys::spa_meta_cursor>()
                            + std::mem::size_of::<spa::sys::spa_meta_bitmap>()
                            + 1024 * 1024 * 4) as i32,
                    },
                ))),
            ),
        ],
    };
    PodSerializer::serialize(Cursor::new(Vec::new()), &pod::Value::Object(object))
        .map(|(cursor, _)| cursor.into_inner())
        .map_err(|e| format!("{e:?}"))
}

/// The pointer's picture from a bitmap the compositor wrote (`bytes` from its first pixel
/// to the end of the room), as straight RGBA; `None` when it does not fit or is in a
/// format we do not read.
fn pointer_picture(
    format: VideoFormat,
    (width, height): (u32, u32),
    stride: i32,
    bytes: &[u8],
) -> Option<(u32, u32, Vec<u8>)> {
    let order = match format {
        VideoFormat::BGRA => [2, 1, 0, 3],
        VideoFormat::RGBA => [0, 1, 2, 3],
        VideoFormat::ARGB => [1, 2, 3, 0],
        VideoFormat::ABGR => [3, 2, 1, 0],
        _ => return None,
    };
    if width == 0 || height == 0 || width > MAX_CURSOR_SIDE || height > MAX_CURSOR_SIDE {
        return None;
    }
    let row = width as usize * 4;
    let stride = usize::try_from(stride).ok().filter(|&s| s >= row)?;
    if bytes.len() < stride * (height as usize - 1) + row {
        return None;
    }
    let mut rgba = Vec::with_capacity(row * height as usize);
    for line in bytes.chunks(stride).take(height as usize) {
        for p in line[..row].chunks_exact(4) {
            rgba.extend_from_slice(&[p[order[0]], p[order[1]], p[order[2]], p[order[3]]]);
        }
    }
    Some((width, height, rgba))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// The bitmap of a pointer's metadata: `room` is the whole region, the bitmap's header at
/// `offset` in it (`struct spa_meta_bitmap`: format, width, height, stride, data offset).
fn pointer_bitmap(room: &[u8], offset: usize) -> Option<(u32, u32, Vec<u8>)> {
    let header = room.get(offset..)?;
    let format = VideoFormat::from_raw(u32_at(header, 0)?);
    let (width, height) = (u32_at(header, 4)?, u32_at(header, 8)?);
    let stride = u32_at(header, 12)? as i32;
    let data = header.get(u32_at(header, 16)? as usize..)?;
    pointer_picture(format, (width, height), stride, data)
}

/// Reads the pointer's metadata of one buffer into `state.shared`.
fn read_pointer(buffer: &pipewire::buffer::Buffer<'_>, state: &mut StreamState) {
    let Some(room) = buffer.find_meta::<PointerRoom>() else {
        return;
    };
    let cursor = &room.cursor;
    if cursor.id == 0 {
        // No new pointer data in this buffer.
        return;
    }
    let mut latest = lock(&state.shared.latest);
    latest.pointer = Some((cursor.position.x, cursor.position.y));
    let bitmap_offset = cursor.bitmap_offset as usize;
    if cursor.id == state.cursor_id
        || bitmap_offset < std::mem::size_of::<spa::sys::spa_meta_cursor>()
    {
        // The same picture as before, or none in this buffer.
        return;
    }
    // SAFETY: `room` is a reference PipeWire handed out for a region of at least
    // `size_of::<PointerRoom>()` bytes (`spa_buffer_find_meta_data` checks the size), and
    // `PointerRoom` is plain old data: every byte of it may be read as a `u8`.
    let bytes = unsafe {
        std::slice::from_raw_parts((room as *const PointerRoom).cast::<u8>(), CURSOR_META_SIZE)
    };
    if let Some((width, height, rgba)) = pointer_bitmap(bytes, bitmap_offset) {
        state.cursor_id = cursor.id;
        latest.pointer_shape = Some(CursorShape {
            serial: cursor.id,
            width,
            height,
            hot_x: u32::try_from(cursor.hotspot.x).unwrap_or(0).min(width - 1),
            hot_y: u32::try_from(cursor.hotspot.y).unwrap_or(0).min(height - 1),
            rgba,
        });
    }
}

fn run_stream(
    remote: Option<OwnedFd>,
    node: u32,
    cursor_metadata: bool,
    shared: &Arc<Shared>,
    stop: pipewire::channel::Receiver<()>,
) -> Result<(), String> {
    use pipewire::stream::{StreamFlags, StreamRc, StreamState as PwState};
    pipewire::init();
    let main_loop = pipewire::main_loop::MainLoopRc::new(None).map_err(|e| e.to_string())?;
    let context = pipewire::context::ContextRc::new(&main_loop, None).map_err(|e| e.to_string())?;
    let core = match remote {
        Some(fd) => context.connect_fd_rc(fd, None),
        None => context.connect_rc(None),
    }
    .map_err(|e| format!("PipeWire: {e}"))?;
    let stream = StreamRc::new(
        core,
        "tandem-screen",
        pipewire::properties::properties! {
            *pipewire::keys::MEDIA_TYPE => "Video",
            *pipewire::keys::MEDIA_CATEGORY => "Capture",
            *pipewire::keys::MEDIA_ROLE => "Screen",
        },
    )
    .map_err(|e| e.to_string())?;
    let state = StreamState {
        format: VideoInfoRaw::default(),
        shared: Arc::clone(shared),
        cursor_metadata,
        cursor_id: 0,
    };
    let _listener = stream
        .add_local_listener_with_user_data(state)
        .state_changed(|_, state, _, new| match new {
            PwState::Error(e) => state.shared.end(format!("the screen stream failed: {e}")),
            PwState::Unconnected => state.shared.end("the screen stream was closed".into()),
            _ => {}
        })
        .param_changed(|stream, state, id, param| {
            let Some(param) = param else { return };
            if id != ParamType::Format.as_raw() {
                return;
            }
            if let Ok((MediaType::Video, MediaSubtype::Raw)) =
                spa::param::format_utils::parse_format(param)
            {
                if let Err(e) = state.format.parse(param) {
                    tracing::warn!("PipeWire format: {e:?}");
                }
                // The format is settled: now the buffers' metadata can be asked for.
                if state.cursor_metadata {
                    match cursor_meta_param() {
                        Ok(bytes) => {
                            if let Some(pod) = Pod::from_bytes(&bytes) {
                                if let Err(e) = stream.update_params(&mut [pod]) {
                                    tracing::warn!("PipeWire pointer metadata: {e}");
                                }
                            }
                        }
                        Err(e) => tracing::warn!("PipeWire pointer metadata: {e}"),
                    }
                }
            }
        })
        .process(|stream, state| {
            let Some(mut buffer) = stream.dequeue_buffer() else {
                return;
            };
            if state.cursor_metadata {
                read_pointer(&buffer, state);
            }
            let datas = buffer.datas_mut();
            let Some(data) = datas.first_mut() else {
                return;
            };
            let (offset, stride, size) = {
                let chunk = data.chunk();
                (
                    chunk.offset() as usize,
                    chunk.stride(),
                    chunk.size() as usize,
                )
            };
            let Some(bytes) = data.data() else { return };
            let Some(bytes) = bytes.get(offset..offset.saturating_add(size).min(bytes.len()))
            else {
                return;
            };
            let format = state.format.format();
            let extent = state.format.size();
            if let Some(picture) = to_bgra(bytes, stride, extent.width, extent.height, format) {
                let mut latest = lock(&state.shared.latest);
                latest.frame = Some(picture);
                latest.sequence += 1;
                state.shared.arrived.notify_all();
            }
        })
        .register()
        .map_err(|e| e.to_string())?;
    let format = enum_format()?;
    let mut params = [Pod::from_bytes(&format).ok_or("bad format pod")?];
    stream
        .connect(
            Direction::Input,
            Some(node),
            StreamFlags::AUTOCONNECT | StreamFlags::MAP_BUFFERS,
            &mut params,
        )
        .map_err(|e| format!("PipeWire stream: {e}"))?;
    let quit = main_loop.clone();
    let _stop = stop.attach(main_loop.loop_(), move |()| quit.quit());
    main_loop.run();
    Ok(())
}

/// One buffer of the stream as a BGRA frame; `None` when it does not hold what its format
/// says (a compositor's bug must not crash the sharer).
fn to_bgra(
    bytes: &[u8],
    stride: i32,
    width: u32,
    height: u32,
    format: VideoFormat,
) -> Option<BgraFrame> {
    let swap_red_blue = match format {
        VideoFormat::BGRx | VideoFormat::BGRA => false,
        VideoFormat::RGBx | VideoFormat::RGBA => true,
        _ => return None,
    };
    if !(16..=MAX_SIDE).contains(&width) || !(16..=MAX_SIDE).contains(&height) {
        return None;
    }
    let row = width as usize * 4;
    let stride = usize::try_from(stride).ok().filter(|&s| s >= row)?;
    if bytes.len() < stride * (height as usize - 1) + row {
        return None;
    }
    // H.264 4:2:0 needs even sizes; an odd last column or row is not shown.
    let (even_width, even_height) = (width & !1, height & !1);
    let mut frame = BgraFrame::new(even_width, even_height);
    let out_row = even_width as usize * 4;
    for (dst, src) in frame
        .data
        .chunks_exact_mut(frame.stride as usize)
        .zip(bytes.chunks(stride))
    {
        if swap_red_blue {
            for (d, s) in dst[..out_row]
                .chunks_exact_mut(4)
                .zip(src[..out_row].chunks_exact(4))
            {
                d.copy_from_slice(&[s[2], s[1], s[0], 255]);
            }
        } else {
            dst[..out_row].copy_from_slice(&src[..out_row]);
        }
    }
    Some(frame)
}

/// One picture of PipeWire node `node` on this user's PipeWire daemon (a compositor's own
/// screen cast, as tests use to see a Wayland screen).
/// `remote`: a connection to that daemon (`None`: the default one).
pub fn grab_node(
    remote: Option<OwnedFd>,
    node: u32,
    timeout: Duration,
) -> Result<BgraFrame, CaptureError> {
    let shared = Arc::<Shared>::default();
    let _stream = PipewireStream::start(remote, node, false, Arc::clone(&shared))?;
    let mut latest = shared.first_picture(timeout)?;
    latest
        .frame
        .take()
        .ok_or_else(|| CaptureError::Failed("the stream sent no picture".into()))
}

/// The desktop through the ScreenCast portal. Dropping it ends the stream and the portal
/// session.
pub struct PortalSource {
    // Field order is drop order: the stream stops before the portal session closes.
    stream: Option<PipewireStream>,
    shared: Arc<Shared>,
    streams: Vec<Stream>,
    remote: OwnedFd,
    cursor_metadata: bool,
    infos: Vec<MonitorInfo>,
    current: usize,
    taken: u64,
    _session: PortalSession,
}

impl PortalSource {
    /// Asks the portal for the screen (a dialog the first time in this run), then waits for
    /// the first picture.
    pub fn open() -> Result<Self, CaptureError> {
        let (session, granted) = PortalSession::open()?;
        let infos = granted
            .streams
            .iter()
            .enumerate()
            .map(|(index, stream)| {
                let (x, y) = stream.position().unwrap_or((0, 0));
                let (width, height) = stream.size().unwrap_or((0, 0));
                MonitorInfo {
                    id: index as u32,
                    name: format!("Screen {}", index + 1),
                    screen: 0,
                    x,
                    y,
                    width: u32::try_from(width).unwrap_or(0) & !1,
                    height: u32::try_from(height).unwrap_or(0) & !1,
                    width_mm: 0,
                    primary: index == 0,
                    scale_percent: 100,
                }
            })
            .collect();
        let mut source = Self {
            stream: None,
            shared: Arc::default(),
            streams: granted.streams,
            remote: granted.remote,
            cursor_metadata: granted.cursor_metadata,
            infos,
            current: 0,
            taken: 0,
            _session: session,
        };
        source.connect(0)?;
        Ok(source)
    }

    /// Reads stream `index` (PipeWire's node for that monitor) and waits for its first
    /// picture, which also gives the monitor's true size.
    fn connect(&mut self, index: usize) -> Result<(), CaptureError> {
        self.stream = None;
        self.shared = Arc::default();
        self.taken = 0;
        let remote = self
            .remote
            .try_clone()
            .map_err(|e| CaptureError::Failed(e.to_string()))?;
        let node = self.streams[index].pipe_wire_node_id();
        self.stream = Some(PipewireStream::start(
            Some(remote),
            node,
            self.cursor_metadata,
            Arc::clone(&self.shared),
        )?);
        self.current = index;
        let size = {
            let latest = self.shared.first_picture(FIRST_FRAME_TIMEOUT)?;
            latest.frame.as_ref().map(|f| (f.width, f.height))
        };
        if let Some(size) = size {
            let info = &mut self.infos[index];
            (info.width, info.height) = size;
        }
        Ok(())
    }
}

impl ScreenSource for PortalSource {
    fn monitors(&self) -> &[MonitorInfo] {
        &self.infos
    }

    fn method(&self) -> CaptureInfo {
        CaptureInfo::new("portal-pipewire")
    }

    fn current(&self) -> &MonitorInfo {
        &self.infos[self.current]
    }

    fn select(&mut self, id: u32) -> Result<(), CaptureError> {
        let index = super::monitor_index(&self.infos, id)?;
        if index != self.current {
            self.connect(index)?;
        }
        Ok(())
    }

    fn capture(&mut self, out: &mut BgraFrame) -> Result<(), CaptureError> {
        let latest = lock(&self.shared.latest);
        if let Some(why) = &latest.ended {
            return Err(CaptureError::Failed(why.clone()));
        }
        let Some(frame) = &latest.frame else {
            return Err(CaptureError::Failed("no picture yet".into()));
        };
        if (out.width, out.height) != (frame.width, frame.height) {
            *out = BgraFrame::new(frame.width, frame.height);
        }
        out.data.copy_from_slice(&frame.data);
        self.taken = latest.sequence;
        let info = &mut self.infos[self.current];
        (info.width, info.height) = (frame.width, frame.height);
        Ok(())
    }

    fn changed(&mut self) -> Option<bool> {
        let latest = lock(&self.shared.latest);
        // An ended stream counts as a change: the capture that follows reports why.
        Some(latest.sequence != self.taken || latest.ended.is_some())
    }

    fn cursor_position(&mut self) -> Option<CursorPosition> {
        if !self.cursor_metadata {
            return None;
        }
        let latest = lock(&self.shared.latest);
        let info = &self.infos[self.current];
        Some(match latest.pointer {
            Some((x, y)) => CursorPosition {
                x,
                y,
                visible: x >= 0 && y >= 0 && (x as u32) < info.width && (y as u32) < info.height,
            },
            None => CursorPosition {
                x: 0,
                y: 0,
                visible: false,
            },
        })
    }

    fn cursor_shape(&mut self) -> Option<CursorShape> {
        lock(&self.shared.latest).pointer_shape.take()
    }

    fn wait_for_change(&mut self, timeout: Duration) -> Option<bool> {
        let latest = lock(&self.shared.latest);
        let taken = self.taken;
        let (latest, _) = self
            .shared
            .arrived
            .wait_timeout_while(latest, timeout, |l| {
                l.sequence == taken && l.ended.is_none()
            })
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(latest.sequence != taken || latest.ended.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_rows_and_red_blue_order_are_undone() {
        // 18×16 RGBx with 8 bytes of padding per row: pixel (x, y) = (x, y, 7).
        let (width, height, stride) = (18u32, 16u32, 18 * 4 + 8);
        let mut bytes = vec![0xEEu8; stride * height as usize];
        for y in 0..height as usize {
            for x in 0..width as usize {
                bytes[y * stride + x * 4..][..4].copy_from_slice(&[x as u8, y as u8, 7, 0]);
            }
        }
        let frame = to_bgra(&bytes, stride as i32, width, height, VideoFormat::RGBx).unwrap();
        assert_eq!((frame.width, frame.height), (18, 16));
        let at = |x: usize, y: usize| &frame.data[y * frame.stride as usize + x * 4..][..4];
        assert_eq!(at(5, 9), [7, 9, 5, 255]);
        assert_eq!(at(17, 15), [7, 15, 17, 255]);
    }

    #[test]
    fn a_pointer_picture_is_read_within_its_room_only() {
        // 2×2 BGRA with 4 bytes of padding per row.
        let bytes = [
            1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 9, 10, 11, 12, 13, 14, 15, 16,
        ];
        let (w, h, rgba) = pointer_picture(VideoFormat::BGRA, (2, 2), 12, &bytes).unwrap();
        assert_eq!((w, h), (2, 2));
        assert_eq!(&rgba[..8], &[3, 2, 1, 4, 7, 6, 5, 8]);
        assert_eq!(&rgba[8..], &[11, 10, 9, 12, 15, 14, 13, 16]);
        // Claims beyond the bytes, or out of bounds, are not read.
        assert!(pointer_picture(VideoFormat::BGRA, (2, 3), 12, &bytes).is_none());
        assert!(pointer_picture(VideoFormat::BGRA, (300, 2), 1200, &bytes).is_none());
        assert!(pointer_picture(VideoFormat::BGRA, (2, 2), -12, &bytes).is_none());
        assert!(pointer_picture(VideoFormat::NV12, (2, 2), 12, &bytes).is_none());
        // A bitmap header and data found through offsets the compositor wrote.
        let mut room = vec![0u8; 40];
        room.extend_from_slice(&VideoFormat::BGRA.as_raw().to_ne_bytes());
        for v in [2u32, 2, 12, 20] {
            room.extend_from_slice(&v.to_ne_bytes());
        }
        room.extend_from_slice(&bytes);
        assert_eq!(pointer_bitmap(&room, 40).unwrap().2, rgba);
        assert!(
            pointer_bitmap(&room, 41).is_none(),
            "misread header → bad sizes"
        );
        assert!(pointer_bitmap(&room, 10_000).is_none());
        room[56] = 200; // data offset past the end
        assert!(pointer_bitmap(&room, 40).is_none());
    }

    #[test]
    fn a_buffer_shorter_than_its_format_says_is_dropped() {
        let bytes = vec![0u8; 64 * 4 * 16];
        assert!(to_bgra(&bytes, 64 * 4, 64, 17, VideoFormat::BGRx).is_none());
        assert!(
            to_bgra(&bytes, 10, 64, 16, VideoFormat::BGRx).is_none(),
            "stride < row"
        );
        assert!(to_bgra(&bytes, 64 * 4, 64, 16, VideoFormat::NV12).is_none());
        assert!(to_bgra(&bytes, -256, 64, 16, VideoFormat::BGRx).is_none());
        assert!(
            to_bgra(&bytes, 64 * 4, 64, 8, VideoFormat::BGRx).is_none(),
            "too small"
        );
        assert!(to_bgra(&bytes, 64 * 4, 64, 16, VideoFormat::BGRA).is_some());
    }
}
