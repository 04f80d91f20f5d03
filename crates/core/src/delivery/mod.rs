//! Getting replies onto platforms: the stream consumer that shows a reply
//! while it is written, the outbox that delivers every final reply exactly
//! once, and delivery targets for scheduled output.

mod consumer;
mod outbox;
mod settings;
mod targets;

pub(crate) use consumer::{Consumer, Remaining};
pub(crate) use outbox::{Outcome, deliver_entry, run_sweeper};
pub(crate) use settings::plan;
pub use settings::{
    DisplayConfig, DisplayOverride, StreamingConfig, StreamingOverride, ToolProgress, Transport,
};
pub(crate) use targets::home_key;
pub use targets::{Deliveries, DeliveryReceipt};

use crate::adapter::{Adapter, AdapterError};
use hermod_model::{ChatTarget, Outbound};
use std::time::Duration;

/// Longest a single call waits for a platform's retry-after before giving
/// the delivery back to the outbox for later.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(30);

/// Sends one message, waiting out a short rate limit once (never sending
/// again before the platform's retry-after has passed).
pub(crate) async fn send_once(
    adapter: &dyn Adapter,
    target: &ChatTarget,
    text: &str,
    reply_to: Option<&str>,
) -> Result<Vec<String>, AdapterError> {
    let outbound = Outbound {
        target: target.clone(),
        text: text.to_owned(),
        reply_to: reply_to.map(str::to_owned),
        attachments: Vec::new(),
    };
    match adapter.send(outbound.clone()).await {
        Err(AdapterError::RateLimited { retry_after }) => {
            let wait = retry_after.unwrap_or(Duration::from_secs(1));
            if wait > MAX_INLINE_WAIT {
                return Err(AdapterError::RateLimited { retry_after });
            }
            tokio::time::sleep(wait).await;
            adapter.send(outbound).await.map(|sent| sent.message_ids)
        }
        other => other.map(|sent| sent.message_ids),
    }
}
