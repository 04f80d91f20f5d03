//! Threads for handed-off conversations. Slack threads hang off a message,
//! so a new one starts with a root message in the home channel (its title),
//! whose `ts` is the thread's `thread_ts`.

use super::SlackAdapter;
use crate::outbound::Target;
use crate::render::mrkdwn;
use async_trait::async_trait;
use hermod_core::{AdapterError, Threads};
use hermod_model::{ChatTarget, ChatType, Source};

#[async_trait]
impl Threads for SlackAdapter {
    async fn create_thread(&self, home: &ChatTarget, title: &str) -> Result<Source, AdapterError> {
        let root = Target {
            channel: home.chat_id.trim().to_owned(),
            thread_ts: None,
        };
        let ts = self
            .post(&root, &mrkdwn(&format!("*{title}*")))
            .await?
            .ok_or_else(|| {
                AdapterError::Transient(
                    "Slack posted the thread's first message without its ts".into(),
                )
            })?;
        let thread = Target {
            channel: root.channel.clone(),
            thread_ts: Some(ts.clone()),
        };
        // Answers there need no mention, as in any thread the bot is in.
        self.answered(&thread);
        // Direct message channels start with D (as inbound reads them).
        let chat_type = if root.channel.starts_with('D') {
            ChatType::Dm
        } else {
            ChatType::Group
        };
        Ok(Source {
            chat_type,
            thread_id: Some(ts),
            ..Source::dm(crate::PLATFORM, root.channel)
        })
    }
}
