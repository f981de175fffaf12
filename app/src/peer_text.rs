//! Text that came from the other side (chat, monitor names, the helper's name), made safe
//! to print on a terminal: control characters (escape sequences, carriage returns, line
//! breaks that would forge a status line) and invisible format characters (direction
//! overrides, zero-width characters) are shown as `\u{…}` instead of acting.

use std::borrow::Cow;
use std::fmt::Write;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

fn acts_instead_of_showing(c: char) -> bool {
    c.is_control()
        || matches!(
            c.general_category(),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
}

/// `text` as it may be printed on a terminal.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts_instead_of_showing) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if acts_instead_of_showing(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_invisible_characters_are_shown_not_obeyed() {
        assert_eq!(for_terminal("ciao, è tutto ok"), "ciao, è tutto ok");
        assert!(matches!(for_terminal("plain"), Cow::Borrowed(_)));
        // Setting the terminal's title, moving the cursor, clearing the screen.
        assert_eq!(
            for_terminal("\u{1b}]0;pwned\u{7}hi"),
            "\\u{1b}]0;pwned\\u{7}hi"
        );
        assert_eq!(for_terminal("\u{1b}[2J\u{1b}[H"), "\\u{1b}[2J\\u{1b}[H");
        // A fake status line after a carriage return or a line break.
        assert_eq!(
            for_terminal("ok\rSession ended: the helper left"),
            "ok\\u{d}Session ended: the helper left"
        );
        assert_eq!(for_terminal("a\nb\u{2028}c"), "a\\u{a}b\\u{2028}c");
        // C1 controls (a single-byte CSI in some terminals) and direction overrides.
        assert_eq!(for_terminal("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(for_terminal("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(for_terminal("a\u{200b}b"), "a\\u{200b}b");
    }
}
