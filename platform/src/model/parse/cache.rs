//! The body of `POST .../locations/{l}/cachedImages`, waci's addition to ACI's read-only list:
//! `image`, the reference to compile ahead of any group, and `imageRegistryCredentials`, in
//! the container group's shape, for a private registry. Nothing else is taken.

use super::{At, FieldError, Res, invalid, parts};
use crate::model::RegistryCredential;
use serde_json::Value;

/// An image to pull and compile now, so that a group of it starts warm.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageToCache {
    pub image: String,
    pub registry_credentials: Vec<RegistryCredential>,
}

pub fn image_to_cache(
    body: &Value,
    image_ok: &dyn Fn(&str) -> Result<(), String>,
) -> Res<ImageToCache> {
    let root = At::root(body, "")?;
    if let Some(k) = root.map.keys().find(|k| {
        !["image", "imageRegistryCredentials"]
            .iter()
            .any(|a| k.eq_ignore_ascii_case(a))
    }) {
        return Err(invalid(
            k,
            format!(
                "'{k}' is not a property of an image to cache; it takes 'image' and 'imageRegistryCredentials'."
            ),
        ));
    }
    let image = root.required_str("image")?.trim();
    image_ok(image).map_err(|m| FieldError {
        code: "InvalidImage",
        field: "image".into(),
        message: m,
    })?;
    Ok(ImageToCache {
        image: image.to_string(),
        registry_credentials: parts::registry_credentials(&root)?,
    })
}
