//! `experiments up` as a user runs it: it starts the whole stack, says where the web pages are
//! (or how to build them), and SIGTERM leaves no process and no listening port behind.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{eventually, state_dir};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use stack::ports::is_free;
use stack::{Ports, ProcessControl, StackFile};

#[tokio::test]
async fn sigterm_leaves_no_process_and_no_port_behind() {
    let state = state_dir("runner");
    let ports = Ports::ephemeral();
    let mut command = Command::new(env!("CARGO_BIN_EXE_experiments"));
    command.arg("up").arg("--state-dir").arg(&state);
    for (name, port) in ports.iter() {
        command.arg("--port").arg(format!("{name}={port}"));
    }
    // Pages that are not built, and nothing to build them from: NGINX must say so.
    let pages = state.join("no-frontend/dist");
    let mut runner = command
        .env("USACTAR_FRONTEND_DIST", &pages)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start experiments up");

    let stack_file = StackFile::path(&state);
    let file = eventually(Duration::from_secs(120), "the stack is up", || {
        if let Some(status) = runner.try_wait().unwrap() {
            panic!("experiments up exited before the stack was up: {status}");
        }
        let file = StackFile::read(&state).map_err(|e| e.to_string());
        async move { file }
    })
    .await;
    assert_eq!(file.ports(), ports, "stack.json has the stack's ports");

    let live = reqwest::get(format!("http://{}/live", ports.addr("ingress")))
        .await
        .expect("NGINX answers /live");
    assert_eq!(live.status(), 404);
    let page = live.text().await.unwrap();
    assert!(
        page.contains("not built") && page.contains("npm run build"),
        "the page says how to build the pages: {page}"
    );

    let control = file.control();
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
