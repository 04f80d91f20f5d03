//! `store`: the SQLite store on its own, without a gateway around it.
//!
//! A fresh database in a temporary directory is seeded with `messages`
//! messages spread over about a thousand sessions, written in large
//! `append_messages` batches (one transaction each). The text is made of
//! words drawn from a fixed vocabulary with a Zipf-like distribution by a
//! seeded generator, so every run indexes the same text and full-text
//! search has realistic work: a few words are everywhere, most are rare.
//!
//! Then, on that database:
//!
//! - **append**: 2,000 single-message `append_messages` calls (one
//!   transaction each, as a turn's reply is stored), timed one by one at
//!   the caller, so the hop to the blocking thread pool is included;
//! - **round trip**: 2,000 reads of an absent setting, the cheapest store
//!   call there is: the hop to the blocking pool and back plus a primary
//!   key lookup, i.e. the part of an append that is not SQLite writing;
//! - **search**: 200 `search` calls (limit 20) cycling through four kinds
//!   of query: one common word, one rare word, two common words, one
//!   common and one mid-frequency word.

use crate::report::{Metric, Report, percentile};
use anyhow::Context;
use hermod_model::{
    ChatMessage, PlatformId, SessionId, SessionKey, SessionKeyPolicy, Source, Usage,
};
use hermod_store::{AppendMessages, NewMessage, NewSession, SqliteStore, Store};
use std::time::{Duration, Instant};

/// Sessions the seeded messages are spread over (fewer for tiny runs).
const SESSIONS: usize = 1_000;
/// Messages per `append_messages` call while seeding.
const MAX_BATCH: usize = 1_000;
/// Single-message appends timed.
const APPENDS: usize = 2_000;
/// Searches timed.
const SEARCHES: usize = 200;
/// Results asked of each search (the store's default).
const SEARCH_LIMIT: usize = 20;
/// Seeding stops here even when not all messages are in; the report says
/// how many were.
const SEED_DEADLINE: Duration = Duration::from_secs(20 * 60);
/// The seed of the text generator: every run writes the same text.
const SEED: u64 = 0x5eed_4e4d_0f0d;
/// Size of the vocabulary (common words first, then made-up rare ones).
const VOCABULARY: usize = 4_000;
/// Timestamps start here (milliseconds since the epoch).
const EPOCH_MS: i64 = 1_700_000_000_000;

/// Common words, roughly most frequent first: they take the top ranks.
const COMMON_WORDS: &[&str] = &[
    "the",
    "to",
    "and",
    "a",
    "of",
    "is",
    "in",
    "it",
    "you",
    "that",
    "for",
    "on",
    "this",
    "with",
    "can",
    "be",
    "not",
    "have",
    "are",
    "do",
    "what",
    "if",
    "at",
    "we",
    "but",
    "from",
    "your",
    "so",
    "will",
    "my",
    "or",
    "all",
    "there",
    "how",
    "about",
    "would",
    "out",
    "up",
    "one",
    "when",
    "just",
    "more",
    "like",
    "some",
    "time",
    "could",
    "them",
    "other",
    "then",
    "now",
    "use",
    "file",
    "error",
    "server",
    "need",
    "again",
    "please",
    "check",
    "build",
    "test",
    "message",
    "change",
    "config",
    "update",
    "value",
    "run",
    "issue",
    "version",
    "data",
    "question",
    "answer",
    "result",
    "list",
    "order",
    "today",
    "tomorrow",
    "meeting",
    "project",
    "report",
    "email",
    "calendar",
    "weather",
    "travel",
    "flight",
    "hotel",
    "dinner",
    "recipe",
    "budget",
    "invoice",
    "payment",
    "account",
    "password",
    "login",
    "deploy",
    "release",
    "branch",
    "commit",
    "review",
    "database",
    "query",
    "index",
    "cache",
    "memory",
    "network",
    "latency",
    "timeout",
    "retry",
    "queue",
    "worker",
    "thread",
    "process",
    "signal",
    "backup",
    "restore",
    "upgrade",
    "install",
    "python",
    "rust",
    "docker",
    "kernel",
    "driver",
    "router",
    "printer",
    "screen",
    "keyboard",
    "battery",
    "charger",
    "garden",
    "coffee",
    "breakfast",
    "weekend",
    "holiday",
    "birthday",
    "present",
    "family",
    "friend",
    "doctor",
    "appointment",
    "insurance",
    "contract",
    "lawyer",
    "tax",
    "mortgage",
    "salary",
    "market",
    "stock",
    "portfolio",
    "summary",
    "draft",
    "outline",
    "chapter",
    "translate",
    "spanish",
    "german",
    "french",
    "japanese",
    "summarize",
    "explain",
    "compare",
    "schedule",
    "remind",
    "cancel",
    "confirm",
    "ticket",
    "delivery",
    "package",
    "address",
    "phone",
    "number",
    "photo",
    "video",
    "music",
    "playlist",
    "podcast",
    "article",
    "paper",
    "study",
    "exam",
    "lecture",
    "homework",
];

/// Consonants and vowels of the made-up words that fill the vocabulary.
const CONSONANTS: &[u8] = b"bcdfghklmnprstvz";
const VOWELS: &[u8] = b"aeiou";

/// A small, seeded generator (SplitMix64): fast, and the same everywhere.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `lo..hi` (`lo` when the range is empty).
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        if hi <= lo {
            return lo;
        }
        lo + (self.next() % (hi - lo) as u64) as usize
    }
}

/// The fixed vocabulary: [`COMMON_WORDS`], then consonant-vowel words
/// (`bakori`, `ritesu`, ...), all distinct.
fn vocabulary() -> Vec<String> {
    let mut words: Vec<String> = COMMON_WORDS.iter().map(|w| (*w).to_owned()).collect();
    let syllables: Vec<String> = CONSONANTS
        .iter()
        .flat_map(|c| {
            VOWELS
                .iter()
                .map(move |v| format!("{}{}", char::from(*c), char::from(*v)))
        })
        .collect();
    let n = syllables.len();
    let mut i = 0usize;
    while words.len() < VOCABULARY && i < n * n * n {
        // Three syllables, mixed radix: unique, and never a common word
        // (those have other shapes or lengths).
        let word = format!(
            "{}{}{}",
            syllables[i % n],
            syllables[(i / n) % n],
            syllables[(i / (n * n)) % n]
        );
        words.push(word);
        // A stride coprime with n³ spreads the picks over all syllables.
        i += 7_919;
        i %= n * n * n;
        if i == 0 {
            break;
        }
    }
    words
}

/// A rank in `0..len`, Zipf-like: rank r comes about 1/(r+1) as often as
/// rank 0 (log-uniform over the ranks).
fn zipf(rng: &mut Rng, len: usize) -> usize {
    let rank = (len as f64).powf(rng.unit()) as usize;
    rank.saturating_sub(1).min(len.saturating_sub(1))
}

/// One message's text: a sentence or two of 4–40 words.
fn sentence(rng: &mut Rng, vocabulary: &[String]) -> String {
    let words = rng.range(4, 41);
    let mut text = String::with_capacity(words * 7);
    let mut capital = true;
    for i in 0..words {
        let word = &vocabulary[zipf(rng, vocabulary.len())];
        if i > 0 {
            text.push(' ');
        }
        if capital {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                text.extend(first.to_uppercase());
                text.push_str(chars.as_str());
            }
            capital = false;
        } else {
            text.push_str(word);
        }
        match rng.next() % 16 {
            0 if i + 1 < words => {
                text.push('.');
                capital = true;
            }
            1 | 2 if i + 1 < words => text.push(','),
            _ => {}
        }
    }
    text.push(if rng.next().is_multiple_of(5) {
        '?'
    } else {
        '.'
    });
    text
}

fn session_id(i: usize) -> anyhow::Result<SessionId> {
    SessionId::parse(&format!("bench_{i:05}")).context("a benchmark session id")
}

/// The store, in a temporary directory that lives as long as it.
struct Seeded {
    store: SqliteStore,
    dir: tempfile::TempDir,
    sessions: usize,
    messages: usize,
    elapsed: Duration,
}

/// Creates the sessions and appends `messages` messages in batches.
async fn seed(messages: usize, vocabulary: &[String], rng: &mut Rng) -> anyhow::Result<Seeded> {
    let dir = tempfile::tempdir().context("a temporary directory for the store")?;
    let path = dir.path().join("state.db");
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
        .await
        .context("opening the store")??;
    let sessions = SESSIONS.min(messages.max(1));
    let platform = PlatformId::new("telegram");
    let policy = SessionKeyPolicy::default();
    let started = Instant::now();
    for i in 0..sessions {
        let source = Source::dm(platform.clone(), format!("{}", 10_000_000 + i));
        store
            .create_session(NewSession {
                id: session_id(i)?,
                key: SessionKey::build(&source, &policy),
                source,
                created_at_ms: EPOCH_MS,
            })
            .await?;
    }
    let batch = (messages / sessions).clamp(1, MAX_BATCH);
    let mut written = 0usize;
    let mut turn = 0usize;
    while written < messages {
        if started.elapsed() > SEED_DEADLINE {
            break;
        }
        let n = batch.min(messages - written);
        let new: Vec<NewMessage> = (0..n)
            .map(|k| {
                let text = sentence(rng, vocabulary);
                let message = if (written + k).is_multiple_of(2) {
                    ChatMessage::user(text)
                } else {
                    ChatMessage::assistant(text)
                };
                NewMessage {
                    message,
                    at_ms: EPOCH_MS + i64::try_from(written + k).unwrap_or(i64::MAX),
                    platform_message_id: None,
                }
            })
            .collect();
        store
            .append_messages(AppendMessages {
                session: session_id(turn % sessions)?,
                messages: new,
                usage: Usage::default(),
            })
            .await?;
        written += n;
        turn += 1;
    }
    Ok(Seeded {
        store,
        dir,
        sessions,
        messages: written,
        elapsed: started.elapsed(),
    })
}

/// Bytes of the database and its write-ahead log.
fn database_bytes(dir: &std::path::Path) -> u64 {
    ["state.db", "state.db-wal"]
        .iter()
        .filter_map(|name| std::fs::metadata(dir.join(name)).ok())
        .map(|m| m.len())
        .sum()
}

/// Times single-message appends; microseconds each.
async fn time_appends(
    seeded: &Seeded,
    vocabulary: &[String],
    rng: &mut Rng,
) -> anyhow::Result<Vec<f64>> {
    let mut samples = Vec::with_capacity(APPENDS);
    let base = EPOCH_MS + i64::try_from(seeded.messages).unwrap_or(i64::MAX);
    for i in 0..APPENDS {
        let append = AppendMessages {
            session: session_id(rng.range(0, seeded.sessions))?,
            messages: vec![NewMessage {
                message: ChatMessage::user(sentence(rng, vocabulary)),
                at_ms: base + i64::try_from(i).unwrap_or(0),
                platform_message_id: None,
            }],
            usage: Usage::default(),
        };
        let started = Instant::now();
        seeded.store.append_messages(append).await?;
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    Ok(samples)
}

/// The kinds of query, cycled through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueryKind {
    Common,
    Rare,
    CommonPair,
    CommonAndMid,
}

const QUERY_KINDS: [QueryKind; 4] = [
    QueryKind::Common,
    QueryKind::Rare,
    QueryKind::CommonPair,
    QueryKind::CommonAndMid,
];

impl QueryKind {
    fn name(self) -> &'static str {
        match self {
            QueryKind::Common => "common_word",
            QueryKind::Rare => "rare_word",
            QueryKind::CommonPair => "two_common_words",
            QueryKind::CommonAndMid => "common_and_mid_word",
        }
    }

    /// A query of this kind. "Common" skips the ten most frequent words
    /// (nobody searches for "the"), "mid" is rank 100–1,000, "rare" is
    /// the upper half of the vocabulary.
    fn query(self, rng: &mut Rng, vocabulary: &[String]) -> String {
        let len = vocabulary.len();
        let mut pick =
            |lo: usize, hi: usize| vocabulary[rng.range(lo.min(len - 1), hi.min(len))].clone();
        match self {
            QueryKind::Common => pick(10, 60),
            QueryKind::Rare => pick(len / 2, len),
            QueryKind::CommonPair => format!("{} {}", pick(10, 100), pick(10, 100)),
            QueryKind::CommonAndMid => format!("{} {}", pick(10, 100), pick(100, 1_000)),
        }
    }
}

/// Measures the store: seeding, append latency, search latency.
pub async fn run(messages: usize) -> anyhow::Result<Report> {
    let vocabulary = vocabulary();
    let mut rng = Rng(SEED);
    let seeded = seed(messages, &vocabulary, &mut rng).await?;
    let db_bytes = database_bytes(seeded.dir.path());

    let mut appends = time_appends(&seeded, &vocabulary, &mut rng).await?;
    let mut round_trips = Vec::with_capacity(APPENDS);
    for _ in 0..APPENDS {
        let started = Instant::now();
        seeded.store.setting("bench:absent").await?;
        round_trips.push(started.elapsed().as_secs_f64() * 1e6);
    }

    let mut searches = Vec::with_capacity(SEARCHES);
    let mut by_kind: Vec<(QueryKind, Vec<f64>, usize)> =
        QUERY_KINDS.iter().map(|k| (*k, Vec::new(), 0)).collect();
    for i in 0..SEARCHES {
        let slot = i % by_kind.len();
        let kind = by_kind[slot].0;
        let query = kind.query(&mut rng, &vocabulary);
        let started = Instant::now();
        let hits = seeded.store.search(&query, SEARCH_LIMIT).await?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        searches.push(ms);
        by_kind[slot].1.push(ms);
        by_kind[slot].2 += hits.len();
    }

    let seed_secs = seeded.elapsed.as_secs_f64();
    let mut metrics = vec![
        Metric::new("seeded_messages", seeded.messages as f64, "count"),
        Metric::new("seed_time", seed_secs, "s"),
        Metric::new(
            "seed_rate",
            seeded.messages as f64 / seed_secs.max(1e-9),
            "messages/s",
        ),
        Metric::new("database_size", db_bytes as f64 / 1e6, "MB"),
        Metric::new("append_p50", percentile(&mut appends, 50.0), "us").goal("<= 100 us"),
        Metric::new("append_p99", percentile(&mut appends, 99.0), "us"),
        Metric::new("round_trip_p50", percentile(&mut round_trips, 50.0), "us"),
        Metric::new("search_p50", percentile(&mut searches, 50.0), "ms").goal("<= 20 ms"),
        Metric::new("search_p99", percentile(&mut searches, 99.0), "ms"),
    ];
    for (kind, samples, hits) in &mut by_kind {
        let n = samples.len().max(1) as f64;
        metrics.push(Metric::new(
            &format!("search_{}_p50", kind.name()),
            percentile(samples, 50.0),
            "ms",
        ));
        metrics.push(Metric::new(
            &format!("search_{}_hits", kind.name()),
            *hits as f64 / n,
            "count",
        ));
    }
    Ok(Report {
        scenario: "store".to_owned(),
        target: "hermod".to_owned(),
        parameters: serde_json::json!({
            "messages": messages,
            "sessions": seeded.sessions,
            "batch": (messages / seeded.sessions).clamp(1, MAX_BATCH),
            "appends": APPENDS,
            "searches": SEARCHES,
            "search_limit": SEARCH_LIMIT,
            "vocabulary": vocabulary.len(),
        }),
        metrics,
        failures: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vocabulary_has_distinct_words() {
        let words = vocabulary();
        assert_eq!(words.len(), VOCABULARY);
        let distinct: std::collections::HashSet<&String> = words.iter().collect();
        assert_eq!(distinct.len(), words.len());
    }

    #[test]
    fn text_is_the_same_every_run() {
        let words = vocabulary();
        let a: Vec<String> = {
            let mut rng = Rng(SEED);
            (0..5).map(|_| sentence(&mut rng, &words)).collect()
        };
        let mut rng = Rng(SEED);
        let b: Vec<String> = (0..5).map(|_| sentence(&mut rng, &words)).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|s| s.split(' ').count() >= 4));
    }

    #[test]
    fn zipf_favours_low_ranks() {
        let mut rng = Rng(1);
        let ranks: Vec<usize> = (0..10_000).map(|_| zipf(&mut rng, 4_000)).collect();
        let low = ranks.iter().filter(|r| **r < 10).count();
        let high = ranks.iter().filter(|r| **r >= 2_000).count();
        assert!(low > high, "{low} {high}");
        assert!(ranks.iter().all(|r| *r < 4_000));
    }
}
