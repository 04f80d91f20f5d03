//! Sending: Markdown reduced to plain text, a long reply split into mails
//! of at most 50,000 characters in the same thread, files in (saved into
//! the media directory) and out (MIME parts).

use crate::support::{JANE, Mail, replies, world};
use hermod_testkit::{ScriptedAgent, Step};

#[tokio::test]
async fn markdown_is_mailed_as_plain_text() {
    let Some(world) = world().await else { return };
    let agent = ScriptedAgent::scripted(|_| {
        vec![Step::Text("**Bold** and `code`.\n\n- one\n- two".into())]
    });
    let running = world.start(agent).await;
    world
        .fake
        .deliver(&Mail::new(JANE, "Re: md", "format?"))
        .await;
    let sent = replies(&world, JANE, 1).await;
    let text = &sent[0].text;
    assert!(text.starts_with("Bold and code."), "{text:?}");
    assert!(!text.contains("**") && !text.contains('`'), "{text:?}");
    running.stop().await;
}

#[tokio::test]
async fn a_long_reply_is_split_into_threaded_mails_within_the_limit() {
    let Some(world) = world().await else { return };
    let line = "word ".repeat(19) + "end\n";
    let long = line.repeat(1300); // 130,000 characters
    let expected_words = long.split_whitespace().count();
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(long.clone())]);
    let running = world.start(agent).await;
    let asked = Mail::new(JANE, "Essay", "write a lot");
    world.fake.deliver(&asked).await;
    let sent = replies(&world, JANE, 3).await;
    assert_eq!(
        sent.len(),
        3,
        "130,000 characters in 50,000-character mails"
    );
    for mail in &sent {
        assert!(mail.text.chars().count() <= hermod_email::MAX_MESSAGE_CHARS);
        assert_eq!(mail.subject, "Re: Essay");
        assert_eq!(mail.in_reply_to.as_deref(), Some(asked.message_id.as_str()));
    }
    let parts: Vec<String> = sent.iter().map(|m| m.text.clone()).collect();
    let whole = hermod_model::text::reassemble(&parts);
    assert_eq!(
        whole.split_whitespace().count(),
        expected_words,
        "no word lost"
    );
    let mut ids: Vec<&str> = sent.iter().map(|m| m.message_id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "each part its own Message-ID");
    running.stop().await;
}

#[tokio::test]
async fn an_attachment_is_saved_and_handed_to_the_agent() {
    let Some(world) = world().await else { return };
    let agent = ScriptedAgent::echo();
    let stats = agent.stats();
    let running = world.start(agent).await;
    let mail = Mail::new(JANE, "Re: report", "")
        .header("MIME-Version: 1.0")
        .header("Content-Type: multipart/mixed; boundary=b");
    let mail = Mail {
        body: "--b\nContent-Type: text/plain\n\nsee attached\n--b\nContent-Type: text/plain; name=notes.txt\nContent-Disposition: attachment; filename=notes.txt\nContent-Transfer-Encoding: base64\n\nbm90ZXMgZm9yIHRoZSBhZ2VudA==\n--b--".into(),
        ..mail
    };
    world.fake.deliver(&mail).await;
    replies(&world, JANE, 1).await;
    let input = &stats.inputs()[0];
    assert!(input.starts_with("see attached"), "{input:?}");
    let note = input
        .lines()
        .find(|l| l.contains("[attached"))
        .expect("a note for the file");
    let path = note
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.split(" (").next())
        .unwrap();
    assert!(
        path.starts_with(&world.media_dir().display().to_string()),
        "{path}"
    );
    assert!(path.ends_with("notes.txt"), "{path}");
    assert_eq!(std::fs::read(path).unwrap(), b"notes for the agent");
    running.stop().await;
}

#[tokio::test]
async fn a_replys_file_is_attached_to_the_mail() {
    let Some(world) = world().await else { return };
    let media = world.media_dir();
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join("report.pdf"), b"%PDF-1.4\n% a tiny report\n").unwrap();
    let reply = format!("Here it is.\nMEDIA:{}", media.join("report.pdf").display());
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(reply.clone())]);
    let running = world.start(agent).await;
    world
        .fake
        .deliver(&Mail::new(JANE, "Report", "send it"))
        .await;
    let sent = replies(&world, JANE, 1).await;
    assert_eq!(sent[0].text, "Here it is.");
    assert_eq!(
        sent[0].files,
        [(
            "report.pdf".to_owned(),
            b"%PDF-1.4\n% a tiny report\n".to_vec()
        )],
        "the text and its file in one mail"
    );
    assert_eq!(sent[0].subject, "Re: Report");
    running.stop().await;
}
