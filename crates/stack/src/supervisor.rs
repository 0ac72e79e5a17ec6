//! The supervisor: starts each process, restarts it with backoff when it dies or fails its
//! liveness probe, and carries out the faults the experiments ask for (kill, hold stopped for a
//! while, restart).
//!
//! Each process gets its own task and its own process group, so a signal reaches the process and
//! anything it forked (nginx's workers, a JVM's helpers) and nothing else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::process::Child;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::child::{describe_exit, note, signal_group, spawn, stop};
use crate::process::{LivenessProbe, ProcessSpec, ProcessState, ProcessStatus};
use crate::Error;

/// A running set of supervised processes. Cheap to clone; all clones control the same processes.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

struct Inner {
    /// In start order.
    processes: Vec<Supervised>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

struct Supervised {
    name: String,
    status: Arc<Mutex<ProcessStatus>>,
    commands: mpsc::Sender<Request>,
}

enum Request {
    Kill(oneshot::Sender<Result<u32, Error>>),
    Hold(Duration, oneshot::Sender<Result<(), Error>>),
    Restart(oneshot::Sender<Result<(), Error>>),
    Shutdown(oneshot::Sender<()>),
}

impl Supervisor {
    /// Starts every process (in the given order, without waiting for readiness). Output of each
    /// goes to `<logs_dir>/<name>.log`. Must be called inside a Tokio runtime.
    pub fn start(specs: Vec<ProcessSpec>, logs_dir: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(logs_dir).map_err(|e| Error::io(logs_dir, e))?;
        let mut processes: Vec<Supervised> = Vec::new();
        let mut tasks = Vec::new();
        for spec in specs {
            // Only earlier processes can be waited for: the order is the start order.
            let after: Vec<Arc<Mutex<ProcessStatus>>> = spec
                .after
                .iter()
                .filter_map(|name| processes.iter().find(|p| &p.name == name))
                .map(|p| p.status.clone())
                .collect();
            let log = logs_dir.join(format!("{}.log", spec.name));
            let status = Arc::new(Mutex::new(ProcessStatus {
                name: spec.name.clone(),
                state: ProcessState::Starting,
                pid: None,
                restarts: 0,
                address: spec.address.clone(),
                log: log.clone(),
                last_exit: None,
                not_ready: None,
            }));
            let (tx, rx) = mpsc::channel(8);
            processes.push(Supervised {
                name: spec.name.clone(),
                status: status.clone(),
                commands: tx,
            });
            tasks.push(tokio::spawn(supervise(spec, log, status, rx, after)));
        }
        Ok(Supervisor {
            inner: Arc::new(Inner {
                processes,
                tasks: Mutex::new(tasks),
            }),
        })
    }

    /// The state of every process, in start order.
    pub fn statuses(&self) -> Vec<ProcessStatus> {
        self.inner
            .processes
            .iter()
            .map(|p| p.status.lock().expect("status lock").clone())
            .collect()
    }

    pub fn status(&self, name: &str) -> Result<ProcessStatus, Error> {
        Ok(self.find(name)?.status.lock().expect("status lock").clone())
    }

    /// Waits until every process is ready; on timeout, names the ones that are not and why.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), Error> {
        retry::poll_until(timeout, Duration::from_millis(100), || async {
            let waiting: Vec<String> = self
                .statuses()
                .iter()
                .filter(|s| s.state != ProcessState::Running)
                .map(|s| {
                    let why = s
                        .not_ready
                        .clone()
                        .or_else(|| s.last_exit.clone())
                        .unwrap_or_else(|| format!("{:?}", s.state));
                    format!("{} ({why}; see {})", s.name, s.log.display())
                })
                .collect();
            if waiting.is_empty() {
                Ok(())
            } else {
                Err(waiting.join(", "))
            }
        })
        .await
        .map_err(|e| Error::NotReady {
            timeout,
            details: e.last,
        })
    }

    /// SIGKILL the process (and its group). The supervisor then restarts it, as a Deployment
    /// would. Returns the pid that was killed.
    pub async fn kill(&self, name: &str) -> Result<u32, Error> {
        let (tx, rx) = oneshot::channel();
        self.send(name, Request::Kill(tx)).await?;
        rx.await.map_err(|_| Error::RunnerGone)?
    }

    /// Stops the process gracefully and keeps it stopped for `duration`, then starts it again.
    /// Returns once it is stopped.
    pub async fn hold(&self, name: &str, duration: Duration) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.send(name, Request::Hold(duration, tx)).await?;
        rx.await.map_err(|_| Error::RunnerGone)?
    }

    /// Stops the process gracefully and starts it again at once. Also ends a hold early.
    pub async fn restart(&self, name: &str) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        self.send(name, Request::Restart(tx)).await?;
        rx.await.map_err(|_| Error::RunnerGone)?
    }

    /// Stops every process (all at once, each gracefully, SIGKILL after its stop timeout) and
    /// waits until all are gone.
    pub async fn shutdown(&self) {
        let mut acks = Vec::new();
        for p in &self.inner.processes {
            let (tx, rx) = oneshot::channel();
            if p.commands.send(Request::Shutdown(tx)).await.is_ok() {
                acks.push(rx);
            }
        }
        for ack in acks {
            let _ = ack.await;
        }
        let tasks = std::mem::take(&mut *self.inner.tasks.lock().expect("tasks lock"));
        for task in tasks {
            let _ = task.await;
        }
    }

    fn find(&self, name: &str) -> Result<&Supervised, Error> {
        self.inner
            .processes
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| Error::UnknownProcess {
                name: name.to_string(),
                known: self
                    .inner
                    .processes
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    async fn send(&self, name: &str, request: Request) -> Result<(), Error> {
        self.find(name)?
            .commands
            .send(request)
            .await
            .map_err(|_| Error::RunnerGone)
    }

    /// Names in start order.
    pub fn names(&self) -> Vec<String> {
        self.inner
            .processes
            .iter()
            .map(|p| p.name.clone())
            .collect()
    }

    /// The pids of every process group that runs now; used by tests to prove nothing is left.
    pub fn pids(&self) -> BTreeMap<String, u32> {
        self.statuses()
            .into_iter()
            .filter_map(|s| s.pid.map(|pid| (s.name, pid)))
            .collect()
    }
}

/// What ended one incarnation of a process.
enum Ended {
    Died(String),
    Hold(Duration),
    Restart,
    Shutdown,
}

/// What ended a wait between incarnations.
enum Waited {
    Elapsed,
    StartNow,
    Hold(Duration),
    Shutdown,
}

async fn supervise(
    spec: ProcessSpec,
    log: PathBuf,
    status: Arc<Mutex<ProcessStatus>>,
    mut requests: mpsc::Receiver<Request>,
    after: Vec<Arc<Mutex<ProcessStatus>>>,
) {
    let set = |f: &dyn Fn(&mut ProcessStatus)| f(&mut status.lock().expect("status lock"));
    if !wait_for_ready(&after, &spec, &status, &log, &mut requests).await {
        set(&|s| s.state = ProcessState::Stopped);
        return;
    }
    let mut backoff = spec.restart.backoff();
    let mut first_start = true;
    loop {
        if !first_start {
            set(&|s| s.restarts += 1);
        }
        first_start = false;
        let started = Instant::now();
        let ended = match spawn(&spec, &log) {
            Ok(child) => run_once(&spec, &log, child, &status, &mut requests).await,
            Err(e) => {
                note(
                    &log,
                    &format!("failed to start {}: {e}", spec.program.display()),
                );
                Ended::Died(format!("failed to start: {e}"))
            }
        };
        set(&|s| s.pid = None);
        let mut next = match ended {
            Ended::Shutdown => break,
            Ended::Restart => Waited::StartNow,
            Ended::Hold(duration) => Waited::Hold(duration),
            Ended::Died(why) => {
                let wait = spec.restart.next_wait(&mut backoff, started.elapsed());
                note(&log, &format!("{why}; restarting in {wait:?}"));
                set(&|s| {
                    s.state = ProcessState::BackingOff;
                    s.last_exit = Some(why.clone());
                });
                wait_between(wait, &spec.name, &mut requests).await
            }
        };
        // A hold may itself be cut short or turned into another hold; loop until it resolves.
        while let Waited::Hold(duration) = next {
            note(&log, &format!("held stopped for {duration:?}"));
            set(&|s| s.state = ProcessState::Held);
            next = wait_between(duration, &spec.name, &mut requests).await;
        }
        if let Waited::Shutdown = next {
            break;
        }
    }
    set(&|s| {
        s.state = ProcessState::Stopped;
        s.pid = None;
    });
}

/// Waits until every process of `after` is ready, answering requests meanwhile; false if the
/// stack is shutting down first.
async fn wait_for_ready(
    after: &[Arc<Mutex<ProcessStatus>>],
    spec: &ProcessSpec,
    status: &Arc<Mutex<ProcessStatus>>,
    log: &Path,
    requests: &mut mpsc::Receiver<Request>,
) -> bool {
    let not_ready = || -> Vec<String> {
        after
            .iter()
            .map(|s| s.lock().expect("status lock").clone())
            .filter(|s| s.state != ProcessState::Running)
            .map(|s| s.name)
            .collect()
    };
    let mut waiting = not_ready();
    if waiting.is_empty() {
        return true;
    }
    note(
        log,
        &format!(
            "waiting for {} to be ready before the first start",
            waiting.join(", ")
        ),
    );
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while !waiting.is_empty() {
        status.lock().expect("status lock").not_ready =
            Some(format!("waiting for {} to be ready", waiting.join(", ")));
        tokio::select! {
            _ = tick.tick() => waiting = not_ready(),
            request = requests.recv() => match request {
                None => return false,
                Some(Request::Shutdown(done)) => {
                    let _ = done.send(());
                    return false;
                }
                Some(other) => refuse_before_start(other, &spec.name),
            },
        }
    }
    true
}

/// Runs one incarnation until it dies or a request ends it.
async fn run_once(
    spec: &ProcessSpec,
    log: &Path,
    mut child: Child,
    status: &Arc<Mutex<ProcessStatus>>,
    requests: &mut mpsc::Receiver<Request>,
) -> Ended {
    let pid = child.id().expect("a child that was just spawned has a pid");
    {
        let mut s = status.lock().expect("status lock");
        s.pid = Some(pid);
        s.state = ProcessState::Starting;
        s.not_ready = None;
    }
    let mut ready = false;
    let probe = probe_until_ready(spec, status);
    tokio::pin!(probe);
    // Polled only once ready, so its first period starts then.
    let liveness = until_not_alive(spec.liveness.as_ref(), log);
    tokio::pin!(liveness);
    loop {
        tokio::select! {
            exit = child.wait() => {
                // Anything the process forked dies with it, as in a container.
                signal_group(pid, Signal::SIGKILL);
                let why = match exit {
                    Ok(status) => describe_exit(status),
                    Err(e) => format!("wait failed: {e}"),
                };
                return Ended::Died(why);
            }
            _ = &mut probe, if !ready => {
                ready = true;
                let mut s = status.lock().expect("status lock");
                s.state = ProcessState::Running;
                s.not_ready = None;
            }
            why = &mut liveness, if ready => {
                note(log, &format!("{why}; stopping it"));
                stop(spec, &mut child, pid).await;
                return Ended::Died(why);
            }
            request = requests.recv() => match request {
                Some(Request::Kill(reply)) => {
                    signal_group(pid, Signal::SIGKILL);
                    let _ = reply.send(Ok(pid));
                    // The exit arrives on the next turn and is handled as a death.
                }
                Some(Request::Hold(duration, reply)) => {
                    stop(spec, &mut child, pid).await;
                    let _ = reply.send(Ok(()));
                    return Ended::Hold(duration);
                }
                Some(Request::Restart(reply)) => {
                    stop(spec, &mut child, pid).await;
                    let _ = reply.send(Ok(()));
                    return Ended::Restart;
                }
                Some(Request::Shutdown(reply)) => {
                    stop(spec, &mut child, pid).await;
                    status.lock().expect("status lock").state = ProcessState::Stopped;
                    let _ = reply.send(());
                    return Ended::Shutdown;
                }
                None => {
                    // Every handle is gone: nobody can stop us later, so stop now.
                    stop(spec, &mut child, pid).await;
                    return Ended::Shutdown;
                }
            }
        }
    }
}

/// Waits `duration` between incarnations while still answering requests.
async fn wait_between(
    duration: Duration,
    name: &str,
    requests: &mut mpsc::Receiver<Request>,
) -> Waited {
    let sleep = tokio::time::sleep(duration);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut sleep => return Waited::Elapsed,
            request = requests.recv() => match request {
                Some(Request::Kill(reply)) => {
                    let _ = reply.send(Err(Error::NotRunning { name: name.to_string() }));
                }
                Some(Request::Hold(d, reply)) => {
                    let _ = reply.send(Ok(()));
                    return Waited::Hold(d);
                }
                Some(Request::Restart(reply)) => {
                    let _ = reply.send(Ok(()));
                    return Waited::StartNow;
                }
                Some(Request::Shutdown(reply)) => {
                    let _ = reply.send(());
                    return Waited::Shutdown;
                }
                None => return Waited::Shutdown,
            }
        }
    }
}

/// A process not started yet cannot be killed, held or restarted.
fn refuse_before_start(request: Request, name: &str) {
    let not_running = || Error::NotRunning {
        name: name.to_string(),
    };
    match request {
        Request::Kill(reply) => {
            let _ = reply.send(Err(not_running()));
        }
        Request::Hold(_, reply) | Request::Restart(reply) => {
            let _ = reply.send(Err(not_running()));
        }
        Request::Shutdown(reply) => {
            let _ = reply.send(());
        }
    }
}

/// Returns, with the reason, once the liveness probe has failed `failure_threshold` times in a
/// row; never without a liveness probe. Each failure is noted in the process's log.
async fn until_not_alive(liveness: Option<&LivenessProbe>, log: &Path) -> String {
    let Some(liveness) = liveness else {
        return std::future::pending().await;
    };
    let mut failures = 0;
    loop {
        tokio::time::sleep(liveness.period).await;
        match liveness.probe.check().await {
            Ok(()) => failures = 0,
            Err(why) => {
                failures += 1;
                note(
                    log,
                    &format!(
                        "liveness probe failed ({failures} of {}): {why}",
                        liveness.failure_threshold
                    ),
                );
                if failures >= liveness.failure_threshold {
                    return format!(
                        "liveness probe failed {failures} times in a row, {:?} apart (last: {why})",
                        liveness.period
                    );
                }
            }
        }
    }
}

/// Probes until the process is ready (the caller stops waiting if it dies first), keeping what
/// the probe last heard in its status.
async fn probe_until_ready(spec: &ProcessSpec, status: &Arc<Mutex<ProcessStatus>>) {
    let never = Duration::MAX;
    let _ = retry::poll_until(never, Duration::from_millis(200), || async {
        let answer = spec.probe.check().await;
        if let Err(why) = &answer {
            status.lock().expect("status lock").not_ready = Some(why.clone());
        }
        answer
    })
    .await;
}
