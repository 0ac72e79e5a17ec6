//! `experiments up` and `experiments ctl`: the user's commands for the local stack (the stack
//! itself is the `stack` crate).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Subcommand;
use experiments::kit::target::LocalTarget;
use stack::pages::Pages;
use stack::{ControlClient, LocalStack, ProcessControl, StackConfig, StackFile};

#[derive(clap::Args)]
pub struct UpArgs {
    /// The state folder: data, logs and configuration of every server.
    #[arg(long, env = "USACTAR_STATE_DIR", default_value = ".state")]
    state_dir: PathBuf,
    /// Change a port: NAME=PORT (repeatable). Names: see `--help` of the README's port table.
    #[arg(long = "port", value_name = "NAME=PORT")]
    ports: Vec<String>,
    /// Start only these servers (comma-separated), e.g. `--only kafka,redis`, and what they
    /// need (`ferretdb` brings `postgresql`).
    #[arg(long, value_delimiter = ',')]
    only: Option<Vec<String>>,
    /// How long to wait for every server to be ready.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    ready_timeout: Duration,
}

#[derive(clap::Args)]
pub struct CtlArgs {
    /// The control channel of a running `up` (default: read from <state>/stack.json).
    #[arg(long, env = "USACTAR_CONTROL")]
    control: Option<String>,
    #[arg(long, env = "USACTAR_STATE_DIR", default_value = ".state")]
    state_dir: PathBuf,
    #[command(subcommand)]
    action: CtlAction,
}

#[derive(Subcommand)]
enum CtlAction {
    /// Every process: state, pid, restarts.
    Ps,
    /// SIGKILL a process; the supervisor restarts it.
    Kill { name: String },
    /// Stop a process and keep it stopped for a while, then start it again.
    Hold {
        name: String,
        #[arg(long = "for", value_parser = humantime::parse_duration)]
        duration: Duration,
    },
    /// Stop a process gracefully and start it again.
    Restart { name: String },
    /// Stop the whole stack.
    #[command(alias = "shutdown")]
    Down,
}

/// A stack's configuration from the process environment (`USACTAR_PORT_*`, ...) and `--port`
/// overrides, as `up` and the experiments start it.
pub fn stack_config(state_dir: &std::path::Path, ports: &[String]) -> Result<StackConfig> {
    let mut config = StackConfig::new(state_dir);
    config.ports.apply_env(|k| std::env::var(k).ok())?;
    config
        .ports
        .apply_overrides(ports.iter().map(String::as_str))?;
    Ok(config)
}

/// Starts the stack, prints what runs where, and keeps it until Ctrl-C, SIGTERM or `ctl down`.
pub async fn up(args: UpArgs) -> Result<()> {
    let mut config = stack_config(&args.state_dir, &args.ports)?;
    config.only = args.only;
    config.ready_timeout = args.ready_timeout;

    eprintln!(
        "starting the local stack in {} ...",
        args.state_dir.display()
    );
    let started = std::time::Instant::now();
    let stack = LocalStack::up(config)
        .await
        .context("the local stack did not start")?;
    println!("{}\n", stack.programs_found());
    println!("{}", stack.table());
    match &stack.pages {
        Some(Pages::Ready { .. }) => println!(
            "\nweb pages: http://{0}/live and http://{0}/logs",
            stack.ports.addr("ingress")
        ),
        Some(Pages::Missing { dist, why }) => println!(
            "\nweb pages: NOT BUILT ({} has no index.html), so /live and /logs explain this \
             instead; {why}",
            dist.display()
        ),
        None => {}
    }
    println!(
        "\nready in {:.1}s. control: http://{} (try `experiments ctl ps`). Ctrl-C stops everything.",
        started.elapsed().as_secs_f64(),
        stack.control_addr
    );

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => eprintln!("\nCtrl-C: stopping the stack ..."),
        _ = sigterm.recv() => eprintln!("SIGTERM: stopping the stack ..."),
        _ = stack.shutdown_requested() => eprintln!("asked to stop over the control channel: stopping the stack ..."),
    }
    let stopping = std::time::Instant::now();
    stack.shutdown().await;
    eprintln!(
        "stopped in {:.1}s; nothing is left running.",
        stopping.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The stack that runs in `state_dir` (when its control channel answers), or one started there
/// now (returned, to be stopped by the caller): its ports, a client of its control channel and
/// its broker's administrator.
pub async fn reuse_or_start(
    state_dir: &std::path::Path,
    ports: &[String],
) -> Result<(LocalTarget, Option<LocalStack>)> {
    if let Ok(file) = StackFile::read(state_dir) {
        let control = file.control();
        if control.statuses().await.is_ok() {
            eprintln!("using the stack that runs in {}", state_dir.display());
            let local = LocalTarget {
                ports: file.ports(),
                control,
                kafka: file.kafka(),
            };
            return Ok((local, None));
        }
    }
    let config = stack_config(state_dir, ports)?;
    eprintln!("starting the local stack in {} ...", state_dir.display());
    let stack = LocalStack::up(config)
        .await
        .context("the local stack did not start")?;
    let local = LocalTarget {
        ports: stack.ports.clone(),
        control: stack.control_client(),
        kafka: stack.kafka.clone(),
    };
    Ok((local, Some(stack)))
}

/// Drives a running stack through its control channel.
pub async fn ctl(args: CtlArgs) -> Result<()> {
    let client = match args.control {
        // Another address, the same stack's token.
        Some(addr) => {
            ControlClient::new(&addr).with_token(&StackFile::read(&args.state_dir)?.control_token)
        }
        None => StackFile::read(&args.state_dir)?.control(),
    };
    match args.action {
        CtlAction::Ps => println!("{}", stack::status_table::table(&client.statuses().await?)),
        CtlAction::Kill { name } => {
            let pid = client.kill(&name).await?;
            println!("killed {name} (pid {pid}); the supervisor restarts it");
        }
        CtlAction::Hold { name, duration } => {
            client.hold(&name, duration).await?;
            println!(
                "{name} is stopped; it starts again in {}",
                humantime::format_duration(duration)
            );
        }
        CtlAction::Restart { name } => {
            client.restart(&name).await?;
            println!("{name} restarted");
        }
        CtlAction::Down => {
            client.shutdown().await?;
            println!("the stack is stopping");
        }
    }
    Ok(())
}
