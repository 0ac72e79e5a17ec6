//! The `loadgen` command: `run` sends a data file, `data` builds one.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use loadgen::{Outcome, Progress, RunConfig};
use tokio::sync::watch;

/// Exit status of a run stopped by `--timeout` (clap uses 2 for bad flags).
const EXIT_TIMED_OUT: u8 = 3;
/// Exit status of a run stopped by Ctrl-C, as shells report SIGINT.
const EXIT_CANCELLED: u8 = 130;

#[derive(Parser)]
#[command(
    name = "loadgen",
    version,
    about = "Usactar traffic generator (on goose)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send exactly -n predictions from a data file, --concurrence at a time.
    Run(RunArgs),
    /// Build a data set from the real Qatar 2022 results.
    Data(DataArgs),
}

#[derive(Parser)]
struct RunArgs {
    /// Data file: one prediction object, a JSON array of them, or NDJSON.
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
    /// Simultaneous requests.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    concurrence: u32,
    /// Total requests (the data file is cycled through as often as needed).
    #[arg(short = 'n', value_parser = clap::value_parser!(u64).range(1..))]
    n: u64,
    /// Stop the run after this long, e.g. 90s, 3m, 1h.
    #[arg(long, value_parser = parse_duration)]
    timeout: Duration,
    /// Where predictions are POSTed.
    #[arg(
        long,
        env = "LOADGEN_URL",
        default_value = "http://localhost:8080/input"
    )]
    url: String,
    /// Cap in requests per second, for a steady load.
    #[arg(long, value_parser = parse_rate)]
    rate: Option<f64>,
    /// Threads that send requests. One is fastest up to ~50k requests/s on a small machine (no
    /// cross-thread wake-ups); more help only with cores to spare.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: u16,
    /// Write a report; the extension (.json, .html, .md) picks the format.
    #[arg(long, value_parser = parse_report)]
    report: Option<PathBuf>,
    /// Predictions per request: 1 posts one object, N > 1 a JSON array of N (ingest accepts up
    /// to USACTAR_MAX_BATCH, 1000 by default). Requests are counted, not predictions.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    batch: u32,
}

#[derive(Parser)]
struct DataArgs {
    /// Seed of the random draw: the same seed gives the same file.
    #[arg(long, default_value_t = 2022)]
    seed: u64,
    /// Number of predictions.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    count: u64,
    /// Output file (a JSON array, one prediction per line); standard output if absent.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (use e.g. 90s, 3m, 1h)"))?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!("{s:?} is not a positive number of requests/s")),
    }
}

fn parse_report(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if ["json", "md", "html", "htm"].contains(&e.to_ascii_lowercase().as_str()) => {
            Ok(path)
        }
        _ => Err(format!("{s:?}: the extension must be .json, .md or .html")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LOADGEN_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let result = match cli.command {
        Command::Data(args) => data(args).map(|()| ExitCode::SUCCESS),
        Command::Run(args) => runtime(args.threads)
            .context("cannot start the tokio runtime")
            .and_then(|rt| rt.block_on(run(args))),
    };
    result.unwrap_or_else(|e| {
        eprintln!("loadgen: error: {e:#}");
        ExitCode::FAILURE
    })
}

fn runtime(threads: u16) -> std::io::Result<tokio::runtime::Runtime> {
    if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.into())
            .enable_all()
            .build()
    }
}

fn data(args: DataArgs) -> anyhow::Result<()> {
    let count = usize::try_from(args.count).context("count too large")?;
    let predictions = loadgen::datagen::generate(args.seed, count);
    let mut text = String::with_capacity(predictions.len() * 72);
    text.push_str("[\n");
    for (i, p) in predictions.iter().enumerate() {
        text.push_str(&serde_json::to_string(p)?);
        text.push_str(if i + 1 < predictions.len() {
            ",\n"
        } else {
            "\n"
        });
    }
    text.push_str("]\n");
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}

async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    // Everything is validated before anything is sent.
    let data = loadgen::load_data(&args.file)?;
    let config = RunConfig {
        url: args.url,
        concurrence: args.concurrence as usize,
        requests: args.n,
        timeout: args.timeout,
        rate: args.rate,
        keep_requests: false,
        batch: args.batch as usize,
    };
    let handle = loadgen::start(config, data).await?;
    let display = tokio::spawn(show_progress(handle.progress()));
    let summary = handle.wait().await?;
    display.abort();
    let _ = display.await;

    print!("{}", loadgen::report::table(&summary));
    if let Some(path) = &args.report {
        write_report(path, &summary)?;
    }
    Ok(match summary.outcome {
        Outcome::Completed => ExitCode::SUCCESS,
        Outcome::TimedOut => ExitCode::from(EXIT_TIMED_OUT),
        Outcome::Cancelled => ExitCode::from(EXIT_CANCELLED),
    })
}

fn write_report(path: &Path, summary: &loadgen::Summary) -> anyhow::Result<()> {
    loadgen::report::write(path, summary)
        .with_context(|| format!("cannot write the report {}", path.display()))
}

/// A progress bar on a terminal; otherwise (CI logs, pipes) a plain line every second.
async fn show_progress(mut rx: watch::Receiver<Progress>) {
    let total = rx.borrow().requests;
    if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40.cyan/blue}] {pos}/{len} sent, {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        struct Finish(ProgressBar);
        impl Drop for Finish {
            fn drop(&mut self) {
                self.0.finish_and_clear();
            }
        }
        let bar = Finish(bar);
        while rx.changed().await.is_ok() {
            let p = rx.borrow_and_update().clone();
            bar.0.set_position(p.sent);
            bar.0.set_message(format!(
                "{} ok, {} failed, {:.0} req/s",
                p.succeeded,
                p.failed,
                rate(&p)
            ));
        }
    } else {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.tick().await;
        loop {
            every.tick().await;
            let p = rx.borrow().clone();
            eprintln!(
                "loadgen: {:>6.1}s  sent {}/{}  ok {}  failed {}  {:.0} req/s",
                p.elapsed_secs,
                p.sent,
                p.requests,
                p.succeeded,
                p.failed,
                rate(&p)
            );
        }
    }
}

fn rate(p: &Progress) -> f64 {
    (p.succeeded + p.failed) as f64 / p.elapsed_secs.max(1e-3)
}
