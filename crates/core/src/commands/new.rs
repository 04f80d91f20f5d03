//! `/new` (`/reset`): end the conversation and start a fresh one.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use async_trait::async_trait;

pub(crate) struct New;

static SPEC: Spec = Spec {
    name: "new",
    aliases: &["reset"],
    args: "",
    description: "Start a new conversation",
    category: Category::Session,
    while_busy: true,
};

#[async_trait]
impl Command for New {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        if cx.job().event.session_id.is_some() {
            return Ok(Outcome::Reply(
                "This conversation is pinned by its session id (the X-Hermod-Session-Id header); \
                 send a new id to start a new conversation."
                    .to_owned(),
            ));
        }
        let dropped_jobs = cx.state.pending.clear();
        for job in &dropped_jobs {
            crate::session::inbox_done(cx.deps, &job.event, &job.inbox).await;
        }
        cx.state.interrupt();
        if let Some(session) = cx.session().await? {
            cx.deps
                .store
                .end_session(&session.id, "new_session", cx.deps.clock.now_ms())
                .await?;
            for name in [crate::hooks::SESSION_END, crate::hooks::SESSION_RESET] {
                cx.session_event(name, &session.id, "new_session");
            }
        }
        Ok(Outcome::Reply("✨ New conversation started.".to_owned()))
    }
}
