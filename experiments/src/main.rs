//! `experiments`: the command line of Usactar's experiment kit.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use experiments::stack::{self, ControlClient, LocalStack, ProcessControl, StackConfig};

#[derive(Parser)]
#[command(
    version,
    about = "Usactar: study a distributed system under load and chaos"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the local stack (Kafka, FerretDB, Redis, Prometheus, NGINX, Toxiproxy, exporters),
    /// print what runs where, and keep it running until Ctrl-C or SIGTERM.
    Up(UpArgs),
    /// Drive a running stack through its control channel.
    Ctl(CtlArgs),
}

#[derive(clap::Args)]
struct UpArgs {
    /// The state folder: data, logs and configuration of every server.
    #[arg(long, env = "USACTAR_STATE_DIR", default_value = ".state")]
    state_dir: PathBuf,
    /// Change a port: NAME=PORT (repeatable). Names: see `--help` of the README's port table.
    #[arg(long = "port", value_name = "NAME=PORT")]
    ports: Vec<String>,
    /// Start only these servers (comma-separated), e.g. `--only kafka,redis`.
    #[arg(long, value_delimiter = ',')]
    only: Option<Vec<String>>,
    /// How long to wait for every server to be ready.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    ready_timeout: Duration,
}

#[derive(clap::Args)]
struct CtlArgs {
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
    Down,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Errors are for people: the chain of causes on one line each, no backtrace.
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Up(args) => up(args).await,
        Command::Ctl(args) => ctl(args).await,
    }
}

async fn up(args: UpArgs) -> Result<()> {
    let mut config = StackConfig::new(&args.state_dir);
    config.ports.apply_env(|k| std::env::var(k).ok())?;
    config
        .ports
        .apply_overrides(args.ports.iter().map(String::as_str))?;
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
    println!("{}", stack.table());
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

async fn ctl(args: CtlArgs) -> Result<()> {
    let addr = match args.control {
        Some(addr) => addr,
        None => {
            let path = args.state_dir.join("stack.json");
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "no running stack found ({} is missing); start one with `experiments up`",
                    path.display()
                )
            })?;
            let file: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", path.display()))?;
            file["control"]
                .as_str()
                .with_context(|| format!("{} has no control address", path.display()))?
                .to_string()
        }
    };
    let client = ControlClient::new(&addr);
    match args.action {
        CtlAction::Ps => println!("{}", stack::local::table(&client.statuses().await?)),
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
