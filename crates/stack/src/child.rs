//! One child process of the supervisor: started in its own process group with its output in
//! its log, signalled as a group, and stopped gracefully then forcibly.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::SystemTime;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command as ChildCommand};

use crate::process::ProcessSpec;

/// The stop signal (SIGTERM unless the spec says otherwise) to the group, then SIGKILL after the
/// stop timeout; returns once the process is reaped.
pub(crate) async fn stop(spec: &ProcessSpec, child: &mut Child, pid: u32) {
    signal_group(pid, spec.stop_signal);
    if tokio::time::timeout(spec.stop_timeout, child.wait())
        .await
        .is_err()
    {
        signal_group(pid, Signal::SIGKILL);
        let _ = child.wait().await;
    }
    // Stragglers in the group (workers that outlive their master) go too.
    signal_group(pid, Signal::SIGKILL);
}

pub(crate) fn signal_group(pid: u32, signal: Signal) {
    // ESRCH (already gone) is the expected case after an exit; nothing else can fail here for a
    // group we created.
    let _ = killpg(Pid::from_raw(pid as i32), signal);
}

pub(crate) fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => match Signal::try_from(sig) {
            Ok(s) => format!("killed by {s}"),
            Err(_) => format!("killed by signal {sig}"),
        },
        _ => status.to_string(),
    }
}

pub(crate) fn spawn(spec: &ProcessSpec, log: &Path) -> std::io::Result<Child> {
    let out = open_log(log)?;
    let err = out.try_clone()?;
    let mut command = ChildCommand::new(&spec.program);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        // Its own group, so that signals reach what it forks and never the runner.
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &spec.cwd {
        command.current_dir(dir);
    }
    die_with_parent(&mut command);
    note(
        log,
        &format!(
            "starting: {} {}",
            spec.program.display(),
            spec.args.join(" ")
        ),
    );
    command.spawn()
}

/// If the runner itself is SIGKILLed it cannot stop its children; ask the kernel to do it, so a
/// crashed runner still leaves nothing behind.
#[allow(unsafe_code)]
fn die_with_parent(command: &mut ChildCommand) {
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
}

fn open_log(log: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(log)
}

/// A line from the runner in the process's log, so the log tells the whole story of restarts.
pub(crate) fn note(log: &Path, message: &str) {
    if let Ok(mut f) = open_log(log) {
        let now = humantime::format_rfc3339_millis(SystemTime::now());
        let _ = writeln!(f, "[usactar-runner {now}] {message}");
    }
}
