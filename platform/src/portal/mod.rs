//! The web portal (DESIGN.md §9): the quickstart as a page. Serves `index.html`, its
//! stylesheet and scripts (compiled into the binary; no build step, nothing from elsewhere)
//! and `/portal/config`, the few facts the page needs before it can call the API.
//!
//! **Invariant:** nothing served here holds data or needs the token. The page keeps the token
//! in the browser tab and sends it as `Authorization: Bearer` on every API call, like any
//! other client; this module never reads or changes the store and knows nothing of the API
//! but its api-version (it is a client of the API, like the CLI).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::sync::Arc;

/// What the page needs to know before its first API call, fixed at start.
#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// Where the front door listens (port 0 resolved): the page links FQDNs through it.
    pub front_door_port: u16,
    pub location: String,
    pub zone: String,
    pub max_cpu: f64,
    pub max_memory_gb: f64,
}

/// The page's files: name under `/portal/`, content type, body.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("app.css"),
    ),
    ("app.js", JS, include_str!("app.js")),
    ("api.js", JS, include_str!("api.js")),
    ("charts.js", JS, include_str!("charts.js")),
    ("create.js", JS, include_str!("create.js")),
    ("groups.js", JS, include_str!("groups.js")),
    ("logs.js", JS, include_str!("logs.js")),
    ("rules.js", JS, include_str!("rules.js")),
    ("ui.js", JS, include_str!("ui.js")),
    ("favicon.svg", "image/svg+xml", include_str!("favicon.svg")),
];

const JS: &str = "text/javascript; charset=utf-8";

/// The page may load only its own files and talk only to its own origin. Links to groups
/// (the front door) are navigations, which this does not restrict.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The subscription the portal works in, as the CLI's default.
pub const DEFAULT_SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";

/// The api-version the page sends: ACI's newest stable one (the API's tests check that it
/// accepts it).
pub const API_VERSION: &str = "2025-09-01";

/// The portal's routes; the API's router adds them outside its token check.
pub fn router(config: Arc<PortalConfig>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/portal/config", get(page_config))
        .route("/portal/{asset}", get(asset))
        .with_state(config)
}

/// Adds the headers every portal response carries: no caching across upgrades of the
/// binary, no sniffing, no framing, and no `Referer` (the address may have held the token).
fn with_headers(content_type: &str, body: impl IntoResponse) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    resp
}

async fn index() -> Response {
    with_headers("text/html; charset=utf-8", include_str!("index.html"))
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => with_headers(content_type, *body),
        // Not an API answer: a plain page for a browser.
        None => (
            StatusCode::NOT_FOUND,
            with_headers(
                "text/plain; charset=utf-8",
                format!("The portal has no file '{name}'."),
            ),
        )
            .into_response(),
    }
}

/// What the page needs to know before its first API call: where the front door is (FQDN
/// links go through it), the quickstart images, and the ARM coordinates it uses.
async fn page_config(State(c): State<Arc<PortalConfig>>) -> Response {
    let images: Vec<_> = crate::images::built_in_images()
        .into_iter()
        .map(|b| json!({"image": b.reference, "summary": b.summary, "port": b.port}))
        .collect();
    let body = json!({
        "frontDoorPort": c.front_door_port,
        "location": c.location,
        "zone": c.zone,
        "apiVersion": API_VERSION,
        "subscription": DEFAULT_SUBSCRIPTION,
        "maxCpu": c.max_cpu,
        "maxMemoryGb": c.max_memory_gb,
        "quickstartImages": images,
    });
    with_headers("application/json", axum::Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(name: &str) -> bool {
        ASSETS.iter().any(|(n, _, _)| *n == name)
    }

    /// Every file the page names (`/portal/x` in the HTML, `./x.js` in an import) is one
    /// the portal serves, so a missing one fails here rather than in a browser.
    #[test]
    fn every_file_the_page_names_is_served() {
        let index = include_str!("index.html");
        for part in index.split("/portal/").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                .collect();
            assert!(served(&name), "index.html names /portal/{name}");
        }
        for (file, _, body) in ASSETS.iter().filter(|(n, _, _)| n.ends_with(".js")) {
            for part in body.split("from './").skip(1) {
                let name = part.split('\'').next().unwrap_or_default();
                assert!(served(name), "{file} imports ./{name}");
            }
        }
    }
}
