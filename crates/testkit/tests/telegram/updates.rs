//! `getUpdates`: offsets, limits, filters, long polling and conflicts;
//! the shape of the updates users produce.

use super::Client;
use hermod_testkit::telegram::{FakeTelegram, Fault};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;

fn ids(updates: &Value) -> Vec<i64> {
    updates
        .as_array()
        .map(|u| u.iter().filter_map(|u| u["update_id"].as_i64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn offsets_confirm_updates_and_limit_caps_a_batch() {
    let fake = FakeTelegram::start().await;
    let bot = Client::new(&fake);
    let alice = fake.user(1001, "Alice");
    assert_eq!(alice.dm("one"), 1);
    assert_eq!(alice.dm("two"), 2, "message ids count up per chat");
    alice.dm("three");

    let all = bot.ok("getUpdates", json!({})).await;
    let all_ids = ids(&all);
    assert_eq!(all_ids.len(), 3);
    assert!(all_ids.windows(2).all(|w| w[1] == w[0] + 1));
    assert_eq!(all[0]["message"]["text"], "one");
    assert_eq!(fake.confirmed_offset(), 0, "nothing confirmed yet");

    let first = bot.ok("getUpdates", json!({"limit": 1})).await;
    assert_eq!(ids(&first), &all_ids[..1]);

    let rest = bot
        .ok("getUpdates", json!({"offset": all_ids[0] + 1}))
        .await;
    assert_eq!(ids(&rest), &all_ids[1..]);
    assert_eq!(fake.confirmed_offset(), all_ids[0] + 1);

    let none = bot
        .ok(
            "getUpdates",
            json!({"offset": all_ids[2] + 1, "timeout": 0}),
        )
        .await;
    assert_eq!(none, json!([]));
    assert!(fake.pending_updates().is_empty());
    fake.wait_for_confirmed(all_ids[2]).await;

    alice.dm("four");
    alice.dm("five");
    let newest = bot.ok("getUpdates", json!({"offset": -1})).await;
    assert_eq!(
        newest[0]["message"]["text"], "five",
        "a negative offset keeps the newest"
    );
    assert_eq!(fake.pending_updates().len(), 1);
}

#[tokio::test]
async fn a_long_poll_wakes_as_soon_as_an_update_arrives() {
    let fake = FakeTelegram::start().await;
    let bot = Client::new(&fake);
    let started = Instant::now();
    let poll = {
        let bot = Client::new(&fake);
        tokio::spawn(async move { bot.ok("getUpdates", json!({"timeout": 30})).await })
    };
    fake.wait_for_calls("getUpdates", 1).await;
    fake.user(1001, "Alice").dm("wake up");
    let updates = poll.await.unwrap();
    assert_eq!(updates[0]["message"]["text"], "wake up");
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(bot);
}

#[tokio::test(start_paused = true)]
async fn a_long_poll_without_updates_ends_empty_after_its_timeout() {
    let fake = FakeTelegram::start().await;
    let bot = Client::new(&fake);
    let started = Instant::now();
    let updates = bot.ok("getUpdates", json!({"timeout": 25})).await;
    assert_eq!(updates, json!([]));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(25) && waited < Duration::from_secs(40),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_newer_poll_ends_an_older_one_with_a_conflict() {
    let fake = FakeTelegram::start().await;
    let older = {
        let bot = Client::new(&fake);
        tokio::spawn(async move { bot.error("getUpdates", json!({"timeout": 30})).await })
    };
    fake.wait_for_calls("getUpdates", 1).await;
    let bot = Client::new(&fake);
    assert_eq!(bot.ok("getUpdates", json!({})).await, json!([]));
    let (status, description) = older.await.unwrap();
    assert_eq!(status, 409);
    assert!(description.starts_with("Conflict: terminated by other getUpdates request"));
}

#[tokio::test]
async fn allowed_updates_filter_but_raw_updates_always_arrive() {
    let fake = FakeTelegram::start().await;
    let bot = Client::new(&fake);
    let alice = fake.user(1001, "Alice");
    let id = alice.dm("original");
    alice.edit(1001, id, "edited");
    let poll = fake.push_raw_update(json!({"update_id": 1, "poll": {"id": "p1", "question": "?"}}));

    let updates = bot
        .ok("getUpdates", json!({"allowed_updates": ["message"]}))
        .await;
    let kinds: Vec<bool> = updates
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.get("message").is_some())
        .collect();
    assert_eq!(kinds, [true, false], "the edit is dropped, the poll kept");
    assert_eq!(updates[1]["update_id"], poll, "raw updates get the next id");
    assert_eq!(updates[1]["poll"]["id"], "p1");
    assert_eq!(fake.allowed_updates(), Some(vec!["message".to_owned()]));

    // The setting sticks until changed.
    alice.edit(1001, id, "again");
    alice.dm("next");
    let updates = bot.ok("getUpdates", json!({})).await;
    assert_eq!(updates.as_array().unwrap().len(), 3);
    let updates = bot.ok("getUpdates", json!({"allowed_updates": []})).await;
    assert_eq!(updates.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn user_messages_look_like_telegrams() {
    let fake = FakeTelegram::start().await;
    let bot = Client::new(&fake);
    let alice = fake.user(1001, "Alice");
    alice.command("start");
    alice.in_group(-100_500, "hey @hermod_test_bot 😀");
    alice.in_topic(-100_600, 40, "in a topic");
    let edited = alice.dm("typo");
    alice.edit(1001, edited, "fixed");
    fake.from_bot(-100_500, "beep");

    let updates = bot.ok("getUpdates", json!({})).await;
    let command = &updates[0]["message"];
    assert_eq!(command["text"], "/start");
    assert_eq!(
        command["chat"],
        json!({"id": 1001, "first_name": "Alice", "username": "alice", "type": "private"})
    );
    assert_eq!(command["from"]["is_bot"], false);
    assert_eq!(
        command["entities"],
        json!([{"type": "bot_command", "offset": 0, "length": 6}])
    );
    assert!(command["date"].as_u64().unwrap() > 1_600_000_000);

    let group = &updates[1]["message"];
    assert_eq!(group["chat"]["type"], "supergroup");
    assert_eq!(group["chat"]["id"], -100_500);
    assert_eq!(
        group["entities"],
        json!([{"type": "mention", "offset": 4, "length": 16}])
    );

    let topic = &updates[2]["message"];
    assert_eq!(topic["message_thread_id"], 40);
    assert_eq!(topic["is_topic_message"], true);
    assert_eq!(topic["chat"]["is_forum"], true);
    assert_eq!(
        topic["message_id"], 41,
        "after the topic's creation message"
    );
    assert_eq!(topic["reply_to_message"]["message_id"], 40);
    assert!(topic["reply_to_message"]["forum_topic_created"].is_object());

    let edit = &updates[4]["edited_message"];
    assert_eq!(edit["message_id"], edited);
    assert_eq!(edit["text"], "fixed");
    assert!(edit["edit_date"].is_u64());

    let other_bot = &updates[5]["message"];
    assert_eq!(other_bot["from"]["is_bot"], true);
    assert_eq!(other_bot["chat"]["id"], -100_500);
}

#[tokio::test]
async fn replies_to_the_bot_carry_the_bots_message() {
    let fake = FakeTelegram::start().await;
    let bot = Client::new(&fake);
    let alice = fake.user(1001, "Alice");
    alice.dm("hi");
    let sent = bot
        .ok("sendMessage", json!({"chat_id": 1001, "text": "hello"}))
        .await;
    let bot_id = sent["message_id"].as_i64().unwrap();
    alice.reply_to_bot(1001, bot_id, "thanks");
    let updates = bot.ok("getUpdates", json!({})).await;
    let reply = &updates[1]["message"];
    assert_eq!(reply["reply_to_message"]["message_id"], bot_id);
    assert_eq!(reply["reply_to_message"]["from"]["is_bot"], true);
    assert_eq!(
        reply["reply_to_message"]["from"]["username"],
        "hermod_test_bot"
    );
    assert_eq!(reply["message_id"], bot_id + 1);
}

#[tokio::test]
async fn a_malformed_update_is_served_as_given_until_an_offset_passes_its_place() {
    let fake = FakeTelegram::start().await;
    let bot = Client::new(&fake);
    let alice = fake.user(1001, "Alice");
    alice.dm("before");
    let place = fake.push_malformed_update(json!({"message": {"text": "no id"}}));
    alice.dm("after");

    let all = bot.ok("getUpdates", json!({})).await;
    assert_eq!(all.as_array().map(Vec::len), Some(3));
    assert_eq!(
        all[1],
        json!({"message": {"text": "no id"}}),
        "served as given"
    );
    let good = ids(&all);
    assert_eq!(good, [place - 1, place + 1]);

    // An offset up to its place keeps serving it; one past it confirms it.
    let rest = bot.ok("getUpdates", json!({"offset": place})).await;
    assert_eq!(rest.as_array().map(Vec::len), Some(2));
    let rest = bot.ok("getUpdates", json!({"offset": place + 1})).await;
    assert_eq!(ids(&rest), [place + 1]);
    assert_eq!(fake.pending_updates().len(), 1);
}

#[tokio::test]
async fn a_not_found_fault_answers_like_a_malformed_token() {
    let fake = FakeTelegram::start().await;
    let bot = Client::new(&fake);
    fake.fail_next("getUpdates", Fault::NotFound);
    assert_eq!(
        bot.error("getUpdates", json!({})).await,
        (404, "Not Found".to_owned())
    );
    assert_eq!(bot.ok("getUpdates", json!({})).await, json!([]));
}
