//! `experiments`: the command line of Usactar's experiment kit.

mod cli_stack;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use cli_stack::{CtlArgs, UpArgs};
use experiments::kit::report;
use experiments::kit::run::{
    self as experiment, ExperimentConfig, Hypothesis, LocalTarget, Target,
};
use experiments::kit::scenario::{self, FaultParams, Scenario};
use experiments::kit::warzone_state::Publish;
use stack::{self, LocalStack, ProcessControl, StackFile};

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
    /// Pod kill: SIGKILL read-api under load; the supervisor restarts it.
    Podkill(ExperimentArgs),
    /// Pod failure: read-api stopped for the fault's duration under load.
    Podfailure(ExperimentArgs),
    /// Container kill: SIGKILL live-forwarder (one container of the consumer pod) under load.
    Containerkill(ExperimentArgs),
    /// Network delay on the link from the consumer pod to live-store, under load.
    Netdelay(ExperimentArgs),
    /// Every scenario, one after the other, then the summary.
    All(ExperimentArgs),
    /// Rank the latest run of each scenario into <out>/SUMMARY.md.
    Report {
        #[arg(long, default_value = "reports")]
        out: PathBuf,
    },
    /// The Kafka questions answered with measurements: producer batching and acks, lag,
    /// a consumer and the broker killed or paused, Kafka against direct store writes.
    Kafka(KafkaArgs),
    /// The scenarios and what each does.
    List,
    /// Start the local stack (Kafka, FerretDB, Redis, Prometheus, NGINX, Toxiproxy, exporters),
    /// print what runs where, and keep it running until Ctrl-C or SIGTERM.
    Up(UpArgs),
    /// Drive a running stack through its control channel.
    Ctl(CtlArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum TargetKind {
    /// The local stack (started here, or reused if `up` runs).
    Local,
    /// A Kubernetes cluster with Chaos Mesh and Linkerd (see docs/deploy.md).
    Kube,
}

#[derive(clap::Args, Clone)]
struct ExperimentArgs {
    #[arg(long, value_enum, default_value = "local")]
    target: TargetKind,
    /// Load before the steady-state window.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// The steady-state window checked before the fault.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    steady: Duration,
    /// How long the fault lasts (podfailure's stop, netdelay's delay) or is watched (kills).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    fault: Duration,
    /// Load kept on after the fault; its second half is checked against the hypothesis.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    recovery: Duration,
    /// Writers' total rate, predictions per second.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Writers: simultaneous POST /input requests.
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// Viewers: each reads /api/live twice a second and holds its WebSocket.
    #[arg(long, default_value_t = 4)]
    viewers: usize,
    /// netdelay: the added latency and its jitter.
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    delay: Duration,
    #[arg(long, default_value = "20ms", value_parser = humantime::parse_duration)]
    jitter: Duration,
    /// Predictions to send (default: 10,000 generated from the real Qatar 2022 matches).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Where reports go: <out>/<scenario>/<run-id>/.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// Steady-state hypothesis: least ingest success (client side).
    #[arg(long, default_value_t = 0.999)]
    min_ingest_success: f64,
    /// Steady-state hypothesis: highest ingest p99 (client side).
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    max_ingest_p99: Duration,
    /// Steady-state hypothesis: least read-api success seen by viewers.
    #[arg(long, default_value_t = 0.99)]
    min_read_success: f64,
    /// Steady-state hypothesis: most consumer lag, in records.
    #[arg(long, default_value_t = 2000.0)]
    max_lag: f64,
    /// The stack's state folder (reused if `up` runs there, started otherwise).
    #[arg(long, env = "USACTAR_STATE_DIR", default_value = ".state")]
    state_dir: PathBuf,
    /// Ports of a stack started here: NAME=PORT (repeatable).
    #[arg(long = "port", value_name = "NAME=PORT")]
    ports: Vec<String>,
    /// --target kube: the kubeconfig contexts of cluster A (ingest, Kafka, consumers) and B
    /// (live-store, read-api, stores).
    #[arg(long, default_value = "kind-usactar-a")]
    context_a: String,
    #[arg(long, default_value = "kind-usactar-b")]
    context_b: String,
    /// --target kube: the ingress in front of ingest (cluster A).
    #[arg(long, default_value = "http://localhost:8080")]
    ingress: String,
    /// --target kube: the ingress in front of read-api (cluster B).
    #[arg(long, default_value = "http://localhost:8081")]
    api: String,
    /// --target kube: linkerd-viz's Prometheus in each cluster (e.g. through
    /// `kubectl -n linkerd-viz port-forward svc/prometheus 9090`).
    #[arg(long, default_value = "http://localhost:9090")]
    prometheus_a: String,
    #[arg(long, default_value = "http://localhost:9091")]
    prometheus_b: String,
    /// --target kube, netdelay: the address of cluster B's multicluster gateway, as the
    /// consumer pod reaches it (repeatable).
    #[arg(long)]
    gateway: Vec<String>,
}

#[derive(clap::Args)]
struct KafkaArgs {
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
async fn kafka(args: KafkaArgs) -> Result<ExitCode> {
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
    let mut owned = None;
    let (ports, control) = match StackFile::read(&args.state_dir) {
        Ok(file) if file.control().statuses().await.is_ok() => {
            eprintln!("using the stack that runs in {}", args.state_dir.display());
            (file.ports(), file.control())
        }
        _ => {
            let config = cli_stack::stack_config(&args.state_dir, &args.ports)?;
            eprintln!(
                "starting the local stack in {} ...",
                args.state_dir.display()
            );
            let stack = LocalStack::up(config)
                .await
                .context("the local stack did not start")?;
            let found = (
                stack.ports.clone(),
                stack::ControlClient::new(&stack.control_addr),
            );
            owned = Some(stack);
            found
        }
    };
    let outcome = experiments::kafka_study::run(&config, &ports, control).await;
    if let Some(stack) = owned {
        eprintln!("stopping the local stack ...");
        stack.shutdown().await;
    }
    let dir = outcome?;
    println!("report: {}", dir.join("report.md").display());
    Ok(ExitCode::SUCCESS)
}

#[tokio::main]
async fn main() -> ExitCode {
    // Errors are for people: the chain of causes on one line each, no backtrace.
    // 0: done (and every experiment passed); 1: an experiment's hypothesis or invariant
    // failed; 3: something could not run; 2: bad flags (clap).
    match run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(3)
        }
    }
}

/// The exit status of a run whose experiments ran but whose hypothesis or invariant failed.
const EXPERIMENT_FAILED: u8 = 1;

async fn run() -> Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Up(args) => cli_stack::up(args).await.map(|()| ExitCode::SUCCESS),
        Command::Ctl(args) => cli_stack::ctl(args).await.map(|()| ExitCode::SUCCESS),
        Command::Podkill(args) => experiments(&[Scenario::PodKill], args, false).await,
        Command::Podfailure(args) => experiments(&[Scenario::PodFailure], args, false).await,
        Command::Containerkill(args) => experiments(&[Scenario::ContainerKill], args, false).await,
        Command::Netdelay(args) => experiments(&[Scenario::NetDelay], args, false).await,
        Command::All(args) => experiments(&scenario::ALL, args, true).await,
        Command::Report { out } => {
            let (path, harms) = report::summary(&out)?;
            if harms.is_empty() {
                anyhow::bail!(
                    "no report under {}; run an experiment first (e.g. `experiments all`)",
                    out.display()
                );
            }
            print_ranking(&harms);
            println!("wrote {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Kafka(args) => kafka(args).await,
        Command::List => {
            for s in scenario::ALL {
                println!("{:<14} {}", s.name(), scenario::describe(s));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_ranking(harms: &[report::Harm]) {
    println!("most harmful first (data lost, failed requests, time to recover, worst p99):");
    for (i, h) in harms.iter().enumerate() {
        println!(
            "  {}. {:<14} lost {:>3}  failed {:>5}  recovered {:>7}  worst p99 {:>6.0} ms  {}",
            i + 1,
            h.scenario.name(),
            h.data_lost,
            h.failed_requests,
            h.time_to_recover_s
                .map(|t| format!("{t:.1}s"))
                .unwrap_or("never".into()),
            h.worst_p99_ms,
            if h.passed { "passed" } else { "FAILED" }
        );
    }
}

/// A stack to run experiments on: the one `up` runs in this state folder, or a new one started
/// here (and stopped afterwards).
async fn target(args: &ExperimentArgs) -> Result<(Target, Option<LocalStack>)> {
    if args.target == TargetKind::Kube {
        let clusters =
            chaos::KubeTarget::from_contexts(Some(&args.context_a), Some(&args.context_b))
                .await
                .context("connecting to the clusters (see docs/deploy.md)")?
                .with_prometheus(
                    chaos::Prometheus::new(&args.prometheus_a),
                    chaos::Prometheus::new(&args.prometheus_b),
                );
        let kube = Target::Kube {
            clusters: Box::new(clusters),
            ingress: args.ingress.trim_end_matches('/').to_string(),
            api: args.api.trim_end_matches('/').to_string(),
            gateway: args.gateway.clone(),
        };
        return Ok((kube, None));
    }
    let (local, stack) = local_target(args).await?;
    Ok((Target::Local(local), stack))
}

async fn local_target(args: &ExperimentArgs) -> Result<(LocalTarget, Option<LocalStack>)> {
    if let Ok(file) = StackFile::read(&args.state_dir) {
        let control = file.control();
        if control.statuses().await.is_ok() {
            eprintln!("using the stack that runs in {}", args.state_dir.display());
            let ports = file.ports();
            return Ok((LocalTarget { ports, control }, None));
        }
    }
    let config = cli_stack::stack_config(&args.state_dir, &args.ports)?;
    eprintln!(
        "starting the local stack in {} ...",
        args.state_dir.display()
    );
    let stack = LocalStack::up(config)
        .await
        .context("the local stack did not start")?;
    let target = LocalTarget {
        ports: stack.ports.clone(),
        control: stack::ControlClient::new(&stack.control_addr),
    };
    Ok((target, Some(stack)))
}

async fn experiments(
    scenarios: &[Scenario],
    args: ExperimentArgs,
    summary: bool,
) -> Result<ExitCode> {
    if args.rate <= 0.0 || args.writers == 0 {
        anyhow::bail!("--rate and --writers must be positive");
    }
    let data = match &args.data {
        Some(path) => loadgen::load_data(path)?,
        None => loadgen::datagen::generate(2022, 10_000),
    };
    let (target, owned) = target(&args).await?;
    let publish = match &target {
        Target::Local(l) => Publish::local(&args.state_dir, &l.ports.addr("ingress")),
        Target::Kube { .. } => Publish::default(),
    };
    let mut outcome = Ok(());
    let mut all_passed = true;
    for s in scenarios {
        let config = ExperimentConfig {
            scenario: *s,
            warmup: args.warmup,
            steady: args.steady,
            fault: args.fault,
            recovery: args.recovery,
            rate: args.rate,
            writers: args.writers,
            viewers: args.viewers,
            params: FaultParams {
                duration: args.fault,
                delay: args.delay,
                jitter: args.jitter,
            },
            hypothesis: Hypothesis {
                min_ingest_success: args.min_ingest_success,
                max_ingest_p99_ms: args.max_ingest_p99.as_secs_f64() * 1000.0,
                min_read_success: args.min_read_success,
                max_lag: args.max_lag,
            },
            out: args.out.clone(),
            data: data.clone(),
        };
        match experiment::run_published(&config, &target, &publish).await {
            Ok((r, dir)) => {
                println!(
                    "{}: {} — {} failed requests, detected {}, recovered {}, {} accepted / {} in MongoDB / {} in Redis",
                    s.name(),
                    if r.passed { "PASSED" } else { "FAILED" },
                    r.impact.failed_requests.values().sum::<u64>(),
                    r.impact.time_to_detect_s.map(|t| format!("after {t:.0}s")).unwrap_or("never".into()),
                    r.impact.time_to_recover_s.map(|t| format!("after {t:.0}s")).unwrap_or("not while measured".into()),
                    r.invariant.accepted, r.invariant.mongodb, r.invariant.redis,
                );
                for f in &r.failures {
                    println!("  - {f}");
                }
                println!("  report: {}", dir.join("report.md").display());
                all_passed &= r.passed;
            }
            Err(e) => {
                outcome = Err(e.context(format!("{} could not run", s.name())));
                break;
            }
        }
    }
    if outcome.is_ok() && summary {
        let (path, harms) = report::summary(&args.out)?;
        print_ranking(&harms);
        println!("wrote {}", path.display());
    }
    if let Some(stack) = owned {
        eprintln!("stopping the local stack ...");
        stack.shutdown().await;
    }
    outcome.map(|()| match all_passed {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(EXPERIMENT_FAILED),
    })
}
