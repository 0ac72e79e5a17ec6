//! The HTTP edge: `POST /input`, `GET /openapi.json`, and the errors clients see.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use model::{Accepted, Fixtures, Prediction};
use prometheus::IntCounterVec;
use serde::Serialize;
use service_kit::metrics::{track, Metrics};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::configuration::Settings;
use crate::decode::{decode, DecodeError};
use crate::kafka::{Kafka, ProduceError};

#[derive(Clone)]
pub struct AppState {
    pub kafka: Kafka,
    pub max_batch: usize,
    /// The matches that exist; `None`: any pair of valid team names.
    pub fixtures: Option<Arc<Fixtures>>,
    pub predictions: IntCounterVec,
    /// `GET /openapi.json`: the document narrowed to these settings ([`crate::openapi`]).
    pub openapi: Arc<str>,
}

impl AppState {
    pub fn new(
        kafka: Kafka,
        max_batch: usize,
        fixtures: Option<Arc<Fixtures>>,
        metrics: &Metrics,
    ) -> Self {
        AppState {
            openapi: crate::openapi::document(fixtures.as_deref(), max_batch).into(),
            kafka,
            max_batch,
            fixtures,
            predictions: metrics.counter(
                "predictions_total",
                "Predictions by outcome: accepted (on Kafka), rejected (4xx) or unavailable (503)",
                &["outcome"],
            ),
        }
    }
}

pub fn router(state: AppState, metrics: Metrics, settings: &Settings) -> Router {
    let limits = Limits::new(settings);
    Router::new()
        .route(
            "/input",
            post(input).layer(axum::middleware::from_fn_with_state(limits, admit)),
        )
        .route("/openapi.json", get(openapi))
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .route_layer(axum::middleware::from_fn_with_state(metrics, track))
        .layer(service_kit::telemetry::http_layer())
        .with_state(state)
}

/// How much `POST /input` work runs at once (H5). Excess is refused at once with 503 and
/// `Retry-After`, never queued: a queue would hold the connections and their buffers, and the
/// client's retry is cheaper than a wait whose end nobody knows.
#[derive(Clone)]
struct Limits {
    requests: Arc<Semaphore>,
    /// Permits are KiB of body.
    body_kib: Arc<Semaphore>,
    max_body_bytes: usize,
}

impl Limits {
    fn new(settings: &Settings) -> Self {
        Limits {
            requests: Arc::new(Semaphore::new(settings.max_concurrent_requests)),
            body_kib: Arc::new(Semaphore::new(kib(settings.max_inflight_body_bytes))),
            max_body_bytes: settings.max_body_bytes,
        }
    }
}

fn kib(bytes: usize) -> usize {
    bytes.div_ceil(1024).max(1)
}

/// Takes a request permit and the body's share of the byte budget before the body is read; both
/// are held until the answer is ready. A body without a declared length is charged the largest
/// one allowed (it may be that large).
async fn admit(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let Ok(_request_permit) = limits.requests.clone().try_acquire_owned() else {
        return overloaded("too many requests in flight").into_response();
    };
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.trim().parse::<usize>().ok())
        .unwrap_or(limits.max_body_bytes)
        .min(limits.max_body_bytes);
    let weight = u32::try_from(kib(declared)).unwrap_or(u32::MAX);
    let Ok(_body_permit) = limits.body_kib.clone().try_acquire_many_owned(weight) else {
        return overloaded("too many request bodies in flight").into_response();
    };
    next.run(request).await
}

fn overloaded(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        format!("{what}; retry later"),
    )
}

/// The `Idempotency-Key` header (M1), checked: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > 255 || !bytes.iter().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid header",
            format!(
                "must be 1 to 255 visible ASCII characters (no spaces), got {} bytes",
                bytes.len()
            ),
        )
        .field(IDEMPOTENCY_KEY));
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The namespace of ids derived from an `Idempotency-Key` (a fixed random UUID; changing it
/// would make a retry across the change land twice).
const IDEMPOTENCY_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b7e_94d3_4a4f_8e55_3c0b_d7a2_91e4);

/// The id of entry `index` of a request sent with `key`: a UUIDv5 of the key, the index and the
/// prediction itself. A retry of the same request gets the same ids, so both stores (idempotent
/// by id) count it once. The prediction is part of the name so that two clients that happen to
/// pick the same key for different predictions do not make one of them vanish as a "duplicate";
/// the same key with the same body is the same request, whoever sends it. These ids are not
/// time-ordered (UUIDv7 ones are).
pub fn derived_id(key: &str, index: usize, prediction: &Prediction) -> Uuid {
    let mut name = Vec::with_capacity(key.len() + 128);
    name.extend_from_slice(key.as_bytes());
    name.push(0);
    name.extend_from_slice(index.to_string().as_bytes());
    name.push(0);
    serde_json::to_writer(&mut name, prediction).expect("a prediction serializes");
    Uuid::new_v5(&IDEMPOTENCY_NAMESPACE, &name)
}

/// The 503 for a failed produce. The driver's words (broker addresses, librdkafka's internals)
/// go to the log, never to clients (L4); clients get a fixed sentence that says what to do.
fn unavailable(e: ProduceError) -> ApiError {
    tracing::warn!(error = %e, "could not produce");
    let reason = match e {
        ProduceError::Unavailable => "Kafka is unreachable; retry later",
        ProduceError::NotAcknowledged(..) => {
            "Kafka did not acknowledge every record in time; retry later"
        }
    };
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", reason)
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

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported media type",
        "the body must be JSON sent with Content-Type: application/json \
         (bodies of other types, forms included, are refused)",
    )
    .field("Content-Type")
}

async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/json")],
        state.openapi.to_string(),
    )
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
    // Only a declared JSON body is read (L3). A web page can make its visitors' browsers post a
    // form or text/plain to any site without asking; a JSON type needs a CORS preflight, which
    // ingest never grants. So a body that is not declared JSON is refused even if it is JSON:
    // `curl` needs `-H 'content-type: application/json'`.
    let media_type = headers
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("(not ASCII)"))
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let json = match media_type.as_deref() {
        Some("application/json") => true,
        Some(t) => t.starts_with("application/") && t.ends_with("+json"),
        None => false,
    };
    if !json {
        return Err(unsupported_media_type());
    }
    let idempotency_key = idempotency_key(headers)?;
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
    let predictions = decode(&body, state.max_batch).map_err(|e| match e {
        DecodeError::Syntax(reason) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid JSON", reason).field("(body)")
        }
        DecodeError::NotPredictions => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid prediction", e.to_string())
                .field("(body)")
        }
        DecodeError::Empty => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid batch", e.to_string()).field("(body)")
        }
        DecodeError::TooMany { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch too large",
            e.to_string(),
        )
        .field("(body)"),
        DecodeError::Invalid { index, error } => ApiError {
            index,
            ..ApiError::new(StatusCode::BAD_REQUEST, "invalid prediction", error.reason)
                .field(error.field)
        },
    })?;
    drop(body);
    if let Some(fixtures) = &state.fixtures {
        // Only matches of the list exist (H1): free team names would let anyone create
        // millions of matches that every reader of the live aggregates must then read.
        let single = predictions.len() == 1;
        for (i, p) in predictions.iter().enumerate() {
            if let Err(error) = fixtures.check(p) {
                return Err(ApiError {
                    index: (!single).then_some(i),
                    ..ApiError::new(StatusCode::BAD_REQUEST, "unknown match", error.reason)
                        .field(error.field)
                });
            }
        }
    }

    let records: Vec<Accepted> = match &idempotency_key {
        None => predictions.into_iter().map(Accepted::new).collect(),
        Some(key) => predictions
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let id = derived_id(key, i, &p);
                Accepted {
                    id,
                    ..Accepted::new(p)
                }
            })
            .collect(),
    };
    state.kafka.produce(&records).await.map_err(unavailable)?;
    Ok(Receipt {
        accepted: records.len(),
        ids: records.iter().map(|r| r.id).collect(),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_503_never_echoes_the_driver() {
        let driver = "Message production error: MessageTimedOut (Local: Message timed out) \
                      broker 10.0.0.7:9092/1";
        for e in [
            ProduceError::NotAcknowledged(Duration::from_secs(3), driver.into()),
            ProduceError::Unavailable,
        ] {
            let answer = serde_json::to_string(&unavailable(e)).unwrap();
            assert!(!answer.contains("MessageTimedOut"), "{answer}");
            assert!(!answer.contains("10.0.0.7"), "{answer}");
            assert!(answer.contains("retry later"), "{answer}");
        }
    }

    #[test]
    fn idempotency_keys_are_checked_and_ids_derived() {
        let headers = |v: &[u8]| {
            let mut h = HeaderMap::new();
            h.insert(
                IDEMPOTENCY_KEY,
                axum::http::HeaderValue::from_bytes(v).unwrap(),
            );
            h
        };
        assert_eq!(idempotency_key(&HeaderMap::new()).unwrap(), None);
        assert_eq!(
            idempotency_key(&headers(b"abc-123")).unwrap().as_deref(),
            Some("abc-123")
        );
        for bad in [&b""[..], &b"a b"[..], &b"\xc3\xa9"[..], &[b'k'; 256][..]] {
            let e = idempotency_key(&headers(bad)).unwrap_err();
            assert_eq!(
                (e.status, e.field.as_deref()),
                (StatusCode::BAD_REQUEST, Some(IDEMPOTENCY_KEY))
            );
        }
        assert!(idempotency_key(&headers(&[b'k'; 255])).is_ok());
        let p = Prediction {
            team1: "Qatar".into(),
            team2: "Ecuador".into(),
            score: "0-2".into(),
            phase: 1,
        };
        let id = derived_id("k", 0, &p);
        assert_eq!(id, derived_id("k", 0, &p), "deterministic");
        assert_eq!(id.get_version_num(), 5);
        assert_ne!(id, derived_id("k", 1, &p), "the position counts");
        assert_ne!(id, derived_id("k2", 0, &p), "the key counts");
        let other = Prediction {
            score: "0-3".into(),
            ..p.clone()
        };
        assert_ne!(id, derived_id("k", 0, &other), "the prediction counts");
    }
}
