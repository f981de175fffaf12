//! The VNC peer of `tandem-bench wan`: `x11vnc` (Debian's) serving the same Xvfb scene from
//! the sharer's namespace, read by a VNC client (the `vnc-rs` protocol engine, ZRLE +
//! CopyRect, as a viewer negotiates them) in the helper's namespace, which keeps the picture
//! and reads the same stamp as Tandem's helper. Same emulated link, same run.

use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tandem_tests::scenes::read_stamp;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use vnc::{PixelFormat, VncConnector, VncEncoding, VncEvent, X11Event};

use super::latency::Observed;

pub const PORT: u16 = 5900;

/// x11vnc on `display`, inside namespace `ns`; killed on drop.
pub struct X11Vnc(Child);

impl X11Vnc {
    pub fn start(ns: &str, display: &str) -> anyhow::Result<Self> {
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "x11vnc", "-display", display])
            .args([
                "-rfbport",
                &PORT.to_string(),
                "-nopw",
                "-forever",
                "-shared",
            ])
            .args(["-quiet", "-noxrecord", "-nocursor"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("x11vnc (scripts/setup-deps.sh bench installs it)")?;
        Ok(Self(child))
    }
}

impl Drop for X11Vnc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A TCP stream that counts the bytes it reads (what the server sent).
struct Counting<S> {
    inner: S,
    read: Arc<AtomicU64>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counting<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counting<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Views the VNC server at `addr` until `until`: every update is applied to a picture of
/// `width`×`height`, the stamp read back into `observed` (first sight of each value, counted
/// as a frame shown while `measuring`); `counted` sums the bytes the server sent.
pub async fn view(
    addr: String,
    (width, height): (u32, u32),
    observed: Arc<Mutex<Observed>>,
    measuring: Arc<std::sync::atomic::AtomicBool>,
    until: Instant,
    counted: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let tcp = loop {
        match tokio::net::TcpStream::connect(&addr).await {
            Ok(tcp) => break tcp,
            // Not listening yet.
            Err(_) if started.elapsed() < Duration::from_secs(15) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => bail!("x11vnc at {addr}: {e}"),
        }
    };
    tcp.set_nodelay(true)?;
    let stream = Counting {
        inner: tcp,
        read: counted,
    };
    let vnc = VncConnector::new(stream)
        .set_auth_method(async move { Ok(String::new()) })
        .add_encoding(VncEncoding::Zrle)
        .add_encoding(VncEncoding::CopyRect)
        .add_encoding(VncEncoding::Raw)
        .allow_shared(true)
        .set_pixel_format(PixelFormat::bgra())
        .build()?
        .try_start()
        .await?
        .finish()?;
    let (w, h) = (width as usize, height as usize);
    let mut picture = vec![0u8; w * h * 4];
    // A viewer asks for the next update as it shows one, at most 30 times a second (the
    // cap Tandem's sharer has).
    let mut next_request = Instant::now();
    while Instant::now() < until {
        match vnc.poll_event().await {
            Ok(Some(event)) => {
                let touched_stamp = match event {
                    VncEvent::RawImage(rect, data) => {
                        let (x0, y0) = (usize::from(rect.x), usize::from(rect.y));
                        let rw = usize::from(rect.width);
                        for (row, line) in data.chunks_exact(rw * 4).enumerate() {
                            let y = y0 + row;
                            if y >= h || x0 + rw > w {
                                break;
                            }
                            let at = (y * w + x0) * 4;
                            picture[at..at + rw * 4].copy_from_slice(line);
                        }
                        rect.y < 16
                    }
                    VncEvent::Copy(dst, src) => {
                        let rw = usize::from(src.width);
                        let rows: Vec<Vec<u8>> = (0..usize::from(src.height))
                            .filter_map(|r| {
                                let y = usize::from(src.y) + r;
                                let at = (y * w + usize::from(src.x)) * 4;
                                picture.get(at..at + rw * 4).map(<[u8]>::to_vec)
                            })
                            .collect();
                        for (r, line) in rows.iter().enumerate() {
                            let y = usize::from(dst.y) + r;
                            let at = (y * w + usize::from(dst.x)) * 4;
                            if let Some(out) = picture.get_mut(at..at + line.len()) {
                                out.copy_from_slice(line);
                            }
                        }
                        dst.y < 16
                    }
                    _ => false,
                };
                if touched_stamp {
                    let now = Instant::now();
                    let value = read_stamp(&picture, width, width);
                    // A frame shown: a new stamp value (one update arrives as many
                    // rectangles).
                    if let (Ok(mut o), Some(v)) = (observed.lock(), value) {
                        if let std::collections::hash_map::Entry::Vacant(e) = o.seen.entry(v) {
                            e.insert(now);
                            if measuring.load(Ordering::Relaxed) {
                                o.frames += 1;
                            }
                        }
                    }
                }
            }
            Ok(None) => tokio::time::sleep(Duration::from_millis(1)).await,
            Err(e) => bail!("VNC: {e}"),
        }
        if Instant::now() >= next_request {
            vnc.input(X11Event::Refresh).await?;
            next_request = Instant::now() + Duration::from_millis(33);
        }
    }
    let _ = vnc.close().await;
    Ok(())
}
