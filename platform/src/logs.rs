//! Logs: collects the lines guests write, stores them in batches off the request path, and
//! wakes followers (DESIGN.md §6).
//!
//! Guests never wait on SQLite: the lines of a write go into a queue bounded in bytes and a
//! writer task commits batches, one chunk per container. If a guest outruns the writer so
//! far that the queue is full, lines are dropped and the drop is counted into the
//! container's log.
//! This module knows the store, not wasmtime or HTTP: the runtime core hands guest output
//! to it through [`runtime::LogSink`], which [`LogHub`] implements.

use crate::runtime::{self, LogSink, StreamSink};
use crate::store::{LogPiece, Store, Stream};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Lines kept per container before the oldest are dropped.
pub const DEFAULT_MAX_LINES: u64 = 10_000;
/// A line longer than this is split into pieces of this size (DESIGN.md §6: long lines are
/// kept whole up to a documented limit).
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// Bytes of log in flight between guests and the writer; past this a flooding guest loses
/// lines.
const QUEUE_BYTES: usize = 16 << 20;
/// A guest's writes wait (wasi stream back-pressure) while more than this is queued, so a
/// flood slows its writer down instead of losing its latest lines.
const ROOM_BYTES: usize = 12 << 20;
/// Most pieces (a guest's write each) in one transaction: one commit per batch keeps a
/// flood cheap.
const BATCH_PIECES: usize = 1024;

/// Lines dropped because the queue was full, per (group, container), not yet stored.
type Dropped = Arc<Mutex<HashMap<(i64, Arc<str>), u64>>>;

/// Lines of one container stored and dropped since it was first counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LineCounts {
    pub stored: u64,
    pub dropped: u64,
}

/// [`LineCounts`] per (group, container), kept by the writer once per batch.
type Counts = Arc<Mutex<HashMap<(i64, Arc<str>), LineCounts>>>;

pub struct LogHub {
    queue: Arc<Queue>,
    counts: Counts,
    /// Bumped after every committed batch; followers wait on it.
    written: watch::Receiver<u64>,
    /// Woken after every batch the writer takes off the queue.
    room: Arc<tokio::sync::Notify>,
}

/// The sending side of the queue, shared by the hub and every [`LineSplitter`]; the writer
/// ends once the last of them is gone.
struct Queue {
    tx: mpsc::UnboundedSender<LogPiece>,
    /// Bytes sent to the writer and not yet taken by it.
    queued: Arc<AtomicUsize>,
    /// Lines dropped because the queue was full, per (group, container), not yet stored.
    dropped: Dropped,
}

impl LogHub {
    /// Starts the writer task. It ends when every sender is gone, after a last flush.
    pub fn start(store: Store, max_lines: u64) -> Arc<LogHub> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (written_tx, written) = watch::channel(0u64);
        let hub = Arc::new(LogHub {
            queue: Arc::new(Queue {
                tx,
                queued: Arc::new(AtomicUsize::new(0)),
                dropped: Arc::new(Mutex::new(HashMap::new())),
            }),
            counts: Counts::default(),
            written,
            room: Arc::new(tokio::sync::Notify::new()),
        });
        tokio::spawn(writer(
            store,
            rx,
            written_tx,
            max_lines,
            hub.queue.queued.clone(),
            (hub.queue.dropped.clone(), hub.counts.clone()),
            hub.room.clone(),
        ));
        hub
    }

    /// Queues the lines of one write. Never blocks: a full queue drops them and counts them.
    pub fn push(&self, piece: LogPiece) {
        self.queue.push(piece)
    }

    /// Whether a guest may write now without risking dropped lines.
    pub fn has_room(&self) -> bool {
        self.queue.queued.load(Ordering::Acquire) <= ROOM_BYTES
    }

    /// Waits until [`LogHub::has_room`].
    pub async fn wait_for_room(&self) {
        loop {
            let woken = self.room.notified();
            if self.has_room() {
                return;
            }
            woken.await;
        }
    }

    /// A receiver that changes after every stored batch.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.written.clone()
    }

    /// Lines stored and dropped so far, per (group, container), for the metrics.
    pub fn line_counts(&self) -> HashMap<(i64, Arc<str>), LineCounts> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Forgets the counts of a stopped or deleted group's containers.
    pub fn forget(&self, group_id: i64) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.retain(|(g, _), _| *g != group_id);
    }

    /// Waits until everything queued before this call is stored (tests, shutdown).
    pub async fn flush(&self) {
        let mut rx = self.subscribe();
        let start = *rx.borrow_and_update();
        // An empty piece only asks for a commit notification.
        if self.queue.tx.send(LogPiece::new(-1, "".into())).is_ok() {
            while *rx.borrow() == start {
                if rx.changed().await.is_err() {
                    break;
                }
            }
        }
    }
}

impl Queue {
    fn push(&self, piece: LogPiece) {
        let size = piece.data.len();
        if self.queued.fetch_add(size, Ordering::AcqRel) + size > QUEUE_BYTES {
            self.queued.fetch_sub(size, Ordering::AcqRel);
            let mut dropped = self.dropped.lock().unwrap_or_else(|e| e.into_inner());
            *dropped
                .entry((piece.group_id, piece.container))
                .or_default() += u64::from(piece.lines);
            return;
        }
        if let Err(e) = self.tx.send(piece) {
            // The writer is gone (shutdown): nothing will take these bytes.
            self.queued.fetch_sub(e.0.data.len(), Ordering::AcqRel);
        }
    }
}

/// Guest output goes into the queue, a [`LineSplitter`] per stream of each instance.
impl LogSink for LogHub {
    fn open(
        &self,
        group_id: i64,
        container: &Arc<str>,
        stream: runtime::Stream,
    ) -> Arc<Mutex<dyn StreamSink>> {
        Arc::new(Mutex::new(LineSplitter::new(
            self,
            group_id,
            container.clone(),
            stream.into(),
        )))
    }
    fn has_room(&self) -> bool {
        LogHub::has_room(self)
    }
    fn wait_for_room(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(LogHub::wait_for_room(self))
    }
}

impl From<runtime::Stream> for Stream {
    fn from(s: runtime::Stream) -> Stream {
        match s {
            runtime::Stream::Stdout => Stream::Stdout,
            runtime::Stream::Stderr => Stream::Stderr,
        }
    }
}

async fn writer(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<LogPiece>,
    written: watch::Sender<u64>,
    max_lines: u64,
    queued: Arc<AtomicUsize>,
    // Lines dropped and not yet stored; lines stored and dropped so far, for the metrics.
    (dropped, counts): (Dropped, Counts),
    room: Arc<tokio::sync::Notify>,
) {
    let mut batch = Vec::with_capacity(BATCH_PIECES);
    while rx.recv_many(&mut batch, BATCH_PIECES).await > 0 {
        let full = batch.len() >= BATCH_PIECES;
        let taken: usize = batch.iter().map(|p| p.data.len()).sum();
        queued.fetch_sub(taken, Ordering::AcqRel);
        room.notify_waiters();
        // One chunk per container and batch, its lines in the order they came.
        let mut chunks: Vec<LogPiece> = Vec::new();
        let mut index: HashMap<(i64, Arc<str>), usize> = HashMap::new();
        for p in batch.drain(..).filter(|p| p.lines > 0) {
            match index.entry((p.group_id, p.container.clone())) {
                Entry::Occupied(i) => chunks[*i.get()].append(&p),
                Entry::Vacant(v) => {
                    v.insert(chunks.len());
                    chunks.push(p);
                }
            }
        }
        let drops: Vec<((i64, Arc<str>), u64)> = dropped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        {
            let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
            for c in &chunks {
                let key = (c.group_id, c.container.clone());
                counts.entry(key).or_default().stored += u64::from(c.lines);
            }
            for (key, n) in &drops {
                counts.entry(key.clone()).or_default().dropped += n;
            }
        }
        let store = store.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if !chunks.is_empty()
                && let Err(e) = store.append_logs(&chunks, max_lines)
            {
                tracing::error!(error = %e, "storing logs failed");
            }
            for ((group_id, container), n) in drops {
                if let Err(e) = store.add_dropped(group_id, &container, n) {
                    tracing::error!(error = %e, "counting dropped log lines failed");
                }
            }
        })
        .await;
        written.send_modify(|n| *n += 1);
        // Let a burst accumulate a little so a flood commits in large batches; after a full
        // batch there is more waiting already.
        if !full {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// Splits a guest's byte stream into lines. One per container stream, shared by every
/// output-stream handle the guest opens, so a line written in pieces stays one line. The
/// lines of one write go to the hub together, stamped with its time.
pub struct LineSplitter {
    queue: Arc<Queue>,
    group_id: i64,
    container: Arc<str>,
    stream: Stream,
    partial: Vec<u8>,
}

impl LineSplitter {
    pub fn new(hub: &LogHub, group_id: i64, container: Arc<str>, stream: Stream) -> Self {
        LineSplitter {
            queue: hub.queue.clone(),
            group_id,
            container,
            stream,
            partial: Vec::new(),
        }
    }

    pub fn write(&mut self, mut bytes: &[u8]) {
        let ts = now_nanos();
        let mut piece = LogPiece::new(self.group_id, self.container.clone());
        while let Some(nl) = memchr::memchr(b'\n', bytes) {
            if self.partial.is_empty() {
                self.line(&mut piece, ts, &bytes[..nl]);
            } else {
                self.partial.extend_from_slice(&bytes[..nl]);
                let raw = std::mem::take(&mut self.partial);
                self.line(&mut piece, ts, &raw);
            }
            bytes = &bytes[nl + 1..];
        }
        self.partial.extend_from_slice(bytes);
        if self.partial.len() >= MAX_LINE_BYTES {
            let keep = self.partial.len() % MAX_LINE_BYTES;
            let rest = self.partial.split_off(self.partial.len() - keep);
            let whole = std::mem::replace(&mut self.partial, rest);
            self.line(&mut piece, ts, &whole);
        }
        self.send(piece);
    }

    /// Emits what is left as a line of its own (the guest ended mid-line).
    pub fn finish(&mut self) {
        if !self.partial.is_empty() {
            let mut piece = LogPiece::new(self.group_id, self.container.clone());
            let raw = std::mem::take(&mut self.partial);
            self.line(&mut piece, now_nanos(), &raw);
            self.send(piece);
        }
    }

    /// Adds `raw` (without its newline) to `piece`: one line, or pieces of
    /// [`MAX_LINE_BYTES`] if it is longer.
    fn line(&self, piece: &mut LogPiece, ts: i64, raw: &[u8]) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.is_empty() {
            piece.push(self.stream, ts, raw);
        }
        for part in raw.chunks(MAX_LINE_BYTES) {
            piece.push(self.stream, ts, part);
        }
    }

    fn send(&self, piece: LogPiece) {
        if piece.lines > 0 {
            self.queue.push(piece);
        }
    }
}

/// Now, in Unix nanoseconds.
fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl StreamSink for LineSplitter {
    fn write(&mut self, bytes: &[u8]) {
        LineSplitter::write(self, bytes)
    }
}

impl Drop for LineSplitter {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn splits_lines_and_bounds_them() {
        let (dir, store, gid) = crate::store::fresh_with_group("hub");
        let hub = LogHub::start(store.clone(), 3);
        let mut out = LineSplitter::new(&hub, gid, "c".into(), Stream::Stdout);
        out.write(b"one\ntw");
        out.write(b"o\r\nthree\nfour\nfive");
        drop(out);
        hub.flush().await;
        let lines: Vec<String> = store
            .logs(gid, "c", None)
            .unwrap()
            .into_iter()
            .map(|l| l.line)
            .collect();
        assert_eq!(lines, ["three", "four", "five"]);
        assert_eq!(store.log_counts(gid, "c").unwrap(), (3, 2));

        // A line longer than the limit is kept in pieces of it; an empty line is a line.
        let hub = LogHub::start(store.clone(), 100);
        let mut out = LineSplitter::new(&hub, gid, "d".into(), Stream::Stderr);
        let long = "y".repeat(MAX_LINE_BYTES * 2 + 5);
        out.write(format!("{long}\n\nend").as_bytes());
        drop(out);
        hub.flush().await;
        let lines = store.logs(gid, "d", None).unwrap();
        let lens: Vec<usize> = lines.iter().map(|l| l.line.len()).collect();
        assert_eq!(lens, [MAX_LINE_BYTES, MAX_LINE_BYTES, 5, 0, 3]);
        assert!(lines.iter().all(|l| l.stream == Stream::Stderr));
        std::fs::remove_dir_all(&dir).ok();
    }
}
