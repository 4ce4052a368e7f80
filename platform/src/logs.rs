//! Logs: collects the lines guests write, stores them in batches off the request path, and
//! wakes followers (DESIGN.md §6).
//!
//! Guests never wait on SQLite: a line goes into a bounded channel and a writer task commits
//! batches. If a guest outruns the writer so far that the channel is full, lines are dropped
//! and the drop is counted into the container's log as a system line.
//! This module knows the store, not wasmtime or HTTP.

use crate::model::now_rfc3339;
use crate::store::{LogLine, Store, Stream};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Lines kept per container before the oldest are dropped.
pub const DEFAULT_MAX_LINES: u64 = 10_000;
/// A line longer than this is split into pieces of this size (DESIGN.md §6: long lines are
/// kept whole up to a documented limit).
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// Lines in flight between guests and the writer; past this a flooding guest loses lines.
const CHANNEL_LINES: usize = 64 * 1024;
/// A guest's writes wait (wasi stream back-pressure) while fewer than this many slots are
/// free, so a flood slows its writer down instead of losing its latest lines.
const ROOM_LINES: usize = 16 * 1024;
/// Most lines in one transaction: one commit per batch keeps a flood cheap.
const BATCH_LINES: usize = 4096;

pub struct LogHub {
    tx: mpsc::Sender<LogLine>,
    /// Bumped after every committed batch; followers wait on it.
    written: watch::Receiver<u64>,
    /// Lines dropped because the queue was full, per (group, container), not yet stored.
    dropped: Arc<Mutex<HashMap<(i64, String), u64>>>,
    /// Woken after every batch the writer takes off the queue.
    room: Arc<tokio::sync::Notify>,
}

impl LogHub {
    /// Starts the writer task. It ends when every sender is gone, after a last flush.
    pub fn start(store: Store, max_lines: u64) -> Arc<LogHub> {
        let (tx, rx) = mpsc::channel(CHANNEL_LINES);
        let (written_tx, written) = watch::channel(0u64);
        let dropped = Arc::new(Mutex::new(HashMap::new()));
        let room = Arc::new(tokio::sync::Notify::new());
        tokio::spawn(writer(
            store,
            rx,
            written_tx,
            max_lines,
            dropped.clone(),
            room.clone(),
        ));
        Arc::new(LogHub {
            tx,
            written,
            dropped,
            room,
        })
    }

    /// Queues one line. Never blocks: a full queue drops the line and counts it.
    pub fn push(&self, group_id: i64, container: &str, stream: Stream, line: String) {
        let line = LogLine {
            id: 0,
            group_id,
            container: container.to_string(),
            ts: now_rfc3339(),
            stream,
            line,
        };
        if let Err(e) = self.tx.try_send(line) {
            let line = e.into_inner();
            let mut dropped = self.dropped.lock().unwrap_or_else(|e| e.into_inner());
            *dropped.entry((line.group_id, line.container)).or_default() += 1;
        }
    }

    /// Whether a guest may write now without risking dropped lines.
    pub fn has_room(&self) -> bool {
        self.tx.capacity() >= ROOM_LINES
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

    /// Waits until everything queued before this call is stored (tests, shutdown).
    pub async fn flush(&self) {
        let mut rx = self.subscribe();
        let marker = self.tx.send(LogLine {
            id: -1,
            group_id: -1,
            container: String::new(),
            ts: String::new(),
            stream: Stream::System,
            line: String::new(),
        });
        if marker.await.is_ok() {
            let start = *rx.borrow_and_update();
            while *rx.borrow() == start {
                if rx.changed().await.is_err() {
                    break;
                }
            }
        }
    }
}

async fn writer(
    store: Store,
    mut rx: mpsc::Receiver<LogLine>,
    written: watch::Sender<u64>,
    max_lines: u64,
    dropped: Arc<Mutex<HashMap<(i64, String), u64>>>,
    room: Arc<tokio::sync::Notify>,
) {
    let mut batch = Vec::with_capacity(BATCH_LINES);
    while rx.recv_many(&mut batch, BATCH_LINES).await > 0 {
        room.notify_waiters();
        // A flush marker (id -1) only asks for a commit notification.
        batch.retain(|l| l.id != -1);
        let lines = std::mem::take(&mut batch);
        let drops: Vec<((i64, String), u64)> = dropped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        let store = store.clone();
        let lines = tokio::task::spawn_blocking(move || {
            if !lines.is_empty()
                && let Err(e) = store.append_logs(&lines, max_lines)
            {
                tracing::error!(error = %e, "storing logs failed");
            }
            for ((group_id, container), n) in drops {
                if let Err(e) = store.add_dropped(group_id, &container, n) {
                    tracing::error!(error = %e, "counting dropped log lines failed");
                }
            }
            lines
        })
        .await
        .unwrap_or_default();
        let full = lines.len() >= BATCH_LINES;
        batch = lines;
        batch.clear();
        written.send_modify(|n| *n += 1);
        // Let a burst accumulate a little so a flood commits in large batches; after a full
        // batch there is more waiting already.
        if !full {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// Splits a guest's byte stream into lines. One per container stream, shared by every
/// output-stream handle the guest opens, so a line written in pieces stays one line.
pub struct LineSplitter {
    hub: Arc<LogHub>,
    group_id: i64,
    container: Arc<str>,
    stream: Stream,
    partial: Vec<u8>,
}

impl LineSplitter {
    pub fn hub(&self) -> &Arc<LogHub> {
        &self.hub
    }

    pub fn new(hub: Arc<LogHub>, group_id: i64, container: Arc<str>, stream: Stream) -> Self {
        LineSplitter {
            hub,
            group_id,
            container,
            stream,
            partial: Vec::new(),
        }
    }

    pub fn write(&mut self, mut bytes: &[u8]) {
        while let Some(nl) = bytes.iter().position(|b| *b == b'\n') {
            self.partial.extend_from_slice(&bytes[..nl]);
            self.emit();
            bytes = &bytes[nl + 1..];
        }
        self.partial.extend_from_slice(bytes);
        while self.partial.len() >= MAX_LINE_BYTES {
            let rest = self.partial.split_off(MAX_LINE_BYTES);
            self.emit();
            self.partial = rest;
        }
    }

    /// Emits what is left as a line of its own (the guest ended mid-line).
    pub fn finish(&mut self) {
        if !self.partial.is_empty() {
            self.emit();
        }
    }

    fn emit(&mut self) {
        let mut raw = std::mem::take(&mut self.partial);
        if raw.last() == Some(&b'\r') {
            raw.pop();
        }
        let line = String::from_utf8(raw)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        self.hub
            .push(self.group_id, &self.container, self.stream, line);
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
        let dir = std::env::temp_dir().join(format!("waci-logs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("t.db")).unwrap();
        let spec: crate::model::ContainerGroupSpec = serde_json::from_value(serde_json::json!({
            "location": "local", "tags": {}, "os_type": "Linux", "restart_policy": "Never",
            "containers": [], "init_containers": [], "volumes": [], "registry_credentials": [], "ip_address": null
        })).unwrap();
        let scope = crate::model::Scope {
            subscription: "s".into(),
            resource_group: "rg".into(),
        };
        let g = store
            .put_group(&scope, "g", &spec, (1, 10), 10, &|_| None, None)
            .unwrap()
            .group;
        let hub = LogHub::start(store.clone(), 3);
        let mut out = LineSplitter::new(hub.clone(), g.id, "c".into(), Stream::Stdout);
        out.write(b"one\ntw");
        out.write(b"o\r\nthree\nfour\nfive");
        drop(out);
        hub.flush().await;
        let lines: Vec<String> = store
            .logs(g.id, "c", None)
            .unwrap()
            .into_iter()
            .map(|l| l.line)
            .collect();
        assert_eq!(lines, ["three", "four", "five"]);
        assert_eq!(store.log_counts(g.id, "c").unwrap(), (3, 2));
        std::fs::remove_dir_all(&dir).ok();
    }
}
