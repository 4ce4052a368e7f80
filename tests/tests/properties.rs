//! Nothing silently dropped (issue 20): every property of ACI's 2025-09-01 definitions that
//! the parser's table (`model::parse::properties`, the README's table) gives an example for
//! is PUT on its own into a group, and the answer is what the table says: honoured and
//! returned, a no-op returned as given, taken and never returned (secrets), ignored as
//! read-only, or refused with a 400 that names it and changes nothing.

use serde_json::{Value, json};
use waci_platform::model::parse::properties::{Treatment, properties};
use waci_tests::*;

/// A group with a bit of everything, so each example lands beside its siblings.
fn base() -> Value {
    json!({"location": "local", "properties": {
        "containers": [{"name": "web", "properties": {
            "image": "waci/hello-http", "ports": [{"port": 80}],
            "environmentVariables": [{"name": "GREETING", "value": "hello"}],
            "resources": {"requests": {"cpu": 0.5, "memoryInGB": 0.25}},
            "volumeMounts": [{"name": "data", "mountPath": "/data"}]}}],
        "initContainers": [{"name": "init", "properties": {
            "image": "waci/hello-cli",
            "environmentVariables": [{"name": "GREETING", "value": "hello"}],
            "volumeMounts": [{"name": "data", "mountPath": "/data"}]}}],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "imageRegistryCredentials": [{"server": "registry.example.com", "username": "me"}],
        "ipAddress": {"type": "Public", "ports": [{"protocol": "TCP", "port": 80}]}}})
}

/// The segments of a table path (`[]` = the first item), e.g. `properties.volumes[].name`
/// → `properties`, `volumes`, 0, `name`.
enum Step<'a> {
    Key(&'a str),
    First,
}

fn steps(path: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for seg in path.split('.') {
        match seg.strip_suffix("[]") {
            Some(key) => {
                out.push(Step::Key(key));
                out.push(Step::First);
            }
            None => out.push(Step::Key(seg)),
        }
    }
    out
}

/// Sets `value` at `path`, making the objects and first items on the way.
fn set(body: &mut Value, path: &str, value: Value) {
    let steps = steps(path);
    let mut at = body;
    for (i, step) in steps.iter().enumerate() {
        let last = i == steps.len() - 1;
        at = match step {
            Step::Key(k) => {
                let obj = at.as_object_mut().expect("an object on the way");
                if last {
                    obj.insert(k.to_string(), value);
                    return;
                }
                obj.entry(k.to_string()).or_insert(json!({}))
            }
            Step::First => {
                if !at.is_array() {
                    *at = json!([{}]);
                }
                let items = at.as_array_mut().expect("an array");
                if items.is_empty() {
                    items.push(json!({}));
                }
                &mut items[0]
            }
        };
    }
}

/// The value at `path`, or null.
fn get<'a>(body: &'a Value, path: &str) -> &'a Value {
    let mut at = body;
    for step in steps(path) {
        at = match step {
            Step::Key(k) => &at[k],
            Step::First => &at[0],
        };
    }
    at
}

/// Whether `got` says at least what `want` says (numbers by value).
fn holds(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => w
            .iter()
            .all(|(k, v)| g.get(k).is_some_and(|gv| holds(gv, v))),
        (Value::Array(g), Value::Array(w)) => {
            g.len() == w.len() && g.iter().zip(w).all(|(a, b)| holds(a, b))
        }
        (Value::Number(g), Value::Number(w)) => g.as_f64() == w.as_f64(),
        _ => got == want,
    }
}

/// What a GET says of the definition: everything but the platform's changing views.
fn definition(mut g: Value) -> Value {
    let props = &mut g["properties"];
    props.as_object_mut().map(|p| {
        p.remove("instanceView");
        p.remove("provisioningState");
    });
    for list in ["containers", "initContainers"] {
        for c in props[list].as_array_mut().into_iter().flatten() {
            c["properties"]
                .as_object_mut()
                .map(|p| p.remove("instanceView"));
        }
    }
    g
}

/// The body of `path` with `example` in place: a volume's kind replaces the other kind.
fn body_with(path: &str, example: &Value) -> Value {
    let mut body = base();
    if let Some(kind) = path.strip_prefix("properties.volumes[].")
        && kind != "name"
    {
        body["properties"]["volumes"][0] = json!({"name": "data", kind: example});
    } else {
        set(&mut body, path, example.clone());
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_aci_property_is_honoured_refused_or_returned_as_the_readme_says() {
    let p = TestPlatform::start().await;
    p.create("rg", "table", base()).await;
    let mut tried = 0;
    for prop in properties() {
        let Some(example) = &prop.example else {
            continue;
        };
        tried += 1;
        let path = &prop.path;
        let before = definition(p.get_group("rg", "table").await.body);
        let r = p.put_group("rg", "table", body_with(path, example)).await;
        let g = p.get_group("rg", "table").await.body;
        let got = get(&g, path);
        match prop.treatment {
            Treatment::Refused(why) => {
                assert_eq!(r.status, 400, "{path} is refused: {}", r.text);
                let message = r.body["error"]["message"].as_str().unwrap_or_default();
                let field = path.replace("[]", "[0]");
                assert!(
                    message.contains(&field) && message.contains(why),
                    "the 400 names {field} and says why ({why}): {message}"
                );
                assert_eq!(
                    definition(g),
                    before,
                    "a refused PUT of {path} changed the group"
                );
                continue;
            }
            _ => assert!(
                r.status == 200 || r.status == 201,
                "{path} = {example} is accepted: {} {}",
                r.status,
                r.text
            ),
        }
        match prop.treatment {
            Treatment::Honoured | Treatment::NoOp => assert!(
                holds(got, example),
                "GET returns {path} = {example} as the PUT gave it; it says {got}"
            ),
            Treatment::WriteOnly => {
                let secrets: Vec<&str> = match example {
                    Value::String(s) => vec![s.as_str()],
                    Value::Object(files) => files.values().filter_map(Value::as_str).collect(),
                    other => panic!("a secret example is a string or files: {other}"),
                };
                for secret in secrets {
                    assert!(
                        !g.to_string().contains(secret),
                        "{path} is never returned, yet GET shows it: {g}"
                    );
                }
            }
            Treatment::ReadOnly => assert_ne!(
                got, example,
                "{path} is the platform's: a PUT cannot set it"
            ),
            Treatment::Refused(_) => unreachable!("handled above"),
        }
    }
    assert!(
        tried > 80,
        "the table gives examples for most properties ({tried})"
    );

    // A property ACI does not define is refused too, by its path, and changes nothing.
    let before = definition(p.get_group("rg", "table").await.body);
    let mut typo = base();
    typo["properties"]["containers"][0]["properties"]["livenesProbe"] =
        json!({"httpGet": {"port": 80}});
    let r = p.put_group("rg", "table", typo).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "InvalidRequestContent");
    assert!(
        r.text
            .contains("properties.containers[0].properties.livenesProbe"),
        "{}",
        r.text
    );
    let after = definition(p.get_group("rg", "table").await.body);
    assert_eq!(after, before, "a refused PUT changes nothing");
}
