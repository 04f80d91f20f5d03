//! Socket Mode: tickets, `hello`, envelopes and acks, redelivery,
//! `disconnect` messages, dropped sockets and malformed frames.

use super::{Client, ack, connect, next_json, next_text, recv};
use futures_util::{SinkExt, StreamExt};
use hermod_testkit::slack::{DisconnectReason, EnvelopeKind, FakeSlack, SlackConfig};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// Short timers, so redelivery and disconnects happen within a test.
fn quick() -> SlackConfig {
    SlackConfig {
        ack_timeout: Duration::from_millis(200),
        max_redeliveries: 2,
        disconnect_grace: Duration::from_millis(100),
        ..SlackConfig::default()
    }
}

#[tokio::test]
async fn hello_then_an_event_envelope_then_its_ack() {
    let fake = FakeSlack::start().await;
    let app = Client::app(&fake);
    let opened = app.ok("apps.connections.open", json!({})).await;
    let url = opened["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
    assert!(url.contains("/link/?ticket="), "{url}");
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let hello = next_json(&mut socket).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["num_connections"], 1);
    assert_eq!(hello["connection_info"]["app_id"], fake.config().app_id);
    assert!(hello["debug_info"]["approximate_connection_time"].is_u64());
    assert!(
        tokio_tungstenite::connect_async(url.as_str())
            .await
            .is_err(),
        "a ticket is good for one connection"
    );

    let alice = fake.user("alice");
    let posted = alice.dm("hello bot");
    let envelope = next_json(&mut socket).await;
    assert_eq!(envelope["type"], "events_api");
    assert_eq!(envelope["accepts_response_payload"], false);
    assert_eq!(envelope["retry_attempt"], 0);
    assert_eq!(envelope["retry_reason"], "");
    let payload = &envelope["payload"];
    assert_eq!(payload["type"], "event_callback");
    assert_eq!(payload["api_app_id"], fake.config().app_id);
    assert_eq!(payload["authorizations"][0]["user_id"], fake.bot_user_id());
    assert!(payload["event_id"].as_str().unwrap().starts_with("Ev"));
    let event = &payload["event"];
    assert_eq!(event["type"], "message");
    assert_eq!(event["channel_type"], "im");
    assert_eq!(event["channel"], alice.dm_channel());
    assert_eq!(event["user"], alice.id());
    assert_eq!(event["text"], "hello bot");
    assert_eq!(event["ts"], posted.ts);
    assert!(event["client_msg_id"].is_string());

    ack(&mut socket, &envelope).await;
    let id = envelope["envelope_id"].as_str().unwrap();
    let acked = fake.wait_for_ack(id).await;
    assert!(acked.latency.is_some_and(|l| l < Duration::from_secs(3)));
    assert!(fake.is_acked(id));
    assert_eq!(fake.connections_opened(), 1);
    assert_eq!(fake.open_connections(), 1);
    assert_eq!(fake.redeliveries(), 0);
}

#[tokio::test]
async fn an_unacknowledged_event_comes_again_with_its_retry_attempt() {
    let fake = FakeSlack::with_config(quick()).await;
    let (mut socket, _) = connect(&fake).await;
    fake.user("alice").dm("are you there?");

    let first = next_json(&mut socket).await;
    let again = next_json(&mut socket).await;
    assert_eq!(again["envelope_id"], first["envelope_id"]);
    assert_eq!(
        again["payload"], first["payload"],
        "the same event, same event_id"
    );
    assert_eq!(again["retry_attempt"], 1);
    assert_eq!(again["retry_reason"], "timeout");
    let third = next_json(&mut socket).await;
    assert_eq!(third["retry_attempt"], 2);
    ack(&mut socket, &third).await;
    fake.wait_for_ack(third["envelope_id"].as_str().unwrap())
        .await;
    assert_eq!(fake.redeliveries(), 2);
    let attempts: Vec<u32> = fake.envelopes().iter().map(|e| e.retry_attempt).collect();
    assert_eq!(attempts, [0, 1, 2]);
    assert!(fake.missed_envelopes().is_empty());

    // A lost ack counts as none: the envelope comes again.
    fake.lose_next_acks(1);
    fake.user("alice").dm("again");
    let envelope = next_json(&mut socket).await;
    ack(&mut socket, &envelope).await;
    let redelivered = next_json(&mut socket).await;
    assert_eq!(redelivered["envelope_id"], envelope["envelope_id"]);
    ack(&mut socket, &redelivered).await;
    let honored = fake
        .wait_for_ack(redelivered["envelope_id"].as_str().unwrap())
        .await;
    assert!(honored.latency.is_some());
    let acks = fake.acks();
    assert!(!acks[acks.len() - 2].honored, "the lost ack is recorded");
}

#[tokio::test]
async fn envelopes_wait_for_a_connection_and_go_round_the_open_ones() {
    let fake = FakeSlack::start().await;
    let alice = fake.user("alice");
    alice.dm("written before the app connected");
    let (mut first, _) = connect(&fake).await;
    let waiting = recv(&mut first).await;
    assert_eq!(
        waiting["payload"]["event"]["text"],
        "written before the app connected"
    );

    let (mut second, hello) = connect(&fake).await;
    assert_eq!(hello["num_connections"], 2);
    alice.dm("one");
    alice.dm("two");
    let a = recv(&mut second).await;
    let b = recv(&mut first).await;
    let mut texts = [
        a["payload"]["event"]["text"].clone(),
        b["payload"]["event"]["text"].clone(),
    ];
    texts.sort_by_key(ToString::to_string);
    assert_eq!(
        texts,
        [json!("one"), json!("two")],
        "one envelope on each connection"
    );
    let connections: Vec<u64> = fake.envelopes().iter().map(|e| e.connection).collect();
    assert_ne!(connections[1], connections[2]);
}

#[tokio::test]
async fn a_channel_mention_is_a_message_and_an_app_mention() {
    let fake = FakeSlack::start().await;
    let (mut socket, _) = connect(&fake).await;
    let general = fake.public_channel("general");
    let alice = fake.user("alice");
    let root = alice.mention_bot_in(&general, "summarise this");
    let message = recv(&mut socket).await;
    let mention = recv(&mut socket).await;
    assert_eq!(message["payload"]["event"]["type"], "message");
    assert_eq!(message["payload"]["event"]["channel_type"], "channel");
    let event = &mention["payload"]["event"];
    assert_eq!(event["type"], "app_mention");
    assert_eq!(
        event["text"],
        format!("<@{}> summarise this", fake.bot_user_id())
    );
    assert_eq!(event["channel"], general);
    assert_eq!(event["ts"], root.ts);
    assert_ne!(
        message["payload"]["event_id"], mention["payload"]["event_id"],
        "two events"
    );
    let elements = &message["payload"]["event"]["blocks"][0]["elements"][0]["elements"];
    assert_eq!(
        elements[0],
        json!({"type": "user", "user_id": fake.bot_user_id()})
    );

    let reply = alice.reply_in_thread(&general, &root.ts, "plain reply");
    let threaded = recv(&mut socket).await;
    assert_eq!(threaded["payload"]["event"]["thread_ts"], root.ts);
    assert_eq!(threaded["payload"]["event"]["parent_user_id"], alice.id());
    assert_eq!(threaded["payload"]["event"]["ts"], reply.ts);

    // What the adapter must not answer: edits, deletions, bots, itself.
    alice.edit(&reply, "edited reply");
    let changed = recv(&mut socket).await;
    let event = &changed["payload"]["event"];
    assert_eq!(event["subtype"], "message_changed");
    assert_eq!(event["message"]["text"], "edited reply");
    assert_eq!(event["previous_message"]["text"], "plain reply");
    alice.delete(&reply);
    let deleted = recv(&mut socket).await;
    assert_eq!(deleted["payload"]["event"]["subtype"], "message_deleted");
    assert_eq!(deleted["payload"]["event"]["deleted_ts"], reply.ts);
    fake.integration_message(&general, "ci", "build passed");
    let integration = recv(&mut socket).await;
    assert_eq!(integration["payload"]["event"]["subtype"], "bot_message");
    fake.other_bot("relay").say_in(&general, "relayed");
    let other = recv(&mut socket).await;
    assert!(other["payload"]["event"]["bot_id"].is_string());
    Client::bot(&fake)
        .ok(
            "chat.postMessage",
            json!({"channel": general, "text": "mine"}),
        )
        .await;
    let own = recv(&mut socket).await;
    assert_eq!(own["payload"]["event"]["user"], fake.bot_user_id());
    assert_eq!(own["payload"]["event"]["bot_id"], fake.config().bot_id);

    fake.set_bot_member(&general, false);
    alice.say_in(&general, "not for the bot");
    alice.dm("but this is");
    let next = recv(&mut socket).await;
    assert_eq!(
        next["payload"]["event"]["text"], "but this is",
        "no events from channels the bot left"
    );
}

#[tokio::test]
async fn slash_commands_accept_a_response_payload_and_are_not_sent_again() {
    let fake = FakeSlack::with_config(quick()).await;
    let (mut socket, _) = connect(&fake).await;
    let general = fake.public_channel("general");
    fake.user("alice")
        .slash_command(&general, "/ask", "what time is it");
    let envelope = next_json(&mut socket).await;
    assert_eq!(envelope["type"], "slash_commands");
    assert_eq!(envelope["accepts_response_payload"], true);
    let payload = &envelope["payload"];
    assert_eq!(payload["command"], "/ask");
    assert_eq!(payload["text"], "what time is it");
    assert_eq!(payload["channel_id"], general);
    assert_eq!(payload["user_name"], "alice");
    assert!(payload["response_url"].is_string());
    assert!(payload["trigger_id"].is_string());
    let answer = json!({"envelope_id": envelope["envelope_id"], "payload": {"text": "noon"}});
    socket
        .send(Message::Text(answer.to_string().into()))
        .await
        .unwrap();
    let acked = fake
        .wait_for_ack(envelope["envelope_id"].as_str().unwrap())
        .await;
    assert_eq!(acked.payload, Some(json!({"text": "noon"})));

    fake.user("alice")
        .slash_command(&general, "/ask", "unanswered");
    let unanswered = next_json(&mut socket).await;
    let id = unanswered["envelope_id"].as_str().unwrap().to_owned();
    tokio::time::timeout(Duration::from_secs(5), fake.wait_for_missed(&id))
        .await
        .expect("given up on after the ack timeout");
    assert_eq!(fake.redeliveries(), 0);
    let kinds: Vec<EnvelopeKind> = fake.envelopes().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [EnvelopeKind::SlashCommands, EnvelopeKind::SlashCommands]
    );
}

#[tokio::test]
async fn disconnect_messages_come_before_the_socket_closes() {
    let fake = FakeSlack::with_config(quick()).await;
    let (mut socket, _) = connect(&fake).await;
    assert_eq!(fake.disconnect(DisconnectReason::RefreshRequested), 1);
    let notice = next_json(&mut socket).await;
    assert_eq!(notice["type"], "disconnect");
    assert_eq!(notice["reason"], "refresh_requested");
    assert!(notice["debug_info"]["host"].is_string());
    let closed = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("the socket closes after the grace period");
    assert!(matches!(closed, Some(Ok(Message::Close(_)))), "{closed:?}");

    let (mut socket, _) = connect(&fake).await;
    fake.disconnect(DisconnectReason::Warning);
    assert_eq!(next_json(&mut socket).await["reason"], "warning");
    let (mut socket, _) = connect(&fake).await;
    fake.disconnect(DisconnectReason::LinkDisabled);
    let notice = loop {
        let frame = next_json(&mut socket).await;
        if frame["reason"] == "link_disabled" {
            break frame;
        }
    };
    assert_eq!(notice["type"], "disconnect");
    assert_eq!(fake.connections_opened(), 3);
}

#[tokio::test]
async fn dropped_sockets_and_malformed_frames_on_demand() {
    let fake = FakeSlack::start().await;
    let (mut socket, _) = connect(&fake).await;
    assert_eq!(
        fake.send_raw_frame("{\"type\": \"events_api\", \"payload\": "),
        1
    );
    assert_eq!(
        next_text(&mut socket).await,
        "{\"type\": \"events_api\", \"payload\": "
    );
    fake.send_binary_frame(b"\x00\x01");
    let binary = socket.next().await.unwrap().unwrap();
    assert_eq!(binary, Message::Binary(vec![0, 1].into()));

    assert_eq!(fake.drop_connections(), 1);
    let end = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("the socket ends");
    assert!(
        !matches!(end, Some(Ok(Message::Close(_)))),
        "no close frame: {end:?}"
    );
    tokio::time::timeout(Duration::from_secs(5), fake.wait_for_open_connections(0))
        .await
        .expect("the fake sees the connection gone");
    assert!(fake.connections()[0].closed_at.is_some());
}
