//! Faults: long replies split, a 429 on publishing waited out, a refused
//! token stopping the adapter.

use crate::support::{Ntfy, TOPIC, World, replies, within};
use hermod_testkit::harness::PlatformUnderTest;
use hermod_testkit::ntfy::FakeNtfy;
use hermod_testkit::ntfy::Fault;
use hermod_testkit::{ScriptedAgent, Step};

#[tokio::test]
async fn a_long_reply_is_split_at_4096_bytes() {
    let world = World::new().await;
    // 3000 three-byte characters with spaces: about 12 KB.
    let long: String = (0..3000)
        .map(|i| if i % 10 == 9 { ' ' } else { 'é' })
        .collect::<String>()
        + &"ü".repeat(1500);
    let expected = long.clone();
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(expected.clone())]);
    let running = world.start(agent).await;
    within("the subscription", world.fake.wait_for_subscriptions(1)).await;
    world.fake.publish(TOPIC, "write a lot");
    let pieces = replies(&world, 3).await;
    for piece in &pieces {
        assert!(piece.message.len() <= 4096, "{} bytes", piece.message.len());
        assert!(!piece.attachment, "ntfy kept a piece as an attachment");
    }
    // Each piece ends with the splitter's `(i/n)` marker.
    let n = pieces.len();
    let joined: String = pieces
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let marker = format!("({}/{n})", i + 1);
            m.message
                .trim_end()
                .strip_suffix(&marker)
                .unwrap_or_else(|| panic!("piece {i} ends with {marker}"))
        })
        .collect();
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    assert_eq!(squash(&joined), squash(&long), "no character lost");
    running.stop().await;
}

#[tokio::test]
async fn a_rate_limited_publish_is_sent_once_after_the_wait() {
    let world = World::new().await;
    world.fake.fail_next(
        "publish",
        Fault::RateLimited {
            retry_after: Some(1),
        },
    );
    let running = world.start(ScriptedAgent::echo()).await;
    within("the subscription", world.fake.wait_for_subscriptions(1)).await;
    world.fake.publish(TOPIC, "hi");
    let answered = replies(&world, 1).await;
    assert!(answered[0].message.starts_with("echo: hi"));
    world.fake.publish(TOPIC, "and then");
    let answered = replies(&world, 2).await;
    assert_eq!(answered.len(), 2, "the reply was published once");
    running.stop().await;
}

#[tokio::test]
async fn a_refused_token_stops_the_adapter_with_a_hint() {
    let world = World::on(FakeNtfy::builder().with_token("tk_right").start().await);
    let mut config = Ntfy::config(&world);
    config.token = Some(hermod_model::Secret::new("tk_wrong"));
    let running = world
        .start_with(
            ScriptedAgent::echo(),
            hermod_testkit::harness::allow_all(),
            config,
        )
        .await;
    let reason = running.failed().await;
    assert!(reason.contains("NTFY_TOKEN"), "{reason}");
    assert!(!reason.contains("tk_wrong"), "{reason}");
    assert_eq!(world.fake.refused(), 1, "no retry loop");
    running.stop().await;
}
