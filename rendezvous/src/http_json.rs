//! Fetching a JSON document over HTTP(S), shared by the rendezvous (OpenID discovery and
//! keys) and the app (sign-in discovery): one place that tells "could not get it" from "got
//! something that is not the document".

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
