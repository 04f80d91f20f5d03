//! Hooks run for real: shell scripts written into a temporary home, and a
//! local server for URL hooks.

use super::*;
use axum::http::{HeaderMap, StatusCode};
use std::os::unix::fs::PermissionsExt;
use std::sync::Mutex;

/// Writes `hooks/<dir>/HOOK.yaml` (`yaml`, plus `run: ./handler`) and the
/// handler script `body` (after `#!/bin/sh`).
fn hook(home: &Path, dir: &str, yaml: &str, body: &str) {
    let dir = home.join("hooks").join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("HOOK.yaml"), format!("{yaml}\nrun: ./handler\n")).unwrap();
    let handler = dir.join("handler");
    std::fs::write(&handler, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&handler, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn load(home: &Path) -> Hooks {
    let hooks = Hooks::load(home, &EnvVars::new(), HttpClient::new().unwrap());
    assert!(hooks.problems().is_empty(), "{:?}", hooks.problems());
    hooks
}

fn command(name: &str) -> HookEvent {
    HookEvent::new(format!("command:{name}"))
        .with("command", name)
        .with("raw_args", "")
}

#[tokio::test]
async fn a_hook_gets_the_event_on_stdin_in_a_clean_environment() {
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("seen");
    hook(
        home.path(),
        "record",
        "events: [\"session:*\"]",
        &format!(
            "cat > {0}.json\nenv | cut -d= -f1 | sort > {0}.env\necho \"$HERMOD_HOOK_EVENT $HERMOD_HOME\" > {0}.vars\npwd > {0}.pwd",
            out.display()
        ),
    );
    let hooks = load(home.path());
    let event = HookEvent::new("session:start")
        .with("platform", "test")
        .with("session_id", "s1");
    let reports = hooks.test(&event).await;
    assert_eq!(reports.len(), 1);
    assert!(reports[0].ran.as_ref().unwrap().success());
    assert!(reports[0].decision.is_none(), "not a decision event");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(
        json,
        serde_json::json!({"event": "session:start", "context": {"platform": "test", "session_id": "s1"}})
    );
    let vars = std::fs::read_to_string(out.with_extension("vars")).unwrap();
    assert_eq!(
        vars.trim(),
        format!("session:start {}", home.path().display())
    );
    let pwd = std::fs::read_to_string(out.with_extension("pwd")).unwrap();
    assert!(pwd.trim().ends_with("hooks/record"), "{pwd}");
    // The shell adds a few of its own; nothing of the gateway's is passed.
    let allowed = [
        "HERMOD_HOME",
        "HERMOD_HOOK_EVENT",
        "HERMOD_HOOK_NAME",
        "HOME",
        "PATH",
        "PWD",
        "OLDPWD",
        "SHLVL",
        "_",
    ];
    let env = std::fs::read_to_string(out.with_extension("env")).unwrap();
    let names: Vec<&str> = env.lines().filter(|l| !l.is_empty()).collect();
    assert!(
        names.iter().all(|n| allowed.contains(n)),
        "unexpected variables: {names:?}"
    );
}

#[tokio::test]
async fn a_command_hook_decides_and_the_first_objection_wins() {
    let home = tempfile::tempdir().unwrap();
    hook(
        home.path(),
        "a-allow",
        "events: [\"command:*\"]",
        "echo '{\"decision\": \"allow\"}'",
    );
    hook(
        home.path(),
        "b-deny",
        "events: [command:new]",
        "echo '{\"decision\": \"deny\", \"message\": \"No fresh starts today.\"}'",
    );
    hook(
        home.path(),
        "c-rewrite",
        "events: [command:help]",
        "echo '{\"decision\": \"rewrite\", \"command_name\": \"status\", \"raw_args\": \"\"}'",
    );
    let hooks = load(home.path());
    // Exact handlers first: b-deny answers before the wildcard a-allow.
    let order: Vec<_> = hooks
        .matching(&command("new"))
        .iter()
        .map(|h| h.name.clone())
        .collect();
    assert_eq!(order, ["b-deny", "a-allow"]);
    assert_eq!(
        hooks.decide(&command("new")).await,
        Some(Decision::Deny {
            message: Some("No fresh starts today.".into())
        })
    );
    assert_eq!(
        hooks.decide(&command("help")).await,
        Some(Decision::Rewrite {
            command_name: "status".into(),
            raw_args: String::new()
        })
    );
    assert_eq!(hooks.decide(&command("stop")).await, None, "allowed");
}

#[tokio::test]
async fn failing_and_garbled_hooks_are_skipped() {
    let home = tempfile::tempdir().unwrap();
    hook(
        home.path(),
        "a-crash",
        "events: [command:new]",
        "echo '{\"decision\": \"deny\"}'\necho 'boom' >&2\nexit 3",
    );
    hook(
        home.path(),
        "b-garbled",
        "events: [command:new]",
        "echo 'deny please'",
    );
    let hooks = load(home.path());
    assert_eq!(hooks.decide(&command("new")).await, None);
    let reports = hooks.test(&command("new")).await;
    let crash = reports[0].ran.as_ref().unwrap();
    assert_eq!(crash.exit_code, Some(3));
    assert_eq!(crash.failure().unwrap(), "exited with 3: boom");
    assert!(
        reports[0].decision.is_none(),
        "a failed run decides nothing"
    );
    assert!(matches!(&reports[1].decision, Some(Err(e)) if e.contains("not a JSON")));
}

#[tokio::test(start_paused = true)]
async fn a_hook_that_hangs_is_killed_at_its_timeout() {
    let home = tempfile::tempdir().unwrap();
    hook(
        home.path(),
        "hang",
        "events: [command:new]\ntimeout_secs: 2",
        "sleep 600",
    );
    let hooks = load(home.path());
    let started = Instant::now();
    assert_eq!(hooks.decide(&command("new")).await, None);
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    let reports = hooks.test(&command("new")).await;
    assert!(matches!(&reports[0].ran, Err(e) if e.contains("timed out after 2 s")));
}

/// On the real clock, so the hook gets to start its child before the
/// timeout (which a paused clock reaches at once).
#[tokio::test]
async fn what_a_hook_started_is_killed_with_it() {
    let home = tempfile::tempdir().unwrap();
    let pid_file = home.path().join("pid");
    hook(
        home.path(),
        "hang",
        "events: [command:new]\ntimeout_secs: 3",
        &format!("sleep 600 &\necho $! > {}\nwait", pid_file.display()),
    );
    let hooks = load(home.path());
    assert_eq!(hooks.decide(&command("new")).await, None);
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let stat = Path::new("/proc").join(pid.trim()).join("stat");
    let alive = || {
        std::fs::read_to_string(&stat).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    };
    // The kill is sent; the kernel takes a moment to carry it out.
    for _ in 0..500 {
        if !alive() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(!alive(), "the hook's child outlived it");
}

#[tokio::test]
async fn output_is_capped() {
    let home = tempfile::tempdir().unwrap();
    hook(
        home.path(),
        "chatty",
        "events: [agent:end]",
        "head -c 200000 /dev/zero | tr '\\0' x\nhead -c 20000 /dev/zero | tr '\\0' y >&2",
    );
    let hooks = load(home.path());
    let reports = hooks.test(&HookEvent::new("agent:end")).await;
    let ran = reports[0].ran.as_ref().unwrap();
    assert!(ran.success());
    assert_eq!(ran.stdout.len(), 64 * 1024);
    assert_eq!(ran.stderr.len(), 4 * 1024);
}

#[tokio::test]
async fn background_events_run_in_order_and_shutdown_waits_for_them() {
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("log");
    for (dir, events) in [("a-wild", "[\"agent:*\"]"), ("b-exact", "[agent:start]")] {
        hook(
            home.path(),
            dir,
            &format!("events: {events}"),
            &format!("echo \"{dir} $HERMOD_HOOK_EVENT\" >> {}", log.display()),
        );
    }
    let hooks = load(home.path());
    hooks.emit(HookEvent::new("agent:start"));
    hooks.emit(HookEvent::new("session:start"));
    hooks.finish(Duration::from_secs(30)).await;
    let lines = std::fs::read_to_string(&log).unwrap();
    assert_eq!(lines, "b-exact agent:start\na-wild agent:start\n");
    // After the gateway stopped, events are not sent.
    hooks.emit(HookEvent::new("agent:start"));
    hooks.finish(Duration::from_secs(30)).await;
    assert_eq!(std::fs::read_to_string(&log).unwrap(), lines);
}

/// What the local server received: headers and body of each request.
type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A server at `/hook` answering each request with the next status of
/// `statuses` (then 200).
async fn server(statuses: Vec<StatusCode>) -> (String, Received) {
    let received: Received = Arc::default();
    let answers = Arc::new(Mutex::new(statuses.into_iter()));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let received = Arc::clone(&received);
            move |headers: HeaderMap, body: String| async move {
                received.lock().unwrap().push((headers, body));
                answers.lock().unwrap().next().unwrap_or(StatusCode::OK)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook?token=abc"), received)
}

fn url_hook(home: &Path, events: &str, url: &str, secret: &str) {
    let dir = home.join("hooks").join("post");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("HOOK.yaml"),
        format!("events: {events}\nurl: {url}\nsecret: {secret}\n"),
    )
    .unwrap();
}

/// The Standard Webhooks check, written from the specification: the key is
/// the base64 after `whsec_`; the content `<id>.<timestamp>.<body>`.
fn verify(secret_b64: &str, headers: &HeaderMap, body: &str) -> bool {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let engine = base64::engine::general_purpose::STANDARD;
    let header = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_owned();
    let (id, timestamp) = (header("webhook-id"), header("webhook-timestamp"));
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(&engine.decode(secret_b64).unwrap()).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    let expected = engine.encode(mac.finalize().into_bytes());
    let now = jiff::Timestamp::now().as_second();
    let fresh = (now - timestamp.parse::<i64>().unwrap()).abs() < 300;
    fresh
        && header("webhook-signature")
            .split(' ')
            .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

#[tokio::test]
async fn a_url_hook_gets_a_signed_post_and_is_retried_after_a_500() {
    let secret = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (url, received) = server(vec![StatusCode::INTERNAL_SERVER_ERROR]).await;
    let home = tempfile::tempdir().unwrap();
    url_hook(
        home.path(),
        "[\"delivery:*\"]",
        &url,
        &format!("whsec_{secret}"),
    );
    let hooks = load(home.path());
    let event = HookEvent::new("delivery:sent").with("chat_id", "c1");
    hooks.emit(event.clone());
    hooks.finish(Duration::from_secs(60)).await;
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "one retry after the 500");
    for (headers, body) in &received {
        assert!(verify(secret, headers, body), "{headers:?}");
        assert_eq!(headers["content-type"], "application/json");
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["event"], "delivery:sent");
        assert_eq!(json["context"]["chat_id"], "c1");
    }
    assert_eq!(
        received[0].0["webhook-id"], received[1].0["webhook-id"],
        "a retry is the same message"
    );
    // A wrong secret does not verify: the check above can fail.
    assert!(!verify("AAAA", &received[0].0, &received[0].1));
}

#[tokio::test]
async fn a_url_hook_gives_up_on_a_4xx_and_never_decides() {
    let (url, received) = server(vec![StatusCode::BAD_REQUEST]).await;
    let home = tempfile::tempdir().unwrap();
    url_hook(
        home.path(),
        "[\"delivery:*\", \"command:*\"]",
        &url,
        "plain-secret",
    );
    let hooks = Hooks::load(home.path(), &EnvVars::new(), HttpClient::new().unwrap());
    assert!(
        hooks.problems()[0]
            .message
            .contains("cannot decide commands")
    );
    let reports = hooks.test(&HookEvent::new("delivery:failed")).await;
    assert_eq!(received.lock().unwrap().len(), 1, "no retry after a 400");
    let error = reports[0].ran.as_ref().unwrap_err();
    assert!(error.contains("HTTP 400"), "{error}");
    assert!(
        !error.contains("token=abc"),
        "the URL's query is never shown: {error}"
    );
    assert!(hooks.matching(&command("new")).is_empty());
}
