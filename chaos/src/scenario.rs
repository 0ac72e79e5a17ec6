//! The experiments' faults as Chaos Mesh objects: pure builders, so what is applied to a cluster
//! is exactly what the snapshot tests see.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use kube::api::ObjectMeta;

use crate::crd::{
    BandwidthSpec, DelaySpec, Direction, FailKernRequest, KernelChaos, KernelChaosSpec,
    NetworkChaos, NetworkChaosAction, NetworkChaosSpec, PodChaos, PodChaosAction, PodChaosSpec,
    PodSelectorSpec, SelectorMode,
};
use crate::Error;

/// What a pod fault acts on: a workload, found by its `app.kubernetes.io/name` label, which is
/// also its Deployment's (or StatefulSet's) name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Workload {
    /// read-api, behind /live and /logs (cluster B).
    ReadApi,
    /// ingest, behind `POST /input` (cluster A).
    Ingest,
    /// The Kafka broker, a StatefulSet (cluster A).
    Kafka,
}

/// Which container of the consumer pod a container kill acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Container {
    LiveForwarder,
    LogsWriter,
}

/// The faults of the experiment kit (see the design notes' "Chaos scenarios") as Chaos Mesh
/// runs them. Named by [`Scenario::name`], which is also the kit's experiment name where one
/// kit experiment maps to it; ordered as listed.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Scenario {
    /// PodChaos `pod-kill`: one-shot; the Deployment (StatefulSet) starts a new pod.
    PodKill(Workload),
    /// PodChaos `pod-failure` for `Params::duration`: the containers run a pause image.
    PodFailure(Workload),
    /// PodChaos `container-kill` of one container of the consumer pod: one-shot.
    ContainerKill(Container),
    /// NetworkChaos `delay` from the consumer pod towards live-store, for `Params::duration`.
    NetDelay,
    /// NetworkChaos `bandwidth` on the consumer pod's egress, for `Params::duration`.
    Bandwidth,
    /// KernelChaos on the consumer pod, where the nodes support it.
    Kernel,
}

impl Scenario {
    pub const ALL: [Scenario; 10] = [
        Scenario::PodKill(Workload::ReadApi),
        Scenario::PodKill(Workload::Ingest),
        Scenario::PodFailure(Workload::ReadApi),
        Scenario::PodFailure(Workload::Ingest),
        Scenario::ContainerKill(Container::LiveForwarder),
        Scenario::ContainerKill(Container::LogsWriter),
        Scenario::NetDelay,
        Scenario::Bandwidth,
        Scenario::PodKill(Workload::Kafka),
        Scenario::Kernel,
    ];

    /// The name used on the command line, in reports and in the Chaos Mesh object's name.
    pub fn name(self) -> &'static str {
        use {Container as C, Workload as W};
        match self {
            Scenario::PodKill(W::ReadApi) => "podkill-read-api",
            Scenario::PodKill(W::Ingest) => "podkill-ingest",
            Scenario::PodKill(W::Kafka) => "broker-kill",
            Scenario::PodFailure(W::ReadApi) => "podfailure-read-api",
            Scenario::PodFailure(W::Ingest) => "podfailure-ingest",
            Scenario::PodFailure(W::Kafka) => "broker-failure",
            Scenario::ContainerKill(C::LiveForwarder) => "containerkill-live-forwarder",
            Scenario::ContainerKill(C::LogsWriter) => "containerkill-logs-writer",
            Scenario::NetDelay => "netdelay",
            Scenario::Bandwidth => "bandwidth",
            Scenario::Kernel => "kernel",
        }
    }

    /// What the fault acts on, in words for reports.
    pub fn target(self) -> &'static str {
        match self {
            Scenario::PodKill(w) | Scenario::PodFailure(w) => w.name(),
            Scenario::ContainerKill(c) => c.name(),
            Scenario::NetDelay => "live-forwarder → live-store link",
            Scenario::Bandwidth => "consumer pod's egress",
            Scenario::Kernel => "consumer",
        }
    }

    /// Which cluster the fault is created in: read-api lives in B, everything else in A.
    pub fn cluster(self) -> Cluster {
        match self {
            Scenario::PodKill(w) | Scenario::PodFailure(w) => w.cluster(),
            _ => Cluster::A,
        }
    }

    /// One-shot faults have no duration: Chaos Mesh never marks them `AllRecovered` by itself,
    /// so recovery is read from the target workload instead.
    pub fn is_one_shot(self) -> bool {
        matches!(self, Scenario::PodKill(_) | Scenario::ContainerKill(_))
    }

    /// The workload whose readiness says a one-shot fault is over.
    pub fn workload(self) -> Option<Workload> {
        match self {
            Scenario::PodKill(w) | Scenario::PodFailure(w) => Some(w),
            _ => None,
        }
    }

    /// NetworkChaos kinds: a failed one needs its finalizer and its pods' PodNetworkChaos
    /// removed by hand (kind/sandbox/chaos-mesh.md).
    pub fn is_network(self) -> bool {
        matches!(self, Scenario::NetDelay | Scenario::Bandwidth)
    }
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::ReadApi => "read-api",
            Workload::Ingest => "ingest",
            Workload::Kafka => "kafka",
        }
    }

    pub fn cluster(self) -> Cluster {
        match self {
            Workload::ReadApi => Cluster::B,
            Workload::Ingest | Workload::Kafka => Cluster::A,
        }
    }
}

impl Container {
    pub fn name(self) -> &'static str {
        match self {
            Container::LiveForwarder => "live-forwarder",
            Container::LogsWriter => "logs-writer",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<Scenario> for &'static str {
    fn from(s: Scenario) -> Self {
        s.name()
    }
}

impl TryFrom<String> for Scenario {
    type Error = Error;

    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl FromStr for Scenario {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| Error::UnknownScenario(s.to_owned()))
    }
}

/// Cluster A ("gke": ingest, Kafka, the consumer pod) or B ("aks": live-store, read-api).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cluster {
    A,
    B,
}

/// Where the services run, as deployed by `deploy/`. The defaults match the base manifests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub read_api_namespace: String,
    pub ingest_namespace: String,
    pub consumer_namespace: String,
    pub kafka_namespace: String,
    /// The `app.kubernetes.io/name` label of each workload, which is also its Deployment's
    /// (Kafka: StatefulSet's) name (the one-shot kills wait for it to be ready again).
    pub read_api_app: String,
    pub ingest_app: String,
    pub consumer_app: String,
    pub kafka_app: String,
    /// The consumer pod's containers that `containerkill` kills.
    pub live_forwarder_container: String,
    pub logs_writer_container: String,
}

impl Default for Placement {
    fn default() -> Self {
        Self {
            read_api_namespace: "usactar-api".into(),
            ingest_namespace: "usactar-ingest".into(),
            consumer_namespace: "usactar-pipeline".into(),
            kafka_namespace: "usactar-data".into(),
            read_api_app: "read-api".into(),
            ingest_app: "ingest".into(),
            consumer_app: "consumer".into(),
            kafka_app: "kafka".into(),
            live_forwarder_container: "live-forwarder".into(),
            logs_writer_container: "logs-writer".into(),
        }
    }
}

impl Placement {
    /// A workload's namespace and `app.kubernetes.io/name`.
    pub fn workload(&self, w: Workload) -> (&str, &str) {
        match w {
            Workload::ReadApi => (&self.read_api_namespace, &self.read_api_app),
            Workload::Ingest => (&self.ingest_namespace, &self.ingest_app),
            Workload::Kafka => (&self.kafka_namespace, &self.kafka_app),
        }
    }

    pub fn container(&self, c: Container) -> &str {
        match c {
            Container::LiveForwarder => &self.live_forwarder_container,
            Container::LogsWriter => &self.logs_writer_container,
        }
    }

    /// Every namespace a fault object may live in (where `cleanup_all` looks).
    pub fn namespaces(&self) -> [&str; 4] {
        [
            &self.read_api_namespace,
            &self.ingest_namespace,
            &self.consumer_namespace,
            &self.kafka_namespace,
        ]
    }
}

/// A fault's knobs. Fields a scenario does not use are ignored.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// How long pod-failure, netdelay and kernel last.
    pub duration: Duration,
    /// netdelay's added latency and its jitter.
    pub latency: Duration,
    pub jitter: Duration,
    /// netdelay's destinations outside cluster A: the address of cluster B's Linkerd gateway
    /// (`linkerd multicluster gateways`), since the mirror has no pods to select. Empty delays
    /// every destination of the consumer pod, Kafka included: say so in the report.
    pub external_targets: Vec<String>,
    /// bandwidth's limit, bytes per second.
    pub rate_bytes_s: u64,
    /// kernel's failure probability, in percent.
    pub kernel_probability: i32,
    /// A suffix that makes the object's name unique per run (e.g. the run id).
    pub run_id: String,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(30),
            latency: Duration::from_millis(200),
            jitter: Duration::from_millis(50),
            external_targets: Vec::new(),
            rate_bytes_s: 64 * 1024,
            kernel_probability: 10,
            run_id: "run".into(),
        }
    }
}

/// A Chaos Mesh object of any of the kinds used here.
#[derive(Clone, Debug)]
pub enum ChaosObject {
    Pod(PodChaos),
    Network(NetworkChaos),
    Kernel(KernelChaos),
}

impl ChaosObject {
    pub fn name(&self) -> &str {
        let meta = match self {
            ChaosObject::Pod(o) => &o.metadata,
            ChaosObject::Network(o) => &o.metadata,
            ChaosObject::Kernel(o) => &o.metadata,
        };
        meta.name.as_deref().unwrap_or_default()
    }

    pub fn namespace(&self) -> &str {
        let meta = match self {
            ChaosObject::Pod(o) => &o.metadata,
            ChaosObject::Network(o) => &o.metadata,
            ChaosObject::Kernel(o) => &o.metadata,
        };
        meta.namespace.as_deref().unwrap_or_default()
    }

    /// `PodChaos`, `NetworkChaos` or `KernelChaos`.
    pub fn kind(&self) -> &'static str {
        match self {
            ChaosObject::Pod(_) => "PodChaos",
            ChaosObject::Network(_) => "NetworkChaos",
            ChaosObject::Kernel(_) => "KernelChaos",
        }
    }

    /// The object as JSON, `apiVersion` and `kind` included: what server-side apply sends.
    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            ChaosObject::Pod(o) => serde_json::to_value(o),
            ChaosObject::Network(o) => serde_json::to_value(o),
            ChaosObject::Kernel(o) => serde_json::to_value(o),
        };
        value.expect("Chaos Mesh objects are plain data and always serialize")
    }
}

/// Chaos Mesh reads durations as Go durations; whole seconds read best in `kubectl get`.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

fn meta(scenario: Scenario, namespace: &str, params: &Params) -> ObjectMeta {
    ObjectMeta {
        // Object names are lowercase RFC 1123: run ids like 20261129T141350Z are not.
        name: Some(format!("usactar-{}-{}", scenario.name(), params.run_id).to_ascii_lowercase()),
        namespace: Some(namespace.to_owned()),
        labels: Some(
            [
                ("app.kubernetes.io/managed-by", "usactar-experiments"),
                ("usactar.io/scenario", scenario.name()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        ),
        ..ObjectMeta::default()
    }
}

/// Builds the Chaos Mesh object for `scenario`. Each object lives in its target's namespace, so
/// Chaos Mesh's namespace filter (if enabled) and RBAC stay per concern.
pub fn build(scenario: Scenario, placement: &Placement, params: &Params) -> ChaosObject {
    let app = "app.kubernetes.io/name";
    let selector = |(namespace, name): (&str, &str)| {
        (
            namespace.to_owned(),
            PodSelectorSpec::labelled(namespace, [(app, name)]),
        )
    };
    let consumer = selector((&placement.consumer_namespace, &placement.consumer_app));
    let pod = |(namespace, selector): (String, PodSelectorSpec),
               action,
               containers: Vec<String>,
               duration: Option<String>| {
        ChaosObject::Pod(PodChaos {
            metadata: meta(scenario, &namespace, params),
            spec: PodChaosSpec {
                action,
                // One pod at a time: the question is how the system rides out losing a replica.
                mode: SelectorMode::One,
                value: None,
                selector,
                container_names: containers,
                duration,
                grace_period: None,
            },
            status: None,
        })
    };
    let network = |action, delay, bandwidth, external_targets: Vec<String>| {
        ChaosObject::Network(NetworkChaos {
            metadata: meta(scenario, &consumer.0, params),
            spec: NetworkChaosSpec {
                action,
                mode: SelectorMode::All,
                value: None,
                selector: consumer.1.clone(),
                direction: Some(Direction::To),
                target: None,
                external_targets,
                delay,
                bandwidth,
                duration: Some(go_duration(params.duration)),
            },
            status: None,
        })
    };
    match scenario {
        Scenario::PodKill(w) => pod(
            selector(placement.workload(w)),
            PodChaosAction::PodKill,
            vec![],
            None,
        ),
        Scenario::PodFailure(w) => pod(
            selector(placement.workload(w)),
            PodChaosAction::PodFailure,
            vec![],
            Some(go_duration(params.duration)),
        ),
        Scenario::ContainerKill(c) => pod(
            consumer.clone(),
            PodChaosAction::ContainerKill,
            vec![placement.container(c).to_owned()],
            None,
        ),
        Scenario::NetDelay => network(
            NetworkChaosAction::Delay,
            Some(DelaySpec {
                latency: go_duration(params.latency),
                jitter: Some(go_duration(params.jitter)),
                correlation: None,
            }),
            None,
            params.external_targets.clone(),
        ),
        // No target: with one, Chaos Mesh adds prio and sfq qdiscs, which kernels without
        // sch_prio/sch_sfq refuse (kind/sandbox/chaos-mesh.md); without one, a plain tbf on the
        // pod's eth0 limits everything the consumer pod sends (live-forwarder's calls to
        // live-store, logs-writer's writes to MongoDB, both consumers' fetches).
        Scenario::Bandwidth => network(
            NetworkChaosAction::Bandwidth,
            None,
            Some(BandwidthSpec {
                rate: format!("{}bps", params.rate_bytes_s.max(1)),
                // tbf's queue and bucket: a few packets' worth, as Chaos Mesh's examples.
                limit: 20_971_520,
                buffer: 10_000,
                peakrate: None,
                minburst: None,
            }),
            vec![],
        ),
        Scenario::Kernel => ChaosObject::Kernel(KernelChaos {
            metadata: meta(scenario, &consumer.0, params),
            spec: KernelChaosSpec {
                mode: SelectorMode::One,
                value: None,
                selector: consumer.1,
                fail_kern_request: FailKernRequest {
                    failtype: 0,
                    probability: Some(params.kernel_probability.clamp(0, 100)),
                    times: None,
                },
                duration: Some(go_duration(params.duration)),
            },
            status: None,
        }),
    }
}
