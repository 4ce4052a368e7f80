//! The store: SQLite in the data dir, the platform's truth (DESIGN.md §7).
//!
//! Only this module writes SQL. Every method is synchronous and short; async callers go
//! through [`Store::run`], which moves the work to a blocking thread, or, for the point
//! reads of a [`Reader`], [`Store::read`], which runs them in place when the connection is
//! free. A multi-statement change is one transaction, so a crash never leaves a group
//! half-made.
//! This module knows the domain types but nothing of HTTP or wasmtime.
//!
//! This file opens the database and hands out its one connection. The rest, by what it
//! holds:

/// The runtime's writes of a supervisor's step, as one transaction.
mod batch;
/// Container groups: put (IP, FQDN, containers), list by pages, delete, tags, stop and start.
mod groups;
/// The encoding of a chunk of log lines.
mod log_chunk;
/// Container logs, stored in chunks and bounded per container.
mod logs;
/// Bringing an older database up to the schema.
mod migrate;
/// ARM's async operations.
mod operations;
/// The rows of a group and its containers, and the point reads of a [`Reader`].
mod reader;
/// Resource groups.
mod resource_groups;
/// Hashes of scoped access tokens.
mod tokens;
/// A subscription's use against its quotas.
mod usage;

pub use batch::Batch;
pub use groups::{GroupKey, Page, PutGroup, PutOutcome};
pub use log_chunk::{LogPiece, Stream};
pub use logs::LogLine;
/// A fresh store in a directory of its own, holding one group (tests).
#[cfg(test)]
pub(crate) use logs::tests::fresh as fresh_with_group;
pub use operations::Operation;
pub use reader::{ContainerRow, GroupRow, Reader};
pub use resource_groups::ResourceGroupRow;
pub use tokens::TokenRow;
pub use usage::Usage;

use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error(
        "The DNS name label '{label}' in container group '{group}' not available. Try using a different label."
    )]
    LabelTaken { label: String, group: String },
    #[error("the subscription already holds {limit} container groups, its quota")]
    QuotaReached { limit: u64 },
    #[error("the IP address pool is exhausted: every address is in use")]
    PoolExhausted,
    #[error(
        "the database {0} is in use by another process (is another `waci serve` running on this data dir?)"
    )]
    InUse(String),
    #[error("could not open the database: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

/// How long opening the database waits for another process to let go of it.
const OPEN_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// SQLite's page cache, in KiB (it grows to this only as pages are used).
const CACHE_KIB: i64 = 16 * 1024;

/// More than the store has statements.
const STATEMENT_CACHE: usize = 128;

/// See [`Store::lock_durable`].
struct Durable<'a>(MutexGuard<'a, Connection>);

impl std::ops::Deref for Durable<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.0
    }
}

impl std::ops::DerefMut for Durable<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.0
    }
}

impl Drop for Durable<'_> {
    fn drop(&mut self) {
        let _ = set_synchronous(&self.0, false);
    }
}

/// A cheap handle; clones share one connection behind a mutex (SQLite serialises writers
/// anyway, and one connection keeps the statement cache warm).
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    /// Opens (creating, mode 0600) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(path)?;
        }
        let conn = Connection::open(path)?;
        // A platform that is still shutting down may hold the database for a moment.
        conn.busy_timeout(OPEN_WAIT)?;
        let setup = || -> rusqlite::Result<()> {
            // One process owns the database, for as long as it runs: SQLite takes its lock once
            // (the explicit transaction below) instead of around every transaction, and keeps
            // the WAL index in memory. A second `waci serve` on the same data dir is refused.
            conn.pragma_update(None, "locking_mode", "EXCLUSIVE")?;
            // WAL. Every commit survives a crash of the process (SIGKILL) at
            // synchronous=NORMAL; what a user was told is done also survives power loss: those
            // writes go through `lock_durable`, which commits at synchronous=FULL. Runtime
            // state (events, container states, logs) is derived and rewritten at boot, so it
            // need not wait for an fsync.
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;")?;
            set_synchronous(&conn, false)?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            // A flood of logs writes and frees megabytes per batch: with SQLite's default
            // 2 MiB cache it spills pages mid-transaction and reads freed pages back.
            conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
            // Every statement of the store is prepared once and kept (SQLite parsing a
            // statement costs more than running most of ours).
            conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            conn.execute_batch(include_str!("schema.sql"))?;
            migrate::migrate(&conn)
        };
        setup().map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                Error::InUse(path.display().to_string())
            }
            _ => Error::Sqlite(e),
        })?;
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The connection, committing at synchronous=FULL until the guard is dropped: for every
    /// change a user is told is done (create, update, delete, tokens).
    fn lock_durable(&self) -> Durable<'_> {
        let conn = self.lock();
        // Outside a transaction (none is open between calls), so the pragma takes effect.
        let _ = set_synchronous(&conn, true);
        Durable(conn)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves a connection whose transaction SQLite has
        // already rolled back; it is safe to go on using it.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on a blocking thread: SQLite must never run on the reactor.
    pub async fn run<R: Send + 'static>(&self, f: impl FnOnce(&Store) -> R + Send + 'static) -> R {
        let store = self.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(r) => r,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// A value from the settings table, created with `init` the first time it is asked for.
    pub fn setting(&self, key: &str, init: impl FnOnce() -> String) -> Result<String> {
        let conn = self.lock();
        if let Some(v) = conn
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?
        {
            return Ok(v);
        }
        let v = init();
        conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)",
            params![key, v],
        )?;
        Ok(v)
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    pub fn integrity_check(&self) -> Result<String> {
        Ok(self
            .lock()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

/// `PRAGMA synchronous` FULL or NORMAL, through the statement cache: it is set twice for
/// every durable write.
fn set_synchronous(conn: &Connection, full: bool) -> rusqlite::Result<usize> {
    let sql = if full {
        "PRAGMA synchronous = FULL"
    } else {
        "PRAGMA synchronous = NORMAL"
    };
    conn.prepare_cached(sql)?.execute([])
}
