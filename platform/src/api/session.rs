//! ACI's one-time websocket sessions, shared by attach and exec: a POST opens a session and
//! answers `{webSocketUri, password}`; the client opens the socket (`GET /<kind>/{id}`) and
//! sends the password as its first message. A session is used once and expires unused. The
//! socket is authenticated by the password, not the bearer token, as ACI's is.

use super::render;
use super::{ApiError, AppState};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An unused session expires after this long.
const SESSION_TTL: Duration = Duration::from_secs(60);
/// The client must send the password this soon after connecting.
const PASSWORD_WAIT: Duration = Duration::from_secs(30);

struct Session<T> {
    password: String,
    payload: T,
    created: Instant,
}

/// Open sessions of one kind (`attach`, `exec`: the socket's path), each carrying what its
/// socket serves.
pub struct Sessions<T> {
    open: Mutex<HashMap<String, Session<T>>>,
}

impl<T> Default for Sessions<T> {
    fn default() -> Self {
        Sessions {
            open: Mutex::new(HashMap::new()),
        }
    }
}

/// A session taken for its socket: the password the client must send, and the payload.
struct Taken<T> {
    password: String,
    payload: T,
}

impl<T> Sessions<T> {
    /// Opens a session for `payload`: the URI of its socket, `/<kind>/<id>`, and the
    /// one-time password.
    pub fn open(&self, app: &AppState, kind: &str, payload: T) -> render::AttachInfo {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let password = {
            use rand::Rng;
            hex::encode(rand::rng().random::<[u8; 16]>())
        };
        let mut map = self.open.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| s.created.elapsed() < SESSION_TTL);
        map.insert(
            id.clone(),
            Session {
                password: password.clone(),
                payload,
                created: Instant::now(),
            },
        );
        let base = app.config.public_api_url().replacen("http://", "ws://", 1);
        render::AttachInfo {
            web_socket_uri: format!("{base}/{kind}/{id}"),
            password,
        }
    }

    /// Takes a live session: each one can be used once. A missing or expired one is the
    /// socket's 404.
    fn take(&self, kind: &str, id: &str) -> Result<Taken<T>, ApiError> {
        let mut map = self.open.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(id)
            .filter(|s| s.created.elapsed() < SESSION_TTL)
            .map(|s| Taken {
                password: s.password,
                payload: s.payload,
            })
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!(
                        "This {kind} session does not exist or has expired; POST {kind} again."
                    ),
                )
            })
    }
}

/// The socket of session `id` of `sessions`: upgraded, and once the client has sent the
/// password, handed to `serve` with the session's payload; a missing session is a 404.
pub fn upgrade<T, F, Fut>(
    sessions: &Sessions<T>,
    kind: &str,
    id: &str,
    ws: WebSocketUpgrade,
    serve: F,
) -> Response
where
    T: Send + 'static,
    F: FnOnce(WebSocket, T) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    match sessions.take(kind, id) {
        Ok(session) => ws
            .on_upgrade(move |mut socket| async move {
                if authenticate(&mut socket, &session.password).await {
                    serve(socket, session.payload).await;
                }
            })
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// Waits for the client's first message and checks it is the password; if not, the socket
/// is closed and `false` returned.
async fn authenticate(socket: &mut WebSocket, password: &str) -> bool {
    let first = tokio::time::timeout(PASSWORD_WAIT, socket.recv()).await;
    let ok = match first {
        Ok(Some(Ok(Message::Text(t)))) => t.as_str() == password,
        Ok(Some(Ok(Message::Binary(b)))) => b.as_ref() == password.as_bytes(),
        _ => false,
    };
    if !ok {
        let _ = socket.send(Message::Close(None)).await;
    }
    ok
}
