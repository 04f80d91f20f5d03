//! `/platform list | pause <name> | resume <name>`: each platform's state,
//! failures and next attempt; pause one (its receive loop is stopped and
//! stays stopped across restarts, a store setting) or resume one (clearing
//! an operator's or the circuit breaker's pause and starting it now).

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use crate::operator::platforms::{self, PauseOutcome, ResumeOutcome};
use async_trait::async_trait;
use hermod_model::PlatformId;

pub(crate) struct Platform;

static SPEC: Spec = Spec {
    name: "platform",
    aliases: &["platforms"],
    args: "[list | pause <name> | resume <name>]",
    description: "Show each platform's state, or pause or resume one",
    category: Category::Info,
    while_busy: true,
};

#[async_trait]
impl Command for Platform {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let args = cx.args.trim().to_owned();
        let mut words = args.split_whitespace();
        let verb = words.next().unwrap_or("list").to_lowercase();
        let name = words.next();
        let text = match (verb.as_str(), name, words.next()) {
            ("list", None, _) => list(cx).await,
            ("pause", Some(name), None) => match find(cx, name) {
                Ok(id) => pause(cx, id).await?,
                Err(unknown) => unknown,
            },
            ("resume", Some(name), None) => match find(cx, name) {
                Ok(id) => resume(cx, id).await?,
                Err(unknown) => unknown,
            },
            _ => format!("Usage: /platform {}", SPEC.args),
        };
        Ok(Outcome::Reply(text))
    }
}

/// The platform called `name`, or the answer naming the known ones.
fn find(cx: &Cx<'_>, name: &str) -> Result<PlatformId, String> {
    platforms::find(cx.deps, name).ok_or_else(|| {
        let known: Vec<&str> = cx.deps.platforms.ids().map(PlatformId::as_str).collect();
        format!(
            "Unknown platform \"{name}\". Known platforms: {}.",
            known.join(", ")
        )
    })
}

async fn list(cx: &Cx<'_>) -> String {
    let mut lines = vec!["Platforms:".to_owned()];
    for row in platforms::rows(cx.deps) {
        let mut line = format!("• {}: {}", row.name, row.detail);
        if row.failures > 0 {
            line.push_str(&format!("; {} failures in a row", row.failures));
        }
        lines.push(line);
    }
    if let Some(cluster) = &cx.deps.cluster {
        let now = cx.deps.clock.now_ms();
        match crate::cluster::cluster_view(cx.deps.store.as_ref(), now).await {
            Ok(views) => lines.extend(crate::cluster::describe(&views, cluster.id(), now)),
            Err(e) => lines.push(format!("The other gateways cannot be read now: {e}")),
        }
    }
    lines.push("/platform pause <name> stops one; /platform resume <name> starts it again.".into());
    lines.join("\n")
}

async fn pause(cx: &Cx<'_>, id: PlatformId) -> Result<String, CoreError> {
    let source = &cx.job().event.source;
    let who = source.user_name.as_deref().or(source.participant());
    let reason = match who {
        Some(who) => format!("paused by {who} from {}", source.platform),
        None => format!("paused from {}", source.platform),
    };
    if platforms::pause(cx.deps, &id, reason).await? == PauseOutcome::AlreadyPaused {
        return Ok(format!(
            "{id} is already paused. /platform resume {id} starts it again."
        ));
    }
    let mut text = format!(
        "⏸️ {id} is paused: it stops receiving now and stays paused, across restarts too, \
         until /platform resume {id}."
    );
    if id == source.platform {
        text.push_str(&format!(
            "\nThis chat is on {id}, so it will not hear you from now on: send \
             /platform resume {id} from another platform, or as a message through the HTTP API."
        ));
    }
    Ok(text)
}

async fn resume(cx: &Cx<'_>, id: PlatformId) -> Result<String, CoreError> {
    Ok(match platforms::resume(cx.deps, &id).await? {
        ResumeOutcome::Failed { reason } => format!(
            "{id} failed ({reason}) and stays stopped until its configuration is fixed \
             and the gateway restarts."
        ),
        ResumeOutcome::AlreadyRunning => format!("{id} is not paused: it is running."),
        ResumeOutcome::Resumed => format!("▶️ {id} resumed: connecting now."),
        ResumeOutcome::Started => format!("▶️ {id}: connecting now."),
    })
}
