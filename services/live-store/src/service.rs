//! The gRPC service: check the batch, apply it, acknowledge.

use std::time::Instant;

use live_proto::v1::live_store_server::LiveStore;
use live_proto::v1::{ApplyBatchRequest, ApplyBatchResponse};
use prometheus::IntCounterVec;
use service_kit::metrics::Metrics;
use tonic::{Request, Response, Status};

use crate::aggregates::{Aggregates, Countable, Position};

/// The route label of the one method, as Linkerd would name it.
pub const APPLY_BATCH_ROUTE: &str = "/usactar.live.v1.LiveStore/ApplyBatch";

/// Largest batch accepted; live-forwarder sends far fewer.
pub const MAX_BATCH: usize = 10_000;

pub struct LiveStoreService {
    aggregates: Aggregates,
    metrics: Metrics,
    predictions: IntCounterVec,
}

impl LiveStoreService {
    pub fn new(aggregates: Aggregates, metrics: Metrics) -> Self {
        let predictions = metrics.counter(
            "live_predictions_total",
            "Predictions received by outcome: applied (counted) or duplicate (already counted)",
            &["outcome"],
        );
        LiveStoreService {
            aggregates,
            metrics,
            predictions,
        }
    }
}

#[tonic::async_trait]
impl LiveStore for LiveStoreService {
    async fn apply_batch(
        &self,
        request: Request<ApplyBatchRequest>,
    ) -> Result<Response<ApplyBatchResponse>, Status> {
        let started = Instant::now();
        let result = self.apply(request.into_inner()).await;
        let status = match &result {
            Ok(_) => "OK".to_string(),
            Err(s) => format!("{:?}", s.code()),
        };
        self.metrics.observe(APPLY_BATCH_ROUTE, &status, started);
        result.map(Response::new)
    }
}

impl LiveStoreService {
    async fn apply(&self, batch: ApplyBatchRequest) -> Result<ApplyBatchResponse, Status> {
        if batch.predictions.len() > MAX_BATCH {
            return Err(Status::invalid_argument(format!(
                "at most {MAX_BATCH} predictions per batch, got {}",
                batch.predictions.len()
            )));
        }
        // Ingest validated these; check again at this boundary so that nothing malformed can
        // become a Redis key.
        let mut countable = Vec::with_capacity(batch.predictions.len());
        for (i, p) in batch.predictions.into_iter().enumerate() {
            if p.id.is_empty() {
                return Err(Status::invalid_argument(format!(
                    "predictions[{i}].id is empty"
                )));
            }
            let prediction = model::Prediction {
                team1: p.team1,
                team2: p.team2,
                score: p.score,
                phase: u8::try_from(p.phase).unwrap_or(0),
            };
            model::validate(&prediction)
                .map_err(|e| Status::invalid_argument(format!("predictions[{i}]: {e}")))?;
            let position = match (p.partition, p.offset) {
                (None, None) => None,
                (Some(partition), Some(offset))
                    if partition >= 0 && offset >= 0 && !batch.topic.is_empty() =>
                {
                    Some(Position { partition, offset })
                }
                _ => {
                    return Err(Status::invalid_argument(format!(
                        "predictions[{i}]: a position needs the topic, a partition and an offset, none negative"
                    )))
                }
            };
            countable.push(Countable {
                id: p.id,
                prediction,
                received_at_ms: p.received_at_ms,
                position,
            });
        }
        let applied = self
            .aggregates
            .apply(&batch.topic, &countable)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "Redis refused the batch");
                Status::unavailable(format!("Redis: {e}"))
            })?;
        self.predictions
            .with_label_values(&["applied"])
            .inc_by(applied.applied as u64);
        self.predictions
            .with_label_values(&["duplicate"])
            .inc_by(applied.duplicates as u64);
        Ok(ApplyBatchResponse {
            applied: applied.applied,
            duplicates: applied.duplicates,
        })
    }
}
