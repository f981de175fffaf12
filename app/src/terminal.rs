//! The terminal front end: events to stdout (text or one JSON object per line), stdin lines
//! to commands. The helper's input commands make the CLI scriptable (tests, automation).

use std::io::Write;

use tandem::annotation::{Annotation, PenColour, MAX_POINTS_PER_MESSAGE};
use tandem::input::view::ViewTransform;
use tandem::peer_text::for_terminal;
use tandem::session::{
    CaptureInfo, Command, EndReason, Event, FileDirection, InputEvent, Modifiers, MonitorInfo,
    PointerButton, Role, SessionError, SessionHandle,
};
use tandem::units::human_size;
use tokio::io::AsyncBufReadExt;

const HELP: &str = "\
commands: /pause /resume /end /keyframe /monitor N, anything else is a chat message
helper:   /control (ask for control) /release   /clipboard (ask to share clipboards) /clipboard off
          /view WxH (coordinates below are in a view of that size; /view off: monitor pixels)
          /move X Y   /click X Y [left|middle|right]   /down [button]   /up [button]
          /drag X1 Y1 X2 Y2 [button]   /wheel DX DY (notches; +DY scrolls down)
          /key CODE[+CODE…] …  (W3C key codes: KeyA, Digit1, Semicolon, ShiftLeft, Enter…)
          /keydown CODE   /keyup CODE   /modifiers [shift] [ctrl] [alt] [meta]
          /type TEXT (typed as keys in the sharer's layout, for fields that refuse a paste;
          \\n is Enter, \\t is Tab)
          /pen [red|yellow|blue|green] X1 Y1 X2 Y2 …   /laser X Y   /laser off   /clear
          /send PATH (offer a file; the sharer decides)   /fetch (ask the sharer for a file)
sharer:   /revoke (take control back)   /clipboard off (stop sharing clipboards)
          /send PATH (answer the helper's request for a file)   /accept ID   /decline ID
both:     /cancel ID (stop a file transfer; nothing of it is kept)";

/// A question the next line answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Question {
    Consent,
    Control,
    Clipboard,
    /// Take the helper's file `id`?
    File(u32),
    /// Which file to give the helper (a path; an empty line declines)?
    FileRequest(u32),
}

/// What the script parser needs to know about the session.
#[derive(Debug, Default)]
pub struct ScriptState {
    /// The monitor being shown: input coordinates are relative to it.
    monitor: Option<MonitorInfo>,
    /// The size of the helper's view, when coordinates are given in a scaled view.
    view: Option<(f64, f64)>,
    /// Where the last pointer command left the pointer (for /down and /up).
    pointer: Option<(u32, u32)>,
    next_stroke: u32,
}

impl ScriptState {
    pub fn on_event(&mut self, ev: &Event) {
        if let Event::Monitors {
            monitors, current, ..
        } = ev
        {
            self.monitor = monitors.iter().find(|m| m.id == *current).cloned();
        }
    }

    fn transform(&self) -> Result<(u32, ViewTransform), String> {
        let m = self
            .monitor
            .as_ref()
            .ok_or("no picture yet: wait for the sharer's monitors")?;
        let t = match self.view {
            Some((w, h)) => ViewTransform::fit(m.width, m.height, w, h).ok_or("bad view size")?,
            None => ViewTransform::identity(m.width, m.height),
        };
        Ok((m.id, t))
    }

    fn point(&mut self, x: &str, y: &str) -> Result<InputEvent, String> {
        let x: f64 = x.parse().map_err(|_| format!("bad x {x:?}"))?;
        let y: f64 = y.parse().map_err(|_| format!("bad y {y:?}"))?;
        let (monitor, t) = self.transform()?;
        let (x, y) = t
            .to_frame(x, y)
            .ok_or("that point is outside the picture")?;
        self.pointer = Some((x, y));
        Ok(InputEvent::PointerMove { monitor, x, y })
    }
}

fn file_id(word: &str) -> Result<u32, String> {
    word.parse()
        .map_err(|_| format!("{word:?} is not a transfer's number"))
}

fn pen_colour(name: &str) -> Result<PenColour, String> {
    PenColour::ALL
        .into_iter()
        .find(|c| format!("{c:?}").eq_ignore_ascii_case(name))
        .ok_or_else(|| format!("unknown colour {name:?} (red, yellow, blue, green)"))
}

fn button(arg: Option<&&str>) -> Result<PointerButton, String> {
    arg.map_or(Ok(PointerButton::Left), |b| b.parse())
}

fn key(code: &str, down: bool) -> Result<InputEvent, String> {
    // Checked here so a typo is reported instead of silently ignored by the sharer.
    if tandem::input::translate::platform_key(code).is_none() {
        return Err(format!(
            "unknown key code {code:?} (W3C names: KeyA, Digit1, Enter…)"
        ));
    }
    Ok(InputEvent::Key {
        code: code.to_string(),
        down,
    })
}

/// Turns one line into commands. `Err` is a message for the person typing.
pub fn parse_line(line: &str, state: &mut ScriptState) -> Result<Vec<Command>, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(vec![]);
    }
    if !line.starts_with('/') {
        return Ok(vec![Command::Chat(line.to_string())]);
    }
    // The text as written, spaces and all ("\n" and "\t" for Enter and Tab).
    if let Some(text) = line.strip_prefix("/type ") {
        let text = text.replace("\\n", "\n").replace("\\t", "\t");
        return Ok(vec![Command::Input(InputEvent::Text { text })]);
    }
    // The path as written, spaces and all.
    if let Some(path) = line.strip_prefix("/send ") {
        return Ok(vec![Command::SendFile(path.trim().into())]);
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let args = &words[1..];
    let input = |events: Vec<InputEvent>| events.into_iter().map(Command::Input).collect();
    let cmd = match (words[0], args) {
        ("/pause", []) => Command::Pause,
        ("/resume", []) => Command::Resume,
        ("/end" | "/quit", []) => Command::End,
        ("/keyframe", []) => Command::RequestKeyframe,
        ("/monitor", [id]) => Command::SelectMonitor(id.parse().map_err(|_| "bad monitor id")?),
        ("/control", []) => Command::RequestControl,
        ("/release", []) => Command::ReleaseControl,
        ("/revoke", []) => Command::RevokeControl,
        // The same words on both sides; each session takes the one for its role.
        ("/clipboard", []) => Command::RequestClipboard,
        ("/clipboard", ["off"]) => Command::ReleaseClipboard,
        ("/fetch", []) => Command::RequestFile,
        ("/accept", [id]) => Command::AcceptFile(file_id(id)?),
        ("/decline", [id]) => Command::DeclineFile(file_id(id)?),
        ("/cancel", [id]) => Command::CancelFile(file_id(id)?),
        ("/view", ["off"]) => {
            state.view = None;
            return Ok(vec![]);
        }
        ("/view", [size]) => {
            let (w, h) = size.split_once(['x', 'X']).ok_or("expected WIDTHxHEIGHT")?;
            let w: f64 = w.parse().map_err(|_| "bad width")?;
            let h: f64 = h.parse().map_err(|_| "bad height")?;
            if !(w.is_finite() && h.is_finite() && w >= 1.0 && h >= 1.0) {
                return Err("the view must be at least 1×1".into());
            }
            state.view = Some((w, h));
            return Ok(vec![]);
        }
        ("/move", [x, y]) => return Ok(input(vec![state.point(x, y)?])),
        ("/click", [x, y, rest @ ..]) if rest.len() <= 1 => {
            let b = button(rest.first())?;
            return Ok(input(vec![
                state.point(x, y)?,
                InputEvent::Button {
                    button: b,
                    down: true,
                },
                InputEvent::Button {
                    button: b,
                    down: false,
                },
            ]));
        }
        ("/down" | "/up", rest) if rest.len() <= 1 => {
            let b = button(rest.first())?;
            return Ok(input(vec![InputEvent::Button {
                button: b,
                down: words[0] == "/down",
            }]));
        }
        ("/drag", [x1, y1, x2, y2, rest @ ..]) if rest.len() <= 1 => {
            let b = button(rest.first())?;
            let start = state.point(x1, y1)?;
            let end = state.point(x2, y2)?;
            let (
                InputEvent::PointerMove {
                    monitor,
                    x: ax,
                    y: ay,
                },
                InputEvent::PointerMove { x: bx, y: by, .. },
            ) = (&start, &end)
            else {
                return Err("internal: drag endpoints".into());
            };
            // A few steps in between, as a hand would: some applications need motion
            // with the button held before they call it a drag.
            let mut events = vec![
                start.clone(),
                InputEvent::Button {
                    button: b,
                    down: true,
                },
            ];
            for step in 1..=4 {
                let lerp = |a: u32, b: u32| {
                    (f64::from(a) + (f64::from(b) - f64::from(a)) * f64::from(step) / 4.0).round()
                        as u32
                };
                events.push(InputEvent::PointerMove {
                    monitor: *monitor,
                    x: lerp(*ax, *bx),
                    y: lerp(*ay, *by),
                });
            }
            events.push(InputEvent::Button {
                button: b,
                down: false,
            });
            return Ok(input(events));
        }
        ("/wheel", [dx, dy]) => {
            let dx: i32 = dx.parse().map_err(|_| "bad DX")?;
            let dy: i32 = dy.parse().map_err(|_| "bad DY")?;
            return Ok(input(vec![InputEvent::Wheel { dx, dy }]));
        }
        ("/key", chords) if !chords.is_empty() => {
            let mut events = Vec::new();
            for chord in chords {
                let codes: Vec<&str> = chord.split('+').collect();
                for code in &codes {
                    events.push(key(code, true)?);
                }
                for code in codes.iter().rev() {
                    events.push(key(code, false)?);
                }
            }
            return Ok(input(events));
        }
        ("/keydown", [code]) => Command::Input(key(code, true)?),
        ("/keyup", [code]) => Command::Input(key(code, false)?),
        ("/modifiers", names) => {
            let mut m = Modifiers::default();
            for name in names {
                match *name {
                    "shift" => m.shift = true,
                    "ctrl" => m.ctrl = true,
                    "alt" => m.alt = true,
                    "meta" => m.meta = true,
                    other => return Err(format!("unknown modifier {other:?}")),
                }
            }
            Command::Input(InputEvent::Modifiers(m))
        }
        ("/pen", [first, rest @ ..]) => {
            // An optional colour, then X Y pairs: one stroke through them.
            let (colour, coords) = match first.parse::<f64>() {
                Ok(_) => (PenColour::default(), args),
                Err(_) => (pen_colour(first)?, rest),
            };
            if coords.len() < 2 || coords.len() % 2 != 0 {
                return Err("/pen [red|yellow|blue|green] X1 Y1 [X2 Y2 …]".into());
            }
            let mut points = Vec::new();
            for pair in coords.chunks(2) {
                state.point(pair[0], pair[1])?;
                points.extend(state.pointer);
            }
            let id = state.next_stroke;
            state.next_stroke = state.next_stroke.wrapping_add(1);
            let Some((&(x, y), rest)) = points.split_first() else {
                return Err("no points".into());
            };
            let mut commands = vec![Command::Annotate(Annotation::StrokeStart {
                id,
                colour,
                x,
                y,
            })];
            commands.extend(rest.chunks(MAX_POINTS_PER_MESSAGE).map(|chunk| {
                Command::Annotate(Annotation::StrokeTo {
                    id,
                    points: chunk.to_vec(),
                })
            }));
            return Ok(commands);
        }
        ("/laser", ["off"]) => Command::Annotate(Annotation::LaserOff),
        ("/laser", [x, y]) => {
            state.point(x, y)?;
            let (x, y) = state.pointer.ok_or("no point")?;
            Command::Annotate(Annotation::Laser { x, y })
        }
        ("/clear", []) => Command::Annotate(Annotation::Clear),
        ("/help", _) => return Err(HELP.into()),
        _ => {
            return Err(format!(
                "unknown or incomplete command {line:?} (/help lists them)"
            ))
        }
    };
    Ok(vec![cmd])
}

/// "Yes" to a question on the terminal, in English or Italian.
pub fn yes(answer: &str) -> bool {
    matches!(
        answer.trim().to_lowercase().as_str(),
        "y" | "yes" | "s" | "si" | "sì"
    )
}

/// Maps stdin lines to commands and events to stdout.
pub struct Terminal {
    role: Role,
    json: bool,
}

impl Terminal {
    pub fn new(role: Role, json: bool) -> Self {
        Self { role, json }
    }

    pub async fn drive(self, session: SessionHandle) -> anyhow::Result<i32> {
        let SessionHandle {
            commands,
            mut events,
            task: session,
        } = session;
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        let mut stdin_open = true;
        let mut question = None;
        let mut script = ScriptState::default();
        tokio::pin!(session);
        loop {
            tokio::select! {
                ev = events.recv() => {
                    let Some(ev) = ev else { continue };
                    match ev {
                        Event::ConsentRequested { .. } => question = Some(Question::Consent),
                        Event::ControlRequested { .. } => question = Some(Question::Control),
                        Event::ClipboardRequested { .. } => question = Some(Question::Clipboard),
                        Event::FileOffered { id, .. } => question = Some(Question::File(id)),
                        Event::FileRequested { id, .. } => question = Some(Question::FileRequest(id)),
                        _ => {}
                    }
                    script.on_event(&ev);
                    self.show(&ev);
                }
                line = lines.next_line(), if stdin_open => match line {
                    Ok(Some(line)) => {
                        let cmds = match question.take() {
                            Some(Question::Consent) => {
                                vec![if yes(&line) { Command::Allow } else { Command::Decline }]
                            }
                            Some(Question::Control) => vec![if yes(&line) {
                                Command::GrantControl
                            } else {
                                Command::DeclineControl
                            }],
                            Some(Question::Clipboard) => vec![if yes(&line) {
                                Command::GrantClipboard
                            } else {
                                Command::DeclineClipboard
                            }],
                            Some(Question::File(id)) => vec![if yes(&line) {
                                Command::AcceptFile(id)
                            } else {
                                Command::DeclineFile(id)
                            }],
                            Some(Question::FileRequest(id)) => {
                                let path = line.trim();
                                let path = path.strip_prefix("/send ").unwrap_or(path).trim();
                                vec![if path.is_empty() || path == "n" {
                                    Command::DeclineFile(id)
                                } else {
                                    Command::SendFile(path.into())
                                }]
                            }
                            None => match parse_line(&line, &mut script) {
                                // The sharer stops clipboard sharing with the helper's words.
                                Ok(cmds) if self.role == Role::Sharer => cmds
                                    .into_iter()
                                    .map(|c| match c {
                                        Command::ReleaseClipboard => Command::RevokeClipboard,
                                        c => c,
                                    })
                                    .collect(),
                                Ok(cmds) => cmds,
                                Err(message) => {
                                    self.complain(&message);
                                    continue;
                                }
                            },
                        };
                        for cmd in cmds {
                            let _ = commands.send(cmd);
                        }
                    }
                    // End of input: an unanswered question is a "no"; otherwise the session
                    // simply goes on (input may be a finished pipe).
                    Ok(None) | Err(_) => {
                        stdin_open = false;
                        match question.take() {
                            Some(Question::Consent) => { let _ = commands.send(Command::Decline); }
                            Some(Question::Control) => { let _ = commands.send(Command::DeclineControl); }
                            Some(Question::Clipboard) => { let _ = commands.send(Command::DeclineClipboard); }
                            Some(Question::File(id) | Question::FileRequest(id)) => { let _ = commands.send(Command::DeclineFile(id)); }
                            None => {}
                        }
                    }
                },
                result = &mut session => {
                    while let Ok(ev) = events.try_recv() {
                        self.show(&ev);
                    }
                    return match result {
                        Ok(Ok(reason)) => Ok(exit_code(reason)),
                        Ok(Err(e)) => {
                            self.error(&e);
                            Ok(2)
                        }
                        Err(e) => Err(anyhow::anyhow!("session task failed: {e}")),
                    };
                }
            }
        }
    }

    fn complain(&self, message: &str) {
        if self.json {
            let line = serde_json::json!({ "event": "input_error", "message": message });
            println!("{line}");
        } else {
            eprintln!("{}", for_terminal(message));
        }
    }

    fn error(&self, e: &SessionError) {
        if self.json {
            let line =
                serde_json::json!({ "event": "error", "kind": e.kind(), "message": e.to_string() });
            println!("{line}");
        } else {
            // The message may carry the rendezvous's or the peer's words.
            eprintln!("tandem: {}", for_terminal(&e.to_string()));
        }
    }

    fn show(&self, ev: &Event) {
        if self.json {
            if let Ok(line) = serde_json::to_string(ev) {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
            return;
        }
        let text = match ev {
            Event::Annotation(Annotation::StrokeStart { .. }) => "The helper is drawing on your screen.".into(),
            Event::Annotation(Annotation::Clear) => "The helper cleared the drawing.".into(),
            Event::CodeIssued { code, expires_in_secs } => format!(
                "Your code: {code}\nRead it to the person you are helping. It is valid for {} minutes.",
                expires_in_secs / 60
            ),
            Event::CodeRetired { message, .. } => format!("The code can no longer be used: {message}. Here is a new one."),
            Event::PeerJoined => "The code was entered; checking it…".into(),
            Event::Paired { peer_name: Some(name) } => format!("Code accepted. {} is connecting.", for_terminal(name)),
            Event::Paired { peer_name: None } => "Code accepted. Waiting for permission to see the screen…".into(),
            Event::ConsentRequested { helper_name, affiliation } => {
                let vouched = match affiliation {
                    Some(org) => format!("({})", for_terminal(org)),
                    None => "(name not verified)".into(),
                };
                print!("{} {vouched} wants to see your screen. Allow? [y/N] ", for_terminal(helper_name));
                let _ = std::io::stdout().flush();
                return;
            }
            Event::ConsentGiven => match self.role {
                Role::Helper => "Screen sharing allowed. Type /control to ask for control, /help for more.".into(),
                Role::Sharer => "You are sharing your screen. Type /pause, /resume, /end, or a chat message.".into(),
            },
            Event::ConsentDeclined => "Screen sharing was not allowed.".into(),
            Event::Connected { path, setup_ms } => format!(
                "Connected ({} over {}, {} ↔ {}) in {setup_ms} ms.",
                path.kind, path.transport, path.local, path.remote
            ),
            Event::Reconnecting => {
                "The connection dropped: reconnecting (no new code needed)…".to_string()
            }
            Event::PathChanged { path } => format!(
                "Now connected {} over {} ({} ↔ {}).",
                path.kind, path.transport, path.local, path.remote
            ),
            // Per-frame and per-pointer-move events are for --json and the GUI.
            Event::FrameReceived { .. }
            | Event::FrameSent { .. }
            | Event::Annotation(
                Annotation::StrokeTo { .. } | Annotation::Laser { .. } | Annotation::LaserOff,
            )
            | Event::Cursor { .. }
            | Event::CursorShape(_) => return,
            Event::Monitors { monitors, current, capture } => {
                let list: Vec<String> = monitors
                    .iter()
                    .map(|m| {
                        let mark = if m.id == *current { "*" } else { " " };
                        format!("{mark}{} {} {}×{}", m.id, for_terminal(&m.name), m.width, m.height)
                    })
                    .collect();
                // The sharer's words: shown safe and short.
                let short = |s: &str, n: usize| for_terminal(s).chars().take(n).collect::<String>();
                let how = match capture {
                    Some(CaptureInfo { method, fallback: Some(why) }) => format!(" (captured with {}: {})", short(method, 24), short(why, 200)),
                    Some(CaptureInfo { method, fallback: None }) => format!(" (captured with {})", short(method, 24)),
                    None => String::new(),
                };
                format!("Monitors: {}{how}", list.join(", "))
            }
            Event::Chat { from, text } => format!("{}: {}", if *from == Role::Helper { "Helper" } else { "Sharer" }, for_terminal(text)),
            Event::Paused { by } => format!("Paused by the {}.", role_name(*by)),
            Event::Resumed { by } => format!("Resumed by the {}.", role_name(*by)),
            Event::ResumeRefused { message, .. } => format!("Still paused: {message}."),
            Event::ControlRequested { helper_name } => {
                print!("{} wants to control your screen. Allow? [y/N] ", for_terminal(helper_name));
                let _ = std::io::stdout().flush();
                return;
            }
            Event::ControlGranted => match self.role {
                Role::Helper => "You control the screen now. /release gives it back.".into(),
                Role::Sharer => "The helper controls your screen. Type /revoke to take it back; your own mouse and keyboard keep working.".into(),
            },
            Event::ControlDeclined { message, .. } => format!("Control not given: {message}."),
            Event::ControlRevoked => "The sharer took control back.".into(),
            Event::SecureDesktop { active: true } => match self.role {
                Role::Helper => "Waiting for the person to answer a Windows prompt: you cannot see or control it.".into(),
                Role::Sharer => "A Windows prompt is open: answer it yourself. The helper cannot see or control it, and waits.".into(),
            },
            Event::SecureDesktop { active: false } => "The Windows prompt closed: sharing goes on.".into(),
            Event::ControlReleased => "The helper gave control back.".into(),
            Event::ClipboardRequested { helper_name } => {
                print!("{} wants to use your clipboard (what you copy goes to them, what they copy comes to you). Allow? [y/N] ", for_terminal(helper_name));
                let _ = std::io::stdout().flush();
                return;
            }
            Event::ClipboardGranted => match self.role {
                Role::Helper => "Clipboards are shared: what you copy reaches the sharer, and back. /clipboard off stops it.".into(),
                Role::Sharer => "Clipboards are shared with the helper. Type /clipboard off to stop.".into(),
            },
            Event::ClipboardDeclined { message, .. } => format!("Clipboard not shared: {message}."),
            Event::ClipboardStopped { by } => format!("Clipboard sharing stopped by the {}.", role_name(*by)),
            Event::ClipboardReceived { bytes } => format!("The other side's copy is on your clipboard ({bytes} bytes)."),
            Event::ClipboardSent { bytes } => format!("Your copy was sent ({bytes} bytes)."),
            Event::ClipboardTooLarge { bytes, limit } => format!("Your copy ({bytes} bytes) is larger than {limit} bytes: not sent."),
            Event::FileOffered { id, name, size, from } => {
                let program = if tandem::file::runs_as_program(name) {
                    " This is a program: open it only if you asked for it."
                } else {
                    ""
                };
                print!(
                    "{} wants to send you the file \"{}\" ({}), #{id}. It would be saved in your Tandem downloads folder.{program} Accept? [y/N] ",
                    for_terminal(from),
                    for_terminal(name),
                    human_size(*size)
                );
                let _ = std::io::stdout().flush();
                return;
            }
            Event::FileRequested { id, helper_name } => {
                print!("{} asks for a file from your computer (#{id}). Type its path to send it, or press Enter to decline: ", for_terminal(helper_name));
                let _ = std::io::stdout().flush();
                return;
            }
            Event::FileOfferSent { id, name, size } => format!("Offered \"{}\" ({}) as #{id}; waiting for the sharer to accept it.", for_terminal(name), human_size(*size)),
            Event::FileRequestSent { id } => format!("Asked the sharer for a file (#{id}); waiting for them to choose one."),
            Event::FileStarted { id, name, size, direction } => match direction {
                FileDirection::Sending => format!("Sending \"{}\" ({}), #{id}. /cancel {id} stops it.", for_terminal(name), human_size(*size)),
                FileDirection::Receiving => format!("Receiving \"{}\" ({}), #{id}. /cancel {id} stops it.", for_terminal(name), human_size(*size)),
            },
            Event::FileProgress { id, bytes, size, bytes_per_sec, secs_left } => {
                let percent = bytes.saturating_mul(100).checked_div(*size).unwrap_or(100);
                let left = secs_left.map(|s| format!(", {s} s left")).unwrap_or_default();
                format!("  #{id}: {percent}% of {} at {}/s{left}", human_size(*size), human_size(*bytes_per_sec))
            }
            Event::FileDone { id, name, direction: FileDirection::Receiving, path, .. } => format!(
                "#{id} \"{}\" arrived whole and was saved as {}.",
                for_terminal(name),
                path.as_deref().map(for_terminal).unwrap_or_default()
            ),
            Event::FileDone { id, name, direction: FileDirection::Sending, .. } => format!("#{id} \"{}\" arrived whole on the other side.", for_terminal(name)),
            Event::FileDeclined { id, name, message, .. } => {
                let what = name.as_deref().map(|n| format!("\"{}\"", for_terminal(n))).unwrap_or_else(|| format!("#{id}"));
                format!("File {what} not sent: {}.", for_terminal(message))
            }
            Event::FileCancelled { id, by } => format!("File #{id} was cancelled by the {}; nothing of it was kept.", role_name(*by)),
            Event::FileFailed { id, message, .. } => format!("File #{id} failed: {message}; nothing of it was kept."),
            Event::Stats { fps, kbit_per_s, rtt_ms, latency_ms, encode_ms, decode_ms } => {
                let ms = |v: &Option<f64>| v.map(|l| format!("{l:5.1} ms")).unwrap_or_else(|| "    –   ".into());
                format!(
                    "  {fps:5.1} fps  {kbit_per_s:7.0} kbit/s  rtt {rtt_ms:5.1} ms  latency {}  encode {}  decode {}",
                    ms(latency_ms),
                    ms(encode_ms),
                    ms(decode_ms)
                )
            }
            Event::Ended { message, frames, .. } => format!("Session ended: {message} ({frames} frames)."),
        };
        println!("{text}");
    }
}

/// 0 when a person ended the session (or declined), 3 when it ended on its own.
fn exit_code(reason: EndReason) -> i32 {
    match reason {
        EndReason::HelperEnded | EndReason::SharerEnded | EndReason::Declined => 0,
        _ => 3,
    }
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Helper => "helper",
        Role::Sharer => "sharer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with_monitor() -> ScriptState {
        let mut s = ScriptState::default();
        s.on_event(&Event::Monitors {
            monitors: vec![MonitorInfo {
                id: 3,
                name: "m".into(),
                screen: 0,
                x: 0,
                y: 0,
                width: 1280,
                height: 720,
                width_mm: 0,
                scale_percent: 100,
                primary: true,
            }],
            current: 3,
            capture: None,
        });
        s
    }

    fn inputs(cmds: Vec<Command>) -> Vec<InputEvent> {
        cmds.into_iter()
            .map(|c| match c {
                Command::Input(e) => e,
                other => panic!("not input: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn clicks_in_a_scaled_view_become_monitor_pixels() {
        let mut s = state_with_monitor();
        assert_eq!(parse_line("/view 640x360", &mut s), Ok(vec![]));
        let events = inputs(parse_line("/click 100 50 right", &mut s).expect("click"));
        assert_eq!(
            events,
            vec![
                InputEvent::PointerMove {
                    monitor: 3,
                    x: 200,
                    y: 100
                },
                InputEvent::Button {
                    button: PointerButton::Right,
                    down: true
                },
                InputEvent::Button {
                    button: PointerButton::Right,
                    down: false
                },
            ]
        );
        assert!(
            parse_line("/move 700 10", &mut s).is_err(),
            "outside the view"
        );
        parse_line("/view off", &mut s).expect("off");
        assert_eq!(
            inputs(parse_line("/move 700 10", &mut s).expect("move")),
            vec![InputEvent::PointerMove {
                monitor: 3,
                x: 700,
                y: 10
            }]
        );
    }

    #[test]
    fn chords_press_in_order_and_release_in_reverse() {
        let mut s = ScriptState::default();
        let events = inputs(parse_line("/key ShiftLeft+Semicolon KeyA", &mut s).expect("keys"));
        let k = |c: &str, down| InputEvent::Key {
            code: c.into(),
            down,
        };
        assert_eq!(
            events,
            vec![
                k("ShiftLeft", true),
                k("Semicolon", true),
                k("Semicolon", false),
                k("ShiftLeft", false),
                k("KeyA", true),
                k("KeyA", false),
            ]
        );
        assert!(parse_line("/key Shift", &mut s).is_err(), "not a W3C code");
    }

    #[test]
    fn other_lines() {
        let mut s = ScriptState::default();
        assert_eq!(
            parse_line("  ciao  ", &mut s),
            Ok(vec![Command::Chat("ciao".into())])
        );
        assert_eq!(
            parse_line("/control", &mut s),
            Ok(vec![Command::RequestControl])
        );
        assert_eq!(
            parse_line("/monitor 1", &mut s),
            Ok(vec![Command::SelectMonitor(1)])
        );
        assert!(
            parse_line("/move 1 1", &mut s).is_err(),
            "no monitor known yet"
        );
        assert!(parse_line("/frobnicate", &mut s).is_err());
        assert!(parse_line("/click 1", &mut s).is_err());
        assert_eq!(
            inputs(parse_line("/wheel 0 -3", &mut s).expect("wheel")),
            vec![InputEvent::Wheel { dx: 0, dy: -3 }]
        );
        let drag = inputs(parse_line("/down", &mut s).expect("down"));
        assert_eq!(
            drag,
            vec![InputEvent::Button {
                button: PointerButton::Left,
                down: true
            }]
        );
        assert!(yes("Sì") && yes(" y ") && !yes("") && !yes("no"));
    }
}
