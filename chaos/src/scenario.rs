//! The experiments' faults as Chaos Mesh objects: pure builders, so what is applied to a cluster
//! is exactly what the snapshot tests see.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use kube::api::ObjectMeta;

use crate::crd::{
    DelaySpec, Direction, FailKernRequest, KernelChaos, KernelChaosSpec, NetworkChaos,
    NetworkChaosAction, NetworkChaosSpec, PodChaos, PodChaosAction, PodChaosSpec, PodSelectorSpec,
    SelectorMode,
};
use crate::Error;

/// The faults of the experiment kit (see the design notes' "Chaos scenarios"), on a cluster and
/// (all but `Kernel`) on the local stack. Serialized by [`Scenario::name`]; ordered as listed.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// PodChaos `pod-kill` on read-api: one-shot; the Deployment starts a new pod.
    PodKill,
    /// PodChaos `pod-failure` on read-api for `Params::duration`.
    PodFailure,
    /// PodChaos `container-kill` of live-forwarder in the consumer pod: one-shot.
    ContainerKill,
    /// NetworkChaos `delay` from the consumer pod towards live-store, for `Params::duration`.
    NetDelay,
    /// KernelChaos on the consumer pod, where the nodes support it.
    Kernel,
}

impl Scenario {
    pub const ALL: [Scenario; 5] = [
        Scenario::PodKill,
        Scenario::PodFailure,
        Scenario::ContainerKill,
        Scenario::NetDelay,
        Scenario::Kernel,
    ];

    /// The name used on the command line, in reports and in the Chaos Mesh object's name.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::PodKill => "podkill",
            Scenario::PodFailure => "podfailure",
            Scenario::ContainerKill => "containerkill",
            Scenario::NetDelay => "netdelay",
            Scenario::Kernel => "kernel",
        }
    }

    /// What the fault acts on, in words for reports.
    pub fn target(self) -> &'static str {
        match self {
            Scenario::PodKill | Scenario::PodFailure => "read-api",
            Scenario::ContainerKill => "live-forwarder",
            Scenario::NetDelay => "live-forwarder → live-store link",
            Scenario::Kernel => "consumer",
        }
    }

    /// Which cluster the fault is created in: read-api lives in B, the consumer pod in A.
    pub fn cluster(self) -> Cluster {
        match self {
            Scenario::PodKill | Scenario::PodFailure => Cluster::B,
            Scenario::ContainerKill | Scenario::NetDelay | Scenario::Kernel => Cluster::A,
        }
    }

    /// One-shot faults have no duration: Chaos Mesh never marks them `AllRecovered` by itself,
    /// so recovery is read from the target Deployment instead.
    pub fn is_one_shot(self) -> bool {
        matches!(self, Scenario::PodKill | Scenario::ContainerKill)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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
    pub consumer_namespace: String,
    /// The `app.kubernetes.io/name` label of each workload, which is also its Deployment's name
    /// (the one-shot kills wait for that Deployment to be ready again).
    pub read_api_app: String,
    pub consumer_app: String,
    /// The consumer pod's container that `containerkill` kills.
    pub live_forwarder_container: String,
}

impl Default for Placement {
    fn default() -> Self {
        Self {
            read_api_namespace: "usactar-api".into(),
            consumer_namespace: "usactar-pipeline".into(),
            read_api_app: "read-api".into(),
            consumer_app: "consumer".into(),
            live_forwarder_container: "live-forwarder".into(),
        }
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
        name: Some(format!("usactar-{}-{}", scenario.name(), params.run_id)),
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
    let read_api = PodSelectorSpec::labelled(
        &placement.read_api_namespace,
        [(app, placement.read_api_app.as_str())],
    );
    let consumer = PodSelectorSpec::labelled(
        &placement.consumer_namespace,
        [(app, placement.consumer_app.as_str())],
    );
    let pod = |action, selector, containers: Vec<String>, duration: Option<String>| {
        PodChaosSpec {
            action,
            // One pod at a time: the question is how the system rides out losing a replica.
            mode: SelectorMode::One,
            value: None,
            selector,
            container_names: containers,
            duration,
            grace_period: None,
        }
    };
    match scenario {
        Scenario::PodKill => ChaosObject::Pod(PodChaos {
            metadata: meta(scenario, &placement.read_api_namespace, params),
            spec: pod(PodChaosAction::PodKill, read_api, vec![], None),
            status: None,
        }),
        Scenario::PodFailure => ChaosObject::Pod(PodChaos {
            metadata: meta(scenario, &placement.read_api_namespace, params),
            spec: pod(
                PodChaosAction::PodFailure,
                read_api,
                vec![],
                Some(go_duration(params.duration)),
            ),
            status: None,
        }),
        Scenario::ContainerKill => ChaosObject::Pod(PodChaos {
            metadata: meta(scenario, &placement.consumer_namespace, params),
            spec: pod(
                PodChaosAction::ContainerKill,
                consumer,
                vec![placement.live_forwarder_container.clone()],
                None,
            ),
            status: None,
        }),
        Scenario::NetDelay => ChaosObject::Network(NetworkChaos {
            metadata: meta(scenario, &placement.consumer_namespace, params),
            spec: NetworkChaosSpec {
                action: NetworkChaosAction::Delay,
                mode: SelectorMode::All,
                value: None,
                selector: consumer,
                direction: Some(Direction::To),
                target: None,
                external_targets: params.external_targets.clone(),
                delay: Some(DelaySpec {
                    latency: go_duration(params.latency),
                    jitter: Some(go_duration(params.jitter)),
                    correlation: None,
                }),
                duration: Some(go_duration(params.duration)),
            },
            status: None,
        }),
        Scenario::Kernel => ChaosObject::Kernel(KernelChaos {
            metadata: meta(scenario, &placement.consumer_namespace, params),
            spec: KernelChaosSpec {
                mode: SelectorMode::One,
                value: None,
                selector: consumer,
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
