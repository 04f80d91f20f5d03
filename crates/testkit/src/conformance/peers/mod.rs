//! Ready-made [`Peer`](super::Peer)s, one over each fake of this kit:
//! [`TelegramPeer`], [`DiscordPeer`], [`SlackPeer`], and
//! [`TestPlatformPeer`] over the in-process
//! [`TestPlatform`](crate::TestPlatform). Each plays a user (named
//! "Conformance") writing direct messages to the bot.

mod discord;
mod slack;
mod telegram;
mod test_platform;

pub use discord::DiscordPeer;
pub use slack::SlackPeer;
pub use telegram::TelegramPeer;
pub use test_platform::TestPlatformPeer;

use std::time::Duration;
use tokio::time::Instant;

/// `retry_after` in the whole seconds of a `Retry-After` header: rounded
/// up, and at least one.
fn whole_seconds(retry_after: Duration) -> u64 {
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    secs.max(1)
}

/// What `messages` show now (`text`), leaving out the `deleted` ones.
fn shown<M>(
    messages: &[M],
    deleted: impl Fn(&M) -> bool,
    text: impl Fn(&M) -> &str,
) -> Vec<String> {
    messages
        .iter()
        .filter(|m| !deleted(m))
        .map(|m| text(m).to_owned())
        .collect()
}

/// When the `calls` that were edits in the chat in question (`in_chat`)
/// arrived (`at`), in order.
fn arrivals<C>(
    calls: Vec<C>,
    in_chat: impl Fn(&C) -> bool,
    at: impl Fn(&C) -> Instant,
) -> Option<Vec<Instant>> {
    Some(
        calls
            .into_iter()
            .filter(|c| in_chat(c))
            .map(|c| at(&c))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::whole_seconds;
    use std::time::Duration;

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds_and_never_zero() {
        assert_eq!(whole_seconds(Duration::from_secs(3)), 3);
        assert_eq!(whole_seconds(Duration::from_millis(2500)), 3);
        assert_eq!(whole_seconds(Duration::from_millis(10)), 1);
        assert_eq!(whole_seconds(Duration::ZERO), 1);
    }
}
