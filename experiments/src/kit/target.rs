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
use kafka_access::KafkaAccess;
use stack::{ControlClient, Ports};

/// The local stack's parts.
#[derive(Debug, Clone)]
pub struct LocalTarget {
    pub ports: Ports,
    pub control: ControlClient,
    /// The broker as its administrator ([`stack::StackFile::kafka`]).
    pub kafka: KafkaAccess,
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
        /// Kafka's bootstrap address as reachable from here (kind and the sandbox: the
        /// `kafka-external` node port), with a user if that listener asks for one, for
        /// consumer lag read from the broker; none: lag is not measured.
        kafka: Option<KafkaAccess>,
        /// MongoDB's URI and Redis' URL as reachable from here (port-forwards to cluster B),
        /// to count the stores directly; none: through read-api's `/api/stats`, whose log count
        /// is logs-writer's own (`log_totals`, counted as documents land), not a count of the
        /// collection, so the check is then weaker.
        stores: Option<(String, String)>,
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
            Target::Local(l) => {
                store_counts(
                    &stack::local::mongo_uri(&l.ports),
                    &format!("redis://{}", l.ports.addr("redis")),
                )
                .await
            }
            Target::Kube {
                stores: Some((mongo, redis)),
                ..
            } => store_counts(mongo, redis).await,
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

    /// Every process's status, to tell which restarted during a run (local stack only; on a
    /// cluster pod restarts are not read).
    pub async fn process_statuses(&self) -> Option<Vec<stack::ProcessStatus>> {
        match self {
            Target::Local(l) => stack::ProcessControl::statuses(&l.control).await.ok(),
            Target::Kube { .. } => None,
        }
    }

    /// The services whose `/readyz` does not answer 200 now (local stack only: on a cluster
    /// the kubelet keeps unready pods out of the Services).
    pub async fn unready_services(&self) -> Vec<String> {
        let checks = self.admins().into_iter().map(|(name, admin)| async move {
            let readyz = stack::probe::Probe::Http(format!("http://{admin}/readyz"));
            readyz.check().await.is_err().then_some(name)
        });
        futures::future::join_all(checks)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// The broker, the topic and the consumer groups whose lag the kit reads from the broker
    /// every 100 ms. On a cluster, the listener `--kafka` names, as `--kafka-username`.
    pub fn kafka(&self) -> Option<(KafkaAccess, String, Vec<String>)> {
        let access = match self {
            Target::Local(l) => l.kafka.clone(),
            Target::Kube { kafka, .. } => kafka.clone()?,
        };
        Some((
            access,
            "predictions".to_string(),
            vec!["logs".to_string(), "live".to_string()],
        ))
    }

    /// What the fault does on this target, in words.
    pub fn describe(&self, e: &Experiment) -> String {
        match (self, e.on_cluster()) {
            (Target::Kube { .. }, Ok(s)) => describe_on_cluster(e, s),
            _ => e.describe(),
        }
    }

    /// Injects the fault and returns once it is over, or at once if the target refused it.
    pub async fn inject(
        &self,
        e: Experiment,
        duration: Duration,
        run_id: &str,
        started: Instant,
    ) -> Result<Injection> {
        match self {
            Target::Local(l) => Ok(Injection::Done(Box::new(
                scenario::inject_local(
                    e,
                    &l.control,
                    &format!("http://{}", l.ports.addr("toxiproxy")),
                    duration,
                    started,
                )
                .await?,
            ))),
            Target::Kube {
                clusters, gateway, ..
            } => inject_kube(clusters, gateway, e, duration, run_id, started).await,
        }
    }

    /// Per-second golden signals of a component, server side, from the local stack's
    /// Prometheus.
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
                let (cluster, target) = LINKERD_SIGNALS
                    .iter()
                    .find(|s| s.0 == service)
                    .map(|s| (s.1, s.2()))
                    .with_context(|| format!("no Linkerd signal is named {service}"))?;
                linkerd_seconds(clusters, cluster, &target, t0, end).await
            }
        }
    }

    /// The names of the per-second server-side signals a cluster gives (Linkerd's golden
    /// metrics): each deployment's inbound side, and its callers' outbound side.
    pub fn linkerd_signals(&self) -> Vec<&'static str> {
        match self {
            Target::Local(_) => Vec::new(),
            Target::Kube { .. } => LINKERD_SIGNALS.iter().map(|s| s.0).collect(),
        }
    }

    /// Consumer lag per consumer, per second, from the consumers' own metric in the local
    /// stack's Prometheus: the fallback when the broker could not be read. Never on a cluster,
    /// where only the broker's view counts (a dead consumer reports nothing).
    pub async fn lag(
        &self,
        t0: SystemTime,
        end: SystemTime,
    ) -> BTreeMap<String, Vec<(f64, Option<f64>)>> {
        let lag = match self {
            Target::Local(l) => {
                prom::lag(&prom::local(l.ports.addr("prometheus")), t0, t0, end).await
            }
            Target::Kube { .. } => return BTreeMap::new(),
        };
        lag.unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().map(|(t, v)| (t, Some(v))).collect()))
            .collect()
    }
}

/// Linkerd's golden metrics the kit reads on a cluster: (name in reports, cluster, what).
/// Inbound: what the deployment's pods answered. Outbound: what its callers got back, the
/// ingresses and the consumer pod (whose only HTTP/gRPC calls are live-forwarder's to
/// live-store, through the multicluster mirror and cluster B's gateway).
#[allow(clippy::type_complexity)]
const LINKERD_SIGNALS: [(&str, Cluster, fn() -> linkerd::Target); 6] = [
    ("ingest", Cluster::A, || {
        linkerd::Target::deployment("ingest")
    }),
    ("read-api", Cluster::B, || {
        linkerd::Target::deployment("read-api")
    }),
    ("live-store", Cluster::B, || {
        linkerd::Target::deployment("live-store")
    }),
    ("ingress → ingest (outbound)", Cluster::A, || {
        linkerd::Target::outbound(INGRESS, Some("ingest"))
    }),
    ("ingress → read-api (outbound)", Cluster::B, || {
        linkerd::Target::outbound(INGRESS, Some("read-api"))
    }),
    (
        "live-forwarder → live-store (outbound)",
        Cluster::A,
        || linkerd::Target::outbound("consumer", None),
    ),
];

/// The ingress controller's Deployment (kind's ingress-nginx, and the sandbox's stand-in).
const INGRESS: &str = "ingress-nginx-controller";

async fn linkerd_seconds(
    clusters: &chaos::KubeTarget,
    cluster: Cluster,
    target: &linkerd::Target,
    t0: SystemTime,
    end: SystemTime,
) -> Result<Vec<GoldenSecond>> {
    let g = clusters
        .prometheus(cluster)
        .golden_metrics(target, Range::per_second(t0, end))
        .await?;
    let at = |series: &Series, t: f64| series.iter().find(|p| (p.t - t).abs() < 0.5).map(|p| p.v);
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

/// Documents in `usactar.logs` and the live total, read from the stores themselves.
async fn store_counts(mongo_uri: &str, redis_url: &str) -> Result<(i64, i64)> {
    let mongo = mongodb::Client::with_uri_str(mongo_uri).await?;
    let docs = mongo
        .database("usactar")
        .collection::<mongodb::bson::Document>("logs")
        .count_documents(mongodb::bson::doc! {})
        .await? as i64;
    mongo.shutdown().await;
    let redis = redis::Client::open(redis_url)?;
    let mut conn = redis.get_multiplexed_async_connection().await?;
    // live-store runs without a key prefix, locally and in the manifests.
    let total: Option<i64> = redis::cmd("GET")
        .arg(model::RedisKeys::default().total())
        .query_async(&mut conn)
        .await?;
    Ok((docs, total.unwrap_or(0)))
}

/// What became of a fault.
pub enum Injection {
    Done(Box<FaultRecord>),
    /// The target tried and could not inject it (Chaos Mesh's reason), after `after_s`.
    Refused {
        reason: String,
        after_s: f64,
    },
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
) -> Result<Injection> {
    let s = e.on_cluster().map_err(anyhow::Error::msg)?;
    let chaos_params = chaos::Params {
        duration,
        latency: Duration::from_millis(e.delay_ms),
        jitter: Duration::from_millis(e.jitter_ms),
        external_targets: gateway.to_vec(),
        rate_bytes_s: e.rate_kb_s * 1024,
        run_id: run_id.to_string(),
        ..chaos::Params::default()
    };
    let start_s = started.elapsed().as_secs_f64();
    let injected = match clusters.inject(s, &chaos_params).await {
        Ok(i) => i,
        Err(err @ chaos::Error::NotInjected { .. }) => {
            return Ok(Injection::Refused {
                reason: err.to_string(),
                after_s: started.elapsed().as_secs_f64() - start_s,
            })
        }
        Err(err) => return Err(err.into()),
    };
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
    if e.fault == Fault::Bandwidth {
        configured.rate_kb_s = Some(e.rate_kb_s as f64);
    }
    let measured = Measured {
        downtime_s: recovered
            .duration_since(injected.injected_at)
            .ok()
            .map(|d| d.as_secs_f64()),
        ..Measured::default()
    };
    Ok(Injection::Done(Box::new(FaultRecord {
        experiment: e.name.to_string(),
        fault: e.fault,
        component: e.component.to_string(),
        description: format!(
            "{} (Chaos Mesh {} {}/{})",
            describe_on_cluster(&e, s),
            injected.object.kind(),
            injected.namespace,
            injected.name
        ),
        start_s,
        end_s: started.elapsed().as_secs_f64(),
        configured,
        measured,
    })))
}

/// What the Chaos Mesh object does, in words for reports.
fn describe_on_cluster(e: &Experiment, s: chaos::Scenario) -> String {
    let target = s.target();
    match e.fault {
        Fault::PodKill | Fault::BrokerKill => {
            format!("pod kill: Chaos Mesh deletes one {target} pod at once; its controller starts a new one")
        }
        Fault::PodFailure => format!(
            "pod failure: one {target} pod's containers run a pause image for the fault's duration"
        ),
        Fault::ContainerKill => {
            format!("container kill: the {target} container of the consumer pod is killed; the kubelet restarts it")
        }
        Fault::Delay => format!(
            "network delay: {} ms ± {} ms on the consumer pod's traffic to the cluster-B gateway",
            e.delay_ms, e.jitter_ms
        ),
        Fault::Bandwidth => format!(
            "bandwidth limit: {} KB/s (tc tbf) on everything the consumer pod sends: live-forwarder's calls to live-store, logs-writer's writes to MongoDB, both consumers' fetches",
            e.rate_kb_s
        ),
        Fault::BrokerPause | Fault::Kernel => e.describe(),
    }
}
