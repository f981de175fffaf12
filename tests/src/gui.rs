//! Driving the real GUI on an X display as a person would: clicks and typing through XTest,
//! the clipboard, screenshots. Where a button is comes from the app's own layout, computed
//! with `iced_test` at the window's size (same layout engine, same built-in font).

use std::time::{Duration, Instant};

use tandem::gui::app::Screen;
use tandem::gui::{App, GuiOptions};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ConnectionExt as _, CreateWindowAux, EventMask, ImageFormat, InputFocus,
    WindowClass, BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT, KEY_PRESS_EVENT, KEY_RELEASE_EVENT,
    MOTION_NOTIFY_EVENT,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;
use x11rb::COPY_DEPTH_FROM_PARENT;

/// The main window's size (as `App::main_window`).
pub const WINDOW: (f32, f32) = (900.0, 640.0);
/// The sharer's bar while sharing.
pub const BAR: (f32, f32) = (560.0, 150.0);

/// The centre of the widget showing `label` when the app shows `screen` in a window of
/// `size` at the top-left corner of the display (no window manager places it elsewhere).
pub fn locate(screen: Screen, size: (f32, f32), label: &str) -> (i16, i16) {
    locate_by(screen, size, label, label)
}

/// As [`locate`], for a widget id (`tandem::gui::app::ids`).
pub fn locate_id(screen: Screen, size: (f32, f32), id: &'static str) -> (i16, i16) {
    locate_by(screen, size, iced_test::selector::id(id), id)
}

fn locate_by<S>(screen: Screen, size: (f32, f32), selector: S, label: &str) -> (i16, i16)
where
    S: iced_test::Selector + Send,
    S::Output: iced_test::selector::Bounded + Clone + Send + Sync + 'static,
{
    let mut app = App::new(GuiOptions {
        session: tandem::session::SessionConfig::default(),
        identity: Some(tandem::session::HelperIdentity::Dev {
            name: "Anna Rossi".into(),
        }),
        sign_in_ca: None,
        sign_in_provider: None,
        language: "en".into(),
        place: tandem::gui::WindowPlace::Default,
        theme: tandem::gui::ThemeChoice::System,
    });
    app.screen = screen;
    let settings = iced::Settings {
        default_font: iced::Font::with_name("Fira Sans"),
        fonts: vec![tandem::gui::style::ICON_FONT_BYTES.into()],
        ..iced::Settings::default()
    };
    let mut ui = iced_test::Simulator::with_size(settings, size, app.main_view());
    let target = ui
        .find(selector)
        .unwrap_or_else(|e| panic!("no {label:?} on that screen: {e}"));
    use iced_test::selector::Bounded;
    let bounds = target
        .visible_bounds()
        .unwrap_or_else(|| panic!("{label:?} is not visible"));
    let c = bounds.center();
    (c.x.round() as i16, c.y.round() as i16)
}

/// A person's hands on one X display.
pub struct Hands {
    conn: RustConnection,
    root: u32,
    min_keycode: u8,
    keysyms_per_keycode: u8,
    keysyms: Vec<u32>,
}

impl Hands {
    pub fn new(display: &str) -> Self {
        let (conn, screen) = x11rb::connect(Some(display)).expect("connect");
        let root = conn.setup().roots[screen].root;
        let (min, max) = (conn.setup().min_keycode, conn.setup().max_keycode);
        let mapping = conn
            .get_keyboard_mapping(min, max - min + 1)
            .expect("mapping")
            .reply()
            .expect("mapping reply");
        Self {
            conn,
            root,
            min_keycode: min,
            keysyms_per_keycode: mapping.keysyms_per_keycode,
            keysyms: mapping.keysyms,
        }
    }

    fn fake(&self, kind: u8, detail: u8, x: i16, y: i16) {
        self.conn
            .xtest_fake_input(kind, detail, 0, self.root, x, y, 0)
            .expect("fake input");
        self.conn.sync().expect("sync");
    }

    pub fn move_to(&self, (x, y): (i16, i16)) {
        self.fake(MOTION_NOTIFY_EVENT, 0, x, y);
        std::thread::sleep(Duration::from_millis(30));
    }

    /// What a window manager does on a click: the window under the pointer gets the
    /// keyboard.
    fn focus_under_pointer(&self) {
        let Ok(reply) = self.conn.query_pointer(self.root).map(|c| c.reply()) else {
            return;
        };
        if let Ok(pointer) = reply {
            if pointer.child != x11rb::NONE {
                let _ = self.conn.set_input_focus(
                    InputFocus::PARENT,
                    pointer.child,
                    x11rb::CURRENT_TIME,
                );
                let _ = self.conn.sync();
            }
        }
    }

    pub fn click(&self, at: (i16, i16)) {
        self.move_to(at);
        self.focus_under_pointer();
        self.fake(BUTTON_PRESS_EVENT, 1, 0, 0);
        std::thread::sleep(Duration::from_millis(30));
        self.fake(BUTTON_RELEASE_EVENT, 1, 0, 0);
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Press at the first point, move through the others, release.
    pub fn drag(&self, points: &[(i16, i16)]) {
        let Some((first, rest)) = points.split_first() else {
            return;
        };
        self.move_to(*first);
        self.fake(BUTTON_PRESS_EVENT, 1, 0, 0);
        for p in rest {
            std::thread::sleep(Duration::from_millis(40));
            self.move_to(*p);
        }
        self.fake(BUTTON_RELEASE_EVENT, 1, 0, 0);
        std::thread::sleep(Duration::from_millis(100));
    }

    fn keycode(&self, keysym: u32) -> u8 {
        let per = usize::from(self.keysyms_per_keycode);
        let index = self
            .keysyms
            .iter()
            .position(|&k| k == keysym)
            .unwrap_or_else(|| panic!("no key for keysym {keysym:#x}"));
        self.min_keycode + (index / per) as u8
    }

    pub fn tap(&self, keysym: u32) {
        let code = self.keycode(keysym);
        self.fake(KEY_PRESS_EVENT, code, 0, 0);
        self.fake(KEY_RELEASE_EVENT, code, 0, 0);
        std::thread::sleep(Duration::from_millis(15));
    }

    /// Types lower-case letters, digits, spaces and dashes (what a code needs).
    pub fn type_text(&self, text: &str) {
        for c in text.chars() {
            self.tap(u32::from(c.to_ascii_lowercase()));
        }
    }

    pub fn enter(&self) {
        self.tap(0xff0d); // Return
    }
}

fn atom(conn: &RustConnection, name: &str) -> Atom {
    conn.intern_atom(false, name.as_bytes())
        .expect("atom")
        .reply()
        .expect("atom reply")
        .atom
}

/// The text on the display's clipboard (what a "Copy" button put there).
pub fn clipboard_text(display: &str) -> Option<String> {
    let (conn, screen) = x11rb::connect(Some(display)).ok()?;
    let root = conn.setup().roots[screen].root;
    let window = conn.generate_id().ok()?;
    conn.create_window(
        COPY_DEPTH_FROM_PARENT,
        window,
        root,
        0,
        0,
        1,
        1,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &CreateWindowAux::new().event_mask(EventMask::PROPERTY_CHANGE),
    )
    .ok()?;
    let (clipboard, utf8, target) = (
        atom(&conn, "CLIPBOARD"),
        atom(&conn, "UTF8_STRING"),
        atom(&conn, "TANDEM_TEST_PASTE"),
    );
    conn.convert_selection(window, clipboard, utf8, target, x11rb::CURRENT_TIME)
        .ok()?;
    conn.flush().ok()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match conn.poll_for_event().ok()? {
            Some(Event::SelectionNotify(e)) => {
                if e.property == x11rb::NONE {
                    return None;
                }
                let reply = conn
                    .get_property(false, window, target, AtomEnum::ANY, 0, 1024)
                    .ok()?
                    .reply()
                    .ok()?;
                return String::from_utf8(reply.value).ok();
            }
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    None
}

/// The mapped top-level windows of `display`, bottom to top, with their `WM_CLASS` class
/// (what winit sets from the application id): the stacking order a person sees.
pub fn stacking(display: &str) -> Vec<(u32, String)> {
    use x11rb::protocol::xproto::MapState;
    let Ok((conn, screen)) = x11rb::connect(Some(display)) else {
        return Vec::new();
    };
    let root = conn.setup().roots[screen].root;
    let Ok(Ok(tree)) = conn.query_tree(root).map(|c| c.reply()) else {
        return Vec::new();
    };
    tree.children
        .into_iter()
        .filter(|&w| {
            conn.get_window_attributes(w)
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some_and(|a| a.map_state == MapState::VIEWABLE)
        })
        .map(|w| {
            // A window manager reparents a client into a frame: the class is the client's.
            let class = wm_class(&conn, w)
                .or_else(|| {
                    let children = conn.query_tree(w).ok()?.reply().ok()?.children;
                    children.into_iter().find_map(|c| wm_class(&conn, c))
                })
                .unwrap_or_default();
            (w, class)
        })
        .collect()
}

/// Where the mapped top-level window of `size` sits on `display` (Wine places a window
/// itself, not at the top-left corner as winit does without a window manager).
pub fn window_origin(display: &str, size: (f32, f32)) -> Option<(i16, i16)> {
    let (conn, _) = x11rb::connect(Some(display)).ok()?;
    stacking(display).into_iter().find_map(|(w, _)| {
        let g = conn.get_geometry(w).ok()?.reply().ok()?;
        ((f32::from(g.width), f32::from(g.height)) == size).then_some((g.x, g.y))
    })
}

fn wm_class(conn: &impl x11rb::connection::Connection, window: u32) -> Option<String> {
    let reply = conn
        .get_property(false, window, AtomEnum::WM_CLASS, AtomEnum::STRING, 0, 256)
        .ok()?
        .reply()
        .ok()?;
    String::from_utf8_lossy(&reply.value)
        .split('\0')
        .rfind(|s| !s.is_empty())
        .map(str::to_string)
}

/// Peak signal-to-noise ratio of two pictures with the same layout, in dB.
pub fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (255.0f64.powi(2) / mse.max(1e-9)).log10()
}

/// The whole screen 0 of `display` as RGB rows.
pub struct Screenshot {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl Screenshot {
    pub fn take(display: &str) -> Self {
        let (conn, screen) = x11rb::connect(Some(display)).expect("connect");
        let s = &conn.setup().roots[screen];
        let (root, width, height) = (s.root, s.width_in_pixels, s.height_in_pixels);
        let image = conn
            .get_image(ImageFormat::Z_PIXMAP, root, 0, 0, width, height, u32::MAX)
            .expect("get image")
            .reply()
            .expect("image");
        // 24-bit depth comes as BGRX.
        let rgb = image
            .data
            .chunks_exact(4)
            .flat_map(|p| [p[2], p[1], p[0]])
            .collect();
        Self {
            width: u32::from(width),
            height: u32::from(height),
            rgb,
        }
    }

    /// From a BGRA picture (`stride` bytes per row).
    pub fn from_bgra(width: u32, height: u32, stride: u32, bgra: &[u8]) -> Self {
        let rgb = bgra
            .chunks(stride as usize)
            .take(height as usize)
            .flat_map(|row| row[..width as usize * 4].chunks_exact(4))
            .flat_map(|p| [p[2], p[1], p[0]])
            .collect();
        Self { width, height, rgb }
    }

    pub fn from_bgra_frame(frame: &tandem::media::frame::BgraFrame) -> Self {
        Self::from_bgra(frame.width, frame.height, frame.stride, &frame.data)
    }

    /// A PNG written by [`Self::save_png`] or by the helper's `--save-frame` (RGB or RGBA).
    pub fn load_png(path: &std::path::Path) -> Self {
        let decoder = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(path).expect("png file"),
        ));
        let mut reader = decoder.read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut buf).expect("png data");
        let channels = info.color_type.samples();
        let rgb = buf[..info.buffer_size()]
            .chunks_exact(channels)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        Self {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    /// Peak signal-to-noise ratio against a picture of the same size, in dB.
    pub fn psnr(&self, other: &Self) -> f64 {
        assert_eq!((self.width, self.height), (other.width, other.height));
        psnr(&self.rgb, &other.rgb)
    }

    /// As a BGRA frame (to save or compare like a captured one).
    pub fn into_bgra(self) -> tandem::media::frame::BgraFrame {
        let mut frame = tandem::media::frame::BgraFrame::new(self.width, self.height);
        for (d, s) in frame.data.chunks_exact_mut(4).zip(self.rgb.chunks_exact(3)) {
            d.copy_from_slice(&[s[2], s[1], s[0], 255]);
        }
        frame
    }

    pub fn pixel(&self, x: u32, y: u32) -> (u8, u8, u8) {
        let i = ((y * self.width + x) * 3) as usize;
        (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }

    /// How many pixels in the box around (x, y) (± `r`) satisfy `pred`.
    pub fn count_near(
        &self,
        (x, y): (u32, u32),
        r: u32,
        pred: impl Fn((u8, u8, u8)) -> bool,
    ) -> usize {
        let mut n = 0;
        for yy in y.saturating_sub(r)..(y + r).min(self.height) {
            for xx in x.saturating_sub(r)..(x + r).min(self.width) {
                if pred(self.pixel(xx, yy)) {
                    n += 1;
                }
            }
        }
        n
    }

    pub fn save_png(&self, path: &std::path::Path) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let file = std::fs::File::create(path).expect("png file");
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("png header");
        writer.write_image_data(&self.rgb).expect("png data");
    }
}

/// Waits until `pred` holds for a fresh screenshot of `display`.
pub fn wait_for_screen(
    display: &str,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&Screenshot) -> bool,
) -> Screenshot {
    let deadline = Instant::now() + timeout;
    loop {
        let shot = Screenshot::take(display);
        if pred(&shot) {
            return shot;
        }
        if Instant::now() > deadline {
            let path =
                std::env::temp_dir().join(format!("tandem-gui-timeout-{}.png", std::process::id()));
            shot.save_png(&path);
            panic!(
                "timed out waiting for {what}; last screen in {}",
                path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(150));
    }
}
