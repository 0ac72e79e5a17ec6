//! `experiments run`, `all` and `capacity`: a batch of experiments on one target, at a load
//! measured (or resumed from the batch), repeated, then the summary and its ranking.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use experiments::kit::run::{
    self as experiment, ExperimentConfig, Hypothesis, LocalTarget, Outcome, Target,
};
use experiments::kit::scenario::{self, Experiment};
use experiments::kit::viewer::Viewer;
use experiments::kit::warzone_state::Publish;
use experiments::kit::{capacity, report, resume};
use kafka_access::{Credentials, KafkaAccess};
use stack::{self, LocalStack};

use crate::{cli_stack, ExperimentArgs, TargetKind};

/// The exit status of a run whose experiments ran but whose hypothesis or invariant failed.
const EXPERIMENT_FAILED: u8 = 1;
/// The exit status of a batch stopped by Ctrl-C (128 + SIGINT, as a shell reports it).
const INTERRUPTED: u8 = 130;

/// Ctrl-C stops a batch between two runs, so that no run is cut short and then reported as if
/// whole; a second Ctrl-C stops at once (the running experiment is lost, `--resume` runs it
/// again). Installed before loadgen's first run: goose installs its own handler through the same
/// crate, which takes only the first handler of a process, so goose's is then refused (it stopped
/// only the load, and the batch went on to the next experiment).
fn stop_between_runs_on_ctrl_c() -> Result<&'static AtomicBool> {
    static PRESSED: AtomicBool = AtomicBool::new(false);
    ctrlc::set_handler(|| {
        if PRESSED.swap(true, Ordering::SeqCst) {
            eprintln!("\nCtrl-C again: stopping now; the running experiment is not reported");
            std::process::exit(i32::from(INTERRUPTED));
        }
        eprintln!(
            "\nCtrl-C: stopping once the running experiment is over (Ctrl-C again stops now)"
        );
    })
    .context("listening for Ctrl-C")?;
    Ok(&PRESSED)
}

/// `experiments capacity`: the sustainable rate on this target, written for later runs.
pub async fn capacity(args: ExperimentArgs) -> Result<ExitCode> {
    let data = predictions(&args)?;
    let (target, owned) = target(&args).await?;
    let measured = measure_capacity(&args, &target, &data).await;
    if let Some(stack) = owned {
        stack.shutdown().await;
    }
    measured.map(|_| ExitCode::SUCCESS)
}

pub fn print_ranking(ranking: &report::Ranking) {
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
            kafka: args
                .kafka
                .as_deref()
                .map(|bootstrap| {
                    kube_kafka(
                        bootstrap,
                        args.kafka_username.as_deref(),
                        std::env::var("USACTAR_KAFKA_PASSWORD").ok(),
                    )
                })
                .transpose()?,
            stores: args.mongodb.clone().zip(args.redis.clone()),
        };
        return Ok((kube, None));
    }
    let (local, stack) = local_target(args).await?;
    Ok((Target::Local(local), stack))
}

/// The broker behind `--kafka`, as `username` (with `password`, from USACTAR_KAFKA_PASSWORD) if
/// given. Checked here, so a missing or malformed password is an error before anything runs.
fn kube_kafka(
    bootstrap: &str,
    username: Option<&str>,
    password: Option<String>,
) -> Result<KafkaAccess> {
    let access = KafkaAccess::plaintext(bootstrap);
    let Some(username) = username else {
        return Ok(access);
    };
    let password = password.with_context(|| {
        format!(
            "--kafka-username {username}: the password goes in USACTAR_KAFKA_PASSWORD (on kind: \
             kubectl --context kind-usactar-a -n usactar-data get secret usactar-kafka-users \
             -o jsonpath='{{.data.{username}}}' | base64 -d)"
        )
    })?;
    kafka_access::check_token("the user name", username)
        .map_err(|reason| anyhow::anyhow!("--kafka-username: {reason}"))?;
    kafka_access::check_token("the password", &password)
        .map_err(|reason| anyhow::anyhow!("USACTAR_KAFKA_PASSWORD: {reason}"))?;
    Ok(access.with_credentials(Credentials::new(username, password)))
}

async fn local_target(args: &ExperimentArgs) -> Result<(LocalTarget, Option<LocalStack>)> {
    cli_stack::reuse_or_start(&args.state_dir, &args.ports).await
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
) -> Result<(resume::Unfinished, report::RunSettings)> {
    let names: Vec<&str> = chosen.iter().map(|e| e.name).collect();
    let u = resume::unfinished(&args.out, &names, batch).with_context(|| {
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
pub async fn run_named(names: &[impl AsRef<str>], args: ExperimentArgs) -> Result<ExitCode> {
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

pub async fn experiments(
    chosen: &[Experiment],
    args: ExperimentArgs,
    all: bool,
) -> Result<ExitCode> {
    if args.rate.is_some_and(|r| r <= 0.0)
        || args.writers == 0
        || !(args.load_fraction > 0.0 && args.load_fraction <= 1.0)
        || args.repeat == Some(0)
    {
        anyhow::bail!("--rate, --writers and --repeat must be positive, --load-fraction in (0, 1]");
    }
    let interrupted = stop_between_runs_on_ctrl_c()?;
    let data = predictions(&args)?;
    let (target, owned) = target(&args).await?;
    let outcome = run_all(chosen, &args, all, &target, &data, interrupted).await;
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
    interrupted: &AtomicBool,
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
    let mut stopped = false;
    'batch: for repeat in 1..=repeats {
        for e in chosen {
            if done.contains(&(e.name.to_string(), repeat)) {
                continue;
            }
            if interrupted.load(Ordering::SeqCst) {
                stopped = true;
                break 'batch;
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
    if stopped {
        eprintln!(
            "stopped by Ctrl-C before every run of batch {batch} was done; continue it with \
             the same command and `--resume {batch}` (without --rate, --load-fraction or \
             --repeat: the batch keeps its own)"
        );
        return Ok(ExitCode::from(INTERRUPTED));
    }
    Ok(match all_passed {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(EXPERIMENT_FAILED),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kube_listener_is_reached_as_the_user_given_with_its_password_from_the_environment() {
        let anonymous = kube_kafka("10.0.0.2:30092", None, None).unwrap();
        assert!(anonymous.credentials.is_none());
        let admin = kube_kafka(
            "10.0.0.2:30092",
            Some("usactar-admin"),
            Some("0123abcd".into()),
        )
        .unwrap();
        let c = admin.credentials.unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("usactar-admin", "0123abcd")
        );
        let missing = kube_kafka("10.0.0.2:30092", Some("usactar-admin"), None)
            .unwrap_err()
            .to_string();
        assert!(missing.contains("USACTAR_KAFKA_PASSWORD"), "{missing}");
        assert!(missing.contains(".data.usactar-admin"), "{missing}");
        let bad = kube_kafka("10.0.0.2:30092", Some("usactar-admin"), Some("a\"b".into()))
            .unwrap_err()
            .to_string();
        assert!(
            bad.starts_with("USACTAR_KAFKA_PASSWORD:") && !bad.contains("a\"b"),
            "{bad}"
        );
    }
}
