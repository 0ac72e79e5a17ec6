//! The definitions a report's numbers stand on, computed from raw samples (one per request, one
//! per 100 ms scrape, one per push), never from histogram buckets. Each has a unit test below on
//! a synthetic series whose answer is known.
//!
//! - **Latency** is the latency of successful requests only; failures are counted apart.
//! - **Disturbed**: a client request is disturbed from the moment it is seen bad (a failure at
//!   its answer, or at `sent + slow` if that is earlier; a success slower than `slow` from
//!   `sent + slow`) until its answer. `slow` is twice the slowest successful request of the
//!   steady window, and at least 100 ms above it. A server is disturbed while its metrics cannot
//!   be scraped, when its error counter grows, when its mean latency over a scrape interval
//!   passes the same kind of bar, or when it has answered nothing for longer than twice its
//!   longest steady silence.
//! - **Time to detect / recover** from 100 ms bins: detect = the start of the first disturbed
//!   bin after the fault began; recover = the end of the last disturbed bin, unless the series
//!   ends disturbed (then: not recovered while measured).
//! - **Impact window**: from the fault's start to the latest recovery of any signal.
//! - **User-seconds of failure**: each user (writer or viewer) is failing from the moment a
//!   request of theirs is seen to fail until their next successful answer.
//! - **Stale page**: a viewer's page is stale at `t` when a prediction accepted (202) before
//!   `t - stale_after` is not yet in the total the page last received.
//! - **202 → visible**: the k-th accepted prediction is visible at the first push whose total
//!   reaches the baseline + k (count-matched: Kafka keeps no order across partitions).

use serde::{Deserialize, Serialize};

use crate::kit::series::{percentile, GoldenSecond};

/// The resolution of detection and recovery, seconds.
pub const BIN_S: f64 = 0.1;

/// One client request, in seconds since the load started.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub user: u32,
    pub sent: f64,
    pub answered: f64,
    pub ok: bool,
}

impl Request {
    pub fn latency_ms(&self) -> f64 {
        (self.answered - self.sent) * 1000.0
    }

    /// When the user could first tell this request was bad, if it was (see the module's
    /// definition of disturbed).
    fn seen_bad(&self, slow_ms: f64) -> Option<f64> {
        let slow_at = self.sent + slow_ms / 1000.0;
        if !self.ok {
            Some(self.answered.min(slow_at))
        } else if self.latency_ms() > slow_ms {
            Some(slow_at)
        } else {
            None
        }
    }
}

impl From<&loadgen::RequestRecord> for Request {
    fn from(r: &loadgen::RequestRecord) -> Self {
        Request {
            user: r.user,
            sent: r.sent_s,
            answered: r.answered_s,
            ok: r.ok,
        }
    }
}

/// Per-second golden signals of requests: each counted in the second it was answered; the
/// latency percentiles are of the successes only. Seconds from 0 up to `until` rounded down:
/// the last, partial second is dropped. A second without any success has no latency (a gap).
pub fn golden_seconds(requests: &[Request], until: f64) -> Vec<GoldenSecond> {
    let seconds = until.max(0.0).floor() as usize;
    let mut answers = vec![(0usize, Vec::new()); seconds];
    for r in requests {
        let s = r.answered.max(0.0).floor() as usize;
        if s < seconds {
            answers[s].0 += 1;
            if r.ok {
                answers[s].1.push(r.latency_ms());
            }
        }
    }
    answers
        .into_iter()
        .enumerate()
        .map(|(t, (n, ok))| GoldenSecond {
            t: t as f64,
            rps: n as f64,
            success: (n > 0).then(|| ok.len() as f64 / n as f64),
            p50_ms: percentile(&ok, 0.5),
            p95_ms: percentile(&ok, 0.95),
            p99_ms: percentile(&ok, 0.99),
            mean_ms: None,
        })
        .collect()
}

/// Per-second server signals from the 100 ms scrapes: each interval counted in the second it
/// ends in; the mean latency from the exact sum and count. A second without any good scrape is
/// left out (a gap); the last, partial second is dropped.
pub fn server_seconds(scrapes: &[Scrape], until: f64) -> Vec<GoldenSecond> {
    let seconds = until.max(0.0).floor() as usize;
    let mut acc = vec![None::<(f64, f64, f64, f64)>; seconds];
    for i in intervals(scrapes) {
        let s = i.to.max(0.0).floor() as usize;
        if s < seconds {
            let a = acc[s].get_or_insert((0.0, 0.0, 0.0, 0.0));
            a.0 += i.requests;
            a.1 += i.errors;
            a.2 += i.duration_sum_s;
            a.3 += i.duration_count;
        }
    }
    acc.into_iter()
        .enumerate()
        .filter_map(|(t, a)| {
            let (n, errors, sum, count) = a?;
            Some(GoldenSecond {
                t: t as f64,
                rps: n,
                success: (n > 0.0).then(|| (1.0 - errors / n).clamp(0.0, 1.0)),
                p50_ms: None,
                p95_ms: None,
                p99_ms: None,
                mean_ms: (count > 0.0).then(|| sum / count * 1000.0),
            })
        })
        .collect()
}

/// The bar past which a success counts as slow: twice the slowest steady success, and at least
/// 100 ms above it. `None` when the steady window had no success.
pub fn slow_bar_ms(steady_latencies_ms: &[f64]) -> Option<f64> {
    let worst = steady_latencies_ms.iter().copied().reduce(f64::max)?;
    Some((2.0 * worst).max(worst + 100.0))
}

/// Successful latencies of the requests answered in `[from, to)`.
pub fn ok_latencies(requests: &[Request], from: f64, to: f64) -> Vec<f64> {
    requests
        .iter()
        .filter(|r| r.ok && r.answered >= from && r.answered < to)
        .map(Request::latency_ms)
        .collect()
}

/// 100 ms bins over `[from, to)`: which were disturbed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bins {
    pub from: f64,
    pub disturbed: Vec<bool>,
}

impl Bins {
    pub fn new(from: f64, to: f64) -> Self {
        let n = ((to - from) / BIN_S).floor().max(0.0) as usize;
        Bins {
            from,
            disturbed: vec![false; n],
        }
    }

    /// Marks the bins that `[a, b)` overlaps, and always the one `a` falls in.
    pub fn mark(&mut self, a: f64, b: f64) {
        if self.disturbed.is_empty() || b < self.from {
            return;
        }
        // The epsilon keeps a bound that sits on a bin's edge from spilling into the next bin.
        let first = ((a - self.from) / BIN_S + 1e-9).floor().max(0.0) as usize;
        let end = ((b - self.from) / BIN_S - 1e-9).ceil().max(0.0) as usize;
        let last = end
            .saturating_sub(1)
            .max(first)
            .min(self.disturbed.len() - 1);
        for bin in self.disturbed.iter_mut().take(last + 1).skip(first) {
            *bin = true;
        }
    }

    fn start_of(&self, i: usize) -> f64 {
        self.from + i as f64 * BIN_S
    }

    /// Seconds from `fault_at` to the start of the first disturbed bin at or after the one the
    /// fault falls in; `None`: nothing disturbed.
    pub fn time_to_detect(&self, fault_at: f64) -> Option<f64> {
        (0..self.disturbed.len())
            .filter(|&i| self.start_of(i) + BIN_S > fault_at)
            .find(|&i| self.disturbed[i])
            .map(|i| round_bin((self.start_of(i) - fault_at).max(0.0)))
    }

    /// Seconds from `fault_at` to the end of the last disturbed bin. `Some(0.0)`: nothing was
    /// disturbed; `None`: the series ends disturbed (not recovered while measured).
    pub fn time_to_recover(&self, fault_at: f64) -> Option<f64> {
        let after: Vec<usize> = (0..self.disturbed.len())
            .filter(|&i| self.start_of(i) + BIN_S > fault_at)
            .collect();
        match after.iter().rposition(|&i| self.disturbed[i]) {
            None => Some(0.0),
            Some(k) if k + 1 == after.len() => None,
            Some(k) => Some(round_bin(
                (self.start_of(after[k]) + BIN_S - fault_at).max(0.0),
            )),
        }
    }

    /// Seconds of disturbed bins at or after `fault_at`.
    pub fn disturbed_seconds(&self, fault_at: f64) -> f64 {
        let n = (0..self.disturbed.len())
            .filter(|&i| self.start_of(i) + BIN_S > fault_at && self.disturbed[i])
            .count();
        round_bin(n as f64 * BIN_S)
    }
}

fn round_bin(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A client's bins over `[from, to)`: every request seen bad marks the bins from then to its
/// answer (or to `to`, for one never answered).
pub fn client_bins(requests: &[Request], from: f64, to: f64, slow_ms: f64) -> Bins {
    let mut bins = Bins::new(from, to);
    for r in requests {
        if let Some(bad) = r.seen_bad(slow_ms) {
            bins.mark(bad, r.answered.min(to));
        }
    }
    bins
}

/// What a service's `/metrics` said at one scrape: cumulative counters, or `None` when the
/// scrape failed (the server did not answer).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scrape {
    pub t: f64,
    pub counters: Option<Counters>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Counters {
    pub requests: f64,
    pub errors: f64,
    /// Sum and count of the request-duration histogram: exact totals of the raw latencies.
    pub duration_sum_s: f64,
    pub duration_count: f64,
}

/// One interval between two good scrapes: how many requests, errors, and their mean latency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub from: f64,
    pub to: f64,
    pub requests: f64,
    pub errors: f64,
    pub mean_ms: Option<f64>,
    pub duration_sum_s: f64,
    pub duration_count: f64,
    /// The counters went down: a new process started in between.
    pub restarted: bool,
}

/// The intervals between consecutive successful scrapes.
pub fn intervals(scrapes: &[Scrape]) -> Vec<Interval> {
    let good: Vec<(f64, Counters)> = scrapes
        .iter()
        .filter_map(|s| s.counters.map(|c| (s.t, c)))
        .collect();
    good.windows(2)
        .map(|w| {
            let ((a, ca), (b, cb)) = (w[0], w[1]);
            let restarted = cb.requests < ca.requests;
            let base = if restarted { Counters::default() } else { ca };
            let n = cb.duration_count - base.duration_count;
            Interval {
                from: a,
                to: b,
                requests: cb.requests - base.requests,
                errors: cb.errors - base.errors,
                mean_ms: (n > 0.0).then(|| (cb.duration_sum_s - base.duration_sum_s) / n * 1000.0),
                duration_sum_s: cb.duration_sum_s - base.duration_sum_s,
                duration_count: n,
                restarted,
            }
        })
        .collect()
}

/// The mean latency of the requests in the intervals ending in `[from, to)`, from the exact sum
/// and count of their durations.
pub fn mean_ms_over(scrapes: &[Scrape], from: f64, to: f64) -> Option<f64> {
    let (sum, count) = intervals(scrapes)
        .iter()
        .filter(|i| i.to >= from && i.to < to)
        .fold((0.0, 0.0), |(s, c), i| {
            (s + i.duration_sum_s, c + i.duration_count)
        });
    (count > 0.0).then(|| sum / count * 1000.0)
}

/// What a server's steady window looked like: its longest silence and its slowest interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServerBaseline {
    pub longest_silence_s: f64,
    pub worst_mean_ms: Option<f64>,
}

pub fn server_baseline(scrapes: &[Scrape], from: f64, to: f64) -> ServerBaseline {
    let steady: Vec<Scrape> = scrapes
        .iter()
        .filter(|s| s.t >= from && s.t < to)
        .copied()
        .collect();
    let iv = intervals(&steady);
    let mut silence: f64 = 0.0;
    let mut last_busy = steady.first().map(|s| s.t).unwrap_or(from);
    for i in &iv {
        if i.requests > 0.0 {
            last_busy = i.to;
        } else {
            silence = silence.max(i.to - last_busy);
        }
    }
    ServerBaseline {
        longest_silence_s: silence,
        worst_mean_ms: iv.iter().filter_map(|i| i.mean_ms).reduce(f64::max),
    }
}

/// A server's bins over `[from, to)` (see the module's definition of disturbed).
pub fn server_bins(scrapes: &[Scrape], from: f64, to: f64, base: &ServerBaseline) -> Bins {
    let mut bins = Bins::new(from, to);
    for s in scrapes.iter().filter(|s| s.counters.is_none()) {
        bins.mark(s.t, s.t);
    }
    let slow = base.worst_mean_ms.map(|w| (2.0 * w).max(w + 100.0));
    let quiet_bar = (2.0 * base.longest_silence_s).max(0.5);
    let mut last_busy: Option<f64> = None;
    for i in intervals(scrapes) {
        if i.errors > 0.0 || i.restarted || slow.zip(i.mean_ms).is_some_and(|(s, m)| m > s) {
            bins.mark(i.to, i.to);
        }
        if i.requests > 0.0 {
            last_busy = Some(i.to);
        } else if let Some(busy) = last_busy {
            if i.to - busy > quiet_bar {
                bins.mark((busy + quiet_bar).max(i.from), i.to);
            }
        }
    }
    bins
}

/// Consumer lag samples (t, records), `None` where the broker could not be read: disturbed
/// while the lag is above 3x the steady window's highest (and at least 500 records above it),
/// or unreadable. One sample covers the second after it.
pub fn lag_bins(samples: &[(f64, Option<f64>)], steady: (f64, f64), from: f64, to: f64) -> Bins {
    let steady_max = samples
        .iter()
        .filter(|(t, _)| *t >= steady.0 && *t < steady.1)
        .filter_map(|(_, v)| *v)
        .fold(0.0, f64::max);
    let bar = (steady_max * 3.0).max(steady_max + 500.0);
    let mut bins = Bins::new(from, to);
    for (t, v) in samples {
        if v.is_none_or(|v| v > bar) {
            bins.mark(*t, t + 1.0 - BIN_S / 2.0);
        }
    }
    bins
}

/// User-seconds of failure in `[from, to)`: each user is failing from the moment one of their
/// requests is seen to fail until their next successful answer (or `to`).
pub fn failure_user_seconds(requests: &[Request], from: f64, to: f64, slow_ms: f64) -> f64 {
    let mut by_user: std::collections::BTreeMap<u32, Vec<&Request>> = Default::default();
    for r in requests {
        by_user.entry(r.user).or_default().push(r);
    }
    let mut total = 0.0;
    for (_, mut rs) in by_user {
        rs.sort_by(|a, b| a.answered.total_cmp(&b.answered));
        let mut failing_since: Option<f64> = None;
        for r in rs {
            if r.ok {
                if let Some(since) = failing_since.take() {
                    total += overlap(since, r.answered, from, to);
                }
            } else if failing_since.is_none() {
                failing_since = r.seen_bad(slow_ms);
            }
        }
        if let Some(since) = failing_since {
            total += overlap(since, to, from, to);
        }
    }
    total
}

fn overlap(a: f64, b: f64, from: f64, to: f64) -> f64 {
    (b.min(to) - a.max(from)).max(0.0)
}

/// What viewers' pages showed: per viewer, the pushes it received (t, the grand total).
pub type Pushes = Vec<Vec<(f64, u64)>>;

/// The accepted count over time: the answer times of the 202s, sorted.
pub fn accepted_times(requests: &[Request]) -> Vec<f64> {
    let mut t: Vec<f64> = requests
        .iter()
        .filter(|r| r.ok)
        .map(|r| r.answered)
        .collect();
    t.sort_by(f64::total_cmp);
    t
}

/// Viewers whose page is stale, per 100 ms bin of `[from, to)`. `baseline` is the total before
/// the load; `accepted` the sorted 202 times.
pub fn stale_viewers(
    pushes: &Pushes,
    accepted: &[f64],
    baseline: u64,
    stale_after: f64,
    from: f64,
    to: f64,
) -> Vec<usize> {
    let bins = Bins::new(from, to);
    let mut stale = vec![0usize; bins.disturbed.len()];
    for viewer in pushes {
        let mut shown: Option<u64> = None;
        let mut next = 0;
        for (i, count) in stale.iter_mut().enumerate() {
            let t = bins.start_of(i) + BIN_S;
            while next < viewer.len() && viewer[next].0 <= t {
                shown = Some(shown.map_or(viewer[next].1, |s| s.max(viewer[next].1)));
                next += 1;
            }
            let due = accepted.partition_point(|a| *a <= t - stale_after) as u64;
            if due > 0 && shown.is_none_or(|s| s < baseline + due) {
                *count += 1;
            }
        }
    }
    stale
}

/// Stale-page seconds summed over viewers, from [`stale_viewers`]' bins.
pub fn stale_seconds(stale: &[usize]) -> f64 {
    round_bin(stale.iter().sum::<usize>() as f64 * BIN_S)
}

/// 202 → visible latency (seconds) of the predictions accepted in `[from, to)`, seen by one
/// viewer's pushes (count-matched); a prediction never shown is left out and counted apart.
pub fn visible_latencies(
    pushes: &[(f64, u64)],
    accepted: &[f64],
    baseline: u64,
    from: f64,
    to: f64,
) -> (Vec<f64>, usize) {
    let mut latencies = Vec::new();
    let mut never = 0;
    for (k, at) in accepted.iter().enumerate() {
        if *at < from || *at >= to {
            continue;
        }
        let need = baseline + k as u64 + 1;
        match pushes.iter().find(|(t, total)| *total >= need && *t >= *at) {
            Some((t, _)) => latencies.push(t - at),
            None => never += 1,
        }
    }
    (latencies, never)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(user: u32, sent: f64, ms: f64) -> Request {
        Request {
            user,
            sent,
            answered: sent + ms / 1000.0,
            ok: true,
        }
    }

    fn failed(user: u32, sent: f64, ms: f64) -> Request {
        Request {
            ok: false,
            ..ok(user, sent, ms)
        }
    }

    #[test]
    fn latency_is_of_successes_only_and_the_last_partial_second_is_dropped() {
        // Second 0: two successes (10, 30 ms) and an instant failure; second 1: a failure only.
        let r = [
            ok(0, 0.1, 10.0),
            ok(0, 0.2, 30.0),
            failed(0, 0.5, 1.0),
            failed(0, 1.5, 1.0),
            ok(0, 2.1, 5.0),
        ];
        let s = golden_seconds(&r, 2.6);
        assert_eq!(s.len(), 2, "second 2 is partial");
        assert_eq!(s[0].rps, 3.0);
        assert_eq!(s[0].success, Some(2.0 / 3.0));
        assert_eq!(s[0].p99_ms.map(|v| v.round()), Some(30.0));
        assert_eq!(
            (s[1].rps, s[1].success, s[1].p50_ms),
            (1.0, Some(0.0), None)
        );
    }

    #[test]
    fn an_outage_is_detected_and_recovered_at_100_ms() {
        // Every 50 ms a 5 ms request; from 10.25 s to 13.02 s they fail at once.
        let requests: Vec<Request> = (0..400)
            .map(|i| {
                let t = i as f64 * 0.05;
                if (10.25..13.02).contains(&t) {
                    failed(0, t, 1.0)
                } else {
                    ok(0, t, 5.0)
                }
            })
            .collect();
        let slow = slow_bar_ms(&ok_latencies(&requests, 0.0, 10.0)).unwrap();
        assert_eq!(slow.round(), 105.0);
        let bins = client_bins(&requests, 0.0, 20.0, slow);
        assert_eq!(bins.time_to_detect(10.2), Some(0.0), "the fault's own bin");
        assert_eq!(bins.time_to_detect(10.0), Some(0.2));
        // The last failure is answered at 13.001 s: its bin ends at 13.1 s.
        assert_eq!(bins.time_to_recover(10.0), Some(3.1));
        assert_eq!(bins.disturbed_seconds(10.0), 2.9);
    }

    #[test]
    fn a_hanging_request_is_disturbed_from_the_slow_bar_and_never_recovered_if_it_hangs_on() {
        let mut requests: Vec<Request> = (0..100).map(|i| ok(0, i as f64 * 0.1, 10.0)).collect();
        // Sent at 10 s, answered 5 s later: disturbed from 10.11 s (slow bar 110 ms).
        requests.push(ok(1, 10.0, 5000.0));
        let bins = client_bins(&requests, 0.0, 20.0, 110.0);
        assert_eq!(bins.time_to_detect(10.0), Some(0.1));
        assert_eq!(bins.time_to_recover(10.0), Some(5.0));
        requests.push(failed(2, 18.0, 10_000.0));
        let bins = client_bins(&requests, 0.0, 20.0, 110.0);
        assert_eq!(bins.time_to_recover(10.0), None, "still hanging at the end");
    }

    fn scrape(t: f64, requests: f64, errors: f64, sum: f64) -> Scrape {
        Scrape {
            t,
            counters: Some(Counters {
                requests,
                errors,
                duration_sum_s: sum,
                duration_count: requests,
            }),
        }
    }

    #[test]
    fn a_server_is_disturbed_while_unreachable_silent_or_failing() {
        // 10 requests per 100 ms of 5 ms each, until 5 s; unreachable 5.0-5.9; then a restart
        // (counters from 0) with 3 errors; then normal.
        let mut s: Vec<Scrape> = (0..50)
            .map(|i| scrape(i as f64 / 10.0, i as f64 * 10.0, 0.0, i as f64 * 0.05))
            .collect();
        for i in 50..60 {
            s.push(Scrape {
                t: i as f64 / 10.0,
                counters: None,
            });
        }
        s.push(scrape(6.0, 10.0, 3.0, 0.05));
        for i in 61..100 {
            let n = (i - 59) as f64;
            s.push(scrape(i as f64 / 10.0, n * 10.0, 3.0, n * 0.05));
        }
        let base = server_baseline(&s, 0.0, 5.0);
        assert_eq!(base.longest_silence_s, 0.0);
        assert_eq!(base.worst_mean_ms.map(|m| m.round()), Some(5.0));
        let bins = server_bins(&s, 0.0, 10.0, &base);
        assert_eq!(bins.time_to_detect(5.0), Some(0.0));
        assert_eq!(
            bins.time_to_recover(5.0),
            Some(1.1),
            "the restart's interval ends at 6.0"
        );

        // A consumer that calls every 200 ms, then not from 5.0 s to 6.9 s.
        let calls = |i: usize| match i {
            0..50 => (i / 2) as f64,
            50..70 => 25.0,
            _ => 25.0 + (i - 69) as f64,
        };
        let quiet: Vec<Scrape> = (0..100)
            .map(|i| scrape(i as f64 / 10.0, calls(i), 0.0, 0.0))
            .collect();
        let base = server_baseline(&quiet, 0.0, 5.0);
        assert!((base.longest_silence_s - 0.1).abs() < 1e-9, "{base:?}");
        let bins = server_bins(&quiet, 0.0, 10.0, &base);
        // Last busy at 5.0 s; the silence bar is 0.5 s; calls again in the 6.9 → 7.0 interval.
        assert_eq!(bins.time_to_detect(5.0), Some(0.5));
        assert_eq!(bins.time_to_recover(5.0), Some(1.9));
    }

    #[test]
    fn lag_is_disturbed_above_its_bar_and_while_unreadable() {
        let mut samples: Vec<(f64, Option<f64>)> =
            (0..20).map(|t| (t as f64, Some(100.0))).collect();
        samples[12].1 = Some(5000.0);
        samples[13].1 = None;
        samples[14].1 = Some(600.0); // below 100 + 500: not disturbed
        let bins = lag_bins(&samples, (0.0, 10.0), 0.0, 20.0);
        assert_eq!(bins.time_to_detect(11.0), Some(1.0));
        assert_eq!(bins.time_to_recover(11.0), Some(3.0));
    }

    #[test]
    fn failing_users_count_until_their_next_success() {
        // User 0 fails at 1.0 and succeeds at 3.0: 2 s. User 1 fails at 4.0 and never recovers
        // before 6.0: 2 s. User 2 only succeeds.
        let r = [
            ok(0, 0.5, 1.0),
            failed(0, 1.0, 0.0),
            failed(0, 2.0, 0.0),
            ok(0, 3.0, 0.0),
            failed(1, 4.0, 0.0),
            ok(2, 4.0, 1.0),
        ];
        let u = failure_user_seconds(&r, 0.0, 6.0, 100.0);
        assert!((u - 4.0).abs() < 1e-9, "{u}");
    }

    #[test]
    fn a_page_is_stale_while_an_accepted_prediction_is_not_shown() {
        // One accepted prediction per 100 ms from 0 to 10 s; the viewer sees each 200 ms later,
        // except from 4 s to 7 s, when nothing is pushed.
        let accepted: Vec<f64> = (0..100).map(|i| i as f64 / 10.0).collect();
        let pushes: Vec<(f64, u64)> = accepted
            .iter()
            .enumerate()
            .map(|(k, a)| (a + 0.2, 1000 + k as u64 + 1))
            .filter(|(t, _)| !(4.0..7.0).contains(t))
            .collect();
        let stale = stale_seconds(&stale_viewers(
            &vec![pushes.clone()],
            &accepted,
            1000,
            1.0,
            0.0,
            10.0,
        ));
        // The last push before the gap (3.9 s) shows what was accepted until 3.7 s; the one
        // accepted at 3.8 s is 1 s old at 4.8 s; the push at 7.0 s shows it: 2.2 s stale.
        assert!((2.1..=2.3).contains(&stale), "{stale}");
        // Accepted before 3.75 s: pushed 200 ms later, before the gap.
        let (lat, never) = visible_latencies(&pushes, &accepted, 1000, 0.0, 3.75);
        assert_eq!(never, 0);
        assert!(lat.iter().all(|l| (l - 0.2).abs() < 1e-9));
        let (lat, _) = visible_latencies(&pushes, &accepted, 1000, 4.0, 5.0);
        // Accepted at 4.0 .. 4.9, all shown at 7.0.
        assert!(
            (lat[0] - 3.0).abs() < 1e-9 && (lat[9] - 2.1).abs() < 1e-9,
            "{lat:?}"
        );
    }
}
