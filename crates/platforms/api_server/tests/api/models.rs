//! `GET /v1/models` and `GET /v1/models/{id}`: the served model in
//! OpenAI's model shape with Hermes' fields, others not found in OpenAI's
//! error shape.

use crate::support::{KEY, Server, Setup, json_of};

#[tokio::test]
async fn the_served_model_is_found_and_others_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::echo().config(|c| c.model_name = "team/hermod-agent".into());
    let s = Server::with(&dir.path().join("db"), setup).await;
    let get = |path: &str| {
        s.http
            .get(format!("{}/v1/models/{path}", s.base))
            .bearer_auth(KEY)
    };
    let (status, body) = json_of(get("team/hermod-agent").send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "team/hermod-agent");
    assert_eq!(body["object"], "model");
    assert_eq!(body["owned_by"], "hermod");
    assert!(body["created"].as_i64().unwrap() > 1_700_000_000, "{body}");
    // The fields Hermes gives a model.
    assert_eq!(body["permission"], serde_json::json!([]));
    assert_eq!(body["root"], "team/hermod-agent");
    assert!(body["parent"].is_null());
    // The same object as in the list.
    let (_, list) = json_of(
        s.http
            .get(format!("{}/v1/models", s.base))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["data"][0], body);

    let (status, body) = json_of(get("gpt-4o").send().await.unwrap()).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "model_not_found");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("gpt-4o") && message.contains("team/hermod-agent"),
        "{message}"
    );

    let (status, body) = json_of(
        s.http
            .get(format!("{}/v1/models/team/hermod-agent", s.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401, "the key is needed: {body}");
    assert_eq!(body["error"]["code"], "invalid_api_key");
    s.stop().await;
}
