//! A tool call's result as the text the model reads.
//!
//! Text blocks are the result, joined by newlines. Other blocks are
//! described in a line (an image's type and size, a resource's address),
//! since the model gets text from a tool. A result with no content but
//! structured content is that JSON. `isError` makes the text an error.

use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};

/// The result text, `Err` when the server marked the result an error.
pub(crate) fn result_text(result: &CallToolResult) -> Result<String, String> {
    let mut parts: Vec<String> = result.content.iter().map(describe).collect();
    if parts.is_empty()
        && let Some(structured) = &result.structured_content
    {
        parts.push(structured.to_string());
    }
    let text = parts.join("\n");
    if result.is_error == Some(true) {
        return Err(if text.is_empty() {
            "the tool failed without saying why".to_owned()
        } else {
            text
        });
    }
    Ok(if text.is_empty() {
        "(no output)".to_owned()
    } else {
        text
    })
}

fn describe(block: &ContentBlock) -> String {
    match block {
        ContentBlock::Text(text) => text.text.clone(),
        ContentBlock::Image(image) => format!(
            "[image: {}, {}]",
            image.mime_type,
            encoded_size(&image.data)
        ),
        ContentBlock::Audio(audio) => format!(
            "[audio: {}, {}]",
            audio.mime_type,
            encoded_size(&audio.data)
        ),
        ContentBlock::Resource(embedded) => match &embedded.resource {
            ResourceContents::TextResourceContents { text, .. } => text.clone(),
            ResourceContents::BlobResourceContents {
                uri,
                mime_type,
                blob,
                ..
            } => format!(
                "[resource {uri}: {}, {}]",
                mime_type.as_deref().unwrap_or("binary"),
                encoded_size(blob)
            ),
            _ => "[a resource of a kind hermod does not read]".to_owned(),
        },
        ContentBlock::ResourceLink(link) => match &link.description {
            Some(description) => format!("[resource link {}: {description}]", link.uri),
            None => format!("[resource link {} ({})]", link.uri, link.name),
        },
        // A content type newer than this client.
        _ => "[content of a type hermod does not read]".to_owned(),
    }
}

/// The decoded size of base64 `data`, for people.
fn encoded_size(data: &str) -> String {
    let padding = data.bytes().rev().take_while(|&b| b == b'=').count();
    let bytes = (data.len() / 4 * 3).saturating_sub(padding);
    hermod_model::text::human_size(bytes as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> CallToolResult {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn text_is_joined_and_other_content_described() {
        let result = parse(json!({"content": [
            {"type": "text", "text": "first"},
            {"type": "image", "data": "aGVsbG8=", "mimeType": "image/png"},
            {"type": "resource", "resource": {"uri": "file:///a", "text": "inline"}},
            {"type": "resource", "resource": {"uri": "file:///b", "blob": "AAAA", "mimeType": "application/pdf"}},
            {"type": "resource_link", "uri": "file:///c", "name": "c"},
            {"type": "text", "text": "last"},
        ]}));
        let text = result_text(&result).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "first");
        assert!(lines[1].starts_with("[image: image/png, 5"), "{}", lines[1]);
        assert_eq!(lines[2], "inline");
        assert!(
            lines[3].starts_with("[resource file:///b: application/pdf, 3"),
            "{}",
            lines[3]
        );
        assert_eq!(lines[4], "[resource link file:///c (c)]");
        assert_eq!(lines[5], "last");
    }

    #[test]
    fn errors_structured_content_and_empty_results() {
        let error =
            parse(json!({"content": [{"type": "text", "text": "no such file"}], "isError": true}));
        assert_eq!(result_text(&error), Err("no such file".into()));
        let bare_error = parse(json!({"content": [], "isError": true}));
        assert!(
            result_text(&bare_error)
                .unwrap_err()
                .contains("without saying why")
        );
        let structured = parse(json!({"content": [], "structuredContent": {"sum": 3}}));
        assert_eq!(result_text(&structured), Ok(r#"{"sum":3}"#.into()));
        let empty = parse(json!({"content": []}));
        assert_eq!(result_text(&empty), Ok("(no output)".into()));
    }
}
