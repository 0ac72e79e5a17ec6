//! live-forwarder on its own, against a real Kafka and a real gRPC server standing in for
//! live-store: every record is forwarded, and the group's offsets are committed only after
//! live-store accepted the batch; while it refuses, nothing is committed and /readyz says so.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use common::{accepted, all_committed, eventually, fresh_topic, offsets, produce, DEADLINE};
use consumer::configuration::Role;
use live_proto::v1::live_store_server::{LiveStore, LiveStoreServer};
use live_proto::v1::{ApplyBatchRequest, ApplyBatchResponse};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

/// A live-store that records what it is sent, and refuses (UNAVAILABLE, as live-store does
/// while Redis is down) until told to accept.
#[derive(Clone, Default)]
struct Recorder {
    accepting: Arc<AtomicBool>,
    refused: Arc<AtomicU32>,
    received: Arc<Mutex<Vec<String>>>,
}

#[tonic::async_trait]
impl LiveStore for Recorder {
    async fn apply_batch(
        &self,
        request: Request<ApplyBatchRequest>,
    ) -> Result<Response<ApplyBatchResponse>, Status> {
        if !self.accepting.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(Status::unavailable("Redis: not yet"));
        }
        let batch = request.into_inner().predictions;
        let applied = batch.len() as u32;
        self.received
            .lock()
            .unwrap()
            .extend(batch.into_iter().map(|p| p.id));
        Ok(Response::new(ApplyBatchResponse {
            applied,
            duplicates: 0,
        }))
    }
}

/// Serves `recorder` on a free port; returns its URL.
async fn serve(recorder: Recorder) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(LiveStoreServer::new(recorder))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    url
}

#[tokio::test]
async fn offsets_are_committed_only_after_live_store_accepts() {
    let topic = fresh_topic().await;
    let records = accepted(30);
    produce(&topic, &records).await;
    let recorder = Recorder::default();
    let url = serve(recorder.clone()).await;
    let forwarder = common::start(
        Role::LiveForwarder,
        &topic,
        &[
            ("USACTAR_LIVE_STORE_URL", url.as_str()),
            ("USACTAR_LIVE_STORE_DEADLINE", "2s"),
        ],
    )
    .await;

    // Refused four times: retried with backoff (100, 200, 400 ms...), so well over one
    // auto-commit interval (500 ms) has passed with the batch unwritten.
    eventually(
        DEADLINE,
        "live-forwarder retries the refused batch",
        || async {
            let refused = recorder.refused.load(Ordering::SeqCst);
            (refused >= 4)
                .then_some(())
                .ok_or(format!("refused {refused} times"))
        },
    )
    .await;
    let (committed, _) = offsets(&topic, &forwarder.group).await;
    assert_eq!(
        committed,
        vec![None; common::PARTITIONS as usize],
        "committed before the write"
    );
    assert_eq!(
        forwarder.readyz().await,
        503,
        "not ready while live-store refuses"
    );

    recorder.accepting.store(true, Ordering::SeqCst);
    let mut expected: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
    expected.sort();
    eventually(DEADLINE, "every record is forwarded once", || async {
        let mut got = recorder.received.lock().unwrap().clone();
        got.sort();
        (got == expected).then_some(()).ok_or(format!(
            "{} forwarded of {}",
            got.len(),
            expected.len()
        ))
    })
    .await;
    all_committed(&topic, &forwarder.group).await;
    assert_eq!(forwarder.readyz().await, 200);
    forwarder.stop().await;
}
