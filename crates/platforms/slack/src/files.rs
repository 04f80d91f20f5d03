//! Files users share with a message (`file_share`): which are fetched,
//! and fetching them.
//!
//! [`classify`] is pure: a file object becomes a [`Fetch`] or the reason
//! it is left, for the model:
//!
//! - a Slack Connect stub (`file_access: "check_file_info"`, sent for a
//!   file from another organization, with neither name nor address);
//! - a file Slack does not hold (`mode: "external"`, `is_external`), a
//!   deleted one (`tombstone`) or one a free workspace's storage limit
//!   hides (`hidden_by_limit`);
//! - a file without an address, or with one outside Slack's hosts: the
//!   bot token goes only to `slack.com` and its subdomains over HTTPS, or
//!   to the host of `SLACK_API_BASE_URL` (and its subdomains), which gets
//!   the token anyway.
//!
//! [`SlackAdapter::fetch_file`] downloads a [`Fetch`] with the kit's
//! [`MediaDir`] (size cap on the announced size, `Content-Length` and
//! the bytes; a stable local name, so a redelivered message finds its
//! file). Without the `files:read` scope Slack answers a file's address
//! with its sign-in page and HTTP 200: a web page where Slack announced
//! another type is removed and reported as the missing scope, never
//! handed on as the file. Errors and logs never hold a file's address.

use crate::adapter::SlackAdapter;
use crate::types::SharedFile;
use hermod_adapter_kit::{KitError, MediaDir, MediaFile, human_size};
use hermod_core::AdapterContext;
use hermod_model::{Attachment, AttachmentKind, Content, InboundEvent};
use tokio::io::AsyncReadExt;
use tracing::{debug, warn};

/// What the model is told when Slack sent its sign-in page.
const NO_FILES_READ: &str = "Slack sent its sign-in page instead of the file: the bot \
     token lacks the files:read scope (add it under OAuth & Permissions and reinstall the app)";

/// How many leading bytes of a download are read to recognise a web page.
const SNIFF_BYTES: usize = 512;

/// A file of a message, as the conversion found it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SharedFileRef {
    /// To download (for a sender core admits).
    Fetch(Fetch),
    /// Not downloadable: why, for the model.
    Skip(&'static str),
}

/// A file to download.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fetch {
    pub file: MediaFile,
    /// Slack's address of the bytes. It takes the bot token: never logged.
    pub url: String,
    /// Slack says the file is a web page itself, so a web page is no sign
    /// of its sign-in page.
    pub html: bool,
}

/// What to do with `file`, a file object of a message; `api_base_url`
/// is `SLACK_API_BASE_URL`.
pub(crate) fn classify(file: &SharedFile, api_base_url: &str) -> SharedFileRef {
    let id = file.id.trim();
    if id.is_empty() {
        return SharedFileRef::Skip("Slack did not identify it");
    }
    if file.file_access.as_deref() == Some("check_file_info") {
        return SharedFileRef::Skip("it comes from another organization through Slack Connect");
    }
    match file.mode.as_deref() {
        Some("tombstone") => return SharedFileRef::Skip("it was deleted"),
        Some("hidden_by_limit") => {
            return SharedFileRef::Skip("the workspace's file storage limit hides it");
        }
        Some("external") => {
            return SharedFileRef::Skip("it is a link to a file stored outside Slack");
        }
        _ => {}
    }
    if file.is_external == Some(true) {
        return SharedFileRef::Skip("it is a link to a file stored outside Slack");
    }
    let url = [&file.url_private_download, &file.url_private]
        .into_iter()
        .flatten()
        .map(|url| url.trim())
        .find(|url| !url.is_empty());
    let Some(url) = url else {
        return SharedFileRef::Skip("Slack gave no address to download it from");
    };
    if !slack_hosted(url, api_base_url) {
        return SharedFileRef::Skip("Slack gave an address outside its own file hosts");
    }
    let mime_type = file
        .mimetype
        .as_deref()
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty() && m != "application/octet-stream");
    let name = file
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let html = mime_type.as_deref() == Some("text/html")
        || file.filetype.as_deref() == Some("html")
        || name.is_some_and(|n| {
            let n = n.to_ascii_lowercase();
            n.ends_with(".html") || n.ends_with(".htm")
        });
    SharedFileRef::Fetch(Fetch {
        file: MediaFile {
            kind: kind_of(mime_type.as_deref()),
            id: id.to_owned(),
            file_name: name.map(str::to_owned),
            // Slack's `filetype` is a type name (`text`, `javascript`),
            // not an extension; files have names.
            extension: None,
            mime_type,
            size: file.size,
        },
        url: url.to_owned(),
        html,
    })
}

/// The attachment kind of a MIME type.
fn kind_of(mime: Option<&str>) -> AttachmentKind {
    let mime = mime.unwrap_or_default();
    if mime.starts_with("image/") {
        AttachmentKind::Photo
    } else if mime.starts_with("audio/") {
        AttachmentKind::Audio
    } else if mime.starts_with("video/") {
        AttachmentKind::Video
    } else {
        AttachmentKind::Document
    }
}

/// Whether the bot token may go to `url`: Slack's hosts over HTTPS, or
/// the configured Web API's host (or a subdomain of its domain) on its
/// scheme and port.
fn slack_hosted(url: &str, api_base_url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(host) = url.host_str() else {
        return false;
    };
    if url.scheme() == "https" && (host == "slack.com" || host.ends_with(".slack.com")) {
        return true;
    }
    let Ok(api) = reqwest::Url::parse(api_base_url) else {
        return false;
    };
    let same_host = api.host_str() == Some(host);
    let subdomain = api
        .domain()
        .is_some_and(|domain| host.ends_with(&format!(".{domain}")));
    url.scheme() == api.scheme()
        && url.port_or_known_default() == api.port_or_known_default()
        && (same_host || subdomain)
}

/// Whether `head`, a file's first bytes, is an HTML document.
fn looks_like_html(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    let start: String = text
        .chars()
        .take(20)
        .collect::<String>()
        .to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html")
}

/// Whether the file at `path` starts as an HTML document.
async fn starts_as_html(path: &str) -> bool {
    let Ok(mut file) = tokio::fs::File::open(path).await else {
        return false;
    };
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    let mut buf = [0_u8; SNIFF_BYTES];
    while head.len() < SNIFF_BYTES {
        match file.read(&mut buf[..SNIFF_BYTES - head.len()]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    looks_like_html(&head)
}

/// Appends a line to the event's text.
fn append_line(event: &mut InboundEvent, line: &str) {
    let text = event.content.text();
    let joined = if text.is_empty() {
        line.to_owned()
    } else {
        format!("{text}\n{line}")
    };
    event.content = Content::Text(joined);
}

impl SlackAdapter {
    /// Adds `files` to `event`, in order: each downloaded as an
    /// attachment, or a line telling the model why not. Nothing is
    /// fetched for a sender core will not answer (core still sees the
    /// event: it pairs strangers and dedupes).
    pub(crate) async fn attach_files(
        &self,
        event: &mut InboundEvent,
        files: &[SharedFileRef],
        ctx: &AdapterContext,
    ) {
        if !(event.vouched || ctx.inbound.admits(&event.source).await) {
            debug!(
                files = files.len(),
                "the sender is not allowed; their files are not downloaded"
            );
            return;
        }
        let dir = MediaDir::new(self.config().media_dir(), self.config().media_max_bytes);
        for file in files {
            let fetched = match file {
                SharedFileRef::Fetch(fetch) => self.fetch_file(fetch, &dir).await,
                SharedFileRef::Skip(reason) => Err((*reason).to_owned()),
            };
            match fetched {
                Ok(attachment) => event.attachments.push(attachment),
                Err(reason) => {
                    debug!(%reason, "an inbound file was not downloaded");
                    append_line(
                        event,
                        &format!("[a file was attached but not downloaded: {reason}]"),
                    );
                }
            }
        }
    }

    /// Downloads `fetch` into `dir`; the reason for the model when it
    /// was not.
    async fn fetch_file(&self, fetch: &Fetch, dir: &MediaDir) -> Result<Attachment, String> {
        // Without Slack's type the kit keeps the response's, which shows
        // a sign-in page; Slack's goes on the attachment after.
        let wanted = MediaFile {
            mime_type: None,
            ..fetch.file.clone()
        };
        let mut attachment = match dir.download(self.api().download(&fetch.url), &wanted).await {
            Ok(attachment) => attachment,
            Err(KitError::TooLarge { .. }) => {
                return Err(format!(
                    "it is larger than {} (SLACK_MEDIA_MAX_BYTES)",
                    human_size(dir.max_bytes())
                ));
            }
            Err(e @ KitError::Mismatch { .. }) => return Err(e.to_string()),
            Err(e) => {
                warn!(file = %fetch.file.id, error = %e, "downloading an inbound file failed");
                return Err("the download from Slack failed".into());
            }
        };
        let web_page = attachment.mime_type.as_deref() == Some("text/html")
            || starts_as_html(&attachment.location).await;
        if web_page && !fetch.html {
            // Best effort: a leftover would be found again, and refused
            // again, on a redelivery.
            let _ = tokio::fs::remove_file(&attachment.location).await;
            warn!(
                file = %fetch.file.id,
                "Slack answered a file download with its sign-in page: the bot token lacks \
                 the files:read scope; add it under OAuth & Permissions and reinstall the app"
            );
            return Err(NO_FILES_READ.into());
        }
        if fetch.file.mime_type.is_some() {
            attachment.mime_type.clone_from(&fetch.file.mime_type);
        }
        Ok(attachment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const API: &str = "https://slack.com/api";

    fn file(value: serde_json::Value) -> SharedFile {
        serde_json::from_value(value).unwrap()
    }

    /// The file object of the `file_share` example in Slack's reference.
    fn ghostrap() -> serde_json::Value {
        json!({
            "id": "F0RDC39U1",
            "created": 1_529_342_081,
            "timestamp": 1_529_342_081,
            "name": "ghostrap.png",
            "title": "ghostrap.png",
            "mimetype": "image/png",
            "filetype": "png",
            "pretty_type": "PNG",
            "user": "U061F7AUR",
            "editable": false,
            "size": 196_920,
            "mode": "hosted",
            "is_external": false,
            "external_type": "",
            "is_public": false,
            "public_url_shared": false,
            "display_as_bot": false,
            "username": "",
            "url_private": "https://files.slack.com/files-pri/T061EG9R6-F0RDC39U1/ghostrap.png",
            "url_private_download": "https://files.slack.com/files-pri/T061EG9R6-F0RDC39U1/download/ghostrap.png",
            "permalink": "https://episod-slackform.slack.com/files/U061F7AUR/F0RDC39U1/ghostrap.png",
            "has_rich_preview": false
        })
    }

    fn fetched(value: serde_json::Value, api: &str) -> Fetch {
        match classify(&file(value), api) {
            SharedFileRef::Fetch(fetch) => fetch,
            SharedFileRef::Skip(reason) => panic!("skipped: {reason}"),
        }
    }

    fn skipped(value: serde_json::Value) -> &'static str {
        match classify(&file(value), API) {
            SharedFileRef::Skip(reason) => reason,
            SharedFileRef::Fetch(fetch) => panic!("fetched {fetch:?}"),
        }
    }

    #[test]
    fn a_hosted_file_is_fetched_from_its_download_address() {
        let fetch = fetched(ghostrap(), API);
        assert_eq!(
            fetch.url,
            "https://files.slack.com/files-pri/T061EG9R6-F0RDC39U1/download/ghostrap.png"
        );
        assert_eq!(
            fetch.file,
            MediaFile {
                kind: AttachmentKind::Photo,
                id: "F0RDC39U1".into(),
                file_name: Some("ghostrap.png".into()),
                extension: None,
                mime_type: Some("image/png".into()),
                size: Some(196_920),
            }
        );
        assert!(!fetch.html);
        // Without the download address, the plain one.
        let mut value = ghostrap();
        value
            .as_object_mut()
            .unwrap()
            .remove("url_private_download");
        assert_eq!(
            fetched(value, API).url,
            "https://files.slack.com/files-pri/T061EG9R6-F0RDC39U1/ghostrap.png"
        );
    }

    #[test]
    fn slack_connect_external_deleted_and_hidden_files_are_skipped() {
        // The stub Slack sends for a file from another organization.
        let stub = json!({
            "id": "F12345678", "mode": "file_access", "file_access": "check_file_info",
            "created": 0, "timestamp": 0, "user": ""
        });
        assert!(skipped(stub).contains("Slack Connect"));
        for (mode, reason) in [
            ("external", "outside Slack"),
            ("tombstone", "deleted"),
            ("hidden_by_limit", "storage limit"),
        ] {
            let mut value = ghostrap();
            value["mode"] = json!(mode);
            assert!(skipped(value).contains(reason), "{mode}");
        }
        let mut linked = ghostrap();
        linked["is_external"] = json!(true);
        assert!(skipped(linked).contains("outside Slack"));
        let mut nowhere = ghostrap();
        nowhere["url_private"] = json!("");
        nowhere
            .as_object_mut()
            .unwrap()
            .remove("url_private_download");
        assert!(skipped(nowhere).contains("no address"));
        assert!(skipped(json!({"name": "x.png"})).contains("identify"));
    }

    #[test]
    fn the_token_goes_only_to_slacks_hosts_or_the_configured_api() {
        let mut elsewhere = ghostrap();
        for url in [
            "https://files.slack.com.example.net/x.png",
            "https://example.net/files.slack.com/x.png",
            "https://files.slack.com@example.net/x.png",
            "http://files.slack.com/x.png",
            "not a url",
        ] {
            elsewhere["url_private_download"] = json!(url);
            assert!(skipped(elsewhere.clone()).contains("outside"), "{url}");
        }
        // A fake or a proxy as SLACK_API_BASE_URL: its own host and port.
        let mut local = ghostrap();
        local["url_private_download"] =
            json!("http://127.0.0.1:4000/files-pri/T1-F1/download/a.png");
        fetched(local.clone(), "http://127.0.0.1:4000/api");
        assert!(matches!(
            classify(&file(local), "http://127.0.0.1:4001/api"),
            SharedFileRef::Skip(_)
        ));
        // GovSlack: files on a subdomain of the API's domain.
        let mut gov = ghostrap();
        gov["url_private_download"] = json!("https://files.slack-gov.com/files-pri/T1-F1/a.png");
        fetched(gov, "https://slack-gov.com/api");
    }

    #[test]
    fn kinds_follow_the_mime_type_and_web_pages_are_known() {
        let mut value = ghostrap();
        for (mime, kind) in [
            ("audio/mpeg", AttachmentKind::Audio),
            ("video/mp4", AttachmentKind::Video),
            ("application/pdf", AttachmentKind::Document),
        ] {
            value["mimetype"] = json!(mime);
            assert_eq!(fetched(value.clone(), API).file.kind, kind, "{mime}");
        }
        value["mimetype"] = json!("text/html");
        assert!(fetched(value, API).html);

        assert!(looks_like_html(
            b"\xef\xbb\xbf\n  <!DOCTYPE html><html lang=\"en\">"
        ));
        assert!(looks_like_html(b"<HTML><head>"));
        assert!(!looks_like_html(b"%PDF-1.7"));
        assert!(!looks_like_html(b"plain text mentioning <html>"));
        assert!(!looks_like_html(b""));
    }
}
