//! `/version`: the gateway's version.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use async_trait::async_trait;

pub(crate) struct Version;

static SPEC: Spec = Spec {
    name: "version",
    aliases: &[],
    args: "",
    description: "Show hermod's version",
    category: Category::Info,
    while_busy: false,
};

#[async_trait]
impl Command for Version {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, _cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        Ok(Outcome::Reply(format!(
            "hermod {}",
            env!("CARGO_PKG_VERSION")
        )))
    }
}
