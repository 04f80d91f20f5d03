//! Failures: flood control, a refused token, server errors, dropped
//! connections, conflicts, and stopping promptly.

use crate::support::{World, settled, within};
use hermod_core::{AdapterError, Messenger};
use hermod_telegram::ConnectionState;
use hermod_testkit::ScriptedAgent;
use hermod_testkit::harness::outbound;
use hermod_testkit::telegram::Fault;
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test]
async fn flood_control_on_edits_backs_off_and_the_final_text_arrives() {
    let world = World::new().await;
    let reply = "One two three four five six seven eight nine ten eleven twelve thirteen.";
    let agent = ScriptedAgent::streaming(reply, 8, Duration::from_millis(300));
    let running = world.start(agent).await;
    world
        .fake
        .rate_limit("editMessageText", Duration::from_secs(2));
    world.fake.user(4001, "Alice").dm("count");

    let done = within(
        "the final text",
        world.fake.wait_for(4001, |m| {
            m.iter().any(|m| m.current_text().ends_with("thirteen."))
        }),
    )
    .await;
    assert!(
        world.fake.rate_limit_hits() >= 1,
        "the rate limit was never hit"
    );
    let shown: String = done.iter().map(|m| m.current_text()).collect();
    assert!(shown.contains(reply), "{shown}");
    assert!(!shown.contains('▉'), "{shown}");
    // Nothing was sent to the chat before the retry_after had passed.
    let edits = world.fake.calls_of("editMessageText");
    let first = edits.first().unwrap().at;
    assert!(
        edits[1..]
            .iter()
            .all(|c| c.at - first >= Duration::from_millis(990)),
        "an edit came before retry_after"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_refused_token_stops_the_adapter_with_a_clear_error() {
    let world = World::new().await;
    world.fake.fail_next("getMe", Fault::Unauthorized);
    let direct = world.direct(world.config());
    let result = within("run to give up", direct.spawn()).await.unwrap();
    let Err(AdapterError::Auth(message)) = result else {
        panic!("expected an auth error, got {result:?}");
    };
    assert!(message.contains("@BotFather") && message.contains("TELEGRAM_BOT_TOKEN"));
    assert!(!message.contains(&world.fake.token()));
    assert_eq!(world.fake.calls_of("getMe").len(), 1, "it retried");
    assert_eq!(direct.adapter.connection_state(), ConnectionState::Failed);
}

#[tokio::test]
async fn a_token_revoked_while_polling_stops_the_adapter() {
    let world = World::new().await;
    let direct = world.direct(world.config());
    world.fake.fail_next("getUpdates", Fault::Unauthorized);
    let result = within("run to give up", direct.spawn()).await.unwrap();
    assert!(matches!(result, Err(AdapterError::Auth(_))), "{result:?}");
    assert_eq!(world.fake.calls_of("getUpdates").len(), 1);
}

#[tokio::test]
async fn server_errors_and_dropped_connections_are_retried() {
    let world = World::new().await;
    world.fake.fail_next("getUpdates", Fault::ServerError(502));
    world.fake.fail_next("getUpdates", Fault::DropConnection);
    let running = world.start(ScriptedAgent::echo()).await;
    world.fake.user(4002, "Bob").dm("still there?");
    let answer = settled(&world.fake, 4002, 1).await;
    assert_eq!(answer[0].current_text(), "echo: still there? (0 earlier)");
    assert!(world.fake.calls_of("getUpdates").len() >= 3);
    assert_eq!(
        running.adapter.connection_state(),
        ConnectionState::Connected
    );
    running.stop().await;
}

#[tokio::test]
async fn a_failed_send_is_transient_and_429_blocks_the_chat() {
    let world = World::new().await;
    world.fake.open_chat(4003);
    let adapter = world.adapter(world.config());
    let message = |text: &str| outbound(4003, text);
    world.fake.fail_next("sendMessage", Fault::ServerError(500));
    let err = adapter.send(message("a")).await.unwrap_err();
    assert!(matches!(err, AdapterError::Transient(_)), "{err:?}");

    world
        .fake
        .fail_next("sendMessage", Fault::TooManyRequests { retry_after: 30 });
    let err = adapter.send(message("b")).await.unwrap_err();
    assert_eq!(
        err,
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(30))
        }
    );
    // The chat is blocked: no call goes out, the time left is reported.
    let calls = world.fake.calls_of("sendMessage").len();
    let err = adapter.send(message("c")).await.unwrap_err();
    let AdapterError::RateLimited {
        retry_after: Some(left),
    } = err
    else {
        panic!("expected a rate limit, got {err:?}");
    };
    assert!(left <= Duration::from_secs(30) && left > Duration::from_secs(25));
    assert_eq!(world.fake.calls_of("sendMessage").len(), calls);
    // Other chats are not affected.
    world.fake.open_chat(4004);
    let mut other = message("d");
    other.target.chat_id = "4004".into();
    adapter.send(other).await.unwrap();
}

#[tokio::test]
async fn html_refused_by_telegram_is_resent_as_plain_text() {
    let world = World::new().await;
    world.fake.open_chat(4005);
    let adapter = world.adapter(world.config());
    world.fake.fail_next(
        "sendMessage",
        Fault::BadRequest("can't parse entities: Unsupported start tag".into()),
    );
    let sent = adapter.send(outbound(4005, "**bold** move")).await.unwrap();
    assert_eq!(sent.message_ids.len(), 1);
    let messages = world.fake.bot_messages(4005);
    assert_eq!(messages[0].raw_text, "bold move");
    assert_eq!(messages[0].parse_mode, None);
}

#[tokio::test]
async fn run_returns_promptly_when_told_to_stop() {
    let world = World::new().await;
    let mut config = world.config();
    config.poll_timeout_secs = 25;
    let direct = world.direct(config);
    let run = direct.spawn();
    // A long poll is in flight.
    within("the long poll", world.fake.wait_for_calls("getUpdates", 1)).await;
    let asked = Instant::now();
    direct.ctx.shutdown.cancel();
    let result = within("run to return", run).await.unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
}

#[tokio::test]
async fn another_poller_is_a_clear_error_after_a_few_conflicts() {
    let world = World::new().await;
    // A webhook in place makes getUpdates answer 409.
    let http = hermod_http::HttpClient::new().unwrap();
    let url = format!(
        "{}/bot{}/setWebhook",
        world.fake.base_url(),
        world.fake.token()
    );
    http.reqwest()
        .post(url)
        .json(&serde_json::json!({"url": "https://elsewhere.example/hook"}))
        .send()
        .await
        .unwrap();
    let mut config = world.config();
    config.max_reconnect_delay_secs = 1;
    let direct = world.direct(config);
    let result = within("run to give up", direct.spawn()).await.unwrap();
    let Err(AdapterError::Startup(message)) = result else {
        panic!("expected a startup error, got {result:?}");
    };
    assert!(message.contains("webhook"), "{message}");
    assert_eq!(world.fake.calls_of("getUpdates").len(), 5);
}
