//! The HTTP edge: `POST /input`, `GET /openapi.json`, and the errors clients see.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use model::{from_value, Accepted};
use prometheus::IntCounterVec;
use serde::Serialize;
use serde_json::Value;
use service_kit::metrics::{track, Metrics};
use uuid::Uuid;

use crate::kafka::{Kafka, ProduceError};

#[derive(Clone)]
pub struct AppState {
    pub kafka: Kafka,
    pub max_batch: usize,
    pub predictions: IntCounterVec,
}

impl AppState {
    pub fn new(kafka: Kafka, max_batch: usize, metrics: &Metrics) -> Self {
        AppState {
            kafka,
            max_batch,
            predictions: metrics.counter(
                "predictions_total",
                "Predictions by outcome: accepted (on Kafka), rejected (4xx) or unavailable (503)",
                &["outcome"],
            ),
        }
    }
}

pub fn router(state: AppState, metrics: Metrics, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/input", post(input))
        .route("/openapi.json", get(openapi))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .route_layer(axum::middleware::from_fn_with_state(metrics, track))
        .layer(service_kit::telemetry::http_layer())
        .with_state(state)
}

/// The 202 answer: the ids of the predictions now on Kafka, in the order they were sent.
#[derive(Debug, Serialize)]
pub struct Receipt {
    pub accepted: usize,
    pub ids: Vec<Uuid>,
}

/// What a client did wrong, or why ingest cannot take predictions now. Always JSON:
/// `{"error": "...", "field": "...", "reason": "...", "index": n}`.
#[derive(Debug, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    status: StatusCode,
    pub error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub reason: String,
    /// Position in the array, for a batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

impl ApiError {
    fn new(status: StatusCode, error: &'static str, reason: impl Into<String>) -> Self {
        ApiError {
            status,
            error,
            field: None,
            reason: reason.into(),
            index: None,
        }
    }

    fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response = (status, Json(self)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaType {
    Json,
    Undeclared,
    Other,
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported media type",
        "the body must be JSON (send it with Content-Type: application/json)",
    )
    .field("Content-Type")
}

async fn openapi() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], crate::OPENAPI)
}

async fn input(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Receipt>), ApiError> {
    let started = Instant::now();
    let result = accept(&state, &headers, body).await;
    let outcome = match &result {
        Ok(_) => "accepted",
        Err(e) if e.status == StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        Err(_) => "rejected",
    };
    let count = result.as_ref().map(|r| r.accepted).unwrap_or(1);
    state
        .predictions
        .with_label_values(&[outcome])
        .inc_by(count as u64);
    if let Err(e) = &result {
        if e.status.is_server_error() {
            tracing::warn!(reason = %e.reason, elapsed_ms = started.elapsed().as_millis() as u64, "refused");
        }
    }
    result.map(|receipt| (StatusCode::ACCEPTED, Json(receipt)))
}

async fn accept(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Receipt, ApiError> {
    let media_type = headers
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("(not ASCII)"))
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    // JSON is accepted as declared (application/json, or any +json type), and also without a
    // declaration or as curl's default form type, because `curl -d '{...}'` is how the seed and
    // most users try the API. Any other declared type is refused.
    let declared = match media_type.as_deref() {
        Some("application/json") => MediaType::Json,
        Some(t) if t.starts_with("application/") && t.ends_with("+json") => MediaType::Json,
        None | Some("application/x-www-form-urlencoded") => MediaType::Undeclared,
        Some(_) => MediaType::Other,
    };
    if declared == MediaType::Other {
        return Err(unsupported_media_type());
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body too large",
                "the body is over the size limit (see GET /openapi.json)",
            )
            .field("(body)")
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable body",
                rejection.body_text(),
            )
            .field("(body)")
        }
    })?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        if declared == MediaType::Undeclared {
            // Not declared as JSON and not JSON: the body is of another type.
            unsupported_media_type()
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid JSON", e.to_string()).field("(body)")
        }
    })?;
    let predictions = match &value {
        Value::Object(_) => vec![from_value(&value).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid prediction", e.reason).field(e.field)
        })?],
        Value::Array(items) => {
            if items.is_empty() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid batch",
                    "the array holds no prediction",
                )
                .field("(body)"));
            }
            if items.len() > state.max_batch {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "batch too large",
                    format!(
                        "at most {} predictions per request, got {}",
                        state.max_batch,
                        items.len()
                    ),
                )
                .field("(body)"));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    from_value(item).map_err(|e| ApiError {
                        index: Some(i),
                        ..ApiError::new(StatusCode::BAD_REQUEST, "invalid prediction", e.reason)
                            .field(e.field)
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid prediction",
                "the body must be a prediction object or an array of them",
            )
            .field("(body)"))
        }
    };

    let records: Vec<Accepted> = predictions.into_iter().map(Accepted::new).collect();
    state.kafka.produce(&records).await.map_err(|e| {
        let reason = match &e {
            ProduceError::Unavailable => "Kafka is unreachable; retry later".to_string(),
            other => other.to_string(),
        };
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", reason)
    })?;
    Ok(Receipt {
        accepted: records.len(),
        ids: records.iter().map(|r| r.id).collect(),
    })
}
