//! A real HTTP server for the tests: axum on 127.0.0.1:0, counting what arrives.
#![allow(dead_code)] // each test binary uses part of it

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;

#[derive(Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub invalid_bodies: AtomicU64,
    pub in_flight: AtomicU64,
    pub max_in_flight: AtomicU64,
}

#[derive(Clone)]
struct Behaviour {
    counters: Arc<Counters>,
    delay: Duration,
    /// Every `fail_every`-th request gets a 503 (0: never).
    fail_every: u64,
}

pub struct TestServer {
    pub url: String,
    pub counters: Arc<Counters>,
}

impl TestServer {
    pub fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::SeqCst)
    }
    pub fn max_in_flight(&self) -> u64 {
        self.counters.max_in_flight.load(Ordering::SeqCst)
    }
    pub fn invalid_bodies(&self) -> u64 {
        self.counters.invalid_bodies.load(Ordering::SeqCst)
    }
}

async fn input(State(b): State<Behaviour>, body: String) -> StatusCode {
    let c = &b.counters;
    let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    c.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let number = c.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let valid = serde_json::from_str::<loadgen::Prediction>(&body)
        .map(|p| loadgen::validate(&p).is_ok())
        .unwrap_or(false);
    if !valid {
        c.invalid_bodies.fetch_add(1, Ordering::SeqCst);
    }
    if !b.delay.is_zero() {
        tokio::time::sleep(b.delay).await;
    }
    c.in_flight.fetch_sub(1, Ordering::SeqCst);
    if b.fail_every > 0 && number % b.fail_every == 0 {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::ACCEPTED
    }
}

/// Starts a server on its own thread and runtime, so it keeps serving whatever runtime the test
/// uses (and a blocking CLI test can use it too).
pub fn start(delay: Duration, fail_every: u64) -> TestServer {
    let counters = Arc::new(Counters::default());
    let behaviour = Behaviour {
        counters: counters.clone(),
        delay,
        fail_every,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = Router::new()
                .route("/input", post(input))
                .with_state(behaviour);
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    TestServer {
        url: format!("http://{addr}/input"),
        counters,
    }
}

/// A loopback port with nothing listening.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub fn sample_data() -> Vec<loadgen::Prediction> {
    loadgen::datagen::generate(1, 100)
}
