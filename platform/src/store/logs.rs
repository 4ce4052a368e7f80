//! Container logs: every line a guest writes, with its time and stream, bounded per
//! container (oldest dropped first, the drop counted).

use super::{Result, Store};
use rusqlite::params;
use std::collections::BTreeMap;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
    /// Lines the platform writes into a container's log (a restart marker, a drop notice).
    System,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
            Stream::System => "system",
        }
    }
    fn parse(s: &str) -> Stream {
        match s {
            "stdout" => Stream::Stdout,
            "stderr" => Stream::Stderr,
            _ => Stream::System,
        }
    }
}

impl rusqlite::ToSql for Stream {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

#[derive(Debug, Clone)]
pub struct LogLine {
    /// Row id: increasing, so a follower resumes after the last id it saw. 0 before storing.
    pub id: i64,
    pub group_id: i64,
    pub container: String,
    pub ts: String,
    pub stream: Stream,
    pub line: String,
}

/// Log lines stored by one statement in a batch.
const INSERT_ROWS: usize = 32;

/// `INSERT INTO logs ... VALUES (...), (...)` for `rows` lines.
fn insert_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| {
            let b = i * 5;
            format!(
                "(?{}, ?{}, ?{}, ?{}, ?{})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5
            )
        })
        .collect();
    format!(
        "INSERT INTO logs (group_id, container, ts, stream, line) VALUES {}",
        values.join(", ")
    )
}

static INSERT_MANY: LazyLock<String> = LazyLock::new(|| insert_sql(INSERT_ROWS));
static INSERT_ONE: LazyLock<String> = LazyLock::new(|| insert_sql(1));

/// A line's values, in `insert_sql`'s order.
fn row(l: &LogLine) -> [&dyn rusqlite::ToSql; 5] {
    [&l.group_id, &l.container, &l.ts, &l.stream, &l.line]
}

impl Store {
    /// Stores a batch of lines in one transaction and trims each container touched to
    /// `max_lines`. Lines of groups deleted meanwhile are skipped.
    pub fn append_logs(&self, lines: &[LogLine], max_lines: u64) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut added: BTreeMap<(i64, &str), u64> = BTreeMap::new();
        {
            // Lines of a group deleted meanwhile are dropped: asked once per group and batch.
            let mut exists =
                tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM container_groups WHERE id = ?1)")?;
            let mut live: BTreeMap<i64, bool> = BTreeMap::new();
            let mut kept: Vec<&LogLine> = Vec::with_capacity(lines.len());
            for l in lines {
                let alive = match live.get(&l.group_id) {
                    Some(a) => *a,
                    None => {
                        let a: bool = exists.query_row(params![l.group_id], |r| r.get(0))?;
                        live.insert(l.group_id, a);
                        a
                    }
                };
                if alive {
                    kept.push(l);
                    *added.entry((l.group_id, l.container.as_str())).or_default() += 1;
                }
            }
            // Many rows per statement: a flood spends less in SQLite's per-statement work.
            let mut chunks = kept.chunks_exact(INSERT_ROWS);
            let mut many = tx.prepare_cached(&INSERT_MANY)?;
            for chunk in chunks.by_ref() {
                many.execute(rusqlite::params_from_iter(
                    chunk.iter().flat_map(|l| row(l)),
                ))?;
            }
            let mut one = tx.prepare_cached(&INSERT_ONE)?;
            for l in chunks.remainder() {
                one.execute(rusqlite::params_from_iter(row(l)))?;
            }
        }
        for ((group_id, container), n) in added {
            tx.prepare_cached("INSERT INTO log_counts (group_id, container, lines, dropped) VALUES (?1, ?2, ?3, 0)
                 ON CONFLICT (group_id, container) DO UPDATE SET lines = lines + ?3")?.execute(
                params![group_id, container, n],
            )?;
            let total: u64 = tx
                .prepare_cached(
                    "SELECT lines FROM log_counts WHERE group_id = ?1 AND container = ?2",
                )?
                .query_row(params![group_id, container], |r| r.get(0))?;
            if total > max_lines {
                let excess = total - max_lines;
                tx.prepare_cached("DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE group_id = ?1 AND container = ?2 ORDER BY id LIMIT ?3)")?.execute(
                    params![group_id, container, excess],
                )?;
                tx.prepare_cached("UPDATE log_counts SET lines = lines - ?3, dropped = dropped + ?3 WHERE group_id = ?1 AND container = ?2")?.execute(
                    params![group_id, container, excess],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The last `tail` lines (all when `None`) of a container, oldest first.
    pub fn logs(
        &self,
        group_id: i64,
        container: &str,
        tail: Option<usize>,
    ) -> Result<Vec<LogLine>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, ts, stream, line FROM (
                SELECT id, ts, stream, line FROM logs WHERE group_id = ?1 AND container = ?2 ORDER BY id DESC LIMIT ?3
             ) ORDER BY id",
        )?;
        let limit = tail.map(|t| t as i64).unwrap_or(-1);
        let rows = stmt
            .query_map(params![group_id, container, limit], |r| {
                Ok(LogLine {
                    id: r.get(0)?,
                    group_id,
                    container: container.to_string(),
                    ts: r.get(1)?,
                    stream: Stream::parse(&r.get::<_, String>(2)?),
                    line: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Lines stored after row `after_id`, oldest first, at most `limit`.
    pub fn logs_after(
        &self,
        group_id: i64,
        container: &str,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<LogLine>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, ts, stream, line FROM logs WHERE group_id = ?1 AND container = ?2 AND id > ?3 ORDER BY id LIMIT ?4",
        )?;
        let rows = stmt
            .query_map(params![group_id, container, after_id, limit as i64], |r| {
                Ok(LogLine {
                    id: r.get(0)?,
                    group_id,
                    container: container.to_string(),
                    ts: r.get(1)?,
                    stream: Stream::parse(&r.get::<_, String>(2)?),
                    line: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Counts lines a container lost before they could be stored.
    pub fn add_dropped(&self, group_id: i64, container: &str, n: u64) -> Result<()> {
        self.lock()
            .prepare_cached(
                "INSERT INTO log_counts (group_id, container, lines, dropped)
             SELECT ?1, ?2, 0, ?3 WHERE EXISTS (SELECT 1 FROM container_groups WHERE id = ?1)
             ON CONFLICT (group_id, container) DO UPDATE SET dropped = dropped + ?3",
            )?
            .execute(params![group_id, container, n])?;
        Ok(())
    }

    /// `(lines kept, lines dropped)` for a container.
    pub fn log_counts(&self, group_id: i64, container: &str) -> Result<(u64, u64)> {
        use rusqlite::OptionalExtension;
        Ok(self
            .lock()
            .prepare_cached(
                "SELECT lines, dropped FROM log_counts WHERE group_id = ?1 AND container = ?2",
            )?
            .query_row(params![group_id, container], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((0, 0)))
    }
}
