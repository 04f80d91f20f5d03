//! [`HassApi`]: Home Assistant's REST API on a configurable base URL —
//! calling a service (`POST /api/services/<domain>/<service>`) and the
//! liveness check (`GET /api/`) — and [`HassError`], its failures
//! classified.
//!
//! Replies go over REST, not the websocket, as in Hermes: a send never
//! waits behind the event stream, and works while the websocket is
//! reconnecting. Home Assistant answers 401 to a refused token and 400 to
//! an unknown service or bad data (as text: `400: Bad Request`); it has
//! no rate limit of its own, but a 429 from a proxy in front of it is
//! honoured.

use hermod_model::Secret;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

/// The wait after a 429 that named none.
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// What to tell an operator whose token is refused.
pub(crate) const AUTH_HINT: &str = "check HASS_TOKEN: it must be a long-lived access token \
    (Home Assistant → your profile → Security → Long-lived access tokens) of the instance at HASS_URL";

/// A failed call to Home Assistant. Never holds the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HassError {
    /// 401 or 403, or `auth_invalid` on the websocket.
    #[error("Home Assistant refused the token ({0})")]
    Refused(String),
    /// 429, from a proxy in front of Home Assistant.
    #[error("rate limited; retry in {0:?}")]
    RateLimited(Duration),
    /// The network, a timeout or a 5xx: it may pass.
    #[error("{0}")]
    Transient(String),
    /// Another 4xx (an unknown service, bad data), or an answer that
    /// cannot be read.
    #[error("{0}")]
    Rejected(String),
}

impl From<HassError> for hermod_core::AdapterError {
    fn from(err: HassError) -> Self {
        use hermod_core::AdapterError;
        match err {
            HassError::Refused(_) => AdapterError::Auth(format!("{err}; {AUTH_HINT}")),
            HassError::RateLimited(wait) => AdapterError::RateLimited {
                retry_after: Some(wait),
            },
            HassError::Transient(reason) => AdapterError::Transient(reason),
            HassError::Rejected(reason) => AdapterError::Rejected(reason),
        }
    }
}

/// Home Assistant's REST API for one instance.
#[derive(Clone)]
pub(crate) struct HassApi {
    http: reqwest::Client,
    base: String,
    token: Secret,
    timeout: Duration,
}

impl HassApi {
    pub(crate) fn new(http: reqwest::Client, base: &str, token: Secret, timeout: Duration) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
            timeout,
        }
    }

    /// Calls `domain.service` with `data`.
    pub(crate) async fn call_service(
        &self,
        domain: &str,
        service: &str,
        data: &Value,
    ) -> Result<(), HassError> {
        let request = self
            .http
            .post(format!("{}/api/services/{domain}/{service}", self.base))
            .timeout(self.timeout)
            .bearer_auth(self.token.expose())
            .json(data);
        let response = request.send().await.map_err(transport)?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(refusal(response).await)
        }
    }

    /// `GET /api/`: Home Assistant answers `{"message": "API running."}`
    /// to a valid token.
    pub(crate) async fn check(&self) -> Result<String, HassError> {
        let request = self
            .http
            .get(format!("{}/api/", self.base))
            .timeout(self.timeout)
            .bearer_auth(self.token.expose());
        let response = request.send().await.map_err(transport)?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        let body: Value = response.json().await.map_err(|e| {
            HassError::Rejected(format!(
                "the answer to GET /api/ cannot be read: {}",
                e.without_url()
            ))
        })?;
        Ok(body["message"]
            .as_str()
            .unwrap_or("API running.")
            .to_owned())
    }
}

/// A transport failure, without the URL.
fn transport(e: reqwest::Error) -> HassError {
    let what = if e.is_timeout() {
        "no answer in time"
    } else {
        "cannot reach it"
    };
    HassError::Transient(format!("Home Assistant: {what}: {}", e.without_url()))
}

/// A non-2xx answer, classified.
async fn refusal(response: reqwest::Response) -> HassError {
    let status = response.status();
    let retry_after = hermod_http::parse_retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    classify(status, retry_after, &body)
}

/// Longest part of an error body kept in a message.
const MAX_BODY: usize = 200;

/// Classifies a status and its body (pure, for tests).
pub(crate) fn classify(status: StatusCode, retry_after: Option<Duration>, body: &str) -> HassError {
    let body = hermod_adapter_kit::truncate(body.trim(), MAX_BODY);
    let said = if body.is_empty() {
        status.to_string()
    } else {
        format!("{status}: {body}")
    };
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => HassError::Refused(said),
        StatusCode::TOO_MANY_REQUESTS => {
            HassError::RateLimited(retry_after.unwrap_or(DEFAULT_RETRY_AFTER))
        }
        s if s.is_server_error() => HassError::Transient(format!("Home Assistant answered {said}")),
        _ => HassError::Rejected(format!("Home Assistant answered {said}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_core::AdapterError;

    #[test]
    fn answers_are_classified_as_home_assistant_gives_them() {
        assert_eq!(
            classify(StatusCode::UNAUTHORIZED, None, "401: Unauthorized"),
            HassError::Refused("401 Unauthorized: 401: Unauthorized".into())
        );
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, None, "400: Bad Request"),
            HassError::Rejected(m) if m.contains("400")
        ));
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, None, "<html>"),
            HassError::Transient(_)
        ));
        assert_eq!(
            classify(
                StatusCode::TOO_MANY_REQUESTS,
                Some(Duration::from_secs(3)),
                ""
            ),
            HassError::RateLimited(Duration::from_secs(3))
        );
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, None, ""),
            HassError::RateLimited(DEFAULT_RETRY_AFTER)
        );
    }

    #[test]
    fn a_refused_token_stops_the_adapter_with_what_to_do() {
        let auth: AdapterError = HassError::Refused("401".into()).into();
        assert!(matches!(auth, AdapterError::Auth(m) if m.contains("HASS_TOKEN")));
    }
}
