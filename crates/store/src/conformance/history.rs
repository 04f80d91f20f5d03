//! Conformance checks for taking exchanges back (`/undo`, `/retry`).

use super::{append, at, create, sid};
use crate::{AppendMessages, Store, StoredMessage};
use hermod_model::{ChatMessage, Content, Role, ToolCall, Usage};
use std::sync::Arc;

fn texts(messages: &[StoredMessage]) -> Vec<String> {
    messages.iter().map(|m| m.message.text()).collect()
}

async fn history(store: &dyn Store, id: &str) -> Vec<String> {
    texts(&store.messages(&sid(id)).await.expect("messages"))
}

async fn count(store: &dyn Store, id: &str) -> u64 {
    store
        .session(&sid(id))
        .await
        .expect("session")
        .expect("exists")
        .message_count
}

/// The last exchanges go, whole and in order, and the counters follow.
pub async fn undo_takes_back_last_exchanges(store: Arc<dyn Store>) {
    create(&*store, "u", "talk", 1).await;
    let call = ToolCall {
        id: "call_1".into(),
        name: "clock".into(),
        arguments: "{}".into(),
    };
    let asks_tool = ChatMessage {
        content: None,
        tool_calls: vec![call],
        ..ChatMessage::assistant("")
    };
    let tool_result = ChatMessage {
        role: Role::Tool,
        content: Some(Content::Text("noon".into())),
        tool_calls: Vec::new(),
        tool_call_id: Some("call_1".into()),
        name: Some("clock".into()),
    };
    let batch = AppendMessages {
        session: sid("u"),
        messages: vec![
            at(ChatMessage::system("be brief"), 10),
            at(ChatMessage::assistant("hello there"), 11),
            at(ChatMessage::user("what time is it"), 12),
            at(asks_tool, 13),
            at(tool_result, 14),
            at(ChatMessage::assistant("it is noon"), 15),
            at(ChatMessage::user("thanks"), 16),
            at(ChatMessage::assistant("welcome"), 17),
            at(ChatMessage::user("one more"), 18),
        ],
        usage: Usage {
            prompt_tokens: 9,
            completion_tokens: 4,
            total_tokens: 13,
        },
    };
    let ids = store.append_messages(batch).await.expect("append");
    assert_eq!(count(&*store, "u").await, 9);

    // An unanswered user message is an exchange on its own.
    let undone = store.undo_exchanges(&sid("u"), 1).await.expect("undo");
    assert_eq!(texts(&undone), ["one more"]);
    assert_eq!(undone[0].id, ids[8]);
    assert_eq!(undone[0].session, sid("u"));
    assert_eq!(count(&*store, "u").await, 8);

    let undone = store.undo_exchanges(&sid("u"), 2).await.expect("undo");
    assert_eq!(
        undone.iter().map(|m| m.id).collect::<Vec<_>>(),
        ids[2..8],
        "whole exchanges, tool calls included, in order"
    );
    assert_eq!(undone[0].message, ChatMessage::user("what time is it"));
    assert_eq!(undone[1].message.tool_calls.len(), 1);
    assert_eq!(undone[2].message.role, Role::Tool);
    assert_eq!(undone[0].at_ms, 12);
    // What comes before the first user message belongs to no exchange.
    assert_eq!(history(&*store, "u").await, ["be brief", "hello there"]);
    let s = store
        .session(&sid("u"))
        .await
        .expect("session")
        .expect("exists");
    assert_eq!(s.message_count, 2);
    assert_eq!(
        (s.prompt_tokens, s.completion_tokens, s.updated_at_ms),
        (9, 4, 18),
        "spent tokens and activity time stay"
    );
    assert!(
        store
            .undo_exchanges(&sid("u"), 1)
            .await
            .expect("undo with nothing left")
            .is_empty()
    );
    assert_eq!(count(&*store, "u").await, 2);
}

/// Asking for more exchanges than exist takes what there is; 0 takes none.
pub async fn undo_takes_what_exists(store: Arc<dyn Store>) {
    create(&*store, "w", "talk", 1).await;
    assert!(
        store
            .undo_exchanges(&sid("w"), 3)
            .await
            .expect("undo on an empty session")
            .is_empty()
    );
    append(
        &*store,
        "w",
        vec![
            at(ChatMessage::user("a"), 1),
            at(ChatMessage::assistant("b"), 2),
            at(ChatMessage::user("c"), 3),
            at(ChatMessage::assistant("d"), 4),
        ],
    )
    .await;
    assert!(
        store
            .undo_exchanges(&sid("w"), 0)
            .await
            .expect("undo 0")
            .is_empty()
    );
    assert_eq!(history(&*store, "w").await, ["a", "b", "c", "d"]);
    let undone = store.undo_exchanges(&sid("w"), 5).await.expect("undo 5");
    assert_eq!(texts(&undone), ["a", "b", "c", "d"]);
    assert!(history(&*store, "w").await.is_empty());
    assert_eq!(count(&*store, "w").await, 0);
    assert!(
        store
            .undo_exchanges(&sid("w"), usize::MAX)
            .await
            .expect("undo everything again")
            .is_empty()
    );
}

/// `/retry`: the undone user message is appended again and history reads as
/// if the first answer never happened; taken-back messages never return.
pub async fn retry_replaces_the_last_exchange(store: Arc<dyn Store>) {
    create(&*store, "r", "talk", 1).await;
    append(
        &*store,
        "r",
        vec![
            at(ChatMessage::user("first question"), 1),
            at(ChatMessage::assistant("first answer"), 2),
            at(ChatMessage::user("tell me about penguins"), 3),
            at(ChatMessage::assistant("wrong walrus answer"), 4),
        ],
    )
    .await;
    let undone = store.undo_exchanges(&sid("r"), 1).await.expect("undo");
    assert_eq!(undone.len(), 2);
    let question = undone[0].clone();
    assert_eq!(question.message.role, Role::User);
    let new_ids = append(
        &*store,
        "r",
        vec![
            at(question.message.clone(), 5),
            at(ChatMessage::assistant("penguin answer"), 6),
        ],
    )
    .await;
    assert!(new_ids.iter().all(|id| *id > undone[1].id));
    assert_eq!(
        history(&*store, "r").await,
        [
            "first question",
            "first answer",
            "tell me about penguins",
            "penguin answer"
        ]
    );
    assert_eq!(count(&*store, "r").await, 4);

    // Undoing two now skips the messages already taken back.
    let undone = store.undo_exchanges(&sid("r"), 2).await.expect("undo 2");
    assert_eq!(
        texts(&undone),
        [
            "first question",
            "first answer",
            "tell me about penguins",
            "penguin answer"
        ]
    );
    assert_eq!(undone[2].id, new_ids[0]);
    assert_eq!(count(&*store, "r").await, 0);
}

/// Search skips taken-back messages; other sessions are untouched.
pub async fn undone_messages_leave_search(store: Arc<dyn Store>) {
    create(&*store, "a", "talk", 1).await;
    create(&*store, "b", "talk", 1).await;
    append(
        &*store,
        "a",
        vec![
            at(ChatMessage::user("kept marmalade"), 1),
            at(ChatMessage::assistant("fine marmalade"), 2),
            at(ChatMessage::user("undone marmalade quokka"), 3),
            at(ChatMessage::assistant("quokka reply"), 4),
        ],
    )
    .await;
    let kept = append(
        &*store,
        "b",
        vec![
            at(ChatMessage::user("quokka in b"), 5),
            at(ChatMessage::assistant("answer in b"), 6),
        ],
    )
    .await;
    assert_eq!(store.search("quokka", 10).await.expect("search").len(), 3);

    store.undo_exchanges(&sid("a"), 1).await.expect("undo");
    let hits = store.search("quokka", 10).await.expect("search");
    assert_eq!(
        hits.iter().map(|h| h.message_id).collect::<Vec<_>>(),
        [kept[0]]
    );
    assert_eq!(
        store.search("marmalade", 10).await.expect("search").len(),
        2
    );
    // The limit counts only what is found: taken-back hits, even when they
    // would rank first, do not use it up.
    let hits = store.search("quokka", 1).await.expect("search");
    assert_eq!(
        hits.iter().map(|h| h.message_id).collect::<Vec<_>>(),
        [kept[0]]
    );
    assert_eq!(history(&*store, "b").await, ["quokka in b", "answer in b"]);
    assert_eq!(count(&*store, "b").await, 2);
}
