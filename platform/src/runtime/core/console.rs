//! The standard streams of an exec run (DESIGN.md §4): the client's input into the guest's
//! stdin, and the guest's stdout and stderr, merged in order, out to the client instead of
//! into the container's logs.
//!
//! With a terminal, the console is what a pseudo-terminal is in its default (cooked) mode,
//! since a guest has no kernel to do it: typed keys are echoed and edited here (backspace,
//! Ctrl-U) and reach the guest a line at a time; Enter sends the line, Ctrl-D at the start
//! of a line ends the input, Ctrl-C interrupts the run; the guest's `\n` goes out as `\r\n`
//! to a client whose own terminal is raw. The guest is told its stdin and stdout are a
//! terminal (`wasi:cli/terminal-stdin`). Without one, bytes pass through untouched.
//!
//! Knows no socket and no HTTP: whoever serves the client moves bytes between it and
//! [`ConsoleInput`] and [`ConsoleOutput`].

use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use wasmtime_wasi::cli::{
    AsyncStdinStream, AsyncStdoutStream, IsTerminal, StdinStream, StdoutStream,
};
use wasmtime_wasi::p2::{InputStream, OutputStream};

/// Bytes in flight between the client and the guest, each way: a guest that writes faster
/// than the client reads waits (back-pressure), as on a pipe.
const BUFFER: usize = 64 * 1024;

/// The guest's side, handed to its sandbox's store ([`super::host::Sandbox::store_with`]).
pub struct Console {
    pub(super) stdin: Tty<AsyncStdinStream>,
    pub(super) stdout: Tty<Arc<AsyncStdoutStream>>,
}

/// The client's input, on its way to the guest.
pub struct ConsoleInput {
    to_guest: Option<DuplexStream>,
    echo: mpsc::UnboundedSender<Vec<u8>>,
    discipline: Option<LineDiscipline>,
}

/// What the guest writes (and a terminal's echo), on its way to the client.
pub struct ConsoleOutput {
    from_guest: DuplexStream,
    echo: mpsc::UnboundedReceiver<Vec<u8>>,
    guest_done: bool,
    tty: bool,
}

/// A console for one run; `tty` makes it a terminal.
pub fn console(tty: bool) -> (Console, ConsoleInput, ConsoleOutput) {
    let (to_guest, guest_stdin) = tokio::io::duplex(BUFFER);
    let (guest_stdout, from_guest) = tokio::io::duplex(BUFFER);
    let (echo_tx, echo_rx) = mpsc::unbounded_channel();
    (
        Console {
            stdin: Tty(AsyncStdinStream::new(guest_stdin), tty),
            stdout: Tty(Arc::new(AsyncStdoutStream::new(BUFFER, guest_stdout)), tty),
        },
        ConsoleInput {
            to_guest: Some(to_guest),
            echo: echo_tx,
            discipline: tty.then(LineDiscipline::default),
        },
        ConsoleOutput {
            from_guest,
            echo: echo_rx,
            guest_done: false,
            tty,
        },
    )
}

impl ConsoleInput {
    /// Takes bytes the client sent. `false` when they asked to interrupt the run (Ctrl-C on
    /// a terminal).
    pub async fn send(&mut self, bytes: &[u8]) -> bool {
        let Some(discipline) = self.discipline.as_mut() else {
            self.write(bytes).await;
            return true;
        };
        let cooked = discipline.input(bytes);
        if !cooked.echo.is_empty() {
            let _ = self.echo.send(cooked.echo);
        }
        if !cooked.to_guest.is_empty() {
            self.write(&cooked.to_guest).await;
        }
        if cooked.end_of_input {
            self.close();
        }
        !cooked.interrupt
    }

    /// Ends the guest's input: its next read sees the end.
    pub fn close(&mut self) {
        self.to_guest = None;
    }

    async fn write(&mut self, bytes: &[u8]) {
        if let Some(w) = self.to_guest.as_mut()
            && w.write_all(bytes).await.is_err()
        {
            // The guest is gone; what it did not read is dropped, as a pipe's would be.
            self.to_guest = None;
        }
    }
}

impl ConsoleOutput {
    /// The next bytes for the client; `None` once the guest's streams are closed (its run
    /// ended) and everything is handed over.
    pub async fn next(&mut self) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 8192];
        loop {
            tokio::select! {
                biased;
                Some(echo) = self.echo.recv() => return Some(echo),
                read = self.from_guest.read(&mut buf), if !self.guest_done => match read {
                    Ok(0) | Err(_) => self.guest_done = true,
                    Ok(n) => {
                        buf.truncate(n);
                        return Some(if self.tty { crlf(&buf) } else { buf });
                    }
                },
                else => return None,
            }
        }
    }
}

/// `\n` as `\r\n`, as a terminal's output processing does (a `\r\n` already there is kept).
fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 16);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' && (i == 0 || bytes[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// A stream of the guest that says whether it is a terminal.
pub(super) struct Tty<S>(S, bool);

impl<S> IsTerminal for Tty<S> {
    fn is_terminal(&self) -> bool {
        self.1
    }
}

impl<S: StdinStream> StdinStream for Tty<S> {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncRead + Send + Sync> {
        self.0.async_stream()
    }
    fn p2_stream(&self) -> Box<dyn InputStream> {
        self.0.p2_stream()
    }
}

impl<S: StdoutStream> StdoutStream for Tty<S> {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        self.0.async_stream()
    }
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        self.0.p2_stream()
    }
}

impl Tty<Arc<AsyncStdoutStream>> {
    /// The same stream again (stdout and stderr share one, so their bytes stay in order).
    pub(super) fn shared(&self) -> Tty<Arc<AsyncStdoutStream>> {
        Tty(self.0.clone(), self.1)
    }
}

/// What a terminal made of some typed bytes.
#[derive(Debug, Default, PartialEq)]
struct Cooked {
    /// Whole lines (or what Ctrl-D pushed) for the guest.
    to_guest: Vec<u8>,
    /// What the typist sees.
    echo: Vec<u8>,
    end_of_input: bool,
    interrupt: bool,
}

/// The line editing of a terminal in its default mode.
#[derive(Debug, Default)]
struct LineDiscipline {
    line: Vec<u8>,
    /// Inside an escape sequence (an arrow key, say), which is swallowed: no line editing
    /// beyond backspace.
    escape: Escape,
}

#[derive(Debug, Default, PartialEq)]
enum Escape {
    #[default]
    None,
    Started,
    Sequence,
}

impl LineDiscipline {
    fn input(&mut self, bytes: &[u8]) -> Cooked {
        let mut c = Cooked::default();
        for &b in bytes {
            match self.escape {
                Escape::Started => {
                    self.escape = if b == b'[' || b == b'O' {
                        Escape::Sequence
                    } else {
                        Escape::None
                    };
                    continue;
                }
                Escape::Sequence => {
                    if (0x40..=0x7e).contains(&b) {
                        self.escape = Escape::None;
                    }
                    continue;
                }
                Escape::None => {}
            }
            match b {
                0x1b => self.escape = Escape::Started,
                b'\r' | b'\n' => {
                    self.line.push(b'\n');
                    c.to_guest.append(&mut self.line);
                    c.echo.extend_from_slice(b"\r\n");
                }
                // Backspace (DEL from most terminals, ^H from some): one character back.
                0x7f | 0x08 => {
                    if self.pop_char() {
                        c.echo.extend_from_slice(b"\x08 \x08");
                    }
                }
                // ^U: the whole line.
                0x15 => {
                    while self.pop_char() {
                        c.echo.extend_from_slice(b"\x08 \x08");
                    }
                }
                // ^C
                0x03 => {
                    c.echo.extend_from_slice(b"^C\r\n");
                    c.interrupt = true;
                    self.line.clear();
                    return c;
                }
                // ^D: the line so far without a newline; at a line's start, the end.
                0x04 => {
                    if self.line.is_empty() {
                        c.end_of_input = true;
                        return c;
                    }
                    c.to_guest.append(&mut self.line);
                }
                b => {
                    self.line.push(b);
                    c.echo.push(b);
                }
            }
        }
        c
    }

    /// Removes the line's last character (all its UTF-8 bytes); `false` if it was empty.
    fn pop_char(&mut self) -> bool {
        let Some(mut b) = self.line.pop() else {
            return false;
        };
        while b & 0xc0 == 0x80 {
            match self.line.pop() {
                Some(prev) => b = prev,
                None => break,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(typed: &[&[u8]], to_guest: &[u8], echo: &[u8], end: bool, interrupt: bool) {
        let mut d = LineDiscipline::default();
        let mut all = Cooked::default();
        for t in typed {
            let mut c = d.input(t);
            all.to_guest.append(&mut c.to_guest);
            all.echo.append(&mut c.echo);
            all.end_of_input |= c.end_of_input;
            all.interrupt |= c.interrupt;
        }
        let expected = Cooked {
            to_guest: to_guest.to_vec(),
            echo: echo.to_vec(),
            end_of_input: end,
            interrupt,
        };
        assert_eq!(all, expected, "{typed:?}");
    }

    #[test]
    fn a_terminal_echoes_and_sends_whole_lines() {
        check(
            &[b"ls", b" /da", b"ta\r"],
            b"ls /data\n",
            b"ls /data\r\n",
            false,
            false,
        );
        check(&[b"lx\x7fs\r"], b"ls\n", b"lx\x08 \x08s\r\n", false, false);
        check(&[b"\x7f\x7fpwd\n"], b"pwd\n", b"pwd\r\n", false, false);
        check(
            &["é\x7f".as_bytes(), b"a\r"],
            b"a\n",
            "é\x08 \x08a\r\n".as_bytes(),
            false,
            false,
        );
        check(
            &[b"abc\x15x\r"],
            b"x\n",
            b"abc\x08 \x08\x08 \x08\x08 \x08x\r\n",
            false,
            false,
        );
        check(&[b"l\x1b[As\r"], b"ls\n", b"ls\r\n", false, false);
        check(&[b"\x04"], b"", b"", true, false);
        check(&[b"ab\x04"], b"ab", b"ab", false, false);
        check(&[b"sleep\x03ls\r"], b"", b"sleep^C\r\n", false, true);
    }

    #[test]
    fn a_terminal_ends_output_lines_with_crlf() {
        assert_eq!(crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
        assert_eq!(crlf(b"\n"), b"\r\n");
    }
}
