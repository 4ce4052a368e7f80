//! ACI's YAML file format, both ways: `create --file` reads `apiVersion`, `location`,
//! `name`, `properties`, `tags` and `type` (as `az container create --file` does) and
//! `export` writes the same format from a group as the API returns it, so export → delete →
//! create --file gives the same group back.
//!
//! This module knows the file format and the resource's JSON shape, never HTTP.

use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}: {}", .0.display(), .1)]
    Read(PathBuf, std::io::Error),
    #[error("{} is not valid YAML: {}", .0.display(), .1)]
    Yaml(PathBuf, String),
    #[error("{} must be a YAML mapping with 'name', 'location' and 'properties', as `waci container export` writes", .0.display())]
    NotAMapping(PathBuf),
    #[error("{} has no 'properties': it must describe a container group as `waci container export` writes", .0.display())]
    NoProperties(PathBuf),
    #[error("{} has no 'name'; add one or pass -n/--name", .0.display())]
    NoName(PathBuf),
    #[error("cannot write {}: {}", .0.display(), .1)]
    Write(PathBuf, std::io::Error),
}

/// What a file asks for: the group's name and the body to PUT.
#[derive(Debug, PartialEq)]
pub struct Definition {
    pub name: String,
    pub body: Value,
}

/// Reads a container group file. `name` (from `-n`) wins over the file's; `location` (from
/// `--location`) is used when the file has none.
pub fn load(path: &Path, name: Option<&str>, location: Option<&str>) -> Result<Definition, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Read(path.into(), e))?;
    parse(&text, path, name, location)
}

fn parse(
    text: &str,
    path: &Path,
    name: Option<&str>,
    location: Option<&str>,
) -> Result<Definition, Error> {
    let doc: Value =
        serde_yaml::from_str(text).map_err(|e| Error::Yaml(path.into(), e.to_string()))?;
    from_document(doc, path, name, location)
}

/// What a file's document (`path` names it in errors) asks for: its name and the body to
/// PUT, which holds its `location`, `tags` and `properties` (not `apiVersion` or `type`).
pub fn from_document(
    doc: Value,
    path: &Path,
    name: Option<&str>,
    location: Option<&str>,
) -> Result<Definition, Error> {
    let Value::Object(top) = doc else {
        return Err(Error::NotAMapping(path.into()));
    };
    let field = |key: &str| {
        top.iter()
            .find(|(k, v)| k.eq_ignore_ascii_case(key) && !v.is_null())
            .map(|(_, v)| v.clone())
    };
    let name = match (name, field("name")) {
        (Some(n), _) => n.to_string(),
        (None, Some(Value::String(n))) => n,
        (None, _) => return Err(Error::NoName(path.into())),
    };
    let properties = field("properties").ok_or_else(|| Error::NoProperties(path.into()))?;
    let mut body = Map::new();
    if let Some(l) = field("location").or_else(|| location.map(|l| json!(l))) {
        body.insert("location".into(), l);
    }
    if let Some(t) = field("tags") {
        body.insert("tags".into(), t);
    }
    body.insert("properties".into(), properties);
    Ok(Definition {
        name,
        body: Value::Object(body),
    })
}

/// Leaves out empty lists (`volumes: []`): absent and empty mean the same, and a file is
/// easier to read without them.
fn drop_empty_lists(map: &mut Map<String, Value>) {
    map.retain(|_, v| !v.as_array().is_some_and(Vec::is_empty));
}

/// The exported form of a group: what a user wrote, without what the platform added
/// (`id`, `sku`, states, instance views, the IP and FQDN it handed out), with `apiVersion`.
pub fn export(group: &Value, api_version: &str) -> Value {
    let mut out = group.clone();
    if let Some(top) = out.as_object_mut() {
        top.remove("id");
        top.insert("apiVersion".into(), json!(api_version));
    }
    if let Some(p) = out.get_mut("properties").and_then(Value::as_object_mut) {
        for key in ["sku", "provisioningState", "instanceView"] {
            p.remove(key);
        }
        if let Some(ip) = p.get_mut("ipAddress").and_then(Value::as_object_mut) {
            ip.remove("ip");
            ip.remove("fqdn");
        }
        for list in ["containers", "initContainers"] {
            for c in p
                .get_mut(list)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(cp) = c.get_mut("properties").and_then(Value::as_object_mut) {
                    cp.remove("instanceView");
                    drop_empty_lists(cp);
                }
            }
        }
        drop_empty_lists(p);
    }
    out
}

/// Names of the environment variables whose secure values the API does not return, so an
/// export cannot hold them.
pub fn secure_variables(group: &Value) -> Vec<String> {
    let p = &group["properties"];
    let mut names = Vec::new();
    for list in ["containers", "initContainers"] {
        for c in p[list].as_array().into_iter().flatten() {
            for e in c["properties"]["environmentVariables"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let secure = e.as_object().is_some_and(|m| m.contains_key("secureValue"));
                if secure && let Some(n) = e["name"].as_str() {
                    names.push(format!("{}/{n}", c["name"].as_str().unwrap_or("?")));
                }
            }
        }
    }
    names
}

/// Writes `value` as YAML to `path`.
pub fn write(path: &Path, value: &Value) -> Result<(), Error> {
    let text = serde_yaml::to_string(value)
        .map_err(|e| Error::Write(path.into(), std::io::Error::other(e)))?;
    std::fs::write(path, text).map_err(|e| Error::Write(path.into(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str, name: Option<&str>, expected: Result<Definition, &str>) {
        let got = parse(yaml, Path::new("g.yaml"), name, Some("local"));
        match (got, expected) {
            (Ok(g), Ok(e)) => assert_eq!(g, e, "{yaml}"),
            (Err(g), Err(e)) => assert!(g.to_string().contains(e), "{g} lacks {e}"),
            (g, e) => panic!("{yaml}: got {g:?}, expected {e:?}"),
        }
    }

    #[test]
    fn files_in_acis_format_become_put_bodies() {
        let props =
            json!({"containers": [{"name": "web", "properties": {"image": "waci/hello-http"}}]});
        check(
            "apiVersion: '2021-10-01'\nname: web\ntype: Microsoft.ContainerInstance/containerGroups\n\
             location: local\ntags: {team: a}\nproperties:\n  containers:\n  - name: web\n    properties: {image: waci/hello-http}\n",
            None,
            Ok(Definition {
                name: "web".into(),
                body: json!({"location": "local", "tags": {"team": "a"}, "properties": props}),
            }),
        );
        check(
            "name: web\nproperties: {containers: []}\n",
            Some("other"),
            Ok(Definition {
                name: "other".into(),
                body: json!({"location": "local", "properties": {"containers": []}}),
            }),
        );
        check("properties: {}\n", None, Err("has no 'name'"));
        check("name: web\n", None, Err("has no 'properties'"));
        check("- a\n", None, Err("must be a YAML mapping"));
        check("name: [\n", None, Err("is not valid YAML"));
    }

    #[test]
    fn export_leaves_out_what_the_platform_added() {
        let group = json!({
            "id": "/subscriptions/s/x", "name": "web", "type": "Microsoft.ContainerInstance/containerGroups",
            "location": "local", "tags": {},
            "properties": {"sku": "Standard", "provisioningState": "Succeeded", "instanceView": {"state": "Running"},
                "volumes": [], "initContainers": [],
                "ipAddress": {"type": "Public", "ip": "127.77.0.1", "fqdn": "a.local.waci.localhost", "dnsNameLabel": "aaaaa", "ports": []},
                "containers": [{"name": "web", "properties": {"image": "waci/hello-http", "instanceView": {}, "command": [],
                    "environmentVariables": [{"name": "S", "secureValue": null}, {"name": "P", "value": "1"}]}}]}
        });
        assert_eq!(
            export(&group, "2025-09-01"),
            json!({
                "apiVersion": "2025-09-01", "name": "web", "type": "Microsoft.ContainerInstance/containerGroups",
                "location": "local", "tags": {},
                "properties": {"ipAddress": {"type": "Public", "dnsNameLabel": "aaaaa", "ports": []},
                    "containers": [{"name": "web", "properties": {"image": "waci/hello-http",
                        "environmentVariables": [{"name": "S", "secureValue": null}, {"name": "P", "value": "1"}]}}]}
            })
        );
        assert_eq!(secure_variables(&group), vec!["web/S".to_string()]);
    }
}
