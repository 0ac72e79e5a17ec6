//! live-forwarder's sink: ApplyBatch over gRPC to live-store, with a deadline per call.

use std::time::Duration;

use live_proto::v1::live_store_client::LiveStoreClient;
use live_proto::v1::{ApplyBatchRequest, Prediction};
use tonic::transport::{Channel, Endpoint};

use crate::configuration::LiveStoreEndpoint;
use crate::pipeline::{Record, Sink, WriteError};

pub struct GrpcSink {
    client: LiveStoreClient<Channel>,
    deadline: Duration,
    /// The topic the records come from: with each record's partition and offset, what
    /// live-store counts exactly once by.
    topic: String,
}

impl GrpcSink {
    /// Connects lazily: live-store may be down (or the link slow) when the pod starts.
    pub fn new(endpoint: &LiveStoreEndpoint, topic: &str) -> Result<Self, tonic::transport::Error> {
        let channel = Endpoint::from_shared(endpoint.url.clone())?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .connect_lazy();
        Ok(GrpcSink {
            client: LiveStoreClient::new(channel),
            deadline: endpoint.deadline,
            topic: topic.to_string(),
        })
    }
}

pub fn to_proto(record: &Record) -> Prediction {
    let p = &record.prediction;
    Prediction {
        id: p.id.to_string(),
        team1: p.team1.clone(),
        team2: p.team2.clone(),
        score: p.score.clone(),
        phase: p.phase as u32,
        received_at_ms: p.received_at_ms,
        partition: Some(record.partition()),
        offset: Some(record.offset()),
    }
}

impl Sink for GrpcSink {
    fn route(&self) -> &'static str {
        "/usactar.live.v1.LiveStore/ApplyBatch"
    }

    async fn write(&mut self, batch: &[Record]) -> Result<(), WriteError> {
        let mut request = tonic::Request::new(ApplyBatchRequest {
            predictions: batch.iter().map(to_proto).collect(),
            topic: self.topic.clone(),
        });
        request.set_timeout(self.deadline);
        // The deadline also bounds this side, in case the server never answers.
        match tokio::time::timeout(
            self.deadline + Duration::from_secs(1),
            self.client.apply_batch(request),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(status)) => Err(classify(&status)),
            Err(_) => Err(WriteError::Unavailable(format!(
                "no answer within {:?}",
                self.deadline
            ))),
        }
    }
}

/// What a gRPC error means for the batch. Only the codes that speak of the request's content are
/// refusals: INVALID_ARGUMENT (live-store's validation) and OUT_OF_RANGE (a message over the
/// size limit, on either side; halves of the batch fit). Every other code (UNAVAILABLE while
/// Redis is down or full, DEADLINE_EXCEEDED, PERMISSION_DENIED from a mesh policy...) says
/// nothing about the records, so the batch is retried as it is.
pub fn classify(status: &tonic::Status) -> WriteError {
    let message = format!("{:?}: {}", status.code(), status.message());
    match status.code() {
        tonic::Code::InvalidArgument | tonic::Code::OutOfRange => WriteError::Refused(message),
        _ => WriteError::Unavailable(message),
    }
}
