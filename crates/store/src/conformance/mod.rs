//! The behaviour every [`Store`] implementation must show, as a test suite.
//!
//! Each check is a public async function taking a fresh, empty store; the
//! [`store_conformance_tests!`](crate::store_conformance_tests) macro turns
//! the whole list into `#[test]` functions for one implementation:
//!
//! ```no_run
//! mod sqlite_in_memory {
//!     hermod_store::store_conformance_tests!(
//!         hermod_store::SqliteStore::open_in_memory().expect("open")
//!     );
//! }
//! ```
//!
//! The expression is evaluated inside an async block, once per test, so it
//! may `.await`. When the store needs something kept alive beside it (a
//! temporary directory, a database server), write `guarded:` before an
//! expression that yields `(store, guard)`; the guard is dropped after the
//! test. With `maybe:` the expression yields `Option<(store, guard)>`, and
//! `None` (no such server on this machine) ends the test at once.
//! The checks use only the [`Store`] trait, so a new backend runs them unchanged.

mod cluster;
mod cron;
mod handoff;
mod history;
mod inbox;
mod memory;
mod messages;
mod outbox;
mod pairing;
mod responses;
mod sessions;
mod settings;
mod summaries;

pub use cluster::{
    a_lease_goes_to_exactly_one_of_many, leases_are_exclusive_until_they_run_out,
    leases_list_renew_and_release_by_owner, nodes_beat_list_purge_and_remove,
};
pub use cron::{
    cron_changes_count_every_change, cron_claim_runs_a_time_once,
    cron_claim_takes_over_an_expired_claim, cron_jobs_round_trip_and_update,
    cron_missed_times_and_bounded_history,
};
pub use handoff::{handoff_state_machine, handoffs_in_lists_by_state_oldest_first};
pub use history::{
    retry_replaces_the_last_exchange, undo_takes_back_last_exchanges, undo_takes_what_exists,
    undone_messages_leave_search,
};
pub use inbox::{
    inbox_records_once_and_tracks_progress, inbox_start_turn_links_the_user_message,
    inbox_unfinished_pages_through_everything,
};
pub use memory::{
    approval_grants_per_owner, memory_notes_per_owner, search_owned_sees_only_the_owners_sessions,
};
pub use messages::{
    append_keeps_order_and_counts, concurrent_appends_all_land, empty_query_finds_nothing,
    messages_round_trip_exactly, search_finds_words, search_platform_sees_only_its_sessions,
    search_respects_limit, search_survives_hostile_queries,
};
pub use outbox::{
    append_reply_appends_once, append_reply_to_unknown_session_writes_nothing,
    outbox_attachments_keep_their_progress, outbox_pending_order_and_limit,
    outbox_put_and_get_round_trip, outbox_put_is_idempotent, outbox_state_transitions,
};
pub use pairing::{
    approve_clears_pending_requests, approved_users_order_and_revoke,
    pending_pairings_list_expire_and_purge,
};
pub use responses::{
    delete_session_removes_what_it_recorded, stored_responses_keep_the_most_recently_used,
    stored_responses_round_trip,
};
pub use sessions::{
    create_and_get_round_trip, duplicate_create_conflicts, end_session_keeps_first_end,
    list_sessions_order_and_paging, model_override_sets_and_clears, reopen_clears_the_end,
    routing_upserts, sessions_for_key_newest_first, set_title_sets_and_replaces,
    unknown_ids_are_not_found,
};
pub use settings::settings_set_replace_delete;
pub use summaries::{session_summary_round_trips_and_replaces, undo_forgets_a_summary_it_reaches};

use crate::{AppendMessages, NewMessage, NewSession, Store};
use hermod_model::{
    ChatMessage, ChatType, PlatformId, SessionId, SessionKey, SessionKeyPolicy, Source, Usage,
};
use std::future::Future;
use std::sync::Arc;

/// Expands to one `#[test]` per conformance check, each on a fresh store made
/// by the given expression (see the [module docs](crate::conformance)).
#[macro_export]
macro_rules! store_conformance_tests {
    (guarded: $make:expr) => {
        $crate::store_conformance_tests!(maybe: Some($make));
    };
    (maybe: $make:expr) => {
        $crate::store_conformance_tests!(@tests $make;
            create_and_get_round_trip,
            duplicate_create_conflicts,
            unknown_ids_are_not_found,
            end_session_keeps_first_end,
            set_title_sets_and_replaces,
            list_sessions_order_and_paging,
            routing_upserts,
            append_keeps_order_and_counts,
            messages_round_trip_exactly,
            search_finds_words,
            search_respects_limit,
            search_survives_hostile_queries,
            search_platform_sees_only_its_sessions,
            empty_query_finds_nothing,
            concurrent_appends_all_land,
            model_override_sets_and_clears,
            sessions_for_key_newest_first,
            reopen_clears_the_end,
            undo_takes_back_last_exchanges,
            undo_takes_what_exists,
            retry_replaces_the_last_exchange,
            undone_messages_leave_search,
            session_summary_round_trips_and_replaces,
            undo_forgets_a_summary_it_reaches,
            settings_set_replace_delete,
            pending_pairings_list_expire_and_purge,
            approve_clears_pending_requests,
            approved_users_order_and_revoke,
            outbox_put_and_get_round_trip,
            outbox_put_is_idempotent,
            append_reply_appends_once,
            append_reply_to_unknown_session_writes_nothing,
            outbox_state_transitions,
            outbox_pending_order_and_limit,
            outbox_attachments_keep_their_progress,
            inbox_records_once_and_tracks_progress,
            inbox_unfinished_pages_through_everything,
            inbox_start_turn_links_the_user_message,
            cron_jobs_round_trip_and_update,
            cron_claim_runs_a_time_once,
            cron_claim_takes_over_an_expired_claim,
            cron_missed_times_and_bounded_history,
            cron_changes_count_every_change,
            handoff_state_machine,
            handoffs_in_lists_by_state_oldest_first,
            search_owned_sees_only_the_owners_sessions,
            memory_notes_per_owner,
            approval_grants_per_owner,
            delete_session_removes_what_it_recorded,
            stored_responses_round_trip,
            stored_responses_keep_the_most_recently_used,
            leases_are_exclusive_until_they_run_out,
            leases_list_renew_and_release_by_owner,
            a_lease_goes_to_exactly_one_of_many,
            nodes_beat_list_purge_and_remove,
        );
    };
    (@tests $make:expr; $($check:ident,)+) => {
        $(
            #[test]
            fn $check() {
                $crate::conformance::run(async { $make }, $crate::conformance::$check);
            }
        )+
    };
    ($make:expr) => {
        $crate::store_conformance_tests!(maybe: Some(($make, ())));
    };
}

/// Runs one check: builds a runtime, makes the store (and its guard), runs
/// `check` on it, then drops the guard; does nothing when the store cannot
/// be made here (`None`: a backend whose server this machine lacks, which
/// the maker reports). Called by the tests that
/// [`store_conformance_tests!`](crate::store_conformance_tests) generates.
pub fn run<S, G, Make, Check, Done>(make: Make, check: Check)
where
    S: Store,
    Make: Future<Output = Option<(S, G)>>,
    Check: FnOnce(Arc<dyn Store>) -> Done,
    Done: Future<Output = ()>,
{
    // Multi-threaded, so the concurrency check really runs in parallel.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the conformance check");
    runtime.block_on(async move {
        let Some((store, guard)) = make.await else {
            return;
        };
        check(Arc::new(store)).await;
        drop(guard);
    });
}

/// A session id from a literal.
pub(crate) fn sid(raw: &str) -> SessionId {
    SessionId::parse(raw).expect("test session ids are valid")
}

/// A group-chat source with every optional field set, so a lossy round trip shows.
pub(crate) fn source(platform: &str, chat: &str) -> Source {
    Source {
        platform: PlatformId::new(platform),
        chat_type: ChatType::Group,
        chat_id: Some(chat.to_owned()),
        chat_name: Some("Ops \"war room\" ✈".to_owned()),
        user_id: Some("u-1".to_owned()),
        user_id_alt: Some("alt-1".to_owned()),
        user_name: Some("Zoë".to_owned()),
        thread_id: Some("t-9".to_owned()),
        is_bot: true,
    }
}

/// A new session on `platform` created at `at_ms`.
pub(crate) fn new_session(id: &str, platform: &str, at_ms: i64) -> NewSession {
    let source = source(platform, &format!("chat-{id}"));
    NewSession {
        id: sid(id),
        key: SessionKey::build(&source, &SessionKeyPolicy::default()),
        source,
        created_at_ms: at_ms,
    }
}

/// Creates a session with [`new_session`].
pub(crate) async fn create(store: &dyn Store, id: &str, platform: &str, at_ms: i64) {
    store
        .create_session(new_session(id, platform, at_ms))
        .await
        .expect("create_session");
}

/// A message to append at `at_ms` without a platform id.
pub(crate) fn at(message: ChatMessage, at_ms: i64) -> NewMessage {
    NewMessage {
        message,
        at_ms,
        platform_message_id: None,
    }
}

/// Appends plain messages with no usage; returns their ids.
pub(crate) async fn append(store: &dyn Store, id: &str, messages: Vec<NewMessage>) -> Vec<i64> {
    let append = AppendMessages {
        session: sid(id),
        messages,
        usage: Usage::default(),
    };
    store
        .append_messages(append)
        .await
        .expect("append_messages")
}
