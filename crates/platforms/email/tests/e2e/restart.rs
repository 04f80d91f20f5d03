//! Exactly once: the cursor (UIDVALIDITY and the last UID) survives a
//! restart, mail that came while the gateway was down is answered once,
//! and a changed UIDVALIDITY does not answer the mailbox again.

use crate::support::{JANE, Mail, replies, world};
use hermod_store::Store;
use hermod_testkit::ScriptedAgent;

const CURSOR_KEY: &str = "email:imap:bot@localhost/INBOX";

#[tokio::test]
async fn a_restart_answers_what_came_meanwhile_once_and_nothing_twice() {
    let Some(world) = world().await else { return };
    let running = world.start(ScriptedAgent::echo()).await;
    world.fake.deliver(&Mail::new(JANE, "Re: one", "one")).await;
    replies(&world, JANE, 1).await;
    running.stop().await;
    let saved = world
        .store
        .setting(CURSOR_KEY)
        .await
        .unwrap()
        .expect("the cursor was saved");
    let cursor: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(cursor["last_uid"], 1, "{saved}");

    // While the gateway is down.
    world.fake.deliver(&Mail::new(JANE, "Re: two", "two")).await;
    let running = world.start(ScriptedAgent::echo()).await;
    let sent = replies(&world, JANE, 2).await;
    assert!(sent[1].text.starts_with("echo: two"), "{:?}", sent[1].text);
    world
        .fake
        .deliver(&Mail::new(JANE, "Re: three", "three"))
        .await;
    let sent = replies(&world, JANE, 3).await;
    assert!(
        sent[2].text.starts_with("echo: three"),
        "{:?}",
        sent[2].text
    );
    let texts: Vec<&str> = sent.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts.iter().filter(|t| t.starts_with("echo: one")).count(),
        1,
        "one was answered twice: {texts:?}"
    );
    assert_eq!(world.fake.sent().len(), 3, "{texts:?}");
    running.stop().await;
}

#[tokio::test]
async fn a_changed_uidvalidity_skips_to_new_mail_instead_of_answering_the_mailbox() {
    let Some(world) = world().await else { return };
    let running = world.start(ScriptedAgent::echo()).await;
    world.fake.deliver(&Mail::new(JANE, "Re: old", "old")).await;
    replies(&world, JANE, 1).await;
    running.stop().await;
    // As if the mailbox had been rebuilt: the saved UIDs mean nothing, and
    // a mail the gateway never saw is in it.
    world
        .fake
        .deliver(&Mail::new(JANE, "Re: in between", "in between"))
        .await;
    world
        .store
        .set_setting(CURSOR_KEY, r#"{"uid_validity":1,"last_uid":0}"#, 0)
        .await
        .unwrap();
    let running = world.start(ScriptedAgent::echo()).await;
    running.connected().await;
    world.fake.deliver(&Mail::new(JANE, "Re: new", "new")).await;
    let sent = replies(&world, JANE, 2).await;
    assert!(sent[1].text.starts_with("echo: new"), "{:?}", sent[1].text);
    assert_eq!(
        world.fake.sent().len(),
        2,
        "the mailbox was not answered again"
    );
    running.stop().await;
}
