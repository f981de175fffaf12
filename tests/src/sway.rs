//! A wlroots desktop on Wayland, headless, for the wlroots sharer's tests: `sway` with its
//! headless backend and software renderer (no GPU), one output of the asked size, on a
//! private D-Bus bus and runtime directory, stopped on drop. As root, it runs as the
//! unprivileged `tandem-test` user (see [`crate::wayland`]).
//!
//! The test process reaches the compositor as the person's own devices would: `grim`
//! (a screencopy client of its own) shows what is on the screen, and
//! [`SwayDesktop::plug_keyboard`] plugs in a keyboard with a layout of the test's choosing.

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::{wl_keyboard, wl_registry, wl_seat};
use wayland_client::{Connection, Dispatch, EventQueue, QueueHandle};
use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::{
    zwp_virtual_keyboard_manager_v1, zwp_virtual_keyboard_v1,
};
use xkbcommon::xkb;

use crate::gui::Screenshot;
use crate::wayland::{wait_for, Session, WaylandDesktop};

pub struct SwayDesktop {
    session: Session,
    socket: PathBuf,
    /// The X display of its Xwayland, when started with one.
    pub x_display: Option<String>,
    pub width: u32,
    pub height: u32,
}

impl SwayDesktop {
    pub fn start(width: u32, height: u32) -> Self {
        Self::start_with(width, height, false)
    }

    /// With `xwayland`, X applications run on it too (the benchmarks draw their scenes
    /// with one).
    pub fn start_with(width: u32, height: u32, xwayland: bool) -> Self {
        let x_sockets = || -> Vec<String> {
            std::fs::read_dir("/tmp/.X11-unix")
                .map(|d| {
                    d.flatten()
                        .map(|e| e.file_name().to_string_lossy().to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        let x_before = x_sockets();
        let mut session = Session::new("sway", "");
        let dir = session.path().to_path_buf();
        let config = dir.join("sway.conf");
        // No bar, no borders, no gaps: a full-screen window is the whole output.
        std::fs::write(
            &config,
            format!(
                "output * mode {width}x{height} position 0 0\n\
                 default_border none\n\
                 default_floating_border none\n\
                 xwayland {}\n",
                if xwayland { "enable" } else { "disable" }
            ),
        )
        .expect("sway config");
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let config = config.to_string_lossy().to_string();
        session.spawn(
            "sway",
            "sway",
            &["-c", &config],
            &[
                ("WLR_BACKENDS", "headless"),
                ("WLR_RENDERER", "pixman"),
                ("WLR_LIBINPUT_NO_DEVICES", "1"),
            ],
        );
        let mut socket = None;
        wait_for("sway", Duration::from_secs(30), || {
            socket = std::fs::read_dir(&dir).ok().and_then(|entries| {
                entries.flatten().map(|e| e.file_name()).find_map(|name| {
                    let name = name.to_string_lossy().to_string();
                    (name.starts_with("wayland-") && !name.ends_with(".lock")).then_some(name)
                })
            });
            socket.is_some()
        });
        let socket = socket.expect("a Wayland socket");
        session.set_wayland(&socket);
        // GTK applications want a session bus (started now, so that what it starts
        // reaches the compositor).
        drop(session.start_bus());
        let mut x_display = None;
        if xwayland {
            wait_for("Xwayland", Duration::from_secs(30), || {
                x_display = x_sockets()
                    .into_iter()
                    .find(|s| !x_before.contains(s))
                    .and_then(|s| s.strip_prefix('X').map(|n| format!(":{n}")));
                x_display.is_some()
            });
        }
        if let (Some(display), true) = (&x_display, crate::wayland::as_root()) {
            // Xwayland lets in its own user only; the tests' X clients run as root.
            let allowed = session
                .command(&"xhost")
                .env("DISPLAY", display)
                .arg("+SI:localuser:root")
                .stdout(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            assert!(allowed, "xhost (x11-xserver-utils) could not let root in");
        }
        let desktop = Self {
            socket: dir.join(&socket),
            session,
            x_display,
            width,
            height,
        };
        // Ready once its output has the asked size.
        wait_for("sway's output", Duration::from_secs(30), || {
            desktop
                .try_screenshot()
                .is_some_and(|s| (s.width, s.height) == (width, height))
        });
        desktop
    }

    fn try_screenshot(&self) -> Option<Screenshot> {
        let file = self.session.path().join("grim.png");
        let _ = std::fs::remove_file(&file);
        let ok = self
            .command(&"grim")
            .arg(&file)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Screenshot::load_png(&file))
    }

    /// The compositor's socket (a full path does as `WAYLAND_DISPLAY`).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Runs `swaymsg` with these arguments (as the desktop's user, on its IPC socket);
    /// panics when sway refuses.
    pub fn swaymsg(&self, args: &[&str]) -> String {
        let ipc = std::fs::read_dir(self.session.path())
            .ok()
            .and_then(|d| {
                d.flatten().map(|e| e.path()).find(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("sway-ipc."))
                })
            })
            .expect("sway's IPC socket");
        let out = self
            .command(&"swaymsg")
            .env("SWAYSOCK", ipc)
            .args(args)
            .output()
            .expect("swaymsg");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "swaymsg {args:?}: {text}");
        text
    }

    /// The compositor's process id.
    pub fn pid(&self) -> u32 {
        self.session.pid("sway").expect("sway was started")
    }

    /// What the output shows now (through `grim`, the compositor's screencopy).
    pub fn screenshot(&self) -> Screenshot {
        self.try_screenshot().expect("grim took no screenshot")
    }

    /// Plugs in a keyboard with this XKB layout, and types one Shift on it: the seat's
    /// keyboard is then this one, as when a person uses theirs.
    pub fn plug_keyboard(&self, layout: &str) -> PluggedKeyboard {
        PluggedKeyboard::plug(&self.socket, layout)
    }
}

impl WaylandDesktop for SwayDesktop {
    fn runtime_dir(&self) -> &Path {
        self.session.path()
    }

    fn command(&self, program: &dyn AsRef<std::ffi::OsStr>) -> Command {
        self.session.command(program)
    }
}

/// A keyboard of the person at the desktop (a virtual keyboard of the test's own, with the
/// layout the test chose), there until dropped.
pub struct PluggedKeyboard {
    conn: Connection,
    keyboard: zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1,
    _queue: EventQueue<Plug>,
}

struct Plug;

impl PluggedKeyboard {
    fn plug(socket: &Path, layout: &str) -> Self {
        let stream = UnixStream::connect(socket).expect("sway's socket");
        let conn = Connection::from_socket(stream).expect("Wayland connection");
        let (globals, mut queue) = registry_queue_init::<Plug>(&conn).expect("registry");
        let qh = queue.handle();
        let seat: wl_seat::WlSeat = globals.bind(&qh, 1..=1, ()).expect("seat");
        let manager: zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1 =
            globals.bind(&qh, 1..=1, ()).expect("virtual keyboards");
        let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        let keymap = xkb::Keymap::new_from_names(
            &context,
            "",
            "",
            layout,
            "",
            None,
            xkb::KEYMAP_COMPILE_NO_FLAGS,
        )
        .unwrap_or_else(|| panic!("no XKB layout {layout}"));
        let text = keymap.get_as_string(xkb::KEYMAP_FORMAT_TEXT_V1);
        let path = std::env::temp_dir().join(format!("tandem-keymap-{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .expect("keymap file");
        let _ = std::fs::remove_file(&path);
        file.write_all(text.as_bytes()).expect("keymap");
        file.write_all(&[0]).expect("keymap");
        let keyboard = manager.create_virtual_keyboard(&seat, &qh, ());
        keyboard.keymap(
            wl_keyboard::KeymapFormat::XkbV1.into(),
            file.as_fd(),
            text.len() as u32 + 1,
        );
        // Left Shift (evdev 42), down and up: the seat takes this keyboard's keymap.
        keyboard.key(1, 42, 1);
        keyboard.key(2, 42, 0);
        queue.roundtrip(&mut Plug).expect("keyboard plugged");
        Self {
            conn,
            keyboard,
            _queue: queue,
        }
    }
}

impl Drop for PluggedKeyboard {
    fn drop(&mut self) {
        self.keyboard.destroy();
        let _ = self.conn.flush();
    }
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for Plug {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<wl_seat::WlSeat, ()> for Plug {
    fn event(
        _: &mut Self,
        _: &wl_seat::WlSeat,
        _: wl_seat::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1, ()> for Plug {
    fn event(
        _: &mut Self,
        _: &zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1,
        _: zwp_virtual_keyboard_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1, ()> for Plug {
    fn event(
        _: &mut Self,
        _: &zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1,
        _: zwp_virtual_keyboard_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}
