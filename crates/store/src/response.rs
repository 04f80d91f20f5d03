//! A response of the HTTP API's Responses API, as the store keeps it.

use hermod_model::SessionId;

/// One stored response. The store keeps `data` as given; the API server
/// decides what it holds (the response object, and what chaining a later
/// request onto it needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The response id (`resp_...`).
    pub id: String,
    /// The named conversation the response belongs to, if any.
    pub conversation: Option<String>,
    /// The session the response's turn ran in, if it was recorded.
    pub session_id: Option<SessionId>,
    /// The API server's JSON.
    pub data: String,
    pub created_at_ms: i64,
}
