//! Conformance checks for leases and nodes, what gateways sharing a
//! database divide their work with.

use crate::{Node, Store};
use std::sync::Arc;

fn names(leases: &[crate::Lease]) -> Vec<&str> {
    leases.iter().map(|l| l.name.as_str()).collect()
}

/// A lease is one owner's until it runs out: others are refused, the
/// holder extends it (keeping when it was taken), and after it runs out
/// another owner takes it over; only the holder releases it.
pub async fn leases_are_exclusive_until_they_run_out(store: Arc<dyn Store>) {
    let name = "session:agent:main:chat:dm:1";
    assert_eq!(store.lease(name).await.expect("lease"), None);
    assert!(store.lease_acquire(name, "a", 100, 0).await.expect("take"));
    assert!(
        !store
            .lease_acquire(name, "b", 150, 50)
            .await
            .expect("refused"),
        "held by a until 100"
    );
    assert!(
        store
            .lease_acquire(name, "a", 200, 60)
            .await
            .expect("extend"),
        "the holder extends"
    );
    let held = store.lease(name).await.expect("lease").expect("held");
    assert_eq!(
        (held.owner.as_str(), held.acquired_at_ms, held.until_ms),
        ("a", 0, 200)
    );
    assert!(
        !store
            .lease_acquire(name, "b", 300, 199)
            .await
            .expect("refused"),
        "still live at 199"
    );
    assert!(
        store
            .lease_acquire(name, "b", 300, 200)
            .await
            .expect("take over"),
        "ran out at 200"
    );
    let held = store.lease(name).await.expect("lease").expect("held");
    assert_eq!(
        (held.owner.as_str(), held.acquired_at_ms, held.until_ms),
        ("b", 200, 300)
    );
    assert_eq!(
        store.lease_renew_all("a", 400).await.expect("renew"),
        0,
        "a lost it"
    );
    assert!(!store.lease_release(name, "a").await.expect("not a's"));
    assert!(store.lease_release(name, "b").await.expect("release"));
    assert_eq!(store.lease(name).await.expect("lease"), None);
    assert!(
        store
            .lease_acquire(name, "a", 500, 450)
            .await
            .expect("free again"),
        "a released lease is free"
    );
}

/// Live leases are listed by prefix (literally: `%` and `_` are just
/// characters), by name; a node's heartbeat renews all it holds, and
/// releasing all of a node's leases leaves the others'.
pub async fn leases_list_renew_and_release_by_owner(store: Arc<dyn Store>) {
    for (name, owner, until) in [
        ("session:b", "n1", 100),
        ("session:a", "n2", 100),
        ("session:gone", "n1", 10),
        ("sessionx", "n1", 100),
        ("receiver:chat:1", "n1", 100),
        ("odd:%_", "n2", 100),
        ("odd:ab", "n2", 100),
    ] {
        assert!(
            store
                .lease_acquire(name, owner, until, 0)
                .await
                .expect("take")
        );
    }
    let live = store.leases("session:", 50).await.expect("leases");
    assert_eq!(names(&live), ["session:a", "session:b"]);
    assert_eq!(live[0].owner, "n2");
    assert_eq!(
        names(&store.leases("odd:%", 50).await.expect("leases")),
        ["odd:%_"]
    );
    assert_eq!(store.leases("", 50).await.expect("all").len(), 6);

    assert_eq!(store.lease_renew_all("n1", 1000).await.expect("renew"), 4);
    let renewed = store.leases("session:", 500).await.expect("leases");
    assert_eq!(
        names(&renewed),
        ["session:b", "session:gone"],
        "n1's leases live on, n2's ran out"
    );
    assert_eq!(store.lease_release_all("n1").await.expect("release"), 4);
    assert_eq!(
        names(&store.leases("", 50).await.expect("leases")),
        ["odd:%_", "odd:ab", "session:a"]
    );
    assert_eq!(store.lease_purge(101).await.expect("purge"), 3);
    assert!(store.leases("", 0).await.expect("leases").is_empty());
}

/// Many owners asking for the same free lease at the same moment: exactly one gets it.
pub async fn a_lease_goes_to_exactly_one_of_many(store: Arc<dyn Store>) {
    const OWNERS: usize = 12;
    let mut tasks = Vec::new();
    for i in 0..OWNERS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let owner = format!("node-{i}");
            let got = store
                .lease_acquire("receiver:chat:abc", &owner, 10_000, 1_000)
                .await
                .expect("acquire");
            got.then_some(owner)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        if let Some(owner) = task.await.expect("task") {
            winners.push(owner);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let held = store
        .lease("receiver:chat:abc")
        .await
        .expect("lease")
        .expect("held");
    assert_eq!(held.owner, winners[0]);
}

fn node(id: &str, seen: i64) -> Node {
    Node {
        id: id.to_owned(),
        host: "host-1".to_owned(),
        pid: 4242,
        version: "0.1.0".to_owned(),
        started_at_ms: 5,
        seen_at_ms: seen,
        info_json: format!("{{\"platforms\":[\"chat\"],\"note\":\"Zoë {id}\"}}"),
    }
}

/// Nodes are recorded by heartbeat (a second one replaces the first),
/// listed by id, purged when silent and removed when they stop.
pub async fn nodes_beat_list_purge_and_remove(store: Arc<dyn Store>) {
    assert!(store.nodes().await.expect("nodes").is_empty());
    store.node_beat(&node("b", 10)).await.expect("beat");
    store.node_beat(&node("a", 10)).await.expect("beat");
    let mut again = node("b", 20);
    again.info_json = "{}".to_owned();
    store.node_beat(&again).await.expect("beat again");
    let nodes = store.nodes().await.expect("nodes");
    assert_eq!(nodes, vec![node("a", 10), again.clone()]);
    assert_eq!(store.node_purge(15).await.expect("purge"), 1);
    assert_eq!(store.nodes().await.expect("nodes"), vec![again]);
    assert!(store.node_remove("b").await.expect("remove"));
    assert!(!store.node_remove("b").await.expect("gone"));
    assert!(store.nodes().await.expect("nodes").is_empty());
}
