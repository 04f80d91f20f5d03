//! The gateway's media reader, from the configuration: speech to text
//! (`stt:`), the vision model (`auxiliary.vision`) and the caps (`media:`).

use crate::config::Config;
use hermod_agent::{LlmClient, LlmConfig, Transcriber, TranscriberConfig};
use hermod_http::HttpClient;
use hermod_media::worker::PdfWorker;
use hermod_media::{Describer, Reader, ReaderConfig};
use hermod_store::Store;
use std::sync::Arc;
use std::time::Duration;

/// The reader `config` asks for; `store` keeps image descriptions, `http`
/// is the gateway's client.
pub fn reader(config: &Config, store: Arc<dyn Store>, http: &HttpClient) -> Reader {
    let media = &config.media;
    let mut reader = Reader::new(ReaderConfig {
        images: media.images,
        max_image_edge: media.max_image_edge,
        document_max_chars: media.document_max_chars,
        echo_transcripts: config.stt.echo_transcripts,
    });
    if config.stt.enabled {
        let stt = &config.stt;
        let transcriber = Transcriber::with_http(
            TranscriberConfig {
                api_key: stt.api_key.clone(),
                model: stt.model.clone(),
                language: stt.language.clone(),
                max_bytes: stt.max_bytes,
                request_timeout: Duration::from_secs(stt.timeout_secs.max(1)),
                ..TranscriberConfig::new(stt.base_url.clone())
            },
            http,
        );
        reader = reader.with_transcriber(transcriber);
    }
    // PDFs are read by this binary in a child process (`extract-text`).
    match std::env::current_exe() {
        Ok(exe) => reader = reader.with_pdf_worker(PdfWorker::new(exe)),
        Err(e) => {
            tracing::warn!(error = %e, "PDFs are read in the gateway's own process: its binary's path is unknown")
        }
    }
    if let Some(vision) = &media.describer {
        let client = LlmClient::with_http(
            LlmConfig {
                api_key: vision.api_key.clone(),
                request_timeout: Duration::from_secs(vision.timeout_secs.max(1)),
                stream: false,
                ..LlmConfig::new(vision.base_url.clone(), vision.model.clone())
            },
            http,
        );
        reader = reader.with_describer(Describer::new(client, store));
    }
    reader
}
