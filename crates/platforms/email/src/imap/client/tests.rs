//! The IMAP client against scripted server transcripts.

use super::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A scripted server: for each expected client line (prefix after the
/// tag; `<raw>` compares the whole line), the lines to answer with;
/// `$` stands for the command's tag.
async fn serve(stream: tokio::io::DuplexStream, greeting: &str, script: Vec<(&str, Vec<String>)>) {
    let (read, mut write) = tokio::io::split(stream);
    let mut lines = BufReader::new(read).lines();
    write.write_all(greeting.as_bytes()).await.unwrap();
    let mut tag = String::new();
    for (expected, answers) in script {
        let line = lines.next_line().await.unwrap().unwrap();
        let (expected, rest) = match expected.strip_prefix("<raw>") {
            // A continuation line: the command's tag stays.
            Some(raw) => (raw, line.as_str()),
            None => {
                let (t, rest) = line.split_once(' ').unwrap();
                tag = t.to_owned();
                (expected, rest)
            }
        };
        assert!(
            rest.starts_with(expected),
            "expected {expected:?}, got {line:?}"
        );
        for answer in answers {
            write
                .write_all(answer.replace('$', &tag).as_bytes())
                .await
                .unwrap();
        }
    }
}

fn lines(answers: &[&str]) -> Vec<String> {
    answers.iter().map(|a| (*a).to_owned()).collect()
}

#[tokio::test]
async fn a_session_logs_in_selects_searches_and_fetches() {
    let (client, server) = tokio::io::duplex(4096);
    let body = "From: a@b\r\n\r\nhi";
    let fetch = format!(
        "* 2 FETCH (UID 42 BODY[] {{{}}}\r\n{body})\r\n$ OK done\r\n",
        body.len()
    );
    let script = vec![
        ("AUTHENTICATE PLAIN", lines(&["+ \r\n"])),
        (
            "<raw>AGJvdEBsb2NhbGhvc3QAcHc=",
            lines(&["$ OK [CAPABILITY IMAP4rev1 IDLE] in\r\n"]),
        ),
        (
            "SELECT \"INBOX\"",
            lines(&[
                "* 3 EXISTS\r\n",
                "* OK [UIDVALIDITY 777] ok\r\n",
                "* OK [UIDNEXT 43] ok\r\n",
                "$ OK [READ-WRITE] selected\r\n",
            ]),
        ),
        (
            "UID SEARCH UID 41:*",
            lines(&["* SEARCH 42 41\r\n", "$ OK\r\n"]),
        ),
        ("UID FETCH 42 (UID BODY.PEEK[])", vec![fetch]),
        (
            "UID STORE 42 +FLAGS.SILENT (\\Seen)",
            lines(&["$ NO read-only\r\n"]),
        ),
    ];
    let server = tokio::spawn(serve(
        server,
        "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n",
        script,
    ));
    let mut imap = Imap::greet(client, Duration::from_secs(5), 1 << 20)
        .await
        .unwrap();
    assert!(imap.has("auth=plain"));
    imap.login("bot@localhost", &Secret::new("pw"))
        .await
        .unwrap();
    assert!(imap.has("IDLE"), "capabilities after login are kept");
    let selected = imap.select("INBOX").await.unwrap();
    assert_eq!(
        selected,
        Selected {
            uid_validity: 777,
            uid_next: Some(43)
        }
    );
    assert!(imap.take_news(), "SELECT's EXISTS counts as news");
    assert!(!imap.take_news());
    assert_eq!(imap.search("UID 41:*").await.unwrap(), [41, 42]);
    assert_eq!(imap.fetch(42).await.unwrap().unwrap(), body.as_bytes());
    assert!(matches!(imap.mark_seen(42).await, Err(EmailError::Refused(r)) if r == "read-only"));
    server.await.unwrap();
}

/// RFC 3501 §6.3.1's example SELECT answer, as printed there.
#[tokio::test]
async fn the_rfc_select_example_gives_uidvalidity_and_uidnext() {
    let (client, server) = tokio::io::duplex(4096);
    tokio::spawn(serve(
        server,
        "* OK ready\r\n",
        vec![(
            "SELECT \"INBOX\"",
            lines(&[
                "* 172 EXISTS\r\n",
                "* 1 RECENT\r\n",
                "* OK [UNSEEN 12] Message 12 is first unseen\r\n",
                "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
                "* OK [UIDNEXT 4392] Predicted next UID\r\n",
                "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
                "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n",
                "$ OK [READ-WRITE] SELECT completed\r\n",
            ]),
        )],
    ));
    let mut imap = Imap::greet(client, Duration::from_secs(5), 1024)
        .await
        .unwrap();
    let selected = imap.select("INBOX").await.unwrap();
    assert_eq!(selected.uid_validity, 3_857_529_045);
    assert_eq!(selected.uid_next, Some(4392));
}

#[tokio::test]
async fn a_refused_login_is_an_auth_error() {
    let (client, server) = tokio::io::duplex(4096);
    tokio::spawn(serve(
        server,
        "* OK ready\r\n",
        vec![
            (
                "CAPABILITY",
                lines(&["* CAPABILITY IMAP4rev1\r\n", "$ OK\r\n"]),
            ),
            (
                "LOGIN \"bot\" \"p\\\"w\"",
                lines(&["$ NO [AUTHENTICATIONFAILED] bad\r\n"]),
            ),
        ],
    ));
    let mut imap = Imap::greet(client, Duration::from_secs(5), 1024)
        .await
        .unwrap();
    imap.capability().await.unwrap();
    let err = imap.login("bot", &Secret::new("p\"w")).await.unwrap_err();
    assert!(matches!(err, EmailError::Auth(_)), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn idle_wakes_on_exists_and_renews_on_timeout() {
    let (client, server) = tokio::io::duplex(4096);
    tokio::spawn(serve(
        server,
        "* OK ready\r\n",
        vec![
            ("IDLE", lines(&["+ idling\r\n"])),
            ("<raw>DONE", lines(&["$ OK idle done\r\n"])),
            ("IDLE", lines(&["+ idling\r\n", "* 4 EXISTS\r\n"])),
            ("<raw>DONE", lines(&["$ OK idle done\r\n"])),
        ],
    ));
    let mut imap = Imap::greet(client, Duration::from_secs(30), 1024)
        .await
        .unwrap();
    let woke = imap
        .idle(Duration::from_secs(29 * 60), std::future::pending())
        .await
        .unwrap();
    assert_eq!(woke, Woke::Timeout);
    let woke = imap
        .idle(Duration::from_secs(29 * 60), std::future::pending())
        .await
        .unwrap();
    assert_eq!(woke, Woke::Mail);
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_an_idle_at_once_even_if_the_server_is_silent() {
    let (client, server) = tokio::io::duplex(4096);
    // The server never answers DONE.
    tokio::spawn(serve(
        server,
        "* OK ready\r\n",
        vec![
            ("IDLE", lines(&["+ idling\r\n"])),
            ("<raw>DONE", Vec::new()),
        ],
    ));
    let mut imap = Imap::greet(client, Duration::from_secs(30), 1024)
        .await
        .unwrap();
    let stop = tokio::time::sleep(Duration::from_secs(5));
    let started = tokio::time::Instant::now();
    let woke = imap.idle(Duration::from_secs(29 * 60), stop).await.unwrap();
    assert_eq!(woke, Woke::Stopped);
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}
