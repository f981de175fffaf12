//! Helper sign-in, app side: OpenID Connect with the `oauth2` crate.
//!
//! The rendezvous says which identity providers it trusts (`/v1/sign-in`); the app discovers
//! their endpoints and signs in with the authorization code grant + PKCE through the
//! system browser and a loopback redirect (RFC 8252), or, on a machine without a browser,
//! the device authorization grant (RFC 8628). Tokens live in memory for the app's run only;
//! the ID token is refreshed shortly before it expires; sign-out forgets them and revokes
//! the refresh token where the provider allows it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, DeviceAuthorizationUrl, EndpointMaybeSet,
    EndpointNotSet, PkceCodeChallenge, RedirectUrl, RefreshToken, RequestTokenError, RevocationUrl,
    Scope, StandardDeviceAuthorizationResponse, StandardRevocableToken, StandardTokenResponse,
    TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use tandem_rendezvous::wire::SignInProvider;
use tandem_rendezvous::wire::{SignInInfo, SIGN_IN_PATH};
use tokio::sync::{oneshot, watch};
use tracing::{debug, warn};

/// An ID token this close to expiry is refreshed before use.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// How long the browser step may take before the app stops waiting.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SignInError {
    #[error("cannot reach {what}: {reason}")]
    Unreachable { what: String, reason: String },
    #[error("the sign-in service answered something unexpected: {0}")]
    Protocol(String),
    #[error("this server does not offer sign-in")]
    NoProvider,
    #[error("sign-in was cancelled")]
    Cancelled,
    #[error("sign-in took too long; try again")]
    TimedOut,
    #[error("the identity provider refused: {0}")]
    Refused(String),
    #[error("the sign-in has expired; sign in again")]
    Expired,
    #[error("cannot open a browser ({0}); sign in with a code instead")]
    NoBrowser(String),
}

impl SignInError {
    /// A stable name for scripts and tests (`--json`).
    pub fn kind(&self) -> &'static str {
        match self {
            SignInError::Unreachable { .. } => "provider_unreachable",
            SignInError::Protocol(_) => "protocol",
            SignInError::NoProvider => "no_provider",
            SignInError::Cancelled => "cancelled",
            SignInError::TimedOut => "timed_out",
            SignInError::Refused(_) => "refused",
            SignInError::Expired => "expired",
            SignInError::NoBrowser(_) => "no_browser",
        }
    }
}

/// The ID token rides along with the access token in the token response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}
impl oauth2::ExtraTokenFields for IdTokenField {}

type Tokens = StandardTokenResponse<IdTokenField, BasicTokenType>;
type OidcClient = oauth2::Client<
    BasicErrorResponse,
    Tokens,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointMaybeSet,
    EndpointMaybeSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
}

/// An identity provider with its endpoints discovered.
#[derive(Clone)]
pub struct Provider {
    pub info: SignInProvider,
    pub issuer: String,
    client: OidcClient,
    revocation_url: Option<String>,
    pub supports_browser: bool,
    pub supports_device_code: bool,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.info.name)
            .field("issuer", &self.issuer)
            .finish()
    }
}

/// Talks HTTP to the rendezvous and the identity providers.
#[derive(Clone)]
pub struct SignInClient {
    http: reqwest::Client,
}

impl SignInClient {
    /// `extra_ca`: a PEM certificate to trust besides the public roots (a private
    /// rendezvous or provider).
    pub fn new(extra_ca: Option<&std::path::Path>) -> Result<Self, SignInError> {
        let mut builder = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            // RFC 6749 §10.: token endpoints must not redirect (and a redirect is an SSRF
            // vector for anything that follows it).
            .redirect(reqwest::redirect::Policy::none());
        if let Some(path) = extra_ca {
            let pem = std::fs::read(path).map_err(|e| SignInError::Unreachable {
                what: path.display().to_string(),
                reason: e.to_string(),
            })?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| SignInError::Protocol(format!("{}: {e}", path.display())))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder
            .build()
            .map_err(|e| SignInError::Protocol(e.to_string()))?;
        Ok(Self { http })
    }

    /// How the rendezvous at `rendezvous_url` (ws:// or wss://) wants helpers to sign in.
    pub async fn sign_in_info(&self, rendezvous_url: &str) -> Result<SignInInfo, SignInError> {
        let url = http_url(rendezvous_url, SIGN_IN_PATH)?;
        self.get_json(&url, "the rendezvous").await
    }

    /// The rendezvous' provider named `name` (or its first one), discovered.
    pub async fn provider_for(
        &self,
        rendezvous_url: &str,
        name: Option<&str>,
    ) -> Result<Provider, SignInError> {
        let info = self.sign_in_info(rendezvous_url).await?;
        let chosen = choose_provider(&info.providers, name)?;
        self.discover(chosen).await
    }

    /// Discovers a provider's endpoints.
    pub async fn discover(&self, info: &SignInProvider) -> Result<Provider, SignInError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            info.discovery_url.trim_end_matches('/')
        );
        let doc: Discovery = self.get_json(&url, &info.name).await?;
        let parse = |what: &str, v: &Option<String>| -> Result<Option<String>, SignInError> {
            match v {
                Some(u) => url::Url::parse(u)
                    .map(|_| Some(u.clone()))
                    .map_err(|e| SignInError::Protocol(format!("{what} {u}: {e}"))),
                None => Ok(None),
            }
        };
        let auth = parse("authorization_endpoint", &doc.authorization_endpoint)?;
        let token = parse("token_endpoint", &doc.token_endpoint)?
            .ok_or_else(|| SignInError::Protocol(format!("{url} has no token endpoint")))?;
        let device = parse(
            "device_authorization_endpoint",
            &doc.device_authorization_endpoint,
        )?;
        let revocation = parse("revocation_endpoint", &doc.revocation_endpoint)?;
        let bad = |e: url::ParseError| SignInError::Protocol(e.to_string());
        let mut client = oauth2::Client::new(ClientId::new(info.client_id.clone()))
            .set_auth_uri_option(auth.clone().map(AuthUrl::new).transpose().map_err(bad)?)
            .set_device_authorization_url_option(
                device
                    .clone()
                    .map(DeviceAuthorizationUrl::new)
                    .transpose()
                    .map_err(bad)?,
            )
            .set_revocation_url_option(
                revocation
                    .clone()
                    .map(RevocationUrl::new)
                    .transpose()
                    .map_err(bad)?,
            )
            .set_token_uri_option(Some(TokenUrl::new(token).map_err(bad)?));
        if let Some(secret) = &info.public_client_secret {
            client = client.set_client_secret(oauth2::ClientSecret::new(secret.clone()));
        }
        Ok(Provider {
            info: info.clone(),
            issuer: doc.issuer,
            client,
            revocation_url: revocation,
            supports_browser: auth.is_some(),
            supports_device_code: device.is_some(),
        })
    }

    /// Authorization code + PKCE: `open` is given the URL to show in the browser (and should
    /// open it); the provider redirects back to a one-shot server on 127.0.0.1.
    pub async fn sign_in_with_browser(
        &self,
        provider: &Provider,
        open: impl FnOnce(&str) -> Result<(), SignInError>,
        mut cancel: watch::Receiver<bool>,
    ) -> Result<SignedIn, SignInError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| SignInError::Protocol(format!("loopback listener: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| SignInError::Protocol(e.to_string()))?
            .port();
        let redirect = format!("http://127.0.0.1:{port}/callback");
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = provider.client.clone().set_redirect_uri(
            RedirectUrl::new(redirect.clone()).map_err(|e| SignInError::Protocol(e.to_string()))?,
        );
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .map_err(|e| SignInError::Protocol(e.to_string()))?
            .set_pkce_challenge(challenge);
        for scope in &provider.info.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state) = request.url();
        let callback = Callback::serve(listener, state.secret().clone());
        open(url.as_str())?;
        let code = tokio::select! {
            r = callback.code() => r?,
            _ = tokio::time::sleep(BROWSER_TIMEOUT) => return Err(SignInError::TimedOut),
            _ = cancelled(&mut cancel) => return Err(SignInError::Cancelled),
        };
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| SignInError::Protocol(e.to_string()))?
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(token_error)?;
        SignedIn::new(provider.clone(), tokens, self.clone())
    }

    /// Device authorization grant: `show` is given the code and the address where the
    /// helper enters it (on a phone or another computer); then the app polls.
    pub async fn sign_in_with_device_code(
        &self,
        provider: &Provider,
        show: impl FnOnce(&DeviceCode),
        mut cancel: watch::Receiver<bool>,
    ) -> Result<SignedIn, SignInError> {
        let mut request = provider
            .client
            .exchange_device_code()
            .map_err(|_| SignInError::Protocol("the provider has no device sign-in".into()))?;
        for scope in &provider.info.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let details: StandardDeviceAuthorizationResponse = request
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::Request(e) => SignInError::Unreachable {
                    what: provider.info.name.clone(),
                    reason: e.to_string(),
                },
                other => SignInError::Refused(other.to_string()),
            })?;
        let expires_in = details.expires_in();
        show(&DeviceCode {
            user_code: details.user_code().secret().clone(),
            verification_uri: details.verification_uri().to_string(),
            verification_uri_complete: details
                .verification_uri_complete()
                .map(|u| u.secret().clone()),
            expires_in_secs: expires_in.as_secs(),
        });
        let poll = provider
            .client
            .exchange_device_access_token(&details)
            .map_err(|e| SignInError::Protocol(e.to_string()))?
            .request_async(&self.http, tokio::time::sleep, Some(expires_in));
        let tokens = tokio::select! {
            r = poll => r.map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => match r.error() {
                    oauth2::DeviceCodeErrorResponseType::ExpiredToken => SignInError::TimedOut,
                    oauth2::DeviceCodeErrorResponseType::AccessDenied => SignInError::Cancelled,
                    other => SignInError::Refused(other.to_string()),
                },
                RequestTokenError::Request(e) => SignInError::Unreachable {
                    what: provider.info.name.clone(),
                    reason: e.to_string(),
                },
                other => SignInError::Protocol(other.to_string()),
            })?,
            _ = cancelled(&mut cancel) => return Err(SignInError::Cancelled),
        };
        SignedIn::new(provider.clone(), tokens, self.clone())
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        what: &str,
    ) -> Result<T, SignInError> {
        use tandem_rendezvous::http_json::{get_json, FetchError};
        get_json(&self.http, url).await.map_err(|e| match e {
            FetchError::Unreachable(reason) => SignInError::Unreachable {
                what: what.to_string(),
                reason,
            },
            FetchError::Malformed(reason) => SignInError::Protocol(reason),
        })
    }
}

async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    // A dropped sender means nobody can cancel any more: wait forever.
    if cancel.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn token_error<E: std::error::Error + 'static>(
    e: RequestTokenError<E, BasicErrorResponse>,
) -> SignInError {
    match e {
        RequestTokenError::ServerResponse(r) => match r.error() {
            oauth2::basic::BasicErrorResponseType::InvalidGrant => SignInError::Expired,
            other => SignInError::Refused(
                r.error_description()
                    .cloned()
                    .unwrap_or_else(|| other.to_string()),
            ),
        },
        RequestTokenError::Request(e) => SignInError::Unreachable {
            what: "the identity provider".into(),
            reason: e.to_string(),
        },
        other => SignInError::Protocol(other.to_string()),
    }
}

/// The provider called `name` (case does not matter), or the first when no name is given.
pub fn choose_provider<'a>(
    providers: &'a [SignInProvider],
    name: Option<&str>,
) -> Result<&'a SignInProvider, SignInError> {
    match name {
        None => providers.first().ok_or(SignInError::NoProvider),
        Some(name) => providers
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                let known: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();
                SignInError::Protocol(format!(
                    "this server has no sign-in called {name:?} (it has: {})",
                    known.join(", ")
                ))
            }),
    }
}

/// ws(s)://host[:port]/… → http(s)://host[:port]/path.
fn http_url(rendezvous: &str, path: &str) -> Result<String, SignInError> {
    let mut url = url::Url::parse(rendezvous)
        .map_err(|e| SignInError::Protocol(format!("rendezvous URL {rendezvous}: {e}")))?;
    let scheme = match url.scheme() {
        "ws" | "http" => "http",
        "wss" | "https" => "https",
        other => return Err(SignInError::Protocol(format!("unsupported scheme {other}"))),
    };
    url.set_scheme(scheme)
        .map_err(|()| SignInError::Protocol("bad scheme".into()))?;
    url.set_path(path);
    url.set_query(None);
    Ok(url.to_string())
}

/// What the helper types on another device to sign this one in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceCode {
    pub user_code: String,
    pub verification_uri: String,
    /// The same with the code filled in (for a link or QR code), when the provider gives one.
    pub verification_uri_complete: Option<String>,
    pub expires_in_secs: u64,
}

/// A signed-in helper: the tokens, kept in memory only.
#[derive(Clone)]
pub struct SignedIn {
    pub provider: Provider,
    id_token: String,
    refresh_token: Option<RefreshToken>,
    /// When the ID token expires (its `exp`).
    expires_at: SystemTime,
    /// "Anna R.", read from the ID token for the app's own display (the rendezvous
    /// verifies the token and decides what the sharer sees).
    pub display_name: String,
    pub email: Option<String>,
    client: SignInClient,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("provider", &self.provider.info.name)
            .field("display_name", &self.display_name)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct DisplayClaims {
    exp: u64,
    #[serde(flatten)]
    names: tandem_rendezvous::display_name::NameClaims,
    #[serde(default)]
    email: Option<String>,
}

impl SignedIn {
    fn new(provider: Provider, tokens: Tokens, client: SignInClient) -> Result<Self, SignInError> {
        let id_token = tokens
            .extra_fields()
            .id_token
            .clone()
            .ok_or_else(|| SignInError::Protocol("no ID token in the answer".into()))?;
        let mut signed_in = Self {
            provider,
            id_token: String::new(),
            refresh_token: tokens.refresh_token().cloned(),
            expires_at: UNIX_EPOCH,
            display_name: String::new(),
            email: None,
            client,
        };
        signed_in.take_id_token(id_token)?;
        Ok(signed_in)
    }

    fn take_id_token(&mut self, id_token: String) -> Result<(), SignInError> {
        // Read, not verified: only for scheduling the refresh and showing the name here.
        let claims: DisplayClaims = jsonwebtoken::dangerous::insecure_decode_claims(&id_token)
            .map_err(|e| SignInError::Protocol(format!("ID token: {e}")))?;
        // The same name the rendezvous shows the sharer.
        self.display_name = claims.names.shown_name().unwrap_or_default();
        self.email = claims.email;
        self.expires_at = UNIX_EPOCH + Duration::from_secs(claims.exp);
        self.id_token = id_token;
        Ok(())
    }

    /// The current ID token as it is (it may have expired: see [`Self::fresh_id_token`]).
    pub fn id_token(&self) -> &str {
        &self.id_token
    }

    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    pub fn can_refresh(&self) -> bool {
        self.refresh_token.is_some()
    }

    /// An ID token good for at least a minute: the current one, or a refreshed one.
    pub async fn fresh_id_token(&mut self) -> Result<String, SignInError> {
        let soon = SystemTime::now() + REFRESH_MARGIN;
        if self.expires_at > soon {
            return Ok(self.id_token.clone());
        }
        self.refresh().await?;
        Ok(self.id_token.clone())
    }

    /// Uses the refresh token for a new ID token.
    pub async fn refresh(&mut self) -> Result<(), SignInError> {
        let Some(refresh_token) = self.refresh_token.clone() else {
            return Err(SignInError::Expired);
        };
        let tokens = self
            .provider
            .client
            .exchange_refresh_token(&refresh_token)
            .map_err(|e| SignInError::Protocol(e.to_string()))?
            .request_async(&self.client.http)
            .await
            .map_err(token_error)?;
        if let Some(rotated) = tokens.refresh_token() {
            self.refresh_token = Some(rotated.clone());
        }
        let id_token = tokens
            .extra_fields()
            .id_token
            .clone()
            .ok_or_else(|| SignInError::Protocol("no ID token after refresh".into()))?;
        self.take_id_token(id_token)?;
        debug!(expires_at = ?self.expires_at, "sign-in refreshed");
        Ok(())
    }

    /// Forgets the tokens; revokes the refresh token at the provider when it can.
    pub async fn sign_out(self) {
        let Some(refresh_token) = self.refresh_token.clone() else {
            return;
        };
        let request = match self
            .provider
            .client
            .revoke_token(StandardRevocableToken::RefreshToken(refresh_token.clone()))
        {
            Ok(r) => r,
            Err(oauth2::ConfigurationError::InsecureUrl(_)) => {
                // `oauth2` insists on https (RFC 7009); a provider on this machine (a
                // development Keycloak, the tests' provider) is reached over http.
                self.revoke_on_loopback(refresh_token.secret()).await;
                return;
            }
            Err(_) => return, // no revocation endpoint: forgetting is all there is
        };
        if let Err(e) = request.request_async(&self.client.http).await {
            warn!("revoking the refresh token: {e}");
        }
    }

    async fn revoke_on_loopback(&self, refresh_token: &str) {
        let Some(url) = self.provider.revocation_url.as_deref() else {
            return;
        };
        let loopback = url::Url::parse(url).ok().is_some_and(|u| match u.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name == "localhost",
            None => false,
        });
        if !loopback {
            return;
        }
        let form = [
            ("token", refresh_token),
            ("token_type_hint", "refresh_token"),
            ("client_id", self.provider.info.client_id.as_str()),
        ];
        match self.client.http.post(url).form(&form).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => warn!("revoking the refresh token: HTTP {}", r.status()),
            Err(e) => warn!("revoking the refresh token: {e}"),
        }
    }
}

/// The one-shot HTTP server the browser is redirected to.
struct Callback {
    result: oneshot::Receiver<Result<String, SignInError>>,
    shutdown: Option<oneshot::Sender<()>>,
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

impl Callback {
    fn serve(listener: tokio::net::TcpListener, expected_state: String) -> Self {
        use axum::extract::{Query, State};
        use axum::response::Html;
        type Slot = Arc<std::sync::Mutex<Option<oneshot::Sender<Result<String, SignInError>>>>>;
        let (tx, rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let slot: Slot = Arc::new(std::sync::Mutex::new(Some(tx)));
        let handler = move |State(slot): State<Slot>, Query(q): Query<CallbackQuery>| {
            let expected = expected_state.clone();
            async move {
                // A request with someone else's state is not ours to answer (CSRF).
                if q.state.as_deref() != Some(expected.as_str()) {
                    return Html(page(
                        "This sign-in link is not the one Tandem is waiting for.",
                    ));
                }
                let result = match (q.code, q.error) {
                    (Some(code), None) => Ok(code),
                    (_, Some(error)) if error == "access_denied" => Err(SignInError::Cancelled),
                    (_, Some(error)) => {
                        Err(SignInError::Refused(q.error_description.unwrap_or(error)))
                    }
                    (None, None) => Err(SignInError::Protocol("no code in the redirect".into())),
                };
                let ok = result.is_ok();
                if let Some(tx) = slot.lock().ok().and_then(|mut s| s.take()) {
                    let _ = tx.send(result);
                }
                Html(page(if ok {
                    "You are signed in to Tandem. You can close this tab and go back to the app."
                } else {
                    "Sign-in did not complete. Go back to Tandem to try again."
                }))
            }
        };
        let app = axum::Router::new()
            .route("/callback", axum::routing::get(handler))
            .with_state(slot);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .await;
        });
        Self {
            result: rx,
            shutdown: Some(stop_tx),
        }
    }

    async fn code(mut self) -> Result<String, SignInError> {
        let r = (&mut self.result)
            .await
            .unwrap_or(Err(SignInError::Cancelled));
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
        r
    }
}

fn page(message: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Tandem</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><p>{message}</p></body></html>"
    )
}

/// Opens `url` in the system browser (`$BROWSER` is honoured).
pub fn open_in_browser(url: &str) -> Result<(), SignInError> {
    webbrowser::open(url).map_err(|e| SignInError::NoBrowser(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendezvous_urls_map_to_http() {
        assert_eq!(
            http_url("ws://127.0.0.1:8443", SIGN_IN_PATH).as_deref(),
            Ok("http://127.0.0.1:8443/v1/sign-in")
        );
        assert_eq!(
            http_url("wss://tandem.example.org/v1/mailbox", SIGN_IN_PATH).as_deref(),
            Ok("https://tandem.example.org/v1/sign-in")
        );
        assert!(http_url("ftp://x", SIGN_IN_PATH).is_err());
    }
}
