//! Files users share with the bot, as Slack hands them to an app: the
//! file objects a `file_share` message carries (Slack's file type, or
//! Slack Connect's stub for a file from another organization), and the
//! private URLs (`url_private`, `url_private_download`) that serve them.
//!
//! A private URL serves the bytes (with the file's type and length) only
//! to a request with the bot token in `Authorization: Bearer` while the
//! token has the `files:read` scope. Otherwise it answers as Slack does:
//! its HTML sign-in page with HTTP 200, which an app must not take for
//! the file. Every request is recorded ([`FileDownload`]).

use super::state::{Shared, State, unix_secs};
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

/// A file a user shares ([`super::SlackUser::dm_files`],
/// [`super::SlackUser::share_files_in`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// The sender's file name.
    pub name: String,
    pub mimetype: String,
    pub bytes: Vec<u8>,
    /// The `size` the file object announces; `None`: the bytes' length.
    pub announced_size: Option<u64>,
    /// Shared from another organization through Slack Connect: the event
    /// carries only the stub (`file_access: "check_file_info"`).
    pub slack_connect: bool,
}

impl NewFile {
    pub fn new(name: &str, mimetype: &str, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.to_owned(),
            mimetype: mimetype.to_owned(),
            bytes: bytes.into(),
            announced_size: None,
            slack_connect: false,
        }
    }

    /// The file object announces `size` bytes, whatever the bytes are.
    #[must_use]
    pub fn announcing_size(mut self, size: u64) -> Self {
        self.announced_size = Some(size);
        self
    }

    /// The file comes from another organization (Slack Connect).
    #[must_use]
    pub fn from_another_organization(mut self) -> Self {
        self.slack_connect = true;
        self
    }
}

/// One request for a file's private URL, in order of arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDownload {
    /// The file asked for (`F…`).
    pub file_id: String,
    /// It carried the bot token in `Authorization: Bearer`.
    pub authorized: bool,
    /// The file's bytes were served (not the sign-in page or a 404).
    pub served: bool,
}

/// A file a user shared, as the fake keeps it.
#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub(crate) mimetype: String,
    pub(crate) bytes: Vec<u8>,
}

/// What the fake keeps about shared files.
#[derive(Debug, Default)]
pub(crate) struct FileState {
    pub(crate) files: std::collections::BTreeMap<String, StoredFile>,
    pub(crate) downloads: Vec<FileDownload>,
    /// The bot token lacks `files:read`.
    pub(crate) no_files_read: bool,
}

/// Stores `file`, shared by `user`, and returns the file object its
/// message carries.
pub(crate) fn share(shared: &Shared, s: &mut State, user: &str, file: &NewFile) -> Value {
    let config = &shared.config;
    let id = format!("F0{:09}", s.next());
    s.shared_files.files.insert(
        id.clone(),
        StoredFile {
            mimetype: file.mimetype.clone(),
            bytes: file.bytes.clone(),
        },
    );
    if file.slack_connect {
        // As Slack's reference shows it: no name, type, size or address.
        return json!({
            "id": id,
            "mode": "file_access",
            "file_access": "check_file_info",
            "created": 0,
            "timestamp": 0,
            "user": "",
        });
    }
    let now = unix_secs();
    let filetype = file
        .name
        .rsplit_once('.')
        .map_or("binary", |(_, ext)| ext)
        .to_ascii_lowercase();
    let in_path = path_name(&file.name);
    let private = format!("{}/files-pri/{}-{id}", shared.base_url(), config.team_id);
    json!({
        "id": id,
        "created": now,
        "timestamp": now,
        "name": file.name,
        "title": file.name,
        "mimetype": file.mimetype,
        "filetype": filetype,
        "pretty_type": filetype.to_ascii_uppercase(),
        "user": user,
        "user_team": config.team_id,
        "editable": false,
        "size": file.announced_size.unwrap_or(file.bytes.len() as u64),
        "mode": "hosted",
        "is_external": false,
        "external_type": "",
        "is_public": false,
        "public_url_shared": false,
        "display_as_bot": false,
        "username": "",
        "url_private": format!("{private}/{in_path}"),
        "url_private_download": format!("{private}/download/{in_path}"),
        "permalink": format!("https://{}.slack.com/files/{user}/{id}/{in_path}", config.team_domain),
        "has_rich_preview": false,
    })
}

/// A file name as a URL path segment.
fn path_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `GET /files-pri/<team>-<file id>/...`: a file's private URL.
pub(crate) async fn serve(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path((key, _rest)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let file_id = key
        .split_once('-')
        .map_or(key.as_str(), |(_, id)| id)
        .to_owned();
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let authorized = token.as_deref() == Some(shared.config.bot_token.as_str());
    shared.update(|s| {
        let files = &mut s.shared_files;
        let file = files.files.get(&file_id).cloned();
        let served = authorized && !files.no_files_read && file.is_some();
        files.downloads.push(FileDownload {
            file_id,
            authorized,
            served,
        });
        match file {
            Some(file) if served => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, file.mimetype)],
                file.bytes,
            )
                .into_response(),
            // Slack sends whoever may not read files to its sign-in page.
            _ if !authorized || files.no_files_read => sign_in_page(&shared),
            _ => StatusCode::NOT_FOUND.into_response(),
        }
    })
}

/// Slack's sign-in page for the workspace, as a browser would get it.
fn sign_in_page(shared: &Shared) -> Response {
    let config = &shared.config;
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en-US\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Sign in | Slack</title>\n</head>\n<body>\n<h1>Sign in to {}</h1>\n\
         <p>{}.slack.com</p>\n<form action=\"/signin\" method=\"post\"></form>\n</body>\n</html>\n",
        config.team_name, config.team_domain
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::FakeSlack;

    /// The message `ts` of `channel` as events carry it.
    fn message_json(fake: &FakeSlack, channel: &str, ts: &str) -> Value {
        fake.shared
            .lock()
            .message(channel, ts)
            .unwrap()
            .json
            .clone()
    }

    #[tokio::test]
    async fn a_shared_file_is_served_to_the_bot_token_with_files_read_only() {
        let fake = FakeSlack::start().await;
        let alice = fake.user("alice");
        let posted = alice.dm_files(
            "",
            &[
                NewFile::new(
                    "notes one.pdf",
                    "application/pdf",
                    b"%PDF-1.7 notes".to_vec(),
                ),
                NewFile::new("big.bin", "application/octet-stream", vec![1_u8; 10])
                    .announcing_size(1 << 30),
                NewFile::new("theirs.png", "image/png", vec![2_u8; 4]).from_another_organization(),
            ],
        );
        let message = message_json(&fake, &posted.channel, &posted.ts);
        assert_eq!(message["subtype"], "file_share");
        assert_eq!(message["upload"], true);
        assert!(message.get("blocks").is_none(), "no text, no blocks");
        let files = message["files"].as_array().unwrap();
        let pdf = &files[0];
        assert_eq!(pdf["name"], "notes one.pdf");
        assert_eq!(pdf["mimetype"], "application/pdf");
        assert_eq!(pdf["filetype"], "pdf");
        assert_eq!(pdf["size"], 14);
        assert_eq!(pdf["mode"], "hosted");
        assert_eq!(files[1]["size"], 1_u64 << 30);
        assert_eq!(files[2]["file_access"], "check_file_info");
        assert!(files[2].get("url_private").is_none());

        let url = pdf["url_private_download"].as_str().unwrap();
        assert!(url.starts_with(&fake.base_url()), "{url}");
        let http = reqwest::Client::new();
        let get = |token: Option<&str>| {
            let request = http.get(url);
            match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
        };
        let bot = fake.config().bot_token.clone();
        let ok = get(Some(&bot)).send().await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.headers()[header::CONTENT_TYPE], "application/pdf");
        assert_eq!(ok.bytes().await.unwrap().as_ref(), b"%PDF-1.7 notes");

        let app = fake.config().app_token.clone();
        for token in [None, Some(app.as_str()), Some("xoxb-wrong")] {
            let page = get(token).send().await.unwrap();
            assert_eq!(page.status(), StatusCode::OK, "{token:?}");
            let kind = page.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(kind.starts_with("text/html"), "{kind}");
            assert!(page.text().await.unwrap().starts_with("<!DOCTYPE html>"));
        }
        fake.set_files_read_scope(false);
        let page = get(Some(&bot)).send().await.unwrap();
        assert!(
            page.text()
                .await
                .unwrap()
                .contains("Sign in to Hermod Test")
        );
        fake.set_files_read_scope(true);
        let unknown = url.replace(pdf["id"].as_str().unwrap(), "F0NOSUCHFILE");
        let missing = http.get(unknown).bearer_auth(&bot).send().await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);

        let served: Vec<(bool, bool)> = fake
            .file_downloads()
            .iter()
            .map(|d| (d.authorized, d.served))
            .collect();
        assert_eq!(
            served,
            [
                (true, true),
                (false, false),
                (false, false),
                (false, false),
                (true, false),
                (true, false),
            ]
        );
        assert_eq!(
            fake.file_downloads()[0].file_id,
            pdf["id"].as_str().unwrap()
        );
    }
}
