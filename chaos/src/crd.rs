//! Chaos Mesh's custom resources (`chaos-mesh.org/v1alpha1`), typed.
//!
//! Only the fields the experiments use are modelled; the names, enums and required fields follow
//! Chaos Mesh's own CRDs (`config/crd/bases/chaos-mesh.org_{podchaos,networkchaos,kernelchaos}.yaml`
//! in chaos-mesh/chaos-mesh), and `tests/schema.rs` checks the rendered objects against them.
//! Optional fields are skipped when empty so a server-side apply owns only what we set.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The group every Chaos Mesh kind lives in.
pub const GROUP: &str = "chaos-mesh.org";
/// The condition Chaos Mesh sets once every selected target has the fault.
pub const ALL_INJECTED: &str = "AllInjected";
/// The condition Chaos Mesh sets once every selected target is back to normal.
pub const ALL_RECOVERED: &str = "AllRecovered";

/// How many of the selected pods get the fault (`spec.mode`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SelectorMode {
    One,
    All,
    Fixed,
    FixedPercent,
    RandomMaxPercent,
}

/// Which pods a fault applies to (`spec.selector`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodSelectorSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub label_selectors: BTreeMap<String, String>,
}

impl PodSelectorSpec {
    /// Pods of `namespace` carrying every label in `labels`.
    pub fn labelled<'a>(
        namespace: &str,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        Self {
            namespaces: vec![namespace.to_owned()],
            label_selectors: labels
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }
}

/// `spec.action` of a PodChaos.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PodChaosAction {
    PodKill,
    PodFailure,
    ContainerKill,
}

/// Kills pods, kills containers, or replaces containers' images with a pause image for a while.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "chaos-mesh.org",
    version = "v1alpha1",
    kind = "PodChaos",
    plural = "podchaos",
    namespaced,
    status = "ChaosStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct PodChaosSpec {
    pub action: PodChaosAction,
    pub mode: SelectorMode,
    /// Needed by the `fixed*` and `random-max-percent` modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub selector: PodSelectorSpec,
    /// Only for `container-kill`: which containers of the selected pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_names: Vec<String>,
    /// A Go duration (`30s`); required by `pod-failure`, meaningless for the one-shot kills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Seconds before a killed pod is deleted; 0 (the default) kills at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<i64>,
}

/// `spec.action` of a NetworkChaos.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkChaosAction {
    Netem,
    Delay,
    Loss,
    Duplicate,
    Corrupt,
    Partition,
    Bandwidth,
}

/// `spec.direction` of a NetworkChaos: relative to the pods of `spec.selector`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    To,
    From,
    Both,
}

/// `spec.delay`: netem's delay, each value a Go duration or a percentage string.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DelaySpec {
    pub latency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation: Option<String>,
}

/// `spec.target`: the other end of the traffic, when it is a set of pods in this cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodTarget {
    pub mode: SelectorMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub selector: PodSelectorSpec,
}

/// Delays, drops or partitions the traffic of the selected pods (tc netem in their network
/// namespace, so every container of the pod, Linkerd's proxy included, sees it).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "chaos-mesh.org",
    version = "v1alpha1",
    kind = "NetworkChaos",
    plural = "networkchaos",
    namespaced,
    status = "ChaosStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct NetworkChaosSpec {
    pub action: NetworkChaosAction,
    pub mode: SelectorMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub selector: PodSelectorSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<PodTarget>,
    /// Addresses outside the cluster (IPs or host names): on a multicluster link, the remote
    /// gateway, since the mirrored service has no pods here to select.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_targets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<DelaySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<BandwidthSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

/// `spec.bandwidth`: tc's token bucket filter (tbf). `rate` takes tc's units (`bps` is bytes
/// per second); `limit` and `buffer` are bytes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BandwidthSpec {
    pub rate: String,
    pub limit: u32,
    pub buffer: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peakrate: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minburst: Option<u32>,
}

/// `spec.failKernRequest`: which kernel allocation fails, how often (bpfki).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailKernRequest {
    /// 0 slab (`should_failslab`), 1 page allocation, 2 bio.
    pub failtype: i32,
    /// Percent, 0-100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<i32>,
    /// Most failures injected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<i32>,
}

/// Fails kernel calls of the selected pods. Needs bpfki and a kernel with fault injection, which
/// kind nodes and managed GKE/AKS nodes usually lack: the experiment reports it as unsupported
/// when Chaos Mesh never reaches `AllInjected`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "chaos-mesh.org",
    version = "v1alpha1",
    kind = "KernelChaos",
    plural = "kernelchaos",
    namespaced,
    status = "ChaosStatus"
)]
#[serde(rename_all = "camelCase")]
pub struct KernelChaosSpec {
    pub mode: SelectorMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub selector: PodSelectorSpec,
    pub fail_kern_request: FailKernRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

/// The status every Chaos Mesh kind shares; only what the waits read.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChaosStatus {
    #[serde(default)]
    pub conditions: Vec<ChaosCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<ExperimentStatus>,
}

/// One of `Selected`, `AllInjected`, `AllRecovered`, `Paused`, with status `True`/`False`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChaosCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `status.experiment`: `Run` while the fault should be in place, `Stop` once it should not.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_phase: Option<String>,
    /// One per selected pod (or container): what Chaos Mesh did to it, and whether it failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub container_records: Vec<Record>,
}

/// `status.experiment.containerRecords[]`: one target of the fault.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub phase: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<RecordEvent>,
}

/// One injection or recovery attempt on a target: `type` `Succeeded` or `Failed`, with the
/// reason Chaos Mesh gives.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordEvent {
    #[serde(rename = "type", default)]
    pub type_: String,
    #[serde(default)]
    pub operation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ChaosStatus {
    /// The first failed injection Chaos Mesh recorded, as `<target>: <message>`: the fault
    /// cannot be applied (a missing qdisc, no BPFKI), and waiting longer will not change that.
    pub fn failed_injection(&self) -> Option<String> {
        let records = &self.experiment.as_ref()?.container_records;
        records.iter().find_map(|r| {
            r.events
                .iter()
                .find(|e| e.type_ == "Failed" && e.operation == "Apply")
                .map(|e| format!("{}: {}", r.id, e.message.as_deref().unwrap_or("failed")))
        })
    }

    /// How many injection attempts failed, over every target.
    pub fn failed_attempts(&self) -> usize {
        self.experiment.as_ref().map_or(0, |x| {
            x.container_records
                .iter()
                .flat_map(|r| &r.events)
                .filter(|e| e.type_ == "Failed" && e.operation == "Apply")
                .count()
        })
    }

    /// Whether condition `type_` is `True`.
    pub fn is(&self, type_: &str) -> bool {
        self.conditions
            .iter()
            .any(|c| c.type_ == type_ && c.status == "True")
    }
}

/// Access to the shared status, so one wait works for every kind.
pub trait HasChaosStatus {
    fn chaos_status(&self) -> Option<&ChaosStatus>;
}

macro_rules! has_status {
    ($($kind:ty),*) => {$(
        impl HasChaosStatus for $kind {
            fn chaos_status(&self) -> Option<&ChaosStatus> {
                self.status.as_ref()
            }
        }
    )*};
}
has_status!(PodChaos, NetworkChaos, KernelChaos);
