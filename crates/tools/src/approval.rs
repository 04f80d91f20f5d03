//! [`RequireApproval`]: any tool, asking the user before each call. For
//! the config's list of tools that always need approval.

use hermod_agent::{Tool, ToolContext};
use serde_json::Value;

/// Characters of the arguments shown in the approval request.
const PREVIEW_CHARS: usize = 300;

/// Wraps a tool so that every call first asks the user, showing the tool's
/// name and a preview of its arguments; a denial is the call's error and
/// the tool does not run.
#[derive(Debug, Clone)]
pub struct RequireApproval<T> {
    inner: T,
}

impl<T: Tool> RequireApproval<T> {
    pub fn new(inner: T) -> Self {
        Self { inner }
    }

    pub fn into_inner(self) -> T {
        self.inner
    }
}

/// What the user is asked: `tool: {"arguments": ...}`, shortened.
fn describe(name: &str, arguments: &Value) -> String {
    let arguments = match arguments {
        Value::Object(map) if map.is_empty() => "(no arguments)".to_owned(),
        other => crate::text::preview(&other.to_string(), PREVIEW_CHARS),
    };
    format!("{name}: {arguments}")
}

#[async_trait::async_trait]
impl<T: Tool> Tool for RequireApproval<T> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn description(&self) -> &str {
        self.inner.description()
    }

    fn parameters(&self) -> Value {
        self.inner.parameters()
    }

    async fn call(&self, arguments: Value, ctx: ToolContext) -> Result<String, String> {
        ctx.request_approval(describe(self.inner.name(), &arguments))
            .await
            .into_result()
            .map_err(|denied| format!("{denied}; {} did not run", self.inner.name()))?;
        self.inner.call(arguments, ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_description_names_the_tool_and_previews_the_arguments() {
        assert_eq!(
            describe("web_fetch", &json!({"url": "https://example.com"})),
            r#"web_fetch: {"url":"https://example.com"}"#
        );
        assert_eq!(describe("t", &json!({})), "t: (no arguments)");
        let long = describe("t", &json!({"text": "x".repeat(1000)}));
        assert!(
            long.chars().count() <= 3 + PREVIEW_CHARS && long.ends_with('…'),
            "{long}"
        );
    }
}
