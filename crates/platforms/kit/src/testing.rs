//! Helpers for the kit's own tests.

use hermod_core::{AdapterContext, Gateway, GatewayConfig};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A context whose router accepts submissions (its gateway is never run;
/// keep it alive as long as the context) and lets anyone talk.
pub(crate) fn context() -> (AdapterContext, Gateway) {
    let store = Arc::new(hermod_store::SqliteStore::open_in_memory().expect("an in-memory store"));
    let gateway = Gateway::builder(
        store,
        Arc::new(hermod_testkit::ScriptedAgent::echo()),
        GatewayConfig {
            allow_all_users: true,
            ..GatewayConfig::default()
        },
    )
    .build()
    .expect("a gateway");
    let ctx = AdapterContext {
        inbound: gateway.inbound(),
        shutdown: CancellationToken::new(),
    };
    (ctx, gateway)
}
