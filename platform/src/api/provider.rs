//! The resource provider's endpoints besides the groups, as ARM clients ask them: the
//! operations the provider offers, and for the platform's one location a subscription's
//! usages against its quotas, the largest group it may run (capabilities) and the images
//! that start at once (cachedImages). waci adds one write: `POST .../cachedImages` pulls and
//! compiles an image ahead of any group of it (`waci image push` asks it after a push).
//!
//! The operations list holds no data and is open to every valid token (ARM serves it
//! outside any subscription); the location endpoints are under `/subscriptions/{sub}`, so a
//! scoped token reads only its own (see `access.rs`).

use super::body::{ArmBody, json_body};
use super::openapi::{self, ErrorResponses};
use super::render::{self, OperationRow};
use super::{ApiError, ApiResult, AppRef};
use crate::model::parse;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa::IntoParams;

/// Every operation the API offers, by ARM's operation name.
const OPERATIONS: &[OperationRow] = &[
    (
        "containerGroups/read",
        "Container Group",
        "Get Container Group",
        "Gets a container group, or lists a resource group's or a subscription's.",
    ),
    (
        "containerGroups/write",
        "Container Group",
        "Create or Update Container Group",
        "Creates or replaces a container group, or changes its tags.",
    ),
    (
        "containerGroups/delete",
        "Container Group",
        "Delete Container Group",
        "Stops and deletes a container group.",
    ),
    (
        "containerGroups/restart/action",
        "Container Group",
        "Restart Container Group",
        "Starts a container group's containers over.",
    ),
    (
        "containerGroups/stop/action",
        "Container Group",
        "Stop Container Group",
        "Stops a container group's containers.",
    ),
    (
        "containerGroups/start/action",
        "Container Group",
        "Start Container Group",
        "Starts a stopped container group.",
    ),
    (
        "containerGroups/containers/logs/read",
        "Container Logs",
        "Get Container Logs",
        "Reads a container's output.",
    ),
    (
        "containerGroups/containers/attach/action",
        "Container",
        "Attach to Container",
        "Follows a container's output over a websocket.",
    ),
    (
        "locations/operations/read",
        "Operation Status",
        "Get Operation Status",
        "Gets the status of a long-running operation.",
    ),
    (
        "locations/usages/read",
        "Usage",
        "Get Usages",
        "Gets a subscription's use of the location against its quotas.",
    ),
    (
        "locations/capabilities/read",
        "Capabilities",
        "Get Capabilities",
        "Gets the largest container group the location runs.",
    ),
    (
        "locations/cachedImages/read",
        "Cached Images",
        "Get Cached Images",
        "Lists the images whose compiled code is cached, which start at once.",
    ),
    (
        "locations/cachedImages/write",
        "Cached Images",
        "Cache Image",
        "Pulls an image and compiles it now, so that its first container group starts at once.",
    ),
    (
        "operations/read",
        "Operation",
        "List Operations",
        "Lists the operations of the resource provider.",
    ),
];

/// A subscription and one of its locations.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // describes the path; the handlers read it by position
pub struct LocationPath {
    #[param(pattern = r"^[A-Za-z0-9-]{1,64}$")]
    pub sub: String,
    /// The platform's location (`--location`, `local` by default).
    #[param(example = "local")]
    pub loc: String,
}

/// The platform runs in one location; any other is not one it knows.
fn check_location(app: &AppRef, loc: &str) -> ApiResult<()> {
    if loc.eq_ignore_ascii_case(&app.config.location) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "LocationNotAvailableForResourceType",
        format!(
            "The location '{loc}' is not available for container groups; this platform's location is '{}'.",
            app.config.location
        ),
    ))
}

#[utoipa::path(
    get, path = "/providers/Microsoft.ContainerInstance/operations", tag = "provider",
    params(openapi::ApiVersion),
    responses((status = 200, description = "the operations of the resource provider", body = render::OperationList), ErrorResponses)
)]
pub async fn operations() -> Response {
    Json(render::operations(OPERATIONS)).into_response()
}

#[utoipa::path(
    get, path = "/subscriptions/{sub}/providers/Microsoft.ContainerInstance/locations/{loc}/usages", tag = "provider",
    params(LocationPath, openapi::ApiVersion),
    responses((status = 200, description = "container groups held against --max-groups-per-subscription, and cores requested (rounded up) against that quota times --max-cpu", body = render::UsageList), ErrorResponses)
)]
pub async fn usages(
    State(app): State<AppRef>,
    Path((sub, loc)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_location(&app, &loc)?;
    let usage = app.groups.usage(&sub, app.config.limits.max_cpu).await?;
    Ok(Json(render::usages(&usage)).into_response())
}

#[utoipa::path(
    get, path = "/subscriptions/{sub}/providers/Microsoft.ContainerInstance/locations/{loc}/capabilities", tag = "provider",
    params(LocationPath, openapi::ApiVersion),
    responses((status = 200, description = "the most cpu and memory one group may request (--max-cpu, --max-memory-gb)", body = render::CapabilitiesList), ErrorResponses)
)]
pub async fn capabilities(
    State(app): State<AppRef>,
    Path((_sub, loc)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_location(&app, &loc)?;
    let limits = &app.config.limits;
    let body = render::capabilities(&app.config.location, limits.max_cpu, limits.max_memory_gb);
    Ok(Json(body).into_response())
}

#[utoipa::path(
    get, path = "/subscriptions/{sub}/providers/Microsoft.ContainerInstance/locations/{loc}/cachedImages", tag = "provider",
    params(LocationPath, openapi::ApiVersion),
    responses((status = 200, description = "the images whose compiled code is loaded (built-in ones and those the subscription's groups name): a group of them starts at once", body = render::CachedImageList), ErrorResponses)
)]
pub async fn cached_images(
    State(app): State<AppRef>,
    Path((sub, loc)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_location(&app, &loc)?;
    let images = app.groups.cached_images(&sub).await?;
    Ok(Json(render::cached_images(&images)).into_response())
}

#[utoipa::path(
    post, path = "/subscriptions/{sub}/providers/Microsoft.ContainerInstance/locations/{loc}/cachedImages", tag = "provider",
    params(LocationPath, openapi::ApiVersion),
    request_body(content = openapi::ImageToCacheInput, description = "the image to compile ahead of its groups"),
    responses(
        (status = 200, description = "its compiled code was already loaded: a group of it starts at once", body = render::CachedImageAhead),
        (status = 202, description = "pulled; it is compiling now, and the list of cached images shows it when done", body = render::CachedImageAhead),
        ErrorResponses
    )
)]
pub async fn cache_image(
    State(app): State<AppRef>,
    Path((sub, loc)): Path<(String, String)>,
    ArmBody(body): ArmBody,
) -> ApiResult<Response> {
    check_location(&app, &loc)?;
    let request = parse::image_to_cache(&json_body(&body)?, &|image| {
        crate::images::check(image).map_err(|e| e.to_string())
    })?;
    let (digest, compiled) = app.groups.cache_image(&sub, &request).await?;
    let status = if compiled {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let body = render::CachedImageAhead {
        os_type: "Linux",
        image: &request.image,
        digest: &digest,
        compiled,
    };
    Ok((status, Json(body)).into_response())
}
