//! `report.md` of `experiments kafka`, written only from `report.json`'s figures: tables, and
//! sentences whose every number is a field of the report.

use std::fmt::Write;

use super::chart::{self, Chart, Line};
use super::faults::{Answers, Fault, FaultRun};
use super::producer::Acks;
use super::stats::{Distribution, LoopResult};
use super::KafkaReport;

fn ms(x: Option<f64>) -> String {
    x.map_or("not measured".into(), |v| format!("{v:.1}"))
}

fn dist(d: &Option<Distribution>) -> String {
    match d {
        Some(d) => format!(
            "{:.1} / {:.1} / {:.1} / {:.1}",
            d.p50_ms, d.p90_ms, d.p99_ms, d.max_ms
        ),
        None => "not measured".into(),
    }
}

fn loop_row(out: &mut String, what: &str, r: &LoopResult) {
    let _ = writeln!(
        out,
        "| {what} | {} | {:.0} | {} | {} |",
        r.in_flight,
        r.ops_per_s,
        dist(&r.latency),
        r.errors
    );
}

fn secs(x: Option<f64>) -> String {
    x.map_or("not within the watch".into(), |v| format!("{v:.1} s"))
}

fn answers_row(out: &mut String, when: &str, a: &Answers) {
    let _ = writeln!(
        out,
        "| {when} | {} | {} | {} | {} | {} | {} |",
        a.accepted_202,
        a.refused_503,
        a.other_status,
        a.no_answer,
        dist(&a.accepted_latency),
        dist(&a.refused_latency),
    );
}

fn fault_file(f: Fault) -> &'static str {
    match f {
        Fault::ConsumerKill => "consumer-kill",
        Fault::ConsumerRestart => "consumer-restart",
        Fault::BrokerKill => "broker-kill",
        Fault::BrokerPause => "broker-pause",
    }
}

const COLORS: [&str; 4] = ["#1f77b4", "#2ca02c", "#ff7f0e", "#d62728"];

/// Every chart of the report: (file name, SVG).
pub fn charts(r: &KafkaReport) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let sweep = |value: fn(&super::producer::ProduceCell) -> Option<f64>| {
        r.producer_sweep
            .iter()
            .filter(|c| c.acks == Acks::AllIdempotent)
            .map(|c| c.linger_ms)
            .fold(Vec::new(), |mut v, l| {
                if !v.contains(&l) {
                    v.push(l);
                }
                v
            })
            .into_iter()
            .zip(COLORS.iter().cycle())
            .map(|(linger, color)| {
                (
                    linger,
                    *color,
                    r.producer_sweep
                        .iter()
                        .filter(|c| c.acks == Acks::AllIdempotent && c.linger_ms == linger)
                        .map(|c| (c.result.in_flight as f64, value(c)))
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>()
    };
    let names: Vec<String> = sweep(|_| None)
        .iter()
        .map(|(l, _, _)| format!("linger.ms {l}"))
        .collect();
    for (file, title, y_label, value) in [
        (
            "producer-throughput.svg",
            "Records acknowledged per second",
            "records/s",
            (|c: &super::producer::ProduceCell| Some(c.result.ops_per_s))
                as fn(&super::producer::ProduceCell) -> Option<f64>,
        ),
        (
            "producer-p99.svg",
            "Produce → ack latency, p99",
            "ms",
            |c| c.result.latency.as_ref().map(|l| l.p99_ms),
        ),
    ] {
        let lines = sweep(value)
            .into_iter()
            .zip(&names)
            .map(|((_, color, points), name)| Line {
                name,
                color,
                points,
            })
            .collect();
        out.push((
            file.to_string(),
            chart::svg(&Chart {
                title: format!("{title} (acks=all, idempotent) — run {}", r.run_id),
                x_label: "records in flight (log scale)",
                y_label,
                lines,
                shade: None,
                log_x: true,
            }),
        ));
    }
    for f in &r.faults {
        let shade_name = match f.fault {
            Fault::BrokerPause => "paused",
            Fault::ConsumerRestart => "restart",
            _ => "kill",
        };
        let shade = Some((0.0, f.injected_s.max(0.2), shade_name));
        let per_second = |pick: fn(&super::faults::FanSecond) -> usize| {
            f.fans
                .iter()
                .map(|s| (s.t as f64, Some(pick(s) as f64)))
                .collect::<Vec<_>>()
        };
        // The last second is partial (the writer stopped during it): left out.
        let trim = |mut v: Vec<(f64, Option<f64>)>| {
            v.pop();
            v
        };
        out.push((
            format!("{}-answers.svg", fault_file(f.fault)),
            chart::svg(&Chart {
                title: format!(
                    "{}: ingest's answers — run {}",
                    fault_name(f.fault),
                    r.run_id
                ),
                x_label: "seconds since the fault (by the request's send time)",
                y_label: "answers per second",
                lines: vec![
                    Line {
                        name: "202",
                        color: "#2ca02c",
                        points: trim(per_second(|s| s.accepted_202)),
                    },
                    Line {
                        name: "503",
                        color: "#ff7f0e",
                        points: trim(per_second(|s| s.refused_503)),
                    },
                    Line {
                        name: "other / none",
                        color: "#d62728",
                        points: trim(per_second(|s| s.other)),
                    },
                ],
                shade,
                log_x: false,
            }),
        ));
        let lines = f
            .lag
            .iter()
            .zip(COLORS.iter())
            .map(|((group, samples), color)| Line {
                name: group,
                color,
                points: samples
                    .iter()
                    .map(|s| (s.t - f.fault_at_s, s.lag.map(|l| l as f64)))
                    .collect(),
            })
            .collect();
        out.push((
            format!("{}-lag.svg", fault_file(f.fault)),
            chart::svg(&Chart {
                title: format!(
                    "{}: consumer lag from the broker — run {}",
                    fault_name(f.fault),
                    r.run_id
                ),
                x_label: "seconds since the fault (gaps: the broker did not answer)",
                y_label: "records behind",
                lines,
                shade,
                log_x: false,
            }),
        ));
    }
    out
}

fn fault_name(f: Fault) -> &'static str {
    match f {
        Fault::ConsumerKill => "consumer killed (SIGKILL live-forwarder)",
        Fault::ConsumerRestart => "consumer restarted (SIGTERM live-forwarder, then start)",
        Fault::BrokerKill => "broker killed (SIGKILL kafka)",
        Fault::BrokerPause => "broker paused (SIGSTOP kafka, then SIGCONT)",
    }
}

fn fault_section(out: &mut String, r: &FaultRun) {
    let _ = writeln!(out, "### {}\n", fault_name(r.fault));
    let _ = writeln!(
        out,
        "{:.0} predictions/s posted throughout. The fault took {:.1} s to inject; the supervisor had {} running again after {}. \
         The first non-202 answer came {} after the fault; every answer was a 202 again (for 3 s) after {}.\n",
        r.rate_per_s,
        r.injected_s,
        r.target,
        r.process_back_s.map_or("(no restart: a pause)".to_string(), |t| format!("{t:.1} s")),
        r.first_refusal_s.map_or("never (no answer other than 202)".into(), |t| format!("{t:.2} s")),
        secs(r.ingest_normal_s),
    );
    let _ = writeln!(out, "| fans' answers | 202 | 503 | other | none | 202 ms p50 / p90 / p99 / max | 503 ms p50 / p90 / p99 / max |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    answers_row(out, "before the fault", &r.before);
    answers_row(out, "fault → ingest normal", &r.during);
    let file = fault_file(r.fault);
    let _ = writeln!(
        out,
        "\n![ingest's answers]({file}-answers.svg)\n\n![consumer lag]({file}-lag.svg)"
    );
    let _ = writeln!(out, "\n| group | lag before (max) | peak lag | peak at | offsets still for | lag normal after | not measured |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for (g, e) in &r.groups {
        let _ = writeln!(
            out,
            "| {g} | {} | {} | {} | {} | {} | {:.1} s |",
            e.lag_before_max
                .map_or("not measured".into(), |v| v.to_string()),
            e.lag_peak.map_or("not measured".into(), |v| v.to_string()),
            e.lag_peak_at_s.map_or("-".into(), |v| format!("{v:.1} s")),
            secs(e.stalled_s),
            secs(e.normal_s),
            e.unmeasured_s,
        );
    }
    let l = &r.landed;
    let _ = writeln!(
        out,
        "\nAccepted (202): {}; in MongoDB: {}; in Redis: {}; lost: {} and {}; stored although the fan got no 202: {}{}.\n",
        l.accepted,
        l.in_mongodb,
        l.in_redis,
        l.accepted - l.in_mongodb.min(l.accepted),
        l.accepted - l.in_redis.min(l.accepted),
        l.stored_without_202,
        if l.drained { "" } else { " (the groups had not drained within 90 s: counts may be short)" },
    );
    if r.not_sent > 0 {
        let _ = writeln!(
            out,
            "{} requests were not sent because 512 were already waiting.\n",
            r.not_sent
        );
    }
}

pub fn markdown(r: &KafkaReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Kafka on the local stack: run {}\n", r.run_id);
    let _ = writeln!(
        out,
        "Started {}, took {:.0} s, on {} cores (1-minute load average {} at the start, {} at the end: other work shares the machine). \
         Written by `cargo run --release -p experiments -- kafka`; every figure is in `report.json`. Latencies in ms.\n",
        r.started_at,
        r.duration_s,
        r.machine.cores,
        r.machine.loadavg_start.map_or("not measured".into(), |v| format!("{v:.2}")),
        r.machine.loadavg_end.map_or("not measured".into(), |v| format!("{v:.2}")),
    );
    let s = &r.setup;
    let _ = writeln!(out, "## Setup, as the broker describes it\n");
    let _ = writeln!(
        out,
        "{} broker; topic `{}` with {} partitions of {} replica each.\n",
        s.brokers, s.topic, s.partitions, s.replicas
    );
    let _ = writeln!(
        out,
        "| group | state | assignor | members |\n|---|---|---|---|"
    );
    for g in &s.groups {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            g.name,
            g.state,
            g.protocol,
            g.members.join(", ")
        );
    }

    let _ = writeln!(
        out,
        "\n## The producer alone (ingest's settings: acks=all, idempotent, lz4)\n"
    );
    let _ = writeln!(out, "Closed loop: each of the records in flight waits for its acknowledgement before the next is sent.\n");
    let _ = writeln!(out, "| linger.ms | acks | in flight | records/s | ack p50 / p90 / p99 / max | records per Produce request | bytes per batch | broker round trip p50 / p99 |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for c in &r.producer_sweep {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} / {} |",
            c.linger_ms,
            match c.acks {
                Acks::AllIdempotent => "all, idempotent",
                Acks::Leader => "1, not idempotent",
            },
            c.result.in_flight,
            c.result.ops_per_s,
            dist(&c.result.latency),
            c.records_per_request
                .map_or("not measured".into(), |v| format!("{v:.1}")),
            c.batch_bytes_avg
                .map_or("not measured".into(), |v| format!("{v:.0}")),
            ms(c.broker_rtt_p50_ms),
            ms(c.broker_rtt_p99_ms),
        );
    }

    let _ = writeln!(
        out,
        "\n![throughput](producer-throughput.svg)\n\n![p99](producer-p99.svg)"
    );
    let _ = writeln!(
        out,
        "\n## Is it slow? The same closed loop against other writes\n"
    );
    let _ = writeln!(out, "| write | in flight | per second | p50 / p90 / p99 / max | errors |\n|---|---|---|---|---|");
    for c in r
        .producer_sweep
        .iter()
        .filter(|c| c.linger_ms == 2 && c.acks == Acks::AllIdempotent)
    {
        loop_row(
            &mut out,
            "Kafka produce → ack (ingest's settings, linger.ms 2)",
            &c.result,
        );
    }
    for x in &r.stores.redis_hincrby {
        loop_row(&mut out, "Redis HINCRBY", x);
    }
    for x in &r.stores.ferretdb_insert_one {
        loop_row(&mut out, "FerretDB insert_one", x);
    }
    for x in &r.ingest_closed_loop {
        loop_row(
            &mut out,
            "POST /input → 202 through NGINX (one prediction)",
            x,
        );
    }

    let v = &r.visibility;
    let _ = writeln!(
        out,
        "\n## From the POST to /live ({} predictions, one at a time, idle pipeline)\n",
        v.predictions
    );
    let _ = writeln!(out, "| stage | p50 / p90 / p99 / max |\n|---|---|");
    let _ = writeln!(
        out,
        "| POST sent → ingest's received_at (ms clock) | {} |",
        dist(&v.post_to_received)
    );
    let _ = writeln!(
        out,
        "| received_at → 202 at the client | {} |",
        dist(&v.received_to_accepted)
    );
    let _ = writeln!(
        out,
        "| POST → 202 (the whole request) | {} |",
        dist(&v.post_to_accepted)
    );
    let _ = writeln!(
        out,
        "| 202 → logs-writer's logged_at in MongoDB | {} |",
        dist(&v.accepted_to_logged)
    );
    let _ = writeln!(
        out,
        "| 202 → the /live WebSocket push that counts it | {} |",
        dist(&v.accepted_to_live)
    );
    let _ = writeln!(out, "\nNot seen on /live within 10 s: {}. Mean write latency the services measured meanwhile:\n", v.not_seen_on_live);
    for (name, mean) in &v.server_means_ms {
        let _ = writeln!(out, "- {name}: {} ms", ms(*mean));
    }

    let _ = writeln!(
        out,
        "\n## Consumer lag as the load rises (read from the broker every 0.5 s)\n"
    );
    let _ = writeln!(out, "| posted/s | accepted/s | 202 p50 / p90 / p99 / max | non-202 | group | lag median | lag p90 | lag max |\n|---|---|---|---|---|---|---|---|");
    for l in &r.lag_under_load {
        for (g, lag) in &l.lag {
            let a = &l.answers;
            let _ = writeln!(
                out,
                "| {:.0} | {:.0} | {} | {} | {g} | {} | {} | {} |",
                l.rate_per_s,
                l.accepted_per_s,
                dist(&a.accepted_latency),
                a.refused_503 + a.other_status + a.no_answer,
                lag.as_ref()
                    .map_or("not measured".into(), |x| format!("{:.0}", x.median)),
                lag.as_ref()
                    .map_or("not measured".into(), |x| format!("{:.0}", x.p90)),
                lag.as_ref()
                    .map_or("not measured".into(), |x| format!("{:.0}", x.max)),
            );
        }
    }

    let _ = writeln!(out, "\n## Faults\n");
    for f in &r.faults {
        fault_section(&mut out, f);
    }
    out
}
