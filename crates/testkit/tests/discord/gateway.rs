//! The gateway: HELLO, IDENTIFY → READY → dispatches, heartbeats and the
//! zombie switch, RESUME with replay, and the close codes.

use super::{Gateway, INTENTS, Read};
use hermod_testkit::discord::{FakeDiscord, Post, SessionFault, intents};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn identify_gets_ready_guilds_and_messages_in_sequence() {
    let fake = FakeDiscord::start().await;
    let alice = fake.user("alice");
    let guild = fake.guild("Hermod HQ", &alice);
    let general = guild.text_channel("general");

    let (mut gateway, interval) = Gateway::open(&fake.gateway_url()).await;
    assert_eq!(interval, 41_250);
    gateway.identify(&fake.token(), INTENTS).await;
    let ready = gateway.payload().await;
    assert_eq!(ready["op"], 0);
    assert_eq!(ready["t"], "READY");
    assert_eq!(ready["s"], 1);
    let d = &ready["d"];
    assert_eq!(d["v"], 10);
    assert_eq!(d["user"]["id"], fake.bot_id().to_string());
    assert_eq!(d["user"]["bot"], true);
    assert_eq!(d["application"]["id"], fake.application_id().to_string());
    assert_eq!(
        d["guilds"],
        json!([{"id": guild.id().to_string(), "unavailable": true}])
    );
    assert_eq!(
        d["resume_gateway_url"],
        format!("{}/resume", fake.gateway_url())
    );
    assert_eq!(
        Some(d["session_id"].as_str().expect("an id").to_owned()),
        fake.session_id()
    );

    let created = gateway.dispatch().await;
    assert_eq!(
        (created["t"].as_str(), created["s"].as_u64()),
        (Some("GUILD_CREATE"), Some(2))
    );
    assert_eq!(created["d"]["channels"][0]["id"], general.to_string());
    assert!(
        created["d"]["channels"][0].get("guild_id").is_none(),
        "as in GUILD_CREATE"
    );

    let dm = alice.dm("hello there");
    let event = gateway.dispatch().await;
    assert_eq!(
        (event["t"].as_str(), event["s"].as_u64()),
        (Some("MESSAGE_CREATE"), Some(3))
    );
    assert_eq!(event["d"]["id"], dm.to_string());
    assert_eq!(event["d"]["content"], "hello there");
    assert_eq!(event["d"]["author"]["id"], alice.id().to_string());
    assert_eq!(event["d"]["channel_type"], 1);
    assert!(
        event["d"].get("guild_id").is_none(),
        "DMs carry no guild_id"
    );

    let asked = alice.send(general, Post::text("what time is it?").mentioning_bot());
    let event = gateway.dispatch().await;
    let d = &event["d"];
    assert_eq!(event["s"], 4);
    assert_eq!(d["guild_id"], guild.id().to_string());
    assert_eq!(
        d["content"],
        format!("<@{}> what time is it?", fake.bot_id())
    );
    assert_eq!(d["mentions"][0]["id"], fake.bot_id().to_string());
    assert!(d["mentions"][0]["member"]["joined_at"].is_string());
    assert!(d["member"]["roles"].is_array());
    assert_eq!(d["type"], 0);

    alice.send(general, Post::text("and now?").replying_to(asked));
    let event = gateway.dispatch().await;
    assert_eq!(event["d"]["type"], 19);
    assert_eq!(
        event["d"]["message_reference"]["message_id"],
        asked.to_string()
    );
    assert_eq!(event["d"]["referenced_message"]["id"], asked.to_string());

    let identify = &fake.frames_of(2)[0].payload;
    assert_eq!(identify["d"]["intents"], INTENTS);
    assert_eq!(identify["d"]["properties"]["browser"], "hermod");
    assert_eq!(fake.identify_count(), 1);
    assert_eq!(
        fake.connections()[0].query.as_deref(),
        Some("v=10&encoding=json")
    );
}

#[tokio::test]
async fn without_message_content_guild_messages_arrive_empty() {
    let fake = FakeDiscord::start().await;
    let alice = fake.user("alice");
    let guild = fake.guild("Hermod HQ", &alice);
    let general = guild.text_channel("general");
    let wanted = intents::GUILD_MESSAGES | intents::DIRECT_MESSAGES;
    let (mut gateway, _) = Gateway::ready(&fake, wanted).await;

    alice.say_in(general, "secret plans");
    assert_eq!(gateway.dispatch().await["d"]["content"], "");
    alice.send(general, Post::text("hey bot").mentioning_bot());
    let mentioned = gateway.dispatch().await;
    assert!(
        mentioned["d"]["content"]
            .as_str()
            .is_some_and(|c| c.ends_with("hey bot"))
    );
    alice.dm("a dm");
    assert_eq!(gateway.dispatch().await["d"]["content"], "a dm");
}

#[tokio::test]
async fn heartbeats_are_acked_until_the_zombie_switch() {
    let fake = FakeDiscord::start().await;
    let (mut gateway, ready) = Gateway::ready(&fake, INTENTS).await;
    gateway.heartbeat(ready["s"].as_u64()).await;
    assert_eq!(gateway.payload().await["op"], 11);

    fake.set_heartbeat_acks(false);
    gateway.heartbeat(Some(1)).await;
    fake.wait_for_heartbeats(2).await;
    fake.dispatch_raw("HERMOD_PROBE", json!({}));
    let next = gateway.payload().await;
    assert_eq!(next["t"], "HERMOD_PROBE", "no ACK came first: {next}");
    assert_eq!(fake.heartbeat_count(), 2);

    fake.set_heartbeat_acks(true);
    fake.request_heartbeat();
    assert_eq!(
        gateway.payload().await["op"],
        1,
        "the gateway asks for a heartbeat"
    );
    gateway.heartbeat(Some(2)).await;
    assert_eq!(gateway.payload().await["op"], 11);
}

#[tokio::test]
async fn silence_closes_the_connection_but_keeps_the_session() {
    let fake = FakeDiscord::builder()
        .heartbeat_interval(Duration::from_millis(300))
        .start()
        .await;
    let (mut gateway, interval) = Gateway::open(&fake.gateway_url()).await;
    assert_eq!(interval, 300);
    gateway.identify(&fake.token(), INTENTS).await;
    assert_eq!(gateway.payload().await["t"], "READY");
    assert_eq!(gateway.close_code().await, Some(4000));
    assert!(fake.session_id().is_some(), "the session can be resumed");
}

#[tokio::test]
async fn resume_replays_missed_dispatches_then_resumed() {
    let fake = FakeDiscord::start().await;
    let alice = fake.user("alice");
    let (mut gateway, ready) = Gateway::ready(&fake, INTENTS).await;
    let session_id = ready["d"]["session_id"].as_str().expect("an id").to_owned();
    let resume_url = ready["d"]["resume_gateway_url"]
        .as_str()
        .expect("a URL")
        .to_owned();
    let first = alice.dm("one");
    assert_eq!(gateway.dispatch().await["s"], 2);

    assert!(fake.drop_connection());
    assert_eq!(
        gateway.close_code().await,
        None,
        "dropped without a close frame"
    );
    fake.wait_for_closed(1).await;
    let second = alice.dm("two");
    let third = alice.dm("three");

    let (mut resumed, _) = Gateway::open(&resume_url).await;
    resumed
        .send(json!({"op": 6, "d": {"token": fake.token(), "session_id": session_id, "seq": 2}}))
        .await;
    let replayed: Vec<_> = [resumed.dispatch().await, resumed.dispatch().await].to_vec();
    assert_eq!(replayed[0]["s"], 3);
    assert_eq!(replayed[0]["d"]["id"], second.to_string());
    assert_eq!(replayed[1]["s"], 4);
    assert_eq!(replayed[1]["d"]["id"], third.to_string());
    let done = resumed.dispatch().await;
    assert_eq!(done["t"], "RESUMED");
    assert_eq!(done["s"], 5);
    assert_ne!(first, second);

    alice.dm("four");
    assert_eq!(resumed.dispatch().await["s"], 6, "new events follow");
    assert_eq!(fake.resume_count(), 1);
    assert_eq!(fake.identify_count(), 1);
    assert!(fake.connections()[1].via_resume_url);
}

#[tokio::test]
async fn resuming_an_unknown_or_ended_session_is_refused() {
    let fake = FakeDiscord::start().await;
    let (gateway, ready) = Gateway::ready(&fake, INTENTS).await;
    let session_id = ready["d"]["session_id"].as_str().expect("an id").to_owned();

    let (mut other, _) = Gateway::open(&fake.gateway_url()).await;
    other
        .send(json!({"op": 6, "d": {"token": fake.token(), "session_id": "nope", "seq": 1}}))
        .await;
    assert_eq!(
        other.payload().await,
        json!({"op": 9, "d": false, "s": null, "t": null})
    );

    // "When you close the connection with 1000 or 1001, your session
    // will be invalidated."
    gateway.close(1000).await;
    fake.wait_for_closed(1).await;
    let (mut again, _) = Gateway::open(&fake.gateway_url()).await;
    again
        .send(json!({"op": 6, "d": {"token": fake.token(), "session_id": session_id, "seq": 1}}))
        .await;
    assert_eq!(again.payload().await["op"], 9);
    let (mut ahead, _) = Gateway::open(&fake.gateway_url()).await;
    ahead.identify(&fake.token(), INTENTS).await;
    let ready = ahead.payload().await;
    let session_id = ready["d"]["session_id"].as_str().expect("an id").to_owned();
    let (mut future, _) = Gateway::open(&fake.gateway_url()).await;
    future
        .send(json!({"op": 6, "d": {"token": fake.token(), "session_id": session_id, "seq": 99}}))
        .await;
    assert_eq!(future.close_code().await, Some(4007));
}

#[tokio::test]
async fn a_wrong_token_closes_with_4004() {
    let fake = FakeDiscord::start().await;
    let (mut gateway, _) = Gateway::open(&fake.gateway_url()).await;
    gateway.identify("not-the-token", INTENTS).await;
    assert_eq!(gateway.close_code().await, Some(4004));
    assert_eq!(fake.identify_count(), 0);
}

#[tokio::test]
async fn a_privileged_intent_not_enabled_closes_with_4014() {
    let fake = FakeDiscord::builder().privileged_intents(0).start().await;
    let (mut gateway, _) = Gateway::open(&fake.gateway_url()).await;
    gateway.identify(&fake.token(), INTENTS).await;
    assert_eq!(gateway.close_code().await, Some(4014));

    let without = INTENTS & !intents::MESSAGE_CONTENT;
    let (_, ready) = Gateway::ready(&fake, without).await;
    assert_eq!(
        ready["d"]["application"]["flags"], 0,
        "no intent switches on"
    );
    fake.set_privileged_intents(intents::MESSAGE_CONTENT);
    let (_, ready) = Gateway::ready(&fake, INTENTS).await;
    assert_eq!(ready["d"]["application"]["flags"], 1 << 19);
}

#[tokio::test]
async fn protocol_mistakes_close_with_their_codes() {
    let fake = FakeDiscord::start().await;
    let cases: [(&str, u16); 5] = [
        (
            r#"{"op": 2, "d": {"token": "TOKEN", "intents": 4194304, "properties": {}}}"#,
            4013,
        ),
        (
            r#"{"op": 3, "d": {"since": null, "activities": [], "status": "online", "afk": false}}"#,
            4003,
        ),
        (r#"{"op": 11, "d": null}"#, 4001),
        ("not json", 4002),
        (
            r#"{"op": 2, "d": {"token": "TOKEN", "intents": 1, "properties": {}, "shard": [1, 1]}}"#,
            4010,
        ),
    ];
    for (payload, code) in cases {
        let (mut gateway, _) = Gateway::open(&fake.gateway_url()).await;
        gateway
            .send_text(&payload.replace("TOKEN", &fake.token()))
            .await;
        assert_eq!(gateway.close_code().await, Some(code), "{payload}");
    }
    let (mut gateway, _) = Gateway::ready(&fake, INTENTS).await;
    gateway.identify(&fake.token(), INTENTS).await;
    assert_eq!(gateway.close_code().await, Some(4005), "identified twice");

    let url = format!("{}/?v=9&encoding=json", fake.gateway_url());
    let (mut old, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("connects");
    let frame = futures_util::StreamExt::next(&mut old).await;
    let code = match frame {
        Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(f)))) => {
            Some(u16::from(f.code))
        }
        _ => None,
    };
    assert_eq!(code, Some(4012));
}

#[tokio::test]
async fn scripted_trouble_reaches_the_live_connection() {
    let fake = FakeDiscord::start().await;
    let (mut gateway, _) = Gateway::ready(&fake, INTENTS).await;
    assert!(fake.send_reconnect());
    assert_eq!(
        gateway.payload().await,
        json!({"op": 7, "d": null, "s": null, "t": null})
    );
    assert!(fake.send_malformed_frame());
    assert!(matches!(gateway.read().await, Read::Garbage(_)));
    assert!(fake.invalidate_session(true));
    assert_eq!(gateway.payload().await["d"], true);
    assert!(
        fake.session_id().is_some(),
        "a resumable invalidation keeps it"
    );
    assert!(fake.invalidate_session(false));
    assert_eq!(gateway.payload().await["d"], false);
    assert!(fake.session_id().is_none());
    assert!(fake.close_connection(4009, "Session timed out."));
    assert_eq!(gateway.close_code().await, Some(4009));
    let closed = fake.wait_for_closed(1).await;
    assert_eq!(closed.server_close_code, Some(4009));

    fake.fail_next_session(SessionFault::InvalidSession { resumable: false });
    let (mut next, _) = Gateway::open(&fake.gateway_url()).await;
    next.identify(&fake.token(), INTENTS).await;
    assert_eq!(
        next.payload().await["op"],
        9,
        "as when over max_concurrency"
    );
    assert_eq!(fake.undelivered_dispatches(), 0);
}

#[tokio::test]
async fn the_bots_own_actions_come_back_as_events() {
    let fake = FakeDiscord::start().await;
    let alice = fake.user("alice");
    let guild = fake.guild("Hermod HQ", &alice);
    let general = guild.text_channel("general");
    let (mut gateway, _) = Gateway::ready(&fake, INTENTS).await;
    assert_eq!(gateway.dispatch().await["t"], "GUILD_CREATE");
    let rest = super::Rest::new(&fake);
    let sent = rest
        .post(
            &format!("/channels/{general}/messages"),
            json!({"content": "hi all"}),
        )
        .await;
    let event = gateway.dispatch().await;
    assert_eq!(event["t"], "MESSAGE_CREATE");
    assert_eq!(event["d"]["id"], sent.body["id"]);
    assert_eq!(event["d"]["author"]["id"], fake.bot_id().to_string());
    let later = guild.text_channel("later");
    let event = gateway.dispatch().await;
    assert_eq!(event["t"], "CHANNEL_CREATE");
    assert_eq!(event["d"]["id"], later.to_string());
}
