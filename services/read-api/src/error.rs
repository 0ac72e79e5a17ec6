//! Every failure the API answers with, as JSON `{"error": "...", "field": "..."}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    /// A query parameter the client got wrong: 400, naming it.
    #[error("{field}: {reason}")]
    BadParam { field: String, reason: String },
    /// Redis or MongoDB did not answer in time or failed: 503, so clients retry.
    #[error("{backend} is unavailable: {detail}")]
    Unavailable {
        backend: &'static str,
        detail: String,
    },
    #[error("purge is disabled: set USACTAR_ADMIN_TOKEN")]
    PurgeDisabled,
    #[error("purge needs the header Authorization: Bearer <admin token>")]
    Unauthorized,
    /// Too many failed purge attempts in a row: wait a second.
    #[error("too many failed purge attempts; retry in a second")]
    TooManyAttempts,
}

impl AppError {
    pub fn bad(field: &str, reason: impl Into<String>) -> Self {
        AppError::BadParam {
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    /// What a client is told: everything but a backend's own error, which names hosts, ports
    /// and driver internals; that goes to the log.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Unavailable { backend, .. } => {
                format!("{backend} is unavailable; retry shortly")
            }
            other => other.to_string(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadParam { .. } => StatusCode::BAD_REQUEST,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::PurgeDisabled => StatusCode::FORBIDDEN,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let AppError::Unavailable { backend, detail } = &self {
            tracing::warn!(backend, detail, "backend unavailable");
        }
        let field = match &self {
            AppError::BadParam { field, .. } => Some(field.as_str()),
            _ => None,
        };
        let body = Body {
            error: self.public_message(),
            field,
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// Bounds a backend call: a slow or dead server becomes a 503, never a hung request.
pub async fn bounded<T, E: std::fmt::Display>(
    backend: &'static str,
    limit: std::time::Duration,
    call: impl std::future::IntoFuture<Output = Result<T, E>>,
) -> Result<T, AppError> {
    match tokio::time::timeout(limit, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(AppError::Unavailable {
            backend,
            detail: e.to_string(),
        }),
        Err(_) => Err(AppError::Unavailable {
            backend,
            detail: format!("no answer within {limit:?}"),
        }),
    }
}
