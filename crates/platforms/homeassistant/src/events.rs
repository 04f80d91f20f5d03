//! Events → what the agent reads. `state_changed` as Hermes forwarded
//! it: which entities pass the filters ([`Filter`]) and the sentence a
//! change becomes ([`describe`]); the custom message event
//! (`hermod_message`, fired by an automation) with its `text` as it is.
//! Both are submitted ([`inbound`]) — always from the one chat `ha_events` and the one user
//! `homeassistant`, vouched for (the token is the trust boundary, so no
//! allowlist applies). Pure, for tests on the documented payload.

use hermod_model::{ChatType, InboundEvent, Source};
use serde_json::Value;
use std::collections::HashSet;

/// The chat every event comes from and replies go to (Hermes's).
pub const EVENTS_CHAT: &str = "ha_events";

/// Its display name.
const EVENTS_CHAT_NAME: &str = "Home Assistant Events";

/// The one sender of every event.
const USER_ID: &str = "homeassistant";
const USER_NAME: &str = "Home Assistant";

/// Which entities are forwarded: none is ignored, and then either its
/// domain or the entity itself is watched, or — with nothing listed —
/// `watch_all` is on. Closed by default, as in Hermes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    domains: HashSet<String>,
    entities: HashSet<String>,
    ignored: HashSet<String>,
    all: bool,
}

impl Filter {
    pub(crate) fn new(
        domains: &[String],
        entities: &[String],
        ignored: &[String],
        all: bool,
    ) -> Self {
        let set = |list: &[String]| list.iter().map(|s| s.trim().to_owned()).collect();
        Self {
            domains: set(domains),
            entities: set(entities),
            ignored: set(ignored),
            all,
        }
    }

    pub(crate) fn admits(&self, entity_id: &str) -> bool {
        if entity_id.is_empty() || self.ignored.contains(entity_id) {
            return false;
        }
        if self.domains.is_empty() && self.entities.is_empty() {
            return self.all;
        }
        self.domains.contains(domain(entity_id)) || self.entities.contains(entity_id)
    }
}

/// `light` of `light.kitchen` (empty without a dot).
fn domain(entity_id: &str) -> &str {
    entity_id.split_once('.').map_or("", |(d, _)| d)
}

/// One event to forward: a state change or a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StateChange {
    /// The entity that changed; `None` for a message event, which no
    /// filter or cooldown applies to.
    pub(crate) entity_id: Option<String>,
    /// The event's `context.id` (unique per change), else the entity and
    /// `time_fired`: the key the inbox dedupes on.
    pub(crate) key: String,
    /// What the agent reads.
    pub(crate) text: String,
}

/// What an event of the subscription is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Read {
    /// A change to forward (if the filters admit it).
    Change(StateChange),
    /// Not forwarded: the reason, for the debug log.
    Skip(&'static str),
}

/// Reads the `event` object of an event message: a `state_changed`, or
/// `message_event` when one is configured.
pub(crate) fn read(event: &Value, message_event: Option<&str>) -> Read {
    let kind = event.get("event_type").and_then(Value::as_str);
    let data = &event["data"];
    if kind.is_some() && kind == message_event {
        let text = ["text", "message"]
            .iter()
            .find_map(|k| data.get(*k).and_then(Value::as_str))
            .map(str::trim)
            .unwrap_or_default();
        if text.is_empty() {
            return Read::Skip("a message event without text");
        }
        return Read::Change(StateChange {
            entity_id: None,
            key: key_of(event, kind.unwrap_or_default()),
            text: text.to_owned(),
        });
    }
    if kind != Some("state_changed") {
        return Read::Skip("not a state change");
    }
    let Some(entity_id) = data.get("entity_id").and_then(Value::as_str) else {
        return Read::Skip("no entity id");
    };
    let Some(text) = describe(entity_id, &data["old_state"], &data["new_state"]) else {
        return Read::Skip("the state did not change");
    };
    Read::Change(StateChange {
        entity_id: Some(entity_id.to_owned()),
        key: key_of(event, entity_id),
        text,
    })
}

/// The event's `context.id` (a ULID, unique per event), else `what` and
/// `time_fired`.
fn key_of(event: &Value, what: &str) -> String {
    match event.pointer("/context/id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => format!(
            "{what}@{}",
            event
                .get("time_fired")
                .and_then(Value::as_str)
                .unwrap_or_default()
        ),
    }
}

/// A state's value as text (`unknown` when absent, as Hermes had it).
fn state_of(state: &Value) -> String {
    match state.get("state") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "unknown".to_owned(),
        Some(other) => other.to_string(),
    }
}

fn attribute(state: &Value, name: &str) -> Option<String> {
    match state.pointer(&format!("/attributes/{name}"))? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The sentence a change of `entity_id` becomes, worded per domain like
/// Hermes's; `None` when the entity was removed (no new state) or only
/// its attributes changed.
pub(crate) fn describe(entity_id: &str, old: &Value, new: &Value) -> Option<String> {
    if !new.is_object() {
        return None;
    }
    let before = if old.is_object() {
        state_of(old)
    } else {
        "unknown".to_owned()
    };
    let after = state_of(new);
    if before == after {
        return None;
    }
    let name = attribute(new, "friendly_name").unwrap_or_else(|| entity_id.to_owned());
    let text = match domain(entity_id) {
        "climate" => {
            let current = attribute(new, "current_temperature").unwrap_or_else(|| "?".into());
            let target = attribute(new, "temperature").unwrap_or_else(|| "?".into());
            format!(
                "[Home Assistant] {name}: HVAC mode changed from '{before}' to '{after}' \
                 (current: {current}, target: {target})"
            )
        }
        "sensor" => {
            let unit = attribute(new, "unit_of_measurement").unwrap_or_default();
            format!("[Home Assistant] {name}: changed from {before}{unit} to {after}{unit}")
        }
        "binary_sensor" => {
            let word = |s: &str| if s == "on" { "triggered" } else { "cleared" };
            format!(
                "[Home Assistant] {name}: {} (was {})",
                word(&after),
                word(&before)
            )
        }
        "light" | "switch" | "fan" => {
            let word = if after == "on" { "on" } else { "off" };
            format!("[Home Assistant] {name}: turned {word}")
        }
        "alarm_control_panel" => {
            format!("[Home Assistant] {name}: alarm state changed from '{before}' to '{after}'")
        }
        _ => format!("[Home Assistant] {name} ({entity_id}): changed from '{before}' to '{after}'"),
    };
    Some(text)
}

/// The event a change is submitted as.
pub(crate) fn inbound(change: &StateChange) -> InboundEvent {
    let source = Source {
        chat_type: ChatType::Channel,
        chat_name: Some(EVENTS_CHAT_NAME.to_owned()),
        user_id: Some(USER_ID.to_owned()),
        user_name: Some(USER_NAME.to_owned()),
        ..Source::dm(crate::PLATFORM, EVENTS_CHAT)
    };
    let mut event = InboundEvent::text(source, change.text.clone());
    event.message_id = Some(change.key.clone());
    event.vouched = true;
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A `state_changed` message's event as the WebSocket API documents
    /// it (`subscribe_events` example), with a unit.
    fn documented() -> Value {
        json!({
            "data": {
                "entity_id": "light.bed_light",
                "new_state": {
                    "entity_id": "light.bed_light",
                    "last_changed": "2016-11-26T01:37:24.265390+00:00",
                    "state": "on",
                    "attributes": {"rgb_color": [254, 208, 0], "color_temp": 380,
                        "supported_features": 147, "xy_color": [0.5, 0.5],
                        "brightness": 180, "white_value": 200,
                        "friendly_name": "Bed Light"},
                    "last_updated": "2016-11-26T01:37:24.265390+00:00",
                    "context": {"id": "326ef27d19415c60c492fe330945f954",
                        "parent_id": null, "user_id": "31ddb597e03147118cf8d2f8fbea5553"}
                },
                "old_state": {
                    "entity_id": "light.bed_light",
                    "last_changed": "2016-11-26T01:37:10.466994+00:00",
                    "state": "off",
                    "attributes": {"supported_features": 147, "friendly_name": "Bed Light"},
                    "last_updated": "2016-11-26T01:37:10.466994+00:00",
                    "context": {"id": "e4af5b117137425e97658041a0538441",
                        "parent_id": null, "user_id": "31ddb597e03147118cf8d2f8fbea5553"}
                }
            },
            "event_type": "state_changed",
            "time_fired": "2016-11-26T01:37:24.265429+00:00",
            "origin": "LOCAL",
            "context": {"id": "326ef27d19415c60c492fe330945f954",
                "parent_id": null, "user_id": "31ddb597e03147118cf8d2f8fbea5553"}
        })
    }

    #[test]
    fn the_documented_event_becomes_a_sentence_keyed_by_its_context() {
        let Read::Change(change) = read(&documented(), Some("hermod_message")) else {
            panic!("a change");
        };
        assert_eq!(change.entity_id.as_deref(), Some("light.bed_light"));
        assert_eq!(change.key, "326ef27d19415c60c492fe330945f954");
        assert_eq!(change.text, "[Home Assistant] Bed Light: turned on");
        let event = inbound(&change);
        assert_eq!(event.source.chat_id.as_deref(), Some(EVENTS_CHAT));
        assert_eq!(event.source.user_id.as_deref(), Some("homeassistant"));
        assert_eq!(event.source.chat_type, ChatType::Channel);
        assert!(event.vouched, "the token is the trust boundary");
        assert_eq!(event.message_id.as_deref(), Some(change.key.as_str()));
    }

    #[test]
    fn each_domain_is_worded_as_hermes_worded_it() {
        let state = |s: &str, attrs: Value| json!({"state": s, "attributes": attrs});
        let cases = [
            (
                "climate.hall",
                state("off", json!({})),
                state(
                    "heat",
                    json!({"friendly_name": "Hall", "current_temperature": 19.5, "temperature": 21}),
                ),
                "[Home Assistant] Hall: HVAC mode changed from 'off' to 'heat' (current: 19.5, target: 21)",
            ),
            (
                "sensor.temp",
                state("20", json!({})),
                state(
                    "21",
                    json!({"friendly_name": "Temp", "unit_of_measurement": "°C"}),
                ),
                "[Home Assistant] Temp: changed from 20°C to 21°C",
            ),
            (
                "binary_sensor.door",
                state("off", json!({})),
                state("on", json!({"friendly_name": "Door"})),
                "[Home Assistant] Door: triggered (was cleared)",
            ),
            (
                "switch.pump",
                state("on", json!({})),
                state("off", json!({})),
                "[Home Assistant] switch.pump: turned off",
            ),
            (
                "alarm_control_panel.home",
                state("disarmed", json!({})),
                state("triggered", json!({"friendly_name": "Alarm"})),
                "[Home Assistant] Alarm: alarm state changed from 'disarmed' to 'triggered'",
            ),
            (
                "input_boolean.test",
                Value::Null,
                state("on", json!({"friendly_name": "Test"})),
                "[Home Assistant] Test (input_boolean.test): changed from 'unknown' to 'on'",
            ),
        ];
        for (entity, old, new, expected) in cases {
            assert_eq!(describe(entity, &old, &new).as_deref(), Some(expected));
        }
    }

    #[test]
    fn removals_and_attribute_changes_are_not_forwarded() {
        let on = json!({"state": "on", "attributes": {"brightness": 1}});
        let on_brighter = json!({"state": "on", "attributes": {"brightness": 200}});
        assert_eq!(describe("light.x", &on, &on_brighter), None);
        assert_eq!(describe("light.x", &on, &Value::Null), None);
        let mut event = documented();
        event["event_type"] = json!("call_service");
        assert_eq!(read(&event, None), Read::Skip("not a state change"));
    }

    #[test]
    fn a_change_without_a_context_is_keyed_by_entity_and_time() {
        let mut event = documented();
        event.as_object_mut().unwrap().remove("context");
        let Read::Change(change) = read(&event, None) else {
            panic!("a change");
        };
        assert_eq!(
            change.key,
            "light.bed_light@2016-11-26T01:37:24.265429+00:00"
        );
    }

    #[test]
    fn filters_are_closed_by_default_and_ignores_win() {
        let none = Filter::new(&[], &[], &[], false);
        assert!(!none.admits("light.kitchen"));
        let all = Filter::new(&[], &[], &["light.noisy".into()], true);
        assert!(all.admits("light.kitchen"));
        assert!(!all.admits("light.noisy"));
        let some = Filter::new(&["light".into()], &["sensor.door".into()], &[], true);
        assert!(some.admits("light.kitchen"));
        assert!(some.admits("sensor.door"));
        assert!(
            !some.admits("sensor.temp"),
            "watch_all only counts with nothing listed"
        );
        assert!(!some.admits(""));
    }

    #[test]
    fn a_message_event_is_forwarded_as_it_is() {
        let event = json!({
            "event_type": "hermod_message",
            "data": {"text": "  Is the garage door open?  "},
            "origin": "REMOTE",
            "time_fired": "2025-04-30T12:00:00+00:00",
            "context": {"id": "01JT0000000000000000000000", "parent_id": null, "user_id": null}
        });
        let Read::Change(change) = read(&event, Some("hermod_message")) else {
            panic!("a message");
        };
        assert_eq!(change.entity_id, None);
        assert_eq!(change.text, "Is the garage door open?");
        assert_eq!(change.key, "01JT0000000000000000000000");
        let mut other = event.clone();
        other["data"] = json!({"message": "also read"});
        assert!(
            matches!(read(&other, Some("hermod_message")), Read::Change(c) if c.text == "also read")
        );
        assert_eq!(
            read(&event, None),
            Read::Skip("not a state change"),
            "without a message event configured"
        );
        let mut empty = event;
        empty["data"] = json!({});
        assert_eq!(
            read(&empty, Some("hermod_message")),
            Read::Skip("a message event without text")
        );
    }
}
