//! What hermod does instead of each Hermes setting it does not use, for
//! the settings where that is worth saying: the text of the notices a
//! Hermes `config.yaml` gets.

/// What hermod does instead of a Hermes setting (`*` stands for any
/// platform).
pub(super) const INSTEAD: &[(&str, &str)] = &[
    (
        "platforms.*.token",
        "hermod reads platform tokens from their environment variables (<PLATFORM>_BOT_TOKEN ...) in .env",
    ),
    (
        "platforms.*.api_key",
        "hermod reads platform keys from their environment variables in .env",
    ),
    (
        "platforms.*.gateway_restart_notification",
        "hermod tells every chat with a running turn when it stops (gateway.notify_on_drain: false turns it off)",
    ),
    (
        "platforms.*.typing_indicator",
        "hermod shows typing while a reply is written where the platform has it",
    ),
    (
        "platforms.*.typing_status_text",
        "hermod shows the platform's plain typing indicator",
    ),
    (
        "platforms.*.channel_overrides",
        "every chat uses the same model and system prompt (model.default, agent.system_prompt)",
    ),
    (
        "platforms.*.channel_prompts",
        "every chat uses agent.system_prompt",
    ),
    (
        "platforms.*.channel_skill_bindings",
        "hermod has no skills yet",
    ),
    (
        "platforms.*.notice_delivery",
        "notices go to the chat they concern",
    ),
    ("platforms.*.reply_prefix", "replies carry no prefix"),
    (
        "platforms.*.reply_in_thread",
        "replies go where the message came from",
    ),
    (
        "platforms.*.cron_continuable_surface",
        "scheduled jobs deliver to the targets they name",
    ),
    (
        "platforms.*.allowed_chats",
        "use the platform's allowlist variables",
    ),
    (
        "platforms.*.group_allowed_chats",
        "use the platform's allowlist variables",
    ),
    (
        "platforms.*.allowed_topics",
        "every topic of an allowed chat is answered",
    ),
    (
        "platforms.*.mention_patterns",
        "in groups hermod answers mentions, replies and commands",
    ),
    (
        "platforms.*.exclusive_bot_mentions",
        "in groups hermod answers mentions, replies and commands",
    ),
    (
        "platforms.*.observe_unmentioned_group_messages",
        "unmentioned group messages are not kept",
    ),
    (
        "platforms.*.dm_policy",
        "access follows the allowlists and pairing (hermod pairing)",
    ),
    (
        "platforms.*.allow_from",
        "use the platform's ALLOWED_USERS variable",
    ),
    (
        "platforms.*.group_policy",
        "access follows the allowlists and pairing",
    ),
    (
        "platforms.*.group_allow_from",
        "use the platform's GROUP_ALLOWED_USERS variable",
    ),
    (
        "auxiliary.compression",
        "summaries are written by the conversation's own model",
    ),
    (
        "compression.protect_first_n",
        "the first messages are summarized like the others; the latest are kept (compression.protect_last_n)",
    ),
    (
        "auxiliary.web_extract",
        "web_fetch gives the model the page's text; nothing summarises it first",
    ),
    (
        "auxiliary.vision.provider",
        "hermod reaches the vision model through auxiliary.vision.base_url (the model's endpoint when unset)",
    ),
    (
        "stt.provider",
        "hermod transcribes through one OpenAI-compatible endpoint: stt.base_url",
    ),
    (
        "voice",
        "Hermes' voice section is its terminal voice mode; in chats, voice replies are /voice (the tts: section)",
    ),
    ("browser", "hermod has no browser tool"),
    ("delegation", "hermod does not delegate to subagents"),
    ("skills", "hermod has no skills yet"),
    ("honcho", "hermod has no long-term memory provider"),
    (
        "cron",
        "hermod's scheduled jobs take no settings here; `hermod import hermes` moves the jobs themselves",
    ),
    (
        "security",
        "hermod's security settings are its own (allowlists, API key)",
    ),
    ("privacy", "hermod never logs message text"),
    ("logging", "use RUST_LOG or -v for log levels"),
    ("checkpoints", "hermod has no file checkpoints"),
    ("code_execution", "hermod has no code execution tool"),
    (
        "web",
        "hermod fetches pages with its own web_fetch tool (the web_fetch: section); it has no search backend",
    ),
    (
        "custom_providers",
        "set model.provider: custom with model.base_url for one endpoint",
    ),
    (
        "providers",
        "set model.provider (and model.base_url for a custom endpoint)",
    ),
    (
        "fallback_model",
        "hermod uses one model; failed requests are retried",
    ),
    (
        "smart_model_routing",
        "hermod uses model.default for every turn",
    ),
    ("model_aliases", "hermod uses model.default for every turn"),
    ("plugins", "hermod has no plugins"),
    (
        "context",
        "hermod's own compression applies (compression:); there is no other context engine",
    ),
    ("prompt_caching", "hermod leaves caching to the provider"),
    (
        "human_delay",
        "replies are sent as soon as they are written",
    ),
    (
        "command_allowlist",
        "answer /approve always in the chat: hermod remembers it per user",
    ),
    (
        "approvals.mode",
        "hermod asks in the chat for every dangerous command (Hermes' manual mode)",
    ),
    (
        "approvals.cron_mode",
        "scheduled jobs cannot be asked: their dangerous commands are denied",
    ),
    ("memory.provider", "hermod keeps notes in its own database"),
    (
        "memory.user_profile_enabled",
        "hermod keeps one set of notes per user (the memory tool)",
    ),
    ("memory.user_char_limit", "see memory.memory_char_limit"),
    (
        "memory.write_approval",
        "the memory tool writes without asking; list approvals.require: [memory] to ask",
    ),
    (
        "terminal.backend",
        "hermod runs commands on this machine, in the workspace (terminal.cwd)",
    ),
    ("kanban", "hermod has no kanban board"),
    ("dashboard", "hermod has no dashboard; see hermod sessions"),
    ("network", "hermod uses the system's network settings"),
    ("quick_commands", "hermod has no quick commands yet"),
    (
        "multiplex_profiles",
        "one hermod serves one profile (gateway.profile)",
    ),
    (
        "profile_routes",
        "one hermod serves one profile (gateway.profile)",
    ),
    ("reset_triggers", "/new and /reset start a new session"),
    ("always_log_local", "hermod logs to stderr (RUST_LOG)"),
    (
        "filter_silence_narration",
        "replies that are only a silence marker are never sent",
    ),
    (
        "session_store_max_age_days",
        "sessions are kept until deleted",
    ),
    (
        "write_sessions_json",
        "sessions are in hermod.db (hermod sessions list)",
    ),
    (
        "model.api_mode",
        "hermod always uses the chat-completions API",
    ),
    (
        "model.max_tokens",
        "the provider's default reply length applies",
    ),
    (
        "agent.gateway_timeout",
        "no whole-turn time limit: each model request is limited by model.timeout_secs and each turn by agent.max_turns; /stop ends a turn",
    ),
    ("agent.verbose", "use -v or RUST_LOG"),
    (
        "display.show_reasoning",
        "reasoning is never shown in chats",
    ),
    (
        "display.background_process_notifications",
        "hermod runs no background processes",
    ),
    (
        "display.ephemeral_system_ttl",
        "hermod has no ephemeral messages",
    ),
    ("display.runtime_footer", "replies carry no footer"),
    (
        "display.interim_assistant_messages",
        "text the model writes between tool calls is part of the reply",
    ),
    (
        "display.long_running_notifications",
        "typing stays on while a turn runs",
    ),
    (
        "display.busy_ack_detail",
        "busy acknowledgements are short (gateway.busy_ack)",
    ),
    ("display.busy_steer_ack_enabled", "see gateway.busy_ack"),
    (
        "display.tool_progress_grouping",
        "see display.tool_progress",
    ),
    (
        "display.tool_preview_length",
        "tool progress lines show the tool's name",
    ),
    (
        "display.reasoning_style",
        "reasoning is never shown in chats",
    ),
    ("display.cleanup_progress", "tool progress lines stay"),
    ("display.live_status", "see display.tool_progress"),
    (
        "display.tool_progress_overrides",
        "use display.platforms.<name>.tool_progress",
    ),
    (
        "streaming.fresh_final_after_seconds",
        "the finished reply replaces the preview in place",
    ),
    (
        "gateway.max_concurrent_sessions",
        "every session runs concurrently; gateway.session_queue bounds the messages waiting in one",
    ),
    (
        "gateway.systemd_watchdog_seconds",
        "hermod does not ping a systemd watchdog yet",
    ),
    (
        "gateway.always_log_local",
        "hermod logs to stderr (RUST_LOG)",
    ),
    (
        "platforms.*.enabled",
        "hermod runs a platform whenever its token is set",
    ),
    (
        "session_reset.notify",
        "hermod does not announce automatic resets",
    ),
];
