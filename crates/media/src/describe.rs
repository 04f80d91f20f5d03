//! Images put into words by a vision model, for a main model that cannot
//! see and for stickers (the same few sent again and again), with each
//! description kept in the store so an image is described once.

use hermod_agent::{AgentError, CompletionRequest, LlmClient};
use hermod_model::{ChatMessage, Content, ContentPart, ImageUrl, TurnOptions};
use hermod_store::Store;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// What the vision model is asked.
const PROMPT: &str = "Describe this image for someone who cannot see it, in at most a few \
     sentences: what it shows, any text in it (quoted exactly), and anything notable. \
     Answer with the description only.";

/// What a sticker's vision model is asked.
const STICKER_PROMPT: &str = "This is a chat sticker. Say in one short sentence what it shows \
     and the emotion or reaction it expresses. Answer with the description only.";

/// The longest description kept, in characters: a model that rambles does
/// not fill every later request.
const MAX_DESCRIPTION: usize = 1_500;

/// The store setting a description is kept under.
fn cache_key(key: &str) -> String {
    format!("media.description:{key}")
}

/// What is described: an image, or a sticker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Image,
    Sticker,
}

/// A vision model that describes images, with a cache of its answers.
#[derive(Clone)]
pub struct Describer {
    client: LlmClient,
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Describer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Describer")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl Describer {
    /// `client` must reach a model that takes image parts; its
    /// configuration should not stream.
    pub fn new(client: LlmClient, store: Arc<dyn Store>) -> Self {
        Self { client, store }
    }

    /// The description of the image at `data_url`, from the cache under
    /// `key` (a content hash or the platform's file id) or else from the
    /// model, then cached. A store that fails only costs the cache.
    pub async fn describe(
        &self,
        key: &str,
        data_url: &str,
        subject: Subject,
        cancel: &CancellationToken,
    ) -> Result<String, AgentError> {
        let setting = cache_key(key);
        match self.store.setting(&setting).await {
            Ok(Some(cached)) => {
                debug!(key, "image description from the cache");
                return Ok(cached);
            }
            Ok(None) => {}
            Err(e) => warn!(error = %e, "the description cache could not be read"),
        }
        let description = self.ask(data_url, subject, cancel).await?;
        let at = hermod_core::now_ms();
        if let Err(e) = self.store.set_setting(&setting, &description, at).await {
            warn!(error = %e, "an image description could not be cached");
        }
        Ok(description)
    }

    async fn ask(
        &self,
        data_url: &str,
        subject: Subject,
        cancel: &CancellationToken,
    ) -> Result<String, AgentError> {
        let prompt = match subject {
            Subject::Image => PROMPT,
            Subject::Sticker => STICKER_PROMPT,
        };
        let messages = [ChatMessage::user(Content::Parts(vec![
            ContentPart::Text {
                text: prompt.to_owned(),
            },
            ContentPart::ImageUrl {
                image_url: ImageUrl {
                    url: data_url.to_owned(),
                    detail: None,
                },
            },
        ]))];
        let options = TurnOptions::default();
        let request = CompletionRequest {
            messages: &messages,
            tools: &[],
            options: &options,
        };
        // The client forwards streamed text as events; nobody reads them
        // here, but the receiver must stay open for the call to go on.
        let (events, mut sink) = mpsc::channel(64);
        let drain = tokio::spawn(async move { while sink.recv().await.is_some() {} });
        let result = self.client.complete(&request, cancel, &events).await;
        drop(events);
        let _ = drain.await;
        let text = result?.text;
        let text = text.trim();
        if text.is_empty() {
            return Err(AgentError::Protocol(
                "the vision model answered with no description".to_owned(),
            ));
        }
        Ok(bounded(text, MAX_DESCRIPTION))
    }
}

fn bounded(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_descriptions_are_cut_with_a_mark() {
        assert_eq!(bounded("short", 10), "short");
        let cut = bounded(&"word ".repeat(100), 12);
        assert_eq!(cut, "word word wo…");
    }
}
