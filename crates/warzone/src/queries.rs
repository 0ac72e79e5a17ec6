//! The war zone's fixed PromQL: one table per target, each query named `<subject>.<signal>`.
//! A subject is a component (`read-api`) or an edge (`pages>read-api`); a signal is `up` (1 when
//! it answers its scrape), `rate` (requests/s), `success` (0-1), `p99_ms` or `lag` (records).
//! These names, and nothing else, are what `/api/warzone/metrics` runs: the page never sends
//! PromQL. A name missing from a target's table is "not measured on this target"; a name in it
//! with no samples is "no data".

use std::fmt;
use std::str::FromStr;

/// Which metric names the Prometheus behind read-api holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// The local stack: the services' own `usactar_*` metrics (label `service`, scraped every
    /// second) and the platform's exporters (label `job`, every 5 s).
    Local,
    /// A cluster: Linkerd's proxy metrics in linkerd-viz's Prometheus (`request_total`,
    /// `response_total`, `response_latency_ms_bucket` by `deployment` and `direction`).
    Linkerd,
}

impl FromStr for Flavour {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "local" => Ok(Flavour::Local),
            "linkerd" => Ok(Flavour::Linkerd),
            other => Err(format!("{other:?} is not one of local, linkerd")),
        }
    }
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavour::Local => "local",
            Flavour::Linkerd => "linkerd",
        })
    }
}

/// One named query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedQuery {
    pub name: String,
    pub promql: String,
}

fn q(name: &str, promql: String) -> NamedQuery {
    NamedQuery {
        name: name.to_string(),
        promql,
    }
}

/// gRPC codes and HTTP statuses that mean the server failed (4xx are the client's doing).
const FAILED: &str =
    r#"status=~"5..|error|Unavailable|DeadlineExceeded|Internal|Unknown|Cancelled""#;

/// Rate, success and p99 of the `usactar_*` golden signals matching `sel`, as edge `edge`.
fn usactar_golden(edge: &str, sel: &str) -> [NamedQuery; 3] {
    let total = format!("sum(irate(usactar_requests_total{{{sel}}}[3s]))");
    [
        q(&format!("{edge}.rate"), total.clone()),
        q(
            &format!("{edge}.success"),
            format!(
                "1 - (sum(irate(usactar_requests_total{{{sel},{FAILED}}}[3s])) or vector(0)) / {total}"
            ),
        ),
        q(
            &format!("{edge}.p99_ms"),
            format!("1000 * histogram_quantile(0.99, sum by (le) (irate(usactar_request_duration_seconds_bucket{{{sel}}}[3s])))"),
        ),
    ]
}

/// A consumer group's edge from Kafka: records consumed per second and its lag.
fn consumer(edge: &str, service: &str) -> [NamedQuery; 2] {
    [
        q(
            &format!("{edge}.rate"),
            format!(r#"sum(irate(usactar_kafka_consumed_total{{service="{service}"}}[3s]))"#),
        ),
        q(
            &format!("{edge}.lag"),
            format!(r#"sum(usactar_consumer_lag{{service="{service}"}})"#),
        ),
    ]
}

const APPLY_BATCH: &str = "/usactar.live.v1.LiveStore/ApplyBatch";

/// The local stack's table.
pub fn local() -> Vec<NamedQuery> {
    let mut t = Vec::new();
    for service in [
        "ingest",
        "logs-writer",
        "live-forwarder",
        "live-store",
        "read-api",
    ] {
        t.push(q(
            &format!("{service}.up"),
            format!(r#"min(up{{service="{service}"}})"#),
        ));
    }
    for (component, job) in [
        ("kafka", "kafka"),
        ("link", "toxiproxy"),
        ("mongodb", "ferretdb"),
    ] {
        t.push(q(
            &format!("{component}.up"),
            format!(r#"min(up{{job="{job}"}})"#),
        ));
    }
    // Their exporters answer even when they do not; these say whether they did.
    t.push(q("ingress.up", "min(nginx_up)".into()));
    t.push(q("redis.up", "min(redis_up)".into()));
    t.push(q(
        "ingress.rate",
        "sum(irate(nginx_http_requests_total[11s]))".into(),
    ));
    t.extend(usactar_golden(
        "ingress>ingest",
        r#"service="ingest",route="/input""#,
    ));
    // What ingest asked of Kafka: accepted (on Kafka) or unavailable (Kafka did not take it).
    let produced = r#"usactar_predictions_total{service="ingest",outcome=~"accepted|unavailable"}"#;
    t.push(q(
        "ingest>kafka.rate",
        format!("sum(irate({produced}[3s]))"),
    ));
    t.push(q(
        "ingest>kafka.success",
        format!(
            r#"(sum(irate(usactar_predictions_total{{service="ingest",outcome="accepted"}}[3s])) or vector(0)) / sum(irate({produced}[3s]))"#
        ),
    ));
    t.extend(consumer("kafka>logs-writer", "logs-writer"));
    t.extend(consumer("kafka>live-forwarder", "live-forwarder"));
    t.extend(usactar_golden(
        "logs-writer>mongodb",
        r#"service="logs-writer",route="mongodb:insert_many""#,
    ));
    // The link as live-forwarder feels it: its ApplyBatch calls, delay included.
    t.extend(usactar_golden(
        "live-forwarder>link",
        &format!(r#"service="live-forwarder",route="{APPLY_BATCH}""#),
    ));
    // The same calls as live-store serves them, without the link.
    t.extend(usactar_golden(
        "link>live-store",
        &format!(r#"service="live-store",route="{APPLY_BATCH}""#),
    ));
    t.extend(usactar_golden("pages>read-api", r#"service="read-api""#));
    t
}

/// Linkerd's names, as `linkerd viz stat` asks them (irate over 30 s: linkerd-viz scrapes every
/// 10 s). The stores and Kafka are not meshed, so they are absent: "not measured" on a cluster.
/// Each cluster's linkerd-viz has only its own proxies (ingest and the consumer pod on A;
/// live-store and read-api on B): the page is given both, and each name comes from the one
/// that has data.
pub fn linkerd() -> Vec<NamedQuery> {
    let mut t = Vec::new();
    let inbound = |deployment: &str| format!(r#"direction="inbound",deployment="{deployment}""#);
    let golden = |edge: &str, sel: &str| {
        [
            q(
                &format!("{edge}.rate"),
                format!("sum(irate(request_total{{{sel}}}[30s]))"),
            ),
            q(
                &format!("{edge}.success"),
                format!(
                    r#"sum(irate(response_total{{{sel},classification="success"}}[30s])) / sum(irate(response_total{{{sel}}}[30s]))"#
                ),
            ),
            // Successes only: a failure that returns fast must not make the p99 look good.
            q(
                &format!("{edge}.p99_ms"),
                format!(
                    r#"histogram_quantile(0.99, sum by (le) (irate(response_latency_ms_bucket{{{sel},status_code!~"5.."}}[30s])))"#
                ),
            ),
        ]
    };
    for (component, deployment) in [
        ("ingest", "ingest"),
        ("logs-writer", "consumer"),
        ("live-forwarder", "consumer"),
        ("live-store", "live-store"),
        ("read-api", "read-api"),
    ] {
        t.push(q(
            &format!("{component}.up"),
            format!(r#"min(up{{job="linkerd-proxy",deployment="{deployment}"}})"#),
        ));
    }
    t.extend(golden("ingress>ingest", &inbound("ingest")));
    // The consumer pod's only HTTP/gRPC calls are live-forwarder's to live-store (Kafka and
    // MongoDB are opaque TCP), and this proxy labels its responses without `dst_service`
    // (measured on the sandbox clusters: kind/sandbox/check-warzone-queries.sh), so no filter.
    t.extend(golden(
        "live-forwarder>link",
        r#"direction="outbound",deployment="consumer""#,
    ));
    t.extend(golden("link>live-store", &inbound("live-store")));
    t.extend(golden("pages>read-api", &inbound("read-api")));
    t.extend(consumer("kafka>logs-writer", "logs-writer"));
    t.extend(consumer("kafka>live-forwarder", "live-forwarder"));
    t
}

/// The table of `flavour`.
pub fn table(flavour: Flavour) -> Vec<NamedQuery> {
    match flavour {
        Flavour::Local => local(),
        Flavour::Linkerd => linkerd(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_well_formed() {
        for flavour in [Flavour::Local, Flavour::Linkerd] {
            let t = table(flavour);
            let mut names: Vec<&str> = t.iter().map(|q| q.name.as_str()).collect();
            names.sort();
            let n = names.len();
            names.dedup();
            assert_eq!(n, names.len(), "{flavour}: duplicate names");
            for name in names {
                let (subject, signal) = name.split_once('.').expect(name);
                assert!(!subject.is_empty(), "{name}");
                assert!(
                    ["up", "rate", "success", "p99_ms", "lag"].contains(&signal),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn both_tables_measure_the_link_and_read_api() {
        for flavour in [Flavour::Local, Flavour::Linkerd] {
            let t = table(flavour);
            for name in [
                "live-forwarder>link.p99_ms",
                "pages>read-api.success",
                "read-api.up",
            ] {
                assert!(t.iter().any(|q| q.name == name), "{flavour}: {name}");
            }
        }
        let linkerd = linkerd();
        let p99 = linkerd
            .iter()
            .find(|q| q.name == "pages>read-api.p99_ms")
            .unwrap();
        assert_eq!(
            p99.promql,
            r#"histogram_quantile(0.99, sum by (le) (irate(response_latency_ms_bucket{direction="inbound",deployment="read-api",status_code!~"5.."}[30s])))"#
        );
    }

    #[test]
    fn flavours_parse_and_a_bad_one_says_what_is_allowed() {
        assert_eq!("linkerd".parse::<Flavour>(), Ok(Flavour::Linkerd));
        assert!("kube"
            .parse::<Flavour>()
            .unwrap_err()
            .contains("local, linkerd"));
    }
}
