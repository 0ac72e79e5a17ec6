//! One experiment, start to finish: quiesce, load, steady-state check, fault, recovery, check
//! again, data invariant, golden metrics, report.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};

use crate::kit::hypothesis::hypothesis_probes;
pub use crate::kit::hypothesis::Hypothesis;
use crate::kit::impact::{impact, Windows};
use crate::kit::invariant::{check_invariant, quiesce};
use crate::kit::load::{writer_points, Viewers};
use crate::kit::report::{self, Hypotheses, Report, RunSettings, SeriesSet};
use crate::kit::scenario::{self, FaultParams, Scenario};
pub use crate::kit::target::{LocalTarget, Target};
use crate::kit::warzone_state::{self, Publish, Screenshot, Warzone};

#[derive(Debug, Clone)]
pub struct ExperimentConfig {
    pub scenario: Scenario,
    pub warmup: Duration,
    pub steady: Duration,
    pub fault: Duration,
    pub recovery: Duration,
    /// Predictions per second, in total, from the writers.
    pub rate: f64,
    pub writers: usize,
    pub viewers: usize,
    pub params: FaultParams,
    pub hypothesis: Hypothesis,
    pub out: PathBuf,
    pub data: Vec<loadgen::Prediction>,
}

/// Runs one experiment against the local stack and writes its report. The report says whether
/// it passed; an `Err` means the experiment itself could not run.
pub async fn run(config: &ExperimentConfig, target: &Target) -> Result<(Report, PathBuf)> {
    run_published(config, target, &Publish::default()).await
}

/// [`run`], publishing its progress for the /warzone page as it goes (`warzone_state`).
pub async fn run_published(
    config: &ExperimentConfig,
    target: &Target,
    publish: &Publish,
) -> Result<(Report, PathBuf)> {
    let s = config.scenario;
    target.prepare().await?;

    eprintln!("[{}] waiting for the pipeline to be idle ...", s.name());
    let before = quiesce(target, Duration::from_secs(60))
        .await
        .context("counting MongoDB and Redis")?;

    let total = config.warmup + config.steady + config.fault + config.recovery;
    let requests = (config.rate * total.as_secs_f64()).round().max(1.0) as u64;
    let mut load = loadgen::RunConfig::new(
        format!("{}/input", target.ingress()),
        config.writers,
        requests,
        total + Duration::from_secs(120),
    );
    load.rate = Some(config.rate);

    let run_id = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .replace([':', '-'], "");
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let wall0 = SystemTime::now();
    let t0 = Instant::now();
    let warzone = Warzone::start(publish, config, target.name(), &run_id, t0, wall0);
    let shot = warzone_state::screenshot_at(
        publish,
        t0,
        config.warmup + config.steady + config.fault / 2,
    );
    let viewers = Viewers::start(&target.api(), config.viewers, t0);
    let writers = loadgen::start(load, config.data.clone())
        .await
        .context("starting the writers (loadgen)")?;
    let offset = t0.elapsed().as_secs_f64();
    let mut progress = writers.progress();
    let ticker = tokio::spawn({
        let name = s.name();
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
    eprintln!("[{}] injecting: {}", s.name(), scenario::describe(s));
    let fault_wall_start = SystemTime::now();
    warzone.fault_started();
    let mut fault = target
        .inject(s, config.params, &run_id, t0)
        .await
        .context("injecting the fault")?;
    let fault_wall_end = SystemTime::now();
    warzone.fault_over(&fault);
    eprintln!(
        "[{}] fault over after {:.1}s; keeping the load on through recovery",
        s.name(),
        fault.end_s - fault.start_s
    );
    let planned_end = total;
    tokio::time::sleep(planned_end.saturating_sub(t0.elapsed())).await;

    let summary = writers.wait().await.context("the writers failed")?;
    ticker.abort();
    let (read_points, sockets) = viewers.stop().await;
    let load_end = t0.elapsed().as_secs_f64();
    let wall_end = SystemTime::now();
    warzone.checking();

    // The data invariant: wait for the pipeline to drain.
    eprintln!(
        "[{}] load done ({} accepted); checking that every prediction arrived once ...",
        s.name(),
        summary.succeeded
    );
    let invariant = check_invariant(target, before, summary.succeeded).await?;

    // Server side, from Prometheus (it scrapes every second; give it two).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut set = SeriesSet::default();
    set.client
        .insert("ingest".into(), writer_points(&summary, offset));
    set.client.insert("read-api".into(), read_points);
    for service in ["ingest", "read-api", "live-store"] {
        match target.server_series(service, wall0, wall_end).await {
            Ok(points) => {
                set.server.insert(service.into(), points);
            }
            Err(e) => eprintln!(
                "[{}] warning: no server-side series for {service}: {e}",
                s.name()
            ),
        }
    }
    set.lag = target.lag(wall0, wall_end).await;
    if s == Scenario::NetDelay {
        let steady_start = wall0 + config.warmup;
        let before = target.link_latency_ms(steady_start, fault_wall_start).await;
        let during = target
            .link_latency_ms(fault_wall_start, fault_wall_end)
            .await;
        fault.measured.link_p50_before_ms = before;
        fault.measured.link_p50_during_ms = during;
        fault.measured.added_delay_ms = before.zip(during).map(|(b, d)| d - b);
    }

    // Windows.
    let w = config.warmup.as_secs_f64();
    let steady = (w, w + config.steady.as_secs_f64());
    // Per-second points cover [t, t+1): windows start at the second the fault falls in.
    let during_end = fault.end_s.max(fault.start_s + config.fault.as_secs_f64()) + 2.0;
    let after_len = (config.recovery.as_secs_f64() / 2.0).clamp(3.0, 10.0);
    let after = (load_end - after_len, load_end);
    let h = &config.hypothesis;
    let hypotheses = Hypotheses {
        before: hypothesis_probes(h, &set.client, &set.lag, steady.0, steady.1),
        after: hypothesis_probes(h, &set.client, &set.lag, after.0, after.1),
    };
    warzone.probes_decided(&hypotheses);

    let impact = impact(
        &set,
        &fault,
        &summary,
        sockets,
        Windows {
            steady,
            during_end,
            load_end,
        },
    );

    let mut failures = Vec::new();
    for (when, probes) in [
        ("before the fault", &hypotheses.before),
        ("after recovery", &hypotheses.after),
    ] {
        for p in probes.iter().filter(|p| !p.passed) {
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
            "data invariant: {} accepted, {} in MongoDB, {} in Redis ({} lost, {} duplicated)",
            invariant.accepted,
            invariant.mongodb,
            invariant.redis,
            invariant.lost,
            invariant.duplicates
        ));
    }

    let mut report = Report {
        scenario: s,
        run_id: run_id.clone(),
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
            writers: config.writers,
            viewers: config.viewers,
        },
        fault,
        hypotheses,
        invariant,
        impact,
        series: set,
        answers: Default::default(),
    };
    let others = report::latest_reports(&config.out);
    report::answer(&mut report, &others);
    let dir = config.out.join(s.name()).join(&run_id);
    report::write(&dir, &report).with_context(|| format!("writing {}", dir.display()))?;
    let shot = shot
        .await
        .unwrap_or_else(|e| Screenshot::Missing(format!("not taken: {e}")));
    warzone_state::add_to_report(&dir, shot)
        .with_context(|| format!("adding the /warzone screenshot to {}", dir.display()))?;
    warzone.finished(&report, &dir);
    Ok((report, dir))
}
