//! Bulk overwrite of application commands and Discord's checks on it.

use super::Rest;
use hermod_testkit::discord::FakeDiscord;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn slash(name: &str) -> Value {
    json!({"name": name, "description": format!("Runs {name}"), "type": 1})
}

#[tokio::test]
async fn a_bulk_overwrite_stores_commands_and_keeps_their_ids() {
    let fake = FakeDiscord::start().await;
    let rest = Rest::new(&fake);
    let path = format!("/applications/{}/commands", fake.application_id());
    let mut ask = slash("ask");
    ask["options"] = json!([
        {"name": "prompt", "description": "What to ask", "type": 3, "required": true},
        {"name": "private", "description": "Only you see it", "type": 5},
    ]);
    let first = rest.put(&path, json!([ask, slash("new")])).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let ask_id = first.body[0]["id"].clone();
    assert_eq!(
        first.body[0]["application_id"],
        fake.application_id().to_string()
    );
    assert_eq!(first.body[0]["options"][0]["name"], "prompt");
    assert!(first.body[0]["version"].is_string());

    let second = rest.put(&path, json!([ask, slash("reset")])).await;
    assert_eq!(
        second.body[0]["id"], ask_id,
        "an existing command keeps its id"
    );
    let names: Vec<Value> = fake.commands().iter().map(|c| c["name"].clone()).collect();
    assert_eq!(names, [json!("ask"), json!("reset")]);
    assert_eq!(rest.get(&path).await.body.as_array().map(Vec::len), Some(2));
    let other_app = rest.put("/applications/1/commands", json!([])).await;
    assert_eq!(other_app.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn more_than_100_slash_commands_are_refused() {
    let fake = FakeDiscord::start().await;
    let rest = Rest::new(&fake);
    let path = format!("/applications/{}/commands", fake.application_id());
    let hundred: Vec<Value> = (0..100).map(|i| slash(&format!("cmd{i}"))).collect();
    assert_eq!(rest.put(&path, json!(hundred)).await.status, StatusCode::OK);

    let mut too_many = hundred.clone();
    too_many.push(slash("cmd100"));
    let refused = rest.put(&path, json!(too_many)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.body,
        json!({"message": "Maximum number of application commands reached (100)", "code": 30032})
    );
    let way_too_many: Vec<Value> = (0..131).map(|i| slash(&format!("c{i}"))).collect();
    let refused = rest.put(&path, json!(way_too_many)).await;
    assert_eq!(
        refused.body["errors"]["_errors"][0],
        json!({"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 130 or fewer in length."})
    );
    assert_eq!(
        fake.commands().len(),
        100,
        "a refused overwrite changes nothing"
    );
}

#[tokio::test]
async fn command_fields_are_checked() {
    let fake = FakeDiscord::start().await;
    let rest = Rest::new(&fake);
    let path = format!("/applications/{}/commands", fake.application_id());
    let bad = json!([
        slash("fine"),
        {"name": "Ask", "description": "upper case", "type": 1},
        {"name": "x", "description": "", "type": 1},
        {"name": "a".repeat(33), "description": "long", "type": 1},
        {"name": "opts", "description": "order", "options": [
            {"name": "maybe", "description": "optional", "type": 3},
            {"name": "must", "description": "required", "type": 3, "required": true},
        ]},
        {"name": "Mixed Case Is Fine", "type": 3},
    ]);
    let refused = rest.put(&path, bad).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let errors = &refused.body["errors"];
    assert_eq!(
        errors["1"]["name"]["_errors"][0]["code"],
        "APPLICATION_COMMAND_INVALID_NAME"
    );
    assert_eq!(
        errors["2"]["description"]["_errors"][0]["message"],
        "Must be between 1 and 100 in length."
    );
    assert_eq!(
        errors["3"]["name"]["_errors"][0]["code"],
        "BASE_TYPE_BAD_LENGTH"
    );
    assert_eq!(
        errors["4"]["options"]["_errors"][0]["code"],
        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"
    );
    assert!(
        errors.get("0").is_none() && errors.get("5").is_none(),
        "{errors}"
    );
    let duplicate = rest.put(&path, json!([slash("same"), slash("same")])).await;
    assert_eq!(
        duplicate.body["errors"]["_errors"][0]["code"],
        "APPLICATION_COMMANDS_DUPLICATE_NAME"
    );
}
