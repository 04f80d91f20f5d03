//! `/voice [on|off|tts|status]`: whether this chat's replies are spoken.
//! The mode is the chat's (kept in the store), so `/new` keeps it.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use crate::session::voice::{self, VoiceMode};
use async_trait::async_trait;

pub(crate) struct Voice;

static SPEC: Spec = Spec {
    name: "voice",
    aliases: &[],
    args: "[on|off|tts|status]",
    description: "Voice replies: on (to voice messages), tts (to every message), off, or status",
    category: Category::Session,
    while_busy: false,
};

/// What a gateway without a speech endpoint says to `/voice on|tts`.
const NO_ENDPOINT: &str = "🔇 This gateway cannot speak: no speech endpoint is configured. \
     Its operator can set one in config.yaml (tts.base_url, tts.api_key and tts.voice, for an \
     OpenAI-compatible /audio/speech endpoint) or set VOICE_TOOLS_OPENAI_KEY, then restart it.";

#[async_trait]
impl Command for Voice {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        if cx.streamed() {
            return Ok(Outcome::Reply(
                "The HTTP API answers in text; /voice works in a chat.".to_owned(),
            ));
        }
        let source = cx.job().event.source.clone();
        if voice::setting_key(&source).is_none() {
            return Ok(Outcome::Reply(
                "This chat has no id to keep a voice setting for.".to_owned(),
            ));
        }
        let store = cx.deps.store.as_ref();
        let word = cx.args.trim().to_ascii_lowercase();
        let wanted = match word.as_str() {
            "" | "status" => None,
            other => match VoiceMode::parse(other) {
                Some(mode) => Some(mode),
                None => {
                    return Ok(Outcome::Reply(format!(
                        "Usage: /voice {}\n{}",
                        SPEC.args,
                        describe(voice::mode(store, &source).await?, cx.deps.voice.is_some())
                    )));
                }
            },
        };
        let Some(mode) = wanted else {
            let mode = voice::mode(store, &source).await?;
            return Ok(Outcome::Reply(describe(mode, cx.deps.voice.is_some())));
        };
        if mode != VoiceMode::Off && cx.deps.voice.is_none() {
            return Ok(Outcome::Reply(NO_ENDPOINT.to_owned()));
        }
        voice::set_mode(store, &source, mode, cx.deps.clock.now_ms()).await?;
        Ok(Outcome::Reply(
            match mode {
                VoiceMode::Off => "🔇 Voice replies off: I answer in text.",
                VoiceMode::Voice => {
                    "🔊 Voice replies on: I answer voice messages with a voice message too."
                }
                VoiceMode::All => {
                    "🔊 Voice replies for everything: every reply comes with a voice message too."
                }
            }
            .to_owned(),
        ))
    }
}

/// The status line for `mode`.
fn describe(mode: VoiceMode, can_speak: bool) -> String {
    let now = match mode {
        VoiceMode::Off => "Voice replies: off (text only).",
        VoiceMode::Voice => {
            "Voice replies: on — voice messages are answered with a voice message too."
        }
        VoiceMode::All => "Voice replies: tts — every reply comes with a voice message too.",
    };
    if can_speak {
        format!("{now} Change it with /voice on, /voice tts or /voice off.")
    } else {
        format!("{now} This gateway has no speech endpoint configured (tts: in config.yaml).")
    }
}
