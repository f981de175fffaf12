//! A stand-in for the system browser in sign-in tests: `BROWSER=tandem-test-browser`.
//! Goes through the OpenID provider's login and consent pages for the given address and
//! opens the app's redirect, as a person would. The account is `$TANDEM_TEST_LOGIN`
//! (default `anna`); `$TANDEM_TEST_ANSWER=cancel` presses Cancel instead of agreeing.

use tandem_tests::oidc::{Answer, Browser};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: tandem-test-browser URL"))?;
    let login = std::env::var("TANDEM_TEST_LOGIN").unwrap_or_else(|_| "anna".into());
    let answer = match std::env::var("TANDEM_TEST_ANSWER").as_deref() {
        Ok("cancel") => Answer::Cancel,
        _ => Answer::Allow,
    };
    let last = Browser::new(&login, answer).visit(&url).await?;
    eprintln!("tandem-test-browser: ended at {last}");
    Ok(())
}
