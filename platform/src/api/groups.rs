//! Handlers for resource groups, container groups, their actions and async operations. Each
//! reads its request (path, query, body parsed into `model` types), makes one call of the
//! domain layer ([`crate::groups`]) and renders the result; none sequences the store, the
//! names or the runtime itself.

use super::body::{ArmBody, json_body};
use super::openapi::{self, ErrorResponses};
use super::paging::{self, SkipTokenQuery};
use super::render::{self, ErrorResponse};
use super::{ApiError, ApiResult, AppRef};
use crate::groups::{NewOperation, Snapshot};
use crate::model::{ProvisioningState, Scope, names, parse};
use crate::store::GroupKey;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::HashMap;

type Q = Query<HashMap<String, String>>;

fn api_version(q: &Q) -> String {
    super::paths::query_value(q, "api-version")
        .unwrap_or_default()
        .to_string()
}

fn check_rg_name(rg: &str) -> ApiResult<()> {
    names::check_resource_group_name(rg)
        .map_err(|m| ApiError::bad_request("InvalidResourceGroupName", m))
}

fn scope(sub: String, rg: String) -> Scope {
    Scope {
        subscription: sub,
        resource_group: rg,
    }
}

/// 201 for what a PUT created, 200 for what it replaced.
fn created_or_ok(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

#[utoipa::path(
    put, path = "/subscriptions/{sub}/resourceGroups/{rg}", tag = "resource groups",
    params(openapi::ResourceGroupPath, openapi::ApiVersion),
    request_body(content = openapi::ResourceGroupInput, description = "location and tags, both optional"),
    responses((status = 201, description = "created", body = render::ResourceGroup), (status = 200, description = "updated", body = render::ResourceGroup), ErrorResponses, (status = 413, description = "body over 1 MiB", body = ErrorResponse))
)]
pub async fn put_resource_group(
    State(app): State<AppRef>,
    Path((sub, rg)): Path<(String, String)>,
    ArmBody(body): ArmBody,
) -> ApiResult<Response> {
    check_rg_name(&rg)?;
    let v = if body.is_empty() {
        Value::Object(Default::default())
    } else {
        json_body(&body)?
    };
    let tags = parse::tags_of(&v)?;
    let location = parse::get(
        v.as_object().ok_or_else(|| {
            ApiError::bad_request("InvalidRequestContent", "The body must be a JSON object.")
        })?,
        "location",
    )
    .and_then(Value::as_str)
    .map(str::to_string);
    let (row, created) = app
        .groups
        .put_resource_group(&sub, &rg, location, tags)
        .await?;
    Ok((created_or_ok(created), Json(render::resource_group(&row))).into_response())
}

#[utoipa::path(
    get, path = "/subscriptions/{sub}/resourceGroups/{rg}", tag = "resource groups",
    params(openapi::ResourceGroupPath, openapi::ApiVersion),
    responses((status = 200, description = "the resource group", body = render::ResourceGroup), ErrorResponses)
)]
pub async fn get_resource_group(
    State(app): State<AppRef>,
    Path((sub, rg)): Path<(String, String)>,
) -> ApiResult<Response> {
    let row = app.groups.resource_group(&sub, &rg).await?;
    Ok(Json(render::resource_group(&row)).into_response())
}

#[utoipa::path(
    get, path = "/subscriptions/{sub}/resourceGroups", tag = "resource groups",
    params(openapi::SubscriptionPath, openapi::ApiVersion, SkipTokenQuery),
    responses((status = 200, description = "a page of the subscription's resource groups, with nextLink while more follow", body = render::ResourceGroupList), ErrorResponses)
)]
pub async fn list_resource_groups(
    State(app): State<AppRef>,
    Path(sub): Path<String>,
    uri: Uri,
    q: Q,
) -> ApiResult<Response> {
    let after = paging::resource_group_key(&q, &sub)?;
    let page = app.groups.resource_groups(&sub, after).await?;
    let next_link = match page.items.last() {
        Some(last) if page.more => {
            let token = paging::resource_group_token(&sub, &last.key());
            Some(next_link(&app, &uri, &q, &token))
        }
        _ => None,
    };
    let value = page.items.iter().map(render::resource_group).collect();
    Ok(Json(render::ResourceGroupList { value, next_link }).into_response())
}

/// The `nextLink` of a list's page: this request's path on the public API URL, with its
/// api-version and `token`.
fn next_link(app: &AppRef, uri: &Uri, q: &Q, token: &str) -> String {
    paging::next_link(app.config.public_api_url(), uri, &api_version(q), token)
}

#[utoipa::path(
    delete, path = "/subscriptions/{sub}/resourceGroups/{rg}", tag = "resource groups",
    params(openapi::ResourceGroupPath, openapi::ApiVersion),
    responses((status = 202, description = "deleted, with its container groups: done, nothing to poll (Retry-After: 0)", headers(("Retry-After" = u32, description = "seconds to wait before polling"))), (status = 204, description = "there was none", headers(("Retry-After" = u32, description = "seconds to wait before polling"))), ErrorResponses)
)]
pub async fn delete_resource_group(
    State(app): State<AppRef>,
    Path((sub, rg)): Path<(String, String)>,
    q: Q,
) -> ApiResult<Response> {
    // Done when it returns; a 202 with neither `Azure-AsyncOperation` nor `Location` is
    // taken by an ARM client as finished (azure-core's `StatusCheckPolling`).
    let status = if app.groups.delete_resource_group(&sub, &rg).await? {
        StatusCode::ACCEPTED
    } else {
        StatusCode::NO_CONTENT
    };
    Ok((status, lro_headers(&app, &sub, None, &q, RETRY_DONE)).into_response())
}

/// A group with its instance view, as GET returns it, with `provisioning` in place of its
/// provisioning state if given.
fn full_view(s: &Snapshot, provisioning: Option<&str>) -> Response {
    let view = render::View {
        containers: &s.containers,
        events: &s.events,
    };
    let body = render::group(&s.group, Some(&view));
    let body = match provisioning {
        Some(p) => body.provisioning(p),
        None => body,
    };
    Json(body).into_response()
}

/// How an ARM client follows a long-running operation (azure-core's `ARMPolling`, Python
/// `azure/core/polling/base_polling.py`; the other SDKs follow the same rules):
/// - It picks the first of `Azure-AsyncOperation`, `Location`, a PUT's body, or nothing.
///   With `Azure-AsyncOperation` it polls that URL at once, then again after each answer's
///   `Retry-After` seconds until `status` is `Succeeded`, `Failed` or `Canceled`; a PUT then
///   GETs the resource, a DELETE or POST takes the last answer as its result.
/// - With none of them (our DELETEs: 200 with the group, 202 for a resource group, 204) the
///   answer is the result: the operation is done, nothing is polled.
/// - `Retry-After` is read as seconds, but `0` counts as absent: the client then waits its
///   default of 30 s. So an operation still in progress says [`RETRY_SOON`], never 0.
///
/// Seconds until an operation whose images are ready (built in, a file, or compiled
/// already) is done: its group runs within a second.
const RETRY_SOON: u32 = 1;
/// Seconds until a group that pulls an image from a registry is worth asking about again.
const RETRY_PULL: u32 = 3;
/// An answer that is itself the result: nothing is left to wait for.
const RETRY_DONE: u32 = 0;

/// What an answer to a long-running call tells a poller: `Retry-After`, and for an
/// operation still running, `Azure-AsyncOperation` (where to poll it).
fn lro_headers(
    app: &AppRef,
    sub: &str,
    op: Option<&NewOperation>,
    q: &Q,
    retry_after: u32,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    if let Some(op) = op {
        let url = format!(
            "{}/subscriptions/{sub}/providers/{}/locations/{}/operations/{}?api-version={}",
            app.config.public_api_url(),
            render::PROVIDER,
            app.config.location,
            op.id,
            api_version(q)
        );
        headers.insert(
            "Azure-AsyncOperation",
            HeaderValue::from_str(&url).unwrap_or(HeaderValue::from_static("/")),
        );
    }
    headers
}

#[utoipa::path(
    put, path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}", tag = "container groups",
    params(openapi::GroupPath, openapi::ApiVersion),
    request_body(content = openapi::ContainerGroupInput, description = "the group, in ACI's shape"),
    responses((status = 201, description = "created; Azure-AsyncOperation names the operation", body = render::ContainerGroup, headers(("Azure-AsyncOperation" = String, description = "where to poll the operation's status"), ("Retry-After" = u32, description = "seconds to wait before polling"))), (status = 200, description = "updated; Azure-AsyncOperation names the operation", body = render::ContainerGroup, headers(("Azure-AsyncOperation" = String, description = "where to poll the operation's status"), ("Retry-After" = u32, description = "seconds to wait before polling"))), ErrorResponses, (status = 409, description = "conflict (name taken, quota reached, not supported)", body = ErrorResponse), (status = 413, description = "body over 1 MiB", body = ErrorResponse))
)]
pub async fn put_group(
    State(app): State<AppRef>,
    Path((sub, rg, name)): Path<(String, String, String)>,
    q: Q,
    ArmBody(body): ArmBody,
) -> ApiResult<Response> {
    check_rg_name(&rg)?;
    let v = json_body(&body)?;
    let spec = parse::container_group(
        &v,
        &name,
        &app.config.location,
        &app.config.limits,
        &|image| crate::images::check(image).map_err(|e| e.to_string()),
    )?;
    let op = NewOperation::new();
    let put = app
        .groups
        .put(scope(sub.clone(), rg), name, spec, &op)
        .await?;
    let retry = if put.starts_at_once {
        RETRY_SOON
    } else {
        RETRY_PULL
    };
    let headers = lro_headers(&app, &sub, Some(&op), &q, retry);
    let status = created_or_ok(put.created);
    Ok((status, headers, full_view(&put.snapshot, None)).into_response())
}

#[utoipa::path(
    get, path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}", tag = "container groups",
    params(openapi::GroupPath, openapi::ApiVersion),
    responses((status = 200, description = "the group with its instanceView", body = render::ContainerGroup), ErrorResponses)
)]
pub async fn get_group(
    State(app): State<AppRef>,
    Path((sub, rg, name)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let g = app.groups.find(&scope(sub, rg), &name).await?;
    Ok(full_view(&app.groups.snapshot(g).await?, None))
}

#[utoipa::path(
    patch, path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}", tag = "container groups",
    params(openapi::GroupPath, openapi::ApiVersion),
    request_body(content = openapi::TagsInput, description = "new tags"),
    responses((status = 200, description = "the group with its new tags", body = render::ContainerGroup), ErrorResponses, (status = 413, description = "body over 1 MiB", body = ErrorResponse))
)]
pub async fn patch_group(
    State(app): State<AppRef>,
    Path((sub, rg, name)): Path<(String, String, String)>,
    ArmBody(body): ArmBody,
) -> ApiResult<Response> {
    let tags = parse::tags_of(&json_body(&body)?)?;
    let s = app.groups.patch_tags(&scope(sub, rg), &name, tags).await?;
    Ok(full_view(&s, None))
}

#[utoipa::path(
    delete, path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}", tag = "container groups",
    params(openapi::GroupPath, openapi::ApiVersion),
    responses((status = 200, description = "stopped and deleted: the answer is the result (Retry-After: 0)", body = render::ContainerGroup, headers(("Retry-After" = u32, description = "seconds to wait before polling"))), (status = 204, description = "there was none", headers(("Retry-After" = u32, description = "seconds to wait before polling"))), ErrorResponses)
)]
pub async fn delete_group(
    State(app): State<AppRef>,
    Path((sub, rg, name)): Path<(String, String, String)>,
    q: Q,
) -> ApiResult<Response> {
    // Done when it returns: the answer is the result, the group as it was, `Deleting`, with
    // no operation to poll (an ARM client finishes on it at once).
    let done = lro_headers(&app, &sub, None, &q, RETRY_DONE);
    Ok(match app.groups.delete(&scope(sub, rg), &name).await? {
        Some(s) => (
            done,
            full_view(&s, Some(ProvisioningState::Deleting.as_str())),
        )
            .into_response(),
        None => (StatusCode::NO_CONTENT, done).into_response(),
    })
}

#[utoipa::path(
    get, path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups", tag = "container groups",
    params(openapi::ResourceGroupPath, openapi::ApiVersion, SkipTokenQuery),
    responses((status = 200, description = "a page of the resource group's container groups, without instanceView, with nextLink while more follow", body = render::ContainerGroupList), ErrorResponses)
)]
pub async fn list_in_resource_group(
    State(app): State<AppRef>,
    Path((sub, rg)): Path<(String, String)>,
    uri: Uri,
    q: Q,
) -> ApiResult<Response> {
    list(&app, &sub, Some(&rg), &uri, &q).await
}

#[utoipa::path(
    get, path = "/subscriptions/{sub}/providers/Microsoft.ContainerInstance/containerGroups", tag = "container groups",
    params(openapi::SubscriptionPath, openapi::ApiVersion, SkipTokenQuery),
    responses((status = 200, description = "a page of the subscription's container groups, without instanceView, with nextLink while more follow", body = render::ContainerGroupList), ErrorResponses)
)]
pub async fn list_in_subscription(
    State(app): State<AppRef>,
    Path(sub): Path<String>,
    uri: Uri,
    q: Q,
) -> ApiResult<Response> {
    list(&app, &sub, None, &uri, &q).await
}

/// A page of container groups: from `$skipToken` if given, with a `nextLink` to the next
/// page while more follow.
async fn list(app: &AppRef, sub: &str, rg: Option<&str>, uri: &Uri, q: &Q) -> ApiResult<Response> {
    let after = paging::group_key(q, sub, rg)?;
    let page = app.groups.list(sub, rg, after).await?;
    let next_link = match page.items.last() {
        Some(last) if page.more => {
            let token = paging::group_token(sub, rg, &GroupKey::of(last));
            Some(next_link(app, uri, q, &token))
        }
        _ => None,
    };
    let value = page.items.iter().map(|g| render::group(g, None)).collect();
    Ok(Json(render::ContainerGroupList { value, next_link }).into_response())
}

#[utoipa::path(
    get, path = "/subscriptions/{sub}/providers/Microsoft.ContainerInstance/locations/{loc}/operations/{id}", tag = "container groups",
    params(openapi::OperationPath, openapi::ApiVersion),
    responses((status = 200, description = "the status of a long-running operation; Retry-After (seconds) while it is InProgress", body = render::OperationStatus, headers(("Retry-After" = u32, description = "seconds to wait before polling"))), ErrorResponses)
)]
pub async fn operation(
    State(app): State<AppRef>,
    Path((sub, _loc, id)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let (op, events) = app.groups.operation(&sub, &id).await?;
    let body = Json(render::operation(&op, &events));
    if op.status == "InProgress" {
        // The status is read from the store on every poll: a terminal one is seen at once.
        let retry = [(header::RETRY_AFTER, HeaderValue::from(RETRY_SOON))];
        return Ok((retry, body).into_response());
    }
    Ok(body.into_response())
}

/// POST restart, stop, start.
#[utoipa::path(
    post, path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}/{action}", tag = "container groups",
    params(openapi::ActionPath, openapi::ApiVersion),
    responses((status = 204, description = "stopped, or restarted (Azure-AsyncOperation names the operation)", headers(("Azure-AsyncOperation" = String, description = "where to poll the operation's status"), ("Retry-After" = u32, description = "seconds to wait before polling"))), (status = 202, description = "started (Azure-AsyncOperation names the operation)", headers(("Azure-AsyncOperation" = String, description = "where to poll the operation's status"), ("Retry-After" = u32, description = "seconds to wait before polling"))), ErrorResponses)
)]
pub async fn action(
    State(app): State<AppRef>,
    Path((sub, rg, name, action)): Path<(String, String, String, String)>,
    q: Q,
) -> ApiResult<Response> {
    let scope = scope(sub, rg);
    match action.as_str() {
        "stop" => {
            app.groups.stop(&scope, &name).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        "start" | "restart" => {
            let op = NewOperation::new();
            app.groups.restart(&scope, &name, &op).await?;
            // The group ran before: its images' code is loaded (or on disk), it runs at once.
            let headers = lro_headers(&app, &scope.subscription, Some(&op), &q, RETRY_SOON);
            let status = if action == "start" {
                StatusCode::ACCEPTED
            } else {
                StatusCode::NO_CONTENT
            };
            Ok((status, headers).into_response())
        }
        other => {
            // An unknown action on a group that does not exist is still a missing group.
            app.groups.find(&scope, &name).await?;
            Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!(
                    "'{other}' is not an action of a container group; the actions are restart, stop and start."
                ),
            ))
        }
    }
}
