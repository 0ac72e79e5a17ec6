//! `experiments kafka`: the Kafka questions answered with measurements on the local stack
//! (`kafka_study`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use crate::cli_stack;

#[derive(clap::Args)]
pub struct KafkaArgs {
    /// Where the report goes: <out>/kafka/<run-id>/.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// Length of each producer cell and of each closed-loop measurement.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    cell: Duration,
    /// Fans per second of the lag levels (repeatable).
    #[arg(long = "lag-rate", default_values_t = [300.0, 1000.0])]
    lag_rates: Vec<f64>,
    /// Length of each lag level.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    level: Duration,
    /// Fans per second while a consumer or the broker fails.
    #[arg(long, default_value_t = 200.0)]
    fault_rate: f64,
    /// How long the broker stays paused (SIGSTOP).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pause: Duration,
    /// The stack's state folder (reused if `up` runs there, started otherwise).
    #[arg(long, env = "USACTAR_STATE_DIR", default_value = ".state")]
    state_dir: PathBuf,
    /// Ports of a stack started here: NAME=PORT (repeatable).
    #[arg(long = "port", value_name = "NAME=PORT")]
    ports: Vec<String>,
}

/// `experiments kafka`: on the stack that runs in the state folder, or on one started for it.
pub async fn kafka(args: KafkaArgs) -> Result<ExitCode> {
    if args
        .lag_rates
        .iter()
        .chain([&args.fault_rate])
        .any(|r| *r <= 0.0 || !r.is_finite())
    {
        anyhow::bail!("--lag-rate and --fault-rate must be positive");
    }
    let config = experiments::kafka_study::StudyConfig {
        out: args.out,
        cell: args.cell,
        lingers: vec![0, 2, 10, 50],
        in_flight: vec![1, 16, 128],
        lag_rates: args.lag_rates,
        level: args.level,
        fault_rate: args.fault_rate,
        pause: args.pause,
        followed: 40,
    };
    let (local, owned) = cli_stack::reuse_or_start(&args.state_dir, &args.ports).await?;
    let outcome = experiments::kafka_study::run(&config, &local).await;
    if let Some(stack) = owned {
        eprintln!("stopping the local stack ...");
        stack.shutdown().await;
    }
    let dir = outcome?;
    println!("report: {}", dir.join("report.md").display());
    Ok(ExitCode::SUCCESS)
}
