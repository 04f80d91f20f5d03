//! hermod's runtime.
//!
//! Every source of input — chat platforms, the HTTP API, later cron and
//! webhooks — is an [`Adapter`] that turns what it receives into an
//! [`hermod_model::InboundEvent`] and submits it through [`Inbound`]. The
//! [`Router`] gives each session key one worker, so messages of a
//! conversation are handled in order while conversations run in parallel.
//! A worker loads the session from the [`hermod_store::Store`], persists the
//! user message, runs the [`hermod_agent::Agent`], persists the reply and
//! hands it back through the source. [`Gateway`] owns the tasks and shuts
//! them down.

mod access;
mod adapter;
mod clock;
mod cluster;
mod commands;
mod config;
mod cron;
mod delivery;
mod durable;
mod error;
mod handoff;
mod health;
mod hooks;
mod media;
mod metrics;
mod operator;
mod platform;
mod reply;
mod resume;
mod router;
mod runtime;
mod session;
mod status;
mod supervisor;
mod tools;
mod tools_reload;

pub use access::{ApproveOutcome, Pairing, PairingRequest};
pub use adapter::{
    Adapter, AdapterContext, AdapterError, Messenger, Reactions, Receiving, Threads, TurnEnded,
    Typing,
};
pub use clock::{Clock, new_session_id, now_ms};
pub use cluster::{ClusterConfig, GatewayView, cluster_view};
pub use commands::menu as command_menu;
pub use config::{
    AccessMode, BUILTIN_PERSONALITIES, BusyMode, CompressionConfig, ContextConfig,
    DEFAULT_CONTEXT_LENGTH, DmBehavior, GatewayConfig, Personality, PlatformPolicy,
    REASONING_LEVELS, ResetMode, ResetPolicy,
};
pub use cron::{
    CRON_PLATFORM, CronJobs, CronTool, JobEdit, JobSpec, SCHEDULE_FORMS, Schedule, ScheduleError,
    TARGET_FORMS, is_silent, parse_duration, time_zone,
};
pub use delivery::{
    Deliveries, DeliveryReceipt, DirectiveFilter, DisplayConfig, DisplayOverride, MediaRoots,
    Refusal, ReplyMedia, StreamingConfig, StreamingOverride, ToolProgress, Transport,
    attachment_name, strip_directives,
};
pub use error::CoreError;
pub use handoff::{HANDOFF_POLL, HandoffWait, Handoffs, await_handoff};
pub use health::{ComponentState, ComponentStatus, Health, HealthReport, STORE_COMPONENT};
pub use hooks::{
    DEFAULT_TIMEOUT as HOOK_DEFAULT_TIMEOUT, Decision, EVENTS as HOOK_EVENTS,
    Handler as HookHandler, Hook, HookEvent, HookReport, Hooks, Problem as HookProblem,
    Ran as HookRan,
};
pub use media::{MediaRead, MediaReader, NotesOnly, attachment_note};
pub use metrics::{METRICS_CONTENT_TYPE, Metrics};
pub use operator::{
    ErrorSource, MetricsSnapshot, Operator, PairingAnswer, PauseOutcome, PendingRequest,
    PlatformRow, RecentError, ResumeOutcome, Sample,
};
pub use platform::{
    BuildContext, Built, ChatEndpoint, Claim, PlatformConfig, ProbeContext, SharedParts,
};
pub use reply::{ReplyMode, TurnEvent, TurnStream};
pub use router::{Inbound, Router, Submitted};
pub use runtime::{Gateway, GatewayBuilder, RESUME_COMPONENT, Stopped};
pub use status::{
    ComponentLine, GATEWAY_KIND, GatewayPhase, GatewayStatus, OUTBOX_COUNT_LIMIT, StatusBoard,
};
pub use tools::{
    Answered, ApprovalAnswerError, ApprovalChoice, DeliveriesLink, MemoryLimits, MemoryTool,
    SendMessageTool, SessionSearchTool,
};
pub use tools_reload::ToolsReload;
