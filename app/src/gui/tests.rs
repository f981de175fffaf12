//! The GUI driven through its real views with `iced_test` (clicks and typing find widgets
//! by their text, as a person would), over the real engine: an embedded rendezvous and real
//! helper and sharer sessions in this process, the sharer showing a test pattern.

use std::time::Duration;

use iced::futures::StreamExt;
use iced_runtime::Action;
use iced_test::selector;
use tokio::sync::mpsc;

use super::app::{ids, ControlState, Screen, SharerControl};
use super::engine::{EngineMsg, RemoteFrame};
use super::{App, GuiOptions, Message};
use crate::session::{Event, HelperIdentity, SessionConfig, SourceSpec, VideoConfig};
use iced::widget::image;

mod snapshots;

const WAIT: Duration = Duration::from_secs(20);

/// One window: the app, and the messages its tasks produce.
struct Window {
    app: App,
    tx: mpsc::UnboundedSender<Message>,
    rx: mpsc::UnboundedReceiver<Message>,
}

impl Window {
    fn new(rendezvous: &str, identity: Option<&str>, language: &str) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let app = App::new(GuiOptions {
            session: SessionConfig {
                rendezvous: rendezvous.to_owned(),
                video: VideoConfig {
                    source: SourceSpec::TestPattern {
                        width: 640,
                        height: 360,
                    },
                    ..VideoConfig::default()
                },
                ..SessionConfig::default()
            },
            identity: identity.map(|name| HelperIdentity::Dev { name: name.into() }),
            sign_in_ca: None,
            sign_in_provider: None,
            language: language.into(),
            place: super::WindowPlace::Default,
            theme: super::ThemeChoice::System,
        });
        Self { app, tx, rx }
    }

    /// Updates the app and runs the task it returns, as iced's runtime would; the window
    /// actions (resize, level) have no window here, image uploads answer "unsupported" (the
    /// viewer then shows the frame as it is).
    fn dispatch(&mut self, message: Message) {
        let task = self.app.update(message);
        let Some(mut stream) = iced_runtime::task::into_stream(task) else {
            return;
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while let Some(action) = stream.next().await {
                match action {
                    Action::Output(message) => {
                        let _ = tx.send(message);
                    }
                    Action::Image(iced_runtime::image::Action::Allocate(_, reply)) => {
                        let _ = reply.send(Err(iced_runtime::image::Error::Unsupported));
                    }
                    _ => {}
                }
            }
        });
    }

    async fn run_until(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(&self.app) {
            let message = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!("timed out waiting for {what}; screen {:?}", self.app.screen)
                })
                .expect("message channel open");
            self.dispatch(message);
        }
    }

    /// Until the helper's screen shows a code.
    async fn until_code(&mut self, what: &str) {
        self.run_until(what, |app| {
            matches!(&app.screen, Screen::HelperCode { code: Some(_), .. })
        })
        .await;
    }

    async fn until_home(&mut self) {
        self.run_until("home", |app| matches!(app.screen, Screen::Home { .. }))
            .await;
    }

    fn messages_of(&mut self, act: impl FnOnce(&mut iced_test::Simulator<'_, Message>)) {
        let messages: Vec<Message> = {
            let mut ui = simulator(self.app.main_view());
            act(&mut ui);
            ui.into_messages().collect()
        };
        for message in messages {
            self.dispatch(message);
        }
    }

    fn click(&mut self, label: &str) {
        self.messages_of(|ui| {
            ui.click(Shown(label))
                .unwrap_or_else(|e| panic!("no {label:?} to click: {e}"));
        });
    }

    /// A toolbar entry a narrow window keeps in "More": opens the menu first when the
    /// entry is not in sight.
    fn click_tool(&mut self, label: &str) {
        if !self.shows(label) {
            let more = ["More", "Altro"].into_iter().find(|m| self.shows(m));
            self.click(more.unwrap_or("More"));
        }
        self.click(label);
    }

    fn type_into(&mut self, id: &'static str, text: &str) {
        self.messages_of(|ui| {
            ui.click(selector::id(id))
                .unwrap_or_else(|e| panic!("no input {id:?}: {e}"));
            let _ = ui.typewrite(text);
        });
    }

    /// Presses the left button at the first point, moves through the others, releases.
    fn drag(&mut self, points: &[iced::Point]) {
        use iced::mouse;
        self.messages_of(|ui| {
            for (i, &p) in points.iter().enumerate() {
                ui.point_at(p);
                let _ = ui.simulate([iced::Event::Mouse(mouse::Event::CursorMoved {
                    position: p,
                })]);
                if i == 0 {
                    let _ = ui.simulate([iced::Event::Mouse(mouse::Event::ButtonPressed(
                        mouse::Button::Left,
                    ))]);
                }
            }
            let _ = ui.simulate([iced::Event::Mouse(mouse::Event::ButtonReleased(
                mouse::Button::Left,
            ))]);
        });
    }

    fn shows(&self, text: &str) -> bool {
        let mut ui = simulator(self.app.main_view());
        ui.find(Shown(text)).is_ok()
    }

    /// A toolbar entry is there, maybe in "More" (opened to look, then closed).
    fn assert_tool_shows(&mut self, text: &str) {
        let more = |app: &mut App, open| {
            if let Screen::Viewer(v) = &mut app.screen {
                v.more_open = open;
            }
        };
        more(&mut self.app, true);
        self.assert_shows(text);
        more(&mut self.app, false);
    }

    fn assert_shows(&self, text: &str) {
        assert!(
            self.shows(text),
            "{text:?} not on screen {:?}",
            self.app.screen
        );
    }

    /// Renders the screen with the software renderer (what the README shows).
    fn save_png(&self, name: &str) {
        // Unit tests have no CARGO_TARGET_TMPDIR: next to the test binary, in target/.
        let dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join("gui-snapshots")))
            .unwrap_or_else(|| std::env::temp_dir().join("tandem-gui-snapshots"));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("{name}.png"));
        // iced_test names the file after the renderer, and only writes one that is not
        // there yet (else it compares): the previous run's picture goes first.
        let _ = std::fs::remove_file(dir.join(format!("{name}-tiny-skia.png")));
        // The sharer's bar at its size on screen.
        let size = match self.app.screen {
            Screen::Sharing { .. } if self.app.chat_open => (560.0, 460.0),
            Screen::Sharing { .. } => (560.0, 200.0),
            _ => (1024.0, 768.0),
        };
        let mut ui = sized_simulator(self.app.main_view(), size);
        let snapshot = ui
            .snapshot(&self.app.theme(iced::window::Id::unique()))
            .expect("snapshot");
        let _ = snapshot.matches_image(&path);
    }

    /// The main window's title, without the marks that isolate a name in it.
    fn title(&self) -> String {
        without_isolation(&self.app.title(iced::window::Id::unique()))
    }

    fn code(&self) -> Option<String> {
        match &self.app.screen {
            Screen::HelperCode { code, .. } => code.clone(),
            _ => None,
        }
    }
}

/// A simulated window of iced_test's default size (1024×768) with the app's fonts.
fn simulator<'a>(element: iced::Element<'a, Message>) -> iced_test::Simulator<'a, Message> {
    sized_simulator(element, (1024.0, 768.0))
}

fn sized_simulator<'a>(
    element: iced::Element<'a, Message>,
    size: (f32, f32),
) -> iced_test::Simulator<'a, Message> {
    let settings = iced::Settings {
        fonts: vec![super::style::ICON_FONT_BYTES.into()],
        ..iced::Settings::default()
    };
    iced_test::Simulator::with_size(settings, size, element)
}

/// Text as a person reads it: the isolation marks around names (U+2068, U+2069), which
/// draw as nothing, are not part of it.
struct Shown<'a>(&'a str);

fn without_isolation(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '\u{2068}' | '\u{2069}'))
        .collect()
}

impl iced_test::Selector for Shown<'_> {
    type Output = iced_test::selector::Text;

    fn select(&mut self, candidate: iced_test::selector::Candidate<'_>) -> Option<Self::Output> {
        use iced_test::selector::Candidate;
        match candidate {
            Candidate::Text {
                id,
                bounds,
                visible_bounds,
                content,
            } if without_isolation(content) == self.0 => Some(iced_test::selector::Text::Raw {
                id: id.cloned(),
                bounds,
                visible_bounds,
            }),
            other => self.0.select(other),
        }
    }

    fn description(&self) -> String {
        format!("text shown as {:?}", self.0)
    }
}

/// The code kept in the box and the error shown, as a person reads it.
fn home_error(app: &App) -> Option<(String, String)> {
    match &app.screen {
        Screen::Home {
            code,
            error: Some(error),
            ..
        } => Some((code.clone(), without_isolation(error))),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_code_consent_viewer_chat_and_end_from_the_toolbar() {
    let rendezvous = tandem_rendezvous::EmbeddedRendezvous::start_for_demo()
        .await
        .expect("rendezvous");
    let mut helper = Window::new(&rendezvous.url, Some("Anna Rossi"), "en");
    let mut sharer = Window::new(&rendezvous.url, None, "en");
    helper.assert_shows("Get help");
    helper.assert_shows("Help someone");
    helper.save_png("home");

    // Helper: a code, large, with its countdown.
    helper.click("Help someone");
    helper.until_code("a code").await;
    let code = helper.code().expect("code");
    helper.assert_shows("Share this code by phone or message");
    helper.assert_shows(&code);
    helper.assert_shows("Waiting for the other person to enter the code…");
    helper.assert_shows("The code expires in 10:00");
    let Screen::HelperCode {
        expires_at: Some(expires_at),
        ..
    } = helper.app.screen
    else {
        unreachable!()
    };
    helper.dispatch(Message::Tick(expires_at - Duration::from_secs(65)));
    helper.assert_shows("The code expires in 1:05");
    helper.save_png("helper-code");
    assert_eq!(helper.title(), "Tandem — Your code");
    assert_eq!(sharer.title(), "Tandem");

    // Sharer: types the code as heard on the phone (lower case, spaces).
    let spoken = code.to_lowercase().replace('-', " ");
    sharer.type_into(ids::CODE_INPUT, &spoken);
    sharer.click("Submit");
    sharer
        .run_until("the consent dialog", |app| {
            matches!(app.screen, Screen::SharerConsent { .. })
        })
        .await;
    sharer.assert_shows("Anna R. wants to share your screen");
    sharer.assert_shows("Allow");
    sharer.assert_shows("Cancel");
    sharer.save_png("sharer-consent");

    helper
        .run_until("the viewer", |app| matches!(app.screen, Screen::Viewer(_)))
        .await;
    helper.assert_shows("Waiting for the other person to allow screen sharing…");

    sharer.click("Allow");
    assert!(matches!(sharer.app.screen, Screen::Sharing { .. }));
    sharer.assert_shows("Sharing with Anna R.");
    // Titles by role: what a task bar shows for each window.
    assert_eq!(sharer.title(), "Tandem — Sharing with Anna R.");
    assert_eq!(helper.title(), "Tandem — Helping someone");
    sharer.assert_shows("Pause");
    sharer.assert_shows("End");
    sharer.save_png("sharer-bar");

    helper
        .run_until(
            "a picture",
            |app| matches!(&app.screen, Screen::Viewer(v) if v.frames_shown >= 3),
        )
        .await;
    helper.assert_shows("Request control");
    helper.assert_shows("End");
    let Screen::Viewer(v) = &helper.app.screen else {
        unreachable!()
    };
    let (frame, _) = v.shown.as_ref().expect("a frame shown");
    assert_eq!((frame.width, frame.height), (640, 360));
    helper
        .run_until(
            "connection info",
            |app| matches!(&app.screen, Screen::Viewer(v) if v.fps.is_some() && v.path.is_some()),
        )
        .await;
    helper.save_png("helper-viewer");

    // Annotation: a pen stroke over the picture reaches the sharer's overlay, in the
    // sharer's pixels; Clear removes it there too.
    helper.click_tool("Pen");
    helper.drag(&[
        iced::Point::new(300.0, 300.0),
        iced::Point::new(400.0, 360.0),
        iced::Point::new(500.0, 300.0),
    ]);
    sharer
        .run_until("the stroke on the sharer's overlay", |app| {
            app.overlay
                .sketch
                .strokes
                .first()
                .is_some_and(|s| s.points.len() == 3)
        })
        .await;
    let Screen::Viewer(v) = &helper.app.screen else {
        unreachable!()
    };
    assert_eq!(
        v.sketch.strokes, sharer.app.overlay.sketch.strokes,
        "both see the same drawing"
    );
    let stroke = &sharer.app.overlay.sketch.strokes[0];
    // The view is 1024 wide, the picture 640: about 1.6 view pixels per sharer pixel.
    let (x0, _) = stroke.points[0];
    let (x2, _) = stroke.points[2];
    assert!(
        (115..=135).contains(&(x2 - x0)),
        "200 view px ≈ 125 sharer px: {stroke:?}"
    );
    helper.save_png("helper-annotation");
    helper.click_tool("Laser");
    helper.drag(&[iced::Point::new(420.0, 330.0)]);
    sharer
        .run_until("the laser dot", |app| app.overlay.sketch.laser.is_some())
        .await;
    helper.click_tool("Clear");
    sharer
        .run_until("the drawing cleared", |app| app.overlay.sketch.is_empty())
        .await;
    helper.click_tool("Laser"); // back to the pointer

    // Chat both ways.
    helper.click("Chat");
    helper.type_into(ids::CHAT_INPUT, "Hello from the helper");
    helper.click("Send");
    sharer
        .run_until("the helper's chat", |app| {
            app.chat.iter().any(|l| l.text == "Hello from the helper")
        })
        .await;
    assert!(sharer.app.chat_unread, "the bar shows an unread message");
    sharer.click("Chat •");
    sharer.type_into(ids::CHAT_INPUT, "Hi Anna");
    sharer.click("Send");
    helper
        .run_until("the sharer's chat", |app| {
            app.chat.iter().any(|l| l.text == "Hi Anna")
        })
        .await;
    helper.assert_shows("The other person: Hi Anna");
    helper.assert_shows("You: Hello from the helper");

    // The helper ends from the toolbar: both are back home.
    helper.click("End");
    assert!(matches!(helper.app.screen, Screen::Home { .. }));
    helper.assert_shows("You ended the session.");
    sharer.until_home().await;
    sharer.assert_shows("Anna R. ended the session.");
    sharer.assert_shows("Get help");
    assert_eq!(
        (helper.title(), sharer.title()),
        ("Tandem".into(), "Tandem".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_unknown_and_malformed_codes_are_explained_and_the_code_kept() {
    let rendezvous = tandem_rendezvous::EmbeddedRendezvous::start_for_demo()
        .await
        .expect("rendezvous");
    let mut sharer = Window::new(&rendezvous.url, None, "en");

    // A letter that is not in any code: said at once, nothing sent.
    sharer.type_into(ids::CODE_INPUT, "abcd-efgu");
    sharer.click("Submit");
    let (kept, error) = home_error(&sharer.app).expect("an error");
    assert_eq!(kept, "abcd-efgu");
    assert_eq!(
        error,
        "“u” cannot be part of a code. Check it with the person helping you."
    );
    sharer.assert_shows(&error);
    sharer.save_png("home-wrong-code");

    // Too short.
    sharer.dispatch(Message::CodeChanged("ABC".into()));
    sharer.click("Submit");
    let (_, error) = home_error(&sharer.app).expect("an error");
    assert_eq!(error, "A code has 9 letters and digits, like ABC-DEF-GHJ.");

    // Well formed but unknown to the rendezvous.
    sharer.dispatch(Message::CodeChanged("zzzz-12343".into()));
    sharer.click("Submit");
    sharer
        .run_until("the refusal", |app| home_error(app).is_some())
        .await;
    let (kept, error) = home_error(&sharer.app).expect("an error");
    assert_eq!(kept, "zzzz-12343", "the typed code stays to be corrected");
    assert_eq!(
        error,
        "This code does not exist. Check it with the person helping you."
    );

    // Used: a helper's code that a first sharer took.
    let mut helper = Window::new(&rendezvous.url, Some("Anna Rossi"), "en");
    helper.click("Help someone");
    helper.until_code("a code").await;
    let code = helper.code().expect("code");
    let mut first = Window::new(&rendezvous.url, None, "en");
    first.dispatch(Message::CodeChanged(code.clone()));
    first.click("Submit");
    first
        .run_until("consent", |app| {
            matches!(app.screen, Screen::SharerConsent { .. })
        })
        .await;
    sharer.dispatch(Message::CodeChanged(code));
    sharer.click("Submit");
    sharer
        .run_until("the refusal", |app| home_error(app).is_some())
        .await;
    assert_eq!(
        home_error(&sharer.app).expect("error").1,
        "This code was already used. Ask for a new one."
    );
    // Cancel on the consent dialog: the helper is told, the sharer is home.
    first.click("Cancel");
    assert!(matches!(first.app.screen, Screen::Home { .. }));
    helper.until_home().await;
    helper.assert_shows("Screen sharing was not allowed.");
}

/// Puts a sharer window into the sharing bar without a session (the control dialog's
/// wording and buttons; the real request and grant run in tests/tests/e2e/gui.rs).
fn sharing_window(language: &str) -> Window {
    let mut w = Window::new("ws://127.0.0.1:9", None, language);
    w.app.screen = Screen::SharerConsent {
        helper_name: "Anna R.".into(),
        affiliation: Some("example.org".into()),
    };
    w.click(if language == "it" {
        "Consenti"
    } else {
        "Allow"
    });
    w
}

fn engine_event(w: &mut Window, event: Event) {
    let epoch = w.app.epoch();
    w.dispatch(Message::Engine(epoch, EngineMsg::Event(event)));
}

/// `tandem demo`'s two windows: side by side on a wide monitor, each whole on the screen
/// even where the halves are narrower than a window.
#[test]
fn windows_placed_in_halves_sit_side_by_side_on_the_monitor() {
    use super::app::place_in_half;
    use iced::Size;
    let window = Size::new(900.0, 640.0);
    for monitor in [
        Size::new(1920.0, 1080.0),
        Size::new(1366.0, 768.0),
        Size::new(800.0, 600.0),
    ] {
        let left = place_in_half(window, monitor, false);
        let right = place_in_half(window, monitor, true);
        for p in [left, right] {
            assert!(p.x >= 0.0 && p.y >= 0.0, "{p:?} on {monitor:?}");
            assert!(
                p.x + window.width <= monitor.width.max(window.width),
                "{p:?} on {monitor:?}"
            );
        }
        assert!(
            left.x < right.x || monitor.width <= window.width,
            "{left:?} {right:?}"
        );
        if monitor.width >= 2.0 * window.width {
            assert!(
                left.x + window.width <= right.x,
                "they must not overlap on {monitor:?}"
            );
        }
    }
    let wide = Size::new(1920.0, 1080.0);
    assert_eq!(
        place_in_half(window, wide, false),
        iced::Point::new(30.0, 220.0)
    );
    assert_eq!(
        place_in_half(window, wide, true),
        iced::Point::new(990.0, 220.0)
    );
}

#[tokio::test]
async fn the_control_request_dialog_grants_and_takes_back() {
    let mut w = sharing_window("en");
    engine_event(
        &mut w,
        Event::ControlRequested {
            helper_name: "Anna R.".into(),
        },
    );
    w.assert_shows("Anna R. wants to control your screen");
    w.save_png("sharer-control-request");
    w.click("Allow");
    assert!(matches!(
        w.app.screen,
        Screen::Sharing {
            control: SharerControl::Helper,
            ..
        }
    ));
    w.assert_shows("Anna R. has control");
    w.click("Take control back");
    w.assert_shows("You have control");
    // Declining.
    engine_event(
        &mut w,
        Event::ControlRequested {
            helper_name: "Anna R.".into(),
        },
    );
    w.click("Decline");
    w.assert_shows("You have control");
    // Pause and resume from the bar.
    w.click("Pause");
    w.assert_shows("Resume");
    w.click("Resume");
    w.assert_shows("Pause");
}

#[tokio::test]
async fn a_windows_prompt_is_explained_to_both_people_and_goes_away_when_answered() {
    let mut sharer = sharing_window("en");
    engine_event(&mut sharer, Event::SecureDesktop { active: true });
    sharer.assert_shows(
        "A Windows prompt is open: answer it yourself. Anna R. cannot see or control it, and waits.",
    );
    sharer.save_png("sharer-secure-desktop");
    engine_event(&mut sharer, Event::SecureDesktop { active: false });
    assert!(!sharer.shows("A Windows prompt is open"));
    sharer.assert_shows("You have control");

    let mut helper = Window::new("ws://127.0.0.1:9", Some("Anna Rossi"), "it");
    helper.app.screen = Screen::Viewer(Box::default());
    engine_event(
        &mut helper,
        Event::Paired {
            peer_name: Some("Marco B.".into()),
        },
    );
    engine_event(&mut helper, Event::ConsentGiven);
    engine_event(&mut helper, Event::SecureDesktop { active: true });
    helper.assert_shows(
        "In attesa che Marco B. risponda a una richiesta di Windows. Non puoi vederla né \
         controllarla; l'immagine torna quando si chiude.",
    );
    helper.save_png("viewer-secure-desktop-it");
    engine_event(&mut helper, Event::SecureDesktop { active: false });
    assert!(!helper.shows("richiesta di Windows"));
}

#[tokio::test]
async fn both_people_see_reconnecting_while_the_network_is_gone() {
    let path = crate::net::PathInfo {
        kind: "direct",
        transport: "udp",
        local: "10.21.0.2:40000".into(),
        remote: "203.0.113.10:50000".into(),
        local_type: "srflx".into(),
        remote_type: "srflx".into(),
    };
    let mut sharer = sharing_window("en");
    engine_event(&mut sharer, Event::Reconnecting);
    sharer.assert_shows(
        "Reconnecting… the network dropped. Anna R. cannot see or control your screen until it is back.",
    );
    sharer.save_png("sharer-reconnecting");
    engine_event(&mut sharer, Event::PathChanged { path: path.clone() });
    assert!(!sharer.shows("Reconnecting"));
    sharer.assert_shows("You have control");

    let mut helper = Window::new("ws://127.0.0.1:9", Some("Anna Rossi"), "it");
    helper.app.screen = Screen::Viewer(Box::default());
    engine_event(&mut helper, Event::ConsentGiven);
    engine_event(&mut helper, Event::Reconnecting);
    helper.assert_shows("Riconnessione… il collegamento con l'altra parte si è interrotto.");
    helper.save_png("viewer-reconnecting-it");
    engine_event(&mut helper, Event::PathChanged { path });
    assert!(!helper.shows("Riconnessione"));
}

#[tokio::test]
async fn the_helper_sees_control_answers() {
    let mut w = Window::new("ws://127.0.0.1:9", Some("Anna Rossi"), "en");
    w.app.screen = Screen::Viewer(Box::default());
    engine_event(
        &mut w,
        Event::Paired {
            peer_name: Some("Marco B.".into()),
        },
    );
    engine_event(&mut w, Event::ConsentGiven);
    w.click("Request control");
    w.assert_shows("Waiting for an answer…");
    engine_event(
        &mut w,
        Event::ControlDeclined {
            reason: crate::input::DeclineReason::Declined,
            message: String::new(),
        },
    );
    w.assert_shows("Marco B. declined the request.");
    w.click("Request control");
    engine_event(&mut w, Event::ControlGranted);
    assert!(matches!(&w.app.screen, Screen::Viewer(v) if v.control == Some(ControlState::Granted)));
    w.assert_shows("Release control");
    engine_event(&mut w, Event::ControlRevoked);
    w.assert_shows("Marco B. took control back.");
    w.assert_shows("Request control");
}

#[tokio::test]
async fn italian_everywhere() {
    let mut w = Window::new("ws://127.0.0.1:9", Some("Anna Rossi"), "it_IT.UTF-8");
    w.assert_shows("Ricevi assistenza");
    w.assert_shows("Aiuta qualcuno");
    w.assert_shows("Invia");
    w.save_png("home-it");
    w.dispatch(Message::CodeChanged("abcd-efgu".into()));
    w.click("Invia");
    w.assert_shows("«u» non può far parte di un codice. Verificalo con chi ti aiuta.");
    w.dispatch(Message::CodeChanged("abc-def-gh4".into()));
    w.click("Invia");
    w.assert_shows("Questo codice non sembra giusto: controllalo con chi ti aiuta.");
    w.save_png("home-mistyped-code-it");
    let s = sharing_window("it");
    s.assert_shows("Condivisione con Anna R.");
    s.assert_shows("Termina");
}

#[test]
fn the_overlay_draws_strokes_where_the_helper_put_them() {
    use crate::annotation::{Annotation, PenColour, Sketch};
    let mut sketch = Sketch::new(400, 300);
    sketch
        .apply(&Annotation::StrokeStart {
            id: 1,
            colour: PenColour::Blue,
            x: 50,
            y: 150,
        })
        .expect("start");
    sketch
        .apply(&Annotation::StrokeTo {
            id: 1,
            points: vec![(350, 150)],
        })
        .expect("to");
    let layer = iced::widget::canvas(super::sketch::SketchLayer {
        sketch: &sketch,
        transform: crate::input::view::ViewTransform::identity(400, 300),
        shaped: false,
    })
    .width(400)
    .height(300);
    let element: iced::Element<'_, Message> = layer.into();
    let mut ui =
        iced_test::Simulator::with_size(iced::Settings::default(), (400.0, 300.0), element);
    let (width, pixels) = rendered_rgba(&mut ui, "overlay");
    let scale = width / 400; // snapshots render at a scale factor
    let at = |x: u32, y: u32| {
        let i = ((y * scale * width + x * scale) * 4) as usize;
        [pixels[i], pixels[i + 1], pixels[i + 2], pixels[i + 3]]
    };
    let [r, g, b] = PenColour::Blue.rgb();
    for x in [60, 200, 340] {
        let p = at(x, 150);
        assert!(
            p[0].abs_diff(r) < 40 && p[1].abs_diff(g) < 40 && p[2].abs_diff(b) < 40,
            "({x}, 150) is the pen's blue: {p:?}"
        );
    }
    for (x, y) in [(200, 100), (200, 200), (20, 20)] {
        assert!(
            at(x, y)[3] < 20 || at(x, y)[..3] != [r, g, b],
            "({x}, {y}) is not drawn on"
        );
    }
}

fn key_press(key: iced::keyboard::Key, modifiers: iced::keyboard::Modifiers) -> Message {
    Message::Keyboard(iced::keyboard::Event::KeyPressed {
        key: key.clone(),
        modified_key: key,
        physical_key: iced::keyboard::key::Physical::Unidentified(
            iced::keyboard::key::NativeCode::Unidentified,
        ),
        location: iced::keyboard::Location::Standard,
        modifiers,
        text: None,
        repeat: false,
    })
}

#[tokio::test]
async fn the_dialogs_answer_the_keyboard() {
    use iced::keyboard::{key::Named, Key, Modifiers};
    let escape = || key_press(Key::Named(Named::Escape), Modifiers::empty());
    // Consent: Escape is "Cancel", Alt+A is "Allow" (Alt+C in Italian: "Consenti").
    let mut w = Window::new("ws://127.0.0.1:9", None, "en");
    w.app.screen = Screen::SharerConsent {
        helper_name: "Anna R.".into(),
        affiliation: Some("example.org".into()),
    };
    w.dispatch(escape());
    assert!(matches!(w.app.screen, Screen::Home { .. }));
    w.app.screen = Screen::SharerConsent {
        helper_name: "Anna R.".into(),
        affiliation: Some("example.org".into()),
    };
    w.dispatch(key_press(Key::Character("a".into()), Modifiers::ALT));
    assert!(matches!(w.app.screen, Screen::Sharing { .. }));
    let mut it = Window::new("ws://127.0.0.1:9", None, "it");
    it.app.screen = Screen::SharerConsent {
        helper_name: "Anna R.".into(),
        affiliation: Some("example.org".into()),
    };
    it.dispatch(key_press(Key::Character("a".into()), Modifiers::ALT));
    assert!(
        matches!(it.app.screen, Screen::SharerConsent { .. }),
        "Alt+A is not Consenti"
    );
    it.dispatch(key_press(Key::Character("c".into()), Modifiers::ALT));
    assert!(matches!(it.app.screen, Screen::Sharing { .. }));
    // A plain letter does nothing: only a deliberate Alt+letter answers.
    let mut w = Window::new("ws://127.0.0.1:9", None, "en");
    w.app.screen = Screen::SharerConsent {
        helper_name: "Anna R.".into(),
        affiliation: Some("example.org".into()),
    };
    w.dispatch(key_press(Key::Character("a".into()), Modifiers::empty()));
    assert!(matches!(w.app.screen, Screen::SharerConsent { .. }));
    // The control request: Escape declines.
    let mut w = sharing_window("en");
    engine_event(
        &mut w,
        Event::ControlRequested {
            helper_name: "Anna R.".into(),
        },
    );
    w.dispatch(escape());
    assert!(matches!(
        w.app.screen,
        Screen::Sharing {
            control: SharerControl::None,
            ..
        }
    ));
    // The helper's code screen: Escape cancels.
    let mut w = Window::new("ws://127.0.0.1:9", Some("Anna Rossi"), "en");
    w.app.screen = Screen::HelperCode {
        code: Some("ABC-DEF-GH3".into()),
        expires_at: None,
        joined: false,
        copied: false,
        replaced: None,
    };
    w.dispatch(escape());
    assert!(matches!(w.app.screen, Screen::Home { .. }));
}

/// The test OpenID provider (npm's `oidc-provider`, installed by `scripts/setup-deps.sh`),
/// started as `tests/src/oidc.rs` does; this crate cannot use that harness.
struct NodeProvider {
    child: std::process::Child,
    issuer: String,
}

impl NodeProvider {
    fn start() -> Self {
        use std::io::BufRead;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/oidc-provider");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the test OpenID provider is not installed: run scripts/setup-deps.sh test"
        );
        let mut child = std::process::Command::new("node")
            .arg("provider.mjs")
            .current_dir(&dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("node");
        let mut reader = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        reader.read_line(&mut line).expect("ready line");
        let issuer = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("provider did not start: {line:?}"))
            .to_string();
        std::thread::spawn(move || for _ in reader.lines() {});
        Self { child, issuer }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProvider {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The person at the browser: `tandem-test-browser` (built with the workspace) logs in as
/// anna on the provider's pages and agrees.
async fn person_opens(address: &str) {
    let exe = std::env::current_exe().expect("test exe");
    let target = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let browser = target.join("tandem-test-browser");
    assert!(
        browser.exists(),
        "{} not found: run `cargo build --workspace --all-targets` first",
        browser.display()
    );
    let status = tokio::process::Command::new(browser)
        .arg(address)
        .status()
        .await
        .expect("run the test browser");
    assert!(status.success(), "the browser step failed");
}

/// An embedded rendezvous trusting these identity providers (name, issuer), client
/// `tandem` at each.
async fn rendezvous_trusting(providers: &[(&str, &str)]) -> tandem_rendezvous::EmbeddedRendezvous {
    use tandem_rendezvous::oidc::{OidcProviderConfig, OidcVerifier};
    let configs = providers
        .iter()
        .map(|(name, issuer)| OidcProviderConfig::new(*name, *issuer, "tandem"))
        .collect();
    let verifier = OidcVerifier::new(configs, 60).expect("verifier");
    tandem_rendezvous::EmbeddedRendezvous::start(tandem_rendezvous::ServerConfig {
        sign_in: Some(std::sync::Arc::new(verifier)),
        ..tandem_rendezvous::ServerConfig::default()
    })
    .await
    .expect("rendezvous")
}

/// Runs the window until it shows the address to open in a browser; returns it.
async fn sign_in_address(window: &mut Window) -> String {
    use super::sign_in::{HelperAuth, SignInPrompt};
    window
        .run_until("the sign-in address", |app| {
            matches!(
                &app.auth,
                HelperAuth::SigningIn {
                    prompt: Some(SignInPrompt::Browser { .. }),
                    ..
                }
            )
        })
        .await;
    match &window.app.auth {
        HelperAuth::SigningIn {
            prompt: Some(SignInPrompt::Browser { url }),
            ..
        } => url.clone(),
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helper_signs_in_from_the_window_and_the_sharer_sees_the_verified_name() {
    use super::sign_in::{HelperAuth, SignInPrompt};

    let mut provider = NodeProvider::start();
    let rendezvous = rendezvous_trusting(&[("Example ID", &provider.issuer)]).await;
    let mut helper = Window::new(&rendezvous.url, None, "en");
    // No system browser here: the test is the person who opens the address shown.
    helper.app.open_browser = |_| Ok(());
    helper.assert_shows("You will sign in with your work or school account first.");
    helper.save_png("home-signed-out");

    // "Help someone" signs in first, then goes on to the code.
    helper.click("Help someone");
    let url = sign_in_address(&mut helper).await;
    helper.assert_shows("Cancel");
    helper.assert_shows("Copy the address");
    helper.save_png("sign-in-browser");
    assert!(url.starts_with(&provider.issuer), "{url}");
    person_opens(&url).await;
    helper.until_code("a code").await;
    let code = helper.code().expect("code");

    let mut sharer = Window::new(&rendezvous.url, None, "en");
    sharer.type_into(ids::CODE_INPUT, &code);
    sharer.click("Submit");
    sharer
        .run_until("the consent dialog", |app| {
            matches!(app.screen, Screen::SharerConsent { .. })
        })
        .await;
    sharer.assert_shows("Anna R. wants to share your screen");
    sharer.click("Cancel");
    helper.until_home().await;
    helper.assert_shows("Signed in as Anna R. (anna@example.org)");
    helper.save_png("home-signed-in");

    // Signed in, "Help someone" goes straight to a new code.
    helper.click("Help someone");
    helper.until_code("a second code").await;
    helper.click("Cancel");
    helper.until_home().await;

    helper.click("Sign out");
    assert!(matches!(
        helper.app.auth,
        HelperAuth::SignedOut { error: None }
    ));

    // The device flow shows the code to enter elsewhere; Cancel goes back.
    helper.click("Sign in with a code on another device");
    helper
        .run_until("a device code", |app| {
            matches!(
                &app.auth,
                HelperAuth::SigningIn {
                    prompt: Some(SignInPrompt::Device(_)),
                    ..
                }
            )
        })
        .await;
    let HelperAuth::SigningIn {
        prompt: Some(SignInPrompt::Device(device)),
        ..
    } = &helper.app.auth
    else {
        unreachable!()
    };
    let user_code = device.user_code.clone();
    helper.assert_shows(&user_code);
    helper.save_png("sign-in-device");
    helper.click("Cancel");
    assert!(matches!(
        helper.app.auth,
        HelperAuth::SignedOut { error: None }
    ));

    // The provider goes away: a clear message, and the helper can try again.
    provider.stop();
    helper.click("Help someone");
    helper
        .run_until("the sign-in error", |app| {
            matches!(app.auth, HelperAuth::SignedOut { error: Some(_) })
        })
        .await;
    helper.assert_shows(
        "Cannot reach the sign-in service. Check the internet connection and try again.",
    );
    helper.assert_shows("Help someone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_several_identity_providers_the_helper_chooses_one() {
    use super::sign_in::HelperAuth;

    let first = NodeProvider::start();
    let second = NodeProvider::start();
    let rendezvous =
        rendezvous_trusting(&[("First ID", &first.issuer), ("Second ID", &second.issuer)]).await;
    let mut helper = Window::new(&rendezvous.url, None, "en");
    helper.app.open_browser = |_| Ok(());
    helper.click("Help someone");
    helper
        .run_until("the choice of account", |app| {
            matches!(app.auth, HelperAuth::ChoosingProvider { .. })
        })
        .await;
    helper.assert_shows("Which account do you help with?");
    helper.assert_shows("Sign in with First ID");
    helper.save_png("sign-in-choose");
    helper.click("Sign in with Second ID");
    let url = sign_in_address(&mut helper).await;
    assert!(url.starts_with(&second.issuer), "{url}");
    person_opens(&url).await;
    // The click was "Help someone": signed in, it goes on to the code.
    helper.until_code("a code").await;
}

#[tokio::test]
async fn a_picture_coded_smaller_fills_the_view_and_says_so() {
    let mut w = Window::new("ws://127.0.0.1:9", Some("Anna Rossi"), "en");
    // As a session opens it: fitted to the window.
    w.app.screen = Screen::Viewer(Box::new(super::app::Viewer {
        fit: true,
        ..Default::default()
    }));
    engine_event(
        &mut w,
        Event::Paired {
            peer_name: Some("Marco B.".into()),
        },
    );
    engine_event(&mut w, Event::ConsentGiven);
    engine_event(
        &mut w,
        Event::PathChanged {
            path: crate::net::PathInfo {
                kind: "direct",
                transport: "udp",
                local: "192.0.2.1:5000".into(),
                remote: "192.0.2.2:5000".into(),
                local_type: "host".into(),
                remote_type: "host".into(),
            },
        },
    );
    // A Windows sharer where desktop duplication is unavailable: the helper sees why the
    // picture may be slow.
    engine_event(
        &mut w,
        Event::Monitors {
            monitors: Vec::new(),
            current: 0,
            capture: Some(crate::session::CaptureInfo {
                method: "gdi".into(),
                fallback: Some("desktop duplication unavailable".into()),
            }),
        },
    );
    // Busy motion on a 1280×720 screen, coded at 320×180: left half blue, right half orange.
    let (pw, ph) = (320u32, 180u32);
    let rgba: Vec<u8> = (0..pw * ph)
        .flat_map(|i| {
            if i % pw < pw / 2 {
                [20, 60, 200, 255]
            } else {
                [240, 140, 20, 255]
            }
        })
        .collect();
    w.app.frames.put(RemoteFrame {
        seq: 1,
        width: 1280,
        height: 720,
        handle: image::Handle::from_rgba(pw, ph, rgba),
        picture_width: pw,
    });
    let epoch = w.app.epoch();
    w.dispatch(Message::Engine(epoch, EngineMsg::Frame));
    w.run_until(
        "the picture",
        |app| matches!(&app.screen, Screen::Viewer(v) if v.frames_shown >= 1),
    )
    .await;
    w.assert_shows("Direct · – ms · – fps · screen: gdi · reduced size");

    // Rendered: the picture is stretched to the view (its halves far wider than 160 px)…
    let (blue, orange, scale) = middle_row_colours(&w, "fit");
    assert!(
        blue > 400 * scale && orange > 400 * scale,
        "halves of {blue} and {orange} px"
    );
    // …and at actual size to the screen's 1280 pixels: 640 px of blue, the rest of the
    // 1024-px window orange.
    w.click_tool("Actual size");
    let (blue, orange, scale) = middle_row_colours(&w, "actual");
    assert!(
        blue.abs_diff(640 * scale) < 20 * scale && orange > 300 * scale,
        "halves of {blue} and {orange} px at actual size"
    );
}

/// Counts the blue and orange pixels across the middle of the rendered window.
fn middle_row_colours(w: &Window, name: &str) -> (u32, u32, u32) {
    let mut ui = simulator(w.app.main_view());
    let (width, pixels) = rendered_rgba(&mut ui, &format!("gui-reduced-{name}"));
    let height = pixels.len() as u32 / 4 / width;
    let row = &pixels[(height / 2 * width * 4) as usize..((height / 2 + 1) * width * 4) as usize];
    let near = |p: &[u8], c: [u8; 3]| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) < 30);
    let blue = row
        .chunks(4)
        .filter(|p| near(&p[..3], [20, 60, 200]))
        .count() as u32;
    let orange = row
        .chunks(4)
        .filter(|p| near(&p[..3], [240, 140, 20]))
        .count() as u32;
    // Snapshots render at a scale factor.
    (blue, orange, width / 1024)
}

/// Renders with the software renderer and reads the picture back: its width and RGBA
/// pixels (kept in `$TANDEM_TEST_ARTIFACTS` as `name`.png when that is set).
fn rendered_rgba(ui: &mut iced_test::Simulator<'_, Message>, name: &str) -> (u32, Vec<u8>) {
    let snapshot = ui.snapshot(&iced::Theme::Light).expect("snapshot");
    let dir = std::env::temp_dir().join(format!("tandem-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let _ = snapshot.matches_image(dir.join(format!("{name}.png")));
    let saved = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "png"))
        .expect("a png");
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&saved).expect("png"),
    ));
    let mut reader = decoder.read_info().expect("info");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut pixels).expect("frame");
    pixels.truncate(info.buffer_size());
    if let Some(keep) = std::env::var_os("TANDEM_TEST_ARTIFACTS") {
        let _ = std::fs::copy(
            &saved,
            std::path::Path::new(&keep).join(format!("{name}.png")),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    (info.width, pixels)
}

/// A scammer's profile name, as the sharer's app receives it (cleaned by the rendezvous and
/// again by the app): no blank braille, no direction override, isolated in the sentence,
/// and beside it the organisation that vouches — or a warning that nobody does.
#[tokio::test]
async fn the_consent_dialog_shows_a_hostile_name_cleaned_isolated_and_who_vouches() {
    let hostile = "Microsoft\u{2800}Support\u{2800}Team \u{202e}moc.tfosorcim";
    let shown = tandem_rendezvous::display_name::abbreviate(hostile).expect("a name");
    assert_eq!(shown, "Microsoft M.");
    let mut w = Window::new("ws://127.0.0.1:9", None, "en");
    engine_event(
        &mut w,
        Event::ConsentRequested {
            helper_name: shown.clone(),
            affiliation: None,
        },
    );
    w.assert_shows("Microsoft M. wants to share your screen");
    w.assert_shows("Microsoft M. · name not verified: make sure you know who this is");
    // The name is isolated in every sentence it is part of.
    let title = w.app.strings().with("consent-title", &[("name", &shown)]);
    assert_eq!(
        title,
        "\u{2068}Microsoft M.\u{2069} wants to share your screen"
    );
    w.save_png("gui-consent-hostile-name");
    // A right-to-left name stays inside its isolate: the sentence around it keeps its order.
    let rtl = tandem_rendezvous::display_name::abbreviate("שרה כהן").expect("a name");
    engine_event(
        &mut w,
        Event::ConsentRequested {
            helper_name: rtl.clone(),
            affiliation: Some("contoso.com".into()),
        },
    );
    w.assert_shows(&format!("{rtl} · contoso.com"));
    w.save_png("gui-consent-rtl-name");
}

/// A rendezvous, and a helper's window showing the code it was given.
async fn helper_showing_a_code() -> (tandem_rendezvous::EmbeddedRendezvous, Window, String) {
    let rendezvous = tandem_rendezvous::EmbeddedRendezvous::start_for_demo()
        .await
        .expect("rendezvous");
    let mut helper = Window::new(&rendezvous.url, Some("Anna Rossi"), "en");
    helper.click("Help someone");
    helper.until_code("a code").await;
    let code = helper.code().expect("code");
    (rendezvous, helper, code)
}

/// The sharer mishears one symbol, then swaps two: the window says so at once and keeps
/// what was typed, and nothing reaches the rendezvous — the helper's code is not spent, so
/// the corrected code opens the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typo_is_caught_on_the_sharers_machine_and_the_code_still_works() {
    let (rendezvous, helper, code) = helper_showing_a_code().await;
    let mut sharer = Window::new(&rendezvous.url, None, "en");
    let mut misheard: Vec<char> = code.chars().collect();
    misheard[1] = if misheard[1] == 'M' { 'N' } else { 'M' };
    let misheard: String = misheard.into_iter().collect();
    let mut swapped: Vec<char> = code.chars().collect();
    // The last two different neighbours within a group.
    let at = (0..swapped.len() - 1)
        .rev()
        .find(|&i| swapped[i] != '-' && swapped[i + 1] != '-' && swapped[i] != swapped[i + 1])
        .expect("a code has two different neighbours");
    swapped.swap(at, at + 1);
    let swapped: String = swapped.into_iter().collect();
    sharer.type_into(ids::CODE_INPUT, &misheard);
    for (typed, shot) in [(misheard, "home-mistyped-code"), (swapped, "")] {
        sharer.dispatch(Message::CodeChanged(typed.clone()));
        sharer.click("Submit");
        let (kept, error) = home_error(&sharer.app).expect("said at once, with no network");
        assert_eq!(kept, typed, "what was typed stays to be corrected");
        assert_eq!(
            error,
            "This code doesn’t look right — check it with the person helping you."
        );
        sharer.assert_shows(&error);
        if !shot.is_empty() {
            sharer.save_png(shot);
        }
    }
    assert!(
        matches!(&helper.app.screen, Screen::HelperCode { code: Some(c), joined: false, replaced: None, .. } if *c == code),
        "the helper's code is untouched"
    );

    // Corrected, the same code opens the session: no guess was spent on the typos.
    sharer.dispatch(Message::CodeChanged(code.clone()));
    sharer.click("Submit");
    sharer
        .run_until("the consent dialog", |app| {
            matches!(app.screen, Screen::SharerConsent { .. })
        })
        .await;
    sharer.assert_shows("Anna R. wants to share your screen");
}

/// Someone types a code that passes the check but is not the helper's (a guess): the code
/// is spent (one guess per code), and the window offers a fresh one at once, saying why, instead of giving up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_guess_gives_the_helper_a_fresh_code_at_once() {
    let (rendezvous, mut helper, first) = helper_showing_a_code().await;
    // A guess that passes the code's check (a typo would not reach the rendezvous).
    let wrong = loop {
        let parsed = tandem_crypto::SessionCode::parse(&first).expect("a valid code");
        let other = tandem_crypto::SessionCode::generate(*parsed.nameplate());
        if other != parsed {
            break other.to_string();
        }
    };
    let mut sharer = Window::new(&rendezvous.url, None, "en");
    sharer.dispatch(Message::CodeChanged(wrong));
    sharer.click("Submit");
    helper
        .run_until("a fresh code", |app| {
            matches!(&app.screen, Screen::HelperCode { code: Some(c), replaced: Some(_), .. } if *c != first)
        })
        .await;
    helper.assert_shows(
        "Someone entered the code with a mistake, so it cannot be used again. Read out this new code.",
    );
    helper.save_png("gui-helper-code-replaced");
    sharer
        .run_until("the refusal", |app| home_error(app).is_some())
        .await;
    assert_eq!(
        home_error(&sharer.app).expect("error").1,
        "The code did not match. Ask for a new one."
    );
}

#[tokio::test]
async fn the_clipboard_is_asked_for_allowed_and_stopped_from_the_bar() {
    let mut w = sharing_window("en");
    engine_event(
        &mut w,
        Event::ClipboardRequested {
            helper_name: "Anna R.".into(),
        },
    );
    w.assert_shows("Anna R. wants to use your clipboard");
    w.assert_shows(
        "What you copy will reach Anna R., and what Anna R. copies will reach your \
         clipboard. Nothing crosses while the session is paused. You can stop it at any time.",
    );
    w.save_png("sharer-clipboard-request");
    w.click("Allow");
    assert!(matches!(
        w.app.screen,
        Screen::Sharing {
            clipboard: SharerControl::Helper,
            ..
        }
    ));
    w.save_png("sharer-clipboard-shared");
    w.assert_shows("Clipboard shared with Anna R.");
    w.click("Stop clipboard");
    assert!(matches!(
        w.app.screen,
        Screen::Sharing {
            clipboard: SharerControl::None,
            ..
        }
    ));
    // Escape is a "no", as for control.
    engine_event(
        &mut w,
        Event::ClipboardRequested {
            helper_name: "Anna R.".into(),
        },
    );
    w.dispatch(key_press(
        iced::keyboard::Key::Named(iced::keyboard::key::Named::Escape),
        iced::keyboard::Modifiers::empty(),
    ));
    assert!(!w.shows("wants to use your clipboard"));

    let mut it = sharing_window("it");
    engine_event(
        &mut it,
        Event::ClipboardRequested {
            helper_name: "Anna R.".into(),
        },
    );
    it.assert_shows("Anna R. vuole usare i tuoi appunti");
    it.save_png("sharer-clipboard-request-it");

    // The helper's side: asked, waiting, shared, stopped by the person.
    let mut helper = Window::new("ws://127.0.0.1:9", Some("Anna Rossi"), "en");
    helper.app.screen = Screen::Viewer(Box::default());
    engine_event(
        &mut helper,
        Event::Paired {
            peer_name: Some("Marco B.".into()),
        },
    );
    engine_event(&mut helper, Event::ConsentGiven);
    helper.click_tool("Share clipboard");
    helper.assert_tool_shows("Clipboard: waiting…");
    engine_event(&mut helper, Event::ClipboardGranted);
    helper.assert_shows("Clipboards are shared: what you copy reaches the other side, and back.");
    helper.assert_tool_shows("Stop clipboard");
    engine_event(&mut helper, Event::ClipboardReceived { bytes: 20 });
    helper.assert_shows("The other side's copy is on your clipboard.");
    helper.save_png("viewer-clipboard-shared");
    engine_event(
        &mut helper,
        Event::ClipboardStopped {
            by: crate::session::Role::Sharer,
        },
    );
    helper.assert_shows("Marco B. stopped clipboard sharing.");
    helper.assert_tool_shows("Share clipboard");
    helper.click_tool("Share clipboard");
    engine_event(
        &mut helper,
        Event::ClipboardDeclined {
            reason: crate::input::DeclineReason::Declined,
            message: String::new(),
        },
    );
    helper.assert_shows("Marco B. declined clipboard sharing.");
}

#[tokio::test]
async fn files_are_offered_accepted_shown_moving_and_cancelled_on_both_sides() {
    use crate::session::{Command, FileDirection, Role};
    let (tx, mut sent) = mpsc::unbounded_channel();
    let mut w = sharing_window("en");
    w.app.send_commands_to(tx);
    engine_event(
        &mut w,
        Event::FileOffered {
            id: 1,
            name: "Relazione finale.pdf".into(),
            size: 2_400_000,
            from: "Anna R.".into(),
        },
    );
    w.assert_shows("Anna R. wants to send you a file");
    w.assert_shows(
        "“Relazione finale.pdf” (2.4 MB). It will be saved in the Tandem folder in your \
         Downloads, never over another file. Open it only if you expected it.",
    );
    w.save_png("sharer-file-offer");
    w.click("Accept");
    assert_eq!(sent.try_recv().ok(), Some(Command::AcceptFile(1)));
    engine_event(
        &mut w,
        Event::FileStarted {
            id: 1,
            name: "Relazione finale.pdf".into(),
            size: 2_400_000,
            direction: FileDirection::Receiving,
        },
    );
    engine_event(
        &mut w,
        Event::FileProgress {
            id: 1,
            bytes: 1_000_000,
            size: 2_400_000,
            bytes_per_sec: 4_000_000,
            secs_left: Some(1),
        },
    );
    w.assert_shows("Relazione finale.pdf (2.4 MB)");
    w.assert_shows("Receiving · 41% · 4.0 MB/s · 1 s left");
    w.save_png("sharer-file-progress");
    w.click("Cancel");
    assert_eq!(sent.try_recv().ok(), Some(Command::CancelFile(1)));
    // (This window has no session, so no name for the helper.)
    engine_event(
        &mut w,
        Event::FileCancelled {
            id: 1,
            by: Role::Helper,
        },
    );
    w.assert_shows("Cancelled by The other person: nothing of it was kept");
    w.click("OK");
    assert!(!w.shows("Relazione finale.pdf"));
    // The helper asks for a file: the person chooses one, or says no (Escape too).
    engine_event(
        &mut w,
        Event::FileRequested {
            id: 2,
            helper_name: "Anna R.".into(),
        },
    );
    w.assert_shows("Anna R. asks for a file from your computer");
    w.assert_shows("Choose file…");
    w.save_png("sharer-file-request");
    w.dispatch(key_press(
        iced::keyboard::Key::Named(iced::keyboard::key::Named::Escape),
        iced::keyboard::Modifiers::empty(),
    ));
    assert_eq!(sent.try_recv().ok(), Some(Command::DeclineFile(2)));
    // A file dropped on the bar answers a request, and nothing else.
    w.dispatch(Message::FileDropped("/home/mario/notes.txt".into()));
    assert!(
        sent.try_recv().is_err(),
        "a drop with no request sent a file"
    );

    let mut it = sharing_window("it");
    engine_event(
        &mut it,
        Event::FileOffered {
            id: 1,
            name: "driver.zip".into(),
            size: 31_000_000,
            from: "Anna R.".into(),
        },
    );
    it.assert_shows("Anna R. vuole inviarti un file");
    it.assert_shows("Accetta");
    it.save_png("sharer-file-offer-it");

    // The helper: a file dropped on the picture is offered; its row waits, moves, ends.
    let (tx, mut sent) = mpsc::unbounded_channel();
    let mut helper = Window::new("ws://127.0.0.1:9", Some("Anna Rossi"), "en");
    helper.app.screen = Screen::Viewer(Box::default());
    helper.app.send_commands_to(tx);
    engine_event(
        &mut helper,
        Event::Paired {
            peer_name: Some("Marco B.".into()),
        },
    );
    helper.dispatch(Message::FileDropped("/tmp/fix.sh".into()));
    assert!(
        sent.try_recv().is_err(),
        "offered before the screen was shown"
    );
    engine_event(&mut helper, Event::ConsentGiven);
    helper.dispatch(Message::FileDropped("/tmp/fix.sh".into()));
    assert_eq!(
        sent.try_recv().ok(),
        Some(Command::SendFile("/tmp/fix.sh".into()))
    );
    engine_event(
        &mut helper,
        Event::FileOfferSent {
            id: 1,
            name: "fix.sh".into(),
            size: 1_200,
        },
    );
    helper.assert_shows("Waiting for Marco B. to accept it");
    engine_event(
        &mut helper,
        Event::FileStarted {
            id: 1,
            name: "fix.sh".into(),
            size: 1_200,
            direction: FileDirection::Sending,
        },
    );
    helper.click_tool("Ask for a file");
    assert_eq!(sent.try_recv().ok(), Some(Command::RequestFile));
    engine_event(&mut helper, Event::FileRequestSent { id: 2 });
    helper.assert_shows("Waiting for Marco B. to choose a file");
    engine_event(
        &mut helper,
        Event::FileProgress {
            id: 1,
            bytes: 600,
            size: 1_200,
            bytes_per_sec: 1_500,
            secs_left: None,
        },
    );
    helper.assert_shows("Sending · 50% · 1.5 kB/s · estimating the time left");
    helper.save_png("viewer-file-progress");
    engine_event(
        &mut helper,
        Event::FileDone {
            id: 1,
            name: "fix.sh".into(),
            size: 1_200,
            direction: FileDirection::Sending,
            path: None,
        },
    );
    helper.assert_shows("Delivered whole");
    engine_event(
        &mut helper,
        Event::FileStarted {
            id: 2,
            name: "Xorg.0.log".into(),
            size: 40_000,
            direction: FileDirection::Receiving,
        },
    );
    engine_event(
        &mut helper,
        Event::FileDone {
            id: 2,
            name: "Xorg.0.log".into(),
            size: 40_000,
            direction: FileDirection::Receiving,
            path: Some("/home/anna/Downloads/Tandem/Xorg.0.log".into()),
        },
    );
    helper.assert_shows("Saved as /home/anna/Downloads/Tandem/Xorg.0.log");
    helper.assert_shows("Open folder");
    helper.save_png("viewer-files-done");
    engine_event(
        &mut helper,
        Event::FileDeclined {
            id: 3,
            name: Some("big.iso".into()),
            reason: crate::file::FileRefusal::TooLarge,
            message: String::new(),
        },
    );
    helper.assert_shows("Not sent: it is larger than the other computer accepts");
}
