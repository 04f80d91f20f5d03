//! [`BotApi`]: the Bot API endpoints this adapter calls, on an injectable
//! base URL (`{base}/bot{token}/{method}`, files at
//! `{base}/file/bot{token}/{path}`).
//!
//! Every call is a POST with a JSON body (or multipart for uploads) and a
//! timeout. The token only ever appears inside the request URL; URLs are
//! not logged and are stripped from transport errors.
//!
//! An answer with `"ok": true` is a success, whatever its `result` holds:
//! methods called for their effect (sending, editing, deleting, settings)
//! read it as [`crate::types::Done`] or [`crate::types::IfGiven`], so a
//! server that answers `"result": null` is not taken for a failure (and the
//! call is not repeated). Only methods called for their result (`getMe`,
//! `getUpdates`, `getFile`, `getMyCommands`) fail without one, as a
//! protocol error.

use crate::error::TelegramError;
use crate::types::{ApiResponse, NoParams};
use hermod_model::Secret;
use reqwest::multipart::Form;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// A Bot API client for one bot. Cheap to clone.
#[derive(Clone)]
pub(crate) struct BotApi {
    http: reqwest::Client,
    /// Without a trailing `/`.
    base: String,
    token: Secret,
    timeout: Duration,
}

impl std::fmt::Debug for BotApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotApi")
            .field("base", &self.base)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl BotApi {
    pub(crate) fn new(http: reqwest::Client, base: &str, token: Secret, timeout: Duration) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
            timeout,
        }
    }

    fn method_url(&self, method: &str) -> String {
        format!("{}/bot{}/{method}", self.base, self.token.expose())
    }

    /// Calls `method` with JSON `params`; `timeout` bounds the whole request.
    pub(crate) async fn call_with_timeout<P, R>(
        &self,
        method: &str,
        params: &P,
        timeout: Duration,
    ) -> Result<R, TelegramError>
    where
        P: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let response = self
            .http
            .post(self.method_url(method))
            .json(params)
            .timeout(timeout)
            .send()
            .await?;
        read_answer(response).await
    }

    /// Calls `method` with JSON `params` and the default timeout.
    pub(crate) async fn call<P, R>(&self, method: &str, params: &P) -> Result<R, TelegramError>
    where
        P: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.call_with_timeout(method, params, self.timeout).await
    }

    /// Calls a method that takes no parameters.
    pub(crate) async fn call_bare<R: DeserializeOwned>(
        &self,
        method: &str,
    ) -> Result<R, TelegramError> {
        self.call(method, &NoParams {}).await
    }

    /// Calls `method` with a multipart form (file uploads).
    pub(crate) async fn call_multipart<R: DeserializeOwned>(
        &self,
        method: &str,
        form: Form,
    ) -> Result<R, TelegramError> {
        let response = self
            .http
            .post(self.method_url(method))
            .multipart(form)
            .timeout(self.timeout.max(Duration::from_secs(120)))
            .send()
            .await?;
        read_answer(response).await
    }

    /// A GET of the file at `file_path` (from `getFile`), for the kit's
    /// [`hermod_adapter_kit::MediaDir`]; its URL holds the token, which
    /// the kit never logs.
    pub(crate) fn file_request(&self, file_path: &str) -> reqwest::RequestBuilder {
        let url = format!(
            "{}/file/bot{}/{}",
            self.base,
            self.token.expose(),
            file_path.trim_start_matches('/')
        );
        self.http
            .get(url)
            .timeout(self.timeout.max(Duration::from_secs(120)))
    }
}

/// Reads a Bot API answer: the `result` of an `ok` answer, or the
/// classified error.
async fn read_answer<R: DeserializeOwned>(response: reqwest::Response) -> Result<R, TelegramError> {
    let status = response.status().as_u16();
    let body = response.bytes().await?;
    parse_answer(status, &body)
}

pub(crate) fn parse_answer<R: DeserializeOwned>(
    status: u16,
    body: &[u8],
) -> Result<R, TelegramError> {
    if !(200..300).contains(&status) {
        return Err(TelegramError::from_response(status, body));
    }
    let answer: ApiResponse<serde_json::Value> = serde_json::from_slice(body).map_err(|e| {
        TelegramError::Protocol(format!("the answer is not the expected JSON: {e}"))
    })?;
    if !answer.ok {
        return Err(TelegramError::from_response(status, body));
    }
    let result = answer.result.unwrap_or(serde_json::Value::Null);
    serde_json::from_value(result)
        .map_err(|e| TelegramError::Protocol(format!("the answer has no usable result: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_unwrapped_or_classified() {
        let ok: bool = parse_answer(200, br#"{"ok":true,"result":true}"#).unwrap();
        assert!(ok);
        let err = parse_answer::<bool>(
            200,
            br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 2","parameters":{"retry_after":2}}"#,
        )
        .unwrap_err();
        assert!(matches!(err, TelegramError::RateLimited { .. }));
        assert!(matches!(
            parse_answer::<bool>(200, b"<html>"),
            Err(TelegramError::Protocol(_))
        ));
        assert!(matches!(
            parse_answer::<bool>(503, b""),
            Err(TelegramError::Transient(_))
        ));
    }

    #[test]
    fn ok_is_success_whatever_the_result_holds() {
        use crate::types::{Done, IfGiven, SentMessage};
        for body in [
            r#"{"ok":true,"result":null}"#,
            r#"{"ok":true}"#,
            r#"{"ok":true,"result":true}"#,
            r#"{"ok":true,"result":{"message_id":7}}"#,
        ] {
            assert!(parse_answer::<Done>(200, body.as_bytes()).is_ok(), "{body}");
            assert!(
                parse_answer::<IfGiven<SentMessage>>(200, body.as_bytes()).is_ok(),
                "{body}"
            );
        }
        let sent: IfGiven<SentMessage> =
            parse_answer(200, br#"{"ok":true,"result":{"message_id":7}}"#).unwrap();
        assert_eq!(sent.0.map(|m| m.message_id), Some(7));
        let sent: IfGiven<SentMessage> =
            parse_answer(200, br#"{"ok":true,"result":null}"#).unwrap();
        assert!(sent.0.is_none());
        // A result asked for (getMe's user) cannot be missing.
        let err =
            parse_answer::<crate::types::User>(200, br#"{"ok":true,"result":null}"#).unwrap_err();
        assert!(matches!(err, TelegramError::Protocol(_)), "{err:?}");
        // Failures stay failures.
        assert!(
            parse_answer::<Done>(
                400,
                br#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn debug_hides_the_token() {
        let api = BotApi::new(
            hermod_http::HttpClient::new().unwrap().reqwest().clone(),
            "http://127.0.0.1:1/",
            Secret::new("42:TOPSECRET"),
            Duration::from_secs(1),
        );
        assert!(!format!("{api:?}").contains("TOPSECRET"));
        assert_eq!(api.base, "http://127.0.0.1:1");
    }

    #[tokio::test]
    async fn transport_errors_never_show_the_token() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let api = BotApi::new(
            hermod_http::HttpClient::new().unwrap().reqwest().clone(),
            &format!("http://127.0.0.1:{port}"),
            Secret::new("42:TOPSECRET"),
            Duration::from_secs(2),
        );
        let err = api
            .call_bare::<serde_json::Value>("getMe")
            .await
            .unwrap_err();
        assert!(matches!(err, TelegramError::Transient(_)), "{err:?}");
        assert!(!err.to_string().contains("TOPSECRET"), "{err}");
        assert!(!format!("{err:?}").contains("TOPSECRET"));
    }
}
