//! [`WebhookAdapter`]: the routes on the shared listener while the gateway
//! runs, and the [`Messenger`] through which a turn's answer reaches the
//! route's targets.
//!
//! Every delivery is its own conversation, in a chat named
//! `webhook:<route>:<delivery id>` (Hermes' name), so concurrent deliveries
//! on one route never queue behind each other. Core sends the turn's
//! answer to that chat through the outbox as to any chat; this messenger
//! hands it on to each of the route's targets through core's deliveries,
//! each under its own outbox key, so each target gets it exactly once
//! however often the outer delivery is retried.

use crate::config::{Route, WebhookPlatformConfig, platform_id};
use crate::rate::RateLimit;
use crate::receive::{Health, RouteHandler};
use crate::signature::{RouteSecret, RouteSignature};
use async_trait::async_trait;
use hermod_adapter_kit::{Connection, ConnectionState, RouteSpec, WebhookListener};
use hermod_core::{Adapter, AdapterContext, AdapterError, Clock, Deliveries, Inbound, Messenger};
use hermod_model::{
    Capabilities, Edit, LengthUnit, MarkdownDialect, MessageRef, Outbound, PlatformId, Sent,
};
use hermod_store::{OutboxState, Store};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;
use tracing::{error, info, warn};

/// The path prefix of every route.
pub const ROUTE_PREFIX: &str = "/webhooks/";

/// The listener's health check (Hermes').
pub const HEALTH_PATH: &str = "/health";

/// The webhook platform. Cheap to clone; clones are the same adapter.
#[derive(Clone)]
pub struct WebhookAdapter {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) routes: BTreeMap<String, Arc<Route>>,
    pub(crate) max_body: usize,
    pub(crate) rate: RateLimit,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Clock,
    listener: WebhookListener,
    connection: Connection,
    /// Core's side, set by each `run`.
    core: RwLock<Option<(Inbound, Deliveries)>>,
    /// The last delivery id made up for a request that had none.
    last_id: Mutex<i64>,
}

impl std::fmt::Debug for WebhookAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookAdapter")
            .field("routes", &self.inner.routes.keys().collect::<Vec<_>>())
            .field("listener", &self.inner.listener)
            .finish_non_exhaustive()
    }
}

impl WebhookAdapter {
    /// The adapter for `config`'s routes on `listener`. Signature
    /// timestamps are read on `clock` (the system's in a gateway). A route
    /// without a secret is served, refusing every request (403); the
    /// registry starts only validated configurations.
    pub fn new(
        config: &WebhookPlatformConfig,
        store: Arc<dyn Store>,
        listener: WebhookListener,
        clock: Clock,
    ) -> Result<Self, AdapterError> {
        let routes = config
            .routes()
            .map_err(AdapterError::Startup)?
            .into_iter()
            .map(|route| (route.name.clone(), Arc::new(route)))
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                routes,
                max_body: config.max_body_bytes,
                rate: RateLimit::new(config.rate_limit),
                store,
                clock,
                listener,
                connection: Connection::new(platform_id(), Duration::from_secs(60)),
                core: RwLock::new(None),
                last_id: Mutex::new(0),
            }),
        })
    }

    /// The shared listener (its address, for tests and logs).
    pub fn listener(&self) -> &WebhookListener {
        &self.inner.listener
    }
}

impl Inner {
    pub(crate) fn inbound(&self) -> Option<Inbound> {
        self.core
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(inbound, _)| inbound.clone())
    }

    pub(crate) fn deliveries(&self) -> Option<Deliveries> {
        self.core
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(_, deliveries)| deliveries.clone())
    }

    /// An id for a request that brought none: the time in milliseconds,
    /// as Hermes makes it, kept increasing so two in one millisecond
    /// differ.
    pub(crate) fn fresh_id(&self) -> String {
        let mut last = self.last_id.lock().unwrap_or_else(PoisonError::into_inner);
        *last = self.clock.now_ms().max(*last + 1);
        last.to_string()
    }
}

#[async_trait]
impl Adapter for WebhookAdapter {
    fn id(&self) -> PlatformId {
        platform_id()
    }

    /// Deliveries come to whichever gateway a load balancer picks.
    fn receiving(&self) -> hermod_core::Receiving {
        hermod_core::Receiving::Everywhere
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            // The answer is handed on whole; each target's own platform
            // splits it as it must.
            max_message_len: 1_000_000,
            length_unit: LengthUnit::Chars,
            markdown: MarkdownDialect::Markdown,
            // The sender proved itself with the route's signature.
            authenticates_callers: true,
            multi_message: true,
            ..Capabilities::default()
        }
    }

    async fn run(&self, ctx: AdapterContext) -> Result<(), AdapterError> {
        let inner = &self.inner;
        *inner.core.write().unwrap_or_else(PoisonError::into_inner) =
            Some((ctx.inbound.clone(), ctx.inbound.deliveries()));
        let mut registrations = Vec::new();
        let health = inner
            .listener
            .register_route(RouteSpec::probe(HEALTH_PATH, Arc::new(Health)))
            .await;
        match health {
            Ok(registration) => registrations.push(registration),
            // Another platform's probe: the routes still work.
            Err(e) => warn!(error = %e, "not serving the webhook health check"),
        }
        for route in inner.routes.values() {
            match &route.secret {
                RouteSecret::Insecure => warn!(
                    route = %route.name,
                    "webhook route {} accepts requests from ANYONE: its secret is INSECURE_NO_AUTH; give it a secret outside local tests",
                    route.name
                ),
                RouteSecret::Missing => error!(
                    route = %route.name,
                    "webhook route {} has no secret and refuses every request; set its secret or WEBHOOK_SECRET",
                    route.name
                ),
                RouteSecret::Key(_) => {}
            }
            for what in &route.unsupported {
                warn!(route = %route.name, "a Hermes webhook setting hermod does not implement is ignored: {what}");
            }
            let verifier = RouteSignature::new(
                route.name.clone(),
                route.secret.clone(),
                inner.clock.clone(),
            );
            let handler = RouteHandler::new(Arc::clone(inner), Arc::clone(route));
            let spec = RouteSpec::webhook(
                format!("{ROUTE_PREFIX}{}", route.name),
                Arc::new(verifier),
                Arc::new(handler),
            )
            .max_body(inner.max_body);
            registrations.push(inner.listener.register_route(spec).await?);
        }
        inner.connection.connected(&ctx);
        info!(
            addr = ?inner.listener.local_addr(),
            routes = inner.routes.len(),
            "receiving webhooks"
        );
        ctx.shutdown.cancelled().await;
        for registration in registrations {
            registration.close().await;
        }
        inner.connection.set_state(ConnectionState::Connecting);
        Ok(())
    }

    fn messenger(&self) -> Option<&dyn Messenger> {
        Some(self)
    }
}

#[async_trait]
impl Messenger for WebhookAdapter {
    /// Hands a message of a delivery's conversation (its answer, or a
    /// notice about it) to the route's targets.
    async fn send(&self, message: Outbound) -> Result<Sent, AdapterError> {
        let inner = &self.inner;
        let chat = &message.target.chat_id;
        let (route_name, delivery) = chat
            .strip_prefix("webhook:")
            .and_then(|rest| rest.split_once(':'))
            .ok_or_else(|| AdapterError::NotFound(format!("{chat} is not a webhook delivery")))?;
        let Some(route) = inner.routes.get(route_name) else {
            return Err(AdapterError::Rejected(format!(
                "webhook route {route_name} is no longer configured; its answer has nowhere to go"
            )));
        };
        let Some(deliveries) = inner.deliveries() else {
            return Err(AdapterError::Transient(
                "the webhook platform is not running yet".into(),
            ));
        };
        if !message.attachments.is_empty() {
            warn!(route = %route.name, files = message.attachments.len(), "a webhook answer's files are not delivered; its text is");
        }
        // The same text of the same delivery is the same message: a retry
        // finds its entries and sends nothing twice.
        let digest = Sha256::digest(message.text.as_bytes());
        let digest: String = hermod_model::to_hex(&digest[..8]);
        let mut problem = None;
        for (i, target) in route.targets.iter().enumerate() {
            let key = format!("webhook:{route_name}:{delivery}:answer:{i}:{digest}");
            match deliveries.deliver(target, None, &message.text, &key).await {
                Ok(receipt) => {
                    info!(route = %route.name, target = %receipt.target, "delivered a webhook answer");
                }
                Err(e) => {
                    // Handed to the outbox, which tries again on its own: done here.
                    let pending = matches!(
                        inner.store.outbox_entry(&key).await,
                        Ok(Some(entry)) if entry.state == OutboxState::Pending
                    );
                    if pending {
                        warn!(route = %route.name, %target, error = %e, "a webhook answer waits in the outbox");
                    } else {
                        warn!(route = %route.name, %target, error = %e, "a webhook answer could not be delivered");
                        problem = Some(e);
                    }
                }
            }
        }
        match problem {
            Some(e) => Err(AdapterError::Rejected(e.to_string())),
            None => Ok(Sent {
                message_ids: vec![format!("{delivery}:{digest}")],
            }),
        }
    }

    async fn edit(&self, _edit: Edit) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported("webhook answers are not edited"))
    }

    async fn delete(&self, _message: MessageRef) -> Result<(), AdapterError> {
        Err(AdapterError::Unsupported("webhook answers are not deleted"))
    }
}
