//! `TestRegistry`: Debian's `docker-registry` (the CNCF distribution registry), started on a
//! free loopback port in a temp dir, optionally with htpasswd basic auth. Its request log
//! is kept, so a test can count what the platform actually fetched.

use crate::wait::eventually;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Where `.ci/run` installs the registry (Debian package `docker-registry`).
const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
/// Where `.ci/run` installs `htpasswd` (Debian package `apache2-utils`).
const HTPASSWD_BIN: &str = "/usr/bin/htpasswd";

pub struct TestRegistry {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// `127.0.0.1:<port>`: the registry part of an image reference.
    pub host: String,
}

impl TestRegistry {
    /// A registry anyone may pull from and push to.
    pub async fn start() -> TestRegistry {
        Self::launch(None).await
    }

    /// A registry that needs `username`/`password` (htpasswd, bcrypt) for every request.
    pub async fn start_with_auth(username: &str, password: &str) -> TestRegistry {
        Self::launch(Some((username, password))).await
    }

    async fn launch(auth: Option<(&str, &str)>) -> TestRegistry {
        assert!(
            std::path::Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} is missing: `.ci/run` installs it (apt-get install docker-registry)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port = crate::free_port();
        let host = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {host}\n",
            dir.path().join("data").display()
        );
        if let Some((user, password)) = auth {
            let file = dir.path().join("htpasswd");
            let out = Command::new(HTPASSWD_BIN)
                .args(["-Bbn", user, password])
                .output()
                .unwrap_or_else(|e| {
                    panic!(
                        "{HTPASSWD_BIN}: {e}; `.ci/run` installs it (apt-get install apache2-utils)"
                    )
                });
            assert!(out.status.success(), "htpasswd failed");
            std::fs::write(&file, out.stdout).expect("writing htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: waci-tests\n    path: {}\n",
                file.display()
            ));
        }
        let config_file = dir.path().join("config.yml");
        std::fs::write(&config_file, config).expect("writing the registry config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_file)
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("starting docker-registry");
        let r = TestRegistry {
            dir,
            child: Some(child),
            host,
        };
        let url = format!("http://{}/v2/", r.host);
        eventually(
            &format!("docker-registry to answer on {url}"),
            Duration::from_secs(20),
            || async {
                match reqwest::get(&url).await {
                    // 200 without auth, 401 with it: either way it is up.
                    Ok(resp) if matches!(resp.status().as_u16(), 200 | 401) => Ok(()),
                    Ok(resp) => Err(format!("{}; its log:\n{}", resp.status(), r.log())),
                    Err(e) => Err(format!("{e}; its log:\n{}", r.log())),
                }
            },
        )
        .await;
        r
    }

    /// Everything the registry wrote: one line per request among other things.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("registry.log")
    }

    /// How many GETs of the blob `digest` the registry answered.
    pub fn blob_gets(&self, digest: &str) -> usize {
        let needle = format!("/blobs/{digest}");
        self.log()
            .lines()
            .filter(|l| l.contains("http.request.method=GET") && l.contains(&needle))
            .filter(|l| l.contains("response completed"))
            .count()
    }

    /// Stops the registry: its address refuses connections from now on.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

impl TestRegistry {
    /// Pushes an artifact by hand as `oras push --artifact-type` lays it out: one layer of
    /// `media_type` holding `layer`, the empty config, an `artifactType`, the manifest under
    /// `repo:tag`. Returns the manifest digest.
    pub async fn push_raw(&self, repo: &str, tag: &str, layer: &[u8], media_type: &str) -> String {
        let http = reqwest::Client::new();
        let config = b"{}".as_slice();
        for blob in [layer, config] {
            // POST opens an upload; one PUT with the digest gives it all.
            let r = http
                .post(format!("http://{}/v2/{repo}/blobs/uploads/", self.host))
                .send()
                .await
                .expect("opening an upload");
            assert_eq!(r.status().as_u16(), 202, "opening an upload");
            let location = r.headers()["location"]
                .to_str()
                .expect("location")
                .to_string();
            let url = if location.starts_with("http") {
                location
            } else {
                format!("http://{}{location}", self.host)
            };
            let sep = if url.contains('?') { '&' } else { '?' };
            let r = http
                .put(format!("{url}{sep}digest={}", digest(blob)))
                .header("content-type", "application/octet-stream")
                .body(blob.to_vec())
                .send()
                .await
                .expect("uploading a blob");
            assert_eq!(r.status().as_u16(), 201, "uploading a blob to {url}");
        }
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.wasm.component.v1+wasm",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                       "digest": digest(config), "size": config.len()},
            "layers": [{"mediaType": media_type, "digest": digest(layer), "size": layer.len()}],
        });
        let body = serde_json::to_vec(&manifest).expect("manifest");
        let r = http
            .put(format!("http://{}/v2/{repo}/manifests/{tag}", self.host))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(body.clone())
            .send()
            .await
            .expect("putting a manifest");
        assert_eq!(
            r.status().as_u16(),
            201,
            "{}",
            r.text().await.unwrap_or_default()
        );
        digest(&body)
    }
}
