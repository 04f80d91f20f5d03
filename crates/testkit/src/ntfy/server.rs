//! The fake's HTTP side: publishing, the JSON stream, access control and
//! scripted faults, answered as ntfy answers them.

use super::{Fault, Frame, MESSAGE_SIZE_LIMIT, NtfyMessage, Shared, Subscription, keepalive_line};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{topic}/json", get(subscribe))
        .route("/{topic}", post(publish).put(publish))
        .route("/file/{id}", get(download))
        .with_state(shared)
}

/// ntfy's error JSON.
fn error(status: StatusCode, code: u32, text: &str, link: &str) -> Response {
    let mut body = json!({"code": code, "http": status.as_u16(), "error": text});
    if !link.is_empty() {
        body["link"] = json!(link);
    }
    (status, axum::Json(body)).into_response()
}

/// 401 or 403 when access control refuses the request.
fn refuse(shared: &Shared, headers: &HeaderMap, topic: &str) -> Option<Response> {
    const LINK: &str = "https://ntfy.sh/docs/publish/#authentication";
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let refused = match &shared.token {
        Some(token) if given != Some(format!("Bearer {token}").as_str()) => {
            Some(error(StatusCode::UNAUTHORIZED, 40101, "unauthorized", LINK))
        }
        _ if shared.state.lock().denied.iter().any(|t| t == topic) => {
            Some(error(StatusCode::FORBIDDEN, 40301, "forbidden", LINK))
        }
        _ => None,
    };
    if refused.is_some() {
        shared.state.update(|s| s.refused += 1);
    }
    refused
}

/// The scripted fault for `route`, answered.
fn fault(shared: &Shared, route: &'static str) -> Option<Response> {
    let fault = shared.state.update(|s| s.faults.take(&[route]))?;
    Some(match fault {
        Fault::RateLimited { retry_after } => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                42901,
                "limit reached: too many requests",
                "https://ntfy.sh/docs/publish/#limitations",
            );
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            response
        }
        Fault::Server(status) => error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            50001,
            "internal server error",
            "",
        ),
    })
}

/// The first of `names` present, as text.
fn header_of<'a>(headers: &'a HeaderMap, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()))
}

async fn publish(
    State(shared): State<Arc<Shared>>,
    Path(topic): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refuse(&shared, &headers, &topic) {
        return refused;
    }
    if let Some(failed) = fault(&shared, "publish") {
        return failed;
    }
    // A body with a file name is a file; the message is then a header.
    let name = header_of(&headers, &["x-filename", "filename", "file", "f"]).or_else(|| {
        ["filename", "file", "f"]
            .iter()
            .find_map(|k| query.get(*k).map(String::as_str))
    });
    let file = name.map(|name| super::NtfyFile {
        name: name.to_owned(),
        mime: header_of(&headers, &["content-type"])
            .unwrap_or("application/octet-stream")
            .to_owned(),
        bytes: body.to_vec(),
        url: String::new(),
    });
    let text = match &file {
        Some(_) => header_of(&headers, &["x-message", "message", "m"])
            .unwrap_or_default()
            .to_owned(),
        None => String::from_utf8_lossy(&body).into_owned(),
    };
    let tags = header_of(&headers, &["x-tags", "tags", "tag", "ta"])
        .map(|t| {
            t.split(',')
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let markdown = header_of(&headers, &["x-markdown", "markdown", "md"])
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "yes" | "true" | "1"));
    let message = shared.state.update(|s| {
        s.add(NtfyMessage {
            id: String::new(),
            time: 0,
            topic: topic.clone(),
            attachment: text.len() > MESSAGE_SIZE_LIMIT,
            message: text,
            title: header_of(&headers, &["x-title", "title", "ti", "t"]).map(str::to_owned),
            tags,
            markdown,
            by_client: true,
            file,
        })
    });
    axum::Json(message.to_json()).into_response()
}

/// An attachment, as ntfy serves `/file/<id>`.
async fn download(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let found = shared.state.update(|s| {
        let file = s
            .messages
            .iter()
            .find(|m| m.id == id)
            .and_then(|m| Some((m.topic.clone(), m.file.clone()?)));
        if file.is_some() {
            s.downloads += 1;
        }
        file
    });
    let Some((topic, file)) = found else {
        return error(StatusCode::NOT_FOUND, 40401, "page not found", "");
    };
    if let Some(refused) = refuse(&shared, &headers, &topic) {
        return refused;
    }
    ([(header::CONTENT_TYPE, file.mime)], file.bytes).into_response()
}

async fn subscribe(
    State(shared): State<Arc<Shared>>,
    Path(topic): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refuse(&shared, &headers, &topic) {
        return refused;
    }
    if let Some(failed) = fault(&shared, "subscribe") {
        return failed;
    }
    let since = query.get("since").cloned();
    if query
        .get("poll")
        .is_some_and(|p| matches!(p.as_str(), "1" | "yes" | "true"))
    {
        // A poll: the cached messages, then the end of the answer.
        let state = shared.state.lock();
        let cached: Vec<&NtfyMessage> =
            state.messages.iter().filter(|m| m.topic == topic).collect();
        let body: String = cached_since(&cached, since.as_deref().or(Some("all")))
            .iter()
            .map(|m| format!("{}\n", m.to_json()))
            .collect();
        return (
            [(header::CONTENT_TYPE, "application/x-ndjson; charset=utf-8")],
            body,
        )
            .into_response();
    }
    let (tx, rx) = mpsc::unbounded_channel();
    shared.state.update(|s| {
        s.subscriptions.push(Subscription {
            topic: topic.clone(),
            since: since.clone(),
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        });
        let open = json!({"id": format!("open{}", s.subscriptions.len()), "time": s.now, "event": "open", "topic": topic});
        let _ = tx.send(Frame::Line(open.to_string()));
        let cached: Vec<&NtfyMessage> = s.messages.iter().filter(|m| m.topic == topic).collect();
        for message in cached_since(&cached, since.as_deref()) {
            let _ = tx.send(Frame::Line(message.to_json().to_string()));
        }
        s.streams.push((topic.clone(), tx.clone()));
    });
    if let Some(every) = shared.keepalive {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shared.shutdown.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
                let sent = shared.state.update(|s| {
                    s.keepalives += 1;
                    tx.send(Frame::Line(keepalive_line(&topic, s.now))).is_ok()
                });
                if !sent {
                    return;
                }
            }
        });
    }
    let shutdown = shared.shutdown.clone();
    let stream = futures_util::stream::unfold((rx, false), move |(mut rx, done)| {
        let shutdown = shutdown.clone();
        async move {
            if done {
                return None;
            }
            let frame = tokio::select! {
                () = shutdown.cancelled() => None,
                frame = rx.recv() => frame,
            };
            match frame? {
                Frame::Line(line) => Some((Ok(Bytes::from(format!("{line}\n"))), (rx, false))),
                Frame::Drop => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "dropped by the fake",
                    )),
                    (rx, true),
                )),
            }
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson; charset=utf-8"),
    );
    response
}

/// The cached messages `since` selects: none without it; `all`; `latest`
/// (the last one); after a message id (none when the id is unknown, as
/// ntfy's cache query finds nothing); or from a Unix timestamp on.
fn cached_since<'a>(messages: &[&'a NtfyMessage], since: Option<&str>) -> Vec<&'a NtfyMessage> {
    match since {
        None => Vec::new(),
        Some("all") => messages.to_vec(),
        Some("latest") => messages.last().map(|m| vec![*m]).unwrap_or_default(),
        Some(since) if since.bytes().all(|b| b.is_ascii_digit()) => {
            let from: i64 = since.parse().unwrap_or(i64::MAX);
            messages
                .iter()
                .filter(|m| m.time >= from)
                .copied()
                .collect()
        }
        Some(id) => match messages.iter().position(|m| m.id == id) {
            Some(at) => messages[at + 1..].to_vec(),
            None => Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::FakeNtfy;
    use super::*;

    fn message(id: &str, time: i64) -> NtfyMessage {
        NtfyMessage {
            id: id.into(),
            time,
            topic: "t".into(),
            message: "m".into(),
            title: None,
            tags: Vec::new(),
            markdown: false,
            attachment: false,
            by_client: false,
            file: None,
        }
    }

    #[test]
    fn since_selects_as_ntfy_does() {
        let (a, b, c) = (message("a", 10), message("b", 20), message("c", 30));
        let all = [&a, &b, &c];
        let ids = |v: Vec<&NtfyMessage>| v.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
        assert!(cached_since(&all, None).is_empty());
        assert_eq!(ids(cached_since(&all, Some("all"))), ["a", "b", "c"]);
        assert_eq!(ids(cached_since(&all, Some("latest"))), ["c"]);
        assert_eq!(ids(cached_since(&all, Some("a"))), ["b", "c"]);
        assert!(cached_since(&all, Some("unknown")).is_empty());
        assert_eq!(ids(cached_since(&all, Some("20"))), ["b", "c"]);
    }

    #[tokio::test]
    async fn publishes_answer_the_message_and_streams_carry_it() {
        let fake = FakeNtfy::start().await;
        let http = hermod_http::HttpClient::new().unwrap().reqwest().clone();
        let earlier = fake.publish("t", "before");
        let mut stream = http
            .get(format!("{}/t/json?since=all", fake.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), 200);
        let answer: serde_json::Value = http
            .post(format!("{}/t", fake.base_url()))
            .header("Tags", "a,b")
            .header("Markdown", "yes")
            .body("hello")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["event"], "message");
        assert_eq!(answer["message"], "hello");
        assert_eq!(answer["tags"], json!(["a", "b"]));
        let mut text = String::new();
        while text.lines().count() < 3 {
            let chunk = stream.chunk().await.unwrap().unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["event"], "open");
        assert_eq!(lines[1]["id"], earlier.as_str());
        assert_eq!(lines[2]["id"], answer["id"]);
        fake.drop_streams();
        let mut dropped = false;
        for _ in 0..10 {
            match stream.chunk().await {
                Err(_) => {
                    dropped = true;
                    break;
                }
                Ok(None) => break,
                Ok(Some(_)) => {}
            }
        }
        assert!(dropped, "a dropped stream ends in an error");
    }

    #[tokio::test]
    async fn access_control_and_limits_answer_ntfys_errors() {
        let fake = FakeNtfy::builder().with_token("tk_abc").start().await;
        let http = hermod_http::HttpClient::new().unwrap().reqwest().clone();
        let url = format!("{}/t", fake.base_url());
        let anonymous = http.post(&url).body("x").send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        let body: serde_json::Value = anonymous.json().await.unwrap();
        assert_eq!(body["code"], 40101);
        fake.deny("t");
        let denied = http
            .post(&url)
            .bearer_auth("tk_abc")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(denied.status(), 403);
        let other = format!("{}/u", fake.base_url());
        fake.fail_next(
            "publish",
            Fault::RateLimited {
                retry_after: Some(7),
            },
        );
        let limited = http
            .post(&other)
            .bearer_auth("tk_abc")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(limited.status(), 429);
        assert_eq!(limited.headers()["retry-after"], "7");
        let body: serde_json::Value = limited.json().await.unwrap();
        assert_eq!(body["code"], 42901);
        assert_eq!(fake.refused(), 2);
    }
}
