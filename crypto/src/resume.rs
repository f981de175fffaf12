//! Meeting again after a network change, without a new code.
//!
//! At pairing both sides derive a [`ResumeSecret`] from the SPAKE2 key and the Noise
//! handshake hash. From it come a [`RoomId`], under which the two sides find each other at
//! the rendezvous again (the rendezvous learns only that the same two parties met twice),
//! and the keys of a [`ResumeChannel`], which seals what they say there. Nobody without the
//! session's keys can compute either: a stranger cannot join the room by guessing (128
//! bits), and a rendezvous that knows the room still cannot read, alter or replay a message.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::pairing::PairingRole;

const SALT: &[u8] = b"tandem/1/resume";
const COUNTER_LEN: usize = 8;
const TAG_LEN: usize = 16;
/// The largest message the channel opens (a resume offer is a few hundred bytes).
pub const MAX_RESUME_MESSAGE_LEN: usize = 16 * 1024;

/// The rendezvous's name for a session's second meeting: public, unguessable.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoomId(pub [u8; 16]);

impl RoomId {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Exactly 32 lowercase hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 32 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let mut id = [0u8; 16];
        hex::decode_to_slice(s, &mut id).ok()?;
        Some(Self(id))
    }
}

impl std::fmt::Debug for RoomId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Short: enough to match log lines, not the whole name.
        write!(f, "RoomId({}…)", &self.to_hex()[..8])
    }
}

impl std::fmt::Display for RoomId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[derive(Clone)]
pub struct ResumeSecret([u8; 32]);

impl std::fmt::Debug for ResumeSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResumeSecret(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResumeError {
    #[error("resume message could not be authenticated (altered, replayed or not ours)")]
    Authentication,
    #[error("resume message has the wrong size ({0} bytes)")]
    Size(usize),
    #[error("the resume channel's counter is used up")]
    Exhausted,
}

impl ResumeSecret {
    pub(crate) fn derive(spake_key: &[u8; 32], handshake_hash: &[u8]) -> Self {
        let mut ikm = Vec::with_capacity(32 + handshake_hash.len());
        ikm.extend_from_slice(spake_key);
        ikm.extend_from_slice(handshake_hash);
        let mut secret = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit: expand cannot fail.
        let _ = Hkdf::<Sha256>::new(Some(SALT), &ikm).expand(b"secret", &mut secret);
        Self(secret)
    }

    fn expand<const N: usize>(&self, label: &[u8]) -> [u8; N] {
        let mut out = [0u8; N];
        let _ = Hkdf::<Sha256>::from_prk(&self.0)
            .map(|h| h.expand(label, &mut out))
            .ok();
        out
    }

    pub fn room(&self) -> RoomId {
        RoomId(self.expand(b"room"))
    }

    /// This side's channel: it seals with its own direction's key, opens the other's.
    pub fn channel(&self, role: PairingRole) -> ResumeChannel {
        let helper_to_sharer: [u8; 32] = self.expand(b"helper->sharer");
        let sharer_to_helper: [u8; 32] = self.expand(b"sharer->helper");
        let (send, recv) = match role {
            PairingRole::Helper => (helper_to_sharer, sharer_to_helper),
            PairingRole::Sharer => (sharer_to_helper, helper_to_sharer),
        };
        ResumeChannel {
            send: ChaCha20Poly1305::new(Key::from_slice(&send)),
            recv: ChaCha20Poly1305::new(Key::from_slice(&recv)),
            next_send: 0,
            next_recv: 0,
        }
    }
}

/// Sealed messages with an explicit counter: a message lost with a dropped rendezvous
/// connection does not stop the next from opening, and none opens twice or out of order.
pub struct ResumeChannel {
    send: ChaCha20Poly1305,
    recv: ChaCha20Poly1305,
    next_send: u64,
    /// Messages numbered below this are refused (replays, or older than one opened).
    next_recv: u64,
}

impl std::fmt::Debug for ResumeChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResumeChannel")
            .field("next_send", &self.next_send)
            .field("next_recv", &self.next_recv)
            .finish()
    }
}

fn nonce(counter: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_be_bytes());
    *Nonce::from_slice(&n)
}

impl ResumeChannel {
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, ResumeError> {
        if plaintext.len() + COUNTER_LEN + TAG_LEN > MAX_RESUME_MESSAGE_LEN {
            return Err(ResumeError::Size(plaintext.len()));
        }
        let counter = self.next_send;
        self.next_send = counter.checked_add(1).ok_or(ResumeError::Exhausted)?;
        let sealed = self
            .send
            .encrypt(&nonce(counter), plaintext)
            .map_err(|_| ResumeError::Size(plaintext.len()))?;
        let mut out = Vec::with_capacity(COUNTER_LEN + sealed.len());
        out.extend_from_slice(&counter.to_be_bytes());
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&mut self, message: &[u8]) -> Result<Vec<u8>, ResumeError> {
        if message.len() < COUNTER_LEN + TAG_LEN || message.len() > MAX_RESUME_MESSAGE_LEN {
            return Err(ResumeError::Size(message.len()));
        }
        let (counter, sealed) = message.split_at(COUNTER_LEN);
        let mut bytes = [0u8; COUNTER_LEN];
        bytes.copy_from_slice(counter);
        let counter = u64::from_be_bytes(bytes);
        if counter < self.next_recv {
            return Err(ResumeError::Authentication);
        }
        let plain = self
            .recv
            .decrypt(&nonce(counter), sealed)
            .map_err(|_| ResumeError::Authentication)?;
        self.next_recv = counter.saturating_add(1);
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Pairing, SessionCode};

    fn paired(code: &str) -> (ResumeSecret, ResumeSecret) {
        let code = SessionCode::parse(code).expect("code");
        let mut helper = Pairing::new(PairingRole::Helper, &code);
        let mut sharer = Pairing::new(PairingRole::Sharer, &code);
        for _ in 0..4 {
            while let Some(m) = helper.poll_transmit() {
                sharer.handle_message(&m).expect("sharer");
            }
            while let Some(m) = sharer.poll_transmit() {
                helper.handle_message(&m).expect("helper");
            }
        }
        let h = helper.into_channel().expect("helper channel");
        let s = sharer.into_channel().expect("sharer channel");
        (h.resume_secret().clone(), s.resume_secret().clone())
    }

    #[test]
    fn both_sides_derive_the_same_room_and_talk_both_ways() {
        let (h, s) = paired("q7k-2m9-xpr");
        assert_eq!(h.room(), s.room());
        let (mut hc, mut sc) = (
            h.channel(PairingRole::Helper),
            s.channel(PairingRole::Sharer),
        );
        let m = hc.seal(b"offer").expect("seal");
        assert_eq!(sc.open(&m).expect("open"), b"offer");
        let r = sc.seal(b"answer").expect("seal");
        assert_eq!(hc.open(&r).expect("open"), b"answer");
        // Its own message does not open as the peer's (directions have their own keys).
        let mine = hc.seal(b"x").expect("seal");
        assert_eq!(hc.open(&mine), Err(ResumeError::Authentication));
    }

    #[test]
    fn another_session_of_the_same_code_meets_elsewhere() {
        // The same code paired twice (new ephemeral keys): another room, other keys.
        let (a, _) = paired("q7k-2m9-xpr");
        let (b, _) = paired("q7k-2m9-xpr");
        assert_ne!(a.room(), b.room());
        let m = a.channel(PairingRole::Helper).seal(b"hi").expect("seal");
        assert_eq!(
            b.channel(PairingRole::Sharer).open(&m),
            Err(ResumeError::Authentication)
        );
    }

    #[test]
    fn replays_and_tampering_are_refused_but_a_lost_message_is_not_fatal() {
        let (h, s) = paired("q7k-2m9-xpr");
        let (mut hc, mut sc) = (
            h.channel(PairingRole::Helper),
            s.channel(PairingRole::Sharer),
        );
        let first = hc.seal(b"one").expect("seal");
        let _lost = hc.seal(b"two").expect("seal");
        let third = hc.seal(b"three").expect("seal");
        assert_eq!(sc.open(&first).expect("open"), b"one");
        assert_eq!(sc.open(&first), Err(ResumeError::Authentication), "replay");
        let mut altered = third.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(sc.open(&altered), Err(ResumeError::Authentication));
        // A forged counter far ahead does not verify, and does not move the window.
        let mut forged = third.clone();
        forged[..8].copy_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(sc.open(&forged), Err(ResumeError::Authentication));
        assert_eq!(sc.open(&third).expect("open"), b"three");
        assert_eq!(sc.open(&first), Err(ResumeError::Authentication), "older");
        assert!(matches!(sc.open(&[0; 4]), Err(ResumeError::Size(4))));
        assert!(matches!(
            sc.open(&vec![0; MAX_RESUME_MESSAGE_LEN + 1]),
            Err(ResumeError::Size(_))
        ));
    }

    #[test]
    fn room_ids_parse_only_in_their_one_spelling() {
        let (h, _) = paired("q7k-2m9-xpr");
        let room = h.room();
        assert_eq!(RoomId::from_hex(&room.to_hex()), Some(room));
        assert_eq!(RoomId::from_hex(&room.to_hex().to_uppercase()), None);
        assert_eq!(RoomId::from_hex("abc"), None);
        assert_eq!(RoomId::from_hex(&"g".repeat(32)), None);
    }
}
