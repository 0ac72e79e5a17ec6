//! One experiment, start to finish: quiesce, load and samplers, steady-state check, fault,
//! recovery, check again, data invariant, the measures, report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};

use crate::kit::hypothesis::hypothesis_probes;
pub use crate::kit::hypothesis::Hypothesis;
use crate::kit::impact::{impact, Measurements, Window};
use crate::kit::invariant::{check_invariant, quiesce, DRAIN_LIMIT};
use crate::kit::load::Viewers;
use crate::kit::report::{self, Hypotheses, Report, RunSettings, SeriesSet, Unsupported};
use crate::kit::sampler::Samplers;
use crate::kit::scenario::{self, Experiment};
use crate::kit::screenshot::{self, Screenshot};
use crate::kit::signals::{self, Request, BIN_S};
pub use crate::kit::target::{Injection, LocalTarget, Target};
use crate::kit::warzone_state::{Publish, Warzone};

#[derive(Debug, Clone)]
pub struct ExperimentConfig {
    pub experiment: Experiment,
    pub warmup: Duration,
    pub steady: Duration,
    /// How long failures, delays and pauses last; how long one-shot kills are watched.
    pub fault: Duration,
    pub recovery: Duration,
    /// Predictions per second, in total, from the writers.
    pub rate: f64,
    /// The sustainable rate measured by `experiments capacity`, and the share of it in `rate`.
    pub capacity_rps: Option<f64>,
    pub load_fraction: Option<f64>,
    pub writers: usize,
    pub viewers: usize,
    /// How often each viewer reads `/api/live`.
    pub read_every: Duration,
    pub hypothesis: Hypothesis,
    pub out: PathBuf,
    pub data: Vec<loadgen::Prediction>,
    /// The invocation's id (its repeats share it), this repeat (1-based) and how many.
    pub batch: String,
    pub repeat: usize,
    pub repeats: usize,
}

/// What running an experiment gave.
pub enum Outcome {
    Ran(Box<Report>, PathBuf),
    /// The target cannot inject this fault; said within seconds, nothing was run.
    Unsupported(Unsupported, PathBuf),
}

/// A run id from the wall clock, e.g. `20261129T092334Z`.
pub fn run_id() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace([':', '-'], "")
}

/// Runs one experiment and writes its report. The report says whether it passed; an `Err`
/// means the experiment itself could not run.
pub async fn run(config: &ExperimentConfig, target: &Target) -> Result<Outcome> {
    run_published(config, target, &Publish::default()).await
}

/// [`run`], publishing its progress for the /warzone page as it goes (`warzone_state`).
pub async fn run_published(
    config: &ExperimentConfig,
    target: &Target,
    publish: &Publish,
) -> Result<Outcome> {
    let e = config.experiment;
    let run_id = run_id();
    if let Some(reason) = target.unsupported(&e) {
        let u = Unsupported {
            experiment: e.name.to_string(),
            run_id,
            batch: config.batch.clone(),
            target: target.name().to_string(),
            reason,
        };
        let dir = report::write_unsupported(&config.out, &u)?;
        return Ok(Outcome::Unsupported(u, dir));
    }
    target.prepare().await?;

    eprintln!("[{}] waiting for the pipeline to be idle ...", e.name);
    let quiet = quiesce(target, DRAIN_LIMIT)
        .await
        .context("counting MongoDB and Redis")?;
    if !quiet.drained {
        // Records of an earlier run landing during this one would be counted as this run's.
        let mut why = Vec::new();
        if let Some(n) = quiet.still_on_kafka.filter(|n| *n > 0) {
            why.push(format!("a consumer group still had {n} records on Kafka"));
        }
        if !quiet.unready.is_empty() {
            why.push(format!("not ready: {}", quiet.unready.join(", ")));
        }
        if why.is_empty() {
            why.push("the stores' counts kept changing".to_string());
        }
        bail!(
            "the pipeline did not drain within {DRAIN_LIMIT:?} before the run ({}; MongoDB {}, \
             Redis {}): a service may be stuck; see the state folder's logs/, or restart the stack",
            why.join("; "),
            quiet.counts.0,
            quiet.counts.1
        );
    }
    let before = quiet.counts;

    let total = config.warmup + config.steady + config.fault + config.recovery;
    let requests = (config.rate * total.as_secs_f64()).round().max(1.0) as u64;
    let mut load = loadgen::RunConfig::new(
        format!("{}/input", target.ingress()),
        config.writers,
        requests,
        total + Duration::from_secs(120),
    );
    load.rate = Some(config.rate);
    load.keep_requests = true;

    let statuses_before = target.process_statuses().await;
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let wall0 = SystemTime::now();
    let t0 = Instant::now();
    let warzone = Warzone::start(publish, config, target.name(), &run_id, t0, wall0);
    let shot = screenshot::screenshot_at(
        publish,
        t0,
        config.warmup + config.steady + config.fault / 2,
    );
    let samplers = Samplers::start(target.admins(), target.kafka(), t0);
    let viewers = Viewers::start(&target.api(), config.viewers, config.read_every, t0);
    let writers = loadgen::start(load, config.data.clone())
        .await
        .context("starting the writers (loadgen)")?;
    // loadgen's clock starts here: its records are shifted onto the experiment's.
    let offset = t0.elapsed().as_secs_f64();
    let mut progress = writers.progress();
    let ticker = tokio::spawn({
        let name = e.name;
        let (w, st, f) = (
            config.warmup.as_secs_f64(),
            config.steady.as_secs_f64(),
            config.fault.as_secs_f64(),
        );
        async move {
            let mut every = tokio::time::interval(Duration::from_secs(5));
            every.tick().await;
            loop {
                every.tick().await;
                if progress.has_changed().is_err() {
                    return;
                }
                let p = progress.borrow_and_update().clone();
                let t = t0.elapsed().as_secs_f64();
                let phase = if t < w {
                    "warm-up"
                } else if t < w + st {
                    "steady"
                } else if t < w + st + f {
                    "fault"
                } else {
                    "recovery"
                };
                eprintln!(
                    "[{name}] t={t:>4.0}s {phase:<8} sent {:>7}  ok {:>7}  failed {:>5}",
                    p.sent, p.succeeded, p.failed
                );
            }
        }
    });

    let fault_at = config.warmup + config.steady;
    tokio::time::sleep(fault_at.saturating_sub(t0.elapsed())).await;
    eprintln!("[{}] injecting: {}", e.name, target.describe(&e));
    warzone.fault_started();
    let mut fault = match target
        .inject(e, config.fault, &run_id, t0)
        .await
        .context("injecting the fault")?
    {
        Injection::Done(f) => *f,
        Injection::Refused { reason, after_s } => {
            // Nothing was injected: stop the load and say so, rather than measure a no-op.
            eprintln!(
                "[{}] unsupported on this target ({after_s:.1}s): {reason}",
                e.name
            );
            writers.cancel();
            let _ = writers.wait().await;
            ticker.abort();
            viewers.stop().await;
            samplers.stop().await;
            let u = Unsupported {
                experiment: e.name.to_string(),
                run_id,
                batch: config.batch.clone(),
                target: target.name().to_string(),
                reason: format!("the fault was applied and refused {after_s:.1} s later: {reason}"),
            };
            let dir = report::write_unsupported(&config.out, &u)?;
            return Ok(Outcome::Unsupported(u, dir));
        }
    };
    warzone.fault_over(&fault);
    eprintln!(
        "[{}] fault over after {:.1}s; keeping the load on through recovery",
        e.name,
        fault.end_s - fault.start_s
    );

    let summary = writers.wait().await.context("the writers failed")?;
    ticker.abort();
    let viewed = viewers.stop().await;
    let load_end = t0.elapsed().as_secs_f64();
    let wall_end = SystemTime::now();
    let sampled = samplers.stop().await;
    warzone.checking();

    eprintln!(
        "[{}] load done ({} accepted); checking that every prediction arrived once ...",
        e.name, summary.succeeded
    );
    let invariant = check_invariant(target, before, summary.succeeded).await?;
    fault.measured.restarted = statuses_before
        .zip(target.process_statuses().await)
        .map(|(b, a)| scenario::restarted_between(&b, &a));

    let writer_requests: Vec<Request> = summary
        .requests
        .iter()
        .map(|r| {
            let mut r = Request::from(r);
            r.sent += offset;
            r.answered += offset;
            r
        })
        .collect();
    let end = load_end.floor();
    let mut set = SeriesSet::default();
    set.client.insert(
        "ingest".into(),
        signals::golden_seconds(&writer_requests, end),
    );
    set.client.insert(
        "read-api".into(),
        signals::golden_seconds(&viewed.reads, end),
    );
    for (name, scrapes) in &sampled.scrapes {
        set.server
            .insert(name.clone(), signals::server_seconds(scrapes, end));
    }
    let mut prometheus = BTreeMap::new();
    if sampled.scrapes.is_empty() {
        // A cluster: the server side from Linkerd's metrics in Prometheus, per second.
        tokio::time::sleep(Duration::from_secs(2)).await;
        for service in target.linkerd_signals() {
            match target.server_series(service, wall0, wall_end).await {
                Ok(points) => {
                    prometheus.insert(service.to_string(), points);
                }
                Err(err) => eprintln!(
                    "[{}] warning: no server-side series for {service}: {err}",
                    e.name
                ),
            }
        }
        set.server.extend(prometheus.clone());
    }
    set.lag = if sampled.lag.is_empty() {
        target.lag(wall0, wall_end).await
    } else {
        sampled.lag.clone()
    };

    // The link's delay as the calls saw it: exact means of live-forwarder's call durations.
    if let Some(calls) = sampled.scrapes.get("live-forwarder") {
        if fault.configured.delay_ms.is_some() || fault.configured.rate_kb_s.is_some() {
            let w = config.warmup.as_secs_f64();
            let m = &mut fault.measured;
            m.link_mean_before_ms =
                signals::mean_ms_over(calls, w, w + config.steady.as_secs_f64());
            m.link_mean_during_ms = signals::mean_ms_over(calls, fault.start_s, fault.end_s);
            m.added_delay_ms = m
                .link_mean_before_ms
                .zip(m.link_mean_during_ms)
                .map(|(b, d)| d - b);
        }
    }

    let w = config.warmup.as_secs_f64();
    let steady = Window {
        from: w,
        to: w + config.steady.as_secs_f64(),
    };
    let impact = impact(
        &Measurements {
            writers: &writer_requests,
            writer_users: config.writers,
            viewed: &viewed,
            scrapes: &sampled.scrapes,
            prometheus: &prometheus,
            lag: &set.lag,
            baseline_total: before.1.max(0) as u64,
        },
        &fault,
        steady,
        load_end,
    );
    set.stale_viewers = {
        let stale = signals::stale_viewers(
            &viewed.pushes,
            &signals::accepted_times(&writer_requests),
            before.1.max(0) as u64,
            impact.stale_after_s,
            0.0,
            end,
        );
        let per_second = (1.0 / BIN_S).round() as usize;
        stale
            .chunks(per_second)
            .enumerate()
            .map(|(t, c)| (t as f64, c.iter().sum::<usize>() as f64 / c.len() as f64))
            .collect()
    };

    let after_len = (config.recovery.as_secs_f64() / 2.0).clamp(3.0, 10.0);
    let after = (end - after_len, end);
    let h = &config.hypothesis;
    let hypotheses = Hypotheses {
        before: hypothesis_probes(h, &set.client, &set.lag, steady.from, steady.to),
        after: hypothesis_probes(h, &set.client, &set.lag, after.0, after.1),
    };
    warzone.probes_decided(&hypotheses);

    let mut failures = Vec::new();
    for (when, probes) in [
        ("before the fault", &hypotheses.before),
        ("after recovery", &hypotheses.after),
    ] {
        for p in probes.iter().filter(|p| !p.passed && !p.not_measured) {
            failures.push(format!(
                "steady-state {when}: {} expected {}, observed {}",
                p.name,
                p.expected,
                p.observed
                    .map(|v| format!("{v:.3}"))
                    .unwrap_or("nothing".into())
            ));
        }
    }
    if !invariant.passed {
        failures.push(format!(
            "data invariant: {} accepted, {} in MongoDB, {} in Redis ({} lost, {} duplicated{})",
            invariant.accepted,
            invariant.mongodb,
            invariant.redis,
            invariant.lost,
            invariant.duplicates,
            match invariant.still_on_kafka {
                Some(n) => format!("; {n} still unprocessed on Kafka when the wait ended"),
                None => String::new(),
            }
        ));
    }

    let mut report = Report {
        experiment: e.name.to_string(),
        run_id: run_id.clone(),
        batch: config.batch.clone(),
        repeat: config.repeat,
        repeats: config.repeats,
        started_at,
        target: target.name().into(),
        passed: failures.is_empty(),
        failures,
        config: RunSettings {
            warmup_s: config.warmup.as_secs_f64(),
            steady_s: config.steady.as_secs_f64(),
            fault_s: config.fault.as_secs_f64(),
            recovery_s: config.recovery.as_secs_f64(),
            rate: config.rate,
            capacity_rps: config.capacity_rps,
            load_fraction: config.load_fraction,
            writers: config.writers,
            viewers: config.viewers,
            read_every_s: config.read_every.as_secs_f64(),
        },
        fault,
        hypotheses,
        invariant,
        impact,
        series: set,
        answers: Default::default(),
        warzone: Default::default(),
    };
    report.answers.how_it_shows = report::answers_shows(&report);
    let dir = report::report_dir(&config.out, e.name, &run_id);
    let shot = shot
        .await
        .unwrap_or_else(|e| Screenshot::Missing(format!("not taken: {e}")));
    report.warzone = screenshot::into_report(&dir, shot)
        .with_context(|| format!("adding the /warzone screenshot to {}", dir.display()))?;
    report::write(&dir, &report).with_context(|| format!("writing {}", dir.display()))?;
    warzone.finished(&report, &dir);
    Ok(Outcome::Ran(Box::new(report), dir))
}
