//! `experiments up` as a user runs it: it starts the whole stack, and SIGTERM leaves no process
//! and no listening port behind.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::state_dir;
use stack::ports::is_free;
use stack::{ControlClient, Ports, ProcessControl};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

#[tokio::test]
async fn sigterm_leaves_no_process_and_no_port_behind() {
    let state = state_dir("runner");
    let ports = Ports::ephemeral();
    let mut command = Command::new(env!("CARGO_BIN_EXE_experiments"));
    command.arg("up").arg("--state-dir").arg(&state);
    for (name, port) in ports.iter() {
        command.arg("--port").arg(format!("{name}={port}"));
    }
    let mut runner = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start experiments up");

    let stack_file = state.join("stack.json");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !stack_file.exists() {
        if let Some(status) = runner.try_wait().unwrap() {
            panic!("experiments up exited before the stack was up: {status}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the stack was not up within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let control = ControlClient::new(&ports.addr("control"));
    let statuses = control
        .statuses()
        .await
        .expect("the control channel answers");
    let pids: Vec<(String, u32)> = statuses
        .iter()
        .map(|s| (s.name.clone(), s.pid.expect("every process runs")))
        .collect();
    let all = stack::local::SERVERS.len() + stack::local::SERVICES.len();
    assert_eq!(pids.len(), all);

    kill(Pid::from_raw(runner.id() as i32), Signal::SIGTERM).unwrap();
    let status = tokio::task::spawn_blocking(move || runner.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "experiments up exited with {status}");

    for (name, pid) in &pids {
        let alive = kill(Pid::from_raw(*pid as i32), None).is_ok();
        assert!(!alive, "{name} (pid {pid}) is still running");
    }
    for (name, port) in ports
        .iter()
        .filter(|(n, _)| !["ingest", "read-api"].contains(n))
    {
        assert!(is_free(port), "port {port} ({name}) is still taken");
    }
    assert!(!stack_file.exists(), "stack.json is removed on shutdown");
}

#[tokio::test]
async fn a_taken_port_is_a_clear_error_that_starts_nothing() {
    let state = state_dir("taken");
    let mut ports = Ports::ephemeral();
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap().port();
    ports.set("redis", taken).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_experiments"));
    command.arg("up").arg("--state-dir").arg(&state);
    for (name, port) in ports.iter() {
        command.arg("--port").arg(format!("{name}={port}"));
    }
    let output = command.output().expect("run experiments up");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("port {taken} (redis) is already in use")),
        "{stderr}"
    );
    assert!(!state.join("logs").exists(), "nothing was started");
}
