//! Exercises [`FakeDiscord`] over real HTTP and websockets, as a Discord
//! adapter would use it: a minimal REST client and a raw gateway client.

mod commands;
mod gateway;
mod interactions;
mod messages;
mod rate_limits;

use futures_util::{SinkExt, StreamExt};
use hermod_testkit::discord::{FakeDiscord, intents};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Everything a bot adapter usually asks for.
pub const INTENTS: u64 = intents::GUILDS
    | intents::GUILD_MESSAGES
    | intents::GUILD_MESSAGE_REACTIONS
    | intents::DIRECT_MESSAGES
    | intents::MESSAGE_CONTENT;

/// How long a test waits for the fake before failing.
const PATIENCE: Duration = Duration::from_secs(5);

/// One REST answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A minimal REST client with the bot token.
#[derive(Debug)]
pub struct Rest {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Rest {
    pub fn new(fake: &FakeDiscord) -> Self {
        Self::with_token(fake, &fake.token())
    }

    pub fn with_token(fake: &FakeDiscord, token: &str) -> Self {
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

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("authorization", format!("Bot {}", self.token))
            .header(
                "user-agent",
                "DiscordBot (https://github.com/hermod-gateway/hermod, 0.1.0)",
            )
    }

    /// Sends `body` as JSON (none for `Null`).
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Answer {
        let mut request = self.request(method, path);
        if !body.is_null() {
            request = request.json(&body);
        }
        send(request).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(reqwest::Method::GET, path, Value::Null).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(reqwest::Method::POST, path, body).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call(reqwest::Method::PATCH, path, body).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.call(reqwest::Method::PUT, path, body).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(reqwest::Method::DELETE, path, Value::Null).await
    }
}

pub async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("the fake answers");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// A raw gateway client.
#[derive(Debug)]
pub struct Gateway {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a read from the gateway ended.
#[derive(Debug, PartialEq)]
pub enum Read {
    Payload(Value),
    /// A text frame that is not JSON.
    Garbage(String),
    /// A close frame with this code.
    Closed(Option<u16>),
    /// The socket ended without a close frame.
    Ended,
}

impl Gateway {
    /// Connects to `url` with `?v=10&encoding=json`.
    pub async fn connect(url: &str) -> Self {
        let url = format!("{url}/?v=10&encoding=json");
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("the fake gateway accepts a connection");
        Self { ws }
    }

    /// Connects and reads HELLO; returns its `heartbeat_interval`.
    pub async fn open(url: &str) -> (Self, u64) {
        let mut gateway = Self::connect(url).await;
        let hello = gateway.payload().await;
        assert_eq!(hello["op"], 10, "{hello}");
        let interval = hello["d"]["heartbeat_interval"]
            .as_u64()
            .expect("an interval");
        (gateway, interval)
    }

    /// Connects, identifies and reads READY; returns READY's payload.
    pub async fn ready(fake: &FakeDiscord, wanted: u64) -> (Self, Value) {
        let (mut gateway, _) = Self::open(&fake.gateway_url()).await;
        gateway.identify(&fake.token(), wanted).await;
        let ready = gateway.payload().await;
        assert_eq!(ready["t"], "READY", "{ready}");
        (gateway, ready)
    }

    pub async fn send(&mut self, payload: Value) {
        self.ws
            .send(Message::text(payload.to_string()))
            .await
            .expect("the gateway takes a payload");
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_owned()))
            .await
            .expect("the gateway takes a frame");
    }

    pub async fn identify(&mut self, token: &str, wanted: u64) {
        self.send(json!({
            "op": 2,
            "d": {
                "token": token,
                "intents": wanted,
                "properties": {"os": "linux", "browser": "hermod", "device": "hermod"},
            },
        }))
        .await;
    }

    pub async fn heartbeat(&mut self, seq: Option<u64>) {
        self.send(json!({"op": 1, "d": seq})).await;
    }

    /// The next read, within the test's patience.
    pub async fn read(&mut self) -> Read {
        let next = tokio::time::timeout(PATIENCE, self.ws.next())
            .await
            .expect("the gateway says something in time");
        match next {
            Some(Ok(Message::Text(text))) => match serde_json::from_str(text.as_str()) {
                Ok(value) => Read::Payload(value),
                Err(_) => Read::Garbage(text.as_str().to_owned()),
            },
            Some(Ok(Message::Close(frame))) => Read::Closed(frame.map(|f| u16::from(f.code))),
            Some(Ok(other)) => panic!("an unexpected frame: {other:?}"),
            None | Some(Err(_)) => Read::Ended,
        }
    }

    /// The next payload.
    pub async fn payload(&mut self) -> Value {
        match self.read().await {
            Read::Payload(value) => value,
            other => panic!("expected a payload, got {other:?}"),
        }
    }

    /// The next dispatch, skipping heartbeat ACKs.
    pub async fn dispatch(&mut self) -> Value {
        loop {
            let payload = self.payload().await;
            if payload["op"] != 11 {
                assert_eq!(payload["op"], 0, "{payload}");
                return payload;
            }
        }
    }

    /// Reads until the connection closes; returns the close code.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            match self.read().await {
                Read::Closed(code) => return code,
                Read::Ended => return None,
                Read::Payload(_) | Read::Garbage(_) => {}
            }
        }
    }

    /// Closes with `code`.
    pub async fn close(mut self, code: u16) {
        let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
            code: code.into(),
            reason: "bye".into(),
        };
        // The fake may close first; either way the connection ends.
        let _ = self.ws.close(Some(frame)).await;
        while let Ok(Some(_)) = tokio::time::timeout(PATIENCE, self.ws.next()).await {}
    }
}
