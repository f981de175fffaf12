//! What crosses between the two clipboards once the sharer allowed it, without I/O: a
//! copy only when it changed, never the other side's own copy echoed back, nothing over the
//! size limit, and the peer's copies no faster than a person makes them. Whether sharing
//! is allowed at all (consent, pause) is the cores' decision, passed in.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Instant;

use super::rate::RateGate;
use crate::protocol::MAX_CLIPBOARD_TEXT;

/// What to do with a copy made on this side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Send(String),
    /// Not sent: sharing is off, or it is the other side's copy coming back.
    Skip,
    /// Not sent: larger than [`MAX_CLIPBOARD_TEXT`] (its size in bytes).
    TooLarge(usize),
}

#[derive(Debug)]
pub struct ClipboardRules {
    /// What the peer's last copy was, until this side's clipboard reports it (the echo of
    /// setting it), which is then not sent back.
    echo: Option<u64>,
    incoming_rate: RateGate,
}

impl Default for ClipboardRules {
    fn default() -> Self {
        Self {
            echo: None,
            // People copy a few times a minute; a burst covers a quick copy-fix-copy.
            incoming_rate: RateGate::new(2, 5),
        }
    }
}

fn fingerprint(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

impl ClipboardRules {
    /// A copy from the peer: `Some` to put it on this side's clipboard.
    pub fn incoming(&mut self, now: Instant, text: String, allowed: bool) -> Option<String> {
        if !allowed || text.len() > MAX_CLIPBOARD_TEXT || !self.incoming_rate.admit(now) {
            return None;
        }
        self.echo = Some(fingerprint(&text));
        Some(text)
    }

    /// This side's clipboard changed to `text`. A change while sharing is off is dropped,
    /// never kept for later: what was copied during a pause stays here.
    pub fn outgoing(&mut self, text: String, allowed: bool) -> Outgoing {
        if !allowed {
            return Outgoing::Skip;
        }
        if self.echo.take() == Some(fingerprint(&text)) {
            return Outgoing::Skip;
        }
        if text.len() > MAX_CLIPBOARD_TEXT {
            return Outgoing::TooLarge(text.len());
        }
        Outgoing::Send(text)
    }

    /// Sharing stopped: nothing from before may count as an echo later.
    pub fn reset(&mut self) {
        self.echo = None;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_peers_copy_is_not_sent_back_but_a_later_copy_of_the_same_text_is() {
        let now = Instant::now();
        let mut rules = ClipboardRules::default();
        let got = rules.incoming(now, "ls -la".into(), true);
        assert_eq!(got.as_deref(), Some("ls -la"));
        // Setting it makes this side's clipboard report it: that is the echo.
        assert_eq!(rules.outgoing("ls -la".into(), true), Outgoing::Skip);
        // The person copies something else, then the same text again: both are theirs.
        assert_eq!(
            rules.outgoing("pwd".into(), true),
            Outgoing::Send("pwd".into())
        );
        assert_eq!(
            rules.outgoing("ls -la".into(), true),
            Outgoing::Send("ls -la".into())
        );
    }

    #[test]
    fn nothing_crosses_while_not_allowed_and_nothing_is_kept_for_later() {
        let now = Instant::now();
        let mut rules = ClipboardRules::default();
        assert_eq!(rules.incoming(now, "x".into(), false), None);
        assert_eq!(rules.outgoing("secret".into(), false), Outgoing::Skip);
        // Allowed again: only what is copied from then on crosses (the driver reports
        // changes only), and the refused copy was not queued anywhere.
        assert_eq!(
            rules.outgoing("after".into(), true),
            Outgoing::Send("after".into())
        );
    }

    #[test]
    fn oversized_copies_and_floods_are_refused() {
        let now = Instant::now();
        let mut rules = ClipboardRules::default();
        let big = "x".repeat(MAX_CLIPBOARD_TEXT + 1);
        assert_eq!(
            rules.outgoing(big.clone(), true),
            Outgoing::TooLarge(MAX_CLIPBOARD_TEXT + 1)
        );
        assert_eq!(rules.incoming(now, big, true), None);
        let landed = (0..100)
            .filter(|i| rules.incoming(now, format!("{i}"), true).is_some())
            .count();
        assert_eq!(landed, 5, "a burst, then the rate");
        assert!(rules
            .incoming(now + Duration::from_secs(1), "later".into(), true)
            .is_some());
    }
}
