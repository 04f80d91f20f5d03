//! Conformance checks for messages, full-text search and concurrent writes.

use super::{append, at, create, sid};
use crate::{AppendMessages, NewMessage, Store};
use hermod_model::{
    ChatMessage, Content, ContentPart, ImageUrl, PlatformId, Role, ToolCall, Usage,
};
use std::sync::Arc;

/// Appends keep their order, ids increase, and the session's counters add up.
pub async fn append_keeps_order_and_counts(store: Arc<dyn Store>) {
    create(&*store, "m", "talk", 1_000).await;
    let first = AppendMessages {
        session: sid("m"),
        messages: vec![
            at(ChatMessage::user("one"), 2_000),
            at(ChatMessage::assistant("two"), 2_500),
            at(ChatMessage::user("three"), 2_200),
        ],
        usage: Usage {
            prompt_tokens: 10,
            completion_tokens: 5,
            total_tokens: 15,
        },
    };
    let ids1 = store.append_messages(first).await.expect("append");
    let after_first = store
        .session(&sid("m"))
        .await
        .expect("session")
        .expect("exists");
    assert_eq!(
        after_first.updated_at_ms, 2_500,
        "updated_at is the latest message's time"
    );

    // Older timestamps never move updated_at back; an empty batch only adds usage.
    let second = AppendMessages {
        session: sid("m"),
        messages: vec![
            at(ChatMessage::user("four"), 1_500),
            at(ChatMessage::user("five"), 1_600),
        ],
        usage: Usage {
            prompt_tokens: 7,
            completion_tokens: 3,
            total_tokens: 10,
        },
    };
    let ids2 = store.append_messages(second).await.expect("append");
    let usage_only = AppendMessages {
        session: sid("m"),
        messages: Vec::new(),
        usage: Usage {
            prompt_tokens: 1,
            completion_tokens: 1,
            total_tokens: 2,
        },
    };
    assert!(
        store
            .append_messages(usage_only)
            .await
            .expect("append")
            .is_empty()
    );

    let ids: Vec<i64> = ids1.iter().chain(&ids2).copied().collect();
    assert_eq!(ids.len(), 5);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids must increase: {ids:?}"
    );

    let stored = store.messages(&sid("m")).await.expect("messages");
    let texts: Vec<String> = stored.iter().map(|m| m.message.text()).collect();
    assert_eq!(texts, ["one", "two", "three", "four", "five"]);
    assert_eq!(stored.iter().map(|m| m.id).collect::<Vec<_>>(), ids);
    assert!(stored.iter().all(|m| m.session == sid("m")));

    let s = store
        .session(&sid("m"))
        .await
        .expect("session")
        .expect("exists");
    assert_eq!(s.message_count, 5);
    assert_eq!((s.prompt_tokens, s.completion_tokens), (18, 9));
    assert_eq!(s.updated_at_ms, 2_500);

    // A session without messages has an empty history, not an error.
    create(&*store, "quiet", "talk", 1).await;
    assert!(
        store
            .messages(&sid("quiet"))
            .await
            .expect("messages")
            .is_empty()
    );
}

/// Every kind of message reads back exactly as it was appended.
pub async fn messages_round_trip_exactly(store: Arc<dyn Store>) {
    create(&*store, "rt", "api", 1).await;
    let parts = Content::Parts(vec![
        ContentPart::Text {
            text: "what is in\nthis picture?".into(),
        },
        ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: "data:image/png;base64,AAAA".into(),
                detail: Some("low".into()),
            },
        },
        ContentPart::Text {
            text: "second part".into(),
        },
    ]);
    let calls = vec![
        ToolCall {
            id: "call_1".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Oslo"}"#.into(),
        },
        ToolCall {
            id: "call_2".into(),
            name: "noop".into(),
            arguments: String::new(),
        },
    ];
    let messages = [
        ChatMessage::system("You are terse. «Quotes» and 'apostrophes' and \"doubles\"."),
        ChatMessage::user(parts),
        ChatMessage {
            content: None,
            tool_calls: calls.clone(),
            ..ChatMessage::assistant("")
        },
        ChatMessage {
            content: Some(Content::Text("thinking".into())),
            tool_calls: calls,
            ..ChatMessage::assistant("")
        },
        ChatMessage {
            role: Role::Tool,
            content: Some(Content::Text(r#"{"temp_c": -3}"#.into())),
            tool_calls: Vec::new(),
            tool_call_id: Some("call_1".into()),
            name: Some("get_weather".into()),
        },
        ChatMessage::user(""),
        ChatMessage::user(Content::Parts(Vec::new())),
        ChatMessage::assistant("emoji 🦀, CJK 漢字, RTL שלום, NUL-free \u{7f} end"),
    ];
    let new: Vec<NewMessage> = messages
        .into_iter()
        .enumerate()
        .map(|(i, message)| NewMessage {
            message,
            at_ms: 10 + i as i64,
            platform_message_id: (i % 2 == 0).then(|| format!("pm-{i}")),
        })
        .collect();
    let ids = append(&*store, "rt", new.clone()).await;

    let stored = store.messages(&sid("rt")).await.expect("messages");
    assert_eq!(stored.len(), new.len());
    for ((got, want), id) in stored.iter().zip(&new).zip(&ids) {
        assert_eq!(got.message, want.message);
        assert_eq!(got.at_ms, want.at_ms);
        assert_eq!(got.platform_message_id, want.platform_message_id);
        assert_eq!((got.id, &got.session), (*id, &sid("rt")));
    }
}

/// Search finds messages by their words, case- and accent-insensitively,
/// requires every word, and ranks the best match first.
pub async fn search_finds_words(store: Arc<dyn Store>) {
    create(&*store, "s1", "talk", 1).await;
    create(&*store, "s2", "board", 1).await;
    let filler = "and then we talked about the weather and the traffic for a while";
    let parts = Content::Parts(vec![ContentPart::Text {
        text: "an albatross in a picture".into(),
    }]);
    let ids1 = append(
        &*store,
        "s1",
        vec![
            at(ChatMessage::user("Where is the LIGHTHOUSE keeper?"), 100),
            at(
                ChatMessage::assistant("The keeper went to the café by the harbour."),
                200,
            ),
            at(ChatMessage::user(parts), 300),
        ],
    )
    .await;
    let ids2 = append(
        &*store,
        "s2",
        vec![
            at(ChatMessage::user(format!("{filler} zebra {filler}")), 400),
            at(ChatMessage::assistant("zebra zebra zebra"), 500),
        ],
    )
    .await;

    let hits = store.search("lighthouse", 10).await.expect("search");
    assert_eq!(hits.len(), 1, "{hits:?}");
    let hit = &hits[0];
    assert_eq!(
        (&hit.session, hit.message_id, hit.role, hit.at_ms),
        (&sid("s1"), ids1[0], Role::User, 100)
    );
    assert!(
        hit.snippet.to_lowercase().contains("lighthouse"),
        "snippet: {:?}",
        hit.snippet
    );

    let hits = store.search("keeper", 10).await.expect("search");
    assert_eq!(hits.len(), 2);
    let hits = store.search("keeper harbour", 10).await.expect("search");
    assert_eq!(
        hits.iter().map(|h| h.message_id).collect::<Vec<_>>(),
        [ids1[1]]
    );
    let hits = store.search("cafe", 10).await.expect("search");
    assert_eq!(
        hits.iter().map(|h| h.message_id).collect::<Vec<_>>(),
        [ids1[1]]
    );
    let hits = store.search("albatross", 10).await.expect("search");
    assert_eq!(
        hits.iter().map(|h| h.message_id).collect::<Vec<_>>(),
        [ids1[2]]
    );
    assert!(
        store
            .search("lighthouse zebra", 10)
            .await
            .expect("search")
            .is_empty()
    );
    assert!(
        store
            .search("unicorn", 10)
            .await
            .expect("search")
            .is_empty()
    );

    let hits = store.search("zebra", 10).await.expect("search");
    assert_eq!(
        hits.iter().map(|h| h.message_id).collect::<Vec<_>>(),
        [ids2[1], ids2[0]]
    );
    assert!(hits.iter().all(|h| h.session == sid("s2")));
}

/// Search returns at most `limit` hits; 0 means a default of at least 10.
pub async fn search_respects_limit(store: Arc<dyn Store>) {
    create(&*store, "l", "talk", 1).await;
    let many = (0..12)
        .map(|i| at(ChatMessage::user(format!("needle number {i}")), i))
        .collect();
    append(&*store, "l", many).await;
    assert_eq!(store.search("needle", 3).await.expect("search").len(), 3);
    assert_eq!(store.search("needle", 1).await.expect("search").len(), 1);
    assert_eq!(store.search("needle", 100).await.expect("search").len(), 12);
    assert!(store.search("needle", 0).await.expect("search").len() >= 10);
}

/// No input is a query syntax error; quotes and operators are just text.
pub async fn search_survives_hostile_queries(store: Arc<dyn Store>) {
    create(&*store, "h", "talk", 1).await;
    let ids = append(
        &*store,
        "h",
        vec![
            at(ChatMessage::user(r#"she said foo"bar loudly"#), 1),
            at(ChatMessage::user("cats AND dogs, NOT birds"), 2),
        ],
    )
    .await;
    let long = "word ".repeat(300);
    let hostile = [
        r#"foo"bar"#,
        "\"",
        "\"\"",
        "'",
        "AND",
        "OR",
        "NOT",
        "NEAR",
        "NEAR(a b)",
        "*",
        "a*",
        "-x",
        "+x",
        "a:b",
        "body:foo",
        "^a",
        "(",
        ")",
        "((a)",
        "{a b}",
        "[a]",
        "a OR",
        "OR a",
        "\\",
        "'; DROP TABLE messages; --",
        "%",
        "_",
        "a\u{0}b",
        "\u{0301}",
        "🦀",
        "\t\n",
        &long,
    ];
    for query in hostile {
        if let Err(e) = store.search(query, 5).await {
            panic!("search({query:?}) must not fail: {e:?}");
        }
    }
    let hits = store.search(r#"foo"bar"#, 5).await.expect("search");
    assert_eq!(
        hits.iter().map(|h| h.message_id).collect::<Vec<_>>(),
        [ids[0]]
    );
    let hits = store.search("AND", 5).await.expect("search");
    assert_eq!(
        hits.iter().map(|h| h.message_id).collect::<Vec<_>>(),
        [ids[1]]
    );
    assert_eq!(
        store.messages(&sid("h")).await.expect("still intact").len(),
        2
    );
}

/// An empty or blank query finds nothing (and is not an error).
pub async fn empty_query_finds_nothing(store: Arc<dyn Store>) {
    create(&*store, "q", "talk", 1).await;
    append(
        &*store,
        "q",
        vec![at(ChatMessage::user("anything at all"), 1)],
    )
    .await;
    for query in ["", " ", "\n\t "] {
        assert!(
            store.search(query, 10).await.expect("search").is_empty(),
            "{query:?}"
        );
    }
}

/// Eight tasks appending to eight sessions at once: every message lands, in order.
pub async fn concurrent_appends_all_land(store: Arc<dyn Store>) {
    const TASKS: usize = 8;
    const BATCHES: usize = 10;
    for t in 0..TASKS {
        create(&*store, &format!("c{t}"), "talk", 1).await;
    }
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let store = Arc::clone(&store);
        handles.push(tokio::spawn(async move {
            let id = format!("c{t}");
            for b in 0..BATCHES {
                let append = AppendMessages {
                    session: sid(&id),
                    messages: vec![
                        at(ChatMessage::user(format!("q {t} {b}")), b as i64),
                        at(ChatMessage::assistant(format!("a {t} {b}")), b as i64),
                    ],
                    usage: Usage {
                        prompt_tokens: 2,
                        completion_tokens: 1,
                        total_tokens: 3,
                    },
                };
                store
                    .append_messages(append)
                    .await
                    .expect("concurrent append");
                // Reads interleave with the writes of the other tasks.
                store.session(&sid(&id)).await.expect("concurrent read");
            }
        }));
    }
    for handle in handles {
        handle.await.expect("append task panicked");
    }
    for t in 0..TASKS {
        let id = sid(&format!("c{t}"));
        let s = store.session(&id).await.expect("session").expect("exists");
        assert_eq!(s.message_count, (2 * BATCHES) as u64);
        assert_eq!(
            (s.prompt_tokens, s.completion_tokens),
            (2 * BATCHES as u64, BATCHES as u64)
        );
        let texts: Vec<String> = store
            .messages(&id)
            .await
            .expect("messages")
            .iter()
            .map(|m| m.message.text())
            .collect();
        let want: Vec<String> = (0..BATCHES)
            .flat_map(|b| [format!("q {t} {b}"), format!("a {t} {b}")])
            .collect();
        assert_eq!(texts, want);
    }
}

/// A search on one platform sees only that platform's sessions, even when
/// other platforms match better and more often than the limit.
pub async fn search_platform_sees_only_its_sessions(store: Arc<dyn Store>) {
    create(&*store, "ours-1", "talk", 1).await;
    create(&*store, "ours-2", "talk", 2).await;
    create(&*store, "theirs", "chat", 3).await;
    append(
        &*store,
        "ours-1",
        vec![at(ChatMessage::user("the zebra plan"), 10)],
    )
    .await;
    append(
        &*store,
        "ours-2",
        vec![at(ChatMessage::assistant("a zebra again"), 11)],
    )
    .await;
    let loud: Vec<_> = (0..30)
        .map(|i| at(ChatMessage::user("zebra zebra zebra"), 20 + i))
        .collect();
    append(&*store, "theirs", loud).await;

    let talk = PlatformId::new("talk");
    let hits = store
        .search_platform(&talk, "zebra", 2)
        .await
        .expect("search_platform");
    let mut sessions: Vec<_> = hits.iter().map(|h| h.session.as_str().to_owned()).collect();
    sessions.sort();
    assert_eq!(sessions, ["ours-1", "ours-2"]);
    assert!(hits.iter().all(|h| h.snippet.contains(">>>zebra<<<")));
    let elsewhere = store
        .search_platform(&PlatformId::new("mail"), "zebra", 0)
        .await
        .expect("search_platform");
    assert!(elsewhere.is_empty(), "{elsewhere:?}");
    assert!(
        store
            .search_platform(&talk, " * ", 0)
            .await
            .expect("search_platform")
            .is_empty()
    );
}
