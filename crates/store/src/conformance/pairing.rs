//! Conformance checks for DM pairing: pending requests and approved users.

use crate::{ApprovedUser, PendingPairing, Store};
use hermod_model::PlatformId;
use std::sync::Arc;

/// A pending request on `platform` for `user`, created at `at` and valid for 100 ms.
fn request(platform: &str, user: &str, at: i64) -> PendingPairing {
    PendingPairing {
        id: -1,
        platform: PlatformId::new(platform),
        user_id: user.to_owned(),
        user_name: Some(format!("{user} Ünïcode")),
        code_hash: format!("hash-{user}-{at}"),
        salt: format!("salt-{at}"),
        created_at_ms: at,
        expires_at_ms: at + 100,
    }
}

fn approved(platform: &str, user: &str, at: i64) -> ApprovedUser {
    ApprovedUser {
        platform: PlatformId::new(platform),
        user_id: user.to_owned(),
        user_name: None,
        approved_at_ms: at,
    }
}

fn users(pending: &[PendingPairing]) -> Vec<&str> {
    pending.iter().map(|p| p.user_id.as_str()).collect()
}

/// Requests get fresh ids, read back exactly, list oldest first, filter by
/// platform, hide once expired, and are removed one by one or by purging.
pub async fn pending_pairings_list_expire_and_purge(store: Arc<dyn Store>) {
    let talk = PlatformId::new("talk");
    let plan = [
        request("talk", "t-late", 30),
        request("board", "d-1", 10),
        request("talk", "t-early", 20),
        request("talk", "t-early", 20),
    ];
    let mut ids = Vec::new();
    for p in &plan {
        ids.push(
            store
                .add_pending_pairing(p.clone())
                .await
                .expect("add_pending_pairing"),
        );
    }
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids are fresh and increase: {ids:?}"
    );

    let all = store.pending_pairings(None, 0).await.expect("pending");
    assert_eq!(users(&all), ["d-1", "t-early", "t-early", "t-late"]);
    assert_eq!(all[1].id, ids[2], "ties in time fall back to the id");
    let want = PendingPairing {
        id: ids[0],
        ..plan[0].clone()
    };
    assert_eq!(all[3], want, "a request reads back exactly");

    let only = store
        .pending_pairings(Some(&talk), 0)
        .await
        .expect("pending");
    assert_eq!(users(&only), ["t-early", "t-early", "t-late"]);
    assert!(
        store
            .pending_pairings(Some(&PlatformId::new("room")), 0)
            .await
            .expect("pending")
            .is_empty()
    );

    // d-1 expires at 110, t-early at 120, t-late at 130; expiry is exclusive.
    let at_120 = store.pending_pairings(None, 120).await.expect("pending");
    assert_eq!(users(&at_120), ["t-late"]);
    let at_110 = store.pending_pairings(None, 110).await.expect("pending");
    assert_eq!(users(&at_110), ["t-early", "t-early", "t-late"]);

    assert!(store.remove_pending_pairing(ids[3]).await.expect("remove"));
    assert!(
        !store
            .remove_pending_pairing(ids[3])
            .await
            .expect("remove again")
    );
    assert!(!store.remove_pending_pairing(-42).await.expect("remove"));
    assert_eq!(store.purge_expired_pairings(0).await.expect("purge"), 0);
    assert_eq!(store.purge_expired_pairings(120).await.expect("purge"), 2);
    assert_eq!(store.purge_expired_pairings(120).await.expect("purge"), 0);
    let left = store.pending_pairings(None, 0).await.expect("pending");
    assert_eq!(users(&left), ["t-late"]);
}

/// Approving a user upserts the approval and clears that user's pending
/// requests on that platform only.
pub async fn approve_clears_pending_requests(store: Arc<dyn Store>) {
    let talk = PlatformId::new("talk");
    for p in [
        request("talk", "u-1", 1),
        request("talk", "u-1", 2),
        request("board", "u-1", 3),
        request("talk", "u-2", 4),
    ] {
        store.add_pending_pairing(p).await.expect("add");
    }
    assert!(!store.is_approved(&talk, "u-1").await.expect("check"));

    let mut user = approved("talk", "u-1", 50);
    user.user_name = Some("Zoë".to_owned());
    store.approve_user(user.clone()).await.expect("approve");
    assert!(store.is_approved(&talk, "u-1").await.expect("check"));
    assert!(
        !store
            .is_approved(&PlatformId::new("board"), "u-1")
            .await
            .expect("check"),
        "approval is per platform"
    );
    assert!(!store.is_approved(&talk, "U-1").await.expect("check"));
    let pending = store.pending_pairings(None, 0).await.expect("pending");
    let left: Vec<(&str, &str)> = pending
        .iter()
        .map(|p| (p.platform.as_str(), p.user_id.as_str()))
        .collect();
    assert_eq!(left, [("board", "u-1"), ("talk", "u-2")]);
    assert_eq!(
        store.approved_users(None).await.expect("approved"),
        [user.clone()]
    );

    // Approving again replaces the name and time; still one approval.
    let again = approved("talk", "u-1", 70);
    store.approve_user(again.clone()).await.expect("re-approve");
    assert_eq!(
        store.approved_users(Some(&talk)).await.expect("approved"),
        [again]
    );
}

/// Approved users list by platform, then approval time; revoking removes one.
pub async fn approved_users_order_and_revoke(store: Arc<dyn Store>) {
    let talk = PlatformId::new("talk");
    for user in [
        approved("talk", "late", 30),
        approved("board", "d", 40),
        approved("talk", "early", 10),
        approved("talk", "a-tie", 30),
    ] {
        store.approve_user(user).await.expect("approve");
    }
    let listed = |users: Vec<ApprovedUser>| -> Vec<String> {
        users
            .into_iter()
            .map(|u| format!("{}:{}", u.platform, u.user_id))
            .collect()
    };
    let all = store.approved_users(None).await.expect("approved");
    assert_eq!(
        listed(all),
        ["board:d", "talk:early", "talk:a-tie", "talk:late"]
    );
    let only = store.approved_users(Some(&talk)).await.expect("approved");
    assert_eq!(listed(only), ["talk:early", "talk:a-tie", "talk:late"]);
    assert!(
        store
            .approved_users(Some(&PlatformId::new("room")))
            .await
            .expect("approved")
            .is_empty()
    );

    assert!(store.revoke_user(&talk, "late").await.expect("revoke"));
    assert!(
        !store
            .revoke_user(&talk, "late")
            .await
            .expect("revoke again")
    );
    assert!(
        !store
            .revoke_user(&PlatformId::new("board"), "early")
            .await
            .expect("revoke elsewhere")
    );
    assert!(!store.is_approved(&talk, "late").await.expect("check"));
    assert!(store.is_approved(&talk, "early").await.expect("check"));
    assert_eq!(store.approved_users(None).await.expect("approved").len(), 3);
}
