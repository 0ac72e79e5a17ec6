//! The steady-state hypothesis: its thresholds, and the probes that check them over a window of
//! the client-side series and the consumer lag.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::kit::report::Probe;
use crate::kit::series::{self, GoldenSecond};

/// Thresholds of the steady-state hypothesis.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hypothesis {
    pub min_ingest_success: f64,
    pub max_ingest_p99_ms: f64,
    pub min_read_success: f64,
    pub max_lag: f64,
}

impl Default for Hypothesis {
    fn default() -> Self {
        Hypothesis {
            min_ingest_success: 0.999,
            max_ingest_p99_ms: 500.0,
            min_read_success: 0.99,
            max_lag: 2000.0,
        }
    }
}

fn probe(name: &str, expected: String, observed: Option<f64>, ok: impl Fn(f64) -> bool) -> Probe {
    Probe {
        name: name.to_string(),
        expected,
        observed,
        passed: observed.is_some_and(ok),
        not_measured: false,
    }
}

pub fn hypothesis_probes(
    h: &Hypothesis,
    client: &BTreeMap<String, Vec<GoldenSecond>>,
    lag: &BTreeMap<String, Vec<(f64, Option<f64>)>>,
    from: f64,
    to: f64,
) -> Vec<Probe> {
    let w = |c: &str| {
        series::stats(&series::window(
            client.get(c).map(Vec::as_slice).unwrap_or(&[]),
            from,
            to,
        ))
    };
    let ingest = w("ingest");
    let read = w("read-api");
    let max_lag = lag
        .values()
        .flat_map(|v| {
            v.iter()
                .filter(|(t, _)| *t >= from && *t < to)
                .filter_map(|(_, v)| *v)
        })
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    vec![
        probe(
            "ingest success (client)",
            format!(">= {}", h.min_ingest_success),
            ingest.success,
            |v| v >= h.min_ingest_success,
        ),
        probe(
            "ingest p99 ms (client, median of seconds)",
            format!("<= {}", h.max_ingest_p99_ms),
            ingest.p99_ms,
            |v| v <= h.max_ingest_p99_ms,
        ),
        probe(
            "read-api success (viewers)",
            format!(">= {}", h.min_read_success),
            read.success,
            |v| v >= h.min_read_success,
        ),
        Probe {
            // No lag source at all (not merely a gap): not measured, never failed or passed.
            not_measured: lag.is_empty(),
            ..probe(
                "consumer lag from the broker, records (max)",
                format!("<= {}", h.max_lag),
                max_lag,
                |v| v <= h.max_lag,
            )
        },
    ]
}
