//! Discord in the chat-platform scenarios: the fake Discord
//! (`hermod_testkit::FakeDiscord`, REST API and gateway websocket on one
//! port) as a [`Peer`] of `discord-throughput`.
//!
//! hermod identifies on the fake's gateway and sends through its REST API
//! (`DISCORD_API_BASE_URL`). Each chat is a DM channel between the bot and
//! one user. Discord allows a bot 50 requests per second, whatever they
//! are, and each route a budget per channel (5 messages per 5 s, one
//! reaction per quarter second); the fake counts every request that finds
//! a budget empty and, in this scenario, answers it anyway, so hermod's
//! own pacing is what is measured. The gateway has no acknowledgement of
//! a dispatch, so ingest is measured by turns started only.

use super::chat::{Call, CallKind, Ceiling, Peer, Shown, limit_use, max_in_window};
use crate::report::Metric;
use hermod_testkit::FakeDiscord;
use hermod_testkit::discord::{FakeUser, RateLimitMode, Route};
use std::time::Duration;
use tokio::time::Instant;

/// Sends and edits alone against the global limit: the share of it that
/// showed replies.
const MESSAGES: Ceiling = Ceiling {
    what: "sends and edits, 50 per second per bot",
    counts: CallKind::shows_text,
    limit: 50,
    window: Duration::from_secs(1),
};

/// The fake Discord in `discord-throughput`.
#[derive(Debug)]
pub(crate) struct DiscordPeer {
    fake: FakeDiscord,
    users: Vec<FakeUser>,
}

fn kind(route: Route) -> CallKind {
    match route {
        Route::CreateMessage => CallKind::Send,
        Route::EditMessage => CallKind::Edit,
        Route::DeleteMessage => CallKind::Delete,
        Route::TriggerTyping => CallKind::Typing,
        Route::CreateReaction | Route::DeleteOwnReaction => CallKind::Reaction,
        _ => CallKind::Other,
    }
}

/// The channel of a `/channels/{id}/…` path.
fn channel_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/channels/")?;
    let id = rest.split('/').next()?;
    id.parse::<u64>().ok().map(|id| id.to_string())
}

impl Peer for DiscordPeer {
    const PLATFORM: &'static str = "discord";
    const CEILING: Ceiling = Ceiling {
        what: "every REST request, 50 per second per bot",
        counts: |_| true,
        limit: 50,
        window: Duration::from_secs(1),
    };
    /// At most 25 streamed replies a second fit in the limit, fewer with
    /// typing and reactions; deferred deliveries drain slower.
    const WAIT_PER_MESSAGE: Duration = Duration::from_millis(500);

    async fn start() -> Self {
        let fake = FakeDiscord::builder()
            .rate_limit_mode(RateLimitMode::CountOnly)
            .start()
            .await;
        Self {
            fake,
            users: Vec::new(),
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DISCORD_BOT_TOKEN", self.fake.token()),
            ("DISCORD_API_BASE_URL", self.fake.api_base_url()),
            ("DISCORD_ALLOW_ALL_USERS", "true".to_owned()),
        ]
    }

    /// READY was sent on a connection.
    async fn connected(&self) {
        self.fake.wait_for_session().await;
    }

    fn open_chats(&mut self, chats: usize) -> Vec<String> {
        self.users = (0..chats)
            .map(|c| self.fake.user(&format!("user{c}")))
            .collect();
        self.users
            .iter()
            .map(|u| u.dm_channel().to_string())
            .collect()
    }

    fn write(&self, chat: usize, text: &str) {
        self.users[chat].dm(text);
    }

    fn shown(&self) -> Vec<Shown> {
        self.fake
            .all_bot_messages()
            .into_iter()
            .filter(|m| !m.deleted)
            .map(|m| Shown {
                chat: m.channel_id.to_string(),
                text: m.current_content().to_owned(),
            })
            .collect()
    }

    fn calls(&self) -> Vec<Call> {
        self.fake
            .calls()
            .iter()
            .map(|call| Call {
                at: call.at,
                chat: channel_of(&call.path),
                kind: kind(call.route),
            })
            .collect()
    }

    /// Requests that found their route's bucket or the global budget empty.
    fn refusable(&self, _calls: &[Call]) -> usize {
        self.fake.would_be_429s()
    }

    fn figures(&self, calls: &[Call], t0: Instant) -> Vec<Metric> {
        let mut times: Vec<Instant> = calls.iter().map(|c| c.at).collect();
        times.sort();
        let since = |route| {
            let calls = self.fake.calls_of(route);
            calls.iter().filter(|c| c.at >= t0).count() as f64
        };
        let mut figures = vec![
            Metric::new(
                "busiest_second_requests",
                max_in_window(&times, Duration::from_secs(1)) as f64,
                "requests",
            )
            .goal("<= 50 requests"),
            Metric::new("reaction_adds", since(Route::CreateReaction), "count"),
            Metric::new(
                "reaction_removals",
                since(Route::DeleteOwnReaction),
                "count",
            ),
            Metric::new("served_429s", self.fake.served_429s() as f64, "count"),
        ];
        if let Some(used) = limit_use(calls, &MESSAGES, t0) {
            figures.push(Metric::new("message_calls_limit_use", used * 100.0, "%"));
        }
        figures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_classified_by_route_and_channel() {
        assert_eq!(kind(Route::CreateMessage), CallKind::Send);
        assert_eq!(kind(Route::DeleteOwnReaction), CallKind::Reaction);
        assert_eq!(kind(Route::GetGatewayBot), CallKind::Other);
        assert_eq!(
            channel_of("/channels/123/messages/456/reactions/%F0%9F%91%80/@me").as_deref(),
            Some("123")
        );
        assert_eq!(channel_of("/users/@me/channels"), None);
    }
}
