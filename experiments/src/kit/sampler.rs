//! What the kit samples itself while an experiment runs, finer than Prometheus' 1 s scrapes:
//!
//! - every 100 ms, each local service's own `/metrics` (request and error counters, and the
//!   exact sum and count of its request durations): the server side at 100 ms;
//! - every second, each consumer group's lag from the broker (committed offsets against end
//!   offsets, through Kafka's API), so the lag of a dead consumer is still measured.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::kafka_study::lag::GroupLag;
use kafka_access::KafkaAccess;
use tokio_util::sync::CancellationToken;

use crate::kit::signals::{Counters, Scrape};

/// Statuses that mean the server failed (HTTP 5xx; gRPC codes of a failed server).
fn is_error_status(status: &str) -> bool {
    status.starts_with('5')
        || matches!(
            status,
            "error" | "Unavailable" | "DeadlineExceeded" | "Internal" | "Unknown" | "Cancelled"
        )
}

/// The value of `label` in a metric line's label set.
fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    let start = labels.find(&format!("{name}=\""))? + name.len() + 2;
    let end = labels[start..].find('"')? + start;
    Some(&labels[start..end])
}

/// The request counters in a `/metrics` text. WebSocket routes are left out: a socket's
/// "duration" is how long it stayed open.
pub fn parse_counters(text: &str) -> Counters {
    let mut c = Counters::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        if label(labels, "route").is_some_and(|r| r.ends_with("/ws")) {
            continue;
        }
        match name {
            "usactar_requests_total" => {
                c.requests += v;
                if label(labels, "status").is_some_and(is_error_status) {
                    c.errors += v;
                }
            }
            "usactar_request_duration_seconds_sum" => c.duration_sum_s += v,
            "usactar_request_duration_seconds_count" => c.duration_count += v,
            _ => {}
        }
    }
    c
}

/// Consumer lag per group: (second of the run, records behind; `None` where not measured).
pub type LagSeries = BTreeMap<String, Vec<(f64, Option<f64>)>>;

/// Background samplers; `stop` returns what they saw.
pub struct Samplers {
    cancel: CancellationToken,
    scrapes: Vec<(String, tokio::task::JoinHandle<Vec<Scrape>>)>,
    lag_stop: Arc<AtomicBool>,
    lag: Option<std::thread::JoinHandle<LagSeries>>,
}

/// What the samplers saw, `t` in seconds since the load started.
#[derive(Debug, Default)]
pub struct Sampled {
    pub scrapes: BTreeMap<String, Vec<Scrape>>,
    pub lag: LagSeries,
}

impl Samplers {
    /// `admins`: (component, `host:port` of its admin listener); `kafka`: the broker and the
    /// topic, with the groups to measure.
    pub fn start(
        admins: Vec<(String, String)>,
        kafka: Option<(KafkaAccess, String, Vec<String>)>,
        started: Instant,
    ) -> Self {
        let cancel = CancellationToken::new();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .expect("HTTP client");
        let scrapes = admins
            .into_iter()
            .map(|(name, addr)| {
                let (http, cancel) = (http.clone(), cancel.clone());
                let url = format!("http://{addr}/metrics");
                let task = tokio::spawn(async move {
                    let mut out = Vec::new();
                    let mut every = tokio::time::interval(Duration::from_millis(100));
                    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                    loop {
                        tokio::select! {
                            _ = cancel.cancelled() => return out,
                            _ = every.tick() => {}
                        }
                        let t = started.elapsed().as_secs_f64();
                        let counters = match http.get(&url).send().await {
                            Ok(r) if r.status().is_success() => {
                                r.text().await.ok().map(|text| parse_counters(&text))
                            }
                            _ => None,
                        };
                        out.push(Scrape { t, counters });
                    }
                });
                (name, task)
            })
            .collect();
        let lag_stop = Arc::new(AtomicBool::new(false));
        let lag = kafka.map(|(access, topic, groups)| {
            let stop = lag_stop.clone();
            std::thread::spawn(move || broker_lag(&access, &topic, &groups, &stop, started))
        });
        Samplers {
            cancel,
            scrapes,
            lag_stop,
            lag,
        }
    }

    pub async fn stop(self) -> Sampled {
        self.cancel.cancel();
        self.lag_stop.store(true, Ordering::SeqCst);
        let mut sampled = Sampled::default();
        for (name, task) in self.scrapes {
            sampled.scrapes.insert(name, task.await.unwrap_or_default());
        }
        if let Some(lag) = self.lag {
            sampled.lag = tokio::task::spawn_blocking(move || lag.join().unwrap_or_default())
                .await
                .unwrap_or_default();
        }
        sampled
    }
}

/// Every second until `stop`: each group's lag, Σ (end offset − committed offset) over the
/// topic's partitions (a partition with no commit yet counts from its start). `None` for a
/// second in which the broker did not answer (a reader that stops answering gets a new client:
/// [`GroupLag`]).
fn broker_lag(
    kafka: &KafkaAccess,
    topic: &str,
    groups: &[String],
    stop: &AtomicBool,
    started: Instant,
) -> LagSeries {
    let consumers: Vec<(String, Option<GroupLag>)> = groups
        .iter()
        .map(|g| {
            let reader = GroupLag::new(kafka, topic, g)
                .ok()
                .map(|r| r.with_timeout(Duration::from_millis(800)));
            (g.clone(), reader)
        })
        .collect();
    let out = Mutex::new(BTreeMap::<String, Vec<(f64, Option<f64>)>>::new());
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        let t = started.elapsed().as_secs_f64();
        for (group, consumer) in &consumers {
            let lag = consumer
                .as_ref()
                .and_then(|r| r.read())
                .map(|(lag, _)| lag as f64);
            out.lock()
                .expect("lag lock")
                .entry(group.clone())
                .or_default()
                .push((t, lag));
        }
        next += Duration::from_secs(1);
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
    out.into_inner().expect("lag lock")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_every_route_but_sockets_and_count_server_errors() {
        let text = "# HELP usactar_requests_total x\n\
            usactar_requests_total{route=\"/input\",status=\"202\"} 90\n\
            usactar_requests_total{route=\"/input\",status=\"503\"} 7\n\
            usactar_requests_total{route=\"/input\",status=\"400\"} 3\n\
            usactar_requests_total{route=\"/api/live/ws\",status=\"101\"} 50\n\
            usactar_requests_total{route=\"/x.Y/Apply\",status=\"Unavailable\"} 2\n\
            usactar_request_duration_seconds_sum{route=\"/input\"} 0.5\n\
            usactar_request_duration_seconds_count{route=\"/input\"} 100\n\
            usactar_request_duration_seconds_sum{route=\"/api/live/ws\"} 900\n";
        let c = parse_counters(text);
        assert_eq!(c.requests, 102.0);
        assert_eq!(c.errors, 9.0);
        assert_eq!((c.duration_sum_s, c.duration_count), (0.5, 100.0));
    }
}
