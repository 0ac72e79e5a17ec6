//! Faults under a steady load of fans: a consumer dies (or is restarted politely), the broker is
//! killed, the broker is paused. Each is watched from the fans' side (ingest's answers) and the
//! broker's side (the groups' committed offsets), then every accepted prediction is looked up
//! in both stores.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mongodb::bson::{doc, Document};
use serde::{Deserialize, Serialize};

use stack::{ControlClient, ProcessControl, ProcessState};

use super::lag::{LagSample, LagSampler};
use super::stats::Distribution;
use super::writer::{Answer, Writer};
use super::Study;

/// What was done to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// SIGKILL a consumer; the supervisor starts it again.
    ConsumerKill,
    /// SIGTERM, then start again: the consumer leaves its group on the way out.
    ConsumerRestart,
    /// SIGKILL the broker; the supervisor starts it again.
    BrokerKill,
    /// SIGSTOP the broker for a while, then SIGCONT: alive but silent.
    BrokerPause,
}

/// The answers of one stretch of time, by kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Answers {
    pub accepted_202: usize,
    pub refused_503: usize,
    pub other_status: usize,
    /// No answer within the client's 10 s, or the connection failed.
    pub no_answer: usize,
    pub accepted_latency: Option<Distribution>,
    pub refused_latency: Option<Distribution>,
}

impl Answers {
    pub fn of<'a>(answers: impl Iterator<Item = &'a Answer>) -> Self {
        let mut a = Answers::default();
        let (mut ok, mut refused) = (vec![], vec![]);
        for x in answers {
            match x.status {
                202 => {
                    a.accepted_202 += 1;
                    ok.push(x.ms());
                }
                503 => {
                    a.refused_503 += 1;
                    refused.push(x.ms());
                }
                0 => a.no_answer += 1,
                _ => a.other_status += 1,
            }
        }
        a.accepted_latency = Distribution::of(&ok);
        a.refused_latency = Distribution::of(&refused);
        a
    }
}

/// One second of the fans' side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanSecond {
    /// Seconds since the fault (negative before it), by when the request was sent.
    pub t: i64,
    pub accepted_202: usize,
    pub refused_503: usize,
    pub other: usize,
    pub p99_ms_202: Option<f64>,
}

/// Whether every accepted prediction is in both stores, once the groups drained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Landed {
    pub accepted: usize,
    pub in_mongodb: usize,
    pub in_redis: usize,
    /// Documents added to MongoDB during the phase beyond the accepted ones: predictions whose
    /// fan was told 503 or got no answer, that Kafka stored anyway.
    pub stored_without_202: i64,
    /// Whether both groups reached lag 0 before the look-up (false: the counts may be short).
    pub drained: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRun {
    pub fault: Fault,
    pub target: String,
    pub rate_per_s: f64,
    /// When the fault started, in seconds on the clock of `lag`'s samples.
    pub fault_at_s: f64,
    /// Seconds from the fault's start to its end as injected (a kill: the kill call; a pause:
    /// SIGSTOP to SIGCONT).
    pub injected_s: f64,
    /// Seconds from the fault until the supervisor had the process running again (kills).
    pub process_back_s: Option<f64>,
    /// The fans before the fault, and from the fault until ingest answered 202 steadily again.
    pub before: Answers,
    pub during: Answers,
    /// Seconds from the fault to the first non-202 answer.
    pub first_refusal_s: Option<f64>,
    /// Seconds from the fault until every answer was a 202 again for 3 s (by send time).
    pub ingest_normal_s: Option<f64>,
    /// Per group: highest lag before the fault, peak after, seconds the committed offsets stood
    /// still, seconds until lag was back at or under the level before and stayed there 2 s.
    pub groups: BTreeMap<String, GroupEffect>,
    pub landed: Landed,
    pub fans: Vec<FanSecond>,
    pub lag: BTreeMap<String, Vec<LagSample>>,
    /// Requests not sent because 512 were already waiting.
    pub not_sent: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupEffect {
    pub lag_before_max: Option<i64>,
    pub lag_peak: Option<i64>,
    pub lag_peak_at_s: Option<f64>,
    /// Seconds after the fault until the committed offsets moved again.
    pub stalled_s: Option<f64>,
    pub normal_s: Option<f64>,
    /// Seconds with no answer from the broker to the lag reading (not measured).
    pub unmeasured_s: f64,
}

/// The first time `t ≥ from` after which `ok` held for every sample during `hold` seconds (and at
/// least one sample lies past `hold`, so a series that ends early never counts as recovered).
/// `samples` are in time order.
pub fn settled_at<T>(
    samples: &[T],
    time: impl Fn(&T) -> f64,
    ok: impl Fn(&T) -> bool,
    from: f64,
    hold: f64,
) -> Option<f64> {
    let first = samples.iter().position(|s| time(s) >= from)?;
    let after = &samples[first..];
    (0..after.len()).find_map(|i| {
        let start = time(&after[i]);
        let rest = &after[i..];
        let held = rest.iter().take_while(|x| time(x) <= start + hold).all(&ok);
        let outlived = rest.iter().any(|x| time(x) > start + hold);
        (held && outlived).then_some(start)
    })
}

/// The effect of a fault at `t_fault` on a group's lag series.
pub fn group_effect(samples: &[LagSample], t_fault: f64) -> GroupEffect {
    let before: Vec<i64> = samples
        .iter()
        .filter(|s| s.t < t_fault)
        .filter_map(|s| s.lag)
        .collect();
    let after: Vec<&LagSample> = samples.iter().filter(|s| s.t >= t_fault).collect();
    let lag_before_max = before.iter().copied().max();
    let peak = after
        .iter()
        .filter_map(|s| s.lag.map(|l| (l, s.t)))
        .max_by_key(|(l, _)| *l);
    let committed_at_fault = samples
        .iter()
        .rev()
        .filter(|s| s.t < t_fault)
        .find_map(|s| s.committed);
    let stalled_s = committed_at_fault.and_then(|c0| {
        after
            .iter()
            .find(|s| s.committed.is_some_and(|c| c > c0))
            .map(|s| s.t - t_fault)
    });
    let normal_s = lag_before_max.and_then(|limit| {
        settled_at(
            samples,
            |s| s.t,
            |s| s.lag.is_some_and(|l| l <= limit),
            t_fault,
            2.0,
        )
        .map(|t| t - t_fault)
    });
    let unmeasured_s = after
        .windows(2)
        .filter(|w| w[0].lag.is_none())
        .map(|w| w[1].t - w[0].t)
        .sum();
    GroupEffect {
        lag_before_max,
        lag_peak: peak.map(|p| p.0),
        lag_peak_at_s: peak.map(|p| p.1 - t_fault),
        stalled_s,
        normal_s,
        unmeasured_s,
    }
}

/// The fans' answers per second around the fault.
pub fn fan_seconds(answers: &[Answer], t_fault: f64) -> Vec<FanSecond> {
    let mut by: BTreeMap<i64, Vec<&Answer>> = BTreeMap::new();
    for a in answers {
        by.entry((a.sent - t_fault).floor() as i64)
            .or_default()
            .push(a);
    }
    by.into_iter()
        .map(|(t, v)| {
            let ok: Vec<f64> = v
                .iter()
                .filter(|a| a.status == 202)
                .map(|a| a.ms())
                .collect();
            FanSecond {
                t,
                accepted_202: ok.len(),
                refused_503: v.iter().filter(|a| a.status == 503).count(),
                other: v
                    .iter()
                    .filter(|a| a.status != 202 && a.status != 503)
                    .count(),
                p99_ms_202: Distribution::of(&ok).map(|d| d.p99_ms),
            }
        })
        .collect()
}

async fn process_pid(control: &ControlClient, name: &str) -> Result<u32> {
    control
        .status(name)
        .await?
        .pid
        .with_context(|| format!("{name} has no pid"))
}

/// Seconds from `since` until `name` runs with a pid other than `old` (ready, as the supervisor
/// counts it).
async fn back_after(control: &ControlClient, name: &str, old: u32, since: Instant) -> Option<f64> {
    retry::poll_until(
        Duration::from_secs(90),
        Duration::from_millis(100),
        || async {
            match control.status(name).await {
                Ok(s) if s.pid.is_some_and(|p| p != old) && s.state == ProcessState::Running => {
                    Ok(since.elapsed().as_secs_f64())
                }
                _ => Err("not back"),
            }
        },
    )
    .await
    .ok()
}

/// Runs one fault under `rate` fans per second: `baseline` of load, the fault, then load until
/// ingest and both groups are normal again (at most `watch`).
pub async fn run(
    study: &Study,
    fault: Fault,
    rate: f64,
    baseline: Duration,
    watch: Duration,
) -> Result<FaultRun> {
    let docs_before = study.log_count().await?;
    let clock = Instant::now();
    let writer = Writer::start(&study.input_url(), rate, study.data.clone(), clock);
    let sampler = LagSampler::start(
        &study.kafka,
        &study.topic,
        &["logs", "live"],
        Duration::from_millis(250),
        clock,
    )?;
    tokio::time::sleep(baseline).await;

    let target = match fault {
        Fault::ConsumerKill | Fault::ConsumerRestart => "live-forwarder",
        Fault::BrokerKill | Fault::BrokerPause => "kafka",
    };
    let old_pid = process_pid(&study.control, target).await?;
    let t_fault = clock.elapsed().as_secs_f64();
    let fault_start = Instant::now();
    let mut process_back_s = None;
    match fault {
        Fault::ConsumerKill | Fault::BrokerKill => {
            study.control.kill(target).await?;
            process_back_s = back_after(&study.control, target, old_pid, fault_start).await;
        }
        Fault::ConsumerRestart => {
            study.control.restart(target).await?;
            process_back_s = back_after(&study.control, target, old_pid, fault_start).await;
        }
        Fault::BrokerPause => {
            let group = nix::unistd::Pid::from_raw(old_pid as i32);
            nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGSTOP)
                .context("SIGSTOP kafka")?;
            tokio::time::sleep(study.pause).await;
            nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGCONT)
                .context("SIGCONT kafka")?;
        }
    }
    let injected_s = fault_start.elapsed().as_secs_f64();
    eprintln!(
        "[kafka {:>4.0}s]   {fault:?} injected ({injected_s:.1} s); watching until normal ...",
        study.elapsed()
    );

    // Load goes on until ingest is steady and both groups are back, or `watch` has passed.
    let end = clock.elapsed().as_secs_f64() + watch.as_secs_f64();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = clock.elapsed().as_secs_f64();
        let lag = sampler.snapshot();
        let groups_back = lag
            .values()
            .all(|s| group_effect(s, t_fault).normal_s.is_some());
        let answers = writer.answers_so_far();
        let ingest_back =
            settled_at(&answers, |a| a.sent, |a| a.status == 202, t_fault, 3.0).is_some();
        if (groups_back && ingest_back) || now > end {
            break;
        }
    }
    let (answers, not_sent) = writer.stop().await;
    let lag = sampler.stop().await;
    let first_refusal_s = answers
        .iter()
        .filter(|a| a.sent >= t_fault - 10.0 && a.done >= t_fault && a.status != 202)
        .map(|a| a.done - t_fault)
        .reduce(f64::min);
    let ingest_normal_s =
        settled_at(&answers, |a| a.sent, |a| a.status == 202, t_fault, 3.0).map(|t| t - t_fault);
    let normal_at = t_fault + ingest_normal_s.unwrap_or(f64::INFINITY);
    let before = Answers::of(answers.iter().filter(|a| a.sent < t_fault));
    let during = Answers::of(
        answers
            .iter()
            .filter(|a| a.sent >= t_fault && a.sent < normal_at),
    );
    let groups = lag
        .iter()
        .map(|(g, s)| (g.clone(), group_effect(s, t_fault)))
        .collect();
    let landed = study.landed(&answers, docs_before).await?;
    Ok(FaultRun {
        fault,
        target: target.into(),
        rate_per_s: rate,
        fault_at_s: t_fault,
        injected_s,
        process_back_s,
        before,
        during,
        first_refusal_s,
        ingest_normal_s,
        groups,
        landed,
        fans: fan_seconds(&answers, t_fault),
        lag,
        not_sent,
    })
}

/// Looks every accepted id up in MongoDB and in Redis (live-store's window of recently counted
/// ids, `recent-ids`, which holds the last 100,000 by default: more than one study sends).
pub async fn look_up(
    mongo: &mongodb::Client,
    redis_url: &str,
    ids: &[String],
) -> Result<(usize, usize)> {
    let logs = mongo.database("usactar").collection::<Document>("logs");
    let mut in_mongodb = 0;
    for chunk in ids.chunks(1000) {
        in_mongodb += logs
            .count_documents(doc! {"_id": {"$in": chunk.to_vec()}})
            .await? as usize;
    }
    let mut conn = redis::Client::open(redis_url)?
        .get_multiplexed_async_connection()
        .await?;
    let keys = model::RedisKeys::default();
    let mut in_redis = 0;
    for chunk in ids.chunks(1000) {
        let mut pipe = redis::pipe();
        for id in chunk {
            pipe.zscore(keys.recent_ids(), id);
        }
        let found: Vec<Option<f64>> = pipe.query_async(&mut conn).await?;
        in_redis += found.iter().filter(|f| f.is_some()).count();
    }
    Ok((in_mongodb, in_redis))
}

/// The lag readers of both groups, for waiting until they drained.
pub fn readers(study: &Study) -> Result<Arc<Vec<super::lag::GroupLag>>> {
    Ok(Arc::new(vec![
        super::lag::GroupLag::new(&study.kafka, &study.topic, "logs")?,
        super::lag::GroupLag::new(&study.kafka, &study.topic, "live")?,
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lag(t: f64, lag: Option<i64>, committed: Option<i64>) -> LagSample {
        LagSample { t, lag, committed }
    }

    #[test]
    fn settled_needs_the_whole_hold_and_a_sample_after_it() {
        let xs = [
            (0.0, true),
            (1.0, false),
            (2.0, true),
            (3.0, true),
            (4.0, true),
            (5.0, true),
        ];
        let at = |from| settled_at(&xs, |x| x.0, |x| x.1, from, 2.0);
        assert_eq!(at(0.0), Some(2.0));
        // From 4.0 the series ends before 2 s have passed: not settled.
        assert_eq!(at(4.0), None);
    }

    #[test]
    fn a_group_stalls_peaks_and_comes_back() {
        // Lag ≤ 10 before the fault at t = 2; offsets stand still until t = 5; back at t = 7.
        let s = vec![
            lag(0.0, Some(5), Some(100)),
            lag(1.0, Some(10), Some(110)),
            lag(2.0, Some(40), Some(110)),
            lag(3.0, None, None),
            lag(4.0, Some(300), Some(110)),
            lag(5.0, Some(120), Some(300)),
            lag(6.0, Some(50), Some(380)),
            lag(7.0, Some(8), Some(420)),
            lag(8.0, Some(6), Some(430)),
            lag(9.0, Some(9), Some(440)),
            lag(10.0, Some(7), Some(450)),
        ];
        let e = group_effect(&s, 2.0);
        assert_eq!(e.lag_before_max, Some(10));
        assert_eq!(e.lag_peak, Some(300));
        assert_eq!(e.lag_peak_at_s, Some(2.0));
        assert_eq!(e.stalled_s, Some(3.0));
        assert_eq!(e.normal_s, Some(5.0));
        assert_eq!(e.unmeasured_s, 1.0);
    }

    #[test]
    fn answers_are_counted_by_kind_and_latency_is_of_202s_only() {
        let a = |status, ms: f64| Answer {
            sent: 0.0,
            done: ms / 1000.0,
            status,
            id: None,
        };
        let answers = [
            a(202, 4.0),
            a(202, 6.0),
            a(503, 1.0),
            a(0, 10_000.0),
            a(500, 2.0),
        ];
        let x = Answers::of(answers.iter());
        assert_eq!(
            (x.accepted_202, x.refused_503, x.no_answer, x.other_status),
            (2, 1, 1, 1)
        );
        assert_eq!(x.accepted_latency.unwrap().max_ms, 6.0);
        assert_eq!(x.refused_latency.unwrap().p50_ms, 1.0);
        let s = fan_seconds(&answers, 0.0);
        assert_eq!(s[0].accepted_202, 2);
        assert_eq!(s[0].other, 2);
    }
}
