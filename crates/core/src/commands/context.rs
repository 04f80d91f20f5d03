//! `/context`: how much of the model's context window this conversation
//! uses, and when it gets compressed.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use crate::session::context::Report;
use async_trait::async_trait;

pub(crate) struct Context;

static SPEC: Spec = Spec {
    name: "context",
    aliases: &[],
    args: "",
    description: "Show how much of the model's context this conversation uses",
    category: Category::Info,
    while_busy: false,
};

#[async_trait]
impl Command for Context {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        let session = cx.session().await?;
        let report = cx.deps.context.report(cx.deps, session.as_ref()).await?;
        Ok(Outcome::Reply(describe(&report)))
    }
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn describe(report: &Report) -> String {
    let budget = &report.budget;
    let total = report.total();
    let percent = total as f64 * 100.0 / budget.context_length.max(1) as f64;
    let summary = match report.summary {
        Some((tokens, through)) => {
            format!("~{} tokens (messages up to #{through})", grouped(tokens))
        }
        None => "none".to_owned(),
    };
    let compression = if report.enabled {
        format!(
            "at {:.0}% = {} tokens",
            budget.threshold * 100.0,
            grouped(budget.threshold_tokens)
        )
    } else {
        "off".to_owned()
    };
    let mut lines = vec![
        "📐 Context (estimated at ~4 characters a token)".to_owned(),
        format!("System prompt: ~{} tokens", grouped(report.system_tokens)),
        format!("Tools: ~{} tokens", grouped(report.tools_tokens)),
        format!("Summary: {summary}"),
        format!(
            "Recent history: ~{} tokens in {} messages",
            grouped(report.history_tokens),
            report.history_messages
        ),
        format!(
            "Total: ~{} of {} tokens ({percent:.1}%)",
            grouped(total),
            grouped(budget.context_length)
        ),
        format!("Compression: {compression}"),
    ];
    if let Some(left) = report.cooldown {
        lines.push(format!(
            "Summaries paused for {} s after a failure: older messages are left out meanwhile.",
            left.as_secs()
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(128_000), "128,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
