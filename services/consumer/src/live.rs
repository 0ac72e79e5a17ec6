//! live-forwarder's sink: ApplyBatch over gRPC to live-store, with a deadline per call.

use std::time::Duration;

use live_proto::v1::live_store_client::LiveStoreClient;
use live_proto::v1::{ApplyBatchRequest, Prediction};
use tonic::transport::{Channel, Endpoint};

use crate::configuration::LiveStoreEndpoint;
use crate::pipeline::{Record, Sink};

pub struct GrpcSink {
    client: LiveStoreClient<Channel>,
    deadline: Duration,
}

impl GrpcSink {
    /// Connects lazily: live-store may be down (or the link slow) when the pod starts.
    pub fn new(endpoint: &LiveStoreEndpoint) -> Result<Self, tonic::transport::Error> {
        let channel = Endpoint::from_shared(endpoint.url.clone())?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .connect_lazy();
        Ok(GrpcSink {
            client: LiveStoreClient::new(channel),
            deadline: endpoint.deadline,
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
    }
}

impl Sink for GrpcSink {
    fn route(&self) -> &'static str {
        "/usactar.live.v1.LiveStore/ApplyBatch"
    }

    async fn write(&mut self, batch: &[Record]) -> Result<(), String> {
        let mut request = tonic::Request::new(ApplyBatchRequest {
            predictions: batch.iter().map(to_proto).collect(),
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
            Ok(Err(status)) => Err(format!("{:?}: {}", status.code(), status.message())),
            Err(_) => Err(format!("no answer within {:?}", self.deadline)),
        }
    }
}
