//! [`GatewayConfig`]: the `gateway:` section of `config.yaml` — routing,
//! busy input, session resets, access control and command tiers — and the
//! environment variables that override it.
//!
//! Per-platform settings live under `gateway.platforms.<name>`; core reads
//! them by the platform's name and never knows which platforms exist.

mod context;

pub use context::{
    BUILTIN_PERSONALITIES, CompressionConfig, ContextConfig, DEFAULT_CONTEXT_LENGTH, Personality,
    REASONING_LEVELS, is_neutral_personality,
};

use hermod_model::{ChatType, EnvVars, PlatformId, SessionKeyPolicy};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// What happens to a message that arrives while the session's agent is busy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusyMode {
    /// Cancel the running turn at its next checkpoint; the new message runs next.
    #[default]
    Interrupt,
    /// Run the message as the next turn, in order.
    Queue,
    /// Hand the text to the running turn (after its next tool result);
    /// falls back to queue when the turn cannot take it.
    Steer,
}

impl BusyMode {
    fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "interrupt" => Some(BusyMode::Interrupt),
            "queue" => Some(BusyMode::Queue),
            "steer" => Some(BusyMode::Steer),
            _ => None,
        }
    }
}

/// When a routed session is replaced by a fresh one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetMode {
    #[default]
    None,
    /// After `idle_minutes` without activity.
    Idle,
    /// Daily at `at_hour` (local time of `gateway.timezone`).
    Daily,
    /// Whichever of idle and daily comes first.
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResetPolicy {
    pub mode: ResetMode,
    pub idle_minutes: u64,
    pub at_hour: u8,
}

impl Default for ResetPolicy {
    fn default() -> Self {
        Self {
            mode: ResetMode::None,
            idle_minutes: 1440,
            at_hour: 4,
        }
    }
}

impl ResetPolicy {
    fn validate(&self, at: &str) -> Result<(), String> {
        if self.at_hour > 23 {
            return Err(format!("{at}.at_hour must be 0..=23, got {}", self.at_hour));
        }
        if self.idle_minutes == 0 {
            return Err(format!("{at}.idle_minutes must be at least 1"));
        }
        Ok(())
    }
}

/// What to do with a direct message from a user who is not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DmBehavior {
    /// Answer with a pairing code the owner can approve.
    Pair,
    /// Say nothing.
    Ignore,
}

/// Who may talk to the agent on a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessMode {
    /// Everyone (an allow-all switch or `*`).
    Open,
    /// The listed users; strangers who DM get a pairing code when `pairing`.
    Allowlist { users: usize, pairing: bool },
    /// Nobody until the owner approves a pairing code.
    Pairing,
    /// Nobody: no allowlist, and strangers are ignored.
    Closed,
}

impl std::fmt::Display for AccessMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccessMode::Open => f.write_str("open (everyone may talk to the agent)"),
            AccessMode::Allowlist { users, pairing } => {
                let s = if *users == 1 { "" } else { "s" };
                write!(f, "allowlist ({users} user{s}")?;
                if *pairing {
                    f.write_str("; strangers get a pairing code")?;
                }
                f.write_str(")")
            }
            AccessMode::Pairing => {
                f.write_str("pairing (strangers get a code: hermod pairing approve)")
            }
            AccessMode::Closed => f.write_str("closed (no allowlist and strangers are ignored)"),
        }
    }
}

/// Settings for one platform, under `gateway.platforms.<name>`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlatformPolicy {
    /// `<PLATFORM>_ALLOWED_USERS`; `*` allows everyone.
    #[serde(deserialize_with = "hermod_model::deserialize_list")]
    pub allowed_users: Vec<String>,
    /// `<PLATFORM>_ALLOW_ALL_USERS`.
    pub allow_all_users: bool,
    pub unauthorized_dm_behavior: Option<DmBehavior>,
    /// Users who may run every command in DMs; gating is on only when set.
    #[serde(deserialize_with = "hermod_model::deserialize_list")]
    pub allow_admin_from: Vec<String>,
    /// Commands other DM users may run (besides /help and /whoami).
    #[serde(deserialize_with = "hermod_model::deserialize_list")]
    pub user_allowed_commands: Vec<String>,
    #[serde(deserialize_with = "hermod_model::deserialize_list")]
    pub group_allow_admin_from: Vec<String>,
    #[serde(deserialize_with = "hermod_model::deserialize_list")]
    pub group_user_allowed_commands: Vec<String>,
    pub session_reset: Option<ResetPolicy>,
    pub session_reset_by_type: BTreeMap<String, ResetPolicy>,
    pub busy_input_mode: Option<BusyMode>,
    /// Where scheduled output for this platform goes (`<PLATFORM>_HOME_CHANNEL`);
    /// `/sethome` overrides it.
    pub home_channel: Option<String>,
    /// `<PLATFORM>_HOME_CHANNEL_THREAD_ID`.
    pub home_channel_thread_id: Option<String>,
}

/// The `gateway:` section of `config.yaml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// In groups, give each user their own session.
    pub group_sessions_per_user: bool,
    /// In threads, give each user their own session (threads are shared by default).
    pub thread_sessions_per_user: bool,
    /// Profile name that replaces `main` in session keys.
    pub profile: Option<String>,
    /// How long running turns may take to finish on shutdown before they are
    /// cancelled, in seconds.
    pub drain_timeout_secs: u64,
    /// Tell chats whose turn is running when a drain begins that the
    /// gateway is stopping.
    pub notify_on_drain: bool,
    /// A turn the drain deadline cut short is continued on the next start
    /// if that start comes within this many seconds; older ones are not,
    /// and their chats are told (Hermes' `agent.gateway_auto_continue_freshness`).
    pub auto_continue_freshness_secs: u64,
    /// Messages that may wait behind a running turn in one session.
    pub session_queue: usize,
    /// A session worker with nothing to do for this long is stopped, in seconds.
    pub worker_idle_secs: u64,
    pub busy_input_mode: BusyMode,
    /// Acknowledge busy input ("queued", "interrupting", ...), at most once
    /// per 30 s per session.
    pub busy_ack: bool,
    pub session_reset: ResetPolicy,
    /// Reset policies by chat type (`dm`, `group`, `channel`, `thread`, `forum`).
    pub session_reset_by_type: BTreeMap<String, ResetPolicy>,
    /// IANA time zone for daily resets (`HERMES_TIMEZONE`); the system's
    /// when unset.
    pub timezone: Option<String>,
    /// `GATEWAY_ALLOWED_USERS`: allowed on every platform.
    #[serde(deserialize_with = "hermod_model::deserialize_list")]
    pub allowed_users: Vec<String>,
    /// `GATEWAY_ALLOW_ALL_USERS`: everyone is allowed everywhere.
    pub allow_all_users: bool,
    pub unauthorized_dm_behavior: Option<DmBehavior>,
    pub platforms: BTreeMap<String, PlatformPolicy>,
    /// Replies still undelivered after this many seconds (a long outage)
    /// are recorded as failed instead of being sent late.
    pub outbox_max_age_secs: u64,
    /// Directories besides `HERMOD_HOME/media` the agent may send files
    /// from with `MEDIA:` lines (Hermes' key; `HERMES_MEDIA_ALLOW_DIRS`).
    /// Anything else on the machine stays private to it.
    #[serde(deserialize_with = "hermod_model::deserialize_list")]
    pub media_delivery_allow_dirs: Vec<String>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            group_sessions_per_user: true,
            thread_sessions_per_user: false,
            profile: None,
            drain_timeout_secs: 30,
            notify_on_drain: true,
            auto_continue_freshness_secs: 3600,
            session_queue: 32,
            worker_idle_secs: 300,
            busy_input_mode: BusyMode::Interrupt,
            busy_ack: true,
            session_reset: ResetPolicy::default(),
            session_reset_by_type: BTreeMap::new(),
            timezone: None,
            allowed_users: Vec::new(),
            allow_all_users: false,
            unauthorized_dm_behavior: None,
            platforms: BTreeMap::new(),
            outbox_max_age_secs: 3600,
            media_delivery_allow_dirs: Vec::new(),
        }
    }
}

impl GatewayConfig {
    /// Applies the environment variables this section honours. `platforms`
    /// names every platform this build knows, for `<PLATFORM>_ALLOWED_USERS`
    /// and `<PLATFORM>_ALLOW_ALL_USERS`.
    pub fn apply_env(&mut self, env: &EnvVars, platforms: &[&str]) -> Result<(), String> {
        for key in ["HERMES_RESTART_DRAIN_TIMEOUT", "HERMOD_DRAIN_TIMEOUT"] {
            if let Some(secs) = env.get_parsed::<f64>(key)? {
                if !(0.0..=86_400.0).contains(&secs) {
                    return Err(format!("{key} must be between 0 and 86400 seconds"));
                }
                self.drain_timeout_secs = secs.ceil() as u64;
            }
        }
        if let Some(secs) = env.get_parsed::<f64>("HERMES_AUTO_CONTINUE_FRESHNESS")? {
            if !(0.0..=31_536_000.0).contains(&secs) {
                return Err(
                    "HERMES_AUTO_CONTINUE_FRESHNESS must be between 0 and 31536000 seconds".into(),
                );
            }
            self.auto_continue_freshness_secs = secs.ceil() as u64;
        }
        if let Some(minutes) = env.get_parsed::<u64>("SESSION_IDLE_MINUTES")? {
            self.session_reset.idle_minutes = minutes;
        }
        if let Some(hour) = env.get_parsed::<u8>("SESSION_RESET_HOUR")? {
            self.session_reset.at_hour = hour;
        }
        for key in ["HERMES_GATEWAY_BUSY_INPUT_MODE", "HERMOD_BUSY_INPUT_MODE"] {
            if let Some(raw) = env.get(key) {
                self.busy_input_mode = BusyMode::parse(raw)
                    .ok_or_else(|| format!("{key}={raw:?} must be interrupt, queue or steer"))?;
            }
        }
        if let Some(ack) = env.get_bool("HERMES_GATEWAY_BUSY_ACK_ENABLED")? {
            self.busy_ack = ack;
        }
        if let Some(tz) = env.get("HERMES_TIMEZONE") {
            self.timezone = Some(tz.trim().to_owned());
        }
        if let Some(list) = env.get("GATEWAY_ALLOWED_USERS") {
            self.allowed_users = hermod_model::split_list(list);
        }
        if let Some(all) = env.get_bool("GATEWAY_ALLOW_ALL_USERS")? {
            self.allow_all_users = all;
        }
        if let Some(dirs) = env.get("HERMES_MEDIA_ALLOW_DIRS") {
            // Hermes accepts both separators: a list of paths, or a PATH-like value.
            self.media_delivery_allow_dirs = dirs
                .split([',', ':'])
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect();
        }
        for platform in platforms {
            let upper = platform.to_ascii_uppercase();
            let list = env
                .get(&format!("{upper}_ALLOWED_USERS"))
                .map(hermod_model::split_list);
            let all = env.get_bool(&format!("{upper}_ALLOW_ALL_USERS"))?;
            let home = home_from(env, &format!("{upper}_HOME_CHANNEL"));
            if list.is_none() && all.is_none() && home.is_none() {
                continue;
            }
            let policy = self.platforms.entry((*platform).to_owned()).or_default();
            home.set(policy);
            if let Some(list) = list {
                policy.allowed_users = list;
            }
            if let Some(all) = all {
                policy.allow_all_users = all;
            }
        }
        Ok(())
    }

    /// Reads `platform`'s home channel from `variable` (and
    /// `<variable>_THREAD_ID`), its own name for it, unless
    /// `<PLATFORM>_HOME_CHANNEL` set it already.
    pub fn apply_home_channel_variable(&mut self, env: &EnvVars, platform: &str, variable: &str) {
        let upper = platform.to_ascii_uppercase();
        if env.get(&format!("{upper}_HOME_CHANNEL")).is_some() {
            return;
        }
        let home = home_from(env, variable);
        if !home.is_none() {
            home.set(self.platforms.entry(platform.to_owned()).or_default());
        }
    }

    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.session_queue == 0 {
            return Err("gateway.session_queue must be at least 1".into());
        }
        self.session_reset.validate("gateway.session_reset")?;
        check_types(&self.session_reset_by_type, "gateway.session_reset_by_type")?;
        if let Some(tz) = &self.timezone {
            jiff::tz::TimeZone::get(tz).map_err(|e| {
                format!("gateway.timezone {tz:?} is not a known IANA time zone: {e}")
            })?;
        }
        for (name, p) in &self.platforms {
            if let Some(r) = &p.session_reset {
                r.validate(&format!("gateway.platforms.{name}.session_reset"))?;
            }
            check_types(
                &p.session_reset_by_type,
                &format!("gateway.platforms.{name}.session_reset_by_type"),
            )?;
        }
        Ok(())
    }

    pub fn key_policy(&self) -> SessionKeyPolicy {
        SessionKeyPolicy {
            group_sessions_per_user: self.group_sessions_per_user,
            thread_sessions_per_user: self.thread_sessions_per_user,
            profile: self.profile.clone(),
        }
    }

    pub fn drain_timeout(&self) -> Duration {
        Duration::from_secs(self.drain_timeout_secs)
    }

    /// How old a drain-interrupted turn may be and still be continued.
    pub fn auto_continue_freshness(&self) -> Duration {
        Duration::from_secs(self.auto_continue_freshness_secs)
    }

    pub fn worker_idle(&self) -> Duration {
        Duration::from_secs(self.worker_idle_secs.max(1))
    }

    /// The settings of one platform (defaults when it has none).
    pub fn platform(&self, platform: &PlatformId) -> &PlatformPolicy {
        static EMPTY: std::sync::OnceLock<PlatformPolicy> = std::sync::OnceLock::new();
        self.platforms
            .get(platform.as_str())
            .unwrap_or_else(|| EMPTY.get_or_init(PlatformPolicy::default))
    }

    /// The reset policy for a chat: platform and type > platform > type > global.
    pub fn reset_policy(&self, platform: &PlatformId, chat_type: &ChatType) -> ResetPolicy {
        let p = self.platform(platform);
        p.session_reset_by_type
            .get(chat_type.as_str())
            .or(p.session_reset.as_ref())
            .or_else(|| self.session_reset_by_type.get(chat_type.as_str()))
            .copied()
            .unwrap_or(self.session_reset)
    }

    /// What to do with an unauthorized DM on `platform`: the platform's
    /// setting, the global one, `ignore` when an allowlist exists (the owner
    /// chose who may talk), else `pair`.
    pub fn dm_behavior(&self, platform: &str) -> DmBehavior {
        let p = self.platforms.get(platform);
        let allowlist =
            p.is_some_and(|p| !p.allowed_users.is_empty()) || !self.allowed_users.is_empty();
        p.and_then(|p| p.unauthorized_dm_behavior)
            .or(self.unauthorized_dm_behavior)
            .unwrap_or(if allowlist {
                DmBehavior::Ignore
            } else {
                DmBehavior::Pair
            })
    }

    /// Who may talk on `platform`, in the words `config check` uses. Users
    /// approved through pairing are allowed in every mode.
    pub fn access_mode(&self, platform: &str) -> AccessMode {
        let p = self.platforms.get(platform);
        let everyone = |list: &[String]| list.iter().any(|id| id == "*");
        let platform_list = p.map_or(&[][..], |p| p.allowed_users.as_slice());
        if p.is_some_and(|p| p.allow_all_users)
            || self.allow_all_users
            || everyone(platform_list)
            || everyone(&self.allowed_users)
        {
            return AccessMode::Open;
        }
        let users = platform_list.len() + self.allowed_users.len();
        match (users > 0, self.dm_behavior(platform)) {
            (true, behavior) => AccessMode::Allowlist {
                users,
                pairing: behavior == DmBehavior::Pair,
            },
            (false, DmBehavior::Pair) => AccessMode::Pairing,
            (false, DmBehavior::Ignore) => AccessMode::Closed,
        }
    }

    pub fn busy_mode(&self, platform: &PlatformId) -> BusyMode {
        self.platform(platform)
            .busy_input_mode
            .unwrap_or(self.busy_input_mode)
    }
}

fn check_types(map: &BTreeMap<String, ResetPolicy>, at: &str) -> Result<(), String> {
    for (chat_type, policy) in map {
        if ChatType::parse(chat_type).is_none() {
            return Err(format!(
                "{at}.{chat_type}: unknown chat type (use dm, group, channel, thread or forum)"
            ));
        }
        policy.validate(&format!("{at}.{chat_type}"))?;
    }
    Ok(())
}

/// A home channel and its thread, as `<variable>` and
/// `<variable>_THREAD_ID` give them.
struct Home {
    channel: Option<String>,
    thread: Option<String>,
}

fn home_from(env: &EnvVars, variable: &str) -> Home {
    let read = |name: &str| env.get(name).map(|s| s.trim().to_owned());
    Home {
        channel: read(variable),
        thread: read(&format!("{variable}_THREAD_ID")),
    }
}

impl Home {
    fn is_none(&self) -> bool {
        self.channel.is_none() && self.thread.is_none()
    }

    /// Sets what was given, leaving the rest of `policy` as it is.
    fn set(self, policy: &mut PlatformPolicy) {
        if self.channel.is_some() {
            policy.home_channel = self.channel;
        }
        if self.thread.is_some() {
            policy.home_channel_thread_id = self.thread;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_policy_precedence() {
        let mut c = GatewayConfig::default();
        c.session_reset.mode = ResetMode::Idle;
        c.session_reset_by_type.insert(
            "group".into(),
            ResetPolicy {
                mode: ResetMode::Daily,
                ..Default::default()
            },
        );
        let tg = PlatformId::from_static("tg");
        assert_eq!(c.reset_policy(&tg, &ChatType::Dm).mode, ResetMode::Idle);
        assert_eq!(c.reset_policy(&tg, &ChatType::Group).mode, ResetMode::Daily);
        c.platforms.entry("tg".into()).or_default().session_reset = Some(ResetPolicy {
            mode: ResetMode::Both,
            ..Default::default()
        });
        assert_eq!(c.reset_policy(&tg, &ChatType::Group).mode, ResetMode::Both);
        c.platforms
            .entry("tg".into())
            .or_default()
            .session_reset_by_type
            .insert("dm".into(), ResetPolicy::default());
        assert_eq!(c.reset_policy(&tg, &ChatType::Dm).mode, ResetMode::None);
    }

    #[test]
    fn a_platforms_own_home_variable_is_read_unless_the_common_one_is_set() {
        let env: EnvVars = [
            ("MAIL_HOME_ADDRESS", "me@example.org"),
            ("MAIL_HOME_ADDRESS_THREAD_ID", "<root@example.org>"),
            ("ROOMS_HOME_CHANNEL", "!common:example.org"),
            ("ROOMS_HOME_ROOM", "!own:example.org"),
        ]
        .into_iter()
        .collect();
        let mut c = GatewayConfig::default();
        c.apply_env(&env, &["mail", "rooms"]).unwrap();
        c.apply_home_channel_variable(&env, "mail", "MAIL_HOME_ADDRESS");
        c.apply_home_channel_variable(&env, "rooms", "ROOMS_HOME_ROOM");
        c.apply_home_channel_variable(&env, "quiet", "QUIET_HOME_SPOT");
        let mail = &c.platforms["mail"];
        assert_eq!(mail.home_channel.as_deref(), Some("me@example.org"));
        assert_eq!(
            mail.home_channel_thread_id.as_deref(),
            Some("<root@example.org>")
        );
        assert_eq!(
            c.platforms["rooms"].home_channel.as_deref(),
            Some("!common:example.org"),
            "<PLATFORM>_HOME_CHANNEL wins"
        );
        assert!(
            !c.platforms.contains_key("quiet"),
            "nothing set, nothing made"
        );
    }

    #[test]
    fn env_overrides() {
        let env: EnvVars = [
            ("SESSION_IDLE_MINUTES", "30"),
            ("SESSION_RESET_HOUR", "6"),
            ("TG_ALLOWED_USERS", "1, 2 ,alice"),
            ("GATEWAY_ALLOW_ALL_USERS", "yes"),
            ("HERMES_GATEWAY_BUSY_INPUT_MODE", "queue"),
            ("HERMES_TIMEZONE", "Europe/Berlin"),
            ("HERMES_AUTO_CONTINUE_FRESHNESS", "600.5"),
            ("HERMES_MEDIA_ALLOW_DIRS", "/srv/out, /tmp/a:/tmp/b"),
        ]
        .into_iter()
        .collect();
        let mut c = GatewayConfig::default();
        c.apply_env(&env, &["tg", "other"]).unwrap();
        assert_eq!(c.session_reset.idle_minutes, 30);
        assert_eq!(c.session_reset.at_hour, 6);
        assert_eq!(c.platforms["tg"].allowed_users, ["1", "2", "alice"]);
        assert!(!c.platforms.contains_key("other"));
        assert!(c.allow_all_users);
        assert_eq!(c.busy_input_mode, BusyMode::Queue);
        assert_eq!(c.timezone.as_deref(), Some("Europe/Berlin"));
        assert_eq!(c.auto_continue_freshness(), Duration::from_secs(601));
        assert_eq!(
            c.media_delivery_allow_dirs,
            ["/srv/out", "/tmp/a", "/tmp/b"]
        );
        assert!(GatewayConfig::default().notify_on_drain);
        let bad: EnvVars = [("HERMES_GATEWAY_BUSY_INPUT_MODE", "yell")]
            .into_iter()
            .collect();
        assert!(
            c.apply_env(&bad, &[])
                .unwrap_err()
                .contains("interrupt, queue or steer")
        );
    }

    #[test]
    fn access_modes() {
        let mut c = GatewayConfig::default();
        assert_eq!(c.access_mode("tg"), AccessMode::Pairing);
        c.unauthorized_dm_behavior = Some(DmBehavior::Ignore);
        assert_eq!(c.access_mode("tg"), AccessMode::Closed);
        c.platforms.entry("tg".into()).or_default().allowed_users = vec!["1".into()];
        assert_eq!(
            c.access_mode("tg"),
            AccessMode::Allowlist {
                users: 1,
                pairing: false
            }
        );
        assert_eq!(c.access_mode("other"), AccessMode::Closed);
        c.allowed_users = vec!["*".into()];
        assert_eq!(c.access_mode("other"), AccessMode::Open);
        assert!(AccessMode::Pairing.to_string().contains("pairing"));
    }

    #[test]
    fn validation() {
        let mut c = GatewayConfig::default();
        assert!(c.validate().is_ok());
        c.session_reset.at_hour = 24;
        assert!(c.validate().unwrap_err().contains("at_hour"));
        c.session_reset.at_hour = 4;
        c.session_reset_by_type
            .insert("lobby".into(), ResetPolicy::default());
        assert!(c.validate().unwrap_err().contains("unknown chat type"));
        c.session_reset_by_type.clear();
        c.timezone = Some("Mars/Olympus".into());
        assert!(c.validate().unwrap_err().contains("time zone"));
        c.timezone = Some("Europe/Berlin".into());
        assert!(c.validate().is_ok());
    }
}
