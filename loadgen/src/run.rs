//! A run: goose users sending exactly n predictions.
//!
//! goose has no total request count, only a run time or a number of iterations per user. The
//! exact count is a ticket counter shared by all users: each transaction takes the next ticket
//! with one `fetch_add`; ticket `k < n` sends prediction `k mod len`, a ticket `>= n` means the
//! work is handed out and the user idles. The user that records the n-th answer ends the run
//! (through goose's killswitch). No ticket is taken twice, so exactly n requests are sent, and
//! at most `users` of them at once, since a goose user runs one transaction at a time.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use goose::config::GooseConfiguration;
use goose::prelude::*;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use crate::config::{Error, Outcome, Progress, RunConfig, Summary};
use crate::stats::{Answer, ErrorKind, Recorder};
use model::Prediction;

/// A run started in the background.
pub struct RunHandle {
    cancel: CancellationToken,
    progress: watch::Receiver<Progress>,
    task: tokio::task::JoinHandle<Result<Summary, Error>>,
}

impl RunHandle {
    /// Progress snapshots; `changed().await` wakes on each.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.clone()
    }

    /// Stops the run; in-flight requests are abandoned and `wait` returns a summary with
    /// [`Outcome::Cancelled`].
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// A token that cancels the run when cancelled.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    pub async fn wait(self) -> Result<Summary, Error> {
        self.task.await.map_err(|e| Error::Task(e.to_string()))?
    }
}

/// Runs to the end: exactly `config.requests` requests unless the timeout stops it first.
pub async fn run(config: RunConfig, data: Vec<Prediction>) -> Result<Summary, Error> {
    start(config, data).await?.wait().await
}

/// Checks the configuration and that the target accepts connections, then starts the run in the
/// background on the current tokio runtime.
pub async fn start(config: RunConfig, data: Vec<Prediction>) -> Result<RunHandle, Error> {
    let url = check_config(&config, &data)?;
    preflight(&config.url, &url).await?;
    let bodies = crate::bodies::bodies(&data, config.batch);
    let cancel = CancellationToken::new();
    let (tx, rx) = watch::channel(Progress {
        requests: config.requests,
        ..Progress::default()
    });
    let task = tokio::spawn(execute(config, url, bodies, cancel.clone(), tx));
    Ok(RunHandle {
        cancel,
        progress: rx,
        task,
    })
}

fn check_config(config: &RunConfig, data: &[Prediction]) -> Result<url::Url, Error> {
    if config.batch == 0 {
        return Err(Error::Config("batch must be at least 1".into()));
    }
    if config.concurrence == 0 {
        return Err(Error::Config("concurrence must be at least 1".into()));
    }
    if config.requests == 0 {
        return Err(Error::Config(
            "the number of requests must be at least 1".into(),
        ));
    }
    if config.timeout.is_zero() {
        return Err(Error::Config("timeout must be positive".into()));
    }
    if let Some(rate) = config.rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(Error::Config(format!(
                "rate must be a positive number, got {rate}"
            )));
        }
    }
    if data.is_empty() {
        return Err(Error::Config("no prediction to send".into()));
    }
    let url = url::Url::parse(&config.url)
        .map_err(|e| Error::Config(format!("bad url {:?}: {e}", config.url)))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Error::Config(format!(
            "url must be http(s)://host[:port]/path, got {:?}",
            config.url
        )));
    }
    Ok(url)
}

/// Connects once before starting, so a wrong URL or a stopped stack is said at once instead of
/// as n connection errors.
async fn preflight(raw: &str, url: &url::Url) -> Result<(), Error> {
    let unreachable = |reason: String| Error::Unreachable {
        url: raw.to_string(),
        reason,
    };
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| unreachable(format!("cannot resolve {host}: {e}")))?
        .collect();
    let mut last = format!("{host} resolves to no address");
    for addr in addrs {
        match tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(addr))
            .await
        {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => last = format!("connecting to {addr}: {e}"),
            Err(_) => last = format!("connecting to {addr}: no answer within 3 s"),
        }
    }
    Err(unreachable(last))
}

/// State the goose transaction closure shares with the controller.
struct Shared {
    /// Parsed once: parsing it per request was a visible share of the CPU time.
    url: url::Url,
    bodies: Vec<Bytes>,
    total: u64,
    rate: Option<f64>,
    tickets: AtomicU64,
    /// When the first ticket was taken: where the rate's schedule starts. Not the run's start:
    /// goose builds its users one after another (512 take about a second), and a schedule that
    /// ran meanwhile made the users built late send what was due at once, a burst of up to
    /// twice the cap in the first second.
    paced_from: OnceLock<Instant>,
    answered: AtomicU64,
    unanswered: AtomicU64,
    recorder: Recorder,
    /// Cancelled when the run must stop, for whatever reason; users stop sending and idle.
    stop: CancellationToken,
    /// Cancelled when the n-th answer is recorded.
    done: CancellationToken,
}

/// goose's killswitch is process-wide, so two runs in one process would stop each other: runs
/// take turns.
static RUN_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const OUTCOME_NONE: u8 = 0;

fn outcome_code(o: Outcome) -> u8 {
    match o {
        Outcome::Completed => 1,
        Outcome::TimedOut => 2,
        Outcome::Cancelled => 3,
    }
}

async fn execute(
    config: RunConfig,
    url: url::Url,
    bodies: Vec<Bytes>,
    cancel: CancellationToken,
    progress: watch::Sender<Progress>,
) -> Result<Summary, Error> {
    let _turn = RUN_LOCK.lock().await;
    let started_at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let start = Instant::now();
    let shared = Arc::new(Shared {
        url,
        bodies,
        total: config.requests,
        rate: config.rate,
        tickets: AtomicU64::new(0),
        paced_from: OnceLock::new(),
        answered: AtomicU64::new(0),
        unanswered: AtomicU64::new(0),
        recorder: Recorder::new(config.concurrence, start, config.keep_requests),
        stop: CancellationToken::new(),
        done: CancellationToken::new(),
    });

    let attack = build_attack(&config, shared.clone())?;
    let mut goose = tokio::spawn(attack.execute());

    // The controller: decides the outcome, publishes progress, and keeps the killswitch pulled
    // until goose has wound down (goose clears it when its run starts, which may be after a very
    // early stop).
    let outcome = Arc::new(AtomicU8::new(OUTCOME_NONE));
    let set_outcome = |o: Outcome| {
        let _ = outcome.compare_exchange(
            OUTCOME_NONE,
            outcome_code(o),
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    };
    let deadline = tokio::time::Instant::from_std(start) + config.timeout;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let goose_result = loop {
        tokio::select! {
            r = &mut goose => break r,
            _ = shared.done.cancelled(), if !shared.stop.is_cancelled() => {
                set_outcome(Outcome::Completed);
                stop(&shared);
            }
            _ = tokio::time::sleep_until(deadline), if !shared.stop.is_cancelled() => {
                set_outcome(Outcome::TimedOut);
                stop(&shared);
            }
            _ = cancel.cancelled(), if !shared.stop.is_cancelled() => {
                set_outcome(Outcome::Cancelled);
                stop(&shared);
            }
            _ = tick.tick() => {
                if shared.stop.is_cancelled() {
                    goose::trigger_killswitch("loadgen run over");
                } else if goose::is_killswitch_triggered() {
                    // Ctrl-C: goose caught it.
                    set_outcome(Outcome::Cancelled);
                    stop(&shared);
                }
                shared.recorder.collect(false);
                progress.send_replace(snapshot(&shared, start));
            }
        }
    };
    goose::reset_killswitch();
    let elapsed = start.elapsed();
    match goose_result {
        Ok(Ok(_metrics)) => {}
        Ok(Err(e)) => return Err(Error::Goose(e.to_string())),
        Err(e) => return Err(Error::Task(e.to_string())),
    }
    progress.send_replace(snapshot(&shared, start));

    let outcome = match outcome.load(Ordering::SeqCst) {
        1 => Outcome::Completed,
        2 => Outcome::TimedOut,
        // goose ended by itself without us asking: only Ctrl-C does that.
        _ => Outcome::Cancelled,
    };
    let (series, latency, failed_by_status) = shared.recorder.finish(elapsed);
    let requests = shared.recorder.take_requests();
    let live = &shared.recorder.live;
    let succeeded = live.succeeded.load(Ordering::SeqCst);
    let failed = live.failed.load(Ordering::SeqCst);
    let sent = live.sent.load(Ordering::SeqCst);
    Ok(Summary {
        config,
        outcome,
        started_at,
        elapsed_secs: elapsed.as_secs_f64(),
        sent,
        succeeded,
        failed,
        unanswered: shared.unanswered.load(Ordering::SeqCst),
        failed_by_status,
        requests_per_sec: (succeeded + failed) as f64 / elapsed.as_secs_f64().max(1e-9),
        latency,
        series,
        requests,
    })
}

fn stop(shared: &Shared) {
    shared.stop.cancel();
    goose::trigger_killswitch("loadgen run over");
}

fn snapshot(shared: &Shared, start: Instant) -> Progress {
    let live = &shared.recorder.live;
    Progress {
        elapsed_secs: start.elapsed().as_secs_f64(),
        requests: shared.total,
        sent: live.sent.load(Ordering::Relaxed),
        succeeded: live.succeeded.load(Ordering::Relaxed),
        failed: live.failed.load(Ordering::Relaxed),
    }
}

fn build_attack(config: &RunConfig, shared: Arc<Shared>) -> Result<GooseAttack, Error> {
    let users = config.concurrence.to_string();
    // All users start at once (goose otherwise ramps up one per second); goose's own metrics,
    // reports, logs and controllers are off: loadgen measures itself, in microseconds.
    let increase_rate = (config.concurrence.max(1) * 1000).to_string();
    let args = [
        "--host",
        config.url.as_str(),
        "--users",
        users.as_str(),
        "--increase-rate",
        increase_rate.as_str(),
        "--no-metrics",
        "--no-print-metrics",
        "--no-error-summary",
        "--no-telnet",
        "--no-gzip",
        "--quiet",
    ];
    let goose_config =
        GooseConfiguration::parse_args_default(&args).map_err(|e| Error::Goose(e.to_string()))?;
    let transaction = Transaction::new(Arc::new(move |user: &mut GooseUser| {
        let shared = shared.clone();
        Box::pin(async move {
            send_one(user, &shared).await;
            Ok(())
        })
    }))
    .set_name("POST prediction");
    let attack = GooseAttack::initialize_with_config(goose_config)
        .map_err(|e| Error::Goose(e.to_string()))?
        .register_scenario(scenario!("predictions").register_transaction(transaction));
    Ok(attack)
}

/// One goose transaction: take a ticket, send that prediction, record the answer.
async fn send_one(user: &mut GooseUser, shared: &Shared) {
    if shared.stop.is_cancelled() {
        idle(shared).await;
        return;
    }
    let ticket = shared.tickets.fetch_add(1, Ordering::Relaxed);
    if ticket >= shared.total {
        idle(shared).await;
        return;
    }
    if let Some(rate) = shared.rate {
        let from = *shared.paced_from.get_or_init(Instant::now);
        let due = from + Duration::from_secs_f64(ticket as f64 / rate);
        tokio::select! {
            _ = tokio::time::sleep_until(due.into()) => {}
            _ = shared.stop.cancelled() => return,
        }
    }
    let body = shared.bodies[(ticket % shared.bodies.len() as u64) as usize].clone();
    let shard = user.weighted_users_index;
    shared.recorder.sent();
    let started = Instant::now();
    // The user's goose-built client is used directly rather than `GooseUser::request`: that path
    // builds per-request metric records in milliseconds that loadgen does not use.
    let request = user
        .client
        .post(shared.url.clone())
        .header("content-type", "application/json")
        .body(body);
    let exchange = async {
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                // Reading the body to its end lets the connection go back to the pool.
                response.bytes().await.map(|_| status)
            }
            Err(e) => Err(e),
        }
    };
    let answer = tokio::select! {
        r = exchange => match r {
            Ok(status) => Answer::Status(status),
            Err(e) => Answer::Error(if e.is_timeout() {
                ErrorKind::Timeout
            } else if e.is_connect() {
                ErrorKind::Connect
            } else {
                ErrorKind::Other
            }),
        },
        _ = shared.stop.cancelled() => {
            shared.unanswered.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    shared.recorder.record(shard, started, answer);
    if shared.answered.fetch_add(1, Ordering::AcqRel) + 1 == shared.total {
        shared.done.cancel();
    }
}

/// Nothing left to send: wait without spinning until goose tells the user to exit (it checks
/// after each transaction).
async fn idle(shared: &Shared) {
    tokio::select! {
        _ = shared.stop.cancelled() => {}
        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
    }
    if shared.stop.is_cancelled() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
