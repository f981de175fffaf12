//! The rendezvous's word on who the helper is, for the sharer's eyes only.
//!
//! A sharer who joins a nameplate must not learn the helper's name (nor get TURN
//! credentials) just by guessing the four public symbols: a stranger would harvest names
//! and burn codes. So the rendezvous gives the *helper*, at allocation, a statement it
//! signs — the nameplate, the helper's verified name and organisation, the sharer's ICE
//! servers and an expiry — and the helper forwards it over the end-to-end channel once
//! pairing has proved that the sharer typed the whole code. The sharer's app checks the
//! signature against the keys its own connection to the rendezvous returned on joining, and
//! that the statement is for the nameplate it typed: a helper cannot forge or replay
//! another's name, and a stranger without the secret learns nothing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};

use crate::display_name;
use crate::wire::IceServer;

/// Signed bytes start with this, so a signature made here means nothing elsewhere.
const CONTEXT: &[u8] = b"tandem introduction v1\0";
/// Largest statement looked at (a name, a domain and a few ICE servers fit in 2 KB).
pub const MAX_STATEMENT_LEN: usize = 16 * 1024;
/// Keys a sharer is given at most (one per live rendezvous instance).
pub const MAX_INTRODUCER_KEYS: usize = 32;
/// Longest organisation shown beside the name.
const MAX_AFFILIATION_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntroductionError {
    #[error("the helper's introduction is malformed: {0}")]
    Malformed(String),
    #[error("the helper's introduction is not signed by a key of this rendezvous")]
    UnknownKey,
    #[error("the helper's introduction does not carry this rendezvous's signature")]
    BadSignature,
    #[error("the helper's introduction is for another code")]
    WrongNameplate,
    #[error("the helper's introduction has expired")]
    Expired,
    #[error("signing key: {0}")]
    Key(String),
}

/// What the rendezvous vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Introduction {
    pub nameplate: String,
    /// "Anna R.", already abbreviated and sanitised by the rendezvous.
    pub helper_name: String,
    /// The helper's verified organisation: the domain of a verified email address, or the
    /// identity provider (and tenant) the operator configured. `None`: a name taken on
    /// trust (a dev identity), which the sharer is told is not verified.
    #[serde(default)]
    pub affiliation: Option<String>,
    /// STUN/TURN servers for the sharer, TURN with credentials of their own.
    #[serde(default)]
    pub ice_servers: Vec<IceServer>,
    /// Unix seconds; the statement is worthless afterwards.
    pub expires_at: u64,
}

/// A public key of the rendezvous, as the sharer gets it when joining.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntroducerKey {
    pub id: String,
    /// Ed25519, base64url.
    pub public_key: String,
}

/// An [`Introduction`] as the helper carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIntroduction {
    pub key_id: String,
    /// The JSON statement, base64url: verified as the bytes that were signed.
    pub statement: String,
    pub signature: String,
}

/// The rendezvous's signing key: made at start-up and never written anywhere. Several
/// instances each have their own and publish the public halves through the shared store.
pub struct IntroductionSigner {
    key: Ed25519KeyPair,
    public: IntroducerKey,
}

impl std::fmt::Debug for IntroductionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntroductionSigner")
            .field("id", &self.public.id)
            .finish()
    }
}

impl IntroductionSigner {
    pub fn generate() -> Result<Self, IntroductionError> {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|e| IntroductionError::Key(e.to_string()))?;
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|e| IntroductionError::Key(e.to_string()))?;
        let public_bytes = key.public_key().as_ref();
        let digest = ring::digest::digest(&ring::digest::SHA256, public_bytes);
        let public = IntroducerKey {
            id: hex::encode(&digest.as_ref()[..8]),
            public_key: B64.encode(public_bytes),
        };
        Ok(Self { key, public })
    }

    pub fn public_key(&self) -> &IntroducerKey {
        &self.public
    }

    pub fn sign(
        &self,
        introduction: &Introduction,
    ) -> Result<SignedIntroduction, IntroductionError> {
        let statement = serde_json::to_vec(introduction)
            .map_err(|e| IntroductionError::Malformed(e.to_string()))?;
        let mut signed = CONTEXT.to_vec();
        signed.extend_from_slice(&statement);
        Ok(SignedIntroduction {
            key_id: self.public.id.clone(),
            statement: B64.encode(&statement),
            signature: B64.encode(self.key.sign(&signed).as_ref()),
        })
    }
}

impl SignedIntroduction {
    /// The statement, if one of `keys` signed it for `nameplate` and it is in date. What it
    /// says is cleaned again: the sharer's app shows nothing it has not checked itself.
    pub fn verify(
        &self,
        keys: &[IntroducerKey],
        nameplate: &str,
        now_unix: u64,
    ) -> Result<Introduction, IntroductionError> {
        let malformed = |e: &dyn std::fmt::Display| IntroductionError::Malformed(e.to_string());
        if self.statement.len() > MAX_STATEMENT_LEN * 4 / 3 + 4 || self.signature.len() > 128 {
            return Err(IntroductionError::Malformed("too long".into()));
        }
        let key = keys
            .iter()
            .take(MAX_INTRODUCER_KEYS)
            .find(|k| k.id == self.key_id)
            .ok_or(IntroductionError::UnknownKey)?;
        let public = B64.decode(&key.public_key).map_err(|e| malformed(&e))?;
        let statement = B64.decode(&self.statement).map_err(|e| malformed(&e))?;
        let signature = B64.decode(&self.signature).map_err(|e| malformed(&e))?;
        let mut signed = CONTEXT.to_vec();
        signed.extend_from_slice(&statement);
        UnparsedPublicKey::new(&ED25519, &public)
            .verify(&signed, &signature)
            .map_err(|_| IntroductionError::BadSignature)?;
        let mut intro: Introduction =
            serde_json::from_slice(&statement).map_err(|e| malformed(&e))?;
        if !intro.nameplate.eq_ignore_ascii_case(nameplate) {
            return Err(IntroductionError::WrongNameplate);
        }
        if intro.expires_at < now_unix {
            return Err(IntroductionError::Expired);
        }
        intro.helper_name = display_name::abbreviate(&intro.helper_name)
            .ok_or_else(|| IntroductionError::Malformed("no usable name".into()))?;
        intro.affiliation = intro.affiliation.as_deref().and_then(clean_affiliation);
        Ok(intro)
    }
}

/// An organisation as shown beside the name: a domain or a provider's label, with nothing
/// that could act or hide (the same rules as names, plus digits and `:`).
pub fn clean_affiliation(raw: &str) -> Option<String> {
    use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
    let mut out = String::new();
    for c in raw.chars().take(MAX_AFFILIATION_CHARS * 2) {
        let keep = matches!(
            c.general_category_group(),
            GeneralCategoryGroup::Letter | GeneralCategoryGroup::Number
        ) || "-.:_'".contains(c);
        if keep {
            out.push(c);
        } else if (c == ' ' || c.is_whitespace()) && !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    let out: String = out.trim().chars().take(MAX_AFFILIATION_CHARS).collect();
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intro(nameplate: &str) -> Introduction {
        Introduction {
            nameplate: nameplate.into(),
            helper_name: "Anna R.".into(),
            affiliation: Some("contoso.com".into()),
            ice_servers: vec![IceServer {
                urls: vec!["turn:203.0.113.1:3478?transport=udp".into()],
                username: Some("1:ABCD-sharer".into()),
                credential: Some("x".into()),
            }],
            expires_at: 1000,
        }
    }

    #[test]
    fn a_signed_introduction_verifies_only_as_signed_for_its_nameplate_and_in_date() {
        let signer = IntroductionSigner::generate().expect("key");
        let keys = vec![signer.public_key().clone()];
        let signed = signer.sign(&intro("ABCD")).expect("sign");
        assert_eq!(signed.verify(&keys, "abcd", 999), Ok(intro("ABCD")));
        assert_eq!(
            signed.verify(&keys, "ABCE", 999),
            Err(IntroductionError::WrongNameplate)
        );
        assert_eq!(
            signed.verify(&keys, "ABCD", 1001),
            Err(IntroductionError::Expired)
        );
        // Another rendezvous's key, or none.
        let other = IntroductionSigner::generate().expect("key");
        assert_eq!(
            signed.verify(&[other.public_key().clone()], "ABCD", 999),
            Err(IntroductionError::UnknownKey)
        );
        // A helper that edits the statement (a better name, its own TURN server).
        let mut forged = intro("ABCD");
        forged.helper_name = "Microsoft S.".into();
        let mut tampered = signed.clone();
        tampered.statement = B64.encode(serde_json::to_vec(&forged).expect("json"));
        assert_eq!(
            tampered.verify(&keys, "ABCD", 999),
            Err(IntroductionError::BadSignature)
        );
        // A key id that claims the rendezvous's key with another key's signature.
        let mut resigned = other.sign(&forged).expect("sign");
        resigned.key_id = signer.public_key().id.clone();
        assert_eq!(
            resigned.verify(&keys, "ABCD", 999),
            Err(IntroductionError::BadSignature)
        );
        let mut junk = signed.clone();
        junk.signature = "!!".into();
        assert!(matches!(
            junk.verify(&keys, "ABCD", 999),
            Err(IntroductionError::Malformed(_))
        ));
    }

    #[test]
    fn what_the_statement_says_is_cleaned_again_on_the_sharers_side() {
        let signer = IntroductionSigner::generate().expect("key");
        let mut hostile = intro("ABCD");
        hostile.helper_name = "Anna\u{202e}\u{2800}Rossi".into();
        hostile.affiliation = Some("contoso.com\u{202e}\u{1b}[2J".into());
        let signed = signer.sign(&hostile).expect("sign");
        let got = signed
            .verify(&[signer.public_key().clone()], "ABCD", 0)
            .expect("verifies");
        assert_eq!(got.helper_name, "Anna R.");
        assert_eq!(got.affiliation.as_deref(), Some("contoso.com2J"));
    }
}
