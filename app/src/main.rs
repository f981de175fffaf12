//! `tandem`: the app and its command line.
//!
//! - `tandem` (or `tandem gui`): the window: get help with a code, or help someone.
//! - `tandem assist`: be the helper in the terminal: sign in (browser, or a code for another
//!   device), then it prints the code to read out. `--dev-identity NAME` skips sign-in
//!   against a server started with `--allow-dev-identity` (demos, tests).
//! - `tandem share ABC-DEF-GHJ`: be the sharer in the terminal; asks before anything is shared.
//! - `tandem demo`: both, plus an embedded rendezvous, on this machine: two windows, or the
//!   terminal when there is no display (or with `--headless`).

#[cfg(feature = "demo")]
mod demo;
mod terminal;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, CommandFactory, Parser, Subcommand};
use tandem::session::{
    DecodedFrameRef, FileSettings, HelperIdentity, IceOptions, Role, SessionConfig, SessionHandle,
    SourceSpec, VideoConfig,
};
use tandem_crypto::{CodeError, SessionCode};
use terminal::Terminal;

#[derive(Parser)]
#[command(version, about = "Tandem remote assistance")]
struct Cli {
    /// Without a command, the window opens.
    #[command(subcommand)]
    command: Option<Mode>,
}

#[derive(Subcommand)]
enum Mode {
    /// The window (the default).
    Gui(GuiArgs),
    /// Help someone: get a code to read to them, then see their screen.
    Assist {
        #[command(flatten)]
        common: CommonArgs,
        /// Development only: identify with this name instead of signing in (the server
        /// must have been started with --allow-dev-identity).
        #[arg(long, env = "TANDEM_DEV_IDENTITY")]
        dev_identity: Option<String>,
        #[command(flatten)]
        sign_in: SignInArgs,
        /// When the session ends, save the last picture received as a PNG file.
        #[arg(long)]
        save_frame: Option<PathBuf>,
    },
    /// Get help: enter the code the helper read to you.
    Share {
        #[command(flatten)]
        common: CommonArgs,
        /// The code, e.g. ABC-DEF-GHJ (spaces, dashes and case do not matter).
        code: String,
        #[command(flatten)]
        video: VideoArgs,
    },
    /// What this machine could share: its monitors (with scale) and titled windows.
    Screens {
        /// The X display (default: $DISPLAY).
        #[arg(long)]
        display: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// How the screen would be captured (as for `share`).
        #[arg(long, value_enum, default_value_t = CaptureBackend::Auto)]
        capture: CaptureBackend,
        /// Also capture this many full frames and print what one costs (wall and CPU time).
        #[arg(long, value_name = "FRAMES")]
        time_capture: Option<u32>,
    },
    /// Print a completion script for a shell, e.g. `tandem completions bash`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; `tandem man | man -l -`), or write one page per
    /// command into a folder.
    Man {
        /// Write `tandem.1`, `tandem-share.1`… here instead of printing `tandem.1`.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// A whole session on this machine: embedded rendezvous, helper and sharer.
    #[cfg(feature = "demo")]
    Demo {
        /// How long to share before the helper ends the session.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[command(flatten)]
        video: VideoArgs,
        /// Run in this terminal even when there is a display for windows.
        #[arg(long)]
        headless: bool,
    },
}

#[derive(Args, Clone, Default)]
struct GuiArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Identify as this helper instead of signing in (the server must allow it).
    #[arg(long, env = "TANDEM_DEV_IDENTITY")]
    dev_identity: Option<String>,
    /// Language of the window (`en`, `it`); default: the system's.
    #[arg(long, env = "TANDEM_LANG")]
    lang: Option<String>,
    /// Which identity provider to sign in with, when the server trusts several (by name).
    #[arg(long, env = "TANDEM_SIGN_IN_PROVIDER")]
    sign_in_provider: Option<String>,
    /// Open the window in this half of the monitor (`tandem demo` opens two side by side).
    #[arg(long, value_enum)]
    place: Option<WindowSide>,
    /// Light or dark window; default: as the system says.
    #[arg(long, value_enum, env = "TANDEM_THEME", default_value_t = ThemeArg::System)]
    theme: ThemeArg,
    #[command(flatten)]
    video: VideoArgs,
}

#[derive(Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
enum ThemeArg {
    #[default]
    System,
    Light,
    Dark,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum WindowSide {
    Left,
    Right,
}

#[derive(Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
enum SignInMethod {
    /// The browser when this machine has one, else a code for another device.
    #[default]
    Auto,
    /// The system browser, which comes back to this app when done.
    Browser,
    /// A code to enter on another device (a phone, another computer).
    Device,
}

#[derive(Args, Clone, Default)]
struct SignInArgs {
    /// How the helper signs in.
    #[arg(long = "sign-in", value_enum, default_value_t)]
    sign_in: SignInMethod,
    /// Which identity provider, when the server trusts several (by name).
    #[arg(long, env = "TANDEM_SIGN_IN_PROVIDER")]
    sign_in_provider: Option<String>,
}

#[derive(Args, Clone, Default)]
struct CommonArgs {
    /// Rendezvous service URL (ws:// or wss://).
    #[arg(long, env = "TANDEM_RENDEZVOUS", default_value = "ws://127.0.0.1:8443")]
    rendezvous: String,
    /// Extra CA certificate (PEM) to trust for a wss:// rendezvous.
    #[arg(long, env = "TANDEM_RENDEZVOUS_CA")]
    rendezvous_ca: Option<PathBuf>,
    /// Allow a ws:// (plain text) rendezvous on another machine. The helper's sign-in token
    /// and the code's first half travel on that connection: only on a network you trust.
    #[arg(long)]
    insecure_rendezvous: bool,
    /// Print one JSON event per line instead of text.
    #[arg(long)]
    json: bool,
    /// Only use these local addresses for the session (default: all interfaces).
    #[arg(long, value_delimiter = ',')]
    bind: Vec<std::net::IpAddr>,
    /// Give up pairing after this many seconds.
    #[arg(long, default_value_t = 15)]
    pairing_timeout_secs: u64,
    /// Only connect through a TURN relay: the other side never learns this machine's
    /// addresses.
    #[arg(long)]
    relay_only: bool,
    /// Extra CA certificate (PEM) to trust for `turns:` relays.
    #[arg(long, env = "TANDEM_TURN_CA")]
    turn_ca: Option<PathBuf>,
    /// When the network drops mid-session, try to reconnect for this many seconds before
    /// ending the session [default: 60].
    #[arg(long, env = "TANDEM_RECONNECT_LIMIT", value_name = "SECS")]
    reconnect_limit: Option<u64>,
    /// Where files from the other side are saved [default: Downloads/Tandem in your home].
    #[arg(long, env = "TANDEM_RECEIVE_DIR", value_name = "DIR")]
    receive_dir: Option<PathBuf>,
    /// Take no file larger than this many megabytes (1 MB = 10⁶ bytes) [default: 4295].
    #[arg(long, value_name = "MB")]
    max_file_mb: Option<u64>,
    /// Take at most this many files in one session [default: 100].
    #[arg(long, value_name = "N")]
    max_files: Option<u32>,
}

#[derive(Args, Clone, Default)]
struct VideoArgs {
    /// Share a synthetic moving picture of this size (WIDTHxHEIGHT) instead of the screen.
    /// The default when there is no display to capture.
    #[arg(long, value_parser = parse_size)]
    test_pattern: Option<(u32, u32)>,
    /// The X display to share (default: $DISPLAY).
    #[arg(long)]
    display: Option<String>,
    /// Which monitor to start on (see the `monitors` event).
    #[arg(long)]
    monitor: Option<u32>,
    /// How the screen is captured: `x11` (MIT-SHM, fast), `xcap` (the platform's API:
    /// GDI on Windows, macOS), `dxgi` (Windows' desktop duplication, no GDI fallback),
    /// `portal` or `wlr` (Wayland), or `auto` (what suits this desktop).
    #[arg(long, value_enum, default_value_t = CaptureBackend::Auto)]
    capture: CaptureBackend,
    /// The most frames per second for changes that are costly to send; small ones (a
    /// caret, a counter) may go at up to 60.
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Read, hash and convert the whole screen for every frame, at the --fps cap: slower;
    /// for a display server that misreports what it drew (a picture that stops updating).
    #[arg(long)]
    whole_frames: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
enum CaptureBackend {
    #[default]
    Auto,
    X11,
    Xcap,
    /// Wayland: the ScreenCast portal and PipeWire.
    Portal,
    /// Wayland on wlroots (sway…): the compositor's screencopy protocol.
    Wlr,
    /// Windows: desktop duplication only (auto falls back to GDI where it is unavailable).
    Dxgi,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or("expected WIDTHxHEIGHT")?;
    let w: u32 = w.parse().map_err(|_| "bad width")?;
    let h: u32 = h.parse().map_err(|_| "bad height")?;
    if w % 2 != 0 || h % 2 != 0 || !(16..=8192).contains(&w) || !(16..=8192).contains(&h) {
        return Err("width and height must be even, 16…8192".into());
    }
    Ok((w, h))
}

impl VideoArgs {
    fn config(&self) -> VideoConfig {
        let source = match (self.test_pattern, self.capture) {
            (Some((width, height)), _) => SourceSpec::TestPattern { width, height },
            (None, CaptureBackend::X11) => SourceSpec::X11 {
                display: self.display.clone(),
                monitor: self.monitor,
            },
            (None, CaptureBackend::Xcap) => SourceSpec::Xcap {
                monitor: self.monitor,
            },
            (None, CaptureBackend::Portal) => SourceSpec::Portal {
                monitor: self.monitor,
            },
            (None, CaptureBackend::Wlr) => SourceSpec::Wlr {
                monitor: self.monitor,
            },
            (None, CaptureBackend::Dxgi) => SourceSpec::Duplication {
                monitor: self.monitor,
                or_gdi: false,
            },
            (None, CaptureBackend::Auto) => {
                let no_desktop = cfg!(target_os = "linux")
                    && self.display.is_none()
                    && ["DISPLAY", "WAYLAND_DISPLAY"]
                        .iter()
                        .all(|v| std::env::var_os(v).is_none_or(|d| d.is_empty()));
                if no_desktop {
                    eprintln!("No display to share ($DISPLAY is not set): sharing a test pattern.");
                    SourceSpec::TestPattern {
                        width: 1280,
                        height: 720,
                    }
                } else {
                    SourceSpec::this_desktop(self.display.clone(), self.monitor)
                }
            }
        };
        VideoConfig {
            source,
            fps: self.fps.clamp(1, 120),
            whole_frames: self.whole_frames,
            ..VideoConfig::default()
        }
    }
}

fn session_config(common: &CommonArgs) -> anyhow::Result<SessionConfig> {
    let tls = match &common.rendezvous_ca {
        Some(path) => Some(tandem_rendezvous::client::tls_config(Some(path))?),
        None => None,
    };
    Ok(SessionConfig {
        rendezvous: common.rendezvous.clone(),
        rendezvous_tls: tls,
        ice: IceOptions {
            only_addresses: common.bind.clone(),
            relay_only: common.relay_only,
            turn_ca: common.turn_ca.clone(),
            ..IceOptions::default()
        },
        pairing_timeout: Duration::from_secs(common.pairing_timeout_secs),
        insecure_rendezvous: common.insecure_rendezvous,
        reconnect_limit: common.reconnect_limit.map_or(
            SessionConfig::default().reconnect_limit,
            Duration::from_secs,
        ),
        files: file_settings(common),
        ..SessionConfig::default()
    })
}

fn file_settings(common: &CommonArgs) -> FileSettings {
    let mut files = FileSettings::default();
    if let Some(dir) = &common.receive_dir {
        files.receive_dir = Some(dir.clone());
    }
    if let Some(mb) = common.max_file_mb {
        files.limits.max_size = mb.saturating_mul(1_000_000);
    }
    if let Some(n) = common.max_files {
        files.limits.max_files = n;
    }
    files
}

/// Windows: coordinates in physical pixels on every monitor, whatever its scale. Without
/// this a process that opens no window (the terminal sharer) is DPI-unaware: Windows would
/// hand it scaled-down captures and scaled pointer positions on a 150 % monitor.
#[cfg(windows)]
fn become_dpi_aware() {
    use windows::Win32::UI::HiDpi::{
        SetProcessDpiAwarenessContext, DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2,
    };
    // SAFETY: no preconditions. It fails only when the awareness was already set (by a
    // manifest), which is the same outcome.
    let _ = unsafe { SetProcessDpiAwarenessContext(DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2) };
}

fn main() {
    #[cfg(windows)]
    become_dpi_aware();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,rtc_ice=error,winit=error".into()),
        )
        .init();
    let cli = Cli::parse();
    let command = match cli.command {
        Some(command) => command,
        // As `tandem gui`, so its environment variables apply.
        None => match Cli::parse_from(["tandem", "gui"]).command {
            Some(command) => command,
            None => Mode::Gui(GuiArgs::default()),
        },
    };
    // The window runs on the main thread with its own runtime.
    if let Mode::Gui(args) = command {
        std::process::exit(match run_gui(args) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("tandem: {e:#}");
                1
            }
        });
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tandem: cannot start: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(run(command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tandem: {e:#}");
            1
        }
    };
    // Exit before the runtime drops: tokio's stdin reader is a blocking thread that would
    // otherwise keep the process alive until the user presses Enter.
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

fn run_gui(args: GuiArgs) -> anyhow::Result<()> {
    let mut session = session_config(&args.common)?;
    session.video = args.video.config();
    let language = args.lang.unwrap_or_else(tandem::gui::i18n::system_language);
    tandem::gui::run(tandem::gui::GuiOptions {
        session,
        identity: args.dev_identity.map(|name| HelperIdentity::Dev { name }),
        sign_in_ca: args.common.rendezvous_ca.clone(),
        sign_in_provider: args.sign_in_provider.clone(),
        language,
        place: match args.place {
            Some(WindowSide::Left) => tandem::gui::WindowPlace::Left,
            Some(WindowSide::Right) => tandem::gui::WindowPlace::Right,
            None => tandem::gui::WindowPlace::Default,
        },
        theme: match args.theme {
            ThemeArg::System => tandem::gui::ThemeChoice::System,
            ThemeArg::Light => tandem::gui::ThemeChoice::Light,
            ThemeArg::Dark => tandem::gui::ThemeChoice::Dark,
        },
    })?;
    Ok(())
}

async fn run(command: Mode) -> anyhow::Result<i32> {
    match command {
        Mode::Gui(_) => anyhow::bail!("the window runs outside the runtime"),
        Mode::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "tandem", &mut std::io::stdout());
            Ok(0)
        }
        Mode::Man { dir: Some(dir) } => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), &dir)
                .with_context(|| format!("cannot write the pages into {}", dir.display()))?;
            Ok(0)
        }
        Mode::Man { dir: None } => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(0)
        }
        Mode::Screens {
            display,
            json,
            capture,
            time_capture,
        } => screens(display, json, capture, time_capture),
        Mode::Assist {
            common,
            dev_identity,
            sign_in,
            save_frame,
        } => {
            let identity = match dev_identity {
                Some(name) => HelperIdentity::Dev { name },
                None => match sign_in_in_terminal(&common, &sign_in).await {
                    Ok(token) => HelperIdentity::IdToken { token },
                    Err(e) => {
                        report_sign_in_error(common.json, &e);
                        return Ok(3);
                    }
                },
            };
            let mut config = session_config(&common)?;
            let last_frame = Arc::new(std::sync::Mutex::new(None::<(u32, u32, Vec<u8>)>));
            if save_frame.is_some() {
                let keep = last_frame.clone();
                config.frame_sink = Some(Arc::new(move |f: &DecodedFrameRef<'_>| {
                    if let Ok(mut slot) = keep.lock() {
                        match slot.as_mut() {
                            Some((w, h, buf)) if *w == f.width && *h == f.height => {
                                buf.copy_from_slice(f.rgba)
                            }
                            _ => *slot = Some((f.width, f.height, f.rgba.to_vec())),
                        }
                    }
                }));
            }
            let ui = Terminal::new(Role::Helper, common.json);
            let code = ui.drive(SessionHandle::helper(config, identity)).await?;
            if let Some(path) = save_frame {
                let frame = last_frame.lock().ok().and_then(|mut f| f.take());
                match frame {
                    Some((w, h, rgba)) => save_png(&path, w, h, &rgba)?,
                    None => eprintln!(
                        "tandem: no picture was received; {} not written",
                        path.display()
                    ),
                }
            }
            Ok(code)
        }
        Mode::Share {
            common,
            code,
            video,
        } => {
            let code = match SessionCode::parse(&code) {
                Ok(code) => code,
                Err(e) => {
                    // Checked here, before the rendezvous is asked: the helper's code is
                    // not spent by a typo.
                    report_code_error(common.json, &code, &e);
                    return Ok(2);
                }
            };
            let mut config = session_config(&common)?;
            config.video = video.config();
            let ui = Terminal::new(Role::Sharer, common.json);
            ui.drive(SessionHandle::sharer(config, code)).await
        }
        #[cfg(feature = "demo")]
        Mode::Demo {
            seconds,
            video,
            headless,
        } => {
            if headless || std::env::var_os("DISPLAY").is_none() {
                demo::in_terminal(seconds, video).await
            } else {
                demo::in_windows(video).await
            }
        }
    }
}

/// Signs the helper in for this run; returns a fresh ID token. The tokens stay in this
/// process's memory and go when it exits.
async fn sign_in_in_terminal(
    common: &CommonArgs,
    args: &SignInArgs,
) -> Result<String, tandem::sign_in::SignInError> {
    use tandem::sign_in::{open_in_browser, SignInClient, SignInError};
    let json = common.json;
    let client = SignInClient::new(common.rendezvous_ca.as_deref())?;
    let provider = client
        .provider_for(&common.rendezvous, args.sign_in_provider.as_deref())
        .await?;
    let has_browser = std::env::var_os("BROWSER").is_some()
        || std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some();
    let use_browser = match args.sign_in {
        SignInMethod::Browser => true,
        SignInMethod::Device => false,
        SignInMethod::Auto => {
            provider.supports_browser && (has_browser || !provider.supports_device_code)
        }
    };
    // Ctrl-C cancels the sign-in cleanly.
    let (cancel_tx, cancel) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = cancel_tx.send(true);
        }
    });
    let mut signed_in = if use_browser {
        client
            .sign_in_with_browser(
                &provider,
                |url| {
                    if json {
                        print_json(serde_json::json!({ "event": "sign_in_browser", "url": url }));
                    } else {
                        println!("Sign in with {} in your browser. If it does not open, open this address:\n  {url}", provider.info.name);
                    }
                    // The address is printed: a browser that fails to open is not fatal.
                    if let Err(e) = open_in_browser(url) {
                        eprintln!("tandem: {e}");
                    }
                    Ok::<(), SignInError>(())
                },
                cancel,
            )
            .await?
    } else {
        client
            .sign_in_with_device_code(
                &provider,
                |code| {
                    if json {
                        print_json(serde_json::json!({
                            "event": "sign_in_device_code",
                            "user_code": code.user_code,
                            "verification_uri": code.verification_uri,
                            "verification_uri_complete": code.verification_uri_complete,
                            "expires_in_secs": code.expires_in_secs,
                        }));
                    } else {
                        println!(
                            "To sign in with {}, open {} on your phone or another computer and enter the code {}",
                            provider.info.name, code.verification_uri, code.user_code
                        );
                    }
                },
                cancel,
            )
            .await?
    };
    let token = signed_in.fresh_id_token().await?;
    if json {
        print_json(serde_json::json!({
            "event": "signed_in",
            "name": signed_in.display_name,
            "provider": provider.info.name,
        }));
    } else {
        println!("Signed in as {}.", signed_in.display_name);
    }
    Ok(token)
}

fn report_sign_in_error(json: bool, e: &tandem::sign_in::SignInError) {
    if json {
        print_json(serde_json::json!({
            "event": "sign_in_failed",
            "kind": e.kind(),
            "message": e.to_string(),
        }));
    } else {
        eprintln!("tandem: {e}");
    }
}

fn report_code_error(json: bool, typed: &str, e: &CodeError) {
    let (kind, advice) = match e {
        CodeError::Mistyped => (
            "mistyped_code",
            "This code doesn't look right (a symbol is wrong or two are swapped): \
             check it with the person helping you. Nothing was sent, so the code still works.",
        ),
        CodeError::Empty | CodeError::WrongLength { .. } | CodeError::InvalidSymbol(_) => (
            "malformed_code",
            "A code has 9 letters and digits, like ABC-DEF-GHJ.",
        ),
    };
    if json {
        print_json(serde_json::json!({
            "event": "error",
            "kind": kind,
            "message": e.to_string(),
            "typed": typed,
        }));
    } else {
        eprintln!("tandem: {typed:?}: {e}. {advice}");
    }
}

fn print_json(value: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

fn save_png(path: &std::path::Path, width: u32, height: u32, rgba: &[u8]) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgba)?;
    writer.finish()?;
    Ok(())
}

fn screens(
    display: Option<String>,
    json: bool,
    capture: CaptureBackend,
    time_capture: Option<u32>,
) -> anyhow::Result<i32> {
    use tandem::capture::{self, SourceSpec};
    // What a session would capture with. On Wayland the portal's streams are what can be
    // shared (asking the person, as a session would); X11 windows would be XWayland's only.
    let spec = match capture {
        CaptureBackend::Auto => SourceSpec::this_desktop(display.clone(), None),
        _ => {
            VideoArgs {
                display: display.clone(),
                capture,
                ..VideoArgs::default()
            }
            .config()
            .source
        }
    };
    let mut source = capture::open(&spec)?;
    #[cfg(target_os = "linux")]
    let windows = match spec {
        SourceSpec::X11 { .. } => capture::x11::list_windows(display.as_deref())?,
        _ => Vec::new(),
    };
    #[cfg(not(target_os = "linux"))]
    let windows = Vec::new();
    print_screens(source.as_ref(), &windows, json)?;
    if let Some(frames) = time_capture {
        let cost = capture::cost::measure(source.as_mut(), frames)?;
        if json {
            println!("{}", serde_json::json!({ "capture_cost": cost }));
        } else {
            println!(
                "capture {}: {}×{}, {} frames: {:.2} ms median, {:.2} ms p95 wall time; {:.2} ms CPU per frame",
                cost.method,
                cost.width,
                cost.height,
                cost.frames,
                cost.wall_ms_p50,
                cost.wall_ms_p95,
                cost.cpu_ms_per_frame
            );
        }
    }
    Ok(0)
}

fn print_screens(
    source: &dyn tandem::capture::ScreenSource,
    windows: &[tandem::capture::WindowInfo],
    json: bool,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let method = source.method();
    if json {
        writeln!(out, "{}", serde_json::json!({ "capture": method }))?;
    } else {
        match &method.fallback {
            Some(why) => writeln!(out, "captured with {} ({why})", method.method)?,
            None => writeln!(out, "captured with {}", method.method)?,
        }
    }
    for m in source.monitors() {
        if json {
            writeln!(out, "{}", serde_json::json!({ "monitor": m }))?;
        } else {
            writeln!(
                out,
                "monitor {}: {} {}×{} at ({}, {}) on screen {}, scale {} %{}",
                m.id,
                m.name,
                m.width,
                m.height,
                m.x,
                m.y,
                m.screen,
                m.scale_percent,
                if m.primary { ", primary" } else { "" }
            )?;
        }
    }
    for w in windows {
        if json {
            writeln!(out, "{}", serde_json::json!({ "window": w }))?;
        } else {
            writeln!(
                out,
                "window {:#x}: {:?} {}×{} at ({}, {}) on screen {}",
                w.id, w.title, w.width, w.height, w.x, w.y, w.screen
            )?;
        }
    }
    Ok(())
}
