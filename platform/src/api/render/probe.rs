//! A container's probes as GET returns them: ACI's `ContainerProbe` with every default filled
//! in, so a user sees the timings the platform runs.

use crate::model as m;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerProbe<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_get: Option<ContainerHttpGet<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<ContainerExec<'a>>,
    pub initial_delay_seconds: u32,
    pub period_seconds: u32,
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub timeout_seconds: u32,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerHttpGet<'a> {
    pub path: &'a str,
    pub port: u16,
    /// http or https.
    pub scheme: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_headers: Vec<HttpHeader<'a>>,
}

/// An `exec` probe: the command run in the container's sandbox.
#[derive(Serialize, ToSchema)]
pub struct ContainerExec<'a> {
    pub command: &'a [String],
}

#[derive(Serialize, ToSchema)]
pub struct HttpHeader<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

pub(super) fn probe_out(p: &m::Probe) -> ContainerProbe<'_> {
    let (http_get, exec) = match &p.action {
        m::ProbeAction::HttpGet(get) => (
            Some(ContainerHttpGet {
                path: &get.path,
                port: get.port,
                scheme: get.scheme.as_str(),
                http_headers: get
                    .http_headers
                    .iter()
                    .map(|(name, value)| HttpHeader { name, value })
                    .collect(),
            }),
            None,
        ),
        m::ProbeAction::Exec(command) => (None, Some(ContainerExec { command })),
    };
    ContainerProbe {
        http_get,
        exec,
        initial_delay_seconds: p.initial_delay_seconds,
        period_seconds: p.period_seconds,
        failure_threshold: p.failure_threshold,
        success_threshold: p.success_threshold,
        timeout_seconds: p.timeout_seconds,
    }
}
