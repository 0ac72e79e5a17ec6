//! live-forwarder on its own, against a real Kafka and a real gRPC server standing in for
//! live-store: every record is forwarded, and the group's offsets are committed only after
//! live-store accepted the batch; while it refuses, nothing is committed and /readyz says so.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use common::{
    accepted, all_committed, eventually, fresh_topic, metric, offsets, produce, produce_raw,
    read_topic, DEADLINE,
};
use consumer::configuration::Role;
use consumer::dead_letter::headers;
use live_proto::v1::live_store_server::{LiveStore, LiveStoreServer};
use live_proto::v1::{ApplyBatchRequest, ApplyBatchResponse};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

/// A live-store that records what it is sent, and refuses (UNAVAILABLE, as live-store does
/// while Redis is down) until told to accept.
#[derive(Clone, Default)]
struct Recorder {
    accepting: Arc<AtomicBool>,
    /// A prediction id whose batches are refused with INVALID_ARGUMENT, as live-store refuses a
    /// prediction that breaks its rules.
    poison: Arc<Mutex<Option<String>>>,
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
        if let Some(poison) = self.poison.lock().unwrap().as_ref() {
            if batch.iter().any(|p| &p.id == poison) {
                return Err(Status::invalid_argument(format!(
                    "{poison}: team1 is not a team"
                )));
            }
        }
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

/// live-store refuses a batch because of one record (issue 15 H3): live-forwarder splits the
/// batch until that record is alone, puts it on the dead-letter topic, and forwards every other
/// record in its order; before, the batch was retried forever and the partition stopped.
#[tokio::test]
async fn a_record_live_store_refuses_is_isolated_and_dead_lettered() {
    let topic = fresh_topic().await;
    let records = accepted(40);
    let poison = records[17].id.to_string();
    for record in &records {
        produce_raw(&topic, "one", &serde_json::to_vec(record).unwrap()).await;
    }
    let recorder = Recorder {
        accepting: Arc::new(AtomicBool::new(true)),
        poison: Arc::new(Mutex::new(Some(poison.clone()))),
        ..Recorder::default()
    };
    let url = serve(recorder.clone()).await;
    let forwarder = common::start(
        Role::LiveForwarder,
        &topic,
        &[
            ("USACTAR_LIVE_STORE_URL", url.as_str()),
            ("USACTAR_BATCH_WAIT", "200ms"),
        ],
    )
    .await;
    let expected: Vec<String> = records
        .iter()
        .map(|r| r.id.to_string())
        .filter(|id| *id != poison)
        .collect();
    eventually(
        DEADLINE,
        "every other record is forwarded, in order",
        || async {
            let mut got = recorder.received.lock().unwrap().clone();
            got.dedup();
            (got == expected).then_some(()).ok_or(format!(
                "{} forwarded of {}",
                got.len(),
                expected.len()
            ))
        },
    )
    .await;
    all_committed(&topic, &forwarder.group).await;
    let letters = read_topic(&format!("{topic}.dead-letters"), 1).await;
    let letter: model::Accepted = serde_json::from_slice(&letters[0].payload).unwrap();
    assert_eq!(letter.id.to_string(), poison);
    assert_eq!(letters[0].headers[headers::REASON], "refused");
    assert!(
        letters[0].headers[headers::ERROR].contains("InvalidArgument"),
        "{:?}",
        letters[0].headers
    );
    assert_eq!(
        metric(
            &forwarder.admin,
            "usactar_dead_letters_total{reason=\"refused\"}"
        )
        .await,
        1.0
    );
    assert_eq!(forwarder.readyz().await, 200);
    forwarder.stop().await;
}
