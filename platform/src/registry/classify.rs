//! What a registry's answer means for a user: the component layer of a manifest (or why
//! there is none), and a client error turned into the failure a user can act on (401, not
//! found, unreachable, not a component).

use super::*;

/// The component layer of a manifest: the `application/wasm` one.
pub(super) fn component_layer(
    image: &str,
    manifest: &OciImageManifest,
) -> Result<OciDescriptor, Error> {
    let layer = manifest
        .layers
        .iter()
        .find(|l| l.media_type == WASM_LAYER || OLDER_WASM_LAYERS.contains(&l.media_type.as_str()))
        .cloned()
        .ok_or_else(|| Error::NotAComponent {
            image: image.to_string(),
            why: format!(
                "it has no {WASM_LAYER} layer (its layers are: {})",
                if manifest.layers.is_empty() {
                    "none".to_string()
                } else {
                    manifest
                        .layers
                        .iter()
                        .map(|l| l.media_type.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        })?;
    if layer.size > MAX_IMAGE_BYTES {
        return Err(Error::TooLarge {
            image: image.to_string(),
            size: layer.size,
            max: MAX_IMAGE_BYTES,
        });
    }
    Ok(layer)
}

/// Turns the client's error into one that says which of the failures of DESIGN.md §4 it is.
pub(super) fn classify(
    e: OciDistributionError,
    image: &str,
    registry: &str,
    credentials: Option<&Credentials>,
) -> Error {
    let unauthorized = || Error::Unauthorized {
        registry: registry.to_string(),
        image: image.to_string(),
        hint: if credentials.is_some() {
            "the username or password is wrong"
        } else {
            "it needs credentials (imageRegistryCredentials, or --registry-username and --registry-password)"
        },
    };
    match e {
        OciDistributionError::AuthenticationFailure(_)
        | OciDistributionError::UnauthorizedError { .. } => unauthorized(),
        OciDistributionError::ImageManifestNotFoundError(_) => Error::NotFound(image.to_string()),
        OciDistributionError::ServerError { code, .. } if code == 401 || code == 403 => {
            unauthorized()
        }
        OciDistributionError::ServerError { code: 404, .. } => Error::NotFound(image.to_string()),
        OciDistributionError::RegistryError { envelope, .. } => {
            match envelope.errors.first().map(|e| &e.code) {
                Some(OciErrorCode::Unauthorized | OciErrorCode::Denied) => unauthorized(),
                Some(
                    OciErrorCode::ManifestUnknown
                    | OciErrorCode::NameUnknown
                    | OciErrorCode::NotFound,
                ) => Error::NotFound(image.to_string()),
                _ => Error::Other {
                    image: image.to_string(),
                    cause: envelope.to_string(),
                },
            }
        }
        OciDistributionError::RequestError(r) => {
            if let Some(status) = r.status() {
                match status.as_u16() {
                    401 | 403 => return unauthorized(),
                    404 => return Error::NotFound(image.to_string()),
                    _ => {}
                }
            }
            if r.is_connect() || r.is_timeout() {
                let mut cause = r.to_string();
                let mut source = std::error::Error::source(&r);
                while let Some(s) = source {
                    cause = s.to_string();
                    source = s.source();
                }
                Error::Unreachable {
                    registry: registry.to_string(),
                    cause,
                }
            } else {
                Error::Other {
                    image: image.to_string(),
                    cause: r.to_string(),
                }
            }
        }
        other => Error::Other {
            image: image.to_string(),
            cause: other.to_string(),
        },
    }
}
