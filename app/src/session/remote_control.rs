//! The sharer's side of remote control: the gate, the translator and the injector thread
//! together, so the session loop only says what happened.

use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::capture::{MonitorInfo, SourceSpec};
use crate::input::gate::{ControlGate, RequestOutcome};
use crate::input::inject::{InjectError, InjectorThread};
use crate::input::translate::{InjectOp, InputTranslator};
use crate::input::{InputEvent, INPUT_STREAM_KIND, MAX_INPUT_LEN};
use crate::protocol::{read_message_max, FramingError};

#[derive(Debug, Clone, Copy)]
enum WaylandInput {
    /// The RemoteDesktop portal session the screen came from.
    Portal,
    /// A wlroots compositor's virtual pointer and keyboard.
    Wlroots,
}

pub(super) struct RemoteControl {
    gate: ControlGate,
    translator: InputTranslator,
    injector: Option<InjectorThread>,
    /// Where input goes: the display being shared.
    display: Option<String>,
    /// Where input goes when not to an X display.
    wayland: Option<WaylandInput>,
    shown: Option<MonitorInfo>,
    /// Input events dropped because control was not granted (a hostile or confused helper).
    refused: u64,
    /// Windows' secure desktop is up (a UAC prompt, the lock screen): input cannot land.
    out_of_reach: bool,
    /// The releases sent as the secure desktop came, sent again as it goes.
    released_into_prompt: Vec<InjectOp>,
}

impl RemoteControl {
    pub fn new(source: &SourceSpec) -> Self {
        let (controllable, display) = match source {
            SourceSpec::X11 { display, .. } => (cfg!(target_os = "linux"), display.clone()),
            // enigo injects on Windows and macOS, and on Linux through XTest; in a Wayland
            // session that would reach only the X applications, so control is declined as
            // not possible (view and annotation still work).
            SourceSpec::Xcap { .. } => (
                !cfg!(target_os = "linux")
                    || (std::env::var_os("DISPLAY").is_some()
                        && !crate::capture::wayland_session()),
                None,
            ),
            // Wayland: through the portal session the screen came from, if the desktop
            // has the RemoteDesktop portal and the person allowed input in its dialog.
            #[cfg(target_os = "linux")]
            SourceSpec::Portal { .. } => (crate::capture::portal::remote_input_available(), None),
            #[cfg(not(target_os = "linux"))]
            SourceSpec::Portal { .. } => (false, None),
            // wlroots: the compositor's virtual pointer and keyboard.
            #[cfg(target_os = "linux")]
            SourceSpec::Wlr { .. } => (crate::input::wlr::available(), None),
            #[cfg(not(target_os = "linux"))]
            SourceSpec::Wlr { .. } => (false, None),
            // Windows: SendInput.
            SourceSpec::Duplication { .. } => (cfg!(windows), None),
            SourceSpec::TestPattern { .. } => (false, None),
        };
        Self {
            wayland: match source {
                SourceSpec::Portal { .. } => Some(WaylandInput::Portal),
                SourceSpec::Wlr { .. } => Some(WaylandInput::Wlroots),
                _ => None,
            },
            gate: ControlGate::new(controllable),
            translator: InputTranslator::default(),
            injector: None,
            display,
            shown: None,
            refused: 0,
            out_of_reach: false,
            released_into_prompt: Vec::new(),
        }
    }

    pub fn on_monitors(&mut self, monitors: &[MonitorInfo], current: u32) {
        self.shown = monitors.iter().find(|m| m.id == current).cloned();
    }

    pub fn on_request(&mut self) -> RequestOutcome {
        self.gate.on_request(Instant::now())
    }

    /// The person allowed. Opens the injector the first time; if that fails, control is
    /// impossible for the rest of the session and the error says why.
    pub fn grant(&mut self) -> Result<bool, InjectError> {
        if self.injector.is_none()
            && self.gate.state() == crate::input::gate::ControlState::Requested
        {
            let display = self.display.clone();
            let opened = match self.wayland {
                #[cfg(target_os = "linux")]
                Some(WaylandInput::Portal) => {
                    InjectorThread::spawn(crate::capture::portal::PortalInjector::open)
                }
                #[cfg(target_os = "linux")]
                Some(WaylandInput::Wlroots) => {
                    InjectorThread::spawn(crate::input::wlr::WlrInjector::open)
                }
                #[cfg(not(target_os = "linux"))]
                Some(_) => Err(InjectError::Stopped),
                // Windows: scan codes through SendInput (enigo would map them to virtual
                // keys through the layout first).
                #[cfg(windows)]
                None => {
                    let _ = display;
                    InjectorThread::spawn(crate::input::win::SendInputInjector::open)
                }
                #[cfg(not(windows))]
                None => InjectorThread::spawn(move || {
                    crate::input::inject::DesktopInjector::open(display.as_deref())
                }),
            };
            match opened {
                Ok(thread) => self.injector = Some(thread),
                Err(e) => {
                    self.gate.lose_ability();
                    return Err(e);
                }
            }
        }
        Ok(self.gate.grant())
    }

    pub fn decline(&mut self) -> bool {
        self.gate.decline(Instant::now())
    }

    pub fn revoke(&mut self) -> bool {
        let had = self.gate.revoke();
        self.release_held();
        had
    }

    pub fn release(&mut self) -> bool {
        let had = self.gate.release();
        self.release_held();
        had
    }

    /// Windows' secure desktop came up or went away. Whatever the helper held is released
    /// both times: as it comes (a key held into a UAC prompt would stay down on the desktop
    /// behind it) and as it goes (releases sent meanwhile were refused by Windows). Input in
    /// between is dropped: it could not land, and must not play once the prompt closes.
    pub fn set_out_of_reach(&mut self, out_of_reach: bool) {
        if out_of_reach == self.out_of_reach {
            return;
        }
        self.out_of_reach = out_of_reach;
        let ops = if out_of_reach {
            let mut ops = Vec::new();
            self.translator.release_all(&mut ops);
            self.released_into_prompt.clone_from(&ops);
            ops
        } else {
            std::mem::take(&mut self.released_into_prompt)
        };
        if let Some(injector) = &self.injector {
            if let Err(e) = injector.flush_then(ops) {
                warn!("releasing held input: {e}");
            }
        }
    }

    pub fn set_paused(&mut self, paused: bool) {
        self.gate.set_paused(paused);
        if paused {
            self.release_held();
        }
    }

    /// Every event from the helper passes the gate here, or goes nowhere.
    pub fn on_input(&mut self, event: &InputEvent) {
        let (Some(injector), Some(shown), true, false) = (
            &self.injector,
            &self.shown,
            self.gate.allows_input(),
            self.out_of_reach,
        ) else {
            self.refused += 1;
            if self.refused == 1 || self.refused.is_power_of_two() {
                debug!(refused = self.refused, "input without control ignored");
            }
            return;
        };
        let mut ops = Vec::with_capacity(2);
        match self.translator.translate(event, shown, &mut ops) {
            Ok(()) => match injector.send(ops) {
                Ok(()) => {}
                Err(e @ InjectError::Behind) => debug!("{e}"),
                Err(e) => warn!("{e}"),
            },
            Err(skipped) => debug!("input skipped: {skipped}"),
        }
    }

    pub fn holds_anything(&self) -> bool {
        self.translator.holds_anything()
    }

    /// Releases every key and button the helper holds down on this desktop, and drops
    /// whatever input is still queued: nothing sent before a revoke or pause plays after it.
    pub fn release_held(&mut self) {
        let mut ops = Vec::new();
        self.translator.release_all(&mut ops);
        if let Some(injector) = &self.injector {
            if let Err(e) = injector.flush_then(ops) {
                warn!("releasing held input: {e}");
            }
        }
    }
}

impl Drop for RemoteControl {
    /// The session is over, however it ended: nothing stays pressed. Dropping the injector
    /// thread plays the releases before it stops.
    fn drop(&mut self) {
        self.release_held();
    }
}

/// What the input stream reader reports besides events.
#[derive(Debug, thiserror::Error)]
pub(super) enum InputStreamError {
    /// One message could not be read (e.g. from a newer version); the next may be fine.
    #[error("malformed input message: {0}")]
    Malformed(String),
    /// The helper broke the stream's rules: the session cannot trust it further.
    #[error("input stream: {0}")]
    Violation(String),
    /// The stream ended or was reset, or the connection went away.
    #[error("input stream ended")]
    Ended,
}

/// Input events read but not yet handled, at most: the reader then waits, and QUIC's flow
/// control holds the helper back.
const QUEUED_INPUT: usize = 64;

/// Reads the helper's input stream on its own task (cancel-safe for the session loop).
pub(super) fn spawn_input_reader(
    mut stream: impl AsyncRead + Unpin + Send + 'static,
) -> mpsc::Receiver<Result<InputEvent, InputStreamError>> {
    let (tx, rx) = mpsc::channel(QUEUED_INPUT);
    tokio::spawn(async move {
        match stream.read_u8().await {
            Ok(INPUT_STREAM_KIND) => {}
            Ok(kind) => {
                let _ = tx
                    .send(Err(InputStreamError::Violation(format!(
                        "unknown stream kind {kind}"
                    ))))
                    .await;
                return;
            }
            Err(_) => {
                let _ = tx.send(Err(InputStreamError::Ended)).await;
                return;
            }
        }
        loop {
            let msg = match read_message_max(&mut stream, MAX_INPUT_LEN).await {
                Ok(event) => Ok(event),
                Err(FramingError::Malformed(e)) => Err(InputStreamError::Malformed(e.to_string())),
                Err(e @ FramingError::TooLarge(_)) => {
                    Err(InputStreamError::Violation(e.to_string()))
                }
                Err(FramingError::Io(_) | FramingError::Closed) => Err(InputStreamError::Ended),
            };
            let last = matches!(
                msg,
                Err(InputStreamError::Violation(_) | InputStreamError::Ended)
            );
            if tx.send(msg).await.is_err() || last {
                break;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::AsyncWriteExt;

    use super::*;
    use crate::input::inject::Injector;
    use crate::protocol::write_message;

    /// Writes down what would have reached the desktop.
    struct Recording(Arc<Mutex<Vec<InjectOp>>>);

    impl Injector for Recording {
        fn inject(&mut self, op: &InjectOp) -> Result<(), InjectError> {
            self.0.lock().expect("ops").push(*op);
            Ok(())
        }
    }

    fn key(code: &str, down: bool) -> InputEvent {
        InputEvent::Key {
            code: code.into(),
            down,
        }
    }

    /// Waits (hang guard only) until the injector thread has played `n` operations.
    fn played(ops: &Arc<Mutex<Vec<InjectOp>>>, n: usize) -> Vec<InjectOp> {
        let deadline = Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let now = ops.lock().expect("ops").clone();
            if now.len() >= n {
                return now;
            }
            assert!(Instant::now() < deadline, "only {now:?} played");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    #[test]
    fn a_windows_prompt_releases_held_keys_and_drops_input_until_it_closes() {
        let ops = Arc::new(Mutex::new(Vec::new()));
        let mut remote = RemoteControl::new(&SourceSpec::TestPattern {
            width: 64,
            height: 64,
        });
        remote.gate = ControlGate::new(true);
        let recording = Recording(Arc::clone(&ops));
        remote.injector = Some(InjectorThread::spawn(move || Ok(recording)).expect("injector"));
        remote.on_monitors(
            &[MonitorInfo {
                id: 0,
                name: "m".into(),
                screen: 0,
                x: 0,
                y: 0,
                width: 64,
                height: 64,
                width_mm: 0,
                primary: true,
                scale_percent: 100,
            }],
            0,
        );
        assert_eq!(remote.on_request(), RequestOutcome::Ask);
        assert_eq!(remote.grant().ok(), Some(true));

        remote.on_input(&key("ShiftLeft", true));
        let pressed = played(&ops, 1);
        let InjectOp::Key {
            keycode,
            down: true,
        } = pressed[0]
        else {
            panic!("not a press: {pressed:?}");
        };
        // A UAC prompt comes up with Shift held: released at once.
        remote.set_out_of_reach(true);
        assert_eq!(
            played(&ops, 2)[1],
            InjectOp::Key {
                keycode,
                down: false
            }
        );
        assert!(!remote.holds_anything());
        // Typing into the prompt from afar goes nowhere, and does not play afterwards.
        remote.on_input(&key("KeyA", true));
        remote.on_input(&key("KeyA", false));
        // Closed: Shift is released again (Windows refused the first release while the
        // prompt was up), then input plays again.
        remote.set_out_of_reach(false);
        remote.on_input(&key("KeyB", true));
        let mut b = Vec::new();
        let shown = remote.shown.clone().expect("shown");
        InputTranslator::default()
            .translate(&key("KeyB", true), &shown, &mut b)
            .expect("KeyB");
        let shift_up = InjectOp::Key {
            keycode,
            down: false,
        };
        // Everything up to B's press, in order: nothing typed during the prompt in between.
        let deadline = Instant::now() + std::time::Duration::from_secs(30);
        while !ops.lock().expect("ops").contains(&b[0]) {
            assert!(Instant::now() < deadline, "B never played");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(
            *ops.lock().expect("ops"),
            [pressed[0], shift_up, shift_up, b[0]]
        );
    }

    async fn read_all(bytes: Vec<u8>) -> Vec<Result<InputEvent, InputStreamError>> {
        let (mut w, r) = tokio::io::duplex(64 * 1024);
        let mut rx = spawn_input_reader(r);
        w.write_all(&bytes).await.expect("write");
        drop(w);
        let mut out = Vec::new();
        while let Some(m) = rx.recv().await {
            out.push(m);
        }
        out
    }

    #[tokio::test]
    async fn the_input_stream_survives_a_bad_message_but_not_broken_framing() {
        let ok = InputEvent::Wheel { dx: 0, dy: 1 };
        let mut bytes = vec![INPUT_STREAM_KIND];
        let mut msg = Vec::new();
        write_message(&mut msg, &ok).await.expect("encode");
        bytes.extend_from_slice(&msg);
        bytes.extend_from_slice(&5u32.to_be_bytes());
        bytes.extend_from_slice(b"{bad}");
        bytes.extend_from_slice(&msg);
        let out = read_all(bytes.clone()).await;
        assert!(matches!(out[0], Ok(ref e) if *e == ok));
        assert!(matches!(out[1], Err(InputStreamError::Malformed(_))));
        assert!(matches!(out[2], Ok(ref e) if *e == ok));
        assert!(matches!(out[3], Err(InputStreamError::Ended)));
        assert_eq!(out.len(), 4);

        let mut huge = vec![INPUT_STREAM_KIND];
        huge.extend_from_slice(&(MAX_INPUT_LEN as u32 + 1).to_be_bytes());
        huge.extend_from_slice(&msg);
        let out = read_all(huge).await;
        assert!(matches!(out[..], [Err(InputStreamError::Violation(_))]));

        let mut wrong_kind = bytes;
        wrong_kind[0] = 0x7f;
        let out = read_all(wrong_kind).await;
        assert!(matches!(out[..], [Err(InputStreamError::Violation(_))]));
    }
}
