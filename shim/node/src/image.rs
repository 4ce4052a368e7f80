//! OCI image archives written by the test, for `ctr images import`: one uncompressed tar
//! layer with the given files, a config with the entrypoint, a manifest, and an
//! `index.json` naming the image (`io.containerd.image.name`).

use sha2::{Digest, Sha256};

pub struct Image<'a> {
    /// The full reference containerd stores it under, e.g. `docker.io/waci/hello-cli:test`.
    pub name: &'a str,
    /// `os`/`architecture` of the config: `linux`/`amd64` for a native program, `wasip2`/`wasm`
    /// for a component.
    pub platform: (&'a str, &'a str),
    pub entrypoint: &'a [&'a str],
    /// Path in the image, contents, mode; a path ending in `/` is a directory.
    pub files: Vec<(&'a str, Vec<u8>, u32)>,
}

/// The image of a component: `file` (`name.wasm`) in an ordinary tar layer, config
/// `wasip2`/`wasm`, with `entrypoint` (`["/name.wasm"]`), as Debian's containerd 1.6 can
/// unpack it (it cannot unpack an `application/wasm` layer).
pub fn wasm_image<'a>(
    reference: &'a str,
    file: &'a str,
    entrypoint: &'a [&'a str],
    component: Vec<u8>,
) -> Image<'a> {
    Image {
        name: reference,
        platform: ("wasip2", "wasm"),
        entrypoint,
        files: vec![(file, component, 0o644)],
    }
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn tar_of(files: &[(&str, Vec<u8>, u32)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, bytes, mode) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(0);
        // A path ending in `/` is a directory.
        header.set_entry_type(if path.ends_with('/') {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        tar.append_data(&mut header, path, bytes.as_slice())
            .expect("tar entry");
    }
    tar.into_inner().expect("tar")
}

fn descriptor(media_type: &str, bytes: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "mediaType": media_type,
        "digest": format!("sha256:{}", sha256(bytes)),
        "size": bytes.len(),
    })
}

impl Image<'_> {
    /// The image as an OCI layout archive.
    pub fn archive(&self) -> Vec<u8> {
        let layer = tar_of(&self.files);
        let (os, architecture) = self.platform;
        let config = serde_json::to_vec(&serde_json::json!({
            "os": os,
            "architecture": architecture,
            "config": {
                "Entrypoint": self.entrypoint,
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            },
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256(&layer))]},
        }))
        .expect("config");
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", &layer)],
        }))
        .expect("manifest");
        let mut top = descriptor("application/vnd.oci.image.manifest.v1+json", &manifest);
        top["annotations"] = serde_json::json!({
            "io.containerd.image.name": self.name,
            "org.opencontainers.image.ref.name": self.name.rsplit(':').next(),
        });
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [top],
        }))
        .expect("index");
        let blob = |bytes: &[u8]| {
            (
                format!("blobs/sha256/{}", sha256(bytes)),
                bytes.to_vec(),
                0o644,
            )
        };
        let layout = br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec();
        let (path_l, l, _) = blob(&layer);
        let (path_c, c, _) = blob(&config);
        let (path_m, m, _) = blob(&manifest);
        tar_of(&[
            ("oci-layout", layout, 0o644),
            ("index.json", index, 0o644),
            (&path_l, l, 0o644),
            (&path_c, c, 0o644),
            (&path_m, m, 0o644),
        ])
    }
}
