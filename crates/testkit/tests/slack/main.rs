//! Exercises [`FakeSlack`] over real HTTP and websockets, as a Slack
//! adapter would use it.

mod events_api;
mod files_info;
mod socket_mode;
mod web_api;

use futures_util::{SinkExt, StreamExt};
use hermod_testkit::slack::FakeSlack;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A minimal Web API client for the tests.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    /// A client with the bot token.
    pub fn bot(fake: &FakeSlack) -> Self {
        Self::with_token(fake, &fake.config().bot_token)
    }

    /// A client with the app-level token.
    pub fn app(fake: &FakeSlack) -> Self {
        Self::with_token(fake, &fake.config().app_token)
    }

    pub fn with_token(fake: &FakeSlack, token: &str) -> Self {
        Self {
            http: hermod_http::HttpClient::new()
                .expect("an HTTP client")
                .reqwest()
                .clone(),
            base: fake.api_base_url(),
            token: token.to_owned(),
        }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn url(&self, method: &str) -> String {
        format!("{}/{method}", self.base)
    }

    /// POSTs `args` as JSON with a Bearer token and the charset; returns
    /// the status, the `Retry-After` header and the body.
    pub async fn call(&self, method: &str, args: Value) -> (StatusCode, Option<String>, Value) {
        let response = self
            .http
            .post(self.url(method))
            .header("content-type", "application/json; charset=utf-8")
            .bearer_auth(&self.token)
            .body(args.to_string())
            .send()
            .await
            .expect("the fake answers");
        read(response).await
    }

    /// Calls `method` and returns its answer, failing the test unless it is
    /// `ok`.
    pub async fn ok(&self, method: &str, args: Value) -> Value {
        let (status, _, body) = self.call(method, args).await;
        assert_eq!(status, StatusCode::OK, "{method}: {body}");
        assert_eq!(body["ok"], true, "{method}: {body}");
        body
    }

    /// Calls `method`, expects HTTP 200 with `ok: false`; returns `error`.
    pub async fn error(&self, method: &str, args: Value) -> String {
        let (status, _, body) = self.call(method, args).await;
        assert_eq!(status, StatusCode::OK, "{method}: {body}");
        assert_eq!(body["ok"], false, "{method}: {body}");
        body["error"].as_str().unwrap_or_default().to_owned()
    }

    /// POSTs `form` form-encoded, the token among the fields.
    pub async fn form(&self, method: &str, form: &[(&str, &str)]) -> Value {
        let mut fields = vec![("token", self.token.as_str())];
        fields.extend_from_slice(form);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let response = self
            .http
            .post(self.url(method))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("the fake answers");
        read(response).await.2
    }
}

pub async fn read(response: reqwest::Response) -> (StatusCode, Option<String>, Value) {
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.json().await.expect("a JSON body");
    (status, retry_after, body)
}

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a Socket Mode connection as an app does: `apps.connections.open`
/// with the app token, then the websocket; returns it after the `hello`.
pub async fn connect(fake: &FakeSlack) -> (Socket, Value) {
    let answer = Client::app(fake)
        .ok("apps.connections.open", serde_json::json!({}))
        .await;
    let url = answer["url"].as_str().expect("a url").to_owned();
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("the websocket opens");
    let hello = next_json(&mut socket).await;
    assert_eq!(hello["type"], "hello", "{hello}");
    (socket, hello)
}

/// The next text frame, as JSON.
pub async fn next_json(socket: &mut Socket) -> Value {
    let text = next_text(socket).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The next text frame.
pub async fn next_text(socket: &mut Socket) -> String {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("a frame within 30 s")
            .expect("the socket is open")
            .expect("a valid frame");
        match frame {
            Message::Text(text) => return text.to_string(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// The next frame, as JSON, acknowledged when it is an envelope (so no
/// redelivery comes in between however slow the test runs).
pub async fn recv(socket: &mut Socket) -> Value {
    let frame = next_json(socket).await;
    if frame["envelope_id"].is_string() {
        ack(socket, &frame).await;
    }
    frame
}

/// Acknowledges `envelope` as the docs show.
pub async fn ack(socket: &mut Socket, envelope: &Value) {
    let ack = serde_json::json!({ "envelope_id": envelope["envelope_id"] });
    socket
        .send(Message::Text(ack.to_string().into()))
        .await
        .expect("the ack is sent");
}
