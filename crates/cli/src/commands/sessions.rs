//! `hermod sessions list|show|search`: read the store.

use crate::SessionsAction;
use crate::commands::{out, utc};
use crate::home::{self, Create};
use crate::{config, database};
use hermod_model::{PlatformId, SessionId};
use hermod_store::{ListSessions, Location, SessionRecord};
use serde_json::json;

pub async fn run(action: SessionsAction) -> anyhow::Result<()> {
    let process = config::process_env();
    let home = home::open(&process, Create::No)?;
    let location = database::location(&home, &process)?;
    // Reading creates no SQLite file.
    if let Location::Sqlite(path) = &location
        && !path.exists()
    {
        out(format_args!(
            "no sessions yet ({} does not exist)",
            path.display()
        ));
        return Ok(());
    }
    let store = database::open_at(&location).await?.store();
    match action {
        SessionsAction::List {
            limit,
            platform,
            json,
        } => {
            let sessions = store
                .list_sessions(ListSessions {
                    platform: platform.map(PlatformId::new),
                    limit,
                    offset: 0,
                })
                .await?;
            if json {
                out(serde_json::to_string_pretty(&sessions)?);
            } else if sessions.is_empty() {
                out("no sessions");
            } else {
                out(format_args!(
                    "{:<34} {:<12} {:>5} {:<20} title",
                    "id", "platform", "msgs", "updated (UTC)"
                ));
                for s in &sessions {
                    out(row(s));
                }
            }
        }
        SessionsAction::Show { id, json } => {
            let id =
                SessionId::parse(&id).map_err(|e| anyhow::anyhow!("invalid session id: {e}"))?;
            let Some(session) = store.session(&id).await? else {
                anyhow::bail!("no session {id}; `hermod sessions list` shows the ids");
            };
            let messages = store.messages(&id).await?;
            if json {
                let msgs: Vec<_> = messages
                    .iter()
                    .map(|m| json!({"id": m.id, "at_ms": m.at_ms, "message": m.message}))
                    .collect();
                out(serde_json::to_string_pretty(
                    &json!({"session": session, "messages": msgs}),
                )?);
            } else {
                out(format_args!("session {} ({})", session.id, session.key));
                out(format_args!(
                    "  created {}  updated {}  tokens in/out {}/{}",
                    utc(session.created_at_ms),
                    utc(session.updated_at_ms),
                    session.prompt_tokens,
                    session.completion_tokens
                ));
                if let (Some(at), Some(reason)) = (session.ended_at_ms, &session.end_reason) {
                    out(format_args!("  ended {} ({reason})", utc(at)));
                }
                for m in &messages {
                    out(format_args!(
                        "\n[{}] {}:",
                        utc(m.at_ms),
                        m.message.role.as_str()
                    ));
                    for call in &m.message.tool_calls {
                        out(format_args!(
                            "  (tool call {} {})",
                            call.name, call.arguments
                        ));
                    }
                    out(m.message.text());
                }
            }
        }
        SessionsAction::Search { query, limit, json } => {
            let hits = store.search(&query, limit).await?;
            if json {
                let hits: Vec<_> = hits
                    .iter()
                    .map(|h| json!({"session": h.session, "message_id": h.message_id, "role": h.role, "snippet": h.snippet, "at_ms": h.at_ms}))
                    .collect();
                out(serde_json::to_string_pretty(&hits)?);
            } else if hits.is_empty() {
                out("no matches");
            } else {
                for h in &hits {
                    out(format_args!(
                        "{}  {}  {}: {}",
                        h.session,
                        utc(h.at_ms),
                        h.role.as_str(),
                        h.snippet
                    ));
                }
            }
        }
    }
    Ok(())
}

fn row(s: &SessionRecord) -> String {
    format!(
        "{:<34} {:<12} {:>5} {:<20} {}",
        s.id.as_str(),
        s.platform.as_str(),
        s.message_count,
        utc(s.updated_at_ms),
        s.title.as_deref().unwrap_or("")
    )
}
