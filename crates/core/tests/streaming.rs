//! Streamed replies on an in-process platform, on paused time: timed
//! edits, overflow into new messages, tool boundaries, silence and flood
//! control.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_core::{AdapterError, DisplayConfig, Gateway, GatewayConfig, ToolProgress};
use hermod_model::Capabilities;
use hermod_store::SqliteStore;
use hermod_testkit::{CallKind, ScriptedAgent, SentMessage, Step, TestPlatform};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

struct Chat {
    platform: TestPlatform,
    _stop: tokio_util::sync::DropGuard,
    _dir: tempfile::TempDir,
}

async fn start(agent: ScriptedAgent, caps: Capabilities, display: DisplayConfig) -> Chat {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let platform = TestPlatform::with_capabilities("test", caps);
    let config = GatewayConfig {
        allow_all_users: true,
        ..GatewayConfig::default()
    };
    let gateway = Gateway::builder(store, Arc::new(agent), config)
        .adapter(platform.adapter())
        .display(display)
        .build()
        .unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(gateway.run(stop.clone()));
    platform.wait_running().await;
    Chat {
        platform,
        _stop: stop.drop_guard(),
        _dir: dir,
    }
}

fn caps() -> Capabilities {
    TestPlatform::default_capabilities()
}

/// Waits until no message of the chat shows the cursor and `count` exist.
async fn settled(platform: &TestPlatform, count: usize) -> Vec<SentMessage> {
    platform
        .wait_for("alice", |m| {
            m.len() >= count
                && m.iter()
                    .all(|m| m.deleted || !m.current_text().ends_with(" ▉"))
        })
        .await
}

fn words(n: usize) -> String {
    (0..n)
        .map(|i| {
            if i % 12 == 11 {
                format!("w{i}\n")
            } else {
                format!("w{i} ")
            }
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_reply_is_shown_while_it_is_written() {
    let text = words(80);
    let agent = ScriptedAgent::streaming(text.clone(), 4, Duration::from_millis(50));
    let chat = start(agent, caps(), DisplayConfig::default()).await;
    chat.platform.user("alice").dm("go").await.unwrap();
    let messages = settled(&chat.platform, 1).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].current_text(),
        text.trim_end(),
        "the final edit has no cursor"
    );
    let calls = chat.platform.calls();
    assert_eq!(calls[0].kind, CallKind::Send);
    assert!(calls[0].text.trim_end_matches(" ▉").chars().count() >= 4);
    let edits: Vec<_> = calls.iter().filter(|c| c.kind == CallKind::Edit).collect();
    assert!(edits.len() >= 3, "{} edits", edits.len());
    assert!(
        edits[..edits.len() - 1]
            .iter()
            .all(|e| e.text.ends_with(" ▉")),
        "the cursor shows while writing"
    );
    // Never faster than the platform's minimum interval.
    for pair in calls.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(800) || pair[1].text == text.trim_end(),
            "{gap:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_long_reply_overflows_into_new_messages() {
    // About 3,000 tokens into a platform that takes 2,000 characters.
    let text = words(3000);
    let agent = ScriptedAgent::streaming(text.clone(), 5, Duration::from_millis(20));
    let platform_caps = Capabilities {
        max_message_len: 2000,
        ..caps()
    };
    let chat = start(agent, platform_caps, DisplayConfig::default()).await;
    chat.platform.user("alice").dm("write a lot").await.unwrap();
    let expected_min = text.len() / 2000;
    settled(&chat.platform, expected_min).await;
    let messages = chat
        .platform
        .wait_for("alice", |m| {
            m.iter()
                .map(|m| m.current_text().to_owned())
                .collect::<String>()
                .len()
                >= text.trim_end().len() - 1
                && m.iter().all(|m| !m.current_text().ends_with(" ▉"))
        })
        .await;
    assert!(messages.len() > expected_min, "{} messages", messages.len());
    for m in &messages {
        assert!(m.current_text().chars().count() <= 2000);
        assert!(!m.current_text().ends_with(" ▉"));
    }
    let joined: String = messages.iter().map(|m| m.current_text()).collect();
    assert_eq!(
        joined.split_whitespace().collect::<Vec<_>>(),
        text.split_whitespace().collect::<Vec<_>>()
    );
    assert!(
        messages.iter().all(|m| !m.current_text().contains("(1/")),
        "no part markers on a streamed reply"
    );
}

#[tokio::test(start_paused = true)]
async fn a_tool_call_starts_a_new_message() {
    let agent = ScriptedAgent::scripted(|_| {
        vec![
            Step::Text("Let me look that up.".into()),
            Step::Sleep(Duration::from_secs(2)),
            Step::Tool("search".into()),
            Step::Text("The answer is 42.".into()),
            Step::Sleep(Duration::from_secs(1)),
        ]
    });
    let display = DisplayConfig {
        tool_progress: ToolProgress::All,
        ..DisplayConfig::default()
    };
    let chat = start(agent, caps(), display).await;
    chat.platform.user("alice").dm("what is it").await.unwrap();
    let messages = settled(&chat.platform, 3).await;
    let texts: Vec<&str> = messages.iter().map(SentMessage::current_text).collect();
    assert_eq!(
        texts,
        ["Let me look that up.", "🔧 search…", "The answer is 42."]
    );
}

#[tokio::test(start_paused = true)]
async fn hidden_reasoning_never_shows() {
    let agent = ScriptedAgent::scripted(|_| {
        [
            "<thi",
            "nk>the user wants",
            " a secret</th",
            "ink>\nVisible ",
            "answer.",
        ]
        .into_iter()
        .flat_map(|t| [Step::Text(t.into()), Step::Sleep(Duration::from_secs(1))])
        .collect()
    });
    let chat = start(agent, caps(), DisplayConfig::default()).await;
    chat.platform.user("alice").dm("hi").await.unwrap();
    let messages = settled(&chat.platform, 1).await;
    assert_eq!(messages[0].current_text(), "Visible answer.");
    assert!(
        chat.platform
            .calls()
            .iter()
            .all(|c| !c.text.contains("secret") && !c.text.contains('<'))
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_reply_is_not_delivered() {
    let agent = ScriptedAgent::scripted(|_| {
        vec![
            Step::Text("NO_".into()),
            Step::Sleep(Duration::from_secs(3)),
            Step::Text("REPLY".into()),
        ]
    });
    let chat = start(agent.clone(), caps(), DisplayConfig::default()).await;
    chat.platform.user("alice").dm("ignore this").await.unwrap();
    let stats = agent.stats();
    stats.wait_started(1).await;
    // A later message is answered; the silent one left nothing behind.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(
        chat.platform.calls().is_empty(),
        "{:?}",
        chat.platform.calls()
    );
}

#[tokio::test(start_paused = true)]
async fn a_rate_limited_edit_waits_the_retry_after() {
    let text = words(120);
    let agent = ScriptedAgent::streaming(text.clone(), 4, Duration::from_millis(100));
    let chat = start(agent, caps(), DisplayConfig::default()).await;
    chat.platform.user("alice").dm("go").await.unwrap();
    chat.platform.wait_for_messages("alice", 1).await;
    chat.platform.rate_limit_for(Duration::from_secs(3));
    let limited_at = tokio::time::Instant::now();
    let messages = settled(&chat.platform, 1).await;
    assert_eq!(messages[0].current_text(), text.trim_end());
    assert_eq!(
        chat.platform.rate_limit_hits(),
        1,
        "never asked again before the retry-after"
    );
    let after: Vec<_> = chat
        .platform
        .calls()
        .into_iter()
        .filter(|c| c.at > limited_at)
        .collect();
    assert!(
        after
            .iter()
            .all(|c| c.at >= limited_at + Duration::from_secs(3))
    );
    // The interval doubled: later edits are at least 1.6 s apart.
    for pair in after.windows(2) {
        if pair[1].text != text.trim_end() {
            assert!(pair[1].at - pair[0].at >= Duration::from_millis(1600));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn three_refused_edits_stop_editing_and_the_rest_arrives_once() {
    let text = words(150);
    let agent = ScriptedAgent::streaming(text.clone(), 4, Duration::from_millis(100));
    let chat = start(agent, caps(), DisplayConfig::default()).await;
    for _ in 0..3 {
        chat.platform.fail_next_edit(AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(1)),
        });
    }
    chat.platform.user("alice").dm("go").await.unwrap();
    let messages = settled(&chat.platform, 2).await;
    assert_eq!(messages.len(), 2);
    // The preview showed no whole line when editing stopped: rather than
    // leave a stub, it was removed and the reply came whole.
    assert!(messages[0].deleted, "{messages:?}");
    assert!(messages[0].edits.is_empty());
    assert_eq!(messages[1].current_text(), text.trim_end());
}

#[tokio::test(start_paused = true)]
async fn platforms_that_cannot_edit_get_one_final_message() {
    let text = words(40);
    let agent = ScriptedAgent::streaming(text.clone(), 4, Duration::from_millis(100));
    let fixed = Capabilities {
        can_edit: false,
        ..caps()
    };
    let chat = start(agent, fixed, DisplayConfig::default()).await;
    chat.platform.user("alice").dm("go").await.unwrap();
    let messages = chat.platform.wait_for_messages("alice", 1).await;
    assert_eq!(messages[0].text, text.trim_end());
    assert_eq!(chat.platform.calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_reply_too_long_for_one_message_is_split_into_marked_parts() {
    let text = words(600);
    let agent = ScriptedAgent::scripted(move |_| vec![Step::Text(text.clone())]);
    let fixed = Capabilities {
        can_edit: false,
        max_message_len: 1000,
        ..caps()
    };
    let chat = start(agent, fixed, DisplayConfig::default()).await;
    chat.platform.user("alice").dm("go").await.unwrap();
    let messages = chat
        .platform
        .wait_for("alice", |m| {
            m.last().is_some_and(|m| {
                let t = m.text.trim_end();
                t.ends_with(')')
                    && t.rsplit_once('(').is_some_and(|(_, n)| {
                        n.split_once('/')
                            .is_some_and(|(a, b)| a == b.trim_end_matches(')'))
                    })
            })
        })
        .await;
    let n = messages.len();
    assert!(n >= 3, "{n} parts");
    for (i, m) in messages.iter().enumerate() {
        assert!(m.text.chars().count() <= 1000);
        assert!(
            m.text.trim_end().ends_with(&format!("({}/{n})", i + 1)),
            "{}",
            m.text
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_platform_that_returns_no_ids_gets_the_rest_as_a_new_message() {
    let text = words(60);
    let agent = ScriptedAgent::streaming(text.clone(), 4, Duration::from_millis(100));
    let chat = start(agent, caps(), DisplayConfig::default()).await;
    chat.platform.omit_message_ids(true);
    chat.platform.user("alice").dm("go").await.unwrap();
    let messages = chat.platform.wait_for_messages("alice", 2).await;
    assert_eq!(messages.len(), 2);
    // The preview cannot be edited without its id; nothing is lost or repeated.
    let first = messages[0].text.trim_end_matches(" ▉");
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    assert_eq!(
        squeeze(&format!("{first}{}", messages[1].text)),
        squeeze(&text)
    );
    assert!(
        chat.platform
            .calls()
            .iter()
            .all(|c| c.kind == CallKind::Send)
    );
}

/// `n` lines long enough that a reply of them needs several messages.
fn long_lines(n: usize) -> String {
    (0..n)
        .map(|i| format!("line {i:02}{}\n", " lorem ipsum dolor sit amet".repeat(4)))
        .collect()
}

/// The lines the visible messages show, in order, without part markers.
fn visible_lines(messages: &[SentMessage]) -> Vec<String> {
    let is_marker = |s: &str| {
        s.strip_prefix('(')
            .and_then(|s| s.strip_suffix(')'))
            .and_then(|s| s.split_once('/'))
            .is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok())
    };
    let mut lines = Vec::new();
    for m in messages.iter().filter(|m| !m.deleted) {
        for line in m.current_text().lines() {
            if is_marker(line) {
                continue;
            }
            let line = match line.rsplit_once(' ') {
                Some((body, marker)) if is_marker(marker) => body,
                _ => line,
            };
            lines.push(line.to_owned());
        }
    }
    lines
}

#[tokio::test(start_paused = true)]
async fn a_refused_edit_then_a_long_reply_shows_whole_lines_and_no_stub() {
    let text = long_lines(120);
    // The preview shows three lines and the start of a fourth when the
    // reply outgrows it and the edit finalizing it is refused.
    let split = text.match_indices('\n').nth(2).unwrap().0 + 12;
    let (head, rest) = (text[..split].to_owned(), text[split..].to_owned());
    let agent = ScriptedAgent::scripted(move |_| {
        vec![
            Step::Text(head.clone()),
            Step::Sleep(Duration::from_secs(2)),
            Step::Text(rest.clone()),
        ]
    });
    let chat = start(agent, caps(), DisplayConfig::default()).await;
    chat.platform
        .fail_next_edit(AdapterError::Transient("502 from the platform".into()));
    chat.platform.user("alice").dm("go").await.unwrap();
    let expected: Vec<String> = text.lines().map(str::to_owned).collect();
    // The last line comes last: then every part has arrived.
    let done = chat
        .platform
        .wait_for("alice", |m| visible_lines(m).last() == expected.last());
    let messages = tokio::time::timeout(Duration::from_secs(600), done)
        .await
        .unwrap_or_else(|_| panic!("the reply never ended: {:#?}", chat.platform.sent("alice")));
    assert_eq!(visible_lines(&messages), expected, "{messages:#?}");
    // The preview was cut back to its whole lines; the rest starts at the
    // line it stopped in.
    let preview = messages[0].current_text();
    assert_eq!(preview, expected[..3].join("\n"));
    assert!(messages[1].current_text().starts_with("line 03 "));
    for m in &messages {
        assert!(m.current_text().chars().count() <= caps().max_message_len);
    }
}

/// The steps of a reply whose first message shows whole lines at once,
/// then grows a line at a time.
fn lines_script(lines: usize) -> ScriptedAgent {
    ScriptedAgent::scripted(move |_| {
        let mut steps = vec![Step::Text("line 00\nline 01\n".into())];
        for i in 2..lines {
            steps.push(Step::Sleep(Duration::from_millis(300)));
            steps.push(Step::Text(format!("line {i:02}\n")));
        }
        steps
    })
}

/// When editing stops under rate limits, the preview's last edit waits
/// the platform out: it never keeps its cursor.
#[tokio::test(start_paused = true)]
async fn a_stopped_preview_is_finished_even_when_its_last_edit_is_rate_limited() {
    let chat = start(lines_script(20), caps(), DisplayConfig::default()).await;
    // Three refusals stop editing; the fourth is the preview's last edit,
    // which waits and tries again.
    for _ in 0..4 {
        chat.platform.fail_next_edit(AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        });
    }
    chat.platform.user("alice").dm("go").await.unwrap();
    let messages = settled(&chat.platform, 2).await;
    let preview = &messages[0];
    assert!(!preview.deleted, "{messages:?}");
    assert!(
        !preview.current_text().ends_with('▉'),
        "the preview kept its cursor: {:?}",
        preview.current_text()
    );
    let shown: String = messages
        .iter()
        .filter(|m| !m.deleted)
        .map(|m| format!("{}\n", m.current_text()))
        .collect();
    let expected: String = (0..20).map(|i| format!("line {i:02}\n")).collect();
    assert_eq!(shown, expected, "every line once, in order");
}

/// A preview that can be neither edited nor finished is removed, and the
/// whole reply follows.
#[tokio::test(start_paused = true)]
async fn a_stopped_preview_that_cannot_be_finished_is_removed() {
    let chat = start(lines_script(6), caps(), DisplayConfig::default()).await;
    // Any refusal other than a rate limit stops editing at once; the last
    // edit is refused too.
    for _ in 0..2 {
        chat.platform
            .fail_next_edit(AdapterError::Rejected("message can't be edited".into()));
    }
    chat.platform.user("alice").dm("go").await.unwrap();
    let messages = settled(&chat.platform, 2).await;
    assert!(messages[0].deleted, "{messages:?}");
    let expected: String = (0..6).map(|i| format!("line {i:02}\n")).collect();
    assert_eq!(
        format!("{}\n", messages.last().unwrap().current_text()),
        expected
    );
}
