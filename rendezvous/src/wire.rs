//! The mailbox protocol: JSON text frames over one WebSocket at `/v1/mailbox`.
//!
//! A helper sends `allocate`, gets `allocated`, then `peer_joined` when the sharer arrives.
//! A sharer sends `join`, gets `joined` with the helper's verified short name. Both then
//! exchange `send` → `message` with opaque (base64) bodies that only the peers can read.

use serde::{Deserialize, Serialize};

pub use crate::introduction::{IntroducerKey, SignedIntroduction};

/// Path of the WebSocket endpoint.
pub const MAILBOX_PATH: &str = "/v1/mailbox";
/// Largest body of one mailbox message, after base64 decoding.
pub const MAX_BODY_LEN: usize = 64 * 1024;
/// Messages one side may send through one mailbox (pairing + candidates need a few dozen).
pub const MAX_MESSAGES_PER_SIDE: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HelperIdentity {
    /// A name taken on trust; accepted only by a server started with `--allow-dev-identity`.
    Dev { name: String },
    /// An OpenID Connect ID token from one of the server's identity providers.
    IdToken { token: String },
}

impl std::fmt::Display for HelperIdentity {
    /// Never the token itself: it is a credential.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HelperIdentity::Dev { name } => write!(f, "dev identity {name:?}"),
            HelperIdentity::IdToken { .. } => f.write_str("ID token"),
        }
    }
}

/// The operator's aggregate view of session records (`GET`, bearer token, JSON
/// [`crate::records::Summary`]).
pub const OPERATOR_SESSIONS_PATH: &str = "/v1/operator/sessions";

/// Path of the sign-in configuration (`GET`, JSON [`SignInInfo`]).
pub const SIGN_IN_PATH: &str = "/v1/sign-in";

/// What the app needs to sign a helper in (served at `/v1/sign-in`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInProvider {
    pub name: String,
    /// Where the app discovers the endpoints (the issuer, or `discovery_base`).
    pub discovery_url: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_client_secret: Option<String>,
    pub scopes: Vec<String>,
}

/// How helpers sign in to this server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInInfo {
    pub providers: Vec<SignInProvider>,
    /// Whether a bare name (`--dev-identity`) is accepted.
    pub dev_identity_allowed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    Allocate {
        identity: HelperIdentity,
    },
    Join {
        nameplate: String,
    },
    Send {
        body: String,
    },
    /// Either side: the pairing failed (wrong code or tampering); burn the nameplate.
    PairingFailed,
    /// Either side of a running session whose network changed: meet the other side again
    /// in the session's room (32 hex digits derived from the session's keys; see
    /// `tandem_crypto::resume`). Answered with `met`; then `send` → `message` as in a
    /// mailbox.
    Resume {
        room: String,
        side: RoomSide,
    },
    /// The helper's app at the end of a session, on a connection of its own: the token it
    /// got with `peer_joined`, and what the session was like (no content, no names).
    Report {
        token: String,
        report: crate::records::SessionReport,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomSide {
    Helper,
    Sharer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    UnknownNameplate,
    ExpiredNameplate,
    UsedNameplate,
    RateLimited,
    IdentityRefused,
    /// The ID token has expired: refresh it and try again.
    SignInExpired,
    /// The server could not check the sign-in (identity provider unreachable).
    SignInUnavailable,
    BadRequest,
    MessageTooLarge,
    TooManyMessages,
    /// A paired mailbox stayed open longer than the server allows.
    MailboxExpired,
    /// One side stopped reading while the other kept sending: the mailbox was closed.
    MailboxOverflow,
    Unavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::UnknownNameplate => "unknown_nameplate",
            ErrorCode::ExpiredNameplate => "expired_nameplate",
            ErrorCode::UsedNameplate => "used_nameplate",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::IdentityRefused => "identity_refused",
            ErrorCode::SignInExpired => "sign_in_expired",
            ErrorCode::SignInUnavailable => "sign_in_unavailable",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::MessageTooLarge => "message_too_large",
            ErrorCode::TooManyMessages => "too_many_messages",
            ErrorCode::MailboxExpired => "mailbox_expired",
            ErrorCode::MailboxOverflow => "mailbox_overflow",
            ErrorCode::Unavailable => "unavailable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Allocated {
        nameplate: String,
        expires_in_secs: u64,
        /// STUN and TURN servers for this session, TURN with time-limited credentials.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<IceServer>,
        /// Who the helper is, signed for the sharer: the helper forwards it over the
        /// end-to-end channel after pairing (see [`crate::introduction`]).
        introduction: SignedIntroduction,
    },
    /// To the sharer: the nameplate is claimed. Who is asking arrives from the helper,
    /// signed with one of these keys, once the whole code has been proved.
    Joined {
        introducer_keys: Vec<IntroducerKey>,
        /// The rendezvous's clock (Unix seconds), against which the introduction's expiry
        /// is checked: the sharer's own clock may be wrong.
        server_time: u64,
    },
    /// To the helper: a sharer has claimed the nameplate. The token completes the
    /// session's record at the end (`report`).
    PeerJoined {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        report_token: Option<String>,
    },
    /// The report was recorded.
    Reported,
    /// In the room; whether the other side is there already (otherwise `peer_joined`
    /// follows when it comes).
    Met {
        peer_present: bool,
    },
    Message {
        body: String,
    },
    PeerLeft,
    PairingFailed,
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// One entry of an ICE server list, as in WebRTC's `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port?transport=udp`, `turns:host:443?transport=tcp`.
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}
