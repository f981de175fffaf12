//! A session running on its own task, driven through channels: what the CLI, the GUI, the
//! demo and the benchmarks all hold.

use tandem_crypto::SessionCode;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{
    run_helper, run_sharer, Command, EndReason, Event, HelperIdentity, SessionConfig, SessionError,
};

pub struct SessionHandle {
    pub commands: mpsc::UnboundedSender<Command>,
    pub events: mpsc::Receiver<Event>,
    pub task: JoinHandle<Result<EndReason, SessionError>>,
}

impl SessionHandle {
    /// Starts a helper session (inside a tokio runtime).
    pub fn helper(config: SessionConfig, identity: HelperIdentity) -> Self {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::channel(super::QUEUED_EVENTS);
        let task = tokio::spawn(run_helper(config, identity, command_rx, event_tx));
        Self {
            commands,
            events,
            task,
        }
    }

    /// Starts a sharer session for a code the person entered (inside a tokio runtime).
    pub fn sharer(config: SessionConfig, code: SessionCode) -> Self {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::channel(super::QUEUED_EVENTS);
        let task = tokio::spawn(run_sharer(config, code, command_rx, event_tx));
        Self {
            commands,
            events,
            task,
        }
    }

    /// Helper: waits for the code to read out (it is the session's first event). `None`
    /// when the session ended first; its task then says why.
    pub async fn code(&mut self) -> Option<SessionCode> {
        while let Some(event) = self.events.recv().await {
            if let Event::CodeIssued { code, .. } = event {
                return SessionCode::parse(&code).ok();
            }
        }
        None
    }

    pub fn send(&self, command: Command) {
        // A closed channel means the session already ended; its task reports how.
        let _ = self.commands.send(command);
    }
}
