//! Container logs: every line a guest writes, with its time and stream, bounded per
//! container (oldest dropped first, the drop counted).
//!
//! A container's log is stored in chunks: one row per batch of its lines, encoded (see
//! [`LogPiece`]). Storing a batch and trimming the oldest lines cost a row each, not a row
//! and an index entry per line. Lines have ids, increasing per container: a chunk's row id
//! is the id of its last line, and its `n` lines are numbered up to it. Trimming deletes
//! whole chunks and raises the container's `floor` past lines of a chunk it only partly
//! drops; reads skip lines below the floor.

use super::log_chunk::{LogPiece, Stream, decode, line_offset, rfc3339};
use super::{Result, Store};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct LogLine {
    /// Increasing per container, so a follower resumes after the last id it saw.
    pub id: i64,
    pub group_id: i64,
    pub container: String,
    pub ts: String,
    pub stream: Stream,
    pub line: String,
}

/// The chunks of a container from the query `sql` (`?1` group, `?2` container, `?3` an
/// id), each as (id of its last line, line count, encoded lines) into `f`; no further chunk
/// is read once `f` returns `false`.
fn scan(
    conn: &Connection,
    sql: &str,
    group_id: i64,
    container: &str,
    id: i64,
    mut f: impl FnMut(i64, i64, &[u8]) -> Result<bool>,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params![group_id, container, id])?;
    while let Some(r) = rows.next()? {
        let blob = r.get_ref(2)?.as_blob().map_err(rusqlite::Error::from)?;
        if !f(r.get(0)?, r.get(1)?, blob)? {
            break;
        }
    }
    Ok(())
}

/// The lines of a chunk with ids from `from` on, at most `limit`, oldest first: only
/// these are turned into [`LogLine`]s.
fn lines_of(
    chunk: (i64, i64, &[u8]),
    from: i64,
    limit: usize,
    group_id: i64,
    container: &str,
    out: &mut Vec<LogLine>,
) -> Result<()> {
    let (last, n, data) = chunk;
    let start = out.len();
    decode(data, n, last, |id, stream, ts, text| {
        if id >= from && out.len() - start < limit {
            out.push(LogLine {
                id,
                group_id,
                container: container.to_string(),
                ts: rfc3339(ts),
                stream,
                line: text.to_string(),
            });
        }
    })
}

impl Store {
    /// Stores pieces of log in one transaction, a chunk per piece, and trims each container
    /// touched to `max_lines`. Pieces of groups deleted meanwhile are skipped.
    pub fn append_logs(&self, pieces: &[LogPiece], max_lines: u64) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        {
            let mut exists =
                tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM container_groups WHERE id = ?1)")?;
            let mut live: BTreeMap<i64, bool> = BTreeMap::new();
            // Ids go on from the newest chunk, so every new line's id is above every id a
            // follower of a living container has seen.
            let mut last: i64 = tx
                .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM log_chunks")?
                .query_row([], |r| r.get(0))?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO log_chunks (id, group_id, container, n, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut count = tx.prepare_cached(
                "INSERT INTO log_counts (group_id, container, lines, dropped) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (group_id, container) DO UPDATE SET lines = lines + ?3, dropped = dropped + ?4
                 RETURNING lines, floor",
            )?;
            for p in pieces.iter().filter(|p| p.lines > 0) {
                let alive = match live.get(&p.group_id) {
                    Some(a) => *a,
                    None => {
                        let a: bool = exists.query_row(params![p.group_id], |r| r.get(0))?;
                        live.insert(p.group_id, a);
                        a
                    }
                };
                if !alive {
                    continue;
                }
                // Lines beyond the bound in this piece alone would be trimmed at once: they
                // are counted as dropped without being written.
                let over = u64::from(p.lines).saturating_sub(max_lines);
                let kept = u64::from(p.lines) - over;
                let data = &p.data[line_offset(&p.data, over)?..];
                let container: &str = &p.container;
                if kept > 0 {
                    last += kept as i64;
                    insert.execute(params![last, p.group_id, container, kept, data])?;
                }
                let (total, floor): (u64, i64) = count
                    .query_row(params![p.group_id, container, kept, over], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?;
                if total > max_lines {
                    trim(&tx, p.group_id, container, total - max_lines, floor)?;
                }
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
        let floor = floor(&conn, group_id, container)?;
        let mut left = tail.unwrap_or(usize::MAX);
        // Newest chunk first, each decoded only for the lines the tail still wants; the
        // chunks are put back in order at the end.
        let mut chunks: Vec<Vec<LogLine>> = Vec::new();
        scan(
            &conn,
            "SELECT id, n, data FROM log_chunks WHERE group_id = ?1 AND container = ?2 AND id >= ?3 ORDER BY id DESC",
            group_id,
            container,
            floor,
            |last, n, data| {
                if left == 0 {
                    return Ok(false);
                }
                let from = floor.max(last - i64::try_from(left).unwrap_or(i64::MAX) + 1);
                let mut lines = Vec::new();
                lines_of((last, n, data), from, left, group_id, container, &mut lines)?;
                left -= lines.len();
                chunks.push(lines);
                Ok(left > 0)
            },
        )?;
        Ok(chunks.into_iter().rev().flatten().collect())
    }

    /// Lines stored after line `after_id`, oldest first, at most `limit`.
    pub fn logs_after(
        &self,
        group_id: i64,
        container: &str,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<LogLine>> {
        let conn = self.lock();
        let from = floor(&conn, group_id, container)?.max(after_id + 1);
        let mut lines = Vec::new();
        scan(
            &conn,
            "SELECT id, n, data FROM log_chunks WHERE group_id = ?1 AND container = ?2 AND id >= ?3 ORDER BY id",
            group_id,
            container,
            from,
            |last, n, data| {
                let room = limit - lines.len();
                lines_of((last, n, data), from, room, group_id, container, &mut lines)?;
                Ok(lines.len() < limit)
            },
        )?;
        Ok(lines)
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

/// The id of a container's oldest kept line, or below it (lines under it were trimmed).
fn floor(conn: &Connection, group_id: i64, container: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT floor FROM log_counts WHERE group_id = ?1 AND container = ?2")?
        .query_row(params![group_id, container], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Drops a container's `excess` oldest kept lines: whole chunks are deleted, and a chunk
/// only partly dropped stays, with the floor raised past its dropped lines.
fn trim(conn: &Connection, group_id: i64, container: &str, excess: u64, floor: i64) -> Result<()> {
    let mut left = i64::try_from(excess).unwrap_or(i64::MAX);
    let mut floor = floor;
    let mut gone = Vec::new();
    {
        let mut oldest = conn.prepare_cached(
            "SELECT id, n FROM log_chunks WHERE group_id = ?1 AND container = ?2 ORDER BY id",
        )?;
        let mut rows = oldest.query(params![group_id, container])?;
        while left > 0
            && let Some(r) = rows.next()?
        {
            let (last, n): (i64, i64) = (r.get(0)?, r.get(1)?);
            let start = (last - n + 1).max(floor);
            let kept = last - start + 1;
            if kept <= left {
                gone.push(last);
                left -= kept;
                floor = last + 1;
            } else {
                floor = start + left;
                left = 0;
            }
        }
    }
    let mut delete = conn.prepare_cached("DELETE FROM log_chunks WHERE id = ?1")?;
    for id in gone {
        delete.execute(params![id])?;
    }
    let dropped = i64::try_from(excess).unwrap_or(i64::MAX) - left;
    conn.prepare_cached(
        "UPDATE log_counts SET lines = lines - ?3, dropped = dropped + ?3, floor = ?4
         WHERE group_id = ?1 AND container = ?2",
    )?
    .execute(params![group_id, container, dropped, floor])?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{ContainerGroupSpec, Scope};
    use crate::store::{Error, PutGroup};

    /// A fresh store holding one group; its id.
    pub(crate) fn fresh(tag: &str) -> (std::path::PathBuf, Store, i64) {
        let dir = std::env::temp_dir().join(format!("waci-logs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("waci.db")).unwrap();
        let spec: ContainerGroupSpec = serde_json::from_value(serde_json::json!({
            "location": "local", "tags": {}, "os_type": "Linux", "restart_policy": "Never",
            "containers": [], "init_containers": [], "volumes": [], "registry_credentials": [], "ip_address": null
        }))
        .unwrap();
        let scope = Scope {
            subscription: "s".into(),
            resource_group: "rg".into(),
        };
        let g = store
            .put_group(PutGroup {
                max_groups_per_subscription: 10,
                ..PutGroup::plain(&scope, "g", &spec, (1, 10))
            })
            .unwrap()
            .group;
        (dir, store, g.id)
    }

    fn piece(g: i64, c: &str, lines: &[&str]) -> LogPiece {
        let mut p = LogPiece::new(g, c.into());
        for (i, l) in lines.iter().enumerate() {
            p.push(
                Stream::Stdout,
                1_700_000_000_000_000_000 + i as i64,
                l.as_bytes(),
            );
        }
        p
    }

    pub(in crate::store) fn text(lines: &[LogLine]) -> Vec<&str> {
        lines.iter().map(|l| l.line.as_str()).collect()
    }

    #[test]
    fn chunks_read_back_in_order_by_tail_and_after_an_id() {
        let (dir, store, g) = fresh("read");
        store
            .append_logs(
                &[piece(g, "a", &["1", "2", "3"]), piece(g, "b", &["x"])],
                100,
            )
            .unwrap();
        store
            .append_logs(&[piece(g, "a", &["4", "5"])], 100)
            .unwrap();
        let all = store.logs(g, "a", None).unwrap();
        assert_eq!(text(&all), ["1", "2", "3", "4", "5"]);
        assert!(all.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
        assert_eq!(all[0].ts, "2023-11-14T22:13:20Z");
        assert_eq!(all[1].ts, "2023-11-14T22:13:20.000000001Z");
        assert_eq!(
            text(&store.logs(g, "a", Some(4)).unwrap()),
            ["2", "3", "4", "5"]
        );
        assert_eq!(text(&store.logs(g, "a", Some(1)).unwrap()), ["5"]);
        assert!(store.logs(g, "a", Some(0)).unwrap().is_empty());
        assert_eq!(text(&store.logs(g, "b", None).unwrap()), ["x"]);
        assert_eq!(
            text(&store.logs_after(g, "a", all[1].id, 2).unwrap()),
            ["3", "4"]
        );
        assert_eq!(
            text(&store.logs_after(g, "a", all[2].id, 100).unwrap()),
            ["4", "5"]
        );
        assert!(store.logs_after(g, "a", all[4].id, 100).unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn trimming_drops_whole_chunks_and_part_of_one() {
        let (dir, store, g) = fresh("trim");
        for lines in [&["1", "2", "3"][..], &["4", "5"], &["6", "7", "8"]] {
            store.append_logs(&[piece(g, "a", lines)], 4).unwrap();
        }
        let kept = store.logs(g, "a", None).unwrap();
        assert_eq!(text(&kept), ["5", "6", "7", "8"]);
        assert_eq!(store.log_counts(g, "a").unwrap(), (4, 4));
        // The first chunk is gone; the second stays with its first line below the floor.
        let chunks: i64 = store
            .lock()
            .query_row("SELECT COUNT(*) FROM log_chunks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(chunks, 2);
        assert_eq!(
            text(&store.logs(g, "a", Some(10)).unwrap()),
            ["5", "6", "7", "8"]
        );
        assert_eq!(text(&store.logs_after(g, "a", 0, 2).unwrap()), ["5", "6"]);
        // A piece larger than the bound keeps only its newest lines, and only those are
        // written.
        store
            .append_logs(&[piece(g, "a", &["9", "10", "11", "12", "13"])], 4)
            .unwrap();
        assert_eq!(
            text(&store.logs(g, "a", None).unwrap()),
            ["10", "11", "12", "13"]
        );
        assert_eq!(store.log_counts(g, "a").unwrap(), (4, 9));
        let stored: i64 = store
            .lock()
            .query_row("SELECT SUM(n) FROM log_chunks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 4);
        // A group's chunks go with it.
        store.delete_group(g).unwrap();
        let chunks: i64 = store
            .lock()
            .query_row("SELECT COUNT(*) FROM log_chunks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(chunks, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_chunk_is_an_error_not_a_panic() {
        let (dir, store, g) = fresh("damaged");
        store
            .append_logs(&[piece(g, "a", &["whole"])], 100)
            .unwrap();
        store
            .lock()
            .execute("UPDATE log_chunks SET data = substr(data, 1, 10)", [])
            .unwrap();
        assert!(matches!(store.logs(g, "a", None), Err(Error::Corrupt(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
