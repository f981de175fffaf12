//! Fetching a JSON document over HTTP(S), shared by the rendezvous (OpenID discovery and
//! keys) and the app (sign-in discovery): one place that tells "could not get it" from "got
//! something that is not the document".

/// An HTTP client for identity documents: a bounded time, and redirects followed only to
/// `https` (or to plain `http` on this machine, for tests): a provider's keys must never
/// arrive over plain text because some hop redirected there.
pub fn client(timeout: std::time::Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= 3 {
                return attempt.error("too many redirects");
            }
            if redirect_allowed(attempt.url()) {
                attempt.follow()
            } else {
                attempt.error("redirected to plain http")
            }
        }))
        .build()
}

fn redirect_allowed(url: &url::Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        },
        _ => false,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No answer, or an HTTP error status.
    #[error("{0}")]
    Unreachable(String),
    /// An answer that does not parse as the expected document.
    #[error("{0}")]
    Malformed(String),
}

pub async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, FetchError> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| FetchError::Unreachable(e.to_string()))?;
    if !response.status().is_success() {
        return Err(FetchError::Unreachable(format!(
            "{url}: HTTP {}",
            response.status()
        )));
    }
    response
        .json::<T>()
        .await
        .map_err(|e| FetchError::Malformed(format!("{url}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_go_only_to_https_or_this_machine() {
        for ok in [
            "https://id.example.org/keys",
            "http://127.0.0.1:4000/keys",
            "http://localhost/keys",
        ] {
            assert!(redirect_allowed(&url::Url::parse(ok).expect("url")), "{ok}");
        }
        for bad in [
            "http://id.example.org/keys",
            "http://203.0.113.1/keys",
            "ftp://id.example.org/keys",
            "file:///etc/passwd",
        ] {
            assert!(
                !redirect_allowed(&url::Url::parse(bad).expect("url")),
                "{bad}"
            );
        }
    }
}
