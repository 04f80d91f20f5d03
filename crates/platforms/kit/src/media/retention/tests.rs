use super::*;
use hermod_model::EnvVars;

fn write(dir: &Path, name: &str, len: usize, age: Duration, now: SystemTime) {
    let path = dir.join(name);
    std::fs::write(&path, vec![0_u8; len]).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(now - age).unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn old_files_go_then_the_oldest_while_over_the_size() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    write(dir.path(), "expired", 10, 50 * HOUR, now);
    write(dir.path(), "oldest", 400, 5 * HOUR, now);
    write(dir.path(), "older", 400, 4 * HOUR, now);
    write(dir.path(), "newest", 400, HOUR, now);
    write(dir.path(), ".writing.part", 400, 6 * HOUR, now);
    write(dir.path(), ".stale.part", 10, 49 * HOUR, now);
    let retention = MediaRetention {
        max_age: 48 * HOUR,
        max_total_bytes: 1000,
    };
    let report = cleanup(dir.path(), &retention, now);
    // 1630 bytes: the expired two go, then the oldest while over 1000 (the
    // file being written counts but is not deleted).
    assert_eq!(names(dir.path()), [".writing.part", "newest"]);
    assert_eq!(
        report,
        CleanupReport {
            deleted: 4,
            freed_bytes: 820,
            kept_bytes: 800,
        }
    );
    assert_eq!(
        cleanup(&dir.path().join("missing"), &retention, now),
        CleanupReport::default()
    );
}

#[tokio::test(start_paused = true)]
async fn the_task_cleans_at_start_then_periodically_until_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    write(dir.path(), "old", 10, 100 * 24 * HOUR, now);
    write(dir.path(), "new", 10, HOUR, now);
    let shutdown = CancellationToken::new();
    let _cleanup = MediaCleanup::start(
        dir.path().to_owned(),
        MediaRetention::default(),
        shutdown.clone(),
    );
    // Paused time does not advance while the blocking cleanup runs.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(names(dir.path()), ["new"]);

    write(dir.path(), "old-again", 10, 100 * 24 * HOUR, now);
    tokio::time::sleep(CLEANUP_EVERY - Duration::from_secs(10)).await;
    assert_eq!(names(dir.path()), ["new", "old-again"], "not yet");
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(names(dir.path()), ["new"]);

    shutdown.cancel();
    tokio::time::sleep(Duration::from_secs(1)).await;
    write(dir.path(), "after", 10, 100 * 24 * HOUR, now);
    tokio::time::sleep(2 * CLEANUP_EVERY).await;
    assert_eq!(names(dir.path()), ["after", "new"], "stopped");
}

#[tokio::test]
async fn one_task_per_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = hermod_core::BuildContext {
        store: Arc::new(hermod_store::SqliteStore::open(&dir.path().join("t.db")).unwrap()),
        http: hermod_http::HttpClient::new().unwrap(),
        home: dir.path().to_owned(),
        media_dir: dir.path().join("media"),
        shutdown: CancellationToken::new(),
        shared: hermod_core::SharedParts::default(),
        shared_database: false,
    };
    let first = MediaCleanup::shared(&ctx, MediaRetention::default());
    let other = MediaRetention {
        max_age: HOUR,
        max_total_bytes: 1,
    };
    let second = MediaCleanup::shared(&ctx, other);
    assert!(Arc::ptr_eq(&first.inner, &second.inner));
    assert_eq!(second.retention(), &MediaRetention::default());
    ctx.shutdown.cancel();
}

#[test]
fn the_settings_are_read_in_days_and_megabytes() {
    let mut retention = MediaRetention::default();
    assert_eq!(retention.max_age, Duration::from_secs(30 * 24 * 3600));
    assert_eq!(retention.max_total_bytes, 1024 * 1024 * 1024);
    let vars: EnvVars = [
        ("HERMOD_MEDIA_MAX_AGE_DAYS", "7"),
        ("HERMOD_MEDIA_MAX_MB", "50"),
    ]
    .into_iter()
    .collect();
    crate::config::apply_env(&mut retention, &vars).unwrap();
    assert_eq!(retention.max_age, Duration::from_secs(7 * 24 * 3600));
    assert_eq!(retention.max_total_bytes, 50 * 1024 * 1024);
    let zero: EnvVars = [("HERMOD_MEDIA_MAX_MB", "0")].into_iter().collect();
    let mut retention = MediaRetention::default();
    crate::config::apply_env(&mut retention, &zero).unwrap();
    let err = crate::config::check_limits(&retention).unwrap_err();
    assert!(err.contains("HERMOD_MEDIA_MAX_MB"), "{err}");
    assert_eq!(
        crate::config::env_vars::<MediaRetention>(),
        ["HERMOD_MEDIA_MAX_AGE_DAYS", "HERMOD_MEDIA_MAX_MB"]
    );
}
