//! A scripted fake ACP agent (the `fake-acp-agent` binary) for testing
//! hermod's ACP client against faults a real agent produces rarely: crashes
//! mid-turn, malformed frames, slow or unanswered permission requests, an
//! error answered to a cancelled prompt, `session/load` on or off.
//!
//! A test writes a [`FakeAcpScript`] into a directory ([`FakeAcpScript::write`])
//! and runs [`fake_acp_agent_path`] with `HERMOD_FAKE_ACP_SCRIPT` pointing at
//! it. The fake answers `initialize`, `session/new` and `session/load`, and
//! plays one scripted turn ([`Step`]s) per `session/prompt`, in order across
//! restarts (its position is kept in the directory). Every frame it receives
//! is appended to `received.jsonl` there ([`FakeAcpScript::received`]), and
//! every session it created to `sessions.txt`, so a restarted fake can load
//! them.

mod agent;

pub use agent::run;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The environment variable naming the script file.
pub const SCRIPT_ENV: &str = "HERMOD_FAKE_ACP_SCRIPT";

/// The script of a fake agent.
#[derive(Debug, Clone)]
pub struct FakeAcpScript {
    load_session: bool,
    load_null: bool,
    image: bool,
    turns: Vec<Vec<Step>>,
}

impl Default for FakeAcpScript {
    fn default() -> Self {
        Self {
            load_session: true,
            load_null: false,
            image: false,
            turns: Vec::new(),
        }
    }
}

/// One thing the fake does during a turn.
#[derive(Debug, Clone)]
pub enum Step {
    /// An `agent_message_chunk`.
    Text(String),
    /// An `agent_thought_chunk`.
    Thought(String),
    /// A `tool_call` (status `pending`).
    ToolCall {
        id: String,
        title: String,
        input: Value,
    },
    /// A `tool_call_update` ending the call.
    ToolDone {
        id: String,
        failed: bool,
        output: String,
    },
    /// A `plan` with these entries (status `pending`).
    Plan(Vec<String>),
    /// A `session/request_permission` for the tool call `id` offering
    /// allow once/always and reject once; the option chosen (or
    /// `cancelled`) is then sent as text: `permission: <optionId>`.
    Permission {
        id: String,
        command: String,
    },
    /// A line written to stdout as it is (malformed frames).
    Raw(String),
    /// A `fs/read_text_file` request to hermod; its error code is then sent
    /// as text: `fs: <code>`.
    ReadFile(String),
    /// Starts `sleep 300` as a child (a tool the agent runs) and writes its
    /// pid to `sleeper.pid` ([`FakeAcpScript::sleeper_pid`]).
    SpawnSleeper,
    Sleep(u64),
    /// Waits until hermod sends `session/cancel` for the session.
    WaitForCancel,
    /// Writes `stderr` to stderr and exits with `code`.
    Crash {
        code: i32,
        stderr: String,
    },
    /// Answers the prompt with a JSON-RPC error.
    Error(String),
    /// Answers the prompt with this stop reason (and usage), ending the
    /// turn; a turn without one ends with `end_turn`, or with `cancelled`
    /// when hermod cancelled it.
    Stop {
        reason: String,
        usage: Option<(u64, u64)>,
    },
}

impl Step {
    pub fn text(text: impl Into<String>) -> Self {
        Step::Text(text.into())
    }

    pub fn tool_call(id: impl Into<String>, title: impl Into<String>, input: Value) -> Self {
        Step::ToolCall {
            id: id.into(),
            title: title.into(),
            input,
        }
    }

    pub fn tool_done(id: impl Into<String>, output: impl Into<String>) -> Self {
        Step::ToolDone {
            id: id.into(),
            failed: false,
            output: output.into(),
        }
    }

    pub fn permission(id: impl Into<String>, command: impl Into<String>) -> Self {
        Step::Permission {
            id: id.into(),
            command: command.into(),
        }
    }

    pub fn crash(code: i32, stderr: impl Into<String>) -> Self {
        Step::Crash {
            code,
            stderr: stderr.into(),
        }
    }

    pub fn stop(reason: impl Into<String>) -> Self {
        Step::Stop {
            reason: reason.into(),
            usage: None,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Step::Text(text) => json!({"text": text}),
            Step::Thought(text) => json!({"thought": text}),
            Step::ToolCall { id, title, input } => {
                json!({"tool_call": {"id": id, "title": title, "input": input}})
            }
            Step::ToolDone { id, failed, output } => {
                json!({"tool_done": {"id": id, "failed": failed, "output": output}})
            }
            Step::Plan(entries) => json!({"plan": entries}),
            Step::Permission { id, command } => {
                json!({"permission": {"id": id, "command": command}})
            }
            Step::Raw(line) => json!({"raw": line}),
            Step::ReadFile(path) => json!({"read_file": path}),
            Step::SpawnSleeper => json!({"spawn_sleeper": true}),
            Step::Sleep(ms) => json!({"sleep_ms": ms}),
            Step::WaitForCancel => json!({"wait_for_cancel": true}),
            Step::Crash { code, stderr } => json!({"crash": {"code": code, "stderr": stderr}}),
            Step::Error(message) => json!({"error": message}),
            Step::Stop { reason, usage } => json!({"stop": {
                "reason": reason,
                "usage": usage.map(|(i, o)| json!({"inputTokens": i, "outputTokens": o, "totalTokens": i + o})),
            }}),
        }
    }
}

impl FakeAcpScript {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the fake advertises `loadSession` (default on).
    pub fn load_session(mut self, on: bool) -> Self {
        self.load_session = on;
        self
    }

    /// Answer `session/load` of a session the fake does not know with
    /// `null` instead of an error (as Hermes does).
    pub fn load_unknown_as_null(mut self) -> Self {
        self.load_null = true;
        self
    }

    /// Whether the fake advertises image prompts (default off).
    pub fn image(mut self, on: bool) -> Self {
        self.image = on;
        self
    }

    /// Adds the script of the next prompt turn.
    pub fn turn(mut self, steps: impl IntoIterator<Item = Step>) -> Self {
        self.turns.push(steps.into_iter().collect());
        self
    }

    /// Writes the script to `dir/script.json` (clearing what an earlier
    /// fake recorded there) and returns its path, for [`SCRIPT_ENV`].
    pub fn write(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let script = json!({
            "load_session": self.load_session,
            "load_null": self.load_null,
            "image": self.image,
            "turns": self.turns.iter().map(|steps| steps.iter().map(Step::to_json).collect::<Vec<_>>()).collect::<Vec<_>>(),
        });
        for stale in ["received.jsonl", "next_turn", "sessions.txt", "sleeper.pid"] {
            let _ = std::fs::remove_file(dir.join(stale));
        }
        let path = dir.join("script.json");
        std::fs::write(&path, script.to_string())?;
        Ok(path)
    }

    /// Every frame the fakes run with the script in `dir` received, in order.
    pub fn received(dir: &Path) -> Vec<Value> {
        std::fs::read_to_string(dir.join("received.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// Forgets the sessions fakes created in `dir` (an agent that lost its
    /// state).
    pub fn forget_sessions(dir: &Path) {
        let _ = std::fs::remove_file(dir.join("sessions.txt"));
    }

    /// The pid of the process [`Step::SpawnSleeper`] started.
    pub fn sleeper_pid(dir: &Path) -> Option<u32> {
        std::fs::read_to_string(dir.join("sleeper.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// The received frames calling `method`.
    pub fn received_calls(dir: &Path, method: &str) -> Vec<Value> {
        Self::received(dir)
            .into_iter()
            .filter(|frame| frame["method"] == method)
            .collect()
    }
}

/// The `fake-acp-agent` binary, built on first use (tests of other crates
/// do not build it otherwise). `HERMOD_FAKE_ACP_AGENT` overrides the path.
///
/// # Panics
///
/// When it cannot be built.
pub fn fake_acp_agent_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(path) = std::env::var_os("HERMOD_FAKE_ACP_AGENT") {
            return PathBuf::from(path);
        }
        // target/<profile>/deps/<test binary> → target/<profile>/fake-acp-agent
        let exe = std::env::current_exe().expect("the test binary has a path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test binaries live in target/<profile>/deps");
        let mut args = vec![
            "build",
            "--quiet",
            // The fake needs nothing of the chat platform (hermod-core).
            "--no-default-features",
            "-p",
            "hermod-testkit",
            "--bin",
            "fake-acp-agent",
        ];
        if profile_dir
            .file_name()
            .is_some_and(|name| name == "release")
        {
            args.push("--release");
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs to build fake-acp-agent");
        assert!(status.success(), "building fake-acp-agent failed");
        let path = profile_dir.join(format!("fake-acp-agent{}", std::env::consts::EXE_SUFFIX));
        assert!(path.exists(), "{} was not built", path.display());
        path
    })
    .clone()
}
