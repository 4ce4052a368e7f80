//! The parts of a container group's body: a container (image, command, ports, env,
//! resources, mounts), its volumes, its IP address and its registry credentials. Each
//! blames the exact JSON path of the first bad field, as `mod.rs` does for the group.

use super::*;

pub(super) fn container(
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
    let liveness_probe = probe::probe(&p, "livenessProbe", &ports)?;
    let readiness_probe = probe::probe(&p, "readinessProbe", &ports)?;
    let security_context = probe::security_context(&p)?;
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
    let instance_reuse = p.bool("instanceReuse")?.unwrap_or(false);
    if init && instance_reuse {
        return Err(invalid(
            &p.field("instanceReuse"),
            "Init containers run once; 'instanceReuse' applies to a service's requests.",
        ));
    }
    Ok(Container {
        instance_reuse,
        name: name.into(),
        image: image.into(),
        command,
        ports,
        env,
        requests,
        limits,
        volume_mounts,
        liveness_probe,
        readiness_probe,
        security_context,
    })
}

pub(super) fn port(v: &Value, path: &str) -> Res<Port> {
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

pub(super) fn positive(at: &At<'_>, key: &str) -> Res<Option<f64>> {
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

pub(super) fn resources(p: &At<'_>) -> Res<(ResourceRequests, ResourceLimits)> {
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
        Some(l) => {
            let limits = ResourceLimits {
                cpu: positive(&l, "cpu")?,
                memory_gb: positive(&l, "memoryInGB")?,
            };
            // A limit below the request could never be honoured: the request is what the
            // container is guaranteed.
            if let Some(cpu) = limits.cpu.filter(|cpu| *cpu < requests.cpu) {
                return Err(invalid(
                    &l.field("cpu"),
                    format!(
                        "The CPU limit {cpu} is below the CPU request {}; a limit must be at least the request.",
                        requests.cpu
                    ),
                ));
            }
            limits
        }
        None => ResourceLimits::default(),
    };
    Ok((requests, limits))
}

pub(super) fn volumes(props: &At<'_>) -> Res<Vec<Volume>> {
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
        let kinds: Vec<&str> = ["emptyDir", "secret", "azureFile", "gitRepo"]
            .into_iter()
            .filter(|k| vol.get(k).is_some())
            .collect();
        if kinds.len() > 1 {
            return Err(invalid(
                &f,
                format!(
                    "Volume '{name}' names {}; a volume is of one kind.",
                    kinds.join(" and ")
                ),
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

pub(super) fn ip_address(
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

pub(super) fn registry_credentials(props: &At<'_>) -> Res<Vec<RegistryCredential>> {
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
