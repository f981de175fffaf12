//! Pairing: SPAKE2 on the code's secret, then a Noise handshake keyed by the SPAKE2 output.
//!
//! Sans-IO: feed [`Pairing::handle_message`] with what the carrier delivered and send what
//! [`Pairing::poll_transmit`] yields. Message order on the carrier:
//!
//! ```text
//!   helper                       sharer
//!   SPAKE2 msg   ───────►◄─────  SPAKE2 msg      (both at once; symmetric mode)
//!   Noise -> e, psk  ───────►                    (helper is the Noise initiator)
//!                    ◄───────  Noise <- e, ee
//!   ══════ transport messages both ways ══════
//! ```
//!
//! SPAKE2's `finish` succeeds even when the two secrets differ (it just yields different keys),
//! so a wrong code is detected by the Noise handshake: the responder cannot decrypt the
//! initiator's first message. The nameplate is bound into the SPAKE2 identity and the Noise
//! prologue, so messages from another mailbox do not verify here either.

use std::collections::VecDeque;

use snow::{HandshakeState, TransportState};
use spake2::{Ed25519Group, Identity, Password, Spake2};

use crate::code::SessionCode;
use crate::resume::ResumeSecret;

const NOISE_PARAMS: &str = "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2s";
const PROTOCOL_TAG: &str = "tandem/1";
/// A SPAKE2 Ed25519 symmetric message: one side byte + a compressed point.
const SPAKE2_MSG_LEN: usize = 33;
/// Noise's limit on one message.
pub const MAX_MESSAGE_LEN: usize = 65535;
const TAG_LEN: usize = 16;
/// The largest plaintext that fits one channel message.
pub const MAX_PLAINTEXT_LEN: usize = MAX_MESSAGE_LEN - TAG_LEN;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairingRole {
    /// The signed-in helper; the Noise initiator.
    Helper,
    /// The person sharing their screen; the Noise responder.
    Sharer,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairingError {
    /// The other side used a different code, or someone in the middle changed a message.
    #[error("the code does not match (or a pairing message was altered)")]
    CodeMismatch,
    #[error("malformed pairing message: {0}")]
    Malformed(&'static str),
    #[error("unexpected pairing message in state {0}")]
    UnexpectedMessage(&'static str),
    #[error("pairing already failed")]
    AlreadyFailed,
    #[error("pairing is not finished yet")]
    NotEstablished,
    #[error("noise: {0}")]
    Noise(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("message could not be authenticated (altered, replayed or out of order)")]
    Authentication,
    #[error("message too large: {0} bytes (max {MAX_PLAINTEXT_LEN})")]
    TooLarge(usize),
    #[error("message too short")]
    TooShort,
}

enum State {
    AwaitSpake2(Spake2<Ed25519Group>),
    /// The handshake, and the SPAKE2 key (kept for the resumption secret).
    AwaitNoise(Box<HandshakeState>, [u8; 32]),
    Established(Box<TransportState>, ResumeSecret),
    Failed,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::AwaitSpake2(_) => "await-spake2",
            State::AwaitNoise(..) => "await-noise",
            State::Established(..) => "established",
            State::Failed => "failed",
        }
    }
}

/// One side of a pairing in progress.
pub struct Pairing {
    role: PairingRole,
    prologue: Vec<u8>,
    state: State,
    outbox: VecDeque<Vec<u8>>,
}

impl std::fmt::Debug for Pairing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pairing")
            .field("role", &self.role)
            .field("state", &self.state.name())
            .finish()
    }
}

impl Pairing {
    /// Starts pairing; the first message (SPAKE2) is ready in [`Self::poll_transmit`].
    pub fn new(role: PairingRole, code: &SessionCode) -> Self {
        let identity = format!("{PROTOCOL_TAG}/pairing/{}", code.nameplate());
        let (spake, msg) = Spake2::<Ed25519Group>::start_symmetric(
            &Password::new(code.secret().as_str().as_bytes()),
            &Identity::new(identity.as_bytes()),
        );
        let prologue = format!("{PROTOCOL_TAG}/noise/{}", code.nameplate()).into_bytes();
        Self {
            role,
            prologue,
            state: State::AwaitSpake2(spake),
            outbox: VecDeque::from([msg]),
        }
    }

    pub fn role(&self) -> PairingRole {
        self.role
    }

    /// The next message to send to the peer, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.outbox.pop_front()
    }

    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established(..))
    }

    pub fn has_failed(&self) -> bool {
        matches!(self.state, State::Failed)
    }

    /// Processes one message from the peer. On error the pairing is dead for good.
    pub fn handle_message(&mut self, msg: &[u8]) -> Result<(), PairingError> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        match self.step(state, msg) {
            Ok(next) => {
                self.state = next;
                Ok(())
            }
            Err(e) => {
                self.outbox.clear();
                Err(e)
            }
        }
    }

    fn step(&mut self, state: State, msg: &[u8]) -> Result<State, PairingError> {
        match state {
            State::AwaitSpake2(spake) => {
                if msg.len() != SPAKE2_MSG_LEN {
                    return Err(PairingError::Malformed(
                        "SPAKE2 message has the wrong length",
                    ));
                }
                let key = spake
                    .finish(msg)
                    .map_err(|_| PairingError::Malformed("SPAKE2 message rejected"))?;
                let key: [u8; 32] = key
                    .as_slice()
                    .try_into()
                    .map_err(|_| PairingError::Malformed("SPAKE2 key length"))?;
                let builder = snow::Builder::new(parse_params()?)
                    .psk(0, &key)
                    .and_then(|b| b.prologue(&self.prologue))
                    .map_err(noise_err)?;
                let mut hs = match self.role {
                    PairingRole::Helper => builder.build_initiator(),
                    PairingRole::Sharer => builder.build_responder(),
                }
                .map_err(noise_err)?;
                if self.role == PairingRole::Helper {
                    let mut buf = vec![0u8; MAX_MESSAGE_LEN];
                    let n = hs.write_message(&[], &mut buf).map_err(noise_err)?;
                    buf.truncate(n);
                    self.outbox.push_back(buf);
                }
                Ok(State::AwaitNoise(Box::new(hs), key))
            }
            State::AwaitNoise(mut hs, key) => {
                let mut payload = vec![0u8; MAX_MESSAGE_LEN];
                hs.read_message(msg, &mut payload).map_err(|e| match e {
                    snow::Error::Decrypt => PairingError::CodeMismatch,
                    snow::Error::Input => PairingError::Malformed("Noise message"),
                    other => noise_err(other),
                })?;
                if !hs.is_handshake_finished() {
                    // Responder: answer to finish the handshake.
                    let mut buf = vec![0u8; MAX_MESSAGE_LEN];
                    let n = hs.write_message(&[], &mut buf).map_err(noise_err)?;
                    buf.truncate(n);
                    self.outbox.push_back(buf);
                }
                if !hs.is_handshake_finished() {
                    return Err(PairingError::UnexpectedMessage("await-noise"));
                }
                let resume = ResumeSecret::derive(&key, hs.get_handshake_hash());
                let transport = hs.into_transport_mode().map_err(noise_err)?;
                Ok(State::Established(Box::new(transport), resume))
            }
            State::Established(..) => Err(PairingError::UnexpectedMessage("established")),
            State::Failed => Err(PairingError::AlreadyFailed),
        }
    }

    /// The established channel. Any messages still queued must have been sent first.
    pub fn into_channel(mut self) -> Result<SecureChannel, PairingError> {
        if !self.outbox.is_empty() {
            return Err(PairingError::NotEstablished);
        }
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Established(transport, resume) => Ok(SecureChannel { transport, resume }),
            _ => Err(PairingError::NotEstablished),
        }
    }
}

fn parse_params() -> Result<snow::params::NoiseParams, PairingError> {
    NOISE_PARAMS.parse().map_err(noise_err)
}

fn noise_err(e: snow::Error) -> PairingError {
    PairingError::Noise(e.to_string())
}

/// The end-to-end encrypted channel: ordered, every message authenticated, replays rejected
/// (Noise transport nonces are counters, so a message can be opened exactly once, in order).
pub struct SecureChannel {
    transport: Box<TransportState>,
    resume: ResumeSecret,
}

impl std::fmt::Debug for SecureChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecureChannel")
    }
}

impl SecureChannel {
    /// What both sides keep to meet again after a network change (see [`crate::resume`]).
    pub fn resume_secret(&self) -> &ResumeSecret {
        &self.resume
    }

    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, ChannelError> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(ChannelError::TooLarge(plaintext.len()));
        }
        let mut buf = vec![0u8; plaintext.len() + TAG_LEN];
        let n = self
            .transport
            .write_message(plaintext, &mut buf)
            .map_err(|_| ChannelError::TooLarge(plaintext.len()))?;
        buf.truncate(n);
        Ok(buf)
    }

    pub fn open(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, ChannelError> {
        if ciphertext.len() < TAG_LEN {
            return Err(ChannelError::TooShort);
        }
        if ciphertext.len() > MAX_MESSAGE_LEN {
            return Err(ChannelError::TooLarge(ciphertext.len()));
        }
        let mut buf = vec![0u8; ciphertext.len()];
        let n = self
            .transport
            .read_message(ciphertext, &mut buf)
            .map_err(|_| ChannelError::Authentication)?;
        buf.truncate(n);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::SessionCode;

    fn code(s: &str) -> SessionCode {
        SessionCode::parse(s).expect("valid code")
    }

    /// Delivers every queued message between the two sides until both are quiet.
    /// Returns the first error each side saw.
    fn run(
        helper: &mut Pairing,
        sharer: &mut Pairing,
        mut tamper: impl FnMut(PairingRole, usize, &mut Vec<u8>),
    ) -> (Option<PairingError>, Option<PairingError>) {
        let (mut helper_err, mut sharer_err) = (None, None);
        let mut sent = [0usize; 2];
        loop {
            let mut progressed = false;
            while let Some(mut m) = helper.poll_transmit() {
                tamper(PairingRole::Helper, sent[0], &mut m);
                sent[0] += 1;
                progressed = true;
                if let Err(e) = sharer.handle_message(&m) {
                    sharer_err.get_or_insert(e);
                }
            }
            while let Some(mut m) = sharer.poll_transmit() {
                tamper(PairingRole::Sharer, sent[1], &mut m);
                sent[1] += 1;
                progressed = true;
                if let Err(e) = helper.handle_message(&m) {
                    helper_err.get_or_insert(e);
                }
            }
            if !progressed {
                return (helper_err, sharer_err);
            }
        }
    }

    fn pair(helper_code: &str, sharer_code: &str) -> (Pairing, Pairing) {
        (
            Pairing::new(PairingRole::Helper, &code(helper_code)),
            Pairing::new(PairingRole::Sharer, &code(sharer_code)),
        )
    }

    #[test]
    fn same_code_pairs_and_channel_works_both_ways() {
        let (mut h, mut s) = pair("ABC-DEF-GH3", "abcd efgh3");
        let (he, se) = run(&mut h, &mut s, |_, _, _| {});
        assert_eq!((he, se), (None, None));
        let mut hc = h.into_channel().expect("helper established");
        let mut sc = s.into_channel().expect("sharer established");
        let ct = hc.seal(b"hello sharer").expect("seal");
        assert!(
            !ct.windows(5).any(|w| w == b"hello"),
            "ciphertext must not leak"
        );
        assert_eq!(sc.open(&ct).expect("open"), b"hello sharer");
        let ct = sc.seal(b"hello helper").expect("seal");
        assert_eq!(hc.open(&ct).expect("open"), b"hello helper");
    }

    #[test]
    fn different_secret_fails_on_both_sides_without_keys() {
        let (mut h, mut s) = pair("ABC-DEF-GH3", "ABC-DEF-GKY");
        let (he, se) = run(&mut h, &mut s, |_, _, _| {});
        assert_eq!(se, Some(PairingError::CodeMismatch));
        assert!(!h.is_established() && !s.is_established());
        assert!(s.has_failed());
        // The helper never gets an answer; its transport is unavailable.
        assert!(he.is_none());
        assert!(matches!(
            h.into_channel(),
            Err(PairingError::NotEstablished)
        ));
        assert!(matches!(
            s.into_channel(),
            Err(PairingError::NotEstablished)
        ));
    }

    #[test]
    fn different_nameplate_with_same_secret_fails() {
        let (mut h, mut s) = pair("ABC-DEF-GH3", "8CC-DEF-GH3");
        let (_, se) = run(&mut h, &mut s, |_, _, _| {});
        assert_eq!(se, Some(PairingError::CodeMismatch));
    }

    #[test]
    fn tampered_messages_fail() {
        // Flip one bit in each message position in turn; every variant must fail.
        for (who, index) in [
            (PairingRole::Helper, 0),
            (PairingRole::Sharer, 0),
            (PairingRole::Helper, 1),
            (PairingRole::Sharer, 1),
        ] {
            let (mut h, mut s) = pair("ABC-DEF-GH3", "ABC-DEF-GH3");
            let (he, se) = run(&mut h, &mut s, |role, i, m| {
                if role == who && i == index {
                    let last = m.len() - 1;
                    m[last] ^= 0x01;
                }
            });
            assert!(
                he.is_some() || se.is_some(),
                "tampering {who:?} message {index} went unnoticed"
            );
            assert!(
                !(h.is_established() && s.is_established()),
                "tampering {who:?} message {index} still established both"
            );
        }
    }

    #[test]
    fn replayed_handshake_from_another_run_fails() {
        // Record the helper's Noise message of a first pairing with the same code...
        let (mut h1, mut s1) = pair("ABC-DEF-GH3", "ABC-DEF-GH3");
        let mut recorded = Vec::new();
        run(&mut h1, &mut s1, |role, _, m| {
            if role == PairingRole::Helper {
                recorded.push(m.clone());
            }
        });
        assert!(h1.is_established() && s1.is_established());
        // ...and replay both recorded helper messages to a fresh sharer.
        let mut s2 = Pairing::new(PairingRole::Sharer, &code("ABC-DEF-GH3"));
        while s2.poll_transmit().is_some() {}
        s2.handle_message(&recorded[0])
            .expect("a SPAKE2 message is always accepted");
        assert_eq!(
            s2.handle_message(&recorded[1]),
            Err(PairingError::CodeMismatch),
            "a replayed Noise message must not verify under a fresh SPAKE2 key"
        );
    }

    #[test]
    fn replayed_message_inside_an_established_channel_fails() {
        let (mut h, mut s) = pair("ABC-DEF-GH3", "ABC-DEF-GH3");
        let mut noise_msg = None;
        run(&mut h, &mut s, |role, i, m| {
            if role == PairingRole::Helper && i == 1 {
                noise_msg = Some(m.clone());
            }
        });
        // A replayed handshake message after establishment is refused.
        let replay = noise_msg.expect("helper sent its noise message");
        assert_eq!(
            s.handle_message(&replay),
            Err(PairingError::UnexpectedMessage("established"))
        );

        let (mut h, mut s) = pair("ABC-DEF-GH3", "ABC-DEF-GH3");
        run(&mut h, &mut s, |_, _, _| {});
        let mut hc = h.into_channel().expect("established");
        let mut sc = s.into_channel().expect("established");
        let first = hc.seal(b"one").expect("seal");
        let second = hc.seal(b"two").expect("seal");
        assert_eq!(sc.open(&first).expect("first"), b"one");
        assert_eq!(sc.open(&first), Err(ChannelError::Authentication));
        // A failed open does not advance the counter: the real next message still opens.
        assert_eq!(sc.open(&second).expect("second"), b"two");
    }

    #[test]
    fn garbage_never_panics() {
        for len in [0usize, 1, 32, 33, 34, 48, 100, 70000] {
            let mut s = Pairing::new(PairingRole::Sharer, &code("ABC-DEF-GH3"));
            let _ = s.handle_message(&vec![0xA5; len]);
            let _ = s.handle_message(&vec![0x00; len]);
        }
        let (mut h, mut s) = pair("ABC-DEF-GH3", "ABC-DEF-GH3");
        run(&mut h, &mut s, |_, _, _| {});
        let mut sc = s.into_channel().expect("established");
        assert_eq!(sc.open(&[1, 2, 3]), Err(ChannelError::TooShort));
        assert_eq!(sc.open(&[0u8; 64]), Err(ChannelError::Authentication));
    }
}
