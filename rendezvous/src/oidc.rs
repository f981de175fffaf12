//! Helper sign-in, server side: an OpenID Connect ID token is accepted only when a configured
//! issuer signed it for this service's client, it is in date, and the allow-lists pass.
//!
//! Discovery and the issuer's JWKS are fetched on first use and cached; a token whose key
//! id is not in the cache makes one refetch (at most every [`REFETCH_MIN_INTERVAL`]), which
//! is how key rotation is followed without letting bad tokens hammer the issuer.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tracing::{debug, info, warn};

use crate::display_name;

/// Keys are refetched at least this often, so that a revoked key goes away.
const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);
/// An unknown key id refetches the JWKS no more often than this.
const REFETCH_MIN_INTERVAL: Duration = Duration::from_secs(30);
/// Discovery and JWKS requests give up after this long.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest token looked at (real ID tokens are 1–3 KB).
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Signature algorithms an issuer may use. Symmetric ones (HS*) are never accepted: the
/// "secret" would be the issuer's public key.
const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// One identity provider the service trusts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcProviderConfig {
    /// Shown on the app's sign-in button ("Microsoft", "Google", "Company SSO").
    pub name: String,
    /// The issuer URL as in its discovery document. For a multi-tenant Microsoft Entra
    /// application, `https://login.microsoftonline.com/{tenantid}/v2.0`: the token's `tid`
    /// claim fills the placeholder (and `allowed_tenants` should then be set).
    pub issuer: String,
    /// Where the discovery document is, when not under the issuer (the multi-tenant case:
    /// `https://login.microsoftonline.com/organizations/v2.0`).
    #[serde(default)]
    pub discovery_base: Option<String>,
    /// The app's client id at this provider: ID tokens carry it as their audience.
    pub client_id: String,
    /// Only for providers that want one even from a native app, where it cannot be kept
    /// secret (Google's "Desktop app" clients); PKCE is what protects the sign-in.
    #[serde(default)]
    pub public_client_secret: Option<String>,
    /// Scopes the app asks for.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Accept only helpers whose verified email is in one of these domains.
    #[serde(default)]
    pub allowed_email_domains: Vec<String>,
    /// Accept only helpers of these tenants (the `tid` claim, Microsoft Entra ID).
    #[serde(default)]
    pub allowed_tenants: Vec<String>,
}

impl OidcProviderConfig {
    /// A provider with the defaults a configuration file gets: the usual scopes, no
    /// allow-lists, discovery under the issuer, no client secret.
    pub fn new(
        name: impl Into<String>,
        issuer: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            issuer: issuer.into(),
            discovery_base: None,
            client_id: client_id.into(),
            public_client_secret: None,
            scopes: default_scopes(),
            allowed_email_domains: Vec::new(),
            allowed_tenants: Vec::new(),
        }
    }
}

pub fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email", "offline_access"]
        .map(String::from)
        .to_vec()
}

pub use crate::wire::SignInProvider;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the sign-in token is malformed: {0}")]
    Malformed(String),
    #[error("the sign-in token is not signed")]
    Unsigned,
    #[error("tokens from {0} are not accepted here")]
    IssuerNotAllowed(String),
    #[error("the sign-in has expired")]
    Expired,
    #[error("the sign-in token is not valid yet (check the clock)")]
    NotYetValid,
    #[error("the sign-in token was issued for another application")]
    WrongAudience,
    #[error("the sign-in token's signature is not valid")]
    BadSignature,
    #[error("the sign-in token was signed with a key the issuer does not publish")]
    UnknownKey,
    #[error("the sign-in token uses a refused algorithm ({0})")]
    Algorithm(String),
    #[error("this account is not allowed to help here ({0})")]
    NotAllowed(String),
    #[error("the sign-in token carries no usable name")]
    NoName,
    #[error("the identity provider cannot be reached: {0}")]
    ProviderUnreachable(String),
}

/// A helper the token vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedHelper {
    /// "Anna R.".
    pub display_name: String,
    /// Shown beside the name: the domain of a verified email address, else the provider
    /// (and, for a multi-tenant one, the tenant) the operator configured.
    pub affiliation: Option<String>,
    pub issuer: String,
    pub subject: String,
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    iss: String,
    #[serde(default)]
    sub: String,
    #[serde(flatten)]
    names: display_name::NameClaims,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    /// Microsoft Entra tenant.
    #[serde(default)]
    tid: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

struct Keys {
    by_id: HashMap<String, Jwk>,
    /// Keys without a `kid` (an issuer with a single key may omit it).
    anonymous: Vec<Jwk>,
    fetched: Instant,
}

struct ProviderState {
    config: OidcProviderConfig,
    /// (jwks_uri, discovered issuer), once discovery succeeded.
    discovered: Mutex<Option<(String, String)>>,
    keys: Mutex<Option<Keys>>,
    last_refetch: Mutex<Option<Instant>>,
}

/// Verifies helpers' ID tokens against the configured providers.
pub struct OidcVerifier {
    providers: Vec<ProviderState>,
    http: reqwest::Client,
    /// Clock skew tolerated on `exp` and `nbf`, seconds.
    leeway_secs: u64,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("providers", &self.providers.len())
            .finish()
    }
}

impl OidcVerifier {
    pub fn new(providers: Vec<OidcProviderConfig>, leeway_secs: u64) -> Result<Self, String> {
        for p in &providers {
            check_url(&p.issuer.replace("{tenantid}", "tenant"))?;
            if p.issuer.contains("{tenantid}") && p.discovery_base.is_none() {
                return Err(format!(
                    "{}: a multi-tenant issuer needs discovery_base",
                    p.name
                ));
            }
        }
        let http = crate::http_json::client(HTTP_TIMEOUT).map_err(|e| e.to_string())?;
        Ok(Self {
            providers: providers
                .into_iter()
                .map(|config| ProviderState {
                    config,
                    discovered: Mutex::new(None),
                    keys: Mutex::new(None),
                    last_refetch: Mutex::new(None),
                })
                .collect(),
            http,
            leeway_secs,
        })
    }

    /// What the app is told about signing in.
    pub fn sign_in_providers(&self) -> Vec<SignInProvider> {
        self.providers
            .iter()
            .map(|p| SignInProvider {
                name: p.config.name.clone(),
                discovery_url: discovery_base(&p.config),
                client_id: p.config.client_id.clone(),
                public_client_secret: p.config.public_client_secret.clone(),
                scopes: p.config.scopes.clone(),
            })
            .collect()
    }

    /// Checks an ID token and returns who it vouches for.
    pub async fn verify(&self, token: &str) -> Result<VerifiedHelper, VerifyError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(VerifyError::Malformed("too long".into()));
        }
        let (header_alg, claimed_issuer, tid) = peek(token)?;
        if header_alg.eq_ignore_ascii_case("none") {
            return Err(VerifyError::Unsigned);
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| VerifyError::Malformed(e.to_string()))?;
        if !ASYMMETRIC.contains(&header.alg) {
            return Err(VerifyError::Algorithm(format!("{:?}", header.alg)));
        }
        let provider = self
            .providers
            .iter()
            .find(|p| {
                expected_issuer(&p.config, tid.as_deref()).as_deref() == Some(&claimed_issuer)
            })
            .ok_or_else(|| VerifyError::IssuerNotAllowed(claimed_issuer.clone()))?;
        let jwk = self.key_for(provider, header.kid.as_deref()).await?;
        if let Some(key_alg) = jwk.common.key_algorithm {
            if format!("{key_alg:?}") != format!("{:?}", header.alg) {
                return Err(VerifyError::Algorithm(format!(
                    "{:?} with a {key_alg:?} key",
                    header.alg
                )));
            }
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway_secs;
        validation.validate_nbf = true;
        validation.set_audience(&[&provider.config.client_id]);
        validation.set_issuer(&[&claimed_issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<IdClaims>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::ExpiredSignature => VerifyError::Expired,
                K::ImmatureSignature => VerifyError::NotYetValid,
                K::InvalidAudience => VerifyError::WrongAudience,
                K::InvalidIssuer => VerifyError::IssuerNotAllowed(claimed_issuer.clone()),
                K::InvalidSignature => VerifyError::BadSignature,
                K::InvalidAlgorithm => VerifyError::Algorithm(format!("{:?}", header.alg)),
                _ => VerifyError::Malformed(e.to_string()),
            }
        })?;
        let claims = data.claims;
        check_allow_lists(&provider.config, &claims)?;
        let display_name = name_of(&claims).ok_or(VerifyError::NoName)?;
        Ok(VerifiedHelper {
            display_name,
            affiliation: affiliation(&provider.config, &claims),
            issuer: claims.iss,
            subject: claims.sub,
        })
    }

    /// The issuer's key for `kid`, refetching the key set once when it is not known.
    async fn key_for(&self, p: &ProviderState, kid: Option<&str>) -> Result<Jwk, VerifyError> {
        {
            let keys = p.keys.lock().await;
            if let Some(keys) = keys.as_ref() {
                if keys.fetched.elapsed() < JWKS_MAX_AGE {
                    if let Some(k) = pick(keys, kid) {
                        return Ok(k);
                    }
                }
            }
        }
        // Unknown key (or stale cache): refetch, but not for every bad token.
        let may_refetch = {
            let mut last = p.last_refetch.lock().await;
            let stale = p
                .keys
                .lock()
                .await
                .as_ref()
                .is_none_or(|k| k.fetched.elapsed() >= JWKS_MAX_AGE);
            // Only unknown key ids count against the limit: the first fetch and the
            // hourly one do not delay the refetch a key rotation needs.
            if stale {
                true
            } else if last.is_none_or(|t| t.elapsed() >= REFETCH_MIN_INTERVAL) {
                *last = Some(Instant::now());
                true
            } else {
                false
            }
        };
        if may_refetch {
            let fresh = self.fetch_keys(p).await?;
            let found = pick(&fresh, kid);
            *p.keys.lock().await = Some(fresh);
            return found.ok_or(VerifyError::UnknownKey);
        }
        let keys = p.keys.lock().await;
        keys.as_ref()
            .and_then(|k| pick(k, kid))
            .ok_or(VerifyError::UnknownKey)
    }

    async fn fetch_keys(&self, p: &ProviderState) -> Result<Keys, VerifyError> {
        let jwks_uri = {
            let mut discovered = p.discovered.lock().await;
            match discovered.as_ref() {
                Some((uri, _)) => uri.clone(),
                None => {
                    let base = discovery_base(&p.config);
                    let url = format!(
                        "{}/.well-known/openid-configuration",
                        base.trim_end_matches('/')
                    );
                    let doc: Discovery = self.get_json(&url).await?;
                    if !p.config.issuer.contains("{tenantid}")
                        && doc.issuer.trim_end_matches('/') != p.config.issuer.trim_end_matches('/')
                    {
                        return Err(VerifyError::ProviderUnreachable(format!(
                            "{url} names issuer {} instead of {}",
                            doc.issuer, p.config.issuer
                        )));
                    }
                    check_url(&doc.jwks_uri).map_err(VerifyError::ProviderUnreachable)?;
                    *discovered = Some((doc.jwks_uri.clone(), doc.issuer));
                    doc.jwks_uri
                }
            }
        };
        let set: JwksDocument = self.get_json(&jwks_uri).await?;
        let mut keys = Keys {
            by_id: HashMap::new(),
            anonymous: Vec::new(),
            fetched: Instant::now(),
        };
        // One key the library does not understand (an encryption key, a new curve) must
        // not hide the others.
        for raw in set.keys {
            match serde_json::from_value::<Jwk>(raw) {
                Ok(jwk) if is_signing_key(&jwk) => match jwk.common.key_id.clone() {
                    Some(kid) => {
                        keys.by_id.insert(kid, jwk);
                    }
                    None => keys.anonymous.push(jwk),
                },
                Ok(_) => {}
                Err(e) => debug!("skipping a key of {}: {e}", p.config.name),
            }
        }
        info!(
            provider = %p.config.name,
            keys = keys.by_id.len() + keys.anonymous.len(),
            "fetched the issuer's signing keys"
        );
        Ok(keys)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, VerifyError> {
        crate::http_json::get_json(&self.http, url)
            .await
            .map_err(|e| {
                warn!(%url, "identity provider: {e}");
                VerifyError::ProviderUnreachable(e.to_string())
            })
    }
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

fn is_signing_key(jwk: &Jwk) -> bool {
    !matches!(
        jwk.common.public_key_use,
        Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
    ) && !matches!(
        jwk.algorithm,
        jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
    )
}

fn pick(keys: &Keys, kid: Option<&str>) -> Option<Jwk> {
    match kid {
        Some(kid) => keys.by_id.get(kid).cloned(),
        // No key id: acceptable only when the issuer has exactly one key.
        None => {
            let all: Vec<&Jwk> = keys.by_id.values().chain(&keys.anonymous).collect();
            (all.len() == 1).then(|| all[0].clone())
        }
    }
}

fn discovery_base(c: &OidcProviderConfig) -> String {
    c.discovery_base.clone().unwrap_or_else(|| c.issuer.clone())
}

fn expected_issuer(c: &OidcProviderConfig, tid: Option<&str>) -> Option<String> {
    if c.issuer.contains("{tenantid}") {
        let tid = tid?;
        // A tenant id is a GUID; anything else cannot be spliced into a URL.
        if !tid.chars().all(|ch| ch.is_ascii_hexdigit() || ch == '-') {
            return None;
        }
        Some(c.issuer.replace("{tenantid}", tid))
    } else {
        Some(c.issuer.clone())
    }
}

/// Plain `http://` only for an issuer on this machine (development, tests).
fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => match parsed.host() {
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Ok(()),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Ok(()),
            Some(url::Host::Domain("localhost")) => Ok(()),
            _ => Err(format!("{url}: an identity provider must use https")),
        },
        other => Err(format!("{url}: unsupported scheme {other}")),
    }
}

/// The header's `alg`, and the payload's `iss` and `tid`, read before verification only to
/// pick the provider whose key then verifies everything.
fn peek(token: &str) -> Result<(String, String, Option<String>), VerifyError> {
    #[derive(Deserialize)]
    struct Head {
        alg: String,
    }
    #[derive(Deserialize)]
    struct Body {
        iss: String,
        #[serde(default)]
        tid: Option<String>,
    }
    let mut parts = token.split('.');
    let (Some(head), Some(body), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed("not a JWT".into()));
    };
    let decode = |part: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .map_err(|e| VerifyError::Malformed(e.to_string()))
    };
    let head: Head = serde_json::from_slice(&decode(head)?)
        .map_err(|e| VerifyError::Malformed(format!("header: {e}")))?;
    let body: Body = serde_json::from_slice(&decode(body)?)
        .map_err(|e| VerifyError::Malformed(format!("claims: {e}")))?;
    Ok((head.alg, body.iss, body.tid))
}

/// The domain of a verified email address (ASCII only: a look-alike Unicode domain is not
/// shown), or what identifies the provider.
fn affiliation(c: &OidcProviderConfig, claims: &IdClaims) -> Option<String> {
    if email_verified(claims) {
        let domain = claims
            .email
            .as_deref()
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| d.to_ascii_lowercase())
            .filter(|d| {
                !d.is_empty()
                    && d.len() <= 64
                    && d.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            });
        if domain.is_some() {
            return domain;
        }
    }
    match claims.tid.as_deref() {
        Some(tid) if c.issuer.contains("{tenantid}") => {
            let short: String = tid
                .chars()
                .filter(|ch| ch.is_ascii_hexdigit())
                .take(8)
                .collect();
            Some(format!("{} tenant {short}", c.name))
        }
        _ => Some(c.name.clone()),
    }
}

fn email_verified(claims: &IdClaims) -> bool {
    // Providers send a bool or (some) a string.
    match &claims.email_verified {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => s == "true",
        _ => false,
    }
}

impl OidcProviderConfig {
    /// Whether anyone with an account at a public or multi-tenant provider could sign in
    /// (and be shown to sharers) because no allow-list narrows it down.
    pub fn open_to_anyone(&self) -> bool {
        const PUBLIC_ISSUERS: [&str; 6] = [
            "https://accounts.google.com",
            "https://login.microsoftonline.com/common",
            "https://login.microsoftonline.com/consumers",
            "https://login.microsoftonline.com/organizations",
            "https://appleid.apple.com",
            "https://gitlab.com",
        ];
        let issuer = self.issuer.trim_end_matches('/').to_ascii_lowercase();
        let public = self.issuer.contains("{tenantid}")
            || PUBLIC_ISSUERS.iter().any(|p| issuer.starts_with(p))
            || issuer.starts_with("https://login.live.com");
        public && self.allowed_email_domains.is_empty() && self.allowed_tenants.is_empty()
    }
}

fn check_allow_lists(c: &OidcProviderConfig, claims: &IdClaims) -> Result<(), VerifyError> {
    if !c.allowed_tenants.is_empty() {
        let tid = claims.tid.as_deref().unwrap_or_default();
        if !c
            .allowed_tenants
            .iter()
            .any(|t| t.eq_ignore_ascii_case(tid))
        {
            return Err(VerifyError::NotAllowed(format!("tenant {tid:?}")));
        }
    }
    if !c.allowed_email_domains.is_empty() {
        // Unverified addresses prove nothing.
        let verified = email_verified(claims);
        let domain = claims
            .email
            .as_deref()
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| d.to_ascii_lowercase());
        let allowed = verified
            && domain.as_deref().is_some_and(|d| {
                c.allowed_email_domains
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(d))
            });
        if !allowed {
            return Err(VerifyError::NotAllowed(format!(
                "email domain {}",
                domain.as_deref().unwrap_or("unknown")
            )));
        }
    }
    Ok(())
}

fn name_of(claims: &IdClaims) -> Option<String> {
    claims.names.shown_name()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: serde_json::Value) -> IdClaims {
        serde_json::from_value(json).expect("claims")
    }

    fn provider() -> OidcProviderConfig {
        OidcProviderConfig::new("Test", "https://id.example.org", "tandem")
    }

    #[test]
    fn names_come_from_given_and_family_then_name_then_login() {
        let c = claims(
            serde_json::json!({"iss": "x", "given_name": "Anna", "family_name": "Rossi", "name": "Nope"}),
        );
        assert_eq!(name_of(&c).as_deref(), Some("Anna R."));
        let c = claims(serde_json::json!({"iss": "x", "name": "Marco Bianchi"}));
        assert_eq!(name_of(&c).as_deref(), Some("Marco B."));
        let c = claims(serde_json::json!({"iss": "x", "preferred_username": "mb"}));
        assert_eq!(name_of(&c).as_deref(), Some("mb"));
        let c = claims(serde_json::json!({"iss": "x"}));
        assert_eq!(name_of(&c), None);
    }

    #[test]
    fn allow_lists_need_a_verified_address_in_the_domain_and_the_tenant() {
        let mut p = provider();
        p.allowed_email_domains = vec!["example.org".into()];
        let ok = claims(
            serde_json::json!({"iss": "x", "email": "anna@Example.org", "email_verified": true}),
        );
        assert_eq!(check_allow_lists(&p, &ok), Ok(()));
        let unverified = claims(serde_json::json!({"iss": "x", "email": "anna@example.org"}));
        assert!(check_allow_lists(&p, &unverified).is_err());
        let other = claims(
            serde_json::json!({"iss": "x", "email": "anna@example.org.evil", "email_verified": true}),
        );
        assert!(check_allow_lists(&p, &other).is_err());
        let mut p = provider();
        p.allowed_tenants = vec!["72f988bf-86f1-41af-91ab-2d7cd011db47".into()];
        let t =
            claims(serde_json::json!({"iss": "x", "tid": "72F988BF-86F1-41AF-91AB-2D7CD011DB47"}));
        assert_eq!(check_allow_lists(&p, &t), Ok(()));
        let t =
            claims(serde_json::json!({"iss": "x", "tid": "00000000-0000-0000-0000-000000000000"}));
        assert!(check_allow_lists(&p, &t).is_err());
    }

    #[test]
    fn the_affiliation_is_a_verified_domain_or_the_configured_provider() {
        let p = provider();
        let verified = claims(
            serde_json::json!({"iss": "x", "email": "anna@Contoso.com", "email_verified": true}),
        );
        assert_eq!(affiliation(&p, &verified).as_deref(), Some("contoso.com"));
        let unverified = claims(serde_json::json!({"iss": "x", "email": "anna@contoso.com"}));
        assert_eq!(affiliation(&p, &unverified).as_deref(), Some("Test"));
        let lookalike = claims(
            serde_json::json!({"iss": "x", "email": "anna@contоso.com", "email_verified": true}),
        );
        assert_eq!(affiliation(&p, &lookalike).as_deref(), Some("Test"));
        let mut multi = provider();
        multi.issuer = "https://login.microsoftonline.com/{tenantid}/v2.0".into();
        let tenant =
            claims(serde_json::json!({"iss": "x", "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47"}));
        assert_eq!(
            affiliation(&multi, &tenant).as_deref(),
            Some("Test tenant 72f988bf")
        );
    }

    #[test]
    fn public_providers_without_an_allow_list_are_open_to_anyone() {
        let mut google = OidcProviderConfig::new("Google", "https://accounts.google.com", "c");
        assert!(google.open_to_anyone());
        google.allowed_email_domains = vec!["contoso.com".into()];
        assert!(!google.open_to_anyone());
        let mut entra = OidcProviderConfig::new(
            "Microsoft",
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "c",
        );
        assert!(entra.open_to_anyone());
        entra.allowed_tenants = vec!["72f988bf-86f1-41af-91ab-2d7cd011db47".into()];
        assert!(!entra.open_to_anyone());
        assert!(!provider().open_to_anyone(), "a company's own issuer");
    }

    #[test]
    fn multi_tenant_issuers_take_only_a_tenant_id() {
        let mut p = provider();
        p.issuer = "https://login.microsoftonline.com/{tenantid}/v2.0".into();
        assert_eq!(
            expected_issuer(&p, Some("72f988bf-86f1-41af-91ab-2d7cd011db47")).as_deref(),
            Some("https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0")
        );
        assert_eq!(expected_issuer(&p, Some("evil.com/x")), None);
        assert_eq!(expected_issuer(&p, None), None);
    }

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(check_url("https://login.example.org").is_ok());
        assert!(check_url("http://127.0.0.1:3000").is_ok());
        assert!(check_url("http://localhost:3000").is_ok());
        assert!(check_url("http://id.example.org").is_err());
        assert!(check_url("ftp://id.example.org").is_err());
    }

    #[tokio::test]
    async fn garbage_and_unsigned_tokens_are_refused_before_any_fetch() {
        let v = OidcVerifier::new(vec![provider()], 0).expect("verifier");
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let none = format!(
            "{}.{}.",
            b64(r#"{"alg":"none","typ":"JWT"}"#),
            b64(r#"{"iss":"https://id.example.org","aud":"tandem","sub":"a","exp":9999999999}"#)
        );
        assert_eq!(v.verify(&none).await, Err(VerifyError::Unsigned));
        assert!(matches!(
            v.verify("not.a.jwt.at-all").await,
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(v.verify("").await, Err(VerifyError::Malformed(_))));
        let hs = format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"HS256","typ":"JWT"}"#),
            b64(r#"{"iss":"https://id.example.org","aud":"tandem","sub":"a","exp":9999999999}"#)
        );
        assert!(matches!(
            v.verify(&hs).await,
            Err(VerifyError::Algorithm(_))
        ));
        let foreign = format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"RS256","typ":"JWT"}"#),
            b64(r#"{"iss":"https://evil.example","aud":"tandem","sub":"a","exp":9999999999}"#)
        );
        assert!(matches!(
            v.verify(&foreign).await,
            Err(VerifyError::IssuerNotAllowed(_))
        ));
    }
}
