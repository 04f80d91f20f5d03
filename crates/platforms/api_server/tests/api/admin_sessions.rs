//! `/api/sessions` over real HTTP: sessions made by chat completions are
//! listed (newest first, paged, by platform, by search), read, renamed,
//! ended and deleted, and their messages read; unknown ids are 404, the
//! key is required, and a server without the store says so.

use crate::support::{KEY, Server, Setup, json_of, streamed, user};
use hermod_model::{ChatMessage, PlatformId, SessionId, SessionKey, Source, Usage};
use hermod_store::{AppendMessages, NewMessage, NewSession, Store};
use hermod_testkit::{ScriptedAgent, Step};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// A server whose agent echoes each message.
async fn echo_server(dir: &tempfile::TempDir) -> Server {
    Server::with(&dir.path().join("db"), Setup::echo()).await
}

/// One chat turn in the session `id`.
async fn chat(s: &Server, id: &str, text: &str) {
    let body = json!({"model": "hermod", "messages": [{"role": "user", "content": text}]});
    let response = s
        .post(&body)
        .header("X-Hermod-Session-Id", id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

async fn get(s: &Server, path: &str) -> (u16, Value) {
    let response = s
        .http
        .get(format!("{}{path}", s.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    json_of(response).await
}

async fn patch(s: &Server, path: &str, body: &Value) -> (u16, Value) {
    let response = s
        .http
        .patch(format!("{}{path}", s.base))
        .bearer_auth(KEY)
        .json(body)
        .send()
        .await
        .unwrap();
    json_of(response).await
}

async fn delete(s: &Server, path: &str) -> (u16, Value) {
    let response = s
        .http
        .delete(format!("{}{path}", s.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    json_of(response).await
}

fn ids(list: &Value) -> Vec<&str> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect()
}

/// A chat platform's session, written as its adapter's turns would.
async fn telegram_session(store: &dyn Store, text: &str) -> SessionId {
    let id = SessionId::parse("20260101_120000_0badcafe").unwrap();
    let mut source = Source::dm(PlatformId::from_static("telegram"), "5551234");
    source.user_id = Some("5551234".into());
    store
        .create_session(NewSession {
            id: id.clone(),
            key: SessionKey::from_raw("agent:main:telegram:dm:5551234"),
            source,
            created_at_ms: 1,
        })
        .await
        .unwrap();
    store
        .append_messages(AppendMessages {
            session: id.clone(),
            messages: vec![NewMessage {
                message: ChatMessage::user(text),
                at_ms: 2,
                platform_message_id: None,
            }],
            usage: Usage::default(),
        })
        .await
        .unwrap();
    id
}

/// A message appended to session `id` at `at_ms`.
async fn note(store: &dyn Store, id: &str, at_ms: i64) {
    store
        .append_messages(AppendMessages {
            session: SessionId::parse(id).unwrap(),
            messages: vec![NewMessage {
                message: ChatMessage::user("one more thing"),
                at_ms,
                platform_message_id: None,
            }],
            usage: Usage::default(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn sessions_are_listed_newest_first_paged_and_by_platform() {
    let dir = tempfile::tempdir().unwrap();
    let s = echo_server(&dir).await;
    let telegram = telegram_session(s.store.as_ref(), "hello from a phone").await;
    for id in ["s-a", "s-b", "s-c"] {
        chat(&s, id, &format!("hello {id}")).await;
    }
    // Later activity, a second apart, so the order does not hang on the
    // milliseconds the turns took.
    let now = hermod_core::now_ms();
    for (n, id) in ["s-a", "s-b", "s-c"].into_iter().enumerate() {
        let at_ms = now + 1000 * (i64::try_from(n).unwrap() + 1);
        note(s.store.as_ref(), id, at_ms).await;
    }

    let (status, all) = get(&s, "/api/sessions").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["object"], "list");
    // Every platform's sessions: the key's holder is the operator.
    assert_eq!(ids(&all), ["s-c", "s-b", "s-a", telegram.as_str()]);
    assert_eq!(all["has_more"], false);
    let first = &all["data"][0];
    assert_eq!(first["source"], "api_server");
    assert_eq!(first["message_count"], 3);
    assert!(first["started_at"].as_f64().unwrap() > 1.0e9, "{first}");
    assert!(first["last_active"].as_f64() >= first["started_at"].as_f64());
    assert!(first["ended_at"].is_null());
    assert!(first["title"].is_null());
    // Hermes' preview: the start of the first user message.
    assert_eq!(first["preview"], "hello s-c");

    let (_, page) = get(&s, "/api/sessions?limit=2").await;
    assert_eq!(ids(&page), ["s-c", "s-b"]);
    assert_eq!(
        (page["limit"].as_u64(), page["has_more"].as_bool()),
        (Some(2), Some(true))
    );
    let (_, page) = get(&s, "/api/sessions?limit=2&offset=2").await;
    assert_eq!(ids(&page), ["s-a", telegram.as_str()]);
    assert_eq!(page["has_more"], false);
    // Hermes' `source` filter, and hermod's `platform` name for it.
    let (_, phone) = get(&s, "/api/sessions?source=telegram").await;
    assert_eq!(ids(&phone), [telegram.as_str()]);
    assert_eq!(phone["data"][0]["chat_id"], "5551234");
    assert_eq!(phone["data"][0]["user_id"], "5551234");
    let (_, api) = get(&s, "/api/sessions?platform=api_server").await;
    assert_eq!(ids(&api), ["s-c", "s-b", "s-a"]);
    s.stop().await;
}

#[tokio::test]
async fn a_session_is_read_renamed_and_ended_and_its_messages_listed() {
    let dir = tempfile::tempdir().unwrap();
    let s = echo_server(&dir).await;
    chat(&s, "trip", "plan a trip to Lisbon").await;
    chat(&s, "trip", "and a day in Sintra").await;

    let (status, one) = get(&s, "/api/sessions/trip").await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["object"], "hermes.session");
    assert_eq!(one["session"]["id"], "trip");
    assert_eq!(one["session"]["message_count"], 4);

    let (status, renamed) = patch(
        &s,
        "/api/sessions/trip",
        &json!({"title": "  Lisbon\ttrip "}),
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["session"]["title"], "Lisbon trip");
    let (_, listed) = get(&s, "/api/sessions").await;
    assert_eq!(listed["data"][0]["title"], "Lisbon trip");
    let (_, cleared) = patch(&s, "/api/sessions/trip", &json!({"title": null})).await;
    assert!(cleared["session"]["title"].is_null(), "{cleared}");

    let (status, messages) = get(&s, "/api/sessions/trip/messages").await;
    assert_eq!(status, 200, "{messages}");
    assert_eq!(messages["session_id"], "trip");
    assert_eq!(messages["total"], 4);
    let data = messages["data"].as_array().unwrap();
    let roles: Vec<&str> = data.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    assert_eq!(data[0]["content"], "plan a trip to Lisbon");
    assert!(
        data[1]["content"]
            .as_str()
            .unwrap()
            .contains("plan a trip to Lisbon")
    );
    assert_eq!(data[1]["partial"], false);
    assert!(data[0]["timestamp"].as_f64().unwrap() > 1.0e9);
    assert!(data[0]["id"].as_i64() < data[1]["id"].as_i64());
    // Paged.
    let (_, page) = get(&s, "/api/sessions/trip/messages?offset=2&limit=1").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["content"], "and a day in Sintra");
    assert_eq!(page["has_more"], true);

    let (status, ended) = patch(
        &s,
        "/api/sessions/trip",
        &json!({"end_reason": "user_closed"}),
    )
    .await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["session"]["end_reason"], "user_closed");
    assert!(ended["session"]["ended_at"].as_f64().is_some());
    s.stop().await;
}

#[tokio::test]
async fn a_reply_cut_off_is_listed_as_partial() {
    let dir = tempfile::tempdir().unwrap();
    let agent = ScriptedAgent::scripted(|_| vec![Step::Text("half an ans".into()), Step::CutOff]);
    let s = Server::with(&dir.path().join("db"), Setup::agent(Arc::new(agent))).await;
    let body = json!({"model": "hermod", "messages": [{"role": "user", "content": "tell me"}]});
    let response = s
        .post(&body)
        .header("X-Hermod-Session-Id", "cut")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let (_, messages) = get(&s, "/api/sessions/cut/messages").await;
    let reply = &messages["data"][1];
    assert_eq!(reply["role"], "assistant", "{messages}");
    assert_eq!(reply["partial"], true);
    assert_eq!(reply["finish_reason"], "incomplete");
    assert!(
        reply["content"]
            .as_str()
            .unwrap()
            .starts_with("half an ans")
    );
    s.stop().await;
}

#[tokio::test]
async fn search_finds_sessions_by_their_messages() {
    let dir = tempfile::tempdir().unwrap();
    let s = echo_server(&dir).await;
    let telegram = telegram_session(s.store.as_ref(), "a banana smoothie recipe").await;
    chat(&s, "fruit", "where do bananas grow? banana plantations").await;
    chat(&s, "cars", "which car is fastest").await;

    let (status, found) = get(&s, "/api/sessions?q=banana").await;
    assert_eq!(status, 200, "{found}");
    let mut found_ids = ids(&found);
    found_ids.sort_unstable();
    assert_eq!(found_ids, [telegram.as_str(), "fruit"]);
    let fruit = found["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "fruit")
        .unwrap();
    let matches = fruit["matches"].as_array().unwrap();
    assert!(!matches.is_empty());
    assert!(
        matches[0]["snippet"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("banana")
    );
    assert!(matches[0]["message_id"].as_i64().is_some());
    // Filtered by platform, and paged.
    let (_, api) = get(&s, "/api/sessions?q=banana&source=api_server").await;
    assert_eq!(ids(&api), ["fruit"]);
    let (_, first) = get(&s, "/api/sessions?q=banana&limit=1").await;
    assert_eq!(first["data"].as_array().unwrap().len(), 1);
    assert_eq!(first["has_more"], true);
    let (_, second) = get(&s, "/api/sessions?q=banana&limit=1&offset=1").await;
    assert_eq!(second["has_more"], false);
    assert_ne!(ids(&first), ids(&second));
    let (_, none) = get(&s, "/api/sessions?q=zeppelin").await;
    assert!(ids(&none).is_empty());
    s.stop().await;
}

#[tokio::test]
async fn a_platforms_search_is_not_crowded_out_by_busier_platforms() {
    let dir = tempfile::tempdir().unwrap();
    let s = echo_server(&dir).await;
    let telegram = telegram_session(s.store.as_ref(), "banana").await;
    // More, and better, matches on another platform than a search reads.
    let loud: Vec<_> = (0..600)
        .map(|i| NewMessage {
            message: ChatMessage::user("banana banana banana"),
            at_ms: 10 + i,
            platform_message_id: None,
        })
        .collect();
    s.store
        .append_messages(AppendMessages {
            session: telegram,
            messages: loud,
            usage: Usage::default(),
        })
        .await
        .unwrap();
    chat(&s, "fruit", "where do bananas grow? banana plantations").await;
    for filter in ["platform", "source"] {
        let (status, api) = get(&s, &format!("/api/sessions?q=banana&{filter}=api_server")).await;
        assert_eq!(status, 200, "{api}");
        assert_eq!(ids(&api), ["fruit"], "{filter}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_deleted_session_is_gone_with_its_messages() {
    let dir = tempfile::tempdir().unwrap();
    let s = echo_server(&dir).await;
    chat(&s, "doomed", "remember the word xylophone").await;
    chat(&s, "kept", "hello").await;

    let (status, deleted) = delete(&s, "/api/sessions/doomed").await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(
        deleted,
        json!({"object": "hermes.session.deleted", "id": "doomed", "deleted": true})
    );
    assert_eq!(get(&s, "/api/sessions/doomed").await.0, 404);
    assert_eq!(get(&s, "/api/sessions/doomed/messages").await.0, 404);
    assert_eq!(delete(&s, "/api/sessions/doomed").await.0, 404);
    let (_, listed) = get(&s, "/api/sessions").await;
    assert_eq!(ids(&listed), ["kept"]);
    let (_, found) = get(&s, "/api/sessions?q=xylophone").await;
    assert!(ids(&found).is_empty(), "{found}");
    let id = SessionId::parse("doomed").unwrap();
    assert!(s.store.session(&id).await.unwrap().is_none());
    // The id can start a conversation again, from nothing.
    chat(&s, "doomed", "hello again").await;
    let (_, again) = get(&s, "/api/sessions/doomed").await;
    assert_eq!(again["session"]["message_count"], 2);
    s.stop().await;
}

#[tokio::test]
async fn a_session_deleted_mid_turn_stays_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let agent = ScriptedAgent::scripted(|r| match r.input.text().as_str() {
        "slow" => vec![
            Step::Text("working on it".into()),
            Step::Sleep(Duration::from_secs(3600)),
        ],
        _ => vec![Step::Text("quick".into())],
    });
    let s = Server::with(&dir.path().join("db"), Setup::agent(Arc::new(agent))).await;
    let mut running = s
        .post(&streamed(user("slow")))
        .header("X-Hermod-Session-Id", "busy")
        .send()
        .await
        .unwrap();
    // The turn has shown text: it is running.
    let mut seen = String::new();
    while !seen.contains("working on it") {
        let chunk = running.chunk().await.unwrap().expect("the stream goes on");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let (status, deleted) = delete(&s, "/api/sessions/busy").await;
    assert_eq!((status, deleted["deleted"].as_bool()), (200, Some(true)));
    // The client leaves: the turn stops, and its partial reply has no
    // session to go to.
    drop(running);
    // The same id starts afresh; nothing of the stopped turn comes back.
    chat(&s, "busy", "hello again").await;
    let (_, messages) = get(&s, "/api/sessions/busy/messages").await;
    let texts: Vec<&str> = messages["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["hello again", "quick"], "{messages}");
    s.stop().await;
}

#[tokio::test]
async fn unknown_sessions_are_404_and_the_key_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let s = echo_server(&dir).await;
    chat(&s, "mine", "hello").await;
    for path in [
        "/api/sessions/nope",
        "/api/sessions/nope/messages",
        "/api/sessions/..%2Fetc",
    ] {
        let (status, error) = get(&s, path).await;
        assert_eq!(status, 404, "{path}: {error}");
        assert_eq!(error["error"]["code"], "session_not_found");
    }
    let (status, error) = patch(&s, "/api/sessions/nope", &json!({"title": "x"})).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (404, Some("session_not_found"))
    );
    assert_eq!(delete(&s, "/api/sessions/nope").await.0, 404);

    for path in [
        "/api/sessions",
        "/api/sessions/mine",
        "/api/sessions/mine/messages",
    ] {
        let url = format!("{}{path}", s.base);
        let none = s.http.get(&url).send().await.unwrap();
        let wrong = s
            .http
            .get(&url)
            .bearer_auth("wrong-key-0123456789")
            .send()
            .await
            .unwrap();
        for response in [none, wrong] {
            let (status, error) = json_of(response).await;
            assert_eq!(status, 401, "{path}");
            assert_eq!(error["error"]["code"], "invalid_api_key");
        }
    }
    let response = s
        .http
        .delete(format!("{}/api/sessions/mine", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(get(&s, "/api/sessions/mine").await.0, 200, "still there");
    s.stop().await;
}

#[tokio::test]
async fn a_rename_names_what_it_cannot_change() {
    let dir = tempfile::tempdir().unwrap();
    let s = echo_server(&dir).await;
    chat(&s, "mine", "hello").await;
    let cases = [
        (json!({"model": "other"}), "unsupported_session_field"),
        (json!({"title": 7}), "invalid_title"),
        (json!({"title": "x".repeat(201)}), "invalid_title"),
        (json!({"end_reason": ""}), "invalid_end_reason"),
    ];
    for (body, code) in cases {
        let (status, error) = patch(&s, "/api/sessions/mine", &body).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["error"]["code"], code, "{body}");
    }
    let response = s
        .http
        .patch(format!("{}/api/sessions/mine", s.base))
        .bearer_auth(KEY)
        .body("not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    let (status, error) = json_of(response).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );
    let (_, one) = get(&s, "/api/sessions/mine").await;
    assert!(one["session"]["title"].is_null(), "nothing changed");
    s.stop().await;
}

#[tokio::test]
async fn without_the_store_sessions_are_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let mut setup = Setup::echo();
    setup.store_for_api = false;
    let s = Server::with(&dir.path().join("db"), setup).await;
    for path in [
        "/api/sessions",
        "/api/sessions/any",
        "/api/sessions/any/messages",
    ] {
        let (status, error) = get(&s, path).await;
        assert_eq!(status, 503, "{path}: {error}");
        assert_eq!(error["error"]["code"], "session_db_unavailable");
    }
    s.stop().await;
}
