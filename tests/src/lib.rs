//! Test harness: runs the real binaries (`tandem-rendezvous`, `tandem`) as processes and
//! reads their `--json` event streams.

pub mod gui;
pub mod hostile;
pub mod mailbox;
pub mod netns;
pub mod oidc;
pub mod redis;
pub mod scenes;
pub mod sway;
pub mod tempdir;
pub mod turn;
pub mod wan;
pub mod watchdog;
pub mod wayland;
pub mod wine;
pub mod xrecord;
pub mod xvfb;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the tests' peers try to reconnect after their path is lost (see
/// [`Peer::spawn_command`]).
pub const RECONNECT_LIMIT_SECS: &str = "8";

use serde_json::Value;

/// A workspace binary next to the test executable (`target/<profile>/NAME`).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/test-xxxx → target/<profile>; a binary (tandem-bench) already
    // sits in target/<profile>.
    let parent = exe.parent().expect("exe dir");
    let dir = if parent.ends_with("deps") {
        // A test binary: every end-to-end test starts here, so the hang guard does too.
        watchdog::arm();
        parent.parent().expect("target dir")
    } else {
        parent
    };
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not found: run `cargo build --workspace` first",
        path.display()
    );
    path
}

/// How long a process the tests start may take to say it is ready: a hang guard only.
pub const READY_GUARD: Duration = Duration::from_secs(60);

/// The first line `child` prints on its (piped) stdout, and the reader for the rest. A
/// child that says nothing within [`READY_GUARD`] is killed and the test fails naming it,
/// instead of waiting forever.
pub fn first_line(child: &mut Child, what: &str) -> (String, BufReader<std::process::ChildStdout>) {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send((line, reader));
    });
    match rx.recv_timeout(READY_GUARD) {
        Ok(got) => got,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} printed nothing in {} s", READY_GUARD.as_secs());
        }
    }
}

/// A `tandem-rendezvous` process on a free loopback port.
pub struct Rendezvous {
    child: Child,
    pub url: String,
    /// Its log lines so far (the last [`LOG_LINES`]), also passed on to the test's stderr.
    log: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<String>>>,
}

/// Log lines of a [`Rendezvous`] kept for [`Rendezvous::wait_for_log`].
const LOG_LINES: usize = 2000;

impl Rendezvous {
    pub fn start(extra: &[&str]) -> Self {
        Self::start_command(Command::new(bin("tandem-rendezvous")), "127.0.0.1:0", extra)
    }

    /// Inside network namespace `netns`, listening on `listen`.
    pub fn start_in(netns: &str, listen: &str, extra: &[&str]) -> Self {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", netns])
            .arg(bin("tandem-rendezvous"));
        Self::start_command(cmd, listen, extra)
    }

    /// With the process's open-file limit set to `files` (as a systemd unit's
    /// `LimitNOFILE` would): what a flood of connections runs into.
    pub fn start_with_file_limit(files: u64, extra: &[&str]) -> Self {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(bin("tandem-rendezvous"));
        // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: files,
                    rlim_max: files,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        Self::start_command(cmd, "127.0.0.1:0", extra)
    }

    fn start_command(mut cmd: Command, listen: &str, extra: &[&str]) -> Self {
        let mut child = cmd
            .args([
                "--listen",
                listen,
                "--allow-dev-identity",
                "--allocate-per-minute",
                "1000",
                "--allocate-burst",
                "1000",
                "--join-per-minute",
                "1000",
                "--join-burst",
                "1000",
                "--account-allocate-per-minute",
                "1000",
                "--account-allocate-burst",
                "1000",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tandem-rendezvous");
        let log = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        if let Some(stderr) = child.stderr.take() {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    eprintln!("{line}");
                    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                    if log.len() == LOG_LINES {
                        log.pop_front();
                    }
                    log.push_back(line);
                }
            });
        }
        let (line, _) = first_line(&mut child, "tandem-rendezvous");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Self { child, url, log }
    }
}

impl Rendezvous {
    /// The server's process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some` once the server has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// How many of its log lines so far contain `text`.
    pub fn logged(&self, text: &str) -> usize {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|line| line.contains(text))
            .count()
    }

    /// Waits until it has logged `text` `times` times in all.
    pub fn wait_for_log(&self, text: &str, times: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.logged(text) < times {
            assert!(
                Instant::now() < deadline,
                "the rendezvous did not log {text:?} within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Rendezvous {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `tandem` process in `--json` mode with its stdin held open.
pub struct Peer {
    pub name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    events: mpsc::Receiver<(Instant, Value)>,
    /// Every event seen so far, in order.
    pub seen: Vec<(Instant, Value)>,
}

impl Peer {
    pub fn assist(rendezvous: &str, name: &str, extra: &[&str]) -> Self {
        let mut args = vec![
            "assist",
            "--json",
            "--rendezvous",
            rendezvous,
            "--dev-identity",
            name,
        ];
        args.extend_from_slice(extra);
        Self::spawn("helper", &args)
    }

    pub fn share(rendezvous: &str, code: &str, extra: &[&str]) -> Self {
        let mut args = vec![
            "share",
            "--json",
            "--rendezvous",
            rendezvous,
            "--test-pattern",
            "640x360",
            code,
        ];
        args.extend_from_slice(extra);
        Self::spawn("sharer", &args)
    }

    /// A sharer showing a real X display.
    pub fn share_display(rendezvous: &str, code: &str, display: &str, extra: &[&str]) -> Self {
        let mut args = vec![
            "share",
            "--json",
            "--rendezvous",
            rendezvous,
            "--display",
            display,
            code,
        ];
        args.extend_from_slice(extra);
        Self::spawn("sharer", &args)
    }

    pub fn spawn(name: &'static str, args: &[&str]) -> Self {
        Self::spawn_command(name, Command::new(bin("tandem")), args)
    }

    /// A `tandem` process with extra environment variables (e.g. `BROWSER`).
    pub fn spawn_with_env(name: &'static str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(bin("tandem"));
        for (key, value) in env {
            cmd.env(key, value);
        }
        Self::spawn_command(name, cmd, args)
    }

    /// A `tandem` process whose home, working directory and XDG directories are all
    /// `home` (a fresh directory): whatever it writes on disk lands there.
    pub fn spawn_at_home(name: &'static str, args: &[&str], home: &std::path::Path) -> Self {
        let mut cmd = Command::new(bin("tandem"));
        // More logging than usual: it must still go to stderr only.
        cmd.current_dir(home)
            .env("HOME", home)
            .env("RUST_LOG", "info,rtc_ice=warn");
        for var in [
            "XDG_CONFIG_HOME",
            "XDG_CACHE_HOME",
            "XDG_DATA_HOME",
            "XDG_STATE_HOME",
            "XDG_RUNTIME_DIR",
            "TMPDIR",
        ] {
            cmd.env(var, home.join(var.to_lowercase()));
        }
        Self::spawn_command(name, cmd, args)
    }

    /// A `tandem` process inside network namespace `netns`.
    pub fn spawn_in(netns: &str, name: &'static str, args: &[&str]) -> Self {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", netns]).arg(bin("tandem"));
        Self::spawn_command(name, cmd, args)
    }

    pub fn spawn_command(name: &'static str, mut cmd: Command, args: &[&str]) -> Self {
        if !cmd.get_envs().any(|(key, _)| key == "RUST_LOG") {
            // TANDEM_TEST_LOG: the peers' log filter when a test needs a closer look.
            let filter = std::env::var("TANDEM_TEST_LOG");
            cmd.env(
                "RUST_LOG",
                filter.as_deref().unwrap_or("warn,rtc_ice=error"),
            );
        }
        // A killed peer looks like a lost network: the other side reconnects for this
        // long (60 s by default) before it ends, which must fit the tests' hang guards.
        if !cmd
            .get_envs()
            .any(|(key, _)| key == "TANDEM_RECONNECT_LIMIT")
        {
            cmd.env("TANDEM_RECONNECT_LIMIT", RECONNECT_LIMIT_SECS);
        }
        let mut child = cmd
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tandem");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if tx.send((Instant::now(), v)).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("[{name}] non-JSON output: {line}"),
                }
            }
        });
        Self {
            name,
            child,
            stdin,
            events: rx,
            seen: Vec::new(),
        }
    }

    /// Helper: the code it was issued, to read out to the sharer.
    pub fn code(&mut self, timeout: Duration) -> String {
        self.wait_for("code_issued", timeout)["code"]
            .as_str()
            .expect("code")
            .to_string()
    }

    /// Helper: asks for control and the person at `sharer` allows it; both then see it
    /// granted. Returns the sharer's `control_requested` event (who asked).
    pub fn take_control(&mut self, sharer: &mut Peer, timeout: Duration) -> Value {
        self.type_line("/control");
        let asked = sharer.wait_for("control_requested", timeout);
        sharer.type_line("y");
        sharer.wait_for("control_granted", timeout);
        self.wait_for("control_granted", timeout);
        asked
    }

    /// Types a line on the process's stdin.
    pub fn type_line(&mut self, line: &str) {
        assert!(
            self.try_type_line(line),
            "[{}] write stdin: the process has exited",
            self.name
        );
    }

    /// Types a line if the process is still there to read it (it may legitimately have
    /// ended already, e.g. on a protocol error); false when it was not.
    pub fn try_type_line(&mut self, line: &str) -> bool {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").is_ok() && stdin.flush().is_ok()
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the next event named `event`; panics with the history on timeout.
    pub fn wait_for(&mut self, event: &str, timeout: Duration) -> Value {
        self.wait_until(timeout, |v| v["event"] == event)
            .unwrap_or_else(|| {
                panic!(
                    "[{}] no {event} within {timeout:?}; saw {}",
                    self.name,
                    self.history()
                )
            })
    }

    /// Waits for an event matching `pred`; `None` on timeout or when the process ended.
    pub fn wait_until(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok((at, v)) => {
                    self.seen.push((at, v.clone()));
                    if pred(&v) {
                        return Some(v);
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// Waits for a new event matching `pred`, read back as the app's own typed
    /// [`tandem::session::Event`] (lines that are not one, such as `error`, never match).
    pub fn wait_event(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&tandem::session::Event) -> bool,
    ) -> tandem::session::Event {
        let typed = |v: &Value| serde_json::from_value::<tandem::session::Event>(v.clone()).ok();
        match self.wait_until(timeout, |v| typed(v).is_some_and(|e| pred(&e))) {
            Some(v) => typed(&v).expect("matched, so typed"),
            None => panic!(
                "[{}] no matching event within {timeout:?}; saw {}",
                self.name,
                self.history()
            ),
        }
    }

    /// Takes in every event already received, so later waits see only newer ones.
    pub fn drain(&mut self) {
        while let Ok((at, v)) = self.events.try_recv() {
            self.seen.push((at, v));
        }
    }

    /// Collects events for `period`, returning how many matched `pred`.
    pub fn count_for(&mut self, period: Duration, pred: impl Fn(&Value) -> bool) -> usize {
        let deadline = Instant::now() + period;
        let mut n = 0;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.events.recv_timeout(left) {
                Ok((at, v)) => {
                    if pred(&v) {
                        n += 1;
                    }
                    self.seen.push((at, v));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(left);
                    break;
                }
            }
        }
        n
    }

    /// Waits for the process to exit, draining its remaining events.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Drain what it printed before exiting.
                while let Ok(ev) = self.events.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(ev);
                }
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "[{}] did not exit within {timeout:?}; saw {}",
                    self.name,
                    self.history()
                );
            }
            while let Ok(ev) = self.events.try_recv() {
                self.seen.push(ev);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn count(&self, event: &str) -> usize {
        self.seen
            .iter()
            .filter(|(_, v)| v["event"] == event)
            .count()
    }

    pub fn find(&self, event: &str) -> Option<&Value> {
        self.seen
            .iter()
            .map(|(_, v)| v)
            .find(|v| v["event"] == event)
    }

    pub fn history(&self) -> String {
        let mut names: Vec<String> = Vec::new();
        for (_, v) in &self.seen {
            let name = v["event"].as_str().unwrap_or("?").to_string();
            if name == "frame_received" || name == "frame_sent" || name == "stats" {
                if names.last().is_some_and(|l| l.starts_with(&name)) {
                    continue;
                }
                names.push(format!("{name}…"));
            } else {
                names.push(v.to_string());
            }
        }
        names.join(", ")
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a helper and returns it with the code it was given.
pub fn helper_with_code(rendezvous: &str) -> (Peer, String) {
    let mut helper = Peer::assist(rendezvous, "Anna Rossi", &[]);
    let issued = helper.wait_for("code_issued", Duration::from_secs(20));
    let code = issued["code"].as_str().expect("code").to_string();
    (helper, code)
}

/// A code with the same nameplate and a different secret that passes the code's check: a
/// wrong guess the rendezvous and the pairing see (a typo would be caught before either).
pub fn wrong_secret(code: &str) -> String {
    let code = tandem_crypto::SessionCode::parse(code).expect("a valid code");
    loop {
        let other = tandem_crypto::SessionCode::generate(*code.nameplate());
        if other != code {
            return other.to_string();
        }
    }
}

/// The same code with one symbol changed: a typo that the code's check catches.
pub fn mistyped(code: &str) -> String {
    let mut symbols: Vec<char> = code.chars().collect();
    let last = symbols.len() - 1;
    symbols[last] = if symbols[last] == 'Z' { 'Y' } else { 'Z' };
    symbols.into_iter().collect()
}

/// Writes `size` bytes that do not compress (xorshift: deterministic, no dependency) to
/// `path`, handing each chunk to `seen` as it goes (to hash it, say).
pub fn write_incompressible(
    path: &std::path::Path,
    size: usize,
    mut seen: impl FnMut(&[u8]),
) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for chunk in buf.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(buf.len());
        out.write_all(&buf[..n])?;
        seen(&buf[..n]);
        left -= n;
    }
    out.flush()
}
