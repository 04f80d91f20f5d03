//! A gateway with the API server on a loopback port, and helpers for HTTP
//! clients and raw sockets.

use hermod_agent::{Agent, LlmAgent, LlmConfig, Tool, ToolContext, ToolRegistry, async_trait};
use hermod_api_server::{ApiServer, ApiServerConfig};
use hermod_core::{Gateway, GatewayConfig, Health};
use hermod_model::Secret;
use hermod_store::SqliteStore;
use hermod_testkit::{FakeLlm, ScriptedAgent};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

pub const KEY: &str = "test-key-0123456789abcdef";

/// How a test's server is put together.
pub struct Setup {
    pub agent: Arc<dyn Agent>,
    pub config: ApiServerConfig,
    /// Whether the API server gets the store (as the registry gives it).
    pub store_for_api: bool,
    pub health: Health,
    /// The gateway's media directory: replies may send files from it.
    pub media_dir: Option<std::path::PathBuf>,
}

impl Setup {
    /// The real LLM client against `llm_base`.
    pub fn llm(llm_base: &str) -> Self {
        Self::llm_with_tools(llm_base, ToolRegistry::default())
    }

    /// The real LLM client against `llm_base`, with these tools.
    pub fn llm_with_tools(llm_base: &str, tools: ToolRegistry) -> Self {
        let llm = LlmConfig {
            base_url: llm_base.to_owned(),
            api_key: Some(Secret::new("sk-upstream")),
            model: "upstream-model".into(),
            request_timeout: Duration::from_secs(20),
            ..LlmConfig::default()
        };
        Self::agent(Arc::new(LlmAgent::new(fast_retries(llm), tools)))
    }

    /// The in-process agent that echoes each message.
    pub fn echo() -> Self {
        Self::agent(Arc::new(ScriptedAgent::echo()))
    }

    pub fn agent(agent: Arc<dyn Agent>) -> Self {
        Self {
            agent,
            config: ApiServerConfig {
                port: 0,
                key: Some(Secret::new(KEY)),
                ..ApiServerConfig::default()
            },
            store_for_api: true,
            health: Health::default(),
            media_dir: None,
        }
    }

    pub fn config(mut self, tweak: impl FnOnce(&mut ApiServerConfig)) -> Self {
        tweak(&mut self.config);
        self
    }
}

pub struct Server {
    pub base: String,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub store: Arc<SqliteStore>,
    pub shutdown: CancellationToken,
    pub done: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start(db: &Path, llm_base: &str) -> Self {
        Self::with(db, Setup::llm(llm_base)).await
    }

    pub async fn with(db: &Path, setup: Setup) -> Self {
        let store = Arc::new(SqliteStore::open(db).unwrap());
        let mut api = ApiServer::bind(setup.config).await.unwrap();
        if setup.store_for_api {
            api = api.with_store(store.clone());
        }
        let addr = api.local_addr();
        let mut builder = Gateway::builder(store.clone(), setup.agent, GatewayConfig::default())
            .adapter(Arc::new(api))
            .health(setup.health);
        if let Some(dir) = setup.media_dir {
            builder = builder.media_dir(dir);
        }
        let gateway = builder.build().unwrap();
        let shutdown = CancellationToken::new();
        let done = tokio::spawn(gateway.run(shutdown.clone()));
        hermod_http::install_crypto_provider();
        Self {
            base: format!("http://{addr}"),
            addr,
            http: reqwest::Client::new(),
            store,
            shutdown,
            done,
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.done)
            .await
            .unwrap()
            .unwrap();
    }

    pub fn post(&self, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/v1/chat/completions", self.base))
            .bearer_auth(KEY)
            .json(body)
    }

    /// A raw TCP connection to the server.
    pub async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }
}

fn fast_retries(mut config: LlmConfig) -> LlmConfig {
    config.retry.base_delay = Duration::from_millis(5);
    config.retry.max_delay = Duration::from_millis(20);
    config.retry.max_attempts = 3;
    config
}

pub fn user(text: &str) -> Value {
    json!({"model": "hermod", "messages": [{"role": "user", "content": text}]})
}

/// `body` as a streamed request.
pub fn streamed(mut body: Value) -> Value {
    body["stream"] = json!(true);
    body
}

pub async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Reads a whole SSE body into its `data:` payloads.
pub async fn sse_payloads(response: reqwest::Response) -> Vec<String> {
    let text = response.text().await.unwrap();
    text.split("\n\n")
        .filter_map(|frame| frame.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

/// Whether the server closes `stream` within `limit`; what it sends before
/// closing is read and dropped.
pub async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let drain = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, drain).await.is_ok()
}

/// Sends `request` and reads the response head, if one comes within `limit`.
pub async fn raw_exchange(
    stream: &mut TcpStream,
    request: &[u8],
    limit: Duration,
) -> Option<String> {
    stream.write_all(request).await.unwrap();
    read_head(stream, limit).await
}

/// Reads up to the end of a response head, if it comes within `limit`.
pub async fn read_head(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let read = async {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => return None,
            }
        }
        Some(String::from_utf8_lossy(&head).into_owned())
    };
    tokio::time::timeout(limit, read).await.ok().flatten()
}

/// The assistant's text of an answer, plain (`chat.completion`) or streamed
/// (the content deltas of its chunks, joined).
pub async fn answer_text(response: reqwest::Response) -> String {
    let body = response.text().await.unwrap();
    if let Ok(completion) = serde_json::from_str::<Value>(&body) {
        return completion["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    }
    body.split("\n\n")
        .filter_map(|frame| frame.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

/// A tool that asks before it "deletes" anything (approval key
/// `recursive_delete`).
pub struct Guarded;

#[async_trait]
impl Tool for Guarded {
    fn name(&self) -> &str {
        "delete_files"
    }

    fn description(&self) -> &str {
        "Deletes files"
    }

    fn parameters(&self) -> Value {
        json!({"type": "object", "properties": {"path": {"type": "string"}}})
    }

    async fn call(&self, arguments: Value, ctx: ToolContext) -> Result<String, String> {
        let path = arguments["path"].as_str().unwrap_or("?").to_owned();
        ctx.request_approval_for("recursive_delete", format!("delete {path}"))
            .await
            .into_result()?;
        Ok(format!("deleted {path}"))
    }
}

/// The content of the tool result the model got in its second request.
pub fn tool_result(llm: &FakeLlm) -> String {
    let request = &llm.requests()[1];
    let tool = request
        .messages()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap();
    tool["content"].as_str().unwrap().to_owned()
}

/// The data of the first `event` frame in `received`, if there is one.
pub fn event_data(received: &str, event: &str) -> Option<Value> {
    let start = format!("event: {event}\ndata: ");
    let frame = received
        .split("\n\n")
        .find_map(|f| f.strip_prefix(&start))?;
    Some(serde_json::from_str(frame).unwrap())
}
