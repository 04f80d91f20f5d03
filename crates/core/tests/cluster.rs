//! Gateways sharing one database, on paused time: two gateways in one
//! process on one store (leases are store rows), each with its own
//! adapter instance, and each test arranged so that the other layers of
//! idempotency (the inbox's keys, the outbox re-read before sending) cannot
//! hide a lease that was not taken.
//!
//! - a platform that must receive on one gateway (`Receiving::Single`, the
//!   default of `TestPlatform`) runs on exactly one; the other stands by,
//!   showing the holder, and takes over when the holder stops or is cut
//!   off from the database; a holder whose lease was taken stops receiving;
//! - a session is worked on by one gateway at a time: a message for it on
//!   the other gateway waits for the running turn, and a recovered message
//!   or command the first gateway answered meanwhile is not answered again,
//!   nor is a command that waited on the other gateway while the first
//!   gateway's sweep took it up;
//! - a pending reply swept by both gateways at once is sent once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use hermod_core::{
    Clock, ClusterConfig, ComponentState, Gateway, GatewayConfig, Health, Inbound, Router, Stopped,
    StreamingConfig, Submitted,
};
use hermod_model::{ChatTarget, PlatformId};
use hermod_store::{InboxState, NewOutbox, OutboxState, SqliteStore, Store};
use hermod_testkit::{FlakyStore, ScriptedAgent, SentMessage, Step, TestPlatform};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const PLATFORM: &str = "chat";
/// The wall time every gateway's clock starts at.
const START_MS: i64 = 1_700_000_000_000;
/// The receiver lease of [`PLATFORM`].
const RECEIVER_LEASE: &str = "receiver:chat";
/// [`ClusterConfig::new`]'s lease lifetime and heartbeat.
const TTL: Duration = Duration::from_secs(10);
const BEAT: Duration = Duration::from_secs(2);
/// How often a standing-by gateway tries for a receiver lease.
const STANDBY_POLL: Duration = Duration::from_secs(1);
/// Slack for the store calls and task switches around a deadline.
const SLACK: Duration = Duration::from_millis(200);

fn memory_store() -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open_in_memory().unwrap())
}

/// One gateway of the cluster, served in the background.
struct Node {
    name: &'static str,
    /// This gateway's own adapter instance (its own transcript).
    platform: TestPlatform,
    health: Health,
    inbound: Inbound,
    router: Router,
    stop: CancellationToken,
    serving: Option<JoinHandle<Stopped>>,
}

impl Node {
    /// Builds and serves gateway `name` on `store`: all users allowed,
    /// idle session workers retired after 5 s, the defaults of
    /// [`ClusterConfig::new`].
    fn start(
        name: &'static str,
        store: Arc<dyn Store>,
        agent: &ScriptedAgent,
        clock: &Clock,
    ) -> Self {
        Self::start_with(name, store, agent, clock, StreamingConfig::default())
    }

    /// [`Node::start`] with these streaming settings.
    fn start_with(
        name: &'static str,
        store: Arc<dyn Store>,
        agent: &ScriptedAgent,
        clock: &Clock,
        streaming: StreamingConfig,
    ) -> Self {
        let platform = TestPlatform::new(PLATFORM);
        let health = Health::default();
        let config = GatewayConfig {
            allow_all_users: true,
            worker_idle_secs: 5,
            ..GatewayConfig::default()
        };
        let gateway = Gateway::builder(store, Arc::new(agent.clone()), config)
            .adapter(platform.adapter())
            .clock(clock.clone())
            .streaming(streaming)
            .health(health.clone())
            .output_dir(std::env::temp_dir().join("hermod-cluster-test-output"))
            .cluster(ClusterConfig::new(name))
            .build()
            .unwrap();
        let (inbound, router) = (gateway.inbound(), gateway.router().clone());
        let stop = CancellationToken::new();
        let serving = Some(tokio::spawn(gateway.serve(stop.clone())));
        Self {
            name,
            platform,
            health,
            inbound,
            router,
            stop,
            serving,
        }
    }

    /// How this gateway's node ids start: `<name>/<pid>/`.
    fn id_prefix(&self) -> String {
        format!("{}/{}/", self.name, std::process::id())
    }

    /// The platform's state in this gateway's health.
    fn state(&self) -> Option<ComponentState> {
        self.health.get(PLATFORM).map(|s| s.state)
    }

    /// The holder this gateway shows while it stands by.
    fn standby_holder(&self) -> Option<String> {
        match self.state() {
            Some(ComponentState::Standby { holder }) => Some(holder),
            _ => None,
        }
    }

    /// Waits until the platform's state satisfies `ok`; returns it.
    async fn wait_state(&self, ok: impl Fn(&ComponentState) -> bool) -> ComponentState {
        let mut changes = self.health.subscribe();
        loop {
            if let Some(state) = self.state().filter(|s| ok(s)) {
                return state;
            }
            changes.changed().await.unwrap();
        }
    }

    /// Stops the gateway cleanly and waits until it has.
    async fn shut_down(&mut self) {
        self.stop.cancel();
        if let Some(serving) = self.serving.take() {
            serving.await.unwrap();
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap()
}

/// `future`, which must end within `limit` (tokio time).
async fn within<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: not within {limit:?}"))
}

/// Polls `check` every 100 ms (tokio time) until it holds.
async fn until(mut check: impl FnMut() -> bool) {
    while !check() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the inbound message `key` is marked handled.
async fn handled(store: &dyn Store, key: &str) {
    let platform = PlatformId::from_static(PLATFORM);
    loop {
        let entry = store.inbox_entry(&platform, key).await.unwrap();
        if entry.is_some_and(|e| e.state == InboxState::Done) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every message both gateways sent to `chat`.
fn sent_by_all(nodes: &[&Node], chat: &str) -> Vec<SentMessage> {
    nodes.iter().flat_map(|n| n.platform.sent(chat)).collect()
}

/// Who sent what, one message a line (first lines only).
fn summary(messages: &[SentMessage]) -> String {
    messages
        .iter()
        .map(|m| format!("{}: {}", m.id, m.text.lines().next().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `alice`'s direct message `text` with the platform message id `id`.
fn dm(platform: &TestPlatform, text: &str, id: &str) -> hermod_model::InboundEvent {
    let mut event = platform.user("alice").dm_event(text);
    event.message_id = Some(id.to_owned());
    event
}

// ---------------------------------------------------------------------
// Receivers
// ---------------------------------------------------------------------

/// Both gateways start at once: one receives, the other stands by showing
/// the holder's node id (and keeps doing so while the holder renews);
/// when the holder stops cleanly, the other receives within its standby
/// poll.
#[tokio::test(start_paused = true)]
async fn one_gateway_receives_and_the_other_takes_over_when_it_stops() {
    let store: Arc<dyn Store> = memory_store();
    let clock = Clock::following_tokio(START_MS);
    let agent = ScriptedAgent::echo();
    let mut nodes = [
        Node::start("a", Arc::clone(&store), &agent, &clock),
        Node::start("b", Arc::clone(&store), &agent, &clock),
    ];
    // Several heartbeats and standby polls: the lease stays where it is.
    for _ in 0..3 {
        tokio::time::sleep(TTL).await;
        let running: Vec<bool> = nodes.iter().map(|n| n.platform.is_running()).collect();
        assert_eq!(
            running.iter().filter(|r| **r).count(),
            1,
            "exactly one gateway receives: {running:?}"
        );
    }
    let holder = usize::from(nodes[1].platform.is_running());
    let standby = 1 - holder;
    assert_eq!(nodes[holder].state(), Some(ComponentState::Running));
    let shown = nodes[standby]
        .standby_holder()
        .unwrap_or_else(|| panic!("stands by: {:?}", nodes[standby].state()));
    assert!(
        shown.starts_with(&nodes[holder].id_prefix()),
        "shows the holder: {shown}"
    );
    let lease = store.lease(RECEIVER_LEASE).await.unwrap().unwrap();
    assert_eq!(lease.owner, shown, "the holder's lease");

    // The holder stops; the other takes over at its next try.
    nodes[holder].shut_down().await;
    assert!(!nodes[holder].platform.is_running());
    within(
        STANDBY_POLL + SLACK,
        "the standing-by gateway takes over",
        nodes[standby].platform.wait_running(),
    )
    .await;
    nodes[standby]
        .wait_state(|s| *s == ComponentState::Running)
        .await;
    // A message to the new holder is answered by it.
    let inbound = nodes[standby].platform.inbound().unwrap();
    inbound
        .submit_once(dm(&nodes[standby].platform, "hi", "m1"), "alice:m1")
        .await
        .unwrap();
    nodes[standby].platform.wait_for_messages("alice", 1).await;
    nodes[standby].shut_down().await;
}

/// The holder is cut off from the database (as good as killed, for the
/// others): the standing-by gateway takes over once the lease has run
/// out — not before, and within the lease's lifetime and one standby
/// poll — and the old holder, unable to confirm its lease for as long as
/// a lease lasts, stops receiving; once it reaches the database again it
/// stands by, showing the new holder.
#[tokio::test(start_paused = true)]
async fn a_receiver_moves_when_its_holder_is_cut_off() {
    let shared: Arc<dyn Store> = memory_store();
    let flaky = Arc::new(FlakyStore::new(Arc::clone(&shared)));
    let clock = Clock::following_tokio(START_MS);
    let agent = ScriptedAgent::echo();
    let mut a = Node::start("a", flaky.clone(), &agent, &clock);
    within(SLACK, "a receives", a.platform.wait_running()).await;
    let mut b = Node::start("b", Arc::clone(&shared), &agent, &clock);
    within(
        SLACK,
        "b stands by",
        b.wait_state(|s| matches!(s, ComponentState::Standby { .. })),
    )
    .await;
    assert!(b.standby_holder().unwrap().starts_with(&a.id_prefix()));
    tokio::time::sleep(3 * TTL).await;
    assert!(a.platform.is_running() && !b.platform.is_running());

    // Every lease and node operation of a fails from now on.
    for operation in [
        "node_beat",
        "lease_renew_all",
        "lease_acquire",
        "lease",
        "lease_release",
        "lease_release_all",
    ] {
        flaky.fail(operation, u32::MAX);
    }
    let cut_off = Instant::now();
    // a gives up before its lease can run out (it could not confirm it),
    // so the two never receive at once.
    tokio::time::timeout_at(cut_off + TTL - BEAT, a.platform.wait_stopped())
        .await
        .expect("a stops receiving before its lease runs out");
    assert!(!b.platform.is_running(), "b has not started yet");
    within(
        TTL + STANDBY_POLL + SLACK,
        "b takes over once a's lease ran out",
        b.platform.wait_running(),
    )
    .await;
    let waited = cut_off.elapsed();
    assert!(
        waited >= TTL - BEAT,
        "b waited for the lease to run out: {waited:?}"
    );
    flaky.heal();
    let shown = within(
        STANDBY_POLL + SLACK,
        "a stands by",
        a.wait_state(|s| matches!(s, ComponentState::Standby { .. })),
    )
    .await;
    assert!(
        matches!(&shown, ComponentState::Standby { holder } if holder.starts_with(&b.id_prefix())),
        "{shown:?}"
    );
    tokio::time::sleep(3 * TTL).await;
    assert!(!a.platform.is_running() && b.platform.is_running());
    b.shut_down().await;
    a.shut_down().await;
}

/// Another node holds the receiver lease the gateway was receiving under
/// (taken over while, in its view, it was still renewing): the gateway
/// stops receiving at its next check, stands by showing the new holder,
/// and receives again once that lease runs out.
#[tokio::test(start_paused = true)]
async fn a_receiver_whose_lease_was_taken_stops_receiving() {
    let store: Arc<dyn Store> = memory_store();
    let clock = Clock::following_tokio(START_MS);
    let mut a = Node::start("a", Arc::clone(&store), &ScriptedAgent::echo(), &clock);
    within(SLACK, "a receives", a.platform.wait_running()).await;
    tokio::time::sleep(TTL).await;
    let lease = store.lease(RECEIVER_LEASE).await.unwrap().unwrap();
    assert!(lease.owner.starts_with(&a.id_prefix()), "{lease:?}");

    // A node whose clock is a lease's lifetime ahead finds a's lease run
    // out and takes it: one store operation, so a cannot take it back in
    // between.
    let intruder_for = Duration::from_secs(30);
    let now = clock.now_ms();
    let (until, ahead) = (now + ms(intruder_for), now + ms(2 * TTL));
    assert!(
        store
            .lease_acquire(RECEIVER_LEASE, "intruder", until, ahead)
            .await
            .unwrap()
    );
    let taken = Instant::now();
    within(BEAT + SLACK, "a stops receiving", a.platform.wait_stopped()).await;
    within(
        STANDBY_POLL + SLACK,
        "a stands by for the intruder",
        a.wait_state(|s| {
            *s == ComponentState::Standby {
                holder: "intruder".into(),
            }
        }),
    )
    .await;
    // a's heartbeat does not win the lease back while the intruder holds it.
    tokio::time::sleep(intruder_for - taken.elapsed() - SLACK).await;
    assert!(!a.platform.is_running());
    assert_eq!(
        store.lease(RECEIVER_LEASE).await.unwrap().unwrap().owner,
        "intruder"
    );
    within(
        STANDBY_POLL + 2 * SLACK,
        "a receives again once the intruder's lease ran out",
        a.platform.wait_running(),
    )
    .await;
    a.shut_down().await;
}

// ---------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------

/// A turn runs on gateway a; the next message of the same session reaches
/// gateway b. b waits until a's turn is over (one turn at a time, and b's
/// turn sees a's in the history) and then answers it.
#[tokio::test(start_paused = true)]
async fn a_session_is_worked_on_by_one_gateway_at_a_time() {
    let store: Arc<dyn Store> = memory_store();
    let clock = Clock::following_tokio(START_MS);
    let agent = ScriptedAgent::with_delay(Duration::from_secs(2));
    let stats = agent.stats();
    let mut a = Node::start("a", Arc::clone(&store), &agent, &clock);
    within(SLACK, "a receives", a.platform.wait_running()).await;
    let mut b = Node::start("b", Arc::clone(&store), &agent, &clock);

    let first = dm(&a.platform, "first", "m1");
    assert_eq!(
        a.inbound.submit_once(first, "alice:m1").await.unwrap(),
        Submitted::Accepted
    );
    within(SLACK, "a's turn starts", stats.wait_started(1)).await;
    let second = dm(&b.platform, "second", "m2");
    assert_eq!(
        b.inbound.submit_once(second, "alice:m2").await.unwrap(),
        Submitted::Accepted
    );
    // b's worker has the message, and waits.
    until(|| b.router.active_workers() == 1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stats.requests().len(), 1, "b waits for a's turn");

    within(Duration::from_secs(10), "both answered", async {
        handled(store.as_ref(), "alice:m1").await;
        handled(store.as_ref(), "alice:m2").await;
    })
    .await;
    assert_eq!(stats.max_running(), 1, "one turn at a time");
    assert_eq!(stats.inputs(), ["first", "second"]);
    let texts = |n: &Node| -> Vec<String> {
        n.platform
            .sent("alice")
            .iter()
            .map(|m| m.current_text().to_owned())
            .collect()
    };
    assert_eq!(texts(&a), ["echo: first (0 earlier)"]);
    assert_eq!(texts(&b), ["echo: second (2 earlier)"], "b's turn saw a's");
    b.shut_down().await;
    a.shut_down().await;
}

/// Gateway a is mid-turn on a message; gateway b's recovery sweep takes
/// the same inbox row up (here because b cannot read who holds the
/// session, the case where it leaves the check to the worker). b's worker
/// waits for the session, then finds the message answered and does
/// nothing: one turn, one reply.
#[tokio::test(start_paused = true)]
async fn a_recovered_message_answered_meanwhile_is_not_answered_again() {
    let shared: Arc<dyn Store> = memory_store();
    let flaky = Arc::new(FlakyStore::new(Arc::clone(&shared)));
    let clock = Clock::following_tokio(START_MS);
    let agent = ScriptedAgent::with_delay(Duration::from_secs(15));
    let stats = agent.stats();
    let mut a = Node::start("a", Arc::clone(&shared), &agent, &clock);
    within(SLACK, "a receives", a.platform.wait_running()).await;
    // b cannot read leases (taking them works).
    flaky.fail("lease", u32::MAX);
    let mut b = Node::start("b", flaky.clone(), &agent, &clock);

    let event = dm(&a.platform, "hello", "m1");
    a.inbound.submit_once(event, "alice:m1").await.unwrap();
    within(SLACK, "a's turn starts", stats.wait_started(1)).await;
    // b's sweep finds the message unfinished once it is old enough, and
    // hands it to a worker, which waits for the session.
    within(
        Duration::from_secs(11),
        "b takes the message up",
        until(|| b.router.active_workers() == 1),
    )
    .await;
    assert!(flaky.failures("lease") > 0);
    assert_eq!(stats.requests().len(), 1, "b waits for a's turn");

    within(
        Duration::from_secs(15),
        "a answers",
        handled(shared.as_ref(), "alice:m1"),
    )
    .await;
    assert_eq!(a.platform.sent("alice").len(), 1);
    // b gets the session, finds the message answered, and its worker
    // goes idle and retires.
    within(
        Duration::from_secs(10),
        "b's worker is done",
        until(|| b.router.active_workers() == 0),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(stats.inputs(), ["hello"], "one turn");
    assert_eq!(sent_by_all(&[&a, &b], "alice").len(), 1, "one reply");
    flaky.heal();
    b.shut_down().await;
    a.shut_down().await;
}

/// Gateway a holds the session while its reply is being delivered (the
/// platform does not answer), and a command that came meanwhile waits
/// for that turn to end; gateway b's recovery sweep takes the command up
/// (b cannot read who holds the session). Once a has answered it, b's
/// worker gets the session, finds the command answered, and does not run
/// it again: commands have no other check against running twice.
#[tokio::test(start_paused = true)]
async fn a_recovered_command_answered_meanwhile_does_not_run_again() {
    let shared: Arc<dyn Store> = memory_store();
    let flaky = Arc::new(FlakyStore::new(Arc::clone(&shared)));
    let clock = Clock::following_tokio(START_MS);
    let agent = ScriptedAgent::scripted(|_| vec![Step::Text("the answer".into())]);
    let stats = agent.stats();
    // Without previews, the reply is one send at the end of the turn.
    let whole = StreamingConfig {
        enabled: false,
        ..StreamingConfig::default()
    };
    let mut a = Node::start_with("a", Arc::clone(&shared), &agent, &clock, whole.clone());
    within(SLACK, "a receives", a.platform.wait_running()).await;
    flaky.fail("lease", u32::MAX);
    let mut b = Node::start_with("b", flaky.clone(), &agent, &clock, whole);

    a.platform.hold();
    a.inbound
        .submit_once(dm(&a.platform, "question", "m1"), "alice:m1")
        .await
        .unwrap();
    within(SLACK, "a's reply hangs", a.platform.wait_for_held(1)).await;
    a.inbound
        .submit_once(dm(&a.platform, "/help", "m2"), "alice:m2")
        .await
        .unwrap();
    within(
        Duration::from_secs(11),
        "b takes the command up",
        until(|| b.router.active_workers() == 1),
    )
    .await;
    assert!(
        b.platform.sent("alice").is_empty(),
        "b waits for the session"
    );

    a.platform.release();
    within(
        SLACK,
        "a answers the command",
        handled(shared.as_ref(), "alice:m2"),
    )
    .await;
    within(
        Duration::from_secs(10),
        "b's worker is done",
        until(|| b.router.active_workers() == 0),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(stats.inputs(), ["question"]);
    let help: Vec<_> = sent_by_all(&[&a, &b], "alice")
        .into_iter()
        .filter(|m| m.reply_to.as_deref() == Some("m2"))
        .collect();
    assert_eq!(help.len(), 1, "/help answered once: {}", summary(&help));
    assert_eq!(a.platform.sent("alice").len(), 2, "the answer and the help");
    flaky.heal();
    b.shut_down().await;
    a.shut_down().await;
}

/// A message reaches gateway b while a's turn on the same session runs
/// for longer than a's recovery sweep waits before it takes up messages
/// nobody else is working on (5 s in a cluster). A chat message is
/// answered once either way (a turn finds its message answered); a
/// command must be too.
#[tokio::test(start_paused = true)]
async fn a_command_waiting_on_another_gateway_runs_once() {
    let store: Arc<dyn Store> = memory_store();
    let clock = Clock::following_tokio(START_MS);
    let agent = ScriptedAgent::with_delay(Duration::from_secs(15));
    let stats = agent.stats();
    let mut a = Node::start("a", Arc::clone(&store), &agent, &clock);
    within(SLACK, "a receives", a.platform.wait_running()).await;
    let mut b = Node::start("b", Arc::clone(&store), &agent, &clock);

    a.inbound
        .submit_once(dm(&a.platform, "first", "m1"), "alice:m1")
        .await
        .unwrap();
    within(SLACK, "a's turn starts", stats.wait_started(1)).await;
    b.inbound
        .submit_once(dm(&b.platform, "/help", "m2"), "alice:m2")
        .await
        .unwrap();
    within(
        Duration::from_secs(60),
        "both handled",
        handled(store.as_ref(), "alice:m2"),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let help: Vec<_> = sent_by_all(&[&a, &b], "alice")
        .into_iter()
        .filter(|m| m.reply_to.as_deref() == Some("m2"))
        .collect();
    assert_eq!(help.len(), 1, "/help answered once: {}", summary(&help));
    b.shut_down().await;
    a.shut_down().await;
}

// ---------------------------------------------------------------------
// Deliveries
// ---------------------------------------------------------------------

/// A reply a previous run left pending is swept by both gateways at once,
/// while the platform holds the first send (so the other gateway's sweep
/// reads the entry still pending): it is sent once.
#[tokio::test(start_paused = true)]
async fn a_pending_reply_swept_by_two_gateways_is_sent_once() {
    let store: Arc<dyn Store> = memory_store();
    let clock = Clock::following_tokio(START_MS);
    let entry = store
        .outbox_put(NewOutbox {
            key: "left-pending".into(),
            platform: PlatformId::from_static(PLATFORM),
            target: ChatTarget {
                chat_id: "alice".into(),
                thread_id: None,
            },
            reply_to: None,
            text: "the reply".into(),
            session: None,
            message_ids: Vec::new(),
            attachments: Vec::new(),
            created_at_ms: START_MS - 60_000,
        })
        .await
        .unwrap();
    let agent = ScriptedAgent::echo();
    let mut a = Node::start("a", Arc::clone(&store), &agent, &clock);
    let mut b = Node::start("b", Arc::clone(&store), &agent, &clock);
    a.platform.hold();
    b.platform.hold();
    // Both sweep at start and every 5 s after: three sweeps each while
    // the first send hangs.
    within(SLACK, "a send is held", async {
        tokio::select! {
            () = a.platform.wait_for_held(1) => {}
            () = b.platform.wait_for_held(1) => {}
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    a.platform.release();
    b.platform.release();
    within(Duration::from_secs(5), "the entry is delivered", async {
        while store.outbox_entry(&entry.key).await.unwrap().unwrap().state != OutboxState::Delivered
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    let attempts = a.platform.send_attempts() + b.platform.send_attempts();
    assert_eq!(attempts, 1, "sent once");
    assert_eq!(sent_by_all(&[&a, &b], "alice").len(), 1);
    b.shut_down().await;
    a.shut_down().await;
}
