//! Every screen in light and dark, English and Italian, rendered by iced_test's software
//! renderer and compared with the snapshot hashes kept in `app/src/gui/snapshots/`. A
//! change of look fails here on purpose: look at the new pictures (written next to the test
//! binary, in `gui-snapshots/themes/`), and when they are right, bless them with
//! `TANDEM_BLESS_SNAPSHOTS=1 cargo test -p tandem --lib gui::tests::snapshots`.
//! Besides the hash, each picture is checked for what a person would notice: the
//! background's tone follows the theme, and no words run off the window.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iced::Rectangle;

use super::super::app::{ChatLine, Screen, SharerControl, Viewer};
use super::super::sign_in::{HelperAuth, SignInPrompt};
use super::super::style::ThemeChoice;
use super::{sized_simulator, without_isolation, Window};
use crate::gui::Message;
use crate::session::{MonitorInfo, Role};

const MAIN: (f32, f32) = (900.0, 640.0);
const BAR: (f32, f32) = (560.0, 150.0);
const WIDE: (f32, f32) = (1280.0, 800.0);

fn sharing(control: SharerControl, clipboard: SharerControl, paused: bool) -> Screen {
    Screen::Sharing {
        helper_name: "Anna R.".into(),
        control,
        clipboard,
        paused_by: paused.then_some(Role::Sharer),
        secure_desktop: false,
        reconnecting: false,
    }
}

fn viewer(more_open: bool) -> Screen {
    Screen::Viewer(Box::new(Viewer {
        consented: true,
        fit: true,
        monitors: vec![MonitorInfo {
            id: 1,
            name: "HDMI-1".into(),
            screen: 0,
            x: 0,
            y: 0,
            width: 1920,
            height: 1080,
            width_mm: 530,
            primary: true,
            scale_percent: 100,
        }],
        current_monitor: 1,
        more_open,
        ..Viewer::default()
    }))
}

/// The screens, by name, with the window size they show in.
fn screens(language: &str) -> Vec<(&'static str, (f32, f32), Window)> {
    let window = |screen: Screen| {
        let mut w = Window::new("ws://127.0.0.1:9", Some("Anna Rossi"), language);
        w.app.screen = screen;
        w
    };
    let mut out = vec![
        (
            "home",
            MAIN,
            window(Screen::Home {
                code: String::new(),
                error: None,
                notice: None,
            }),
        ),
        (
            "home-mistyped",
            MAIN,
            window(Screen::Home {
                code: "ABC-DEF-GHK".into(),
                error: Some(super::super::app::code_error_text(
                    &crate::gui::i18n::Strings::load(language).expect("strings"),
                    &tandem_crypto::CodeError::Mistyped,
                )),
                notice: None,
            }),
        ),
        ("helper-code", MAIN, {
            let mut w = window(Screen::SharerJoining);
            // After the window's clock was read: ten minutes and a fraction, shown "10:00".
            w.app.screen = Screen::HelperCode {
                code: Some("ABC-DEF-GH3".into()),
                expires_at: Some(Instant::now() + Duration::from_secs(600)),
                joined: false,
                copied: false,
                replaced: None,
            };
            w
        }),
        (
            "consent-verified",
            MAIN,
            window(Screen::SharerConsent {
                helper_name: "Anna R.".into(),
                affiliation: Some("example.org".into()),
            }),
        ),
        ("consent-focused", MAIN, {
            // The keyboard's ring on Allow.
            let mut w = window(Screen::SharerConsent {
                helper_name: "Anna R.".into(),
                affiliation: Some("example.org".into()),
            });
            w.app.focus = Some(0);
            w
        }),
        (
            "consent-unverified",
            MAIN,
            window(Screen::SharerConsent {
                helper_name: "Anna R.".into(),
                affiliation: None,
            }),
        ),
        (
            "bar-shared",
            BAR,
            window(sharing(SharerControl::None, SharerControl::None, false)),
        ),
        (
            "bar-controlled",
            BAR,
            window(sharing(SharerControl::Helper, SharerControl::None, false)),
        ),
        (
            "bar-paused",
            BAR,
            window(sharing(SharerControl::None, SharerControl::None, true)),
        ),
        (
            "bar-control-request",
            BAR,
            window(sharing(SharerControl::Asked, SharerControl::None, false)),
        ),
        (
            "bar-clipboard-request",
            BAR,
            window(sharing(SharerControl::None, SharerControl::Asked, false)),
        ),
        ("viewer", MAIN, window(viewer(false))),
        ("viewer-more", MAIN, window(viewer(true))),
        ("viewer-wide", WIDE, window(viewer(false))),
    ];
    // Signing in, in its steps (the signed-in home needs a real provider's token: it is
    // in the sign-in test's pictures).
    let signing_in = |device: bool, prompt: Option<SignInPrompt>| {
        let mut w = window(Screen::Home {
            code: String::new(),
            error: None,
            notice: None,
        });
        w.app.auth = HelperAuth::SigningIn {
            device,
            prompt,
            then_help: true,
            cancel: tokio::sync::watch::channel(false).0,
        };
        w
    };
    out.push(("sign-in-starting", MAIN, signing_in(false, None)));
    out.push((
        "sign-in-browser",
        MAIN,
        signing_in(
            false,
            Some(SignInPrompt::Browser {
                url: "https://id.example.org/authorize".into(),
            }),
        ),
    ));
    out.push((
        "sign-in-device",
        MAIN,
        signing_in(
            true,
            Some(SignInPrompt::Device(crate::sign_in::DeviceCode {
                user_code: "WDJB-MJHT".into(),
                verification_uri: "https://id.example.org/device".into(),
                verification_uri_complete: None,
                expires_in_secs: 600,
            })),
        ),
    ));
    let mut choose = signing_in(false, None);
    choose.app.auth = HelperAuth::ChoosingProvider {
        providers: vec!["Example ID".into(), "Second ID".into()],
        device: false,
        then_help: true,
    };
    out.push(("sign-in-choose", MAIN, choose));
    let mut signed_out = signing_in(false, None);
    signed_out.app.auth = HelperAuth::SignedOut {
        error: Some("The sign-in was cancelled.".into()),
    };
    out.push(("home-signed-out", MAIN, signed_out));
    out.push(("sharer-joining", MAIN, window(Screen::SharerJoining)));
    out.push((
        "helper-getting-code",
        MAIN,
        window(Screen::HelperCode {
            code: None,
            expires_at: None,
            joined: false,
            copied: false,
            replaced: None,
        }),
    ));
    out.push((
        "helper-code-replaced",
        MAIN,
        window(Screen::HelperCode {
            code: Some("9MP-PHZ-QRF".into()),
            expires_at: None,
            joined: false,
            copied: true,
            replaced: Some(crate::session::CodeRetiredReason::WrongCode),
        }),
    ));
    for (name, reconnecting, secure_desktop) in [
        ("bar-reconnecting", true, false),
        ("bar-windows-prompt", false, true),
    ] {
        out.push((
            name,
            BAR,
            window(Screen::Sharing {
                helper_name: "Anna R.".into(),
                control: SharerControl::Helper,
                clipboard: SharerControl::Helper,
                paused_by: None,
                secure_desktop,
                reconnecting,
            }),
        ));
    }
    let mut paused = window(viewer(false));
    if let Screen::Viewer(v) = &mut paused.app.screen {
        v.paused_by = Some(Role::Sharer);
        v.control = Some(super::super::app::ControlState::Granted);
    }
    out.push(("viewer-paused-controlling", MAIN, paused));
    let mut chatting = window(viewer(false));
    chatting.app.chat.push(ChatLine {
        from: Role::Sharer,
        text: "It says the printer is offline.".into(),
    });
    chatting.app.chat.push(ChatLine {
        from: Role::Helper,
        text: "Open Settings, then Printers.".into(),
    });
    chatting.app.chat_open = true;
    out.push(("viewer-chat", MAIN, chatting));
    // A message that came while the chat was closed: the bar shows it.
    let mut chat = window(sharing(SharerControl::None, SharerControl::None, false));
    chat.app.chat.push(ChatLine {
        from: Role::Helper,
        text: "Can you open the settings?".into(),
    });
    chat.app.chat_unread = true;
    out.push(("bar-chat-notice", (BAR.0, BAR.1 + 52.0), chat));
    let mut open = window(sharing(SharerControl::None, SharerControl::None, false));
    open.app.chat.push(ChatLine {
        from: Role::Helper,
        text: "Can you open the settings?".into(),
    });
    open.app.chat_open = true;
    out.push(("bar-chat-open", (BAR.0, 460.0), open));
    out
}

/// Every text on the screen with where it is.
#[derive(Clone, Default)]
struct AllText(Arc<Mutex<Vec<ShownText>>>);

/// A text, its layout box, and the part of that box on screen.
type ShownText = (String, Rectangle, Option<Rectangle>);

impl iced_test::Selector for AllText {
    type Output = ();

    fn select(&mut self, candidate: iced_test::selector::Candidate<'_>) -> Option<()> {
        if let iced_test::selector::Candidate::Text {
            bounds,
            visible_bounds,
            content,
            ..
        } = candidate
        {
            if let Ok(mut texts) = self.0.lock() {
                texts.push((without_isolation(content), bounds, visible_bounds));
            }
        }
        None
    }

    fn description(&self) -> String {
        "every text".into()
    }
}

fn texts(w: &Window, size: (f32, f32)) -> Vec<(String, Rectangle)> {
    shown_texts(w, size)
        .into_iter()
        .map(|(content, bounds, _)| (content, bounds))
        .collect()
}

/// Every text with its layout box and the part of it on screen.
fn shown_texts(w: &Window, size: (f32, f32)) -> Vec<ShownText> {
    let all = AllText::default();
    let mut ui = sized_simulator(w.app.main_view(), size);
    let _ = ui.find(all.clone());
    let texts = all.0.lock().map(|t| t.clone()).unwrap_or_default();
    texts
}

#[test]
fn every_screen_in_light_and_dark_english_and_italian() {
    let bless = std::env::var_os("TANDEM_BLESS_SNAPSHOTS").is_some();
    let kept = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/gui/snapshots");
    let shown = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("gui-snapshots/themes")))
        .unwrap_or_else(|| std::env::temp_dir().join("tandem-gui-themes"));
    let _ = std::fs::create_dir_all(&shown);
    let mut changed = Vec::new();
    let mut count = 0;
    for language in ["en", "it"] {
        for (name, size, mut w) in screens(language) {
            // The bar at the height it takes on screen for what it shows.
            let size = match w.app.screen {
                Screen::Sharing { .. } if !w.app.chat_open => (size.0, w.app.bar_height()),
                _ => size,
            };
            // Nothing a person reads runs off the window's right edge, or is squeezed out
            // of its place (a label cut short in a row too full for it).
            for (content, bounds, visible) in shown_texts(&w, size) {
                assert!(
                    bounds.x + bounds.width <= size.0 + 1.0 && bounds.x >= -1.0,
                    "{name} ({language}): {content:?} runs off the window at {bounds:?}"
                );
                let whole = visible.is_some_and(|v| {
                    (v.width - bounds.width).abs() < 1.0 && (v.height - bounds.height).abs() < 1.0
                });
                assert!(
                    content.trim().is_empty() || whole,
                    "{name} ({language}): {content:?} is cut: {bounds:?} shown as {visible:?}"
                );
            }
            for (choice, tone) in [(ThemeChoice::Light, "light"), (ThemeChoice::Dark, "dark")] {
                w.app.set_theme_choice(choice);
                let theme = w.app.theme(iced::window::Id::unique());
                let mut ui = sized_simulator(w.app.main_view(), size);
                let snapshot = ui.snapshot(&theme).expect("snapshot");
                let file = format!("{name}-{tone}-{language}");
                let png = shown.join(format!("{file}.png"));
                let _ = std::fs::remove_file(shown.join(format!("{file}-tiny-skia.png")));
                let _ = snapshot.matches_image(&png);
                background_matches(&shown.join(format!("{file}-tiny-skia.png")), tone, &file);
                let hash = kept.join(format!("{file}.sha256"));
                if bless {
                    let _ = std::fs::remove_file(kept.join(format!("{file}-tiny-skia.sha256")));
                }
                if !snapshot.matches_hash(&hash).expect("hash") {
                    changed.push(file);
                }
                count += 1;
            }
        }
    }
    assert!(count >= 60, "only {count} pictures");
    assert!(
        changed.is_empty(),
        "these screens look different from their snapshots: {changed:?}; see the new \
         pictures in {} and bless them (TANDEM_BLESS_SNAPSHOTS=1) if they are right",
        shown.display()
    );
}

/// The top-left corner shows the theme's background tone.
fn background_matches(png: &std::path::Path, tone: &str, name: &str) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png).expect("png"),
    ));
    let mut reader = decoder.read_info().expect("info");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    reader.next_frame(&mut pixels).expect("frame");
    let luma = u32::from(pixels[0]) + u32::from(pixels[1]) + u32::from(pixels[2]);
    let dark = luma < 3 * 100;
    assert_eq!(
        dark,
        tone == "dark",
        "{name}: corner pixel {:?}",
        &pixels[..4]
    );
}

/// The helper's toolbar from 1280 px: one row, End at the far right, the tools as icons
/// that work; narrower, the main entries and "More", whose menu holds the rest and closes
/// on a choice or Escape.
#[test]
fn the_toolbar_fits_one_row_from_1280_px_and_collapses_below() {
    use super::super::style::Icon;
    use super::Shown;
    for language in ["en", "it"] {
        let mut w = Window::new("ws://127.0.0.1:9", Some("Anna Rossi"), language);
        w.app.screen = viewer(false);
        let toolbar: Vec<_> = texts(&w, WIDE)
            .into_iter()
            .filter(|(_, b)| b.y < 60.0)
            .collect();
        let end = w_text(&w, "viewer-end", language);
        let (_, end_bounds) = toolbar
            .iter()
            .find(|(c, _)| *c == end)
            .expect("End in the toolbar");
        for (content, bounds) in &toolbar {
            // One row: every entry's middle on the same line.
            assert!(
                (bounds.center_y() - end_bounds.center_y()).abs() < 4.0,
                "{language}: {content:?} is on another row ({bounds:?} vs {end_bounds:?})"
            );
            assert!(bounds.x + bounds.width <= end_bounds.x + end_bounds.width);
        }
        assert!(end_bounds.x + end_bounds.width <= WIDE.0);
        let more = w_text(&w, "viewer-more", language);
        assert!(toolbar.iter().all(|(c, _)| *c != more), "no More when wide");
        // The pen is its icon: a click on it takes the pen.
        let pen = Icon::Pen.glyph().to_string();
        let messages: Vec<_> = {
            let mut ui = sized_simulator(w.app.main_view(), WIDE);
            ui.click(Shown(&pen)).expect("the pen's icon");
            ui.into_messages().collect()
        };
        for m in messages {
            w.dispatch(m);
        }
        assert!(matches!(
            &w.app.screen,
            Screen::Viewer(v) if v.tool == super::super::app::Tool::Pen
        ));

        // One pixel narrower: "More", and the pen only in its menu.
        let narrow = (WIDE.0 - 1.0, WIDE.1);
        let shown: Vec<String> = texts(&w, narrow).into_iter().map(|(c, _)| c).collect();
        assert!(shown.contains(&more), "{language}: More below 1280 px");
        assert!(!shown.contains(&pen), "{language}: the pen went into More");
        w.dispatch(Message::ToggleMore);
        let pen_label = w_text(&w, "viewer-pen", language);
        let shown: Vec<String> = texts(&w, narrow).into_iter().map(|(c, _)| c).collect();
        assert!(
            shown.contains(&pen_label),
            "{language}: the menu lists the pen"
        );
        // Escape closes the menu; a choice in it closes it too.
        w.dispatch(super::key_press(
            iced::keyboard::Key::Named(iced::keyboard::key::Named::Escape),
            iced::keyboard::Modifiers::empty(),
        ));
        assert!(matches!(&w.app.screen, Screen::Viewer(v) if !v.more_open));
        w.dispatch(Message::ToggleMore);
        w.dispatch(Message::MenuChoice(Box::new(Message::ToggleFit)));
        assert!(matches!(&w.app.screen, Screen::Viewer(v) if !v.more_open && !v.fit));
    }
}

/// A word of the interface in `language`.
fn w_text(_w: &Window, key: &str, language: &str) -> String {
    crate::gui::i18n::Strings::load(language)
        .expect("strings")
        .get(key)
}

/// A chat message that comes while the sharer's chat is closed shows in the bar with a
/// Reply button; Reply opens the chat and the line goes.
#[tokio::test]
async fn a_message_reaches_the_sharer_in_the_bar_while_the_chat_is_closed() {
    let mut w = Window::new("ws://127.0.0.1:9", None, "en");
    w.app.screen = sharing(SharerControl::None, SharerControl::None, false);
    super::engine_event(
        &mut w,
        crate::session::Event::Chat {
            from: Role::Helper,
            text: "Can you open the settings?".into(),
        },
    );
    w.assert_shows("Anna R.: Can you open the settings?");
    w.click("Reply");
    assert!(w.app.chat_open);
    assert!(!w.shows("Anna R.: Can you open the settings?"));
    // The chat itself holds it.
    w.assert_shows("The other person: Can you open the settings?");
}

/// The window follows the desktop between light and dark, unless the person chose.
#[test]
fn the_palette_follows_the_system_unless_chosen() {
    use iced::theme::Mode;
    let dark = |w: &Window| {
        w.app
            .theme(iced::window::Id::unique())
            .extended_palette()
            .is_dark
    };
    let mut w = Window::new("ws://127.0.0.1:9", None, "en");
    assert!(!dark(&w), "light when the system says nothing");
    w.dispatch(Message::SystemTheme(Mode::Dark));
    assert!(dark(&w));
    w.dispatch(Message::SystemTheme(Mode::Light));
    assert!(!dark(&w));
    w.app.set_theme_choice(ThemeChoice::Dark);
    w.dispatch(Message::SystemTheme(Mode::Light));
    assert!(dark(&w), "the person's choice stands");
}

/// Every stop of the keyboard on every screen that is a button shows the focus ring: the
/// screen drawn with the focus there differs from the screen without it (so the list Tab
/// walks and the buttons drawn agree).
#[test]
fn every_button_tab_reaches_wears_the_focus_ring() {
    use super::super::app::FocusTarget;
    let dir = std::env::temp_dir().join(format!("tandem-focus-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let mut stops = 0;
    for (name, size, mut w) in screens("en") {
        w.app.window_width = size.0;
        w.app.focus = None;
        let plain = dir.join(format!("{name}.sha256"));
        {
            let mut ui = sized_simulator(w.app.main_view(), size);
            let snapshot = ui
                .snapshot(&w.app.theme(iced::window::Id::unique()))
                .expect("snapshot");
            assert!(snapshot.matches_hash(&plain).expect("hash"));
        }
        for (index, target) in w.app.focus_ring().into_iter().enumerate() {
            let FocusTarget::Button { key, .. } = target else {
                continue;
            };
            w.app.focus = Some(index);
            let mut ui = sized_simulator(w.app.main_view(), size);
            let snapshot = ui
                .snapshot(&w.app.theme(iced::window::Id::unique()))
                .expect("snapshot");
            assert!(
                !snapshot.matches_hash(&plain).expect("hash"),
                "{name}: the focus on {key:?} is not drawn"
            );
            stops += 1;
        }
        w.app.focus = None;
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(stops >= 30, "only {stops} stops");
}

fn tab(w: &mut Window, forward: bool) {
    use iced::keyboard::{key::Named, Key, Modifiers};
    let modifiers = if forward {
        Modifiers::empty()
    } else {
        Modifiers::SHIFT
    };
    w.dispatch(super::key_press(Key::Named(Named::Tab), modifiers));
}

fn press(w: &mut Window, named: iced::keyboard::key::Named) {
    w.dispatch(super::key_press(
        iced::keyboard::Key::Named(named),
        iced::keyboard::Modifiers::empty(),
    ));
}

/// The stops `n` presses of Tab reach.
fn walk(w: &mut Window, n: usize) -> Vec<String> {
    (0..n)
        .filter_map(|_| {
            tab(w, true);
            focused(w)
        })
        .collect()
}

fn focused(w: &Window) -> Option<String> {
    use super::super::app::FocusTarget;
    match w.app.focus_ring().into_iter().nth(w.app.focus?)? {
        FocusTarget::Button { key, .. } => Some(key),
        FocusTarget::Input(id) => Some(format!("input:{id}")),
    }
}

/// The whole session without a mouse: Tab walks each screen in reading order and around,
/// Shift+Tab walks back, Enter and Space press the focused button, another screen starts
/// from its first stop.
#[tokio::test]
async fn the_keyboard_alone_walks_and_presses_every_screen() {
    use iced::keyboard::key::Named;
    // Home: the code box, Submit, Help someone; around again.
    let mut w = Window::new("ws://127.0.0.1:9", Some("Anna Rossi"), "en");
    tab(&mut w, true);
    assert_eq!(focused(&w).as_deref(), Some("input:code"));
    tab(&mut w, true);
    assert_eq!(focused(&w).as_deref(), Some("home-submit"));
    tab(&mut w, true);
    assert_eq!(focused(&w).as_deref(), Some("home-help-someone"));
    tab(&mut w, true);
    assert_eq!(focused(&w).as_deref(), Some("input:code"));
    tab(&mut w, false);
    assert_eq!(focused(&w).as_deref(), Some("home-help-someone"));
    // Space on Submit with nothing typed: the box asks for a code (and keeps the focus).
    tab(&mut w, false);
    press(&mut w, Named::Space);
    assert!(super::home_error(&w.app).is_some(), "Submit was pressed");

    // Consent: Allow first, then Cancel; Enter on Cancel goes home, focus forgotten.
    let mut w = Window::new("ws://127.0.0.1:9", None, "en");
    w.app.screen = Screen::SharerConsent {
        helper_name: "Anna R.".into(),
        affiliation: None,
    };
    tab(&mut w, true);
    assert_eq!(focused(&w).as_deref(), Some("consent-allow"));
    tab(&mut w, true);
    press(&mut w, Named::Enter);
    assert!(matches!(w.app.screen, Screen::Home { .. }));
    assert_eq!(w.app.focus, None, "a new screen starts from its first stop");

    // The bar while controlled: Pause, Chat, Take control back, End.
    let mut w = Window::new("ws://127.0.0.1:9", None, "en");
    w.app.screen = sharing(SharerControl::Helper, SharerControl::None, false);
    let walked = walk(&mut w, 4);
    assert_eq!(
        walked,
        [
            "sharing-pause",
            "sharing-chat",
            "sharing-take-back",
            "sharing-end"
        ]
    );
    tab(&mut w, false);
    press(&mut w, Named::Enter);
    assert!(matches!(
        w.app.screen,
        Screen::Sharing {
            control: SharerControl::None,
            ..
        }
    ));

    // The viewer in a narrow window: the row, then "More" opens its menu, whose entries
    // come next; Enter on the pen takes it and closes the menu.
    let mut w = Window::new("ws://127.0.0.1:9", Some("Anna Rossi"), "en");
    w.app.screen = viewer(false);
    let walked = walk(&mut w, 5);
    assert_eq!(
        walked,
        [
            "viewer-request-control",
            "viewer-pause",
            "viewer-chat",
            "viewer-more",
            "viewer-end"
        ]
    );
    tab(&mut w, false);
    press(&mut w, Named::Enter);
    assert!(matches!(&w.app.screen, Screen::Viewer(v) if v.more_open));
    while focused(&w).as_deref() != Some("viewer-pen") {
        tab(&mut w, true);
        assert!(
            w.app.focus.is_some_and(|i| i < 20),
            "the pen is in the ring"
        );
    }
    press(&mut w, Named::Space);
    assert!(matches!(
        &w.app.screen,
        Screen::Viewer(v) if !v.more_open && v.tool == super::super::app::Tool::Pen
    ));
}

/// An icon alone in the wide toolbar says what it does when the pointer rests on it: its
/// tooltip is drawn below it (dark, with the words).
#[test]
fn an_icon_in_the_toolbar_explains_itself_on_hover() {
    use super::super::style::Icon;
    use super::Shown;
    let mut w = Window::new("ws://127.0.0.1:9", Some("Anna Rossi"), "en");
    w.app.screen = viewer(false);
    let theme = w.app.theme(iced::window::Id::unique());
    let pen = Icon::Pen.glyph().to_string();
    let dir = std::env::temp_dir().join(format!("tandem-tooltip-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let plain = dir.join("plain.sha256");
    {
        let mut ui = sized_simulator(w.app.main_view(), WIDE);
        let snapshot = ui.snapshot(&theme).expect("snapshot");
        assert!(snapshot.matches_hash(&plain).expect("hash"));
    }
    let mut ui = sized_simulator(w.app.main_view(), WIDE);
    let icon = ui.find(Shown(&pen)).expect("the pen's icon");
    let at = icon.visible_bounds().expect("visible").center();
    ui.point_at(at);
    let _ = ui.simulate([iced::Event::Mouse(iced::mouse::Event::CursorMoved {
        position: at,
    })]);
    let snapshot = ui.snapshot(&theme).expect("snapshot");
    assert!(
        !snapshot.matches_hash(&plain).expect("hash"),
        "nothing appeared under the pointer"
    );
    let shown = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("gui-snapshots")))
        .unwrap_or_else(|| dir.clone());
    let png = shown.join("viewer-tooltip.png");
    let _ = std::fs::remove_file(shown.join("viewer-tooltip-tiny-skia.png"));
    let _ = snapshot.matches_image(&png);
    // Below the icon, the tooltip's dark box (the toolbar there is light).
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(shown.join("viewer-tooltip-tiny-skia.png")).expect("png"),
    ));
    let mut reader = decoder.read_info().expect("info");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut pixels).expect("frame");
    let scale = info.width as f32 / WIDE.0;
    let dark = (0..40)
        .filter(|dy| {
            let (x, y) = (
                (at.x * scale) as u32,
                ((at.y + 22.0 + *dy as f32) * scale) as u32,
            );
            let i = ((y * info.width + x) * 4) as usize;
            pixels[i..i + 3].iter().all(|&c| c < 90)
        })
        .count();
    assert!(
        dark > 5,
        "no dark tooltip under the icon ({dark} dark rows)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A hostile helper's chat message with a right-to-left override is shown isolated, in the
/// bar's notice and in the chat, so it cannot reorder what surrounds it.
#[tokio::test]
async fn a_message_cannot_turn_the_words_around_it() {
    let mut w = Window::new("ws://127.0.0.1:9", None, "en");
    w.app.screen = sharing(SharerControl::None, SharerControl::None, false);
    super::engine_event(
        &mut w,
        crate::session::Event::Chat {
            from: Role::Helper,
            text: "click \u{202e}Allow".into(),
        },
    );
    // The raw words on screen, isolation marks included.
    let raw = |w: &Window, size: (f32, f32)| -> Vec<String> {
        #[derive(Clone, Default)]
        struct Raw(Arc<Mutex<Vec<String>>>);
        impl iced_test::Selector for Raw {
            type Output = ();
            fn select(&mut self, candidate: iced_test::selector::Candidate<'_>) -> Option<()> {
                if let iced_test::selector::Candidate::Text { content, .. } = candidate {
                    if let Ok(mut texts) = self.0.lock() {
                        texts.push(content.to_owned());
                    }
                }
                None
            }
            fn description(&self) -> String {
                "raw text".into()
            }
        }
        let all = Raw::default();
        let mut ui = sized_simulator(w.app.main_view(), size);
        let _ = ui.find(all.clone());
        let texts = all.0.lock().map(|t| t.clone()).unwrap_or_default();
        texts
    };
    let wrapped = |texts: &[String]| {
        texts
            .iter()
            .any(|t| t.contains("\u{2068}click \u{202e}Allow\u{2069}"))
    };
    assert!(
        wrapped(&raw(&w, (BAR.0, w.app.bar_height()))),
        "the bar's notice"
    );
    w.click("Reply");
    assert!(wrapped(&raw(&w, (BAR.0, 460.0))), "the chat");
}
