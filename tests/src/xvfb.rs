//! A private Xvfb display for a test, and an X client that paints known pictures on it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    ChangeGCAux, ConnectionExt as _, CreateGCAux, CreateWindowAux, ImageFormat, Rectangle,
    WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;
use x11rb::COPY_DEPTH_FROM_PARENT;

pub struct Xvfb {
    child: Child,
    pub display: String,
}

impl Xvfb {
    /// Starts Xvfb with one X screen per size given. Xvfb picks a free display number itself
    /// (`-displayfd`), so tests running in parallel never share one. Panics with a hint when
    /// Xvfb is missing.
    pub fn start(screens: &[(u32, u32)]) -> Self {
        let mut cmd = Command::new("Xvfb");
        for (i, (w, h)) in screens.iter().enumerate() {
            cmd.args(["-screen", &i.to_string(), &format!("{w}x{h}x24")]);
        }
        cmd.args(["-displayfd", "1", "-nolisten", "tcp", "-noreset"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!("cannot run Xvfb ({e}): run scripts/setup-deps.sh test"),
        };
        let stdout = child.stdout.take().expect("Xvfb stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
            let _ = tx.send(line);
        });
        let number = rx
            .recv_timeout(Duration::from_secs(20))
            .ok()
            .and_then(|l| l.trim().parse::<u32>().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("Xvfb did not report a display");
            });
        let display = format!(":{number}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while x11rb::connect(Some(&display)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Xvfb {display} does not accept connections"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, display }
    }
}

impl Xvfb {
    /// The server's process id (for CPU accounting in benchmarks).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A borderless window covering an X screen, showing a picture we choose.
pub struct Painter {
    conn: RustConnection,
    root: u32,
    window: u32,
    gc: u32,
    pub width: u32,
    pub height: u32,
}

impl Painter {
    pub fn open(display: &str, screen: usize) -> Self {
        let (conn, _) = x11rb::connect(Some(display)).expect("connect to Xvfb");
        let s = &conn.setup().roots[screen];
        let (root, width, height) = (
            s.root,
            u32::from(s.width_in_pixels),
            u32::from(s.height_in_pixels),
        );
        let window = conn.generate_id().expect("id");
        conn.create_window(
            COPY_DEPTH_FROM_PARENT,
            window,
            root,
            0,
            0,
            width as u16,
            height as u16,
            0,
            WindowClass::INPUT_OUTPUT,
            0,
            &CreateWindowAux::new()
                .override_redirect(1)
                .background_pixel(0),
        )
        .expect("create window");
        conn.map_window(window).expect("map");
        let gc = conn.generate_id().expect("id");
        conn.create_gc(gc, window, &CreateGCAux::new()).expect("gc");
        conn.sync().expect("sync");
        Self {
            conn,
            root,
            window,
            gc,
            width,
            height,
        }
    }

    /// Moves the pointer to (x, y) on this painter's screen, as a person would.
    pub fn warp_pointer(&self, x: i16, y: i16) {
        self.conn
            .warp_pointer(x11rb::NONE, self.root, 0, 0, 0, 0, x, y)
            .expect("warp");
        self.conn.sync().expect("sync");
    }

    /// Fills a rectangle with one colour (0xRRGGBB), as a small widget's redraw would.
    pub fn fill_rect(&self, x: i16, y: i16, width: u16, height: u16, rgb: u32) {
        self.conn
            .change_gc(self.gc, &ChangeGCAux::new().foreground(rgb))
            .expect("gc colour");
        self.conn
            .poly_fill_rectangle(
                self.window,
                self.gc,
                &[Rectangle {
                    x,
                    y,
                    width,
                    height,
                }],
            )
            .expect("fill");
        self.conn.sync().expect("sync");
    }

    /// Shows a BGRA picture of the window's size (strips keep each request small).
    pub fn show(&self, bgra: &[u8]) {
        self.show_rows(bgra, 0..self.height);
    }

    /// Updates only rows `rows` of the picture (the buffer is still the whole picture).
    pub fn show_rows(&self, bgra: &[u8], rows: std::ops::Range<u32>) {
        let row = self.width as usize * 4;
        let strip = (64 * 1024 / row).max(1);
        let end = (rows.end.min(self.height)) as usize;
        for y in (rows.start as usize..end).step_by(strip) {
            let rows = strip.min(end - y);
            self.conn
                .put_image(
                    ImageFormat::Z_PIXMAP,
                    self.window,
                    self.gc,
                    self.width as u16,
                    rows as u16,
                    0,
                    y as i16,
                    0,
                    24,
                    &bgra[y * row..(y + rows) * row],
                )
                .expect("put image");
        }
        self.conn.sync().expect("sync");
    }
}

/// A picture that is easy to check and not trivial to encode: soft gradients, saturated
/// blocks and fine stripes. BGRA.
pub fn known_picture(width: u32, height: u32) -> Vec<u8> {
    let mut out = vec![0u8; (width * height * 4) as usize];
    for y in 0..height {
        for x in 0..width {
            let i = ((y * width + x) * 4) as usize;
            let (r, g, b) = known_pixel(x, y, width, height);
            out[i..i + 4].copy_from_slice(&[b, g, r, 255]);
        }
    }
    out
}

/// The colour of the known picture at (x, y), as RGB.
pub fn known_pixel(x: u32, y: u32, width: u32, height: u32) -> (u8, u8, u8) {
    let block = |x0: f32, y0: f32| {
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        fx >= x0 && fx < x0 + 0.2 && fy >= y0 && fy < y0 + 0.25
    };
    if block(0.1, 0.1) {
        (220, 30, 30)
    } else if block(0.4, 0.1) {
        (30, 200, 40)
    } else if block(0.7, 0.1) {
        (30, 60, 220)
    } else if y > height * 3 / 4 {
        // Fine stripes, like text.
        if (x / 3) % 2 == 0 {
            (20, 20, 20)
        } else {
            (235, 235, 235)
        }
    } else {
        ((x * 255 / width) as u8, (y * 255 / height) as u8, 128)
    }
}

/// Something always moving on a screen (a band of changed pixels going down it, 30 times a
/// second), so frames keep coming; stopped when dropped.
pub struct Motion {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Motion {
    pub fn on(display: &str) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let painter = Painter::open(display, 0);
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut shifted = known_picture(painter.width, painter.height);
            let mut step = 0u32;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                // A band that moves down the screen, 30 times a second.
                let band = (step * 16) % painter.height;
                let rows = band..(band + 48).min(painter.height);
                let row = painter.width as usize * 4;
                for y in rows.clone() {
                    let line = &mut shifted[y as usize * row..(y as usize + 1) * row];
                    for px in line.chunks_exact_mut(4) {
                        px[0] = px[0].wrapping_add(97);
                        px[1] = px[1].wrapping_add(41);
                    }
                }
                painter.show_rows(&shifted, rows);
                step += 1;
                std::thread::sleep(Duration::from_millis(33));
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Motion {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
