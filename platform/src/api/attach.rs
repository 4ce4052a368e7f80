//! ACI's attach (DESIGN.md §3): POST `.../containers/{c}/attach` answers
//! `{webSocketUri, password}`; a client opens the socket, sends the password as its first
//! message, and receives the container's output from that moment on, until the container
//! ends for good. The socket is authenticated by the one-time password, not the bearer
//! token, as ACI's is.

use super::logs::{Follower, find_container};
use super::openapi::{self, ErrorResponses};
use super::render;
use super::{ApiError, ApiResult, AppRef};
use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An unused attach session expires after this long.
const SESSION_TTL: Duration = Duration::from_secs(60);
/// The client must send the password this soon after connecting.
const PASSWORD_WAIT: Duration = Duration::from_secs(30);

struct Session {
    password: String,
    follower: Follower,
    created: Instant,
}

#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    fn insert(&self, id: String, session: Session) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| s.created.elapsed() < SESSION_TTL);
        map.insert(id, session);
    }
    /// Takes a live session: each one can be used once.
    fn take(&self, id: &str) -> Option<Session> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(id).filter(|s| s.created.elapsed() < SESSION_TTL)
    }
}

#[utoipa::path(
    post, path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}/containers/{container}/attach", tag = "containers",
    params(openapi::ContainerPath, openapi::ApiVersion),
    responses((status = 200, description = "a websocket carrying the container's output from now on, and its one-time password", body = render::AttachInfo), ErrorResponses)
)]
pub async fn attach(
    State(app): State<AppRef>,
    Path((sub, rg, name, container)): Path<(String, String, String, String)>,
) -> ApiResult<Json<render::AttachInfo>> {
    let g = find_container(&app, sub, rg, name, &container).await?;
    let (gid, c) = (g.id, container.clone());
    let last = app
        .store
        .run(move |s| s.logs(gid, &c, Some(1)))
        .await?
        .last()
        .map(|l| l.id)
        .unwrap_or(0);
    let id = uuid::Uuid::new_v4().simple().to_string();
    let password = {
        use rand::Rng;
        hex::encode(rand::rng().random::<[u8; 16]>())
    };
    let follower = Follower::new(app.clone(), &g, container, last, false);
    app.attach.insert(
        id.clone(),
        Session {
            password: password.clone(),
            follower,
            created: Instant::now(),
        },
    );
    let base = app.config.public_api_url().replacen("http://", "ws://", 1);
    Ok(Json(render::AttachInfo {
        web_socket_uri: format!("{base}/attach/{id}"),
        password,
    }))
}

/// `GET /attach/{id}`: the socket itself.
pub async fn socket(
    State(app): State<AppRef>,
    Path(id): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    match app.attach.take(&id) {
        Some(session) => ws
            .on_upgrade(move |socket| stream(socket, session))
            .into_response(),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "This attach session does not exist or has expired; POST attach again.",
        )
        .into_response(),
    }
}

async fn stream(mut socket: WebSocket, mut session: Session) {
    let first = tokio::time::timeout(PASSWORD_WAIT, socket.recv()).await;
    let authenticated = match first {
        Ok(Some(Ok(Message::Text(t)))) => t.as_str() == session.password,
        Ok(Some(Ok(Message::Binary(b)))) => b.as_ref() == session.password.as_bytes(),
        _ => false,
    };
    if !authenticated {
        let _ = socket.send(Message::Close(None)).await;
        return;
    }
    loop {
        tokio::select! {
            chunk = session.follower.next() => match chunk {
                Some(text) if text.is_empty() => {}
                Some(text) => if socket.send(Message::Text(text.into())).await.is_err() { return },
                None => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
