//! Guests in Python and JavaScript (issue 22): the example apps of `examples/python/` and
//! `examples/javascript/`, built by their own `build` scripts with the pinned toolchains
//! (componentize-py from PyPI, componentize-js from npm), run as their READMEs say, with
//! `waci container create --file app.yaml`: the page, the JSON endpoint with the env var and
//! the secret volume's file that `app.yaml` gives, and the log line of each request; and
//! both, pushed with `waci image push` to a real registry, run from there (12–18 MB
//! components within the platform's image limits).
//!
//! A build takes 10–20 s, so each component is kept in `~/.cache/waci-languages`, named by a
//! hash of everything its build reads (sources, WIT, the build script with its pinned
//! version): a changed example is built again, an unchanged one is not.

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;
use waci_tests::*;

/// How long the first start of a heavy guest may take: compiling 12–18 MB of Wasm with
/// Cranelift on a busy two-core machine took up to a minute.
const START_TIMEOUT: Duration = Duration::from_secs(180);

fn example_dir(lang: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(lang)
}

/// Every file of `dir` but its build output and its README, in a stable order.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_none_or(|x| x != "wasm" && x != "md") {
            out.push(p);
        }
    }
}

/// The example's component: from the cache if its sources have not changed, else built by
/// its `build` script (which installs its pinned toolchain if missing).
fn built(lang: &str) -> PathBuf {
    // The tests of this file run on threads of one process: one build at a time, so a second
    // test waits for the first's component instead of building it again beside it.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = example_dir(lang);
    let mut files = Vec::new();
    sources(&dir, &mut files);
    let mut hash = Sha256::new();
    for f in &files {
        hash.update(
            f.strip_prefix(&dir)
                .expect("under dir")
                .to_string_lossy()
                .as_bytes(),
        );
        hash.update(std::fs::read(f).expect("a source file"));
    }
    let key = &hex::encode(hash.finalize())[..16];
    let cache = std::env::var_os("HOME")
        .map(PathBuf::from)
        .expect("HOME")
        .join(".cache/waci-languages");
    std::fs::create_dir_all(&cache).expect("the cache dir");
    let wasm = cache.join(format!("{lang}-{key}.wasm"));
    if wasm.exists() {
        return wasm;
    }
    // Built beside its final name, then renamed: another test process running at the same
    // time never sees half a component.
    let partial = cache.join(format!("{lang}-{key}.{}.partial", std::process::id()));
    let status = std::process::Command::new(dir.join("build"))
        .arg(&partial)
        .status()
        .unwrap_or_else(|e| panic!("running examples/{lang}/build: {e}"));
    assert!(status.success(), "examples/{lang}/build failed: {status}");
    std::fs::rename(&partial, &wasm).expect("renaming the built component");
    // Older builds of this example are of no further use.
    for entry in std::fs::read_dir(&cache).expect("the cache dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("{lang}-")) && entry.path() != wasm && name.ends_with(".wasm")
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    wasm
}

/// What `app.yaml` gives the app: its group's name, the GREETING value and the text of the
/// secret volume's message.txt.
struct Given {
    name: String,
    greeting: String,
    message: String,
}

fn given(lang: &str) -> Given {
    let text = std::fs::read_to_string(example_dir(lang).join("app.yaml")).expect("app.yaml");
    let yaml: Value = serde_yaml::from_str(&text).expect("app.yaml is YAML");
    let props = &yaml["properties"];
    let greeting = props["containers"][0]["properties"]["environmentVariables"]
        .as_array()
        .expect("environmentVariables")
        .iter()
        .find(|v| v["name"] == "GREETING")
        .and_then(|v| v["value"].as_str())
        .expect("a GREETING value")
        .to_string();
    let secret = props["volumes"][0]["secret"]["message.txt"]
        .as_str()
        .expect("a secret volume with message.txt");
    let message = base64::engine::general_purpose::STANDARD
        .decode(secret)
        .expect("base64");
    Given {
        name: yaml["name"].as_str().expect("a name").to_string(),
        greeting: greeting.to_string(),
        message: String::from_utf8(message).expect("UTF-8"),
    }
}

/// Builds the example, creates its group from its `app.yaml` with the CLI in a directory
/// holding `app.wasm` (as the README does), and checks what a user would see.
async fn the_example_runs_as_its_readme_says(lang: &str, heading: &str) {
    let wasm = built(lang);
    let size = std::fs::metadata(&wasm).expect("the component").len();
    let given = given(lang);

    let p = TestPlatform::start().await;
    let work = tempfile::tempdir().expect("a working dir");
    std::os::unix::fs::symlink(&wasm, work.path().join("app.wasm")).expect("app.wasm");
    std::fs::copy(
        example_dir(lang).join("app.yaml"),
        work.path().join("app.yaml"),
    )
    .expect("app.yaml");
    let mut create = p.cli("container create -g languages --file app.yaml");
    create.current_dir(work.path());
    let created = tokio::time::timeout(START_TIMEOUT, run_cli(create))
        .await
        .unwrap_or_else(|_| panic!("the {lang} app ({size} bytes) did not start in time"))
        .ok()
        .json();
    assert_eq!(
        state(&created),
        "Running",
        "the {lang} app ({size} bytes) runs: {created:#}"
    );
    let ip = ip_of(&created);

    let (status, page) = http_get(&format!("http://{ip}/"))
        .await
        .expect("the page answers");
    assert_eq!(status, 200, "the page: {page}");
    assert!(page.contains(heading), "the page shows {heading:?}: {page}");

    let (status, info) = http_get(&format!("http://{ip}/api/info"))
        .await
        .expect("the JSON endpoint answers");
    assert_eq!(status, 200, "the JSON endpoint: {info}");
    let info: Value = serde_json::from_str(&info)
        .unwrap_or_else(|e| panic!("/api/info is not JSON ({e}): {info}"));
    assert_eq!(info["language"], lang, "{info}");
    assert_eq!(
        info["greeting"],
        given.greeting.as_str(),
        "the env var comes back: {info}"
    );
    assert_eq!(
        info["message"],
        given.message.as_str(),
        "the secret volume's file comes back: {info}"
    );

    let (status, _) = http_get(&format!("http://{ip}/nowhere"))
        .await
        .expect("an unknown path answers");
    assert_eq!(status, 404, "an unknown path is not found");

    // Each request wrote its line, which the container's logs keep. A line may come after
    // its answer (the guest writes it once the body is sent), so each is waited for.
    for line in ["GET / 200", "GET /api/info 200", "GET /nowhere 404"] {
        p.wait_for_log("languages", &given.name, "web", line).await;
    }
    let shown = p
        .waci(&format!("container logs -g languages -n {}", given.name))
        .await
        .ok();
    assert!(
        shown.stdout.contains("GET /api/info 200"),
        "`waci container logs` shows the request: {}",
        shown.stdout
    );

    // Never compiled before, it served on the baseline compiler's code; the optimised code
    // is compiled in the background into the platform's cache.
    let g = p.get_group("languages", &given.name).await.body;
    assert!(
        g.to_string().contains("by the baseline compiler"),
        "the Compiled event names the baseline compiler: {g:#}"
    );
    let cache = p.data_dir.path().join("cache");
    eventually(
        "the optimised code in the cache",
        Duration::from_secs(300),
        || async {
            let files: Vec<String> = std::fs::read_dir(&cache)
                .map(|d| {
                    d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .collect()
                })
                .unwrap_or_default();
            if files.iter().any(|f| f.ends_with(".cwasm")) {
                Ok(())
            } else {
                Err(format!("{files:?}"))
            }
        },
    )
    .await;

    p.waci(&format!(
        "container delete -g languages -n {} --yes",
        given.name
    ))
    .await
    .ok();
}

#[tokio::test]
async fn the_python_example_serves_its_page_env_and_volume_and_logs_each_request() {
    the_example_runs_as_its_readme_says("python", "Hello from Python on waci").await;
}

#[tokio::test]
async fn the_javascript_example_serves_its_page_env_and_volume_and_logs_each_request() {
    the_example_runs_as_its_readme_says("javascript", "Hello from JavaScript on waci").await;
}

#[tokio::test]
async fn both_heavy_guests_push_to_a_registry_and_run_from_it() {
    let reg = waci_tests::registry::TestRegistry::start().await;
    let p = TestPlatform::start().await;
    for (lang, heading) in [
        ("python", "Hello from Python on waci"),
        ("javascript", "Hello from JavaScript on waci"),
    ] {
        let wasm = built(lang);
        let image = format!("{}/examples/{lang}:v1", reg.host);
        let pushed = run_cli(waci_command(&format!(
            "image push {} {image}",
            wasm.display()
        )))
        .await
        .ok()
        .json();
        assert_eq!(pushed["mediaType"], "application/wasm", "{pushed}");
        let mut create = p.cli(&format!(
            "container create -g registry -n {lang} --image {image} --ports 80 --ip-address Public"
        ));
        create.current_dir(std::env::temp_dir());
        let created = tokio::time::timeout(START_TIMEOUT, run_cli(create))
            .await
            .unwrap_or_else(|_| panic!("the {lang} app did not start from the registry in time"))
            .ok()
            .json();
        assert_eq!(state(&created), "Running", "{created:#}");
        let ip = ip_of(&created);
        let (status, page) = http_get(&format!("http://{ip}/"))
            .await
            .expect("the page answers");
        assert_eq!(status, 200, "the {lang} page from the registry: {page}");
        assert!(page.contains(heading), "{page}");
    }
}
