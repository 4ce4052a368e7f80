//! Every property of ACI's 2025-09-01 `ContainerGroup`, `Container`, `Volume` and `IpAddress`
//! definitions (and those they contain), with waci's one extension (`instanceReuse`), and
//! what waci does with each: honours it, refuses it
//! with a 400 saying why, accepts it as a documented no-op that GET returns, takes it and never
//! returns it (secrets), or ignores it as read-only (what a GET→PUT round trip carries back).
//!
//! This list is the one place that says so: the parser refuses what it marks refused and
//! every property it does not list (`check`), the README's table is made from it (a unit test
//! compares them), and the end-to-end test `tests/tests/properties.rs` PUTs each example and
//! reads the group back.

use super::{FieldError, Res};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// What waci does with a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Treatment {
    /// Does what ACI does (or what DESIGN.md says instead), and GET returns it.
    Honoured,
    /// Taken and used, never returned (`secureValue`, passwords, secret volume files).
    WriteOnly,
    /// Accepted, changes nothing, and GET returns it as given.
    NoOp,
    /// The platform's own: accepted on PUT (a GET body sent back) and ignored.
    ReadOnly,
    /// Answered with 400 naming the property and why.
    Refused(&'static str),
}

impl Treatment {
    /// The README's word for it.
    pub fn word(self) -> &'static str {
        match self {
            Treatment::Honoured => "honoured",
            Treatment::WriteOnly => "honoured, never returned",
            Treatment::NoOp => "no-op, returned",
            Treatment::ReadOnly => "read-only, ignored on PUT",
            Treatment::Refused(_) => "refused",
        }
    }
}

/// One property: its JSON path in a PUT body (`[]` for any item of an array), what waci does
/// with it, a note for the README, and an example value a test can PUT (at the first item of
/// each array) when the property can be tried on its own.
#[derive(Debug, Clone)]
pub struct Property {
    pub path: String,
    pub treatment: Treatment,
    pub note: &'static str,
    pub example: Option<Value>,
}

use Treatment::*;

const NO_IDENTITY: &str = "managed identities do not exist on waci; give a guest the credentials it needs as secure environment variables or a secret volume";
const INIT_NO_PORTS: &str = "init containers cannot expose ports";

struct Table(Vec<Property>);

impl Table {
    fn add(
        &mut self,
        path: String,
        treatment: Treatment,
        note: &'static str,
        example: Option<Value>,
    ) {
        self.0.push(Property {
            path,
            treatment,
            note,
            example,
        });
    }
    fn h(&mut self, path: String, example: Option<Value>) {
        self.add(path, Honoured, "", example);
    }

    fn env(&mut self, p: &str) {
        self.h(
            format!("{p}.environmentVariables"),
            Some(json!([{"name": "GREETING", "value": "hello"}])),
        );
        self.h(format!("{p}.environmentVariables[].name"), None);
        self.h(
            format!("{p}.environmentVariables[].value"),
            Some(json!("hi")),
        );
        self.add(
            format!("{p}.environmentVariables[].secureValue"),
            WriteOnly,
            "reaches the guest; comes back `null`",
            Some(json!("s3cret-value")),
        );
    }

    fn mounts(&mut self, p: &str) {
        self.h(
            format!("{p}.volumeMounts"),
            Some(json!([{"name": "data", "mountPath": "/mnt/data"}])),
        );
        self.h(format!("{p}.volumeMounts[].name"), None);
        self.h(format!("{p}.volumeMounts[].mountPath"), Some(json!("/srv")));
        self.h(format!("{p}.volumeMounts[].readOnly"), Some(json!(true)));
    }

    fn resources(&mut self, p: &str, note: &'static str) {
        let r = format!("{p}.resources");
        self.add(
            r.clone(),
            Honoured,
            note,
            Some(json!({"requests": {"cpu": 0.5, "memoryInGB": 0.25}})),
        );
        self.h(format!("{r}.requests"), None);
        self.h(format!("{r}.requests.cpu"), Some(json!(0.5)));
        self.h(format!("{r}.requests.memoryInGB"), Some(json!(0.25)));
        let gpu = "WebAssembly guests have no GPU";
        self.add(
            format!("{r}.requests.gpu"),
            Refused(gpu),
            "",
            Some(json!({"count": 1, "sku": "K80"})),
        );
        self.h(
            format!("{r}.limits"),
            Some(json!({"cpu": 2, "memoryInGB": 1})),
        );
        self.add(
            format!("{r}.limits.cpu"),
            Honoured,
            "a cap: throttled, never killed",
            Some(json!(2)),
        );
        self.add(
            format!("{r}.limits.memoryInGB"),
            Honoured,
            "the guest's memory cap",
            Some(json!(1)),
        );
        self.add(
            format!("{r}.limits.gpu"),
            Refused(gpu),
            "",
            Some(json!({"count": 1, "sku": "K80"})),
        );
    }

    fn security_context(&mut self, p: &str) {
        let s = format!("{p}.securityContext");
        let note = "a guest has no users, capabilities or system calls to restrict";
        self.add(
            s.clone(),
            NoOp,
            note,
            Some(json!({"runAsUser": 1000, "capabilities": {"drop": ["ALL"]}})),
        );
        self.add(
            format!("{s}.privileged"),
            NoOp,
            "`true` is refused: nothing is privileged",
            Some(json!(false)),
        );
        self.add(
            format!("{s}.allowPrivilegeEscalation"),
            NoOp,
            "`true` is refused",
            Some(json!(false)),
        );
        self.add(
            format!("{s}.capabilities"),
            NoOp,
            "",
            Some(json!({"drop": ["NET_RAW"]})),
        );
        self.add(
            format!("{s}.capabilities.add"),
            NoOp,
            "only empty: there is nothing to add",
            Some(json!([])),
        );
        self.add(
            format!("{s}.capabilities.drop"),
            NoOp,
            "",
            Some(json!(["ALL"])),
        );
        self.add(format!("{s}.runAsGroup"), NoOp, "", Some(json!(1000)));
        self.add(format!("{s}.runAsUser"), NoOp, "", Some(json!(1000)));
        self.add(format!("{s}.seccompProfile"), NoOp, "", Some(json!("e30=")));
    }

    fn probe(&mut self, p: &str, which: &str) {
        let pr = format!("{p}.{which}");
        let example = json!({"httpGet": {"path": "/", "port": 80}, "periodSeconds": 30});
        let note = match which {
            "livenessProbe" => "failures restart the container under the restart policy",
            _ => "no traffic until it passes",
        };
        self.add(pr.clone(), Honoured, note, Some(example));
        self.add(format!("{pr}.httpGet"), Honoured, "called in process", None);
        self.add(format!("{pr}.httpGet.path"), Honoured, "default `/`", None);
        self.add(
            format!("{pr}.httpGet.port"),
            Honoured,
            "one the container declares",
            None,
        );
        self.add(
            format!("{pr}.httpGet.scheme"),
            Honoured,
            "in process: no TLS either way",
            None,
        );
        self.h(format!("{pr}.httpGet.httpHeaders"), None);
        self.h(format!("{pr}.httpGet.httpHeaders[].name"), None);
        self.h(format!("{pr}.httpGet.httpHeaders[].value"), None);
        self.add(
            format!("{pr}.exec"),
            Honoured,
            "run as exec runs it; exit code 0 passes",
            None,
        );
        self.add(
            format!("{pr}.exec.command"),
            Honoured,
            "a toolbox command or the container's own",
            None,
        );
        let defaults = [
            ("initialDelaySeconds", "default 0"),
            ("periodSeconds", "default 10"),
            ("failureThreshold", "default 3"),
            ("successThreshold", "default 1"),
            ("timeoutSeconds", "default 1"),
        ];
        for (name, note) in defaults {
            self.add(format!("{pr}.{name}"), Honoured, note, None);
        }
    }

    fn container(&mut self, list: &str, init: bool) {
        let c = format!("properties.{list}[]");
        self.h(format!("properties.{list}"), None);
        self.h(format!("{c}.name"), None);
        self.h(format!("{c}.properties"), None);
        let p = format!("{c}.properties");
        let image = if init {
            "waci/hello-cli"
        } else {
            "waci/hello-http"
        };
        self.add(
            format!("{p}.image"),
            Honoured,
            "`waci/<name>`, a file path or an OCI reference",
            Some(json!(image)),
        );
        let command = if init {
            json!(["hello-cli", "ready"])
        } else {
            json!(["hello-http"])
        };
        self.h(format!("{p}.command"), Some(command));
        self.env(&p);
        self.add(
            format!("{p}.instanceView"),
            ReadOnly,
            "",
            Some(json!({"restartCount": 99})),
        );
        self.mounts(&p);
        self.security_context(&p);
        if init {
            self.resources(
                &p,
                "not in ACI's definition: init containers are capped like the others",
            );
            self.add(
                format!("{p}.ports"),
                Refused(INIT_NO_PORTS),
                "",
                Some(json!([{"port": 81}])),
            );
            self.add(
                format!("{p}.instanceReuse"),
                Refused("init containers run once; instanceReuse applies to a service's requests"),
                "",
                Some(json!(true)),
            );
            return;
        }
        self.h(
            format!("{p}.ports"),
            Some(json!([{"protocol": "TCP", "port": 80}])),
        );
        self.h(format!("{p}.ports[].port"), None);
        self.h(format!("{p}.ports[].protocol"), None);
        self.resources(&p, "");
        self.add(
            format!("{p}.instanceReuse"),
            Honoured,
            "waci's one extension, not ACI's: warm instances kept between requests",
            Some(json!(true)),
        );
        self.probe(&p, "livenessProbe");
        self.probe(&p, "readinessProbe");
        self.add(
            format!("{p}.configMap"),
            Refused(
                "config maps are not supported yet: use environment variables or a secret volume",
            ),
            "",
            Some(json!({"keyValuePairs": {"k": "v"}})),
        );
    }
}

fn build() -> Vec<Property> {
    let mut t = Table(Vec::new());
    let round_trip = "a GET body sent back is accepted";
    t.add(
        "id".into(),
        ReadOnly,
        round_trip,
        Some(json!("/subscriptions/x/other")),
    );
    t.add(
        "name".into(),
        ReadOnly,
        "the name is the path's",
        Some(json!("other")),
    );
    t.add("type".into(), ReadOnly, "", Some(json!("Other/type")));
    t.add(
        "location".into(),
        Honoured,
        "only the platform's `--location`",
        Some(json!("local")),
    );
    t.h("tags".into(), Some(json!({"team": "probes"})));
    t.add(
        "zones".into(),
        NoOp,
        "one machine is one zone",
        Some(json!(["1"])),
    );
    t.add(
        "identity".into(),
        Refused(NO_IDENTITY),
        "",
        Some(json!({"type": "SystemAssigned"})),
    );
    t.h("properties".into(), None);
    t.add(
        "properties.provisioningState".into(),
        ReadOnly,
        "",
        Some(json!("Failed")),
    );
    t.container("containers", false);
    t.container("initContainers", true);
    let creds = "properties.imageRegistryCredentials";
    t.h(
        creds.into(),
        Some(json!([{"server": "registry.example.com", "username": "me"}])),
    );
    t.h(format!("{creds}[].server"), None);
    t.h(format!("{creds}[].username"), Some(json!("someone")));
    t.add(
        format!("{creds}[].password"),
        WriteOnly,
        "",
        Some(json!("registry-password")),
    );
    t.add(
        format!("{creds}[].identity"),
        Refused(NO_IDENTITY),
        "",
        Some(json!("/id")),
    );
    t.add(
        format!("{creds}[].identityUrl"),
        Refused(NO_IDENTITY),
        "",
        Some(json!("https://id")),
    );
    t.add(
        "properties.restartPolicy".into(),
        Honoured,
        "",
        Some(json!("OnFailure")),
    );
    let ip = "properties.ipAddress";
    t.h(
        ip.into(),
        Some(json!({"type": "Public", "ports": [{"protocol": "TCP", "port": 80}]})),
    );
    t.h(format!("{ip}.ports"), None);
    t.h(format!("{ip}.ports[].port"), None);
    t.h(format!("{ip}.ports[].protocol"), None);
    t.add(
        format!("{ip}.type"),
        Honoured,
        "both are an address of the pool",
        Some(json!("Private")),
    );
    t.add(
        format!("{ip}.ip"),
        ReadOnly,
        "the platform gives one from `--ip-pool`",
        Some(json!("10.9.9.9")),
    );
    t.h(format!("{ip}.dnsNameLabel"), Some(json!("props-table")));
    t.h(
        format!("{ip}.autoGeneratedDomainNameLabelScope"),
        Some(json!("TenantReuse")),
    );
    t.add(
        format!("{ip}.fqdn"),
        ReadOnly,
        "",
        Some(json!("elsewhere.example.com")),
    );
    t.add(
        "properties.osType".into(),
        Honoured,
        "only `Linux`",
        Some(json!("Linux")),
    );
    let v = "properties.volumes";
    t.h(v.into(), Some(json!([{"name": "data", "emptyDir": {}}])));
    t.h(format!("{v}[].name"), None);
    t.h(format!("{v}[].emptyDir"), None);
    t.add(
        format!("{v}[].secret"),
        WriteOnly,
        "comes back `{}`",
        Some(json!({"f.txt": "c2VjcmV0LWZpbGU="})),
    );
    t.add(
        format!("{v}[].azureFile"),
        Refused("Azure Files shares are not available: use an emptyDir volume (kept for the group's life) or a secret volume"),
        "",
        Some(json!({"shareName": "s", "storageAccountName": "a"})),
    );
    t.add(
        format!("{v}[].gitRepo"),
        Refused(
            "gitRepo volumes are not supported: clone in an init container onto an emptyDir volume",
        ),
        "",
        Some(json!({"repository": "https://example.com/r.git"})),
    );
    t.add(
        "properties.instanceView".into(),
        ReadOnly,
        "",
        Some(json!({"state": "Bogus"})),
    );
    let refused = [
        (
            "diagnostics",
            "logs stay on the platform: read them with `waci container logs` or the API",
            json!({"logAnalytics": {"workspaceId": "w", "workspaceKey": "k"}}),
        ),
        (
            "subnetIds",
            "there are no virtual networks: every group with `ipAddress` gets an address of the pool",
            json!([{"id": "/subnets/a"}]),
        ),
        (
            "dnsConfig",
            "guests resolve through the platform (its zone, then the host's resolver)",
            json!({"nameServers": ["1.1.1.1"]}),
        ),
        (
            "encryptionProperties",
            "there is no key vault to encrypt with",
            json!({"vaultBaseUrl": "https://v", "keyName": "k", "keyVersion": "1"}),
        ),
        (
            "extensions",
            "virtual kubelet extensions do not exist here",
            json!([{"name": "kube-proxy"}]),
        ),
        (
            "confidentialComputeProperties",
            "there is no confidential hardware: the sandbox is WebAssembly's",
            json!({"ccePolicy": "e30="}),
        ),
        (
            "containerGroupProfile",
            "container group profiles do not exist here",
            json!({"id": "/profiles/p"}),
        ),
        (
            "standbyPoolProfile",
            "standby pools do not exist here: groups start in milliseconds",
            json!({"id": "/pools/p"}),
        ),
        ("identityAcls", NO_IDENTITY, json!({"defaultAccess": "All"})),
    ];
    for (name, why, example) in refused {
        t.add(
            format!("properties.{name}"),
            Refused(why),
            "",
            Some(example),
        );
    }
    t.add(
        "properties.sku".into(),
        NoOp,
        "only `Standard`",
        Some(json!("Standard")),
    );
    t.add(
        "properties.priority".into(),
        NoOp,
        "only `Regular`",
        Some(json!("Regular")),
    );
    t.add(
        "properties.isCreatedFromStandbyPool".into(),
        ReadOnly,
        "",
        Some(json!(true)),
    );
    t.0
}

/// Every property, in the README's order.
pub fn properties() -> &'static [Property] {
    static TABLE: LazyLock<Vec<Property>> = LazyLock::new(build);
    &TABLE
}

/// The table keyed by lower-case path, and the paths that have properties below them.
struct Index {
    by_path: HashMap<String, Treatment>,
    parents: HashSet<String>,
}

fn index() -> &'static Index {
    static INDEX: LazyLock<Index> = LazyLock::new(|| {
        let mut by_path = HashMap::new();
        let mut parents = HashSet::new();
        for p in properties() {
            let path = p.path.to_ascii_lowercase();
            if let Some((parent, _)) = path.rsplit_once('.') {
                parents.insert(parent.to_string());
            }
            by_path.insert(path, p.treatment);
        }
        Index { by_path, parents }
    });
    &INDEX
}

/// Walks a PUT body and refuses the first property that is refused or not ACI's, naming it
/// by its JSON path. `null` counts as absent; read-only properties and maps (tags, secret
/// files) are not looked into.
pub(super) fn check(body: &Value) -> Res<()> {
    walk(body, "", "")
}

fn walk(v: &Value, key: &str, field: &str) -> Res<()> {
    let idx = index();
    match v {
        Value::Object(map) if key.is_empty() || idx.parents.contains(key) => {
            for (name, value) in map {
                if value.is_null() {
                    continue;
                }
                let lower = name.to_ascii_lowercase();
                let (key, field) = if key.is_empty() {
                    (lower, name.clone())
                } else {
                    (format!("{key}.{lower}"), format!("{field}.{name}"))
                };
                match idx.by_path.get(&key) {
                    None => {
                        return Err(FieldError {
                            code: "InvalidRequestContent",
                            message: format!(
                                "'{field}' is not a property of an ACI container group (api-version 2025-09-01); waci refuses what it does not know rather than drop it."
                            ),
                            field,
                        });
                    }
                    Some(Refused(why)) => {
                        return Err(FieldError {
                            code: "InvalidRequestContent",
                            message: format!("'{field}' is not supported: {why}."),
                            field,
                        });
                    }
                    Some(ReadOnly) => {}
                    Some(_) => walk(value, &key, &field)?,
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            let key = format!("{key}[]");
            for (i, item) in items.iter().enumerate() {
                walk(item, &key, &format!("{field}[{i}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The README's table, one row per property: `| path | treatment | note |`.
pub fn readme_table() -> String {
    let mut out =
        String::from("| property | what waci does | why, or what it allows |\n|---|---|---|\n");
    for p in properties() {
        let note = match p.treatment {
            Refused(why) => why,
            _ => p.note,
        };
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            p.path,
            p.treatment.word(),
            note
        ));
    }
    out
}
