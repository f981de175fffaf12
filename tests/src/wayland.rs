//! A GNOME desktop on Wayland, headless, for the Wayland sharer's tests: `mutter
//! --headless` with a virtual monitor, PipeWire + WirePlumber, `xdg-desktop-portal` with
//! the GNOME backend, all on a private D-Bus bus and runtime directory, stopped on drop.
//!
//! When the tests run as root (as CI does) the desktop runs as the unprivileged
//! `tandem-test` user (made by `scripts/setup-deps.sh test`): the portal and PipeWire are
//! per-user services, and so is the sharer, started through [`GnomeDesktop::command`].
//!
//! The test process talks to mutter directly, as a person's own input would: its
//! `RemoteDesktop` API answers the portal's dialog with the keyboard, and its `ScreenCast`
//! API shows what is on the screen.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tandem::media::frame::BgraFrame;
use zbus::zvariant::{OwnedObjectPath, Value};

use crate::tempdir::Dir;

/// The user the desktop runs as when the tests run as root.
pub const DESKTOP_USER: &str = "tandem-test";
const WAYLAND_NAME: &str = "wayland-tandem";
const MUTTER_RD: &str = "org.gnome.Mutter.RemoteDesktop";
const MUTTER_SC: &str = "org.gnome.Mutter.ScreenCast";

pub struct GnomeDesktop {
    session: Session,
    bus: zbus::blocking::Connection,
    keyboard: OwnedObjectPath,
    pub width: u32,
    pub height: u32,
}

/// A headless Wayland desktop of the tests' own: how to run programs in its session.
pub trait WaylandDesktop {
    /// Its `XDG_RUNTIME_DIR` (a private directory, removed with the desktop).
    fn runtime_dir(&self) -> &Path;

    /// `program` in this desktop's session, as its user.
    fn command(&self, program: &dyn AsRef<std::ffi::OsStr>) -> Command;

    /// `tandem` in this desktop's session, as its user: a copy in the session's directory,
    /// since that user may not reach the build's (a clone under /root).
    fn tandem(&self) -> Command {
        let copy = self.runtime_dir().join("tandem");
        if !copy.exists() {
            std::fs::copy(crate::bin("tandem"), &copy).expect("copy tandem");
            if as_root() {
                let _ = Command::new("chown").arg(DESKTOP_USER).arg(&copy).status();
            }
        }
        self.command(&copy)
    }

    fn input_recorder(&self) -> InputRecorder {
        self.input_recorder_showing(None)
    }

    /// The recorder's window showing `picture` (a PNG of the monitor's size) 1:1.
    fn input_recorder_showing(&self, picture: Option<&Path>) -> InputRecorder {
        let script = self.runtime_dir().join("input-recorder.py");
        std::fs::write(&script, include_str!("../wayland/input-recorder.py")).expect("script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let mut child = self
            .command(&"/usr/bin/python3")
            .arg(&script)
            .args(picture)
            .env("GSK_RENDERER", "cairo")
            .env("GDK_BACKEND", "wayland")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("input recorder");
        let stdout = child.stdout.take().expect("stdout");
        let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&events);
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str(&line) {
                    sink.lock().expect("events").push(v);
                }
            }
        });
        let recorder = InputRecorder { child, events };
        recorder.wait_until(Duration::from_secs(30), "the recorder's window", |e| {
            e.iter().any(|v| v["event"] == "ready")
        });
        recorder
    }
}

impl WaylandDesktop for GnomeDesktop {
    fn runtime_dir(&self) -> &Path {
        self.session.path()
    }

    fn command(&self, program: &dyn AsRef<std::ffi::OsStr>) -> Command {
        self.session.command(program)
    }
}

pub(crate) fn as_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

pub(crate) fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The processes of one desktop session, as its user, in a private runtime directory;
/// stopped (last started first) on drop.
pub(crate) struct Session {
    dir: Dir,
    desktop: &'static str,
    wayland: String,
    children: Vec<(&'static str, Child)>,
}

impl Session {
    pub fn new(desktop: &'static str, wayland: &str) -> Self {
        let dir = Dir::new(&format!("tandem-{}", desktop.to_lowercase()));
        let path = dir.path();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        if as_root() {
            let status = Command::new("chown")
                .arg(DESKTOP_USER)
                .arg(path)
                .status()
                .expect("chown");
            assert!(
                status.success(),
                "no user {DESKTOP_USER}: run scripts/setup-deps.sh test"
            );
        }
        Self {
            dir,
            desktop,
            wayland: wayland.to_string(),
            children: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The process id of the child started under this name.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.children
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| c.id())
    }

    pub fn set_wayland(&mut self, name: &str) {
        self.wayland = name.to_string();
    }

    pub fn command(&self, program: &dyn AsRef<std::ffi::OsStr>) -> Command {
        desktop_command(self.dir.path(), self.desktop, &self.wayland, program)
    }

    pub fn spawn(
        &mut self,
        name: &'static str,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) {
        let mut cmd = self.command(&program);
        cmd.args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if std::env::var_os("TANDEM_TEST_DESKTOP_LOGS").is_some() {
            cmd.stderr(Stdio::inherit());
        }
        self.children.push((
            name,
            cmd.spawn().unwrap_or_else(|e| panic!("{program}: {e}")),
        ));
    }

    /// A session D-Bus that anyone may use: the test process (root) and the desktop's user.
    pub fn start_bus(&mut self) -> zbus::blocking::Connection {
        let path = self.path().to_path_buf();
        let bus_config = path.join("bus.conf");
        std::fs::write(
            &bus_config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}/bus</listen>
  <auth>EXTERNAL</auth>
  <standard_session_servicedirs/>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                path.display()
            ),
        )
        .expect("bus config");
        std::fs::set_permissions(&bus_config, std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        self.spawn(
            "dbus",
            "dbus-daemon",
            &[
                &format!("--config-file={}", bus_config.display()),
                "--nofork",
                "--nopidfile",
            ],
            &[],
        );
        wait_for("D-Bus", Duration::from_secs(20), || {
            path.join("bus").exists()
        });
        let address = format!("unix:path={}/bus", path.display());
        zbus::blocking::connection::Builder::address(address.as_str())
            .and_then(|b| b.build())
            .expect("connect to the desktop's bus")
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // A desktop process that died during the test is worth knowing about.
        for (name, child) in self.children.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                eprintln!("the desktop's {name} had exited: {status}");
            }
        }
        // Last started first (the portal before the compositor, the bus last): nothing
        // restarts what was stopped.
        for (_, child) in self.children.iter_mut().rev() {
            // SAFETY: kill on a child we started; an exited child's pid is not reused
            // before we wait on it.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
        }
        for (_, child) in self.children.iter_mut().rev() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl GnomeDesktop {
    pub fn start(width: u32, height: u32) -> Self {
        let mut session = Session::new("GNOME", WAYLAND_NAME);
        let path = session.path().to_path_buf();
        let bus = session.start_bus();
        let mut spawn = |name, program, args: &[&str], env: &[(&str, &str)]| {
            session.spawn(name, program, args, env)
        };
        spawn("pipewire", "pipewire", &[], &[]);
        wait_for("PipeWire", Duration::from_secs(20), || {
            path.join("pipewire-0").exists()
        });
        spawn("wireplumber", "wireplumber", &[], &[]);
        let monitor = format!("{width}x{height}");
        spawn(
            "mutter",
            "mutter",
            &[
                "--headless",
                "--virtual-monitor",
                &monitor,
                "--wayland",
                "--no-x11",
                "--wayland-display",
                WAYLAND_NAME,
            ],
            &[],
        );
        let dbus = zbus::blocking::fdo::DBusProxy::new(&bus).expect("bus proxy");
        let owned = |name: &str| {
            zbus::names::BusName::try_from(name)
                .ok()
                .and_then(|n| dbus.name_has_owner(n).ok())
                .unwrap_or(false)
        };
        wait_for("mutter", Duration::from_secs(60), || {
            owned(MUTTER_RD) && owned(MUTTER_SC) && path.join(WAYLAND_NAME).exists()
        });
        // GTK's GL renderer needs a GPU; the dialog draws with cairo.
        spawn(
            "portal-gnome",
            "/usr/libexec/xdg-desktop-portal-gnome",
            &[],
            &[("GSK_RENDERER", "cairo"), ("GDK_BACKEND", "wayland")],
        );
        wait_for("xdg-desktop-portal-gnome", Duration::from_secs(30), || {
            owned("org.freedesktop.impl.portal.desktop.gnome")
        });
        spawn("portal", "/usr/libexec/xdg-desktop-portal", &["-r"], &[]);
        wait_for("xdg-desktop-portal", Duration::from_secs(30), || {
            owned("org.freedesktop.portal.Desktop")
        });
        let keyboard = remote_desktop_session(&bus);
        Self {
            session,
            bus,
            keyboard,
            width,
            height,
        }
    }

    /// Presses and releases the keys with these X keysyms, one after the other, as the
    /// person at the desktop would.
    pub fn press_keys(&self, keysyms: &[u32]) {
        for &keysym in keysyms {
            for pressed in [true, false] {
                self.bus
                    .call_method(
                        Some(MUTTER_RD),
                        self.keyboard.as_str(),
                        Some("org.gnome.Mutter.RemoteDesktop.Session"),
                        "NotifyKeyboardKeysym",
                        &(keysym, pressed),
                    )
                    .expect("press a key");
                std::thread::sleep(Duration::from_millis(30));
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// What the monitor shows now, through mutter's own screen cast.
    pub fn screenshot(&self) -> BgraFrame {
        let session: OwnedObjectPath = self
            .bus
            .call_method(
                Some(MUTTER_SC),
                "/org/gnome/Mutter/ScreenCast",
                Some(MUTTER_SC),
                "CreateSession",
                &(HashMap::<&str, Value>::new(),),
            )
            .and_then(|m| m.body().deserialize())
            .expect("screen cast session");
        let mut properties = HashMap::<&str, Value>::new();
        // Embedded: what the person sees, pointer included.
        properties.insert("cursor-mode", Value::U32(1));
        let stream: OwnedObjectPath = self
            .bus
            .call_method(
                Some(MUTTER_SC),
                session.as_str(),
                Some("org.gnome.Mutter.ScreenCast.Session"),
                "RecordMonitor",
                &("", properties),
            )
            .and_then(|m| m.body().deserialize())
            .expect("record the monitor");
        let proxy = zbus::blocking::Proxy::new(
            &self.bus,
            MUTTER_SC,
            stream.as_str(),
            "org.gnome.Mutter.ScreenCast.Stream",
        )
        .expect("stream proxy");
        let mut added = proxy
            .receive_signal("PipeWireStreamAdded")
            .expect("subscribe");
        self.bus
            .call_method(
                Some(MUTTER_SC),
                session.as_str(),
                Some("org.gnome.Mutter.ScreenCast.Session"),
                "Start",
                &(),
            )
            .expect("start the screen cast");
        let node: u32 = added
            .next()
            .expect("stream added")
            .body()
            .deserialize()
            .expect("node id");
        let socket = UnixStream::connect(self.session.path().join("pipewire-0")).expect("PipeWire");
        let frame =
            tandem::capture::portal::grab_node(Some(socket.into()), node, Duration::from_secs(20))
                .expect("a picture of the screen");
        let _ = self.bus.call_method(
            Some(MUTTER_SC),
            session.as_str(),
            Some("org.gnome.Mutter.ScreenCast.Session"),
            "Stop",
            &(),
        );
        frame
    }
}

/// A RemoteDesktop session of mutter's own, held for the desktop's life: the keyboard of
/// the person at this desktop.
fn remote_desktop_session(bus: &zbus::blocking::Connection) -> OwnedObjectPath {
    let session: OwnedObjectPath = bus
        .call_method(
            Some(MUTTER_RD),
            "/org/gnome/Mutter/RemoteDesktop",
            Some(MUTTER_RD),
            "CreateSession",
            &(),
        )
        .and_then(|m| m.body().deserialize())
        .expect("remote desktop session");
    bus.call_method(
        Some(MUTTER_RD),
        session.as_str(),
        Some("org.gnome.Mutter.RemoteDesktop.Session"),
        "Start",
        &(),
    )
    .expect("start the remote desktop session");
    session
}

/// `program` as the desktop's user, in a session of its own: `desktop` names the desktop
/// (`XDG_CURRENT_DESKTOP`), `wayland` the compositor's socket in `dir`.
pub(crate) fn desktop_command(
    dir: &Path,
    desktop: &str,
    wayland: &str,
    program: impl AsRef<std::ffi::OsStr>,
) -> Command {
    let mut cmd = if as_root() {
        let mut cmd = Command::new("/usr/sbin/runuser");
        cmd.args(["-u", DESKTOP_USER, "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    };
    let bus = format!("unix:path={}/bus", dir.display());
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("HOME", dir)
        .env("XDG_RUNTIME_DIR", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env("XDG_CURRENT_DESKTOP", desktop)
        .env("XDG_SESSION_TYPE", "wayland")
        .env("WAYLAND_DISPLAY", wayland)
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .env("LANG", "C.UTF-8")
        .current_dir(dir);
    cmd
}

/// The Wayland-native window that records the input it receives
/// (`tests/wayland/input-recorder.py`, GTK 4), full screen on the desktop.
pub struct InputRecorder {
    child: Child,
    events: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl InputRecorder {
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.events.lock().expect("events").clone()
    }

    pub fn clear(&self) {
        self.events.lock().expect("events").clear();
    }

    pub fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            let events = self.events();
            if done(&events) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: saw {events:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for InputRecorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
