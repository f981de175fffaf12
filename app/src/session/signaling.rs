//! Signals over the end-to-end Noise channel carried by the rendezvous mailbox.

use tandem_crypto::{Pairing, PairingError, PairingRole, SecureChannel, SessionCode};
use tandem_rendezvous::{ClientError, MailboxClient, PeerEvent};
use tracing::debug;

use super::SessionError;
use crate::protocol::Signal;

pub struct Signaling {
    mailbox: MailboxClient,
    channel: SecureChannel,
}

/// What arrived from the peer through the mailbox.
pub enum Incoming {
    Signal(Signal),
    /// The peer's mailbox connection closed (normal once the direct path is up).
    PeerLeft,
}

/// Runs SPAKE2 + Noise over the mailbox. On failure the rendezvous is told, which burns the
/// nameplate, and the peer is told through it.
pub async fn pair(
    mut mailbox: MailboxClient,
    role: PairingRole,
    code: &SessionCode,
) -> Result<Signaling, SessionError> {
    let mut pairing = Pairing::new(role, code);
    loop {
        while let Some(msg) = pairing.poll_transmit() {
            mailbox.send(&msg).await?;
        }
        if pairing.is_established() {
            let channel = pairing.into_channel()?;
            return Ok(Signaling { mailbox, channel });
        }
        match mailbox.recv().await {
            Ok(PeerEvent::Message(msg)) => {
                if let Err(e) = pairing.handle_message(&msg) {
                    debug!("pairing failed: {e}");
                    let _ = mailbox.report_pairing_failed().await;
                    mailbox.close().await;
                    return Err(e.into());
                }
            }
            Ok(PeerEvent::PairingFailed) => {
                return Err(PairingError::CodeMismatch.into());
            }
            Ok(PeerEvent::PeerLeft) | Err(ClientError::Closed) => {
                return Err(SessionError::Network(
                    "the other side left before pairing finished".into(),
                ))
            }
            Ok(PeerEvent::PeerJoined) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

impl Signaling {
    pub async fn send(&mut self, signal: &Signal) -> Result<(), SessionError> {
        let plain =
            serde_json::to_vec(signal).map_err(|e| SessionError::Protocol(e.to_string()))?;
        let sealed = self
            .channel
            .seal(&plain)
            .map_err(|e| SessionError::Protocol(e.to_string()))?;
        self.mailbox.send(&sealed).await?;
        Ok(())
    }

    /// Cancel-safe. A message that does not authenticate or parse is an error: either the
    /// rendezvous tampered with it or the peer is broken, and the session must not go on.
    pub async fn recv(&mut self) -> Result<Incoming, SessionError> {
        loop {
            match self.mailbox.recv().await {
                Ok(PeerEvent::Message(sealed)) => {
                    let plain = self
                        .channel
                        .open(&sealed)
                        .map_err(|e| SessionError::Protocol(format!("signal rejected: {e}")))?;
                    let signal = serde_json::from_slice(&plain)
                        .map_err(|e| SessionError::Protocol(format!("bad signal: {e}")))?;
                    return Ok(Incoming::Signal(signal));
                }
                Ok(PeerEvent::PeerLeft) | Err(ClientError::Closed) => {
                    return Ok(Incoming::PeerLeft)
                }
                Ok(PeerEvent::PeerJoined) => continue,
                Ok(PeerEvent::PairingFailed) => {
                    return Err(SessionError::Protocol("unexpected pairing failure".into()))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// What the two sides keep to meet again after a network change.
    pub fn resume_secret(&self) -> &tandem_crypto::ResumeSecret {
        self.channel.resume_secret()
    }

    pub async fn close(self) {
        self.mailbox.close().await;
    }
}
