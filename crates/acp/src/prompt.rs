//! The content of a `session/prompt` from a hermod turn: the user's text,
//! images when the agent takes them, and for a new ACP session the system
//! prompt and the conversation so far (the agent has no other way to learn
//! them).

use crate::protocol::{ContentBlock, PromptCapabilities};
use hermod_model::{ChatMessage, Content, ContentPart, Role};

/// The most characters of earlier conversation put into a new session's
/// first prompt; the newest messages are kept.
const HISTORY_CHARS: usize = 16_000;

/// What goes into a prompt.
#[derive(Debug)]
pub(crate) struct PromptInput<'a> {
    pub input: &'a ChatMessage,
    pub history: &'a [ChatMessage],
    /// Configured system prompt, then the turn's own.
    pub system: Vec<&'a str>,
    /// A new ACP session: add the system prompt and the history.
    pub fresh: bool,
    pub capabilities: &'a PromptCapabilities,
}

/// The prompt's content blocks: one text block first, then the images.
pub(crate) fn build(input: &PromptInput<'_>) -> Vec<ContentBlock> {
    let mut text = Vec::new();
    if input.fresh {
        let system: Vec<&str> = input
            .system
            .iter()
            .copied()
            .filter(|s| !s.trim().is_empty())
            .collect();
        if !system.is_empty() {
            text.push(system.join("\n\n"));
        }
        if let Some(earlier) = earlier_conversation(input.history) {
            text.push(earlier);
        }
    }
    let mut images = Vec::new();
    let mut notes = Vec::new();
    match &input.input.content {
        Some(Content::Parts(parts)) => {
            let mut own = Vec::new();
            for part in parts {
                match part {
                    ContentPart::Text { text } => own.push(text.as_str()),
                    ContentPart::ImageUrl { image_url } => {
                        match image_block(&image_url.url, input.capabilities) {
                            Ok(block) => images.push(block),
                            Err(note) => notes.push(note),
                        }
                    }
                }
            }
            text.push(own.join("\n"));
        }
        Some(Content::Text(own)) => text.push(own.clone()),
        None => {}
    }
    text.extend(notes);
    let text: Vec<String> = text.into_iter().filter(|t| !t.trim().is_empty()).collect();
    let mut blocks = vec![ContentBlock::Text {
        text: text.join("\n\n"),
    }];
    blocks.extend(images);
    blocks
}

/// An image part as an ACP image block, or the note that replaces it.
fn image_block(url: &str, capabilities: &PromptCapabilities) -> Result<ContentBlock, String> {
    if !capabilities.image {
        return Err("[An image was left out: this agent does not accept images.]".to_owned());
    }
    let inline = url
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"));
    match inline {
        Some((mime_type, data)) if !data.is_empty() => Ok(ContentBlock::Image {
            data: data.to_owned(),
            mime_type: mime_type.to_owned(),
        }),
        _ => Err(format!(
            "[An image was left out: it is not inline data ({})]",
            short(url)
        )),
    }
}

fn short(url: &str) -> String {
    let shown: String = url.chars().take(80).collect();
    if shown.len() < url.len() {
        format!("{shown}…")
    } else {
        shown
    }
}

/// The conversation before this turn as text, newest kept within the cap.
fn earlier_conversation(history: &[ChatMessage]) -> Option<String> {
    let mut lines = Vec::new();
    let mut used = 0;
    for message in history.iter().rev() {
        let who = match message.role {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System | Role::Tool => continue,
        };
        let text = message.text();
        if text.trim().is_empty() {
            continue;
        }
        let line = format!("{who}: {text}");
        used += line.chars().count();
        if used > HISTORY_CHARS {
            break;
        }
        lines.push(line);
    }
    if lines.is_empty() {
        return None;
    }
    lines.reverse();
    Some(format!(
        "The conversation so far (for context):\n{}\n\nThe new message:",
        lines.join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::ImageUrl;

    fn image(url: &str) -> ContentPart {
        ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: url.into(),
                detail: None,
            },
        }
    }

    fn text_of(blocks: &[ContentBlock]) -> &str {
        match &blocks[0] {
            ContentBlock::Text { text } => text,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_fresh_session_gets_the_system_prompt_and_history() {
        let input = ChatMessage::user("and now?");
        let history = [
            ChatMessage::system("ignored"),
            ChatMessage::user("hello"),
            ChatMessage::assistant("hi there"),
        ];
        let caps = PromptCapabilities::default();
        let fresh = PromptInput {
            input: &input,
            history: &history,
            system: vec!["You are Ada.", " "],
            fresh: true,
            capabilities: &caps,
        };
        let blocks = build(&fresh);
        assert_eq!(blocks.len(), 1);
        assert_eq!(
            text_of(&blocks),
            "You are Ada.\n\nThe conversation so far (for context):\nuser: hello\nassistant: hi there\n\nThe new message:\n\nand now?"
        );
        let later = PromptInput {
            fresh: false,
            ..fresh
        };
        assert_eq!(text_of(&build(&later)), "and now?");
    }

    #[test]
    fn images_go_as_blocks_only_when_the_agent_takes_them() {
        let input = ChatMessage::user(Content::Parts(vec![
            ContentPart::Text {
                text: "what is this?".into(),
            },
            image("data:image/png;base64,iVBORw0KGgo="),
            image("https://example.com/cat.jpg"),
        ]));
        let with = PromptCapabilities { image: true };
        let blocks = build(&PromptInput {
            input: &input,
            history: &[],
            system: vec![],
            fresh: true,
            capabilities: &with,
        });
        assert_eq!(
            blocks[1],
            ContentBlock::Image {
                data: "iVBORw0KGgo=".into(),
                mime_type: "image/png".into()
            }
        );
        assert_eq!(blocks.len(), 2);
        assert!(text_of(&blocks).starts_with("what is this?\n\n[An image was left out: it is not inline data (https://example.com/cat.jpg)]"));

        let without = PromptCapabilities { image: false };
        let blocks = build(&PromptInput {
            input: &input,
            history: &[],
            system: vec![],
            fresh: false,
            capabilities: &without,
        });
        assert_eq!(blocks.len(), 1);
        assert_eq!(
            text_of(&blocks)
                .matches("this agent does not accept images")
                .count(),
            2
        );
    }

    #[test]
    fn long_history_keeps_the_newest_messages() {
        let old = "x".repeat(HISTORY_CHARS);
        let history = [ChatMessage::user(old.as_str()), ChatMessage::user("recent")];
        let text = earlier_conversation(&history).unwrap_or_default();
        assert!(text.contains("user: recent"));
        assert!(!text.contains(&old));
    }
}
