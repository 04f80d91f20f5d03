//! [`TestPlatform`]'s threads: each handoff's new thread is recorded with
//! its title and numbered from the message ids, and may be scripted to fail.

use super::TestPlatform;
use async_trait::async_trait;
use hermod_core::{AdapterError, Threads};
use hermod_model::{ChatTarget, ChatType, Source};

/// A thread the gateway opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedThread {
    pub chat_id: String,
    pub thread_id: String,
    pub title: String,
}

impl TestPlatform {
    /// The threads opened so far, in order.
    pub fn created_threads(&self) -> Vec<CreatedThread> {
        self.lock().threads.clone()
    }

    /// The next thread creation fails with `error`.
    pub fn fail_next_thread(&self, error: AdapterError) {
        self.update(|s| s.fail_threads.push_back(error));
    }
}

#[async_trait]
impl Threads for TestPlatform {
    /// Opens thread `t<n>` in the home chat; messages there come from a
    /// [`ChatType::Thread`] source, as [`super::TestUser::thread_event`]
    /// writes them.
    async fn create_thread(&self, home: &ChatTarget, title: &str) -> Result<Source, AdapterError> {
        let created = self.update(|s| {
            if let Some(error) = s.fail_threads.pop_front() {
                return Err(error);
            }
            let thread = CreatedThread {
                chat_id: home.chat_id.clone(),
                thread_id: format!("t{}", s.next_message_id()),
                title: title.to_owned(),
            };
            s.threads.push(thread.clone());
            Ok(thread)
        })?;
        let mut source = Source::dm(self.inner.id.clone(), created.chat_id);
        source.chat_type = ChatType::Thread;
        source.thread_id = Some(created.thread_id);
        Ok(source)
    }
}
