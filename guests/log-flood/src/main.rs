//! `waci/log-flood`: a command that writes log lines to stdout as fast as it can, so tests
//! and benchmarks can check that the platform's log capture keeps up and stays bounded.
//!
//! Arguments:
//! - `--lines N`: stop after N lines (default: never stop)
//! - `--bytes B`: make each line B bytes long, not counting its newline (default 100)
//!
//! Line n (from 1) is `flood <n> ` padded with `x` up to B bytes; a line whose prefix is
//! already longer than B is written unpadded. After the last line it prints
//! `flood done <N>`. If stdout fails it says why on stderr and exits 1.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};

/// Default line length, in bytes without the newline.
const DEFAULT_BYTES: usize = 100;
/// Output buffer: large writes so the flood is limited by the host, not by host calls.
const BUFFER: usize = 64 << 10;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| -> Option<&str> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
    };
    let lines: Option<u64> = flag("--lines").and_then(|v| v.parse().ok());
    let bytes: usize = flag("--bytes")
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_BYTES);

    let mut out = BufWriter::with_capacity(BUFFER, std::io::stdout().lock());
    // Padding for a whole line, sliced to fit each one: no per-byte work per line.
    let padding = vec![b'x'; bytes];
    let mut prefix = String::with_capacity(32);
    let mut n: u64 = 0;
    let written = loop {
        if lines.is_some_and(|max| n >= max) {
            break Ok(());
        }
        n += 1;
        prefix.clear();
        // Writing into a String cannot fail.
        let _ = write!(prefix, "flood {n} ");
        let pad = &padding[..bytes.saturating_sub(prefix.len())];
        let line = out
            .write_all(prefix.as_bytes())
            .and_then(|()| out.write_all(pad))
            .and_then(|()| out.write_all(b"\n"));
        if let Err(e) = line {
            break Err(e);
        }
    };
    let done = written
        .and_then(|()| writeln!(out, "flood done {n}"))
        .and_then(|()| out.flush());
    if let Err(e) = done {
        eprintln!("flood stopped at line {n}: {e}");
        std::process::exit(1);
    }
}
