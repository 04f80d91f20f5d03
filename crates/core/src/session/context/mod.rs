//! What a turn sends the model besides its new message, kept within the
//! model's context window (Hermes' context compression).
//!
//! Before each turn the request is estimated (system prompt, tool
//! definitions, the session's summary, its history, the new message). Over
//! the compression threshold, the older messages are summarized by the
//! model ([`hermod_agent::Agent::summarize`]) into a note stored with the
//! session ([`hermod_store::SessionSummary`]); that turn and the next ones
//! send the note and the messages after it, while the store keeps the
//! whole conversation. The recent tail stays verbatim, and a cut never
//! separates an assistant's tool calls from their results. When no summary
//! can be made (the model fails, or the session is in its cool-down after
//! a failure), the turn goes on with the oldest messages left out, so a
//! failing summarizer never costs a reply. `/compress` summarizes at once,
//! with an optional focus; `/context` shows the numbers.

mod budget;
mod cooldown;
pub(crate) mod presets;
mod split;

use crate::config::ContextConfig;
use crate::error::CoreError;
use crate::session::WorkerDeps;
use budget::{message_tokens, messages_tokens};
use cooldown::Cooldowns;
use hermod_agent::{SummaryError, SummaryRequest};
use hermod_model::{ChatMessage, SessionId, TurnOptions};
use hermod_store::{SessionRecord, SessionSummary};
use presets::Presets;
use std::future::Future;
use std::task::Poll;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

pub(crate) use budget::{Budget, chars_tokens};

/// Opens the summary in the history, so the model reads it as background.
const SUMMARY_OPENING: &str = "[Summary of the earlier conversation — reference only] Earlier \
messages of this conversation were compressed into the summary below. Treat it as background, \
not as requests to act on (they were handled already), and answer the newest message after it.";
/// Closes it, so the model knows where the live conversation resumes.
const SUMMARY_CLOSING: &str = "[End of the summary — the conversation continues below]";

/// The message that stands in for the summarized messages.
pub(crate) fn summary_message(summary: &str) -> ChatMessage {
    ChatMessage::user(format!(
        "{SUMMARY_OPENING}\n\n{summary}\n\n{SUMMARY_CLOSING}"
    ))
}

/// The gateway's context handling: its configuration and the sessions
/// whose summaries failed lately.
#[derive(Debug, Default)]
pub(crate) struct Context {
    pub(crate) config: ContextConfig,
    cooldowns: Cooldowns,
}

/// A turn's conversation as loaded, before it is fitted to the budget.
#[derive(Debug)]
pub(crate) struct Loaded<'a> {
    pub(crate) session: &'a SessionId,
    /// The session's model override, if it has one.
    pub(crate) model_override: Option<&'a str>,
    pub(crate) history: Vec<ChatMessage>,
    /// The stored id of each message of `history`, when it came from the
    /// store; empty for a history the source supplied, which is sent as
    /// it is.
    pub(crate) ids: Vec<i64>,
    pub(crate) input: &'a ChatMessage,
    /// The source's system prompt for this turn.
    pub(crate) system_prompt: Option<&'a str>,
}

/// What the turn sends.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) history: Vec<ChatMessage>,
    pub(crate) system_prompt: Option<String>,
    pub(crate) reasoning_effort: Option<String>,
}

/// What `/compress` did.
#[derive(Debug)]
pub(crate) enum Compressed {
    /// The history before and after, in estimated tokens, and how many
    /// messages were summarized.
    Done {
        before: u64,
        after: u64,
        summarized: usize,
    },
    /// Every message is within the recent tail kept verbatim.
    NothingOlder,
    /// The model could not summarize; why.
    Failed(String),
}

/// What `/context` shows.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) budget: Budget,
    pub(crate) enabled: bool,
    /// The agent's system prompt and the session's personality.
    pub(crate) system_tokens: u64,
    pub(crate) tools_tokens: u64,
    /// The summary's tokens and the id of the last message it covers.
    pub(crate) summary: Option<(u64, i64)>,
    pub(crate) history_tokens: u64,
    pub(crate) history_messages: usize,
    /// What is left of a cool-down after a failed summary.
    pub(crate) cooldown: Option<Duration>,
}

impl Report {
    pub(crate) fn total(&self) -> u64 {
        self.system_tokens
            + self.tools_tokens
            + self.summary.map_or(0, |(tokens, _)| tokens)
            + self.history_tokens
    }
}

/// The messages after the summary (all of them without one), with their ids.
fn after_summary(
    history: Vec<ChatMessage>,
    ids: Vec<i64>,
    summary: Option<&SessionSummary>,
) -> (Vec<ChatMessage>, Vec<i64>) {
    let Some(summary) = summary else {
        return (history, ids);
    };
    history
        .into_iter()
        .zip(ids)
        .filter(|(_, id)| *id > summary.through_message_id)
        .unzip()
}

/// Resolves when any of `tokens` is cancelled (never, for none).
async fn any_cancelled(tokens: &[&CancellationToken]) {
    let mut waits: Vec<_> = tokens.iter().map(|t| Box::pin(t.cancelled())).collect();
    std::future::poll_fn(|cx| {
        if waits.iter_mut().any(|w| w.as_mut().poll(cx).is_ready()) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

/// `head` (the summary, if any) and the newest `messages` that fit in
/// `budget` tokens.
fn trimmed(
    head: Option<ChatMessage>,
    messages: Vec<ChatMessage>,
    tokens: &[u64],
    budget: u64,
) -> Vec<ChatMessage> {
    let start = split::fit_start(&messages, tokens, budget);
    head.into_iter()
        .chain(messages.into_iter().skip(start))
        .collect()
}

impl Context {
    pub(crate) fn new(config: ContextConfig) -> Self {
        Self {
            config,
            cooldowns: Cooldowns::default(),
        }
    }

    /// The turn's history, system prompt and reasoning effort: the
    /// session's presets applied and its history fitted to the budget,
    /// summarizing older messages when the request would pass the
    /// compression threshold. `stop` (an interrupt, the submitter going
    /// away, shutdown) cuts a running summary short; the turn then goes on
    /// with the oldest messages left out.
    pub(crate) async fn prepare(
        &self,
        deps: &WorkerDeps,
        loaded: Loaded<'_>,
        stop: &[&CancellationToken],
    ) -> Result<Prepared, CoreError> {
        let presets = deps
            .persist("read the session's presets", || {
                Presets::of(deps.store.as_ref(), &self.config, loaded.session)
            })
            .await?;
        let system_prompt = presets.system_prompt(loaded.system_prompt);
        let reasoning_effort = presets.reasoning_effort.clone();
        let history = if !loaded.history.is_empty() && loaded.ids.len() == loaded.history.len() {
            self.fit(deps, loaded, system_prompt.as_deref(), stop)
                .await?
        } else {
            loaded.history
        };
        Ok(Prepared {
            history,
            system_prompt,
            reasoning_effort,
        })
    }

    /// The estimated tokens of what every request of this session carries
    /// besides its conversation: the agent's system prompt and tools and
    /// the turn's own system prompt.
    fn fixed_tokens(deps: &WorkerDeps, system_prompt: Option<&str>) -> u64 {
        let fixed = deps.agent.fixed_context();
        chars_tokens(
            fixed.system_prompt_chars
                + fixed.tools_chars
                + system_prompt.map_or(0, |p| p.chars().count()),
        )
    }

    async fn fit(
        &self,
        deps: &WorkerDeps,
        loaded: Loaded<'_>,
        system_prompt: Option<&str>,
        stop: &[&CancellationToken],
    ) -> Result<Vec<ChatMessage>, CoreError> {
        let session = loaded.session;
        let model = loaded.model_override.unwrap_or(deps.default_model.as_str());
        let budget = Budget::for_model(&self.config, model);
        let summary = deps
            .persist("read the session's summary", || {
                deps.store.session_summary(session)
            })
            .await?;
        let (messages, ids) = after_summary(loaded.history, loaded.ids, summary.as_ref());
        let head = summary.as_ref().map(|s| summary_message(&s.summary));
        let tokens: Vec<u64> = messages.iter().map(message_tokens).collect();
        let around = Self::fixed_tokens(deps, system_prompt)
            + message_tokens(loaded.input)
            + head.as_ref().map_or(0, message_tokens);
        let total = around + tokens.iter().sum::<u64>();
        if total <= budget.threshold_tokens || !self.config.compression.enabled {
            return Ok(head.into_iter().chain(messages).collect());
        }
        let room = budget.threshold_tokens.saturating_sub(around);
        if let Some(left) = self.cooldowns.remaining(session) {
            debug!(session = %session, left_secs = left.as_secs(), "summaries paused after a failure; the oldest messages are left out");
            return Ok(trimmed(head, messages, &tokens, room));
        }
        let start = split::tail_start(
            &messages,
            &tokens,
            budget.tail_tokens,
            budget.protect_last_n,
        );
        if start == 0 {
            return Ok(trimmed(head, messages, &tokens, room));
        }
        let summarizing = self.summarize(
            deps,
            session,
            loaded.model_override,
            (&messages, &ids, &tokens),
            start,
            summary.map(|s| s.summary),
            None,
        );
        let result = tokio::select! {
            result = summarizing => result,
            () = any_cancelled(stop) => {
                debug!(session = %session, "summary cut short; the oldest messages are left out of this turn");
                return Ok(trimmed(head, messages, &tokens, room));
            }
        };
        match result {
            Ok(text) => {
                let new_head = summary_message(&text);
                // Around the history: everything but the old summary, and
                // the new one instead.
                let around =
                    around - head.as_ref().map_or(0, message_tokens) + message_tokens(&new_head);
                let tail = &tokens[start..];
                let after = around + tail.iter().sum::<u64>();
                info!(
                    session = %session,
                    before = total,
                    after,
                    summarized = start,
                    "compressed the conversation's older messages into a summary"
                );
                let tail_messages: Vec<ChatMessage> = messages.into_iter().skip(start).collect();
                if after <= budget.threshold_tokens {
                    return Ok(std::iter::once(new_head).chain(tail_messages).collect());
                }
                // The recent tail alone is too long (large tool results):
                // its oldest messages go too, rather than the request
                // overflowing.
                debug!(session = %session, after, "the recent messages still pass the threshold; the oldest of them are left out");
                let room = budget.threshold_tokens.saturating_sub(around);
                Ok(trimmed(Some(new_head), tail_messages, tail, room))
            }
            Err(SummaryError::Unsupported) => Ok(head.into_iter().chain(messages).collect()),
            Err(e) => {
                let pause = self.config.failure_cooldown();
                warn!(
                    session = %session,
                    error = %e,
                    pause_secs = pause.as_secs(),
                    "could not summarize the conversation; this turn leaves its oldest messages out, \
                     and summaries pause for the session"
                );
                self.cooldowns.start(session, pause);
                Ok(trimmed(head, messages, &tokens, room))
            }
        }
    }

    /// Summarizes `messages[..start]` (continuing `previous`) and stores
    /// the summary with the session; returns its text.
    #[expect(
        clippy::too_many_arguments,
        reason = "one private step with its inputs spelled out"
    )]
    async fn summarize(
        &self,
        deps: &WorkerDeps,
        session: &SessionId,
        model_override: Option<&str>,
        (messages, ids, tokens): (&[ChatMessage], &[i64], &[u64]),
        start: usize,
        previous: Option<String>,
        focus: Option<&str>,
    ) -> Result<String, SummaryError> {
        let request = SummaryRequest {
            messages: messages[..start].to_vec(),
            previous,
            focus: focus.map(str::to_owned),
            target_tokens: Budget::summary_target(tokens[..start].iter().sum()),
            options: TurnOptions {
                model: model_override.map(str::to_owned),
                ..TurnOptions::default()
            },
        };
        let text = deps.agent.summarize(request).await?;
        let stored = SessionSummary {
            session: session.clone(),
            summary: text.clone(),
            through_message_id: ids[start - 1],
            focus: focus.map(str::to_owned),
            created_at_ms: deps.clock.now_ms(),
        };
        if let Err(e) = deps
            .persist("store the session's summary", || {
                deps.store.set_session_summary(stored.clone())
            })
            .await
        {
            // The summary still serves this turn; the next one makes another.
            warn!(session = %session, error = %e, "could not store the conversation's summary");
        }
        Ok(text)
    }

    /// `/compress [focus]`: summarizes the session's older messages now.
    pub(crate) async fn compress_now(
        &self,
        deps: &WorkerDeps,
        session: &SessionRecord,
        focus: Option<&str>,
    ) -> Result<Compressed, CoreError> {
        let model = session
            .model_override
            .as_deref()
            .unwrap_or(deps.default_model.as_str());
        let budget = Budget::for_model(&self.config, model);
        let stored = deps.store.messages(&session.id).await?;
        let summary = deps.store.session_summary(&session.id).await?;
        let (history, ids) = stored.into_iter().map(|m| (m.message, m.id)).unzip();
        let (messages, ids) = after_summary(history, ids, summary.as_ref());
        let head = summary
            .as_ref()
            .map_or(0, |s| message_tokens(&summary_message(&s.summary)));
        let tokens: Vec<u64> = messages.iter().map(message_tokens).collect();
        let start = split::tail_start(
            &messages,
            &tokens,
            budget.tail_tokens,
            budget.protect_last_n,
        );
        if start == 0 {
            return Ok(Compressed::NothingOlder);
        }
        let before = head + tokens.iter().sum::<u64>();
        match self
            .summarize(
                deps,
                &session.id,
                session.model_override.as_deref(),
                (&messages, &ids, &tokens),
                start,
                summary.map(|s| s.summary),
                focus,
            )
            .await
        {
            Ok(text) => {
                self.cooldowns.clear(&session.id);
                let after =
                    message_tokens(&summary_message(&text)) + tokens[start..].iter().sum::<u64>();
                Ok(Compressed::Done {
                    before,
                    after,
                    summarized: start,
                })
            }
            Err(e) => Ok(Compressed::Failed(e.to_string())),
        }
    }

    /// `/context`: the budget of the session's next turn.
    pub(crate) async fn report(
        &self,
        deps: &WorkerDeps,
        session: Option<&SessionRecord>,
    ) -> Result<Report, CoreError> {
        let model = session
            .and_then(|s| s.model_override.as_deref())
            .unwrap_or(deps.default_model.as_str());
        let fixed = deps.agent.fixed_context();
        let mut report = Report {
            budget: Budget::for_model(&self.config, model),
            enabled: self.config.compression.enabled,
            system_tokens: chars_tokens(fixed.system_prompt_chars),
            tools_tokens: chars_tokens(fixed.tools_chars),
            summary: None,
            history_tokens: 0,
            history_messages: 0,
            cooldown: None,
        };
        let Some(session) = session else {
            return Ok(report);
        };
        let presets = Presets::of(deps.store.as_ref(), &self.config, &session.id).await?;
        report.system_tokens += presets
            .personality_prompt
            .map_or(0, |p| chars_tokens(p.chars().count()));
        let stored = deps.store.messages(&session.id).await?;
        let summary = deps.store.session_summary(&session.id).await?;
        let (history, ids) = stored.into_iter().map(|m| (m.message, m.id)).unzip();
        let (messages, _) = after_summary(history, ids, summary.as_ref());
        report.summary = summary.map(|s| {
            (
                message_tokens(&summary_message(&s.summary)),
                s.through_message_id,
            )
        });
        report.history_tokens = messages_tokens(&messages);
        report.history_messages = messages.len();
        report.cooldown = self.cooldowns.remaining(&session.id);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_replaces_what_it_covers() {
        let history = vec![
            ChatMessage::user("a"),
            ChatMessage::assistant("b"),
            ChatMessage::user("c"),
        ];
        let summary = SessionSummary {
            session: SessionId::parse("s").unwrap(),
            summary: "a and b".into(),
            through_message_id: 11,
            focus: None,
            created_at_ms: 0,
        };
        let (after, ids) = after_summary(history.clone(), vec![10, 11, 12], Some(&summary));
        assert_eq!(after, [ChatMessage::user("c")]);
        assert_eq!(ids, [12]);
        let (all, _) = after_summary(history.clone(), vec![10, 11, 12], None);
        assert_eq!(all, history);
        let text = summary_message("a and b").text();
        assert!(text.contains("reference only"));
        assert!(text.contains("\n\na and b\n\n"));
    }

    #[tokio::test(start_paused = true)]
    async fn any_cancelled_waits_for_any_token() {
        let (a, b) = (CancellationToken::new(), CancellationToken::new());
        b.cancel();
        any_cancelled(&[&a, &b]).await;
        let none = tokio::time::timeout(Duration::from_millis(1), any_cancelled(&[])).await;
        assert!(none.is_err(), "no tokens: never");
    }
}
