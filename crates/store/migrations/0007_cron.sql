-- 0007: scheduled jobs and their run history.
--
-- Upgrades a 0006 database in place (it only adds tables). Applied inside
-- one transaction by src/sqlite/migrate.rs. Never edit a released migration:
-- add a new file.

-- One scheduled job. `schedule` is the text as written (`every 30m`,
-- `0 8 * * 1-5`, an ISO timestamp, `30m`); `schedule_kind` the form it
-- parsed as (interval, cron or once); the gateway computes `next_run_at_ms`
-- from them (NULL: nothing more to run, a one-shot that ran). `deliver` is
-- the delivery targets as written (`origin`, `local`, `<platform>`,
-- `<platform>:123:7`, comma lists, `all`). `creator_platform` is the
-- platform of the chat that created the job, or `cli`; `origin_json` is the
-- hermod_model::Source of that chat (NULL for the CLI).
--
-- Claiming: a gateway starts a run only after an UPDATE that matches the
-- job's `revision` and finds no live claim (`claim_until_ms` NULL or past)
-- sets `claim_owner`, `claim_until_ms` and the next run in one statement;
-- so of two gateways (or a restart) only one runs a scheduled time.
-- `revision` goes up on every change to the row.
CREATE TABLE cron_jobs (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    prompt           TEXT NOT NULL,
    schedule         TEXT NOT NULL,
    schedule_kind    TEXT NOT NULL CHECK (schedule_kind IN ('interval', 'cron', 'once')),
    deliver          TEXT NOT NULL,
    model            TEXT,
    enabled          INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    creator_platform TEXT NOT NULL,
    creator_user     TEXT,
    origin_json      TEXT,
    created_at_ms    INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL,
    next_run_at_ms   INTEGER,
    run_requested    INTEGER NOT NULL DEFAULT 0 CHECK (run_requested IN (0, 1)),
    last_run_at_ms   INTEGER,
    last_status      TEXT,
    last_error       TEXT,
    claim_owner      TEXT,
    claim_until_ms   INTEGER,
    revision         INTEGER NOT NULL DEFAULT 1
);

-- One run of a job (also a scheduled time that was missed). Kept for the
-- last 50 runs of each job; `output` is capped by the store.
CREATE TABLE cron_runs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id           TEXT NOT NULL REFERENCES cron_jobs (id) ON DELETE CASCADE,
    owner            TEXT NOT NULL,
    scheduled_at_ms  INTEGER NOT NULL,
    started_at_ms    INTEGER NOT NULL,
    finished_at_ms   INTEGER,
    status           TEXT NOT NULL
                     CHECK (status IN ('running', 'ok', 'silent', 'failed', 'interrupted', 'missed')),
    output           TEXT,
    error            TEXT
);

CREATE INDEX cron_runs_by_job ON cron_runs (job_id, id);

-- A counter that goes up with every change to any job (triggers below), so
-- a running gateway notices what `hermod cron` changed with one cheap read.
CREATE TABLE cron_changes (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    counter INTEGER NOT NULL
);
INSERT INTO cron_changes (id, counter) VALUES (1, 0);

CREATE TRIGGER cron_jobs_inserted AFTER INSERT ON cron_jobs
BEGIN
    UPDATE cron_changes SET counter = counter + 1 WHERE id = 1;
END;
CREATE TRIGGER cron_jobs_updated AFTER UPDATE ON cron_jobs
BEGIN
    UPDATE cron_changes SET counter = counter + 1 WHERE id = 1;
END;
CREATE TRIGGER cron_jobs_deleted AFTER DELETE ON cron_jobs
BEGIN
    UPDATE cron_changes SET counter = counter + 1 WHERE id = 1;
END;
