//! `hermod handoff --session <id> --to <platform>`, and `/handoff` in
//! `hermod chat`: asks the gateway, through the store, to continue a
//! session in a platform's home channel, then waits for how it ended.

use crate::commands::gateway::running_on;
use crate::home::{self, Create};
use crate::{config, database};
use anyhow::Context;
use hermod_core::{HandoffWait, Handoffs, await_handoff, now_ms};
use hermod_model::{PlatformId, SessionId};
use hermod_store::{HandoffState, Location, NewHandoff, Store, StoreError};
use std::path::Path;
use std::time::Duration;

/// How long the terminal waits for the gateway to finish a handoff.
pub(crate) const WAIT: Duration = Duration::from_secs(60);

pub async fn run(session: &str, to: &str) -> anyhow::Result<()> {
    let process = config::process_env();
    let home = home::open(&process, Create::No)?;
    let location = database::location(&home, &process)?;
    if let Location::Sqlite(path) = &location
        && !path.exists()
    {
        anyhow::bail!(
            "no sessions yet ({} does not exist); `hermod sessions list` shows them",
            path.display()
        );
    }
    let store = database::open_at(&location).await?.store();
    let session =
        SessionId::parse(session.trim()).map_err(|e| anyhow::anyhow!("invalid session id: {e}"))?;
    let line = hand_off(store.as_ref(), &home, &session, to, None).await?;
    crate::commands::out(line);
    Ok(())
}

/// Asks for `session` to continue on `to` (waking `in_process`'s watcher
/// when the gateway runs in this process) and waits for the end; returns
/// where the conversation went, or why it did not go as the error.
pub(crate) async fn hand_off(
    store: &dyn Store,
    home: &Path,
    session: &SessionId,
    to: &str,
    in_process: Option<&Handoffs>,
) -> anyhow::Result<String> {
    let to = to.trim();
    if to.is_empty() {
        anyhow::bail!("name the platform to hand off to, as `hermod config check` lists it");
    }
    let platform = PlatformId::new(to.to_owned());
    if store.session(session).await?.is_none() {
        anyhow::bail!("no session {session}; `hermod sessions list` shows the ids");
    }
    let asked = match in_process {
        Some(handoffs) => handoffs.request(session, platform.clone()).await,
        None => {
            store
                .handoff_request(NewHandoff {
                    session: session.clone(),
                    platform: platform.clone(),
                    at_ms: now_ms(),
                })
                .await
        }
    };
    match asked {
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => anyhow::bail!(
            "a handoff of session {session} is already under way; wait for it to finish"
        ),
        Err(e) => return Err(e).context("cannot ask for the handoff"),
    }
    crate::commands::err(format_args!("handing session {session} off to {platform}…"));
    let ended = match await_handoff(store, session, WAIT).await {
        Ok(ended) => ended,
        Err(HandoffWait::TimedOut(handoff, _)) => {
            let gateway = match running_on(home) {
                Some(Ok(record)) => format!("the gateway (pid {}) has not finished it", record.pid),
                _ => "no gateway runs on this home; it is done when one starts \
                      (`hermod gateway run`)"
                    .to_owned(),
            };
            anyhow::bail!(
                "the handoff to {platform} is still {} after {} s: {gateway}; \
                 `hermod handoff` again shows nothing new until it ends",
                handoff.state.as_str(),
                WAIT.as_secs()
            );
        }
        Err(e) => return Err(e).context("cannot follow the handoff"),
    };
    match (ended.state, ended.destination) {
        (HandoffState::Completed, Some(target)) => Ok(match target.thread_id {
            Some(thread) => format!(
                "✔ handed off to {platform}: chat {}, thread {thread}. Reply there; the \
                 conversation goes on with its history.",
                target.chat_id
            ),
            None => format!(
                "✔ handed off to {platform}: chat {}. Reply there; the conversation goes on \
                 with its history.",
                target.chat_id
            ),
        }),
        _ => anyhow::bail!(
            "the handoff to {platform} failed: {}",
            ended.error.as_deref().unwrap_or("no reason recorded")
        ),
    }
}
