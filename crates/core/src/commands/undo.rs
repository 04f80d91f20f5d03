//! `/undo [N]`: take back the last N exchanges (default 1).

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use async_trait::async_trait;

pub(crate) struct Undo;

static SPEC: Spec = Spec {
    name: "undo",
    aliases: &[],
    args: "[N]",
    description: "Remove the last N exchanges from the conversation",
    category: Category::Session,
    while_busy: false,
};

/// The number of exchanges asked for: empty means 1; 1..=50.
pub(crate) fn parse_count(args: &str) -> Result<usize, String> {
    let args = args.trim();
    if args.is_empty() {
        return Ok(1);
    }
    match args.parse::<usize>() {
        Ok(n @ 1..=50) => Ok(n),
        _ => Err(format!("/undo takes a number from 1 to 50, not {args:?}.")),
    }
}

#[async_trait]
impl Command for Undo {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let count = match parse_count(&cx.args) {
            Ok(n) => n,
            Err(message) => return Ok(Outcome::Reply(message)),
        };
        let Some(session) = cx.session().await? else {
            return Ok(Outcome::Reply("Nothing to undo.".to_owned()));
        };
        let removed = cx.deps.store.undo_exchanges(&session.id, count).await?;
        let exchanges = removed
            .iter()
            .filter(|m| m.message.role == hermod_model::Role::User)
            .count();
        Ok(Outcome::Reply(if exchanges == 0 {
            "Nothing to undo.".to_owned()
        } else {
            format!(
                "↩️ Removed the last {exchanges} exchange(s) ({} messages).",
                removed.len()
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(parse_count(""), Ok(1));
        assert_eq!(parse_count(" 3 "), Ok(3));
        assert!(parse_count("0").is_err());
        assert!(parse_count("51").is_err());
        assert!(parse_count("two").unwrap_err().contains("1 to 50"));
    }
}
