//! Handlers for resource groups, container groups and async operations.

use super::body::{ArmBody, json_body};
use super::openapi;
use super::render::{self, PROVIDER};
use super::{ApiError, ApiResult, AppRef};
use crate::model::names::{self, LabelScopeIds};
use crate::model::{GroupState, Scope, parse};
use crate::store::GroupRow;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;

type Q = Query<HashMap<String, String>>;

fn api_version(q: &Q) -> String {
    q.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("api-version"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn check_rg_name(rg: &str) -> ApiResult<()> {
    names::check_resource_group_name(rg)
        .map_err(|m| ApiError::bad_request("InvalidResourceGroupName", m))
}

#[utoipa::path(
    put, path = "/subscriptions/{sub}/resourceGroups/{rg}", tag = "resource groups",
    params(openapi::ResourceGroupPath, openapi::ApiVersion),
    request_body(content = openapi::ResourceGroupInput, description = "location and tags, both optional"),
    responses((status = 201, description = "created", body = openapi::ResourceGroup), (status = 200, description = "updated", body = openapi::ResourceGroup), (status = 400, description = "bad input or api-version", body = openapi::ErrorResponse), (status = 401, description = "no valid token", body = openapi::ErrorResponse), (status = 413, description = "body over 1 MiB", body = openapi::ErrorResponse))
)]
pub async fn put_resource_group(
    State(app): State<AppRef>,
    Path((sub, rg)): Path<(String, String)>,
    ArmBody(body): ArmBody,
) -> ApiResult<Response> {
    check_rg_name(&rg)?;
    let v = if body.is_empty() {
        json!({})
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
    .unwrap_or(&app.config.location)
    .to_string();
    let (row, created) = app
        .store
        .run(move |s| s.put_resource_group(&sub, &rg, &location, &tags))
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(render::resource_group(&row))).into_response())
}

#[utoipa::path(
    get, path = "/subscriptions/{sub}/resourceGroups/{rg}", tag = "resource groups",
    params(openapi::ResourceGroupPath, openapi::ApiVersion),
    responses((status = 200, description = "the resource group", body = openapi::ResourceGroup), (status = 400, description = "bad input or api-version", body = openapi::ErrorResponse), (status = 401, description = "no valid token", body = openapi::ErrorResponse), (status = 404, description = "not found", body = openapi::ErrorResponse))
)]
pub async fn get_resource_group(
    State(app): State<AppRef>,
    Path((sub, rg)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let name = rg.clone();
    let row = app.store.run(move |s| s.resource_group(&sub, &rg)).await?;
    row.map(|r| Json(render::resource_group(&r)))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "ResourceGroupNotFound",
                format!("Resource group '{name}' could not be found."),
            )
        })
}

#[utoipa::path(
    get, path = "/subscriptions/{sub}/resourceGroups", tag = "resource groups",
    params(openapi::SubscriptionPath, openapi::ApiVersion),
    responses((status = 200, description = "the subscription's resource groups", body = openapi::ResourceGroupList), (status = 400, description = "bad input or api-version", body = openapi::ErrorResponse), (status = 401, description = "no valid token", body = openapi::ErrorResponse))
)]
pub async fn list_resource_groups(
    State(app): State<AppRef>,
    Path(sub): Path<String>,
) -> ApiResult<Json<Value>> {
    let rows = app.store.run(move |s| s.list_resource_groups(&sub)).await?;
    Ok(Json(
        json!({"value": rows.iter().map(render::resource_group).collect::<Vec<_>>()}),
    ))
}

#[utoipa::path(
    delete, path = "/subscriptions/{sub}/resourceGroups/{rg}", tag = "resource groups",
    params(openapi::ResourceGroupPath, openapi::ApiVersion),
    responses((status = 202, description = "deleted, with its container groups"), (status = 204, description = "there was none"), (status = 400, description = "bad input or api-version", body = openapi::ErrorResponse), (status = 401, description = "no valid token", body = openapi::ErrorResponse))
)]
pub async fn delete_resource_group(
    State(app): State<AppRef>,
    Path((sub, rg)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (s2, r2) = (sub.clone(), rg.clone());
    let groups = app
        .store
        .run(move |s| s.list_groups(Some(&s2), Some(&r2)))
        .await?;
    for g in groups {
        app.runtime.stop(g.id).await;
        app.store.run(move |s| s.delete_group(g.id)).await?;
        app.directory.withdraw(g.id);
        app.runtime.delete_volumes(g.id).await;
    }
    let existed = app
        .store
        .run(move |s| s.delete_resource_group(&sub, &rg))
        .await?;
    Ok(if existed {
        StatusCode::ACCEPTED
    } else {
        StatusCode::NO_CONTENT
    }
    .into_response())
}

async fn find(app: &AppRef, sub: &str, rg: &str, name: &str) -> ApiResult<GroupRow> {
    let scope = Scope {
        subscription: sub.into(),
        resource_group: rg.into(),
    };
    let n = name.to_string();
    app.store
        .read(move |r| r.group(&scope, &n))
        .await?
        .ok_or_else(|| ApiError::not_found(&format!("{PROVIDER}/containerGroups"), name, rg))
}

/// A group with its instance view, as GET returns it (200), with `provisioning` in place
/// of its provisioning state if given.
pub async fn full_view(
    app: &AppRef,
    g: &GroupRow,
    provisioning: Option<&str>,
) -> ApiResult<Response> {
    let id = g.id;
    let (containers, events) = app
        .store
        .read(move |r| Ok((r.containers(id)?, r.events(id)?)))
        .await?;
    let view = render::View {
        containers: &containers,
        events: &events,
    };
    let body = render::group(g, Some(&view));
    let body = match provisioning {
        Some(p) => body.provisioning(p),
        None => body,
    };
    Ok(Json(body).into_response())
}

fn async_header(app: &AppRef, sub: &str, op: &str, version: &str) -> HeaderValue {
    let url = format!(
        "{}/subscriptions/{sub}/providers/{PROVIDER}/locations/{}/operations/{op}?api-version={version}",
        app.config.public_api_url(),
        app.config.location
    );
    HeaderValue::from_str(&url).unwrap_or(HeaderValue::from_static("/"))
}

#[utoipa::path(
    put, path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}", tag = "container groups",
    params(openapi::GroupPath, openapi::ApiVersion),
    request_body(content = openapi::ContainerGroupInput, description = "the group, in ACI's shape"),
    responses((status = 201, description = "created; Azure-AsyncOperation names the operation", body = openapi::ContainerGroup), (status = 200, description = "updated", body = openapi::ContainerGroup), (status = 400, description = "bad input or api-version", body = openapi::ErrorResponse), (status = 401, description = "no valid token", body = openapi::ErrorResponse), (status = 409, description = "conflict (name taken, quota reached, not supported)", body = openapi::ErrorResponse), (status = 413, description = "body over 1 MiB", body = openapi::ErrorResponse))
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
    let scope = Scope {
        subscription: sub.clone(),
        resource_group: rg.clone(),
    };
    let (tenant, zone, location) = (
        app.tenant.clone(),
        app.config.zone.clone(),
        app.config.location.clone(),
    );
    let pool = app.config.ip_pool_range();
    let max_groups = app.config.max_groups_per_subscription;
    let (s2, n2) = (scope.clone(), name.clone());
    let op = uuid::Uuid::new_v4().to_string();
    let resource_id = render::group_id(&sub, &rg, &name);
    let op2 = op.clone();
    let (outcome, containers, events) = app
        .store
        .run(move |s| {
            let ip = spec.ip_address.clone();
            let fqdn = |nonce: &str| {
                let ip = ip.as_ref()?;
                let label = ip.dns_name_label.as_ref()?;
                let ids = LabelScopeIds {
                    tenant: &tenant,
                    subscription: &s2.subscription,
                    resource_group: &s2.resource_group,
                };
                Some(names::fqdn(label, ip.scope, &ids, nonce, &location, &zone))
            };
            let outcome = s.put_group(crate::store::PutGroup {
                scope: &s2,
                name: &n2,
                spec: &spec,
                ip_pool: pool,
                max_groups_per_subscription: max_groups,
                fqdn: &fqdn,
                operation: Some((&op2, &resource_id)),
            })?;
            // The answer's instance view, read in the same trip to the store.
            let id = outcome.group.id;
            Ok::<_, crate::store::Error>((outcome, s.containers(id)?, s.events(id)?))
        })
        .await?;
    app.directory.publish(
        outcome.group.id,
        outcome.group.fqdn.as_deref(),
        outcome.group.ip,
    );
    app.runtime.apply(outcome.group.clone());
    let view = render::View {
        containers: &containers,
        events: &events,
    };
    let body = render::group(&outcome.group, Some(&view));
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        "Azure-AsyncOperation",
        async_header(&app, &scope.subscription, &op, &api_version(&q)),
    );
    Ok((status, headers, Json(body)).into_response())
}

#[utoipa::path(
    get, path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}", tag = "container groups",
    params(openapi::GroupPath, openapi::ApiVersion),
    responses((status = 200, description = "the group with its instanceView", body = openapi::ContainerGroup), (status = 400, description = "bad input or api-version", body = openapi::ErrorResponse), (status = 401, description = "no valid token", body = openapi::ErrorResponse), (status = 404, description = "not found", body = openapi::ErrorResponse))
)]
pub async fn get_group(
    State(app): State<AppRef>,
    Path((sub, rg, name)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let g = find(&app, &sub, &rg, &name).await?;
    full_view(&app, &g, None).await
}

#[utoipa::path(
    patch, path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}", tag = "container groups",
    params(openapi::GroupPath, openapi::ApiVersion),
    request_body(content = openapi::TagsInput, description = "new tags"),
    responses((status = 200, description = "the group with its new tags", body = openapi::ContainerGroup), (status = 400, description = "bad input or api-version", body = openapi::ErrorResponse), (status = 401, description = "no valid token", body = openapi::ErrorResponse), (status = 404, description = "not found", body = openapi::ErrorResponse), (status = 413, description = "body over 1 MiB", body = openapi::ErrorResponse))
)]
pub async fn patch_group(
    State(app): State<AppRef>,
    Path((sub, rg, name)): Path<(String, String, String)>,
    ArmBody(body): ArmBody,
) -> ApiResult<Response> {
    let v = json_body(&body)?;
    let tags = parse::tags_of(&v)?;
    let g = find(&app, &sub, &rg, &name).await?;
    let id = g.id;
    app.store.run(move |s| s.set_tags(id, &tags)).await?;
    let g = find(&app, &sub, &rg, &name).await?;
    full_view(&app, &g, None).await
}

#[utoipa::path(
    delete, path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}", tag = "container groups",
    params(openapi::GroupPath, openapi::ApiVersion),
    responses((status = 200, description = "stopped and deleted", body = openapi::ContainerGroup), (status = 204, description = "there was none"), (status = 400, description = "bad input or api-version", body = openapi::ErrorResponse), (status = 401, description = "no valid token", body = openapi::ErrorResponse))
)]
pub async fn delete_group(
    State(app): State<AppRef>,
    Path((sub, rg, name)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let g = match find(&app, &sub, &rg, &name).await {
        Ok(g) => g,
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        Err(e) => return Err(e),
    };
    // The answer is the group as it was, `Deleting`.
    let body = full_view(&app, &g, Some("Deleting")).await?;
    app.runtime.stop(g.id).await;
    let id = g.id;
    app.store.run(move |s| s.delete_group(id)).await?;
    app.directory.withdraw(id);
    app.runtime.delete_volumes(id).await;
    Ok(body)
}

fn list_body(groups: &[GroupRow]) -> Response {
    #[derive(serde::Serialize)]
    struct List<'a> {
        value: Vec<render::GroupJson<'a>>,
    }
    let value = groups.iter().map(|g| render::group(g, None)).collect();
    Json(List { value }).into_response()
}

#[utoipa::path(
    get, path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups", tag = "container groups",
    params(openapi::ResourceGroupPath, openapi::ApiVersion),
    responses((status = 200, description = "the resource group's container groups, without instanceView", body = openapi::ContainerGroupList), (status = 400, description = "bad input or api-version", body = openapi::ErrorResponse), (status = 401, description = "no valid token", body = openapi::ErrorResponse))
)]
pub async fn list_in_resource_group(
    State(app): State<AppRef>,
    Path((sub, rg)): Path<(String, String)>,
) -> ApiResult<Response> {
    let groups = app
        .store
        .run(move |s| s.list_groups(Some(&sub), Some(&rg)))
        .await?;
    Ok(list_body(&groups))
}

#[utoipa::path(
    get, path = "/subscriptions/{sub}/providers/Microsoft.ContainerInstance/containerGroups", tag = "container groups",
    params(openapi::SubscriptionPath, openapi::ApiVersion),
    responses((status = 200, description = "the subscription's container groups, without instanceView", body = openapi::ContainerGroupList), (status = 400, description = "bad input or api-version", body = openapi::ErrorResponse), (status = 401, description = "no valid token", body = openapi::ErrorResponse))
)]
pub async fn list_in_subscription(
    State(app): State<AppRef>,
    Path(sub): Path<String>,
) -> ApiResult<Response> {
    let groups = app
        .store
        .run(move |s| s.list_groups(Some(&sub), None))
        .await?;
    Ok(list_body(&groups))
}

#[utoipa::path(
    get, path = "/subscriptions/{sub}/providers/Microsoft.ContainerInstance/locations/{loc}/operations/{id}", tag = "container groups",
    params(openapi::OperationPath, openapi::ApiVersion),
    responses((status = 200, description = "the status of a long-running operation", body = openapi::OperationStatus), (status = 400, description = "bad input or api-version", body = openapi::ErrorResponse), (status = 401, description = "no valid token", body = openapi::ErrorResponse), (status = 404, description = "not found", body = openapi::ErrorResponse))
)]
pub async fn operation(
    State(app): State<AppRef>,
    Path((sub, _loc, id)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let op_id = id.clone();
    let op = app
        .store
        .run(move |s| s.operation(&sub, &op_id))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "OperationNotFound",
                format!("The operation '{id}' was not found."),
            )
        })?;
    let events = match op.group_id {
        Some(gid) => {
            let ev = app.store.run(move |s| s.events(gid)).await?;
            ev.iter()
                .map(|(_, e)| {
                    json!({"name": e.name, "message": e.message, "type": e.kind, "count": e.count,
                "firstTimestamp": e.first_timestamp, "lastTimestamp": e.last_timestamp})
                })
                .collect()
        }
        None => vec![],
    };
    Ok(Json(
        json!({"id": op.resource_id, "name": op.id, "status": op.status, "startTime": op.start_time, "properties": {"events": events}}),
    ))
}

/// POST restart, stop, start.
#[utoipa::path(
    post, path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}/{action}", tag = "container groups",
    params(openapi::ActionPath, openapi::ApiVersion),
    responses((status = 204, description = "stopped, or restarted (Azure-AsyncOperation names the operation)"), (status = 202, description = "started (Azure-AsyncOperation names the operation)"), (status = 400, description = "bad input or api-version", body = openapi::ErrorResponse), (status = 401, description = "no valid token", body = openapi::ErrorResponse), (status = 404, description = "not found", body = openapi::ErrorResponse))
)]
pub async fn action(
    State(app): State<AppRef>,
    Path((sub, rg, name, action)): Path<(String, String, String, String)>,
    q: Q,
) -> ApiResult<Response> {
    let g = find(&app, &sub, &rg, &name).await?;
    let id = g.id;
    match action.as_str() {
        "stop" => {
            app.runtime.stop(id).await;
            app.store.run(move |s| s.mark_stopped(id)).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        "start" | "restart" => {
            app.runtime.stop(id).await;
            let op = uuid::Uuid::new_v4().to_string();
            let (op2, sub2, rid) = (op.clone(), sub.clone(), render::group_id(&sub, &rg, &name));
            let g = app
                .store
                .run(move |s| {
                    let g = s.restart_group(id)?;
                    s.create_operation(&op2, &sub2, &rid, Some(id), "InProgress")?;
                    Ok::<_, crate::store::Error>(g)
                })
                .await?;
            if let Some(g) = g {
                app.runtime.apply(g);
            }
            let mut headers = HeaderMap::new();
            headers.insert(
                "Azure-AsyncOperation",
                async_header(&app, &sub, &op, &api_version(&q)),
            );
            let status = if action == "start" {
                StatusCode::ACCEPTED
            } else {
                StatusCode::NO_CONTENT
            };
            Ok((status, headers).into_response())
        }
        other => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!(
                "'{other}' is not an action of a container group; the actions are restart, stop and start."
            ),
        )),
    }
}

/// Whether the platform should start a stored group again at boot: not if the user
/// stopped it, nor if it finished for good under a policy that does not restart.
pub fn should_resume(g: &GroupRow) -> bool {
    match g.state {
        GroupState::Stopped => false,
        GroupState::Succeeded | GroupState::Failed => {
            g.spec.restart_policy == crate::model::RestartPolicy::Always
        }
        GroupState::Pending | GroupState::Running => true,
    }
}
