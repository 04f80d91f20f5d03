//! Fakes for hermod's tests and benchmarks: a scripted OpenAI-compatible LLM
//! server and an in-process chat platform.
//!
//! [`llm::FakeLlm`] serves `POST /v1/chat/completions` on a local port and
//! answers from a queue of scripted [`llm::Reply`] values, recording every
//! request it receives.
//!
//! [`platform::TestPlatform`] (feature `platform`, on by default) is a chat
//! platform adapter for the gateway: scripted users write DMs, group and
//! thread messages, and every message the gateway sends, edits or deletes
//! is recorded per chat. [`agent::ScriptedAgent`] is an in-process agent
//! for tests that run on paused time, where real sockets cannot be used.

#[cfg(feature = "platform")]
pub mod agent;
pub mod llm;
#[cfg(feature = "platform")]
pub mod platform;

#[cfg(feature = "platform")]
pub use agent::{AgentStats, ScriptedAgent, Step};
pub use llm::{FakeLlm, RecordedRequest, Reply};
#[cfg(feature = "platform")]
pub use platform::{Call, CallKind, SentMessage, TestPlatform, TestUser};
