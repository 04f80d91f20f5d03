//! Rate limits as Discord's HTTP API applies and announces them (Rate
//! Limits): a bucket per route and top-level resource (channel, guild,
//! webhook), a global budget per bot, `X-RateLimit-*` headers on every
//! answer, and 429 answers with `retry_after` in float seconds.
//!
//! Discord does not document its budgets ("rate limits should not be hard
//! coded into your app") so the defaults below are round numbers of the
//! size its headers show; tests change them with
//! [`super::FakeDiscord::set_budget`]. Windows run on the tokio clock.
//! Every request that finds its bucket empty is counted as a would-be 429,
//! whether the fake answers it with 429 ([`RateLimitMode::Enforce`]) or
//! lets it through ([`RateLimitMode::CountOnly`]), so a test can measure
//! whether a client paces itself.

use super::errors::ApiError;
use super::ids::hex_token;
use super::routes::Route;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// What the fake does with a request that exceeds its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateLimitMode {
    /// Answer 429, as Discord does.
    #[default]
    Enforce,
    /// Answer normally, only counting the would-be 429.
    CountOnly,
}

/// How many requests a bucket takes per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub limit: u32,
    pub window: Duration,
}

impl Budget {
    pub const fn new(limit: u32, window: Duration) -> Self {
        Self { limit, window }
    }
}

/// Which limit a 429 reports in `X-RateLimit-Scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Per bot, per route (`user`).
    User,
    /// The bot's global limit (`global`; the body's `global` is true).
    Global,
    /// Per resource, shared by everyone (`shared`); not counted against
    /// the bot's invalid requests.
    Shared,
}

impl Scope {
    fn header(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Global => "global",
            Scope::Shared => "shared",
        }
    }
}

/// The default budget of a route.
fn default_budget(route: Route) -> Budget {
    let secs = Duration::from_secs;
    match route {
        Route::CreateMessage | Route::EditMessage | Route::DeleteMessage => Budget::new(5, secs(5)),
        Route::TriggerTyping | Route::CreateDm => Budget::new(5, secs(5)),
        // Reactions are famously one per quarter second per channel.
        Route::CreateReaction | Route::DeleteOwnReaction => {
            Budget::new(1, Duration::from_millis(250))
        }
        Route::StartThreadFromMessage | Route::StartThreadWithoutMessage => {
            Budget::new(10, secs(10))
        }
        Route::BulkOverwriteGlobalCommands | Route::BulkOverwriteGuildCommands => {
            Budget::new(5, secs(20))
        }
        Route::GetGateway | Route::GetGatewayBot => Budget::new(5, secs(5)),
        Route::CreateInteractionResponse
        | Route::GetOriginalResponse
        | Route::EditOriginalResponse
        | Route::DeleteOriginalResponse
        | Route::CreateFollowupMessage
        | Route::EditFollowupMessage => Budget::new(5, secs(2)),
        Route::GetCurrentUser
        | Route::GetChannel
        | Route::GetMessage
        | Route::GetGlobalCommands => Budget::new(50, secs(1)),
    }
}

/// "All bots can make up to 50 requests per second to our API."
const GLOBAL: Budget = Budget::new(50, Duration::from_secs(1));

#[derive(Debug, Clone, Copy)]
struct Window {
    remaining: u32,
    reset_at: Instant,
}

impl Window {
    /// The window at `now`: a fresh one once the old one reset.
    fn current(slot: &mut Option<Window>, budget: Budget, now: Instant) -> &mut Window {
        let fresh = Window {
            remaining: budget.limit,
            reset_at: now + budget.window,
        };
        match slot {
            Some(w) if w.reset_at > now => {}
            _ => *slot = Some(fresh),
        }
        slot.as_mut().expect("just filled")
    }
}

/// A 429 to answer with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TooMany {
    pub(crate) retry_after: Duration,
    pub(crate) scope: Scope,
}

impl TooMany {
    /// The body and the headers only a 429 carries.
    pub(crate) fn answer(&self) -> (ApiError, Vec<(&'static str, String)>) {
        let retry_after = secs3(self.retry_after);
        let message = match self.scope {
            Scope::Shared => "The resource is being rate limited.",
            Scope::User | Scope::Global => "You are being rate limited.",
        };
        let global = self.scope == Scope::Global;
        let error = ApiError {
            status: 429,
            body: json!({"message": message, "retry_after": retry_after, "global": global}),
        };
        let mut headers = vec![
            ("retry-after", ceil_secs(self.retry_after).to_string()),
            ("x-ratelimit-scope", self.scope.header().to_owned()),
        ];
        if global {
            headers.push(("x-ratelimit-global", "true".to_owned()));
        }
        (error, headers)
    }
}

/// What the limiter says about one request.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// `X-RateLimit-*` headers for the answer.
    pub(crate) headers: Vec<(&'static str, String)>,
    /// Set when the request is to be answered with 429.
    pub(crate) too_many: Option<TooMany>,
}

#[derive(Debug)]
pub(crate) struct RateLimiter {
    pub(crate) mode: RateLimitMode,
    budgets: HashMap<Route, Budget>,
    /// `None`: no global limit.
    global: Option<Budget>,
    buckets: HashMap<(Route, String), Option<Window>>,
    global_window: Option<Window>,
    /// Requests that found their bucket (or the global budget) empty.
    pub(crate) would_be_429s: usize,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self {
            mode: RateLimitMode::default(),
            budgets: HashMap::new(),
            global: Some(GLOBAL),
            buckets: HashMap::new(),
            global_window: None,
            would_be_429s: 0,
        }
    }
}

impl RateLimiter {
    pub(crate) fn set_budget(&mut self, route: Route, budget: Budget) {
        self.budgets.insert(route, budget);
        self.buckets.retain(|(r, _), _| *r != route);
    }

    pub(crate) fn set_global(&mut self, budget: Option<Budget>) {
        self.global = budget;
        self.global_window = None;
    }

    pub(crate) fn budget(&self, route: Route) -> Budget {
        self.budgets
            .get(&route)
            .copied()
            .unwrap_or_else(|| default_budget(route))
    }

    /// Takes one request of `route` on `major` from its bucket (and from
    /// the global budget unless it is a webhook route), at `now` and wall
    /// clock `now_ms`.
    pub(crate) fn take(&mut self, route: Route, major: &str, now: Instant, now_ms: u64) -> Outcome {
        let enforce = self.mode == RateLimitMode::Enforce;
        if !route.is_webhook()
            && let Some(global) = self.global
        {
            let window = Window::current(&mut self.global_window, global, now);
            if window.remaining == 0 {
                self.would_be_429s += 1;
                if enforce {
                    // The global limit's 429 carries no per-route headers.
                    return Outcome {
                        headers: Vec::new(),
                        too_many: Some(TooMany {
                            retry_after: window.reset_at - now,
                            scope: Scope::Global,
                        }),
                    };
                }
            } else {
                window.remaining -= 1;
            }
        }
        let budget = self.budget(route);
        let slot = self.buckets.entry((route, major.to_owned())).or_default();
        let window = Window::current(slot, budget, now);
        let mut too_many = None;
        if window.remaining == 0 {
            self.would_be_429s += 1;
            if enforce {
                too_many = Some(TooMany {
                    retry_after: window.reset_at - now,
                    scope: Scope::User,
                });
            }
        } else {
            window.remaining -= 1;
        }
        let reset_after = window.reset_at - now;
        let headers = headers(route, budget, window.remaining, reset_after, now_ms);
        Outcome { headers, too_many }
    }

    /// The headers of `route` on `major` without taking from its bucket
    /// (for answers decided before the limiter, like scripted faults).
    pub(crate) fn peek(
        &mut self,
        route: Route,
        major: &str,
        now: Instant,
        now_ms: u64,
    ) -> Vec<(&'static str, String)> {
        let budget = self.budget(route);
        let slot = self.buckets.entry((route, major.to_owned())).or_default();
        let window = Window::current(slot, budget, now);
        headers(
            route,
            budget,
            window.remaining,
            window.reset_at - now,
            now_ms,
        )
    }
}

fn headers(
    route: Route,
    budget: Budget,
    remaining: u32,
    reset_after: Duration,
    now_ms: u64,
) -> Vec<(&'static str, String)> {
    let reset_ms = now_ms + u64::try_from(reset_after.as_millis()).unwrap_or(0);
    vec![
        ("x-ratelimit-limit", budget.limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        (
            "x-ratelimit-reset",
            format!("{}.{:03}", reset_ms / 1000, reset_ms % 1000),
        ),
        (
            "x-ratelimit-reset-after",
            format!("{:.3}", secs3(reset_after)),
        ),
        ("x-ratelimit-bucket", bucket_hash(route)),
    ]
}

/// An opaque bucket id per route, shaped like Discord's (32 hex digits).
pub(crate) fn bucket_hash(route: Route) -> String {
    let index = Route::ALL.iter().position(|r| *r == route).unwrap_or(0);
    hex_token(0xB0C4_E700 + index as u64, 32)
}

/// Seconds with millisecond precision.
pub(crate) fn secs3(duration: Duration) -> f64 {
    duration.as_millis() as f64 / 1000.0
}

/// Whole seconds, rounded up (the `Retry-After` header).
fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_bucket_empties_and_resets_on_the_tokio_clock() {
        let mut limiter = RateLimiter::default();
        limiter.set_budget(Route::CreateMessage, Budget::new(2, Duration::from_secs(2)));
        let now = Instant::now();
        let first = limiter.take(Route::CreateMessage, "channel:1", now, 0);
        assert!(first.too_many.is_none());
        assert!(
            first
                .headers
                .contains(&("x-ratelimit-remaining", "1".to_owned()))
        );
        assert!(
            first
                .headers
                .contains(&("x-ratelimit-reset-after", "2.000".to_owned()))
        );
        assert!(
            limiter
                .take(Route::CreateMessage, "channel:2", now, 0)
                .too_many
                .is_none()
        );
        assert!(
            limiter
                .take(Route::CreateMessage, "channel:1", now, 0)
                .too_many
                .is_none()
        );
        let later = now + Duration::from_millis(500);
        let third = limiter.take(Route::CreateMessage, "channel:1", later, 500);
        let too_many = third.too_many.expect("the bucket is empty");
        assert_eq!(too_many.retry_after, Duration::from_millis(1500));
        let (error, extra) = too_many.answer();
        assert_eq!(
            error.body,
            json!({"message": "You are being rate limited.", "retry_after": 1.5, "global": false})
        );
        assert!(extra.contains(&("retry-after", "2".to_owned())));
        assert!(extra.contains(&("x-ratelimit-scope", "user".to_owned())));
        assert_eq!(limiter.would_be_429s, 1);
        let reset = now + Duration::from_secs(2);
        assert!(
            limiter
                .take(Route::CreateMessage, "channel:1", reset, 2000)
                .too_many
                .is_none()
        );
    }

    #[test]
    fn bucket_hashes_differ_per_route() {
        assert_ne!(
            bucket_hash(Route::CreateMessage),
            bucket_hash(Route::EditMessage)
        );
        assert_eq!(bucket_hash(Route::CreateMessage).len(), 32);
    }
}
