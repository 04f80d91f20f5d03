//! Sending through a gateway: Markdown as plain text, long replies cut
//! into lines that fit 512 bytes as the server relays them, never inside
//! a character.

use crate::support::{World, ngircd, user};
use hermod_testkit::{ScriptedAgent, Step};

#[tokio::test]
async fn markdown_becomes_plain_text() {
    if ngircd().is_none() {
        return;
    }
    let world = World::new().await;
    let alice = user(&world, "alice").await;
    let agent = ScriptedAgent::scripted(|_| {
        vec![Step::Text(
            "**Done**: see `notes.txt`\n\n- one\n- two".into(),
        )]
    });
    let running = world.start(agent).await;
    let bot = world.fake.nick.clone();
    alice.wait_online(&bot).await;
    alice.say(&bot, "status?").await;
    let answered = alice.wait_messages(&bot, &alice.nick, 3).await;
    assert_eq!(answered, ["Done: see notes.txt", "• one", "• two"]);
    running.stop().await;
}

#[tokio::test]
async fn long_lines_fit_512_bytes_as_relayed_and_keep_every_character() {
    if ngircd().is_none() {
        return;
    }
    let world = World::new().await;
    let alice = user(&world, "alice").await;
    let words: Vec<String> = (0..300)
        .map(|i| {
            if i % 3 == 0 {
                format!("élan{i}🙂")
            } else {
                format!("word{i}")
            }
        })
        .collect();
    let long = words.join(" ");
    let reply = long.clone();
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(reply.clone())]);
    let mut config = world.config();
    // One part: the cut into lines is the adapter's alone.
    config.max_message_length = 65536;
    let running = world
        .start_with(agent, hermod_testkit::harness::allow_all(), config)
        .await;
    let bot = world.fake.nick.clone();
    alice.wait_online(&bot).await;
    alice.say(&bot, "talk a lot").await;
    let total = long.len();
    let answered = hermod_testkit::harness::within("the whole reply", async {
        loop {
            let got = alice.wait_messages(&bot, &alice.nick, 1).await;
            if got.iter().map(|l| l.len() + 1).sum::<usize>() > total {
                return got;
            }
            alice.sync().await;
        }
    })
    .await;
    assert!(answered.len() >= 4, "{} lines", answered.len());
    assert_eq!(answered.join(" "), long, "no character lost or broken");
    for heard in alice.heard().iter().filter(|h| h.command == "PRIVMSG") {
        assert!(
            heard.raw.len() + 2 <= 512,
            "a relayed line is {} bytes",
            heard.raw.len() + 2
        );
    }
    running.stop().await;
}
