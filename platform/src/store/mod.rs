//! The store: SQLite in the data dir, the platform's truth (DESIGN.md §7).
//!
//! Only this module writes SQL. Every method is synchronous and short; async callers go
//! through [`Store::run`], which moves the work to a blocking thread, or, for the point
//! reads of a [`Reader`], [`Store::read`], which runs them in place when the connection is
//! free. A multi-statement change is one transaction, so a crash never leaves a group
//! half-made.
//! This module knows the domain types but nothing of HTTP or wasmtime.

mod groups;
mod logs;
mod tokens;

pub use groups::{ContainerRow, GroupRow, Operation, PutOutcome, ResourceGroupRow};
/// A fresh store in a directory of its own, holding one group (tests).
#[cfg(test)]
pub(crate) use logs::tests::fresh as fresh_with_group;
pub use logs::{LogLine, LogPiece, Stream};
pub use tokens::TokenRow;

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

/// Point reads (one group, its containers and events, one token), on a connection already
/// held: see [`Store::read`].
pub struct Reader<'a>(&'a Connection);

/// The runtime's writes of one step (a container's new state, the group's, their events,
/// the provisioning state), made together by [`Store::write`] as one transaction.
pub struct Batch<'a>(&'a Connection);

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
            migrate(&conn)
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

    /// Runs `f`'s writes as one transaction at synchronous=NORMAL: a supervisor's step costs
    /// one commit, and each page it touches goes to the WAL once, instead of once per
    /// statement. Nothing of it is written if `f` fails.
    pub fn write<R>(&self, f: impl FnOnce(&Batch<'_>) -> Result<R>) -> Result<R> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let r = f(&Batch(&tx))?;
        tx.commit()?;
        Ok(r)
    }

    /// Runs the point reads of `f` (a few indexed rows, pages the cache holds): in place
    /// when the connection is free, since handing them to a blocking thread and back costs
    /// more than they do; on a blocking thread when it is taken, so the caller never waits
    /// on another's commit (an fsync) on the reactor.
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Reader<'_>) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        match self.read_in_place(f) {
            Ok(r) => r,
            Err(f) => self.run(move |s| f(&Reader(&s.lock()))).await,
        }
    }

    /// `f` run on the connection if it is free now; `f` back if it is taken.
    fn read_in_place<R, F: FnOnce(&Reader<'_>) -> R>(&self, f: F) -> std::result::Result<R, F> {
        match self.conn.try_lock() {
            Ok(conn) => Ok(f(&Reader(&conn))),
            Err(std::sync::TryLockError::Poisoned(e)) => Ok(f(&Reader(&e.into_inner()))),
            Err(std::sync::TryLockError::WouldBlock) => Err(f),
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

/// Whether `table` has `column` (a database made before the column was added has not).
fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
        params![table, column],
        |r| r.get(0),
    )
}

/// Brings a database made by an older build up to `schema.sql` (which only creates what is
/// missing): columns added since are added here, once.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    if !has_column(conn, "containers", "image_digest")? {
        conn.execute_batch("ALTER TABLE containers ADD COLUMN image_digest TEXT")?;
    }
    if !has_column(conn, "log_counts", "floor")? {
        conn.execute_batch("ALTER TABLE log_counts ADD COLUMN floor INTEGER NOT NULL DEFAULT 0")?;
    }
    // Logs were a row per line before they were stored in chunks.
    logs::migrate_lines(conn)?;
    // Counts per subscription came later than the groups of an older database: counted
    // once here, then kept by the triggers.
    let counted: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM subscription_counts)",
        [],
        |r| r.get(0),
    )?;
    if !counted {
        conn.execute_batch(
            "INSERT INTO subscription_counts (subscription, groups)
             SELECT subscription, COUNT(*) FROM container_groups GROUP BY subscription",
        )?;
    }
    Ok(())
}
