//! A Hermes user's files, unchanged, run hermod: its `config.yaml` loads
//! with a notice for each setting hermod does not use, and a `.env` with
//! only an OpenRouter key reaches the model at OpenRouter's base URL.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]
mod support;

use hermod_testkit::FakeLlm;
use support::{chat, hermod, start_with, terminate};

const KEY: &str = "Zq3vX9pL2mW8rT5yK1nB7cD4fG6hJ0sA";

#[tokio::test]
async fn an_openrouter_key_alone_reaches_the_model_at_openrouters_base_url() {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    // OPENROUTER_BASE_URL is how a Hermes user points OpenRouter at a
    // proxy; here it points at the fake model.
    std::fs::write(
        home.path().join(".env"),
        format!(
            "OPENROUTER_API_KEY=sk-or-v1-test\nOPENROUTER_BASE_URL={}\nAPI_SERVER_KEY={KEY}\nAPI_SERVER_PORT=0\n",
            llm.base_url()
        ),
    )
    .unwrap();
    let mut cmd = hermod(home.path());
    cmd.args(["gateway", "run"]);
    let running = start_with(cmd).await;
    let reply = chat(&running.base, KEY, "or", "hello").await;
    assert_eq!(reply["choices"][0]["message"]["content"], "echo: hello");
    let request = llm.requests().last().cloned().unwrap();
    assert_eq!(request.authorization(), Some("Bearer sk-or-v1-test"));
    assert_eq!(terminate(running.child).await, 0);

    let out = hermod(home.path())
        .args(["config", "check"])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("(OpenRouter, chosen by its key being set)"),
        "{text}"
    );
    assert!(
        text.contains("model key:  set (OPENROUTER_API_KEY)"),
        "{text}"
    );
}

/// The minimal offline setup of the Hermes reference (§18), both files as
/// they are, serves chat completions.
#[tokio::test]
async fn the_hermes_reference_setup_runs_as_it_is() {
    let llm = FakeLlm::start().await;
    let home = tempfile::tempdir().unwrap();
    let base = llm.base_url();
    std::fs::write(
        home.path().join("config.yaml"),
        format!(
            "model: {{default: fake-model, provider: custom, base_url: {base}, api_key: sk-local-fake, context_length: 131072}}\n\
             platforms:\n  api_server: {{enabled: true, extra: {{host: 127.0.0.1, port: 0}}}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        home.path().join(".env"),
        format!("API_SERVER_ENABLED=true\nAPI_SERVER_KEY={KEY}\nAPI_SERVER_HOST=127.0.0.1\nTIRITH_ENABLED=false\n"),
    )
    .unwrap();
    let mut cmd = hermod(home.path());
    cmd.args(["gateway", "run"]).env("RUST_LOG", "warn");
    let running = start_with(cmd).await;
    let reply = chat(&running.base, KEY, "ref", "hi").await;
    assert_eq!(reply["choices"][0]["message"]["content"], "echo: hi");
    let request = llm.requests().last().cloned().unwrap();
    assert_eq!(request.authorization(), Some("Bearer sk-local-fake"));
    assert_eq!(request.model(), Some("fake-model"));
    assert_eq!(terminate(running.child).await, 0);

    let out = hermod(home.path())
        .args(["config", "check"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("recognised but not used (1):"), "{text}");
    assert!(
        text.contains("context:    131072 tokens"),
        "Hermes' model.context_length is the context window: {text}"
    );
    assert!(text.contains("TIRITH_ENABLED: "), "{text}");
    assert!(
        text.contains("api_server  http://127.0.0.1:0 (key set); access: callers need the API key"),
        "{text}"
    );
}
