//! The control API (DESIGN.md §3): ARM-shaped paths, the bearer token, `api-version`, and
//! the handlers that turn requests into store changes and runtime work.
//!
//! Only this module knows HTTP status codes and the ARM JSON shape.
//! **Invariant:** a request that fails validation changes nothing: parsing happens before
//! any store call, and each store change is one transaction.

mod access;
mod attach;
mod body;
mod error;
mod groups;
mod logs;
mod openapi;
mod render;

pub use error::{ApiError, ApiResult};
pub use groups::should_resume;

/// How the admin token is kept in memory: hashed, like every other token.
pub fn admin_hash(token: &str) -> String {
    access::hash(token)
}

use crate::config::Config;
use crate::logs::LogHub;
use crate::runtime::Runtime;
use crate::store::Store;
use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use std::sync::Arc;

/// Every api-version the API accepts: ACI's published versions from 2021-10-01 on.
pub const API_VERSIONS: &[&str] = &[
    "2021-10-01",
    "2022-04-01-preview",
    "2022-09-01",
    "2022-10-01-preview",
    "2023-02-01-preview",
    "2023-05-01",
    "2024-05-01-preview",
    "2024-09-01-preview",
    "2024-10-01-preview",
    "2024-11-01-preview",
    "2025-09-01",
];

pub struct AppState {
    pub store: Store,
    /// Open attach sessions (one-time passwords for the output socket).
    pub attach: attach::Sessions,
    /// Published names: written right after the store commits (DNS, front door read it).
    pub directory: Arc<crate::directory::Directory>,
    pub runtime: Arc<Runtime>,
    pub logs: Arc<LogHub>,
    pub config: Arc<Config>,
    /// SHA-256 of the admin token (DESIGN.md §10), compared in constant time.
    pub admin_hash: String,
    /// This platform's tenant id, hashed into `TenantReuse` FQDNs.
    pub tenant: String,
    /// Where the front door listens (port 0 resolved): the portal links FQDNs through it.
    pub front_door: std::net::SocketAddr,
}

pub type AppRef = Arc<AppState>;

/// Every route of the API in one place. Paths are canonical: [`canonical_path`] rewrites
/// ARM's case-insensitive spellings before routing.
pub fn router(state: AppRef) -> Router {
    let rg = "/subscriptions/{sub}/resourceGroups/{rg}";
    let cg = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups";
    let arm = Router::new()
        .route("/subscriptions/{sub}/resourceGroups", get(groups::list_resource_groups))
        .route(rg, put(groups::put_resource_group).get(groups::get_resource_group).delete(groups::delete_resource_group))
        .route(cg, get(groups::list_in_resource_group))
        .route(&format!("{cg}/{{name}}"), put(groups::put_group).get(groups::get_group).delete(groups::delete_group).patch(groups::patch_group))
        .route(&format!("{cg}/{{name}}/containers/{{container}}/logs"), get(logs::logs))
        .route(&format!("{cg}/{{name}}/containers/{{container}}/attach"), post(attach::attach))
        .route(&format!("{cg}/{{name}}/containers/{{container}}/exec"), post(exec))
        .route("/subscriptions/{sub}/providers/Microsoft.ContainerInstance/containerGroups", get(groups::list_in_subscription))
        .route("/subscriptions/{sub}/providers/Microsoft.ContainerInstance/locations/{loc}/operations/{id}", get(groups::operation))
        .route(&format!("{cg}/{{name}}/{{action}}"), post(groups::action))
        .layer(middleware::from_fn(require_api_version));
    let tokens = Router::new()
        .route("/tokens", post(access::create).get(access::list))
        .route("/tokens/{id}", axum::routing::delete(access::revoke))
        .route_layer(middleware::from_fn(admin_only));
    Router::new()
        .merge(arm)
        .merge(tokens)
        .layer(axum::extract::DefaultBodyLimit::max(body::MAX_BODY_BYTES))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            access::require_token,
        ))
        // The attach socket is authenticated by its one-time password instead.
        .route("/attach/{id}", get(attach::socket))
        // The API's own description, derived from the handlers; it holds no data.
        .route("/openapi.json", get(openapi::document))
        // The portal's page and assets hold no data; the page sends the token on API calls.
        .merge(crate::portal::router())
        .with_state(state)
}

/// ACI's exec opens a shell in a container; a component has no shell or process to enter.
#[utoipa::path(
    post, path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}/containers/{container}/exec", tag = "containers",
    params(openapi::ContainerPath, openapi::ApiVersion),
    responses((status = 400, description = "bad input or api-version", body = openapi::ErrorResponse), (status = 401, description = "no valid token", body = openapi::ErrorResponse), (status = 409, description = "conflict (name taken, quota reached, not supported)", body = openapi::ErrorResponse))
)]
async fn exec() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "ContainerExecNotSupported",
        "A WebAssembly container has no shell or process to exec into. Use 'attach' to follow its output, or 'logs' to read it.",
    )
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        "No API operation matches this path and method.",
    )
}

/// ARM matches fixed path segments without case and tolerates empty segments (`az container
/// create --file` sends `Microsoft.ContainerInstance//containerGroups`). This rewrites a
/// path into the canonical spelling the router lists, leaving user-named segments alone.
pub fn canonical_path(path: &str) -> String {
    let mut segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let fix = |segs: &mut Vec<String>, i: usize, words: &[&str]| {
        if let Some(s) = segs.get_mut(i)
            && let Some(w) = words.iter().find(|w| w.eq_ignore_ascii_case(s))
        {
            *s = w.to_string();
        }
    };
    fix(&mut segs, 0, &["subscriptions"]);
    fix(&mut segs, 2, &["resourceGroups", "providers"]);
    match segs.get(2).map(String::as_str) {
        Some("resourceGroups") => {
            fix(&mut segs, 4, &["providers"]);
            fix(&mut segs, 5, &["Microsoft.ContainerInstance"]);
            fix(&mut segs, 6, &["containerGroups"]);
            fix(&mut segs, 8, &["restart", "stop", "start", "containers"]);
            fix(&mut segs, 10, &["logs", "attach", "exec"]);
        }
        Some("providers") => {
            fix(&mut segs, 3, &["Microsoft.ContainerInstance"]);
            fix(&mut segs, 4, &["containerGroups", "locations"]);
            fix(&mut segs, 6, &["operations"]);
        }
        _ => {}
    }
    format!("/{}", segs.join("/"))
}

/// The API as a hyper service: the router, with paths made canonical before routing.
pub fn app(state: AppRef) -> hyper_util::service::TowerToHyperService<Router> {
    let inner = router(state);
    hyper_util::service::TowerToHyperService::new(
        Router::new().fallback_service(tower_rewrite(inner)),
    )
}

fn tower_rewrite(
    inner: Router,
) -> impl tower::Service<
    Request,
    Response = Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    tower::ServiceExt::map_request(inner, |mut req: Request| {
        let canonical = canonical_path(req.uri().path());
        if canonical != req.uri().path() {
            let pq = match req.uri().query() {
                Some(q) => format!("{canonical}?{q}"),
                None => canonical,
            };
            if let Ok(uri) = pq.parse() {
                *req.uri_mut() = uri;
            }
        }
        req
    })
}

/// The token API is the admin's alone (a scoped token never reaches here; this is a second
/// lock on the same door).
async fn admin_only(req: Request, next: Next) -> Response {
    match req.extensions().get::<access::Principal>() {
        Some(access::Principal::Admin) => next.run(req).await,
        _ => ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "No API operation matches this path and method.",
        )
        .into_response(),
    }
}

/// The api-version a request asked for, if valid.
async fn require_api_version(req: Request, next: Next) -> Response {
    let version = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| k.eq_ignore_ascii_case("api-version"))
        .map(|(_, v)| v.to_string());
    match version {
        None => ApiError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
        .into_response(),
        Some(v) if !API_VERSIONS.contains(&v.as_str()) => ApiError::bad_request(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{v}' is invalid. The supported versions are '{}'.",
                API_VERSIONS.join(",")
            ),
        )
        .into_response(),
        Some(_) => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::canonical_path;

    fn check(input: &str, expected: &str) {
        assert_eq!(canonical_path(input), expected, "{input}");
    }

    #[test]
    fn arm_paths_are_matched_without_case() {
        let cg = "/subscriptions/s/resourceGroups/RG/providers/Microsoft.ContainerInstance/containerGroups";
        check(
            "/subscriptions/s/resourcegroups/RG/providers/microsoft.containerinstance/containergroups",
            cg,
        );
        check(
            "/Subscriptions/s/resourceGroups/RG/providers/Microsoft.ContainerInstance//containerGroups/",
            cg,
        );
        check(
            &format!("{cg}/web/CONTAINERS/logs/Logs"),
            &format!("{cg}/web/containers/logs/logs"),
        );
        check(
            "/subscriptions/s/PROVIDERS/microsoft.containerinstance/Locations/local/Operations/x",
            "/subscriptions/s/providers/Microsoft.ContainerInstance/locations/local/operations/x",
        );
        check("/", "/");
    }
}
