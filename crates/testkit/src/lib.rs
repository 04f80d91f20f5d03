//! Fakes for hermod's tests and benchmarks: a scripted OpenAI-compatible LLM
//! server, a fake Telegram Bot API server, an in-process chat platform, and
//! the conformance suite every platform adapter runs.
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
//!
//! [`telegram::FakeTelegram`] is a stateful fake of the Telegram Bot API:
//! scripted users, an update queue with long polling, files, webhooks,
//! Telegram's error answers and scripted faults.
//!
//! [`discord::FakeDiscord`] is a stateful fake of Discord's REST API and
//! gateway websocket on one port: scripted users, guilds and slash
//! commands, sessions with resume, intents, rate-limit buckets and
//! headers, Discord's error answers and scripted faults.
//!
//! [`slack::FakeSlack`] is a stateful fake of Slack: the Web API, Socket
//! Mode and Events API deliveries signed with the v0 scheme, with scripted
//! users, recorded calls and acks, rate-limit budgets and scripted faults.
//!
//! [`speech::FakeSpeech`] serves `POST /v1/audio/transcriptions`: it checks
//! the multipart body as OpenAI does, answers scripted transcripts (per
//! request or per audio) and scripted faults, and records every request;
//! and `POST /v1/audio/speech`, whose JSON it checks the same way, answering
//! a tiny file of the asked format or a scripted fault.
//!
//! [`peer`] holds what those three fakes are built from: a local listener
//! whose connections can be cut, state with change notification, a call
//! recorder, scripted fault queues, a body reader and a websocket server
//! scaffold, so a new fake is mostly the platform's own payloads.
//!
//! [`postgres`] (feature `postgres`) starts a throwaway PostgreSQL server
//! from the machine's own programs, for the store tests on PostgreSQL.
//!
//! [`harness`] (feature `platform`) is what every platform's end-to-end
//! tests run a gateway in: a temporary home and store, a gateway started
//! around the adapter, bounded waits and waits for its state.
//!
//! [`acp`] is a scripted fake ACP agent (the `fake-acp-agent` binary) for
//! the ACP client's fault tests.
//!
//! [`conformance`] (feature `platform`) checks what every
//! [`hermod_core::Adapter`] must do, through [`adapter_conformance_tests!`].

pub mod acp;
#[cfg(feature = "platform")]
pub mod agent;
pub mod certificates;
#[cfg(feature = "platform")]
pub mod conformance;
pub mod discord;
#[cfg(feature = "platform")]
mod flaky_store;
#[cfg(feature = "platform")]
pub mod harness;
pub mod llm;
#[cfg(feature = "logs")]
pub mod logs;
pub mod mattermost;
pub mod ntfy;
pub mod peer;
#[cfg(feature = "platform")]
pub mod platform;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod real_peer;
pub mod signal;
pub mod slack;
pub mod speech;
pub mod telegram;

#[cfg(feature = "platform")]
pub use agent::{AgentStats, ScriptedAgent, Step};
pub use discord::FakeDiscord;
#[cfg(feature = "platform")]
pub use flaky_store::FlakyStore;
pub use llm::{FakeLlm, RecordedRequest, Reply};
#[cfg(feature = "platform")]
pub use platform::{Call, CallKind, SentMessage, TestPlatform, TestUser};
pub use slack::FakeSlack;
pub use speech::{FakeSpeech, SpeechReply, SynthesisReply, SynthesisRequest, TranscriptionRequest};
pub use telegram::FakeTelegram;
