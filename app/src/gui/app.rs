//! The GUI's state, messages and screens. All session work happens in the engine; this
//! turns its events into screens and the person's clicks and keys into its commands.

use std::sync::Arc;
use std::time::{Duration, Instant};

use iced::widget::{
    button, column, container, image, mouse_area, pick_list, pin, responsive, row, scrollable,
    stack, text, text_input, Column,
};
use iced::{keyboard, mouse, window, Alignment, Element, Length, Point, Size, Subscription, Task};
use tokio::sync::mpsc;

mod files;
mod focus;

pub use focus::FocusTarget;

use super::engine::{self, EngineMsg, FrameSlot, RemoteFrame, SessionFailure, Start};
use super::i18n::Strings;
use super::keys;
use super::sign_in::{self as gui_sign_in, HelperAuth, SignInMsg, SignInPrompt};
use super::sketch::SketchLayer;
use super::style::{self, Icon, ThemeChoice};
use crate::annotation::{Annotation, PenColour, Sketch};
use crate::input::view::ViewTransform;
use crate::input::{DeclineReason, InputEvent, PointerButton};
use crate::session::{
    CaptureInfo, CodeRetiredReason, Command, CursorPicture, EndReason, Event, HelperIdentity,
    MonitorInfo, PathInfo, Role, SessionConfig, SourceSpec,
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

/// The border around the shared monitor, in its pixels.
pub const SHARED_BORDER_WIDTH: u16 = 6;
/// Amber: shared.
pub const SHARED_BORDER: iced::Color = iced::Color::from_rgb(0.961, 0.620, 0.043);
/// Red: the helper has control.
pub const SHARED_BORDER_CONTROLLED: iced::Color = iced::Color::from_rgb(0.863, 0.149, 0.149);

/// The four strips of the shared monitor's border (x, y, width, height), for a window
/// that is cut to what it shows.
pub fn border_strips(width: u32, height: u32) -> [(i16, i16, u16, u16); 4] {
    let w = u16::try_from(width).unwrap_or(u16::MAX);
    let h = u16::try_from(height).unwrap_or(u16::MAX);
    let b = SHARED_BORDER_WIDTH.min(w / 2).min(h / 2);
    let right = i16::try_from(w - b).unwrap_or(i16::MAX);
    let bottom = i16::try_from(h - b).unwrap_or(i16::MAX);
    [
        (0, 0, w, b),
        (0, bottom, w, b),
        (0, 0, b, h),
        (right, 0, b, h),
    ]
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

/// One entry of the helper's toolbar.
struct ToolbarItem {
    /// Its words' key: what the keyboard's focus knows it by.
    key: &'static str,
    icon: Icon,
    label: String,
    /// `None`: shown, not usable now.
    on_press: Option<Message>,
    kind: ItemKind,
    /// Goes into "More" in a narrow window, and is an icon alone in a wide one.
    overflow: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemKind {
    Plain,
    /// The session's main action (asking for control).
    Main,
    /// The tool or state in use.
    Chosen,
    /// End.
    Danger,
}

impl ToolbarItem {
    /// The entry as a button with its icon and words (`wide`: filling a menu's width).
    fn button<'a>(self, in_menu: bool, focused: bool) -> Element<'a, Message> {
        let base: fn(&iced::Theme, button::Status) -> button::Style = match self.kind {
            ItemKind::Main | ItemKind::Chosen => button::primary,
            ItemKind::Danger => button::danger,
            ItemKind::Plain if in_menu => button::text,
            ItemKind::Plain => button::secondary,
        };
        let on_press = if in_menu {
            self.on_press.map(|m| Message::MenuChoice(Box::new(m)))
        } else {
            self.on_press
        };
        let b = style::action(self.icon, self.label)
            .style(move |theme: &iced::Theme, status| {
                if focused {
                    style::focused(base)(theme, status)
                } else {
                    base(theme, status)
                }
            })
            .on_press_maybe(on_press);
        if in_menu {
            b.width(Length::Fill).into()
        } else {
            b.into()
        }
    }
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

/// The sharer's overlay: what the helper drew over the shared monitor.
#[derive(Debug, Default)]
pub struct Overlay {
    pub sketch: Sketch,
    pub monitor: Option<MonitorInfo>,
    pub window: Option<window::Id>,
    native: Option<u64>,
    /// No compositor: the window is cut to the drawing instead of being transparent.
    shaped: bool,
    /// Windows: a layered window whose background colour is its colour key.
    colour_keyed: bool,
    /// The cut, kept up to date as strokes grow (X11 without a compositor only).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    outline: super::sketch::OutlineCache,
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

    /// Sharer: the overlay window over the shown monitor, opened at the first drawing (only
    /// when the shared screen is this machine's X display).
    /// Opens the overlay over the shared monitor: the border that says it is shared, and
    /// what the helper draws. Only while sharing. On Windows only once something is drawn,
    /// and without the border: under Wine the overlay window never shows a frame after its
    /// first (tried: a colour key; a window region set on every change with InvalidateRect;
    /// no layered or transparent style at all; a size other than the screen's — the
    /// region follows the strokes, the pixels stay those of the first frame), so opened at
    /// Allow it would only ever show the border. Not shipped until seen on real Windows.
    fn open_overlay(&mut self) -> Task<Message> {
        if self.overlay.window.is_some()
            || !matches!(self.screen, Screen::Sharing { .. })
            || (cfg!(windows) && self.overlay.sketch.is_empty())
        {
            return Task::none();
        }
        // Over an X desktop, or the Windows desktop (a Wayland compositor places no window
        // where a client asks, so there is no overlay there).
        let display = match &self.session.video.source {
            SourceSpec::X11 { display, .. } => Some(display.clone()),
            SourceSpec::Duplication { .. } | SourceSpec::Xcap { .. } if cfg!(windows) => None,
            _ => return Task::none(),
        };
        let Some(monitor) = self.overlay.monitor.clone() else {
            return Task::none();
        };
        self.overlay.colour_keyed = cfg!(windows);
        #[cfg(target_os = "linux")]
        if let Some(display) = display {
            if self.x11.is_none() {
                match super::overlay_x11::X11Overlay::connect(display.as_deref()) {
                    Ok(x11) => self.x11 = Some(x11),
                    Err(e) => {
                        tracing::warn!("no annotation overlay: {e}");
                        return Task::none();
                    }
                }
            }
            self.overlay.shaped = !self
                .x11
                .as_ref()
                .is_some_and(|x| x.compositor_running().unwrap_or(false));
        }
        #[cfg(not(target_os = "linux"))]
        let _ = display;
        let (id, opened) = window::open(window::Settings {
            size: Size::new(monitor.width as f32, monitor.height as f32),
            position: window::Position::Specific(Point::new(monitor.x as f32, monitor.y as f32)),
            decorations: false,
            transparent: !self.overlay.shaped && !self.overlay.colour_keyed,
            // A shaped overlay is shown only once cut to the drawing: never a black flash.
            visible: !self.overlay.shaped,
            resizable: false,
            level: window::Level::AlwaysOnTop,
            exit_on_close_request: false,
            #[cfg(target_os = "linux")]
            platform_specific: window::settings::PlatformSpecific {
                application_id: "tandem-overlay".into(),
                // Not managed by a window manager: no frame, no taskbar entry, not movable.
                override_redirect: true,
            },
            ..window::Settings::default()
        });
        self.overlay.window = Some(id);
        Task::batch([
            opened.map(Message::OverlayOpened),
            window::enable_mouse_passthrough(id),
            window::set_level(id, window::Level::AlwaysOnTop),
        ])
    }

    /// The overlay window exists natively: clicks go through, and it stays on top.
    fn overlay_prepared(&self) {
        #[cfg(windows)]
        if let Some(native) = self.overlay.native {
            if let Err(e) = super::overlay_windows::prepare(native, self.bar_native) {
                tracing::warn!("overlay: {e}");
            }
        }
        #[cfg(target_os = "linux")]
        if let (Some(x11), Some(native)) = (&self.x11, self.overlay.native) {
            if let Ok(window) = u32::try_from(native) {
                // Over every window but the sharer's own bar: a drawing must never hide
                // (or imitate) the bar's Pause and End.
                let bar = self.bar_native.and_then(|b| u32::try_from(b).ok());
                if let Err(e) = x11
                    .pass_input_through(window)
                    .and_then(|()| x11.raise(window))
                    .and_then(|()| bar.map_or(Ok(()), |bar| x11.raise(bar)))
                {
                    tracing::warn!("overlay: {e}");
                }
            }
        }
    }

    /// The shared monitor's border: amber while shared, red while the helper has control
    /// (the person must see at a glance that someone else moves the mouse), grey while
    /// paused.
    fn shared_border_colour(&self) -> iced::Color {
        match &self.screen {
            Screen::Sharing {
                paused_by: Some(_), ..
            } => iced::Color::from_rgb8(0x9c, 0xa3, 0xaf),
            Screen::Sharing {
                control: SharerControl::Helper,
                ..
            } => SHARED_BORDER_CONTROLLED,
            _ => SHARED_BORDER,
        }
    }

    /// Without a compositor, the overlay shows only where something is drawn, and its
    /// border.
    fn reshape_overlay(&mut self) {
        #[cfg(target_os = "linux")]
        if let (true, Some(x11), Some(native)) =
            (self.overlay.shaped, &self.x11, self.overlay.native)
        {
            if let Ok(window) = u32::try_from(native) {
                let mut rects = self.overlay.outline.update(&self.overlay.sketch);
                if let Some(m) = &self.overlay.monitor {
                    rects.extend(border_strips(m.width, m.height));
                }
                // Mapping the overlay (winit maps it raised) put it above the bar: every
                // change of what it shows puts the bar back on top.
                let bar = self.bar_native.and_then(|b| u32::try_from(b).ok());
                if let Err(e) = x11
                    .set_visible_region(window, &rects)
                    .and_then(|()| bar.map_or(Ok(()), |bar| x11.raise(bar)))
                {
                    tracing::warn!("overlay: {e}");
                }
            }
        }
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

    /// The sharer's overlay: the helper's drawing at the monitor's own pixels.
    fn overlay_view(&self) -> Element<'_, Message> {
        let monitor = self.overlay.monitor.as_ref();
        let (w, h) = monitor.map_or((1, 1), |m| (m.width.max(1), m.height.max(1)));
        let drawing = iced::widget::canvas(SketchLayer {
            sketch: &self.overlay.sketch,
            transform: ViewTransform::identity(w, h),
            shaped: self.overlay.shaped,
        })
        .width(Length::Fill)
        .height(Length::Fill);
        let border = iced::Border {
            color: self.shared_border_colour(),
            width: if cfg!(windows) {
                0.0
            } else {
                f32::from(SHARED_BORDER_WIDTH)
            },
            radius: 0.0.into(),
        };
        // Windows: the background is the colour key, shown as nothing.
        #[cfg(windows)]
        let background = self.overlay.colour_keyed.then(|| {
            let (r, g, b) = super::overlay_windows::KEY;
            iced::Color::from_rgb8(r, g, b).into()
        });
        #[cfg(not(windows))]
        let background = None;
        container(drawing)
            .style(move |_: &iced::Theme| container::Style {
                background,
                border,
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

    fn home<'a>(
        &'a self,
        code: &'a str,
        error: Option<&'a str>,
        notice: Option<&'a str>,
    ) -> Element<'a, Message> {
        let t = &self.t;
        let mut get_help = column![
            heading(Icon::GetHelp, t.get("home-get-help-title")),
            text(t.get("home-get-help-body")).size(style::BODY),
            text(t.get("home-code-label")).size(style::SMALL),
            text_input(&t.get("home-code-placeholder"), code)
                .id(ids::CODE_INPUT)
                .on_input(Message::CodeChanged)
                .on_submit(Message::SubmitCode)
                .font(iced::Font::MONOSPACE)
                .size(24)
                .padding(10),
            style::action(Icon::Check, t.get("home-submit"))
                .style(self.ring("home-submit", button::primary))
                .on_press(Message::SubmitCode),
        ]
        .spacing(10);
        if let Some(error) = error {
            get_help = get_help.push(
                row![
                    style::icon(Icon::Alert).style(text::danger),
                    text(error).size(style::BODY).style(text::danger)
                ]
                .spacing(6),
            );
        }
        let help_someone = self.help_someone_section();
        let section = |content: Column<'a, Message>| {
            container(content.width(360))
                .padding(20)
                .height(Length::Fixed(330.0))
                .style(style::card)
        };
        let mut page = column![].spacing(style::GAP_LARGE).padding(30);
        if let Some(notice) = notice {
            page = page.push(text(notice).size(style::HEADING));
        }
        centered(page.push(row![section(get_help), section(help_someone)].spacing(24)))
    }

    /// "Help someone", with the sign-in it needs: the button, who is signed in, or the
    /// step the sign-in waits for (the browser, or a code to enter elsewhere).
    fn help_someone_section(&self) -> Column<'_, Message> {
        let t = &self.t;
        let title = column![
            heading(Icon::HelpSomeone, t.get("home-help-someone-title")),
            text(t.get("home-help-someone-body")).size(style::BODY),
        ]
        .spacing(10);
        let help_button = |enabled: bool| {
            style::action(Icon::HelpSomeone, t.get("home-help-someone"))
                .style(self.ring("home-help-someone", button::primary))
                .on_press_maybe(enabled.then_some(Message::HelpSomeone))
        };
        match &self.auth {
            HelperAuth::Dev(name) => column![
                title,
                help_button(true),
                text(t.with("home-signed-in-as-dev", &[("name", name)])).size(14),
            ]
            .spacing(10),
            HelperAuth::SignedIn { session, .. } => {
                let who = match &session.email {
                    Some(email) => format!("{} ({email})", session.display_name),
                    None => session.display_name.clone(),
                };
                column![
                    title,
                    help_button(true),
                    row![
                        text(t.with("home-signed-in-as", &[("name", &who)])).size(14),
                        button(text(t.get("sign-in-sign-out")).size(14))
                            .style(self.ring("sign-in-sign-out", button::text))
                            .on_press(Message::SignOut),
                    ]
                    .spacing(8)
                    .align_y(Alignment::Center),
                ]
                .spacing(10)
            }
            HelperAuth::SignedOut { error } => {
                let mut section = column![
                    title,
                    help_button(true),
                    text(t.get("home-sign-in-needed")).size(14),
                    button(text(t.get("sign-in-with-code")).size(14))
                        .style(self.ring("sign-in-with-code", button::text))
                        .on_press(Message::SignIn { device: true }),
                ]
                .spacing(10);
                if let Some(error) = error {
                    section = section.push(text(error).style(text::danger));
                }
                section
            }
            HelperAuth::ChoosingProvider { providers, .. } => {
                let mut section = column![title, text(t.get("sign-in-choose"))].spacing(10);
                for name in providers {
                    section =
                        section.push(
                            button(text(t.with("sign-in-with-provider", &[("provider", name)])))
                                .style(self.ring(
                                    &format!("sign-in-with-provider:{name}"),
                                    button::primary,
                                ))
                                .on_press(Message::SignInWith {
                                    provider: name.clone(),
                                }),
                        );
                }
                section.push(
                    button(text(t.get("sign-in-cancel")))
                        .style(self.ring("sign-in-cancel", button::secondary))
                        .on_press(Message::CancelSignIn),
                )
            }
            HelperAuth::SigningIn { device, prompt, .. } => {
                let mut section = column![title].spacing(10);
                section = match prompt {
                    None => section.push(text(t.get("sign-in-starting"))),
                    // The address itself is too long to read: it is opened or copied.
                    Some(SignInPrompt::Browser { .. }) => {
                        section.push(text(t.get("sign-in-browser-waiting"))).push(
                            row![
                                button(text(t.get("sign-in-open-again")).size(14))
                                    .style(self.ring("sign-in-open-again", button::text))
                                    .on_press(Message::OpenSignInAgain),
                                button(text(t.get("sign-in-copy-address")).size(14))
                                    .style(self.ring("sign-in-copy-address", button::text))
                                    .on_press(Message::CopySignInAddress),
                            ]
                            .spacing(8),
                        )
                    }
                    Some(SignInPrompt::Device(code)) => section
                        .push(text(t.with(
                            "sign-in-device-open",
                            &[("address", &code.verification_uri)],
                        )))
                        .push(text(&code.user_code).size(32))
                        .push(
                            button(text(t.get("sign-in-copy-address")).size(14))
                                .style(self.ring("sign-in-copy-address", button::text))
                                .on_press(Message::CopySignInAddress),
                        ),
                };
                let mut actions = row![button(text(t.get("sign-in-cancel")))
                    .style(self.ring("sign-in-cancel", button::secondary))
                    .on_press(Message::CancelSignIn)]
                .spacing(10);
                if !device {
                    actions = actions.push(
                        button(text(t.get("sign-in-with-code")))
                            .style(self.ring("sign-in-with-code", button::text))
                            .on_press(Message::SignIn { device: true }),
                    );
                }
                section.push(actions)
            }
        }
    }

    fn helper_code<'a>(
        &'a self,
        code: Option<&'a str>,
        expires_at: Option<Instant>,
        joined: bool,
        copied: bool,
        replaced: Option<CodeRetiredReason>,
    ) -> Element<'a, Message> {
        let t = &self.t;
        let replaced = replaced.map(|reason| {
            text(t.get(match reason {
                CodeRetiredReason::WrongCode => "helper-code-replaced-wrong",
                CodeRetiredReason::Abandoned => "helper-code-replaced-abandoned",
            }))
            .style(text::warning)
        });
        let Some(code) = code else {
            return centered(
                column![
                    text(t.get("helper-getting-code")).size(20),
                    button(text(t.get("helper-cancel")))
                        .style(self.ring("helper-cancel", button::primary))
                        .on_press(Message::CancelHelper),
                ]
                .spacing(20)
                .align_x(Alignment::Center),
            );
        };
        let remaining = expires_at.map(|at| at.saturating_duration_since(self.now));
        let expiry = match remaining {
            Some(r) if r.is_zero() => t.get("helper-code-expired"),
            Some(r) => {
                let secs = r.as_secs();
                t.with(
                    "helper-code-expires",
                    &[
                        ("minutes", &(secs / 60).to_string()),
                        ("seconds", &format!("{:02}", secs % 60)),
                    ],
                )
            }
            None => String::new(),
        };
        let status = if joined {
            t.get("helper-joined")
        } else {
            t.get("helper-waiting")
        };
        let copy_label = if copied {
            t.get("helper-copied")
        } else {
            t.get("helper-copy")
        };
        let copy_icon = if copied { Icon::Check } else { Icon::Copy };
        centered(
            container(
                column![heading(Icon::HelpSomeone, t.get("helper-code-title"))]
                    .push(replaced)
                    .push(
                        column![
                            text(code).size(64).font(iced::Font::MONOSPACE),
                            text(expiry).size(style::BODY),
                            row![
                                style::action(copy_icon, copy_label)
                                    .style(self.ring("helper-copy", button::primary))
                                    .on_press(Message::CopyCode),
                                style::action(Icon::Close, t.get("helper-cancel"))
                                    .style(self.ring("helper-cancel", button::secondary))
                                    .on_press(Message::CancelHelper),
                            ]
                            .spacing(10),
                            text(status).size(style::BODY),
                        ]
                        .spacing(style::GAP_LARGE)
                        .align_x(Alignment::Center),
                    )
                    .spacing(style::GAP_LARGE)
                    .align_x(Alignment::Center),
            )
            .padding(28)
            .style(style::card),
        )
    }

    fn viewer<'a>(&'a self, v: &'a Viewer) -> Element<'a, Message> {
        responsive(move |size| self.viewer_sized(v, size.width >= style::WIDE_TOOLBAR)).into()
    }

    /// The toolbar's entries but the monitor choice and the pen's colour, in the order
    /// they show; `ToolbarItem::overflow` ones go into "More" in a narrow window.
    fn toolbar_items(&self, v: &Viewer) -> Vec<ToolbarItem> {
        let t = &self.t;
        let live = v.consented && v.paused_by.is_none();
        let item = |icon, key: &'static str, on_press: Option<Message>| ToolbarItem {
            key,
            icon,
            label: t.get(key),
            on_press,
            kind: ItemKind::Plain,
            overflow: true,
        };
        let (fit_icon, fit_key) = if v.fit {
            (Icon::ActualSize, "viewer-actual-size")
        } else {
            (Icon::Fit, "viewer-fit")
        };
        let control = match v.control {
            Some(ControlState::Granted) => ToolbarItem {
                kind: ItemKind::Chosen,
                ..item(
                    Icon::Control,
                    "viewer-release-control",
                    Some(Message::ReleaseControl),
                )
            },
            Some(ControlState::Requested) => item(Icon::Waiting, "viewer-control-pending", None),
            Some(ControlState::None) | None => ToolbarItem {
                kind: ItemKind::Main,
                ..item(
                    Icon::Control,
                    "viewer-request-control",
                    v.consented.then_some(Message::RequestControl),
                )
            },
        };
        let clipboard = match v.clipboard {
            Some(ControlState::Granted) => item(
                Icon::ClipboardOff,
                "viewer-stop-clipboard",
                Some(Message::ReleaseClipboard),
            ),
            Some(ControlState::Requested) => item(Icon::Waiting, "viewer-clipboard-pending", None),
            Some(ControlState::None) | None => item(
                Icon::Clipboard,
                "viewer-share-clipboard",
                v.consented.then_some(Message::RequestClipboard),
            ),
        };
        let tool = |tool: Tool, icon, key: &'static str| ToolbarItem {
            kind: if v.tool == tool {
                ItemKind::Chosen
            } else {
                ItemKind::Plain
            },
            ..item(icon, key, live.then_some(Message::SelectTool(tool)))
        };
        let pause = match v.paused_by {
            Some(Role::Helper) => item(Icon::Resume, "viewer-resume", Some(Message::Resume)),
            // The sharer's pause is theirs to lift.
            Some(Role::Sharer) => item(Icon::Pause, "viewer-pause", None),
            None => item(
                Icon::Pause,
                "viewer-pause",
                v.consented.then_some(Message::Pause),
            ),
        };
        let chat = ToolbarItem {
            label: if self.chat_unread {
                format!("{} •", t.get("viewer-chat"))
            } else {
                t.get("viewer-chat")
            },
            ..item(Icon::Chat, "viewer-chat", Some(Message::ToggleChat))
        };
        let files = self.files_allowed();
        vec![
            item(fit_icon, fit_key, Some(Message::ToggleFit)),
            ToolbarItem {
                overflow: false,
                ..control
            },
            clipboard,
            item(
                Icon::SendFile,
                "viewer-send-file",
                files.then_some(Message::ChooseFileToSend),
            ),
            item(
                Icon::AskFile,
                "viewer-ask-file",
                files.then_some(Message::AskForFile),
            ),
            tool(Tool::Pen, Icon::Pen, "viewer-pen"),
            tool(Tool::Laser, Icon::Laser, "viewer-laser"),
            item(
                Icon::Clear,
                "viewer-clear",
                (!v.sketch.is_empty()).then_some(Message::ClearAnnotations),
            ),
            ToolbarItem {
                overflow: false,
                ..pause
            },
            ToolbarItem {
                overflow: false,
                ..chat
            },
            ToolbarItem {
                kind: ItemKind::Danger,
                overflow: false,
                ..item(Icon::End, "viewer-end", Some(Message::End))
            },
        ]
    }

    /// The line under the toolbar's connection facts: path, round trip, frames/s.
    fn viewer_info(&self, v: &Viewer) -> String {
        let t = &self.t;
        match (&v.path, v.rtt_ms, v.fps) {
            (Some(path), rtt, fps) => {
                let kind = if path.kind == "relayed" {
                    t.get("viewer-path-relayed")
                } else {
                    t.get("viewer-path-direct")
                };
                let mut stats = t.with(
                    "viewer-stats",
                    &[
                        ("path", &kind),
                        ("rtt", &rtt.map_or("–".into(), |r| format!("{r:.0}"))),
                        ("fps", &fps.map_or("–".into(), |f| format!("{f:.0}"))),
                    ],
                );
                if let Some(capture) = &v.capture {
                    // The sharer's words: shown safe and short.
                    let method: String = crate::peer_text::for_terminal(&capture.method)
                        .chars()
                        .take(24)
                        .collect();
                    stats = format!(
                        "{stats} · {}",
                        t.with("viewer-capture", &[("method", &method)])
                    );
                }
                // Say why the picture is soft: busy motion is coded smaller for a moment.
                match &v.shown {
                    Some((frame, _)) if frame.picture_width < frame.width => {
                        format!("{stats} · {}", t.get("viewer-reduced"))
                    }
                    _ => stats,
                }
            }
            _ => String::new(),
        }
    }

    /// The helper's toolbar in one row: in a wide window every entry (the less used as
    /// icons with a tooltip), in a narrow one the main entries and "More"; and the "More"
    /// menu when it is open.
    fn viewer_toolbar<'a>(
        &'a self,
        v: &'a Viewer,
        wide: bool,
    ) -> (Element<'a, Message>, Option<Element<'a, Message>>) {
        let t = &self.t;
        let choices: Vec<Choice<u32>> = v
            .monitors
            .iter()
            .enumerate()
            .map(|(index, m)| Choice {
                value: m.id,
                label: t.with(
                    "viewer-monitor-item",
                    &[
                        ("index", &(index + 1).to_string()),
                        ("name", &m.name),
                        ("width", &m.width.to_string()),
                        ("height", &m.height.to_string()),
                    ],
                ),
            })
            .collect();
        let selected = choices
            .iter()
            .find(|c| c.value == v.current_monitor)
            .cloned();
        let monitor = row![
            style::icon(Icon::Monitor),
            // Fixed widths keep every entry where it was when labels change.
            pick_list(choices, selected, Message::SelectMonitor)
                .width(190)
                .text_size(style::BODY),
        ]
        .spacing(6)
        .align_y(Alignment::Center);
        let colours: Vec<Choice<PenColour>> = PenColour::ALL
            .iter()
            .map(|&colour| Choice {
                value: colour,
                label: t.get(colour_key(colour)),
            })
            .collect();
        let colour = colours.iter().find(|c| c.value == v.colour).cloned();
        let colour_list = move |width: f32| {
            pick_list(colours.clone(), colour.clone(), Message::SelectColour)
                .width(width)
                .text_size(style::BODY)
        };
        let info = self.viewer_info(v);
        let focused = self.focused_key();
        let (end, items): (Vec<_>, Vec<_>) = self
            .toolbar_items(v)
            .into_iter()
            .partition(|item| item.kind == ItemKind::Danger);
        let mut bar = row![monitor].spacing(style::GAP).align_y(Alignment::Center);
        let mut menu = None;
        if wide {
            for item in items {
                let after_pen = item.icon == Icon::Pen;
                bar = bar.push(if item.overflow {
                    style::icon_action(
                        item.icon,
                        item.label,
                        item.on_press,
                        item.kind == ItemKind::Chosen,
                        focused.as_deref() == Some(item.key),
                    )
                } else {
                    let focused = focused.as_deref() == Some(item.key);
                    item.button(false, focused)
                });
                if after_pen {
                    bar = bar.push(colour_list(96.0));
                }
            }
            // The facts go between the actions and End, which stays at the far right.
            bar = bar.push(
                text(info)
                    .size(style::SMALL)
                    .width(Length::Fill)
                    .align_x(iced::alignment::Horizontal::Right),
            );
        } else {
            let (kept, overflow): (Vec<_>, Vec<_>) =
                items.into_iter().partition(|item| !item.overflow);
            for item in kept {
                let focused = focused.as_deref() == Some(item.key);
                bar = bar.push(item.button(false, focused));
            }
            let more = style::action(Icon::More, t.get("viewer-more"))
                .style(self.ring(
                    "viewer-more",
                    if v.more_open {
                        button::primary
                    } else {
                        button::secondary
                    },
                ))
                .on_press(Message::ToggleMore);
            bar = bar.push(more).push(iced::widget::space::horizontal());
            if v.more_open {
                let mut entries = Column::new().spacing(4).width(260);
                for item in overflow {
                    let pen = item.icon == Icon::Pen;
                    let focused = focused.as_deref() == Some(item.key);
                    entries = entries.push(item.button(true, focused));
                    if pen {
                        entries = entries.push(
                            row![
                                text(t.get("viewer-colour")).size(style::BODY),
                                colour_list(140.0)
                            ]
                            .spacing(style::GAP)
                            .align_y(Alignment::Center)
                            .padding([0, 12]),
                        );
                    }
                }
                menu = Some(
                    container(container(entries).padding(6).style(style::panel))
                        .align_right(Length::Fill)
                        .padding([4, 8])
                        .into(),
                );
            }
        }
        for item in end {
            let focused = focused.as_deref() == Some(item.key);
            bar = bar.push(item.button(false, focused));
        }
        let toolbar = container(bar.padding([6, 10]))
            .width(Length::Fill)
            .style(style::toolbar)
            .into();
        (toolbar, menu)
    }

    fn viewer_sized<'a>(&'a self, v: &'a Viewer, wide: bool) -> Element<'a, Message> {
        let t = &self.t;
        let (toolbar, menu) = self.viewer_toolbar(v, wide);
        // A narrow toolbar has no room for the connection's facts: a line at the bottom.
        let status = (!wide)
            .then(|| self.viewer_info(v))
            .filter(|info| !info.is_empty())
            .map(|info| container(text(info).size(style::SMALL)).padding([2, 10]));
        let mut body = column![toolbar];
        if let Some(notice) = &v.notice {
            body = body.push(container(text(notice)).padding([2, 8]));
        }
        if !self.files.is_empty() {
            body = body.push(self.file_rows(4));
        }
        let screen: Element<'a, Message> = if let Some((frame, _)) = &v.shown {
            self.remote_screen(v, frame)
        } else {
            let waiting = if v.consented {
                t.get("viewer-waiting-picture")
            } else if let Some(name) = &self.peer_name {
                t.with("helper-waiting-consent", &[("name", name)])
            } else {
                t.get("helper-waiting-consent-anonymous")
            };
            centered(text(waiting).size(20))
        };
        let screen = if self.chat_open {
            row![screen, self.chat_panel()].into()
        } else {
            screen
        };
        // The "More" menu opens over the picture, under its button.
        let screen = match menu {
            Some(menu) => stack![screen, menu].into(),
            None => screen,
        };
        let mut body = body.push(screen);
        if let Some(by) = v.paused_by {
            let key = if by == Role::Helper {
                "viewer-paused-by-you"
            } else {
                "viewer-paused"
            };
            body = body.push(container(text(t.get(key))).padding(6));
        }
        body.push(status).into()
    }

    /// The sharer's screen, with the pointer drawn on top, taking mouse input.
    fn remote_screen<'a>(&'a self, v: &'a Viewer, frame: &'a RemoteFrame) -> Element<'a, Message> {
        let fit = v.fit;
        let sketch = &v.sketch;
        let cursor = v.cursor;
        let cursor_picture = v.cursor_picture.as_ref();
        let (width, height) = (frame.width, frame.height);
        let picture = frame.handle.clone();
        let area = move |size: Size| -> Element<'a, Message> {
            let transform = if fit {
                ViewTransform::fit(width, height, f64::from(size.width), f64::from(size.height))
            } else {
                Some(ViewTransform::identity(width, height))
            };
            let mut layers = stack![image(picture.clone())
                .width(Length::Fill)
                .height(Length::Fill)
                // At 1:1 the area is exactly the screen's size: a picture coded smaller
                // (busy motion on a thin path) is stretched to it.
                .content_fit(if fit {
                    iced::ContentFit::Contain
                } else {
                    iced::ContentFit::Fill
                })];
            if let Some(transform) = transform {
                layers = layers.push(
                    iced::widget::canvas(SketchLayer {
                        sketch,
                        transform,
                        shaped: false,
                    })
                    .width(Length::Fill)
                    .height(Length::Fill),
                );
            }
            if let (Some((x, y)), Some((pic, handle)), Some(transform)) =
                (cursor, cursor_picture, transform)
            {
                let (vx, vy) = transform.to_view(
                    f64::from(x) - f64::from(pic.hot_x),
                    f64::from(y) - f64::from(pic.hot_y),
                );
                let scale = transform.scale() as f32;
                layers = layers.push(
                    pin(image(handle.clone())
                        .width(pic.width as f32 * scale)
                        .height(pic.height as f32 * scale))
                    .x(vx as f32)
                    .y(vy as f32),
                );
            }
            mouse_area(layers)
                .on_move(move |p| Message::PointerMoved(p, size))
                .on_press(Message::PointerButton(PointerButton::Left, true))
                .on_release(Message::PointerButton(PointerButton::Left, false))
                .on_right_press(Message::PointerButton(PointerButton::Right, true))
                .on_right_release(Message::PointerButton(PointerButton::Right, false))
                .on_middle_press(Message::PointerButton(PointerButton::Middle, true))
                .on_middle_release(Message::PointerButton(PointerButton::Middle, false))
                .on_scroll(Message::Wheel)
                .on_exit(Message::PointerLeft)
                .into()
        };
        if fit {
            responsive(area).into()
        } else {
            let size = Size::new(width as f32, height as f32);
            scrollable(
                container(area(size))
                    .width(width as f32)
                    .height(height as f32),
            )
            .direction(scrollable::Direction::Both {
                vertical: scrollable::Scrollbar::default(),
                horizontal: scrollable::Scrollbar::default(),
            })
            .width(Length::Fill)
            .height(Length::Fill)
            .into()
        }
    }

    fn consent<'a>(
        &'a self,
        helper_name: &'a str,
        affiliation: Option<&'a str>,
    ) -> Element<'a, Message> {
        let t = &self.t;
        // Who vouches for the name, beside it: the organisation the rendezvous verified,
        // or a plain warning that nobody did.
        let vouched = match affiliation {
            Some(org) => row![
                style::icon(Icon::Verified).style(text::success),
                text(t.with(
                    "consent-verified",
                    &[("name", helper_name), ("organisation", org)],
                ))
                .style(text::success)
            ],
            None => row![
                style::icon(Icon::Unverified).style(text::warning),
                text(t.with("consent-unverified", &[("name", helper_name)])).style(text::warning)
            ],
        }
        .spacing(8)
        .align_y(Alignment::Center);
        centered(
            container(
                column![
                    heading(
                        Icon::Sharing,
                        t.with("consent-title", &[("name", helper_name)])
                    ),
                    vouched,
                    text(t.with("consent-body", &[("name", helper_name)])).size(style::BODY),
                    row![
                        style::action(Icon::Check, t.get("consent-allow"))
                            .style(self.ring("consent-allow", button::primary))
                            .on_press(Message::Allow),
                        style::action(Icon::Close, t.get("consent-cancel"))
                            .style(self.ring("consent-cancel", button::secondary))
                            .on_press(Message::Cancel),
                    ]
                    .spacing(12),
                ]
                .spacing(style::GAP_LARGE)
                .max_width(540),
            )
            .padding(24)
            .style(style::card),
        )
    }

    fn sharing<'a>(
        &'a self,
        helper_name: &'a str,
        control: SharerControl,
        clipboard: SharerControl,
        paused_by: Option<Role>,
        secure_desktop: bool,
        reconnecting: bool,
    ) -> Element<'a, Message> {
        let t = &self.t;
        if clipboard == SharerControl::Asked && control != SharerControl::Asked {
            return centered(
                column![
                    text(t.with("clipboard-request-title", &[("name", helper_name)])).size(20),
                    text(t.with("clipboard-request-body", &[("name", helper_name)])).size(14),
                    row![
                        style::action(Icon::Check, t.get("control-allow"))
                            .style(self.ring("control-allow", button::primary))
                            .on_press(Message::GrantClipboard),
                        style::action(Icon::Close, t.get("control-decline"))
                            .style(self.ring("control-decline", button::secondary))
                            .on_press(Message::DeclineClipboard),
                    ]
                    .spacing(12),
                ]
                .spacing(8)
                .padding(10),
            );
        }
        if control != SharerControl::Asked && clipboard != SharerControl::Asked {
            if let Some(row) = self.asking() {
                return centered(self.file_offer_dialog(helper_name, row));
            }
            if let Some(row) = self.choosing() {
                return centered(self.file_request_dialog(helper_name, row));
            }
        }
        if control == SharerControl::Asked {
            return centered(
                column![
                    text(t.with("control-request-title", &[("name", helper_name)])).size(20),
                    text(t.with("control-request-body", &[("name", helper_name)])).size(14),
                    row![
                        style::action(Icon::Check, t.get("control-allow"))
                            .style(self.ring("control-allow", button::primary))
                            .on_press(Message::GrantControl),
                        style::action(Icon::Close, t.get("control-decline"))
                            .style(self.ring("control-decline", button::secondary))
                            .on_press(Message::DeclineControl),
                    ]
                    .spacing(12),
                ]
                .spacing(8)
                .padding(10),
            );
        }
        let who = match control {
            // What the person must do now comes first.
            _ if reconnecting => t.with("sharing-reconnecting", &[("name", helper_name)]),
            _ if secure_desktop => t.with("sharing-secure-desktop", &[("name", helper_name)]),
            SharerControl::Helper => t.with("sharing-control-helper", &[("name", helper_name)]),
            _ => t.get("sharing-control-you"),
        };
        // The band says at a glance what is happening, in the border's colour.
        let state = if paused_by.is_some() || reconnecting || secure_desktop {
            style::BarState::Quiet
        } else if control == SharerControl::Helper {
            style::BarState::Controlled
        } else {
            style::BarState::Shared
        };
        let band_icon = match state {
            _ if reconnecting => Icon::Reconnecting,
            _ if secure_desktop => Icon::Lock,
            _ if paused_by.is_some() => Icon::Pause,
            style::BarState::Controlled => Icon::Control,
            _ => Icon::Sharing,
        };
        let headline = match paused_by {
            Some(_) if !reconnecting && !secure_desktop => {
                format!(
                    "{} · {}",
                    t.with("sharing-with", &[("name", helper_name)]),
                    t.get("sharing-paused")
                )
            }
            _ => t.with("sharing-with", &[("name", helper_name)]),
        };
        let band = container(
            row![
                style::icon(band_icon).size(style::HEADING),
                column![
                    text(headline).size(style::HEADING),
                    text(who).size(style::SMALL),
                ]
                .spacing(2),
            ]
            .spacing(10)
            .align_y(Alignment::Center),
        )
        .padding([6, 10])
        .width(Length::Fill)
        .style(style::bar_band(state));
        let pause = match paused_by {
            // The person may lift the helper's pause too.
            Some(_) => style::action(Icon::Resume, t.get("sharing-resume"))
                .style(self.ring("sharing-resume", button::primary))
                .on_press(Message::Resume),
            None => style::action(Icon::Pause, t.get("sharing-pause"))
                .style(self.ring("sharing-pause", button::secondary))
                .on_press(Message::Pause),
        };
        let chat_label = if self.chat_unread {
            format!("{} •", t.get("sharing-chat"))
        } else {
            t.get("sharing-chat")
        };
        let mut buttons = row![
            pause,
            style::action(Icon::Chat, chat_label)
                .style(self.ring("sharing-chat", button::secondary))
                .on_press(Message::ToggleChat)
        ]
        .spacing(style::GAP);
        if control == SharerControl::Helper {
            buttons = buttons.push(
                style::action(Icon::TakeBack, t.get("sharing-take-back"))
                    .style(self.ring("sharing-take-back", button::primary))
                    .on_press(Message::RevokeControl),
            );
        }
        buttons = buttons.push(iced::widget::space::horizontal()).push(
            style::action(Icon::End, t.get("sharing-end"))
                .style(self.ring("sharing-end", button::danger))
                .on_press(Message::End),
        );
        let mut lines = column![band].spacing(style::GAP);
        // Shared clipboard: said, with its Stop beside it (the buttons' row is full).
        if clipboard == SharerControl::Helper {
            lines = lines.push(
                row![
                    style::icon(Icon::Clipboard).size(style::SMALL),
                    text(t.with("sharing-clipboard-shared", &[("name", helper_name)]))
                        .size(style::SMALL),
                    button(text(t.get("sharing-stop-clipboard")).size(style::SMALL))
                        .padding([2, 8])
                        .style(self.ring("sharing-stop-clipboard", button::secondary))
                        .on_press(Message::RevokeClipboard),
                ]
                .spacing(6)
                .align_y(Alignment::Center),
            );
        }
        lines = lines.push(buttons);
        // A message that came while the chat was closed shows in the bar itself.
        if let Some(line) = self.unread_chat_line() {
            lines = lines.push(
                container(
                    row![
                        style::icon(Icon::Chat),
                        text(format!("{helper_name}: {}", line.text))
                            .size(style::SMALL)
                            .width(Length::Fill)
                            .wrapping(text::Wrapping::WordOrGlyph),
                        button(text(t.get("sharing-chat-reply")).size(style::SMALL))
                            .padding([4, 10])
                            .style(self.ring("sharing-chat-reply", button::primary))
                            .on_press(Message::ToggleChat),
                    ]
                    .spacing(style::GAP)
                    .align_y(Alignment::Center),
                )
                .padding([4, 8])
                .center_y(CHAT_NOTICE_HEIGHT)
                .clip(true)
                .style(style::panel),
            );
        }
        if !self.files.is_empty() && !self.chat_open {
            lines = lines.push(self.file_rows(files::BAR_ROWS));
        }
        // Above an open chat, at the top; alone, in the middle of the bar.
        let bar = container(lines).padding(10);
        if self.chat_open {
            bar.into()
        } else {
            bar.center_y(Length::Fill).into()
        }
    }

    /// The helper's newest message while the chat is closed and unread.
    fn unread_chat_line(&self) -> Option<&ChatLine> {
        if !self.chat_unread || self.chat_open {
            return None;
        }
        self.chat
            .iter()
            .rev()
            .find(|line| Some(line.from) != self.role)
    }

    fn chat_panel(&self) -> Element<'_, Message> {
        let t = &self.t;
        let lines: Element<'_, Message> = if self.chat.is_empty() {
            text(t.get("chat-empty")).size(14).into()
        } else {
            Column::with_children(self.chat.iter().map(|line| {
                let who = if Some(line.from) == self.role {
                    t.get("chat-you")
                } else {
                    self.peer()
                };
                text(format!("{who}: {}", line.text)).size(14).into()
            }))
            .spacing(4)
            .into()
        };
        let mut panel = column![
            text(t.get("chat-title")).size(18),
            scrollable(lines).height(Length::Fill),
            row![
                text_input(&t.get("chat-placeholder"), &self.chat_draft)
                    .id(ids::CHAT_INPUT)
                    .on_input(Message::ChatDraft)
                    .on_submit(Message::SendChat),
                button(text(t.get("chat-send")))
                    .style(self.ring("chat-send", button::primary))
                    .on_press(Message::SendChat),
            ]
            .spacing(6),
        ]
        .spacing(8);
        if self.role == Some(Role::Helper) {
            // For a password box or a terminal that refuses a paste.
            panel = panel.push(
                button(text(t.get("chat-type-as-keys")))
                    .style(button::secondary)
                    .on_press_maybe(
                        (self.controls_screen() && !self.chat_draft.is_empty())
                            .then_some(Message::TypeDraft),
                    ),
            );
        }
        container(panel)
            .width(280)
            .height(Length::Fill)
            .padding(8)
            .into()
    }
}

fn colour_key(colour: PenColour) -> &'static str {
    match colour {
        PenColour::Red => "viewer-colour-red",
        PenColour::Yellow => "viewer-colour-yellow",
        PenColour::Blue => "viewer-colour-blue",
        PenColour::Green => "viewer-colour-green",
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
