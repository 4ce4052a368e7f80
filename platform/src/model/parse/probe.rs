//! A container's `livenessProbe` and `readinessProbe` ([`Probe`]), and the no-op properties
//! that are checked before they are kept: `securityContext`, `zones`, `priority`, `sku`.

use super::*;

/// Probe timings are whole seconds; a day bounds them so that a typo is caught.
const MAX_PROBE_SECONDS: f64 = 86_400.0;

fn seconds(p: &At<'_>, key: &str, min: f64, default: u32) -> Res<u32> {
    let Some(n) = p.num(key)? else {
        return Ok(default);
    };
    let f = p.field(key);
    if n.fract() != 0.0 || n < min || n > MAX_PROBE_SECONDS {
        return Err(invalid(
            &f,
            format!("'{f}' is {n}; it must be a whole number from {min} to {MAX_PROBE_SECONDS}."),
        ));
    }
    Ok(n as u32)
}

/// `key` of a container's properties `p`, if present. `ports` are the container's own: an
/// `httpGet` probe calls one of them.
pub(super) fn probe(p: &At<'_>, key: &str, ports: &[Port]) -> Res<Option<Probe>> {
    let Some(pr) = p.obj(key)? else {
        return Ok(None);
    };
    let action = match (pr.get("httpGet"), pr.get("exec")) {
        (Some(_), Some(_)) => {
            let f = pr.field("exec");
            return Err(invalid(
                &f,
                format!(
                    "'{}' has both 'httpGet' and 'exec'; a probe does one of them.",
                    pr.path
                ),
            ));
        }
        (None, None) => {
            let f = pr.field("httpGet");
            return Err(invalid(
                &f,
                format!("'{}' needs 'httpGet' or 'exec'.", pr.path),
            ));
        }
        (None, Some(exec_value)) => ProbeAction::Exec(exec_command(exec_value, &pr.field("exec"))?),
        (Some(get_value), None) => {
            ProbeAction::HttpGet(http_get(get_value, &pr.field("httpGet"), ports)?)
        }
    };
    let success_threshold = seconds(&pr, "successThreshold", 1.0, DEFAULT_SUCCESS_THRESHOLD)?;
    if key.eq_ignore_ascii_case("livenessProbe") && success_threshold != 1 {
        let f = pr.field("successThreshold");
        return Err(invalid(
            &f,
            format!(
                "'{f}' is {success_threshold}; a liveness probe's must be 1, as in Kubernetes."
            ),
        ));
    }
    Ok(Some(Probe {
        action,
        initial_delay_seconds: seconds(&pr, "initialDelaySeconds", 0.0, 0)?,
        period_seconds: seconds(&pr, "periodSeconds", 1.0, DEFAULT_PERIOD_SECONDS)?,
        failure_threshold: seconds(&pr, "failureThreshold", 1.0, DEFAULT_FAILURE_THRESHOLD)?,
        success_threshold,
        timeout_seconds: seconds(&pr, "timeoutSeconds", 1.0, DEFAULT_TIMEOUT_SECONDS)?,
    }))
}

/// `securityContext`: kept as given, except what would ask for more than the sandbox gives.
pub(super) fn security_context(p: &At<'_>) -> Res<Option<Value>> {
    let Some(s) = p.obj("securityContext")? else {
        return Ok(None);
    };
    for key in ["privileged", "allowPrivilegeEscalation"] {
        if s.bool(key)? == Some(true) {
            let f = s.field(key);
            return Err(invalid(
                &f,
                format!(
                    "'{f}' is true; nothing runs privileged on waci: every guest is sandboxed."
                ),
            ));
        }
    }
    for key in ["runAsUser", "runAsGroup"] {
        if let Some(n) = s.num(key)?
            && (n.fract() != 0.0 || n < 0.0)
        {
            let f = s.field(key);
            return Err(invalid(
                &f,
                format!("'{f}' must be a whole number, at least 0."),
            ));
        }
    }
    s.str("seccompProfile")?;
    if let Some(caps) = s.obj("capabilities")? {
        for list in ["add", "drop"] {
            for (f, item) in caps.arr(list)? {
                if !item.is_string() {
                    return Err(invalid(&f, format!("'{f}' must be a string.")));
                }
                if list == "add" {
                    return Err(invalid(
                        &f,
                        format!(
                            "'{f}': a guest has no capabilities to add; it gets what its sandbox gives."
                        ),
                    ));
                }
            }
        }
    }
    Ok(Some(Value::Object(s.map.clone())))
}

/// `zones`: strings, kept as given.
pub(super) fn zones(root: &At<'_>) -> Res<Vec<String>> {
    let mut out = Vec::new();
    for (f, z) in root.arr("zones")? {
        match z {
            Value::String(s) => out.push(s.clone()),
            _ => return Err(invalid(&f, format!("'{f}' must be a string."))),
        }
    }
    Ok(out)
}

/// `sku` (only `Standard`, which GET always shows) and `priority` (only `Regular`, kept).
pub(super) fn sku_and_priority(props: &At<'_>) -> Res<Option<String>> {
    props.enum_of("sku", &[("Standard", ())])?;
    Ok(props
        .enum_of("priority", &[("Regular", ())])?
        .map(|()| "Regular".to_string()))
}

/// `httpGet` of a probe at `at`: a GET on a TCP port of the container's `ports`.
fn http_get(get_value: &Value, at: &str, ports: &[Port]) -> Res<HttpGet> {
    let get = At::root(get_value, at)?;
    let port_field = get.field("port");
    let port = super::parts::port(get_value, &get.path)?.port;
    if !ports
        .iter()
        .any(|d| d.port == port && d.protocol == Protocol::Tcp)
    {
        return Err(invalid(
            &port_field,
            format!(
                "'{port_field}' is {port}; a probe calls a TCP port the container declares in its 'ports'."
            ),
        ));
    }
    let path = get.str("path")?.unwrap_or("/");
    if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        let f = get.field("path");
        return Err(invalid(
            &f,
            format!("'{f}' is '{path}'; a probe path starts with '/' and has no spaces."),
        ));
    }
    let scheme = get
        .enum_of(
            "scheme",
            &[("http", HttpScheme::Http), ("https", HttpScheme::Https)],
        )?
        .unwrap_or(HttpScheme::Http);
    let mut http_headers = Vec::new();
    for (f, h) in get.arr("httpHeaders")? {
        let h = At::root(h, &f)?;
        let name = h.required_str("name")?;
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid {
            return Err(invalid(
                &h.field("name"),
                format!(
                    "'{}' is '{name}', which is not an HTTP header name.",
                    h.field("name")
                ),
            ));
        }
        let value = h.str("value")?.unwrap_or("");
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(invalid(
                &h.field("value"),
                format!("'{}' holds a control character.", h.field("value")),
            ));
        }
        http_headers.push((name.to_string(), value.to_string()));
    }
    Ok(HttpGet {
        path: path.to_string(),
        port,
        scheme,
        http_headers,
    })
}

/// `exec` of a probe at `at`: its `command`, one word per item, which exec runs in the
/// container's sandbox.
fn exec_command(exec_value: &Value, at: &str) -> Res<Vec<String>> {
    let exec = At::root(exec_value, at)?;
    let mut command = Vec::new();
    for (f, w) in exec.arr("command")? {
        match w {
            Value::String(s) if !s.is_empty() => command.push(s.clone()),
            _ => return Err(invalid(&f, format!("'{f}' must be a non-empty string."))),
        }
    }
    if command.is_empty() {
        let f = exec.field("command");
        return Err(invalid(
            &f,
            format!("'{f}' needs the command to run, e.g. [\"cat\", \"/health/ok\"]."),
        ));
    }
    Ok(command)
}
