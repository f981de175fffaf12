//! This computer's clipboard for a session's clipboard sharing: a thread that owns the
//! platform clipboard (`arboard`: X11, Wayland's data-control protocol, Windows), puts the
//! peer's copies on it, and while watched reports the person's new copies — text, or a
//! picture (carried as PNG).
//!
//! Nothing is kept after the session: the thread holds the last copy only to notice a
//! change, and on X11 a copy put here by the peer disappears with the session (its owner
//! goes), unless the desktop runs a clipboard manager that takes it.

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::debug;

use crate::protocol::{ClipboardContent, MAX_CLIPBOARD_IMAGE};

/// How often a watched clipboard is read (platforms notify no change that `arboard` sees).
const POLL: Duration = Duration::from_millis(300);

/// Largest picture taken from or put on the clipboard, in pixels (an 8K screen): its RGBA
/// is what is held in memory, whatever its PNG's size.
const MAX_PICTURE_PIXELS: usize = 7680 * 4320;

#[derive(Debug, thiserror::Error)]
#[error("the clipboard cannot be reached: {0}")]
pub struct ClipboardUnavailable(#[source] arboard::Error);

enum Request {
    Watch(bool),
    Set(ClipboardContent),
}

/// The clipboard thread's handle; dropping it ends the thread.
pub struct LocalClipboard {
    requests: std_mpsc::Sender<Request>,
    /// The person's new copies while watched (a few at most: the session takes them as
    /// they come, and a stale one is worth nothing).
    pub changes: mpsc::Receiver<ClipboardContent>,
}

impl LocalClipboard {
    /// Opens the desktop's clipboard (the session's `DISPLAY` / `WAYLAND_DISPLAY`).
    pub fn open() -> Result<Self, ClipboardUnavailable> {
        let clipboard = arboard::Clipboard::new().map_err(ClipboardUnavailable)?;
        let (requests, rx) = std_mpsc::channel();
        let (tx, changes) = mpsc::channel(4);
        std::thread::Builder::new()
            .name("tandem-clipboard".into())
            .spawn(move || serve(clipboard, &rx, &tx))
            .map_err(|e| {
                ClipboardUnavailable(arboard::Error::Unknown {
                    description: e.to_string(),
                })
            })?;
        Ok(Self { requests, changes })
    }

    /// Start reporting copies made from now on (what is on the clipboard already is not
    /// reported), or stop.
    pub fn watch(&self, on: bool) {
        let _ = self.requests.send(Request::Watch(on));
    }

    /// Put the peer's copy on this clipboard (not reported back as a change).
    pub fn set(&self, content: ClipboardContent) {
        let _ = self.requests.send(Request::Set(content));
    }
}

/// The person's next copy while `clipboard` is watched; never ready without a clipboard
/// (or once its thread is gone), so a session loop can always wait on it.
pub async fn next_copy(clipboard: &mut Option<LocalClipboard>) -> ClipboardContent {
    match clipboard {
        Some(c) => match c.changes.recv().await {
            Some(content) => content,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// What is on the clipboard, as far as it can be shared: text, else a picture; its
/// fingerprint is the text's or the picture's pixels', so an unchanged picture is not
/// encoded again at every poll.
enum Seen {
    Text(String),
    Picture { pixels: u64 },
}

fn pixels_fingerprint(image: &arboard::ImageData<'_>) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&(image.width as u64).to_le_bytes());
    h.update(&(image.height as u64).to_le_bytes());
    h.update(&image.bytes);
    h.digest()
}

/// Reads the clipboard; `None`: empty, or nothing that can be shared (files, a picture too
/// large). `last`: what was seen before, so that an unchanged picture costs no encoding.
fn read(
    clipboard: &mut arboard::Clipboard,
    last: &Option<Seen>,
) -> Option<(Seen, Option<ClipboardContent>)> {
    if let Ok(text) = clipboard.get_text() {
        let changed = !matches!(last, Some(Seen::Text(t)) if *t == text);
        let content = changed.then(|| ClipboardContent::Text(text.clone()));
        return Some((Seen::Text(text), content));
    }
    let image = clipboard.get_image().ok()?;
    if image.width.saturating_mul(image.height) > MAX_PICTURE_PIXELS {
        return None;
    }
    let pixels = pixels_fingerprint(&image);
    if matches!(last, Some(Seen::Picture { pixels: p }) if *p == pixels) {
        return Some((Seen::Picture { pixels }, None));
    }
    let png = encode_png(&image)?;
    Some((Seen::Picture { pixels }, Some(ClipboardContent::Png(png))))
}

fn encode_png(image: &arboard::ImageData<'_>) -> Option<Vec<u8>> {
    let (w, h) = (
        u32::try_from(image.width).ok()?,
        u32::try_from(image.height).ok()?,
    );
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().ok()?;
    writer.write_image_data(&image.bytes).ok()?;
    writer.finish().ok()?;
    Some(out)
}

/// The peer's PNG as pixels, within this side's limits (a hostile PNG's claimed size is
/// checked before anything is allocated for it).
fn decode_png(png_bytes: &[u8]) -> Option<arboard::ImageData<'static>> {
    if png_bytes.len() > MAX_CLIPBOARD_IMAGE {
        return None;
    }
    let mut decoder = png::Decoder::new_with_limits(
        std::io::Cursor::new(png_bytes),
        png::Limits {
            bytes: MAX_PICTURE_PIXELS * 4,
        },
    );
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().ok()?;
    // The header's size, checked before the buffer for it is made (the decoder's own
    // limit does not cover that buffer).
    let claimed = reader.info();
    if (claimed.width as usize).saturating_mul(claimed.height as usize) > MAX_PICTURE_PIXELS {
        return None;
    }
    let size = reader.output_buffer_size()?;
    if size > MAX_PICTURE_PIXELS * 8 {
        return None;
    }
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).ok()?;
    buf.truncate(info.buffer_size());
    let (w, h) = (info.width as usize, info.height as usize);
    if w.saturating_mul(h) > MAX_PICTURE_PIXELS {
        return None;
    }
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        png::ColorType::GrayscaleAlpha => buf
            .chunks_exact(2)
            .flat_map(|p| [p[0], p[0], p[0], p[1]])
            .collect(),
        png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        png::ColorType::Indexed => return None,
    };
    (rgba.len() == w * h * 4).then(|| arboard::ImageData {
        width: w,
        height: h,
        bytes: rgba.into(),
    })
}

fn serve(
    mut clipboard: arboard::Clipboard,
    requests: &std_mpsc::Receiver<Request>,
    changes: &mpsc::Sender<ClipboardContent>,
) {
    let mut watching = false;
    let mut last: Option<Seen> = None;
    loop {
        match requests.recv_timeout(POLL) {
            Ok(Request::Watch(on)) => {
                watching = on;
                last = if on {
                    read(&mut clipboard, &None).map(|(seen, _)| seen)
                } else {
                    None
                };
            }
            Ok(Request::Set(ClipboardContent::Text(text))) => {
                if let Err(e) = clipboard.set_text(text.as_str()) {
                    debug!("the peer's copy could not be put on the clipboard: {e}");
                }
                last = Some(Seen::Text(text));
            }
            Ok(Request::Set(ClipboardContent::Png(png))) => {
                let Some(image) = decode_png(&png) else {
                    debug!("the peer's picture is not a PNG this side takes");
                    continue;
                };
                last = Some(Seen::Picture {
                    pixels: pixels_fingerprint(&image),
                });
                if let Err(e) = clipboard.set_image(image) {
                    debug!("the peer's picture could not be put on the clipboard: {e}");
                }
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                if !watching {
                    continue;
                }
                if let Some((seen, changed)) = read(&mut clipboard, &last) {
                    last = Some(seen);
                    if let Some(content) = changed {
                        let _ = changes.try_send(content);
                    }
                }
            }
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_go_through_png_and_back_and_hostile_pngs_are_refused() {
        let image = arboard::ImageData {
            width: 3,
            height: 2,
            bytes: (0..24u8).collect::<Vec<_>>().into(),
        };
        let png = encode_png(&image).expect("encodes");
        let back = decode_png(&png).expect("decodes");
        assert_eq!((back.width, back.height), (3, 2));
        assert_eq!(back.bytes, image.bytes);
        assert_eq!(pixels_fingerprint(&back), pixels_fingerprint(&image));
        // Garbage, and a PNG that claims more pixels than this side takes: refused.
        assert!(decode_png(b"\x89PNG\r\n\x1a\nnot really").is_none());
        let huge = arboard::ImageData {
            width: 100_000,
            height: 1,
            bytes: vec![0; 400_000].into(),
        };
        let mut png = encode_png(&huge).expect("encodes");
        // Rewrite its header's height (and the header's checksum) to a billion rows.
        png[20..24].copy_from_slice(&1_000_000_000u32.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(decode_png(&png).is_none());
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
