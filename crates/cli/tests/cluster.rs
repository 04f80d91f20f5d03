//! Three gateways on one PostgreSQL database, with the fake Telegram and
//! the API server, under steady load from many chats, while one gateway
//! at a time is killed with SIGKILL and started again: every message is
//! answered exactly once and in order per chat, and the Telegram receiver
//! moves to another gateway when its holder dies.
//!
//! Each chat talks in turn (the next message once the last is answered),
//! so the order of answers is the order of messages. The fake model
//! echoes each message, tagged `c<chat>-<n>.`, slowly enough that kills
//! land mid-turn. Skips with a note outside CI when the machine has no
//! PostgreSQL programs, and fails under `CI=true`.
//!
//! `HERMOD_CLUSTER_SECS` sets how long the load runs (default 60 s);
//! the benchmark runs it longer.

#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

mod support;

use hermod_store::{Database, Location, Store};
use hermod_testkit::postgres::PgServer;
use hermod_testkit::{FakeLlm, FakeTelegram, Reply};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use support::{Running, gateway, start_with};
use tokio::time::Instant;

const GATEWAYS: usize = 3;
const CHATS: i64 = 24;
const API_KEY: &str = "hermod-cluster-test-key-0123456789";
/// Between two kills.
const KILL_EVERY: Duration = Duration::from_secs(20);
/// How long a chat waits for one answer before the test fails.
const ANSWER_WITHIN: Duration = Duration::from_secs(120);

/// One gateway process and its home.
struct Node {
    name: String,
    home: tempfile::TempDir,
    running: Option<Running>,
}

fn command(
    node: &Node,
    llm: &FakeLlm,
    telegram: &FakeTelegram,
    url: &str,
) -> tokio::process::Command {
    let users: Vec<String> = (1..=CHATS).map(|i| i.to_string()).collect();
    let mut cmd = gateway(node.home.path(), llm);
    cmd.env("HERMOD_DATABASE_URL", url)
        .env("HERMOD_NODE_NAME", &node.name)
        .env("API_SERVER_KEY", API_KEY)
        .env("TELEGRAM_BOT_TOKEN", telegram.token())
        .env("TELEGRAM_API_BASE_URL", telegram.base_url())
        .env("TELEGRAM_ALLOWED_USERS", users.join(","));
    cmd
}

async fn start(node: &mut Node, llm: &FakeLlm, telegram: &FakeTelegram, url: &str) {
    node.running = Some(start_with(command(node, llm, telegram, url)).await);
}

/// The gateway name holding `lease` now, if any.
async fn holder(store: &dyn Store, lease: &str) -> Option<String> {
    let now = hermod_core::now_ms();
    let held = store.lease(lease).await.ok().flatten()?;
    (held.until_ms > now).then(|| held.owner.split('/').next().unwrap_or("").to_owned())
}

/// The `c<chat>-<n>.` tags of the answers in a chat, in the order sent.
fn answers(telegram: &FakeTelegram, chat: i64) -> Vec<u32> {
    let prefix = format!("c{chat}-");
    let mut found = Vec::new();
    for message in telegram.bot_messages(chat) {
        if message.deleted {
            continue;
        }
        let text = message.current_text();
        let mut rest = text;
        while let Some(at) = rest.find(&prefix) {
            let tail = &rest[at + prefix.len()..];
            let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() && tail[digits.len()..].starts_with('.') {
                found.push(digits.parse().unwrap());
            }
            rest = tail;
        }
    }
    found
}

/// One chat talking in turn until `stop`; returns how many messages it sent.
async fn talk(telegram: Arc<FakeTelegram>, chat: i64, stop: Arc<AtomicBool>) -> u32 {
    let user = telegram.user(chat, &format!("User {chat}"));
    let mut sent = 0;
    while !stop.load(Ordering::Relaxed) {
        user.dm(&format!("c{chat}-{sent}."));
        let asked = Instant::now();
        loop {
            if answers(&telegram, chat).contains(&sent) {
                break;
            }
            assert!(
                asked.elapsed() < ANSWER_WITHIN,
                "chat {chat}: message {sent} not answered within {ANSWER_WITHIN:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sent += 1;
    }
    sent
}

/// API clients, each with its own session, asking two gateways at once
/// about that one session (a session is worked on by one gateway at a
/// time, so the second waits for the first); every answer must be the
/// echo of its own question. Returns how many were answered.
async fn ask_api(bases: Arc<std::sync::Mutex<Vec<Option<String>>>>, stop: Arc<AtomicBool>) -> u32 {
    hermod_http::install_crypto_provider();
    let client = reqwest::Client::new();
    let ask = |base: String, session: String, text: String| {
        let client = client.clone();
        async move {
            let reply = client
                .post(format!("{base}/v1/chat/completions"))
                .bearer_auth(API_KEY)
                .header("X-Hermod-Session-Id", session)
                .json(&serde_json::json!({
                    "model": "hermod",
                    "messages": [{"role": "user", "content": text}],
                }))
                .timeout(Duration::from_secs(60))
                .send()
                .await
                .ok()?;
            if !reply.status().is_success() {
                return None;
            }
            let body: serde_json::Value = reply.json().await.ok()?;
            let answer = body["choices"][0]["message"]["content"]
                .as_str()?
                .to_owned();
            assert_eq!(answer, format!("echo: {text}"), "each answer is its own");
            Some(())
        }
    };
    let mut answered = 0;
    let mut round = 0usize;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        let session = format!("api-session-{}", round % 3);
        let (a, b) = {
            let bases = bases.lock().unwrap();
            (
                bases[round % GATEWAYS].clone(),
                bases[(round + 1) % GATEWAYS].clone(),
            )
        };
        let first = a.map(|base| ask(base, session.clone(), format!("api {round} a")));
        let second = b.map(|base| ask(base, session.clone(), format!("api {round} b")));
        let (x, y) = tokio::join!(
            async {
                match first {
                    Some(f) => f.await,
                    None => None,
                }
            },
            async {
                match second {
                    Some(f) => f.await,
                    None => None,
                }
            }
        );
        answered += u32::from(x.is_some()) + u32::from(y.is_some());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    answered
}

fn load_secs() -> u64 {
    std::env::var("HERMOD_CLUSTER_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_gateways_under_kills_answer_every_message_once_in_order() {
    let Some(server) = PgServer::for_test().await else {
        return;
    };
    let url = server.url("postgres");
    let llm = FakeLlm::start().await;
    llm.set_default(
        Reply::echo()
            .chunk_size(3)
            .token_delay(Duration::from_millis(40)),
    );
    let telegram = Arc::new(FakeTelegram::start().await);
    let store = Database::open(&Location::parse(&url))
        .await
        .unwrap()
        .store();

    let mut nodes: Vec<Node> = (1..=GATEWAYS)
        .map(|i| Node {
            name: format!("gw{i}"),
            home: tempfile::tempdir().unwrap(),
            running: None,
        })
        .collect();
    for node in &mut nodes {
        start(node, &llm, &telegram, &url).await;
    }
    let bases = Arc::new(std::sync::Mutex::new(
        nodes
            .iter()
            .map(|n| n.running.as_ref().map(|r| r.base.clone()))
            .collect::<Vec<_>>(),
    ));
    // One gateway receives from Telegram; the others stand by.
    let first = loop {
        if let Some(name) = holder(store.as_ref(), "receiver:telegram").await {
            break name;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("the Telegram receiver runs on {first}");

    let stop = Arc::new(AtomicBool::new(false));
    let chats: Vec<_> = (1..=CHATS)
        .map(|chat| tokio::spawn(talk(Arc::clone(&telegram), chat, Arc::clone(&stop))))
        .collect();
    let api = tokio::spawn(ask_api(Arc::clone(&bases), Arc::clone(&stop)));

    // Kill one gateway at a time: the receiver's holder first, then the
    // others in turn; each comes back a few seconds later.
    let load = Duration::from_secs(load_secs());
    let started = Instant::now();
    let mut kills = 0;
    let mut failovers: Vec<Duration> = Vec::new();
    while started.elapsed() + KILL_EVERY <= load {
        tokio::time::sleep(KILL_EVERY).await;
        let receiving = holder(store.as_ref(), "receiver:telegram").await;
        let victim = match (kills, &receiving) {
            (0, Some(name)) => nodes.iter().position(|n| &n.name == name).unwrap(),
            _ => kills % GATEWAYS,
        };
        let name = nodes[victim].name.clone();
        let mut running = nodes[victim].running.take().unwrap();
        bases.lock().unwrap()[victim] = None;
        running.child.start_kill().unwrap();
        running.child.wait().await.unwrap();
        let killed = Instant::now();
        kills += 1;
        eprintln!("killed {name} at {:?}", started.elapsed());
        if receiving.as_deref() == Some(name.as_str()) {
            let moved_to = loop {
                match holder(store.as_ref(), "receiver:telegram").await {
                    Some(other) if other != name => break other,
                    _ => tokio::time::sleep(Duration::from_millis(100)).await,
                }
                assert!(
                    killed.elapsed() < Duration::from_secs(120),
                    "the Telegram receiver did not move"
                );
            };
            failovers.push(killed.elapsed());
            eprintln!(
                "the Telegram receiver moved from {name} to {moved_to} in {:?}",
                killed.elapsed()
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        start(&mut nodes[victim], &llm, &telegram, &url).await;
        bases.lock().unwrap()[victim] = nodes[victim].running.as_ref().map(|r| r.base.clone());
    }
    let remaining = load.saturating_sub(started.elapsed());
    tokio::time::sleep(remaining).await;
    stop.store(true, Ordering::Relaxed);

    let mut sent = BTreeMap::new();
    for (i, chat) in chats.into_iter().enumerate() {
        sent.insert(i64::try_from(i).unwrap() + 1, chat.await.unwrap());
    }
    let api_answers = api.await.unwrap();
    // Every answer is in; give a late duplicate the time to show.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let (mut total, mut lost, mut duplicated, mut out_of_order) = (0u32, 0u32, 0u32, 0u32);
    for (chat, sent) in &sent {
        let got = answers(&telegram, *chat);
        total += sent;
        for n in 0..*sent {
            match got.iter().filter(|&&g| g == n).count() {
                0 => lost += 1,
                1 => {}
                k => duplicated += u32::try_from(k).unwrap() - 1,
            }
        }
        if got.windows(2).any(|w| w[0] >= w[1]) {
            out_of_order += 1;
        }
    }
    eprintln!(
        "{GATEWAYS} gateways, {kills} kills, {CHATS} chats: {total} messages, lost {lost}, \
         duplicated {duplicated}, chats out of order {out_of_order}; receiver failovers {failovers:?}; \
         {api_answers} API answers"
    );
    assert!(kills >= 1, "the load ran long enough for a kill");
    assert_eq!((lost, duplicated, out_of_order), (0, 0, 0));
    assert!(!failovers.is_empty(), "the receiver's holder was killed");
    assert!(api_answers > 0, "the API server answered on the gateways");

    // `hermod gateway status` shows the cluster: three gateways, one of
    // them receiving from Telegram.
    let mut status = support::hermod(nodes[0].home.path());
    status
        .args(["gateway", "status"])
        .env("HERMOD_DATABASE_URL", &url);
    let shown = support::finish(&mut status).await;
    let shown = String::from_utf8(shown.stdout).unwrap();
    eprintln!("{shown}");
    assert!(shown.contains("gateways sharing postgres://"), "{shown}");
    for node in &nodes {
        assert!(shown.contains(&format!("  {} (pid ", node.name)), "{shown}");
    }
    assert_eq!(shown.matches("receives telegram").count(), 1, "{shown}");

    for node in &mut nodes {
        if let Some(running) = node.running.take() {
            support::terminate(running.child).await;
        }
    }
}
