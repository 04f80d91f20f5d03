//! Slash commands: INTERACTION_CREATE on the gateway, the callback and
//! its deadlines, and the webhook routes of the original response and
//! followups.

use super::{Gateway, INTENTS, Rest};
use hermod_testkit::discord::{EPHEMERAL, FakeDiscord, FakeInteraction};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

/// A fake with `/ask prompt:<text>` registered and alice in #general.
async fn fake_with_ask() -> (FakeDiscord, Rest, hermod_testkit::discord::FakeUser, u64) {
    let fake = FakeDiscord::start().await;
    let alice = fake.user("alice");
    let general = fake.guild("Hermod HQ", &alice).text_channel("general");
    let rest = Rest::new(&fake);
    let command = json!([{
        "name": "ask",
        "description": "Ask the agent",
        "options": [{"name": "prompt", "description": "The question", "type": 3, "required": true}],
    }]);
    let path = format!("/applications/{}/commands", fake.application_id());
    assert_eq!(rest.put(&path, command).await.status, StatusCode::OK);
    (fake, rest, alice, general)
}

fn callback(interaction: &FakeInteraction) -> String {
    format!(
        "/interactions/{}/{}/callback",
        interaction.id, interaction.token
    )
}

#[tokio::test]
async fn a_slash_command_is_deferred_then_answered() {
    let (fake, rest, alice, general) = fake_with_ask().await;
    let (mut gateway, _) = Gateway::ready(&fake, INTENTS).await;
    assert_eq!(gateway.dispatch().await["t"], "GUILD_CREATE");

    let interaction = alice.slash_command(general, "ask", &[("prompt", json!("why?"))]);
    let event = gateway.dispatch().await;
    assert_eq!(event["t"], "INTERACTION_CREATE");
    let d = &event["d"];
    assert_eq!(d["type"], 2);
    assert_eq!(d["token"], interaction.token);
    assert_eq!(d["data"]["name"], "ask");
    assert_eq!(d["data"]["id"], fake.commands()[0]["id"]);
    assert_eq!(
        d["data"]["options"],
        json!([{"name": "prompt", "type": 3, "value": "why?"}])
    );
    assert_eq!(d["member"]["user"]["id"], alice.id().to_string());
    assert_eq!(d["channel_id"], general.to_string());

    let deferred = rest.post(&callback(&interaction), json!({"type": 5})).await;
    assert_eq!(deferred.status, StatusCode::NO_CONTENT);
    let again = rest.post(&callback(&interaction), json!({"type": 5})).await;
    assert_eq!(
        again.body,
        json!({"message": "Interaction has already been acknowledged.", "code": 40060})
    );
    let loading = gateway.dispatch().await;
    assert_eq!(loading["t"], "MESSAGE_CREATE");
    assert_eq!(loading["d"]["flags"], 1 << 7, "LOADING");
    assert_eq!(loading["d"]["type"], 20);

    let hook = format!("/webhooks/{}/{}", fake.application_id(), interaction.token);
    // A followup while the response is still loading edits it.
    let first = rest.post(&hook, json!({"content": "Because."})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["id"], loading["d"]["id"]);
    assert_eq!(first.body["flags"], 0);
    let edited = rest
        .patch(
            &format!("{hook}/messages/@original"),
            json!({"content": "Because, in full."}),
        )
        .await;
    assert_eq!(edited.body["content"], "Because, in full.");
    let followup = rest.post(&hook, json!({"content": "Anything else?"})).await;
    assert_ne!(followup.body["id"], loading["d"]["id"]);

    let reply = fake.wait_for_interaction_reply(interaction.id).await;
    assert_eq!(reply.kind, 5);
    assert_eq!(reply.followups.len(), 1);
    let messages = fake.bot_messages(general);
    assert_eq!(messages[0].current_content(), "Because, in full.");
    assert_eq!(messages[0].edits, ["Because.", "Because, in full."]);
    assert_eq!(messages[0].interaction_id, Some(interaction.id));
    let too_long = rest
        .patch(
            &format!("{hook}/messages/@original"),
            json!({"content": "z".repeat(2001)}),
        )
        .await;
    assert_eq!(too_long.body["code"], 50035);
}

#[tokio::test]
async fn an_immediate_ephemeral_answer_with_response() {
    let (fake, rest, alice, general) = fake_with_ask().await;
    let interaction = alice.slash_command(general, "ask", &[("prompt", json!("psst"))]);
    let answer = rest
        .post(
            &format!("{}?with_response=true", callback(&interaction)),
            json!({"type": 4, "data": {"content": "only you", "flags": EPHEMERAL}}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.body["interaction"]["response_message_ephemeral"],
        true
    );
    assert_eq!(answer.body["resource"]["message"]["content"], "only you");
    let sent = &fake.bot_messages(general)[0];
    assert!(sent.is_ephemeral());
    assert_eq!(
        fake.interaction_reply(interaction.id).map(|r| r.kind),
        Some(4)
    );

    let other = alice.slash_command(general, "ask", &[("prompt", json!("empty"))]);
    let empty = rest
        .post(
            &callback(&other),
            json!({"type": 4, "data": {"content": ""}}),
        )
        .await;
    assert_eq!(empty.body["code"], 50006);
    let wrong = rest.post(&callback(&other), json!({"type": 7})).await;
    assert_eq!(wrong.body["code"], 50035);
    let bad_token = rest
        .post(
            &format!("/interactions/{}/nope/callback", other.id),
            json!({"type": 5}),
        )
        .await;
    assert_eq!(
        bad_token.body,
        json!({"message": "Unknown interaction", "code": 10062})
    );
}

#[tokio::test]
async fn a_callback_after_three_seconds_is_too_late() {
    let (_fake, rest, alice, general) = fake_with_ask().await;
    let interaction = alice.slash_command(general, "ask", &[("prompt", json!("slow"))]);
    tokio::time::pause();
    tokio::time::advance(Duration::from_millis(3100)).await;
    tokio::time::resume();
    let late = rest.post(&callback(&interaction), json!({"type": 5})).await;
    assert_eq!(late.status, StatusCode::NOT_FOUND);
    assert_eq!(late.body["code"], 10062);
}
