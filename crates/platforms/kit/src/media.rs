//! [`MediaDir`]: inbound files downloaded into `HERMOD_HOME/media`, with a
//! size cap and a MIME type, and named so a redelivered message finds its
//! file already there.
//!
//! A file is written under a temporary name and renamed when complete, so
//! the directory never holds a partial file under a real name. The cap is
//! checked three times: the size the platform announced, the response's
//! `Content-Length`, and the bytes as they arrive (a server may announce
//! nothing, or lie). The MIME type is sniffed from the bytes
//! ([`sniff`](self::sniff)); the declared one (the platform's, else the
//! response's `Content-Type`, else guessed from the extension) is kept only
//! when the bytes do not tell, and a file whose bytes contradict a declared
//! image, audio or PDF type is refused ([`KitError::Mismatch`]). Names are
//! built in [`name`](self::name); [`retention`](self::retention) deletes
//! old files.

mod name;
mod retention;
mod sniff;

pub use name::local_name;
pub use retention::{
    CLEANUP_EVERY, CleanupReport, DEFAULT_MEDIA_MAX_AGE_DAYS, DEFAULT_MEDIA_MAX_MB, MediaCleanup,
    MediaRetention, cleanup,
};

use crate::error::KitError;
use hermod_http::reqwest;
use hermod_model::{Attachment, AttachmentKind};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Where inbound files go, and the largest accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDir {
    dir: PathBuf,
    max_bytes: u64,
}

/// What the platform says about a file to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    pub kind: AttachmentKind,
    /// The platform's stable id of the file (the same file, the same id):
    /// the local name starts with it.
    pub id: String,
    /// The sender's file name, if any.
    pub file_name: Option<String>,
    /// An extension to use when there is no file name (`jpg`, from the
    /// remote path or the platform's conventions).
    pub extension: Option<String>,
    pub mime_type: Option<String>,
    /// The size the platform announced, if it did.
    pub size: Option<u64>,
}

impl MediaDir {
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        Self {
            dir: dir.into(),
            max_bytes,
        }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Fails with [`KitError::TooLarge`] when the announced size is over
    /// the cap: call before asking the platform for a download link.
    pub fn check_size(&self, size: Option<u64>) -> Result<(), KitError> {
        match size {
            Some(size) if size > self.max_bytes => Err(KitError::TooLarge {
                max_bytes: self.max_bytes,
            }),
            _ => Ok(()),
        }
    }

    /// Downloads `file` with `request` (a GET the adapter built, with its
    /// credentials) unless it is already there, and returns it as an
    /// attachment. Errors never hold the request's URL.
    pub async fn download(
        &self,
        request: reqwest::RequestBuilder,
        file: &MediaFile,
    ) -> Result<Attachment, KitError> {
        self.check_size(file.size)?;
        tokio::fs::create_dir_all(&self.dir).await.map_err(|e| {
            KitError::Io(format!(
                "the media directory {} cannot be created: {e}",
                self.dir.display()
            ))
        })?;
        let name = local_name(file);
        let Some(dest) = name::inside(&self.dir, &name) else {
            return Err(KitError::Io(format!(
                "the file name {} would leave the media directory",
                name.display()
            )));
        };
        if tokio::fs::try_exists(&dest).await.unwrap_or(false) {
            let head = read_head(&dest).await;
            return attachment(file, &dest, None, &head);
        }
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(KitError::Download(format!("HTTP {}", status.as_u16())));
        }
        self.check_size(response.content_length())?;
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty() && v != "application/octet-stream");
        // A leading dot: never a local name, so cleanup knows it is still
        // being written.
        let partial = self.dir.join(format!(".{}.part", name.display()));
        let io = |e: std::io::Error| KitError::Io(format!("cannot save a download: {e}"));
        let mut out = tokio::fs::File::create(&partial).await.map_err(io)?;
        let mut written: u64 = 0;
        let mut head: Vec<u8> = Vec::new();
        let result = async {
            while let Some(chunk) = response.chunk().await.map_err(transport)? {
                written += chunk.len() as u64;
                if written > self.max_bytes {
                    return Err(KitError::TooLarge {
                        max_bytes: self.max_bytes,
                    });
                }
                let room = sniff::HEAD.saturating_sub(head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..room]);
                out.write_all(&chunk).await.map_err(io)?;
            }
            out.flush().await.map_err(io)
        }
        .await;
        drop(out);
        let result = result.and_then(|()| attachment(file, &dest, content_type, &head));
        match result {
            Ok(attachment) => {
                tokio::fs::rename(&partial, &dest).await.map_err(io)?;
                Ok(attachment)
            }
            Err(e) => {
                // Best effort: a leftover partial file is only wasted space.
                let _ = tokio::fs::remove_file(&partial).await;
                Err(e)
            }
        }
    }
}

fn transport(err: reqwest::Error) -> KitError {
    // `without_url`: the URL may hold a token.
    KitError::Download(hermod_http::HttpError::from(err.without_url()).to_string())
}

/// The attachment for `file` saved at `path`, whose first bytes are
/// `head`; an error when they contradict the declared type.
fn attachment(
    file: &MediaFile,
    path: &Path,
    content_type: Option<String>,
    head: &[u8],
) -> Result<Attachment, KitError> {
    let declared = file
        .mime_type
        .as_deref()
        .map(|m| m.trim().to_ascii_lowercase())
        .or(content_type)
        .or_else(|| guess_mime(path).map(str::to_owned));
    let sniffed = sniff::sniff(head);
    if let Some(declared) = declared.as_deref()
        && sniff::contradicts(declared, sniffed)
    {
        return Err(KitError::Mismatch {
            declared: declared.to_owned(),
            found: sniffed.unwrap_or("of no known type").to_owned(),
        });
    }
    Ok(Attachment {
        mime_type: sniff::resolve(declared.as_deref(), sniffed),
        file_name: file.file_name.as_deref().and_then(name::display_name),
        ..Attachment::new(file.kind, path.display().to_string())
    })
}

/// The first bytes of a file already saved (empty when it cannot be read).
async fn read_head(path: &Path) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::with_capacity(sniff::HEAD);
    if let Ok(file) = tokio::fs::File::open(path).await {
        let _ = file.take(sniff::HEAD as u64).read_to_end(&mut head).await;
    }
    head
}

/// The MIME type of common extensions.
pub fn guess_mime(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "ogg" | "oga" => "audio/ogg",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "mp4" => "video/mp4",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        _ => return None,
    })
}

pub use hermod_model::text::human_size;

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;
    use axum::routing::get;

    fn file(kind: AttachmentKind, name: Option<&str>) -> MediaFile {
        MediaFile {
            kind,
            id: "AgAD1".into(),
            file_name: name.map(str::to_owned),
            extension: None,
            mime_type: None,
            size: None,
        }
    }

    #[test]
    fn local_names_are_safe_and_stable() {
        let mut photo = file(AttachmentKind::Photo, None);
        assert_eq!(local_name(&photo), PathBuf::from("AgAD1.jpg"));
        photo.extension = Some("png".into());
        assert_eq!(local_name(&photo), PathBuf::from("AgAD1.png"));
        assert_eq!(
            local_name(&file(
                AttachmentKind::Document,
                Some("../../etc/pass wd.txt")
            )),
            PathBuf::from("AgAD1-_._etc_pass_wd.txt")
        );
        assert_eq!(
            local_name(&file(AttachmentKind::Voice, None)),
            PathBuf::from("AgAD1.ogg")
        );
        let mut odd = file(AttachmentKind::Document, None);
        odd.id = "BQAD/x".into();
        assert_eq!(local_name(&odd), PathBuf::from("BQAD_x"));
    }

    #[test]
    fn sizes_read_well_and_mime_types_are_guessed() {
        assert_eq!(human_size(20 * 1024 * 1024), "20 MB");
        assert_eq!(human_size(1536 * 1024), "1.5 MB");
        assert_eq!(human_size(2048), "2 KB");
        assert_eq!(human_size(10), "10 bytes");
        assert_eq!(guess_mime(Path::new("a.JPG")), Some("image/jpeg"));
        assert_eq!(guess_mime(Path::new("a.bin")), None);
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    /// A server with a small PNG, a ZIP said to be a PNG, a 4 KB body
    /// without a length, and a 500.
    async fn server() -> String {
        let app = axum::Router::new()
            .route(
                "/small",
                get(|| async { ([(header::CONTENT_TYPE, "image/png")], PNG) }),
            )
            .route(
                "/disguised",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "image/png")],
                        b"PK\x03\x04\x14\0\0\0\0\0".as_slice(),
                    )
                }),
            )
            .route(
                "/stream",
                get(|| async {
                    let chunks = (0..4).map(|_| Ok::<_, std::io::Error>(vec![1_u8; 1024]));
                    axum::body::Body::from_stream(futures_util::stream::iter(chunks))
                }),
            )
            .route(
                "/broken",
                get(|| async { axum::http::StatusCode::INTERNAL_SERVER_ERROR }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn downloads_are_capped_typed_and_kept() {
        let base = server().await;
        let dir = tempfile::tempdir().unwrap();
        let media = MediaDir::new(dir.path().join("media"), 2000);
        let http = hermod_http::HttpClient::new().unwrap();
        let get = |path: &str| http.reqwest().get(format!("{base}{path}?token=SECRET"));

        let photo = file(AttachmentKind::Photo, None);
        let got = media.download(get("/small"), &photo).await.unwrap();
        assert_eq!(got.mime_type.as_deref(), Some("image/png"));
        assert_eq!(std::fs::read(&got.location).unwrap(), PNG);
        // Already there: not fetched again (this request would fail).
        let again = media.download(get("/broken"), &photo).await.unwrap();
        assert_eq!(again.location, got.location);

        let mut big = file(AttachmentKind::Document, Some("big.bin"));
        let err = media.download(get("/stream"), &big).await.unwrap_err();
        assert_eq!(err, KitError::TooLarge { max_bytes: 2000 });
        assert!(
            std::fs::read_dir(media.path()).unwrap().count() == 1,
            "no partial file left"
        );
        big.size = Some(5000);
        assert_eq!(
            media.check_size(big.size),
            Err(KitError::TooLarge { max_bytes: 2000 })
        );

        // The platform says JPEG; the bytes say PNG, which is recorded.
        let mut said_jpeg = file(AttachmentKind::Photo, Some("a.jpg"));
        said_jpeg.mime_type = Some("image/jpeg".into());
        let got = media.download(get("/small"), &said_jpeg).await.unwrap();
        assert_eq!(got.mime_type.as_deref(), Some("image/png"));

        let disguised = file(AttachmentKind::Photo, Some("cat.png"));
        let err = media
            .download(get("/disguised"), &disguised)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            KitError::Mismatch {
                declared: "image/png".into(),
                found: "application/zip".into(),
            }
        );
        assert!(
            !media.path().join(local_name(&disguised)).exists(),
            "a contradicting file is not kept"
        );
        assert_eq!(std::fs::read_dir(media.path()).unwrap().count(), 2);

        let other = file(AttachmentKind::Document, Some("x.pdf"));
        let err = media.download(get("/broken"), &other).await.unwrap_err();
        assert!(matches!(err, KitError::Download(_)), "{err:?}");
        let unreachable = http.reqwest().get("http://127.0.0.1:1/file?token=SECRET");
        let err = media.download(unreachable, &other).await.unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }
}
