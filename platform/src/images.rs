//! Images: turns an `image` reference into component bytes and a content digest
//! (DESIGN.md §4). `waci/<name>` is a component built into the binary; a path is a local
//! file; anything else is an OCI reference, pulled by [`crate::registry`].
//! This module knows neither wasmtime nor the store.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

/// The quickstart images, built from `guests/` by build.rs.
const BUILT_IN: &[(&str, &[u8])] = &[
    (
        "hello-http",
        include_bytes!(concat!(env!("WACI_GUESTS_DIR"), "/hello-http.wasm")),
    ),
    (
        "hello-cli",
        include_bytes!(concat!(env!("WACI_GUESTS_DIR"), "/hello-cli.wasm")),
    ),
    (
        "toolbox",
        include_bytes!(concat!(env!("WACI_GUESTS_DIR"), "/toolbox.wasm")),
    ),
];

/// What each quickstart image does (every built-in but the toolbox), in a line, and the port a service of it is usually
/// opened on (`None`: a command, which needs no port). The portal offers these.
const BUILT_IN_SUMMARIES: &[(&str, &str, Option<u16>)] = &[
    (
        "hello-http",
        "A web service: answers HTTP with a welcome page and logs one line per request.",
        Some(80),
    ),
    (
        "hello-cli",
        "A command: prints its arguments and environment, then exits.",
        None,
    ),
];

/// The built-in image exec runs commands from (a small shell and file tools).
pub const TOOLBOX: &str = "waci/toolbox";

/// Where build.rs left every guest component (tests run the misbehaving ones from here).
pub const GUESTS_DIR: &str = env!("WACI_GUESTS_DIR");

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("image '{0}' is not a built-in image; built-in images are: {1}")]
    UnknownBuiltIn(String, String),
    #[error("image '{0}' cannot be read: {1}")]
    Unreadable(String, String),
    #[error(
        "image '{0}' is neither a built-in image (waci/<name>), a path to a .wasm file, nor a valid registry reference (registry/repository:tag or @sha256:digest): {1}"
    )]
    InvalidReference(String, String),
    #[error("image '{0}' is in a registry: it is pulled, not read")]
    InRegistry(String),
}

/// A resolved image: its bytes and `sha256:<hex>` digest.
#[derive(Clone)]
pub struct Image {
    pub reference: String,
    pub bytes: Arc<[u8]>,
    pub digest: String,
    /// How it was found, for the `Pulled` event ("built in", "file /x.wasm").
    pub source: String,
}

enum Kind<'a> {
    BuiltIn(&'a str),
    Path(PathBuf),
    Registry,
}

/// Whether `reference` names a local file (rather than a built-in or a registry image).
/// The CLI uses the same rule to make relative paths absolute before sending them.
pub fn is_file_reference(reference: &str) -> bool {
    !reference.starts_with("waci/")
        && (reference.starts_with('/')
            || reference.starts_with("./")
            || reference.starts_with("../")
            || reference.ends_with(".wasm"))
}

fn kind(reference: &str) -> Result<Kind<'_>, Error> {
    if let Some(name) = reference.strip_prefix("waci/") {
        return Ok(Kind::BuiltIn(name));
    }
    if is_file_reference(reference) {
        return Ok(Kind::Path(PathBuf::from(reference)));
    }
    Ok(Kind::Registry)
}

/// Whether `reference` names an image built into the binary (`waci/<name>`).
pub fn is_built_in(reference: &str) -> bool {
    matches!(kind(reference), Ok(Kind::BuiltIn(_)))
}

/// Whether `reference` names an image in an OCI registry (neither built in nor a file).
pub fn is_registry_reference(reference: &str) -> bool {
    matches!(kind(reference), Ok(Kind::Registry))
}

fn built_in_names() -> String {
    BUILT_IN
        .iter()
        .map(|(n, _)| format!("waci/{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Names of the built-in images, for listings (`waci/hello-http`, ...).
pub fn built_ins() -> Vec<String> {
    BUILT_IN.iter().map(|(n, _)| format!("waci/{n}")).collect()
}

/// A quickstart image as a listing shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltIn {
    /// The reference that names it (`waci/hello-http`).
    pub reference: String,
    pub summary: &'static str,
    /// The port a service of it is usually opened on; `None` for a command.
    pub port: Option<u16>,
}

/// The quickstart images with what each does, in the order they are offered. The toolbox
/// is built in for exec and can run as a command, but is no quickstart.
pub fn built_in_images() -> Vec<BuiltIn> {
    BUILT_IN_SUMMARIES
        .iter()
        .map(|(name, summary, port)| BuiltIn {
            reference: format!("waci/{name}"),
            summary,
            port: *port,
        })
        .collect()
}

/// Cheap check at the API boundary: would `resolve` find this image?
pub fn check(reference: &str) -> Result<(), Error> {
    match kind(reference)? {
        Kind::BuiltIn(name) => BUILT_IN
            .iter()
            .any(|(n, _)| *n == name)
            .then_some(())
            .ok_or_else(|| Error::UnknownBuiltIn(reference.into(), built_in_names())),
        Kind::Path(p) => match std::fs::metadata(&p) {
            Ok(m) if m.is_file() => Ok(()),
            Ok(_) => Err(Error::Unreadable(
                reference.into(),
                "it is not a file".into(),
            )),
            Err(e) => Err(Error::Unreadable(reference.into(), e.to_string())),
        },
        Kind::Registry => crate::registry::parse(reference)
            .map(|_| ())
            .map_err(|e| match e {
                crate::registry::Error::InvalidReference(_, why) => {
                    Error::InvalidReference(reference.into(), why)
                }
                other => Error::InvalidReference(reference.into(), other.to_string()),
            }),
    }
}

/// Reads an image. For a file it blocks (I/O and hashing): call it from a blocking thread.
/// A built-in's bytes are in the binary and its digest is computed once.
pub fn resolve(reference: &str) -> Result<Image, Error> {
    // Each built-in's bytes (shared, not copied per start) and digest, made once.
    static BUILT_INS: OnceLock<Vec<(Arc<[u8]>, String)>> = OnceLock::new();
    match kind(reference)? {
        Kind::BuiltIn(name) => {
            let i = BUILT_IN
                .iter()
                .position(|(n, _)| *n == name)
                .ok_or_else(|| Error::UnknownBuiltIn(reference.into(), built_in_names()))?;
            let built_ins = BUILT_INS.get_or_init(|| {
                BUILT_IN
                    .iter()
                    .map(|(_, b)| (Arc::from(*b), digest(b)))
                    .collect()
            });
            let (bytes, digest) = &built_ins[i];
            Ok(Image {
                reference: reference.into(),
                bytes: bytes.clone(),
                digest: digest.clone(),
                source: "built in".into(),
            })
        }
        Kind::Path(p) => {
            let before = Stamp::of(&p);
            let bytes = std::fs::read(&p)
                .map_err(|e| Error::Unreadable(reference.into(), e.to_string()))?;
            let digest = digest(&bytes);
            // Remembered only if the file did not change while it was read.
            if let Some(stamp) = before.filter(|s| Some(*s) == Stamp::of(&p)) {
                file_digests().insert(p.clone(), (stamp, digest.clone()));
            }
            Ok(Image {
                reference: reference.into(),
                digest,
                bytes: Arc::from(bytes),
                source: file_source(&p),
            })
        }
        Kind::Registry => Err(Error::InRegistry(reference.into())),
    }
}

pub use crate::registry::digest;

fn file_source(p: &Path) -> String {
    format!("file {}", p.display())
}

/// What tells a file's contents apart without reading them, as make and cargo judge
/// freshness: its size, modification time, device and inode. Writing a file changes its
/// modification time; replacing it (a build's write-then-rename) changes its inode.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: SystemTime,
    dev: u64,
    ino: u64,
}

impl Stamp {
    fn of(p: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(p).ok()?;
        Some(Stamp {
            len: m.len(),
            modified: m.modified().ok()?,
            dev: m.dev(),
            ino: m.ino(),
        })
    }
}

/// Each file image's digest as last read, by path, with the file's stamp then.
fn file_digests() -> std::sync::MutexGuard<'static, HashMap<PathBuf, (Stamp, String)>> {
    static FILE_DIGESTS: OnceLock<Mutex<HashMap<PathBuf, (Stamp, String)>>> = OnceLock::new();
    FILE_DIGESTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// A file image known without reading it: its digest when [`resolve`] last read it, its
/// size, and where it is, for the `Pulled` event.
pub struct KnownFile {
    pub digest: String,
    pub len: u64,
    pub source: String,
}

/// The digest of file image `reference` as [`resolve`] last read it, if the file is
/// unchanged since (one `stat`, no read): a start whose compiled code is already loaded
/// needs nothing more. `None` for a file never read or changed since, and for any other
/// kind of image.
pub fn known_file(reference: &str) -> Option<KnownFile> {
    let Ok(Kind::Path(p)) = kind(reference) else {
        return None;
    };
    let stamp = Stamp::of(&p)?;
    let digests = file_digests();
    let (known, digest) = digests.get(&p)?;
    (*known == stamp).then(|| KnownFile {
        digest: digest.clone(),
        len: stamp.len,
        source: file_source(&p),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_but_the_toolbox_is_a_quickstart_and_says_what_it_does() {
        let images = built_in_images();
        let mut quickstarts = built_ins();
        quickstarts.retain(|b| b != TOOLBOX);
        assert_eq!(
            images
                .iter()
                .map(|b| b.reference.clone())
                .collect::<Vec<_>>(),
            quickstarts
        );
        for b in &images {
            assert!(!b.summary.is_empty(), "{} has no summary", b.reference);
        }
        let http = images.iter().find(|b| b.reference == "waci/hello-http");
        assert_eq!(http.and_then(|b| b.port), Some(80));
    }

    #[test]
    fn a_file_s_digest_is_known_until_the_file_changes() {
        let dir = std::env::temp_dir().join(format!("waci-images-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("app.wasm");
        let reference = file.to_str().unwrap().to_string();
        std::fs::write(&file, b"first contents").unwrap();
        assert!(known_file(&reference).is_none(), "never read");

        let first = resolve(&reference).unwrap();
        let known = known_file(&reference).expect("known once read");
        assert_eq!(known.digest, first.digest);
        assert_eq!(known.len, 14);

        // Rewritten in place (its modification time changes), then replaced (its inode).
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&file, b"second contents").unwrap();
        assert!(known_file(&reference).is_none(), "changed in place");
        let second = resolve(&reference).unwrap();
        assert_ne!(second.digest, first.digest);
        let tmp = dir.join("app.wasm.new");
        std::fs::write(&tmp, b"third contents!").unwrap();
        std::fs::rename(&tmp, &file).unwrap();
        assert!(known_file(&reference).is_none(), "replaced");
        assert!(known_file("waci/hello-http").is_none());
        std::fs::remove_dir_all(&dir).ok();
    }
}
