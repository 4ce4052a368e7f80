//! Who is calling (DESIGN.md §10): the admin token, a token scoped to one subscription, or
//! a metrics-only token for a scraper. A scoped token sees only its subscription: any other
//! answers 404 as if absent, and so does `/metrics` (it shows every subscription's groups);
//! a metrics-only token reads `/metrics` and gets 404 for everything else. Tokens
//! are compared as SHA-256 hashes in constant time; only hashes of scoped tokens are stored.
//! Also the admin-only token API: create, list, revoke.

use super::body::{ArmBody, json_body};
use super::openapi::{self, ErrorResponses};
use super::render;
use super::{ApiError, ApiResult, AppRef};
use crate::model::now_rfc3339;
use crate::store::TokenRow;
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Admin,
    Subscription(String),
    /// May read `/metrics` only.
    Metrics,
}

/// The one path a metrics-only token may read.
pub const METRICS_PATH: &str = "/metrics";

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

async fn authenticate(app: &AppRef, token: &str) -> Option<Principal> {
    let given = hash(token);
    if same(&given, &app.admin_hash) {
        return Some(Principal::Admin);
    }
    let lookup = given.clone();
    let (row, stored) = app
        .store
        .read(move |r| r.token_by_hash(&lookup))
        .await
        .ok()??;
    if !same(&given, &stored) {
        return None;
    }
    let expired = row
        .expires
        .as_deref()
        .is_some_and(|e| e <= now_rfc3339().as_str());
    let principal = if row.metrics_only {
        Principal::Metrics
    } else {
        Principal::Subscription(row.subscription)
    };
    (!expired).then_some(principal)
}

/// The one path outside `/subscriptions` a scoped token may read (canonical spelling).
const PROVIDER_OPERATIONS: &str = "/providers/Microsoft.ContainerInstance/operations";

/// The subscription a (canonical) path names, if any.
fn path_subscription(path: &str) -> Option<&str> {
    let mut segs = path.split('/').filter(|s| !s.is_empty());
    (segs.next() == Some("subscriptions"))
        .then(|| segs.next())
        .flatten()
}

/// Authenticates every API request and keeps a scoped token inside its subscription.
pub async fn require_token(State(app): State<AppRef>, mut req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_string());
    let Some(token) = given else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing; send 'Authorization: Bearer <token>' (the token is in <data dir>/token).",
        )
        .into_response();
    };
    let Some(principal) = authenticate(&app, &token).await else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "The access token is invalid or has expired.",
        )
        .into_response();
    };
    if let Principal::Subscription(own) = &principal {
        match path_subscription(req.uri().path()) {
            Some(sub) if sub.eq_ignore_ascii_case(own) => {}
            Some(sub) => {
                return ApiError::new(
                    StatusCode::NOT_FOUND,
                    "SubscriptionNotFound",
                    format!("The subscription '{sub}' could not be found."),
                )
                .into_response();
            }
            // The provider's operation list holds no data: every token may read it.
            None if req.uri().path() == PROVIDER_OPERATIONS => {}
            // Everything else outside /subscriptions (the token API) is the admin's.
            None => {
                return ApiError::new(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    "No API operation matches this path and method.",
                )
                .into_response();
            }
        }
    }
    if principal == Principal::Metrics && req.uri().path() != METRICS_PATH {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "No API operation matches this path and method.",
        )
        .into_response();
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// Parses `7d`, `12h`, `30m`, `45s`.
fn parse_duration(s: &str) -> Option<time::Duration> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
    Some(match unit {
        "d" => time::Duration::days(n),
        "h" => time::Duration::hours(n),
        "m" => time::Duration::minutes(n),
        "s" => time::Duration::seconds(n),
        _ => return None,
    })
}

/// `POST /tokens` `{"subscription": "S", "expires": "7d"}` → the token, shown this once.
#[utoipa::path(
    post, path = "/tokens", tag = "tokens",
    request_body(content = openapi::TokenInput),
    responses((status = 201, description = "the new token, shown this once", body = render::Token), ErrorResponses, (status = 413, description = "body over 1 MiB", body = render::ErrorResponse))
)]
pub async fn create(State(app): State<AppRef>, ArmBody(body): ArmBody) -> ApiResult<Response> {
    let v = json_body(&body)?;
    let metrics_only = match v.get("metricsOnly") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::bad_request(
                "InvalidRequestContent",
                "'metricsOnly' must be true or false (field 'metricsOnly').",
            ));
        }
    };
    let subscription = if metrics_only {
        String::new()
    } else {
        v["subscription"]
        .as_str()
        .filter(|s| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .ok_or_else(|| ApiError::bad_request("InvalidRequestContent", "'subscription' is required: letters, digits and hyphens, up to 64 characters (field 'subscription')."))?
        .to_string()
    };
    let expires = match v.get("expires").and_then(Value::as_str) {
        None => None,
        Some(e) => {
            let d = parse_duration(e).ok_or_else(|| ApiError::bad_request("InvalidRequestContent", format!("'expires' is '{e}'; write a number and d, h, m or s, like 7d (field 'expires').")))?;
            let at = time::OffsetDateTime::now_utc() + d;
            Some(
                at.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            )
        }
    };
    let secret = {
        use rand::Rng;
        hex::encode(rand::rng().random::<[u8; 24]>())
    };
    let token = format!("waci_{secret}");
    let row = TokenRow {
        id: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
        subscription,
        created: now_rfc3339(),
        expires,
        metrics_only,
    };
    let (r, h) = (row.clone(), hash(&token));
    app.store.run(move |s| s.create_token(&r, &h)).await?;
    let out = render::Token {
        token: Some(&token),
        ..render::token(&row)
    };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

#[utoipa::path(
    get, path = "/tokens", tag = "tokens",
    responses((status = 200, description = "every token, never its secret", body = render::TokenList), ErrorResponses)
)]
pub async fn list(State(app): State<AppRef>) -> ApiResult<Response> {
    let rows = app.store.run(|s| s.list_tokens()).await?;
    let value = rows.iter().map(render::token).collect();
    Ok(Json(render::TokenList { value }).into_response())
}

#[utoipa::path(
    delete, path = "/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "the token's id")),
    responses((status = 204, description = "revoked"), ErrorResponses)
)]
pub async fn revoke(State(app): State<AppRef>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let i = id.clone();
    if app.store.run(move |s| s.revoke_token(&i)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "TokenNotFound",
            format!("The token '{id}' was not found."),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_paths() {
        assert_eq!(parse_duration("7d"), Some(time::Duration::days(7)));
        assert_eq!(parse_duration("90m"), Some(time::Duration::minutes(90)));
        assert_eq!(parse_duration("7"), None);
        assert_eq!(parse_duration("0d"), None);
        assert_eq!(parse_duration("1w"), None);
        assert_eq!(
            path_subscription("/subscriptions/abc/resourceGroups/x"),
            Some("abc")
        );
        assert_eq!(path_subscription("/tokens"), None);
    }
}
