//! TURN credentials in the TURN REST API scheme, as coturn's `use-auth-secret` expects:
//! `username = "<unix expiry>:<label>"`, `password = base64(HMAC-SHA1(secret, username))`.
//! The relay checks them with the shared secret alone; nothing is stored anywhere.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use crate::wire::IceServer;

/// The ICE servers this rendezvous hands to both parties of a session.
#[derive(Debug, Clone, Default)]
pub struct IceServersConfig {
    /// `stun:host:port` URLs, given as they are.
    pub stun_urls: Vec<String>,
    /// `turn:` / `turns:` URLs that accept credentials made with `secret`.
    pub turn_urls: Vec<String>,
    pub turn_secret: Option<String>,
    /// How long issued credentials stay valid.
    pub credential_ttl: Duration,
}

impl IceServersConfig {
    /// The list for one session party; `label` names it in the relay's logs.
    pub fn issue(&self, label: &str, now: SystemTime) -> Vec<IceServer> {
        let mut out = Vec::new();
        if !self.stun_urls.is_empty() {
            out.push(IceServer {
                urls: self.stun_urls.clone(),
                username: None,
                credential: None,
            });
        }
        if let (false, Some(secret)) = (self.turn_urls.is_empty(), &self.turn_secret) {
            let expiry = now
                .checked_add(self.credential_ttl)
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let username = format!("{expiry}:{label}");
            let credential = rest_password(secret, &username);
            out.push(IceServer {
                urls: self.turn_urls.clone(),
                username: Some(username),
                credential: Some(credential),
            });
        }
        out
    }
}

/// `base64(HMAC-SHA1(secret, username))`.
pub fn rest_password(secret: &str, username: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    B64.encode(ring::hmac::sign(&key, username.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rest_api_scheme() {
        // RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?").
        assert_eq!(
            rest_password("Jefe", "what do ya want for nothing?"),
            B64.encode(hex::decode("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79").expect("hex"))
        );
        let config = IceServersConfig {
            stun_urls: vec!["stun:203.0.113.1:3478".into()],
            turn_urls: vec!["turns:turn.example.org:443?transport=tcp".into()],
            turn_secret: Some("s3cret".into()),
            credential_ttl: Duration::from_secs(3600),
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let servers = config.issue("ABCD-h", now);
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].username, None);
        let turn = &servers[1];
        assert_eq!(turn.username.as_deref(), Some("1800003600:ABCD-h"));
        assert_eq!(
            turn.credential.as_deref(),
            Some(rest_password("s3cret", "1800003600:ABCD-h").as_str())
        );
        // No secret, no TURN entry (a relay without credentials would only refuse).
        let no_secret = IceServersConfig {
            turn_secret: None,
            ..config
        };
        assert_eq!(no_secret.issue("x", now).len(), 1);
    }
}
