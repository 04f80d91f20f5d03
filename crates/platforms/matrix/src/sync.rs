//! A `/sync` response read into what the receive loop handles, in order
//! (pure, tested on the spec's example): the timeline events of joined
//! rooms, invites, the bot's `m.direct` rooms and rooms whose membership
//! or encryption changed.
//!
//! Each event stays raw JSON, so one malformed event does not spoil its
//! batch: it is skipped with a warning when it is handled.

use serde_json::Value;
use std::collections::HashSet;

/// The filter of every sync: no presence, typing or receipts; only the
/// account data and state the adapter reads; a timeline of at most 50
/// events per room between two syncs.
pub(crate) const FILTER: &str = r#"{"presence":{"types":[]},"account_data":{"types":["m.direct"]},"room":{"ephemeral":{"types":[]},"account_data":{"types":[]},"state":{"types":["m.room.member","m.room.encryption"],"lazy_load_members":true},"timeline":{"limit":50}}}"#;

/// What one sync response holds for the receive loop.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Batch {
    pub next_batch: String,
    /// Rooms in `m.direct`, when the account data came with this batch.
    pub direct: Option<HashSet<String>>,
    /// Rooms whose membership changed (member counts are stale).
    pub membership: HashSet<String>,
    /// Rooms that are (now) encrypted.
    pub encrypted: HashSet<String>,
    /// Rooms whose timeline was cut (`limited`) in an incremental sync:
    /// messages between the last sync and this one's were left out.
    pub gaps: HashSet<String>,
    pub items: Vec<What>,
}

/// One thing to handle.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum What {
    /// A timeline event of a joined room.
    Event { room: String, event: Value },
    /// The bot was invited to `room` by `inviter`.
    Invite {
        room: String,
        inviter: Option<String>,
        direct: bool,
    },
}

/// Reads a sync response. `history`: keep the timeline events (false on
/// the first sync of a fresh install, so old messages are not answered).
pub(crate) fn read_batch(sync: &Value, bot: &str, history: bool) -> Result<Batch, String> {
    let Some(next_batch) = sync["next_batch"].as_str() else {
        return Err("the sync response has no next_batch".into());
    };
    let mut batch = Batch {
        next_batch: next_batch.to_owned(),
        ..Batch::default()
    };
    if let Some(events) = sync["account_data"]["events"].as_array() {
        for event in events.iter().filter(|e| e["type"] == "m.direct") {
            let rooms = event["content"]
                .as_object()
                .into_iter()
                .flat_map(|users| users.values())
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            batch.direct = Some(rooms);
        }
    }
    if let Some(joined) = sync["rooms"]["join"].as_object() {
        for (room, data) in joined {
            let state = data["state"]["events"].as_array().into_iter().flatten();
            let timeline: Vec<&Value> = data["timeline"]["events"]
                .as_array()
                .into_iter()
                .flatten()
                .collect();
            for event in state.chain(timeline.iter().copied()) {
                match event["type"].as_str() {
                    Some("m.room.member") => {
                        batch.membership.insert(room.clone());
                    }
                    Some("m.room.encryption") => {
                        batch.encrypted.insert(room.clone());
                    }
                    _ => {}
                }
            }
            if history && data["timeline"]["limited"] == true {
                batch.gaps.insert(room.clone());
            }
            if history {
                batch
                    .items
                    .extend(timeline.into_iter().map(|event| What::Event {
                        room: room.clone(),
                        event: event.clone(),
                    }));
            }
        }
    }
    if let Some(invited) = sync["rooms"]["invite"].as_object() {
        for (room, data) in invited {
            let own = data["invite_state"]["events"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["type"] == "m.room.member" && e["state_key"] == bot);
            batch.items.push(What::Invite {
                room: room.clone(),
                inviter: own.and_then(|e| e["sender"].as_str()).map(str::to_owned),
                direct: own.is_some_and(|e| e["content"]["is_direct"] == true),
            });
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Trimmed from the spec's `GET /sync` response example.
    fn example() -> Value {
        json!({
          "account_data": {"events": [
            {"type": "m.direct", "content": {"@alice:example.com": ["!dm:example.com"]}}
          ]},
          "next_batch": "s72595_4483_1934",
          "presence": {"events": []},
          "rooms": {
            "invite": {
              "!696r7674:example.com": {
                "invite_state": {"events": [
                  {"content": {"name": "My Room Name"}, "sender": "@alice:example.com",
                   "state_key": "", "type": "m.room.name"},
                  {"content": {"membership": "invite", "is_direct": true},
                   "sender": "@alice:example.com", "state_key": "@bot:example.com",
                   "type": "m.room.member"}
                ]}
              }
            },
            "join": {
              "!726s6s6q:example.com": {
                "state": {"events": [
                  {"content": {"membership": "join"}, "event_id": "$143273582443PhrSn:example.org",
                   "sender": "@example:example.org", "state_key": "@alice:example.org",
                   "type": "m.room.member"}
                ]},
                "timeline": {"events": [
                  {"content": {"body": "This is an example text message", "msgtype": "m.text"},
                   "event_id": "$143273582443PhrSn:example.org", "origin_server_ts": 1_432_735_824_653_u64,
                   "sender": "@example:example.org", "type": "m.room.message"},
                  {"content": {"algorithm": "m.megolm.v1.aes-sha2"}, "event_id": "$enc:example.org",
                   "sender": "@example:example.org", "state_key": "", "type": "m.room.encryption"}
                ], "limited": true, "prev_batch": "t34-23535_0_0"}
              }
            },
            "leave": {}
          }
        })
    }

    #[test]
    fn a_sync_response_is_read_in_order() {
        let batch = read_batch(&example(), "@bot:example.com", true).unwrap();
        assert_eq!(batch.next_batch, "s72595_4483_1934");
        assert_eq!(
            batch.direct,
            Some(HashSet::from(["!dm:example.com".to_owned()]))
        );
        assert!(batch.membership.contains("!726s6s6q:example.com"));
        assert!(batch.encrypted.contains("!726s6s6q:example.com"));
        assert!(batch.gaps.contains("!726s6s6q:example.com"));
        assert_eq!(batch.items.len(), 3);
        assert!(matches!(&batch.items[0], What::Event { room, event }
            if room == "!726s6s6q:example.com" && event["content"]["body"] == "This is an example text message"));
        assert_eq!(
            batch.items[2],
            What::Invite {
                room: "!696r7674:example.com".into(),
                inviter: Some("@alice:example.com".into()),
                direct: true
            }
        );
    }

    #[test]
    fn the_first_sync_keeps_no_history_but_keeps_invites() {
        let batch = read_batch(&example(), "@bot:example.com", false).unwrap();
        assert_eq!(batch.items.len(), 1);
        assert!(batch.gaps.is_empty(), "a first sync is cut on purpose");
        assert!(matches!(batch.items[0], What::Invite { .. }));
    }

    #[test]
    fn a_response_without_next_batch_is_refused() {
        assert!(read_batch(&json!({"rooms": {}}), "@b:x", true).is_err());
        let empty = read_batch(&json!({"next_batch": "s1"}), "@b:x", true).unwrap();
        assert!(empty.items.is_empty());
    }
}
