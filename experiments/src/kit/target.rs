//! Where an experiment runs: the local stack (faults through the runner's control API and
//! Toxiproxy, metrics from the services' own Prometheus), or Kubernetes clusters (faults as
//! Chaos Mesh resources through kube-rs, golden metrics from Linkerd's Prometheus). The
//! experiment's sequence and report are the same for both.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use chaos::prometheus::{unix_seconds, Range, Series};
use chaos::{linkerd, Cluster};

use crate::kit::prom;
use crate::kit::scenario::{self, Configured, Experiment, Fault, FaultRecord, Measured};
use crate::kit::series::GoldenSecond;
use stack::{ControlClient, Ports};

/// The local stack's parts.
#[derive(Debug, Clone)]
pub struct LocalTarget {
    pub ports: Ports,
    pub control: ControlClient,
}

pub enum Target {
    Local(LocalTarget),
    /// Two clusters with Chaos Mesh and Linkerd (see docs/deploy.md).
    Kube {
        /// Faults, and each cluster's linkerd-viz Prometheus.
        clusters: Box<chaos::KubeTarget>,
        /// The ingress in front of ingest (cluster A), e.g. `http://ingest.127.0.0.1.nip.io`.
        ingress: String,
        /// The ingress in front of read-api (cluster B).
        api: String,
        /// The cluster-B gateway address(es) the consumer pod reaches live-store through, for
        /// the network delay.
        gateway: Vec<String>,
    },
}

impl Target {
    pub fn name(&self) -> &'static str {
        match self {
            Target::Local(_) => "local",
            Target::Kube { .. } => "kube",
        }
    }

    /// Where writers post: `<base>/input`.
    pub fn ingress(&self) -> String {
        match self {
            Target::Local(l) => format!("http://{}", l.ports.addr("ingress")),
            Target::Kube { ingress, .. } => ingress.clone(),
        }
    }

    /// Where viewers read: `<base>/api/...`.
    pub fn api(&self) -> String {
        match self {
            Target::Local(l) => format!("http://{}", l.ports.addr("ingress")),
            Target::Kube { api, .. } => api.clone(),
        }
    }

    /// Leaves no fault behind from an earlier, interrupted run.
    pub async fn prepare(&self) -> Result<()> {
        match self {
            Target::Local(l) => {
                scenario::clear_link(&format!("http://{}", l.ports.addr("toxiproxy"))).await;
                Ok(())
            }
            Target::Kube { clusters, .. } => clusters
                .cleanup_all()
                .await
                .context("removing leftover chaos"),
        }
    }

    /// Documents in MongoDB and the live total in Redis, now.
    pub async fn counts(&self) -> Result<(i64, i64)> {
        match self {
            Target::Local(l) => local_counts(l).await,
            Target::Kube { api, .. } => {
                // The stores sit in cluster B; read-api reports both counts.
                let stats: serde_json::Value = reqwest::get(format!("{api}/api/stats"))
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                Ok((
                    stats["logs_total"].as_i64().unwrap_or(-1),
                    stats["live_total"].as_i64().unwrap_or(-1),
                ))
            }
        }
    }

    /// Why this target cannot run `e`, if it cannot: said before anything starts.
    pub fn unsupported(&self, e: &Experiment) -> Option<String> {
        match self {
            Target::Local(_) => e.unsupported_locally(),
            Target::Kube { .. } => e.on_cluster().err(),
        }
    }

    /// The services' admin listeners the kit scrapes every 100 ms (local stack only: on a
    /// cluster the server side comes from Linkerd's metrics in Prometheus).
    pub fn admins(&self) -> Vec<(String, String)> {
        match self {
            Target::Local(l) => stack::local::SERVICES
                .iter()
                .map(|s| (s.to_string(), l.ports.addr(&format!("{s}-admin"))))
                .collect(),
            Target::Kube { .. } => Vec::new(),
        }
    }

    /// Kafka's bootstrap address, the topic and the consumer groups whose lag the kit reads
    /// from the broker (local stack only).
    pub fn kafka(&self) -> Option<(String, String, Vec<String>)> {
        match self {
            Target::Local(l) => Some((
                l.ports.addr("kafka"),
                "predictions".to_string(),
                vec!["logs".to_string(), "live".to_string()],
            )),
            Target::Kube { .. } => None,
        }
    }

    /// Injects the fault and returns once it is over.
    pub async fn inject(
        &self,
        e: Experiment,
        duration: Duration,
        run_id: &str,
        started: Instant,
    ) -> Result<FaultRecord> {
        match self {
            Target::Local(l) => Ok(scenario::inject_local(
                e,
                &l.control,
                &format!("http://{}", l.ports.addr("toxiproxy")),
                duration,
                started,
            )
            .await?),
            Target::Kube {
                clusters, gateway, ..
            } => inject_kube(clusters, gateway, e, duration, run_id, started).await,
        }
    }

    /// Per-second golden signals of a component, server side.
    pub async fn server_series(
        &self,
        service: &str,
        t0: SystemTime,
        end: SystemTime,
    ) -> Result<Vec<GoldenSecond>> {
        match self {
            Target::Local(l) => {
                let prometheus = prom::local(l.ports.addr("prometheus"));
                Ok(prom::golden(&prometheus, service, t0, t0, end).await?)
            }
            Target::Kube { clusters, .. } => {
                // ingest runs in cluster A; read-api and live-store in B.
                let cluster = if service == "ingest" {
                    Cluster::A
                } else {
                    Cluster::B
                };
                let g = clusters
                    .prometheus(cluster)
                    .golden_metrics(
                        &linkerd::Target::deployment(service),
                        Range::per_second(t0, end),
                    )
                    .await?;
                let at = |series: &Series, t: f64| {
                    series.iter().find(|p| (p.t - t).abs() < 0.5).map(|p| p.v)
                };
                let t0 = unix_seconds(t0);
                Ok(g.request_rate
                    .iter()
                    .map(|p| GoldenSecond {
                        t: (p.t - t0).round(),
                        rps: p.v,
                        success: at(&g.success_rate, p.t),
                        p50_ms: at(&g.p50, p.t),
                        p95_ms: at(&g.p95, p.t),
                        p99_ms: at(&g.p99, p.t),
                        mean_ms: None,
                    })
                    .collect())
            }
        }
    }

    /// Consumer lag per consumer, per second, from the consumers' own metric in Prometheus
    /// (a cluster; locally the kit reads it from the broker).
    pub async fn lag(
        &self,
        t0: SystemTime,
        end: SystemTime,
    ) -> BTreeMap<String, Vec<(f64, Option<f64>)>> {
        let lag = match self {
            Target::Local(l) => {
                prom::lag(&prom::local(l.ports.addr("prometheus")), t0, t0, end).await
            }
            Target::Kube { clusters, .. } => {
                prom::lag(clusters.prometheus(Cluster::A), t0, t0, end).await
            }
        };
        lag.unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().map(|(t, v)| (t, Some(v))).collect()))
            .collect()
    }
}

async fn local_counts(target: &LocalTarget) -> Result<(i64, i64)> {
    let mongo = mongodb::Client::with_uri_str(stack::local::mongo_uri(&target.ports)).await?;
    let docs = mongo
        .database("usactar")
        .collection::<mongodb::bson::Document>("logs")
        .count_documents(mongodb::bson::doc! {})
        .await? as i64;
    mongo.shutdown().await;
    let redis = redis::Client::open(format!("redis://{}", target.ports.addr("redis")))?;
    let mut conn = redis.get_multiplexed_async_connection().await?;
    // The stack's live-store runs without a key prefix.
    let total: Option<i64> = redis::cmd("GET")
        .arg(model::RedisKeys::default().total())
        .query_async(&mut conn)
        .await?;
    Ok((docs, total.unwrap_or(0)))
}

/// A Chaos Mesh fault: apply, wait for AllInjected, wait until recovered, and always delete,
/// Ctrl-C included.
async fn inject_kube(
    clusters: &chaos::KubeTarget,
    gateway: &[String],
    e: Experiment,
    duration: Duration,
    run_id: &str,
    started: Instant,
) -> Result<FaultRecord> {
    let s = e.on_cluster().map_err(anyhow::Error::msg)?;
    let chaos_params = chaos::Params {
        duration,
        latency: Duration::from_millis(e.delay_ms),
        jitter: Duration::from_millis(e.jitter_ms),
        external_targets: gateway.to_vec(),
        run_id: run_id.to_string(),
        ..chaos::Params::default()
    };
    let start_s = started.elapsed().as_secs_f64();
    let injected = clusters.inject(s, &chaos_params).await?;
    let recovered = tokio::select! {
        r = clusters.wait_recovered(&injected, duration + Duration::from_secs(180)) => r,
        _ = tokio::signal::ctrl_c() => {
            clusters.cleanup(&injected).await?;
            anyhow::bail!("interrupted: the chaos resource was deleted");
        }
    };
    clusters.cleanup(&injected).await?;
    let recovered = recovered?;
    let mut configured = Configured::default();
    if !e.fault.is_one_shot() {
        configured.duration_s = Some(duration.as_secs_f64());
    }
    if e.fault == Fault::Delay {
        configured.delay_ms = Some(e.delay_ms as f64);
        configured.jitter_ms = Some(e.jitter_ms as f64);
    }
    let measured = Measured {
        downtime_s: recovered
            .duration_since(injected.injected_at)
            .ok()
            .map(|d| d.as_secs_f64()),
        ..Measured::default()
    };
    Ok(FaultRecord {
        experiment: e.name.to_string(),
        fault: e.fault,
        component: e.component.to_string(),
        description: format!("{} (Chaos Mesh {})", e.describe(), injected.name),
        start_s,
        end_s: started.elapsed().as_secs_f64(),
        configured,
        measured,
    })
}
