//! The HTTP client of the control API: finds the platform (`--endpoint`, else the data dir's
//! `endpoints.json`) and its token (`--token`, else `<data dir>/token`), builds ARM paths,
//! and turns every failure into an [`Error`] a user can act on.
//!
//! This module knows URLs and status codes of the API, never clap flags or output formats.

use clap::Args;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The api-version every request carries: the newest stable ACI version (DESIGN.md §3).
pub const API_VERSION: &str = "2025-09-01";
/// Where container groups live under a resource group.
const PROVIDER: &str = "Microsoft.ContainerInstance";

/// How to reach a platform; every client command takes these flags.
#[derive(Args, Clone, Debug)]
pub struct Connection {
    /// The API's base URL [default: the "api" of <data dir>/endpoints.json]
    #[arg(long, env = "WACI_ENDPOINT", global = true)]
    pub endpoint: Option<String>,
    /// Bearer token [default: the contents of <data dir>/token]
    #[arg(long, env = "WACI_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Data dir of the local platform, where endpoints.json and token are [default: ~/.local/share/waci]
    #[arg(long, env = "WACI_HOME", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Subscription id in every path
    #[arg(
        long,
        env = "WACI_SUBSCRIPTION",
        global = true,
        default_value = "00000000-0000-0000-0000-000000000000"
    )]
    pub subscription: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no waci platform found: {} does not exist. Start one with `waci serve`, or point --endpoint (WACI_ENDPOINT) at a running one.",
        .0.display()
    )]
    NoEndpoints(PathBuf),
    #[error("{} is not what `waci serve` writes: {}", .0.display(), .1)]
    BadEndpoints(PathBuf, String),
    #[error("'{0}' is not a URL like http://127.0.0.1:8080")]
    BadEndpoint(String),
    #[error(
        "no waci platform answers at {endpoint}{from}: {reason}. Start one with `waci serve`, or point --endpoint (WACI_ENDPOINT) at a running one."
    )]
    NotRunning {
        endpoint: String,
        from: String,
        reason: String,
    },
    /// The API said no; `code` and `message` are its own.
    #[error("({code}) {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the platform at {0} answered in a way waci does not understand: {1}")]
    Protocol(String, String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// A connected client: base URL, token and subscription.
pub struct Client {
    http: reqwest::Client,
    base: Url,
    /// Where the endpoint came from, for the "no platform answers" message.
    source: String,
    token: Option<String>,
    subscription: String,
}

fn endpoint_from_file(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|_| Error::NoEndpoints(path.into()))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| Error::BadEndpoints(path.into(), e.to_string()))?;
    v["api"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Error::BadEndpoints(path.into(), "it has no \"api\" address".into()))
}

impl Client {
    pub fn new(c: &Connection) -> Result<Client> {
        // The same default as `waci serve`, so both find the same data dir.
        let data_dir = c
            .data_dir
            .clone()
            .unwrap_or_else(waci_platform::config::Config::default_data_dir);
        let (endpoint, source) = match &c.endpoint {
            Some(e) => (e.clone(), String::new()),
            None => {
                let file = data_dir.join("endpoints.json");
                let e = endpoint_from_file(&file)?;
                (e, format!(" (from {})", file.display()))
            }
        };
        let base = Url::parse(endpoint.trim_end_matches('/'))
            .ok()
            .filter(|u| u.scheme() == "http" || u.scheme() == "https")
            .ok_or_else(|| Error::BadEndpoint(endpoint.clone()))?;
        let token = c.token.clone().or_else(|| {
            std::fs::read_to_string(data_dir.join("token"))
                .ok()
                .map(|t| t.trim().to_string())
        });
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| Error::Protocol(endpoint.clone(), e.to_string()))?;
        Ok(Client {
            http,
            base,
            source,
            token,
            subscription: c.subscription.clone(),
        })
    }

    /// A URL of the platform's own API (outside ARM's subscriptions, e.g. `/tokens`).
    pub fn platform_url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("http URL")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// The subscription every ARM path names.
    pub fn subscription(&self) -> &str {
        &self.subscription
    }

    /// The URL of `segments` under `/subscriptions/{sub}`, with `api-version` and `query`.
    pub fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        {
            // A base URL with http(s) always has path segments.
            let mut path = url.path_segments_mut().expect("http URL");
            path.pop_if_empty()
                .extend(["subscriptions", &self.subscription]);
            path.extend(segments);
        }
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("api-version", API_VERSION);
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        url
    }

    /// The URL of a container group, or of something under it (`containers/web/logs`).
    pub fn group_url(&self, rg: &str, name: &str, tail: &[&str], query: &[(&str, String)]) -> Url {
        let mut segs = vec![
            "resourceGroups",
            rg,
            "providers",
            PROVIDER,
            "containerGroups",
            name,
        ];
        segs.extend(tail);
        self.url(&segs, query)
    }

    /// The container groups of a resource group, or of the whole subscription.
    pub fn groups_url(&self, rg: Option<&str>) -> Url {
        match rg {
            Some(rg) => self.url(
                &[
                    "resourceGroups",
                    rg,
                    "providers",
                    PROVIDER,
                    "containerGroups",
                ],
                &[],
            ),
            None => self.url(&["providers", PROVIDER, "containerGroups"], &[]),
        }
    }

    /// A resource group, or all of them.
    pub fn resource_group_url(&self, rg: Option<&str>) -> Url {
        match rg {
            Some(rg) => self.url(&["resourceGroups", rg], &[]),
            None => self.url(&["resourceGroups"], &[]),
        }
    }

    /// Sends a request; a 2xx answer is returned as is, anything else becomes an [`Error`].
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<reqwest::Response> {
        let mut req = self.http.request(method, url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| self.transport_error(e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        Err(api_error(status, &text))
    }

    /// Sends a request and reads its JSON answer; `None` when the API answered without a
    /// body (204, 202).
    pub async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Option<Value>> {
        let resp = self.send(method, url, body).await?;
        let text = resp.text().await.map_err(|e| self.transport_error(e))?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Protocol(self.base.to_string(), format!("invalid JSON ({e})")))
    }

    /// A GET whose answer must have a body.
    pub async fn get(&self, url: Url) -> Result<Value> {
        self.call(Method::GET, url, None).await?.ok_or_else(|| {
            Error::Protocol(self.base.to_string(), "an empty answer to a GET".into())
        })
    }

    /// Every item of a list: its first page at `url`, then each page its `nextLink` names,
    /// to the last (ARM lists come in pages). A link is followed on this client's own base
    /// URL: the platform writes its links on its public URL, which may not be how this
    /// client reaches it (a tunnel, a proxy), and the token goes to no other host.
    pub async fn list(&self, url: Url) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut next = Some(url);
        let mut seen = std::collections::HashSet::new();
        while let Some(url) = next.take() {
            if !seen.insert(url.clone()) {
                return Err(self.protocol(format!(
                    "its nextLink {url} leads back to a page already read"
                )));
            }
            let mut page = self.get(url).await?;
            match page.get_mut("value").map(Value::take) {
                Some(Value::Array(values)) => items.extend(values),
                _ => return Err(self.protocol("a list without a \"value\" array".into())),
            }
            next = match page.get("nextLink") {
                None | Some(Value::Null) => None,
                Some(Value::String(link)) => Some(self.on_base(link)?),
                Some(other) => {
                    return Err(self.protocol(format!("a nextLink that is not a URL: {other}")));
                }
            };
        }
        Ok(items)
    }

    /// `link`'s path and query on this client's base URL (keeping a path the base has).
    fn on_base(&self, link: &str) -> Result<Url> {
        let link = Url::parse(link)
            .map_err(|e| self.protocol(format!("a nextLink that is not a URL ({e}): {link}")))?;
        let mut url = self.base.clone();
        url.set_path(&format!(
            "{}{}",
            self.base.path().trim_end_matches('/'),
            link.path()
        ));
        url.set_query(link.query());
        Ok(url)
    }

    fn protocol(&self, what: String) -> Error {
        Error::Protocol(self.base.to_string(), what)
    }

    /// A container group with its instance view.
    pub async fn group(&self, rg: &str, name: &str) -> Result<Value> {
        self.get(self.group_url(rg, name, &[], &[])).await
    }

    /// A failure to reach the platform or read its answer.
    pub fn transport_error(&self, e: reqwest::Error) -> Error {
        if e.is_connect() || e.is_timeout() {
            // The innermost cause says it best ("Connection refused (os error 111)").
            let mut cause: &dyn std::error::Error = &e;
            while let Some(inner) = cause.source() {
                cause = inner;
            }
            Error::NotRunning {
                endpoint: self.base.as_str().trim_end_matches('/').to_string(),
                from: self.source.clone(),
                reason: cause.to_string(),
            }
        } else {
            Error::Protocol(self.base.to_string(), e.to_string())
        }
    }
}

/// The API's `{"error": {"code", "message"}}`, or what can be said without it.
fn api_error(status: StatusCode, text: &str) -> Error {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let e = &v["error"];
    let code = e["code"].as_str().map(str::to_string).unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("Error")
            .replace(' ', "")
    });
    let message = e["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| {
            let t = text.trim();
            if t.is_empty() {
                format!("the API answered {status}")
            } else {
                format!("the API answered {status}: {t}")
            }
        });
    Error::Api {
        status: status.as_u16(),
        code,
        message,
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
