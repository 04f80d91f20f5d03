//! The fake's CDN: users' attachments under `/attachments/`, served only
//! at the signed URL the fake gave out (Discord's CDN refuses a URL whose
//! signature was stripped), and held back on demand
//! ([`FakeDiscord::hold_downloads`]) so a test can keep a download in
//! flight while it looks at what else the bot does.

use super::FakeDiscord;
use super::state::{Shared, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

impl FakeDiscord {
    /// Holds back attachment downloads until the returned hold is released
    /// or dropped: a download asked for meanwhile is counted and then
    /// waits, unanswered, as a slow CDN would keep it. Holds nest; the
    /// downloads go on when the last one ends.
    pub fn hold_downloads(&self) -> DownloadHold {
        self.shared.update(|s| s.cdn_holds += 1);
        DownloadHold {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// Attachment downloads held back by [`FakeDiscord::hold_downloads`];
/// they go on when this is released or dropped.
#[derive(Debug)]
#[must_use = "downloads are held only while the hold lives"]
pub struct DownloadHold {
    shared: Arc<Shared>,
}

impl DownloadHold {
    /// How many downloads wait on a hold now.
    pub fn held(&self) -> usize {
        self.shared.lock().held_downloads
    }

    /// Waits until at least `n` downloads wait on a hold at once.
    pub async fn wait_for_held(&self, n: usize) {
        self.shared
            .wait_until(|s| (s.held_downloads >= n).then_some(()))
            .await;
    }

    /// Lets the waiting downloads, and every later one, through (unless
    /// another hold still lives).
    pub fn release(self) {}
}

impl Drop for DownloadHold {
    fn drop(&mut self) {
        self.shared.update(|s| s.cdn_holds -= 1);
    }
}

/// A download waiting on a hold; counted out when it stops waiting,
/// released or abandoned.
struct Waiting<'a>(&'a Shared);

impl<'a> Waiting<'a> {
    fn start(shared: &'a Shared) -> Self {
        shared.update(|s| s.held_downloads += 1);
        Self(shared)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.update(|s| s.held_downloads -= 1);
    }
}

/// `GET /attachments/{channel}/{id}/{filename}?ex=..&is=..&hm=..`: the
/// file, if the URL is the one the fake signed, once no hold keeps it
/// back.
pub(crate) async fn download(shared: &Shared, path: &str, query: Option<&str>) -> Response {
    let held = shared.update(|s| {
        s.cdn_downloads += 1;
        s.cdn_holds > 0
    });
    if held {
        let _waiting = Waiting::start(shared);
        let released = shared.wait_until(|s| (s.cdn_holds == 0).then_some(()));
        tokio::select! {
            () = released => {}
            // The fake is stopping: nothing waits for the test any more.
            () = shared.shutdown.cancelled() => return unavailable(),
        }
    }
    serve(&shared.lock(), path, query)
}

/// The stored file at `path`, or Discord's answer for content that is
/// gone.
fn serve(s: &State, path: &str, query: Option<&str>) -> Response {
    let parts: Vec<&str> = path.split('/').collect();
    let [channel, id, filename] = parts.as_slice() else {
        return gone();
    };
    let signature = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "hm")
        .map(|(_, v)| v.into_owned());
    let stored = id.parse::<u64>().ok().and_then(|id| s.files.get(&id));
    let Some(stored) = stored else {
        return gone();
    };
    let url_matches = signature.as_deref() == Some(stored.signature.as_str())
        && path_matches(s, channel, id, filename, &stored.file.filename);
    if !url_matches {
        return gone();
    }
    let content_type = stored
        .file
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        stored.file.bytes.clone(),
    )
        .into_response()
}

fn path_matches(s: &State, channel: &str, id: &str, filename: &str, stored_name: &str) -> bool {
    let channel_known = channel
        .parse::<u64>()
        .is_ok_and(|c| s.channels.contains_key(&c));
    channel_known
        && id.parse::<u64>().is_ok()
        && super::routes::percent_decode(filename) == stored_name
}

fn gone() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain")],
        "This content is no longer available.",
    )
        .into_response()
}

fn unavailable() -> Response {
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}

#[cfg(test)]
mod tests {
    use super::super::{FakeFile, Post};
    use super::*;
    use std::time::Duration;

    /// Longest a test waits for the fake.
    const PATIENCE: Duration = Duration::from_secs(5);

    async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
        tokio::time::timeout(PATIENCE, future)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    /// A fake with one user's attachment on it; returns the file's URL.
    async fn fake_with_attachment() -> (FakeDiscord, String) {
        let fake = FakeDiscord::start().await;
        let alice = fake.user("alice");
        let file = FakeFile::new("notes.txt", "text/plain", b"held".to_vec());
        let id = alice.send(
            alice.dm_channel(),
            Post::text("a file").with_attachment(file),
        );
        let message = fake.message(id).expect("the message is stored");
        let url = message["attachments"][0]["url"].as_str().expect("a URL");
        (fake, url.to_owned())
    }

    async fn get(url: String) -> (StatusCode, Vec<u8>) {
        let client = hermod_http::HttpClient::new().expect("an HTTP client");
        let answer = client.reqwest().get(url).send().await;
        let answer = answer.expect("the CDN answers");
        let status = answer.status();
        let bytes = answer.bytes().await.expect("the body arrives");
        (status, bytes.to_vec())
    }

    #[tokio::test]
    async fn a_held_download_waits_until_the_hold_is_released() {
        let (fake, url) = fake_with_attachment().await;
        let hold = fake.hold_downloads();
        let download = tokio::spawn(get(url.clone()));
        within("the download to be held", hold.wait_for_held(1)).await;
        assert!(!download.is_finished(), "a held download was answered");
        assert_eq!(fake.cdn_downloads(), 1, "a held download is counted");

        hold.release();
        let (status, bytes) = within("the released download", download)
            .await
            .expect("the download task ends");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(bytes, b"held");
        // Nothing holds the next one.
        assert_eq!(within("a free download", get(url)).await.1, b"held");
    }

    #[tokio::test]
    async fn downloads_go_on_only_when_the_last_hold_ends() {
        let (fake, url) = fake_with_attachment().await;
        let outer = fake.hold_downloads();
        let inner = fake.hold_downloads();
        let download = tokio::spawn(get(url));
        within("the download to be held", outer.wait_for_held(1)).await;
        drop(inner);
        assert_eq!(outer.held(), 1, "one hold still keeps it");
        assert!(!download.is_finished());
        drop(outer);
        let (status, _) = within("the released download", download)
            .await
            .expect("the download task ends");
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_stopping_fake_ends_a_held_download() {
        let (fake, url) = fake_with_attachment().await;
        let hold = fake.hold_downloads();
        let download = tokio::spawn(get(url));
        within("the download to be held", hold.wait_for_held(1)).await;
        drop(fake);
        let (status, _) = within("the fake to answer as it stops", download)
            .await
            .expect("the download task ends");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(hold.held(), 0);
    }
}
