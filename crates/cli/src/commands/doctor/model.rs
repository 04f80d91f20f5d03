//! Whether the model endpoint answers: `GET {base_url}/models`, else a
//! one-token completion (some endpoints do not list models).

use super::Check;
use crate::config::Model;
use serde_json::{Value, json};
use std::time::Duration;

pub async fn check(http: &hermod_http::HttpClient, model: &Model, timeout: Duration) -> Check {
    let base = model.base_url.trim_end_matches('/');
    let authorized = |request: reqwest::RequestBuilder| match &model.api_key {
        Some(key) => request.bearer_auth(key.expose()),
        None => request,
    };
    let unreachable = |e: reqwest::Error| {
        Check::Failed(format!(
            "cannot reach {base}: {}; check that it runs and model.base_url (OPENAI_BASE_URL)",
            e.without_url()
        ))
    };
    let listed = authorized(http.reqwest().get(format!("{base}/models")))
        .timeout(timeout)
        .send()
        .await;
    let listed = match listed {
        Ok(response) => response,
        Err(e) => return unreachable(e),
    };
    let status = listed.status().as_u16();
    if matches!(status, 401 | 403) {
        return refused(model, status);
    }
    if (200..300).contains(&status) {
        let body: Value = listed.json().await.unwrap_or(Value::Null);
        if let Some(models) = body["data"].as_array() {
            return Check::Ok(format!("{base} answers ({} models listed)", models.len()));
        }
    }
    // No list: ask for one token instead.
    let completion = authorized(http.reqwest().post(format!("{base}/chat/completions")))
        .json(&json!({
            "model": model.default,
            "messages": [{"role": "user", "content": "ping"}],
            "max_tokens": 1,
        }))
        .timeout(timeout)
        .send()
        .await;
    let completion = match completion {
        Ok(response) => response,
        Err(e) => return unreachable(e),
    };
    match completion.status().as_u16() {
        200..=299 => Check::Ok(format!("{base} answers a one-token completion")),
        401 | 403 => refused(model, completion.status().as_u16()),
        404 => Check::Failed(format!(
            "{base} has no /models and no /chat/completions (404): model.base_url \
             (OPENAI_BASE_URL) should end where those begin, often in /v1"
        )),
        other => Check::Failed(format!(
            "{base} answered a one-token completion of {} with {other}: check model.default \
             and model.base_url",
            model.default
        )),
    }
}

/// The endpoint refused the key (or its absence): which variable to fix.
fn refused(model: &Model, status: u16) -> Check {
    match &model.api_key {
        Some(_) => Check::Failed(format!(
            "{} refused the key ({status}): set a valid key in {}",
            model.base_url, model.provider.key_source
        )),
        None => Check::Failed(format!(
            "{} needs a key ({status}): set {}",
            model.base_url,
            model.provider.key_hint()
        )),
    }
}
