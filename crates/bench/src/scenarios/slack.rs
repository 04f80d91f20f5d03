//! Slack in the chat-platform scenarios: the fake Slack
//! (`hermod_testkit::FakeSlack`) as a [`Peer`] of `slack-throughput`.
//!
//! hermod receives in Socket Mode (`SLACK_APP_TOKEN`) and calls the fake's
//! Web API (`SLACK_API_BASE_URL`). Each chat is a DM (`D…`) between the
//! bot and one user. Slack's limits are per method: `chat.postMessage`
//! about one message a second per channel, `chat.update` Tier 3 (50 a
//! minute for the app), `reactions.add` Tier 3 and `reactions.remove`
//! Tier 2 (20 a minute). A streamed reply needs an update, so 50 a minute
//! is what bounds delivery. The fake counts the calls over those budgets
//! and answers them anyway (its default), so hermod's own pacing is what
//! is measured. Socket Mode envelopes are acknowledged before hermod
//! records them, so ingest is measured by turns started only.

use super::chat::{Call, CallKind, Ceiling, Peer, Shown};
use crate::report::Metric;
use hermod_testkit::FakeSlack;
use hermod_testkit::slack::SlackUser;
use std::time::Duration;
use tokio::time::Instant;

/// The Web API methods a reply can use, with a budget at the fake.
const METHODS: [&str; 5] = [
    "chat.postMessage",
    "chat.update",
    "chat.delete",
    "reactions.add",
    "reactions.remove",
];

/// The fake Slack in `slack-throughput`.
#[derive(Debug)]
pub(crate) struct SlackPeer {
    fake: FakeSlack,
    users: Vec<SlackUser>,
}

fn kind(method: &str) -> CallKind {
    match method {
        "chat.postMessage" => CallKind::Send,
        "chat.update" => CallKind::Edit,
        "chat.delete" => CallKind::Delete,
        "reactions.add" | "reactions.remove" => CallKind::Reaction,
        _ => CallKind::Other,
    }
}

impl Peer for SlackPeer {
    const PLATFORM: &'static str = "slack";
    const CEILING: Ceiling = Ceiling {
        what: "chat.update, Tier 3: 50 a minute per app",
        counts: |kind| kind == CallKind::Edit,
        limit: 50,
        window: Duration::from_secs(60),
    };
    /// 50 streamed replies a minute fit in the limit: 1.2 s each, and
    /// more for deferred deliveries.
    const WAIT_PER_MESSAGE: Duration = Duration::from_secs(3);

    async fn start() -> Self {
        Self {
            fake: FakeSlack::start().await,
            users: Vec::new(),
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let config = self.fake.config();
        vec![
            ("SLACK_BOT_TOKEN", config.bot_token.clone()),
            ("SLACK_APP_TOKEN", config.app_token.clone()),
            ("SLACK_API_BASE_URL", self.fake.api_base_url()),
            ("SLACK_ALLOW_ALL_USERS", "true".to_owned()),
        ]
    }

    /// A Socket Mode connection is open.
    async fn connected(&self) {
        self.fake.wait_for_connections(1).await;
    }

    fn open_chats(&mut self, chats: usize) -> Vec<String> {
        self.users = (0..chats)
            .map(|c| self.fake.user(&format!("user{c}")))
            .collect();
        self.users.iter().map(SlackUser::dm_channel).collect()
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
                text: m.current_text().to_owned(),
                chat: m.channel,
            })
            .collect()
    }

    fn calls(&self) -> Vec<Call> {
        self.fake
            .calls()
            .iter()
            .map(|call| Call {
                at: call.at,
                chat: call.params["channel"].as_str().map(str::to_owned),
                kind: kind(&call.method),
            })
            .collect()
    }

    /// Calls over their method's budgets.
    fn refusable(&self, _calls: &[Call]) -> usize {
        METHODS
            .iter()
            .map(|method| self.fake.budget_overruns(method))
            .sum()
    }

    fn figures(&self, _calls: &[Call], t0: Instant) -> Vec<Metric> {
        let mut figures: Vec<Metric> = METHODS
            .iter()
            .map(|method| {
                Metric::new(
                    &format!("over_budget_{}", method.replace('.', "_")),
                    self.fake.budget_overruns(method) as f64,
                    "count",
                )
            })
            .collect();
        let since = |method| {
            let calls = self.fake.calls_of(method);
            calls.iter().filter(|c| c.at >= t0).count() as f64
        };
        figures.extend([
            Metric::new("reaction_adds", since("reactions.add"), "count"),
            Metric::new("reaction_removals", since("reactions.remove"), "count"),
            Metric::new(
                "envelope_redeliveries",
                self.fake.redeliveries() as f64,
                "count",
            ),
            Metric::new(
                "envelopes_missed",
                self.fake.missed_envelopes().len() as f64,
                "count",
            ),
        ]);
        figures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_classified_by_method() {
        assert_eq!(kind("chat.postMessage"), CallKind::Send);
        assert_eq!(kind("chat.update"), CallKind::Edit);
        assert_eq!(kind("reactions.remove"), CallKind::Reaction);
        assert_eq!(kind("apps.connections.open"), CallKind::Other);
    }
}
