//! The experiments the kit runs (the catalog), and how each fault is injected on the local stack
//! (design.md's table). On a cluster the same faults are Chaos Mesh objects (`chaos::Scenario`,
//! see `target.rs`); an experiment a target cannot run is reported "unsupported on this target"
//! with the reason, within seconds, and the run goes on.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use stack::{ProcessControl, ProcessState};

/// The one scenario type of the workspace (Chaos Mesh objects), shared with the Kubernetes target.
pub use chaos::Scenario;

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// SIGKILL the process; the supervisor (a Deployment, on a cluster) starts a new one.
    PodKill,
    /// The process stopped for the fault's duration, then started again.
    PodFailure,
    /// SIGKILL one container of the consumer pod.
    ContainerKill,
    /// Latency (with jitter) on the link from the consumer pod to live-store.
    Delay,
    /// A bandwidth limit on that link.
    Bandwidth,
    /// SIGKILL the Kafka broker.
    BrokerKill,
    /// SIGSTOP the Kafka broker for the fault's duration, then SIGCONT.
    BrokerPause,
    /// Failed kernel requests in the consumer pod (KernelChaos).
    Kernel,
}

impl Fault {
    /// Over at once (the fault phase then watches the restart), or held for a duration.
    pub fn is_one_shot(self) -> bool {
        matches!(
            self,
            Fault::PodKill | Fault::ContainerKill | Fault::BrokerKill
        )
    }
}

/// One experiment of the catalog: a fault on a component, with its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Experiment {
    pub name: &'static str,
    pub fault: Fault,
    /// The process it acts on (locally: the stack's process name), or the link.
    pub component: &'static str,
    /// Delay: the added latency and its jitter, ms.
    pub delay_ms: u64,
    pub jitter_ms: u64,
    /// Bandwidth: the limit, KB/s.
    pub rate_kb_s: u64,
}

const fn exp(name: &'static str, fault: Fault, component: &'static str) -> Experiment {
    Experiment {
        name,
        fault,
        component,
        delay_ms: 0,
        jitter_ms: 0,
        rate_kb_s: 0,
    }
}

const fn delay(name: &'static str, delay_ms: u64, jitter_ms: u64) -> Experiment {
    Experiment {
        delay_ms,
        jitter_ms,
        ..exp(name, Fault::Delay, LINK)
    }
}

/// The link from the consumer pod to live-store (a Toxiproxy proxy locally).
pub const LINK: &str = "live-forwarder → live-store link";

/// Every experiment, in the order `all` runs them.
pub const CATALOG: [Experiment; 13] = [
    exp("podkill-read-api", Fault::PodKill, "read-api"),
    exp("podkill-ingest", Fault::PodKill, "ingest"),
    exp("podfailure-read-api", Fault::PodFailure, "read-api"),
    exp("podfailure-ingest", Fault::PodFailure, "ingest"),
    exp(
        "containerkill-live-forwarder",
        Fault::ContainerKill,
        "live-forwarder",
    ),
    exp(
        "containerkill-logs-writer",
        Fault::ContainerKill,
        "logs-writer",
    ),
    // 200 ms bites only when batches queue behind it, i.e. under high load; 2 s bites at any
    // load; 6 s is past live-forwarder's 5 s call deadline, so every call times out and is
    // retried (idempotence is what keeps the counts exact).
    delay("netdelay-200ms", 200, 20),
    delay("netdelay-2s", 2000, 100),
    delay("netdelay-6s", 6000, 100),
    Experiment {
        rate_kb_s: 64,
        ..exp("bandwidth-64kbs", Fault::Bandwidth, LINK)
    },
    exp("broker-kill", Fault::BrokerKill, "kafka"),
    exp("broker-pause", Fault::BrokerPause, "kafka"),
    exp("kernel", Fault::Kernel, "consumer"),
];

/// The experiments whose name is `name`, or starts with `name-` (a family: `podkill`).
pub fn select(name: &str) -> Vec<Experiment> {
    CATALOG
        .iter()
        .filter(|e| e.name == name || e.name.starts_with(&format!("{name}-")))
        .copied()
        .collect()
}

pub fn by_name(name: &str) -> Option<Experiment> {
    CATALOG.iter().find(|e| e.name == name).copied()
}

impl Experiment {
    /// What the fault does, in words for reports and `experiments list`.
    pub fn describe(&self) -> String {
        let c = self.component;
        match self.fault {
            Fault::PodKill => format!(
                "pod kill: SIGKILL {c}; the supervisor starts a new one as a Deployment would"
            ),
            Fault::PodFailure => {
                format!("pod failure: {c} stopped for the fault's duration, then started again")
            }
            Fault::ContainerKill => {
                format!("container kill: SIGKILL the {c} container of the consumer pod")
            }
            Fault::Delay => format!(
                "network delay: {} ms ± {} ms on the {c} (Toxiproxy latency)",
                self.delay_ms, self.jitter_ms
            ),
            Fault::Bandwidth => format!(
                "bandwidth limit: {} KB/s on the {c} (Toxiproxy bandwidth)",
                self.rate_kb_s
            ),
            Fault::BrokerKill => {
                "broker kill: SIGKILL the Kafka broker; the supervisor starts it again".into()
            }
            Fault::BrokerPause => {
                "broker pause: SIGSTOP the Kafka broker for the fault's duration, then SIGCONT"
                    .into()
            }
            Fault::Kernel => {
                "kernel fault: failed kernel requests in the consumer pod (Chaos Mesh KernelChaos)"
                    .into()
            }
        }
    }

    /// The Chaos Mesh scenario that injects this on a cluster, or why none does.
    pub fn on_cluster(&self) -> Result<Scenario, String> {
        use chaos::{Container, Workload};
        match (self.fault, self.component) {
            (Fault::PodKill, "read-api") => Ok(Scenario::PodKill(Workload::ReadApi)),
            (Fault::PodKill, "ingest") => Ok(Scenario::PodKill(Workload::Ingest)),
            (Fault::PodFailure, "read-api") => Ok(Scenario::PodFailure(Workload::ReadApi)),
            (Fault::PodFailure, "ingest") => Ok(Scenario::PodFailure(Workload::Ingest)),
            (Fault::ContainerKill, "live-forwarder") => {
                Ok(Scenario::ContainerKill(Container::LiveForwarder))
            }
            (Fault::ContainerKill, "logs-writer") => {
                Ok(Scenario::ContainerKill(Container::LogsWriter))
            }
            (Fault::Delay, _) => Ok(Scenario::NetDelay),
            (Fault::Bandwidth, _) => Ok(Scenario::Bandwidth),
            (Fault::BrokerKill, _) => Ok(Scenario::PodKill(Workload::Kafka)),
            (Fault::BrokerPause, _) => Err(
                "Chaos Mesh has no action that freezes a process (SIGSTOP); its pod-failure \
                 swaps the broker's image for a pause image, which is a restart, not a pause"
                    .to_string(),
            ),
            (Fault::Kernel, _) => Ok(Scenario::Kernel),
            _ => Err(format!(
                "the chaos crate builds no Chaos Mesh object for {} on {}",
                fault_name(self.fault),
                self.component
            )),
        }
    }

    /// Why the local stack cannot run this, if it cannot.
    pub fn unsupported_locally(&self) -> Option<String> {
        (self.fault == Fault::Kernel).then(|| {
            "the local stack runs its servers as plain processes of this machine: failing their \
             kernel requests needs Chaos Mesh's BPF kernel module (KernelChaos) on a cluster node"
                .to_string()
        })
    }
}

fn fault_name(f: Fault) -> &'static str {
    match f {
        Fault::PodKill => "pod kill",
        Fault::PodFailure => "pod failure",
        Fault::ContainerKill => "container kill",
        Fault::Delay => "delay",
        Fault::Bandwidth => "bandwidth",
        Fault::BrokerKill => "broker kill",
        Fault::BrokerPause => "broker pause",
        Fault::Kernel => "kernel",
    }
}

/// What was asked, and what was measured of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    pub experiment: String,
    pub fault: Fault,
    pub component: String,
    pub description: String,
    /// Seconds after the load started: the kill or stop, the toxic added.
    pub start_s: f64,
    /// When the fault was over, as measured: the target ready again (a new process for kills
    /// and failures), the toxic removed, the broker continued.
    pub end_s: f64,
    pub configured: Configured,
    pub measured: Measured,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Configured {
    /// How long the fault was to last (failures, delays, pauses); none for one-shot kills.
    pub duration_s: Option<f64>,
    pub delay_ms: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub rate_kb_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Measured {
    /// How long the target was not running and ready (kills and failures).
    pub downtime_s: Option<f64>,
    /// The pid before and after, to show a new process replaced the old one.
    pub pid_before: Option<u32>,
    pub pid_after: Option<u32>,
    pub restarts_before: Option<u32>,
    pub restarts_after: Option<u32>,
    /// Mean duration of live-forwarder's calls to live-store before and during the fault
    /// (link faults), from the exact sum and count of the call durations (raw samples, not
    /// histogram buckets); the delay the calls actually saw is the difference.
    pub link_mean_before_ms: Option<f64>,
    pub link_mean_during_ms: Option<f64>,
    pub added_delay_ms: Option<f64>,
    /// Every process whose restart count rose between the load's start and the end of the
    /// data check, the target's own restart included, with why its last incarnation ended
    /// (local stack only; `None` on a cluster and in reports older than this field).
    pub restarted: Option<Vec<Restarted>>,
}

/// A process restarted during a run: by how many restarts, and why its last incarnation ended
/// ("killed by SIGKILL", "liveness probe failed 3 times in a row …").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restarted {
    pub process: String,
    pub restarts: u32,
    pub last_exit: Option<String>,
}

/// The processes whose restart count rose from `before` to `after`, in `after`'s order.
pub fn restarted_between(
    before: &[stack::ProcessStatus],
    after: &[stack::ProcessStatus],
) -> Vec<Restarted> {
    after
        .iter()
        .filter_map(|a| {
            let was = before
                .iter()
                .find(|b| b.name == a.name)
                .map_or(0, |b| b.restarts);
            (a.restarts > was).then(|| Restarted {
                process: a.name.clone(),
                restarts: a.restarts - was,
                last_exit: a.last_exit.clone(),
            })
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("injecting {experiment}: {reason}")]
    Inject {
        experiment: &'static str,
        reason: String,
    },
}

/// Injects `e` and returns once the fault is over (the target runs and is ready again, or the
/// toxic is removed, or the broker continued). `started` is the load's start, for timestamps.
pub async fn inject_local(
    e: Experiment,
    control: &impl ProcessControl,
    toxiproxy: &str,
    duration: Duration,
    started: Instant,
) -> Result<FaultRecord, FaultError> {
    let fail = |reason: String| FaultError::Inject {
        experiment: e.name,
        reason,
    };
    let start_s = started.elapsed().as_secs_f64();
    let mut configured = Configured::default();
    let mut measured = Measured::default();
    let name = e.component;
    let mut end_s = None;
    match e.fault {
        Fault::PodKill | Fault::PodFailure | Fault::ContainerKill | Fault::BrokerKill => {
            let before = control
                .status(name)
                .await
                .map_err(|err| fail(err.to_string()))?;
            measured.pid_before = before.pid;
            measured.restarts_before = Some(before.restarts);
            let down_at = Instant::now();
            if e.fault == Fault::PodFailure {
                configured.duration_s = Some(duration.as_secs_f64());
                control
                    .hold(name, duration)
                    .await
                    .map_err(|err| fail(err.to_string()))?;
            } else {
                control
                    .kill(name)
                    .await
                    .map_err(|err| fail(err.to_string()))?;
            }
            // Back when a new process runs and is ready. A status that cannot be read ends the
            // wait at once (`Ok(Err)`); one that is not back yet is polled again (`Err`).
            let back = retry::poll_until(
                duration + Duration::from_secs(90),
                Duration::from_millis(50),
                || async {
                    match control.status(name).await {
                        Err(err) => Ok(Err(err)),
                        Ok(s)
                            if s.state == ProcessState::Running
                                && s.pid.is_some()
                                && s.pid != before.pid =>
                        {
                            Ok(Ok((s, down_at.elapsed())))
                        }
                        Ok(s) => Err(s),
                    }
                },
            )
            .await
            .map_err(|t| fail(format!("{name} did not come back: {:?}", t.last)))?;
            let (s, downtime) = back.map_err(|err| fail(err.to_string()))?;
            measured.downtime_s = Some(downtime.as_secs_f64());
            measured.pid_after = s.pid;
            measured.restarts_after = Some(s.restarts);
        }
        Fault::BrokerPause => {
            configured.duration_s = Some(duration.as_secs_f64());
            let pid = control
                .status(name)
                .await
                .map_err(|err| fail(err.to_string()))?
                .pid
                .ok_or_else(|| fail(format!("{name} has no running process")))?;
            measured.pid_before = Some(pid);
            let pid = nix::unistd::Pid::from_raw(pid as i32);
            use nix::sys::signal::{kill, Signal};
            kill(pid, Signal::SIGSTOP).map_err(|err| fail(format!("SIGSTOP: {err}")))?;
            let paused = Instant::now();
            tokio::time::sleep(duration).await;
            // Always continued, even if the sleep was cut short.
            kill(pid, Signal::SIGCONT).map_err(|err| fail(format!("SIGCONT: {err}")))?;
            measured.downtime_s = Some(paused.elapsed().as_secs_f64());
            measured.pid_after = Some(pid.as_raw() as u32);
        }
        Fault::Delay | Fault::Bandwidth => {
            configured.duration_s = Some(duration.as_secs_f64());
            let (kind, attributes) = if e.fault == Fault::Delay {
                configured.delay_ms = Some(e.delay_ms as f64);
                configured.jitter_ms = Some(e.jitter_ms as f64);
                (
                    "latency",
                    serde_json::json!({ "latency": e.delay_ms, "jitter": e.jitter_ms }),
                )
            } else {
                configured.rate_kb_s = Some(e.rate_kb_s as f64);
                ("bandwidth", serde_json::json!({ "rate": e.rate_kb_s }))
            };
            let http = reqwest::Client::new();
            let proxy = stack::local::LIVE_LINK;
            let toxic = serde_json::json!({
                "name": TOXIC,
                "type": kind,
                // Requests from the consumer pod to live-store, as NetworkChaos acts on the
                // pod's egress.
                "stream": "upstream",
                "attributes": attributes,
            });
            http.post(format!("{toxiproxy}/proxies/{proxy}/toxics"))
                .json(&toxic)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|err| fail(format!("adding the {kind} toxic: {err}")))?;
            tokio::time::sleep(duration).await;
            http.delete(format!("{toxiproxy}/proxies/{proxy}/toxics/{TOXIC}"))
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|err| fail(format!("removing the {kind} toxic: {err}")))?;
            end_s = Some(started.elapsed().as_secs_f64());
        }
        Fault::Kernel => {
            return Err(fail(
                e.unsupported_locally()
                    .expect("kernel is unsupported locally"),
            ));
        }
    }
    Ok(FaultRecord {
        experiment: e.name.to_string(),
        fault: e.fault,
        component: e.component.to_string(),
        description: e.describe(),
        start_s,
        end_s: end_s.unwrap_or_else(|| started.elapsed().as_secs_f64()),
        configured,
        measured,
    })
}

/// The name of the kit's toxic on the link.
const TOXIC: &str = "usactar-fault";

/// Makes sure no toxic is left on the link (after a crash mid-experiment, say).
pub async fn clear_link(toxiproxy: &str) {
    let proxy = stack::local::LIVE_LINK;
    let _ = reqwest::Client::new()
        .delete(format!("{toxiproxy}/proxies/{proxy}/toxics/{TOXIC}"))
        .send()
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_families_select_their_members() {
        let mut names: Vec<_> = CATALOG.iter().map(|e| e.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CATALOG.len());
        let podkill: Vec<_> = select("podkill").iter().map(|e| e.name).collect();
        assert_eq!(podkill, ["podkill-read-api", "podkill-ingest"]);
        assert_eq!(select("kernel").len(), 1);
        assert!(select("nothing").is_empty());
        assert!(by_name("kernel").unwrap().unsupported_locally().is_some());
        assert!(by_name("broker-pause").unwrap().on_cluster().is_err());
    }
}
