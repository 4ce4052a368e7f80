//! ARM's paging of lists: a list answers a page (`groups::PAGE_SIZE` items at most) and,
//! while more follow, a `nextLink`: the same URL on the platform's public API URL, with the
//! same `api-version` and a `$skipToken`. The token is opaque to clients; inside it is the
//! key of the page's last item (keyset paging: the next page starts after that key, so items
//! created or deleted between pages neither shift nor repeat the rest).
//!
//! A token is the key as JSON and a checksum over it and the list it was issued for
//! (subscription, and resource group for a resource group's container groups), in
//! URL-safe base64. A token that is damaged, edited, or sent to another list fails the
//! checksum and is answered 400, never read as a different starting point. The checksum
//! holds no secret, and need not: a forged token can only start a list the caller may read
//! whole anyway somewhere else in it.

use super::ApiError;
use crate::store::GroupKey;
use axum::http::Uri;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use utoipa::IntoParams;

/// The query parameter of a `nextLink` that says where the page starts, as ARM names it
/// (read without case, as ARM reads its parameters).
pub const SKIP_TOKEN: &str = "$skipToken";

/// The longest token read. The API's own are a few hundred characters at most (a resource
/// group name is at most 90 characters, a group name 63).
const MAX_TOKEN_CHARS: usize = 1024;

/// Bytes of checksum at the end of a token.
const CHECK_BYTES: usize = 8;

/// `$skipToken`, as the list operations describe it.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // describes a parameter the handlers read from the query map; never built
pub struct SkipTokenQuery {
    /// Where the page starts: set only by following a previous page's `nextLink`, as it is.
    /// Absent: the first page.
    #[param(rename = "$skipToken", pattern = r"^[A-Za-z0-9_-]{1,1024}$")]
    pub skip_token: Option<String>,
}

/// The key a container-group list's page starts after: `None` without `$skipToken`, or
/// the key of a token this list (`subscription`, `rg`) issued; 400 for any other token.
pub fn group_key(
    q: &HashMap<String, String>,
    subscription: &str,
    rg: Option<&str>,
) -> Result<Option<GroupKey>, ApiError> {
    let Some(token) = skip_token(q) else {
        return Ok(None);
    };
    match decode(&group_list(subscription, rg), token).as_deref() {
        Some([rg_lc, name]) => Ok(Some(GroupKey {
            resource_group_lc: rg_lc.clone(),
            name: name.clone(),
        })),
        _ => Err(bad_token()),
    }
}

/// The token of a container-group list (`subscription`, `rg`) whose next page starts after
/// `key`.
pub fn group_token(subscription: &str, rg: Option<&str>, key: &GroupKey) -> String {
    encode(
        &group_list(subscription, rg),
        &[&key.resource_group_lc, &key.name],
    )
}

/// The key a resource-group list's page starts after: see [`group_key`].
pub fn resource_group_key(
    q: &HashMap<String, String>,
    subscription: &str,
) -> Result<Option<String>, ApiError> {
    let Some(token) = skip_token(q) else {
        return Ok(None);
    };
    match decode(&resource_group_list(subscription), token).as_deref() {
        Some([name_lc]) => Ok(Some(name_lc.clone())),
        _ => Err(bad_token()),
    }
}

/// The token of a subscription's resource-group list whose next page starts after `key`.
pub fn resource_group_token(subscription: &str, key: &str) -> String {
    encode(&resource_group_list(subscription), &[key])
}

/// The `nextLink` of a page: the request's path on the platform's public API URL, with its
/// `api-version` and the token.
pub fn next_link(public_api_url: &str, uri: &Uri, api_version: &str, token: &str) -> String {
    // The api-version was checked against the published versions, and the token is
    // URL-safe base64: neither needs escaping.
    format!(
        "{public_api_url}{}?api-version={api_version}&{SKIP_TOKEN}={token}",
        uri.path()
    )
}

/// The list a token is good for, as the checksum covers it.
fn group_list(subscription: &str, rg: Option<&str>) -> Value {
    json!(["containerGroups", subscription, rg.map(str::to_lowercase)])
}

fn resource_group_list(subscription: &str) -> Value {
    json!(["resourceGroups", subscription])
}

fn skip_token(q: &HashMap<String, String>) -> Option<&str> {
    super::paths::query_value(q, SKIP_TOKEN)
}

fn checksum(list: &Value, payload: &[u8]) -> [u8; CHECK_BYTES] {
    let mut h = Sha256::new();
    h.update(b"waci $skipToken 1\n");
    h.update(list.to_string().as_bytes());
    h.update(b"\n");
    h.update(payload);
    let digest = h.finalize();
    let mut out = [0; CHECK_BYTES];
    out.copy_from_slice(&digest[..CHECK_BYTES]);
    out
}

fn encode(list: &Value, key: &[&str]) -> String {
    let mut bytes = json!(key).to_string().into_bytes();
    let check = checksum(list, &bytes);
    bytes.extend_from_slice(&check);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The key inside a token `list` issued, or `None` for anything else.
fn decode(list: &Value, token: &str) -> Option<Vec<String>> {
    if token.len() > MAX_TOKEN_CHARS {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let (payload, check) = bytes.split_at_checked(bytes.len().checked_sub(CHECK_BYTES)?)?;
    if checksum(list, payload) != check {
        return None;
    }
    serde_json::from_slice(payload).ok()
}

fn bad_token() -> ApiError {
    ApiError::bad_request(
        "InvalidQueryParameterValue",
        format!(
            "The query parameter '{SKIP_TOKEN}' holds a value this list did not issue. Follow the \
             nextLink of the list's previous page as it is, or leave '{SKIP_TOKEN}' out to start \
             at the first page."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(token: &str) -> HashMap<String, String> {
        HashMap::from([
            ("api-version".to_string(), "2025-09-01".to_string()),
            ("$skiptoken".to_string(), token.to_string()),
        ])
    }

    fn key(rg: &str, name: &str) -> GroupKey {
        GroupKey {
            resource_group_lc: rg.into(),
            name: name.into(),
        }
    }

    #[test]
    fn a_token_gives_back_its_key_on_its_own_list_only() {
        let k = key("démo(1)", "web-2");
        let token = group_token("sub", None, &k);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{token}"
        );
        assert_eq!(group_key(&query(&token), "sub", None).unwrap(), Some(k));
        // Another subscription, a resource group's list, the resource-group list: refused.
        assert!(group_key(&query(&token), "other", None).is_err());
        assert!(group_key(&query(&token), "sub", Some("démo(1)")).is_err());
        assert!(resource_group_key(&query(&token), "sub").is_err());

        // A resource group's list: its name without case.
        let in_rg = group_token("sub", Some("Demo"), &key("demo", "a"));
        assert_eq!(
            group_key(&query(&in_rg), "sub", Some("DEMO")).unwrap(),
            Some(key("demo", "a"))
        );
        assert!(group_key(&query(&in_rg), "sub", Some("demo2")).is_err());

        let rg = resource_group_token("sub", "demo");
        assert_eq!(
            resource_group_key(&query(&rg), "sub").unwrap().as_deref(),
            Some("demo")
        );
        // No token: the first page.
        assert_eq!(group_key(&HashMap::new(), "sub", None).unwrap(), None);
    }

    #[test]
    fn a_damaged_or_edited_token_is_refused_naming_the_parameter() {
        let token = group_token("sub", None, &key("demo", "web"));
        let mut bad = vec![
            String::new(),
            "x".into(),
            "not a token!".into(),
            token[..token.len() - 1].to_string(),
            format!("{token}A"),
            "A".repeat(MAX_TOKEN_CHARS + 1),
            // Valid base64 of a key with no checksum, and a key with the checksum of another.
            URL_SAFE_NO_PAD.encode(br#"["demo","web"]"#),
            {
                let list = group_list("sub", None);
                let mut forged = br#"["demo","zzz"]"#.to_vec();
                forged.extend_from_slice(&checksum(&list, br#"["demo","web"]"#));
                URL_SAFE_NO_PAD.encode(forged)
            },
        ];
        // Every single-character change.
        for i in 0..token.len() {
            let mut t = token.clone().into_bytes();
            t[i] = if t[i] == b'A' { b'B' } else { b'A' };
            bad.push(String::from_utf8(t).unwrap());
        }
        for t in bad {
            let Err(e) = group_key(&query(&t), "sub", None) else {
                panic!("{t:?} was read as a token");
            };
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
            assert_eq!(e.code, "InvalidQueryParameterValue");
            assert!(e.message.contains("'$skipToken'"), "{}", e.message);
        }
        // A well-formed token whose key has the wrong shape for the list.
        let rg_shaped = encode(&group_list("sub", None), &["demo"]);
        assert!(group_key(&query(&rg_shaped), "sub", None).is_err());
    }

    #[test]
    fn the_next_link_is_the_same_path_with_the_api_version_and_the_token() {
        let uri: Uri = "/subscriptions/s/resourceGroups/r%C3%A9/providers/Microsoft.ContainerInstance/containerGroups?api-version=2024-10-01-preview&%24skipToken=old"
            .parse()
            .unwrap();
        assert_eq!(
            next_link("http://127.0.0.1:8080", &uri, "2024-10-01-preview", "abc_-"),
            "http://127.0.0.1:8080/subscriptions/s/resourceGroups/r%C3%A9/providers/Microsoft.ContainerInstance/containerGroups?api-version=2024-10-01-preview&$skipToken=abc_-"
        );
    }
}
