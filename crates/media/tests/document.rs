//! `document::read_text` against real files: text, binary and PDFs.
//!
//! `fixtures/text.pdf` and `fixtures/no-text.pdf` were written by hand:
//! PDF 1.4, uncompressed content streams, the standard Helvetica font with
//! WinAnsiEncoding, and an xref table whose offsets were computed when they
//! were written. `text.pdf` has two pages: page one shows three lines with
//! `Td` moves ("Hermod reads this PDF.", "The quick brown fox jumps over the
//! lazy dog.", and "Kerned words" as a `TJ` array with a -250 kern between
//! the words); page two shows "Page two says hello.". `no-text.pdf` has one
//! page that fills a grey rectangle and shows no text, as a scan does.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use hermod_media::document::{DocumentError, read_text};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn file_with(bytes: &[u8], suffix: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(suffix)
        .tempfile()
        .expect("temp file");
    file.write_all(bytes).expect("write");
    file
}

#[test]
fn a_pdfs_text_is_read_line_by_line_and_page_by_page() {
    let doc = read_text(&fixture("text.pdf"), Some("application/pdf"), None, 10_000).unwrap();
    assert_eq!(
        doc.text,
        "Hermod reads this PDF.\nThe quick brown fox jumps over the lazy dog.\nKerned words\n\nPage two says hello."
    );
    assert!(!doc.truncated);
    assert_eq!(doc.total_chars, doc.text.chars().count());
}

#[test]
fn a_pdf_is_known_by_its_magic_whatever_its_name_and_type() {
    let bytes = std::fs::read(fixture("text.pdf")).unwrap();
    let file = file_with(&bytes, ".bin");
    let doc = read_text(file.path(), None, Some("upload.bin"), 10_000).unwrap();
    assert!(
        doc.text
            .contains("The quick brown fox jumps over the lazy dog.")
    );
}

#[test]
fn a_long_pdf_is_cut_at_the_cap_and_says_so() {
    let doc = read_text(&fixture("text.pdf"), Some("application/pdf"), None, 30).unwrap();
    assert!(doc.truncated);
    // No line end in the last tenth before the cap: cut at the cap.
    assert_eq!(doc.text, "Hermod reads this PDF.\nThe qui");
    assert_eq!(doc.total_chars, 102);
}

#[test]
fn a_pdf_without_text_says_it_may_be_scanned() {
    let err = read_text(&fixture("no-text.pdf"), Some("application/pdf"), None, 1000).unwrap_err();
    assert_eq!(
        err,
        DocumentError::Unreadable("the PDF has no text layer (it may be scanned images)".into())
    );
}

#[test]
fn a_truncated_or_garbage_pdf_is_unreadable_not_a_panic() {
    let bytes = std::fs::read(fixture("text.pdf")).unwrap();
    for broken in [
        bytes[..bytes.len() / 2].to_vec(),
        b"%PDF-1.7\n\x00\xff garbage garbage 1 0 obj << /Type /Catalog".to_vec(),
        b"%PDF-".to_vec(),
    ] {
        let file = file_with(&broken, ".pdf");
        match read_text(file.path(), Some("application/pdf"), None, 1000) {
            Err(DocumentError::Unreadable(why)) => assert!(why.starts_with("the PDF"), "{why}"),
            other => panic!("a broken PDF gave {other:?}"),
        }
    }
}

#[test]
fn a_text_file_longer_than_the_cap_is_truncated_with_its_full_count() {
    let line = "0123456789abcdefghi\n"; // 20 characters
    let file = file_with(line.repeat(50).as_bytes(), ".txt");
    let doc = read_text(file.path(), Some("text/plain"), None, 105).unwrap();
    assert!(doc.truncated);
    assert_eq!(doc.total_chars, 1000);
    // Cut at the line end before the cap, not mid-line at 105.
    assert_eq!(doc.text, line.repeat(5));
}

#[test]
fn a_text_file_within_the_cap_is_whole() {
    let file = file_with("héllo wörld\n".as_bytes(), ".md");
    let doc = read_text(file.path(), None, Some("notes.md"), 100).unwrap();
    assert_eq!(doc.text, "héllo wörld\n");
    assert!(!doc.truncated);
    assert_eq!(doc.total_chars, 12);
}

#[test]
fn a_huge_file_is_read_only_as_far_as_the_cap_needs() {
    // 8 MB of text, a 100-character cap: only cap * 4 + 4096 bytes are read,
    // so the count is a lower bound far below the file's length.
    let file = file_with(&vec![b'x'; 8 * 1024 * 1024], ".log");
    let doc = read_text(file.path(), None, None, 100).unwrap();
    assert!(doc.truncated);
    assert_eq!(doc.text.len(), 100);
    assert_eq!(doc.total_chars, 100 * 4 + 4096);
}

#[test]
fn crlf_line_ends_become_lf() {
    let file = file_with(b"one\r\ntwo\r\nthree\r\n", ".csv");
    let doc = read_text(file.path(), Some("text/csv"), None, 100).unwrap();
    assert_eq!(doc.text, "one\ntwo\nthree\n");
    assert_eq!(doc.total_chars, 14);
}

#[test]
fn source_code_is_known_by_the_senders_file_name() {
    let file = file_with(b"fn main() {}\n", "");
    let doc = read_text(
        file.path(),
        Some("application/octet-stream"),
        Some("main.rs"),
        100,
    )
    .unwrap();
    assert_eq!(doc.text, "fn main() {}\n");
}

#[test]
fn a_utf16_file_with_a_byte_order_mark_is_text() {
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend("a,b\r\n1,2".encode_utf16().flat_map(u16::to_le_bytes));
    let file = file_with(&bytes, ".csv");
    let doc = read_text(file.path(), None, None, 100).unwrap();
    assert_eq!(doc.text, "a,b\n1,2");
}

#[test]
fn a_binary_file_with_a_text_name_is_not_text() {
    let mut bytes = b"looks like text at first".to_vec();
    bytes.extend([0u8, 1, 2, 3, 0, 0, 0]);
    let file = file_with(&bytes, ".txt");
    assert_eq!(
        read_text(file.path(), Some("text/plain"), None, 100),
        Err(DocumentError::NotText)
    );
}

#[test]
fn a_file_of_another_kind_is_not_text() {
    let file = file_with(b"PK\x03\x04 not really a zip", ".zip");
    assert_eq!(
        read_text(
            file.path(),
            Some("application/zip"),
            Some("archive.zip"),
            100
        ),
        Err(DocumentError::NotText)
    );
}
