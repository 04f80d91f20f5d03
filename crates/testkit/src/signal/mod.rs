//! A fake signal-cli HTTP daemon (JSON-RPC 2.0 and the SSE event
//! stream), built from signal-cli's documentation.
