//! What a supervised process is: how to start it, how to know it is ready, how to restart it.

use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use crate::probe::Probe;

/// One supervised process: the local stand-in for a pod (or for one container of a pod).
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// Unique name, as used by the control API (`kafka`, `read-api`, `live-forwarder`, ...).
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    /// What to print in the table: where clients reach it.
    pub address: String,
    /// Ports it listens on; the runner checks they are free before starting anything.
    pub port_names: Vec<&'static str>,
    pub probe: Probe,
    /// Checked once the process is ready; failing it restarts the process (a kubelet's
    /// liveness probe).
    pub liveness: Option<LivenessProbe>,
    pub restart: RestartPolicy,
    /// How long a graceful stop may take before SIGKILL.
    pub stop_timeout: Duration,
    /// Processes that must be ready before this one starts the first time (the broker for its
    /// clients: it grants their ACLs once it answers). Names the stack does not run are
    /// ignored; restarts do not wait.
    pub after: Vec<String>,
    /// The signal that asks for a graceful stop (SIGTERM; PostgreSQL's fast shutdown is SIGINT).
    pub stop_signal: Signal,
}

impl ProcessSpec {
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>) -> Self {
        ProcessSpec {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            address: String::new(),
            port_names: Vec::new(),
            probe: Probe::None,
            liveness: None,
            restart: RestartPolicy::default(),
            stop_timeout: Duration::from_secs(10),
            after: Vec::new(),
            stop_signal: Signal::SIGTERM,
        }
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = address.into();
        self
    }

    pub fn ports(mut self, names: &[&'static str]) -> Self {
        self.port_names.extend_from_slice(names);
        self
    }

    pub fn probe(mut self, probe: Probe) -> Self {
        self.probe = probe;
        self
    }

    pub fn liveness(mut self, liveness: LivenessProbe) -> Self {
        self.liveness = Some(liveness);
        self
    }

    pub fn after(mut self, name: impl Into<String>) -> Self {
        self.after.push(name.into());
        self
    }

    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    pub fn stop_signal(mut self, signal: Signal) -> Self {
        self.stop_signal = signal;
        self
    }
}

/// Like a kubelet's liveness probe: asked every `period` once the process is ready; after
/// `failure_threshold` failures in a row the process is stopped (SIGTERM, then SIGKILL after its
/// stop timeout) and restarted like any process that died.
///
/// Why locally too: a service whose loop is wedged answers `/livez` 503 but does not exit (the
/// librdkafka stall after a broker pause, confluentinc/librdkafka#5301); on a cluster the kubelet
/// restarts it, and without this the local stack stayed stuck to the end of the run
/// (reports/local-broker-pause-stuck-20261130T042555Z).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivenessProbe {
    pub probe: Probe,
    pub period: Duration,
    pub failure_threshold: u32,
}

impl LivenessProbe {
    /// The settings of the services' manifests (`deploy/base`): every 10 s, 3 failures.
    pub fn as_in_the_manifests(probe: Probe) -> Self {
        LivenessProbe {
            probe,
            period: Duration::from_secs(10),
            failure_threshold: 3,
        }
    }
}

/// Like a Deployment's: a process that dies is started again, after a backoff that doubles with
/// each quick death and resets once the process has stayed up for `reset_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub reset_after: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        // Kubernetes starts at 10 s; locally a fault's recovery is what we measure, so start small.
        RestartPolicy {
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(10),
            reset_after: Duration::from_secs(10),
        }
    }
}

impl RestartPolicy {
    /// The backoff a supervised process starts with.
    pub fn backoff(&self) -> retry::Backoff {
        retry::Backoff::new(self.initial_backoff, self.max_backoff)
    }

    /// The wait before the next start, given how long the process ran: a good run (at least
    /// `reset_after`) starts the backoff again from `initial_backoff`.
    pub fn next_wait(&self, backoff: &mut retry::Backoff, ran_for: Duration) -> Duration {
        if ran_for >= self.reset_after {
            backoff.reset();
        }
        backoff.next_wait()
    }
}

/// Where a process is in its life, as the control API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProcessState {
    /// Started; its readiness probe has not passed yet.
    Starting,
    /// Started and ready.
    Running,
    /// Died; waiting out the backoff before the next start.
    BackingOff,
    /// Stopped on request, to be started again at a set time (pod failure).
    Held,
    /// Stopped for good: the runner is shutting down.
    Stopped,
}

/// A snapshot of one process, as returned by the control API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessStatus {
    pub name: String,
    pub state: ProcessState,
    pub pid: Option<u32>,
    /// Starts after the first one, for any reason: death, kill, hold or restart.
    pub restarts: u32,
    pub address: String,
    pub log: PathBuf,
    /// Why the last incarnation ended, e.g. "killed by SIGKILL" or "exit status 1".
    pub last_exit: Option<String>,
    /// While starting: what the readiness probe last heard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_ready: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_on_quick_deaths_and_resets_after_a_good_run() {
        let p = RestartPolicy::default();
        let mut backoff = p.backoff();
        let quick = Duration::from_millis(10);
        let first = p.next_wait(&mut backoff, quick);
        assert_eq!(first, p.initial_backoff);
        let second = p.next_wait(&mut backoff, quick);
        assert_eq!(second, first * 2);
        let mut b = second;
        for _ in 0..20 {
            b = p.next_wait(&mut backoff, quick);
        }
        assert_eq!(b, p.max_backoff);
        assert_eq!(p.next_wait(&mut backoff, p.reset_after), p.initial_backoff);
    }
}
