//! Getting replies onto platforms: the stream consumer that shows a reply
//! while it is written, the outbox that delivers every final reply exactly
//! once, and delivery targets for scheduled output.

mod consumer;
mod files;
pub(crate) mod media;
mod outbox;
mod settings;
mod targets;

pub(crate) use consumer::{Consumer, Remaining};
pub use media::{
    DirectiveFilter, MediaRoots, Refusal, ReplyMedia, display_name as attachment_name,
    strip as strip_directives,
};
pub(crate) use outbox::{Outcome, deliver_entry, run_sweeper, submit_when_room, tell_hooks};
pub(crate) use settings::plan;
pub use settings::{
    DisplayConfig, DisplayOverride, StreamingConfig, StreamingOverride, ToolProgress, Transport,
};
pub(crate) use targets::home_key;
pub use targets::{Deliveries, DeliveryReceipt};

use crate::adapter::{AdapterError, Messenger};
use hermod_model::{ChatTarget, Outbound};

/// Sends one message, waiting out rate limits (never sending again before
/// the platform's retry-after has passed) and retrying transient failures,
/// with the same rules as the outbox; `limited` is called for each
/// rate-limit answer.
pub(crate) async fn send_once(
    messenger: &dyn Messenger,
    target: &ChatTarget,
    text: &str,
    reply_to: Option<&str>,
    limited: &(dyn Fn() + Sync),
) -> Result<Vec<String>, AdapterError> {
    let outbound = Outbound {
        target: target.clone(),
        text: text.to_owned(),
        reply_to: reply_to.map(str::to_owned),
        attachments: Vec::new(),
        idempotency_key: None,
    };
    outbox::with_retries(outbox::Patience::Retry, limited, || {
        messenger.send(outbound.clone())
    })
    .await
    .map(|sent| sent.message_ids)
}
