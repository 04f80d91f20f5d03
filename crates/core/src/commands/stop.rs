//! `/stop`: cancel the running turn and drop what was waiting.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use async_trait::async_trait;

pub(crate) struct Stop;

static SPEC: Spec = Spec {
    name: "stop",
    aliases: &[],
    args: "",
    description: "Stop the running reply and drop queued messages",
    category: Category::Control,
    while_busy: true,
};

#[async_trait]
impl Command for Stop {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let dropped_jobs = cx.state.pending.clear();
        for job in &dropped_jobs {
            crate::session::inbox_done(cx.deps, &job.event, &job.inbox).await;
        }
        let dropped = dropped_jobs.len();
        let stopped = cx.state.interrupt();
        Ok(Outcome::Reply(match (stopped, dropped) {
            (false, 0) => "Nothing is running.".to_owned(),
            (true, 0) => "⏹ Stopped.".to_owned(),
            (_, n) => format!("⏹ Stopped; dropped {n} queued message(s)."),
        }))
    }
}
