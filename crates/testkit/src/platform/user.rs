//! [`TestUser`]: a scripted user of a [`TestPlatform`].

use super::TestPlatform;
use hermod_core::CoreError;
use hermod_model::{ChatType, InboundEvent, Source};

/// Someone writing on a [`TestPlatform`]. Every message gets a fresh
/// platform message id, which the sending methods return (replies point at
/// it with `reply_to`). Sending waits until the gateway runs the platform.
#[derive(Debug, Clone)]
pub struct TestUser {
    platform: TestPlatform,
    id: String,
    name: String,
}

impl TestUser {
    pub(super) fn new(platform: TestPlatform, id: &str) -> Self {
        Self {
            platform,
            id: id.to_owned(),
            name: id.to_owned(),
        }
    }

    /// The same user with another display name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where this user writes: `chat_id` on the platform, of `chat_type`,
    /// optionally in a thread.
    pub fn source(&self, chat_type: ChatType, chat_id: &str, thread_id: Option<&str>) -> Source {
        let mut source = Source::dm(self.platform.inner.id.clone(), chat_id);
        source.chat_type = chat_type;
        source.user_id = Some(self.id.clone());
        source.user_name = Some(self.name.clone());
        source.thread_id = thread_id.map(str::to_owned);
        source
    }

    /// A direct message to the gateway; its chat id is the user's id.
    pub fn dm_event(&self, text: &str) -> InboundEvent {
        InboundEvent::text(self.source(ChatType::Dm, &self.id, None), text)
    }

    /// A message in the group `chat_id`.
    pub fn group_event(&self, chat_id: &str, text: &str) -> InboundEvent {
        InboundEvent::text(self.source(ChatType::Group, chat_id, None), text)
    }

    /// A message in thread `thread_id` of the chat `chat_id`.
    pub fn thread_event(&self, chat_id: &str, thread_id: &str, text: &str) -> InboundEvent {
        InboundEvent::text(
            self.source(ChatType::Thread, chat_id, Some(thread_id)),
            text,
        )
    }

    /// Sends a direct message; returns its message id.
    pub async fn dm(&self, text: &str) -> Result<String, CoreError> {
        self.send(self.dm_event(text)).await
    }

    /// Writes in the group `chat_id`; returns the message id.
    pub async fn say_in_group(&self, chat_id: &str, text: &str) -> Result<String, CoreError> {
        self.send(self.group_event(chat_id, text)).await
    }

    /// Writes in thread `thread_id` of `chat_id`; returns the message id.
    pub async fn say_in_thread(
        &self,
        chat_id: &str,
        thread_id: &str,
        text: &str,
    ) -> Result<String, CoreError> {
        self.send(self.thread_event(chat_id, thread_id, text)).await
    }

    /// Submits any event (see [`TestPlatform::submit`]); returns its
    /// message id.
    pub async fn send(&self, event: InboundEvent) -> Result<String, CoreError> {
        self.platform.submit(event).await
    }
}
