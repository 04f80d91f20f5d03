//! Documents as text for the model: text-like files inlined up to a cap,
//! PDFs turned into text.
//!
//! A text file is read only as far as the cap needs (about four bytes a
//! character), so a gigabyte of log costs a few hundred kilobytes. A PDF is
//! parsed with `lopdf`, at most [`MAX_PDF_PAGES`] pages, under
//! `catch_unwind`: a hostile file becomes [`DocumentError::Unreadable`], not
//! a crashed worker.

use std::fs::File;
use std::io::Read as _;
use std::path::Path;

use lopdf::content::Content;
use lopdf::{Document, Encoding, Object};

/// Pages of a PDF whose text is read; later pages are left out and the text
/// is marked truncated.
pub const MAX_PDF_PAGES: u32 = 200;

/// The largest PDF parsed: `lopdf` holds the whole file and its objects in
/// memory.
pub const MAX_PDF_BYTES: u64 = 64 * 1024 * 1024;

/// What one page's content streams may inflate to.
const MAX_PAGE_CONTENT_BYTES: usize = 32 * 1024 * 1024;

/// Bytes looked at to tell text from binary and to find the `%PDF-` magic.
const SNIFF_BYTES: usize = 1024;

/// File name extensions read as text whatever their sniffed type.
const TEXT_EXTENSIONS: &[&str] = &[
    "bash",
    "bat",
    "c",
    "cc",
    "cfg",
    "clj",
    "cmake",
    "conf",
    "cpp",
    "cs",
    "css",
    "csv",
    "cxx",
    "dart",
    "diff",
    "dockerfile",
    "el",
    "env",
    "erl",
    "ex",
    "exs",
    "fish",
    "go",
    "gradle",
    "graphql",
    "h",
    "hpp",
    "hs",
    "htm",
    "html",
    "ini",
    "java",
    "jl",
    "js",
    "json",
    "jsonl",
    "jsx",
    "kt",
    "kts",
    "less",
    "lua",
    "log",
    "m",
    "markdown",
    "md",
    "mjs",
    "ml",
    "nix",
    "patch",
    "php",
    "pl",
    "properties",
    "proto",
    "ps1",
    "py",
    "r",
    "rb",
    "rs",
    "rst",
    "sass",
    "scala",
    "scss",
    "sh",
    "sql",
    "svelte",
    "svg",
    "swift",
    "tex",
    "tf",
    "toml",
    "ts",
    "tsv",
    "tsx",
    "txt",
    "vue",
    "xml",
    "yaml",
    "yml",
    "zig",
    "zsh",
];

/// File names without a telling extension that are text.
const TEXT_FILE_NAMES: &[&str] = &[
    "dockerfile",
    "makefile",
    "readme",
    "license",
    "changelog",
    "gemfile",
    "rakefile",
    "procfile",
];

/// MIME types outside `text/*` that are text.
const TEXT_MIME_TYPES: &[&str] = &[
    "application/json",
    "application/ld+json",
    "application/xml",
    "application/x-yaml",
    "application/yaml",
    "application/toml",
    "application/x-toml",
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "application/x-sh",
    "application/x-shellscript",
    "application/sql",
    "application/csv",
    "application/x-ndjson",
    "application/graphql",
    "image/svg+xml",
];

/// A document's text, as much as fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentText {
    /// At most the `max_chars` asked for, cut at a line end near the cap when
    /// there is one. Line ends are `\n`.
    pub text: String,
    /// The text was cut: the document has more than `text` holds.
    pub truncated: bool,
    /// Characters in the document's text as far as it was read: the whole
    /// document's when it was read to its end (a text file within about four
    /// bytes a character of the cap, a PDF within [`MAX_PDF_PAGES`]),
    /// otherwise a lower bound, with `truncated` set.
    pub total_chars: usize,
}

/// Why a document's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// Not a kind of file whose text hermod reads.
    #[error("not a text document")]
    NotText,
    /// A document of a kind hermod reads whose text could not be had; the
    /// message says why in words for the user.
    #[error("{0}")]
    Unreadable(String),
}

/// The text of the file at `path`, of type `mime` (sniffed), named
/// `file_name` by its sender, up to `max_chars` characters. Blocking.
///
/// PDFs are known by `application/pdf` or by their `%PDF-` magic; text by a
/// `text/*` or other textual MIME type, or by the extension of `file_name`
/// or `path`. A text file with NUL bytes in its first kilobyte is binary and
/// [`DocumentError::NotText`], as is any other kind of file.
pub fn read_text(
    path: &Path,
    mime: Option<&str>,
    file_name: Option<&str>,
    max_chars: usize,
) -> Result<DocumentText, DocumentError> {
    let mut file = File::open(path).map_err(|e| unreadable("the file could not be opened", &e))?;
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut file)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| unreadable("the file could not be read", &e))?;

    let mime = mime.map(|m| m.split(';').next().unwrap_or(m).trim().to_ascii_lowercase());
    if mime.as_deref() == Some("application/pdf") || head.starts_with(b"%PDF-") {
        return read_pdf(path, max_chars);
    }
    let textual = mime.as_deref().is_some_and(is_text_mime)
        || file_name.is_some_and(|name| is_text_name(Path::new(name)))
        || is_text_name(path);
    if !textual {
        return Err(DocumentError::NotText);
    }
    let utf16 = Utf16::from_bom(&head);
    if utf16.is_none() && head.contains(&0) {
        return Err(DocumentError::NotText);
    }

    // Four bytes cover any UTF-8 character; the slack keeps a file of CRLF
    // lines or of replaced invalid bytes from counting as cut short.
    let cap = max_chars.saturating_mul(4).saturating_add(4096);
    let mut bytes = head;
    (&mut file)
        .take(u64::try_from(cap.saturating_add(1).saturating_sub(bytes.len())).unwrap_or(u64::MAX))
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable("the file could not be read", &e))?;
    let cut_short = bytes.len() > cap;
    bytes.truncate(cap);

    let text = match utf16 {
        Some(order) => order.decode(&bytes),
        None => decode_utf8(&bytes, cut_short),
    };
    Ok(capped(&normalise_line_ends(&text), max_chars, cut_short))
}

/// Whether the file at `path`, of declared type `mime`, is a PDF: by its
/// type or its `%PDF-` magic.
pub fn is_pdf(path: &Path, mime: Option<&str>) -> bool {
    let declared = mime
        .map(|m| m.split(';').next().unwrap_or(m).trim())
        .is_some_and(|m| m.eq_ignore_ascii_case("application/pdf"));
    declared || {
        let mut head = [0u8; 5];
        File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok_and(|()| &head == b"%PDF-")
    }
}

fn unreadable(what: &str, error: &std::io::Error) -> DocumentError {
    DocumentError::Unreadable(format!("{what}: {error}"))
}

fn is_text_mime(mime: &str) -> bool {
    mime.starts_with("text/")
        || TEXT_MIME_TYPES.contains(&mime)
        || mime.ends_with("+json")
        || mime.ends_with("+xml")
}

fn is_text_name(path: &Path) -> bool {
    let lower = |s: &std::ffi::OsStr| s.to_string_lossy().to_ascii_lowercase();
    if let Some(ext) = path.extension() {
        return TEXT_EXTENSIONS.contains(&lower(ext).as_str());
    }
    path.file_name()
        .is_some_and(|name| TEXT_FILE_NAMES.contains(&lower(name).as_str()))
}

/// UTF-8 with invalid bytes replaced; a BOM dropped. When the read stopped
/// at the cap, a character split by the cut is dropped rather than shown as
/// a replacement character.
fn decode_utf8(bytes: &[u8], cut_short: bool) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let bytes = if cut_short {
        without_split_char(bytes)
    } else {
        bytes
    };
    String::from_utf8_lossy(bytes).into_owned()
}

/// `bytes` less a UTF-8 sequence left incomplete at its end.
fn without_split_char(bytes: &[u8]) -> &[u8] {
    let from = bytes.len().saturating_sub(3);
    for (i, &b) in bytes.iter().enumerate().skip(from).rev() {
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: the start is further back
        }
        let len = match b {
            0xF0..=0xF7 => 4,
            0xE0..=0xEF => 3,
            0xC0..=0xDF => 2,
            _ => 1,
        };
        return if i + len > bytes.len() {
            &bytes[..i]
        } else {
            bytes
        };
    }
    bytes
}

/// A UTF-16 text file, known by its byte order mark (Windows tools write
/// these; they are full of NUL bytes, so they need telling from binary).
#[derive(Debug, Clone, Copy)]
enum Utf16 {
    Little,
    Big,
}

impl Utf16 {
    fn from_bom(head: &[u8]) -> Option<Self> {
        match head {
            [0xFF, 0xFE, ..] => Some(Self::Little),
            [0xFE, 0xFF, ..] => Some(Self::Big),
            _ => None,
        }
    }

    fn decode(self, bytes: &[u8]) -> String {
        let units = bytes
            .get(2..)
            .unwrap_or_default()
            .chunks_exact(2)
            .map(|pair| {
                let pair = [pair[0], pair[1]];
                match self {
                    Self::Little => u16::from_le_bytes(pair),
                    Self::Big => u16::from_be_bytes(pair),
                }
            });
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    }
}

fn normalise_line_ends(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// `text` cut to `max_chars` characters, at the last line end in the final
/// tenth before the cap when there is one.
fn capped(text: &str, max_chars: usize, cut_short: bool) -> DocumentText {
    let total_chars = text.chars().count();
    if total_chars <= max_chars {
        return DocumentText {
            text: text.to_owned(),
            truncated: cut_short,
            total_chars,
        };
    }
    let cap = text
        .char_indices()
        .nth(max_chars)
        .map_or(text.len(), |(at, _)| at);
    let window = text[..cap]
        .char_indices()
        .rev()
        .nth(max_chars / 10)
        .map_or(0, |(at, _)| at);
    let end = text[window..cap]
        .rfind('\n')
        .map_or(cap, |newline| window + newline + 1);
    DocumentText {
        text: text[..end].to_owned(),
        truncated: true,
        total_chars,
    }
}

fn read_pdf(path: &Path, max_chars: usize) -> Result<DocumentText, DocumentError> {
    let bytes = read_whole_pdf(path)?;
    let (text, more_pages) = std::panic::catch_unwind(|| pdf_text(&bytes)).map_err(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the parser failed".to_owned());
        tracing::warn!(path = %path.display(), %why, "the PDF parser panicked");
        DocumentError::Unreadable(format!("the PDF could not be read: {why}"))
    })??;
    Ok(capped(&text, max_chars, more_pages))
}

fn read_whole_pdf(path: &Path) -> Result<Vec<u8>, DocumentError> {
    let file = File::open(path).map_err(|e| unreadable("the PDF could not be opened", &e))?;
    let mut bytes = Vec::new();
    file.take(MAX_PDF_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable("the PDF could not be read", &e))?;
    if bytes.len() as u64 > MAX_PDF_BYTES {
        return Err(DocumentError::Unreadable(format!(
            "the PDF is larger than {} MB, too large to read",
            MAX_PDF_BYTES / (1024 * 1024)
        )));
    }
    Ok(bytes)
}

/// The text of the first [`MAX_PDF_PAGES`] pages, pages apart by a blank
/// line, and whether there are more pages. May panic on hostile input.
fn pdf_text(bytes: &[u8]) -> Result<(String, bool), DocumentError> {
    let document = Document::load_mem(bytes)
        .map_err(|e| DocumentError::Unreadable(format!("the PDF could not be read: {e}")))?;
    if document.is_encrypted() && !document.was_encrypted() {
        return Err(DocumentError::Unreadable(
            "the PDF is protected by a password".into(),
        ));
    }
    let pages = document.get_pages();
    let mut text = String::new();
    let mut failed = 0usize;
    for (&number, &page) in pages.iter().take(MAX_PDF_PAGES as usize) {
        match page_text(&document, page) {
            Ok(page_text) => {
                let page_text = page_text.trim();
                if !page_text.is_empty() {
                    if !text.is_empty() {
                        text.push_str("\n\n");
                    }
                    text.push_str(page_text);
                }
            }
            Err(error) => {
                failed += 1;
                tracing::debug!(page = number, %error, "a PDF page's text could not be read");
            }
        }
    }
    if text.trim().is_empty() {
        return Err(DocumentError::Unreadable(if failed > 0 {
            format!("the PDF's text could not be read ({failed} pages failed)")
        } else {
            "the PDF has no text layer (it may be scanned images)".into()
        }));
    }
    Ok((text, pages.len() > MAX_PDF_PAGES as usize))
}

/// One page's text, its lines as `lopdf` sees them from the text operators.
///
/// `lopdf`'s own `extract_text` breaks lines only between text objects, so a
/// paragraph set with `Td` moves (how most producers write one) comes out as
/// one run-on line; this breaks a line on every move to a new line.
fn page_text(document: &Document, page: lopdf::ObjectId) -> lopdf::Result<String> {
    let encodings: Vec<(Vec<u8>, Encoding<'_>)> = document
        .get_page_fonts(page)?
        .into_iter()
        .filter_map(|(name, font)| {
            let encoding = font
                .get_font_encoding_with_limit(document, MAX_PAGE_CONTENT_BYTES)
                .ok()?;
            Some((name, encoding))
        })
        .collect();
    let content =
        Content::decode(&document.get_page_content_with_limit(page, MAX_PAGE_CONTENT_BYTES)?)?;
    let mut text = String::new();
    let mut encoding = None;
    let mut line_y = None;
    for operation in &content.operations {
        let operands = &operation.operands;
        match operation.operator.as_str() {
            "Tf" => {
                encoding = operands
                    .first()
                    .and_then(|name| name.as_name().ok())
                    .and_then(|name| encodings.iter().find(|(n, _)| n == name))
                    .map(|(_, encoding)| encoding);
            }
            "Td" | "TD" => {
                let dy = operands.get(1).and_then(number).unwrap_or(0.0);
                if dy.abs() > f32::EPSILON {
                    new_line(&mut text);
                }
            }
            "Tm" => {
                let y = operands.get(5).and_then(number);
                if y != line_y {
                    new_line(&mut text);
                }
                line_y = y;
            }
            "T*" => new_line(&mut text),
            "'" => {
                new_line(&mut text);
                show(&mut text, encoding, operands.first());
            }
            "\"" => {
                new_line(&mut text);
                show(&mut text, encoding, operands.get(2));
            }
            "Tj" => show(&mut text, encoding, operands.first()),
            "TJ" => {
                let Some(Object::Array(parts)) = operands.first() else {
                    continue;
                };
                for part in parts {
                    match part {
                        // A move left of more than a tenth of an em between
                        // strings is a word space.
                        Object::Integer(_) | Object::Real(_) => {
                            if number(part).is_some_and(|n| n < -100.0) && !text.ends_with(' ') {
                                text.push(' ');
                            }
                        }
                        string => show(&mut text, encoding, Some(string)),
                    }
                }
            }
            "ET" => line_y = None,
            _ => {}
        }
    }
    Ok(text)
}

fn number(object: &Object) -> Option<f32> {
    match object {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r),
        _ => None,
    }
}

fn new_line(text: &mut String) {
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
}

/// Appends a string operand decoded with the current font's encoding; text
/// in a font whose encoding is unknown is left out.
fn show(text: &mut String, encoding: Option<&Encoding<'_>>, operand: Option<&Object>) {
    if let (Some(encoding), Some(Object::String(bytes, _))) = (encoding, operand) {
        // A string the encoding cannot decode is left out, like an unknown font.
        let _ = encoding.write_to_string(bytes, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_prefers_a_line_end_near_the_cap() {
        let text = "first line\nsecond line\nthird";
        let doc = capped(text, 25, false);
        assert_eq!(doc.text, "first line\nsecond line\n");
        assert!(doc.truncated);
        assert_eq!(doc.total_chars, text.chars().count());
    }

    #[test]
    fn a_cut_without_a_near_line_end_is_at_the_cap_on_a_char_boundary() {
        let text = "ééééééééééééééééééééé";
        let doc = capped(text, 5, false);
        assert_eq!(doc.text, "ééééé");
        assert_eq!(doc.total_chars, 21);
    }

    #[test]
    fn a_character_split_by_the_read_cap_is_dropped() {
        let bytes = "aé".as_bytes();
        assert_eq!(without_split_char(&bytes[..2]), b"a");
        assert_eq!(without_split_char(bytes), bytes);
        let emoji = "a😀".as_bytes();
        assert_eq!(without_split_char(&emoji[..4]), b"a");
    }

    #[test]
    fn names_and_types_that_are_text() {
        assert!(is_text_name(Path::new("main.RS")));
        assert!(is_text_name(Path::new("Makefile")));
        assert!(!is_text_name(Path::new("photo.jpg")));
        assert!(is_text_mime("text/x-python"));
        assert!(is_text_mime("application/vnd.api+json"));
        assert!(!is_text_mime("application/zip"));
    }
}
