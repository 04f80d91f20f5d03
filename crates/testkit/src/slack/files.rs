//! File uploads the way Slack takes them now: `files.getUploadURLExternal`
//! hands out an upload URL and a file id, the bytes are POSTed there (raw,
//! or as a multipart form), and `files.completeUploadExternal` finishes the
//! upload and shares the files in a channel or thread. `files.info`
//! tells where a file is shared (its `shares`, by channel, with each
//! message's `ts` and, in a thread, its `thread_ts`).

use super::events;
use super::limits::ApiError;
use super::server::Params;
use super::state::{Author, BotMessage, ChannelKind, Shared, State, StoredMessage, UploadedFile};
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State as AxumState};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;

type Answer = Result<(Map<String, Value>, Vec<&'static str>), ApiError>;

pub(crate) fn get_upload_url(shared: &Shared, s: &mut State, p: &Params) -> Answer {
    let filename = p
        .str("filename")
        .ok_or_else(|| ApiError::missing("filename"))?;
    // The docs: `missing_argument` "typically only occurs when the length
    // provided is 0".
    let length = p
        .str("length")
        .and_then(|l| l.parse::<u64>().ok())
        .filter(|l| *l > 0)
        .ok_or_else(|| ApiError::slack("missing_argument"))?;
    let n = s.next();
    let id = format!("F0{n:09}");
    s.files.insert(
        id.clone(),
        UploadedFile {
            id: id.clone(),
            filename,
            declared_length: length,
            bytes: None,
            title: None,
            channel: None,
            thread_ts: None,
            initial_comment: None,
            completed: false,
            share_ts: None,
        },
    );
    let mut fields = Map::new();
    fields.insert(
        "upload_url".into(),
        json!(format!("{}/upload/v1/{id}", shared.base_url())),
    );
    fields.insert("file_id".into(), json!(id));
    Ok((fields, Vec::new()))
}

/// `POST /upload/v1/<file id>`: the bytes, raw or as the file of a
/// multipart form. Slack answers `OK - <bytes>` in plain text.
pub(crate) async fn upload(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("multipart/form-data"));
    let bytes = if multipart {
        match first_file(request).await {
            Some(bytes) => bytes,
            None => return (StatusCode::BAD_REQUEST, "no file in the form").into_response(),
        }
    } else {
        match Bytes::from_request(request, &()).await {
            Ok(bytes) => bytes.to_vec(),
            Err(_) => return StatusCode::BAD_REQUEST.into_response(),
        }
    };
    let size = bytes.len();
    let known = shared.update(|s| match s.files.get_mut(&id) {
        Some(file) => {
            file.bytes = Some(bytes);
            true
        }
        None => false,
    });
    if !known {
        return StatusCode::NOT_FOUND.into_response();
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("OK - {size}"),
    )
        .into_response()
}

async fn first_file(request: Request) -> Option<Vec<u8>> {
    let mut form = Multipart::from_request(request, &()).await.ok()?;
    let mut fallback = None;
    while let Some(field) = form.next_field().await.ok()? {
        let is_file = field.file_name().is_some() || field.name() == Some("file");
        let bytes = field.bytes().await.ok()?.to_vec();
        if is_file {
            return Some(bytes);
        }
        fallback.get_or_insert(bytes);
    }
    fallback
}

pub(crate) fn complete_upload(shared: &Arc<Shared>, s: &mut State, p: &Params) -> Answer {
    let files = p
        .json("files")
        .map_err(|()| ApiError::slack("invalid_arguments"))?
        .and_then(|f| f.as_array().cloned())
        .ok_or_else(|| ApiError::missing("files"))?;
    let mut entries = Vec::new();
    for file in &files {
        let id = file["id"].as_str().unwrap_or_default().to_owned();
        match s.files.get(&id) {
            Some(stored) if stored.bytes.is_some() => {}
            _ => return Err(ApiError::slack("file_not_found")),
        }
        entries.push((id, file["title"].as_str().map(str::to_owned)));
    }
    let target = p.str("channel_id").or_else(|| {
        p.str("channels")
            .and_then(|c| c.split(',').next().map(str::to_owned))
    });
    let channel = match target {
        Some(id) => {
            let channel = s
                .channels
                .get(&id)
                .cloned()
                .ok_or_else(|| ApiError::slack("channel_not_found"))?;
            if !events::delivers(&channel) {
                return Err(ApiError::slack("not_in_channel"));
            }
            Some(channel)
        }
        None => None,
    };
    let thread_ts = p.str("thread_ts");
    let comment = p.str("initial_comment");
    let mut answered = Vec::new();
    for (id, title) in &entries {
        if let Some(file) = s.files.get_mut(id) {
            file.completed = true;
            file.title = title.clone().or_else(|| Some(file.filename.clone()));
            file.channel = channel.as_ref().map(|c| c.id.clone());
            file.thread_ts.clone_from(&thread_ts);
            file.initial_comment.clone_from(&comment);
            answered.push(json!({"id": id, "title": file.title}));
        }
    }
    if let Some(channel) = channel {
        // Sharing posts a message carrying the files, in the channel or
        // the thread.
        let text = comment.unwrap_or_default();
        let ts = s.next_ts();
        let mut message = events::bot_message(shared, &text, &ts, thread_ts.as_deref(), None);
        let ids: Vec<String> = entries.iter().map(|(id, _)| id.clone()).collect();
        for id in &ids {
            if let Some(file) = s.files.get_mut(id) {
                file.share_ts = Some(ts.clone());
            }
        }
        let objects: Vec<Value> = ids
            .iter()
            .filter_map(|id| s.files.get(id))
            .map(shared_file_json)
            .collect();
        message["files"] = json!(objects);
        message["upload"] = json!(true);
        s.messages.push(StoredMessage {
            author: Author::Bot,
            record: BotMessage {
                channel: channel.id,
                ts,
                thread_ts,
                text,
                blocks: None,
                mrkdwn: true,
                edits: Vec::new(),
                deleted: false,
                reactions: Vec::new(),
                files: ids,
            },
            json: message,
        });
    }
    let mut fields = Map::new();
    fields.insert("files".into(), json!(answered));
    Ok((fields, Vec::new()))
}

/// `files.info`: the file object of an uploaded file, with `shares`:
/// `public` (public channels) or `private` (private channels and DMs),
/// channel id → the messages sharing it (`ts`, `thread_ts` for a reply,
/// `channel_name`, `team_id`). A file never uploaded, or whose upload
/// was discarded, is `file_not_found`. Slack lets a bot see the files in
/// channels it is in; every file here is the bot's own.
pub(crate) fn info(shared: &Arc<Shared>, s: &mut State, p: &Params) -> Answer {
    let id = p.str("file").ok_or_else(|| ApiError::missing("file"))?;
    let file = s
        .files
        .get(&id)
        .filter(|f| f.bytes.is_some())
        .ok_or_else(|| ApiError::slack("file_not_found"))?;
    let mut object = shared_file_json(file);
    let mut shares = Map::new();
    let (mut channels, mut groups, mut ims) = (Vec::new(), Vec::new(), Vec::new());
    if let (Some(channel_id), Some(ts)) = (&file.channel, &file.share_ts)
        && let Some(channel) = s.channels.get(channel_id)
    {
        let mut share = json!({
            "ts": ts,
            "channel_name": channel.name,
            "team_id": shared.config.team_id,
        });
        if let Some(thread) = &file.thread_ts {
            share["thread_ts"] = json!(thread);
        }
        let scope = match channel.kind {
            ChannelKind::Public => {
                channels.push(channel.id.clone());
                "public"
            }
            ChannelKind::Private => {
                groups.push(channel.id.clone());
                "private"
            }
            ChannelKind::Im => {
                ims.push(channel.id.clone());
                "private"
            }
        };
        shares.insert(scope.to_owned(), json!({ channel.id.clone(): [share] }));
    }
    object["shares"] = Value::Object(shares);
    object["channels"] = json!(channels);
    object["groups"] = json!(groups);
    object["ims"] = json!(ims);
    object["is_public"] = json!(!channels.is_empty());
    let mut fields = Map::new();
    fields.insert("file".into(), object);
    fields.insert("comments".into(), json!([]));
    Ok((fields, Vec::new()))
}

/// The file object a share message carries: what a reader of the
/// channel sees of an upload (Slack's file object, in part).
fn shared_file_json(file: &UploadedFile) -> Value {
    let filetype = file
        .filename
        .rsplit_once('.')
        .map_or("binary", |(_, ext)| ext)
        .to_ascii_lowercase();
    json!({
        "id": file.id,
        "name": file.filename,
        "title": file.title,
        "filetype": filetype,
        "size": file.bytes.as_ref().map_or(0, Vec::len),
        "mode": "hosted",
        "is_external": false,
    })
}
