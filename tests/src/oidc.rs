//! A real OpenID provider for the sign-in tests, and a headless "browser" that goes through
//! its login and consent pages the way a person would.
//!
//! The provider is npm's `oidc-provider` (`tests/oidc-provider`, installed by
//! `scripts/setup-deps.sh` with `npm ci`), run by Node.js on loopback.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{anyhow, bail, Context};
use reqwest::{StatusCode, Url};

/// The provider's directory in the source tree.
pub fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc-provider")
}

/// A running `oidc-provider` on 127.0.0.1.
pub struct OidcProvider {
    child: Child,
    /// `http://127.0.0.1:PORT`, also its issuer.
    pub issuer: String,
    keys_file: PathBuf,
    _dir: crate::tempdir::Dir,
}

impl OidcProvider {
    /// Starts the provider with fresh signing keys.
    pub fn start() -> Self {
        let dir = crate::tempdir::Dir::new("tandem-oidc");
        let keys_file = dir.path().join("keys.json");
        let (child, issuer) = spawn(&keys_file, None, false);
        Self {
            child,
            issuer,
            keys_file,
            _dir: dir,
        }
    }

    pub fn port(&self) -> u16 {
        self.issuer
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("issuer port")
    }

    /// Stops the provider (it is unreachable until [`Self::restart`]).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same address; with `rotate`, a new signing key comes first
    /// (the old one stays published, as providers do during a rotation).
    pub fn restart(&mut self, rotate: bool) {
        self.stop();
        let (child, issuer) = spawn(&self.keys_file, Some(self.port()), rotate);
        assert_eq!(issuer, self.issuer);
        self.child = child;
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(keys_file: &Path, port: Option<u16>, rotate: bool) -> (Child, String) {
    let dir = provider_dir();
    assert!(
        dir.join("node_modules/oidc-provider").is_dir(),
        "the test OpenID provider is not installed: run scripts/setup-deps.sh test \
         (or `npm ci` in {})",
        dir.display()
    );
    let mut cmd = Command::new("node");
    cmd.arg("provider.mjs")
        .current_dir(&dir)
        .env("KEYS_FILE", keys_file)
        .env("ROTATE", if rotate { "1" } else { "0" })
        .stdout(Stdio::piped())
        // Its warnings about Node 20 and the dev-only features are expected noise.
        .stderr(Stdio::null());
    if let Some(port) = port {
        cmd.env("PORT", port.to_string());
    }
    let mut child = cmd.spawn().expect("start node (is Node.js installed?)");
    // A restart on the same port can race the old socket's release: the provider then
    // dies at once and prints nothing.
    let (line, reader) = crate::first_line(&mut child, "the OpenID provider");
    let issuer = line
        .trim()
        .strip_prefix("ready ")
        .unwrap_or_else(|| panic!("the OpenID provider did not start: {line:?}"))
        .to_string();
    // Keep draining stdout so the provider never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    (child, issuer)
}

/// What the automated person does on the provider's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Signs in and agrees.
    Allow,
    /// Signs in, then presses Cancel on the consent page.
    Cancel,
}

/// A person at a browser: signs in as `login` on the provider's development login page.
pub struct Browser {
    http: reqwest::Client,
    login: String,
    answer: Answer,
}

impl Browser {
    pub fn new(login: &str, answer: Answer) -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .expect("http client");
        Self {
            http,
            login: login.to_string(),
            answer,
        }
    }

    /// Opens `url` and goes through the pages until the provider sends the browser to
    /// another site (the app's loopback redirect, which is then opened too), or shows a
    /// page with nothing left to submit (the end of a device sign-in). Returns that last
    /// address.
    pub async fn visit(&self, url: &str) -> anyhow::Result<String> {
        let start = Url::parse(url)?;
        let mut request = self.http.get(start.clone());
        let mut here = start.clone();
        for _ in 0..20 {
            let response = request
                .send()
                .await
                .with_context(|| format!("opening {here}"))?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| anyhow!("{status} without a location at {here}"))?;
                let next = here.join(location)?;
                if next.origin() != start.origin() {
                    // Off to the app: the browser opens the redirect and shows its page.
                    let page = self.http.get(next.clone()).send().await?;
                    if page.status() != StatusCode::OK {
                        bail!("the app's redirect page answered {}", page.status());
                    }
                    return Ok(next.to_string());
                }
                request = self.http.get(next.clone());
                here = next;
                continue;
            }
            let body = response.text().await?;
            if status != StatusCode::OK {
                bail!("{here} answered {status}: {}", snippet(&body));
            }
            if self.answer == Answer::Cancel && body.contains("name=\"prompt\" value=\"consent\"") {
                let abort = find_link(&body, "/abort")
                    .ok_or_else(|| anyhow!("no cancel link on the consent page"))?;
                let next = here.join(&abort)?;
                request = self.http.get(next.clone());
                here = next;
                continue;
            }
            let Some(form) = Form::first_in(&body) else {
                return Ok(here.to_string());
            };
            let target = here.join(&form.action)?;
            let mut fields = Vec::new();
            for input in &form.inputs {
                let value = match input.kind.as_str() {
                    "hidden" => input.value.clone(),
                    "password" => "any password".to_string(),
                    "text" | "email" => self.login.clone(),
                    _ => continue,
                };
                fields.push((input.name.clone(), value));
            }
            request = if form.method.eq_ignore_ascii_case("post") {
                self.http.post(target.clone()).form(&fields)
            } else {
                self.http.get(target.clone()).query(&fields)
            };
            here = target;
        }
        bail!("the sign-in pages went round in circles (last: {here})")
    }
}

fn snippet(body: &str) -> String {
    let text: String = body.chars().take(300).collect();
    text.replace('\n', " ")
}

/// An HTML form: only what the provider's pages use.
struct Form {
    action: String,
    method: String,
    inputs: Vec<Input>,
}

struct Input {
    kind: String,
    name: String,
    value: String,
}

impl Form {
    fn first_in(html: &str) -> Option<Form> {
        let start = find_ci(html, "<form")?;
        let rest = &html[start..];
        let tag_end = rest.find('>')?;
        let attrs = attributes(&rest[5..tag_end]);
        let body_end = find_ci(rest, "</form").unwrap_or(rest.len());
        let body = &rest[tag_end..body_end];
        let mut inputs = Vec::new();
        let mut pos = 0;
        while let Some(i) = find_ci(&body[pos..], "<input") {
            let at = pos + i + "<input".len();
            let end = body[at..].find('>').map_or(body.len(), |e| at + e);
            let a = attributes(&body[at..end]);
            if let Some(name) = get(&a, "name") {
                inputs.push(Input {
                    kind: get(&a, "type").unwrap_or("text").to_ascii_lowercase(),
                    name: name.to_string(),
                    value: get(&a, "value").unwrap_or_default().to_string(),
                });
            }
            pos = end;
        }
        Some(Form {
            action: get(&attrs, "action").unwrap_or_default().to_string(),
            method: get(&attrs, "method").unwrap_or("get").to_string(),
            inputs,
        })
    }
}

fn get<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .to_ascii_lowercase()
        .find(&needle.to_ascii_lowercase())
}

/// The `href` of the first link whose address contains `part`.
fn find_link(html: &str, part: &str) -> Option<String> {
    let mut pos = 0;
    while let Some(i) = find_ci(&html[pos..], "<a ") {
        let at = pos + i + 3;
        let end = html[at..].find('>').map_or(html.len(), |e| at + e);
        let attrs = attributes(&html[at..end]);
        if let Some(href) = get(&attrs, "href") {
            if href.contains(part) {
                return Some(href.to_string());
            }
        }
        pos = end;
    }
    None
}

/// `name="value" name='value' name=value name` → pairs, entities decoded.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let chars: Vec<char> = tag.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == '/') {
            i += 1;
        }
        let name_start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '=' && chars[i] != '/' {
            i += 1;
        }
        let name: String = chars[name_start..i].iter().collect();
        if name.is_empty() {
            i += 1;
            continue;
        }
        let mut value = String::new();
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            if i < chars.len() && (chars[i] == '"' || chars[i] == '\'') {
                let quote = chars[i];
                i += 1;
                while i < chars.len() && chars[i] != quote {
                    value.push(chars[i]);
                    i += 1;
                }
                i += 1;
            } else {
                while i < chars.len() && !chars[i].is_whitespace() {
                    value.push(chars[i]);
                    i += 1;
                }
            }
        }
        out.push((name, decode_entities(&value)));
    }
    out
}

fn decode_entities(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_links_are_read_like_a_browser_would() {
        let html = r#"<p>x</p><FORM autocomplete="off" action="http://h/interaction/a?x=1&amp;y=2" method="post">
          <input type="hidden" name="prompt" value="login"/>
          <input required type="text" name="login" placeholder="Enter any login" autofocus="on">
          <input required type=password name='password'>
          </form><a href="http://h/interaction/a/abort">[ Cancel ]</a>"#;
        let form = Form::first_in(html).expect("form");
        assert_eq!(form.action, "http://h/interaction/a?x=1&y=2");
        assert_eq!(form.method, "post");
        let kinds: Vec<_> = form
            .inputs
            .iter()
            .map(|i| (i.kind.as_str(), i.name.as_str(), i.value.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("hidden", "prompt", "login"),
                ("text", "login", ""),
                ("password", "password", "")
            ]
        );
        assert_eq!(
            find_link(html, "/abort").as_deref(),
            Some("http://h/interaction/a/abort")
        );
        assert!(Form::first_in("<p>done</p>").is_none());
    }
}
