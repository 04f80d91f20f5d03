//! End-to-end tests of the LLM client and the tool loop against the fake
//! OpenAI-compatible server.

mod approvals;
mod failures;
mod quirks;
mod speaking;
mod steering;
mod summaries;
mod support;
mod tool_loop;
mod transcription;
mod truncation;
mod turns;
