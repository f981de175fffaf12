//! The bridge between the GUI and the headless engine: a session runs on its own tasks and
//! reaches the GUI as a stream of [`EngineMsg`]; decoded frames wait in a [`FrameSlot`] where
//! a newer one replaces an older one, so a slow window shows the newest picture, never a
//! queue.

use std::sync::{Arc, Mutex};

use iced::futures::{SinkExt, Stream};
use iced::widget::image;
use tokio::sync::{mpsc, Notify};

use crate::session::{
    Command, DecodedFrameRef, EndReason, Event, FrameSink, HelperIdentity, SessionConfig,
    SessionHandle,
};
use tandem_crypto::SessionCode;

/// A decoded picture from the sharer, ready to draw.
#[derive(Debug, Clone)]
pub struct RemoteFrame {
    pub seq: u64,
    /// The sharer's screen: pointer, cursor and annotation coordinates are in this space.
    pub width: u32,
    pub height: u32,
    /// The picture, possibly smaller than the screen: shown stretched to it.
    pub handle: image::Handle,
    /// The picture's own width (less than `width` while busy motion is coded smaller).
    pub picture_width: u32,
}

/// Holds the newest decoded frame until the GUI takes it.
#[derive(Default)]
pub struct FrameSlot {
    latest: Mutex<Option<RemoteFrame>>,
    ready: Notify,
    /// Frames the decoder handed over (some are replaced before the window takes them).
    put: std::sync::atomic::AtomicU64,
}

impl FrameSlot {
    /// The sink for the helper's decoder thread: one copy of the RGBA into a buffer the
    /// image handle owns (the decoder reuses its own).
    pub fn sink(self: &Arc<Self>) -> FrameSink {
        let slot = Arc::clone(self);
        Arc::new(move |frame: &DecodedFrameRef<'_>| {
            let handle = image::Handle::from_rgba(frame.width, frame.height, frame.rgba.to_vec());
            slot.put(RemoteFrame {
                seq: frame.seq,
                width: frame.screen_width,
                height: frame.screen_height,
                handle,
                picture_width: frame.width,
            });
        })
    }

    pub fn frames_put(&self) -> u64 {
        self.put.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn put(&self, frame: RemoteFrame) {
        self.put.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut latest) = self.latest.lock() {
            *latest = Some(frame);
        }
        self.ready.notify_one();
    }

    pub fn take(&self) -> Option<RemoteFrame> {
        self.latest.lock().ok().and_then(|mut latest| latest.take())
    }
}

/// How a session run by the GUI ended, when it did not end with a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFailure {
    /// [`crate::session::SessionError::kind`].
    pub kind: &'static str,
    pub message: String,
}

#[derive(Debug, Clone)]
pub enum EngineMsg {
    /// The session runs; commands go here.
    Started(mpsc::UnboundedSender<Command>),
    Event(Event),
    /// A new frame waits in the slot.
    Frame,
    Finished(Result<EndReason, SessionFailure>),
}

pub enum Start {
    Helper(HelperIdentity),
    Sharer(SessionCode),
}

/// Runs one session and reports it. The session ends by itself when the GUI sends
/// [`Command::End`] or drops the command sender.
pub fn run(
    config: SessionConfig,
    start: Start,
    slot: Arc<FrameSlot>,
) -> impl Stream<Item = EngineMsg> {
    iced::stream::channel(
        64,
        async move |mut out: iced::futures::channel::mpsc::Sender<EngineMsg>| {
            let mut handle = match start {
                Start::Helper(identity) => SessionHandle::helper(config, identity),
                Start::Sharer(code) => SessionHandle::sharer(config, code),
            };
            if out
                .send(EngineMsg::Started(handle.commands.clone()))
                .await
                .is_err()
            {
                return;
            }
            loop {
                let msg = tokio::select! {
                    event = handle.events.recv() => match event {
                        Some(event) => EngineMsg::Event(event),
                        None => break,
                    },
                    () = slot.ready.notified() => EngineMsg::Frame,
                };
                if out.send(msg).await.is_err() {
                    // The GUI went away: end the session rather than leave it running.
                    handle.send(Command::End);
                    break;
                }
            }
            let result = match (&mut handle.task).await {
                Ok(Ok(reason)) => Ok(reason),
                Ok(Err(e)) => Err(SessionFailure {
                    kind: e.kind(),
                    message: e.to_string(),
                }),
                Err(e) => Err(SessionFailure {
                    kind: "internal",
                    message: e.to_string(),
                }),
            };
            let _ = out.send(EngineMsg::Finished(result)).await;
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_coded_smaller_stands_for_the_whole_screen() {
        let slot = Arc::new(FrameSlot::default());
        let sink = slot.sink();
        let rgba = vec![7u8; 320 * 180 * 4];
        sink(&DecodedFrameRef {
            seq: 4,
            width: 320,
            height: 180,
            screen_width: 1280,
            screen_height: 720,
            rgba: &rgba,
        });
        let frame = slot.take().expect("a frame");
        // Pointer, cursor and strokes are in the screen's pixels; the picture is stretched.
        assert_eq!((frame.seq, frame.width, frame.height), (4, 1280, 720));
        assert_eq!(frame.picture_width, 320);
        match frame.handle {
            image::Handle::Rgba { width, height, .. } => assert_eq!((width, height), (320, 180)),
            other => panic!("unexpected handle {other:?}"),
        }
        assert!(slot.take().is_none(), "taken once");
    }
}
