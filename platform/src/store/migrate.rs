//! Brings a database made by an older build up to `schema.sql` (which only creates what is
//! missing): columns added since, logs stored a row per line, counts per subscription.
//! Each step checks whether it is needed, so it runs once; none loses what a user stored.

use super::log_chunk::{LogPiece, Stream};
use rusqlite::{Connection, params};
use std::collections::BTreeMap;

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
pub(super) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    if !has_column(conn, "containers", "image_digest")? {
        conn.execute_batch("ALTER TABLE containers ADD COLUMN image_digest TEXT")?;
    }
    if !has_column(conn, "log_counts", "floor")? {
        conn.execute_batch("ALTER TABLE log_counts ADD COLUMN floor INTEGER NOT NULL DEFAULT 0")?;
    }
    if !has_column(conn, "tokens", "metrics_only")? {
        conn.execute_batch(
            "ALTER TABLE tokens ADD COLUMN metrics_only INTEGER NOT NULL DEFAULT 0",
        )?;
    }
    // Logs were a row per line before they were stored in chunks.
    migrate_lines(conn)?;
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

/// Moves the lines of an older database's `logs` table (a row per line) into chunks, a
/// chunk per container, and drops the table. Ids are numbered afresh: no follower
/// outlives the restart that runs this.
fn migrate_lines(conn: &Connection) -> rusqlite::Result<()> {
    let old: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'logs')",
        [],
        |r| r.get(0),
    )?;
    if !old {
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    let mut pieces: BTreeMap<(i64, String), LogPiece> = BTreeMap::new();
    {
        let mut stmt =
            tx.prepare("SELECT group_id, container, ts, stream, line FROM logs ORDER BY id")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (group_id, container): (i64, String) = (r.get(0)?, r.get(1)?);
            let ts: String = r.get(2)?;
            let ts =
                time::OffsetDateTime::parse(&ts, &time::format_description::well_known::Rfc3339)
                    .map(|t| t.unix_timestamp_nanos() as i64)
                    .unwrap_or(0);
            let stream = match r.get_ref(3)?.as_str()? {
                "stdout" => Stream::Stdout,
                "stderr" => Stream::Stderr,
                _ => Stream::System,
            };
            let line: String = r.get(4)?;
            pieces
                .entry((group_id, container.clone()))
                .or_insert_with(|| LogPiece::new(group_id, container.as_str().into()))
                .push(stream, ts, line.as_bytes());
        }
    }
    let mut last = 0i64;
    for p in pieces.values() {
        last += i64::from(p.lines);
        let container: &str = &p.container;
        tx.execute(
            "INSERT INTO log_chunks (id, group_id, container, n, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![last, p.group_id, container, p.lines, p.data],
        )?;
    }
    tx.execute_batch("UPDATE log_counts SET floor = 0; DROP TABLE logs;")?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::logs::tests::{fresh, text};

    #[test]
    fn lines_of_an_older_database_move_into_chunks() {
        let (dir, store, g) = fresh("migrate");
        {
            let conn = store.lock();
            conn.execute_batch(
                "CREATE TABLE logs (id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL,
                    container TEXT NOT NULL, ts TEXT NOT NULL, stream TEXT NOT NULL, line TEXT NOT NULL);",
            )
            .unwrap();
            for (c, ts, stream, line) in [
                ("a", "2026-11-24T10:00:00.5Z", "stdout", "one"),
                ("b", "2026-11-24T10:00:01Z", "stderr", "other"),
                ("a", "2026-11-24T10:00:02Z", "stderr", "two"),
            ] {
                conn.execute(
                    "INSERT INTO logs (group_id, container, ts, stream, line) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![g, c, ts, stream, line],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO log_counts (group_id, container, lines, dropped) VALUES (?1, 'a', 2, 7)",
                params![g],
            )
            .unwrap();
        }
        migrate_lines(&store.lock()).unwrap();
        let a = store.logs(g, "a", None).unwrap();
        assert_eq!(text(&a), ["one", "two"]);
        assert_eq!(a[0].ts, "2026-11-24T10:00:00.5Z");
        assert_eq!(a[1].stream, Stream::Stderr);
        assert_eq!(text(&store.logs(g, "b", None).unwrap()), ["other"]);
        assert_eq!(store.log_counts(g, "a").unwrap(), (2, 7));
        let old: i64 = store
            .lock()
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'logs'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn tokens_of_an_older_database_stay_scoped() {
        let (dir, store, _) = fresh("migrate-tokens");
        {
            let conn = store.lock();
            conn.execute_batch(
                "DROP TABLE tokens;
                 CREATE TABLE tokens (id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE,
                    subscription TEXT NOT NULL, created TEXT NOT NULL, expires TEXT);
                 INSERT INTO tokens VALUES ('old', 'h', 'team-a', '2026-01-01T00:00:00Z', NULL);",
            )
            .unwrap();
            migrate(&conn).unwrap();
        }
        let tokens = store.list_tokens().unwrap();
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].subscription, "team-a");
        assert!(
            !tokens[0].metrics_only,
            "an older token is never metrics-only"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
