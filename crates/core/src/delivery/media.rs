//! Files the agent sends: `MEDIA:` directives in a reply.
//!
//! Hermes' convention, kept so agents and skills written for it work
//! unchanged: a line `MEDIA:<path>` asks the gateway to send that file with
//! the reply, and the flags `[[audio_as_voice]]` (send audio as a voice
//! message) and `[[as_document]]` (send everything as a plain file) change
//! how. Directive lines and flags are never shown to the user: they are
//! stripped from the reply's text, from streamed previews (by
//! [`DirectiveFilter`], which holds back a line that may still become a
//! directive) and from what the HTTP API returns.
//!
//! The agent can name any path, so only files under the allowed roots
//! ([`MediaRoots`]: the gateway's media directory and the directories the
//! operator configured) are sent. Paths are canonicalized first, so `..`
//! and symbolic links cannot lead out of a root. A file that is refused is
//! logged and named in a line added to the reply, so the user knows a
//! file was meant to come and why it did not.

use hermod_model::{Attachment, AttachmentKind};
use std::io::Read;
use std::path::{Path, PathBuf};
use tracing::warn;

/// The directive that starts a line naming a file to send.
const MEDIA_PREFIX: &str = "MEDIA:";
/// Flag: send audio files as voice messages.
pub const AUDIO_AS_VOICE: &str = "[[audio_as_voice]]";
/// Flag: send every file as a plain document (no photo or video preview).
pub const AS_DOCUMENT: &str = "[[as_document]]";
const FLAGS: [&str; 2] = [AUDIO_AS_VOICE, AS_DOCUMENT];
/// Characters an agent may wrap a path (or the whole directive) in.
const QUOTES: [char; 3] = ['`', '"', '\''];

/// What a reply's directives ask for, before any file is looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directives {
    /// The reply as the user sees it: directive lines and flags removed.
    pub text: String,
    /// The paths named, in order, as written (quotes and `file://` removed).
    pub paths: Vec<String>,
    pub as_voice: bool,
    pub as_document: bool,
}

/// Reads the directives of `text`. Pure: no file is touched.
pub fn parse(text: &str) -> Directives {
    let (without_flags, as_voice, as_document) = remove_flags(text);
    let mut paths = Vec::new();
    let mut kept = Vec::new();
    for line in without_flags.split('\n') {
        match directive_path(line) {
            Some(path) => {
                if !path.is_empty() {
                    paths.push(path);
                }
            }
            None => kept.push(line),
        }
    }
    Directives {
        text: tidy(&kept.join("\n")),
        paths,
        as_voice,
        as_document,
    }
}

/// `text` without directive lines and flags: what a user may be shown.
pub fn strip(text: &str) -> String {
    parse(text).text
}

/// Removes every flag (again and again, so removing one cannot join the
/// pieces of another); returns the text and which flags were there.
fn remove_flags(text: &str) -> (String, bool, bool) {
    let mut text = text.to_owned();
    let (mut voice, mut document) = (false, false);
    loop {
        let before = text.len();
        voice |= text.contains(AUDIO_AS_VOICE);
        document |= text.contains(AS_DOCUMENT);
        for flag in FLAGS {
            text = text.replace(flag, "");
        }
        if text.len() == before {
            return (text, voice, document);
        }
    }
}

/// The path a directive line names (empty for a bare `MEDIA:`), or `None`
/// when the line is not a directive.
fn directive_path(line: &str) -> Option<String> {
    let rest = line
        .trim()
        .trim_start_matches(QUOTES)
        .strip_prefix(MEDIA_PREFIX)?;
    let path = rest.trim().trim_matches(QUOTES).trim();
    let path = path.strip_prefix("file://").unwrap_or(path);
    Some(path.to_owned())
}

/// Whether a complete line is a directive.
fn is_directive(line: &str) -> bool {
    directive_path(line).is_some()
}

/// Trailing whitespace goes, and removed lines leave at most one blank
/// line between paragraphs.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.split('\n') {
        if line.trim().is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        if !out.is_empty() || !line.trim().is_empty() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.trim_end().to_owned()
}

/// Removes directive lines and flags from text as it streams in, for
/// previews: a line that may still become a directive (it starts like
/// `MEDIA:`) is held back until its end shows what it is, and so is the end
/// of a line that may be the start of a flag, so neither flashes on
/// screen.
#[derive(Debug, Default)]
pub struct DirectiveFilter {
    /// Text not yet passed on.
    held: String,
    /// The held text is the rest of a line already known not to be a
    /// directive (part of it was passed on).
    mid_line: bool,
}

impl DirectiveFilter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next piece of text; returns what may be shown now.
    pub fn push(&mut self, delta: &str) -> String {
        self.held.push_str(delta);
        let mut out = String::new();
        loop {
            if let Some(newline) = self.held.find('\n') {
                let line: String = self.held.drain(..=newline).collect();
                let line = remove_flags(&line).0;
                if self.mid_line || !is_directive(&line) {
                    out.push_str(&line);
                }
                self.mid_line = false;
                continue;
            }
            if !self.mid_line && may_become_directive(&self.held) {
                return out;
            }
            self.mid_line = true;
            let keep = partial_flag_len(&self.held);
            let ready: String = self.held.drain(..self.held.len() - keep).collect();
            out.push_str(&remove_flags(&ready).0);
            return out;
        }
    }

    /// The text is complete: what is left to show.
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.held);
        let mid_line = std::mem::take(&mut self.mid_line);
        let rest = remove_flags(&rest).0;
        if !mid_line && is_directive(&rest) {
            return String::new();
        }
        rest
    }
}

/// Whether the start of a line (no newline yet) may still turn out to be
/// a directive, once its flags (and what may be the start of one) are
/// removed.
fn may_become_directive(start: &str) -> bool {
    let (without_flags, ..) = remove_flags(start);
    let keep = without_flags.len() - partial_flag_len(&without_flags);
    let t = without_flags[..keep]
        .trim_start()
        .trim_start_matches(QUOTES);
    t.starts_with(MEDIA_PREFIX) || MEDIA_PREFIX.starts_with(t)
}

/// The length of the longest end of `text` that is the start of a flag.
fn partial_flag_len(text: &str) -> usize {
    let longest = FLAGS.iter().map(|f| f.len()).max().unwrap_or(0);
    (1..longest.min(text.len() + 1))
        .rev()
        .find(|&n| {
            text.is_char_boundary(text.len() - n)
                && FLAGS.iter().any(|f| f.starts_with(&text[text.len() - n..]))
        })
        .unwrap_or(0)
}

/// The directories files may be sent from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaRoots {
    /// As configured, for messages and for canonicalizing when used (a
    /// directory created after start still counts).
    roots: Vec<PathBuf>,
}

/// Why a named file is not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    NotAFile,
    Outside(String),
    /// Under a directory or named as a file that holds credentials: never
    /// sent, whatever the allowed directories.
    Credentials,
    Unreadable(String),
}

/// Directories that hold credentials (`~/.ssh`, `~/.aws`, ...): nothing
/// under them is sent, even from an allowed directory that contains them.
const CREDENTIAL_DIRS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".kube",
    ".docker",
    ".password-store",
    "gcloud",
];

/// Files that hold credentials, by name (`.env`, `hermod.db`, ...).
const CREDENTIAL_FILES: &[&str] = &[
    ".env",
    ".netrc",
    ".pgpass",
    ".git-credentials",
    "credentials.json",
    "hermod.db",
    "hermod.db-wal",
    "hermod.db-shm",
];

/// Whether `file` (canonical) is, or is under, a place that holds
/// credentials.
fn holds_credentials(file: &Path) -> bool {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    CREDENTIAL_FILES.contains(&name)
        || name.starts_with(".env.")
        || file.parent().is_some_and(|dir| {
            dir.components().any(|c| {
                c.as_os_str()
                    .to_str()
                    .is_some_and(|c| CREDENTIAL_DIRS.contains(&c))
            })
        })
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Missing => f.write_str("there is no such file"),
            Refusal::NotAFile => f.write_str("it is not a file"),
            Refusal::Outside(roots) => write!(f, "files can only be sent from {roots}"),
            Refusal::Credentials => {
                f.write_str("it is where credentials are kept, and those are never sent")
            }
            Refusal::Unreadable(why) => write!(f, "it cannot be read ({why})"),
        }
    }
}

/// The files a reply sends and what the user is told about the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplyMedia {
    /// The reply's text without directives, with a line per refused file.
    pub text: String,
    pub attachments: Vec<Attachment>,
    /// One line per refused file (also in `text`).
    pub notes: Vec<String>,
}

impl MediaRoots {
    /// Files under these directories may be sent (the first is where a
    /// relative path is looked up: the gateway's media directory).
    pub fn new(roots: impl IntoIterator<Item = PathBuf>) -> Self {
        Self {
            roots: roots.into_iter().collect(),
        }
    }

    /// The allowed directories, as configured.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Reads `text`'s directives and checks each file: those allowed become
    /// attachments, the others a WARN log line and a note in the text.
    pub fn collect(&self, text: &str) -> ReplyMedia {
        let directives = parse(text);
        let mut media = ReplyMedia {
            text: directives.text.clone(),
            ..ReplyMedia::default()
        };
        for path in &directives.paths {
            match self.check(path) {
                Ok(file) => media.attachments.push(attachment_for(&file, &directives)),
                Err(refusal) => {
                    warn!(path = %path, reason = %refusal, "the agent asked to send a file that is not sent");
                    media
                        .notes
                        .push(format!("⚠️ I couldn't attach {path}: {refusal}"));
                }
            }
        }
        if !media.notes.is_empty() {
            let notes = media.notes.join("\n");
            media.text = if media.text.is_empty() {
                notes
            } else {
                format!("{}\n\n{notes}", media.text)
            };
        }
        media
    }

    /// The canonical path of `path` when it is a file under a root.
    pub fn check(&self, path: &str) -> Result<PathBuf, Refusal> {
        let given = Path::new(path);
        let given = match (given.is_absolute(), self.roots.first()) {
            (true, _) => given.to_path_buf(),
            (false, Some(media)) => media.join(given),
            (false, None) => return Err(Refusal::Outside(self.describe())),
        };
        let file = match std::fs::canonicalize(&given) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Refusal::Missing),
            Err(e) => return Err(Refusal::Unreadable(e.kind().to_string())),
        };
        let inside = self
            .roots
            .iter()
            .filter_map(|root| std::fs::canonicalize(root).ok())
            .any(|root| file.starts_with(root));
        if !inside {
            return Err(Refusal::Outside(self.describe()));
        }
        if holds_credentials(&file) {
            return Err(Refusal::Credentials);
        }
        if !file.is_file() {
            return Err(Refusal::NotAFile);
        }
        Ok(file)
    }

    fn describe(&self) -> String {
        if self.roots.is_empty() {
            return "no directory (none is configured)".into();
        }
        self.roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The attachment a checked file becomes: its kind from its sniffed type
/// and the flags.
fn attachment_for(file: &Path, directives: &Directives) -> Attachment {
    let head = read_head(file);
    let mime = infer::get(&head).map(|t| t.mime_type().to_owned());
    let opus = head.windows(8).any(|w| w == b"OpusHead");
    let kind = kind_for(mime.as_deref(), opus, directives);
    let mut attachment = Attachment::new(kind, file.display().to_string());
    attachment.mime_type = mime;
    attachment.file_name = file.file_name().map(|n| n.to_string_lossy().into_owned());
    attachment
}

/// The first bytes of a file, enough for its magic number and an Ogg
/// stream's first codec header.
fn read_head(file: &Path) -> Vec<u8> {
    let mut head = Vec::with_capacity(256);
    if let Ok(f) = std::fs::File::open(file) {
        let _ = f.take(256).read_to_end(&mut head);
    }
    head
}

/// How a file of this type is sent: pictures as photos, audio as audio (a
/// voice message when asked, or when it is Ogg Opus, the format voice
/// messages are), video as video, the rest (or everything, when asked) as
/// a document.
pub fn kind_for(mime: Option<&str>, opus: bool, directives: &Directives) -> AttachmentKind {
    if directives.as_document {
        return AttachmentKind::Document;
    }
    match mime.unwrap_or_default() {
        "image/jpeg" | "image/png" | "image/webp" | "image/gif" => AttachmentKind::Photo,
        m if m.starts_with("audio/") && (directives.as_voice || opus) => AttachmentKind::Voice,
        m if m.starts_with("audio/") => AttachmentKind::Audio,
        m if m.starts_with("video/") => AttachmentKind::Video,
        _ => AttachmentKind::Document,
    }
}

/// A file's name for the user: its name, or the last part of its path.
pub fn display_name(attachment: &Attachment) -> String {
    attachment.file_name.clone().unwrap_or_else(|| {
        Path::new(&attachment.location).file_name().map_or_else(
            || attachment.location.clone(),
            |n| n.to_string_lossy().into_owned(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Text made of the pieces directives are made of.
    fn texts() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("MEDIA:"),
            Just("MED"),
            Just("IA:"),
            Just("\n"),
            Just(" "),
            Just("`"),
            Just("\""),
            Just("/tmp/a.png"),
            Just("file://"),
            Just("[[audio_as_voice]]"),
            Just("[[as_document]]"),
            Just("[["),
            Just("as_"),
            Just("]]"),
            Just("hello"),
            Just("é"),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|p| p.concat())
    }

    fn has_directive_line(text: &str) -> bool {
        text.split('\n').any(is_directive)
    }

    proptest! {
        #[test]
        fn stripping_never_leaves_a_directive_or_flag(text in texts()) {
            let stripped = strip(&text);
            prop_assert!(!has_directive_line(&stripped), "{stripped:?}");
            prop_assert!(!FLAGS.iter().any(|f| stripped.contains(f)), "{stripped:?}");
            let again = strip(&stripped);
            prop_assert_eq!(again, stripped, "idempotent");
        }

        #[test]
        fn streamed_text_never_shows_a_directive_or_flag(
            text in texts(),
            cuts in proptest::collection::vec(0usize..64, 0..8),
        ) {
            let mut filter = DirectiveFilter::new();
            let mut shown = String::new();
            let mut rest = text.as_str();
            for cut in cuts {
                let mut at = cut.min(rest.len());
                while !rest.is_char_boundary(at) {
                    at -= 1;
                }
                let (head, tail) = rest.split_at(at);
                shown.push_str(&filter.push(head));
                prop_assert!(!has_directive_line(&shown), "{shown:?}");
                prop_assert!(!FLAGS.iter().any(|f| shown.contains(f)), "{shown:?}");
                rest = tail;
            }
            shown.push_str(&filter.push(rest));
            shown.push_str(&filter.finish());
            prop_assert!(!has_directive_line(&shown), "{shown:?}");
            prop_assert!(!FLAGS.iter().any(|f| shown.contains(f)), "{shown:?}");
        }
    }

    #[test]
    fn directive_lines_and_flags_are_read_and_removed() {
        let d = parse(
            "Here it is.\n  MEDIA: `/srv/a b.png`  \nMEDIA:file:///srv/c.ogg\n\"MEDIA:/srv/d.pdf\"\n[[audio_as_voice]]\nBye",
        );
        assert_eq!(d.text, "Here it is.\n\nBye");
        assert_eq!(d.paths, ["/srv/a b.png", "/srv/c.ogg", "/srv/d.pdf"]);
        assert!(d.as_voice);
        assert!(!d.as_document);
        assert_eq!(parse("use MEDIA: lines").paths, Vec::<String>::new());
    }

    #[test]
    fn removing_a_flag_cannot_build_a_directive() {
        assert_eq!(strip("[[as_document]]MEDIA:/x"), "");
        assert_eq!(strip("[[as_[[as_document]]document]]ok"), "ok");
    }

    #[test]
    fn the_filter_holds_back_what_may_become_a_directive() {
        let mut f = DirectiveFilter::new();
        let mut shown = String::new();
        for piece in [
            "Hi\nME",
            "DI",
            "A:/x.png",
            "\nok [[as_",
            "document]] done",
            "\nMED",
        ] {
            shown.push_str(&f.push(piece));
            assert!(!shown.contains("MEDIA"), "{shown:?}");
            assert!(!shown.contains("[[as_"), "{shown:?}");
        }
        assert_eq!(shown, "Hi\nok  done\n");
        assert_eq!(f.finish(), "MED");
        let mut g = DirectiveFilter::new();
        assert_eq!(g.push("MEDIA:/y"), "");
        assert_eq!(g.finish(), "");
    }

    #[test]
    fn kinds_follow_the_sniffed_type_and_the_flags() {
        let none = Directives::default();
        let voice = Directives {
            as_voice: true,
            ..Directives::default()
        };
        let doc = Directives {
            as_document: true,
            ..Directives::default()
        };
        assert_eq!(
            kind_for(Some("image/png"), false, &none),
            AttachmentKind::Photo
        );
        assert_eq!(
            kind_for(Some("audio/mpeg"), false, &none),
            AttachmentKind::Audio
        );
        assert_eq!(
            kind_for(Some("audio/mpeg"), false, &voice),
            AttachmentKind::Voice
        );
        assert_eq!(
            kind_for(Some("audio/ogg"), true, &none),
            AttachmentKind::Voice
        );
        assert_eq!(
            kind_for(Some("video/mp4"), false, &none),
            AttachmentKind::Video
        );
        assert_eq!(
            kind_for(Some("image/png"), false, &doc),
            AttachmentKind::Document
        );
        assert_eq!(kind_for(None, false, &none), AttachmentKind::Document);
    }

    #[test]
    fn files_outside_the_roots_missing_or_directories_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let inside = root.path().join("a.txt");
        std::fs::write(&inside, "hi").unwrap();
        let outside = other.path().join("secret.txt");
        std::fs::write(&outside, "no").unwrap();
        let roots = MediaRoots::new([root.path().to_path_buf()]);
        assert!(roots.check(inside.to_str().unwrap()).is_ok());
        assert!(
            roots.check("a.txt").is_ok(),
            "relative to the media directory"
        );
        let sneaky = format!("{}/../{}", root.path().display(), other.path().display());
        assert!(matches!(
            roots.check(&sneaky),
            Err(Refusal::Missing | Refusal::Outside(_))
        ));
        assert!(matches!(
            roots.check(outside.to_str().unwrap()),
            Err(Refusal::Outside(_))
        ));
        assert_eq!(roots.check("/no/such/file"), Err(Refusal::Missing));
        assert_eq!(
            roots.check(root.path().to_str().unwrap()),
            Err(Refusal::NotAFile)
        );
        #[cfg(unix)]
        {
            let link = root.path().join("link.txt");
            std::os::unix::fs::symlink(&outside, &link).unwrap();
            assert!(matches!(
                roots.check(link.to_str().unwrap()),
                Err(Refusal::Outside(_))
            ));
        }
        let media = roots.collect(&format!("see\nMEDIA:{}", outside.display()));
        assert!(media.attachments.is_empty());
        assert_eq!(media.notes.len(), 1);
        assert!(media.text.starts_with("see\n\n⚠️ I couldn't attach"));
    }

    #[test]
    fn credentials_are_never_sent_even_from_an_allowed_directory() {
        let home = tempfile::tempdir().unwrap();
        let roots = MediaRoots::new([home.path().to_path_buf()]);
        for name in [
            ".ssh/id_ed25519",
            ".aws/credentials",
            ".env",
            ".env.local",
            "hermod.db",
        ] {
            let path = home.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "secret").unwrap();
            assert_eq!(
                roots.check(path.to_str().unwrap()),
                Err(Refusal::Credentials),
                "{name}"
            );
        }
        let photo = home.path().join("photos/cat.jpg");
        std::fs::create_dir_all(photo.parent().unwrap()).unwrap();
        std::fs::write(&photo, "jpeg").unwrap();
        assert!(roots.check(photo.to_str().unwrap()).is_ok());
        let media = roots.collect(&format!("MEDIA:{}", home.path().join(".env").display()));
        assert!(media.attachments.is_empty());
        assert!(media.text.contains("credentials"), "{}", media.text);
    }
}
