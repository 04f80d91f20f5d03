//! [`SlackConfig`]: the workspace, app and bot the fake plays, its
//! credentials, and the timings of Socket Mode and the Events API.

use std::time::Duration;

/// Who the fake is and how it times deliveries. `SlackConfig::default()`
/// is a workspace "Hermod Test" with the bot `@hermod`; change fields with
/// struct update syntax.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    pub team_id: String,
    pub team_name: String,
    /// The workspace's subdomain (`<domain>.slack.com`).
    pub team_domain: String,
    pub app_id: String,
    /// The bot user's id, as `auth.test` gives it (`user_id`).
    pub bot_user_id: String,
    /// The bot's id (`B…`), on the messages it posts.
    pub bot_id: String,
    /// The bot user's name (`auth.test`'s `user`).
    pub bot_name: String,
    /// The bot token (`xoxb-…`) the Web API methods take.
    pub bot_token: String,
    /// The app-level token (`xapp-…`) `apps.connections.open` takes.
    pub app_token: String,
    /// The secret the Events API requests are signed with.
    pub signing_secret: String,
    /// The deprecated verification token, still sent as `token` in
    /// payloads.
    pub verification_token: String,
    /// How long Socket Mode waits for an envelope's acknowledgement before
    /// it counts as missed. Slack documents 3 seconds.
    pub ack_timeout: Duration,
    /// How often an unacknowledged `events_api` envelope is sent again.
    pub max_redeliveries: u32,
    /// How long an Events API request may take before it counts as an
    /// `http_timeout`. Slack documents 3 seconds.
    pub request_timeout: Duration,
    /// The waits before each retry of a failed Events API delivery; one
    /// retry per entry. Slack retries three times: nearly at once, after a
    /// minute and after five minutes.
    pub retry_delays: Vec<Duration>,
    /// How long a socket stays open after a `warning` or
    /// `refresh_requested` disconnect message. Slack warns "about 10
    /// seconds" before it disconnects.
    pub disconnect_grace: Duration,
    /// Whether what the bot posts, edits and deletes comes back to it as
    /// `message` events, as it does at Slack for an app subscribed to
    /// `message.*`: an adapter must recognise its own messages.
    pub echo_bot_messages: bool,
}

impl Default for SlackConfig {
    fn default() -> Self {
        Self {
            team_id: "T0HERMOD01".to_owned(),
            team_name: "Hermod Test".to_owned(),
            team_domain: "hermod-test".to_owned(),
            app_id: "A0HERMOD01".to_owned(),
            bot_user_id: "U0HERMOD01".to_owned(),
            bot_id: "B0HERMOD01".to_owned(),
            bot_name: "hermod".to_owned(),
            bot_token: "xoxb-1000000001-2000000002-hermodTestBotToken".to_owned(),
            app_token: "xapp-1-A0HERMOD01-3000000003-hermodtestapptoken".to_owned(),
            signing_secret: "8f742231b10e8888abcd99hermod85a5".to_owned(),
            verification_token: "hermodVerificationTokenXYZ".to_owned(),
            ack_timeout: Duration::from_secs(3),
            max_redeliveries: 3,
            request_timeout: Duration::from_secs(3),
            retry_delays: vec![
                Duration::from_millis(100),
                Duration::from_secs(60),
                Duration::from_secs(300),
            ],
            disconnect_grace: Duration::from_secs(10),
            echo_bot_messages: true,
        }
    }
}
