//! `/health` tells the truth: ok only while every component is healthy.

use crate::support::{Server, Setup, json_of};
use hermod_core::{ComponentState, Health};

#[tokio::test]
async fn health_is_503_with_the_reasons_while_a_component_is_unhealthy() {
    let dir = tempfile::tempdir().unwrap();
    let health = Health::default();
    let mut setup = Setup::echo();
    setup.health = health.clone();
    let s = Server::with(&dir.path().join("db"), setup).await;
    let get = |path: &str| s.http.get(format!("{}{path}", s.base)).send();

    for path in ["/health", "/v1/health"] {
        let (status, body) = json_of(get(path).await.unwrap()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "ok");
        assert!(body["version"].is_string());
        assert_eq!(body["components"]["api_server"]["state"], "running");
    }

    health.set(
        "telegram",
        ComponentState::Failed {
            reason: "the bot token was refused".into(),
        },
    );
    health.degraded("store", "disk full");
    for path in ["/health", "/v1/health"] {
        let (status, body) = json_of(get(path).await.unwrap()).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["status"], "degraded");
        assert!(body["version"].is_string());
        let problems: Vec<&str> = body["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert_eq!(
            problems,
            ["store: disk full", "telegram: the bot token was refused"]
        );
        assert_eq!(body["components"]["telegram"]["state"], "failed");
        assert_eq!(body["components"]["api_server"]["state"], "running");
    }

    health.recovered("store");
    health.set("telegram", ComponentState::Stopped);
    let (status, body) = json_of(get("/health").await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    s.stop().await;
}
