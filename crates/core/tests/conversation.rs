//! The conversation engine end to end on an in-process chat platform, on
//! paused time: pairing, access control, tiers, busy input, resets and
//! slash commands.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_core::{
    ApproveOutcome, BusyMode, Clock, DmBehavior, Gateway, GatewayConfig, Pairing, PlatformPolicy,
    ResetMode, ResetPolicy, StreamingConfig,
};
use hermod_model::{Attachment, AttachmentKind, PlatformId};
use hermod_store::{SqliteStore, Store};
use hermod_testkit::{AgentStats, ScriptedAgent, SentMessage, TestPlatform};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const PLATFORM: PlatformId = PlatformId::from_static("test");

struct Chat {
    platform: TestPlatform,
    store: Arc<SqliteStore>,
    stats: Arc<AgentStats>,
    clock: Clock,
    _shutdown: tokio_util::sync::DropGuard,
    _dir: tempfile::TempDir,
}

/// Starts a gateway with the test platform; the wall clock starts at
/// `start` (RFC 3339) and follows tokio's paused clock.
async fn start_at(config: GatewayConfig, turn_time: Duration, start: &str) -> Chat {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let agent = ScriptedAgent::with_delay(turn_time);
    let stats = agent.stats();
    let platform = TestPlatform::new("test");
    let start_ms = start.parse::<jiff::Timestamp>().unwrap().as_millisecond();
    let clock = Clock::following_tokio(start_ms);
    let gateway = Gateway::builder(store.clone(), Arc::new(agent), config)
        .adapter(platform.adapter())
        .clock(clock.clone())
        // These tests are about what is answered, not how it is streamed.
        .streaming(StreamingConfig {
            enabled: false,
            ..StreamingConfig::default()
        })
        .build()
        .unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(gateway.run(shutdown.clone()));
    platform.wait_running().await;
    Chat {
        platform,
        store,
        stats,
        clock,
        _shutdown: shutdown.drop_guard(),
        _dir: dir,
    }
}

async fn start(config: GatewayConfig, turn_time: Duration) -> Chat {
    start_at(config, turn_time, "2026-11-21T12:00:00Z").await
}

fn open() -> GatewayConfig {
    GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    }
}

/// What each message shows now (streamed replies are edited to their end).
fn texts(messages: &[SentMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m.current_text().to_owned())
        .collect()
}

/// Sends a DM and returns the text of the next message in that chat.
async fn ask(chat: &Chat, user: &str, text: &str) -> String {
    let before = chat.platform.sent(user).len();
    chat.platform.user(user).dm(text).await.unwrap();
    chat.platform.wait_for_messages(user, before + 1).await[before]
        .text
        .clone()
}

fn code_in(text: &str) -> String {
    text.split('`').nth(1).unwrap().to_owned()
}

#[tokio::test(start_paused = true)]
async fn a_stranger_pairs_and_then_talks() {
    let chat = start(GatewayConfig::default(), Duration::ZERO).await;
    let alice = chat.platform.user("alice");
    let first = ask(&chat, "alice", "hello").await;
    assert!(first.contains("pairing code"), "{first}");
    assert!(first.contains("hermod pairing approve test"), "{first}");
    let code = code_in(&first);
    assert_eq!(code.len(), 8);
    // Asking again within ten minutes gets no second code; a stranger in a
    // group is ignored without a word.
    alice.dm("hello?").await.unwrap();
    alice.say_in_group("g1", "hi all").await.unwrap();

    let pairing = Pairing::new(chat.store.as_ref());
    let now = chat.clock.now_ms();
    assert!(matches!(
        pairing.approve(&PLATFORM, "ABCDEFGH", now).await.unwrap(),
        ApproveOutcome::NoMatch { failures_left: 4 }
    ));
    let approved = pairing
        .approve(&PLATFORM, &code.to_lowercase(), now)
        .await
        .unwrap();
    assert_eq!(
        approved,
        ApproveOutcome::Approved {
            user_id: "alice".into(),
            user_name: Some("alice".into())
        }
    );

    // No restart needed: the next message reaches the agent.
    assert_eq!(ask(&chat, "alice", "now?").await, "echo: now? (0 earlier)");
    assert_eq!(
        texts(&chat.platform.sent("alice")).len(),
        2,
        "exactly one code, then the reply"
    );
    alice.say_in_group("g1", "again").await.unwrap();
    let group = chat.platform.wait_for_messages("g1", 1).await;
    assert_eq!(
        texts(&group),
        ["echo: again (0 earlier)"],
        "the ignored group message left no trace"
    );
    assert_eq!(chat.stats.inputs(), ["now?", "again"]);
}

#[tokio::test(start_paused = true)]
async fn pairing_limits_expiry_and_lockout() {
    let chat = start(GatewayConfig::default(), Duration::ZERO).await;
    let mut codes = Vec::new();
    for user in ["u1", "u2", "u3"] {
        codes.push(code_in(&ask(&chat, user, "hi").await));
    }
    // A fourth stranger is told once, then the bot stays quiet.
    assert!(
        ask(&chat, "u4", "hi")
            .await
            .starts_with("Too many pairing requests")
    );
    let pairing = Pairing::new(chat.store.as_ref());
    // Codes expire after an hour.
    tokio::time::sleep(Duration::from_secs(3601)).await;
    let now = chat.clock.now_ms();
    assert!(matches!(
        pairing.approve(&PLATFORM, &codes[0], now).await.unwrap(),
        ApproveOutcome::NoMatch { .. }
    ));
    // A fresh code; four more wrong guesses lock approvals for an hour,
    // even for the right code.
    let fresh = code_in(&ask(&chat, "u5", "hi").await);
    for _ in 0..3 {
        assert!(matches!(
            pairing.approve(&PLATFORM, "WRONGWRG", now).await.unwrap(),
            ApproveOutcome::NoMatch { .. }
        ));
    }
    assert!(matches!(
        pairing.approve(&PLATFORM, "WRONGWRG", now).await.unwrap(),
        ApproveOutcome::LockedOut { .. }
    ));
    assert!(matches!(
        pairing.approve(&PLATFORM, &fresh, now).await.unwrap(),
        ApproveOutcome::LockedOut { .. }
    ));
    // After the lockout, approvals work again (the old code has expired by
    // then too, so the user asks for a new one).
    let later = now + 3_600_001;
    let hermod_core::PairingRequest::Code(again) =
        pairing.request(&PLATFORM, "u5", None, later).await.unwrap()
    else {
        panic!("a new code after the rate-limit window");
    };
    assert!(matches!(
        pairing.approve(&PLATFORM, &again, later).await.unwrap(),
        ApproveOutcome::Approved { .. }
    ));
    // Revoking takes effect at the next message.
    assert!(pairing.revoke(&PLATFORM, "u5").await.unwrap());
    assert!(!chat.store.is_approved(&PLATFORM, "u5").await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn allowlists_and_ignore_behaviour() {
    let mut config = GatewayConfig::default();
    let env: hermod_model::EnvVars = [("TEST_ALLOWED_USERS", "alice, bob")].into_iter().collect();
    config.apply_env(&env, &["test"]).unwrap();
    let chat = start(config, Duration::ZERO).await;
    assert_eq!(ask(&chat, "alice", "hi").await, "echo: hi (0 earlier)");
    // user@host matches the entry `bob`.
    assert_eq!(
        ask(&chat, "bob@example.org", "hi").await,
        "echo: hi (0 earlier)"
    );
    // With an allowlist configured, strangers are ignored rather than paired.
    chat.platform.user("mallory").dm("let me in").await.unwrap();
    ask(&chat, "alice", "sync").await;
    assert!(chat.platform.sent("mallory").is_empty());

    let mut config = open();
    config.allow_all_users = false;
    config.unauthorized_dm_behavior = Some(DmBehavior::Ignore);
    let chat = start(config, Duration::ZERO).await;
    chat.platform.user("eve").dm("hi").await.unwrap();
    assert!(
        chat.store
            .pending_pairings(None, chat.clock.now_ms())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn command_tiers() {
    let mut config = open();
    config.platforms.insert(
        "test".into(),
        PlatformPolicy {
            allow_admin_from: vec!["boss".into()],
            user_allowed_commands: vec!["/status".into()],
            ..PlatformPolicy::default()
        },
    );
    let chat = start(config, Duration::ZERO).await;
    assert!(
        ask(&chat, "carol", "/new")
            .await
            .starts_with("⛔ /new is not available")
    );
    let status = ask(&chat, "carol", "/status").await;
    assert!(status.contains("Agent: idle"), "{status}");
    assert!(status.contains("Platforms: test connected"), "{status}");
    let help = ask(&chat, "carol", "/help").await;
    assert!(
        help.contains("/status") && help.contains("/whoami") && !help.contains("/new"),
        "{help}"
    );
    let who = ask(&chat, "carol", "/whoami").await;
    assert!(
        who.contains("Tier: user") && who.contains("/status"),
        "{who}"
    );
    assert_eq!(
        ask(&chat, "boss", "/new").await,
        "✨ New conversation started."
    );
    assert!(ask(&chat, "boss", "/whoami").await.contains("Tier: admin"));
    // Groups have no admin list here: no gating there.
    chat.platform
        .user("carol")
        .say_in_group("g", "/version")
        .await
        .unwrap();
    assert!(
        chat.platform.wait_for_messages("g", 1).await[0]
            .text
            .starts_with("hermod ")
    );
}

#[tokio::test(start_paused = true)]
async fn busy_interrupt() {
    let chat = start(open(), Duration::from_secs(10)).await;
    let alice = chat.platform.user("alice");
    alice.dm("first").await.unwrap();
    chat.stats.wait_started(1).await;
    alice.dm("second").await.unwrap();
    let messages = chat.platform.wait_for_messages("alice", 2).await;
    assert!(
        messages[0].text.starts_with("⚡ Interrupting"),
        "{:?}",
        texts(&messages)
    );
    // The interrupted turn's user message stays in the history; its reply never came.
    assert_eq!(messages[1].text, "echo: second (1 earlier)");
    assert_eq!(chat.stats.interrupted(), 1);
}

#[tokio::test(start_paused = true)]
async fn busy_queue_merges_follow_ups_and_acks_once() {
    let config = GatewayConfig {
        busy_input_mode: BusyMode::Queue,
        ..open()
    };
    let chat = start(config, Duration::from_secs(10)).await;
    let alice = chat.platform.user("alice");
    alice.dm("first").await.unwrap();
    chat.stats.wait_started(1).await;
    alice.dm("second").await.unwrap();
    alice.dm("third").await.unwrap();
    let messages = chat.platform.wait_for_messages("alice", 3).await;
    assert_eq!(
        texts(&messages),
        [
            "⏳ Queued for the next turn.",
            "echo: first (0 earlier)",
            "echo: second\nthird (2 earlier)"
        ]
    );
    assert_eq!(chat.stats.interrupted(), 0);
}

#[tokio::test(start_paused = true)]
async fn busy_steer_hands_text_to_the_turn_and_never_loses_it() {
    let config = GatewayConfig {
        busy_input_mode: BusyMode::Steer,
        ..open()
    };
    let chat = start(config, Duration::from_secs(10)).await;
    let alice = chat.platform.user("alice");
    alice.dm("first").await.unwrap();
    chat.stats.wait_started(1).await;
    alice.dm("also this").await.unwrap();
    // The scripted agent calls no tools, so the steer text comes back
    // unused and runs as the next turn.
    let messages = chat.platform.wait_for_messages("alice", 3).await;
    assert_eq!(
        texts(&messages),
        [
            "⏩ Steered into the current reply.",
            "echo: first (0 earlier)",
            "echo: also this (2 earlier)"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn commands_while_busy_and_the_ack_cooldown() {
    let chat = start(open(), Duration::from_secs(10)).await;
    let alice = chat.platform.user("alice");
    alice.dm("long job").await.unwrap();
    chat.stats.wait_started(1).await;
    let status = ask(&chat, "alice", "/status").await;
    assert!(status.contains("Agent: working"), "{status}");
    assert!(
        ask(&chat, "alice", "/title Trip")
            .await
            .starts_with("⏳ The agent is working — /title")
    );
    assert_eq!(ask(&chat, "alice", "/stop").await, "⏹ Stopped.");
    assert_eq!(ask(&chat, "alice", "/stop").await, "Nothing is running.");
    assert_eq!(chat.stats.interrupted(), 1);

    // Two interrupts within 30 s: one acknowledgement.
    alice.dm("a").await.unwrap();
    chat.stats.wait_started(2).await;
    alice.dm("b").await.unwrap();
    chat.stats.wait_started(3).await;
    alice.dm("c").await.unwrap();
    let all = chat
        .platform
        .wait_for("alice", |m: &[SentMessage]| {
            m.iter().any(|m| m.text.starts_with("echo: c"))
        })
        .await;
    let acks = all.iter().filter(|m| m.text.starts_with("⚡")).count();
    assert_eq!(acks, 1, "{:?}", texts(&all));
}

#[tokio::test(start_paused = true)]
async fn idle_reset_ends_the_old_session_and_tells_the_user_once() {
    let config = GatewayConfig {
        session_reset: ResetPolicy {
            mode: ResetMode::Idle,
            idle_minutes: 30,
            at_hour: 4,
        },
        ..open()
    };
    let chat = start(config, Duration::ZERO).await;
    assert_eq!(ask(&chat, "alice", "a").await, "echo: a (0 earlier)");
    tokio::time::sleep(Duration::from_secs(29 * 60)).await;
    assert_eq!(ask(&chat, "alice", "b").await, "echo: b (2 earlier)");
    tokio::time::sleep(Duration::from_secs(31 * 60)).await;
    let reply = ask(&chat, "alice", "c").await;
    assert!(reply.starts_with("✨ New conversation"), "{reply}");
    assert!(reply.ends_with("echo: c (0 earlier)"), "{reply}");
    assert_eq!(
        ask(&chat, "alice", "d").await,
        "echo: d (2 earlier)",
        "told once"
    );
    let key = hermod_model::SessionKey::from_raw("agent:main:test:dm:alice");
    let sessions = chat.store.sessions_for_key(&key, 10).await.unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[1].end_reason.as_deref(), Some("idle"));
}

#[tokio::test(start_paused = true)]
async fn daily_reset_at_the_configured_hour() {
    let config = GatewayConfig {
        session_reset_by_type: [(
            "dm".to_owned(),
            ResetPolicy {
                mode: ResetMode::Daily,
                idle_minutes: 1440,
                at_hour: 4,
            },
        )]
        .into(),
        timezone: Some("UTC".into()),
        ..open()
    };
    let chat = start_at(config, Duration::ZERO, "2026-11-21T03:00:00Z").await;
    ask(&chat, "alice", "a").await;
    tokio::time::sleep(Duration::from_secs(30 * 60)).await; // 03:30
    assert_eq!(ask(&chat, "alice", "b").await, "echo: b (2 earlier)");
    tokio::time::sleep(Duration::from_secs(60 * 60)).await; // 04:30
    let reply = ask(&chat, "alice", "c").await;
    assert!(
        reply.starts_with("✨ New conversation: conversations start fresh each day."),
        "{reply}"
    );
    // Groups follow the global policy (none).
    chat.platform
        .user("alice")
        .say_in_group("g", "x")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(24 * 60 * 60)).await;
    chat.platform
        .user("alice")
        .say_in_group("g", "y")
        .await
        .unwrap();
    let group = chat.platform.wait_for_messages("g", 2).await;
    assert_eq!(group[1].text, "echo: y (2 earlier)");
}

#[tokio::test(start_paused = true)]
async fn session_commands() {
    let chat = start(open(), Duration::ZERO).await;
    assert_eq!(ask(&chat, "alice", "one").await, "echo: one (0 earlier)");
    assert_eq!(
        ask(&chat, "alice", "/title Trip plans").await,
        "📝 Title set: Trip plans"
    );
    assert_eq!(ask(&chat, "alice", "/title").await, "Title: Trip plans");
    assert_eq!(ask(&chat, "alice", "two").await, "echo: two (2 earlier)");
    let status = ask(&chat, "alice", "/STATUS@hermod_bot").await;
    assert!(
        status.contains("Title: Trip plans") && status.contains("Messages: 4"),
        "{status}"
    );
    assert!(
        ask(&chat, "alice", "/usage")
            .await
            .contains("6 prompt + 4 completion")
    );
    assert_eq!(
        ask(&chat, "alice", "/undo").await,
        "↩️ Removed the last 1 exchange(s) (2 messages)."
    );
    assert_eq!(
        ask(&chat, "alice", "three").await,
        "echo: three (2 earlier)"
    );
    // /retry answers the last message again, replacing the exchange.
    assert_eq!(
        ask(&chat, "alice", "/retry").await,
        "echo: three (2 earlier)"
    );
    assert_eq!(
        ask(&chat, "alice", "/model gpt-test").await,
        "🤖 This conversation now uses gpt-test."
    );
    ask(&chat, "alice", "four").await;
    assert_eq!(
        chat.stats
            .requests()
            .last()
            .unwrap()
            .options
            .model
            .as_deref(),
        Some("gpt-test")
    );
    assert_eq!(
        ask(&chat, "alice", "/model default").await,
        "🤖 Back to the configured default model."
    );

    // A new conversation, then back to the titled one.
    assert_eq!(
        ask(&chat, "alice", "/reset").await,
        "✨ New conversation started."
    );
    assert_eq!(
        ask(&chat, "alice", "fresh").await,
        "echo: fresh (0 earlier)"
    );
    let listing = ask(&chat, "alice", "/resume").await;
    assert!(listing.contains("1. Trip plans"), "{listing}");
    assert!(
        ask(&chat, "alice", "/sessions")
            .await
            .contains("Trip plans")
    );
    assert!(
        ask(&chat, "alice", "/resume 1")
            .await
            .starts_with("↪️ Resumed \"Trip plans\"")
    );
    assert_eq!(
        ask(&chat, "alice", "where were we").await,
        "echo: where were we (6 earlier)"
    );

    assert_eq!(
        ask(&chat, "alice", "/sethome").await,
        "🏠 This chat is now the home channel for test."
    );
    assert!(
        chat.store
            .setting("home_channel:test")
            .await
            .unwrap()
            .unwrap()
            .contains("alice")
    );
    assert!(ask(&chat, "alice", "/version").await.starts_with("hermod "));
    assert!(
        ask(&chat, "alice", "/frobnicate")
            .await
            .starts_with("Unknown command /frobnicate.")
    );
    assert_eq!(
        ask(&chat, "alice", "/approve").await,
        "Nothing is waiting for approval."
    );
    // A path is a message, not a command.
    assert!(
        ask(&chat, "alice", "/usr/bin/env please")
            .await
            .starts_with("echo: /usr/bin/env please")
    );
}

#[tokio::test(start_paused = true)]
async fn background_tasks_post_back_and_queue_runs_next() {
    let chat = start(open(), Duration::from_secs(5)).await;
    assert!(
        ask(&chat, "alice", "/bg summarize the news")
            .await
            .starts_with("🚀 Started a background task")
    );
    // The chat is not blocked by the background task.
    let alice = chat.platform.user("alice");
    alice.dm("meanwhile").await.unwrap();
    let all = chat.platform.wait_for("alice", |m| m.len() >= 3).await;
    let finished = all
        .iter()
        .find(|m| m.text.starts_with("✅ Background task finished"))
        .unwrap();
    assert!(
        finished
            .text
            .contains("echo: summarize the news (0 earlier)"),
        "{}",
        finished.text
    );
    assert!(all.iter().any(|m| m.text == "echo: meanwhile (0 earlier)"));
    assert_eq!(chat.stats.max_running(), 2, "they ran side by side");

    // /queue waits for the running turn instead of interrupting it.
    alice.dm("long").await.unwrap();
    chat.stats.wait_started(3).await;
    alice.dm("/q after that").await.unwrap();
    let all = chat
        .platform
        .wait_for("alice", |m| {
            m.iter().any(|m| m.text.starts_with("echo: after that"))
        })
        .await;
    let tail: Vec<&str> = all
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(
        tail,
        [
            "⏳ Queued for the next turn.",
            "echo: long (2 earlier)",
            "echo: after that (4 earlier)"
        ]
    );
    assert_eq!(chat.stats.interrupted(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_photo_burst_becomes_one_message() {
    let config = GatewayConfig {
        busy_input_mode: BusyMode::Queue,
        ..open()
    };
    let chat = start(config, Duration::from_secs(10)).await;
    let alice = chat.platform.user("alice");
    alice.dm("look").await.unwrap();
    chat.stats.wait_started(1).await;
    for (caption, file) in [("beach", "a.jpg"), ("", "b.jpg"), ("beach", "a.jpg")] {
        let mut event = alice.dm_event(caption);
        event.attachments =
            vec![Attachment::new(AttachmentKind::Photo, file).with_mime("image/jpeg")];
        alice.send(event).await.unwrap();
    }
    chat.platform.wait_for_messages("alice", 3).await;
    let inputs = chat.stats.inputs();
    assert_eq!(inputs.len(), 2);
    assert_eq!(
        inputs[1],
        "beach\n[attached photo: a.jpg (image/jpeg)]\n[attached photo: b.jpg (image/jpeg)]"
    );
}

/// Access control follows what the platform declares, not how a job is
/// answered: a platform that does not check its callers gets the allowlist
/// even for jobs it streams.
#[tokio::test(start_paused = true)]
async fn a_streamed_job_from_a_platform_that_does_not_check_callers_is_access_checked() {
    let chat = start(GatewayConfig::default(), Duration::ZERO).await;
    let inbound = chat.platform.inbound().unwrap();
    let stranger = chat.platform.user("mallory");
    let mut stream = inbound
        .submit_streaming(stranger.dm_event("let me in"))
        .unwrap();
    let mut answer = String::new();
    while let Some(event) = stream.next().await {
        if let hermod_core::TurnEvent::Reply { text } = event {
            answer.push_str(&text);
        }
    }
    assert!(answer.contains("pairing code"), "{answer}");
    assert!(
        chat.stats.requests().is_empty(),
        "the agent never saw the stranger"
    );

    let config = GatewayConfig {
        unauthorized_dm_behavior: Some(DmBehavior::Ignore),
        ..GatewayConfig::default()
    };
    let chat = start(config, Duration::ZERO).await;
    let inbound = chat.platform.inbound().unwrap();
    let mut stream = inbound
        .submit_streaming(chat.platform.user("eve").dm_event("hi"))
        .unwrap();
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event);
    }
    assert!(
        matches!(events.last(), Some(hermod_core::TurnEvent::Reply { text }) if text.contains("not allowed")),
        "a refused streamed job still gets an answer: {events:?}"
    );
    assert!(chat.stats.requests().is_empty());
}

/// A sender the platform vouches for (a member of an allowed role) is
/// allowed like an allowlisted user; the same sender without it is not.
#[tokio::test(start_paused = true)]
async fn a_sender_the_platform_vouches_for_is_allowed() {
    let config = GatewayConfig {
        allowed_users: vec!["alice".into()],
        ..GatewayConfig::default()
    };
    let chat = start(config, Duration::ZERO).await;
    let mallory = chat.platform.user("mallory");
    chat.platform
        .submit(mallory.dm_event("not vouched"))
        .await
        .unwrap();
    let mut vouched = mallory.dm_event("vouched");
    vouched.vouched = true;
    chat.platform.submit(vouched).await.unwrap();
    let answers = chat.platform.wait_for_messages("mallory", 1).await;
    assert_eq!(texts(&answers), ["echo: vouched (0 earlier)"]);
}
