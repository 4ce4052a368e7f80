//! ARM paths as they arrive: matched without case and with empty segments tolerated
//! (`canonical_path`), rewritten before routing (`app`), their query parameters read
//! without case (`query_value`), and `fuzz_one`, the body of the fuzz target over what the
//! API does with a request before it reaches the domain layer.

use super::{AppRef, router};
use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use std::collections::HashMap;

/// The value of query parameter `name`, matched without case as ARM matches it.
pub fn query_value<'a>(q: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
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
    fix(&mut segs, 0, &["subscriptions", "providers"]);
    if segs.first().map(String::as_str) == Some("providers") {
        fix(&mut segs, 1, &["Microsoft.ContainerInstance"]);
        fix(&mut segs, 2, &["operations"]);
        return format!("/{}", segs.join("/"));
    }
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
            fix(
                &mut segs,
                6,
                &["operations", "usages", "capabilities", "cachedImages"],
            );
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
