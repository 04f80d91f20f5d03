use super::*;
use crate::state::StateKey;
use crate::testing::context;
use hermod_model::PlatformId;
use hermod_store::Store;
use hermod_testkit::FlakyStore;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

const PLATFORM: PlatformId = PlatformId::from_static("demo");
const CURSOR: StateKey<u64> = StateKey::new("cursor");

/// An item: its id (`None`: unreadable) and whether recording it fails.
#[derive(Debug, Clone, Copy)]
struct Item {
    id: Option<u64>,
    fails: bool,
}

fn ok(id: u64) -> Item {
    Item {
        id: Some(id),
        fails: false,
    }
}

/// Scripted fetch results; records what was recorded and each cursor
/// fetched from.
#[derive(Default)]
struct Script {
    batches: Mutex<VecDeque<Result<Vec<Item>, FetchError>>>,
    fetched_from: Mutex<Vec<Option<u64>>>,
    recorded: Mutex<Vec<u64>>,
    /// Saved cursor seen when each item was recorded.
    store: Option<Arc<dyn Store>>,
    saved_when_recorded: Mutex<Vec<Option<String>>>,
}

#[async_trait]
impl PollSource for Script {
    type Cursor = u64;
    type Item = Item;
    const CURSOR_NAME: &'static str = "the demo cursor";

    async fn fetch(&self, cursor: Option<&u64>) -> Result<Vec<Item>, FetchError> {
        self.fetched_from.lock().unwrap().push(cursor.copied());
        let next = self.batches.lock().unwrap().pop_front();
        match next {
            Some(result) => result,
            // Nothing more: a long poll that waits forever.
            None => std::future::pending().await,
        }
    }

    fn cursor_after(&self, item: &Item) -> Option<u64> {
        item.id.map(|id| id + 1)
    }

    async fn record(&self, item: Item) -> Handled {
        if let Some(store) = &self.store {
            let saved = store.setting("demo:cursor").await.unwrap();
            self.saved_when_recorded.lock().unwrap().push(saved);
        }
        if item.fails {
            return Handled::Retry("cannot record".into());
        }
        self.recorded
            .lock()
            .unwrap()
            .push(item.id.unwrap_or_default());
        Handled::Done
    }
}

fn script(batches: Vec<Result<Vec<Item>, FetchError>>, store: Arc<dyn Store>) -> Script {
    Script {
        batches: Mutex::new(batches.into()),
        store: Some(store),
        ..Script::default()
    }
}

/// Runs the loop until the script is used up (the loop then waits in
/// `fetch`), then stops it.
async fn run(source: &Script, store: Arc<dyn Store>) -> (Result<(), AdapterError>, Duration) {
    let (ctx, _gateway) = context();
    let connection = Connection::new(PLATFORM, Duration::from_secs(60));
    let state = AdapterState::new(store, &PLATFORM, CURSOR);
    let start = Instant::now();
    let stopper = {
        let shutdown = ctx.shutdown.clone();
        async move {
            // Long enough for every backoff of these scripts.
            tokio::time::sleep(Duration::from_secs(600)).await;
            shutdown.cancel();
        }
    };
    let polled = async {
        let result = poll(source, &state, &connection, &ctx).await;
        (result, start.elapsed())
    };
    let (polled, ()) = tokio::join!(polled, stopper);
    polled
}

fn sqlite() -> Arc<dyn Store> {
    Arc::new(hermod_store::SqliteStore::open_in_memory().unwrap())
}

#[tokio::test(start_paused = true)]
async fn the_cursor_is_saved_after_the_batch_is_recorded_and_resumed_from() {
    let store = sqlite();
    store.set_setting("demo:cursor", "10", 0).await.unwrap();
    let source = script(
        vec![Ok(vec![ok(10), ok(11)]), Ok(vec![ok(12)])],
        Arc::clone(&store),
    );
    let (result, _) = run(&source, Arc::clone(&store)).await;
    assert_eq!(result, Ok(()));
    assert_eq!(*source.recorded.lock().unwrap(), [10, 11, 12]);
    assert_eq!(
        *source.fetched_from.lock().unwrap(),
        [Some(10), Some(12), Some(13)]
    );
    // While the first batch was being recorded, its cursor was not saved.
    assert_eq!(
        *source.saved_when_recorded.lock().unwrap(),
        [Some("10".into()), Some("10".into()), Some("12".into())]
    );
    assert_eq!(
        store.setting("demo:cursor").await.unwrap().as_deref(),
        Some("13")
    );
}

#[tokio::test(start_paused = true)]
async fn an_item_not_recorded_is_not_acknowledged_and_comes_again_after_a_backoff() {
    let store = sqlite();
    let failing = Item {
        id: Some(2),
        fails: true,
    };
    let source = script(
        vec![Ok(vec![ok(1), failing, ok(3)]), Ok(vec![ok(2), ok(3)])],
        Arc::clone(&store),
    );
    let (result, _) = run(&source, Arc::clone(&store)).await;
    assert_eq!(result, Ok(()));
    assert_eq!(*source.recorded.lock().unwrap(), [1, 2, 3]);
    // Acknowledged up to what was recorded: the failed item is fetched again.
    assert_eq!(
        *source.fetched_from.lock().unwrap(),
        [None, Some(2), Some(4)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_cursor_that_cannot_be_saved_is_a_failed_round_and_still_acknowledged() {
    let sqlite = sqlite();
    let flaky = Arc::new(FlakyStore::new(Arc::clone(&sqlite)));
    flaky.fail("set_setting", 1);
    let source = script(vec![Ok(vec![ok(1)]), Ok(vec![ok(2)])], sqlite.clone());
    let (result, _) = run(&source, flaky.clone()).await;
    assert_eq!(result, Ok(()));
    assert_eq!(flaky.failures("set_setting"), 1);
    assert_eq!(
        *source.fetched_from.lock().unwrap(),
        [None, Some(2), Some(3)]
    );
    assert_eq!(
        sqlite.setting("demo:cursor").await.unwrap().as_deref(),
        Some("3")
    );
}

#[tokio::test(start_paused = true)]
async fn unreadable_items_are_skipped_and_a_batch_of_only_them_is_a_failed_round() {
    let store = sqlite();
    let unreadable = Item {
        id: None,
        fails: false,
    };
    let source = script(
        vec![Ok(vec![unreadable]), Ok(vec![unreadable, ok(5)])],
        Arc::clone(&store),
    );
    let (ctx, _gateway) = context();
    let connection = Connection::new(PLATFORM, Duration::from_secs(60));
    let state = AdapterState::new(Arc::clone(&store), &PLATFORM, CURSOR);
    let start = Instant::now();
    let fetched_twice = async {
        while source.fetched_from.lock().unwrap().len() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let elapsed = start.elapsed();
        ctx.shutdown.cancel();
        elapsed
    };
    let (result, elapsed) = tokio::join!(poll(&source, &state, &connection, &ctx), fetched_twice);
    assert_eq!(result, Ok(()));
    // The lone unreadable item cost one backoff (about a second), not a loop.
    assert!(
        elapsed >= Duration::from_millis(500) && elapsed <= Duration::from_millis(1100),
        "{elapsed:?}"
    );
    assert_eq!(*source.recorded.lock().unwrap(), [5]);
    assert_eq!(*source.fetched_from.lock().unwrap(), [None, None, Some(6)]);
}

#[tokio::test(start_paused = true)]
async fn failed_fetches_back_off_and_a_fatal_one_ends_the_loop() {
    let store = sqlite();
    let retry = || {
        Err(FetchError::Retry {
            reason: "HTTP 502".into(),
            retry_after: None,
        })
    };
    let source = script(
        vec![
            retry(),
            retry(),
            Err(FetchError::Retry {
                reason: "slow down".into(),
                retry_after: Some(Duration::from_secs(30)),
            }),
            Err(FetchError::Fatal(AdapterError::Auth(
                "token refused".into(),
            ))),
        ],
        Arc::clone(&store),
    );
    let (result, elapsed) = run(&source, store).await;
    assert_eq!(result, Err(AdapterError::Auth("token refused".into())));
    // Up to 1 + 2 s of backoff, then the platform's 30 s.
    assert!(
        elapsed >= Duration::from_millis(31_500) && elapsed <= Duration::from_secs(33),
        "{elapsed:?}"
    );
}
