//! What crosses between the two clipboards once the sharer allowed it, without I/O: a
//! copy only when it changed, never the other side's own copy echoed back, nothing over the
//! size limit, and the peer's copies no faster than a person makes them. Whether sharing
//! is allowed at all (consent, pause) is the cores' decision, passed in.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Instant;

use super::rate::RateGate;
use crate::protocol::ClipboardContent;

/// What to do with a copy made on this side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Send(ClipboardContent),
    /// Not sent: sharing is off, or it is the other side's copy coming back.
    Skip,
    /// Not sent: larger than its kind's limit (its size in bytes).
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

fn fingerprint(content: &ClipboardContent) -> u64 {
    let mut h = DefaultHasher::new();
    std::mem::discriminant(content).hash(&mut h);
    content.bytes().hash(&mut h);
    h.finish()
}

impl ClipboardRules {
    /// A copy from the peer: `Some` to put it on this side's clipboard.
    pub fn incoming(
        &mut self,
        now: Instant,
        content: ClipboardContent,
        allowed: bool,
    ) -> Option<ClipboardContent> {
        if !allowed || content.len() > content.limit() || !self.incoming_rate.admit(now) {
            return None;
        }
        self.echo = Some(fingerprint(&content));
        Some(content)
    }

    /// This side's clipboard changed to `text`. A change while sharing is off is dropped,
    /// never kept for later: what was copied during a pause stays here.
    pub fn outgoing(&mut self, content: ClipboardContent, allowed: bool) -> Outgoing {
        if !allowed {
            return Outgoing::Skip;
        }
        if self.echo.take() == Some(fingerprint(&content)) {
            return Outgoing::Skip;
        }
        if content.len() > content.limit() {
            return Outgoing::TooLarge(content.len());
        }
        Outgoing::Send(content)
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
    use crate::protocol::{MAX_CLIPBOARD_IMAGE, MAX_CLIPBOARD_TEXT};

    fn t(text: &str) -> ClipboardContent {
        ClipboardContent::Text(text.into())
    }

    #[test]
    fn the_peers_copy_is_not_sent_back_but_a_later_copy_of_the_same_text_is() {
        let now = Instant::now();
        let mut rules = ClipboardRules::default();
        let got = rules.incoming(now, t("ls -la"), true);
        assert_eq!(got, Some(t("ls -la")));
        // Setting it makes this side's clipboard report it: that is the echo.
        assert_eq!(rules.outgoing(t("ls -la"), true), Outgoing::Skip);
        // The person copies something else, then the same text again: both are theirs.
        assert_eq!(rules.outgoing(t("pwd"), true), Outgoing::Send(t("pwd")));
        assert_eq!(
            rules.outgoing(t("ls -la"), true),
            Outgoing::Send(t("ls -la"))
        );
    }

    #[test]
    fn nothing_crosses_while_not_allowed_and_nothing_is_kept_for_later() {
        let now = Instant::now();
        let mut rules = ClipboardRules::default();
        assert_eq!(rules.incoming(now, t("x"), false), None);
        assert_eq!(rules.outgoing(t("secret"), false), Outgoing::Skip);
        // Allowed again: only what is copied from then on crosses (the driver reports
        // changes only), and the refused copy was not queued anywhere.
        assert_eq!(rules.outgoing(t("after"), true), Outgoing::Send(t("after")));
    }

    #[test]
    fn oversized_copies_and_floods_are_refused() {
        let now = Instant::now();
        let mut rules = ClipboardRules::default();
        let big = t(&"x".repeat(MAX_CLIPBOARD_TEXT + 1));
        assert_eq!(
            rules.outgoing(big.clone(), true),
            Outgoing::TooLarge(MAX_CLIPBOARD_TEXT + 1)
        );
        assert_eq!(rules.incoming(now, big, true), None);
        // A picture has its own, larger limit: text's is no bound for it.
        let picture = ClipboardContent::Png(vec![0; MAX_CLIPBOARD_TEXT + 1]);
        assert!(matches!(rules.outgoing(picture, true), Outgoing::Send(_)));
        let huge = ClipboardContent::Png(vec![0; MAX_CLIPBOARD_IMAGE + 1]);
        assert_eq!(
            rules.outgoing(huge, true),
            Outgoing::TooLarge(MAX_CLIPBOARD_IMAGE + 1)
        );
        let landed = (0..100)
            .filter(|i| rules.incoming(now, t(&format!("{i}")), true).is_some())
            .count();
        assert_eq!(landed, 5, "a burst, then the rate");
        assert!(rules
            .incoming(now + Duration::from_secs(1), t("later"), true)
            .is_some());
    }
}
