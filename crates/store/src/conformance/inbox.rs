//! Conformance checks for the inbox.

use crate::{AppendMessages, InboxState, InboxTurn, NewMessage, Store, StoreError};
use hermod_model::{ChatMessage, PlatformId};
use std::sync::Arc;

/// A key is recorded once; states move on; unfinished entries come back
/// oldest first; done entries are pruned by age.
pub async fn inbox_records_once_and_tracks_progress(store: Arc<dyn Store>) {
    let tg = PlatformId::from_static("talk");
    let other = PlatformId::from_static("room");
    assert!(
        store
            .inbox_record(&tg, "42:7", "{\"a\":1}", 10)
            .await
            .expect("record")
    );
    assert!(
        !store
            .inbox_record(&tg, "42:7", "{\"a\":2}", 11)
            .await
            .expect("record again"),
        "a key is recorded once"
    );
    assert!(
        store
            .inbox_record(&other, "42:7", "{}", 12)
            .await
            .expect("same key, other platform")
    );
    assert!(
        store
            .inbox_record(&tg, "42:8", "{}", 13)
            .await
            .expect("record")
    );

    let unfinished = store.inbox_unfinished(0, 0).await.expect("unfinished");
    let keys: Vec<(&str, &str)> = unfinished
        .iter()
        .map(|e| (e.platform.as_str(), e.key.as_str()))
        .collect();
    assert_eq!(keys, [("talk", "42:7"), ("room", "42:7"), ("talk", "42:8")]);
    assert_eq!(
        unfinished[0].event_json, "{\"a\":1}",
        "the first recording stands"
    );
    assert_eq!(unfinished[0].state, InboxState::Received);

    assert!(
        store
            .inbox_set_state(&tg, "42:7", InboxState::Started, 20)
            .await
            .expect("start")
    );
    assert!(
        store
            .inbox_set_state(&other, "42:7", InboxState::Done, 21)
            .await
            .expect("done")
    );
    assert!(
        !store
            .inbox_set_state(&tg, "nope", InboxState::Done, 22)
            .await
            .expect("unknown key")
    );
    let unfinished = store.inbox_unfinished(0, 1).await.expect("unfinished");
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].state, InboxState::Started);

    assert_eq!(
        store.inbox_prune(21).await.expect("prune"),
        0,
        "only entries touched before the cut"
    );
    assert_eq!(store.inbox_prune(22).await.expect("prune"), 1);
    assert!(
        store
            .inbox_record(&other, "42:7", "{}", 30)
            .await
            .expect("pruned keys can be recorded again")
    );
}

/// Unfinished entries page by `seq` through any number of them.
pub async fn inbox_unfinished_pages_through_everything(store: Arc<dyn Store>) {
    let tg = PlatformId::from_static("talk");
    for i in 0..2_500 {
        store
            .inbox_record(&tg, &format!("k{i}"), "{}", i)
            .await
            .expect("record");
    }
    store
        .inbox_set_state(&tg, "k3", InboxState::Done, 10)
        .await
        .expect("done");
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let page = store.inbox_unfinished(after, 0).await.expect("page");
        let Some(last) = page.last() else { break };
        after = last.seq;
        assert!(page.len() <= 1000, "a default page holds at most 1000");
        seen.extend(page.into_iter().map(|e| e.key));
    }
    assert_eq!(seen.len(), 2_499, "every unfinished entry, once");
    assert_eq!(seen[0], "k0");
    assert!(!seen.contains(&"k3".to_owned()));
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len());
}

/// Starting a turn stores its user message and links it to the inbound
/// messages in one step; previews are recorded per message.
pub async fn inbox_start_turn_links_the_user_message(store: Arc<dyn Store>) {
    let tg = PlatformId::from_static("talk");
    let session = store
        .create_session(super::new_session("s-inbox", "talk", 1))
        .await
        .expect("session");
    for key in ["c:1", "c:2", "c:3"] {
        store.inbox_record(&tg, key, "{}", 1).await.expect("record");
    }
    let append = |text: &str| AppendMessages {
        session: session.id.clone(),
        messages: vec![NewMessage {
            message: ChatMessage::user(text),
            at_ms: 5,
            platform_message_id: Some("2".into()),
        }],
        usage: Default::default(),
    };
    let keys = vec!["c:1".to_owned(), "c:2".to_owned(), "ghost".to_owned()];
    let ids = store
        .inbox_start_turn(append("hi"), &tg, &keys, 6)
        .await
        .expect("start");
    assert_eq!(ids.len(), 1);
    for key in ["c:1", "c:2"] {
        let entry = store
            .inbox_entry(&tg, key)
            .await
            .expect("entry")
            .expect("recorded");
        assert_eq!(entry.state, InboxState::Started);
        assert_eq!(
            entry.turn,
            Some(InboxTurn {
                session: session.id.clone(),
                message_id: ids[0],
            })
        );
        assert!(entry.preview_ids.is_empty());
    }
    let untouched = store
        .inbox_entry(&tg, "c:3")
        .await
        .expect("entry")
        .expect("recorded");
    assert_eq!(untouched.state, InboxState::Received);
    assert_eq!(untouched.turn, None);
    assert!(
        store
            .inbox_entry(&tg, "ghost")
            .await
            .expect("entry")
            .is_none()
    );
    assert_eq!(
        store.messages(&session.id).await.expect("messages").len(),
        1
    );

    // Neither happens when the append cannot.
    let orphan = AppendMessages {
        session: super::sid("s-missing"),
        ..append("lost")
    };
    let err = store
        .inbox_start_turn(orphan, &tg, &["c:3".to_owned()], 7)
        .await
        .expect_err("unknown session");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let still = store
        .inbox_entry(&tg, "c:3")
        .await
        .expect("entry")
        .expect("recorded");
    assert_eq!(still.state, InboxState::Received);

    store
        .inbox_set_previews(&tg, &keys, &["m1".to_owned(), "m2".to_owned()], 8)
        .await
        .expect("previews");
    let entry = store
        .inbox_entry(&tg, "c:2")
        .await
        .expect("entry")
        .expect("recorded");
    assert_eq!(entry.preview_ids, ["m1", "m2"]);
    let unfinished = store.inbox_unfinished(0, 0).await.expect("unfinished");
    assert_eq!(unfinished.len(), 3);
    assert_eq!(unfinished[0].preview_ids, ["m1", "m2"]);
    assert!(unfinished[0].turn.is_some());
}
