//! Scripted failures ([`Fault`]), rate-limit budgets ([`Budget`]) and the
//! Web API's answers: `{"ok":true,...}`, `{"ok":false,"error":...}` with
//! HTTP 200, and HTTP 429 with `Retry-After` and `"error":"ratelimited"`.
//!
//! Slack's Web API limits are per method, by tier: Tier 1 1+ calls a
//! minute, Tier 2 20+, Tier 3 50+, Tier 4 100+, and "special" methods like
//! `chat.postMessage`, which allows about one message a second per channel.
//! Each method here has budgets (calls per sliding window, app-wide or per
//! channel). A call over budget is an overrun: counted always, and
//! answered 429 only when the test enforces budgets — so an adapter's
//! pacing can be measured without making its functional tests flaky.

use crate::peer::{FaultQueue, whole_seconds};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// A scripted answer for a coming Web API call (see
/// [`super::FakeSlack::fail_next`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 429 with `Retry-After: <retry_after>` and
    /// `{"ok":false,"error":"ratelimited"}`.
    RateLimited { retry_after: u64 },
    /// HTTP 200 with `{"ok":false,"error":<code>}`: `invalid_auth`,
    /// `token_revoked`, `channel_not_found`, `internal_error`, ...
    Error(String),
    /// That HTTP status (5xx) with a plain-text body, as a proxy or load
    /// balancer in front of Slack answers.
    ServerError(u16),
    /// Answers normally, after this long (tokio time).
    Slow(Duration),
    /// Closes the connection without answering.
    DropConnection,
    /// Handles the call, then never answers: it takes effect (a message
    /// is posted, a file shared) and the caller waits until it gives up
    /// or the fake stops — as when the process making the call dies, or
    /// its connection does, before Slack's answer arrives.
    Unanswered,
}

/// Whether a handled call is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Now,
    Never,
}

/// At most `calls` calls in any `window`, for the whole app or for each
/// channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub calls: u32,
    pub window: Duration,
    pub per_channel: bool,
}

impl Budget {
    /// The floor of a Web API tier (1, 20, 50 or 100 calls a minute for
    /// tiers 1 to 4), app-wide.
    ///
    /// # Panics
    /// For a tier other than 1 to 4.
    pub fn tier(tier: u8) -> Self {
        let calls = match tier {
            1 => 1,
            2 => 20,
            3 => 50,
            4 => 100,
            _ => panic!("Slack's Web API tiers are 1 to 4, not {tier}"),
        };
        Self {
            calls,
            window: Duration::from_secs(60),
            per_channel: false,
        }
    }

    /// `calls` per `window` in each channel.
    pub fn per_channel(calls: u32, window: Duration) -> Self {
        Self {
            calls,
            window,
            per_channel: true,
        }
    }
}

/// The budgets a fresh fake starts with: each method's documented tier,
/// and `chat.postMessage`'s one message a second per channel. Slack
/// documents `chat.update` as Tier 3 only; the one edit a second per
/// channel added here is the pace a streaming adapter should keep, so
/// faster editing shows as overruns.
fn default_budgets() -> HashMap<String, Vec<Budget>> {
    let second = Duration::from_secs(1);
    [
        ("apps.connections.open", vec![Budget::tier(3)]),
        ("chat.postMessage", vec![Budget::per_channel(1, second)]),
        (
            "chat.update",
            vec![Budget::tier(3), Budget::per_channel(1, second)],
        ),
        ("chat.delete", vec![Budget::tier(3)]),
        ("reactions.add", vec![Budget::tier(3)]),
        ("reactions.remove", vec![Budget::tier(2)]),
        ("conversations.info", vec![Budget::tier(3)]),
        ("conversations.open", vec![Budget::tier(3)]),
        ("users.info", vec![Budget::tier(4)]),
        ("files.getUploadURLExternal", vec![Budget::tier(4)]),
        ("files.completeUploadExternal", vec![Budget::tier(4)]),
    ]
    .into_iter()
    .map(|(method, budgets)| (method.to_owned(), budgets))
    .collect()
}

#[derive(Debug)]
pub(crate) struct LimitState {
    /// Queued faults by method (`*`: any).
    pub(crate) faults: FaultQueue<String, Fault>,
    pub(crate) budgets: HashMap<String, Vec<Budget>>,
    /// When the calls within each budget's window were accepted, by
    /// (method, budget index, channel or empty).
    windows: HashMap<(String, usize, String), VecDeque<Instant>>,
    /// Answer overruns with 429 instead of only counting them.
    pub(crate) enforce: bool,
    /// Overruns by method.
    pub(crate) overruns: BTreeMap<String, usize>,
    /// 429 answers served (scripted and enforced).
    pub(crate) rate_limited_answers: usize,
}

impl Default for LimitState {
    fn default() -> Self {
        Self {
            faults: FaultQueue::default(),
            budgets: default_budgets(),
            windows: HashMap::new(),
            enforce: false,
            overruns: BTreeMap::new(),
            rate_limited_answers: 0,
        }
    }
}

/// What to do with a call before handling it.
pub(crate) type Verdict = crate::peer::Verdict<ApiError>;

impl LimitState {
    /// Applies queued faults, then budgets, to a call of `method` about
    /// `channel`, and says whether the call, once handled, is answered
    /// ([`Fault::Unanswered`]).
    pub(crate) fn decide(&mut self, method: &str, channel: Option<&str>) -> (Verdict, Answer) {
        if let Some(Fault::Unanswered) = self.faults.peek(&[method, "*"]) {
            self.faults.take(&[method, "*"]);
            self.spend(method, channel);
            return (Verdict::Proceed, Answer::Never);
        }
        (self.faults_then_budgets(method, channel), Answer::Now)
    }

    fn faults_then_budgets(&mut self, method: &str, channel: Option<&str>) -> Verdict {
        match self.faults.take(&[method, "*"]) {
            Some(Fault::RateLimited { retry_after }) => {
                self.rate_limited_answers += 1;
                return Verdict::Fail(ApiError::RateLimited(retry_after));
            }
            Some(Fault::Error(code)) => return Verdict::Fail(ApiError::slack(&code)),
            Some(Fault::ServerError(status)) => return Verdict::Fail(ApiError::Server(status)),
            Some(Fault::DropConnection) => return Verdict::Drop,
            // Peeked and taken by `decide` before.
            Some(Fault::Unanswered) => return Verdict::Proceed,
            Some(Fault::Slow(delay)) => {
                // A slow answer still spends the budget.
                self.spend(method, channel);
                return Verdict::Delay(delay);
            }
            None => {}
        }
        match self.spend(method, channel) {
            Some(retry_after) if self.enforce => {
                self.rate_limited_answers += 1;
                Verdict::Fail(ApiError::RateLimited(retry_after))
            }
            _ => Verdict::Proceed,
        }
    }

    /// Counts the call against `method`'s budgets. Over any of them it is
    /// an overrun: counted, left out of the windows (as a refused call
    /// would be), and the whole seconds until the window has room again
    /// are returned.
    fn spend(&mut self, method: &str, channel: Option<&str>) -> Option<u64> {
        let budgets = self.budgets.get(method).cloned().unwrap_or_default();
        let now = Instant::now();
        let mut wait: Option<Duration> = None;
        let mut keys = Vec::new();
        for (index, budget) in budgets.iter().enumerate() {
            let scope = match (budget.per_channel, channel) {
                (true, Some(channel)) => channel.to_owned(),
                (true, None) => continue,
                (false, _) => String::new(),
            };
            let key = (method.to_owned(), index, scope);
            let window = self.windows.entry(key.clone()).or_default();
            while window
                .front()
                .is_some_and(|at| now.duration_since(*at) >= budget.window)
            {
                window.pop_front();
            }
            if window.len() >= budget.calls as usize {
                let oldest = window.front().copied().unwrap_or(now);
                let left = budget.window.saturating_sub(now.duration_since(oldest));
                wait = Some(wait.map_or(left, |w| w.max(left)));
            }
            keys.push(key);
        }
        if let Some(wait) = wait {
            *self.overruns.entry(method.to_owned()).or_default() += 1;
            return Some(whole_seconds(wait));
        }
        for key in keys {
            self.windows.entry(key).or_default().push_back(now);
        }
        None
    }
}

/// A Web API error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiError {
    /// HTTP 200 `{"ok":false,"error":<error>}`, with
    /// `response_metadata.messages` when there are any.
    Slack {
        error: String,
        messages: Vec<String>,
    },
    /// HTTP 429 with `Retry-After`.
    RateLimited(u64),
    /// A 5xx status with a plain-text body.
    Server(u16),
}

impl ApiError {
    pub(crate) fn slack(error: &str) -> Self {
        Self::Slack {
            error: error.to_owned(),
            messages: Vec::new(),
        }
    }

    /// `invalid_arguments`, naming the missing argument the way Slack's
    /// `response_metadata.messages` do.
    pub(crate) fn missing(argument: &str) -> Self {
        Self::Slack {
            error: "invalid_arguments".to_owned(),
            messages: vec![format!("[ERROR] missing required field: {argument}")],
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Slack { error, messages } => {
                let mut body = json!({"ok": false, "error": error});
                if !messages.is_empty() {
                    body["response_metadata"] = json!({ "messages": messages });
                }
                json_response(StatusCode::OK, &body)
            }
            Self::RateLimited(retry_after) => {
                let mut response = json_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    &json!({"ok": false, "error": "ratelimited"}),
                );
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from(retry_after));
                response
            }
            Self::Server(status) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                let reason = status.canonical_reason().unwrap_or("Server Error");
                (
                    status,
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    format!("{} {reason}", status.as_u16()),
                )
                    .into_response()
            }
        }
    }
}

/// `{"ok":true, ...fields}`; warnings go in `warning` (comma-separated)
/// and `response_metadata.warnings`, as Slack gives them.
pub(crate) fn ok(fields: Map<String, Value>, warnings: &[&str]) -> Response {
    let mut body = Map::new();
    body.insert("ok".into(), Value::Bool(true));
    body.extend(fields);
    if !warnings.is_empty() {
        body.insert("warning".into(), json!(warnings.join(",")));
        body.insert("response_metadata".into(), json!({ "warnings": warnings }));
    }
    json_response(StatusCode::OK, &Value::Object(body))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_per_channel_budget_counts_each_channel_apart() {
        let mut limits = LimitState::default();
        let post = "chat.postMessage";
        assert!(limits.spend(post, Some("C1")).is_none());
        assert!(limits.spend(post, Some("C2")).is_none());
        assert_eq!(limits.spend(post, Some("C1")), Some(1));
        assert_eq!(limits.overruns[post], 1);
        tokio::time::advance(Duration::from_millis(1000)).await;
        assert!(
            limits.spend(post, Some("C1")).is_none(),
            "the window moved on"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_enforced_overrun_is_a_429_with_the_seconds_left() {
        let mut limits = LimitState {
            enforce: true,
            ..LimitState::default()
        };
        limits
            .budgets
            .insert("users.info".into(), vec![Budget::tier(1)]);
        assert!(matches!(
            limits.decide("users.info", None).0,
            Verdict::Proceed
        ));
        tokio::time::advance(Duration::from_millis(20_500)).await;
        match limits.decide("users.info", None).0 {
            Verdict::Fail(ApiError::RateLimited(secs)) => assert_eq!(secs, 40),
            other => panic!("expected a 429, got {other:?}"),
        }
        assert_eq!(limits.rate_limited_answers, 1);
    }
}
