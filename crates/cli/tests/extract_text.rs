//! `hermod extract-text`, the child the gateway reads each PDF in: its
//! answer for a real PDF, and the gateway's media reader using the binary.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_core::MediaReader;
use hermod_media::worker::{Extracted, PdfWorker};
use hermod_media::{Reader, ReaderConfig};
use hermod_model::{Attachment, AttachmentKind, InboundEvent, PlatformId, Source};
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../media/tests/fixtures/text.pdf")
}

#[tokio::test]
async fn the_child_answers_a_pdfs_text_as_one_json_line() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hermod"))
        .args(["extract-text", "--max-chars", "30"])
        .arg(fixture())
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    assert_eq!(line.lines().count(), 1, "{line}");
    let Extracted::Text {
        text, truncated, ..
    } = serde_json::from_str(&line).unwrap()
    else {
        panic!("{line}");
    };
    assert!(text.starts_with("Hermod reads this PDF."), "{text}");
    assert!(truncated, "cut at 30 characters");

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hermod"))
        .args(["extract-text", "/no/such.pdf"])
        .output()
        .await
        .unwrap();
    let answer: Extracted = serde_json::from_slice(&out.stdout).unwrap();
    assert!(matches!(answer, Extracted::Unreadable { .. }), "{answer:?}");
}

#[tokio::test]
async fn the_gateways_reader_reads_pdfs_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    // Named as a sender might: the type and the magic say PDF.
    let pdf = dir.path().join("minutes");
    std::fs::copy(fixture(), &pdf).unwrap();
    let reader = Reader::new(ReaderConfig::default())
        .with_pdf_worker(PdfWorker::new(env!("CARGO_BIN_EXE_hermod")));
    let mut event = InboundEvent::text(Source::dm(PlatformId::new("test"), "c"), "summarise");
    event.attachments = vec![Attachment {
        file_name: Some("minutes.pdf".into()),
        ..Attachment::new(AttachmentKind::Document, pdf.display().to_string())
    }];
    let read = reader.read(&event, &CancellationToken::new()).await;
    let text = read.content.text();
    assert!(text.contains("minutes.pdf"), "{text}");
    assert!(text.contains("Page two says hello."), "{text}");
}
