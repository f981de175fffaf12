//! Windows' desktop duplication (DXGI): the compositor hands over each new desktop image on
//! the GPU with the rectangles that changed, the pointer's position and its picture. An
//! unchanged desktop costs a timed-out wait, not a screenshot, and the pointer travels as
//! its own layer as on X11. Where duplication is unavailable (Wine, some RDP sessions and
//! drivers) `capture::open` falls back to GDI and says why.
//!
//! Duplication can be lost at any time — a mode change, a rotation, the secure desktop, a
//! full-screen game — and is then re-created; meanwhile the last picture stands.

use std::time::{Duration, Instant};

use windows::core::Interface;
use windows::Win32::Foundation::{HMODULE, RECT};
use windows::Win32::Graphics::Direct3D::D3D_DRIVER_TYPE_UNKNOWN;
use windows::Win32::Graphics::Direct3D11::{
    D3D11CreateDevice, ID3D11Device, ID3D11DeviceContext, ID3D11Texture2D, D3D11_CPU_ACCESS_READ,
    D3D11_CREATE_DEVICE_BGRA_SUPPORT, D3D11_MAPPED_SUBRESOURCE, D3D11_MAP_READ, D3D11_SDK_VERSION,
    D3D11_TEXTURE2D_DESC, D3D11_USAGE_STAGING,
};
use windows::Win32::Graphics::Dxgi::Common::{
    DXGI_MODE_ROTATION, DXGI_MODE_ROTATION_ROTATE180, DXGI_MODE_ROTATION_ROTATE270,
    DXGI_MODE_ROTATION_ROTATE90,
};
use windows::Win32::Graphics::Dxgi::{
    CreateDXGIFactory1, IDXGIAdapter1, IDXGIFactory1, IDXGIOutput1, IDXGIOutputDuplication,
    DXGI_ERROR_WAIT_TIMEOUT, DXGI_OUTDUPL_FRAME_INFO, DXGI_OUTDUPL_MOVE_RECT,
    DXGI_OUTDUPL_POINTER_SHAPE_INFO,
};

use super::duplication_pixels::{copy_upright, pointer_shape, PointerFormat, Rotation};
use super::secure_desktop::SecureDesktopProbe;
use super::xcap_source::monitor_infos;
use super::{CaptureError, CaptureInfo, CursorPosition, CursorShape, MonitorInfo, ScreenSource};
use crate::media::frame::BgraFrame;

/// Largest pointer picture read (256×256 in 32 bits; a monochrome one is smaller).
const MAX_POINTER_BYTES: usize = 256 * 256 * 4;
/// Largest change list read; a bigger one is taken as "everything changed".
const MAX_METADATA_BYTES: usize = 1 << 20;
/// After duplication was lost, how often it is tried again.
const RETRY_EVERY: Duration = Duration::from_millis(250);
/// How long a capture waits for the first picture of a new duplication.
const FIRST_PICTURE: Duration = Duration::from_millis(500);

fn failed(what: &str, e: windows::core::Error) -> CaptureError {
    CaptureError::Failed(format!("{what}: {e}"))
}

/// One monitor as DXGI knows it.
struct Output {
    adapter: IDXGIAdapter1,
    output: IDXGIOutput1,
}

/// A running duplication of one output, on a device of that output's adapter.
struct Duplication {
    duplication: IDXGIOutputDuplication,
    device: ID3D11Device,
    context: ID3D11DeviceContext,
    rotation: Rotation,
}

/// The latest desktop image, copied out of the duplication on the GPU (a texture the CPU
/// can read), and its size before turning upright.
struct Picture {
    texture: ID3D11Texture2D,
    context: ID3D11DeviceContext,
    width: u32,
    height: u32,
    rotation: Rotation,
}

pub struct DuplicationSource {
    infos: Vec<MonitorInfo>,
    outputs: Vec<Output>,
    current: usize,
    running: Option<Duplication>,
    next_retry: Instant,
    picture: Option<Picture>,
    /// Drawing reported since the last capture.
    dirty: bool,
    monitors_changed: bool,
    /// The pointer picture's top-left corner on the monitor, and whether it is shown there.
    pointer: Option<(i32, i32, bool)>,
    hot_spot: (i32, i32),
    new_shape: Option<CursorShape>,
    shape_serial: u32,
    scratch: Vec<u8>,
    /// The change list of the last update (kept: read on every new picture).
    rects: Vec<u32>,
    secure_desktop: SecureDesktopProbe,
}

impl DuplicationSource {
    /// Lists the monitors and duplicates the primary one; fails when this machine cannot
    /// duplicate it (the caller then uses GDI).
    pub fn open() -> Result<Self, CaptureError> {
        let (infos, outputs) = enumerate()?;
        let current = infos.iter().position(|m| m.primary).unwrap_or(0);
        let mut source = Self {
            infos,
            outputs,
            current,
            running: None,
            next_retry: Instant::now(),
            picture: None,
            dirty: true,
            monitors_changed: false,
            pointer: None,
            hot_spot: (0, 0),
            new_shape: None,
            shape_serial: 0,
            scratch: Vec::new(),
            rects: Vec::new(),
            secure_desktop: SecureDesktopProbe::default(),
        };
        source.running = Some(source.duplicate()?);
        Ok(source)
    }

    fn duplicate(&self) -> Result<Duplication, CaptureError> {
        let output = &self.outputs[self.current];
        let mut device = None;
        let mut context = None;
        // SAFETY: out-pointers to locals that outlive the call; the adapter is a live COM
        // object.
        unsafe {
            D3D11CreateDevice(
                &output.adapter,
                D3D_DRIVER_TYPE_UNKNOWN,
                HMODULE::default(),
                D3D11_CREATE_DEVICE_BGRA_SUPPORT,
                None,
                D3D11_SDK_VERSION,
                Some(&mut device),
                None,
                Some(&mut context),
            )
        }
        .map_err(|e| failed("no Direct3D 11 device", e))?;
        let (Some(device), Some(context)) = (device, context) else {
            return Err(CaptureError::Failed("no Direct3D 11 device".into()));
        };
        // SAFETY: both are live COM objects.
        let duplication = unsafe { output.output.DuplicateOutput(&device) }
            .map_err(|e| failed("DuplicateOutput", e))?;
        // SAFETY: a live COM object.
        let desc = unsafe { duplication.GetDesc() };
        Ok(Duplication {
            duplication,
            device,
            context,
            rotation: rotation(desc.Rotation),
        })
    }

    /// Takes the next update from the duplication, waiting up to `timeout`: a new picture
    /// (marked dirty when its change list is not empty), the pointer's moves and shape.
    /// A lost duplication is re-created, at most every [`RETRY_EVERY`].
    fn pump(&mut self, timeout: Duration) -> Result<(), CaptureError> {
        if self.running.is_none() {
            let now = Instant::now();
            if now < self.next_retry {
                return Ok(());
            }
            self.next_retry = now + RETRY_EVERY;
            self.restart()?;
        }
        let Some(duplication) = self.running.as_ref().map(|r| r.duplication.clone()) else {
            return Ok(());
        };
        let mut info = DXGI_OUTDUPL_FRAME_INFO::default();
        let mut resource = None;
        let millis = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        // SAFETY: out-pointers to locals that outlive the call.
        let acquired = unsafe { duplication.AcquireNextFrame(millis, &mut info, &mut resource) };
        match acquired {
            Ok(()) => {}
            Err(e) if e.code() == DXGI_ERROR_WAIT_TIMEOUT => return Ok(()),
            // Access lost (a mode change, the secure desktop…) or a device gone: start again.
            Err(e) => {
                tracing::debug!("desktop duplication lost: {e}");
                self.running = None;
                return Ok(());
            }
        }
        let taken = self.take_update(&info, resource);
        // SAFETY: a frame was acquired above and is released exactly once.
        if let Err(e) = unsafe { duplication.ReleaseFrame() } {
            tracing::debug!("desktop duplication lost on release: {e}");
            self.running = None;
        }
        taken
    }

    fn take_update(
        &mut self,
        info: &DXGI_OUTDUPL_FRAME_INFO,
        resource: Option<windows::Win32::Graphics::Dxgi::IDXGIResource>,
    ) -> Result<(), CaptureError> {
        if self.running.is_none() {
            return Ok(());
        }
        if info.LastMouseUpdateTime != 0 {
            let p = info.PointerPosition;
            self.pointer = Some((p.Position.x, p.Position.y, p.Visible.as_bool()));
        }
        if info.PointerShapeBufferSize > 0 {
            self.read_pointer_shape(info.PointerShapeBufferSize as usize);
        }
        let Some(running) = &self.running else {
            return Ok(());
        };
        if info.LastPresentTime == 0 || info.AccumulatedFrames == 0 {
            return Ok(());
        }
        let size = info.TotalMetadataBufferSize as usize;
        if !anything_changed(&running.duplication, size, &mut self.rects) {
            return Ok(());
        }
        let Some(resource) = resource else {
            return Ok(());
        };
        let texture: ID3D11Texture2D = resource
            .cast()
            .map_err(|e| failed("the desktop image is not a texture", e))?;
        let mut desc = D3D11_TEXTURE2D_DESC::default();
        // SAFETY: out-pointer to a local.
        unsafe { texture.GetDesc(&mut desc) };
        let reusable = self.picture.as_ref().is_some_and(|p| {
            (p.width, p.height) == (desc.Width, desc.Height) && p.context == running.context
        });
        if !reusable {
            let staging_desc = D3D11_TEXTURE2D_DESC {
                Width: desc.Width,
                Height: desc.Height,
                MipLevels: 1,
                ArraySize: 1,
                Format: desc.Format,
                SampleDesc: desc.SampleDesc,
                Usage: D3D11_USAGE_STAGING,
                BindFlags: 0,
                CPUAccessFlags: D3D11_CPU_ACCESS_READ.0 as u32,
                MiscFlags: 0,
            };
            let mut staging = None;
            // SAFETY: the description and out-pointer are locals that outlive the call.
            unsafe {
                running
                    .device
                    .CreateTexture2D(&staging_desc, None, Some(&mut staging))
            }
            .map_err(|e| failed("CreateTexture2D", e))?;
            let texture = staging
                .ok_or_else(|| CaptureError::Failed("CreateTexture2D gave nothing".into()))?;
            self.picture = Some(Picture {
                texture,
                context: running.context.clone(),
                width: desc.Width,
                height: desc.Height,
                rotation: running.rotation,
            });
        }
        if let Some(picture) = &self.picture {
            // SAFETY: both textures are alive and of the same size and format.
            unsafe { running.context.CopyResource(&picture.texture, &texture) };
        }
        self.dirty = true;
        Ok(())
    }
}

/// Whether the update's move and dirty rectangles hold anything; when they cannot be read,
/// it is taken as changed.
fn anything_changed(
    duplication: &IDXGIOutputDuplication,
    size: usize,
    buffer: &mut Vec<u32>,
) -> bool {
    if size == 0 || size > MAX_METADATA_BYTES {
        return true;
    }
    // RECT and DXGI_OUTDUPL_MOVE_RECT are both made of 4-byte integers: a buffer of
    // `u32`s is aligned for either.
    buffer.resize(size.div_ceil(4), 0);
    let bytes = (buffer.len() * 4) as u32;
    let mut used = 0u32;
    // SAFETY: the buffer holds `bytes` bytes, aligned for both element types.
    let moves = unsafe {
        duplication.GetFrameMoveRects(
            bytes,
            buffer.as_mut_ptr().cast::<DXGI_OUTDUPL_MOVE_RECT>(),
            &mut used,
        )
    };
    if moves.is_err() {
        return true;
    }
    if used > 0 {
        return true;
    }
    // SAFETY: as above.
    let dirty = unsafe {
        duplication.GetFrameDirtyRects(bytes, buffer.as_mut_ptr().cast::<RECT>(), &mut used)
    };
    dirty.is_err() || used > 0
}

impl DuplicationSource {
    fn read_pointer_shape(&mut self, size: usize) {
        let Some(running) = &self.running else {
            return;
        };
        if size > MAX_POINTER_BYTES {
            return;
        }
        self.scratch.resize(size, 0);
        let mut used = 0u32;
        let mut info = DXGI_OUTDUPL_POINTER_SHAPE_INFO::default();
        // SAFETY: the buffer holds `size` bytes; the out-pointers are locals.
        let read = unsafe {
            running.duplication.GetFramePointerShape(
                size as u32,
                self.scratch.as_mut_ptr().cast(),
                &mut used,
                &mut info,
            )
        };
        if read.is_err() {
            return;
        }
        let Some(format) = PointerFormat::from_dxgi(info.Type) else {
            return;
        };
        let hot = (info.HotSpot.x.max(0) as u32, info.HotSpot.y.max(0) as u32);
        self.shape_serial = self.shape_serial.wrapping_add(1);
        let data = &self.scratch[..(used as usize).min(size)];
        if let Some(shape) = pointer_shape(
            format,
            info.Width,
            info.Height,
            info.Pitch as usize,
            hot,
            data,
            self.shape_serial,
        ) {
            self.hot_spot = (shape.hot_x as i32, shape.hot_y as i32);
            self.new_shape = Some(shape);
        }
    }

    /// After duplication was lost: the monitors again (a mode change may have changed
    /// them), then a new duplication of the shown one.
    fn restart(&mut self) -> Result<(), CaptureError> {
        let (infos, outputs) = enumerate()?;
        if infos != self.infos {
            let shown = self.infos[self.current].id;
            self.current = infos
                .iter()
                .position(|m| m.id == shown)
                .or_else(|| infos.iter().position(|m| m.primary))
                .unwrap_or(0);
            self.infos = infos;
            self.monitors_changed = true;
            self.dirty = true;
        }
        self.outputs = outputs;
        match self.duplicate() {
            Ok(running) => {
                self.running = Some(running);
                Ok(())
            }
            // Still on the secure desktop, or the mode change is not over: later.
            Err(e) => {
                tracing::debug!("desktop duplication not back yet: {e}");
                Ok(())
            }
        }
    }
}

/// The monitors with their DXGI outputs, matched by position (xcap gives the names and
/// scale the helper sees).
fn enumerate() -> Result<(Vec<MonitorInfo>, Vec<Output>), CaptureError> {
    let monitors = xcap::Monitor::all().map_err(|e| CaptureError::Failed(e.to_string()))?;
    let infos = monitor_infos(&monitors)?;
    let mut found = Vec::new();
    // SAFETY: plain COM calls on live objects; enumeration ends at the first error
    // (DXGI_ERROR_NOT_FOUND past the last one).
    unsafe {
        let factory: IDXGIFactory1 =
            CreateDXGIFactory1().map_err(|e| failed("CreateDXGIFactory1", e))?;
        for a in 0.. {
            let Ok(adapter) = factory.EnumAdapters1(a) else {
                break;
            };
            for o in 0.. {
                let Ok(output) = adapter.EnumOutputs(o) else {
                    break;
                };
                let Ok(desc) = output.GetDesc() else {
                    continue;
                };
                if !desc.AttachedToDesktop.as_bool() {
                    continue;
                }
                if let Ok(output) = output.cast::<IDXGIOutput1>() {
                    found.push((desc.DesktopCoordinates, adapter.clone(), output));
                }
            }
        }
    }
    let mut outputs = Vec::with_capacity(infos.len());
    for info in &infos {
        let Some(index) = found
            .iter()
            .position(|(rect, _, _)| (rect.left, rect.top) == (info.x, info.y))
        else {
            return Err(CaptureError::Failed(format!(
                "DXGI lists no output for the monitor at {},{}",
                info.x, info.y
            )));
        };
        let (_, adapter, output) = found.swap_remove(index);
        outputs.push(Output { adapter, output });
    }
    Ok((infos, outputs))
}

fn rotation(r: DXGI_MODE_ROTATION) -> Rotation {
    match r {
        DXGI_MODE_ROTATION_ROTATE90 => Rotation::Rotate90,
        DXGI_MODE_ROTATION_ROTATE180 => Rotation::Rotate180,
        DXGI_MODE_ROTATION_ROTATE270 => Rotation::Rotate270,
        _ => Rotation::Identity,
    }
}

impl ScreenSource for DuplicationSource {
    fn monitors(&self) -> &[MonitorInfo] {
        &self.infos
    }

    fn current(&self) -> &MonitorInfo {
        &self.infos[self.current]
    }

    fn method(&self) -> CaptureInfo {
        CaptureInfo::new("dxgi")
    }

    fn select(&mut self, id: u32) -> Result<(), CaptureError> {
        let index = super::monitor_index(&self.infos, id)?;
        if index != self.current {
            self.current = index;
            self.running = None;
            self.picture = None;
            self.pointer = None;
            self.dirty = true;
            self.running = Some(self.duplicate()?);
        }
        Ok(())
    }

    fn capture(&mut self, out: &mut BgraFrame) -> Result<(), CaptureError> {
        self.pump(Duration::ZERO)?;
        let started = Instant::now();
        while self.picture.is_none() && started.elapsed() < FIRST_PICTURE {
            self.pump(Duration::from_millis(50))?;
        }
        let Some(picture) = &self.picture else {
            return Err(CaptureError::Failed(
                "desktop duplication gave no picture".into(),
            ));
        };
        let mut mapped = D3D11_MAPPED_SUBRESOURCE::default();
        // SAFETY: a staging texture with CPU read access; the out-pointer is a local.
        unsafe {
            picture
                .context
                .Map(&picture.texture, 0, D3D11_MAP_READ, 0, Some(&mut mapped))
        }
        .map_err(|e| failed("mapping the desktop image", e))?;
        let pitch = mapped.RowPitch as usize;
        let copied = if mapped.pData.is_null() {
            Err(CaptureError::Failed(
                "the desktop image mapped to nothing".into(),
            ))
        } else {
            // SAFETY: a mapped texture of `height` rows `RowPitch` bytes apart, readable
            // until the Unmap below.
            let image = unsafe {
                std::slice::from_raw_parts(
                    mapped.pData.cast::<u8>(),
                    pitch * picture.height as usize,
                )
            };
            copy_upright(
                image,
                pitch,
                picture.width,
                picture.height,
                picture.rotation,
                out,
            )
            .map_err(|e| CaptureError::Failed(e.to_string()))
        };
        // SAFETY: mapped above.
        unsafe { picture.context.Unmap(&picture.texture, 0) };
        copied?;
        self.dirty = false;
        let info = &mut self.infos[self.current];
        (info.width, info.height) = (out.width, out.height);
        Ok(())
    }

    fn monitors_changed(&mut self) -> bool {
        std::mem::take(&mut self.monitors_changed)
    }

    fn changed(&mut self) -> Option<bool> {
        self.pump(Duration::ZERO).ok()?;
        self.picture.as_ref().map(|_| self.dirty)
    }

    fn wait_for_change(&mut self, timeout: Duration) -> Option<bool> {
        if self.picture.is_some() && self.dirty {
            return Some(true);
        }
        self.pump(timeout).ok()?;
        self.picture.as_ref().map(|_| self.dirty)
    }

    fn cursor_position(&mut self) -> Option<CursorPosition> {
        // Pointer moves come with the duplication's updates; take what is waiting.
        let _ = self.pump(Duration::ZERO);
        let (x, y, visible) = self.pointer?;
        Some(CursorPosition {
            x: x + self.hot_spot.0,
            y: y + self.hot_spot.1,
            visible,
        })
    }

    fn cursor_shape(&mut self) -> Option<CursorShape> {
        self.new_shape.take()
    }

    fn out_of_reach(&mut self) -> bool {
        self.secure_desktop.active(Instant::now())
    }
}
