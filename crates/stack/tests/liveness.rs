//! The supervisor's liveness probe against a real HTTP server (Python's `http.server`, whose
//! `/livez` is a file the test deletes to make it fail).

mod common;

use common::{file_server, free_port};
use std::path::Path;
use std::time::Duration;

use stack::probe::Probe;
use stack::{LivenessProbe, ProcessState, Supervisor};

async fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("logs/web.log")).unwrap_or_default()
}

#[tokio::test]
async fn a_ready_process_that_fails_its_liveness_probe_three_times_is_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    let livez = site.join("livez");
    std::fs::write(&livez, "ok").unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/livez");
    let period = Duration::from_millis(300);
    let spec = file_server("web", &site, port)
        .probe(Probe::Http(url.clone()))
        .liveness(LivenessProbe {
            probe: Probe::Http(url),
            period,
            failure_threshold: 3,
        })
        .stop_timeout(Duration::from_secs(5));
    let supervisor = Supervisor::start(vec![spec], &dir.path().join("logs")).unwrap();
    supervisor
        .wait_ready(Duration::from_secs(30))
        .await
        .unwrap();
    let first = supervisor.status("web").unwrap();

    // A passing probe leaves the process alone.
    tokio::time::sleep(period * 5).await;
    let still = supervisor.status("web").unwrap();
    assert_eq!((still.pid, still.restarts), (first.pid, 0));
    assert!(!log_of(dir.path()).contains("liveness probe failed"));

    // /livez now answers 404: three failures in a row, then a new process.
    std::fs::remove_file(&livez).unwrap();
    let restarted = wait_for("a restart", Duration::from_secs(20), || {
        let s = supervisor.status("web").unwrap();
        (s.restarts == 1).then_some(s)
    })
    .await;
    let why = restarted.last_exit.clone().unwrap_or_default();
    assert!(
        why.starts_with("liveness probe failed 3 times in a row") && why.contains("404"),
        "last exit: {why}"
    );
    let log = log_of(dir.path());
    for n in 1..=3 {
        assert!(
            log.contains(&format!("liveness probe failed ({n} of 3)")),
            "{log}"
        );
    }

    // The new process is not ready (its /livez is still 404, and readiness asks the same URL),
    // and liveness is only asked once ready, so it is not restarted again meanwhile.
    let new_pid = wait_for("the new process", Duration::from_secs(20), || {
        supervisor.status("web").unwrap().pid
    })
    .await;
    assert_ne!(Some(new_pid), first.pid);
    tokio::time::sleep(period * 6).await;
    let waiting = supervisor.status("web").unwrap();
    assert_eq!(
        (waiting.state, waiting.restarts, waiting.pid),
        (ProcessState::Starting, 1, Some(new_pid))
    );

    // Healthy again: ready, and left alone.
    std::fs::write(&livez, "ok").unwrap();
    supervisor
        .wait_ready(Duration::from_secs(30))
        .await
        .unwrap();
    tokio::time::sleep(period * 5).await;
    assert_eq!(supervisor.status("web").unwrap().restarts, 1);
    supervisor.shutdown().await;
}
