//! Receiving: a mail answered in its thread, a reply in the same session
//! with its quote stripped, a new thread a new session.

use crate::support::{JANE, Mail, replies, world};
use hermod_testkit::ScriptedAgent;

#[tokio::test]
async fn a_mail_is_answered_in_its_thread_and_a_reply_continues_the_session() {
    let Some(world) = world().await else { return };
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    let first = Mail::new("Jane Doe <jane@example.org>", "Plans", "Hello");
    world.fake.deliver(&first).await;
    let sent = replies(&world, JANE, 1).await;
    let reply = &sent[0];
    assert_eq!(reply.text, "echo: [Subject: Plans]\n\nHello (0 earlier)");
    assert_eq!(reply.subject, "Re: Plans");
    assert_eq!(reply.from, crate::support::BOT);
    assert_eq!(reply.in_reply_to.as_deref(), Some(first.message_id.as_str()));
    assert_eq!(reply.references, [first.message_id.clone()]);
    assert_eq!(reply.auto_submitted.as_deref(), Some("auto-replied"));

    let answer = Mail::new(JANE, "Re: Plans", "Yes please.\n\nOn Mon, 1 Jan 2024, Agent <bot@localhost> wrote:\n> echo: Hello")
        .replying_to(reply);
    world.fake.deliver(&answer).await;
    let sent = replies(&world, JANE, 2).await;
    assert_eq!(sent[1].text, "echo: Yes please. (2 earlier)", "the same session");
    assert_eq!(sent[1].subject, "Re: Plans");
    assert_eq!(sent[1].in_reply_to.as_deref(), Some(answer.message_id.as_str()));
    assert_eq!(sent[1].references[0], first.message_id, "the root stays first");
    assert_eq!(
        stats.inputs(),
        ["[Subject: Plans]\n\nHello", "Yes please."],
        "the quoted history never reached the agent"
    );

    world.fake.deliver(&Mail::new(JANE, "Other", "Unrelated")).await;
    let sent = replies(&world, JANE, 3).await;
    assert_eq!(sent[2].text, "echo: [Subject: Other]\n\nUnrelated (0 earlier)", "a new thread, a new session");
    running.stop().await;
}
