//! A process started `after` another waits for the other's readiness before its first start:
//! the broker's clients wait for the broker, which grants their ACLs once it answers. Against a
//! real HTTP server (Python's `http.server`), whose `/readyz` is a file the test writes.

mod common;

use common::{file_server, free_port};
use std::time::Duration;

use stack::probe::Probe;
use stack::{Error, ProcessSpec, ProcessState, Supervisor};

#[tokio::test]
async fn a_process_after_another_starts_only_once_the_other_is_ready() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    let port = free_port();
    let server = file_server("server", &site, port)
        .probe(Probe::Http(format!("http://127.0.0.1:{port}/readyz")))
        .stop_timeout(Duration::from_secs(5));
    let started = dir.path().join("client-started");
    let client = ProcessSpec::new("client", "sh")
        .args(["-c", &format!("touch {}; exec sleep 60", started.display())])
        .after("server")
        .stop_timeout(Duration::from_secs(2));
    let supervisor = Supervisor::start(vec![server, client], &dir.path().join("logs")).unwrap();

    // The server runs but is not ready (/readyz is 404): the client is not started, says why,
    // and cannot be killed yet.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(supervisor.status("server").unwrap().pid.is_some());
    let waiting = supervisor.status("client").unwrap();
    assert!(
        !started.exists(),
        "the client started before the server was ready"
    );
    assert_eq!((waiting.pid, waiting.state), (None, ProcessState::Starting));
    assert_eq!(
        waiting.not_ready.as_deref(),
        Some("waiting for server to be ready")
    );
    assert!(matches!(
        supervisor.kill("client").await,
        Err(Error::NotRunning { .. })
    ));

    // Ready: the client starts.
    std::fs::write(site.join("readyz"), "ok").unwrap();
    supervisor
        .wait_ready(Duration::from_secs(20))
        .await
        .unwrap();
    // The client counts as ready once it runs (it has no probe); its shell writes the file a
    // moment later (seen in CI: not there yet right after wait_ready).
    retry::poll_until(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async {
            started
                .exists()
                .then_some(())
                .ok_or("the client has not started")
        },
    )
    .await
    .unwrap();
    assert_eq!(supervisor.status("client").unwrap().restarts, 0);
    supervisor.shutdown().await;
}

#[tokio::test]
async fn a_process_waiting_for_another_stops_with_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    // Never ready: its probe asks a port nothing listens on.
    let never = ProcessSpec::new("never", "sleep")
        .args(["60"])
        .probe(Probe::Tcp(format!("127.0.0.1:{}", free_port())))
        .stop_timeout(Duration::from_secs(2));
    let waiting = ProcessSpec::new("waiting", "sleep")
        .args(["60"])
        .after("never");
    let supervisor = Supervisor::start(vec![never, waiting], &dir.path().join("logs")).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::time::timeout(Duration::from_secs(10), supervisor.shutdown())
        .await
        .expect("the shutdown does not wait for the never-ready process");
    let states: Vec<ProcessState> = supervisor.statuses().iter().map(|s| s.state).collect();
    assert_eq!(states, [ProcessState::Stopped, ProcessState::Stopped]);
}
