//! Where a long history is cut: the recent tail kept verbatim after a
//! summary, or the newest messages that fit when a summary cannot be made.
//! A cut never falls between an assistant's tool calls and their results,
//! since a provider refuses a tool result without the call before it.

use crate::session::context::budget::TAIL_FLOOR;
use hermod_model::{ChatMessage, Role};

/// The index of the first message of the verbatim tail: the newest
/// messages, at most `protect_last_n` of them, while they fit in
/// `tail_tokens` — but always the last `min(protect_last_n, 8)` — moved
/// back to the assistant message whose tool calls the first kept results
/// answer. Everything before it is summarized; 0 means nothing is.
pub(crate) fn tail_start(
    messages: &[ChatMessage],
    tokens: &[u64],
    tail_tokens: u64,
    protect_last_n: usize,
) -> usize {
    let floor = protect_last_n.min(TAIL_FLOOR);
    let mut start = messages.len();
    let mut kept = 0;
    let mut used = 0u64;
    while start > 0 && kept < protect_last_n {
        let next = tokens[start - 1];
        if kept >= floor && used + next > tail_tokens {
            break;
        }
        start -= 1;
        kept += 1;
        used += next;
    }
    while start > 0 && start < messages.len() && messages[start].role == Role::Tool {
        start -= 1;
    }
    start
}

/// The index from which the newest messages fit in `budget` tokens (the
/// oldest dropped), moved forward past tool results whose call was dropped.
pub(crate) fn fit_start(messages: &[ChatMessage], tokens: &[u64], budget: u64) -> usize {
    let mut start = messages.len();
    let mut used = 0u64;
    while start > 0 && used + tokens[start - 1] <= budget {
        start -= 1;
        used += tokens[start];
    }
    while start < messages.len() && messages[start].role == Role::Tool {
        start += 1;
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::{Content, ToolCall};

    fn user(text: &str) -> ChatMessage {
        ChatMessage::user(text)
    }

    fn calls(n: usize) -> ChatMessage {
        ChatMessage {
            tool_calls: (0..n)
                .map(|i| ToolCall {
                    id: format!("c{i}"),
                    name: "ls".into(),
                    arguments: "{}".into(),
                })
                .collect(),
            ..ChatMessage::assistant("")
        }
    }

    fn result(i: usize) -> ChatMessage {
        ChatMessage {
            role: Role::Tool,
            content: Some(Content::Text("out".into())),
            tool_calls: Vec::new(),
            tool_call_id: Some(format!("c{i}")),
            name: Some("ls".into()),
        }
    }

    /// A conversation of plain exchanges, then a tool round at `at`.
    fn with_tool_round(exchanges: usize) -> Vec<ChatMessage> {
        let mut messages = Vec::new();
        for i in 0..exchanges {
            messages.push(user(&format!("q{i}")));
            messages.push(ChatMessage::assistant(format!("a{i}")));
        }
        messages.push(user("list files"));
        messages.push(calls(2));
        messages.push(result(0));
        messages.push(result(1));
        messages.push(ChatMessage::assistant("two files"));
        messages
    }

    /// No tail ever starts at a tool result, and the summarized part never
    /// ends at a tool call: the call and its results stay together.
    fn assert_keeps_pairs(messages: &[ChatMessage], start: usize) {
        if start < messages.len() {
            assert_ne!(messages[start].role, Role::Tool, "cut at {start}");
        }
        if start > 0 {
            assert!(messages[start - 1].tool_calls.is_empty(), "cut at {start}");
        }
    }

    #[test]
    fn the_tail_is_the_protected_count_when_it_fits() {
        let messages: Vec<_> = (0..30).map(|i| user(&format!("m{i}"))).collect();
        let tokens = vec![10; 30];
        assert_eq!(tail_start(&messages, &tokens, 1_000, 20), 10);
        assert_eq!(tail_start(&messages, &tokens, 1_000, 40), 0);
        assert_eq!(tail_start(&messages[..5], &tokens[..5], 1_000, 20), 0);
    }

    #[test]
    fn the_tail_stops_at_its_budget_but_keeps_the_floor() {
        let messages: Vec<_> = (0..30).map(|i| user(&format!("m{i}"))).collect();
        let tokens = vec![10; 30];
        // 12 of 10 tokens fit in 125.
        assert_eq!(tail_start(&messages, &tokens, 125, 20), 18);
        // Nothing fits: the floor of 8 stays.
        assert_eq!(tail_start(&messages, &tokens, 0, 20), 22);
        // A smaller protect_last_n is its own floor.
        assert_eq!(tail_start(&messages, &tokens, 0, 3), 27);
        assert_eq!(tail_start(&messages, &tokens, 0, 0), 30);
    }

    #[test]
    fn the_tail_never_starts_inside_a_tool_round() {
        let messages = with_tool_round(10);
        let tokens = vec![10; messages.len()];
        // Every cut the budget could ask for.
        for protect in 0..messages.len() + 2 {
            let start = tail_start(&messages, &tokens, 0, protect);
            assert_keeps_pairs(&messages, start);
        }
        // Keeping the last 3 would start at the second result: the tail
        // goes back to the call.
        assert_eq!(tail_start(&messages, &tokens, 0, 3), messages.len() - 4);
    }

    #[test]
    fn fitting_drops_the_oldest_and_whole_tool_rounds() {
        let messages = with_tool_round(3);
        let tokens = vec![10; messages.len()];
        assert_eq!(fit_start(&messages, &tokens, 10_000), 0);
        // The last two fit, but the first of them is a result whose call
        // does not: only the final answer goes.
        assert_eq!(fit_start(&messages, &tokens, 25), messages.len() - 1);
        assert_eq!(fit_start(&messages, &tokens, 50), messages.len() - 5);
        for budget in 0..(messages.len() as u64 * 10 + 10) {
            let start = fit_start(&messages, &tokens, budget);
            assert_keeps_pairs(&messages, start);
            let used: u64 = tokens[start..].iter().sum();
            assert!(used <= budget, "budget {budget}: {used}");
        }
        // Even the last message does not fit: nothing is sent.
        assert_eq!(fit_start(&messages, &tokens, 5), messages.len());
    }
}
