//! Fakes for hermod's tests and benchmarks: a scripted OpenAI-compatible LLM server and helpers.
//!
//! [`llm::FakeLlm`] serves `POST /v1/chat/completions` on a local port and
//! answers from a queue of scripted [`llm::Reply`] values, recording every
//! request it receives.

pub mod llm;

pub use llm::{FakeLlm, RecordedRequest, Reply};
