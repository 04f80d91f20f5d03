//! [`HomeAssistantAdapter`]: Home Assistant as an [`Adapter`] — state
//! changes from the WebSocket API in (`receive`), replies out as
//! persistent notifications over REST (`outbound`).
//!
//! Notifications are not edited (Hermes sent each reply once, finished),
//! so core sends whole replies; they can be dismissed, which is `delete`.
//! Replies longer than 4096 characters (Hermes's cut) are split there.

use crate::ConnectionState;
use crate::api::{HassApi, HassError};
use crate::config::HomeAssistantConfig;
use crate::outbound::{self, Delivery, MAX_MESSAGE_CHARS, NOTIFICATION_PREFIX};
use async_trait::async_trait;
use hermod_adapter_kit::{Call, Connection, Limit, Pacer, PacerLimits, Wait};
use hermod_core::{Adapter, AdapterContext, AdapterError, Messenger};
use hermod_http::HttpClient;
use hermod_model::text::split_message;
use hermod_model::{
    Capabilities, Edit, LengthUnit, MarkdownDialect, MessageRef, Outbound, PlatformId, Secret, Sent,
};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tracing::warn;

/// Home Assistant has no request limit; this only keeps a runaway loop
/// from flooding the notification list, and carries the wait a proxy's
/// 429 asked for.
fn limits() -> PacerLimits {
    let limit = Limit::per(20, Duration::from_secs(1));
    PacerLimits {
        per_chat: limit,
        per_group: None,
        global: limit,
        send_reserve: 0,
        max_wait: Duration::from_secs(10),
    }
}

/// The Home Assistant adapter. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct HomeAssistantAdapter {
    inner: Arc<Inner>,
}

struct Inner {
    config: HomeAssistantConfig,
    api: HassApi,
    pacer: Pacer,
    connection: Connection,
}

impl std::fmt::Debug for HomeAssistantAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is in the config and the API client: show neither.
        f.debug_struct("HomeAssistantAdapter")
            .field("url", &self.inner.config.url)
            .field("connection", &self.connection_state())
            .finish_non_exhaustive()
    }
}

impl HomeAssistantAdapter {
    /// Validates `config` and builds the adapter. Nothing is contacted
    /// until `run` or a send.
    pub fn new(config: HomeAssistantConfig) -> Result<Self, AdapterError> {
        Self::with_http(config, &hermod_adapter_kit::http_client()?)
    }

    /// [`HomeAssistantAdapter::new`] on the gateway's shared HTTP client.
    pub fn with_http(config: HomeAssistantConfig, http: &HttpClient) -> Result<Self, AdapterError> {
        config.validate().map_err(AdapterError::Startup)?;
        let token = config.token.clone().unwrap_or_else(|| Secret::new(""));
        let api = HassApi::new(
            http.reqwest().clone(),
            config.base_url(),
            token.clone(),
            config.request_timeout(),
        );
        let connection =
            Connection::new(crate::PLATFORM, config.max_reconnect_delay()).redacting(token);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                api,
                pacer: Pacer::new(limits()),
                connection,
            }),
        })
    }

    /// The state of the connection to Home Assistant, for status displays.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.connection.state()
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.inner.connection
    }

    pub(crate) fn config(&self) -> &HomeAssistantConfig {
        &self.inner.config
    }

    /// Calls `domain.service`, paced per chat; a 429 blocks the chat for
    /// its wait, a refused token marks the adapter failed.
    async fn call(
        &self,
        chat: &str,
        domain: &str,
        service: &str,
        data: &Value,
    ) -> Result<(), AdapterError> {
        self.inner
            .pacer
            .acquire(chat, Call::Send { group: false })
            .await
            .map_err(rate_limited)?;
        match self.inner.api.call_service(domain, service, data).await {
            Ok(()) => Ok(()),
            Err(e) => {
                if let HassError::RateLimited(wait) = &e {
                    self.inner.pacer.block(chat, *wait);
                }
                if matches!(e, HassError::Refused(_)) {
                    self.connection().set_state(ConnectionState::Failed);
                }
                Err(e.into())
            }
        }
    }
}

fn rate_limited(Wait(wait): Wait) -> AdapterError {
    AdapterError::RateLimited {
        retry_after: Some(wait),
    }
}

#[async_trait]
impl Adapter for HomeAssistantAdapter {
    fn id(&self) -> PlatformId {
        crate::PLATFORM
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_message_len: MAX_MESSAGE_CHARS,
            length_unit: LengthUnit::Chars,
            can_edit: false,
            can_delete: true,
            markdown: MarkdownDialect::Markdown,
            command_prefix: '/',
            multi_message: true,
            ..Capabilities::default()
        }
    }

    async fn run(&self, ctx: AdapterContext) -> Result<(), AdapterError> {
        self.receive(&ctx).await
    }

    fn messenger(&self) -> Option<&dyn Messenger> {
        Some(self)
    }
}

#[async_trait]
impl Messenger for HomeAssistantAdapter {
    /// A persistent notification per 4096 characters (Markdown), or a
    /// call of the notify service the chat id names (plain text).
    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError> {
        let chat = message.target.chat_id.as_str();
        self.inner.pacer.check(chat).map_err(rate_limited)?;
        let delivery = Delivery::for_chat(chat);
        let text = match delivery {
            Delivery::Notification => {
                hermod_render::render(&message.text, MarkdownDialect::Markdown).text
            }
            Delivery::Notify(_) => hermod_render::to_plain(&message.text),
        };
        let pieces: Vec<String> = split_message(&text, MAX_MESSAGE_CHARS, LengthUnit::Chars)
            .into_iter()
            .filter(|piece| !piece.trim().is_empty())
            .collect();
        let title = &self.config().notification_title;
        let mut message_ids = Vec::new();
        for (index, piece) in pieces.iter().enumerate() {
            let id = outbound::notification_id(chat, message.reply_to.as_deref(), piece, index);
            let called = match &delivery {
                Delivery::Notification => {
                    let data = outbound::notification(title, piece, &id);
                    self.call(chat, "persistent_notification", "create", &data)
                        .await
                }
                Delivery::Notify(service) => {
                    let data = outbound::notify(title, piece);
                    self.call(chat, "notify", service, &data).await
                }
            };
            called.inspect_err(|e| {
                if !message_ids.is_empty() && matches!(delivery, Delivery::Notify(_)) {
                    // Notifications sent again replace themselves; a
                    // notify service's messages show twice.
                    warn!(
                        sent = message_ids.len(),
                        total = pieces.len(),
                        error = %e,
                        "a reply was sent in part"
                    );
                }
            })?;
            message_ids.push(id);
        }
        Ok(Sent { message_ids })
    }

    async fn edit(&self, _edit: Edit) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported(
            "Home Assistant notifications are sent whole, not edited",
        ))
    }

    /// Dismisses a persistent notification.
    async fn delete(&self, message: MessageRef) -> Result<(), AdapterError> {
        let notify = Delivery::for_chat(&message.target.chat_id) != Delivery::Notification;
        if notify || !message.message_id.starts_with(NOTIFICATION_PREFIX) {
            return Err(AdapterError::Unsupported(
                "only persistent notifications can be dismissed",
            ));
        }
        let data = outbound::dismiss(&message.message_id);
        self.call(
            &message.target.chat_id,
            "persistent_notification",
            "dismiss",
            &data,
        )
        .await
    }
}
