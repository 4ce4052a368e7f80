-- The platform's truth. Every table is keyed so that a crash between two statements of
-- one transaction leaves nothing half-made (SQLite rolls the transaction back).
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS resource_groups (
    subscription TEXT NOT NULL,
    name         TEXT NOT NULL,             -- as the user first wrote it
    name_lc      TEXT NOT NULL,             -- ARM names are case-insensitive
    location     TEXT NOT NULL,
    tags         TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (subscription, name_lc)
);
CREATE TABLE IF NOT EXISTS container_groups (
    id                 INTEGER PRIMARY KEY,
    subscription       TEXT NOT NULL,
    resource_group_lc  TEXT NOT NULL,
    name               TEXT NOT NULL,
    spec               TEXT NOT NULL,       -- model::ContainerGroupSpec as JSON, secrets included
    provisioning_state TEXT NOT NULL,
    state              TEXT NOT NULL,       -- instanceView.state
    ip                 INTEGER UNIQUE,      -- IPv4 as u32; NULL without ipAddress
    fqdn               TEXT UNIQUE,         -- NULL without dnsNameLabel
    nonce              TEXT NOT NULL,       -- random value hashed into Noreuse FQDNs
    generation         INTEGER NOT NULL,    -- bumped by every PUT; the runtime restarts on change
    created            TEXT NOT NULL,
    UNIQUE (subscription, resource_group_lc, name),
    FOREIGN KEY (subscription, resource_group_lc) REFERENCES resource_groups (subscription, name_lc)
);
-- Container groups per subscription, kept by triggers in the transaction that adds or
-- removes one: the quota check of a create reads one row instead of counting them all.
CREATE TABLE IF NOT EXISTS subscription_counts (
    subscription TEXT PRIMARY KEY,
    groups       INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS count_group_added AFTER INSERT ON container_groups BEGIN
    INSERT INTO subscription_counts (subscription, groups) VALUES (NEW.subscription, 1)
        ON CONFLICT (subscription) DO UPDATE SET groups = groups + 1;
END;
CREATE TRIGGER IF NOT EXISTS count_group_removed AFTER DELETE ON container_groups BEGIN
    UPDATE subscription_counts SET groups = groups - 1 WHERE subscription = OLD.subscription;
END;
CREATE TABLE IF NOT EXISTS containers (
    group_id      INTEGER NOT NULL REFERENCES container_groups (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    init          INTEGER NOT NULL,
    restart_count INTEGER NOT NULL DEFAULT 0,
    current_state TEXT NOT NULL,
    previous_state TEXT,
    image_digest  TEXT,                      -- registry/repo@sha256:... resolved at create; NULL otherwise
    PRIMARY KEY (group_id, name)
);
CREATE TABLE IF NOT EXISTS events (
    id        INTEGER PRIMARY KEY,
    group_id  INTEGER NOT NULL REFERENCES container_groups (id) ON DELETE CASCADE,
    container TEXT,                          -- NULL for a group event
    name      TEXT NOT NULL,
    message   TEXT NOT NULL,
    type      TEXT NOT NULL,
    count     INTEGER NOT NULL,
    first_ts  TEXT NOT NULL,
    last_ts   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_group ON events (group_id, id);
-- A container's log in chunks: a row per stored batch of its lines, encoded (see
-- store/logs.rs). `id` is the id of the chunk's last line; its lines are id - n + 1 ..= id.
CREATE TABLE IF NOT EXISTS log_chunks (
    id        INTEGER PRIMARY KEY,
    group_id  INTEGER NOT NULL REFERENCES container_groups (id) ON DELETE CASCADE,
    container TEXT NOT NULL,
    n         INTEGER NOT NULL,
    data      BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS log_chunks_by_container ON log_chunks (group_id, container, id);
-- Lines kept and dropped per container; lines below `floor` were trimmed (a chunk can be
-- partly trimmed).
CREATE TABLE IF NOT EXISTS log_counts (
    group_id  INTEGER NOT NULL REFERENCES container_groups (id) ON DELETE CASCADE,
    container TEXT NOT NULL,
    lines     INTEGER NOT NULL,
    dropped   INTEGER NOT NULL,
    floor     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, container)
);
CREATE TABLE IF NOT EXISTS operations (
    id           TEXT PRIMARY KEY,
    subscription TEXT NOT NULL,
    resource_id  TEXT NOT NULL,
    group_id     INTEGER,                    -- NULL once the group is gone
    status       TEXT NOT NULL,              -- InProgress | Succeeded | Failed
    start_time   TEXT NOT NULL,
    end_time     TEXT
);
-- Finishing a group's operations and forgetting its id on delete find them by group.
CREATE INDEX IF NOT EXISTS operations_by_group ON operations (group_id);
CREATE TABLE IF NOT EXISTS tokens (
    id           TEXT PRIMARY KEY,
    hash         TEXT NOT NULL UNIQUE,       -- sha256 of the token; the token itself is never kept
    subscription TEXT NOT NULL,              -- the only subscription it sees ('' for metrics_only)
    created      TEXT NOT NULL,
    expires      TEXT,                       -- RFC 3339; NULL: never
    metrics_only INTEGER NOT NULL DEFAULT 0  -- 1: may read /metrics and nothing else
);
