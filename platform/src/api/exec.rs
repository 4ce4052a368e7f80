//! ACI's exec (DESIGN.md §4): POST `.../containers/{c}/exec` with `{"command": "...",
//! "terminalSize": {"rows", "cols"}}` answers `{webSocketUri, password}` once the command
//! can run (the container exists and runs). The client opens the socket and sends the
//! password as its first message; from then on its messages are the command's input and the
//! socket's text messages the command's output (stdout and stderr, in order), until the
//! command ends. The socket then closes with status 1000 (normal) and the reason
//! `exit code N`, followed by why when the command did not end by itself
//! (`exit code 137 (OOMKilled)`). Closing the socket ends the command.
//!
//! With `terminalSize` the command runs on a terminal (`runtime::core::console`): keys are
//! echoed and edited, Enter sends a line, Ctrl-D ends the input, Ctrl-C interrupts. Without
//! one, bytes pass untouched, and an empty binary message ends the command's input.

use super::body::{ArmBody, json_body};
use super::openapi::{self, ErrorResponses};
use super::render;
use super::{ApiResult, AppRef};
use crate::model::{Scope, parse};
use crate::runtime::exec::{Ended, Exec};
use axum::Json;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use std::time::Duration;

/// After the command ends, how long its last output may take to come through: it is
/// already written, so this bounds only a stuck client.
const DRAIN: Duration = Duration::from_secs(2);
/// WebSocket close status "normal closure" (RFC 6455, 7.4.1).
const NORMAL_CLOSURE: u16 = 1000;

/// A prepared command waiting for its client to connect.
pub struct Pending {
    exec: Exec,
    tty: bool,
}

/// Open exec sessions.
pub type Sessions = super::session::Sessions<Pending>;

#[utoipa::path(
    post, path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}/containers/{container}/exec", tag = "containers",
    params(openapi::ContainerPath, openapi::ApiVersion),
    request_body(content = openapi::ExecInput, description = "the command line, and the client's terminal size when it is a terminal"),
    responses(
        (status = 200, description = "a websocket running the command in the container's sandbox, and its one-time password", body = render::AttachInfo),
        ErrorResponses,
        (status = 409, description = "the group or the container is not running", body = render::ErrorResponse)
    )
)]
pub async fn exec(
    State(app): State<AppRef>,
    Path((sub, rg, name, container)): Path<(String, String, String, String)>,
    ArmBody(body): ArmBody,
) -> ApiResult<Json<render::AttachInfo>> {
    let request = parse::exec_request(&json_body(&body)?)?;
    let scope = Scope {
        subscription: sub,
        resource_group: rg,
    };
    let exec = app
        .groups
        .exec(&scope, &name, &container, request.argv)
        .await?;
    let pending = Pending {
        exec,
        tty: request.terminal.is_some(),
    };
    Ok(Json(app.exec.open(&app, "exec", pending)))
}

/// `GET /exec/{id}`: the socket itself.
pub async fn socket(
    State(app): State<AppRef>,
    Path(id): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    super::session::upgrade(&app.exec, "exec", &id, ws, serve)
}

async fn serve(mut socket: WebSocket, pending: Pending) {
    let Pending { exec, tty } = pending;
    let mut run = exec.start(tty);
    let mut text = Utf8Chunks::default();
    let mut output_open = true;
    // Leaving early drops the run, which ends the command.
    let ended = loop {
        tokio::select! {
            out = run.output.next(), if output_open => match out {
                Some(bytes) => {
                    if let Some(t) = text.push(&bytes)
                        && socket.send(Message::Text(t.into())).await.is_err()
                    {
                        return;
                    }
                }
                None => output_open = false,
            },
            ended = run.end.ended() => break ended,
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(t))) => {
                    if !run.input.send(t.as_bytes()).await {
                        run.end.interrupt();
                    }
                }
                Some(Ok(Message::Binary(b))) if b.is_empty() && !tty => run.input.close(),
                Some(Ok(Message::Binary(b))) => {
                    if !run.input.send(&b).await {
                        run.end.interrupt();
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    };
    drop(run.input);
    while output_open {
        match tokio::time::timeout(DRAIN, run.output.next()).await {
            Ok(Some(bytes)) => {
                if let Some(t) = text.push(&bytes)
                    && socket.send(Message::Text(t.into())).await.is_err()
                {
                    return;
                }
            }
            Ok(None) | Err(_) => output_open = false,
        }
    }
    if let Some(t) = text.finish() {
        let _ = socket.send(Message::Text(t.into())).await;
    }
    let frame = CloseFrame {
        code: NORMAL_CLOSURE,
        reason: close_reason(&ended).into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// `exit code N`, and why when the command did not end by itself.
fn close_reason(e: &Ended) -> String {
    match &e.detail {
        None => format!("exit code {}", e.exit_code),
        Some(why) => format!("exit code {} ({why})", e.exit_code),
    }
}

/// Output bytes as text messages (ACI's clients read text), never splitting a character
/// that arrives in two pieces; bytes that are not UTF-8 become U+FFFD.
#[derive(Default)]
struct Utf8Chunks {
    pending: Vec<u8>,
}

impl Utf8Chunks {
    fn push(&mut self, bytes: &[u8]) -> Option<String> {
        self.pending.extend_from_slice(bytes);
        let complete = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            // Only the tail is cut short: keep it for the next piece.
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.pending.len(),
        };
        if complete == 0 {
            return None;
        }
        let rest = self.pending.split_off(complete);
        let text =
            String::from_utf8_lossy(&std::mem::replace(&mut self.pending, rest)).into_owned();
        Some(text)
    }

    fn finish(&mut self) -> Option<String> {
        (!self.pending.is_empty())
            .then(|| String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_text_keeps_a_split_character_whole() {
        let mut t = Utf8Chunks::default();
        let e = "é".as_bytes();
        assert_eq!(t.push(b"caf").as_deref(), Some("caf"));
        assert_eq!(t.push(&e[..1]), None);
        assert_eq!(t.push(&[e[1], b'!']).as_deref(), Some("é!"));
        assert_eq!(t.push(b"a\xffb").as_deref(), Some("a\u{fffd}b"));
        assert_eq!(t.push(&e[..1]), None);
        assert_eq!(t.finish().as_deref(), Some("\u{fffd}"));
        assert_eq!(t.finish(), None);
    }

    #[test]
    fn the_close_reason_carries_the_exit_code() {
        let plain = Ended {
            exit_code: 3,
            detail: None,
        };
        assert_eq!(close_reason(&plain), "exit code 3");
        let oom = Ended {
            exit_code: 137,
            detail: Some("OOMKilled".into()),
        };
        assert_eq!(close_reason(&oom), "exit code 137 (OOMKilled)");
    }
}
