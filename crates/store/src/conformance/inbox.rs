//! Conformance checks for the inbox.

use crate::{InboxState, Store};
use hermod_model::PlatformId;
use std::sync::Arc;

/// A key is recorded once; states move on; unfinished entries come back
/// oldest first; done entries are pruned by age.
pub async fn inbox_records_once_and_tracks_progress(store: Arc<dyn Store>) {
    let tg = PlatformId::from_static("telegram");
    let other = PlatformId::from_static("slack");
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

    let unfinished = store.inbox_unfinished(0).await.expect("unfinished");
    let keys: Vec<(&str, &str)> = unfinished
        .iter()
        .map(|e| (e.platform.as_str(), e.key.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("telegram", "42:7"),
            ("slack", "42:7"),
            ("telegram", "42:8")
        ]
    );
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
    let unfinished = store.inbox_unfinished(1).await.expect("unfinished");
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
