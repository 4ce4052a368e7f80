//! How results are printed, as `az` prints them: `-o json` (the default, the API's body),
//! `jsonc`, `yaml`, `table` (az's columns for container groups and resource groups, the
//! scalar fields of anything else), `tsv` (one line per item, tab-separated scalar fields in
//! key order) and `none`; `--query` applies a JMESPath expression first.
//!
//! This module knows only JSON values, never the API or clap commands.

use clap::{Args, ValueEnum};
use serde_json::Value;

/// `-o` and `--query`, shared by every client command.
#[derive(Args, Clone, Debug)]
pub struct OutputArgs {
    /// Output format
    #[arg(short, long, value_enum, global = true, default_value_t = Format::Json)]
    pub output: Format,
    /// JMESPath query applied to the result, as in az (e.g. properties.ipAddress.ip)
    #[arg(long, global = true)]
    pub query: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Jsonc,
    Table,
    Tsv,
    Yaml,
    Yamlc,
    None,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("--query '{0}' is not a valid JMESPath expression: {1}")]
    Query(String, String),
    #[error("cannot print the result as {0}: {1}")]
    Render(&'static str, String),
}

impl OutputArgs {
    /// Prints `value` (after `--query`) on stdout.
    pub fn print(&self, value: &Value) -> Result<(), Error> {
        let value = match &self.query {
            Some(q) => query(value, q)?,
            None => value.clone(),
        };
        let text = render(&value, self.output)?;
        print!("{text}");
        Ok(())
    }
}

fn query(value: &Value, expr: &str) -> Result<Value, Error> {
    let bad = |e: &dyn std::fmt::Display| Error::Query(expr.to_string(), e.to_string());
    let compiled = jmespath::compile(expr).map_err(|e| bad(&e))?;
    let found = compiled.search(value.clone()).map_err(|e| bad(&e))?;
    serde_json::to_value(&*found).map_err(|e| bad(&e))
}

/// The text printed for `value` in `format`, ending with a newline unless empty.
pub fn render(value: &Value, format: Format) -> Result<String, Error> {
    Ok(match format {
        Format::Json | Format::Jsonc => {
            let s = serde_json::to_string_pretty(value)
                .map_err(|e| Error::Render("json", e.to_string()))?;
            format!("{s}\n")
        }
        Format::Yaml | Format::Yamlc => {
            serde_yaml::to_string(value).map_err(|e| Error::Render("yaml", e.to_string()))?
        }
        Format::Table => table(value),
        Format::Tsv => tsv(value),
        Format::None => String::new(),
    })
}

fn items(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(a) => a.iter().collect(),
        Value::Null => vec![],
        other => vec![other],
    }
}

/// A scalar as az prints it in tsv and table cells: strings bare, null empty.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.len().to_string(),
        Value::Object(_) => String::new(),
        other => other.to_string(),
    }
}

/// One line per item; an item's fields in key order, objects empty and lists as their length.
fn tsv(value: &Value) -> String {
    let mut out = String::new();
    for item in items(value) {
        let row: Vec<String> = match item {
            Value::Object(m) => m.values().map(cell).collect(),
            Value::Array(a) => a.iter().map(cell).collect(),
            scalar => vec![cell(scalar)],
        };
        out.push_str(&row.join("\t"));
        out.push('\n');
    }
    out
}

const CONTAINER_GROUP: &str = "Microsoft.ContainerInstance/containerGroups";
const RESOURCE_GROUP: &str = "Microsoft.Resources/resourceGroups";

/// az's table columns for a container group.
fn container_group_row(g: &Value) -> Vec<(&'static str, String)> {
    let p = &g["properties"];
    let resource_group = g["id"]
        .as_str()
        .and_then(|id| {
            let segs: Vec<&str> = id.split('/').collect();
            let i = segs
                .iter()
                .position(|s| s.eq_ignore_ascii_case("resourceGroups"))?;
            segs.get(i + 1).map(|s| s.to_string())
        })
        .unwrap_or_default();
    let status = p["instanceView"]["state"]
        .as_str()
        .or(p["provisioningState"].as_str())
        .unwrap_or_default()
        .to_string();
    let containers = p["containers"].as_array().cloned().unwrap_or_default();
    let image = containers
        .iter()
        .filter_map(|c| c["properties"]["image"].as_str())
        .collect::<Vec<_>>()
        .join(",");
    let ip = &p["ipAddress"];
    let ports = ip["ports"]
        .as_array()
        .map(|ps| ps.iter().map(|p| cell(&p["port"])).collect::<Vec<_>>())
        .unwrap_or_default()
        .join(",");
    let ip_ports = match ip["ip"].as_str() {
        Some(addr) => format!("{addr}:{ports}"),
        None => String::new(),
    };
    vec![
        ("Name", cell(&g["name"])),
        ("ResourceGroup", resource_group),
        ("Status", status),
        ("Image", image),
        ("IP:ports", ip_ports),
        ("FQDN", cell(&ip["fqdn"])),
    ]
}

fn resource_group_row(g: &Value) -> Vec<(&'static str, String)> {
    vec![
        ("Name", cell(&g["name"])),
        ("Location", cell(&g["location"])),
        ("Status", cell(&g["properties"]["provisioningState"])),
    ]
}

/// Capitalizes the first letter, as az's automatic table headers do.
fn header(key: &str) -> String {
    let mut c = key.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// az's `-o table`: a header, a rule of dashes, and one line per item, columns two spaces
/// apart. Resources get az's columns; other objects their scalar fields; scalars a `Result`
/// column.
fn table(value: &Value) -> String {
    let rows: Vec<Vec<(String, String)>> = items(value)
        .into_iter()
        .map(|item| match item["type"].as_str() {
            Some(t) if t.eq_ignore_ascii_case(CONTAINER_GROUP) => own(container_group_row(item)),
            Some(t) if t.eq_ignore_ascii_case(RESOURCE_GROUP) => own(resource_group_row(item)),
            _ => match item {
                Value::Object(m) => m
                    .iter()
                    .filter(|(_, v)| !v.is_object() && !v.is_array())
                    .map(|(k, v)| (header(k), cell(v)))
                    .collect(),
                scalar => vec![("Result".to_string(), cell(scalar))],
            },
        })
        .collect();
    let Some(first) = rows.first() else {
        return String::new();
    };
    let headers: Vec<String> = first.iter().map(|(h, _)| h.clone()).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            headers
                .iter()
                .map(|h| {
                    r.iter()
                        .find(|(k, _)| k == h)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([h.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |fields: Vec<String>| -> String {
        let padded: Vec<String> = fields
            .iter()
            .zip(&widths)
            .map(|(f, w)| format!("{f:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(headers.clone());
    out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect()));
    for r in cells {
        out.push_str(&line(r));
    }
    out
}

fn own(row: Vec<(&'static str, String)>) -> Vec<(String, String)> {
    row.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(value: Value, format: Format, expected: &str) {
        assert_eq!(render(&value, format).unwrap(), expected, "{value}");
    }

    fn group() -> Value {
        json!({
            "id": "/subscriptions/s/resourceGroups/demo/providers/Microsoft.ContainerInstance/containerGroups/hello",
            "name": "hello", "type": "Microsoft.ContainerInstance/containerGroups", "location": "local",
            "properties": {
                "provisioningState": "Succeeded",
                "containers": [{"name": "hello", "properties": {"image": "waci/hello-http"}}],
                "ipAddress": {"ip": "127.77.0.1", "ports": [{"port": 80}, {"port": 8080}],
                              "fqdn": "hello-demo.local.waci.localhost"},
                "instanceView": {"state": "Running"}
            }
        })
    }

    #[test]
    fn a_container_group_table_has_azs_columns() {
        check(
            json!([group()]),
            Format::Table,
            "Name   ResourceGroup  Status   Image            IP:ports            FQDN\n\
             -----  -------------  -------  ---------------  ------------------  -------------------------------\n\
             hello  demo           Running  waci/hello-http  127.77.0.1:80,8080  hello-demo.local.waci.localhost\n",
        );
    }

    #[test]
    fn tsv_prints_scalar_fields_in_key_order() {
        check(
            group(),
            Format::Tsv,
            "/subscriptions/s/resourceGroups/demo/providers/Microsoft.ContainerInstance/containerGroups/hello\tlocal\thello\t\tMicrosoft.ContainerInstance/containerGroups\n",
        );
        check(json!(["a", 1, null]), Format::Tsv, "a\n1\n\n");
    }

    #[test]
    fn other_values_get_their_own_columns() {
        check(
            json!([{"name": "x", "n": 1, "nested": {}}]),
            Format::Table,
            "N  Name\n-  ----\n1  x\n",
        );
        check(
            json!("127.77.0.1"),
            Format::Table,
            "Result\n----------\n127.77.0.1\n",
        );
        check(json!([]), Format::Table, "");
    }

    #[test]
    fn query_selects_before_printing() {
        let out = OutputArgs {
            output: Format::Tsv,
            query: Some("properties.ipAddress.ip".into()),
        };
        let v = query(&group(), out.query.as_deref().unwrap()).unwrap();
        assert_eq!(render(&v, out.output).unwrap(), "127.77.0.1\n");
        assert!(query(&group(), "properties.[").is_err());
    }
}
