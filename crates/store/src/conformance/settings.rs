//! Conformance checks for settings.

use crate::Store;
use std::sync::Arc;

/// Settings are absent until set, replaced by a second set, and deleted once.
pub async fn settings_set_replace_delete(store: Arc<dyn Store>) {
    let home = "home_channel:talk";
    assert_eq!(store.setting(home).await.expect("setting"), None);
    store
        .set_setting(home, "-100123", 10)
        .await
        .expect("set_setting");
    store
        .set_setting("rate:u-1", "", 11)
        .await
        .expect("an empty value is a value");
    assert_eq!(
        store.setting(home).await.expect("setting").as_deref(),
        Some("-100123")
    );
    store
        .set_setting(home, "{\"chat\":\"Zoë ✓\"}", 20)
        .await
        .expect("replace");
    assert_eq!(
        store.setting(home).await.expect("setting").as_deref(),
        Some("{\"chat\":\"Zoë ✓\"}")
    );
    assert_eq!(
        store.setting("rate:u-1").await.expect("setting").as_deref(),
        Some("")
    );
    assert_eq!(
        store.setting("HOME_CHANNEL:talk").await.expect("setting"),
        None,
        "keys are exact"
    );

    assert!(store.delete_setting(home).await.expect("delete"));
    assert!(!store.delete_setting(home).await.expect("delete again"));
    assert!(!store.delete_setting("never-set").await.expect("delete"));
    assert_eq!(store.setting(home).await.expect("setting"), None);
    assert_eq!(
        store.setting("rate:u-1").await.expect("setting").as_deref(),
        Some("")
    );
}
