//! `experiments`: the command line of Usactar's experiment kit.

mod cli_kafka;
mod cli_stack;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use cli_stack::{CtlArgs, UpArgs};
use experiments::kit::run::{
    self as experiment, ExperimentConfig, Hypothesis, LocalTarget, Outcome, Target,
};
use experiments::kit::scenario::{self, Experiment};
use experiments::kit::viewer::Viewer;
use experiments::kit::warzone_state::Publish;
use experiments::kit::{capacity, report};
use stack::{self, LocalStack};

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
        Command::Podkill(args) => run_named(&["podkill"], args).await,
        Command::Podfailure(args) => run_named(&["podfailure"], args).await,
        Command::Containerkill(args) => run_named(&["containerkill"], args).await,
        Command::Netdelay(args) => run_named(&["netdelay"], args).await,
        Command::Broker(args) => run_named(&["broker"], args).await,
        Command::Kafka(args) => cli_kafka::kafka(args).await,
        Command::Run { names, args } => run_named(&names, args).await,
        Command::All(args) => experiments(&scenario::CATALOG, args, true).await,
        Command::Capacity(args) => {
            let data = predictions(&args)?;
            let (target, owned) = target(&args).await?;
            let measured = measure_capacity(&args, &target, &data).await;
            if let Some(stack) = owned {
                stack.shutdown().await;
            }
            measured.map(|_| ExitCode::SUCCESS)
        }
        Command::Report { out } => {
            let (path, ranking) = report::summary(&out)?;
            if ranking.rows.is_empty() {
                anyhow::bail!(
                    "no report under {}; run an experiment first (e.g. `experiments all`)",
                    out.display()
                );
            }
            print_ranking(&ranking);
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

fn print_ranking(ranking: &report::Ranking) {
    println!("{}.", ranking.rule);
    for r in &ranking.rows {
        println!(
            "  {:>2}. {:<30} lost {:>5.1}  user-s {:>7.1} ({:.1}-{:.1})  recovered {:>5.1}s ({:.1}-{:.1})  passed {}/{}",
            r.rank,
            r.experiment,
            r.data_lost.median,
            r.user_seconds.median,
            r.user_seconds.min,
            r.user_seconds.max,
            r.recover_s.median,
            r.recover_s.min,
            r.recover_s.max,
            r.passed,
            r.repeats,
        );
    }
    println!(
        "  the order held in {} of {} repeats",
        ranking.order_held_in, ranking.repeats
    );
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
            kafka: args.kafka.clone(),
            stores: args.mongodb.clone().zip(args.redis.clone()),
        };
        return Ok((kube, None));
    }
    let (local, stack) = local_target(args).await?;
    Ok((Target::Local(local), stack))
}

async fn local_target(args: &ExperimentArgs) -> Result<(LocalTarget, Option<LocalStack>)> {
    let (ports, control, stack) = cli_stack::reuse_or_start(&args.state_dir, &args.ports).await?;
    Ok((LocalTarget { ports, control }, stack))
}

fn predictions(args: &ExperimentArgs) -> Result<Vec<loadgen::Prediction>> {
    Ok(match &args.data {
        Some(path) => loadgen::load_data(path)?,
        None => loadgen::datagen::generate(2022, 10_000),
    })
}

async fn measure_capacity(
    args: &ExperimentArgs,
    target: &Target,
    data: &[loadgen::Prediction],
) -> Result<capacity::Capacity> {
    eprintln!("measuring the sustainable rate ...");
    let c = capacity::measure(target, data, args.writers, args.capacity_step).await?;
    capacity::write(&args.out, &c)?;
    match c.sustainable_rps {
        Some(rps) => println!(
            "sustainable: {rps:.0} predictions/s (written to {})",
            capacity::path(&args.out).display()
        ),
        None => anyhow::bail!(
            "not even {:.0} predictions/s were sustained",
            capacity::RATES[0]
        ),
    }
    Ok(c)
}

/// The batch `--resume` continues and its load, after checking that the flags given run it
/// as it was run (a resumed batch mixing two settings would rank unlike runs together).
fn resumable(
    chosen: &[Experiment],
    args: &ExperimentArgs,
    batch: Option<&str>,
) -> Result<(report::Unfinished, report::RunSettings)> {
    let names: Vec<&str> = chosen.iter().map(|e| e.name).collect();
    let u = report::unfinished(&args.out, &names, batch).with_context(|| {
        format!(
            "--resume: no run of these experiments{} under {}; start a batch without --resume",
            batch.map(|b| format!(" in batch {b}")).unwrap_or_default(),
            args.out.display()
        )
    })?;
    let load = u
        .load()
        .cloned()
        .with_context(|| format!("--resume: batch {} holds no run that measured", u.batch))?;
    for e in chosen {
        let Some(ran) = u.settings.get(e.name) else {
            continue;
        };
        let fault = if e.fault.is_one_shot() {
            ("--watch", args.watch)
        } else {
            ("--fault", args.fault)
        };
        let flags = [
            ("--warmup", ran.warmup_s, args.warmup.as_secs_f64()),
            ("--steady", ran.steady_s, args.steady.as_secs_f64()),
            (fault.0, ran.fault_s, fault.1.as_secs_f64()),
            ("--recovery", ran.recovery_s, args.recovery.as_secs_f64()),
            ("--writers", ran.writers as f64, args.writers as f64),
            ("--viewers", ran.viewers as f64, args.viewers as f64),
            (
                "--read-every",
                ran.read_every_s,
                args.read_every.as_secs_f64(),
            ),
        ];
        for (flag, then, now) in flags {
            if (then - now).abs() > 1e-6 {
                anyhow::bail!(
                    "--resume: batch {} ran {} with {flag} {then}, not {now}; pass the batch's value",
                    u.batch,
                    e.name
                );
            }
        }
    }
    Ok((u, load))
}

/// Runs the experiments named, or of the families named (`podkill` runs every `podkill-*`).
async fn run_named(names: &[impl AsRef<str>], args: ExperimentArgs) -> Result<ExitCode> {
    let mut chosen: Vec<Experiment> = Vec::new();
    for name in names {
        let name = name.as_ref();
        let found = scenario::select(name);
        if found.is_empty() {
            anyhow::bail!("no experiment is named {name:?} (see `experiments list`)");
        }
        for e in found {
            if !chosen.contains(&e) {
                chosen.push(e);
            }
        }
    }
    experiments(&chosen, args, false).await
}

async fn experiments(chosen: &[Experiment], args: ExperimentArgs, all: bool) -> Result<ExitCode> {
    if args.rate.is_some_and(|r| r <= 0.0)
        || args.writers == 0
        || !(args.load_fraction > 0.0 && args.load_fraction <= 1.0)
        || args.repeat == Some(0)
    {
        anyhow::bail!("--rate, --writers and --repeat must be positive, --load-fraction in (0, 1]");
    }
    let data = predictions(&args)?;
    let (target, owned) = target(&args).await?;
    let outcome = run_all(chosen, &args, all, &target, &data).await;
    if let Some(stack) = owned {
        eprintln!("stopping the local stack ...");
        stack.shutdown().await;
    }
    outcome
}

async fn run_all(
    chosen: &[Experiment],
    args: &ExperimentArgs,
    all: bool,
    target: &Target,
    data: &[loadgen::Prediction],
) -> Result<ExitCode> {
    let resumed = match &args.resume {
        None => None,
        Some(batch) => Some(resumable(
            chosen,
            args,
            Some(batch.as_str()).filter(|b| !b.is_empty()),
        )?),
    };
    let (rate, capacity_rps, fraction) = match (&resumed, args.rate) {
        (Some((_, load)), _) => (load.rate, load.capacity_rps, load.load_fraction),
        (None, Some(rate)) => (rate, None, None),
        (None, None) => {
            let capacity = match capacity::read(&args.out) {
                Some(c) if !all => c,
                _ => measure_capacity(args, target, data).await?,
            };
            let cap = capacity
                .sustainable_rps
                .context("the capacity file holds no sustained rate")?;
            (
                cap * args.load_fraction,
                Some(cap),
                Some(args.load_fraction),
            )
        }
    };
    let (repeats, batch, done) = match resumed {
        Some((u, _)) => {
            eprintln!(
                "resuming batch {}: {} of {} runs already done",
                u.batch,
                u.done.len(),
                u.repeats * chosen.len()
            );
            (u.repeats, u.batch, u.done)
        }
        None => (
            args.repeat.unwrap_or(if all { 3 } else { 1 }),
            experiment::run_id(),
            Default::default(),
        ),
    };
    // Kept until the last experiment is over: on a cluster the kit serves the page itself.
    let mut _viewer = None;
    let publish = match target {
        Target::Local(l) => Publish::local(&args.state_dir, &l.ports.addr("ingress")),
        Target::Kube { .. } => {
            let dist = stack::pages::locate(|k| std::env::var(k).ok());
            let path = stack::Install::from_env(|k| std::env::var(k).ok()).path;
            match stack::pages::ensure(dist, true, &path).await {
                stack::pages::Pages::Ready { dist } => {
                    let viewer = Viewer::start(
                        &dist,
                        vec![args.prometheus_a.clone(), args.prometheus_b.clone()],
                        args.state_dir.join("kube-warzone"),
                    )
                    .await?;
                    eprintln!(
                        "the war zone of these runs (both clusters' Linkerd metrics): {}",
                        viewer.page()
                    );
                    let publish = Publish::viewer(&viewer, &dist);
                    _viewer = Some(viewer);
                    publish
                }
                stack::pages::Pages::Missing { why, .. } => {
                    eprintln!(
                        "no /warzone page, so no screenshots: the web pages are missing: {why}"
                    );
                    Publish::default()
                }
            }
        }
    };
    let mut all_passed = true;
    for repeat in 1..=repeats {
        for e in chosen {
            if done.contains(&(e.name.to_string(), repeat)) {
                continue;
            }
            let config = ExperimentConfig {
                experiment: *e,
                warmup: args.warmup,
                steady: args.steady,
                fault: if e.fault.is_one_shot() {
                    args.watch
                } else {
                    args.fault
                },
                recovery: args.recovery,
                rate,
                capacity_rps,
                load_fraction: fraction,
                writers: args.writers,
                viewers: args.viewers,
                read_every: args.read_every,
                hypothesis: Hypothesis {
                    min_ingest_success: args.min_ingest_success,
                    max_ingest_p99_ms: args.max_ingest_p99.as_secs_f64() * 1000.0,
                    min_read_success: args.min_read_success,
                    max_lag: args.max_lag,
                },
                out: args.out.clone(),
                data: data.to_vec(),
                batch: batch.clone(),
                repeat,
                repeats,
            };
            match experiment::run_published(&config, target, &publish)
                .await
                .with_context(|| format!("{} could not run", e.name))?
            {
                Outcome::Unsupported(u, dir) => {
                    println!(
                        "{}: unsupported on this target ({}): {}\n  report: {}",
                        e.name,
                        u.target,
                        u.reason,
                        dir.join("report.md").display()
                    );
                }
                Outcome::Ran(r, dir) => {
                    let i = &r.impact;
                    println!(
                        "{} (repeat {repeat}/{repeats}): {} — detected {} by {}, recovered {}, {:.1} failure user-s, {:.1} stale page viewer-s, {} accepted / {} in MongoDB / {} in Redis",
                        e.name,
                        if r.passed { "PASSED" } else { "FAILED" },
                        i.time_to_detect_s.map(|t| format!("after {t:.1}s")).unwrap_or("never".into()),
                        i.detected_by.as_deref().unwrap_or("nothing"),
                        i.time_to_recover_s.map(|t| format!("after {t:.1}s")).unwrap_or("not while measured".into()),
                        i.failure_user_seconds.values().sum::<f64>(),
                        i.stale_page_seconds,
                        r.invariant.accepted, r.invariant.mongodb, r.invariant.redis,
                    );
                    for f in &r.failures {
                        println!("  - {f}");
                    }
                    println!("  report: {}", dir.join("report.md").display());
                    all_passed &= r.passed;
                }
            }
        }
    }
    let (path, ranking) = report::summary(&args.out)?;
    print_ranking(&ranking);
    println!("wrote {}", path.display());
    Ok(match all_passed {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(EXPERIMENT_FAILED),
    })
}
