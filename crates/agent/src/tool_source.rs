//! [`ToolSource`]: tools that come and go while the agent runs.
//!
//! A [`ToolRegistry`](crate::ToolRegistry) is built once, with the agent,
//! but some tools are not known then: an external tool server connects
//! later, restarts, or changes its list. Such tools live in a source, which
//! the registry asks at each use (the schemas offered to the model, a call
//! by name, the names listed), so they show up and vanish without the
//! agent being rebuilt.

use crate::tools::Tool;
use std::sync::Arc;

/// A set of tools that may change at any time.
pub trait ToolSource: Send + Sync {
    /// The tools to offer to the model now, in a stable order. A tool that
    /// exists but cannot run at the moment (its server is restarting) is
    /// left out, so the model does not choose it.
    fn tools(&self) -> Vec<Arc<dyn Tool>>;

    /// The tool called `name`, including one [`ToolSource::tools`] leaves
    /// out for now: a call the model chose before it became unavailable
    /// then gets that tool's own error (what happened, when it is retried)
    /// instead of "unknown tool".
    fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
        self.tools().into_iter().find(|t| t.name() == name)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::tools::{ToolContext, ToolRegistry};
    use hermod_model::SessionId;
    use serde_json::{Value, json};
    use std::sync::Mutex;
    use tokio_util::sync::CancellationToken;

    struct Named(&'static str);

    #[async_trait::async_trait]
    impl Tool for Named {
        fn name(&self) -> &str {
            self.0
        }
        fn description(&self) -> &str {
            "A named tool."
        }
        fn parameters(&self) -> Value {
            json!({"type": "object"})
        }
        async fn call(&self, _arguments: Value, _ctx: ToolContext) -> Result<String, String> {
            Ok(format!("ran {}", self.0))
        }
    }

    /// A source whose offered and known tools the test changes.
    #[derive(Default)]
    struct Changing {
        offered: Mutex<Vec<Arc<dyn Tool>>>,
        hidden: Mutex<Vec<Arc<dyn Tool>>>,
    }

    impl ToolSource for Changing {
        fn tools(&self) -> Vec<Arc<dyn Tool>> {
            self.offered.lock().unwrap().clone()
        }
        fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
            let offered = self.offered.lock().unwrap();
            let hidden = self.hidden.lock().unwrap();
            offered
                .iter()
                .chain(hidden.iter())
                .find(|t| t.name() == name)
                .cloned()
        }
    }

    fn ctx() -> ToolContext {
        ToolContext::new(
            SessionId::parse("s").unwrap(),
            "c",
            CancellationToken::new(),
        )
    }

    #[tokio::test]
    async fn a_source_is_asked_at_each_use() {
        let source = Arc::new(Changing::default());
        let registry = ToolRegistry::new()
            .with(Named("fixed"))
            .with_source(source.clone());
        assert_eq!(registry.names(), ["fixed"]);
        assert_eq!(registry.len(), 1);

        source
            .offered
            .lock()
            .unwrap()
            .push(Arc::new(Named("later")));
        assert_eq!(registry.names(), ["fixed", "later"]);
        assert_eq!(registry.schemas()[1]["function"]["name"], "later");
        assert_eq!(
            registry.execute("later", "{}", ctx()).await,
            ("ran later".into(), false)
        );

        // Gone from the offer but still known: a chosen call still reaches it.
        let later = source.offered.lock().unwrap().pop().unwrap();
        source.hidden.lock().unwrap().push(later);
        assert_eq!(registry.names(), ["fixed"]);
        assert_eq!(registry.schemas().len(), 1);
        assert!(registry.get("later").is_some());

        // Gone altogether: unknown, and the error lists what is offered.
        source.hidden.lock().unwrap().clear();
        let (text, is_error) = registry.execute("later", "{}", ctx()).await;
        assert!(
            is_error && text.contains("unknown tool") && text.contains("fixed"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn an_agent_built_once_offers_what_its_source_has_at_each_turn() {
        use crate::{Agent, LlmAgent, LlmConfig, TurnRequest};
        use hermod_model::{ChatMessage, TurnOptions};
        use hermod_testkit::{FakeLlm, Reply};

        let fake = FakeLlm::start().await;
        fake.set_default(Reply::text("done"));
        let source = Arc::new(Changing::default());
        let config = LlmConfig {
            base_url: fake.base_url(),
            ..LlmConfig::default()
        };
        let agent = LlmAgent::new(config, ToolRegistry::new().with_source(source.clone()));
        let turn = |text: &str| TurnRequest {
            session_id: SessionId::parse("s").unwrap(),
            history: Vec::new(),
            input: ChatMessage::user(text),
            system_prompt: None,
            options: TurnOptions::default(),
            model_calls: None,
            approval_policy: None,
        };
        let mut first = agent.run_turn(turn("one"));
        while first.events.recv().await.is_some() {}
        source
            .offered
            .lock()
            .unwrap()
            .push(Arc::new(Named("later")));
        let mut second = agent.run_turn(turn("two"));
        while second.events.recv().await.is_some() {}

        let requests = fake.requests();
        assert!(requests[0].tool_names().is_empty());
        assert_eq!(requests[1].tool_names(), ["later"]);
    }

    #[test]
    fn a_fixed_tool_wins_over_a_source_tool_of_the_same_name() {
        let source = Arc::new(Changing::default());
        source
            .offered
            .lock()
            .unwrap()
            .push(Arc::new(Named("fixed")));
        source
            .offered
            .lock()
            .unwrap()
            .push(Arc::new(Named("other")));
        let registry = ToolRegistry::new().with(Named("fixed")).with_source(source);
        assert_eq!(registry.names(), ["fixed", "other"]);
        assert_eq!(registry.schemas().len(), 2);
        assert!(format!("{registry:?}").contains("other"));
    }
}
