//! Operations on the real desktop, on a thread of their own: injection is blocking (a round
//! trip to the X server per event) and must never stall the session loop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use enigo::{Axis, Button, Coordinate, Direction, Enigo, Keyboard, Mouse, Settings};
use tracing::{debug, warn};

use super::translate::{InjectOp, ScrollAxis};
use super::PointerButton;

#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    #[error("cannot inject input into {display}: {reason}")]
    Open { display: String, reason: String },
    #[error("injecting input: {0}")]
    Inject(String),
    #[error("the input thread stopped")]
    Stopped,
    #[error("the desktop takes input slower than it arrives: input dropped")]
    Behind,
}

/// Something that can play [`InjectOp`]s on a desktop.
pub trait Injector {
    fn inject(&mut self, op: &InjectOp) -> Result<(), InjectError>;
}

/// The desktop's input through enigo (on X11: the XTest extension, which adds events
/// beside the person's own mouse and keyboard and never blocks them).
pub struct DesktopInjector {
    enigo: Enigo,
    #[cfg(target_os = "linux")]
    screens: Option<ScreenSwitcher>,
}

impl DesktopInjector {
    /// `display`: the X display to inject into (default `$DISPLAY`).
    pub fn open(display: Option<&str>) -> Result<Self, InjectError> {
        let settings = Settings {
            // enigo's default 12 ms pause after every event would make a click cost 24 ms.
            linux_delay: 0,
            x11_display: display.map(str::to_string),
            ..Settings::default()
        };
        let enigo = Enigo::new(&settings).map_err(|e| InjectError::Open {
            display: display.unwrap_or("$DISPLAY").to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            enigo,
            #[cfg(target_os = "linux")]
            screens: ScreenSwitcher::open(display),
        })
    }
}

fn button(b: PointerButton) -> Button {
    match b {
        PointerButton::Left => Button::Left,
        PointerButton::Middle => Button::Middle,
        PointerButton::Right => Button::Right,
        PointerButton::Back => Button::Back,
        PointerButton::Forward => Button::Forward,
    }
}

fn direction(down: bool) -> Direction {
    if down {
        Direction::Press
    } else {
        Direction::Release
    }
}

impl Injector for DesktopInjector {
    fn inject(&mut self, op: &InjectOp) -> Result<(), InjectError> {
        let failed = |e: enigo::InputError| InjectError::Inject(e.to_string());
        match *op {
            InjectOp::MoveTo { screen, x, y, .. } => {
                #[cfg(target_os = "linux")]
                if let Some(switcher) = self.screens.as_mut() {
                    if switcher.move_to(screen, x, y)? {
                        return Ok(());
                    }
                }
                #[cfg(not(target_os = "linux"))]
                let _ = screen;
                self.enigo.move_mouse(x, y, Coordinate::Abs).map_err(failed)
            }
            InjectOp::Button { button: b, down } => self
                .enigo
                .button(button(b), direction(down))
                .map_err(failed),
            InjectOp::Scroll { axis, notches } => {
                let axis = match axis {
                    ScrollAxis::Vertical => Axis::Vertical,
                    ScrollAxis::Horizontal => Axis::Horizontal,
                };
                self.enigo.scroll(notches, axis).map_err(failed)
            }
            InjectOp::Key { keycode, down } => {
                self.enigo.raw(keycode, direction(down)).map_err(failed)
            }
            // The key the sharer's layout types it with (on X11 a spare key is mapped to
            // it for the moment when no key does).
            InjectOp::Char(c) => {
                let key = match c {
                    '\n' => enigo::Key::Return,
                    '\t' => enigo::Key::Tab,
                    c => enigo::Key::Unicode(c),
                };
                self.enigo.key(key, Direction::Click).map_err(failed)
            }
        }
    }
}

/// With several X screens (`:0.0`, `:0.1`), XTest moves the pointer only within the screen
/// it is on; getting to another screen takes a warp to that screen's root window.
#[cfg(target_os = "linux")]
struct ScreenSwitcher {
    conn: x11rb::rust_connection::RustConnection,
    roots: Vec<x11rb::protocol::xproto::Window>,
}

#[cfg(target_os = "linux")]
impl ScreenSwitcher {
    fn open(display: Option<&str>) -> Option<Self> {
        use x11rb::connection::Connection;
        let (conn, _) = x11rb::connect(display).ok()?;
        let roots: Vec<_> = conn.setup().roots.iter().map(|s| s.root).collect();
        // One screen (the usual case): XTest alone does everything.
        (roots.len() > 1).then_some(Self { conn, roots })
    }

    /// True when it moved the pointer itself (onto another screen).
    fn move_to(&mut self, screen: u32, x: i32, y: i32) -> Result<bool, InjectError> {
        use x11rb::connection::Connection;
        use x11rb::protocol::xproto::ConnectionExt;
        let failed = |e: &dyn std::fmt::Display| InjectError::Inject(e.to_string());
        let Some(&target) = self.roots.get(screen as usize) else {
            return Ok(false);
        };
        let pointer = self
            .conn
            .query_pointer(target)
            .map_err(|e| failed(&e))?
            .reply()
            .map_err(|e| failed(&e))?;
        if pointer.same_screen {
            return Ok(false);
        }
        let (x, y) = (
            i16::try_from(x).unwrap_or(i16::MAX),
            i16::try_from(y).unwrap_or(i16::MAX),
        );
        self.conn
            .warp_pointer(x11rb::NONE, target, 0, 0, 0, 0, x, y)
            .map_err(|e| failed(&e))?;
        self.conn.flush().map_err(|e| failed(&e))?;
        Ok(true)
    }
}

/// Behind by more operations than this (the display server stalls), a run of pointer moves
/// collapses to its last one. Below it every move is played: a drawing keeps its shape.
const BACKLOG_COLLAPSE: usize = 64;

/// The injector's thread. Operations are played in order; when far behind, runs of pointer
/// moves collapse to their last one. Dropping the handle plays what is queued
/// (the releases sent last included) and then stops the thread.
pub struct InjectorThread {
    ops: Option<mpsc::SyncSender<(u64, Vec<InjectOp>)>>,
    /// Batches sent before the last [`InjectorThread::flush_then`] carry an older epoch
    /// and are skipped: nothing the helper sent before a revoke or pause plays after it.
    epoch: Arc<AtomicU64>,
    /// Releases to play before anything else; kept apart from the queue so that a flush
    /// never waits for room (the session loop must not block on a stalled desktop), and
    /// bounded by the keys and buttons there are.
    releases: Arc<Mutex<Vec<InjectOp>>>,
    thread: Option<JoinHandle<()>>,
}

/// Batches waiting for the injector at most: a helper sending faster than the desktop
/// takes input loses the excess instead of queueing it.
const QUEUED_BATCHES: usize = 256;

impl InjectorThread {
    /// Opens the injector on the new thread (some platforms want it used where it was made)
    /// and reports whether that worked.
    pub fn spawn<I, F>(open: F) -> Result<Self, InjectError>
    where
        I: Injector + 'static,
        F: FnOnce() -> Result<I, InjectError> + Send + 'static,
    {
        let (ops_tx, ops_rx) = mpsc::sync_channel::<(u64, Vec<InjectOp>)>(QUEUED_BATCHES);
        let (ready_tx, ready_rx) = mpsc::channel();
        let epoch = Arc::new(AtomicU64::new(0));
        let current = Arc::clone(&epoch);
        let releases: Arc<Mutex<Vec<InjectOp>>> = Arc::default();
        let pending = Arc::clone(&releases);
        let thread = std::thread::Builder::new()
            .name("tandem-inject".into())
            .spawn(move || {
                let mut injector = match open() {
                    Ok(i) => {
                        let _ = ready_tx.send(Ok(()));
                        i
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                play(&mut injector, &ops_rx, &current, &pending);
            })
            .map_err(|e| InjectError::Inject(e.to_string()))?;
        ready_rx.recv().map_err(|_| InjectError::Stopped)??;
        Ok(Self {
            ops: Some(ops_tx),
            epoch,
            releases,
            thread: Some(thread),
        })
    }

    /// Queues input; when the injector is that far behind, the batch is dropped.
    pub fn send(&self, ops: Vec<InjectOp>) -> Result<(), InjectError> {
        if ops.is_empty() {
            return Ok(());
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        match self
            .ops
            .as_ref()
            .ok_or(InjectError::Stopped)?
            .try_send((epoch, ops))
        {
            Ok(()) => Ok(()),
            Err(mpsc::TrySendError::Full(_)) => Err(InjectError::Behind),
            Err(mpsc::TrySendError::Disconnected(_)) => Err(InjectError::Stopped),
        }
    }

    /// Drops everything queued, then plays `ops` (the releases) before anything sent
    /// later: what happens on revoke, pause and end. Never waits.
    pub fn flush_then(&self, ops: Vec<InjectOp>) -> Result<(), InjectError> {
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        let sender = self.ops.as_ref().ok_or(InjectError::Stopped)?;
        if ops.is_empty() {
            return Ok(());
        }
        {
            let mut releases = self.releases.lock().unwrap_or_else(|p| p.into_inner());
            for op in ops {
                if !releases.contains(&op) {
                    releases.push(op);
                }
            }
        }
        // Wakes the thread if it waits for work (when the queue is full it is busy, and
        // takes the releases before its next operation).
        match sender.try_send((epoch, Vec::new())) {
            Err(mpsc::TrySendError::Disconnected(_)) => Err(InjectError::Stopped),
            _ => Ok(()),
        }
    }
}

impl Drop for InjectorThread {
    fn drop(&mut self) {
        self.ops.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn play(
    injector: &mut impl Injector,
    ops: &mpsc::Receiver<(u64, Vec<InjectOp>)>,
    epoch: &AtomicU64,
    releases: &Mutex<Vec<InjectOp>>,
) {
    let mut failures = 0u32;
    let mut inject = |op: &InjectOp| {
        if let Err(e) = injector.inject(op) {
            failures += 1;
            if failures <= 3 {
                warn!("{e}");
            } else {
                debug!("{e}");
            }
        }
    };
    let take_releases = || std::mem::take(&mut *releases.lock().unwrap_or_else(|p| p.into_inner()));
    while let Ok(first) = ops.recv() {
        // Each operation keeps the epoch it was sent in: a flush while the backlog plays
        // skips the rest of it.
        let mut batch: Vec<(u64, InjectOp)> = Vec::new();
        // At most a queue's worth at once: a sender that keeps pace with the draining would
        // otherwise grow the batch without bound while the desktop stalls.
        let queued = std::iter::from_fn(|| ops.try_recv().ok()).take(QUEUED_BATCHES - 1);
        for (at, more) in std::iter::once(first).chain(queued) {
            batch.extend(more.into_iter().map(|op| (at, op)));
        }
        for (i, (at, op)) in batch.iter().enumerate() {
            for release in take_releases() {
                inject(&release);
            }
            if *at < epoch.load(Ordering::Acquire) {
                continue;
            }
            let superseded = batch.len() > BACKLOG_COLLAPSE
                && matches!(op, InjectOp::MoveTo { .. })
                && matches!(batch.get(i + 1), Some((_, InjectOp::MoveTo { .. })));
            if superseded {
                continue;
            }
            inject(op);
        }
        for release in take_releases() {
            inject(&release);
        }
    }
    // Stopping: what was to be released still is.
    for release in take_releases() {
        inject(&release);
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    struct Recorder(Arc<Mutex<Vec<InjectOp>>>);

    impl Injector for Recorder {
        fn inject(&mut self, op: &InjectOp) -> Result<(), InjectError> {
            self.0.lock().expect("lock").push(*op);
            Ok(())
        }
    }

    #[test]
    fn plays_everything_in_order_before_stopping_and_collapses_moves_only_when_far_behind() {
        let played = Arc::new(Mutex::new(Vec::new()));
        let sink = played.clone();
        let thread = InjectorThread::spawn(move || Ok(Recorder(sink))).expect("spawn");
        let mv = |x| InjectOp::MoveTo {
            screen: 0,
            monitor: 0,
            x,
            y: 0,
        };
        let key = |down| InjectOp::Key { keycode: 38, down };
        thread
            .send(vec![mv(1), mv(2), mv(3), key(true), mv(4), key(false)])
            .expect("send");
        while played.lock().expect("lock").len() < 6 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let mut backlog: Vec<_> = (0..100).map(mv).collect();
        backlog.push(key(true));
        thread.send(backlog).expect("send");
        drop(thread);
        let played = played.lock().expect("lock").clone();
        assert_eq!(
            played[..6],
            [mv(1), mv(2), mv(3), key(true), mv(4), key(false)]
        );
        assert_eq!(played[6..], [mv(99), key(true)]);
    }

    #[test]
    fn a_failure_to_open_is_reported() {
        let r = InjectorThread::spawn(|| -> Result<Recorder, InjectError> {
            Err(InjectError::Open {
                display: ":99".into(),
                reason: "no".into(),
            })
        });
        assert!(matches!(r, Err(InjectError::Open { .. })));
    }
}

#[cfg(test)]
mod flush_tests {
    use std::sync::Condvar;

    use super::*;

    /// A desktop that takes no input until the test lets it (a stalled display server).
    struct Stalled {
        played: Arc<Mutex<Vec<InjectOp>>>,
        open: Arc<(Mutex<bool>, Condvar)>,
    }

    impl Injector for Stalled {
        fn inject(&mut self, op: &InjectOp) -> Result<(), InjectError> {
            let (lock, opened) = &*self.open;
            let mut open = lock.lock().expect("lock");
            while !*open {
                open = opened.wait(open).expect("wait");
            }
            self.played.lock().expect("lock").push(*op);
            Ok(())
        }
    }

    #[test]
    fn input_queued_before_a_revoke_does_not_play_after_it_and_a_flood_is_bounded() {
        let played = Arc::new(Mutex::new(Vec::new()));
        let open = Arc::new((Mutex::new(false), Condvar::new()));
        let (sink, gate) = (played.clone(), open.clone());
        let thread = InjectorThread::spawn(move || {
            Ok(Stalled {
                played: sink,
                open: gate,
            })
        })
        .expect("spawn");
        let key = |keycode, down| InjectOp::Key { keycode, down };
        // The helper types far faster than the desktop takes it.
        let accepted = (0..1000u16)
            .filter(|i| thread.send(vec![key(38 + i % 20, true)]).is_ok())
            .count();
        // Revoke: the releases play, the backlog does not.
        let flushed = thread.flush_then(vec![key(50, false)]);
        // The desktop wakes before anything is asserted: a failed assertion must not leave
        // the injector thread waiting (its join would hang the test).
        *open.0.lock().expect("lock") = true;
        open.1.notify_all();
        drop(thread);
        assert!(flushed.is_ok());
        assert!(
            accepted <= 2 * QUEUED_BATCHES,
            "{accepted} batches queued: a flood is bounded"
        );
        let played = played.lock().expect("lock").clone();
        assert_eq!(played.last(), Some(&key(50, false)));
        assert!(
            played.len() <= 2,
            "{} queued key presses played after the revoke",
            played.len() - 1
        );
    }
}
