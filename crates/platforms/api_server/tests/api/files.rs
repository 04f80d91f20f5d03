//! Files a reply names with `MEDIA:` lines come back in the response:
//! inline as `data:` URLs after the text, plain or streamed, and the
//! directive lines never reach the client.

use crate::support::{Server, Setup, json_of, sse_payloads, streamed, user};
use hermod_testkit::{ScriptedAgent, Step};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A server whose agent streams a reply naming `chart.png` in its media
/// directory and a file outside it.
async fn server(dir: &std::path::Path) -> Server {
    let media = dir.join("media");
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join("chart.png"), PNG).unwrap();
    std::fs::write(dir.join("secret.txt"), "not for you").unwrap();
    let reply = format!(
        "Here it is.\nMEDIA:{}\nMEDIA:{}\n",
        media.join("chart.png").display(),
        dir.join("secret.txt").display()
    );
    let agent = ScriptedAgent::scripted(move |_| {
        reply
            .split_inclusive(['\n', ':'])
            .flat_map(|piece| {
                [
                    Step::Text(piece.to_owned()),
                    Step::Sleep(Duration::from_millis(5)),
                ]
            })
            .collect()
    });
    let setup = Setup {
        media_dir: Some(media),
        ..Setup::agent(Arc::new(agent))
    };
    Server::with(&dir.join("db"), setup).await
}

fn check(content: &str, dir: &std::path::Path) {
    assert!(!content.contains("MEDIA:"), "{content}");
    assert!(content.starts_with("Here it is."), "{content}");
    assert!(
        content.contains("![chart.png](data:image/png;base64,iVBORw0KGgo=)"),
        "{content}"
    );
    assert!(
        content.contains(&format!(
            "⚠️ I couldn't attach {}: files can only be sent from",
            dir.join("secret.txt").display()
        )),
        "{content}"
    );
}

#[tokio::test]
async fn a_reply_returns_its_files_inline() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let (status, answer) = json_of(s.post(&user("chart?")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{answer}");
    check(
        answer["choices"][0]["message"]["content"].as_str().unwrap(),
        dir.path(),
    );
    s.stop().await;
}

#[tokio::test]
async fn a_streamed_reply_returns_its_files_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let response = s.post(&streamed(user("chart?"))).send().await.unwrap();
    let content: String = sse_payloads(response)
        .await
        .iter()
        .filter_map(|p| serde_json::from_str::<Value>(p).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    check(&content, dir.path());
    s.stop().await;
}
