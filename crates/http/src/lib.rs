//! The shared outbound HTTP client: TLS, timeouts, retry honouring Retry-After, error classification.
