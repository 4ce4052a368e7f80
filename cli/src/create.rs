//! `waci container create`: az's flags (or an ACI YAML file) turned into the PUT body, and the
//! wait until the group is Running or has ended.
//!
//! This module builds request bodies; it leaves validation to the API, which names the bad
//! field, so the CLI and the API can never disagree about what is allowed.

use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const AFTER_HELP: &str = "Examples:
  Create the quickstart: a web page on port 80 with a public IP and a DNS name.
    waci container create -g demo -n hello --image waci/hello-http --ports 80 --dns-name-label hello-demo

  Run a command once, with environment variables, and keep its result.
    waci container create -g jobs -n job --image waci/hello-cli --restart-policy Never \\
      --command-line \"hello-cli --lines 3\" -e GREETING=hi --secure-environment-variables KEY=s3cret

  Run a local component (a relative path is made absolute before it is sent).
    waci container create -g demo -n mine --image ./target/my-app.wasm --ports 8080 --ip-address Public

  Run a component from a private registry (pushed with `waci image push`).
    waci container create -g demo -n app --image registry.example.com/team/app:v1 --ports 80 \\
      --registry-username me --registry-password \"$PASSWORD\"

  Create a group from a YAML file in ACI's format (see examples/ and `waci container export`).
    waci container create -g demo --file examples/multi-container.yaml";

#[derive(Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct CreateArgs {
    /// Name of the resource group
    #[arg(short = 'g', long)]
    pub resource_group: String,
    /// Name of the container group (and of its one container) [required without --file]
    #[arg(short, long, required_unless_present = "file")]
    pub name: Option<String>,
    /// Image: waci/<name> (built in) or a path to a .wasm component [required without --file]
    #[arg(long, required_unless_present = "file")]
    pub image: Option<String>,
    /// The command line to run, split as a shell would ("hello-cli --lines 3")
    #[arg(long)]
    pub command_line: Option<String>,
    /// Ports to open [default: 80]
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    pub ports: Vec<u16>,
    /// Network protocol of the ports
    #[arg(long, value_enum, ignore_case = true, default_value_t = Protocol::Tcp)]
    pub protocol: Protocol,
    /// Give the group an IP address, with the ports open on it
    #[arg(long, value_enum, ignore_case = true)]
    pub ip_address: Option<IpAddressType>,
    /// DNS name label; the group gets the FQDN <label>.<location>.<zone> (implies --ip-address Public)
    #[arg(long)]
    pub dns_name_label: Option<String>,
    /// CPU cores the container requests
    #[arg(long, default_value_t = 1.0)]
    pub cpu: f64,
    /// Memory the container requests, in GB
    #[arg(long, default_value_t = 1.5)]
    pub memory: f64,
    /// Serve the container's requests with warm instances kept between requests (module
    /// state persists), instead of a fresh instance per request
    #[arg(long)]
    pub instance_reuse: bool,
    /// What happens when the container exits
    #[arg(long, value_enum, ignore_case = true, default_value_t = RestartPolicy::Always)]
    pub restart_policy: RestartPolicy,
    /// Environment variables, space-separated KEY=VALUE
    #[arg(short = 'e', long, num_args = 1.., value_parser = key_value)]
    pub environment_variables: Vec<(String, String)>,
    /// Secure environment variables (never shown by the API), space-separated KEY=VALUE
    #[arg(long, num_args = 1.., value_parser = key_value)]
    pub secure_environment_variables: Vec<(String, String)>,
    /// Location [default: the platform's]
    #[arg(short, long)]
    pub location: Option<String>,
    /// A YAML file in ACI's format (apiVersion, location, name, properties, tags, type)
    #[arg(
        short,
        long,
        conflicts_with_all = ["image", "command_line", "ports", "ip_address", "dns_name_label",
            "environment_variables", "secure_environment_variables", "instance_reuse"]
    )]
    pub file: Option<PathBuf>,
    /// Do not wait for the group to be Running; print nothing
    #[arg(long)]
    pub no_wait: bool,
    /// The registry server of a private image (default: the image's own registry)
    #[arg(long, requires = "registry_username")]
    pub registry_login_server: Option<String>,
    /// Username for the image's registry
    #[arg(long, requires = "registry_password")]
    pub registry_username: Option<String>,
    /// Password for the image's registry; never shown again by any command
    #[arg(long, requires = "registry_username")]
    pub registry_password: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Protocol {
    #[value(name = "TCP")]
    Tcp,
    #[value(name = "UDP")]
    Udp,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum IpAddressType {
    #[value(name = "Public")]
    Public,
    #[value(name = "Private")]
    Private,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RestartPolicy {
    #[value(name = "Always")]
    Always,
    #[value(name = "OnFailure")]
    OnFailure,
    #[value(name = "Never")]
    Never,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("'{s}' is not KEY=VALUE"))
}

/// ACI's wire names of the enums.
fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    }
}

/// The name of the group and the PUT body, from the flags.
pub fn body_from_flags(a: &CreateArgs) -> anyhow::Result<(String, Value)> {
    // clap requires both without --file.
    let name = a.name.clone().unwrap_or_default();
    let image = a.image.clone().unwrap_or_default();
    let command = match &a.command_line {
        None => vec![],
        Some(line) => shlex::split(line).ok_or_else(|| {
            anyhow::anyhow!("--command-line {line:?} has an unbalanced quote or escape")
        })?,
    };
    let ports: Vec<Value> = if a.ports.is_empty() {
        vec![80]
    } else {
        a.ports.clone()
    }
    .into_iter()
    .map(|p| json!({"protocol": protocol_name(a.protocol), "port": p}))
    .collect();
    let env: Vec<Value> = a
        .environment_variables
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .chain(
            a.secure_environment_variables
                .iter()
                .map(|(k, v)| json!({"name": k, "secureValue": v})),
        )
        .collect();
    let mut container = json!({
        "image": image,
        "ports": ports,
        "resources": {"requests": {"cpu": a.cpu, "memoryInGB": a.memory}},
    });
    if !command.is_empty() {
        container["command"] = json!(command);
    }
    if !env.is_empty() {
        container["environmentVariables"] = json!(env);
    }
    if a.instance_reuse {
        container["instanceReuse"] = json!(true);
    }
    let restart_policy = match a.restart_policy {
        RestartPolicy::Always => "Always",
        RestartPolicy::OnFailure => "OnFailure",
        RestartPolicy::Never => "Never",
    };
    let mut props = json!({
        "osType": "Linux",
        "restartPolicy": restart_policy,
        "containers": [{"name": name, "properties": container}],
    });
    let ip_type = match (a.ip_address, &a.dns_name_label) {
        (Some(IpAddressType::Private), _) => Some("Private"),
        (Some(IpAddressType::Public), _) | (None, Some(_)) => Some("Public"),
        (None, None) => None,
    };
    if let Some(t) = ip_type {
        let mut ip = json!({"type": t, "ports": ports});
        if let Some(label) = &a.dns_name_label {
            ip["dnsNameLabel"] = json!(label);
        }
        props["ipAddress"] = ip;
    }
    if let (Some(username), Some(password)) = (&a.registry_username, &a.registry_password) {
        let server = match &a.registry_login_server {
            Some(s) => s.clone(),
            None => registry_of(&image).ok_or_else(|| {
                anyhow::anyhow!("--image {image:?} names no registry; give --registry-login-server")
            })?,
        };
        props["imageRegistryCredentials"] =
            json!([{"server": server, "username": username, "password": password}]);
    }
    let mut body = json!({"properties": props});
    if let Some(l) = &a.location {
        body["location"] = json!(l);
    }
    Ok((name, body))
}

/// The registry part of an image reference (`localhost:5000/app:v1` → `localhost:5000`).
fn registry_of(image: &str) -> Option<String> {
    if waci_platform::images::is_registry_reference(image) {
        waci_platform::registry::parse(image)
            .ok()
            .map(|r| r.registry().to_string())
    } else {
        None
    }
}

/// Makes every relative image path of a body absolute, against `cwd`: the platform runs
/// elsewhere and would resolve it against its own directory.
pub fn absolute_images(body: &mut Value, cwd: &Path) {
    let props = &mut body["properties"];
    for list in ["containers", "initContainers"] {
        let Some(containers) = props.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in containers {
            let image = &mut c["properties"]["image"];
            if let Some(s) = image.as_str()
                && waci_platform::images::is_file_reference(s)
                && !s.starts_with('/')
            {
                // `components` drops the `.` of `./app.wasm`.
                let abs: PathBuf = cwd.join(s).components().collect();
                *image = json!(abs.to_string_lossy());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        create: CreateArgs,
    }

    fn check(args: &str, expected: Value) {
        let argv = std::iter::once("create".to_string()).chain(shlex::split(args).unwrap());
        let t = T::try_parse_from(argv).unwrap_or_else(|e| panic!("{args}: {e}"));
        let (_, body) = body_from_flags(&t.create).unwrap();
        assert_eq!(body, expected, "{args}");
    }

    #[test]
    fn flags_become_acis_body() {
        check(
            "-g demo -n hello --image waci/hello-http --dns-name-label hello-demo",
            json!({"properties": {"osType": "Linux", "restartPolicy": "Always",
                "containers": [{"name": "hello", "properties": {"image": "waci/hello-http",
                    "ports": [{"protocol": "TCP", "port": 80}],
                    "resources": {"requests": {"cpu": 1.0, "memoryInGB": 1.5}}}}],
                "ipAddress": {"type": "Public", "ports": [{"protocol": "TCP", "port": 80}], "dnsNameLabel": "hello-demo"}}}),
        );
        check(
            "-g j -n job --image waci/hello-cli --restart-policy never --command-line 'hello-cli --lines 3' \
             -e A=1 B=x=y --secure-environment-variables S=s --cpu 0.5 --memory 0.25 --ports 81 82 --protocol udp -l local",
            json!({"location": "local", "properties": {"osType": "Linux", "restartPolicy": "Never",
                "containers": [{"name": "job", "properties": {"image": "waci/hello-cli",
                    "command": ["hello-cli", "--lines", "3"],
                    "ports": [{"protocol": "UDP", "port": 81}, {"protocol": "UDP", "port": 82}],
                    "environmentVariables": [{"name": "A", "value": "1"}, {"name": "B", "value": "x=y"},
                        {"name": "S", "secureValue": "s"}],
                    "resources": {"requests": {"cpu": 0.5, "memoryInGB": 0.25}}}}]}}),
        );
    }

    #[test]
    fn relative_image_paths_become_absolute() {
        let mut body = json!({"properties": {
            "containers": [{"properties": {"image": "./app.wasm"}}, {"properties": {"image": "waci/hello-cli"}}],
            "initContainers": [{"properties": {"image": "/abs/init.wasm"}}]}});
        absolute_images(&mut body, Path::new("/nowhere/here"));
        assert_eq!(
            body["properties"]["containers"][0]["properties"]["image"],
            "/nowhere/here/app.wasm"
        );
        assert_eq!(
            body["properties"]["containers"][1]["properties"]["image"],
            "waci/hello-cli"
        );
        assert_eq!(
            body["properties"]["initContainers"][0]["properties"]["image"],
            "/abs/init.wasm"
        );
    }
}
