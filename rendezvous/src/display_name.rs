//! The helper's name as the sharer sees it: first name and last initial ("Anna R.").
//!
//! The name comes from an identity provider's claims (or a dev identity) and ends up in a
//! sentence a person trusts ("Anna R. wants to share your screen"), so it is treated as
//! hostile: normalised (NFKC), every space-like character — the blank braille pattern, the
//! Hangul fillers, the ideographic space — made a plain space, and then only letters, marks
//! (at most two on a letter), spaces and `-'.` kept. Direction overrides, zero-width and
//! other invisible characters, symbols, digits and controls go. What remains is capped.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// Longest first name shown, in characters.
const MAX_FIRST_NAME_CHARS: usize = 24;
/// Longest input looked at: a name is short; anything longer is cut before any work.
const MAX_INPUT_CHARS: usize = 256;
/// Combining marks kept on one letter (enough for any script; stacks beyond are "Zalgo").
const MAX_MARKS_PER_LETTER: usize = 2;

/// Characters that draw as blank space but are not Unicode white space, or that are letters
/// drawn as nothing (the Hangul fillers): all are spaces here.
fn is_space_like(c: char) -> bool {
    // Controls too: a line break or an escape between two words must not join them.
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{2800}' // braille pattern blank
                | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
                | '\u{180E}' // Mongolian vowel separator
                | '\u{2000}'..='\u{200A}' | '\u{205F}' | '\u{3000}'
        )
}

/// Punctuation that names use, in its plain ASCII form.
fn name_punctuation(c: char) -> Option<char> {
    match c {
        '-' | '\u{2010}' | '\u{2011}' => Some('-'),
        '\'' | '\u{2019}' => Some('\''),
        '.' => Some('.'),
        _ => None,
    }
}

/// The name with everything but letters, marks, single spaces and `-'.` removed.
pub fn sanitise(raw: &str) -> String {
    let mut out = String::new();
    let mut marks = 0usize;
    let mut after_letter = false;
    for c in raw.chars().take(MAX_INPUT_CHARS).nfkc() {
        if is_space_like(c) {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
            after_letter = false;
            continue;
        }
        match c.general_category_group() {
            GeneralCategoryGroup::Letter => {
                out.push(c);
                marks = 0;
                after_letter = true;
            }
            // A mark belongs to the letter before it; alone or stacked high it is dropped.
            GeneralCategoryGroup::Mark if after_letter && marks < MAX_MARKS_PER_LETTER => {
                out.push(c);
                marks += 1;
            }
            _ => {
                if let Some(p) = name_punctuation(c) {
                    out.push(p);
                }
                after_letter = false;
            }
        }
    }
    // Dropping what stood between two pieces can make them compose (Hangul jamo into a
    // syllable): normalised once more, a second cleaning changes nothing.
    out.trim_end().nfkc().collect()
}

/// A word a name can be made of: it has at least one letter.
fn is_word(w: &str) -> bool {
    w.chars()
        .any(|c| c.general_category_group() == GeneralCategoryGroup::Letter)
}

/// Abbreviates a full name to "First L."; a name with no letters gives `None`.
pub fn abbreviate(full_name: &str) -> Option<String> {
    let cleaned = sanitise(full_name);
    // Every word is cut first: a word whose letters come after the cut is no word.
    let words: Vec<&str> = cleaned
        .split(' ')
        .map(|w| {
            w.char_indices()
                .nth(MAX_FIRST_NAME_CHARS)
                .map_or(w, |(i, _)| &w[..i])
        })
        .filter(|w| is_word(w))
        .collect();
    let first = words.first()?.to_string();
    match words.last() {
        Some(last) if words.len() > 1 => {
            let initial = last
                .chars()
                .find(|c| c.general_category_group() == GeneralCategoryGroup::Letter)?;
            // One letter, normalised as the rest (an upper case can be two letters, "ß" →
            // "SS", or a compatibility form, "ǆ" → "Ǆ"): cleaning the result again must
            // give the same name, as the sharer's app does.
            let upper: String = initial.to_uppercase().collect();
            let initial = upper.nfkc().next().unwrap_or(initial);
            Some(format!("{first} {initial}."))
        }
        _ => Some(first),
    }
}

/// From separate claims (given + family name), as OpenID tokens carry them.
pub fn from_parts(given: &str, family: &str) -> Option<String> {
    abbreviate(&format!("{given} {family}"))
}

/// The name claims of an OpenID Connect ID token (standard claims, OpenID Connect Core
/// §5.1). The rendezvous reads them from a verified token, the app from its own to show
/// who is signed in: both must show the same name.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NameClaims {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
}

impl NameClaims {
    /// "First L." from the given and family names, else from the full name, else the login.
    pub fn shown_name(&self) -> Option<String> {
        let given = self.given_name.as_deref().unwrap_or_default();
        let family = self.family_name.as_deref().unwrap_or_default();
        if abbreviate(given).is_some() {
            return from_parts(given, family);
        }
        if let Some(name) = self.name.as_deref().and_then(abbreviate) {
            return Some(name);
        }
        self.preferred_username.as_deref().and_then(abbreviate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviations() {
        assert_eq!(abbreviate("Anna Rossi").as_deref(), Some("Anna R."));
        assert_eq!(
            abbreviate("  anna   maria  rossi ").as_deref(),
            Some("anna R.")
        );
        assert_eq!(abbreviate("Zoë").as_deref(), Some("Zoë"));
        assert_eq!(abbreviate("Łukasz żak").as_deref(), Some("Łukasz Ż."));
        assert_eq!(abbreviate("Anna\nEvil Line").as_deref(), Some("Anna L."));
        assert_eq!(
            abbreviate("Jean-Luc O’Brien").as_deref(),
            Some("Jean-Luc O.")
        );
        assert_eq!(abbreviate("   "), None);
        assert_eq!(abbreviate(""), None);
        assert_eq!(from_parts("Anna", "Rossi").as_deref(), Some("Anna R."));
        assert_eq!(
            abbreviate(&"x".repeat(200)).map(|s| s.chars().count()),
            Some(MAX_FIRST_NAME_CHARS)
        );
    }

    /// What a scammer might put in a profile's name, and what the sharer then sees.
    #[test]
    fn hostile_names() {
        let table: &[(&str, Option<&str>)] = &[
            // Blank braille patterns as spaces: one long "first name" otherwise.
            ("Microsoft\u{2800}Support\u{2800}Team", Some("Microsoft T.")),
            // Hangul fillers are letters that draw as nothing.
            ("Anna\u{3164}Rossi", Some("Anna R.")),
            ("\u{3164}\u{3164}", None),
            ("Anna\u{115F}\u{1160}Rossi", Some("Anna R.")),
            // Direction overrides and isolates: the name cannot reorder the sentence.
            ("Anna \u{202E}issoR", Some("Anna I.")),
            ("\u{2067}Anna\u{2069} Rossi", Some("Anna R.")),
            ("Anna\u{200F} Rossi\u{200E}", Some("Anna R.")),
            // Zero-width and other default-ignorable characters vanish.
            ("An\u{200B}na Ro\u{200D}ssi", Some("Anna R.")),
            ("Anna\u{FEFF} Rossi\u{2060}", Some("Anna R.")),
            ("Anna\u{00AD}Rossi", Some("AnnaRossi")),
            ("\u{200B}\u{200B}", None),
            // Every space-like character is a space.
            ("Anna\u{00A0}Rossi", Some("Anna R.")),
            ("Anna\u{3000}Rossi", Some("Anna R.")),
            ("Anna\u{2007}Rossi", Some("Anna R.")),
            ("Anna\u{205F}Rossi", Some("Anna R.")),
            ("Anna\u{180E}Rossi", Some("Anna R.")),
            // Controls and line breaks cannot forge a line.
            ("Anna\u{1b}]0;pwned\u{7}Rossi", Some("Anna R.")),
            ("Anna\u{2028}Support: call now", Some("Anna N.")),
            ("Anna\u{85}Rossi", Some("Anna R.")),
            // Compatibility forms are folded: full-width and ligatures look like ASCII.
            ("\u{FF21}\u{FF4E}\u{FF4E}\u{FF41} Rossi", Some("Anna R.")),
            ("\u{FB01}ona Rossi", Some("fiona R.")),
            // Symbols, digits, emoji, brackets and quotes are not part of a name.
            ("Microsoft ✔ Support (verified)", Some("Microsoft V.")),
            ("Anna 🛡️ Rossi 1", Some("Anna R.")),
            ("\"Bank\" <security@bank.example>", Some("Bank S.")),
            ("✔✔✔", None),
            ("12345", None),
            // Stacked combining marks: at most two on a letter, none alone.
            (
                "Z\u{301}\u{302}\u{303}\u{304}oe",
                Some("\u{179}\u{302}\u{303}oe"),
            ),
            ("\u{301}\u{301}Anna", Some("Anna")),
            // Words of punctuation alone are not words.
            ("- . ' Anna", Some("Anna")),
            ("Anna -", Some("Anna")),
        ];
        for (raw, want) in table {
            assert_eq!(abbreviate(raw).as_deref(), *want, "{raw:?}");
        }
        // What is shown never carries anything but letters, marks, spaces and -'.
        for (raw, _) in table {
            if let Some(shown) = abbreviate(raw) {
                assert!(
                    shown.chars().all(|c| c == ' '
                        || "-'.".contains(c)
                        || matches!(
                            c.general_category_group(),
                            GeneralCategoryGroup::Letter | GeneralCategoryGroup::Mark
                        )),
                    "{raw:?} → {shown:?}"
                );
            }
        }
    }

    #[test]
    fn cleaning_twice_changes_nothing() {
        for raw in [
            "Anna Straße",
            "Anna ǆemal",
            "Anna ßmith",
            "ǅemal Ğ",
            &"é".repeat(40),
        ] {
            let once = abbreviate(raw).expect("a name");
            assert_eq!(abbreviate(&once).as_deref(), Some(once.as_str()), "{raw:?}");
        }
    }

    #[test]
    fn long_names_are_cut_before_any_work() {
        let huge = format!("Anna {}", "\u{301}".repeat(1_000_000));
        assert_eq!(abbreviate(&huge).as_deref(), Some("Anna"));
        let many_words = "Anna ".repeat(100_000) + "Rossi";
        assert_eq!(abbreviate(&many_words).as_deref(), Some("Anna A."));
    }

    #[test]
    fn a_first_name_cut_to_its_punctuation_is_no_name() {
        // Found by the display_name fuzz target: 24 apostrophes and a letter after them
        // were shown as 24 apostrophes (and a second cleaning refused them).
        let name = format!("{}s'''!", "'".repeat(28));
        assert_eq!(abbreviate(&name), None);
        assert_eq!(
            abbreviate(&format!("{name} Anna Rossi")).as_deref(),
            Some("Anna R.")
        );
    }

    #[test]
    fn pieces_that_meet_once_the_rest_is_dropped_are_composed() {
        // Found by the display_name fuzz target: two Hangul jamo apart in the claim meet
        // once the punctuation between them is dropped, and compose on a second cleaning.
        let name = "ZFb\u{3143}&&\u{592}\"\u{3153}&\"\t";
        let once = abbreviate(name).expect("a name");
        assert_eq!(once, "ZFb\u{bed0}");
        assert_eq!(abbreviate(&once).as_deref(), Some(once.as_str()));
    }

    #[test]
    fn claims_fall_back_when_a_part_is_unusable() {
        let claims = NameClaims {
            given_name: Some("\u{2800}".into()),
            family_name: Some("Rossi".into()),
            name: Some("Anna Rossi".into()),
            preferred_username: None,
        };
        assert_eq!(claims.shown_name().as_deref(), Some("Anna R."));
    }
}
