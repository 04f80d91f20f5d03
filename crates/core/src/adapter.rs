//! The [`Adapter`] trait every source of input implements, the
//! [`Messenger`] a chat platform adds to it with its optional features
//! ([`Typing`], [`Reactions`], [`Threads`]), and the context core hands an
//! adapter.

use crate::router::Inbound;
use async_trait::async_trait;
use hermod_model::{
    Capabilities, ChatTarget, Edit, MessageRef, Outbound, PlatformId, Sent, Source,
};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A failure talking to a platform, classified so callers know whether and
/// when to retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// The platform asked us to slow down; do not send to it again before
    /// `retry_after` has passed.
    #[error("rate limited by the platform{}", hermod_agent::retry_hint(*.retry_after))]
    RateLimited { retry_after: Option<Duration> },
    /// A timeout, 5xx or dropped connection: retry with backoff.
    #[error("temporary platform failure: {0}")]
    Transient(String),
    /// The platform refused the request; retrying the same request will not help.
    #[error("the platform rejected the request: {0}")]
    Rejected(String),
    /// Our credentials were refused: the adapter stops until reconfigured.
    #[error("the platform refused our credentials: {0}")]
    Auth(String),
    /// The text is longer than the platform accepts.
    #[error("the message is too long for the platform")]
    TooLong,
    /// The chat or message does not exist (any more).
    #[error("not found on the platform: {0}")]
    NotFound(String),
    /// The adapter cannot do this at all (for example, edit on a platform
    /// whose messages cannot be edited).
    #[error("not supported by this adapter: {0}")]
    Unsupported(&'static str),
    /// The platform answers requests and has no [`Messenger`]: a reply or a
    /// delivery routed to it cannot be sent.
    #[error("{0} answers requests and cannot send on its own")]
    NoMessenger(PlatformId),
    /// The adapter could not start (bad configuration, port in use, ...).
    #[error("{0}")]
    Startup(String),
}

/// What core gives an adapter's `run`.
#[derive(Debug, Clone)]
pub struct AdapterContext {
    /// Where the adapter submits what it receives.
    pub inbound: Inbound,
    /// Cancelled when the adapter must stop receiving; `run` returns soon after.
    pub shutdown: CancellationToken,
}

/// Platforms that can show "typing…" while the agent works.
#[async_trait]
pub trait Typing: Send + Sync {
    /// Shows the indicator in a chat once; core repeats it while a turn runs.
    async fn typing(&self, target: &ChatTarget) -> Result<(), AdapterError>;
}

/// How a turn on a user's message ended, as [`Reactions::turn_ended`]
/// hears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnEnded {
    /// The reply was stored and handed to delivery (or the agent chose to
    /// say nothing).
    Answered,
    /// The agent or the gateway failed; the user was told why.
    Failed,
    /// Stopped before its reply was shown: `/stop`, `/new`, a newer
    /// message in interrupt mode, or the gateway shutting down (a message
    /// a shutdown stopped is answered after the next start).
    Stopped,
}

/// Platforms that mark the message a turn answers while the agent works
/// (Hermes' 👀), and perhaps how it ended.
///
/// Core calls these only for a turn on a user's chat message: after access
/// checks and command handling, so commands, refused senders and queued
/// messages dropped before their turn get none. Each turn gets exactly one
/// `turn_started` and then one `turn_ended`, the end never before the
/// start has returned. The calls run beside the turn, each bounded in
/// time: a slow platform delays neither the reply nor the next turn, and a
/// failure is only logged.
#[async_trait]
pub trait Reactions: Send + Sync {
    /// A turn on `message` (the user's message, in its chat) is starting.
    async fn turn_started(&self, message: &MessageRef) -> Result<(), AdapterError>;

    /// The turn on `message` ended, after its reply (or the error shown
    /// instead) was sent.
    async fn turn_ended(&self, message: &MessageRef, ended: TurnEnded) -> Result<(), AdapterError>;
}

/// Platforms that can open a fresh thread in a chat, where a conversation
/// handed off to them continues (`hermod handoff`): a forum topic, a
/// thread started without a message, or one anchored on a root message.
#[async_trait]
pub trait Threads: Send + Sync {
    /// Opens a thread titled `title` in the chat `home` and returns where
    /// messages written in it come from, as the adapter reports them
    /// (platform, chat type, chat, thread; no user), so core can route that
    /// place's session key. Where `home` cannot hold threads (a direct
    /// chat, a group without topics), the adapter returns `home` itself
    /// as such a place rather than failing.
    async fn create_thread(&self, home: &ChatTarget, title: &str) -> Result<Source, AdapterError>;
}

/// Where an adapter receives when several gateways share a database
/// (a cluster); a gateway alone on its database always receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receiving {
    /// On one gateway at a time: a long poll, one socket or session per
    /// account, a mailbox. The gateways choose one by a lease; when it
    /// dies, another takes over within seconds.
    Single,
    /// On every gateway: requests that come to whichever gateway a load
    /// balancer picks (an HTTP API, webhooks).
    Everywhere,
}

/// A source of input: a platform connection, the HTTP API, later cron and
/// webhooks.
#[async_trait]
pub trait Adapter: Send + Sync + 'static {
    /// The platform's name, as used in session keys and config.
    fn id(&self) -> PlatformId;

    fn capabilities(&self) -> Capabilities;

    /// Receives until `ctx.shutdown` is cancelled, submitting every message
    /// to `ctx.inbound`. Returns an error only when the adapter cannot go on
    /// (for example, its credentials were revoked).
    async fn run(&self, ctx: AdapterContext) -> Result<(), AdapterError>;

    /// How core sends to the platform on its own: replies, previews,
    /// background results, scheduled deliveries. `None` for request/response
    /// sources (the HTTP API), whose replies go back to the request that
    /// asked; whatever is routed to them anyway fails with
    /// [`AdapterError::NoMessenger`].
    fn messenger(&self) -> Option<&dyn Messenger>;

    /// Where it receives in a cluster; [`Receiving::Single`] unless the
    /// adapter only answers requests (which every gateway can).
    fn receiving(&self) -> Receiving {
        Receiving::Single
    }

    /// The chat endpoint this adapter serves where it is listening now
    /// (`hermod chat` in its own gateway); `None` for most.
    fn chat_endpoint(&self) -> Option<crate::ChatEndpoint> {
        None
    }
}

/// The chat side of a platform: what core needs to put messages in its
/// chats and change them afterwards.
#[async_trait]
pub trait Messenger: Send + Sync {
    /// Sends a message; returns the ids of every message created.
    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError>;

    /// Replaces the text of a message this messenger sent.
    async fn edit(&self, edit: Edit) -> Result<(), AdapterError>;

    /// Deletes a message this messenger sent.
    async fn delete(&self, message: MessageRef) -> Result<(), AdapterError>;

    /// The typing indicator, where the platform has one.
    fn typing(&self) -> Option<&dyn Typing> {
        None
    }

    /// Marks on the message a turn answers, where the platform has them
    /// and they are switched on.
    fn reactions(&self) -> Option<&dyn Reactions> {
        None
    }

    /// New threads for handed-off conversations, where the platform has
    /// them. Without it a handoff continues in the home chat itself.
    fn threads(&self) -> Option<&dyn Threads> {
        None
    }
}

/// The adapter's messenger, or the error every call to a platform without
/// one ends with (so core treats it like any other refused call).
pub(crate) fn messenger_of(adapter: &dyn Adapter) -> Result<&dyn Messenger, AdapterError> {
    adapter
        .messenger()
        .ok_or_else(|| AdapterError::NoMessenger(adapter.id()))
}
