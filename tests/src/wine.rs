//! Windows programs under Wine for the tests: a private Wine prefix on a test's own Xvfb
//! display, the Windows build of `tandem` (made by `scripts/build-windows.sh`, which the
//! test run calls), and a small Win32 program that paints a known picture and records the
//! input it receives (`tests/windows/recorder.c`, built with MinGW-w64 when a test needs it).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::tempdir::Dir;

/// The Rust target of the Windows build.
pub const TARGET: &str = "x86_64-pc-windows-gnu";

/// `target/x86_64-pc-windows-gnu/debug/tandem.exe` beside this test build, if it was made.
pub fn windows_tandem() -> Option<PathBuf> {
    let linux_bin = crate::bin("tandem");
    let target_dir = linux_bin.parent()?.parent()?;
    let exe = target_dir.join(TARGET).join("debug").join("tandem.exe");
    exe.exists().then_some(exe)
}

/// Why the Windows build is missing, when the test run could not make it (the run says so
/// loudly: `scripts/test-all.sh` sets `TANDEM_WINDOWS_UNAVAILABLE`). `None`: it must exist.
pub fn unavailable_reason() -> Option<String> {
    std::env::var("TANDEM_WINDOWS_UNAVAILABLE").ok()
}

/// The Windows build, or `None` after saying loudly why the test does not run. Panics when
/// the build is missing for no stated reason (build it with `scripts/build-windows.sh debug`).
pub fn windows_tandem_or_skip(test: &str) -> Option<PathBuf> {
    if let Some(exe) = windows_tandem() {
        return Some(exe);
    }
    if let Some(reason) = unavailable_reason() {
        eprintln!("######## {test}: NOT RUN: no Windows build here ({reason}) ########");
        return None;
    }
    panic!(
        "{test}: target/{TARGET}/debug/tandem.exe is missing: run `scripts/build-windows.sh \
         debug` first (scripts/test-all.sh does)"
    );
}

fn source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("windows")
        .join(name)
}

/// Compiles a C file of `tests/windows` into a Windows executable or DLL at `out`.
pub fn mingw_build(src: &str, out: &Path, extra: &[&str]) {
    let status = Command::new("x86_64-w64-mingw32-gcc-posix")
        .arg("-O1")
        .arg("-o")
        .arg(out)
        .arg(source(src))
        .args(extra)
        .status()
        .expect("x86_64-w64-mingw32-gcc-posix (scripts/build-windows.sh installs MinGW-w64)");
    assert!(status.success(), "building {src} with MinGW-w64 failed");
}

/// A private Wine prefix whose windows appear on `display`.
pub struct Wine {
    dir: Dir,
    display: String,
}

impl Wine {
    /// A fresh prefix (`wineboot`), with the stand-in for the `ProcessPrng` that Wine 8
    /// lacks and Rust's std needs (`tests/windows/process_prng.c`).
    pub fn start(display: &str) -> Self {
        let dir = Dir::new("tandem-wine");
        let wine = Self {
            dir,
            display: display.to_string(),
        };
        let status = wine
            .command("wineboot")
            .arg("-i")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("wineboot (scripts/setup-deps.sh test installs wine)");
        assert!(status.success(), "wineboot failed");
        let system32 = wine.prefix().join("drive_c/windows/system32");
        assert!(system32.is_dir(), "no system32 in the new prefix");
        mingw_build(
            "process_prng.c",
            &system32.join("bcryptprimitives.dll"),
            &["-shared", "-ladvapi32"],
        );
        wine
    }

    pub fn prefix(&self) -> PathBuf {
        self.dir.path().join("prefix")
    }

    /// A scratch directory beside the prefix.
    pub fn scratch(&self) -> PathBuf {
        let dir = self.dir.path().join("scratch");
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    /// `program` (a Wine tool such as `wineboot`, or a path to an `.exe`) run by Wine in
    /// this prefix.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("wine");
        cmd.arg(program)
            .env("WINEPREFIX", self.prefix())
            .env("WINEDEBUG", "-all")
            .env("WINEARCH", "win64")
            // No Mono or Gecko installer dialogs in a fresh prefix.
            .env("WINEDLLOVERRIDES", "mscoree=;mshtml=")
            .env("DISPLAY", &self.display);
        cmd
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        let _ = Command::new("wineserver")
            .arg("-k")
            .env("WINEPREFIX", self.prefix())
            .status();
    }
}

/// What the recorder wrote, a line each (`key down scan=0x1e ext=0 vk=0x41`, `char 0x0061`,
/// `button left down 200 100`, `wheel vertical -120`).
pub struct Recorder {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    /// The size of the screen it covers.
    pub size: (u32, u32),
}

impl Recorder {
    /// Builds and starts the recorder in `wine`, and waits until its window is up.
    pub fn start(wine: &Wine) -> Self {
        let exe = wine.scratch().join("recorder.exe");
        if !exe.exists() {
            mingw_build("recorder.c", &exe, &["-lgdi32"]);
        }
        let mut child = wine
            .command(&exe)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the recorder under Wine");
        let (first, reader) = crate::first_line(&mut child, "the Windows recorder");
        let size = first
            .trim()
            .strip_prefix("ready ")
            .and_then(|s| s.split_once(' '))
            .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
            .unwrap_or_else(|| panic!("the recorder said {first:?}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in reader.lines() {
                let Ok(line) = line else { break };
                sink.lock().expect("lines").push(line);
            }
        });
        Self { child, lines, size }
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    /// Waits until `pred` holds for what was recorded; panics with it after `timeout` (a
    /// hang guard).
    pub fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.lines();
            if pred(&lines) {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "the Windows program did not receive {what}; it got {lines:#?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
