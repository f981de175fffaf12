//! Helper sign-in against a real OpenID provider (npm's `oidc-provider` on loopback): both
//! flows completed headlessly, the rendezvous accepting good tokens and refusing expired,
//! foreign-key, wrong-audience and unsigned ones, key rotation, refresh, sign-out, clear
//! errors, and the sharer seeing "Anna R.".

use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use tandem::sign_in::{SignInClient, SignInError, SignedIn};
use tandem_rendezvous::oidc::SignInProvider;
use tandem_rendezvous::wire::{ErrorCode, HelperIdentity};
use tandem_rendezvous::{ClientError, MailboxClient};
use tandem_tests::oidc::{Answer, Browser, OidcProvider};
use tandem_tests::{bin, Peer, Rendezvous};
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(30);
/// Hang guard of each step that talks to the provider or the rendezvous (never the thing
/// tested: a hang fails the step that hung, with its name, instead of the whole run).
const HANG_GUARD: Duration = Duration::from_secs(120);

fn rendezvous_for(provider: &OidcProvider, extra: &[&str]) -> Rendezvous {
    let mut args = vec![
        "--oidc-issuer",
        &provider.issuer,
        "--oidc-client-id",
        "tandem",
        "--oidc-name",
        "Example ID",
        // Expiry is checked to the second: the expired-token test waits only 3 s.
        "--oidc-leeway-secs",
        "0",
    ];
    args.extend_from_slice(extra);
    Rendezvous::start(&args)
}

fn test_provider(provider: &OidcProvider, client_id: &str) -> SignInProvider {
    SignInProvider {
        name: "Example ID".into(),
        discovery_url: provider.issuer.clone(),
        client_id: client_id.into(),
        public_client_secret: None,
        scopes: ["openid", "profile", "email", "offline_access"]
            .map(String::from)
            .to_vec(),
    }
}

/// Signs in through the browser flow with the app's own code; the "browser" is the
/// automaton, logging in as `login`.
async fn sign_in(
    provider: &OidcProvider,
    client_id: &str,
    login: &str,
    answer: Answer,
) -> Result<SignedIn, SignInError> {
    let client = SignInClient::new(None)?;
    let discovered = client.discover(&test_provider(provider, client_id)).await?;
    // A browser step that fails ends the sign-in at once instead of after its timeout.
    let (give_up, cancel) = watch::channel(false);
    let login = login.to_string();
    let issuer = provider.issuer.clone();
    let flow = client.sign_in_with_browser(
        &discovered,
        move |url| {
            let url = url.to_string();
            tokio::spawn(async move {
                match Browser::new(&login, answer).visit(&url).await {
                    // Stopped on one of the provider's own pages: the app was never called.
                    Ok(last) if last.starts_with(&issuer) => {
                        eprintln!("browser: stopped at {last} without reaching the app");
                        let _ = give_up.send(true);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        eprintln!("browser: {e:#}");
                        let _ = give_up.send(true);
                    }
                }
            });
            Ok(())
        },
        cancel,
    );
    tokio::time::timeout(HANG_GUARD, flow)
        .await
        .expect("hang guard: the browser sign-in neither finished nor failed")
}

async fn allocate(rendezvous: &Rendezvous, token: &str) -> Result<(), ClientError> {
    tokio::time::timeout(HANG_GUARD, allocate_unguarded(rendezvous, token))
        .await
        .expect("hang guard: the rendezvous neither allocated nor refused")
}

async fn allocate_unguarded(rendezvous: &Rendezvous, token: &str) -> Result<(), ClientError> {
    let mut mailbox = MailboxClient::connect(&rendezvous.url, None).await?;
    let result = mailbox
        .allocate(HelperIdentity::IdToken {
            token: token.to_string(),
        })
        .await
        .map(|_| ());
    mailbox.close().await;
    result
}

fn refused(result: Result<(), ClientError>) -> (ErrorCode, String) {
    match result {
        Err(ClientError::Refused { code, message }) => (code, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64");
    serde_json::from_slice(&bytes).expect("claims")
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("header")
        .kid
        .expect("kid")
}

/// An RSA private key the provider never published (Node makes it: the Rust crypto
/// crates here sign but do not generate RSA keys).
fn foreign_rsa_key_pem() -> String {
    let out = std::process::Command::new("node")
        .args([
            "-e",
            "const {privateKey}=require('crypto').generateKeyPairSync('rsa',{modulusLength:2048});\
             process.stdout.write(privateKey.export({type:'pkcs8',format:'pem'}))",
        ])
        .output()
        .expect("node");
    assert!(out.status.success());
    String::from_utf8(out.stdout).expect("pem")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rendezvous_accepts_a_real_token_and_refuses_expired_foreign_key_wrong_audience_and_unsigned_ones(
) {
    let provider = OidcProvider::start();
    let rendezvous = rendezvous_for(&provider, &[]);

    // A good token, from the browser flow.
    let anna = sign_in(&provider, "tandem", "anna", Answer::Allow)
        .await
        .expect("sign-in");
    assert_eq!(anna.display_name, "Anna R.");
    assert_eq!(anna.email.as_deref(), Some("anna@example.org"));
    let good = anna.id_token().to_string();
    allocate(&rendezvous, &good)
        .await
        .expect("a valid token is accepted");

    // Signed by a key the provider never published, under the provider's key id and
    // under an unknown one.
    let claims = claims_of(&good);
    let key =
        jsonwebtoken::EncodingKey::from_rsa_pem(foreign_rsa_key_pem().as_bytes()).expect("rsa key");
    for kid in [kid_of(&good), "not-a-published-key".to_string()] {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(kid.clone());
        let forged = jsonwebtoken::encode(&header, &claims, &key).expect("sign");
        let (code, message) = refused(allocate(&rendezvous, &forged).await);
        assert_eq!(code, ErrorCode::IdentityRefused, "kid {kid}: {message}");
        assert!(
            message.contains("signature") || message.contains("key"),
            "kid {kid}: {message}"
        );
    }

    // alg "none": the same claims, no signature.
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    );
    let (code, message) = refused(allocate(&rendezvous, &unsigned).await);
    assert_eq!(code, ErrorCode::IdentityRefused, "{message}");
    assert!(message.contains("not signed"), "{message}");

    // A real token, but for another application.
    let other = sign_in(&provider, "other-app", "anna", Answer::Allow)
        .await
        .expect("sign-in to the other app");
    let (code, message) = refused(allocate(&rendezvous, other.id_token()).await);
    assert_eq!(code, ErrorCode::IdentityRefused, "{message}");
    assert!(message.contains("another application"), "{message}");

    // A real token from an issuer this rendezvous does not trust.
    let elsewhere = OidcProvider::start();
    let stranger = sign_in(&elsewhere, "tandem", "anna", Answer::Allow)
        .await
        .expect("sign-in elsewhere");
    let (code, message) = refused(allocate(&rendezvous, stranger.id_token()).await);
    assert_eq!(code, ErrorCode::IdentityRefused, "{message}");
    assert!(message.contains("not accepted here"), "{message}");

    // A real token that has expired (this client's ID tokens live 2 s).
    let short = sign_in(&provider, "tandem-short", "anna", Answer::Allow)
        .await
        .expect("sign-in");
    let short_lived = rendezvous_for_client(&provider, "tandem-short");
    allocate(&short_lived, short.id_token())
        .await
        .expect("accepted while it lives");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (code, message) = refused(allocate(&short_lived, short.id_token()).await);
    assert_eq!(code, ErrorCode::SignInExpired, "{message}");

    // Refreshing gives a new one that is accepted again.
    let mut short = short;
    let expired = short.id_token().to_string();
    let renewed = short.fresh_id_token().await.expect("refresh");
    assert_ne!(renewed, expired);
    allocate(&short_lived, &renewed)
        .await
        .expect("a refreshed token is accepted");
}

fn rendezvous_for_client(provider: &OidcProvider, client_id: &str) -> Rendezvous {
    Rendezvous::start(&[
        "--oidc-issuer",
        &provider.issuer,
        "--oidc-client-id",
        client_id,
        "--oidc-leeway-secs",
        "0",
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_signing_key_is_fetched_and_an_unreachable_provider_is_a_clear_error() {
    let mut provider = OidcProvider::start();
    let rendezvous = rendezvous_for(&provider, &[]);
    let before = sign_in(&provider, "tandem", "anna", Answer::Allow)
        .await
        .expect("sign-in");
    allocate(&rendezvous, before.id_token())
        .await
        .expect("accepted");

    // The provider rotates: new tokens carry a key id the rendezvous has not seen.
    provider.restart(true);
    let after = sign_in(&provider, "tandem", "anna", Answer::Allow)
        .await
        .expect("sign-in after rotation");
    assert_ne!(kid_of(before.id_token()), kid_of(after.id_token()));
    allocate(&rendezvous, after.id_token())
        .await
        .expect("a token signed with the new key is accepted after a key refetch");
    allocate(&rendezvous, before.id_token())
        .await
        .expect("the old key is still published, its tokens still good");

    // Provider down: a rendezvous that never saw its keys cannot check a token.
    provider.stop();
    let fresh = rendezvous_for(&provider, &[]);
    let (code, message) = refused(allocate(&fresh, after.id_token()).await);
    assert_eq!(code, ErrorCode::SignInUnavailable, "{message}");
    // ...and the app cannot sign in: a clear error, not a wait.
    let client = SignInClient::new(None).expect("client");
    let err = tokio::time::timeout(WAIT, client.provider_for(&fresh.url, None))
        .await
        .expect("hang guard: an unreachable provider must be an error, not a wait")
        .map(|_| ())
        .expect_err("provider is down");
    assert_eq!(err.kind(), "provider_unreachable", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_lists_cancel_and_sign_out() {
    let provider = OidcProvider::start();
    let rendezvous = rendezvous_for(&provider, &["--oidc-allowed-email-domain", "example.org"]);

    let anna = sign_in(&provider, "tandem", "anna", Answer::Allow)
        .await
        .expect("sign-in");
    allocate(&rendezvous, anna.id_token())
        .await
        .expect("example.org is allowed");
    let marco = sign_in(&provider, "tandem", "marco", Answer::Allow)
        .await
        .expect("sign-in");
    assert_eq!(marco.display_name, "Marco B.");
    let (code, message) = refused(allocate(&rendezvous, marco.id_token()).await);
    assert_eq!(code, ErrorCode::IdentityRefused, "{message}");

    // Cancel on the provider's consent page: the app hears "cancelled", not a hang.
    let err = sign_in(&provider, "tandem", "anna", Answer::Cancel)
        .await
        .expect_err("cancelled");
    assert_eq!(err, SignInError::Cancelled);

    // Sign-out revokes the refresh token at the provider.
    let mut copy = anna.clone();
    anna.sign_out().await;
    let err = copy.refresh().await.expect_err("revoked");
    assert_eq!(err, SignInError::Expired, "{err}");
}

/// `tandem assist --json` signing in with `method` (`browser`, `device`) at `rendezvous`;
/// the "system browser" is `tandem-test-browser`, with `env` for its choices.
fn assist_signing_in(
    rendezvous: &Rendezvous,
    method: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Peer {
    let browser = bin("tandem-test-browser");
    let browser = browser.to_str().expect("path");
    let mut args = vec![
        "assist",
        "--json",
        "--rendezvous",
        &rendezvous.url,
        "--sign-in",
        method,
    ];
    args.extend_from_slice(extra);
    let mut vars = vec![("BROWSER", browser)];
    vars.extend_from_slice(env);
    Peer::spawn_with_env("helper", &args, &vars)
}

/// The real binaries: `tandem assist` signs in through the "system browser"
/// (`$BROWSER`), gets a code, and the sharer sees the helper as "Anna R.".
#[test]
fn a_helper_signed_in_in_the_browser_is_shown_to_the_sharer_as_first_name_and_initial() {
    let provider = OidcProvider::start();
    let rendezvous = rendezvous_for(&provider, &[]);
    let mut helper = assist_signing_in(&rendezvous, "browser", &[], &[]);
    let prompt = helper.wait_for("sign_in_browser", WAIT);
    assert!(prompt["url"]
        .as_str()
        .is_some_and(|u| u.starts_with(&provider.issuer)));
    let signed_in = helper.wait_for("signed_in", WAIT);
    assert_eq!(signed_in["name"], "Anna R.");
    let issued = helper.wait_for("code_issued", WAIT);
    let code = issued["code"].as_str().expect("code").to_string();

    let mut sharer = Peer::share(&rendezvous.url, &code, &[]);
    let consent = sharer.wait_for("consent_requested", WAIT);
    assert_eq!(consent["helper_name"], "Anna R.");
    // Beside the name, who vouches for it: the domain of the verified address, carried in
    // the rendezvous's signed introduction.
    assert_eq!(consent["affiliation"], "example.org", "{consent}");
    sharer.type_line("y");
    helper.wait_for("consent_given", WAIT);
    helper.type_line("/end");
    helper.wait_exit(WAIT);
    sharer.wait_exit(WAIT);
}

/// `tandem assist --sign-in device`: the code is entered "on a phone" (the automaton at
/// the verification address) while the app polls.
#[test]
fn a_helper_signs_in_with_a_code_on_another_device() {
    let provider = OidcProvider::start();
    let rendezvous = rendezvous_for(&provider, &[]);
    let mut helper = assist_signing_in(&rendezvous, "device", &[], &[]);
    let prompt = helper.wait_for("sign_in_device_code", WAIT);
    let user_code = prompt["user_code"].as_str().expect("user code");
    assert!(!user_code.is_empty());
    let address = prompt["verification_uri_complete"]
        .as_str()
        .expect("complete address")
        .to_string();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime
        .block_on(Browser::new("anna", Answer::Allow).visit(&address))
        .expect("the person enters the code");
    let signed_in = helper.wait_for("signed_in", WAIT);
    assert_eq!(signed_in["name"], "Anna R.");
    helper.wait_for("code_issued", WAIT);
    helper.type_line("/end");
    helper.wait_exit(WAIT);
}

/// Errors the helper sees in the terminal: cancelled in the browser, provider down.
#[test]
fn sign_in_failures_end_with_a_clear_error() {
    let mut provider = OidcProvider::start();
    let rendezvous = rendezvous_for(&provider, &[]);
    let mut helper = assist_signing_in(
        &rendezvous,
        "browser",
        &[],
        &[("TANDEM_TEST_ANSWER", "cancel")],
    );
    let failed = helper.wait_for("sign_in_failed", WAIT);
    assert_eq!(failed["kind"], "cancelled", "{failed}");
    assert_eq!(helper.wait_exit(WAIT).code(), Some(3));

    provider.stop();
    let mut helper = assist_signing_in(&rendezvous, "browser", &[], &[]);
    let failed = helper.wait_for("sign_in_failed", WAIT);
    assert_eq!(failed["kind"], "provider_unreachable", "{failed}");
    assert_eq!(helper.wait_exit(WAIT).code(), Some(3));
}

/// A service trusting two identity providers (a TOML file of providers): the helper picks
/// one by name; an unknown name is a clear error listing the names there are.
#[test]
fn the_helper_picks_one_of_several_identity_providers() {
    let first = OidcProvider::start();
    let second = OidcProvider::start();
    let dir = tandem_tests::tempdir::Dir::new("tandem-providers");
    let file = dir.path().join("providers.toml");
    std::fs::write(
        &file,
        format!(
            "[[provider]]\nname = \"First ID\"\nissuer = \"{}\"\nclient_id = \"tandem\"\n\n\
             [[provider]]\nname = \"Second ID\"\nissuer = \"{}\"\nclient_id = \"tandem\"\n",
            first.issuer, second.issuer
        ),
    )
    .expect("write");
    let rendezvous = Rendezvous::start(&["--identity-providers", file.to_str().expect("path")]);
    let assist = |provider: &str| {
        assist_signing_in(
            &rendezvous,
            "browser",
            &["--sign-in-provider", provider],
            &[],
        )
    };
    let mut helper = assist("second id");
    let prompt = helper.wait_for("sign_in_browser", WAIT);
    assert!(
        prompt["url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&second.issuer)),
        "{prompt}"
    );
    let signed_in = helper.wait_for("signed_in", WAIT);
    assert_eq!(signed_in["provider"], "Second ID");
    helper.wait_for("code_issued", WAIT);
    helper.type_line("/end");
    helper.wait_exit(WAIT);

    let mut lost = assist("Third ID");
    let failed = lost.wait_for("sign_in_failed", WAIT);
    let message = failed["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("First ID") && message.contains("Second ID"),
        "{failed}"
    );
    assert_eq!(lost.wait_exit(WAIT).code(), Some(3));
}
