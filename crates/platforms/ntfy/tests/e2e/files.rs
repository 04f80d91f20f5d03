//! Files both ways: a file published to the topic is downloaded from the
//! server for the agent (never an external URL, never for a topic core
//! refuses); a reply's `MEDIA:` file is published as an attachment.

use crate::support::{TOPIC, World, replies, within};
use hermod_core::GatewayConfig;
use hermod_testkit::ScriptedAgent;
use hermod_testkit::ntfy::{NtfyFile, NtfyMessage};

#[tokio::test]
async fn a_file_published_to_the_topic_reaches_the_agent() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    within("the subscription", world.fake.wait_for_subscriptions(1)).await;
    world.fake.publish_file(
        TOPIC,
        "what is in it?",
        "notes.txt",
        "text/plain",
        b"milk, eggs",
    );
    replies(&world, 1).await;
    let input = stats.inputs().remove(0);
    assert!(input.starts_with("what is in it?"), "{input}");
    let marker = "[attached file: ";
    let start = input
        .find(marker)
        .unwrap_or_else(|| panic!("no file in {input}"))
        + marker.len();
    let path = input[start..].split(" (").next().unwrap();
    assert!(
        std::path::Path::new(path).starts_with(world.media_dir()),
        "{path}"
    );
    assert_eq!(std::fs::read(path).unwrap(), b"milk, eggs");
    assert_eq!(world.fake.downloads(), 1);
    running.stop().await;
}

#[tokio::test]
async fn an_attachment_elsewhere_stays_a_link_and_is_not_fetched() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    within("the subscription", world.fake.wait_for_subscriptions(1)).await;
    world.fake.publish_message(NtfyMessage {
        id: String::new(),
        time: 0,
        topic: TOPIC.into(),
        message: "look".into(),
        title: None,
        tags: Vec::new(),
        markdown: false,
        attachment: false,
        by_client: false,
        file: Some(NtfyFile {
            name: "metadata".into(),
            mime: "text/plain".into(),
            bytes: Vec::new(),
            url: "http://169.254.169.254/latest/meta-data".into(),
        }),
    });
    replies(&world, 1).await;
    let input = stats.inputs().remove(0);
    assert!(
        input.contains("[attachment: metadata http://169.254.169.254/latest/meta-data]"),
        "{input}"
    );
    assert!(!input.contains("[attached"), "nothing downloaded: {input}");
    running.stop().await;
}

#[tokio::test]
async fn a_topic_not_allowed_has_its_file_left_on_the_server() {
    let world = World::new().await;
    let running = world
        .start_with(
            ScriptedAgent::echo(),
            GatewayConfig::default(),
            world.config(),
        )
        .await;
    within("the subscription", world.fake.wait_for_subscriptions(1)).await;
    world
        .fake
        .publish_file(TOPIC, "", "big.bin", "application/octet-stream", b"0123");
    let answered = replies(&world, 1).await;
    assert!(
        answered[0].message.contains("pairing code"),
        "{}",
        answered[0].message
    );
    assert_eq!(
        world.fake.downloads(),
        0,
        "nothing fetched for a topic core refuses"
    );
    running.stop().await;
}

#[tokio::test]
async fn a_replys_file_is_published_as_an_attachment() {
    let world = World::new().await;
    let media = world.media_dir();
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join("report 📊.csv"), b"a,b\n1,2\n").unwrap();
    let reply = format!(
        "Here it is.\nMEDIA:{}",
        media.join("report 📊.csv").display()
    );
    let running = world
        .start(ScriptedAgent::scripted(move |_| {
            vec![hermod_testkit::Step::Text(reply.clone())]
        }))
        .await;
    within("the subscription", world.fake.wait_for_subscriptions(1)).await;
    world.fake.publish(TOPIC, "the report?");
    let published = replies(&world, 2).await;
    assert_eq!(published[0].message, "Here it is.");
    let file = published[1]
        .file
        .as_ref()
        .unwrap_or_else(|| panic!("the second message carries the file: {published:?}"));
    assert_eq!(file.name, "report 📊.csv", "the name, UTF-8 and all");
    assert_eq!(file.bytes, b"a,b\n1,2\n");
    assert!(
        published[1].tags.iter().any(|t| t == "hermod"),
        "tagged as ours"
    );
    running.stop().await;
}
