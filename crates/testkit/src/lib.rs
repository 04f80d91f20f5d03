//! Fakes for hermod's tests and benchmarks: a scripted OpenAI-compatible LLM server and helpers.
