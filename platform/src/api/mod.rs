//! The control API (DESIGN.md §3): ARM-shaped paths, the bearer token, `api-version`, the
//! request id, and the handlers that translate a request into one call of the domain layer
//! ([`crate::groups`]) and its result into an answer.
//!
//! Only this module chooses the control API's statuses and writes the ARM JSON shape
//! (`render`); `error.rs` maps every failure to a status and an ARM code.
//! **Invariant:** a request that fails validation changes nothing: parsing happens before
//! any domain call, and each store change is one transaction.

mod access;
mod attach;
mod body;
mod error;
mod exec;
mod groups;
mod logs;
mod openapi;
mod paging;
mod paths;
mod provider;
mod render;
mod request_id;
mod session;

pub use paths::{app, canonical_path, fuzz_one};

pub use error::{ApiError, ApiResult};

/// How the admin token is kept in memory: hashed, like every other token.
pub fn admin_hash(token: &str) -> String {
    access::hash(token)
}

use crate::config::Config;
use crate::groups::Groups;
use crate::logs::LogHub;
use crate::store::Store;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
    /// The group operations (put, delete, stop, ...): every change a handler makes.
    pub groups: Groups,
    /// Point reads for logs and tokens.
    pub store: Store,
    /// Open attach sessions (one-time passwords for the output socket).
    pub attach: attach::Sessions,
    /// Open exec sessions (one-time passwords for a command's socket).
    pub exec: exec::Sessions,
    pub logs: Arc<LogHub>,
    pub config: Arc<Config>,
    /// SHA-256 of the admin token (DESIGN.md §10), compared in constant time.
    pub admin_hash: String,
    /// What the portal's page needs to know (served outside the token check).
    pub portal: Arc<crate::portal::PortalConfig>,
    /// What `GET /metrics` shows; the request layer counts the API's requests into it.
    pub metrics: Arc<crate::metrics::Metrics>,
}

pub type AppRef = Arc<AppState>;

/// Every route of the API, each registered once with its OpenAPI description (the
/// `#[utoipa::path]` on its handler names its path and verb). Paths are canonical:
/// [`canonical_path`] rewrites ARM's case-insensitive spellings before routing.
fn routes() -> OpenApiRouter<AppRef> {
    let arm = OpenApiRouter::new()
        .routes(routes!(groups::list_resource_groups))
        .routes(routes!(
            groups::put_resource_group,
            groups::get_resource_group,
            groups::delete_resource_group
        ))
        .routes(routes!(groups::list_in_resource_group))
        .routes(routes!(
            groups::put_group,
            groups::get_group,
            groups::delete_group,
            groups::patch_group
        ))
        .routes(routes!(logs::logs))
        .routes(routes!(attach::attach))
        .routes(routes!(exec::exec))
        .routes(routes!(groups::list_in_subscription))
        .routes(routes!(groups::operation))
        .routes(routes!(groups::action))
        .routes(routes!(provider::operations))
        .routes(routes!(provider::usages))
        .routes(routes!(provider::capabilities))
        .routes(routes!(provider::cached_images, provider::cache_image))
        .layer(middleware::from_fn(require_api_version));
    let tokens = OpenApiRouter::new()
        .routes(routes!(access::create, access::list))
        .routes(routes!(access::revoke))
        .route_layer(middleware::from_fn(admin_only));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(arm)
        .merge(tokens)
}

/// The API's router: [`routes`] behind the token check, the attach and exec sockets, the OpenAPI
/// document and the portal, with a request id on every answer.
pub fn router(state: AppRef) -> Router {
    let (api, doc) = openapi::refine(routes().split_for_parts());
    // Written once: the document does not change while the platform runs.
    let doc: Arc<str> = serde_json::to_string(&doc).unwrap_or_default().into();
    api.route(access::METRICS_PATH, get(metrics))
        .layer(axum::extract::DefaultBodyLimit::max(body::MAX_BODY_BYTES))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            access::require_token,
        ))
        // The attach and exec sockets are authenticated by their one-time passwords instead.
        .route("/attach/{id}", get(attach::socket))
        .route("/exec/{id}", get(exec::socket))
        // The API's own description; it holds no data.
        .route(
            "/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        doc.to_string(),
                    )
                }
            }),
        )
        .with_state(state.clone())
        // The portal's page and assets hold no data; the page sends the token on API calls.
        .merge(crate::portal::router(state.portal.clone()))
        .layer(middleware::from_fn_with_state(state, request_id::tag))
}

/// `GET /metrics`: the platform's metrics in the Prometheus text format, for the admin
/// token or a metrics-only one (a scoped token never reaches here: it shows every
/// subscription's groups).
async fn metrics(State(app): State<AppRef>, req: Request) -> ApiResult<Response> {
    match req.extensions().get::<access::Principal>() {
        Some(access::Principal::Admin | access::Principal::Metrics) => {}
        _ => return Ok(not_found().await.into_response()),
    }
    let text = app.metrics.render().await?;
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        "No API operation matches this path and method.",
    )
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
    use super::{canonical_path, fuzz_one};
    use serde_json::json;

    #[test]
    fn fuzz_one_takes_the_seed_corpus() {
        let group = json!({"location": "local", "properties": {"containers": [{"name": "a",
            "properties": {"image": "waci/hello-http", "resources": {"requests": {"cpu": 1, "memoryInGB": 1}}}}]}});
        let inputs: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"web\n{}".to_vec(),
            format!("web\n{group}").into_bytes(),
            b"/subscriptions//resourcegroups/x/PROVIDERS/a//b\n[1,2]".to_vec(),
            b"\xff\xfe\n{\"properties\": {\"containers\": [null]}}".to_vec(),
            format!("web\n{}", "[".repeat(200)).into_bytes(),
        ];
        for i in inputs {
            fuzz_one(&i);
        }
        // The files, not the directories of the apps in other languages.
        for example in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_file())
        {
            let text = std::fs::read_to_string(example.path()).unwrap();
            fuzz_one(format!("web\n{text}").as_bytes());
        }
    }

    fn check(input: &str, expected: &str) {
        assert_eq!(canonical_path(input), expected, "{input}");
    }

    #[test]
    fn the_api_version_the_portal_sends_is_accepted() {
        assert!(super::API_VERSIONS.contains(&crate::portal::API_VERSION));
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
        check(
            "/subscriptions/s/providers/microsoft.containerinstance/locations/Local/CACHEDIMAGES",
            "/subscriptions/s/providers/Microsoft.ContainerInstance/locations/Local/cachedImages",
        );
        check(
            "/subscriptions/s/providers/Microsoft.ContainerInstance/locations/local/Usages",
            "/subscriptions/s/providers/Microsoft.ContainerInstance/locations/local/usages",
        );
        check(
            "/Providers/MICROSOFT.ContainerInstance/Operations",
            "/providers/Microsoft.ContainerInstance/operations",
        );
        check("/", "/");
    }
}
