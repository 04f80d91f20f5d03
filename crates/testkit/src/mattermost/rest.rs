//! The fake's REST v4 side: users, posts, channels, typing and files,
//! answered as the server answers them, errors as
//! `{id, message, detailed_error, request_id, status_code}`.

use super::state::{Fault, MAX_POST_RUNES, Shared, State};
use super::{Call, FileInfo, Post, Typing, socket};
use crate::peer::{Body, read_body};
use axum::Router;
use axum::extract::{Path, Request, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};
use std::sync::Arc;

type St = AxumState<Arc<Shared>>;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v4/users/me", get(users_me))
        .route("/api/v4/users/{id}", get(get_user))
        .route("/api/v4/users/{id}/typing", post(typing))
        .route("/api/v4/users/{id}/channels", get(user_channels))
        .route("/api/v4/posts", post(create_post))
        .route("/api/v4/posts/{id}", get(get_post).delete(delete_post))
        .route("/api/v4/posts/{id}/patch", put(patch_post))
        .route("/api/v4/channels/{id}", get(get_channel))
        .route("/api/v4/channels/{id}/posts", get(channel_posts))
        .route("/api/v4/files", post(upload_file))
        .route("/api/v4/files/{id}", get(get_file))
        .route("/api/v4/files/{id}/info", get(file_info))
        .route("/api/v4/websocket", get(socket::upgrade))
        .with_state(shared)
}

/// Mattermost's error JSON.
pub(super) fn error(status: StatusCode, id: &str, message: &str) -> Response {
    let body = json!({
        "id": id,
        "message": message,
        "detailed_error": "",
        "request_id": "fakerequest0000000000000001",
        "status_code": status.as_u16(),
    });
    (status, axum::Json(body)).into_response()
}

fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "api.context.session_expired.app_error",
        "Invalid or expired session, please login again.",
    )
}

fn forbidden() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "api.context.permissions.app_error",
        "You do not have the appropriate permissions.",
    )
}

fn not_found(what: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "app.post.get.app_error",
        &format!("Unable to get the {what}."),
    )
}

fn bad_request(id: &str, message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, id, message)
}

/// The bearer token of a request (`Authorization: Bearer` or `Token`).
pub(super) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    matches!(scheme.to_ascii_lowercase().as_str(), "bearer" | "token")
        .then(|| token.trim().to_owned())
}

/// Records the call, answers a scripted fault, checks the token: the
/// caller's user id, or the answer to give.
#[expect(
    clippy::result_large_err,
    reason = "the error is the answer itself, returned at once"
)]
fn begin(
    shared: &Shared,
    route: &'static str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<String, Response> {
    let token = bearer(headers);
    let fault = shared.state.update(|s| {
        s.calls.push(Call {
            route,
            path: uri.path().to_owned(),
            query: uri.query().unwrap_or_default().to_owned(),
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            at: tokio::time::Instant::now(),
        });
        s.faults.take(&[route])
    });
    if let Some(fault) = fault {
        return Err(answer_fault(&fault));
    }
    let state = shared.state.lock();
    token
        .and_then(|t| state.user_by_token(&t).map(|u| u.id.clone()))
        .ok_or_else(unauthorized)
}

/// A scripted fault, as the server (or its rate limiter) answers it.
pub(super) fn answer_fault(fault: &Fault) -> Response {
    match fault {
        Fault::RateLimited { reset_secs } => {
            // The rate limiter answers in plain text, with its headers.
            let mut response = (StatusCode::TOO_MANY_REQUESTS, "limit exceeded\n").into_response();
            let headers = response.headers_mut();
            headers.insert("X-Ratelimit-Limit", HeaderValue::from(10));
            headers.insert("X-Ratelimit-Remaining", HeaderValue::from(0));
            headers.insert("X-Ratelimit-Reset", HeaderValue::from(*reset_secs));
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*reset_secs));
            response
        }
        Fault::Server(status) => error(
            StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "app.fake.internal.app_error",
            "An internal error occurred.",
        ),
        Fault::Unauthorized => unauthorized(),
    }
}

async fn users_me(AxumState(shared): St, uri: Uri, headers: HeaderMap) -> Response {
    match begin(&shared, "users_me", &uri, &headers) {
        Ok(user) => axum::Json(shared.state.lock().users[&user].to_json()).into_response(),
        Err(response) => response,
    }
}

async fn get_user(
    AxumState(shared): St,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = begin(&shared, "get_user", &uri, &headers) {
        return response;
    }
    let state = shared.state.lock();
    match state.users.get(&id) {
        Some(user) => axum::Json(user.to_json()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "app.user.missing_account.const",
            "Unable to find the user.",
        ),
    }
}

async fn typing(
    AxumState(shared): St,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let user = match begin(&shared, "typing", &uri, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    if id != "me" && id != user {
        return forbidden();
    }
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let Some(channel) = body["channel_id"].as_str().map(str::to_owned) else {
        return bad_request(
            "api.context.invalid_body_param.app_error",
            "Invalid or missing channel_id in request body.",
        );
    };
    let parent = body["parent_id"].as_str().unwrap_or_default().to_owned();
    shared
        .state
        .update(|s| record_typing(s, &user, &channel, &parent, "rest"));
    axum::Json(json!({"status": "OK"})).into_response()
}

/// Records a typing indicator and tells the channel's other members.
pub(super) fn record_typing(
    s: &mut State,
    user: &str,
    channel: &str,
    parent: &str,
    via: &'static str,
) {
    s.typing.push(Typing {
        user_id: user.to_owned(),
        channel_id: channel.to_owned(),
        parent_id: parent.to_owned(),
        via,
    });
    let data = json!({"parent_id": parent, "user_id": user});
    s.emit("typing", &data, Some(channel), Some(user));
}

async fn create_post(
    AxumState(shared): St,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let user = match begin(&shared, "create_post", &uri, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return bad_request(
            "api.context.invalid_body_param.app_error",
            "Invalid or missing post in request body.",
        );
    };
    let text = |key: &str| body[key].as_str().unwrap_or_default().to_owned();
    let mut post = Post::new(&user, &text("channel_id"), &text("message"));
    post.root_id = text("root_id");
    post.pending_post_id = text("pending_post_id");
    post.props = body.get("props").cloned().unwrap_or_else(|| json!({}));
    post.file_ids = body["file_ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    shared.state.update(|s| {
        if let Some(existing) = s.pending_post(&post.pending_post_id) {
            return (StatusCode::CREATED, axum::Json(existing.to_json())).into_response();
        }
        if !s.channels.contains_key(&post.channel_id) {
            return bad_request(
                "api.context.invalid_param.app_error",
                "Invalid channel_id parameter.",
            );
        }
        if !s.is_member(&post.channel_id, &user) {
            return forbidden();
        }
        if post.message.chars().count() > MAX_POST_RUNES {
            return bad_request(
                "model.post.is_valid.message_length.app_error",
                "Message too long.",
            );
        }
        if !post.root_id.is_empty() {
            let valid = s.post(&post.root_id).is_some_and(|r| {
                r.channel_id == post.channel_id && r.root_id.is_empty() && r.delete_at == 0
            });
            if !valid {
                return bad_request(
                    "api.post.create_post.root_id.app_error",
                    "Invalid RootId parameter.",
                );
            }
        }
        if post.message.trim().is_empty() && post.file_ids.is_empty() {
            return bad_request("model.post.is_valid.msg.app_error", "Invalid Message.");
        }
        let created = s.add_post(post);
        (StatusCode::CREATED, axum::Json(created.to_json())).into_response()
    })
}

async fn get_post(
    AxumState(shared): St,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = begin(&shared, "get_post", &uri, &headers) {
        return response;
    }
    let state = shared.state.lock();
    match state.post(&id).filter(|p| p.delete_at == 0) {
        Some(post) => axum::Json(post.to_json()).into_response(),
        None => not_found("post"),
    }
}

/// Applies an edit and sends `post_edited`.
pub(super) fn apply_edit(s: &mut State, id: &str, message: &str) -> Option<Post> {
    let now = s.tick();
    let post = s.post_mut(id).filter(|p| p.delete_at == 0)?;
    post.message = message.to_owned();
    post.edit_at = now;
    post.update_at = now;
    let post = post.clone();
    s.edits.push((id.to_owned(), tokio::time::Instant::now()));
    let data = json!({"post": post.to_json().to_string()});
    s.emit("post_edited", &data, Some(&post.channel_id), None);
    Some(post)
}

async fn patch_post(
    AxumState(shared): St,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let user = match begin(&shared, "patch_post", &uri, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return bad_request(
            "api.context.invalid_body_param.app_error",
            "Invalid or missing post in request body.",
        );
    };
    shared.state.update(|s| {
        let Some(post) = s.post(&id).filter(|p| p.delete_at == 0).cloned() else {
            return forbidden();
        };
        if post.user_id != user {
            return forbidden();
        }
        let message = body["message"].as_str().unwrap_or(&post.message).to_owned();
        if message.chars().count() > MAX_POST_RUNES {
            return bad_request(
                "model.post.is_valid.message_length.app_error",
                "Message too long.",
            );
        }
        match apply_edit(s, &id, &message) {
            Some(post) => axum::Json(post.to_json()).into_response(),
            None => forbidden(),
        }
    })
}

async fn delete_post(
    AxumState(shared): St,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let user = match begin(&shared, "delete_post", &uri, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    shared.state.update(|s| {
        let now = s.tick();
        let Some(post) = s.post_mut(&id).filter(|p| p.delete_at == 0) else {
            return not_found("post");
        };
        if post.user_id != user {
            return forbidden();
        }
        post.delete_at = now;
        post.update_at = now;
        let post = post.clone();
        let data = json!({"post": post.to_json().to_string(), "delete_by": user});
        s.emit("post_deleted", &data, Some(&post.channel_id), None);
        axum::Json(json!({"status": "OK"})).into_response()
    })
}

/// `GET /users/{id}/channels` (server 6.1+): every channel of every team
/// the user is a member of, with `last_post_at`.
async fn user_channels(
    AxumState(shared): St,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let user = match begin(&shared, "user_channels", &uri, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    if id != "me" && id != user {
        return forbidden();
    }
    let state = shared.state.lock();
    let channels: Vec<Value> = state
        .channels
        .values()
        .filter(|c| c.members.contains(&user))
        .map(|c| {
            let mut json = c.to_json();
            json["last_post_at"] = json!(
                state
                    .posts
                    .iter()
                    .filter(|p| p.channel_id == c.id)
                    .map(|p| p.create_at)
                    .max()
                    .unwrap_or(0)
            );
            json
        })
        .collect();
    axum::Json(channels).into_response()
}

async fn get_channel(
    AxumState(shared): St,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let user = match begin(&shared, "get_channel", &uri, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let state = shared.state.lock();
    match state.channels.get(&id) {
        Some(channel) if channel.members.contains(&user) => {
            axum::Json(channel.to_json()).into_response()
        }
        Some(_) => forbidden(),
        None => error(
            StatusCode::NOT_FOUND,
            "app.channel.get.existing.app_error",
            "Unable to find the existing channel.",
        ),
    }
}

async fn channel_posts(
    AxumState(shared): St,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let user = match begin(&shared, "channel_posts", &uri, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let since: i64 = uri
        .query()
        .map(|q| crate::peer::form_fields(q.as_bytes()))
        .and_then(|f| {
            f.get("since")
                .and_then(|v| v.as_str())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0);
    let state = shared.state.lock();
    if !state.is_member(&id, &user) {
        return forbidden();
    }
    let mut posts: Vec<&Post> = state
        .posts
        .iter()
        .filter(|p| p.channel_id == id && p.update_at > since)
        .filter(|p| since > 0 || p.delete_at == 0)
        .collect();
    posts.sort_by_key(|p| std::cmp::Reverse(p.create_at));
    let order: Vec<&str> = posts.iter().map(|p| p.id.as_str()).collect();
    let map: serde_json::Map<String, Value> =
        posts.iter().map(|p| (p.id.clone(), p.to_json())).collect();
    axum::Json(json!({
        "order": order,
        "posts": map,
        "next_post_id": "",
        "prev_post_id": "",
        "has_next": false,
    }))
    .into_response()
}

async fn upload_file(AxumState(shared): St, request: Request) -> Response {
    let (uri, headers) = (request.uri().clone(), request.headers().clone());
    let user = match begin(&shared, "upload_file", &uri, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let query_channel = uri
        .query()
        .map(|q| crate::peer::form_fields(q.as_bytes()))
        .and_then(|f| {
            f.get("channel_id")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        });
    let Ok(read) = read_body(request, 64 << 20).await else {
        return bad_request(
            "api.file.upload_file.read_request.app_error",
            "Unable to read the request.",
        );
    };
    let Body::Multipart(parts) = read.body else {
        return bad_request(
            "api.file.upload_file.incorrect_number_of_files.app_error",
            "Could not upload file(s).",
        );
    };
    let channel = query_channel.or_else(|| {
        parts
            .iter()
            .find(|p| p.name == "channel_id")
            .map(|p| p.text())
    });
    let Some(channel) = channel.filter(|c| !c.is_empty()) else {
        return bad_request(
            "api.file.upload_file.read_request.app_error",
            "Missing channel_id.",
        );
    };
    shared.state.update(|s| {
        if !s.is_member(&channel, &user) {
            return forbidden();
        }
        let mut infos = Vec::new();
        for part in parts.iter().filter(|p| p.name == "files") {
            let id = s.new_id('f');
            let info = FileInfo {
                id: id.clone(),
                user_id: user.clone(),
                channel_id: channel.clone(),
                post_id: String::new(),
                name: part.file_name.clone().unwrap_or_else(|| "file".into()),
                mime_type: part
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".into()),
                bytes: part.bytes.clone(),
            };
            infos.push(info.to_json());
            s.files.insert(id, info);
        }
        if infos.is_empty() {
            return bad_request(
                "api.file.upload_file.incorrect_number_of_files.app_error",
                "Could not upload file(s).",
            );
        }
        (
            StatusCode::CREATED,
            axum::Json(json!({"file_infos": infos, "client_ids": []})),
        )
            .into_response()
    })
}

async fn get_file(
    AxumState(shared): St,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = begin(&shared, "get_file", &uri, &headers) {
        return response;
    }
    let state = shared.state.lock();
    match state.files.get(&id) {
        Some(file) => {
            let disposition = format!("attachment;filename=\"{}\"", file.name);
            (
                [
                    (header::CONTENT_TYPE, file.mime_type.clone()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                file.bytes.clone(),
            )
                .into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            "app.file_info.get.app_error",
            "Unable to get the file info.",
        ),
    }
}

async fn file_info(
    AxumState(shared): St,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = begin(&shared, "file_info", &uri, &headers) {
        return response;
    }
    let state = shared.state.lock();
    match state.files.get(&id) {
        Some(file) => axum::Json(file.to_json()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "app.file_info.get.app_error",
            "Unable to get the file info.",
        ),
    }
}
