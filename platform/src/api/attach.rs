//! ACI's attach (DESIGN.md §3): POST `.../containers/{c}/attach` answers
//! `{webSocketUri, password}`; a client opens the socket, sends the password as its first
//! message, and receives the container's output from that moment on, until the container
//! ends for good. The socket is authenticated by the one-time password, not the bearer
//! token, as ACI's is.

use super::logs::{Follower, find_container};
use super::openapi::{self, ErrorResponses};
use super::render;
use super::{ApiResult, AppRef};
use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;

/// Open attach sessions: each carries the follower of its container's output.
pub type Sessions = super::session::Sessions<Follower>;

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
    let follower = Follower::new(app.clone(), &g, container, last, false);
    Ok(Json(app.attach.open(&app, "attach", follower)))
}

/// `GET /attach/{id}`: the socket itself.
pub async fn socket(
    State(app): State<AppRef>,
    Path(id): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    super::session::upgrade(&app.attach, "attach", &id, ws, stream)
}

async fn stream(mut socket: WebSocket, mut follower: Follower) {
    loop {
        tokio::select! {
            chunk = follower.next() => match chunk {
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
