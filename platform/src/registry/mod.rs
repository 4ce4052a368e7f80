//! Registries: pulls Wasm components from OCI registries and pushes them, in the CNCF Wasm
//! OCI artifact layout (an `application/wasm` layer, an `application/vnd.wasm.config.v0+json`
//! config), so components pushed by `wkg oci push` or `oras push` run as they are.
//!
//! Invariants:
//! - A blob is kept on disk by its digest (`<images>/blobs/sha256/<hex>`), written whole
//!   (temp file, then rename) after its digest was checked, so a file there is always right.
//! - A manifest digest maps to its layer digest (`<images>/manifests/sha256/<hex>`), so an
//!   image pinned by digest starts without the network once its blob is here.
//! - Concurrent resolutions of one reference, and concurrent downloads of one blob, share
//!   one request to the registry.
//!
//! A registry on loopback is spoken to in plain HTTP; any other over TLS with the system's
//! roots. This module knows neither wasmtime nor the store, nor `images` (which resolves a
//! reference to bytes and calls this module for the registry kind).

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;

mod classify;
mod push;
#[cfg(test)]
mod tests;

use classify::{classify, component_layer};
pub use push::{Pushed, push};

/// The layer media type of a Wasm component (CNCF Wasm OCI artifact layout).
pub const WASM_LAYER: &str = "application/wasm";
/// The config media type of that layout.
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
/// Layer types written by older tools (wasm-to-oci, early oci-client), still accepted.
const OLDER_WASM_LAYERS: &[&str] = &[oci_client::manifest::WASM_LAYER_MEDIA_TYPE];
/// The largest component pulled; a bigger layer is refused before it is downloaded.
pub const MAX_IMAGE_BYTES: i64 = 256 << 20;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a pull or push failed; each message says which, in words a user can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("'{0}' is not a valid image reference: {1}")]
    InvalidReference(String, String),
    #[error("the registry {registry} refused access to {image} (401 Unauthorized): {hint}")]
    Unauthorized {
        registry: String,
        image: String,
        hint: &'static str,
    },
    #[error("image {0} was not found in its registry (manifest unknown)")]
    NotFound(String),
    #[error("the registry {registry} cannot be reached: {cause}")]
    Unreachable { registry: String, cause: String },
    #[error("image {image} is not a WebAssembly component: {why}")]
    NotAComponent { image: String, why: String },
    #[error("image {image} is {size} bytes, more than the {max} bytes allowed")]
    TooLarge { image: String, size: i64, max: i64 },
    #[error("pulling {image} failed: {cause}")]
    Other { image: String, cause: String },
    #[error("the image store failed: {0}")]
    Disk(String),
    /// A built-in or file image that cannot be read (its message says why).
    #[error("{0}")]
    Local(String),
}

/// Credentials for one registry (`imageRegistryCredentials`).
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <password>)", self.username)
    }
}

/// A reference resolved to the bits it names.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// `registry/repository` without tag or digest.
    pub repository: String,
    /// The manifest digest (`sha256:...`): `repository@manifest_digest` is the pinned image.
    pub manifest_digest: String,
    /// The component layer.
    pub layer: OciDescriptor,
    /// `true` when the layer's blob is already on disk: starting needs no download.
    pub present: bool,
}

impl Resolved {
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.repository, self.manifest_digest)
    }
}

/// A component's bytes, from disk or just downloaded.
pub struct Fetched {
    pub bytes: Arc<[u8]>,
    /// The content digest of the bytes (the layer digest): what compiled code is keyed by.
    pub digest: String,
    /// `true` when this call downloaded the blob; `false` when it was on disk or another
    /// container's download brought it.
    pub downloaded_here: bool,
}

/// Parses an image reference the way a pull would, for the API's checks.
pub fn parse(reference: &str) -> Result<Reference, Error> {
    reference
        .parse::<Reference>()
        .map_err(|e| Error::InvalidReference(reference.to_string(), e.to_string()))
}

/// Whether `registry` (host, host:port or [v6]:port) is on loopback: spoken to in plain HTTP.
pub fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn client_for(registry: &str) -> Client {
    // reqwest is built without a crypto provider; ring is the one the platform already has.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let protocol = if is_loopback(registry) {
        ClientProtocol::Http
    } else {
        ClientProtocol::Https
    };
    Client::new(ClientConfig {
        protocol,
        connect_timeout: Some(CONNECT_TIMEOUT),
        read_timeout: Some(READ_TIMEOUT),
        ..Default::default()
    })
}

fn auth(credentials: Option<&Credentials>) -> RegistryAuth {
    match credentials {
        Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
        None => RegistryAuth::Anonymous,
    }
}

/// Whether `bytes` is a WebAssembly component (not a core module, not something else).
pub fn check_component(image: &str, bytes: &[u8]) -> Result<(), Error> {
    let why = if !bytes.starts_with(b"\0asm") || bytes.len() < 8 {
        "the blob is not WebAssembly"
    } else if bytes[6..8] != [1, 0] {
        "it is a core WebAssembly module; waci runs components (WASI 0.2)"
    } else {
        return Ok(());
    };
    Err(Error::NotAComponent {
        image: image.to_string(),
        why: why.to_string(),
    })
}

/// Shares one run of a piece of work among concurrent callers with the same key.
struct Flights<T: Clone> {
    map: Mutex<HashMap<String, Arc<OnceCell<T>>>>,
}

impl<T: Clone> Flights<T> {
    fn new() -> Self {
        Flights {
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `work` unless a run for `key` is under way, in which case its result is shared.
    /// The second value is `true` for the caller whose `work` ran.
    async fn run<F: Future<Output = T>>(&self, key: &str, work: F) -> (T, bool) {
        let cell = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key.to_string()).or_default().clone()
        };
        let mut ran = false;
        let value = cell
            .get_or_init(|| {
                ran = true;
                work
            })
            .await
            .clone();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            map.remove(key);
        }
        (value, ran)
    }
}

pub struct Registries {
    dir: PathBuf,
    resolutions: Flights<Result<Resolved, Error>>,
    downloads: Flights<Result<Arc<[u8]>, Error>>,
}

impl Registries {
    pub fn new(dir: PathBuf) -> std::io::Result<Arc<Registries>> {
        std::fs::create_dir_all(dir.join("blobs/sha256"))?;
        std::fs::create_dir_all(dir.join("manifests/sha256"))?;
        Ok(Arc::new(Registries {
            dir,
            resolutions: Flights::new(),
            downloads: Flights::new(),
        }))
    }

    /// `<images>/<kind>/sha256/<hex>` for a well-formed `sha256:` digest; `None` otherwise,
    /// so no digest from a registry can name a path outside the store.
    fn digest_path(&self, kind: &str, digest: &str) -> Option<PathBuf> {
        let hex = digest.strip_prefix("sha256:")?;
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| self.dir.join(kind).join("sha256").join(hex))
    }

    fn blob_path(&self, digest: &str) -> Option<PathBuf> {
        self.digest_path("blobs", digest)
    }

    fn manifest_path(&self, digest: &str) -> Option<PathBuf> {
        self.digest_path("manifests", digest)
    }

    /// Resolves `reference` to a manifest digest and its component layer. A reference
    /// pinned by digest (in itself or by `pinned`, the digest recorded at create) whose
    /// manifest is known here needs no network.
    pub async fn resolve(
        &self,
        reference: &str,
        credentials: Option<&Credentials>,
        pinned: Option<&str>,
    ) -> Result<Resolved, Error> {
        let parsed = parse(reference)?;
        let repository = format!("{}/{}", parsed.registry(), parsed.repository());
        // `pinned` may be a whole pinned reference (repo@sha256:...) or just its digest.
        let pinned = pinned.map(|p| p.rsplit_once('@').map_or(p, |(_, d)| d));
        let digest = pinned.or(parsed.digest()).map(str::to_string);
        if let Some(d) = &digest
            && let Some(layer) = self.known_manifest(d).await
        {
            let present = self.blob_path(&layer.digest).is_some_and(|p| p.exists());
            return Ok(Resolved {
                repository,
                manifest_digest: d.clone(),
                layer,
                present,
            });
        }
        let target = match &digest {
            Some(d) => parsed.clone_with_digest(d.clone()),
            None => parsed.clone(),
        };
        // Callers with other credentials must not share an answer given to these.
        let key = format!(
            "{}|{}",
            target.whole(),
            credentials.map(|c| c.username.as_str()).unwrap_or("")
        );
        let work = async {
            let client = client_for(target.resolve_registry());
            let (manifest, manifest_digest) = client
                .pull_image_manifest(&target, &auth(credentials))
                .await
                .map_err(|e| classify(e, reference, target.resolve_registry(), credentials))?;
            let layer = component_layer(reference, &manifest)?;
            self.remember_manifest(&manifest_digest, &layer).await?;
            let present = self.blob_path(&layer.digest).is_some_and(|p| p.exists());
            Ok(Resolved {
                repository: repository.clone(),
                manifest_digest,
                layer,
                present,
            })
        };
        self.resolutions.run(&key, work).await.0
    }

    /// The component's bytes: from disk, else downloaded (once, however many ask at once),
    /// checked against the layer digest and kept.
    pub async fn fetch(
        &self,
        reference: &str,
        credentials: Option<&Credentials>,
        resolved: &Resolved,
    ) -> Result<Fetched, Error> {
        let digest = resolved.layer.digest.clone();
        let path = self.blob_path(&digest).ok_or_else(|| Error::Other {
            image: reference.to_string(),
            cause: format!("the layer digest '{digest}' is not a sha256 digest"),
        })?;
        let read = |path: PathBuf| async move {
            tokio::fs::read(&path)
                .await
                .map(Arc::from)
                .map_err(|e| Error::Disk(format!("reading {}: {e}", path.display())))
        };
        if path.exists() {
            return Ok(Fetched {
                bytes: read(path).await?,
                digest,
                downloaded_here: false,
            });
        }
        // Those who wait on another's download get its bytes, not a second read of the file.
        let work = async {
            if path.exists() {
                return read(path.clone()).await;
            }
            let target = parse(reference)?.clone_with_digest(resolved.manifest_digest.clone());
            let client = client_for(target.resolve_registry());
            client
                .store_auth_if_needed(target.resolve_registry(), &auth(credentials))
                .await;
            let mut bytes = Vec::with_capacity(resolved.layer.size.max(0) as usize);
            client
                .pull_blob(&target, &resolved.layer, &mut bytes)
                .await
                .map_err(|e| classify(e, reference, target.resolve_registry(), credentials))?;
            check_component(reference, &bytes)?;
            write_atomically(&path, &bytes).await?;
            Ok(Arc::from(bytes))
        };
        let (bytes, downloaded_here) = self.downloads.run(&digest, work).await;
        Ok(Fetched {
            bytes: bytes?,
            digest,
            downloaded_here,
        })
    }

    async fn known_manifest(&self, digest: &str) -> Option<OciDescriptor> {
        let path = self.manifest_path(digest)?;
        let text = tokio::fs::read(path).await.ok()?;
        serde_json::from_slice(&text).ok()
    }

    async fn remember_manifest(&self, digest: &str, layer: &OciDescriptor) -> Result<(), Error> {
        let Some(path) = self.manifest_path(digest) else {
            return Ok(());
        };
        let text = serde_json::to_vec(layer).map_err(|e| Error::Disk(e.to_string()))?;
        write_atomically(&path, &text).await
    }
}

async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension(format!("tmp{}", uuid::Uuid::new_v4().simple()));
    let r = async {
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, path).await
    }
    .await;
    if r.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    r.map_err(|e| Error::Disk(format!("writing {}: {e}", path.display())))
}

/// A content digest as OCI writes it (`sha256:<hex>`): how blobs are named here, and how
/// the runtime keys compiled code.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}
