//! The API describes itself (`/openapi.json`, derived from the handlers), and schemathesis,
//! driven by that document against the live platform, finds no 5xx, no answer that breaks
//! the document, and no crash.

use serde_json::Value;
use std::path::PathBuf;
use waci_tests::*;

/// schemathesis's `st`: `WACI_SCHEMATHESIS`, else the venv `.ci/run` installs it into, else
/// `st` on the PATH.
fn schemathesis() -> PathBuf {
    if let Some(p) = std::env::var_os("WACI_SCHEMATHESIS") {
        return p.into();
    }
    let venv = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/waci-venv/bin/st");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("st")
}

#[tokio::test]
async fn the_api_describes_every_path_and_schemathesis_finds_nothing_wrong() {
    let p = TestPlatform::start().await;
    let url = format!("{}/openapi.json", p.api);
    // The description holds no data: it needs no token.
    let doc: Value = reqwest::get(&url)
        .await
        .expect("GET /openapi.json")
        .json()
        .await
        .expect("JSON");
    assert!(
        doc["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3.")
    );
    let paths = doc["paths"].as_object().expect("paths");
    let cg = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups";
    for path in [
        format!("{cg}/{{name}}"),
        format!("{cg}/{{name}}/containers/{{container}}/logs"),
        "/subscriptions/{sub}/providers/Microsoft.ContainerInstance/locations/{loc}/operations/{id}"
            .to_string(),
    ] {
        assert!(paths.contains_key(&path), "{path} is described");
    }
    let versions = &paths[&format!("{cg}/{{name}}")]["get"]["parameters"];
    assert!(
        versions.to_string().contains("2025-09-01"),
        "api-version lists the accepted versions: {versions}"
    );

    // Probes and the no-op properties are described, both as read and as answered.
    let schemas = &doc["components"]["schemas"];
    for (schema, property) in [
        ("ContainerPropertiesInput", "livenessProbe"),
        ("ContainerPropertiesInput", "readinessProbe"),
        ("ContainerPropertiesInput", "securityContext"),
        ("ContainerGroupPropertiesInput", "priority"),
        ("ContainerGroupInput", "zones"),
        ("ContainerProperties", "readinessProbe"),
        ("ContainerProbe", "httpGet"),
        ("ProbeInput", "periodSeconds"),
    ] {
        assert!(
            schemas[schema]["properties"][property].is_object(),
            "{schema}.{property} is described: {}",
            schemas[schema]
        );
    }

    // A group from the document's own example exists, so reads reach real data too.
    let example = doc["components"]["schemas"]["ContainerGroupInput"]["example"].clone();
    // The documented example is accepted.
    p.create("demo", "example", example).await;

    let st = schemathesis();
    let out = tokio::process::Command::new(&st)
        .args([
            "run",
            &url,
            "--header",
            &format!("Authorization: Bearer {}", p.token),
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--workers",
            "2",
            "--phases",
            "examples,fuzzing",
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance",
        ])
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "running {}: {e}; `.ci/run` installs schemathesis (pip) into ~/.cache/waci-venv",
                st.display()
            )
        });
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{report}"
    );
    assert!(report.contains("passed"), "{report}");

    // And the platform is still whole: the example group is there and answers.
    let g = p.wait_for_state("demo", "example", "Running").await;
    let ip = g["properties"]["ipAddress"]["ip"].as_str().expect("ip");
    let (status, _) = http_get(&format!("http://{ip}:80/"))
        .await
        .expect("answers");
    assert_eq!(status, 200);
}
