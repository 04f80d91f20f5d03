//! Every platform the Hermes gateway serves, whether or not this build has
//! an adapter for it, so hermod can recognise a Hermes user's settings for
//! them and say what happens to each instead of ignoring it silently.

/// A platform known by name, with the prefixes of its environment variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownPlatform {
    /// The name used in `platforms.<name>` and in session keys.
    pub name: &'static str,
    /// The name people know it by.
    pub display: &'static str,
    /// Prefixes of its environment variables (`TELEGRAM_` ...).
    pub env_prefixes: &'static [&'static str],
}

const fn platform(
    name: &'static str,
    display: &'static str,
    env_prefixes: &'static [&'static str],
) -> KnownPlatform {
    KnownPlatform {
        name,
        display,
        env_prefixes,
    }
}

/// The platforms of the Hermes gateway (0.19), by their Hermes names.
pub const KNOWN_PLATFORMS: &[KnownPlatform] = &[
    platform("api_server", "the HTTP API server", &["API_SERVER_"]),
    platform("telegram", "Telegram", &["TELEGRAM_", "HERMES_TELEGRAM_"]),
    platform("discord", "Discord", &["DISCORD_"]),
    platform("slack", "Slack", &["SLACK_"]),
    platform("matrix", "Matrix", &["MATRIX_"]),
    platform("mattermost", "Mattermost", &["MATTERMOST_"]),
    platform("whatsapp", "WhatsApp", &["WHATSAPP_"]),
    platform("whatsapp_cloud", "WhatsApp Cloud API", &["WHATSAPP_CLOUD_"]),
    platform("signal", "Signal", &["SIGNAL_"]),
    platform("email", "email", &["EMAIL_"]),
    platform("sms", "SMS (Twilio)", &["SMS_", "TWILIO_"]),
    platform("homeassistant", "Home Assistant", &["HASS_"]),
    platform("dingtalk", "DingTalk", &["DINGTALK_"]),
    platform("feishu", "Feishu/Lark", &["FEISHU_"]),
    platform("wecom", "WeCom", &["WECOM_"]),
    platform("wecom_callback", "WeCom (callback)", &["WECOM_CALLBACK_"]),
    platform("weixin", "Weixin", &["WEIXIN_"]),
    platform("qqbot", "QQ", &["QQ_"]),
    platform("yuanbao", "Yuanbao", &["YUANBAO_"]),
    platform("bluebubbles", "BlueBubbles (iMessage)", &["BLUEBUBBLES_"]),
    platform("photon", "Photon (iMessage)", &["PHOTON_"]),
    platform("google_chat", "Google Chat", &["GOOGLE_CHAT_"]),
    platform("teams", "Microsoft Teams", &["TEAMS_"]),
    platform("line", "LINE", &["LINE_"]),
    platform("irc", "IRC", &["IRC_"]),
    platform("ntfy", "ntfy", &["NTFY_"]),
    platform("simplex", "SimpleX", &["SIMPLEX_"]),
    platform("raft", "Raft", &["RAFT_"]),
    platform(
        "msgraph_webhook",
        "Microsoft Graph webhooks",
        &["MSGRAPH_WEBHOOK_"],
    ),
    platform("webhook", "webhooks", &["WEBHOOK_"]),
    platform("relay", "the gateway relay", &["GATEWAY_RELAY_"]),
];

/// The known platform an environment variable belongs to: the one with the
/// longest matching prefix (`WHATSAPP_CLOUD_` before `WHATSAPP_`).
pub fn platform_of_variable(name: &str) -> Option<&'static KnownPlatform> {
    KNOWN_PLATFORMS
        .iter()
        .flat_map(|p| p.env_prefixes.iter().map(move |prefix| (p, *prefix)))
        .filter(|(_, prefix)| name.starts_with(prefix))
        .max_by_key(|(_, prefix)| prefix.len())
        .map(|(p, _)| p)
}

/// The known platform called `name`.
pub fn known_platform(name: &str) -> Option<&'static KnownPlatform> {
    KNOWN_PLATFORMS.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_belong_to_the_most_specific_platform() {
        let of = |v: &str| platform_of_variable(v).map(|p| p.name);
        assert_eq!(of("WHATSAPP_CLOUD_ACCESS_TOKEN"), Some("whatsapp_cloud"));
        assert_eq!(of("WHATSAPP_ENABLED"), Some("whatsapp"));
        assert_eq!(of("WECOM_CALLBACK_TOKEN"), Some("wecom_callback"));
        assert_eq!(of("TWILIO_AUTH_TOKEN"), Some("sms"));
        assert_eq!(of("HERMES_TELEGRAM_TIMEOUT"), Some("telegram"));
        assert_eq!(of("OPENAI_API_KEY"), None);
    }

    #[test]
    fn every_compiled_platform_is_known() {
        for name in crate::platform_names() {
            assert!(known_platform(name).is_some(), "{name}");
        }
    }
}
