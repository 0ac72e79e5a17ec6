//! The four chaos scenarios the kit runs, and how each is injected on the local stack (design.md's table):
//!
//! | scenario | on a cluster (Chaos Mesh) | locally |
//! |---|---|---|
//! | podkill | PodChaos pod-kill on read-api | SIGKILL read-api; the supervisor restarts it |
//! | podfailure | PodChaos pod-failure for a duration | read-api held stopped for the duration |
//! | containerkill | PodChaos container-kill [live-forwarder] | SIGKILL live-forwarder |
//! | netdelay | NetworkChaos delay consumer → live-store | Toxiproxy latency on the link |

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use stack::{ProcessControl, ProcessState};

/// The one scenario type of the workspace, shared with the Kubernetes target.
pub use chaos::Scenario;

/// The scenarios the kit runs, on either target. (`Scenario::Kernel` exists on clusters only:
/// the local stack has no kernel faults, and the kit has no command for it.)
pub const ALL: [Scenario; 4] = [
    Scenario::PodKill,
    Scenario::PodFailure,
    Scenario::ContainerKill,
    Scenario::NetDelay,
];

/// What the fault does, in words for reports and `experiments list`: as the local stack does it,
/// and what that stands for on a cluster.
pub fn describe(scenario: Scenario) -> &'static str {
    match scenario {
        Scenario::PodKill => "pod kill: SIGKILL read-api (the application behind /live); the supervisor restarts it as a Deployment would",
        Scenario::PodFailure => "pod failure: read-api stopped for the fault's duration, then started again",
        Scenario::ContainerKill => "container kill: SIGKILL the live-forwarder container of the consumer pod; logs-writer keeps running",
        Scenario::NetDelay => "network delay: latency (with jitter) on the link from the consumer pod to live-store, through Toxiproxy",
        Scenario::Kernel => "kernel fault: failed kernel requests in the consumer pod (Chaos Mesh KernelChaos; clusters only)",
    }
}

/// What was asked, and what was measured of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    pub scenario: Scenario,
    pub target: String,
    pub description: String,
    /// Seconds after the load started.
    pub start_s: f64,
    /// When the fault was over: the target running again, or the delay removed.
    pub end_s: f64,
    pub configured: Configured,
    pub measured: Measured,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Configured {
    /// How long the fault was to last (podfailure's hold, netdelay's delay); none for one-shot kills.
    pub duration_s: Option<f64>,
    pub delay_ms: Option<f64>,
    pub jitter_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Measured {
    /// How long the target was not running (kills and failures).
    pub downtime_s: Option<f64>,
    /// The pid before and after, to show a new process replaced the old one.
    pub pid_before: Option<u32>,
    pub pid_after: Option<u32>,
    pub restarts_before: Option<u32>,
    pub restarts_after: Option<u32>,
    /// Median ApplyBatch latency across the link before and during the delay (netdelay):
    /// the delay the requests actually saw is the difference.
    pub link_p50_before_ms: Option<f64>,
    pub link_p50_during_ms: Option<f64>,
    pub added_delay_ms: Option<f64>,
}

/// Fault settings from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaultParams {
    pub duration: Duration,
    pub delay: Duration,
    pub jitter: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("injecting {scenario}: {reason}")]
    Inject {
        scenario: &'static str,
        reason: String,
    },
}

/// Injects `scenario` and returns once the fault is over (the target runs again, or the delay
/// is removed). `started` is the load's start, for timestamps.
pub async fn inject_local(
    scenario: Scenario,
    control: &impl ProcessControl,
    toxiproxy: &str,
    params: FaultParams,
    started: Instant,
) -> Result<FaultRecord, FaultError> {
    let fail = |reason: String| FaultError::Inject {
        scenario: scenario.name(),
        reason,
    };
    let start_s = started.elapsed().as_secs_f64();
    let mut configured = Configured::default();
    let mut measured = Measured::default();
    match scenario {
        Scenario::PodKill | Scenario::PodFailure | Scenario::ContainerKill => {
            let name = match scenario {
                Scenario::ContainerKill => "live-forwarder",
                _ => "read-api",
            };
            let before = control
                .status(name)
                .await
                .map_err(|e| fail(e.to_string()))?;
            measured.pid_before = before.pid;
            measured.restarts_before = Some(before.restarts);
            let down_at = Instant::now();
            if scenario == Scenario::PodFailure {
                configured.duration_s = Some(params.duration.as_secs_f64());
                control
                    .hold(name, params.duration)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
            } else {
                control.kill(name).await.map_err(|e| fail(e.to_string()))?;
            }
            // Back when a new process runs and is ready. A status that cannot be read ends the
            // wait at once (`Ok(Err)`); one that is not back yet is polled again (`Err`).
            let back = retry::poll_until(
                params.duration + Duration::from_secs(60),
                Duration::from_millis(50),
                || async {
                    match control.status(name).await {
                        Err(e) => Ok(Err(e)),
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
            let (s, downtime) = back.map_err(|e| fail(e.to_string()))?;
            measured.downtime_s = Some(downtime.as_secs_f64());
            measured.pid_after = s.pid;
            measured.restarts_after = Some(s.restarts);
        }
        Scenario::Kernel => {
            return Err(fail("the local stack has no kernel faults".into()));
        }
        Scenario::NetDelay => {
            configured.duration_s = Some(params.duration.as_secs_f64());
            configured.delay_ms = Some(params.delay.as_secs_f64() * 1000.0);
            configured.jitter_ms = Some(params.jitter.as_secs_f64() * 1000.0);
            let http = reqwest::Client::new();
            let proxy = stack::local::LIVE_LINK;
            let toxic = serde_json::json!({
                "name": "netdelay",
                "type": "latency",
                // Requests from the consumer pod to live-store, as NetworkChaos delays the
                // pod's egress.
                "stream": "upstream",
                "attributes": {
                    "latency": params.delay.as_millis() as u64,
                    "jitter": params.jitter.as_millis() as u64,
                },
            });
            http.post(format!("{toxiproxy}/proxies/{proxy}/toxics"))
                .json(&toxic)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| fail(format!("adding the latency toxic: {e}")))?;
            tokio::time::sleep(params.duration).await;
            http.delete(format!("{toxiproxy}/proxies/{proxy}/toxics/netdelay"))
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| fail(format!("removing the latency toxic: {e}")))?;
        }
    }
    Ok(FaultRecord {
        scenario,
        target: scenario.target().to_string(),
        description: describe(scenario).to_string(),
        start_s,
        end_s: started.elapsed().as_secs_f64(),
        configured,
        measured,
    })
}

/// Makes sure no toxic is left on the link (after a crash mid-experiment, say).
pub async fn clear_link(toxiproxy: &str) {
    let proxy = stack::local::LIVE_LINK;
    let _ = reqwest::Client::new()
        .delete(format!("{toxiproxy}/proxies/{proxy}/toxics/netdelay"))
        .send()
        .await;
}
