//! `waci container exec`: ACI's exec. Runs a command inside a running container's sandbox
//! over the API's exec socket and exits with the command's exit code.
//!
//! On a terminal (stdin and stdout both), the session is interactive as `az container exec`
//! is: the terminal is put in raw mode and its size sent, every key goes to the platform,
//! which echoes and edits the line as a terminal would, and Ctrl-C interrupts the command
//! there, not this client. Otherwise stdin is copied to the command and its end ends the
//! command's input.

use crate::attach::{ContainerRef, Socket, open_socket, print, resolve_container};
use anyhow::{Context, bail};
use clap::Args;
use crossterm::terminal;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use std::io::IsTerminal;
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;

#[derive(Args)]
#[command(after_help = "Examples:
  A shell inside the group's first container (its env, its volumes; 'exit' leaves).
    waci container exec -g demo -n app --exec-command \"sh\"

  Print a file of container 'worker' and exit with the command's code.
    waci container exec -g demo -n app --container-name worker --exec-command \"cat /data/x\"

Commands come from the built-in toolbox (sh, ls, cat, env, echo, pwd, cd, head, tail, wc,
mkdir, rm, test, help), or, when the first word is the container's own argv[0], from the
container's own image if it is a command (wasi:cli/run).")]
pub struct ExecArgs {
    #[command(flatten)]
    container: ContainerRef,
    /// The command line to run, split into words as a shell splits them
    #[arg(long)]
    exec_command: String,
}

/// The terminal in raw mode for as long as this lives.
struct RawMode;

impl RawMode {
    fn enter() -> anyhow::Result<RawMode> {
        terminal::enable_raw_mode().context("putting the terminal in raw mode")?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = terminal::disable_raw_mode();
    }
}

pub async fn run(client: &crate::client::Client, a: ExecArgs) -> anyhow::Result<()> {
    let container = resolve_container(client, &a.container).await?;
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mut body = json!({"command": a.exec_command});
    if tty {
        // A pseudo-terminal nobody sized says 0x0: take the usual size.
        let (cols, rows) = terminal::size()
            .ok()
            .filter(|(c, r)| *c > 0 && *r > 0)
            .unwrap_or((80, 24));
        body["terminalSize"] = json!({"rows": rows, "cols": cols});
    }
    let socket = open_socket(client, &a.container, &container, "exec", Some(&body)).await?;
    let reason = {
        let _raw = if tty { Some(RawMode::enter()?) } else { None };
        pump(socket, tty).await?
    };
    // Out of raw mode, so the line ends where it should.
    std::process::exit(exit_code(&reason)?)
}

/// Copies stdin to the socket and the socket to stdout until the command ends; the reason
/// the socket closed with.
async fn pump(socket: Socket, tty: bool) -> anyhow::Result<String> {
    let (mut to_platform, mut from_platform) = socket.split();
    let mut stdin = tokio::io::stdin();
    let mut buf = vec![0u8; 4096];
    let mut stdin_open = true;
    loop {
        tokio::select! {
            read = stdin.read(&mut buf), if stdin_open => match read {
                Ok(0) | Err(_) => {
                    stdin_open = false;
                    // Without a terminal, an empty message ends the command's input (a
                    // terminal's Ctrl-D is a key like any other).
                    if !tty {
                        to_platform.send(Message::binary(Vec::new())).await?;
                    }
                }
                Ok(n) => to_platform.send(Message::binary(buf[..n].to_vec())).await?,
            },
            msg = from_platform.next() => match msg {
                Some(Ok(Message::Close(frame))) => {
                    return Ok(frame.map(|f| f.reason.to_string()).unwrap_or_default());
                }
                None => bail!("the exec socket closed before the command ended"),
                Some(Ok(m)) => print(&m)?,
                Some(Err(e)) => bail!("the exec socket broke off: {e}"),
            },
        }
    }
}

/// The command's exit code from the socket's close reason (`exit code N`, maybe followed
/// by why); a reason that is not one is printed, as the platform's word on what happened.
fn exit_code(reason: &str) -> anyhow::Result<i32> {
    let code = reason
        .strip_prefix("exit code ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<i32>().ok());
    match code {
        Some(c) => {
            if let Some((_, why)) = reason.split_once(" (") {
                eprintln!("waci: the command ended: {}", why.trim_end_matches(')'));
            }
            Ok(c)
        }
        None if reason.is_empty() => {
            bail!("the exec socket closed without the command's exit code")
        }
        None => bail!("the exec socket closed: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(reason: &str, expected: Option<i32>) {
        assert_eq!(exit_code(reason).ok(), expected, "{reason}");
    }

    #[test]
    fn the_exit_code_comes_from_the_close_reason() {
        check("exit code 0", Some(0));
        check("exit code 3", Some(3));
        check("exit code 137 (OOMKilled)", Some(137));
        check("exit code x", None);
        check("", None);
    }
}
