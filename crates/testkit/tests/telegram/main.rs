//! Exercises [`FakeTelegram`] over real HTTP, as a Telegram adapter would
//! call it.

mod files_and_webhooks;
mod messages;
mod updates;

use hermod_testkit::telegram::FakeTelegram;
use reqwest::StatusCode;
use serde_json::Value;

/// A minimal Bot API client for the tests.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    pub fn new(fake: &FakeTelegram) -> Self {
        Self::with_token(fake, &fake.token())
    }

    pub fn with_token(fake: &FakeTelegram, token: &str) -> Self {
        Self {
            http: hermod_http::HttpClient::new()
                .expect("an HTTP client")
                .reqwest()
                .clone(),
            base: format!("{}/bot{token}", fake.base_url()),
        }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn url(&self, method: &str) -> String {
        format!("{}/{method}", self.base)
    }

    /// POSTs `params` as JSON; returns the status and the body.
    pub async fn call(&self, method: &str, params: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url(method))
            .json(&params)
            .send()
            .await
            .expect("the fake answers");
        read(response).await
    }

    /// Calls `method` and returns its `result`, failing the test otherwise.
    pub async fn ok(&self, method: &str, params: Value) -> Value {
        let (status, body) = self.call(method, params).await;
        assert_eq!(status, StatusCode::OK, "{method}: {body}");
        assert_eq!(body["ok"], true, "{method}: {body}");
        body["result"].clone()
    }

    /// Calls `method`, expects an error answer; returns its status and
    /// description.
    pub async fn error(&self, method: &str, params: Value) -> (u16, String) {
        let (status, body) = self.call(method, params).await;
        assert_eq!(body["ok"], false, "{method}: {body}");
        assert_eq!(body["error_code"], status.as_u16(), "{body}");
        let description = body["description"].as_str().unwrap_or_default().to_owned();
        (status.as_u16(), description)
    }
}

pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}
