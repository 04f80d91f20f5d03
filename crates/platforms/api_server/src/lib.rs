//! hermod's OpenAI-compatible HTTP API server adapter.
