//! `experiments kafka`: the Kafka questions answered with measurements of the local stack.
//!
//! - how Kafka is set up here, as the broker reports it ([`Setup`]);
//! - the producer alone, with ingest's settings, as batching delay and records in flight vary
//!   ([`producer`]), next to direct writes to Redis and FerretDB ([`stores`]) and to ingest's
//!   whole POST → 202;
//! - where the time goes from a POST to the prediction on /live ([`visible`]);
//! - consumer lag, read from the broker, as the load rises ([`lag`]);
//! - a consumer killed or restarted, the broker killed or paused ([`faults`]).
//!
//! Everything lands in `<out>/kafka/<run-id>/report.json`; `report.md` is written from it
//! ([`report`]).

pub mod chart;
pub mod faults;
pub mod lag;
pub mod producer;
pub mod report;
pub mod stats;
pub mod stores;
pub mod visible;
pub mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde::{Deserialize, Serialize};

use kafka_access::KafkaAccess;
use model::Prediction;
use stack::ControlClient;

use crate::kit::target::LocalTarget;

use faults::{Answers, Fault, FaultRun};
use producer::{Acks, ProduceCell};
use stats::{closed_loop, Distribution, LoopResult};
use stores::StoreWrites;
use visible::Visibility;

/// The topic ingest writes and both groups read.
pub const TOPIC: &str = "predictions";

/// What the command is asked to do.
#[derive(Debug, Clone)]
pub struct StudyConfig {
    pub out: PathBuf,
    /// Each cell of the producer sweep, and each closed-loop measurement, lasts this long.
    pub cell: Duration,
    /// `linger.ms` values and records in flight of the sweep.
    pub lingers: Vec<u32>,
    pub in_flight: Vec<usize>,
    /// Fans per second for the lag levels, and during the faults.
    pub lag_rates: Vec<f64>,
    pub level: Duration,
    pub fault_rate: f64,
    /// How long the broker stays paused.
    pub pause: Duration,
    /// Predictions followed one by one to /live.
    pub followed: usize,
}

/// The running study's handles.
pub struct Study {
    pub kafka: KafkaAccess,
    pub topic: String,
    pub control: ControlClient,
    pub ingress: String,
    pub redis_url: String,
    pub mongo_uri: String,
    pub data: Arc<Vec<Prediction>>,
    pub pause: Duration,
    started: Instant,
}

impl Study {
    pub fn input_url(&self) -> String {
        format!("{}/input", self.ingress)
    }

    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub async fn log_count(&self) -> Result<u64> {
        let mongo = mongodb::Client::with_uri_str(&self.mongo_uri).await?;
        let n = mongo
            .database("usactar")
            .collection::<mongodb::bson::Document>("logs")
            .estimated_document_count()
            .await?;
        mongo.shutdown().await;
        Ok(n)
    }

    /// Waits until both groups drained, then looks every accepted prediction up.
    pub async fn landed(
        &self,
        answers: &[writer::Answer],
        docs_before: u64,
    ) -> Result<faults::Landed> {
        let drained = lag::wait_drained(faults::readers(self)?, Duration::from_secs(90)).await;
        let ids: Vec<String> = answers.iter().filter_map(|a| a.id.clone()).collect();
        let mongo = mongodb::Client::with_uri_str(&self.mongo_uri).await?;
        let (in_mongodb, in_redis) = faults::look_up(&mongo, &self.redis_url, &ids).await?;
        mongo.shutdown().await;
        let docs_after = self.log_count().await?;
        Ok(faults::Landed {
            accepted: ids.len(),
            in_mongodb,
            in_redis,
            stored_without_202: docs_after as i64 - docs_before as i64 - in_mongodb as i64,
            drained,
        })
    }

    fn progress(&self, what: &str) {
        eprintln!("[kafka {:>4.0}s] {what}", self.elapsed());
    }
}

/// The topic and the groups as the broker describes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    pub brokers: usize,
    pub topic: String,
    pub partitions: usize,
    /// Replicas of partition 0 (every partition has the same count here).
    pub replicas: usize,
    pub groups: Vec<GroupInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupInfo {
    pub name: String,
    pub state: String,
    pub protocol: String,
    pub members: Vec<String>,
}

/// Lag of a group over a stretch of time, in records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LagStats {
    pub samples: usize,
    pub median: f64,
    pub p90: f64,
    pub max: f64,
}

impl LagStats {
    fn of(samples: &[lag::LagSample]) -> Option<Self> {
        let values: Vec<f64> = samples
            .iter()
            .filter_map(|s| s.lag.map(|l| l as f64))
            .collect();
        Distribution::of(&values).map(|d| LagStats {
            samples: d.count,
            median: d.p50_ms,
            p90: d.p90_ms,
            max: d.max_ms,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadLevel {
    pub rate_per_s: f64,
    pub seconds: f64,
    pub answers: Answers,
    /// 202s per second actually achieved.
    pub accepted_per_s: f64,
    pub not_sent: u64,
    pub lag: std::collections::BTreeMap<String, Option<LagStats>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cores: usize,
    /// /proc/loadavg's 1-minute figure at the start and the end: other work on the machine.
    pub loadavg_start: Option<f64>,
    pub loadavg_end: Option<f64>,
}

fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KafkaReport {
    pub run_id: String,
    pub started_at: String,
    pub duration_s: f64,
    pub machine: Machine,
    pub setup: Setup,
    pub producer_sweep: Vec<ProduceCell>,
    pub ingest_closed_loop: Vec<LoopResult>,
    pub stores: StoreWrites,
    pub visibility: Visibility,
    pub lag_under_load: Vec<LoadLevel>,
    pub faults: Vec<FaultRun>,
}

fn describe(kafka: &KafkaAccess) -> Result<Setup> {
    let consumer: BaseConsumer = kafka.client().create()?;
    let timeout = Duration::from_secs(5);
    let metadata = consumer
        .fetch_metadata(Some(TOPIC), timeout)
        .context("topic metadata")?;
    let topic = metadata
        .topics()
        .first()
        .context("no topic in the metadata")?;
    let mut groups = Vec::new();
    for name in ["logs", "live"] {
        let list = consumer
            .fetch_group_list(Some(name), timeout)
            .context("describing the groups")?;
        for g in list.groups() {
            groups.push(GroupInfo {
                name: g.name().into(),
                state: g.state().into(),
                protocol: g.protocol().into(),
                members: g
                    .members()
                    .iter()
                    .map(|m| format!("{} ({})", m.client_id(), m.client_host()))
                    .collect(),
            });
        }
    }
    Ok(Setup {
        brokers: metadata.brokers().len(),
        topic: TOPIC.into(),
        partitions: topic.partitions().len(),
        replicas: topic.partitions().first().map_or(0, |p| p.replicas().len()),
        groups,
    })
}

/// Runs the whole study on a running local stack and writes its report; returns its folder.
pub async fn run(config: &StudyConfig, local: &LocalTarget) -> Result<PathBuf> {
    let ports = &local.ports;
    let run_id = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace([':', '-'], "");
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let loadavg_start = loadavg();
    let study = Study {
        kafka: local.kafka.clone(),
        topic: TOPIC.into(),
        control: local.control.clone(),
        ingress: format!("http://{}", ports.addr("ingress")),
        redis_url: format!("redis://{}", ports.addr("redis")),
        mongo_uri: stack::local::mongo_uri(ports),
        data: Arc::new(loadgen::datagen::generate(2022, 10_000)),
        pause: config.pause,
        started: Instant::now(),
    };

    study.progress("waiting for ingest to accept and both groups to be idle ...");
    let http = writer::client();
    retry::poll_until(
        Duration::from_secs(60),
        Duration::from_millis(500),
        || async {
            match writer::post(&http, &study.input_url(), &study.data[0])
                .await
                .0
            {
                202 => Ok(()),
                s => Err(format!("ingest answered {s}")),
            }
        },
    )
    .await
    .context("ingest did not accept a prediction within 60 s")?;
    let readers = faults::readers(&study)?;
    lag::wait_drained(readers.clone(), Duration::from_secs(60)).await;
    let setup = tokio::task::spawn_blocking({
        let b = study.kafka.clone();
        move || describe(&b)
    })
    .await??;
    study.progress(&format!(
        "topic {} has {} partitions ({} replica), groups: {}",
        setup.topic,
        setup.partitions,
        setup.replicas,
        setup
            .groups
            .iter()
            .map(|g| format!("{} {} ({} members)", g.name, g.state, g.members.len()))
            .collect::<Vec<_>>()
            .join(", ")
    ));

    // 1. The producer alone.
    let study_topic = format!("kafka-study-{}", run_id.to_lowercase());
    producer::create_topic(&study.kafka, &study_topic, setup.partitions as i32).await?;
    let payloads: Arc<Vec<(String, Vec<u8>)>> = Arc::new(
        study
            .data
            .iter()
            .take(2000)
            .map(|p| {
                let record = model::Accepted::new(p.clone());
                (
                    record.match_key().id(),
                    serde_json::to_vec(&record).expect("a record serializes"),
                )
            })
            .collect(),
    );
    let mut cells: Vec<(u32, Acks, usize)> = Vec::new();
    for &linger in &config.lingers {
        for &n in &config.in_flight {
            cells.push((linger, Acks::AllIdempotent, n));
        }
    }
    for &n in &config.in_flight {
        cells.push((2, Acks::Leader, n));
    }
    let mut producer_sweep = Vec::new();
    for (i, (linger, acks, n)) in cells.iter().enumerate() {
        let cell = producer::cell(
            &study.kafka,
            &study_topic,
            payloads.clone(),
            *linger,
            *acks,
            *n,
            config.cell,
        )
        .await?;
        let l = cell.result.latency.as_ref();
        study.progress(&format!(
            "producer {}/{}: linger.ms {linger:>2}, {acks:?}, {n:>3} in flight: {:>6.0} records/s, ack p50 {:.1} ms p99 {:.1} ms, {:.1} records/request",
            i + 1, cells.len(), cell.result.ops_per_s,
            l.map_or(f64::NAN, |l| l.p50_ms), l.map_or(f64::NAN, |l| l.p99_ms),
            cell.records_per_request.unwrap_or(f64::NAN),
        ));
        producer_sweep.push(cell);
    }
    producer::delete_topic(&study.kafka, &study_topic).await;

    // 2. The yardsticks: the stores written directly, and ingest's whole POST → 202.
    study.progress("direct writes to Redis and FerretDB ...");
    let stores = stores::measure(
        &study.redis_url,
        &study.mongo_uri,
        &run_id,
        &[1, 16],
        config.cell,
    )
    .await?;
    study.progress("ingest's POST → 202, closed loop ...");
    let mut ingest_closed_loop = Vec::new();
    for n in [1usize, 16] {
        let (http, url, data) = (http.clone(), study.input_url(), study.data.clone());
        ingest_closed_loop.push(
            closed_loop(n, config.cell, move |i| {
                let (http, url, data) = (http.clone(), url.clone(), data.clone());
                async move {
                    writer::post(&http, &url, &data[i as usize % data.len()])
                        .await
                        .0
                        == 202
                }
            })
            .await,
        );
    }
    lag::wait_drained(readers.clone(), Duration::from_secs(60)).await;

    // 3. From the POST to /live.
    study.progress(&format!(
        "following {} predictions one by one to /live ...",
        config.followed
    ));
    let metrics = |name: &str| format!("http://{}/metrics", ports.addr(&format!("{name}-admin")));
    let server_writes = vec![
        (
            "ingest POST /input".to_string(),
            metrics("ingest"),
            "/input".to_string(),
        ),
        (
            "logs-writer MongoDB insert_many".to_string(),
            metrics("logs-writer"),
            "mongodb:insert_many".to_string(),
        ),
        (
            "live-forwarder ApplyBatch (client)".to_string(),
            metrics("live-forwarder"),
            "/usactar.live.v1.LiveStore/ApplyBatch".to_string(),
        ),
        (
            "live-store ApplyBatch (server)".to_string(),
            metrics("live-store"),
            "/usactar.live.v1.LiveStore/ApplyBatch".to_string(),
        ),
    ];
    let visibility = visible::measure(
        &study.ingress,
        &study.mongo_uri,
        &study.data[100..],
        config.followed,
        &server_writes,
    )
    .await?;

    // 4. Lag as the load rises.
    let mut lag_under_load = Vec::new();
    for &rate in &config.lag_rates {
        study.progress(&format!(
            "lag at {rate:.0} predictions/s for {:?} ...",
            config.level
        ));
        lag::wait_drained(readers.clone(), Duration::from_secs(60)).await;
        let clock = Instant::now();
        let writer = writer::Writer::start(&study.input_url(), rate, study.data.clone(), clock);
        let sampler = lag::LagSampler::start(
            &study.kafka,
            TOPIC,
            &["logs", "live"],
            Duration::from_millis(500),
            clock,
        )?;
        tokio::time::sleep(config.level).await;
        let (answers, not_sent) = writer.stop().await;
        let samples = sampler.stop().await;
        let seconds = clock.elapsed().as_secs_f64();
        let level = LoadLevel {
            rate_per_s: rate,
            seconds,
            accepted_per_s: answers.iter().filter(|a| a.status == 202).count() as f64 / seconds,
            answers: Answers::of(answers.iter()),
            not_sent,
            lag: samples
                .iter()
                .map(|(g, s)| (g.clone(), LagStats::of(s)))
                .collect(),
        };
        study.progress(&format!(
            "  {:.0} accepted/s; lag max logs {:?}, live {:?}",
            level.accepted_per_s,
            level.lag.get("logs").cloned().flatten().map(|l| l.max),
            level.lag.get("live").cloned().flatten().map(|l| l.max),
        ));
        lag_under_load.push(level);
    }

    // 5. Faults.
    let mut fault_runs = Vec::new();
    for fault in [
        Fault::ConsumerKill,
        Fault::ConsumerRestart,
        Fault::BrokerKill,
        Fault::BrokerPause,
    ] {
        lag::wait_drained(readers.clone(), Duration::from_secs(60)).await;
        study.progress(&format!(
            "{fault:?} at {:.0} predictions/s ...",
            config.fault_rate
        ));
        let r = faults::run(
            &study,
            fault,
            config.fault_rate,
            Duration::from_secs(5),
            Duration::from_secs(60),
        )
        .await?;
        study.progress(&format!(
            "  ingest normal after {:?} s; {} accepted, {} in MongoDB, {} in Redis; {} refused (503), {} unanswered",
            r.ingest_normal_s.map(|t| (t * 10.0).round() / 10.0),
            r.landed.accepted, r.landed.in_mongodb, r.landed.in_redis, r.during.refused_503, r.during.no_answer
        ));
        fault_runs.push(r);
    }

    let report = KafkaReport {
        run_id: run_id.clone(),
        started_at,
        duration_s: study.elapsed(),
        machine: Machine {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            loadavg_start,
            loadavg_end: loadavg(),
        },
        setup,
        producer_sweep,
        ingest_closed_loop,
        stores,
        visibility,
        lag_under_load,
        faults: fault_runs,
    };
    let dir = config.out.join("kafka").join(&run_id);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    for (file, svg) in report::charts(&report) {
        std::fs::write(dir.join(file), svg)?;
    }
    std::fs::write(dir.join("report.md"), report::markdown(&report))?;
    Ok(dir)
}
