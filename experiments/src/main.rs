//! `experiments`: the command line of Usactar's experiment kit.

mod cli_batch;
mod cli_kafka;
mod cli_stack;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};
use cli_stack::{CtlArgs, UpArgs};
use experiments::kit::{report, scenario};

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
    /// Run experiments by name, or by family (`podkill` runs every `podkill-*`); see `list`.
    Run {
        #[arg(required = true, value_name = "EXPERIMENT")]
        names: Vec<String>,
        #[command(flatten)]
        args: ExperimentArgs,
    },
    /// The pod kills (`run podkill`): read-api, then ingest.
    Podkill(ExperimentArgs),
    /// The pod failures (`run podfailure`): read-api, then ingest.
    Podfailure(ExperimentArgs),
    /// The container kills (`run containerkill`): live-forwarder, then logs-writer.
    Containerkill(ExperimentArgs),
    /// The link delays (`run netdelay`): 200 ms, 2 s, 6 s.
    Netdelay(ExperimentArgs),
    /// The broker's kill and pause (`run broker`).
    Broker(ExperimentArgs),
    /// The sustainable rate first, then every experiment, repeated, then the summary.
    All(ExperimentArgs),
    /// Measure the rate this machine sustains; writes <out>/capacity.json.
    Capacity(ExperimentArgs),
    /// Rank the latest batch of each experiment into <out>/SUMMARY.md (and re-answer their
    /// reports).
    Report {
        #[arg(long, default_value = "reports")]
        out: PathBuf,
    },
    /// The Kafka questions answered with measurements: producer batching and acks, lag,
    /// a consumer and the broker killed or paused, Kafka against direct store writes.
    Kafka(cli_kafka::KafkaArgs),
    /// The experiments and what each does.
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
    /// How long failures, delays and pauses last.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    fault: Duration,
    /// How long one-shot kills are watched (the fault phase of a kill).
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    watch: Duration,
    /// Load kept on after the fault; its second half is checked against the hypothesis.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    recovery: Duration,
    /// Runs of each experiment (default: 3 for `all`, 1 otherwise); figures are their median
    /// and range.
    #[arg(long)]
    repeat: Option<usize>,
    /// Continue a batch under --out instead of starting one (default: the newest batch of
    /// these experiments; a report's "batch" names it): run only the (experiment, repeat)
    /// pairs it lacks, at its load, so an interrupted `all` finishes where it stopped. The
    /// phase, writer and viewer flags must be the batch's.
    #[arg(long, value_name = "BATCH", num_args = 0..=1, default_missing_value = "",
          conflicts_with_all = ["rate", "load_fraction", "repeat"])]
    resume: Option<String>,
    /// Writers' total rate, predictions per second. Default: --load-fraction of the capacity
    /// in <out>/capacity.json (measured first when there is none, and always by `all`).
    #[arg(long)]
    rate: Option<f64>,
    /// The share of the measured capacity the writers send.
    #[arg(long, default_value_t = 0.5)]
    load_fraction: f64,
    /// Writers: simultaneous POST /input requests.
    #[arg(long, default_value_t = 32)]
    writers: usize,
    /// Viewers: each reads /api/live every --read-every and holds its WebSocket.
    #[arg(long, default_value_t = 25)]
    viewers: usize,
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    read_every: Duration,
    /// capacity: how long each rate is held.
    #[arg(long, default_value = "8s", value_parser = humantime::parse_duration)]
    capacity_step: Duration,
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
    /// --target kube: Kafka's bootstrap address reachable from here, for consumer lag read from
    /// the broker (kind and the sandbox: `<cluster-a node address>:30092`, the kafka-external
    /// node port). Without it lag is "not measured".
    #[arg(long)]
    kafka: Option<String>,
    /// --target kube: the user to read lag as, where `--kafka`'s listener asks for one
    /// (deploy/components/kafka-sasl-external: `usactar-admin`). Its password comes from
    /// USACTAR_KAFKA_PASSWORD, never a flag (a command line is visible to every user of the
    /// machine).
    #[arg(long, requires = "kafka")]
    kafka_username: Option<String>,
    /// --target kube: MongoDB's URI and Redis' URL reachable from here (e.g. port-forwards to
    /// cluster B's services), so the data invariant counts the stores directly; without them
    /// it reads read-api's /api/stats, which gives up after 2 s on a large collection.
    #[arg(long, requires = "redis")]
    mongodb: Option<String>,
    #[arg(long, requires = "mongodb")]
    redis: Option<String>,
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
        Command::Podkill(args) => cli_batch::run_named(&["podkill"], args).await,
        Command::Podfailure(args) => cli_batch::run_named(&["podfailure"], args).await,
        Command::Containerkill(args) => cli_batch::run_named(&["containerkill"], args).await,
        Command::Netdelay(args) => cli_batch::run_named(&["netdelay"], args).await,
        Command::Broker(args) => cli_batch::run_named(&["broker"], args).await,
        Command::Kafka(args) => cli_kafka::kafka(args).await,
        Command::Run { names, args } => cli_batch::run_named(&names, args).await,
        Command::All(args) => cli_batch::experiments(&scenario::CATALOG, args, true).await,
        Command::Capacity(args) => cli_batch::capacity(args).await,
        Command::Report { out } => {
            let (path, ranking) = report::summary(&out)?;
            if ranking.rows.is_empty() {
                anyhow::bail!(
                    "no report under {}; run an experiment first (e.g. `experiments all`)",
                    out.display()
                );
            }
            cli_batch::print_ranking(&ranking);
            println!("wrote {}", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::List => {
            for e in scenario::CATALOG {
                println!("{:<30} {}", e.name, e.describe());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
