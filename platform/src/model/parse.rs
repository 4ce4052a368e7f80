//! The boundary: turns an ARM request body (already JSON) into a [`ContainerGroupSpec`], or a
//! [`FieldError`] naming the first field that is wrong and what it allows.
//!
//! ARM is case-insensitive, so property names and enum values are matched without case, a
//! port may arrive as a string, and `null` counts as absent. Unknown properties are ignored,
//! as ARM does. This module never touches the store or the runtime: image resolution is
//! passed in as a function.

use super::*;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

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

fn container(
    v: &Value,
    path: &str,
    init: bool,
    declared: &BTreeSet<&str>,
    image_ok: &dyn Fn(&str) -> Result<(), String>,
) -> Res<Container> {
    let c = At::root(v, path)?;
    let name = c.required_str("name")?;
    names::check_resource_name(name, false).map_err(|m| FieldError {
        code: "InvalidContainerName",
        field: c.field("name"),
        message: m,
    })?;
    let p = c.required_obj("properties")?;
    let image = p.required_str("image")?.trim();
    image_ok(image).map_err(|m| FieldError {
        code: "InvalidImage",
        field: p.field("image"),
        message: m,
    })?;
    let mut command = Vec::new();
    for (f, a) in p.arr("command")? {
        match a {
            Value::String(s) => command.push(s.clone()),
            _ => return Err(invalid(&f, format!("'{f}' must be a string."))),
        }
    }
    let mut ports = Vec::new();
    for (f, pv) in p.arr("ports")? {
        ports.push(port(pv, &f)?);
    }
    if init && !ports.is_empty() {
        return Err(invalid(
            &p.field("ports"),
            "Init containers cannot expose ports.",
        ));
    }
    let mut env = Vec::new();
    let env_items = p.arr("environmentVariables")?;
    if env_items.len() > MAX_ENV_VARS {
        return Err(invalid(
            &p.field("environmentVariables"),
            format!("A container can have at most {MAX_ENV_VARS} environment variables."),
        ));
    }
    for (f, ev) in env_items {
        let e = At::root(ev, &f)?;
        let name = e.required_str("name")?;
        names::check_env_name(name).map_err(|m| invalid(&e.field("name"), m))?;
        if env.iter().any(|x: &EnvVar| x.name == name) {
            return Err(invalid(
                &e.field("name"),
                format!("The environment variable '{name}' is set more than once."),
            ));
        }
        let value = e.str("value")?.map(str::to_string);
        let secure_value = e.str("secureValue")?.map(str::to_string);
        env.push(EnvVar {
            name: name.to_string(),
            value,
            secure_value,
        });
    }
    let (requests, limits) = resources(&p)?;
    let mut volume_mounts = Vec::new();
    for (f, mv) in p.arr("volumeMounts")? {
        let m = At::root(mv, &f)?;
        let name = m.required_str("name")?;
        if !declared.contains(name) {
            return Err(invalid(
                &m.field("name"),
                format!(
                    "The volume mount names volume '{name}', which is not declared in 'properties.volumes'."
                ),
            ));
        }
        let mount_path = m.required_str("mountPath")?;
        if !mount_path.starts_with('/') || mount_path.split('/').any(|s| s == "..") {
            return Err(invalid(
                &m.field("mountPath"),
                format!("The mount path '{mount_path}' must be absolute and may not contain '..'."),
            ));
        }
        if volume_mounts
            .iter()
            .any(|x: &VolumeMount| x.mount_path == mount_path)
        {
            return Err(invalid(
                &m.field("mountPath"),
                format!("The mount path '{mount_path}' is used more than once."),
            ));
        }
        let read_only = m.bool("readOnly")?.unwrap_or(false);
        volume_mounts.push(VolumeMount {
            name: name.into(),
            mount_path: mount_path.into(),
            read_only,
        });
    }
    Ok(Container {
        name: name.into(),
        image: image.into(),
        command,
        ports,
        env,
        requests,
        limits,
        volume_mounts,
    })
}

fn port(v: &Value, path: &str) -> Res<Port> {
    let p = At::root(v, path)?;
    let field = p.field("port");
    let n = p
        .num("port")?
        .ok_or_else(|| invalid(&field, format!("Required property '{field}' is missing.")))?;
    if n.fract() != 0.0 || !(1.0..=65535.0).contains(&n) {
        return Err(invalid(
            &field,
            format!("'{field}' is {n}; a port must be a whole number from 1 to 65535."),
        ));
    }
    let protocol = p
        .enum_of(
            "protocol",
            &[("TCP", Protocol::Tcp), ("UDP", Protocol::Udp)],
        )?
        .unwrap_or(Protocol::Tcp);
    Ok(Port {
        port: n as u16,
        protocol,
    })
}

fn positive(at: &At<'_>, key: &str) -> Res<Option<f64>> {
    match at.num(key)? {
        Some(n) if !(n > 0.0) || !n.is_finite() => {
            let f = at.field(key);
            Err(invalid(
                &f,
                format!("'{f}' is {n}; it must be greater than 0."),
            ))
        }
        other => Ok(other),
    }
}

fn resources(p: &At<'_>) -> Res<(ResourceRequests, ResourceLimits)> {
    let r = p.obj("resources")?;
    let requests = match r.as_ref().map(|r| r.obj("requests")).transpose()?.flatten() {
        Some(q) => ResourceRequests {
            cpu: positive(&q, "cpu")?.unwrap_or(DEFAULT_CPU),
            memory_gb: positive(&q, "memoryInGB")?.unwrap_or(DEFAULT_MEMORY_GB),
        },
        // Init containers get the same defaults: they are capped like the others.
        None => ResourceRequests {
            cpu: DEFAULT_CPU,
            memory_gb: DEFAULT_MEMORY_GB,
        },
    };
    let limits = match r.as_ref().map(|r| r.obj("limits")).transpose()?.flatten() {
        Some(l) => ResourceLimits {
            cpu: positive(&l, "cpu")?,
            memory_gb: positive(&l, "memoryInGB")?,
        },
        None => ResourceLimits::default(),
    };
    Ok((requests, limits))
}

fn volumes(props: &At<'_>) -> Res<Vec<Volume>> {
    let items = props.arr("volumes")?;
    if items.len() > MAX_VOLUMES {
        return Err(invalid(
            "properties.volumes",
            format!("A container group can hold at most {MAX_VOLUMES} volumes."),
        ));
    }
    let mut out: Vec<Volume> = Vec::new();
    for (f, v) in items {
        let vol = At::root(v, &f)?;
        let name = vol.required_str("name")?;
        names::check_volume_name(name).map_err(|m| invalid(&vol.field("name"), m))?;
        if out.iter().any(|x| x.name == name) {
            return Err(invalid(
                &vol.field("name"),
                format!("The volume name '{name}' is used more than once."),
            ));
        }
        let source = if vol.get("emptyDir").is_some() {
            VolumeSource::EmptyDir
        } else if let Some(secret) = vol.obj("secret")? {
            let mut files = BTreeMap::new();
            for (file, content) in secret.map {
                let field = secret.field(file);
                if file.is_empty() || file.contains('/') || file == "." || file == ".." {
                    return Err(invalid(
                        &field,
                        format!("The secret file name '{file}' must be a plain file name."),
                    ));
                }
                let Value::String(b64) = content else {
                    return Err(invalid(
                        &field,
                        format!("'{field}' must be a base64 string."),
                    ));
                };
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| invalid(&field, format!("'{field}' is not valid base64.")))?;
                files.insert(file.clone(), b64.trim().to_string());
            }
            VolumeSource::Secret(files)
        } else if vol.get("azureFile").is_some() || vol.get("gitRepo").is_some() {
            return Err(invalid(
                &f,
                format!(
                    "Volume '{name}': only 'emptyDir' and 'secret' volumes are supported; 'azureFile' and 'gitRepo' are not."
                ),
            ));
        } else {
            return Err(invalid(
                &f,
                format!("Volume '{name}' must say its kind: 'emptyDir' or 'secret'."),
            ));
        };
        out.push(Volume {
            name: name.into(),
            source,
        });
    }
    Ok(out)
}

fn ip_address(
    props: &At<'_>,
    container_ports: &BTreeSet<(u16, &str)>,
) -> Res<Option<IpAddressSpec>> {
    let Some(ip) = props.obj("ipAddress")? else {
        return Ok(None);
    };
    let kind = ip
        .enum_of(
            "type",
            &[
                ("Public", IpAddressType::Public),
                ("Private", IpAddressType::Private),
            ],
        )?
        .unwrap_or(IpAddressType::Public);
    let mut ports = Vec::new();
    for (f, pv) in ip.arr("ports")? {
        let p = port(pv, &f)?;
        if !container_ports.contains(&(p.port, p.protocol.as_str())) {
            return Err(invalid(
                &format!("{f}.port"),
                format!(
                    "Port {} is in 'ipAddress.ports' but no container declares it.",
                    p.port
                ),
            ));
        }
        if ports.contains(&p) {
            return Err(invalid(
                &format!("{f}.port"),
                format!("Port {} is listed twice in 'ipAddress.ports'.", p.port),
            ));
        }
        ports.push(p);
    }
    if ports.is_empty() {
        return Err(invalid(
            "properties.ipAddress.ports",
            "'properties.ipAddress.ports' must list at least one port.",
        ));
    }
    if ports.len() > MAX_PORTS_PER_IP {
        return Err(invalid(
            "properties.ipAddress.ports",
            format!("An IP address can expose at most {MAX_PORTS_PER_IP} ports."),
        ));
    }
    let dns_name_label = ip.str("dnsNameLabel")?.map(str::to_string);
    if let Some(label) = &dns_name_label {
        names::check_dns_label(label).map_err(|m| FieldError {
            code: "InvalidDnsNameLabel",
            field: "properties.ipAddress.dnsNameLabel".into(),
            message: m,
        })?;
    }
    let options: Vec<(&str, DnsScope)> = DnsScope::ALL.iter().map(|s| (s.as_str(), *s)).collect();
    let scope = ip
        .enum_of("autoGeneratedDomainNameLabelScope", &options)?
        .unwrap_or(DnsScope::Unsecure);
    Ok(Some(IpAddressSpec {
        kind,
        ports,
        dns_name_label,
        scope,
    }))
}

fn registry_credentials(props: &At<'_>) -> Res<Vec<RegistryCredential>> {
    let mut out = Vec::new();
    for (f, v) in props.arr("imageRegistryCredentials")? {
        let c = At::root(v, &f)?;
        out.push(RegistryCredential {
            server: c.required_str("server")?.to_string(),
            username: c.str("username")?.map(str::to_string),
            password: c.str("password")?.map(str::to_string),
        });
    }
    Ok(out)
}

/// The fuzz target's body (`fuzz/fuzz_targets/parse_group.rs`): the first line of `data`
/// is a group name, the rest a PUT body. Everything the API does with such a request before
/// it touches the store runs here; any panic is a bug. Checks two properties on the way:
/// canonical paths are a fixed point, and a parsed spec always passes its own name rules.
pub fn fuzz_one(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (name, body) = text.split_once('\n').unwrap_or((&text, ""));
    let canonical = crate::api::canonical_path(name);
    assert_eq!(
        crate::api::canonical_path(&canonical),
        canonical,
        "canonical_path is idempotent"
    );
    let _ = names::check_resource_group_name(name);
    let _ = names::check_dns_label(name);
    let _ = names::check_env_name(name);
    let _ = names::check_volume_name(name);
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return;
    };
    let _ = tags_of(&value);
    let limits = Limits {
        max_cpu: 4.0,
        max_memory_gb: 16.0,
    };
    let image_ok = |i: &str| crate::images::check(i).map_err(|e| e.to_string());
    if let Ok(spec) = container_group(&value, name, "local", &limits, &image_ok) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fuzz_one_takes_the_seed_corpus() {
        let group = json!({"location": "local", "properties": {"containers": [{"name": "a",
            "properties": {"image": "waci/hello-http", "resources": {"requests": {"cpu": 1, "memoryInGB": 1}}}}]}});
        let inputs: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"web\n{}".to_vec(),
            format!("web\n{group}").into_bytes(),
            b"/subscriptions//resourcegroups/x/PROVIDERS/a//b\n[1,2]".to_vec(),
            b"\xff\xfe\n{\"properties\": {\"containers\": [null]}}".to_vec(),
            format!("web\n{}", "[".repeat(200)).into_bytes(),
        ];
        for i in inputs {
            fuzz_one(&i);
        }
        for example in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples"))
            .unwrap()
            .flatten()
        {
            let text = std::fs::read_to_string(example.path()).unwrap();
            fuzz_one(format!("web\n{text}").as_bytes());
        }
    }

    const LIMITS: Limits = Limits {
        max_cpu: 4.0,
        max_memory_gb: 16.0,
    };

    fn parse(body: Value) -> Res<ContainerGroupSpec> {
        container_group(&body, "web", "local", &LIMITS, &|i| {
            if i.starts_with("waci/") {
                Ok(())
            } else {
                Err(format!("unknown image {i}"))
            }
        })
    }

    fn base() -> Value {
        json!({"location": "local", "properties": {"containers": [{"name": "web", "properties": {
            "image": "waci/hello-http", "ports": [{"port": 80}],
            "resources": {"requests": {"cpu": 1, "memoryInGB": 0.5}}}}],
            "ipAddress": {"type": "Public", "ports": [{"protocol": "TCP", "port": 80}]}}})
    }

    /// Applies `edit` to a valid body and checks which field (if any) is blamed.
    fn check(edit: impl FnOnce(&mut Value), blamed: Option<&str>) {
        let mut body = base();
        edit(&mut body);
        match (parse(body), blamed) {
            (Ok(_), None) => {}
            (Err(e), Some(field)) => assert_eq!(e.field, field, "{}", e.message),
            (got, want) => panic!("got {got:?}, wanted error on {want:?}"),
        }
    }

    #[test]
    fn fields_are_checked_and_blamed() {
        check(|_| {}, None);
        check(
            |b| b["properties"]["containers"][0]["properties"]["ports"][0]["port"] = json!(0),
            Some("properties.containers[0].properties.ports[0].port"),
        );
        check(
            |b| b["properties"]["containers"][0]["properties"]["ports"][0]["port"] = json!(70000),
            Some("properties.containers[0].properties.ports[0].port"),
        );
        check(
            |b| b["properties"]["containers"][0]["properties"]["ports"][0]["port"] = json!("80"),
            None,
        );
        check(
            |b| {
                b["properties"]["containers"][0]["properties"]["ports"] =
                    json!([{"port": 80}, {"port": 80}])
            },
            Some("properties.containers[0].properties.ports[1].port"),
        );
        check(
            |b| {
                b["properties"]["containers"][0]["properties"]["resources"]["requests"]["memoryInGB"] =
                    json!(-1)
            },
            Some("properties.containers[0].properties.resources.requests.memoryInGB"),
        );
        check(
            |b| {
                b["properties"]["containers"][0]["properties"]["resources"]["requests"]["cpu"] =
                    json!(8)
            },
            Some("properties.containers"),
        );
        check(
            |b| b["properties"]["containers"][0]["properties"]["image"] = json!("nope"),
            Some("properties.containers[0].properties.image"),
        );
        check(
            |b| b["properties"]["containers"][0]["name"] = json!("Web"),
            Some("properties.containers[0].name"),
        );
        check(
            |b| {
                b["properties"]["containers"][0]["properties"]["volumeMounts"] =
                    json!([{"name": "data", "mountPath": "/d"}])
            },
            Some("properties.containers[0].properties.volumeMounts[0].name"),
        );
        check(
            |b| {
                b["properties"]["containers"][0]["properties"]["environmentVariables"] =
                    json!([{"name": "1BAD"}])
            },
            Some("properties.containers[0].properties.environmentVariables[0].name"),
        );
        check(
            |b| b["properties"]["ipAddress"]["ports"] = json!([{"port": 81}]),
            Some("properties.ipAddress.ports[0].port"),
        );
        check(
            |b| b["properties"]["ipAddress"]["dnsNameLabel"] = json!("ab"),
            Some("properties.ipAddress.dnsNameLabel"),
        );
        check(
            |b| b["properties"]["restartPolicy"] = json!("Sometimes"),
            Some("properties.restartPolicy"),
        );
        check(
            |b| b["properties"]["containers"] = json!([]),
            Some("properties.containers"),
        );
        check(|b| b["location"] = json!("westeurope"), Some("location"));
    }

    #[test]
    fn arm_is_case_insensitive() {
        let body = json!({"properties": {"RestartPolicy": "never", "containers": [{"name": "job", "properties": {
            "image": "waci/hello-cli", "resources": {"requests": {"CPU": "0.5", "memoryInGb": 0.25}},
            "ports": [{"port": "80", "protocol": "tcp"}]}}],
            "ipaddress": {"type": "public", "ports": [{"port": 80, "protocol": "Tcp"}], "dnsNameLabel": "myapp",
                          "autoGeneratedDomainNameLabelScope": "tenantreuse"}}});
        let spec = parse(body).unwrap();
        assert_eq!(spec.restart_policy, RestartPolicy::Never);
        assert_eq!(spec.containers[0].requests.memory_gb, 0.25);
        assert_eq!(spec.containers[0].requests.cpu, 0.5);
        assert_eq!(spec.ip_address.unwrap().scope, DnsScope::TenantReuse);
    }
}
