//! Pieces shared by both roles once QUIC is up: the control stream and statistics.

use std::time::{Duration, Instant};

use quinn::{Connection, RecvStream, SendStream};
use tokio::sync::mpsc;

use super::{Event, SessionError};
use crate::protocol::{frame_message, read_message, Control, EndReason, FramingError};

/// Messages waiting to be written to one stream at most. Past it the peer is not reading:
/// what can be lost (pointer positions, pings, acks) is dropped, anything else ends the
/// session rather than growing the queue.
const QUEUED_WRITES: usize = 512;
/// Messages read from the control stream but not yet handled, at most (the reader then
/// waits, and QUIC's flow control holds the peer back).
const QUEUED_READS: usize = 64;
/// A write that makes no progress for this long means the peer stopped reading: the
/// connection is closed, so the session ends instead of hanging.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);

/// One outgoing stream, written by its own task: the session loop never waits on a peer
/// that does not read, so End, Revoke and Pause are always handled at once.
pub(super) struct StreamWriter {
    queue: Option<mpsc::Sender<Vec<u8>>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl StreamWriter {
    /// A QUIC stream of `connection`, which is closed if the peer stops reading. `first`
    /// is written before any message (a stream kind byte).
    pub fn new(send: SendStream, connection: Connection, first: Option<u8>) -> Self {
        Self::over(send, first, WRITE_DEADLINE, move || {
            tracing::debug!("the peer stopped reading for {WRITE_DEADLINE:?}: closing");
            connection.close(0u32.into(), b"not reading");
        })
    }

    /// Any stream; `stalled` runs when a write makes no progress for `deadline`.
    pub fn over<W>(
        mut send: W,
        first: Option<u8>,
        deadline: Duration,
        stalled: impl FnOnce() + Send + 'static,
    ) -> Self
    where
        W: tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        use tokio::io::AsyncWriteExt;
        let (queue, mut pending) = mpsc::channel::<Vec<u8>>(QUEUED_WRITES);
        let done = tokio::spawn(async move {
            let first = first.map(|byte| vec![byte]);
            let mut writes = first.into_iter().map(Some);
            loop {
                let bytes = match writes.next() {
                    Some(bytes) => bytes,
                    None => pending.recv().await,
                };
                let Some(bytes) = bytes else { break };
                match tokio::time::timeout(deadline, send.write_all(&bytes)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return,
                    Err(_) => {
                        stalled();
                        return;
                    }
                }
            }
            let _ = send.shutdown().await;
        });
        Self {
            queue: Some(queue),
            done: Some(done),
        }
    }

    /// Queues a message without waiting; `lossy` ones are dropped when the queue is full.
    pub fn send<T: serde::Serialize>(&mut self, msg: &T, lossy: bool) -> Result<(), SessionError> {
        let framed =
            frame_message(msg).map_err(|e| SessionError::Protocol(format!("cannot send: {e}")))?;
        let queue = self
            .queue
            .as_ref()
            .ok_or_else(|| SessionError::Network("stream closed".into()))?;
        match queue.try_send(framed) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) if lossy => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => Err(SessionError::Network(
                "the other side stopped reading".into(),
            )),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                Err(SessionError::Network("stream closed".into()))
            }
        }
    }

    /// Writes what is queued, then ends the stream (within the write deadline).
    pub async fn finish(&mut self) {
        self.queue = None;
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
    }
}

pub(super) struct ControlChannel {
    writer: StreamWriter,
    incoming: mpsc::Receiver<Result<Control, FramingError>>,
}

impl ControlChannel {
    /// Reading happens in its own task so that `recv` is cancel-safe in a `select!`.
    pub fn new(send: SendStream, mut recv: RecvStream, connection: Connection) -> Self {
        let (tx, incoming) = mpsc::channel(QUEUED_READS);
        tokio::spawn(async move {
            loop {
                let msg = read_message(&mut recv).await;
                let failed = msg.is_err();
                if tx.send(msg).await.is_err() || failed {
                    break;
                }
            }
        });
        Self {
            writer: StreamWriter::new(send, connection, None),
            incoming,
        }
    }

    /// Never waits: see [`StreamWriter`].
    pub async fn send(&mut self, msg: &Control) -> Result<(), SessionError> {
        self.writer.send(msg, msg.is_lossy())
    }

    /// Cancel-safe.
    pub async fn recv(&mut self) -> Result<Control, FramingError> {
        self.incoming
            .recv()
            .await
            .unwrap_or(Err(FramingError::Closed))
    }
}

/// A write that failed because the connection is gone ends the session as the connection's
/// closing does — whichever of the two the main loop saw first: `peer_ended` when the peer
/// closed it, `PeerLost` when the path died. Any other error stays an error.
pub(super) fn ended_with_connection(
    connection: &quinn::Connection,
    peer_ended: EndReason,
    error: SessionError,
) -> Result<EndReason, SessionError> {
    match connection.close_reason() {
        Some(quinn::ConnectionError::ApplicationClosed(_)) => Ok(peer_ended),
        Some(_) => Ok(EndReason::PeerLost),
        None => Err(error),
    }
}

/// Sends `End`, then waits briefly for the peer to close the connection so the message is
/// delivered rather than lost in our own close.
/// How a core's end is carried out: with an `End` to the peer (`tell_peer`, when this side
/// ended it) or by closing at once (the peer ended it).
pub(super) async fn end_session(
    conn: &Connection,
    control: &mut ControlChannel,
    reason: EndReason,
    tell_peer: bool,
) {
    if tell_peer {
        close_gracefully(conn, control, reason).await;
    } else {
        conn.close(0u32.into(), b"end");
    }
}

pub(super) async fn close_gracefully(
    conn: &Connection,
    control: &mut ControlChannel,
    reason: EndReason,
) {
    let _ = control.send(&Control::End { reason }).await;
    // Bounded both ways: a peer that reads nothing costs two seconds, not a hang.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        control.writer.finish().await;
        conn.closed().await;
    })
    .await;
    conn.close(0u32.into(), b"end");
}

/// Per-second receive statistics.
pub(super) struct Stats {
    since: Instant,
    frames: u64,
    bytes: u64,
    latencies: Vec<f64>,
    encode_ms: Vec<f64>,
    decode_ms: Vec<f64>,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            since: Instant::now(),
            frames: 0,
            bytes: 0,
            latencies: Vec::new(),
            encode_ms: Vec::new(),
            decode_ms: Vec::new(),
        }
    }
}

impl Stats {
    pub fn record(&mut self, bytes: usize, latency_ms: f64, encode_ms: f64, decode_ms: f64) {
        self.frames += 1;
        self.bytes += bytes as u64;
        self.latencies.push(latency_ms);
        self.encode_ms.push(encode_ms);
        self.decode_ms.push(decode_ms);
    }

    pub fn take(&mut self, rtt: Duration) -> Event {
        let secs = self.since.elapsed().as_secs_f64().max(1e-3);
        let event = Event::Stats {
            fps: self.frames as f64 / secs,
            kbit_per_s: self.bytes as f64 * 8.0 / 1000.0 / secs,
            rtt_ms: rtt.as_secs_f64() * 1000.0,
            latency_ms: median(&mut self.latencies),
            encode_ms: median(&mut self.encode_ms),
            decode_ms: median(&mut self.decode_ms),
        };
        *self = Stats::default();
        event
    }
}

fn median(v: &mut [f64]) -> Option<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use super::*;

    /// A peer that stops reading: the session's writes never wait on it, what can be lost
    /// is, anything else is refused once the queue is full, and the stall is reported so
    /// that the connection closes.
    #[tokio::test]
    async fn a_peer_that_stops_reading_never_blocks_the_session() {
        let (ours, _theirs_never_read) = tokio::io::duplex(1024);
        let stalled = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stalled);
        let mut writer = StreamWriter::over(ours, None, Duration::from_millis(200), move || {
            flag.store(true, Ordering::SeqCst)
        });
        let ping = Control::Ping { t0_us: 1 };
        let chat = Control::Chat {
            text: "x".repeat(100),
        };
        let mut refused = None;
        for i in 0..(QUEUED_WRITES * 4) {
            // Each call returns at once, whether it queued, dropped or refused.
            let sent = tokio::time::timeout(Duration::from_secs(1), async {
                writer
                    .send(&ping, ping.is_lossy())
                    .and(writer.send(&chat, chat.is_lossy()))
            })
            .await
            .expect("a send never waits");
            if sent.is_err() && refused.is_none() {
                refused = Some(i);
            }
        }
        assert!(
            refused.is_some(),
            "an essential message past the queue is refused"
        );
        // The writer gives up on the stalled stream and says so (hang guard, not a measure).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !stalled.load(Ordering::SeqCst) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(stalled.load(Ordering::SeqCst), "the stall was reported");
    }
}
