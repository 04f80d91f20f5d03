//! Slash commands against Discord's deadline: an interaction must get its
//! initial response within three seconds of its creation (later, Discord
//! invalidates its token), so it is not held behind messages whose files
//! are still downloading.

use crate::support::{World, settled, within};
use hermod_testkit::ScriptedAgent;
use hermod_testkit::discord::{FakeFile, Post, Route};

#[tokio::test]
async fn a_slash_command_is_deferred_while_a_message_waits_on_its_download() {
    let world = World::new().await;
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    running.connected().await;
    within("the slash commands", world.fake.wait_for_commands()).await;
    let downloads = world.fake.hold_downloads();

    let alice = world.fake.user("alice");
    let alice_dm = alice.dm_channel();
    let notes = b"first line\nsecond line\n".to_vec();
    let file = FakeFile::new("notes.txt", "text/plain", notes.clone());
    alice.send(
        alice_dm,
        Post::text("what is in this file?").with_attachment(file),
    );
    within("alice's download to be held", downloads.wait_for_held(1)).await;

    let bob = world.fake.user("bob");
    let bob_dm = bob.dm_channel();
    let interaction = bob.slash_command(bob_dm, "help", &[]);
    within(
        "the interaction's callback",
        world
            .fake
            .wait_for_calls(Route::CreateInteractionResponse, 1),
    )
    .await;
    // The fake refuses a callback that comes after the deadline (10062
    // Unknown interaction), and records a reply only for one it took.
    let reply = world.fake.interaction_reply(interaction.id);
    let reply = reply.expect("the callback must come within Discord's three seconds");
    assert_eq!(reply.kind, 5, "answered deferred");
    assert_eq!(downloads.held(), 1, "alice's download is still held");
    // The command is answered in full while the message still waits.
    within(
        "the help text in the interaction's message",
        world.fake.wait_for(bob_dm, |m| {
            m.iter().any(|m| {
                m.interaction_id == Some(interaction.id) && m.current_content().contains("/new")
            })
        }),
    )
    .await;
    assert_eq!(downloads.held(), 1, "alice's download is still held");
    assert!(world.fake.bot_messages(alice_dm).is_empty());

    downloads.release();
    let answer = settled(&world.fake, alice_dm, 1).await;
    assert!(
        answer[0]
            .current_content()
            .starts_with("echo: what is in this file?"),
        "{}",
        answer[0].current_content()
    );
    // The message went on with its file, downloaded once released.
    let input = stats
        .inputs()
        .into_iter()
        .find(|input| input.starts_with("what is in this file?"))
        .unwrap();
    let marker = "[attached file: ";
    let start = input.find(marker).unwrap_or_else(|| panic!("{input}")) + marker.len();
    let rest = &input[start..];
    let path = &rest[..rest.find([' ', ']']).unwrap()];
    assert!(
        std::path::Path::new(path).starts_with(world.media_dir()),
        "{path} is not under the media directory"
    );
    assert_eq!(std::fs::read(path).unwrap(), notes);
    running.stop().await;
}
