//! The REST routes the fake serves under `/api/v10`, each named by a
//! [`Route`], and the parsing of a method and path into one.
//!
//! A route knows its rate-limit bucket: per-route limits "account for
//! top-level resources within the path" (channels, guilds, webhooks), so
//! the bucket key is the route plus its channel id, or webhook id and
//! token (Rate Limits).

use super::errors::ApiError;
use axum::http::Method;

/// One REST endpoint of the fake, for recorded calls, faults and budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    /// `GET /gateway` (no authentication).
    GetGateway,
    /// `GET /gateway/bot`.
    GetGatewayBot,
    /// `GET /users/@me`.
    GetCurrentUser,
    /// `POST /users/@me/channels` (open a DM).
    CreateDm,
    /// `GET /channels/{channel.id}`.
    GetChannel,
    /// `GET /channels/{channel.id}/messages/{message.id}`.
    GetMessage,
    /// `POST /channels/{channel.id}/messages`.
    CreateMessage,
    /// `PATCH /channels/{channel.id}/messages/{message.id}`.
    EditMessage,
    /// `DELETE /channels/{channel.id}/messages/{message.id}`.
    DeleteMessage,
    /// `POST /channels/{channel.id}/typing`.
    TriggerTyping,
    /// `PUT /channels/{channel.id}/messages/{message.id}/reactions/{emoji}/@me`.
    CreateReaction,
    /// `DELETE /channels/{channel.id}/messages/{message.id}/reactions/{emoji}/@me`.
    DeleteOwnReaction,
    /// `POST /channels/{channel.id}/messages/{message.id}/threads`.
    StartThreadFromMessage,
    /// `POST /channels/{channel.id}/threads`.
    StartThreadWithoutMessage,
    /// `GET /applications/{application.id}/commands`.
    GetGlobalCommands,
    /// `PUT /applications/{application.id}/commands`.
    BulkOverwriteGlobalCommands,
    /// `PUT /applications/{application.id}/guilds/{guild.id}/commands`.
    BulkOverwriteGuildCommands,
    /// `POST /interactions/{interaction.id}/{interaction.token}/callback`.
    CreateInteractionResponse,
    /// `GET /webhooks/{application.id}/{interaction.token}/messages/@original`.
    GetOriginalResponse,
    /// `PATCH /webhooks/{application.id}/{interaction.token}/messages/@original`.
    EditOriginalResponse,
    /// `DELETE /webhooks/{application.id}/{interaction.token}/messages/@original`.
    DeleteOriginalResponse,
    /// `POST /webhooks/{application.id}/{interaction.token}`.
    CreateFollowupMessage,
    /// `PATCH /webhooks/{application.id}/{interaction.token}/messages/{message.id}`.
    EditFollowupMessage,
}

impl Route {
    /// Every route, for tables and tests.
    pub const ALL: [Route; 23] = [
        Route::GetGateway,
        Route::GetGatewayBot,
        Route::GetCurrentUser,
        Route::CreateDm,
        Route::GetChannel,
        Route::GetMessage,
        Route::CreateMessage,
        Route::EditMessage,
        Route::DeleteMessage,
        Route::TriggerTyping,
        Route::CreateReaction,
        Route::DeleteOwnReaction,
        Route::StartThreadFromMessage,
        Route::StartThreadWithoutMessage,
        Route::GetGlobalCommands,
        Route::BulkOverwriteGlobalCommands,
        Route::BulkOverwriteGuildCommands,
        Route::CreateInteractionResponse,
        Route::GetOriginalResponse,
        Route::EditOriginalResponse,
        Route::DeleteOriginalResponse,
        Route::CreateFollowupMessage,
        Route::EditFollowupMessage,
    ];

    /// Interaction and webhook routes take no bot token and are "not
    /// bound to the application's Global Rate Limit".
    pub fn is_webhook(self) -> bool {
        matches!(
            self,
            Route::CreateInteractionResponse
                | Route::GetOriginalResponse
                | Route::EditOriginalResponse
                | Route::DeleteOriginalResponse
                | Route::CreateFollowupMessage
                | Route::EditFollowupMessage
        )
    }

    /// `GET /gateway` is the one bot route without authentication.
    pub(crate) fn needs_bot_token(self) -> bool {
        !self.is_webhook() && self != Route::GetGateway
    }
}

/// A matched request: its route and the ids in its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Matched {
    pub(crate) route: Route,
    pub(crate) channel_id: Option<u64>,
    pub(crate) message_id: Option<u64>,
    pub(crate) guild_id: Option<u64>,
    pub(crate) application_id: Option<u64>,
    pub(crate) interaction_id: Option<u64>,
    /// An interaction token (callback and webhook routes).
    pub(crate) token: Option<String>,
    /// The emoji, percent-decoded (reaction routes).
    pub(crate) emoji: Option<String>,
}

impl Matched {
    fn new(route: Route) -> Self {
        Self {
            route,
            channel_id: None,
            message_id: None,
            guild_id: None,
            application_id: None,
            interaction_id: None,
            token: None,
            emoji: None,
        }
    }

    /// The top-level resource the route's bucket is kept per.
    pub(crate) fn major(&self) -> String {
        if let Some(channel) = self.channel_id {
            return format!("channel:{channel}");
        }
        if let Some(guild) = self.guild_id {
            return format!("guild:{guild}");
        }
        match (&self.token, self.interaction_id, self.application_id) {
            (Some(token), Some(id), _) => format!("interaction:{id}:{token}"),
            (Some(token), None, Some(app)) => format!("webhook:{app}:{token}"),
            _ => String::new(),
        }
    }
}

/// Matches `method` and `path` (relative to `/api/v10`, starting with
/// `/`) against the routes: 404 for an unknown path, 405 for a known path
/// with another method, 400 for an id that is not a snowflake.
pub(crate) fn match_route(method: &Method, path: &str) -> Result<Matched, ApiError> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    let put = *method == Method::PUT;
    let patch = *method == Method::PATCH;
    let delete = *method == Method::DELETE;
    let pick = |options: &[(bool, Route)]| -> Result<Route, ApiError> {
        options
            .iter()
            .find(|(accepted, _)| *accepted)
            .map(|(_, route)| *route)
            .ok_or_else(ApiError::method_not_allowed)
    };
    let mut matched = match segments.as_slice() {
        ["gateway"] => Matched::new(pick(&[(get, Route::GetGateway)])?),
        ["gateway", "bot"] => Matched::new(pick(&[(get, Route::GetGatewayBot)])?),
        ["users", "@me"] => Matched::new(pick(&[(get, Route::GetCurrentUser)])?),
        ["users", "@me", "channels"] => Matched::new(pick(&[(post, Route::CreateDm)])?),
        ["channels", channel] => {
            let mut m = Matched::new(pick(&[(get, Route::GetChannel)])?);
            m.channel_id = Some(snowflake("channel_id", channel)?);
            m
        }
        ["channels", channel, "messages"] => {
            let mut m = Matched::new(pick(&[(post, Route::CreateMessage)])?);
            m.channel_id = Some(snowflake("channel_id", channel)?);
            m
        }
        ["channels", channel, "messages", message] => {
            let route = pick(&[
                (get, Route::GetMessage),
                (patch, Route::EditMessage),
                (delete, Route::DeleteMessage),
            ])?;
            let mut m = Matched::new(route);
            m.channel_id = Some(snowflake("channel_id", channel)?);
            m.message_id = Some(snowflake("message_id", message)?);
            m
        }
        ["channels", channel, "typing"] => {
            let mut m = Matched::new(pick(&[(post, Route::TriggerTyping)])?);
            m.channel_id = Some(snowflake("channel_id", channel)?);
            m
        }
        [
            "channels",
            channel,
            "messages",
            message,
            "reactions",
            emoji,
            "@me",
        ] => {
            let route = pick(&[
                (put, Route::CreateReaction),
                (delete, Route::DeleteOwnReaction),
            ])?;
            let mut m = Matched::new(route);
            m.channel_id = Some(snowflake("channel_id", channel)?);
            m.message_id = Some(snowflake("message_id", message)?);
            m.emoji = Some(percent_decode(emoji));
            m
        }
        ["channels", channel, "messages", message, "threads"] => {
            let mut m = Matched::new(pick(&[(post, Route::StartThreadFromMessage)])?);
            m.channel_id = Some(snowflake("channel_id", channel)?);
            m.message_id = Some(snowflake("message_id", message)?);
            m
        }
        ["channels", channel, "threads"] => {
            let mut m = Matched::new(pick(&[(post, Route::StartThreadWithoutMessage)])?);
            m.channel_id = Some(snowflake("channel_id", channel)?);
            m
        }
        ["applications", app, "commands"] => {
            let route = pick(&[
                (get, Route::GetGlobalCommands),
                (put, Route::BulkOverwriteGlobalCommands),
            ])?;
            let mut m = Matched::new(route);
            m.application_id = Some(snowflake("application_id", app)?);
            m
        }
        ["applications", app, "guilds", guild, "commands"] => {
            let mut m = Matched::new(pick(&[(put, Route::BulkOverwriteGuildCommands)])?);
            m.application_id = Some(snowflake("application_id", app)?);
            m.guild_id = Some(snowflake("guild_id", guild)?);
            m
        }
        ["interactions", id, token, "callback"] => {
            let mut m = Matched::new(pick(&[(post, Route::CreateInteractionResponse)])?);
            m.interaction_id = Some(snowflake("interaction_id", id)?);
            m.token = Some((*token).to_owned());
            m
        }
        ["webhooks", app, token] => {
            let mut m = Matched::new(pick(&[(post, Route::CreateFollowupMessage)])?);
            m.application_id = Some(snowflake("webhook_id", app)?);
            m.token = Some((*token).to_owned());
            m
        }
        ["webhooks", app, token, "messages", "@original"] => {
            let route = pick(&[
                (get, Route::GetOriginalResponse),
                (patch, Route::EditOriginalResponse),
                (delete, Route::DeleteOriginalResponse),
            ])?;
            let mut m = Matched::new(route);
            m.application_id = Some(snowflake("webhook_id", app)?);
            m.token = Some((*token).to_owned());
            m
        }
        ["webhooks", app, token, "messages", message] => {
            let mut m = Matched::new(pick(&[(patch, Route::EditFollowupMessage)])?);
            m.application_id = Some(snowflake("webhook_id", app)?);
            m.token = Some((*token).to_owned());
            m.message_id = Some(snowflake("message_id", message)?);
            m
        }
        _ => return Err(ApiError::not_found()),
    };
    if matched.route.is_webhook() && matched.interaction_id.is_none() {
        // Webhook routes are kept per webhook (the application id) and token.
        matched.channel_id = None;
    }
    Ok(matched)
}

/// A path id: Discord answers a non-numeric one with a form error.
fn snowflake(field: &str, text: &str) -> Result<u64, ApiError> {
    text.parse().map_err(|_| {
        ApiError::form(
            field,
            "NUMBER_TYPE_COERCE",
            &format!("Value \"{text}\" is not snowflake."),
        )
    })
}

/// Decodes `%XX` escapes (UTF-8), leaving anything else as it is.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_routes() {
        let m = match_route(&Method::POST, "/channels/42/messages").expect("a route");
        assert_eq!(m.route, Route::CreateMessage);
        assert_eq!(m.major(), "channel:42");
        let m = match_route(
            &Method::PUT,
            "/channels/4/messages/5/reactions/%F0%9F%91%8D/@me",
        )
        .expect("a route");
        assert_eq!(m.route, Route::CreateReaction);
        assert_eq!(m.emoji.as_deref(), Some("👍"));
        let m = match_route(&Method::PATCH, "/webhooks/9/tok/messages/@original").expect("a route");
        assert_eq!(m.route, Route::EditOriginalResponse);
        assert_eq!(m.major(), "webhook:9:tok");
        assert_eq!(
            match_route(&Method::PUT, "/channels/42/messages")
                .expect_err("wrong method")
                .status,
            405
        );
        assert_eq!(
            match_route(&Method::GET, "/nope")
                .expect_err("unknown")
                .status,
            404
        );
        let bad = match_route(&Method::GET, "/channels/abc").expect_err("not a snowflake");
        assert_eq!(bad.body["code"], 50035);
        assert_eq!(
            bad.body["errors"]["channel_id"]["_errors"][0]["message"],
            "Value \"abc\" is not snowflake."
        );
    }
}
