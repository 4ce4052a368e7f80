//! The boundary: turns an ARM request body (already JSON) into a [`ContainerGroupSpec`], or a
//! [`FieldError`] naming the first field that is wrong and what it allows.
//!
//! ARM is case-insensitive, so property names and enum values are matched without case, a
//! port may arrive as a string, and `null` counts as absent. A property that is not in
//! ACI's definitions, or that waci refuses, is a 400 naming it (`properties.rs`, the one
//! table of what is honoured, refused or a no-op). This module never touches the store or
//! the runtime: image resolution is passed in as a function.

use super::*;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

mod cache;
mod exec;
mod parts;
mod probe;
pub mod properties;
#[cfg(test)]
mod tests;

pub use cache::{ImageToCache, image_to_cache};
pub use exec::{ExecRequest, TerminalSize, exec_request};
use parts::*;

/// ACI's limits per group (ACI-REFERENCE.md, "Rules and limits").
pub const MAX_CONTAINERS: usize = 60;
pub const MAX_VOLUMES: usize = 20;
pub const MAX_PORTS_PER_IP: usize = 5;
/// Environment variables per container: ACI publishes no limit; a bound keeps a request
/// (and the sandbox's start-up) small.
pub const MAX_ENV_VARS: usize = 100;
/// ACI's defaults when `resources.requests` is left out (what `az container create` sends).
pub const DEFAULT_CPU: f64 = 1.0;
pub const DEFAULT_MEMORY_GB: f64 = 1.5;

/// Per-group maxima the platform enforces; configurable in `waci serve`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_cpu: f64,
    pub max_memory_gb: f64,
}

/// A bad field: `field` is its JSON path (`properties.containers[0].properties.image`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub code: &'static str,
    pub field: String,
    pub message: String,
}

type Res<T> = Result<T, FieldError>;

fn invalid(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        code: "InvalidRequestContent",
        field: field.into(),
        message: message.into(),
    }
}

/// Case-insensitive property lookup; `null` is absent.
pub fn get<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, v)| k.eq_ignore_ascii_case(key) && !v.is_null())
        .map(|(_, v)| v)
}

struct At<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> At<'a> {
    fn root(v: &'a Value, path: &str) -> Res<At<'a>> {
        match v.as_object() {
            Some(map) => Ok(At {
                map,
                path: path.into(),
            }),
            None => Err(invalid(path, format!("'{path}' must be a JSON object."))),
        }
    }
    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.into()
        } else {
            format!("{}.{key}", self.path)
        }
    }
    fn get(&self, key: &str) -> Option<&'a Value> {
        get(self.map, key)
    }
    fn obj(&self, key: &str) -> Res<Option<At<'a>>> {
        self.get(key)
            .map(|v| At::root(v, &self.field(key)))
            .transpose()
    }
    fn required_obj(&self, key: &str) -> Res<At<'a>> {
        self.obj(key)?.ok_or_else(|| {
            invalid(
                &self.field(key),
                format!("Required property '{}' is missing.", self.field(key)),
            )
        })
    }
    fn str(&self, key: &str) -> Res<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(
                &self.field(key),
                format!("'{}' must be a string.", self.field(key)),
            )),
        }
    }
    fn required_str(&self, key: &str) -> Res<&'a str> {
        self.str(key)?.ok_or_else(|| {
            invalid(
                &self.field(key),
                format!("Required property '{}' is missing.", self.field(key)),
            )
        })
    }
    fn arr(&self, key: &str) -> Res<Vec<(String, &'a Value)>> {
        match self.get(key) {
            None => Ok(vec![]),
            Some(Value::Array(items)) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{}[{i}]", self.field(key)), v))
                .collect()),
            Some(_) => Err(invalid(
                &self.field(key),
                format!("'{}' must be an array.", self.field(key)),
            )),
        }
    }
    fn bool(&self, key: &str) -> Res<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(invalid(
                &self.field(key),
                format!("'{}' must be true or false.", self.field(key)),
            )),
        }
    }
    /// A number, or a string holding one (ARM clients send both).
    fn num(&self, key: &str) -> Res<Option<f64>> {
        let field = self.field(key);
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .map(Some)
                .ok_or_else(|| invalid(&field, format!("'{field}' must be a number."))),
            Some(Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .map(Some)
                .map_err(|_| invalid(&field, format!("'{field}' must be a number, not '{s}'."))),
            Some(_) => Err(invalid(&field, format!("'{field}' must be a number."))),
        }
    }
    fn enum_of<T: Copy>(&self, key: &str, options: &[(&str, T)]) -> Res<Option<T>> {
        let Some(s) = self.str(key)? else {
            return Ok(None);
        };
        options
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|(_, v)| Some(*v))
            .ok_or_else(|| {
                let allowed: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                invalid(
                    &self.field(key),
                    format!(
                        "'{}' is '{s}'; allowed values are: {}.",
                        self.field(key),
                        allowed.join(", ")
                    ),
                )
            })
    }
}

/// Parses a PUT body for container group `name`. `image_ok` says whether an image reference
/// resolves (a built-in, an existing file, ...).
pub fn container_group(
    body: &Value,
    name: &str,
    location: &str,
    limits: &Limits,
    image_ok: &dyn Fn(&str) -> Result<(), String>,
) -> Res<ContainerGroupSpec> {
    names::check_resource_name(name, true).map_err(|m| FieldError {
        code: "InvalidResourceName",
        field: "name".into(),
        message: m,
    })?;
    properties::check(body)?;
    let root = At::root(body, "")?;
    let loc = root.str("location")?.unwrap_or(location);
    if !loc.eq_ignore_ascii_case(location) {
        return Err(FieldError {
            code: "LocationNotAvailableForResourceType",
            field: "location".into(),
            message: format!(
                "The location '{loc}' is not available. This platform serves location '{location}'."
            ),
        });
    }
    let tags = tags(&root)?;
    let props = root.required_obj("properties")?;
    let os_type = match props.str("osType")? {
        None => "Linux".to_string(),
        Some(s) if s.eq_ignore_ascii_case("linux") => "Linux".to_string(),
        Some(s) => {
            return Err(invalid(
                "properties.osType",
                format!(
                    "'properties.osType' is '{s}'; waci runs only 'Linux' (WebAssembly) container groups."
                ),
            ));
        }
    };
    let restart_policy = props
        .enum_of(
            "restartPolicy",
            &[
                ("Always", RestartPolicy::Always),
                ("OnFailure", RestartPolicy::OnFailure),
                ("Never", RestartPolicy::Never),
            ],
        )?
        .unwrap_or(RestartPolicy::Always);

    let volumes = volumes(&props)?;
    let declared: BTreeSet<&str> = volumes.iter().map(|v| v.name.as_str()).collect();
    let container_items = props.arr("containers")?;
    if container_items.is_empty() {
        return Err(invalid(
            "properties.containers",
            "'properties.containers' must hold at least one container.",
        ));
    }
    if container_items.len() > MAX_CONTAINERS {
        return Err(FieldError {
            code: "ContainerGroupContainerCountExceeded",
            field: "properties.containers".into(),
            message: format!(
                "A container group can hold at most {MAX_CONTAINERS} containers; this one has {}.",
                container_items.len()
            ),
        });
    }
    let mut containers = Vec::new();
    for (path, v) in &container_items {
        containers.push(container(v, path, false, &declared, image_ok)?);
    }
    let mut init_containers = Vec::new();
    for (path, v) in &props.arr("initContainers")? {
        init_containers.push(container(v, path, true, &declared, image_ok)?);
    }
    let mut seen = BTreeSet::new();
    for (i, c) in containers.iter().chain(&init_containers).enumerate() {
        if !seen.insert(c.name.as_str()) {
            return Err(FieldError {
                code: "DuplicateContainerName",
                field: format!("properties.containers[{i}].name"),
                message: format!(
                    "The container name '{}' is used more than once in the group.",
                    c.name
                ),
            });
        }
    }
    let mut ports = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        for (j, p) in c.ports.iter().enumerate() {
            if !ports.insert((p.port, p.protocol.as_str())) {
                return Err(invalid(
                    &format!("properties.containers[{i}].properties.ports[{j}].port"),
                    format!(
                        "Port {} is declared more than once in the group; each port may be used by one container.",
                        p.port
                    ),
                ));
            }
        }
    }
    let cpu: f64 = containers.iter().map(|c| c.requests.cpu).sum();
    let memory: f64 = containers.iter().map(|c| c.requests.memory_gb).sum();
    if cpu > limits.max_cpu {
        return Err(invalid(
            "properties.containers",
            format!(
                "The containers request {cpu} CPUs in all; a group may have at most {}.",
                limits.max_cpu
            ),
        ));
    }
    if memory > limits.max_memory_gb {
        return Err(invalid(
            "properties.containers",
            format!(
                "The containers request {memory} GB of memory in all; a group may have at most {} GB.",
                limits.max_memory_gb
            ),
        ));
    }
    let ip_address = ip_address(&props, &ports)?;
    let registry_credentials = registry_credentials(&props)?;
    let zones = probe::zones(&root)?;
    let priority = probe::sku_and_priority(&props)?;
    Ok(ContainerGroupSpec {
        location: location.to_string(),
        tags,
        os_type,
        restart_policy,
        containers,
        init_containers,
        volumes,
        registry_credentials,
        ip_address,
        zones,
        priority,
    })
}

/// `tags`: an object of strings. Used by PUT and PATCH.
pub fn tags_of(body: &Value) -> Res<BTreeMap<String, String>> {
    tags(&At::root(body, "")?)
}

fn tags(root: &At<'_>) -> Res<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if let Some(t) = root.obj("tags")? {
        for (k, v) in t.map {
            match v {
                Value::String(s) => {
                    out.insert(k.clone(), s.clone());
                }
                _ => {
                    return Err(invalid(
                        &format!("tags.{k}"),
                        format!("Tag '{k}' must have a string value."),
                    ));
                }
            }
        }
    }
    Ok(out)
}
