//! The helper's sign-in as the window runs it: a stream of [`SignInMsg`] for one attempt
//! (the browser address or device code to show, then the result), and the state the home
//! screen shows.

use iced::futures::{SinkExt, Stream};
use tokio::sync::watch;

use crate::sign_in::{DeviceCode, SignInClient, SignInError, SignedIn};

/// Opens an address in the system browser ([`crate::sign_in::open_in_browser`]).
pub type OpenBrowser = fn(&str) -> Result<(), SignInError>;

/// Who the helper is, as far as the window knows.
#[derive(Debug)]
pub enum HelperAuth {
    /// `--dev-identity`: a name taken on trust (demo and tests only).
    Dev(String),
    SignedOut {
        error: Option<String>,
    },
    SigningIn {
        device: bool,
        prompt: Option<SignInPrompt>,
        /// Go on to "Help someone" once signed in (that is what the click asked for).
        then_help: bool,
        cancel: watch::Sender<bool>,
    },
    /// The service trusts several identity providers: the helper picks one.
    ChoosingProvider {
        providers: Vec<String>,
        device: bool,
        then_help: bool,
    },
    SignedIn {
        session: Box<SignedIn>,
        /// The rendezvous said the token expired: refresh before the next use.
        stale: bool,
    },
}

/// What the helper has to do to finish signing in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInPrompt {
    /// The browser was sent here; shown in case it did not open.
    Browser { url: String },
    /// Enter this code on another device.
    Device(DeviceCode),
}

#[derive(Debug, Clone)]
pub enum SignInMsg {
    /// Several providers and none named: the helper chooses (the attempt ends here).
    Choose(Vec<String>),
    Prompt(SignInPrompt),
    Done(Result<Box<SignedIn>, SignInError>),
}

enum Outcome {
    Choose(Vec<String>),
    SignedIn(Box<SignedIn>),
}

/// One sign-in attempt: with the provider named, or the only one the rendezvous trusts;
/// with several and none named, the helper is asked to choose.
pub fn run(
    client: SignInClient,
    rendezvous: String,
    provider: Option<String>,
    device: bool,
    open_browser: OpenBrowser,
    mut cancel: watch::Receiver<bool>,
) -> impl Stream<Item = SignInMsg> {
    iced::stream::channel(
        8,
        async move |mut out: iced::futures::channel::mpsc::Sender<SignInMsg>| {
            let result = async {
                let info = tokio::select! {
                    i = client.sign_in_info(&rendezvous) => i?,
                    _ = cancel.wait_for(|c| *c) => return Err(SignInError::Cancelled),
                };
                if provider.is_none() && info.providers.len() > 1 {
                    let names = info.providers.iter().map(|p| p.name.clone()).collect();
                    return Ok(Outcome::Choose(names));
                }
                let chosen = crate::sign_in::choose_provider(&info.providers, provider.as_deref())?;
                let provider = tokio::select! {
                    p = client.discover(chosen) => p?,
                    _ = cancel.wait_for(|c| *c) => return Err(SignInError::Cancelled),
                };
                let mut prompts = out.clone();
                let signed_in = if device {
                    client
                        .sign_in_with_device_code(
                            &provider,
                            |code| {
                                let _ = prompts.try_send(SignInMsg::Prompt(SignInPrompt::Device(
                                    code.clone(),
                                )));
                            },
                            cancel,
                        )
                        .await?
                } else {
                    client
                        .sign_in_with_browser(
                            &provider,
                            |url| {
                                let _ =
                                    prompts.try_send(SignInMsg::Prompt(SignInPrompt::Browser {
                                        url: url.to_string(),
                                    }));
                                // The window shows the address to open by hand (with a
                                // copy button) when no browser comes up.
                                if let Err(e) = open_browser(url) {
                                    tracing::warn!("{e}");
                                }
                                Ok(())
                            },
                            cancel,
                        )
                        .await?
                };
                Ok(Outcome::SignedIn(Box::new(signed_in)))
            }
            .await;
            let msg = match result {
                Ok(Outcome::Choose(names)) => SignInMsg::Choose(names),
                Ok(Outcome::SignedIn(session)) => SignInMsg::Done(Ok(session)),
                Err(e) => SignInMsg::Done(Err(e)),
            };
            let _ = out.send(msg).await;
        },
    )
}

/// A token for the next session: refreshed when it is about to expire (or the rendezvous
/// said it had). Gives the session back, changed or not.
pub async fn token_for_session(
    mut session: Box<SignedIn>,
    stale: bool,
) -> (Box<SignedIn>, Result<String, SignInError>) {
    let result = async {
        if stale {
            session.refresh().await?;
        }
        session.fresh_id_token().await
    }
    .await;
    (session, result)
}
