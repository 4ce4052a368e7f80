//! Request bodies: read whole up to a limit, with ARM-shaped errors for bodies too large
//! (413) or unreadable (400), so no rejection of the framework leaks out in another shape.

use super::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;

/// Largest request body: a group of 60 containers with env, secrets and volumes is far
/// smaller; anything bigger is a mistake or an attack.
pub const MAX_BODY_BYTES: usize = 1 << 20;

pub struct ArmBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ArmBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        // A body announced too large is refused before a byte of it is read.
        let announced = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if announced.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(too_large());
        }
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(ArmBody(b)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large()),
            Err(e) => Err(ApiError::bad_request(
                "InvalidRequestContent",
                format!("The request body could not be read: {}", e.body_text()),
            )),
        }
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        format!("The request body is larger than the limit of {MAX_BODY_BYTES} bytes."),
    )
}

/// Parses a JSON request body, or says why it cannot be read (ARM's `InvalidRequestContent`).
pub fn json_body(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: the body is empty; a JSON object is required.",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "InvalidRequestContent",
            format!("The request content was invalid and could not be deserialized: {e}."),
        )
    })
}
