//! `web_fetch`: an HTTP(S) GET for the model, bounded in time, bytes and
//! characters, on public addresses only (see [`guard`]). HTML comes back
//! as readable text ([`html`]); other text, JSON and XML as they are;
//! anything else is refused.

pub(crate) mod guard;
pub(crate) mod html;

use crate::ToolsError;
use crate::config::{WebFetchConfig, positive};
use guard::{Blocked, GuardedResolver, Policy};
use hermod_agent::{Tool, ToolContext};
use hermod_model::text::human_size;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

impl WebFetchConfig {
    /// The `web_fetch` tool with its own HTTP client.
    pub fn build(&self) -> Result<WebFetch, ToolsError> {
        let timeout = Duration::from_secs(positive("web_fetch.timeout_secs", self.timeout_secs)?);
        let max_bytes = positive("web_fetch.max_bytes", self.max_bytes)?;
        let max_chars = usize::try_from(positive("web_fetch.max_chars", self.max_chars as u64)?)
            .unwrap_or(usize::MAX);
        let policy = Arc::new(Policy::new(
            self.allow_private,
            &self.allow_hosts,
            self.max_redirects,
        ));
        let client = build_client(&policy)?;
        let description = format!(
            "Fetch a web page or file over HTTP(S) and read it as text. HTML is reduced to its \
             readable text (title first); plain text, JSON and XML come as they are; images, PDFs \
             and other binary files are refused. Public addresses only. Limits: {} s, {} \
             downloaded, {} characters returned (the result says when it was cut).",
            timeout.as_secs(),
            human_size(max_bytes),
            max_chars
        );
        Ok(WebFetch {
            client,
            policy,
            timeout,
            max_bytes,
            max_chars,
            description,
        })
    }
}

/// Like hermod-http's client (rustls on ring, the system's roots, the
/// same `User-Agent`), plus the guarded resolver and redirect policy, and
/// no proxy: through a proxy the name would be resolved by the proxy,
/// past the guard.
fn build_client(policy: &Arc<Policy>) -> Result<reqwest::Client, ToolsError> {
    hermod_http::install_crypto_provider();
    let builder = || {
        reqwest::Client::builder()
            .tls_backend_rustls()
            .user_agent(hermod_http::USER_AGENT)
            .no_proxy()
            .dns_resolver(GuardedResolver {
                policy: Arc::clone(policy),
            })
            .redirect(policy.redirects())
    };
    match builder().build() {
        Ok(client) => Ok(client),
        Err(err) => {
            let reason = err.without_url().to_string();
            let client = builder()
                .tls_certs_only(std::iter::empty())
                .build()
                .map_err(|e| ToolsError::Http(e.without_url().to_string()))?;
            tracing::warn!(
                %reason,
                "web_fetch cannot use the system's CA certificates; HTTPS fetches will fail"
            );
            Ok(client)
        }
    }
}

/// The `web_fetch` tool.
#[derive(Debug, Clone)]
pub struct WebFetch {
    client: reqwest::Client,
    policy: Arc<Policy>,
    timeout: Duration,
    max_bytes: u64,
    max_chars: usize,
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    url: String,
}

#[async_trait::async_trait]
impl Tool for WebFetch {
    fn name(&self) -> &str {
        "web_fetch"
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "url": {"type": "string", "description": "The http:// or https:// URL to fetch."},
            },
            "required": ["url"],
            "additionalProperties": false,
        })
    }

    async fn call(&self, arguments: Value, ctx: ToolContext) -> Result<String, String> {
        let args: Args =
            serde_json::from_value(arguments).map_err(|err| format!("invalid arguments: {err}"))?;
        tokio::select! {
            biased;
            () = ctx.cancel.cancelled() => Err("the turn was interrupted; the fetch was stopped".to_owned()),
            result = tokio::time::timeout(self.timeout, self.fetch(args.url.trim())) => match result {
                Ok(result) => result,
                Err(_) => Err(format!(
                    "{} did not answer within {} s (web_fetch's time limit); try again later or another source",
                    args.url.trim(),
                    self.timeout.as_secs()
                )),
            },
        }
    }
}

/// How a response body is read.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Html,
    Text,
    /// Unlabelled: decided by looking at the bytes.
    Unknown,
}

fn classify(content_type: Option<&str>) -> Result<Kind, String> {
    let Some(content_type) = content_type else {
        return Ok(Kind::Unknown);
    };
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime.is_empty() {
        return Ok(Kind::Unknown);
    }
    if mime == "text/html" || mime == "application/xhtml+xml" {
        return Ok(Kind::Html);
    }
    let textual = mime.starts_with("text/")
        || matches!(
            mime.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-ndjson"
        )
        || mime.ends_with("+json")
        || mime.ends_with("+xml");
    if textual { Ok(Kind::Text) } else { Err(mime) }
}

impl WebFetch {
    async fn fetch(&self, raw_url: &str) -> Result<String, String> {
        let url = reqwest::Url::parse(raw_url).map_err(|err| {
            format!("{raw_url} is not a valid URL ({err}); give a full http:// or https:// URL")
        })?;
        self.policy
            .check_url(&url)
            .map_err(|blocked| refusal(&url, &blocked))?;
        let mut response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|err| describe_error(&url, &err))?;
        let status = response.status();
        let final_url = response.url().clone();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let kind = classify(content_type.as_deref()).map_err(|mime| {
            let size = response
                .content_length()
                .map(|n| format!(", {}", human_size(n)))
                .unwrap_or_default();
            format!(
                "{final_url} is {mime}{size}, not text; web_fetch reads HTML, text, JSON and XML only"
            )
        })?;

        let mut body = Vec::new();
        let mut cut = false;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| describe_error(&final_url, &err))?
        {
            let room = usize::try_from(self.max_bytes)
                .unwrap_or(usize::MAX)
                .saturating_sub(body.len());
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                cut = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }

        let kind = match kind {
            Kind::Unknown if looks_binary(&body) => {
                return Err(format!(
                    "{final_url} has no content type and is not text; web_fetch reads HTML, text, JSON and XML only"
                ));
            }
            Kind::Unknown if looks_like_html(&body) => Kind::Html,
            other => other,
        };
        let decoded = String::from_utf8_lossy(&body);
        let text = match kind {
            Kind::Html => html::html_to_text(&decoded),
            _ => decoded.into_owned(),
        };

        // The host only: a URL's path or query may carry a secret.
        tracing::debug!(
            host = final_url.host_str().unwrap_or(""),
            %status,
            bytes = body.len(),
            cut,
            "web_fetch"
        );
        let mut header = format!("URL: {final_url}\nStatus: {status}\n");
        if let Some(content_type) = &content_type {
            header.push_str(&format!("Content-Type: {content_type}\n"));
        }
        if cut {
            header.push_str(&format!(
                "[only the first {} were downloaded (web_fetch's size limit); the text below is incomplete]\n",
                human_size(self.max_bytes)
            ));
        }
        let text = if text.trim().is_empty() {
            "(the page has no readable text)".to_owned()
        } else {
            crate::text::cap_chars(&text, self.max_chars)
        };
        let result = format!("{header}\n{text}");
        if status.is_success() {
            Ok(result)
        } else {
            Err(format!("the server answered {status}\n{result}"))
        }
    }
}

fn looks_binary(body: &[u8]) -> bool {
    let sample = &body[..body.len().min(8192)];
    sample.contains(&0) || std::str::from_utf8(sample).is_err_and(|err| err.error_len().is_some())
}

fn looks_like_html(body: &[u8]) -> bool {
    let sample = String::from_utf8_lossy(&body[..body.len().min(512)]).to_ascii_lowercase();
    let sample = sample.trim_start();
    sample.starts_with("<!doctype html") || sample.starts_with("<html")
}

fn refusal(url: &reqwest::Url, blocked: &Blocked) -> String {
    format!("refused to fetch {url}: {blocked}")
}

/// A failed request in words for the model, with the guard's reason when
/// the guard stopped it.
fn describe_error(url: &reqwest::Url, err: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = source {
        if let Some(blocked) = current.downcast_ref::<Blocked>() {
            return refusal(err.url().unwrap_or(url), blocked);
        }
        source = current.source();
    }
    let mut reason = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(current) = source {
        reason.push_str(": ");
        reason.push_str(&current.to_string());
        source = current.source();
    }
    let what = if err.is_connect() {
        "could not connect to"
    } else if err.is_timeout() {
        "timed out fetching"
    } else if err.is_redirect() {
        "too many redirects from"
    } else {
        "could not fetch"
    };
    format!("{what} {url}: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_decide_how_a_body_is_read() {
        assert_eq!(classify(Some("text/html; charset=utf-8")), Ok(Kind::Html));
        assert_eq!(classify(Some("application/xhtml+xml")), Ok(Kind::Html));
        assert_eq!(classify(Some("text/plain")), Ok(Kind::Text));
        assert_eq!(classify(Some("text/markdown")), Ok(Kind::Text));
        assert_eq!(classify(Some("application/json")), Ok(Kind::Text));
        assert_eq!(classify(Some("application/ld+json")), Ok(Kind::Text));
        assert_eq!(classify(Some("application/rss+xml")), Ok(Kind::Text));
        assert_eq!(classify(Some("Application/XML")), Ok(Kind::Text));
        assert_eq!(classify(None), Ok(Kind::Unknown));
        assert_eq!(classify(Some("image/png")), Err("image/png".to_owned()));
        assert_eq!(
            classify(Some("application/octet-stream")),
            Err("application/octet-stream".to_owned())
        );
        assert_eq!(
            classify(Some("application/pdf")),
            Err("application/pdf".to_owned())
        );
    }

    #[test]
    fn unlabelled_bodies_are_sniffed() {
        assert!(looks_binary(b"\x89PNG\r\n\x1a\n\0\0"));
        assert!(!looks_binary(b"plain text"));
        assert!(looks_like_html(b"  <!DOCTYPE html><html>"));
        assert!(!looks_like_html(b"{\"a\": 1}"));
    }

    #[test]
    fn bad_config_is_refused() {
        let config = WebFetchConfig {
            max_chars: 0,
            ..WebFetchConfig::default()
        };
        assert!(
            config
                .build()
                .unwrap_err()
                .to_string()
                .contains("max_chars")
        );
        WebFetchConfig::default().build().unwrap();
    }
}
