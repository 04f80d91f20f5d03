//! `/resume [name|N]`: continue an earlier conversation of this chat.
//! Without an argument it lists the recent titled ones.

use super::{Category, Command, Cx, Outcome, Spec};
use crate::error::CoreError;
use async_trait::async_trait;
use hermod_store::SessionRecord;

pub(crate) struct Resume;

static SPEC: Spec = Spec {
    name: "resume",
    aliases: &[],
    args: "[name|N]",
    description: "Continue an earlier conversation",
    category: Category::Session,
    while_busy: false,
};

/// Picks the session `arg` names: a number from the listing, an id, or a
/// title (exact, case-insensitive).
pub(crate) fn pick<'a>(sessions: &'a [SessionRecord], arg: &str) -> Option<&'a SessionRecord> {
    if let Ok(n) = arg.parse::<usize>() {
        return n.checked_sub(1).and_then(|i| sessions.get(i));
    }
    sessions.iter().find(|s| s.id.as_str() == arg).or_else(|| {
        sessions.iter().find(|s| {
            s.title
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(arg))
        })
    })
}

#[async_trait]
impl Command for Resume {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    async fn run(&self, cx: &mut Cx<'_>) -> Result<Outcome, CoreError> {
        if cx.job().event.session_id.is_some() {
            return Ok(Outcome::Reply(
                "This conversation is pinned by its session id; send that session's id to continue it."
                    .to_owned(),
            ));
        }
        let all = cx.deps.store.sessions_for_key(cx.key, 50).await?;
        let titled: Vec<SessionRecord> = all
            .iter()
            .filter(|s| s.title.is_some())
            .take(10)
            .cloned()
            .collect();
        let arg = cx.args.trim();
        if arg.is_empty() {
            if titled.is_empty() {
                return Ok(Outcome::Reply(
                    "No titled conversations yet. Name one with /title, or see /sessions."
                        .to_owned(),
                ));
            }
            return Ok(Outcome::Reply(
                super::sessions::render(&titled, None)
                    .replace("Recent conversations:", "Titled conversations:"),
            ));
        }
        let target = match arg.parse::<usize>() {
            Ok(_) => pick(&titled, arg),
            Err(_) => pick(&all, arg),
        };
        let Some(target) = target.cloned() else {
            return Ok(Outcome::Reply(format!(
                "No conversation matches {arg:?}. See /sessions."
            )));
        };
        let now = cx.deps.clock.now_ms();
        if let Some(current) = cx.session().await?
            && current.id != target.id
        {
            cx.deps
                .store
                .end_session(&current.id, "session_switch", now)
                .await?;
            cx.session_event(crate::hooks::SESSION_END, &current.id, "session_switch");
        }
        cx.deps.store.reopen_session(&target.id).await?;
        cx.deps.store.set_route(cx.key, &target.id, now).await?;
        let title = target.title.as_deref().unwrap_or("(untitled)");
        Ok(Outcome::Reply(format!(
            "↪️ Resumed \"{title}\" ({} messages).",
            target.message_count
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hermod_model::{PlatformId, SessionId, SessionKey, Source};

    fn record(id: &str, title: Option<&str>) -> SessionRecord {
        SessionRecord {
            id: SessionId::parse(id).unwrap(),
            key: SessionKey::from_raw("k"),
            platform: PlatformId::from_static("t"),
            source: Source::dm(PlatformId::from_static("t"), "c"),
            title: title.map(str::to_owned),
            created_at_ms: 0,
            updated_at_ms: 0,
            ended_at_ms: None,
            end_reason: None,
            message_count: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            model_override: None,
        }
    }

    #[test]
    fn by_number_id_or_title() {
        let list = [record("a", Some("Trip")), record("b", Some("Taxes"))];
        assert_eq!(pick(&list, "2").map(|s| s.id.as_str()), Some("b"));
        assert_eq!(pick(&list, "0"), None);
        assert_eq!(pick(&list, "3"), None);
        assert_eq!(pick(&list, "a").map(|s| s.id.as_str()), Some("a"));
        assert_eq!(pick(&list, "taxes").map(|s| s.id.as_str()), Some("b"));
        assert_eq!(pick(&list, "nope"), None);
    }
}
