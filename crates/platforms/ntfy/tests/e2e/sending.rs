//! Sending: Markdown published with `Markdown: yes`, or plain text when
//! `NTFY_MARKDOWN` is off.

use crate::support::{TOPIC, World, replies, within};
use hermod_testkit::{ScriptedAgent, Step};

fn markdown_agent() -> ScriptedAgent {
    ScriptedAgent::scripted(|_| vec![Step::Text("**Done**: see `notes.txt`".into())])
}

#[tokio::test]
async fn markdown_replies_say_so() {
    let world = World::new().await;
    let running = world.start(markdown_agent()).await;
    within("the subscription", world.fake.wait_for_subscriptions(1)).await;
    world.fake.publish(TOPIC, "status?");
    let answered = replies(&world, 1).await;
    assert!(answered[0].markdown, "published with Markdown: yes");
    assert!(
        answered[0].message.contains("**Done**"),
        "{}",
        answered[0].message
    );
    running.stop().await;
}

#[tokio::test]
async fn without_markdown_replies_are_plain_text() {
    let world = World::new().await;
    let config = hermod_ntfy::NtfyConfig {
        markdown: false,
        ..world.config()
    };
    let running = world
        .start_with(
            markdown_agent(),
            hermod_testkit::harness::allow_all(),
            config,
        )
        .await;
    within("the subscription", world.fake.wait_for_subscriptions(1)).await;
    world.fake.publish(TOPIC, "status?");
    let answered = replies(&world, 1).await;
    assert!(!answered[0].markdown);
    assert_eq!(answered[0].message, "Done: see notes.txt");
    running.stop().await;
}
