//! Pieces shared by both roles once QUIC is up: the control stream and statistics.

use std::time::{Duration, Instant};

use quinn::{Connection, RecvStream, SendStream};
use tokio::sync::mpsc;

use super::{Event, SessionError};
use crate::protocol::{read_message, write_message, Control, EndReason, FramingError};

pub(super) struct ControlChannel {
    send: SendStream,
    incoming: mpsc::UnboundedReceiver<Result<Control, FramingError>>,
}

impl ControlChannel {
    /// Reading happens in its own task so that `recv` is cancel-safe in a `select!`.
    pub fn new(send: SendStream, mut recv: RecvStream) -> Self {
        let (tx, incoming) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let msg = read_message(&mut recv).await;
                let failed = msg.is_err();
                if tx.send(msg).is_err() || failed {
                    break;
                }
            }
        });
        Self { send, incoming }
    }

    pub async fn send(&mut self, msg: &Control) -> Result<(), SessionError> {
        write_message(&mut self.send, msg)
            .await
            .map_err(|e| SessionError::Network(format!("control stream: {e}")))
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
pub(super) async fn close_gracefully(
    conn: &Connection,
    control: &mut ControlChannel,
    reason: EndReason,
) {
    let _ = control.send(&Control::End { reason }).await;
    let _ = control.send.finish();
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.closed()).await;
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
