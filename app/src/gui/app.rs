//! The GUI's state, messages and screens. All session work happens in the engine; this
//! turns its events into screens and the person's clicks and keys into its commands.

use std::sync::Arc;
use std::time::{Duration, Instant};

use iced::widget::{column, container, image, row, text};
use iced::{keyboard, mouse, window, Alignment, Element, Length, Point, Size, Subscription, Task};
use tokio::sync::mpsc;

mod files;
mod focus;
mod home;
mod overlay;
mod sharer_view;
mod viewer_view;

pub use focus::FocusTarget;
pub use overlay::{
    border_strips, Overlay, SHARED_BORDER, SHARED_BORDER_CONTROLLED, SHARED_BORDER_WIDTH,
};
use viewer_view::{ItemKind, ToolbarItem};

use super::engine::{self, EngineMsg, FrameSlot, RemoteFrame, SessionFailure, Start};
use super::i18n::Strings;
use super::keys;
use super::sign_in::{self as gui_sign_in, HelperAuth, SignInMsg, SignInPrompt};
use super::style::{self, Icon, ThemeChoice};
use crate::annotation::{Annotation, PenColour, Sketch};
use crate::input::view::ViewTransform;
use crate::input::{DeclineReason, InputEvent, PointerButton};
use crate::session::{
    CaptureInfo, CodeRetiredReason, Command, CursorPicture, EndReason, Event, HelperIdentity,
    MonitorInfo, PathInfo, Role, SessionConfig,
};
use crate::sign_in::{SignInClient, SignInError, SignedIn};
use tandem_crypto::{CodeError, SessionCode};

/// The sharer's window while sharing: a small bar.
const BAR_WIDTH: f32 = 560.0;
const BAR_HEIGHT: f32 = 150.0;
/// The main window's size when it opens (and as a dialog again after sharing).
const MAIN_WINDOW: Size = Size::new(900.0, 640.0);
/// The bar's line for a chat message that came while the chat was closed.
const CHAT_NOTICE_HEIGHT: f32 = 44.0;

/// What the GUI needs to run sessions.
#[derive(Clone)]
pub struct GuiOptions {
    pub session: SessionConfig,
    /// A development identity (`--dev-identity`); `None`: the helper signs in with the
    /// identity provider the rendezvous names.
    pub identity: Option<HelperIdentity>,
    /// A PEM certificate to trust besides the public roots for sign-in (a private
    /// rendezvous or identity provider).
    pub sign_in_ca: Option<std::path::PathBuf>,
    /// Which of the rendezvous's identity providers (by name); default: its first.
    pub sign_in_provider: Option<String>,
    /// A language code or POSIX locale (`it`, `it_IT.UTF-8`); English if the app lacks it.
    pub language: String,
    /// Where the window opens (`tandem demo` puts its two side by side).
    pub place: WindowPlace,
    /// Light, dark, or as the system says.
    pub theme: ThemeChoice,
}

/// Where the main window opens on its monitor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WindowPlace {
    /// Where the desktop puts new windows.
    #[default]
    Default,
    /// The left half of the monitor, centred in it.
    Left,
    /// The right half.
    Right,
}

/// The top-left corner of a window of `window` size in one half of a `monitor`: centred in
/// that half, inside the monitor even when the halves are narrower than the window (the
/// two then overlap, the right one above).
pub fn place_in_half(window: Size, monitor: Size, right: bool) -> Point {
    let half = monitor.width / 2.0;
    let centred = (half - window.width) / 2.0;
    let x = if right { half + centred } else { centred };
    let x = x.clamp(0.0, (monitor.width - window.width).max(0.0));
    let y = ((monitor.height - window.height) / 2.0).max(0.0);
    Point::new(x, y)
}

fn place_left(window: Size, monitor: Size) -> Point {
    place_in_half(window, monitor, false)
}

fn place_right(window: Size, monitor: Size) -> Point {
    place_in_half(window, monitor, true)
}

/// Widget ids the tests (and keyboard focus) use.
pub mod ids {
    pub const CODE_INPUT: &str = "code";
    pub const CHAT_INPUT: &str = "chat";
}

#[derive(Debug, Clone)]
pub enum Message {
    CodeChanged(String),
    SubmitCode,
    HelpSomeone,
    /// Helper sign-in: in the browser, or with a code on another device.
    SignIn {
        device: bool,
    },
    SignInUpdate(u64, SignInMsg),
    /// The helper chose this identity provider.
    SignInWith {
        provider: String,
    },
    CancelSignIn,
    SignOut,
    /// A token for the helper's next session (the sign-in, maybe refreshed, comes back).
    HelperToken(u64, Box<SignedIn>, Result<String, SignInError>),
    CopySignInAddress,
    OpenSignInAgain,
    CancelHelper,
    CopyCode,
    Tick(Instant),
    /// The system switched between light and dark.
    SystemTheme(iced::theme::Mode),
    /// A window's new size.
    Resized(window::Id, Size),
    /// The helper's "More" menu opens or closes.
    ToggleMore,
    /// A choice in the "More" menu: the menu closes, the choice is made.
    MenuChoice(Box<Message>),
    Engine(u64, EngineMsg),
    /// Sharer: the consent dialog.
    Allow,
    Cancel,
    /// Sharer: the control dialog and the bar.
    GrantControl,
    DeclineControl,
    RevokeControl,
    /// Sharer: the clipboard dialog and the bar.
    GrantClipboard,
    DeclineClipboard,
    RevokeClipboard,
    Pause,
    Resume,
    End,
    /// Helper's toolbar.
    SelectMonitor(Choice<u32>),
    ToggleFit,
    ToggleChat,
    RequestControl,
    ReleaseControl,
    RequestClipboard,
    ReleaseClipboard,
    ChatDraft(String),
    SendChat,
    /// Helper: the chat box's text typed on the sharer's computer as keys instead.
    TypeDraft,
    /// Helper: mouse and keys over the remote screen.
    PointerMoved(Point, Size),
    PointerLeft,
    PointerButton(PointerButton, bool),
    Wheel(mouse::ScrollDelta),
    Keyboard(keyboard::Event),
    FrameAllocated(
        u64,
        Result<iced_runtime::image::Allocation, iced_runtime::image::Error>,
    ),
    /// Helper: annotation tools.
    SelectTool(Tool),
    SelectColour(Choice<PenColour>),
    ClearAnnotations,
    WindowOpened(window::Id),
    WindowClosed(window::Id),
    /// Sharer: the annotation overlay window is open; its X window id.
    OverlayOpened(window::Id),
    OverlayNativeId(u64),
    /// The sharer's bar's native window id (to keep it above the overlay).
    BarNativeId(u64),
    /// Files: the helper's toolbar, the sharer's questions, both sides' transfers.
    ChooseFileToSend,
    /// The file chooser's answer (`Ok(None)`: closed without a choice).
    FileChosen(Result<Option<std::path::PathBuf>, String>),
    FileDropped(std::path::PathBuf),
    AskForFile,
    AcceptFile(u32),
    DeclineFile(u32),
    CancelFile(u32),
    DismissFile(u32),
    OpenReceiveFolder,
}

/// What the helper's mouse does over the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tool {
    /// Mouse input for the sharer's desktop (when control is granted).
    #[default]
    Pointer,
    Pen,
    Laser,
}

/// An entry of a drop-down list: a value with the words shown for it (a monitor by id, a
/// pen colour).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice<T> {
    pub value: T,
    pub label: String,
}

impl<T> std::fmt::Display for Choice<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlState {
    None,
    Requested,
    Granted,
}

/// Chat lines the window keeps.
pub const CHAT_LINES: usize = 500;

#[derive(Debug, Clone, PartialEq)]
pub struct ChatLine {
    pub from: Role,
    pub text: String,
}

#[derive(Debug, Default)]
pub struct Viewer {
    pub consented: bool,
    pub monitors: Vec<MonitorInfo>,
    pub current_monitor: u32,
    pub fit: bool,
    pub control: Option<ControlState>,
    /// Clipboard sharing, as the sharer last said.
    pub clipboard: Option<ControlState>,
    pub paused_by: Option<Role>,
    pub path: Option<PathInfo>,
    /// How the sharer's screen is captured (a GDI fallback explains a slow picture).
    pub capture: Option<CaptureInfo>,
    pub rtt_ms: Option<f64>,
    pub fps: Option<f64>,
    pub notice: Option<String>,
    /// What is drawn, and its pre-uploaded texture (kept alive while shown).
    pub shown: Option<(RemoteFrame, Option<iced_runtime::image::Allocation>)>,
    /// A frame waiting for its upload; newer frames wait in the slot meanwhile.
    pub uploading: Option<RemoteFrame>,
    pub cursor: Option<(i32, i32)>,
    pub cursor_picture: Option<(CursorPicture, image::Handle)>,
    /// The last pointer position over the picture, in the sharer's pixels.
    pub pointer: Option<(u32, u32)>,
    pub frames_shown: u64,
    /// Frames decoded and shown at the last stats line.
    pub counted: (u64, u64),
    pub tool: Tool,
    pub colour: PenColour,
    /// What the helper drew (mirrors the sharer's overlay).
    pub sketch: Sketch,
    /// The stroke being drawn while the button is held.
    pub drawing: Option<u32>,
    pub next_stroke: u32,
    /// The "More" menu (the toolbar's overflow in a narrow window) is open.
    pub more_open: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharerControl {
    None,
    Asked,
    Helper,
}

#[derive(Debug)]
pub enum Screen {
    Home {
        code: String,
        error: Option<String>,
        notice: Option<String>,
    },
    HelperCode {
        code: Option<String>,
        expires_at: Option<Instant>,
        joined: bool,
        copied: bool,
        /// Why the previous code was replaced by this one, if it was.
        replaced: Option<CodeRetiredReason>,
    },
    Viewer(Box<Viewer>),
    SharerJoining,
    SharerConsent {
        helper_name: String,
        /// The organisation the rendezvous verified; `None`: the name is not verified.
        affiliation: Option<String>,
    },
    Sharing {
        helper_name: String,
        control: SharerControl,
        /// Clipboard sharing: asked, or allowed (`Helper`).
        clipboard: SharerControl,
        paused_by: Option<Role>,
        /// A Windows prompt is on the secure desktop: the person answers it.
        secure_desktop: bool,
        /// The network dropped: the session looks for a new path.
        reconnecting: bool,
    },
}

pub struct App {
    t: Strings,
    session: SessionConfig,
    pub auth: HelperAuth,
    sign_in_client: Result<SignInClient, SignInError>,
    sign_in_provider: Option<String>,
    /// Sign-in answers from an older attempt are ignored.
    sign_in_attempt: u64,
    /// How sign-in pages are opened (the system browser; tests are the person instead).
    pub open_browser: gui_sign_in::OpenBrowser,
    pub screen: Screen,
    role: Option<Role>,
    commands: Option<mpsc::UnboundedSender<Command>>,
    pub(super) frames: Arc<FrameSlot>,
    /// Messages from an older session are ignored.
    epoch: u64,
    peer_name: Option<String>,
    pub chat: Vec<ChatLine>,
    pub chat_open: bool,
    pub chat_unread: bool,
    chat_draft: String,
    /// The code as typed, kept when it fails so nothing typed is lost.
    last_code: String,
    window: Option<window::Id>,
    pub overlay: Overlay,
    #[cfg(target_os = "linux")]
    x11: Option<super::overlay_x11::X11Overlay>,
    /// The sharer's bar, natively (see [`Message::BarNativeId`]).
    bar_native: Option<u64>,
    /// Files offered, asked for, moving or just finished, oldest first.
    pub files: Vec<files::FileRow>,
    now: Instant,
    theme_choice: ThemeChoice,
    /// What the system prefers (the desktop's setting, followed live).
    pub system_theme: iced::theme::Mode,
    /// The keyboard's place in [`App::focus_ring`]; `None` until Tab is pressed.
    pub focus: Option<usize>,
    /// The main window's width (logical pixels): whether the toolbar is in one row.
    pub window_width: f32,
}

impl App {
    pub fn new(options: GuiOptions) -> Self {
        Self {
            t: Strings::load(&options.language).unwrap_or_else(|_| Strings::english()),
            session: options.session,
            auth: match options.identity {
                Some(HelperIdentity::Dev { name }) => HelperAuth::Dev(name),
                _ => HelperAuth::SignedOut { error: None },
            },
            sign_in_client: SignInClient::new(options.sign_in_ca.as_deref()),
            sign_in_provider: options.sign_in_provider,
            sign_in_attempt: 0,
            open_browser: crate::sign_in::open_in_browser,
            screen: Screen::Home {
                code: String::new(),
                error: None,
                notice: None,
            },
            role: None,
            commands: None,
            frames: Arc::new(FrameSlot::default()),
            epoch: 0,
            peer_name: None,
            chat: Vec::new(),
            chat_open: false,
            chat_unread: false,
            chat_draft: String::new(),
            last_code: String::new(),
            window: None,
            overlay: Overlay::default(),
            #[cfg(target_os = "linux")]
            x11: None,
            bar_native: None,
            files: Vec::new(),
            now: Instant::now(),
            theme_choice: options.theme,
            system_theme: iced::theme::Mode::None,
            focus: None,
            window_width: MAIN_WINDOW.width,
        }
    }

    /// Light, dark or the system's from now on.
    pub fn set_theme_choice(&mut self, choice: ThemeChoice) {
        self.theme_choice = choice;
    }

    /// The palette for every window: the person's choice, else the system's.
    pub fn theme(&self, _window: window::Id) -> iced::Theme {
        self.theme_choice.theme(self.system_theme)
    }

    /// Says by role what the window is for, so the two of `tandem demo`, or a helper's
    /// window among others, tell themselves apart in a task bar.
    pub fn title(&self, window: window::Id) -> String {
        if Some(window) == self.overlay.window {
            return self.t.get("window-title-overlay");
        }
        match (&self.screen, &self.peer_name) {
            // The sharer has no account: the helper's window knows a name only if one came.
            (Screen::Viewer(_), Some(name)) => self
                .t
                .with("window-title-helping", &[("name", name.as_str())]),
            (Screen::Viewer(_), None) => self.t.get("window-title-helping-someone"),
            (Screen::Sharing { .. }, _) => self
                .t
                .with("window-title-sharing", &[("name", &self.peer())]),
            (Screen::HelperCode { .. }, _) => self.t.get("window-title-code"),
            _ => self.t.get("app-title"),
        }
    }

    /// The main window's settings (the daemon opens it at start).
    pub fn main_window(place: WindowPlace) -> window::Settings {
        window::Settings {
            size: MAIN_WINDOW,
            position: match place {
                WindowPlace::Default => window::Position::Default,
                WindowPlace::Left => window::Position::SpecificWith(place_left),
                WindowPlace::Right => window::Position::SpecificWith(place_right),
            },
            // What desktops match to a launcher entry and an icon (and tests find it by).
            #[cfg(target_os = "linux")]
            platform_specific: window::settings::PlatformSpecific {
                application_id: "tandem".into(),
                ..Default::default()
            },
            ..window::Settings::default()
        }
    }

    fn send(&self, command: Command) {
        if let Some(commands) = &self.commands {
            // A closed channel means the session already ended; its end arrives as a message.
            let _ = commands.send(command);
        }
    }

    fn peer(&self) -> String {
        self.peer_name
            .clone()
            .unwrap_or_else(|| self.t.get("peer-anonymous"))
    }

    /// Which session the engine messages must carry to be heeded.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Tests: where the window's commands go, without a session behind it.
    #[cfg(test)]
    pub fn send_commands_to(&mut self, commands: mpsc::UnboundedSender<Command>) {
        self.commands = Some(commands);
    }

    /// Keeps the latest [`CHAT_LINES`] lines: a session's chat is short, a flood is cut.
    fn push_chat(&mut self, line: ChatLine) {
        if self.chat.len() >= CHAT_LINES {
            self.chat.remove(0);
        }
        self.chat.push(line);
    }

    /// The words of the window's language.
    pub fn strings(&self) -> &Strings {
        &self.t
    }

    fn start(&mut self, start: Start) -> Task<Message> {
        self.epoch += 1;
        let epoch = self.epoch;
        self.frames = Arc::new(FrameSlot::default());
        self.chat.clear();
        self.chat_open = false;
        self.chat_unread = false;
        self.peer_name = None;
        let mut config = self.session.clone();
        if matches!(start, Start::Helper(_)) {
            self.role = Some(Role::Helper);
            config.frame_sink = Some(self.frames.sink());
        } else {
            self.role = Some(Role::Sharer);
        }
        Task::run(
            engine::run(config, start, Arc::clone(&self.frames)),
            move |m| Message::Engine(epoch, m),
        )
    }

    /// "Help someone": straight to a code when signed in, else sign in first.
    fn help_someone(&mut self) -> Task<Message> {
        let placeholder = Screen::HelperCode {
            code: None,
            expires_at: None,
            joined: false,
            copied: false,
            replaced: None,
        };
        match std::mem::replace(&mut self.auth, HelperAuth::SignedOut { error: None }) {
            HelperAuth::Dev(name) => {
                self.auth = HelperAuth::Dev(name.clone());
                self.screen = placeholder;
                self.start(Start::Helper(HelperIdentity::Dev { name }))
            }
            HelperAuth::SignedIn { session, stale } => {
                // The session starts once a fresh token is in hand (a refresh may be needed).
                self.screen = placeholder;
                self.epoch += 1;
                let epoch = self.epoch;
                let keep = session.clone();
                self.auth = HelperAuth::SignedIn {
                    session: keep,
                    stale,
                };
                Task::perform(
                    gui_sign_in::token_for_session(session, stale),
                    move |(session, result)| Message::HelperToken(epoch, session, result),
                )
            }
            HelperAuth::SignedOut { .. } => self.sign_in(false, true),
            // Already on the way: the sign-in, or the choice of provider, is on screen.
            busy @ (HelperAuth::SigningIn { .. } | HelperAuth::ChoosingProvider { .. }) => {
                self.auth = busy;
                Task::none()
            }
        }
    }

    fn sign_in(&mut self, device: bool, then_help: bool) -> Task<Message> {
        let provider = self.sign_in_provider.clone();
        self.sign_in_with(device, then_help, provider)
    }

    fn sign_in_with(
        &mut self,
        device: bool,
        then_help: bool,
        provider: Option<String>,
    ) -> Task<Message> {
        let client = match &self.sign_in_client {
            Ok(client) => client.clone(),
            Err(e) => {
                self.auth = HelperAuth::SignedOut {
                    error: Some(sign_in_error_text(&self.t, e)),
                };
                return Task::none();
            }
        };
        if let HelperAuth::SigningIn { cancel, .. } = &self.auth {
            let _ = cancel.send(true);
        }
        self.sign_in_attempt += 1;
        let attempt = self.sign_in_attempt;
        let (cancel, cancelled) = tokio::sync::watch::channel(false);
        self.auth = HelperAuth::SigningIn {
            device,
            prompt: None,
            then_help,
            cancel,
        };
        Task::run(
            gui_sign_in::run(
                client,
                self.session.rendezvous.clone(),
                provider,
                device,
                self.open_browser,
                cancelled,
            ),
            move |m| Message::SignInUpdate(attempt, m),
        )
    }

    fn sign_in_update(&mut self, msg: SignInMsg) -> Task<Message> {
        let HelperAuth::SigningIn {
            prompt,
            then_help,
            device,
            ..
        } = &mut self.auth
        else {
            return Task::none();
        };
        match msg {
            SignInMsg::Choose(providers) => {
                let (device, then_help) = (*device, *then_help);
                self.auth = HelperAuth::ChoosingProvider {
                    providers,
                    device,
                    then_help,
                };
                Task::none()
            }
            SignInMsg::Prompt(p) => {
                *prompt = Some(p);
                Task::none()
            }
            SignInMsg::Done(Ok(session)) => {
                let then_help = *then_help;
                self.auth = HelperAuth::SignedIn {
                    session,
                    stale: false,
                };
                if then_help && matches!(self.screen, Screen::Home { .. }) {
                    self.help_someone()
                } else {
                    Task::none()
                }
            }
            SignInMsg::Done(Err(e)) => {
                self.auth = HelperAuth::SignedOut {
                    error: Some(sign_in_error_text(&self.t, &e)),
                };
                Task::none()
            }
        }
    }

    fn go_home(&mut self, notice: Option<String>, error: Option<String>) -> Task<Message> {
        self.commands = None;
        self.role = None;
        self.epoch += 1;
        // A new session starts with no transfers listed (the files saved stay saved).
        self.files.clear();
        let sharer_bar = matches!(self.screen, Screen::Sharing { .. });
        let overlay = std::mem::take(&mut self.overlay).window;
        self.screen = Screen::Home {
            code: if error.is_some() {
                self.last_code.clone()
            } else {
                String::new()
            },
            error,
            notice,
        };
        let mut tasks = Vec::new();
        if sharer_bar {
            tasks.push(self.window_as_dialog());
        }
        if let Some(id) = overlay {
            // Annotations never outlive the session.
            tasks.push(window::close(id));
        }
        Task::batch(tasks)
    }

    pub fn update(&mut self, message: Message) -> Task<Message> {
        // Another screen: the keyboard starts again from its first stop.
        let before = std::mem::discriminant(&self.screen);
        let bar_before = self.bar_height();
        let task = self.handle(message);
        if std::mem::discriminant(&self.screen) != before {
            self.focus = None;
        }
        // The sharer's bar grows and shrinks with what it shows (a shared clipboard's line,
        // a long explanation, a message).
        if std::mem::discriminant(&self.screen) == before && self.bar_height() != bar_before {
            return Task::batch([task, self.fit_bar()]);
        }
        task
    }

    fn handle(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::WindowOpened(id) => {
                self.window = Some(id);
                // Whoever opens Tandem to get help can type the code straight away.
                iced::widget::operation::focus(ids::CODE_INPUT)
            }
            Message::WindowClosed(id) => {
                if Some(id) == self.window {
                    // Closing the window ends the session and the app.
                    self.send(Command::End);
                    return iced::exit();
                }
                if Some(id) == self.overlay.window {
                    self.overlay.window = None;
                    self.overlay.native = None;
                }
                Task::none()
            }
            Message::OverlayOpened(id) => {
                if Some(id) != self.overlay.window {
                    return Task::none();
                }
                window::raw_id::<Message>(id).map(Message::OverlayNativeId)
            }
            Message::BarNativeId(native) => {
                self.bar_native = Some(native);
                Task::none()
            }
            file @ (Message::ChooseFileToSend
            | Message::FileChosen(_)
            | Message::FileDropped(_)
            | Message::AskForFile
            | Message::AcceptFile(_)
            | Message::DeclineFile(_)
            | Message::CancelFile(_)
            | Message::DismissFile(_)
            | Message::OpenReceiveFolder) => self.file_message(file),
            Message::OverlayNativeId(native) => {
                self.overlay.native = Some(native);
                self.overlay_prepared();
                self.reshape_overlay();
                match self.overlay.window {
                    Some(id) if self.overlay.shaped => window::set_mode(id, window::Mode::Windowed),
                    _ => Task::none(),
                }
            }
            Message::SelectTool(tool) => {
                if let Screen::Viewer(v) = &mut self.screen {
                    let was_laser = v.tool == Tool::Laser && v.sketch.laser.is_some();
                    v.tool = if v.tool == tool { Tool::Pointer } else { tool };
                    if was_laser {
                        return self.annotate(Annotation::LaserOff);
                    }
                }
                Task::none()
            }
            Message::SelectColour(choice) => {
                if let Screen::Viewer(v) = &mut self.screen {
                    v.colour = choice.value;
                    v.tool = Tool::Pen;
                }
                Task::none()
            }
            Message::ClearAnnotations => self.annotate(Annotation::Clear),
            Message::Tick(now) => {
                self.now = now;
                Task::none()
            }
            Message::SystemTheme(mode) => {
                self.system_theme = mode;
                Task::none()
            }
            Message::Resized(id, size) => {
                if Some(id) == self.window {
                    self.window_width = size.width;
                }
                Task::none()
            }
            Message::ToggleMore => {
                if let Screen::Viewer(v) = &mut self.screen {
                    v.more_open = !v.more_open;
                }
                Task::none()
            }
            Message::MenuChoice(choice) => {
                if let Screen::Viewer(v) = &mut self.screen {
                    v.more_open = false;
                }
                self.update(*choice)
            }
            Message::CodeChanged(code) => {
                if let Screen::Home {
                    code: current,
                    error,
                    ..
                } = &mut self.screen
                {
                    *current = code.chars().take(24).collect();
                    *error = None;
                }
                Task::none()
            }
            Message::SubmitCode => {
                let Screen::Home { code, error, .. } = &mut self.screen else {
                    return Task::none();
                };
                match SessionCode::parse(code) {
                    Ok(parsed) => {
                        self.last_code = code.clone();
                        self.screen = Screen::SharerJoining;
                        self.start(Start::Sharer(parsed))
                    }
                    Err(e) => {
                        *error = Some(code_error_text(&self.t, &e));
                        Task::none()
                    }
                }
            }
            Message::HelpSomeone => self.help_someone(),
            Message::SignIn { device } => self.sign_in(device, false),
            Message::SignInWith { provider } => match &self.auth {
                HelperAuth::ChoosingProvider {
                    device, then_help, ..
                } => {
                    let (device, then_help) = (*device, *then_help);
                    self.sign_in_with(device, then_help, Some(provider))
                }
                _ => Task::none(),
            },
            Message::SignInUpdate(attempt, msg) => {
                if attempt != self.sign_in_attempt {
                    return Task::none();
                }
                self.sign_in_update(msg)
            }
            Message::CancelSignIn => {
                if let HelperAuth::SigningIn { cancel, .. } = &self.auth {
                    let _ = cancel.send(true);
                }
                // The attempt's own answer (cancelled) is not waited for.
                self.sign_in_attempt += 1;
                self.auth = HelperAuth::SignedOut { error: None };
                Task::none()
            }
            Message::SignOut => {
                let old = std::mem::replace(&mut self.auth, HelperAuth::SignedOut { error: None });
                match old {
                    HelperAuth::SignedIn { session, .. } => {
                        Task::future(async move { session.sign_out().await }).discard()
                    }
                    other => {
                        self.auth = other;
                        Task::none()
                    }
                }
            }
            Message::HelperToken(epoch, session, result) => {
                if epoch != self.epoch || !matches!(self.screen, Screen::HelperCode { .. }) {
                    // Cancelled while the token was fetched: keep the sign-in, start nothing.
                    self.auth = HelperAuth::SignedIn {
                        session,
                        stale: false,
                    };
                    return Task::none();
                }
                match result {
                    Ok(token) => {
                        self.auth = HelperAuth::SignedIn {
                            session,
                            stale: false,
                        };
                        self.start(Start::Helper(HelperIdentity::IdToken { token }))
                    }
                    Err(e) => {
                        // An expired sign-in is forgotten: the helper signs in again.
                        self.auth = HelperAuth::SignedOut {
                            error: Some(sign_in_error_text(&self.t, &e)),
                        };
                        self.go_home(None, None)
                    }
                }
            }
            Message::OpenSignInAgain => {
                if let HelperAuth::SigningIn {
                    prompt: Some(SignInPrompt::Browser { url }),
                    ..
                } = &self.auth
                {
                    if let Err(e) = (self.open_browser)(url) {
                        tracing::warn!("{e}");
                    }
                }
                Task::none()
            }
            Message::CopySignInAddress => match &self.auth {
                HelperAuth::SigningIn {
                    prompt: Some(SignInPrompt::Browser { url }),
                    ..
                } => iced::clipboard::write(url.clone()),
                HelperAuth::SigningIn {
                    prompt: Some(SignInPrompt::Device(code)),
                    ..
                } => iced::clipboard::write(
                    code.verification_uri_complete
                        .clone()
                        .unwrap_or_else(|| code.verification_uri.clone()),
                ),
                _ => Task::none(),
            },
            Message::CancelHelper => {
                self.send(Command::End);
                self.go_home(None, None)
            }
            Message::CopyCode => {
                if let Screen::HelperCode {
                    code: Some(code),
                    copied,
                    ..
                } = &mut self.screen
                {
                    *copied = true;
                    return iced::clipboard::write(code.clone());
                }
                Task::none()
            }
            Message::Engine(epoch, msg) => {
                if epoch != self.epoch {
                    return Task::none();
                }
                self.engine(msg)
            }
            Message::Allow => {
                if let Screen::SharerConsent { helper_name, .. } = &self.screen {
                    self.screen = Screen::Sharing {
                        helper_name: helper_name.clone(),
                        control: SharerControl::None,
                        clipboard: SharerControl::None,
                        paused_by: None,
                        secure_desktop: false,
                        reconnecting: false,
                    };
                    self.send(Command::Allow);
                    return Task::batch([self.window_as_bar(), self.open_overlay()]);
                }
                Task::none()
            }
            Message::Cancel => {
                self.send(Command::Decline);
                self.go_home(None, None)
            }
            Message::GrantControl => {
                if let Screen::Sharing { control, .. } = &mut self.screen {
                    *control = SharerControl::Helper;
                    self.send(Command::GrantControl);
                }
                Task::none()
            }
            Message::DeclineControl => {
                if let Screen::Sharing { control, .. } = &mut self.screen {
                    *control = SharerControl::None;
                    self.send(Command::DeclineControl);
                }
                Task::none()
            }
            Message::RevokeControl => {
                if let Screen::Sharing { control, .. } = &mut self.screen {
                    *control = SharerControl::None;
                    self.send(Command::RevokeControl);
                }
                Task::none()
            }
            Message::GrantClipboard => {
                if let Screen::Sharing { clipboard, .. } = &mut self.screen {
                    *clipboard = SharerControl::Helper;
                    self.send(Command::GrantClipboard);
                }
                Task::none()
            }
            Message::DeclineClipboard => {
                if let Screen::Sharing { clipboard, .. } = &mut self.screen {
                    *clipboard = SharerControl::None;
                    self.send(Command::DeclineClipboard);
                }
                Task::none()
            }
            Message::RevokeClipboard => {
                if let Screen::Sharing { clipboard, .. } = &mut self.screen {
                    *clipboard = SharerControl::None;
                    self.send(Command::RevokeClipboard);
                }
                Task::none()
            }
            Message::RequestClipboard => {
                if let Screen::Viewer(v) = &mut self.screen {
                    v.clipboard = Some(ControlState::Requested);
                    v.notice = None;
                    self.send(Command::RequestClipboard);
                }
                Task::none()
            }
            Message::ReleaseClipboard => {
                if let Screen::Viewer(v) = &mut self.screen {
                    v.clipboard = None;
                    self.send(Command::ReleaseClipboard);
                }
                Task::none()
            }
            Message::Pause => {
                match &mut self.screen {
                    Screen::Sharing { paused_by, .. } => *paused_by = Some(Role::Sharer),
                    Screen::Viewer(v) => v.paused_by = Some(Role::Helper),
                    _ => return Task::none(),
                }
                self.send(Command::Pause);
                Task::none()
            }
            Message::Resume => {
                match &mut self.screen {
                    Screen::Sharing { paused_by, .. } => *paused_by = None,
                    Screen::Viewer(v) => v.paused_by = None,
                    _ => return Task::none(),
                }
                self.send(Command::Resume);
                Task::none()
            }
            Message::End => {
                self.send(Command::End);
                let notice = self.t.get("ended-by-you");
                self.go_home(Some(notice), None)
            }
            Message::SelectMonitor(choice) => {
                if let Screen::Viewer(v) = &mut self.screen {
                    if v.current_monitor == choice.value {
                        return Task::none();
                    }
                    v.current_monitor = choice.value;
                    self.send(Command::SelectMonitor(choice.value));
                    // Drawings belong to the picture they were made on.
                    return self.annotate(Annotation::Clear);
                }
                Task::none()
            }
            Message::ToggleFit => {
                if let Screen::Viewer(v) = &mut self.screen {
                    v.fit = !v.fit;
                }
                Task::none()
            }
            Message::ToggleChat => {
                self.chat_open = !self.chat_open;
                self.chat_unread = false;
                let mut tasks = Vec::new();
                if let (Screen::Sharing { .. }, Some(id)) = (&self.screen, self.window) {
                    // The bar grows to hold the chat, and shrinks back.
                    let height = if self.chat_open {
                        460.0
                    } else {
                        self.bar_height()
                    };
                    tasks.push(window::resize(id, Size::new(BAR_WIDTH, height)));
                }
                if self.chat_open {
                    tasks.push(iced::widget::operation::focus(ids::CHAT_INPUT));
                }
                Task::batch(tasks)
            }
            Message::RequestControl => {
                if let Screen::Viewer(v) = &mut self.screen {
                    v.control = Some(ControlState::Requested);
                    v.notice = None;
                    self.send(Command::RequestControl);
                }
                Task::none()
            }
            Message::ReleaseControl => {
                if let Screen::Viewer(v) = &mut self.screen {
                    v.control = None;
                    self.send(Command::ReleaseControl);
                }
                Task::none()
            }
            Message::ChatDraft(draft) => {
                self.chat_draft = draft;
                Task::none()
            }
            Message::SendChat => {
                let text = self.chat_draft.trim().to_owned();
                if !text.is_empty() {
                    if let Some(role) = self.role {
                        self.push_chat(ChatLine {
                            from: role,
                            text: text.clone(),
                        });
                    }
                    self.send(Command::Chat(text));
                    self.chat_draft.clear();
                }
                Task::none()
            }
            Message::TypeDraft => {
                if !self.chat_draft.is_empty() && self.controls_screen() {
                    let text = std::mem::take(&mut self.chat_draft);
                    self.send(Command::Input(InputEvent::Text { text }));
                }
                Task::none()
            }
            Message::PointerMoved(position, view) => self.pointer_moved(position, view),
            Message::PointerLeft => {
                if let Screen::Viewer(v) = &mut self.screen {
                    v.pointer = None;
                    v.drawing = None;
                    if v.sketch.laser.is_some() {
                        return self.annotate(Annotation::LaserOff);
                    }
                }
                Task::none()
            }
            Message::PointerButton(button, down) => {
                if let Some(task) = self.tool_button(button, down) {
                    return task;
                }
                if self.controlling() {
                    self.send(Command::Input(InputEvent::Button { button, down }));
                }
                Task::none()
            }
            Message::Wheel(delta) => {
                if self.controlling() {
                    if let Some(event) = keys::wheel(delta) {
                        self.send(Command::Input(event));
                    }
                }
                Task::none()
            }
            Message::Keyboard(event) => self.keyboard(event),
            Message::FrameAllocated(seq, result) => {
                if let Screen::Viewer(v) = &mut self.screen {
                    if let Some(frame) = v.uploading.take_if(|f| f.seq == seq) {
                        // Shown once uploaded; on a renderer that cannot pre-upload, as is.
                        v.shown = Some((frame, result.ok()));
                        v.frames_shown += 1;
                    }
                }
                self.next_frame()
            }
        }
    }

    /// The helper holds control (whatever the tool or a pause: the sharer decides).
    fn controls_screen(&self) -> bool {
        matches!(&self.screen, Screen::Viewer(v) if v.control == Some(ControlState::Granted))
    }

    fn controlling(&self) -> bool {
        matches!(&self.screen, Screen::Viewer(v) if v.control == Some(ControlState::Granted) && v.paused_by.is_none() && v.tool == Tool::Pointer)
    }

    /// Helper: draws locally and sends the same annotation to the sharer.
    fn annotate(&mut self, annotation: Annotation) -> Task<Message> {
        if let Screen::Viewer(v) = &mut self.screen {
            // Our own annotations are well formed; a failure would only mean a stale id.
            let _ = v.sketch.apply(&annotation);
            self.send(Command::Annotate(annotation));
        }
        Task::none()
    }

    /// The pen and laser take the left button; `None` when no tool is in use.
    fn tool_button(&mut self, button: PointerButton, down: bool) -> Option<Task<Message>> {
        let Screen::Viewer(v) = &mut self.screen else {
            return None;
        };
        if v.tool == Tool::Pointer {
            return None;
        }
        if button != PointerButton::Left {
            return Some(Task::none());
        }
        let Some((x, y)) = v.pointer else {
            return Some(Task::none());
        };
        match (v.tool, down) {
            (Tool::Pen, true) => {
                let id = v.next_stroke;
                v.next_stroke = v.next_stroke.wrapping_add(1);
                v.drawing = Some(id);
                let colour = v.colour;
                Some(self.annotate(Annotation::StrokeStart { id, colour, x, y }))
            }
            (Tool::Pen, false) => {
                v.drawing = None;
                Some(Task::none())
            }
            _ => Some(Task::none()),
        }
    }

    fn pointer_moved(&mut self, position: Point, view: Size) -> Task<Message> {
        let controlling = self.controlling();
        let Screen::Viewer(v) = &mut self.screen else {
            return Task::none();
        };
        let Some((frame, _)) = &v.shown else {
            return Task::none();
        };
        let transform = if v.fit {
            ViewTransform::fit(
                frame.width,
                frame.height,
                f64::from(view.width),
                f64::from(view.height),
            )
        } else {
            Some(ViewTransform::identity(frame.width, frame.height))
        };
        let Some((x, y)) =
            transform.and_then(|t| t.to_frame(f64::from(position.x), f64::from(position.y)))
        else {
            return Task::none();
        };
        if v.pointer == Some((x, y)) {
            return Task::none();
        }
        v.pointer = Some((x, y));
        match (v.tool, v.drawing) {
            (Tool::Pen, Some(id)) => self.annotate(Annotation::StrokeTo {
                id,
                points: vec![(x, y)],
            }),
            (Tool::Laser, _) => self.annotate(Annotation::Laser { x, y }),
            _ => {
                if controlling {
                    let monitor = v.current_monitor;
                    self.send(Command::Input(InputEvent::PointerMove { monitor, x, y }));
                }
                Task::none()
            }
        }
    }

    fn keyboard(&mut self, event: keyboard::Event) -> Task<Message> {
        if !self.controlling() || self.chat_open {
            return self.shortcut(event);
        }
        let input = match event {
            keyboard::Event::KeyPressed { physical_key, .. } => keys::key_event(physical_key, true),
            keyboard::Event::KeyReleased { physical_key, .. } => {
                keys::key_event(physical_key, false)
            }
            keyboard::Event::ModifiersChanged(m) => Some(InputEvent::Modifiers(keys::modifiers(m))),
        };
        if let Some(input) = input {
            self.send(Command::Input(input));
        }
        Task::none()
    }

    /// The window without a mouse: Tab moves between text boxes, Escape is the safe answer
    /// (cancel, decline, close the chat), Alt + the first letter presses a dialog's button.
    fn shortcut(&mut self, event: keyboard::Event) -> Task<Message> {
        use keyboard::key::Named;
        let keyboard::Event::KeyPressed { key, modifiers, .. } = event else {
            return Task::none();
        };
        let message = match (key.as_ref(), &self.screen) {
            (keyboard::Key::Named(Named::Tab), _) => return self.move_focus(!modifiers.shift()),
            (keyboard::Key::Named(Named::Enter | Named::Space), _)
                if self.focused_press().is_some() =>
            {
                match self.focused_press() {
                    Some(message) => message,
                    None => return Task::none(),
                }
            }
            (keyboard::Key::Named(Named::Escape), Screen::Viewer(v)) if v.more_open => {
                Message::ToggleMore
            }
            (keyboard::Key::Named(Named::Escape), _) if self.chat_open => Message::ToggleChat,
            (keyboard::Key::Named(Named::Escape), Screen::HelperCode { .. }) => {
                Message::CancelHelper
            }
            (keyboard::Key::Named(Named::Escape), Screen::SharerConsent { .. }) => Message::Cancel,
            (
                keyboard::Key::Named(Named::Escape),
                Screen::Sharing {
                    control: SharerControl::Asked,
                    ..
                },
            ) => Message::DeclineControl,
            (
                keyboard::Key::Named(Named::Escape),
                Screen::Sharing {
                    clipboard: SharerControl::Asked,
                    ..
                },
            ) => Message::DeclineClipboard,
            // A file's question: Escape is a "no".
            (keyboard::Key::Named(Named::Escape), Screen::Sharing { .. })
                if self.asking().or(self.choosing()).is_some() =>
            {
                match self.asking().or(self.choosing()) {
                    Some(row) => Message::DeclineFile(row.id),
                    None => return Task::none(),
                }
            }
            (keyboard::Key::Character(c), screen) if modifiers.alt() => {
                let t = &self.t;
                let initial = |key: &str| {
                    t.get(key)
                        .chars()
                        .next()
                        .is_some_and(|first| first.to_lowercase().eq(c.chars()))
                };
                match screen {
                    Screen::Home { .. } if initial("home-help-someone") => Message::HelpSomeone,
                    Screen::HelperCode { .. } if initial("helper-copy") => Message::CopyCode,
                    Screen::SharerConsent { .. } if initial("consent-allow") => Message::Allow,
                    Screen::Sharing {
                        control: SharerControl::Asked,
                        ..
                    } if initial("control-allow") => Message::GrantControl,
                    Screen::Sharing {
                        clipboard: SharerControl::Asked,
                        ..
                    } if initial("control-allow") => Message::GrantClipboard,
                    _ => return Task::none(),
                }
            }
            _ => return Task::none(),
        };
        self.update(message)
    }

    /// Takes the newest frame from the slot and starts its upload, unless one is uploading.
    fn next_frame(&mut self) -> Task<Message> {
        let Screen::Viewer(v) = &mut self.screen else {
            // Not showing pictures (yet): keep only the newest.
            return Task::none();
        };
        if v.uploading.is_some() {
            return Task::none();
        }
        let Some(frame) = self.frames.take() else {
            return Task::none();
        };
        let seq = frame.seq;
        let handle = frame.handle.clone();
        v.uploading = Some(frame);
        iced_runtime::image::allocate(handle)
            .map(move |result| Message::FrameAllocated(seq, result))
    }

    fn engine(&mut self, msg: EngineMsg) -> Task<Message> {
        match msg {
            EngineMsg::Started(commands) => {
                self.commands = Some(commands);
                Task::none()
            }
            EngineMsg::Frame => self.next_frame(),
            EngineMsg::Event(event) => self.event(event),
            EngineMsg::Finished(result) => self.finished(result),
        }
    }

    fn finished(&mut self, result: Result<EndReason, SessionFailure>) -> Task<Message> {
        if matches!(self.screen, Screen::Home { .. }) {
            return Task::none();
        }
        match result {
            // The end was already shown when its event arrived.
            Ok(reason) => {
                let notice = self.end_text(reason);
                self.go_home(Some(notice), None)
            }
            Err(failure) => {
                let text = failure_text(&self.t, &failure);
                if failure.kind == "sign_in_expired" {
                    if let HelperAuth::SignedIn { stale, .. } = &mut self.auth {
                        *stale = true;
                    }
                }
                if self.role == Some(Role::Sharer) {
                    // Shown under the code box, with the code still there to correct.
                    self.go_home(None, Some(text))
                } else {
                    self.go_home(Some(text), None)
                }
            }
        }
    }

    fn end_text(&self, reason: EndReason) -> String {
        let name = self.peer();
        let peer_ended = match self.role {
            Some(Role::Helper) => reason == EndReason::SharerEnded,
            _ => reason == EndReason::HelperEnded,
        };
        if peer_ended {
            return self.t.with("ended-by-peer", &[("name", &name)]);
        }
        match reason {
            EndReason::HelperEnded | EndReason::SharerEnded => self.t.get("ended-by-you"),
            EndReason::Declined => self.t.get("ended-declined"),
            EndReason::PeerLost => self.t.get("ended-lost"),
            EndReason::PairingFailed => self.t.get("code-error-wrong"),
            EndReason::NoPath => self.t.get("ended-no-path"),
            EndReason::ProtocolError => self.t.get("ended-protocol"),
        }
    }

    fn event(&mut self, event: Event) -> Task<Message> {
        match event {
            Event::CodeIssued {
                code,
                expires_in_secs,
            } => {
                if let Screen::HelperCode {
                    code: shown,
                    expires_at,
                    ..
                } = &mut self.screen
                {
                    *shown = Some(code);
                    self.now = Instant::now();
                    *expires_at = Some(Instant::now() + Duration::from_secs(expires_in_secs));
                }
            }
            Event::PeerJoined => {
                if let Screen::HelperCode { joined, .. } = &mut self.screen {
                    *joined = true;
                }
            }
            // A fresh code follows at once; until then the old one is not shown.
            Event::CodeRetired { reason, .. } => {
                if let Screen::HelperCode {
                    code,
                    joined,
                    copied,
                    replaced,
                    ..
                } = &mut self.screen
                {
                    *code = None;
                    *joined = false;
                    *copied = false;
                    *replaced = Some(reason);
                }
            }
            Event::Paired { peer_name } => {
                self.peer_name = peer_name;
                if self.role == Some(Role::Helper) {
                    self.screen = Screen::Viewer(Box::new(Viewer {
                        fit: true,
                        ..Viewer::default()
                    }));
                }
            }
            Event::ConsentRequested {
                helper_name,
                affiliation,
            } => {
                self.peer_name = Some(helper_name.clone());
                self.screen = Screen::SharerConsent {
                    helper_name,
                    affiliation,
                };
            }
            Event::ConsentGiven => {
                if let Screen::Viewer(v) = &mut self.screen {
                    v.consented = true;
                }
            }
            Event::ConsentDeclined => {
                let notice = self.t.get("ended-declined");
                return self.go_home(Some(notice), None);
            }
            Event::Connected { path, .. } | Event::PathChanged { path } => {
                let waiting = self.t.get("viewer-reconnecting");
                match &mut self.screen {
                    Screen::Viewer(v) => {
                        v.path = Some(path);
                        if v.notice.as_deref() == Some(waiting.as_str()) {
                            v.notice = None;
                        }
                    }
                    Screen::Sharing { reconnecting, .. } => *reconnecting = false,
                    _ => {}
                }
            }
            // Said where the person looks: the viewer's notice, the sharer's bar.
            Event::Reconnecting => {
                let waiting = self.t.get("viewer-reconnecting");
                match &mut self.screen {
                    Screen::Viewer(v) => v.notice = Some(waiting),
                    Screen::Sharing { reconnecting, .. } => *reconnecting = true,
                    _ => {}
                }
            }
            Event::Stats {
                fps,
                rtt_ms,
                decode_ms,
                ..
            } => {
                let decoded = self.frames.frames_put();
                if let Screen::Viewer(v) = &mut self.screen {
                    v.fps = Some(fps);
                    v.rtt_ms = Some(rtt_ms);
                    // Once a second: what reached the window and what was shown (a slow
                    // renderer shows fewer, the newest; nothing queues).
                    let (last_decoded, last_shown) = v.counted;
                    tracing::info!(
                        target: "tandem::gui::stats",
                        decoded = decoded - last_decoded,
                        shown = v.frames_shown - last_shown,
                        decode_ms = decode_ms.unwrap_or(0.0),
                        "viewer frames in the last second"
                    );
                    v.counted = (decoded, v.frames_shown);
                }
            }
            Event::Chat { from, text } => {
                self.push_chat(ChatLine { from, text });
                if !self.chat_open {
                    self.chat_unread = true;
                    // The sharer's bar grows by the message's line and asks to be seen.
                    if matches!(self.screen, Screen::Sharing { .. }) {
                        return Task::batch([
                            self.fit_bar(),
                            self.call_attention(window::UserAttention::Informational),
                        ]);
                    }
                }
            }
            Event::Paused { by } => match &mut self.screen {
                Screen::Viewer(v) => v.paused_by = Some(by),
                Screen::Sharing { paused_by, .. } => *paused_by = Some(by),
                _ => {}
            },
            Event::Resumed { .. } => match &mut self.screen {
                Screen::Viewer(v) => v.paused_by = None,
                Screen::Sharing { paused_by, .. } => *paused_by = None,
                _ => {}
            },
            // The person's pause stands: the viewer shows it again, and why.
            Event::ResumeRefused { paused_by, .. } => {
                let text = self
                    .t
                    .with("viewer-resume-refused", &[("name", &self.peer())]);
                if let Screen::Viewer(v) = &mut self.screen {
                    v.paused_by = Some(paused_by);
                    v.notice = Some(text);
                }
            }
            // A Windows prompt on the sharer's secure desktop: the helper waits, told why;
            // the person sees what to do in the bar.
            Event::SecureDesktop { active } => {
                let waiting = self
                    .t
                    .with("viewer-secure-desktop", &[("name", &self.peer())]);
                match &mut self.screen {
                    Screen::Viewer(v) => {
                        if active {
                            v.notice = Some(waiting);
                        } else if v.notice.as_deref() == Some(waiting.as_str()) {
                            v.notice = None;
                        }
                    }
                    Screen::Sharing { secure_desktop, .. } => *secure_desktop = active,
                    _ => {}
                }
            }
            Event::Cursor { x, y, visible } => {
                if let Screen::Viewer(v) = &mut self.screen {
                    v.cursor = visible.then_some((x, y));
                }
            }
            Event::CursorShape(picture) => {
                if let Screen::Viewer(v) = &mut self.screen {
                    v.cursor_picture = cursor_handle(&picture).map(|h| (picture, h));
                }
            }
            Event::Monitors {
                monitors,
                current,
                capture,
            } => {
                if self.role == Some(Role::Sharer) {
                    let shown = monitors.into_iter().find(|m| m.id == current);
                    if shown != self.overlay.monitor {
                        let (w, h) = shown.as_ref().map_or((0, 0), |m| (m.width, m.height));
                        self.overlay.sketch.resize(w, h);
                        self.overlay.monitor = shown;
                        let old = self.overlay.window.take();
                        self.overlay.native = None;
                        // The overlay (and its border) follows the shown monitor.
                        let close = old.map_or_else(Task::none, window::close);
                        return Task::batch([close, self.open_overlay()]);
                    }
                } else if let Screen::Viewer(v) = &mut self.screen {
                    if v.current_monitor != current || v.monitors.is_empty() {
                        let size = monitors.iter().find(|m| m.id == current);
                        let (w, h) = size.map_or((0, 0), |m| (m.width, m.height));
                        v.sketch.resize(w, h);
                    }
                    v.monitors = monitors;
                    v.current_monitor = current;
                    if capture.is_some() {
                        v.capture = capture;
                    }
                }
            }
            Event::Annotation(annotation) => {
                if !matches!(self.screen, Screen::Sharing { .. }) {
                    return Task::none();
                }
                if let Err(e) = self.overlay.sketch.apply(&annotation) {
                    tracing::debug!("annotation ignored: {e}");
                    return Task::none();
                }
                self.reshape_overlay();
                return self.open_overlay();
            }
            Event::ControlRequested { helper_name } => {
                self.peer_name = Some(helper_name);
                if let Screen::Sharing { control, .. } = &mut self.screen {
                    *control = SharerControl::Asked;
                    return self.call_attention(window::UserAttention::Critical);
                }
            }
            Event::ControlGranted => {
                if let Screen::Viewer(v) = &mut self.screen {
                    v.control = Some(ControlState::Granted);
                    v.notice = Some(self.t.get("control-granted"));
                }
            }
            Event::ControlDeclined { reason, .. } => {
                let text = match reason {
                    DeclineReason::Declined => {
                        self.t.with("control-declined", &[("name", &self.peer())])
                    }
                    DeclineReason::TooSoon => self.t.get("control-declined-busy"),
                    DeclineReason::NotPossible => self.t.get("control-declined-other"),
                };
                match &mut self.screen {
                    Screen::Viewer(v) => {
                        v.control = None;
                        v.notice = Some(text);
                    }
                    Screen::Sharing { control, .. } => *control = SharerControl::None,
                    _ => {}
                }
            }
            Event::ControlRevoked => {
                let text = self.t.with("control-revoked", &[("name", &self.peer())]);
                match &mut self.screen {
                    Screen::Viewer(v) => {
                        v.control = None;
                        v.notice = Some(text);
                    }
                    Screen::Sharing { control, .. } => *control = SharerControl::None,
                    _ => {}
                }
            }
            Event::ClipboardRequested { helper_name } => {
                self.peer_name = Some(helper_name);
                if let Screen::Sharing { clipboard, .. } = &mut self.screen {
                    *clipboard = SharerControl::Asked;
                    return self.call_attention(window::UserAttention::Critical);
                }
            }
            Event::ClipboardGranted => {
                if let Screen::Viewer(v) = &mut self.screen {
                    v.clipboard = Some(ControlState::Granted);
                    v.notice = Some(self.t.get("clipboard-granted"));
                }
            }
            Event::ClipboardDeclined { reason, .. } => {
                let text = match reason {
                    DeclineReason::Declined => {
                        self.t.with("clipboard-declined", &[("name", &self.peer())])
                    }
                    DeclineReason::TooSoon => self.t.get("control-declined-busy"),
                    DeclineReason::NotPossible => self.t.get("clipboard-not-possible"),
                };
                match &mut self.screen {
                    Screen::Viewer(v) => {
                        v.clipboard = None;
                        v.notice = Some(text);
                    }
                    Screen::Sharing { clipboard, .. } => *clipboard = SharerControl::None,
                    _ => {}
                }
            }
            Event::ClipboardStopped { by } => {
                let text = self.t.with("clipboard-stopped", &[("name", &self.peer())]);
                match &mut self.screen {
                    Screen::Viewer(v) => {
                        v.clipboard = None;
                        if by == Role::Sharer {
                            v.notice = Some(text);
                        }
                    }
                    Screen::Sharing { clipboard, .. } => *clipboard = SharerControl::None,
                    _ => {}
                }
            }
            Event::ClipboardReceived { .. } => {
                if let Screen::Viewer(v) = &mut self.screen {
                    v.notice = Some(self.t.get("clipboard-received"));
                }
            }
            Event::ClipboardTooLarge { .. } => {
                if let Screen::Viewer(v) = &mut self.screen {
                    v.notice = Some(self.t.get("clipboard-too-large"));
                }
            }
            Event::ClipboardSent { .. } => {}
            Event::ControlReleased => match &mut self.screen {
                Screen::Viewer(v) => v.control = None,
                Screen::Sharing { control, .. } => *control = SharerControl::None,
                _ => {}
            },
            Event::Ended { reason, .. } => {
                let notice = self.end_text(reason);
                return self.go_home(Some(notice), None);
            }
            Event::FrameReceived { .. } | Event::FrameSent { .. } => {}
            file @ (Event::FileOffered { .. }
            | Event::FileRequested { .. }
            | Event::FileOfferSent { .. }
            | Event::FileRequestSent { .. }
            | Event::FileStarted { .. }
            | Event::FileProgress { .. }
            | Event::FileDone { .. }
            | Event::FileDeclined { .. }
            | Event::FileCancelled { .. }
            | Event::FileFailed { .. }) => return self.file_event(file),
        }
        Task::none()
    }

    /// While sharing, the window becomes a small bar that stays on top (above the overlay
    /// too, which needs its native id).
    fn window_as_bar(&self) -> Task<Message> {
        let Some(id) = self.window else {
            return Task::none();
        };
        Task::batch([
            window::resize(id, Size::new(BAR_WIDTH, self.bar_height())),
            // Set after opening: the creation-time level is lost on X11.
            window::set_level(id, window::Level::AlwaysOnTop),
            window::raw_id::<Message>(id).map(Message::BarNativeId),
        ])
    }

    /// A question or a message for the sharer: the bar comes back if it was minimised,
    /// and the desktop is asked to point at it (a flashing task bar entry).
    pub(super) fn call_attention(&self, urgency: window::UserAttention) -> Task<Message> {
        let Some(id) = self.window else {
            return Task::none();
        };
        Task::batch([
            window::minimize(id, false),
            window::request_user_attention(id, Some(urgency)),
        ])
    }

    fn window_as_dialog(&self) -> Task<Message> {
        let Some(id) = self.window else {
            return Task::none();
        };
        Task::batch([
            window::resize(id, MAIN_WINDOW),
            window::set_level(id, window::Level::Normal),
        ])
    }

    pub fn subscription(&self) -> Subscription<Message> {
        let mut subscriptions = vec![
            window::close_events().map(Message::WindowClosed),
            iced::system::theme_changes().map(Message::SystemTheme),
            window::resize_events().map(|(id, size)| Message::Resized(id, size)),
        ];
        if matches!(self.screen, Screen::HelperCode { .. }) {
            subscriptions.push(iced::time::every(Duration::from_millis(500)).map(Message::Tick));
        }
        // Keys no widget took: the sharer's keyboard while in control, shortcuts otherwise.
        subscriptions.push(keyboard::listen().map(Message::Keyboard));
        // Files dropped on the window.
        if matches!(self.screen, Screen::Viewer(_) | Screen::Sharing { .. }) {
            subscriptions.push(iced::event::listen_with(|event, _, _| match event {
                iced::Event::Window(window::Event::FileDropped(path)) => {
                    Some(Message::FileDropped(path))
                }
                _ => None,
            }));
        }
        Subscription::batch(subscriptions)
    }

    pub fn view(&self, window: window::Id) -> Element<'_, Message> {
        if Some(window) == self.overlay.window {
            return self.overlay_view();
        }
        container(self.main_view())
            .style(|theme: &iced::Theme| container::Style {
                background: Some(theme.palette().background.into()),
                ..container::Style::default()
            })
            .width(Length::Fill)
            .height(Length::Fill)
            .into()
    }

    /// The main window's content (tests look at this).
    pub fn main_view(&self) -> Element<'_, Message> {
        let content: Element<'_, Message> = match &self.screen {
            Screen::Home {
                code,
                error,
                notice,
            } => self.home(code, error.as_deref(), notice.as_deref()),
            Screen::HelperCode {
                code,
                expires_at,
                joined,
                copied,
                replaced,
            } => self.helper_code(code.as_deref(), *expires_at, *joined, *copied, *replaced),
            Screen::Viewer(v) => self.viewer(v),
            Screen::SharerJoining => centered(text(self.t.get("sharer-joining")).size(20)),
            Screen::SharerConsent {
                helper_name,
                affiliation,
            } => self.consent(helper_name, affiliation.as_deref()),
            Screen::Sharing {
                helper_name,
                control,
                clipboard,
                paused_by,
                secure_desktop,
                reconnecting,
            } => self.sharing(
                helper_name,
                *control,
                *clipboard,
                *paused_by,
                *secure_desktop,
                *reconnecting,
            ),
        };
        match &self.screen {
            // The viewer puts the chat beside the picture itself (below its toolbar).
            Screen::Viewer(_) | Screen::Home { .. } => content,
            _ if self.chat_open => column![content, self.chat_panel()].into(),
            _ => content,
        }
    }
}

/// A screen's or a section's title, with its icon.
fn heading<'a>(glyph: Icon, title: String) -> Element<'a, Message> {
    row![
        style::icon(glyph).size(style::TITLE),
        text(title).size(style::TITLE)
    ]
    .spacing(10)
    .align_y(Alignment::Center)
    .into()
}

fn centered<'a>(content: impl Into<Element<'a, Message>>) -> Element<'a, Message> {
    container(content)
        .center_x(Length::Fill)
        .center_y(Length::Fill)
        .into()
}

fn cursor_handle(picture: &CursorPicture) -> Option<image::Handle> {
    use base64::Engine;
    let rgba = base64::engine::general_purpose::STANDARD
        .decode(&picture.rgba)
        .ok()?;
    (rgba.len() == picture.width as usize * picture.height as usize * 4)
        .then(|| image::Handle::from_rgba(picture.width, picture.height, rgba))
}

/// What the person sees for a code the app could not parse.
pub fn code_error_text(t: &Strings, error: &CodeError) -> String {
    match error {
        CodeError::InvalidSymbol(c) => {
            t.with("code-error-character", &[("character", &c.to_string())])
        }
        CodeError::Mistyped => t.get("code-error-mistyped"),
        CodeError::Empty | CodeError::WrongLength { .. } => t.get("code-error-format"),
    }
}

/// What the person sees when a session could not start or broke.
pub fn failure_text(t: &Strings, failure: &SessionFailure) -> String {
    match failure.kind {
        "unknown_code" => t.get("code-error-unknown"),
        "expired_code" => t.get("code-error-expired"),
        "used_code" => t.get("code-error-used"),
        "wrong_code" => t.get("code-error-wrong"),
        "rate_limited" => t.get("code-error-rate-limited"),
        "rendezvous_unreachable" => t.get("code-error-unreachable"),
        "sign_in_expired" => t.get("sign-in-error-session-expired"),
        "sign_in_unavailable" => t.get("sign-in-error-server-cannot-check"),
        "identity_refused" => t.with(
            "sign-in-error-not-accepted",
            &[("detail", &failure.message)],
        ),
        _ => t.with("ended-error", &[("detail", &failure.message)]),
    }
}

/// What went wrong with signing in, in the helper's words.
pub fn sign_in_error_text(t: &Strings, e: &SignInError) -> String {
    match e {
        SignInError::Unreachable { .. } => t.get("sign-in-error-unreachable"),
        SignInError::Cancelled => t.get("sign-in-error-cancelled"),
        SignInError::TimedOut => t.get("sign-in-error-timed-out"),
        SignInError::Expired => t.get("sign-in-error-expired"),
        SignInError::NoBrowser(_) => t.get("sign-in-error-no-browser"),
        SignInError::NoProvider => t.get("sign-in-error-no-provider"),
        SignInError::Refused(detail) | SignInError::Protocol(detail) => {
            t.with("sign-in-error-other", &[("detail", detail)])
        }
    }
}
