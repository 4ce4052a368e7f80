//! A container's probes, in ACI's shape (`livenessProbe`, `readinessProbe`): what to call and
//! how often, with Kubernetes' defaults, which ACI follows where it says nothing.

use serde::{Deserialize, Serialize};

/// Seconds between two probes when `periodSeconds` is left out.
pub const DEFAULT_PERIOD_SECONDS: u32 = 10;
/// Seconds a probe may take when `timeoutSeconds` is left out.
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 1;
/// Failures in a row that count when `failureThreshold` is left out.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 3;
/// Successes in a row that count when `successThreshold` is left out.
pub const DEFAULT_SUCCESS_THRESHOLD: u32 = 1;

/// One probe of a container, with every default filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub http_get: HttpGet,
    pub initial_delay_seconds: u32,
    pub period_seconds: u32,
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub timeout_seconds: u32,
}

/// `httpGet`: a GET of `path` on one of the container's declared ports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpGet {
    pub path: String,
    pub port: u16,
    pub scheme: HttpScheme,
    pub http_headers: Vec<(String, String)>,
}

/// `http` or `https`. A probe goes to the service in process, so neither has a wire or TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HttpScheme {
    Http,
    Https,
}

impl HttpScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpScheme::Http => "http",
            HttpScheme::Https => "https",
        }
    }
}
