//! How a chunk of log lines is encoded: [`LogPiece`] builds one as a guest writes, and
//! [`decode`] reads one back. The encoding is the `data` of a `log_chunks` row, so a
//! change to it needs a migration of stored chunks. No SQL here.

use super::{Error, Result};
use std::sync::Arc;

/// Where a line of a container's log came from.
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
    fn code(self) -> u8 {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
            Stream::System => 2,
        }
    }
    fn from_code(c: u8) -> Stream {
        match c {
            0 => Stream::Stdout,
            1 => Stream::Stderr,
            _ => Stream::System,
        }
    }
}

/// Lines of one container, encoded as they are stored. Each line is its stream (1 byte),
/// its time (Unix nanoseconds, 8 bytes LE), its length (4 bytes LE) and its UTF-8 text.
#[derive(Debug, Clone)]
pub struct LogPiece {
    pub group_id: i64,
    pub container: Arc<str>,
    pub lines: u32,
    pub data: Vec<u8>,
}

const LINE_HEAD: usize = 1 + 8 + 4;

impl LogPiece {
    pub fn new(group_id: i64, container: Arc<str>) -> LogPiece {
        LogPiece {
            group_id,
            container,
            lines: 0,
            data: Vec::new(),
        }
    }

    /// Appends a line written at `ts_nanos`; bytes that are not UTF-8 are replaced.
    pub fn push(&mut self, stream: Stream, ts_nanos: i64, line: &[u8]) {
        // Checking is much cheaper than replacing, and almost every line is UTF-8.
        let text = match std::str::from_utf8(line) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => String::from_utf8_lossy(line),
        };
        self.data.reserve(LINE_HEAD + text.len());
        self.data.push(stream.code());
        self.data.extend_from_slice(&ts_nanos.to_le_bytes());
        self.data
            .extend_from_slice(&(text.len() as u32).to_le_bytes());
        self.data.extend_from_slice(text.as_bytes());
        self.lines += 1;
    }

    /// Appends every line of `other` after this piece's.
    pub fn append(&mut self, other: &LogPiece) {
        self.data.extend_from_slice(&other.data);
        self.lines += other.lines;
    }
}

/// Calls `f` with each line of the chunk whose last line is `last`: its id, stream, time
/// and text, oldest first.
pub(super) fn decode(
    data: &[u8],
    n: i64,
    last: i64,
    mut f: impl FnMut(i64, Stream, i64, &str),
) -> Result<()> {
    let bad = || Error::Corrupt(format!("log chunk {last} is unreadable"));
    let mut at = 0;
    let mut id = last - n + 1;
    while at < data.len() {
        let head = data.get(at..at + LINE_HEAD).ok_or_else(bad)?;
        let ts = i64::from_le_bytes(head[1..9].try_into().map_err(|_| bad())?);
        let len = u32::from_le_bytes(head[9..13].try_into().map_err(|_| bad())?) as usize;
        let text = data
            .get(at + LINE_HEAD..at + LINE_HEAD + len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .ok_or_else(bad)?;
        f(id, Stream::from_code(head[0]), ts, text);
        at += LINE_HEAD + len;
        id += 1;
    }
    if id != last + 1 {
        return Err(bad());
    }
    Ok(())
}

/// Where line `n` (from 0) of encoded lines starts.
pub(super) fn line_offset(data: &[u8], n: u64) -> Result<usize> {
    let mut at = 0;
    for _ in 0..n {
        let len = data
            .get(at + 9..at + LINE_HEAD)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| Error::Corrupt("a log piece is shorter than its line count".into()))?;
        at += LINE_HEAD + len as usize;
    }
    Ok(at.min(data.len()))
}

/// A stored time in RFC 3339 with nanoseconds, as the API shows every time.
pub(super) fn rfc3339(ts_nanos: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts_nanos))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
