//! Container logs over the API: `tail`, `timestamps`, and `follow` (chunked, live).

use super::openapi::{self, ErrorResponses};
use super::render;
use super::{ApiError, ApiResult, AppRef};
use crate::model::{RestartPolicy, Scope};
use crate::store::{GroupRow, LogLine};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::time::Duration;

/// Lines fetched per query while following.
const FOLLOW_BATCH: usize = 1000;
/// A follower re-checks the container's state at least this often.
const FOLLOW_POLL: Duration = Duration::from_millis(500);

fn format_line(l: &LogLine, timestamps: bool) -> String {
    if timestamps {
        format!("{} {}\n", l.ts, l.line)
    } else {
        format!("{}\n", l.line)
    }
}

fn flag(q: &HashMap<String, String>, key: &str) -> bool {
    q.iter()
        .any(|(k, v)| k.eq_ignore_ascii_case(key) && v.eq_ignore_ascii_case("true"))
}

#[utoipa::path(
    get, path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}/containers/{container}/logs", tag = "containers",
    params(openapi::ContainerPath, openapi::ApiVersion, openapi::LogsQuery),
    responses((status = 200, description = "the container's logs; with follow=true, chunked text until the container ends", body = render::Logs, content_type = "application/json"), ErrorResponses)
)]
pub async fn logs(
    State(app): State<AppRef>,
    Path((sub, rg, name, container)): Path<(String, String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let tail = match super::paths::query_value(&q, "tail") {
        None => None,
        Some(v) => Some(v.parse::<usize>().map_err(|_| {
            ApiError::bad_request(
                "InvalidRequestContent",
                format!("'tail' must be a whole number, not '{v}'."),
            )
        })?),
    };
    let timestamps = flag(&q, "timestamps");
    let g = find_container(&app, sub, rg, name, &container).await?;
    let (gid, c) = (g.id, container.clone());
    let (lines, (_, dropped)) = app
        .store
        .run(move |s| {
            Ok::<_, crate::store::Error>((s.logs(gid, &c, tail)?, s.log_counts(gid, &c)?))
        })
        .await?;
    if !flag(&q, "follow") {
        let mut content = String::new();
        if dropped > 0 {
            content.push_str(&format!(
                "[waci] {dropped} lines of this log were dropped: it keeps the last {} lines of each container\n",
                app.config.max_log_lines
            ));
        }
        content.extend(lines.iter().map(|l| format_line(l, timestamps)));
        return Ok(Json(render::Logs { content }).into_response());
    }
    let last = lines.last().map(|l| l.id).unwrap_or(0);
    let first: String = lines.iter().map(|l| format_line(l, timestamps)).collect();
    let follower = Follower::new(app, &g, container, last, timestamps);
    let stream = futures::stream::unfold((follower, Some(first)), |(mut f, first)| async move {
        if let Some(text) = first {
            return Some((Ok::<_, std::convert::Infallible>(text), (f, None)));
        }
        let text = f.next().await?;
        Some((Ok(text), (f, None)))
    });
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Follows a container's log from row `last` on: each call to [`Follower::next`] waits for
/// new lines and returns them as text, until the container has ended for good. When the
/// container starts again (its restart count grows), a marker line goes between the last
/// run's lines and the new run's (DESIGN.md §6).
pub struct Follower {
    pub app: AppRef,
    pub group_id: i64,
    pub container: String,
    pub policy: RestartPolicy,
    /// The id of the last line already returned.
    pub last: i64,
    pub timestamps: bool,
    pub done: bool,
    /// The container's restart count the lines so far belong to; `None` until first read.
    pub restarts: Option<u32>,
}

impl Follower {
    /// A follower of `container` of group `group_id` from line `last` on.
    pub fn new(
        app: AppRef,
        group: &GroupRow,
        container: String,
        last: i64,
        timestamps: bool,
    ) -> Follower {
        Follower {
            app,
            group_id: group.id,
            container,
            policy: group.spec.restart_policy,
            last,
            timestamps,
            done: false,
            restarts: None,
        }
    }

    pub async fn next(&mut self) -> Option<String> {
        if self.done {
            return None;
        }
        let (app, gid) = (self.app.clone(), self.group_id);
        let mut written = app.logs.subscribe();
        loop {
            let restarted = self.restarted().await;
            let batch = self.fetch_lines(FOLLOW_BATCH).await;
            if let Some((count, since)) = restarted {
                // The new run's lines are those written from its start on.
                let split = batch
                    .iter()
                    .position(|l| since.is_some_and(|t| line_time(l).is_none_or(|lt| lt >= t)))
                    .unwrap_or(batch.len());
                let mut text = self.render(&batch[..split]);
                text.push_str(&format!(
                    "[waci] container {} restarted (restart {count})\n",
                    self.container
                ));
                text.push_str(&self.render(&batch[split..]));
                return Some(text);
            }
            if !batch.is_empty() {
                return Some(self.render(&batch));
            }
            if ended(&app, gid, &self.container, self.policy).await {
                // One more look: lines written just before the end are stored by now.
                app.logs.flush().await;
                self.done = true;
                return Some(self.fetch(usize::MAX >> 1).await);
            }
            let _ = tokio::time::timeout(FOLLOW_POLL, written.changed()).await;
        }
    }

    async fn fetch(&mut self, limit: usize) -> String {
        let batch = self.fetch_lines(limit).await;
        self.render(&batch)
    }

    async fn fetch_lines(&mut self, limit: usize) -> Vec<LogLine> {
        let (gid, c, last) = (self.group_id, self.container.clone(), self.last);
        let batch = self
            .app
            .store
            .run(move |s| s.logs_after(gid, &c, last, limit))
            .await
            .unwrap_or_default();
        if let Some(l) = batch.last() {
            self.last = l.id;
        }
        batch
    }

    fn render(&self, lines: &[LogLine]) -> String {
        lines
            .iter()
            .map(|l| format_line(l, self.timestamps))
            .collect()
    }

    /// If the container has started again since the lines so far: its restart count now and
    /// when its current run started. The first look only learns the count.
    async fn restarted(&mut self) -> Option<(u32, Option<time::OffsetDateTime>)> {
        let (gid, c) = (self.group_id, self.container.clone());
        let row = self
            .app
            .store
            .read(move |r| Ok(r.containers(gid)?.into_iter().find(|row| row.name == c)))
            .await
            .ok()
            .flatten()?;
        let seen = self.restarts.replace(row.restart_count);
        if seen.is_none_or(|n| row.restart_count <= n) {
            return None;
        }
        let since = row.current.start_time.as_deref().and_then(parse_time);
        Some((row.restart_count, since))
    }
}

fn parse_time(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

fn line_time(l: &LogLine) -> Option<time::OffsetDateTime> {
    parse_time(&l.ts)
}

/// The group that holds `container`, or the 404 that says which is missing.
pub async fn find_container(
    app: &AppRef,
    sub: String,
    rg: String,
    name: String,
    container: &str,
) -> ApiResult<GroupRow> {
    let scope = Scope {
        subscription: sub,
        resource_group: rg,
    };
    let g = app.groups.find(&scope, &name).await?;
    if !g
        .spec
        .containers
        .iter()
        .chain(&g.spec.init_containers)
        .any(|c| c.name == container)
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "ContainerNotFound",
            format!("The container '{container}' was not found in container group '{name}'."),
        ));
    }
    Ok(g)
}

/// A follow ends when the container has ended for good: its group is gone or stopped, or it
/// terminated and its restart policy will not start it again.
async fn ended(app: &AppRef, gid: i64, container: &str, policy: RestartPolicy) -> bool {
    let c = container.to_string();
    let state = app
        .store
        .run(move |s| {
            let g = s.group_by_id(gid)?;
            let rows = s.containers(gid)?;
            Ok::<_, crate::store::Error>((g, rows.into_iter().find(|r| r.name == c)))
        })
        .await;
    match state {
        Ok((None, _)) | Ok((_, None)) => true,
        Ok((Some(g), Some(row))) => {
            g.state == crate::model::GroupState::Stopped
                || crate::runtime::ended_for_good(policy, &row.current)
        }
        Err(_) => true,
    }
}
