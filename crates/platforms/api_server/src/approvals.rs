//! Approvals and tool progress over the API.
//!
//! On a streamed chat completion, a tool's approval request is sent as a
//! named event, `event: hermes.approval.request`, and each tool call's
//! progress as `event: hermes.tool.progress` (the names Hermes uses). Their
//! data are also valid empty chunks (`"choices": []`, as usage chunks
//! are): OpenAI's Python SDK does not skip named events but parses every
//! event's data as a chunk, so a client that does not know these events
//! sees chunks with nothing in them. That is also why the answers a client
//! may give are listed as `options`, not `choices`.
//!
//! The client answers with `POST /v1/approvals/{request_id}` and
//! `{"choice": "once|session|always|deny", "reason": "..."}`: 200 when it
//! was taken, 404 for an id no running API turn has, 409 when the request
//! was already answered or timed out. A request that is not streamed has
//! nobody to ask: its approval requests are denied at once, with a reason
//! the model sees.

use crate::error::ApiError;
use crate::outbound::CompletionMeta;
use crate::server::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hermod_core::{ApprovalAnswerError, ApprovalChoice, Inbound};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;
use tracing::{debug, warn};

/// The event name of an approval request.
pub(crate) const APPROVAL_EVENT: &str = "hermes.approval.request";
/// The event name of a tool call's progress.
pub(crate) const PROGRESS_EVENT: &str = "hermes.tool.progress";
/// The most characters of a call's arguments a progress event carries.
const ARGUMENTS_PREVIEW: usize = 200;

/// Why a request that is not streamed has its approvals denied.
pub(crate) const NOT_STREAMED: &str = "this API request is not streamed, so nobody can answer \
     approval requests; the client must send it with \"stream\": true to be asked";

/// A named event whose data is an empty chunk of the completion plus `fields`.
fn named_event(meta: &CompletionMeta, event: &str, fields: Value) -> String {
    let mut data = json!({
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "choices": [],
    });
    if let (Some(data), Value::Object(fields)) = (data.as_object_mut(), fields) {
        data.extend(fields);
    }
    format!("event: {event}\ndata: {data}\n\n")
}

/// The `hermes.approval.request` frame.
pub(crate) fn approval_frame(
    meta: &CompletionMeta,
    request_id: &str,
    tool: &str,
    key: &str,
    description: &str,
    timeout: Duration,
) -> String {
    named_event(
        meta,
        APPROVAL_EVENT,
        json!({
            "request_id": request_id,
            "tool": tool,
            "key": key,
            "description": description,
            "options": ApprovalChoice::NAMES,
            "timeout_secs": timeout.as_secs(),
        }),
    )
}

/// A `hermes.tool.progress` frame: `status` is `started` (with a preview
/// of the arguments), `completed` or `failed`.
pub(crate) fn progress_frame(
    meta: &CompletionMeta,
    call_id: &str,
    tool: &str,
    status: &str,
    arguments: Option<&str>,
) -> String {
    let mut fields = json!({"call_id": call_id, "tool": tool, "status": status});
    if let Some(arguments) = arguments {
        fields["arguments_preview"] = Value::String(preview(arguments));
    }
    named_event(meta, PROGRESS_EVENT, fields)
}

/// `text` on one line, cut to [`ARGUMENTS_PREVIEW`] characters.
pub(crate) fn preview(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= ARGUMENTS_PREVIEW {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(ARGUMENTS_PREVIEW - 1).collect();
    cut.push('…');
    cut
}

/// Denies a request a non-streamed turn made.
pub(crate) async fn deny_unstreamed(inbound: &Inbound, request_id: &str) {
    let deny = ApprovalChoice::Deny {
        reason: Some(NOT_STREAMED.to_owned()),
    };
    if let Err(e) = inbound
        .answer_approval(&crate::PLATFORM, request_id, &deny)
        .await
    {
        debug!(error = %e, "an approval request of a plain request was settled already");
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    choice: String,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/approvals/{request_id}`.
pub(crate) async fn answer(
    State(state): State<AppState>,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Response {
    let answer: Answer = match serde_json::from_slice(&body) {
        Ok(answer) => answer,
        Err(e) => {
            return ApiError::bad_request(
                "invalid_body",
                format!("The body must be {{\"choice\": \"once|session|always|deny\", \"reason\": \"...\"}}: {e}."),
            )
            .into_response();
        }
    };
    let Some(choice) = ApprovalChoice::parse(&answer.choice, answer.reason) else {
        return ApiError::bad_request(
            "invalid_choice",
            format!(
                "Unknown choice {:?}: use one of {}.",
                answer.choice,
                ApprovalChoice::NAMES.join(", ")
            ),
        )
        .param("choice")
        .into_response();
    };
    match state
        .inbound
        .answer_approval(&crate::PLATFORM, &request_id, &choice)
        .await
    {
        Ok(done) => axum::Json(json!({
            "request_id": request_id,
            "choice": answer.choice.trim().to_ascii_lowercase(),
            "key": done.key,
            "settled": done.settled,
        }))
        .into_response(),
        Err(ApprovalAnswerError::NotFound) => ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "approval_not_found",
            "No approval request with this id is waiting; ids come from hermes.approval.request events of a running stream.",
        )
        .into_response(),
        Err(ApprovalAnswerError::Closed) => ApiError::new(
            StatusCode::CONFLICT,
            "invalid_request_error",
            "approval_closed",
            "This approval request was already answered, timed out or withdrawn.",
        )
        .into_response(),
        Err(e @ (ApprovalAnswerError::NoUser | ApprovalAnswerError::NotAsker)) => ApiError::new(
            StatusCode::CONFLICT,
            "invalid_request_error",
            "approval_scope_refused",
            format!("Not answered: {e}."),
        )
        .into_response(),
        Err(e) => {
            warn!(error = %e, "an approval answer could not be stored");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "approval_failed",
                "The answer could not be recorded; try again.",
            )
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    fn meta() -> CompletionMeta {
        CompletionMeta {
            id: "chatcmpl-1".into(),
            created: 7,
            model: "hermod".into(),
            reasoning_content: false,
        }
    }

    fn data(frame: &str, event: &str) -> Value {
        let rest = frame
            .strip_prefix(&format!("event: {event}\ndata: "))
            .unwrap();
        serde_json::from_str(rest.strip_suffix("\n\n").unwrap()).unwrap()
    }

    #[test]
    fn an_approval_event_is_also_an_empty_chunk() {
        let frame = approval_frame(
            &meta(),
            "approval-3",
            "terminal",
            "recursive_delete",
            "run rm -rf /tmp/x",
            Duration::from_secs(60),
        );
        let data = data(&frame, APPROVAL_EVENT);
        assert_eq!(data["object"], "chat.completion.chunk");
        assert_eq!(data["choices"], json!([]));
        assert_eq!(data["request_id"], "approval-3");
        assert_eq!(data["key"], "recursive_delete");
        assert_eq!(
            data["options"],
            json!(["once", "session", "always", "deny"])
        );
        assert_eq!(data["timeout_secs"], 60);
    }

    #[test]
    fn progress_previews_arguments() {
        let long = format!(r#"{{"content": "{}"}}"#, "y".repeat(1_000));
        let frame = progress_frame(&meta(), "c1", "write_file", "started", Some(&long));
        let data = data(&frame, PROGRESS_EVENT);
        assert_eq!(data["status"], "started");
        let shown = data["arguments_preview"].as_str().unwrap();
        assert_eq!(shown.chars().count(), ARGUMENTS_PREVIEW);
        assert!(shown.ends_with('…'));
        let done = data_of(&progress_frame(&meta(), "c1", "write_file", "failed", None));
        assert!(done.get("arguments_preview").is_none());
    }

    fn data_of(frame: &str) -> Value {
        data(frame, PROGRESS_EVENT)
    }
}
