//! The GUI's words: Fluent files per language (`app/i18n/*.ftl`), built into the binary.
//! The system locale picks the language; `--lang` or `TANDEM_LANG` overrides it.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// Languages the app ships, with their translation files.
const LANGUAGES: &[(&str, &str)] = &[
    ("en", include_str!("../../i18n/en.ftl")),
    ("it", include_str!("../../i18n/it.ftl")),
];

#[derive(Debug, thiserror::Error)]
pub enum I18nError {
    #[error("no translation for language {0:?} (available: en, it)")]
    Unsupported(String),
    #[error("translation file for {language} is broken: {detail}")]
    Broken { language: String, detail: String },
}

pub struct Strings {
    language: &'static str,
    bundle: FluentBundle<FluentResource>,
}

impl std::fmt::Debug for Strings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Strings")
            .field("language", &self.language)
            .finish()
    }
}

/// The language from a POSIX locale name such as `it_IT.UTF-8` or `en`.
fn language_of(locale: &str) -> Option<&str> {
    let language = locale.split(['_', '.', '@', '-']).next()?;
    (!language.is_empty() && language != "C" && language != "POSIX").then_some(language)
}

/// The first language the environment asks for, as POSIX does (`LC_ALL`, `LC_MESSAGES`,
/// `LANG`), falling back to English.
pub fn system_language() -> String {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .find_map(|value| language_of(&value).map(str::to_owned))
        .unwrap_or_else(|| "en".into())
}

impl Strings {
    /// The strings for `language` (`"it"`, `"it_IT.UTF-8"`, …).
    pub fn load(language: &str) -> Result<Self, I18nError> {
        let wanted = language_of(language).unwrap_or("en").to_ascii_lowercase();
        let (code, source) = LANGUAGES
            .iter()
            .find(|(code, _)| *code == wanted)
            .ok_or_else(|| I18nError::Unsupported(language.to_owned()))?;
        let broken = |detail: String| I18nError::Broken {
            language: (*code).to_owned(),
            detail,
        };
        let resource = FluentResource::try_new((*source).to_owned())
            .map_err(|(_, errors)| broken(format!("{errors:?}")))?;
        let id: LanguageIdentifier = code.parse().map_err(|e| broken(format!("{e}")))?;
        let mut bundle = FluentBundle::new_concurrent(vec![id]);
        // Every argument is isolated (U+2068 … U+2069): a name written right to left, or
        // carrying direction marks, cannot reorder the sentence around it. The renderer
        // draws the marks as nothing.
        bundle.set_use_isolating(true);
        bundle
            .add_resource(resource)
            .map_err(|errors| broken(format!("{errors:?}")))?;
        Ok(Self {
            language: code,
            bundle,
        })
    }

    /// The system's language if the app has it, else English.
    pub fn for_system() -> Self {
        Self::load(&system_language()).unwrap_or_else(|_| Self::english())
    }

    pub fn english() -> Self {
        // The English file is part of the binary and checked by the tests.
        #[allow(clippy::expect_used)]
        Self::load("en").expect("built-in English strings")
    }

    pub fn language(&self) -> &'static str {
        self.language
    }

    /// The string for `key`; a missing key shows as the key itself (never a blank label).
    pub fn get(&self, key: &str) -> String {
        self.format(key, None)
    }

    /// The string for `key` with named arguments.
    pub fn with(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            fluent_args.set(*name, FluentValue::from(*value));
        }
        self.format(key, Some(&fluent_args))
    }

    fn format(&self, key: &str, args: Option<&FluentArgs<'_>>) -> String {
        let Some(pattern) = self.bundle.get_message(key).and_then(|m| m.value()) else {
            return key.to_owned();
        };
        let mut errors = Vec::new();
        self.bundle
            .format_pattern(pattern, args, &mut errors)
            .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(source: &str) -> Vec<String> {
        source
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with(' ') && l.contains(" = "))
            .filter_map(|l| l.split(" = ").next().map(str::to_owned))
            .collect()
    }

    #[test]
    fn every_language_has_every_key_and_parses() {
        let english = keys(LANGUAGES[0].1);
        assert!(english.len() > 50, "{english:?}");
        for (code, source) in LANGUAGES {
            let strings = Strings::load(code).expect("loads");
            let mut theirs = keys(source);
            theirs.sort();
            let mut ours = english.clone();
            ours.sort();
            assert_eq!(theirs, ours, "{code} has the same keys as en");
            for key in &ours {
                assert_ne!(&strings.get(key), key, "{code}: {key} resolves");
            }
        }
    }

    #[test]
    fn arguments_and_locales() {
        let it = Strings::load("it_IT.UTF-8").expect("it");
        assert_eq!(it.language(), "it");
        assert_eq!(
            it.with("consent-title", &[("name", "Anna R.")]),
            "\u{2068}Anna R.\u{2069} vuole condividere il tuo schermo"
        );
        let en = Strings::load("en_GB").expect("en");
        assert_eq!(
            en.with("consent-title", &[("name", "Anna R.")]),
            "\u{2068}Anna R.\u{2069} wants to share your screen"
        );
        assert!(matches!(
            Strings::load("fr_FR"),
            Err(I18nError::Unsupported(_))
        ));
        assert_eq!(en.get("no-such-key"), "no-such-key");
        assert_eq!(language_of("C.UTF-8"), None);
        assert_eq!(language_of("it_IT@euro"), Some("it"));
    }
}
