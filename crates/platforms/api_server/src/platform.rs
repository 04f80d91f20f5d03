//! The API server as the registry sees it ([`PlatformConfig`]), and what
//! its first run needs: a key generated, saved and shown once.

use crate::adapter::ApiServer;
use crate::config::ApiServerConfig;
use async_trait::async_trait;
use hermod_core::{
    AdapterError, BuildContext, Built, ChatEndpoint, CronJobs, Metrics, PlatformConfig, StatusBoard,
};
use hermod_model::{EnvVars, Secret};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

#[async_trait]
impl PlatformConfig for ApiServerConfig {
    const NAME: &'static str = "api_server";

    fn env_vars() -> Vec<&'static str> {
        vec![
            "API_SERVER_ENABLED",
            "API_SERVER_KEY",
            "API_SERVER_HOST",
            "API_SERVER_PORT",
            "API_SERVER_MODEL_NAME",
            "API_SERVER_MAX_CONNECTIONS",
            "API_SERVER_ALLOW_PLATFORM_SESSIONS",
            "API_SERVER_CORS_ORIGINS",
            "API_SERVER_STORE_STATELESS",
            "API_SERVER_REASONING_CONTENT",
            "API_SERVER_MAX_CONCURRENT_RUNS",
        ]
    }

    fn apply_env(&mut self, env: &EnvVars) -> Result<(), String> {
        ApiServerConfig::apply_env(self, env)
    }

    fn enabled(&self) -> bool {
        self.enabled
    }

    fn validate(&self) -> Result<(), String> {
        ApiServerConfig::validate(self)
    }

    fn describe(&self) -> String {
        let key = if self.key.is_some() {
            "key set"
        } else {
            "key generated on first run"
        };
        format!("http://{}:{} ({key})", self.host, self.port)
    }

    fn authenticates_callers(&self) -> bool {
        true
    }

    // No claims: the port it binds is its own guard.

    fn chat_endpoint(&self) -> Option<ChatEndpoint> {
        let addr: SocketAddr = format!("{}:{}", loopback_host(&self.host), self.port)
            .parse()
            .ok()?;
        Some(ChatEndpoint {
            base_url: format!("http://{}/v1", reachable(addr)),
            key: self.key.clone()?,
        })
    }

    fn local_chat(&self, key: Secret) -> Option<Self> {
        Some(ApiServerConfig {
            enabled: true,
            host: "127.0.0.1".into(),
            port: 0,
            key: Some(key),
            ..self.clone()
        })
    }

    fn listens_on(&self) -> Vec<String> {
        if self.port == 0 {
            return Vec::new();
        }
        vec![format!("{}:{}", self.host, self.port)]
    }

    async fn build(&self, ctx: &BuildContext) -> Result<Built, AdapterError> {
        let mut config = self.clone();
        let generated = match &config.key {
            Some(_) => None,
            None => {
                let key = generate_key(&ctx.home.join(".env"))?;
                config.key = Some(Secret::new(key.clone()));
                Some(key)
            }
        };
        let model_name = config.model_name.clone();
        let mut server = ApiServer::bind(config)
            .await?
            .with_store(Arc::clone(&ctx.store))
            .with_status(ctx.shared.get_or_insert_with(StatusBoard::default))
            .with_metrics(ctx.shared.get_or_insert_with(Metrics::new));
        // The gateway's scheduled jobs, when it shares them (`hermod gateway
        // run` does): served at `/api/jobs`, else answered 503.
        if let Some(jobs) = ctx.shared.get_or_insert_with(|| None::<CronJobs>) {
            server = server.with_cron(jobs);
        }
        let addr = server.local_addr();
        let first_run = match generated {
            Some(key) => first_run_lines(&ctx.home, &key, addr, &model_name),
            None => Vec::new(),
        };
        Ok(Built {
            adapter: Arc::new(server),
            description: format!("API server on http://{addr}"),
            first_run,
        })
    }
}

/// A new random key, saved as `API_SERVER_KEY` in `env_file` (mode 0600).
fn generate_key(env_file: &Path) -> Result<String, AdapterError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|e| AdapterError::Startup(format!("cannot generate an API key: {e}")))?;
    let key = format!("hermod-{}", hermod_model::to_hex(&bytes));
    append_env_var(env_file, "API_SERVER_KEY", &key).map_err(|e| {
        AdapterError::Startup(format!(
            "cannot save the generated API key to {}: {e} (set API_SERVER_KEY yourself, or make the file writable)",
            env_file.display()
        ))
    })?;
    Ok(key)
}

/// What the operator is told once, when the key was just generated.
fn first_run_lines(home: &Path, key: &str, addr: SocketAddr, model: &str) -> Vec<String> {
    vec![
        format!(
            "Generated an API key and saved it as API_SERVER_KEY in {}:",
            home.join(".env").display()
        ),
        format!("  {key}"),
        "Clients send it as 'Authorization: Bearer <key>'. It is not shown again.".to_owned(),
        format!(
            "Conversations are stored in {}.",
            home.join("hermod.db").display()
        ),
        "Try it once the gateway is ready:".to_owned(),
        format!("  {}", chat_example(addr, key, model)),
    ]
}

/// `localhost` as an address, so the endpoint parses as one.
fn loopback_host(host: &str) -> &str {
    match host {
        "localhost" => "127.0.0.1",
        other => other,
    }
}

/// `addr` as a client on this machine reaches it: a server on every
/// address is reached on the loopback one.
pub(crate) fn reachable(addr: SocketAddr) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    format!("{host}:{}", addr.port())
}

/// The one `curl` line that sends a chat to the server at `addr`.
pub(crate) fn chat_example(addr: SocketAddr, key: &str, model: &str) -> String {
    let reached = reachable(addr);
    let body = format!(
        r#"{{"model":{},"messages":[{{"role":"user","content":"Hello"}}]}}"#,
        serde_json::Value::from(model)
    );
    format!(
        "curl -s http://{reached}/v1/chat/completions -H \"Authorization: Bearer {key}\" \
         -H \"Content-Type: application/json\" -d '{}'",
        body.replace('\'', r"'\''")
    )
}

/// Appends `KEY=value` to a `.env` file, creating it with mode 0600; an
/// existing file keeps its contents and gets its mode tightened to 0600.
fn append_env_var(path: &Path, key: &str, value: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    let existing = std::fs::read(path)?;
    if !existing.is_empty() && !existing.ends_with(b"\n") {
        file.write_all(b"\n")?;
    }
    writeln!(file, "{key}={value}")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_reaches_the_server_where_it_listens() {
        let line = chat_example("0.0.0.0:8642".parse().unwrap(), "k", "it's");
        assert!(line.starts_with("curl -s http://127.0.0.1:8642/v1/chat/completions"));
        assert!(line.contains("Bearer k"));
        assert!(line.contains(r#""model":"it'\''s""#), "{line}");
        let line = chat_example("[::]:1".parse().unwrap(), "k", "m");
        assert!(line.contains("http://[::1]:1/"), "{line}");
    }

    #[test]
    fn the_key_is_appended_privately_on_its_own_line() {
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join(".env");
        std::fs::write(&env, "A=1").unwrap();
        let key = generate_key(&env).unwrap();
        let text = std::fs::read_to_string(&env).unwrap();
        assert_eq!(text, format!("A=1\nAPI_SERVER_KEY={key}\n"));
        assert!(crate::key::key_problem(&Secret::new(key)).is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&env).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
