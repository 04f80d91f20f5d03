//! The cap on turns running at once (`max_concurrent_runs`): one more is
//! answered `429 rate_limit_exceeded` with `Retry-After` in OpenAI's error
//! shape, and the slot comes back when the first answer is complete.

use crate::support::{Server, Setup, json_of, streamed, user};
use hermod_testkit::{FakeLlm, Reply};
use std::time::Duration;

#[tokio::test]
async fn one_turn_over_the_cap_is_refused_until_a_slot_frees() {
    let llm = FakeLlm::start().await;
    llm.push_all([
        Reply::text("slow ".repeat(40))
            .chunk_size(5)
            .token_delay(Duration::from_millis(20)),
        Reply::text("Second."),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::llm(&llm.base_url()).config(|c| c.max_concurrent_runs = 1);
    let s = Server::with(&dir.path().join("db"), setup).await;

    let mut first = s.post(&streamed(user("a long one"))).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let refused = s.post(&user("me too")).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(
        refused.headers()["retry-after"],
        "1",
        "clients are told when to come back"
    );
    let (_, body) = json_of(refused).await;
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("API_SERVER_MAX_CONCURRENT_RUNS"),
        "{body}"
    );

    // The slot is held until the stream has ended, then given back.
    while first.chunk().await.unwrap().is_some() {}
    let (status, body) = json_of(s.post(&user("now?")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "Second.");
    s.stop().await;
}
