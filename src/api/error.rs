//! The error every HTTP route answers with: a status and `{"code","message"}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::error_code::{ErrorCode, EventError};

/// An HTTP error: status, a stable code, and a message saying what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// A stable machine-readable code, such as `INVALID_PAYLOAD`.
    pub code: &'static str,
    /// What was wrong and what to do.
    pub message: String,
}

impl ApiError {
    /// 400 with code `INVALID_PAYLOAD`.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError {
            status: 400,
            code: "INVALID_PAYLOAD",
            message: message.into(),
        }
    }

    /// 503 with code `UNAVAILABLE`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError {
            status: 503,
            code: "UNAVAILABLE",
            message: message.into(),
        }
    }

    /// 401 with code `UNAUTHORIZED`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError {
            status: 401,
            code: "UNAUTHORIZED",
            message: message.into(),
        }
    }

    /// 404 with code `NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: 404,
            code: "NOT_FOUND",
            message: message.into(),
        }
    }

    /// 405 with code `METHOD_NOT_ALLOWED`.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        ApiError {
            status: 405,
            code: "METHOD_NOT_ALLOWED",
            message: message.into(),
        }
    }

    /// 413 with code `PAYLOAD_TOO_LARGE`.
    pub fn too_large(message: impl Into<String>) -> Self {
        ApiError {
            status: 413,
            code: "PAYLOAD_TOO_LARGE",
            message: message.into(),
        }
    }
}

impl From<EventError> for ApiError {
    /// A refusal of a read shared with the built-ins (presence, history) as HTTP: what the
    /// client asked wrong keeps its code (400, 401, 403, 404, 413, 429), anything else is
    /// 503 `UNAVAILABLE`.
    fn from(e: EventError) -> Self {
        let status = match e.code {
            ErrorCode::InvalidPayload => 400,
            ErrorCode::AuthRequired => 401,
            ErrorCode::PermissionDenied => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::RateLimitExceeded => 429,
            _ => return ApiError::unavailable(e.message),
        };
        ApiError {
            status,
            code: e.code.as_str(),
            message: e.message,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        siohub_actors::limited!(
            info,
            "HTTP {} {}: {}",
            self.status,
            self.code,
            siohub_actors::ClientText(&self.message)
        );
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({ "code": self.code, "message": self.message }))
    }
}
