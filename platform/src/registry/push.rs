//! `waci image push`: a component pushed in the CNCF Wasm OCI artifact layout, straight to
//! its registry.

use super::*;

/// What a push left in the registry.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// `registry/repository@sha256:...`: the reference that names exactly these bits.
    pub pinned: String,
    pub manifest_digest: String,
    pub layer_digest: String,
    pub size: usize,
}

/// Pushes a component to `reference` in the CNCF Wasm OCI artifact layout.
pub async fn push(
    bytes: Vec<u8>,
    reference: &str,
    credentials: Option<&Credentials>,
) -> Result<Pushed, Error> {
    let target = parse(reference)?;
    check_component(reference, &bytes)?;
    let size = bytes.len();
    let layer_digest = digest(&bytes);
    let config = serde_json::json!({
        "created": crate::model::now_rfc3339(),
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer_digest],
    });
    let config = Config::new(
        serde_json::to_vec(&config).map_err(|e| Error::Disk(e.to_string()))?,
        WASM_CONFIG.to_string(),
        None,
    );
    let layers = [ImageLayer::new(bytes, WASM_LAYER.to_string(), None)];
    let registry = target.resolve_registry().to_string();
    let client = client_for(&registry);
    let auth = auth(credentials);
    let fail = |e| classify(e, reference, &registry, credentials);
    client
        .push(&target, &layers, config, &auth, None)
        .await
        .map_err(fail)?;
    let manifest_digest = client
        .fetch_manifest_digest(&target, &auth)
        .await
        .map_err(fail)?;
    Ok(Pushed {
        pinned: format!(
            "{}/{}@{}",
            target.registry(),
            target.repository(),
            manifest_digest
        ),
        manifest_digest,
        layer_digest,
        size,
    })
}
