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
mod groups;
mod logs;
mod openapi;
mod paging;
mod render;
mod request_id;

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
use axum::extract::Request;
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
    pub logs: Arc<LogHub>,
    pub config: Arc<Config>,
    /// SHA-256 of the admin token (DESIGN.md §10), compared in constant time.
    pub admin_hash: String,
    /// What the portal's page needs to know (served outside the token check).
    pub portal: Arc<crate::portal::PortalConfig>,
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
        .routes(routes!(exec))
        .routes(routes!(groups::list_in_subscription))
        .routes(routes!(groups::operation))
        .routes(routes!(groups::action))
        .layer(middleware::from_fn(require_api_version));
    let tokens = OpenApiRouter::new()
        .routes(routes!(access::create, access::list))
        .routes(routes!(access::revoke))
        .route_layer(middleware::from_fn(admin_only));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(arm)
        .merge(tokens)
}

/// The API's router: [`routes`] behind the token check, the attach socket, the OpenAPI
/// document and the portal, with a request id on every answer.
pub fn router(state: AppRef) -> Router {
    let (api, doc) = openapi::refine(routes().split_for_parts());
    // Written once: the document does not change while the platform runs.
    let doc: Arc<str> = serde_json::to_string(&doc).unwrap_or_default().into();
    api.layer(axum::extract::DefaultBodyLimit::max(body::MAX_BODY_BYTES))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            access::require_token,
        ))
        // The attach socket is authenticated by its one-time password instead.
        .route("/attach/{id}", get(attach::socket))
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
        .layer(middleware::from_fn(request_id::tag))
}

/// ACI's exec opens a shell in a container; a component has no shell or process to enter.
#[utoipa::path(
    post, path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}/containers/{container}/exec", tag = "containers",
    params(openapi::ContainerPath, openapi::ApiVersion),
    responses(openapi::ErrorResponses, (status = 409, description = "exec is not supported", body = render::ErrorResponse))
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

/// The fuzz target's body (`fuzz/fuzz_targets/parse_group.rs`): the first line of `data`
/// is a group name (and a path), the rest a PUT body. Everything the API does with such a
/// request before it reaches the domain layer runs here; any panic is a bug. Checks two
/// properties on the way: canonical paths are a fixed point, and a parsed spec always
/// passes its own name rules.
pub fn fuzz_one(data: &[u8]) {
    use crate::model::{names, parse};
    let text = String::from_utf8_lossy(data);
    let (name, body) = text.split_once('\n').unwrap_or((&text, ""));
    let canonical = canonical_path(name);
    assert_eq!(
        canonical_path(&canonical),
        canonical,
        "canonical_path is idempotent"
    );
    let _ = names::check_resource_group_name(name);
    let _ = names::check_dns_label(name);
    let _ = names::check_env_name(name);
    let _ = names::check_volume_name(name);
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
        return;
    };
    let _ = parse::tags_of(&value);
    let limits = parse::Limits {
        max_cpu: 4.0,
        max_memory_gb: 16.0,
    };
    let image_ok = |i: &str| crate::images::check(i).map_err(|e| e.to_string());
    if let Ok(spec) = parse::container_group(&value, name, "local", &limits, &image_ok) {
        assert!(names::check_resource_name(name, true).is_ok());
        for c in spec.containers.iter().chain(&spec.init_containers) {
            assert!(
                names::check_resource_name(&c.name, false).is_ok(),
                "{}",
                c.name
            );
        }
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
        for example in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples"))
            .unwrap()
            .flatten()
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
        check("/", "/");
    }
}
