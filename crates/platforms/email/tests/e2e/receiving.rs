//! Receiving: a mail answered in its thread, a reply in the same session
//! with its quote stripped, a new thread a new session.

use crate::support::{BOT, JANE, Mail, replies, world};
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
    assert_eq!(
        reply.in_reply_to.as_deref(),
        Some(first.message_id.as_str())
    );
    assert_eq!(reply.references, std::slice::from_ref(&first.message_id));
    assert_eq!(reply.auto_submitted.as_deref(), Some("auto-replied"));

    let answer = Mail::new(
        JANE,
        "Re: Plans",
        "Yes please.\n\nOn Mon, 1 Jan 2024, Agent <bot@localhost> wrote:\n> echo: Hello",
    )
    .replying_to(reply);
    world.fake.deliver(&answer).await;
    let sent = replies(&world, JANE, 2).await;
    assert_eq!(
        sent[1].text, "echo: Yes please. (2 earlier)",
        "the same session"
    );
    assert_eq!(sent[1].subject, "Re: Plans");
    assert_eq!(
        sent[1].in_reply_to.as_deref(),
        Some(answer.message_id.as_str())
    );
    assert_eq!(
        sent[1].references[0], first.message_id,
        "the root stays first"
    );
    assert_eq!(
        stats.inputs(),
        ["[Subject: Plans]\n\nHello", "Yes please."],
        "the quoted history never reached the agent"
    );

    world
        .fake
        .deliver(&Mail::new(JANE, "Other", "Unrelated"))
        .await;
    let sent = replies(&world, JANE, 3).await;
    assert_eq!(
        sent[2].text, "echo: [Subject: Other]\n\nUnrelated (0 earlier)",
        "a new thread, a new session"
    );
    running.stop().await;
}

#[tokio::test]
async fn html_only_mail_reaches_the_agent_as_text() {
    let Some(world) = world().await else { return };
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    let html = Mail::new(
        JANE,
        "Re: html",
        "<html><body><p>Hello <b>there</b></p><p>Second</p></body></html>",
    )
    .header("MIME-Version: 1.0")
    .header("Content-Type: text/html; charset=utf-8");
    world.fake.deliver(&html).await;
    replies(&world, JANE, 1).await;
    let input = &stats.inputs()[0];
    assert!(input.contains("Hello there"), "{input:?}");
    assert!(input.contains("Second"), "{input:?}");
    assert!(!input.contains('<'), "{input:?}");
    running.stop().await;
}

#[tokio::test]
async fn own_automatic_and_list_mail_is_not_answered() {
    let Some(world) = world().await else { return };
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    let skipped = [
        Mail::new(BOT, "Re: Plans", "our own reply, filed in the inbox"),
        Mail::new("Other Bot <other@example.org>", "Re: Plans", "I am away")
            .header("Auto-Submitted: auto-replied"),
        Mail::new("other@example.org", "Out of office", "away").header("X-Autoreply: yes"),
        Mail::new("list@example.org", "Digest", "news").header("List-Id: <news.example.org>"),
        Mail::new("bulk@example.org", "Offer", "buy").header("Precedence: bulk"),
        Mail::new("noreply@shop.example", "Receipt", "thanks"),
    ];
    for mail in &skipped {
        world.fake.deliver(mail).await;
    }
    world
        .fake
        .deliver(&Mail::new(JANE, "Re: real", "a person"))
        .await;
    let sent = replies(&world, JANE, 1).await;
    assert_eq!(sent[0].text, "echo: a person (0 earlier)");
    assert_eq!(
        stats.inputs(),
        ["a person"],
        "only the person's mail reached the agent"
    );
    assert_eq!(world.fake.sent().len(), 1, "nothing else was answered");
    running.stop().await;
}

#[tokio::test]
async fn a_mail_that_cannot_be_read_is_skipped_and_the_next_answered() {
    let Some(world) = world().await else { return };
    let running = world.start(ScriptedAgent::echo()).await;
    world.fake.append(b"this is not a mail at all\r\n").await;
    world
        .fake
        .append(b"Subject: no sender\r\n\r\nwho wrote this?\r\n")
        .await;
    world
        .fake
        .deliver(&Mail::new(JANE, "Re: after", "still here"))
        .await;
    let sent = replies(&world, JANE, 1).await;
    assert_eq!(sent[0].text, "echo: still here (0 earlier)");
    assert_eq!(world.fake.sent().len(), 1);
    running.stop().await;
}

#[tokio::test]
async fn unread_mail_is_answered_on_the_first_start() {
    let Some(world) = world().await else { return };
    world
        .fake
        .deliver(&Mail::new(
            JANE,
            "Re: waiting",
            "sent before the gateway ran",
        ))
        .await;
    let running = world.start(ScriptedAgent::echo()).await;
    let sent = replies(&world, JANE, 1).await;
    assert_eq!(
        sent[0].text,
        "echo: sent before the gateway ran (0 earlier)"
    );
    running.stop().await;
}

#[tokio::test]
async fn without_idle_the_mailbox_is_polled() {
    let Some(world) = world().await else { return };
    let config = hermod_email::EmailConfig {
        idle: false,
        ..world.config()
    };
    let running = world
        .start_with(
            ScriptedAgent::echo(),
            hermod_testkit::harness::allow_all(),
            config,
        )
        .await;
    running.connected().await;
    world
        .fake
        .deliver(&Mail::new(JANE, "Re: poll", "found by polling"))
        .await;
    let sent = replies(&world, JANE, 1).await;
    assert_eq!(sent[0].text, "echo: found by polling (0 earlier)");
    running.stop().await;
}

#[tokio::test]
async fn a_mail_over_the_size_limit_is_skipped_and_the_next_answered() {
    let Some(world) = world().await else { return };
    let config = hermod_email::EmailConfig {
        media_max_mb: 1,
        ..world.config()
    };
    let running = world
        .start_with(
            ScriptedAgent::echo(),
            hermod_testkit::harness::allow_all(),
            config,
        )
        .await;
    let huge = "x".repeat(76).repeat(40_000); // 3 MB of text
    world.fake.deliver(&Mail::new(JANE, "Re: big", &huge)).await;
    world
        .fake
        .deliver(&Mail::new(JANE, "Re: small", "small"))
        .await;
    let sent = replies(&world, JANE, 1).await;
    assert_eq!(sent[0].text, "echo: small (0 earlier)");
    assert_eq!(world.fake.sent().len(), 1);
    running.stop().await;
}
