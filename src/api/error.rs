//! The error every HTTP route answers with: a status and `{"code","message"}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

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
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        log::info!("HTTP {} {}: {}", self.status, self.code, self.message);
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({ "code": self.code, "message": self.message }))
    }
}
