//! `hermod chat`: a conversation with the agent in the terminal, through
//! the gateway's OpenAI-compatible chat endpoint.
//!
//! With a gateway running on the home, the chat goes to its endpoint (from
//! the configuration); without one, `hermod chat` takes the home and runs
//! its own gateway in this process, serving only the chat endpoint on an
//! ephemeral loopback port with a key it makes up. Every message is one
//! streamed request (SSE) under one session id (`X-Hermod-Session-Id`), so
//! the conversation is one session; slash commands go through as messages.
//! `/handoff <platform>` is taken here: it continues the session in that
//! platform's home channel (`commands::handoff`). Ctrl-C during a reply
//! drops its request, which stops the turn; `/quit` or end of input leaves.

use crate::commands::gateway::{PidRecord, assemble, running_on, take_home};
use crate::commands::{handoff, out};
use crate::home::{self, Create};
use crate::{config, database};
use anyhow::Context;
use hermod_core::{BuildContext, ChatEndpoint, Handoffs, Health, Metrics};
use hermod_model::{Secret, SessionId};
use hermod_store::{Database, Location, Store};
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The session header the chat endpoint reads.
const SESSION_HEADER: &str = "X-Hermod-Session-Id";

pub async fn run(session: Option<String>) -> anyhow::Result<()> {
    let process = config::process_env();
    let home = home::open(&process, Create::Yes)?;
    let config = config::load(&home, &process)?;
    let session = match session {
        Some(id) => {
            SessionId::parse(id.trim()).map_err(|e| anyhow::anyhow!("invalid session id: {e}"))?
        }
        None => hermod_core::new_session_id(),
    };
    let location = database::location(&home, &process)?;
    let db = database::open_at(&location).await?;
    let store = db.store();
    match running_on(&home) {
        Some(Ok(record)) => {
            let Some(endpoint) = config.platforms.chat_endpoint() else {
                anyhow::bail!(
                    "a gateway runs on this home (pid {}) but serves no chat endpoint: enable \
                     its API server (and set its key) and restart it, or stop it (`hermod \
                     gateway stop`) so `hermod chat` runs its own",
                    record.pid
                );
            };
            converse(&endpoint, store.as_ref(), &home, &session, None).await
        }
        _ => {
            let local = Local::start(&config, &db, &location, &home).await?;
            let result = converse(
                &local.endpoint,
                store.as_ref(),
                &home,
                &session,
                Some(&local.handoffs),
            )
            .await;
            local.stop().await;
            drop(store);
            database::close(db, &location).await?;
            result
        }
    }
}

/// The gateway `hermod chat` runs itself, holding the home.
struct Local {
    endpoint: ChatEndpoint,
    handoffs: Handoffs,
    shutdown: CancellationToken,
    served: tokio::task::JoinHandle<hermod_core::Stopped>,
    assembled: super::gateway::Assembled,
    _lock: Box<dyn std::any::Any + Send>,
}

impl Local {
    async fn start(
        config: &config::Config,
        db: &Database,
        location: &Location,
        home: &Path,
    ) -> anyhow::Result<Self> {
        let lock = take_home(home, &PidRecord::current(hermod_core::now_ms()))?;
        database::check(db, location).await?;
        let store = db.store();
        let shutdown = CancellationToken::new();
        let build = BuildContext::new(store.clone(), home.to_owned(), shutdown.clone())
            .context("cannot prepare the chat endpoint")?;
        let built = config
            .platforms
            .build_local_chat(&build, Secret::new(random_key()?))
            .await
            .context("cannot start the chat endpoint")?
            .ok_or_else(|| anyhow::anyhow!("this build of hermod has no chat endpoint"))?;
        let endpoint = built
            .built
            .adapter
            .chat_endpoint()
            .ok_or_else(|| anyhow::anyhow!("the chat endpoint did not say where it listens"))?;
        let metrics = build.shared.get_or_insert_with(Metrics::new);
        let (builder, assembled) =
            assemble::builder(config, store, &build, metrics, Health::default())?;
        let gateway = builder
            .adapter(Arc::clone(&built.built.adapter))
            .build()
            .map_err(config::ConfigError)?;
        assembled.attach(&gateway);
        let handoffs = gateway.handoffs();
        let served = tokio::spawn(gateway.serve(shutdown.clone()));
        Ok(Self {
            endpoint,
            handoffs,
            shutdown,
            served,
            assembled,
            _lock: Box::new((lock, built)),
        })
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.served.await;
        self.assembled.shutdown().await;
    }
}

fn random_key() -> anyhow::Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("cannot make a key: {e}"))?;
    Ok(format!("chat-{}", hermod_model::to_hex(&bytes)))
}

/// Reads lines until `/quit` or the end of input, sending each.
async fn converse(
    endpoint: &ChatEndpoint,
    store: &dyn Store,
    home: &Path,
    session: &SessionId,
    handoffs: Option<&Handoffs>,
) -> anyhow::Result<()> {
    out(format_args!(
        "hermod chat: session {session} (continue it with `hermod chat --session {session}`)"
    ));
    out("/handoff <platform> continues it on a chat platform; /quit or Ctrl-D leaves.");
    let http = hermod_http::HttpClient::new()
        .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {e}"))?
        .reqwest()
        .clone();
    let mut lines = stdin_lines();
    loop {
        prompt();
        let line = tokio::select! {
            line = lines.recv() => line,
            _ = tokio::signal::ctrl_c() => None,
        };
        let Some(line) = line else { break };
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if matches!(text, "/quit" | "/exit") {
            break;
        }
        if let Some(rest) = text.strip_prefix("/handoff") {
            if !rest.is_empty() && !rest.starts_with(' ') {
                // Another command that starts the same way.
            } else {
                match handoff::hand_off(store, home, session, rest, handoffs).await {
                    Ok(line) => {
                        out(line);
                        return Ok(());
                    }
                    Err(e) => out(format_args!("✘ {e:#}")),
                }
                continue;
            }
        }
        tokio::select! {
            result = ask(&http, endpoint, session, text) => {
                if let Err(e) = result {
                    out(format_args!("✘ {e:#}"));
                }
            }
            _ = tokio::signal::ctrl_c() => out("\n(stopped)"),
        }
    }
    Ok(())
}

/// The terminal's lines, read on a thread of their own (reading stdin
/// blocks), one at a time: the next is read once this one is taken.
fn stdin_lines() -> tokio::sync::mpsc::Receiver<String> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn prompt() {
    let mut stdout = std::io::stdout().lock();
    let _ = write!(stdout, "> ");
    let _ = stdout.flush();
}

/// Sends one message and prints the reply as it streams in.
async fn ask(
    http: &reqwest::Client,
    endpoint: &ChatEndpoint,
    session: &SessionId,
    text: &str,
) -> anyhow::Result<()> {
    let body = serde_json::json!({
        "messages": [{"role": "user", "content": text}],
        "stream": true,
    });
    let mut response = http
        .post(format!("{}/chat/completions", endpoint.base_url))
        .bearer_auth(endpoint.key.expose())
        .header(SESSION_HEADER, session.as_str())
        .json(&body)
        .send()
        .await
        .with_context(|| format!("cannot reach the gateway at {}", endpoint.base_url))?;
    if !response.status().is_success() {
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let message = body["error"]["message"]
            .as_str()
            .unwrap_or("no reason given")
            .to_owned();
        anyhow::bail!("the gateway answered {status}: {message}");
    }
    let mut pending = String::new();
    let mut stdout = std::io::stdout();
    while let Some(chunk) = response.chunk().await.context("the reply broke off")? {
        pending.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            let Some(data) = line.trim_end().strip_prefix("data:") else {
                continue;
            };
            let data = data.trim();
            if data == "[DONE]" {
                continue;
            }
            let event: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
            if let Some(message) = event["error"]["message"].as_str() {
                anyhow::bail!("{message}");
            }
            if let Some(delta) = event["choices"][0]["delta"]["content"].as_str() {
                let _ = stdout.write_all(delta.as_bytes());
                let _ = stdout.flush();
            }
        }
    }
    let _ = writeln!(stdout);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_long_and_fresh() {
        let (a, b) = (super::random_key().unwrap(), super::random_key().unwrap());
        assert_ne!(a, b);
        assert!(a.len() > 40);
    }
}
