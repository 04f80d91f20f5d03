//! The agent the configuration describes: hermod's own (`agent.kind:
//! llm`) with the enabled toolsets and the MCP servers' tools, or an
//! external agent over ACP (`agent.kind: acp`).

use crate::config::tools::Toolset;
use crate::config::{AgentKind, Config};
use anyhow::Context;
use hermod_agent::{
    Agent, LlmAgent, LlmClient, LlmConfig, Tool, ToolContext, ToolRegistry, ToolSource,
};
use hermod_core::{
    BuildContext, DeliveriesLink, Gateway, MemoryTool, SendMessageTool, SessionSearchTool,
    ToolsReload,
};
use hermod_mcp::McpManager;
use hermod_store::Store;
use hermod_tools::RequireApproval;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use tracing::info;

/// The agent and what must be connected to the gateway once it is built
/// or stopped with it.
pub(crate) struct Assembled {
    pub agent: Arc<dyn Agent>,
    deliveries: DeliveriesLink,
    mcp: Option<McpManager>,
    acp: Option<Arc<hermod_acp::AcpAgent>>,
}

impl Assembled {
    /// Builds the agent of `config` on `store`, its model client on
    /// `build`'s shared HTTP client.
    pub fn new(
        config: &Config,
        store: Arc<dyn Store>,
        build: &BuildContext,
    ) -> anyhow::Result<Self> {
        let deliveries = DeliveriesLink::new();
        if config.agent.kind == AgentKind::Acp {
            let mut acp = config
                .agent
                .acp
                .clone()
                .context("agent.kind is acp but agent.acp is not set")?;
            // ACP has no system prompt: hermod's goes before a session's
            // first prompt. Its permission requests wait as long as any
            // approval.
            acp.system_prompt = acp
                .system_prompt
                .or_else(|| config.agent.system_prompt.clone());
            acp.approval_timeout_secs = config.tools.approval_timeout.as_secs();
            info!(command = %acp.command, "the agent is an external ACP agent");
            let agent = Arc::new(hermod_acp::AcpAgent::new(acp, store));
            return Ok(Self {
                agent: agent.clone(),
                deliveries,
                mcp: None,
                acp: Some(agent),
            });
        }
        let mut tools = ToolRegistry::new();
        let gate = Gate::new(&config.tools.require_approval);
        for tool in builtin_tools(config, store, &deliveries)? {
            tools.register_arc(gate.wrap(tool));
        }
        let mcp = (!config.tools.mcp.is_empty()).then(|| {
            let manager = McpManager::start(config.tools.mcp.clone());
            tools.add_source(Arc::new(GatedSource {
                inner: manager.tool_source(),
                gate: gate.clone(),
            }));
            manager
        });
        info!(tools = ?tools.names(), mcp_servers = config.tools.mcp.len(), "agent tools");
        let agent =
            LlmAgent::with_client(LlmClient::with_http(llm_config(config), &build.http), tools);
        Ok(Self {
            agent: Arc::new(agent),
            deliveries,
            mcp,
            acp: None,
        })
    }

    /// What `/reload-mcp` reconnects, when MCP servers are configured.
    pub fn reloader(&self) -> Option<Arc<dyn ToolsReload>> {
        self.mcp
            .clone()
            .map(|manager| Arc::new(McpReload(manager)) as Arc<dyn ToolsReload>)
    }

    /// Connects what the tools need of the built gateway.
    pub fn attach(&self, gateway: &Gateway) {
        self.deliveries.connect(gateway.deliveries());
    }

    /// Stops the MCP servers and the ACP agent's process.
    pub async fn shutdown(&self) {
        if let Some(mcp) = &self.mcp {
            mcp.shutdown().await;
        }
        if let Some(acp) = &self.acp {
            acp.shutdown().await;
        }
    }
}

fn llm_config(config: &Config) -> LlmConfig {
    LlmConfig {
        base_url: config.model.base_url.clone(),
        api_key: config.model.api_key.clone(),
        model: config.model.default.clone(),
        request_timeout: config.model_timeout(),
        max_iterations: config.agent.max_turns,
        system_prompt: config.agent.system_prompt.clone(),
        approval_timeout: config.tools.approval_timeout,
        ..LlmConfig::default()
    }
}

/// The tools of the enabled toolsets.
fn builtin_tools(
    config: &Config,
    store: Arc<dyn Store>,
    deliveries: &DeliveriesLink,
) -> anyhow::Result<Vec<Arc<dyn Tool>>> {
    let tools = &config.tools;
    let mut out: Vec<Arc<dyn Tool>> = Vec::new();
    if tools.has(Toolset::Web) {
        out.push(Arc::new(
            tools
                .web_fetch
                .build()
                .context("web_fetch is misconfigured")?,
        ));
    }
    if tools.has(Toolset::Terminal) || tools.has(Toolset::File) {
        let workspace = hermod_tools::Workspace::open(&tools.workspace)
            .with_context(|| format!("cannot use the workspace {}", tools.workspace.display()))?;
        if tools.has(Toolset::Terminal) {
            out.push(Arc::new(
                tools
                    .terminal
                    .build(&workspace)
                    .context("terminal is misconfigured")?,
            ));
        }
        if tools.has(Toolset::File) {
            let (read, write) = tools
                .files
                .build(&workspace)
                .context("files is misconfigured")?;
            out.push(Arc::new(read));
            out.push(Arc::new(write));
        }
    }
    if tools.has(Toolset::Memory) {
        out.push(Arc::new(MemoryTool::new(store.clone(), tools.memory)));
    }
    if tools.has(Toolset::SessionSearch) {
        out.push(Arc::new(SessionSearchTool::new(store.clone())));
    }
    if tools.has(Toolset::Messaging) {
        out.push(Arc::new(SendMessageTool::new(
            store.clone(),
            deliveries.clone(),
        )));
    }
    if tools.has(Toolset::Cronjob) {
        out.push(Arc::new(crate::commands::cron::tool(config, store)));
    }
    Ok(out)
}

/// The tools listed in `approvals.require`: each asks before every call.
#[derive(Debug, Clone)]
struct Gate {
    names: Arc<BTreeSet<String>>,
}

impl Gate {
    fn new(names: &[String]) -> Self {
        Self {
            names: Arc::new(names.iter().map(|n| n.trim().to_owned()).collect()),
        }
    }

    fn wrap(&self, tool: Arc<dyn Tool>) -> Arc<dyn Tool> {
        if self.names.contains(tool.name()) {
            Arc::new(RequireApproval::new(Shared(tool)))
        } else {
            tool
        }
    }
}

/// A shared tool as a tool, so [`RequireApproval`] can wrap it.
struct Shared(Arc<dyn Tool>);

#[hermod_agent::async_trait]
impl Tool for Shared {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn description(&self) -> &str {
        self.0.description()
    }

    fn parameters(&self) -> Value {
        self.0.parameters()
    }

    async fn call(&self, arguments: Value, ctx: ToolContext) -> Result<String, String> {
        self.0.call(arguments, ctx).await
    }
}

/// An MCP server's tools, those in `approvals.require` asking first.
struct GatedSource {
    inner: Arc<dyn ToolSource>,
    gate: Gate,
}

impl ToolSource for GatedSource {
    fn tools(&self) -> Vec<Arc<dyn Tool>> {
        self.inner
            .tools()
            .into_iter()
            .map(|t| self.gate.wrap(t))
            .collect()
    }

    fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
        self.inner.get(name).map(|t| self.gate.wrap(t))
    }
}

/// `/reload-mcp` over the MCP manager.
struct McpReload(McpManager);

#[hermod_agent::async_trait]
impl ToolsReload for McpReload {
    async fn reload(&self) -> Result<String, String> {
        Ok(self.0.reload().await.to_string())
    }
}
