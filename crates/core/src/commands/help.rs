//! `/help` (`/commands`): the commands this user may run, generated from the registry.

use super::{COMMANDS, Category, Command, Cx, Outcome, Spec};
use crate::access::Tier;
use crate::error::CoreError;
use async_trait::async_trait;

pub(crate) struct Help;

static SPEC: Spec = Spec {
    name: "help",
    aliases: &["commands"],
    args: "",
    description: "List the commands you can use",
    category: Category::Info,
    while_busy: true,
};

/// The help text for a tier, grouped by category, with the platform's
/// command prefix (`/`, or `!` where the platform keeps `/` for itself).
pub(crate) fn render(tier: &Tier, prefix: char) -> String {
    let mut out = String::from("Commands:");
    for category in [Category::Session, Category::Control, Category::Info] {
        let lines: Vec<String> = COMMANDS
            .iter()
            .map(|c| c.spec())
            .filter(|s| s.category == category && tier.may_run(s.name))
            .map(|s| {
                let args = if s.args.is_empty() {
                    String::new()
                } else {
                    format!(" {}", s.args)
                };
                let aliases: String = s
                    .aliases
                    .iter()
                    .map(|a| format!(" ({prefix}{a})"))
                    .collect();
                format!("{prefix}{}{args}{aliases} — {}", s.name, s.description)
            })
            .collect();
        if !lines.is_empty() {
            out.push_str(&format!("\n\n{}:\n{}", category.title(), lines.join("\n")));
        }
    }
    out
}

#[async_trait]
impl Command for Help {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let prefix = cx
            .deps
            .capabilities(&cx.job().event.source.platform)
            .command_prefix;
        Ok(Outcome::Reply(render(cx.tier, prefix)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platforms_prefix_is_shown() {
        let text = render(&Tier::Unrestricted, '!');
        assert!(
            text.contains("!help") && text.contains("(!commands)"),
            "{text}"
        );
        assert!(!text.contains("/help"), "{text}");
    }

    #[test]
    fn lists_every_command_for_unrestricted_users() {
        let text = render(&Tier::Unrestricted, '/');
        for c in COMMANDS {
            assert!(
                text.contains(&format!("/{}", c.spec().name)),
                "{}",
                c.spec().name
            );
        }
        assert!(text.contains("/undo [N]"));
        assert!(text.contains("(/commands)"));
    }

    #[test]
    fn lists_only_what_a_user_may_run() {
        let tier = Tier::User(["help".to_owned(), "whoami".to_owned()].into());
        let text = render(&tier, '/');
        assert!(text.contains("/help") && text.contains("/whoami"));
        assert!(!text.contains("/new"));
    }
}
