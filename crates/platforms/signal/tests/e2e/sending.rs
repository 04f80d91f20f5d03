//! Sending: Markdown as text with `textStyle` ranges, long replies split
//! within 8000 UTF-16 units, 👀 and ✅ on the user's message, typing.

use crate::support::{USER, World, listening, replies};
use hermod_testkit::{ScriptedAgent, Step};

#[tokio::test]
async fn markdown_is_sent_as_text_with_style_ranges() {
    let world = World::new().await;
    let agent = ScriptedAgent::scripted(|_| {
        vec![Step::Text(
            "👋 **Done**: see `notes.txt` and ~~old~~ *new*".into(),
        )]
    });
    let running = world.start(agent).await;
    listening(&world, 1).await;
    world.fake.user_says(USER, "status?");
    let sent = replies(&world, 1).await;
    assert_eq!(sent[0].message, "👋 Done: see notes.txt and old new");
    // 👋 is two UTF-16 units: "Done" starts at 3.
    assert_eq!(
        sent[0].text_styles,
        [
            "3:4:BOLD",
            "13:9:MONOSPACE",
            "27:3:STRIKETHROUGH",
            "31:3:ITALIC"
        ]
    );
    running.stop().await;
}

#[tokio::test]
async fn a_long_reply_is_split_within_8000_utf16_units() {
    let world = World::new().await;
    // Emoji are two units each: 6000 of them and words are well over
    // one message.
    let long: String = (0..3000).map(|i| format!("😀word{i} ")).collect();
    let expected = long.clone();
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(expected.clone())]);
    let running = world.start(agent).await;
    listening(&world, 1).await;
    world.fake.user_says(USER, "write a lot");
    // About 32 000 units: four messages or more, the last with the last word.
    let pieces = crate::support::within("the whole reply", async {
        let mut n = 4;
        loop {
            let sent = world.fake.wait_for_sent(n).await;
            if sent.iter().any(|m| m.message.contains("word2999")) {
                return sent;
            }
            n = sent.len() + 1;
        }
    })
    .await;
    for piece in &pieces {
        let units = piece.message.encode_utf16().count();
        assert!(units <= 8000, "{units} units");
    }
    let joined: String = pieces
        .iter()
        .map(|p| p.message.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    for i in 0..3000 {
        assert!(joined.contains(&format!("😀word{i}")), "word{i} lost");
    }
    running.stop().await;
}

#[tokio::test]
async fn the_users_message_gets_eyes_then_a_check_and_typing_shows() {
    let world = World::new().await;
    let running = world
        .start(ScriptedAgent::with_delay(std::time::Duration::from_millis(
            300,
        )))
        .await;
    listening(&world, 1).await;
    let at = world.fake.user_says(USER, "hi");
    replies(&world, 1).await;
    let reactions = crate::support::within("two reactions", world.fake.wait_for_reactions(2)).await;
    let emoji: Vec<&str> = reactions.iter().map(|r| r.emoji.as_str()).collect();
    assert_eq!(emoji, ["👀", "✅"]);
    for reaction in &reactions {
        assert_eq!(reaction.target_author, USER);
        assert_eq!(reaction.target_timestamp, at);
        assert_eq!(reaction.recipients, [USER]);
        assert!(!reaction.remove);
    }
    let typing = world.fake.typing();
    assert!(!typing.is_empty(), "typing was shown");
    assert_eq!(typing[0].recipients, [USER]);
    running.stop().await;
}

#[tokio::test]
async fn reactions_are_off_with_signal_reactions_false() {
    let world = World::new().await;
    let config = hermod_signal::SignalConfig {
        reactions: false,
        ..world.config()
    };
    let running = world
        .start_with(
            ScriptedAgent::echo(),
            hermod_testkit::harness::allow_all(),
            config,
        )
        .await;
    listening(&world, 1).await;
    world.fake.user_says(USER, "hi");
    replies(&world, 1).await;
    world.fake.user_says(USER, "again");
    replies(&world, 2).await;
    assert!(
        world.fake.reactions().is_empty(),
        "{:?}",
        world.fake.reactions()
    );
    running.stop().await;
}
