//! The one error type of the control API: chooses the HTTP status and ARM code of every
//! failure (bad input, the domain layer's and the store's errors), and renders
//! `{"error":{"code","message"}}` through `render::ErrorResponse`. Nothing else chooses the
//! control API's statuses; the data plane (front door, group ports) answers guests' HTTP
//! with statuses of its own, named where they are chosen.

use super::render::{ErrorDetail, ErrorResponse};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn not_found(kind: &str, name: &str, rg: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!("The Resource '{kind}/{name}' under resource group '{rg}' was not found."),
        )
    }
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "The platform failed to complete the request; it has been logged.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorResponse {
            error: ErrorDetail {
                code: &self.code,
                message: &self.message,
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<crate::model::parse::FieldError> for ApiError {
    fn from(e: crate::model::parse::FieldError) -> Self {
        ApiError::bad_request(e.code, format!("{} (field '{}')", e.message, e.field))
    }
}

impl From<crate::groups::Error> for ApiError {
    fn from(e: crate::groups::Error) -> Self {
        use crate::groups::Error::*;
        match e {
            GroupNotFound {
                resource_group,
                name,
            } => ApiError::not_found(
                &format!("{}/containerGroups", crate::groups::PROVIDER),
                &name,
                &resource_group,
            ),
            ResourceGroupNotFound(name) => ApiError::new(
                StatusCode::NOT_FOUND,
                "ResourceGroupNotFound",
                format!("Resource group '{name}' could not be found."),
            ),
            OperationNotFound(id) => ApiError::new(
                StatusCode::NOT_FOUND,
                "OperationNotFound",
                format!("The operation '{id}' was not found."),
            ),
            ContainerNotFound { group, container } => ApiError::new(
                StatusCode::NOT_FOUND,
                "ContainerNotFound",
                format!("The container '{container}' was not found in container group '{group}'."),
            ),
            e @ ExecRefused { .. } => {
                let text = e.to_string();
                let mut message = text[..1].to_uppercase() + &text[1..];
                message.push('.');
                ApiError::new(StatusCode::CONFLICT, "ContainerNotRunning", message)
            }
            Exec(e @ crate::runtime::exec::ExecError::OwnImageIsService(..)) => {
                ApiError::bad_request("InvalidRequestContent", format!("{e} (field 'command')."))
            }
            Exec(e) => ApiError::internal(e),
            InaccessibleImage { image, why } => ApiError::bad_request(
                "InaccessibleImage",
                format!(
                    "The image '{image}' is not accessible: {why}. Please check the image and registry credential."
                ),
            ),
            Store(e) => e.into(),
        }
    }
}

impl From<crate::store::Error> for ApiError {
    fn from(e: crate::store::Error) -> Self {
        use crate::store::Error::*;
        match e {
            LabelTaken { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "DnsNameLabelNotAvailable",
                e.to_string(),
            ),
            QuotaReached { limit } => ApiError::new(
                StatusCode::CONFLICT,
                "ContainerGroupQuotaReached",
                format!(
                    "The subscription has reached its quota of {limit} container groups. Delete a container group, or raise the quota with `waci serve --max-groups-per-subscription`."
                ),
            ),
            PoolExhausted => ApiError::new(
                StatusCode::CONFLICT,
                "IpAddressPoolExhausted",
                "Every address of the platform's IP pool is in use; delete a container group or widen --ip-pool.",
            ),
            other => ApiError::internal(other),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
