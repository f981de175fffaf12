//! The helper's name as the sharer sees it: first name and last initial ("Anna R.").

const MAX_FIRST_NAME_CHARS: usize = 32;

/// Abbreviates a full name. Control characters are dropped so a name cannot forge lines in a
/// terminal or dialog; an unusable name gives `None`.
pub fn abbreviate(full_name: &str) -> Option<String> {
    let cleaned: String = full_name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let first = words.first()?;
    let first: String = first.chars().take(MAX_FIRST_NAME_CHARS).collect();
    match words.last() {
        Some(last) if words.len() > 1 => {
            let initial: String = last.chars().next()?.to_uppercase().collect();
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
        let given = self.given_name.as_deref().unwrap_or_default().trim();
        let family = self.family_name.as_deref().unwrap_or_default().trim();
        if !given.is_empty() {
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
        assert_eq!(abbreviate("   "), None);
        assert_eq!(abbreviate(""), None);
        assert_eq!(from_parts("Anna", "Rossi").as_deref(), Some("Anna R."));
        assert_eq!(abbreviate(&"x".repeat(200)).map(|s| s.len()), Some(32));
    }
}
