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
    /// Flattened, so a stored probe reads `{"http_get": {..}, ..}` as before `exec` existed.
    #[serde(flatten)]
    pub action: ProbeAction,
    pub initial_delay_seconds: u32,
    pub period_seconds: u32,
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub timeout_seconds: u32,
}

/// What a probe does: exactly one of ACI's `httpGet` and `exec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeAction {
    HttpGet(HttpGet),
    /// `exec.command`: run in the container's sandbox as exec runs it; exit code 0 passes.
    Exec(Vec<String>),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A probe stored before `exec` existed (`http_get` beside the timings) still reads,
    /// and an exec probe is stored the same way, beside them.
    #[test]
    fn stored_probes_keep_their_shape() {
        let stored = r#"{"http_get":{"path":"/healthz","port":80,"scheme":"Http","http_headers":[]},
            "initial_delay_seconds":0,"period_seconds":10,"failure_threshold":3,
            "success_threshold":1,"timeout_seconds":1}"#;
        let p: Probe = serde_json::from_str(stored).unwrap();
        assert_eq!(
            p.action,
            ProbeAction::HttpGet(HttpGet {
                path: "/healthz".into(),
                port: 80,
                scheme: HttpScheme::Http,
                http_headers: vec![],
            })
        );
        let exec = Probe {
            action: ProbeAction::Exec(vec!["cat".into(), "/ok".into()]),
            ..p
        };
        let json = serde_json::to_value(&exec).unwrap();
        assert_eq!(json["exec"], serde_json::json!(["cat", "/ok"]));
        assert_eq!(json["period_seconds"], 10);
        assert_eq!(serde_json::from_value::<Probe>(json).unwrap(), exec);
    }
}
