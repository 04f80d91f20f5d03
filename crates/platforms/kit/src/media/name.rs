//! Local file names built from what a sender controls (the platform's file
//! id, the sender's file name), made safe: one path component of letters,
//! digits, `-`, `_` and single dots, never starting with a dot, bounded in
//! length with the extension kept. Names starting with a dot are left to
//! the kit's temporary files.

use super::MediaFile;
use hermod_model::AttachmentKind;
use std::path::{Component, Path, PathBuf};

/// The longest id kept, in characters.
const MAX_ID: usize = 64;
/// The longest sender's file name kept, extension included.
const MAX_NAME: usize = 100;
/// The longest extension kept; a longer one is not an extension.
const MAX_EXTENSION: usize = 10;

/// `<id>[-<file name>]` or `<id>.<extension>`, with only safe characters,
/// so a sender's file name can never leave the directory.
pub fn local_name(file: &MediaFile) -> PathBuf {
    let mut name = bounded(&sanitize(&file.id), MAX_ID);
    if name.is_empty() {
        name.push_str("file");
    }
    match file.file_name.as_deref().map(sanitize) {
        Some(original) if !original.is_empty() => {
            name.push('-');
            name.push_str(&bounded(&original, MAX_NAME));
        }
        _ => {
            let ext = file
                .extension
                .as_deref()
                .map(sanitize)
                .map(|e| e.replace('.', "_"))
                .filter(|e| !e.is_empty() && e.chars().count() <= MAX_EXTENSION)
                .or_else(|| default_extension(file.kind).map(str::to_owned));
            if let Some(ext) = ext {
                name.push('.');
                name.push_str(&ext);
            }
        }
    }
    PathBuf::from(name)
}

/// A sender's file name as it may be shown to the model and in replies:
/// its last path component, without control characters, bounded in
/// length. `None` when nothing is left.
pub(crate) fn display_name(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let clean: String = last.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    (!clean.is_empty()).then(|| bounded(clean, MAX_NAME))
}

/// `dir/name`, when `name` is one plain component that stays inside `dir`.
pub(crate) fn inside(dir: &Path, name: &Path) -> Option<PathBuf> {
    let mut components = name.components();
    let plain = matches!(components.next(), Some(Component::Normal(_)))
        && components.next().is_none()
        && !name.to_string_lossy().starts_with('.');
    let path = dir.join(name);
    (plain && path.parent() == Some(dir)).then_some(path)
}

/// Letters, digits, `-`, `_` and `.`; the rest (separators, control
/// characters, spaces, non-ASCII) becomes `_`. Runs of dots become one
/// (no `..`), and leading and trailing dots go.
fn sanitize(raw: &str) -> String {
    let mut cleaned = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            c
        } else {
            '_'
        };
        if c == '.' && cleaned.ends_with('.') {
            continue;
        }
        cleaned.push(c);
    }
    cleaned.trim_matches('.').to_owned()
}

/// `name` cut to `max` characters, keeping a short extension.
fn bounded(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_owned();
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| ext.chars().count() <= MAX_EXTENSION);
    match ext {
        Some(ext) => {
            let stem: String = name.chars().take(max - ext.chars().count() - 1).collect();
            format!("{}.{ext}", stem.trim_end_matches('.'))
        }
        None => name.chars().take(max).collect(),
    }
}

fn default_extension(kind: AttachmentKind) -> Option<&'static str> {
    match kind {
        AttachmentKind::Photo => Some("jpg"),
        AttachmentKind::Voice => Some("ogg"),
        AttachmentKind::Video => Some("mp4"),
        AttachmentKind::Sticker => Some("webp"),
        AttachmentKind::Audio | AttachmentKind::Document => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_lose_paths_and_control_characters() {
        assert_eq!(display_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(
            display_name("C:\\x\\report.pdf").as_deref(),
            Some("report.pdf")
        );
        assert_eq!(display_name("a\u{7}b\nc.txt").as_deref(), Some("abc.txt"));
        assert_eq!(display_name(" \t "), None);
        assert_eq!(
            display_name(&"x".repeat(300)).map(|n| n.chars().count()),
            Some(MAX_NAME)
        );
    }

    fn named(name: &str) -> MediaFile {
        MediaFile {
            kind: AttachmentKind::Document,
            id: "AgAD1".into(),
            file_name: Some(name.into()),
            extension: None,
            mime_type: None,
            size: None,
        }
    }

    fn name_of(file: &MediaFile) -> String {
        let name = local_name(file);
        let dir = Path::new("/srv/media");
        assert!(
            inside(dir, &name).is_some(),
            "{name:?} leaves the directory"
        );
        name.to_string_lossy().into_owned()
    }

    #[test]
    fn hostile_names_stay_one_safe_component() {
        assert_eq!(name_of(&named("../../etc/passwd")), "AgAD1-_._etc_passwd");
        assert_eq!(name_of(&named("C:\\x")), "AgAD1-C__x");
        assert_eq!(name_of(&named(".bashrc")), "AgAD1-bashrc");
        assert_eq!(name_of(&named("/etc/shadow")), "AgAD1-_etc_shadow");
        assert_eq!(name_of(&named("a\u{0}b\nc\u{7f}.txt")), "AgAD1-a_b_c_.txt");
        assert_eq!(name_of(&named("фото 1.jpg")), "AgAD1-_____1.jpg");
        assert_eq!(name_of(&named("..")), "AgAD1");
        // Empty: the id alone, with the kind's extension if it has one.
        assert_eq!(name_of(&named("")), "AgAD1");
        let mut photo = named("");
        photo.kind = AttachmentKind::Photo;
        assert_eq!(name_of(&photo), "AgAD1.jpg");
        photo.extension = Some("../png".into());
        assert_eq!(name_of(&photo), "AgAD1._png");
    }

    #[test]
    fn long_names_are_bounded_and_keep_their_extension() {
        let long = format!("{}.pdf", "a".repeat(10_000));
        let name = name_of(&named(&long));
        assert!(name.ends_with(".pdf"), "{name}");
        assert_eq!(name.chars().count(), "AgAD1-".len() + MAX_NAME);
        let mut huge_id = named("x.txt");
        huge_id.id = "i".repeat(10_000);
        assert_eq!(name_of(&huge_id).chars().count(), MAX_ID + "-x.txt".len());
    }

    #[test]
    fn ids_are_cleaned_too() {
        let mut odd = named("");
        odd.id = "BQAD/x".into();
        assert_eq!(name_of(&odd), "BQAD_x");
        odd.id = "../..".into();
        assert_eq!(name_of(&odd), "_");
        odd.id = String::new();
        assert_eq!(name_of(&odd), "file");
    }

    #[test]
    fn only_plain_names_are_inside_the_directory() {
        let dir = Path::new("/srv/media");
        assert_eq!(
            inside(dir, Path::new("a.jpg")),
            Some(PathBuf::from("/srv/media/a.jpg"))
        );
        for bad in ["../a", "/etc/passwd", "a/b", "..", ".", ".hidden", ""] {
            assert_eq!(inside(dir, Path::new(bad)), None, "{bad}");
        }
    }
}
