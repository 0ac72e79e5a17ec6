//! Waiting, written once for the whole workspace: [`Backoff`] for "try again later, a bit later
//! each time", and [`poll_until`] for "check every so often until it holds or time runs out".
//! Services, the stack runner, the experiment kit and the tests all wait through these two, so
//! a change of policy (a cap, a jitter) is made in one place.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// A capped exponential backoff: `initial`, then twice the previous wait, never above `max`.
/// [`Backoff::reset`] after a success starts again from `initial`.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        let max = max.max(initial);
        Backoff {
            initial,
            max,
            next: initial,
        }
    }

    /// The wait to use now; the one after it doubles (up to the cap).
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// What [`Backoff::next_wait`] would answer, without moving on.
    pub fn peek(&self) -> Duration {
        self.next
    }

    /// After a success: the next failure waits `initial` again.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }

    /// Sleeps the next wait; `false` (at once) if `stop` fires first, so loops end on shutdown.
    pub async fn sleep_or_stop(&mut self, stop: &CancellationToken) -> bool {
        let wait = self.next_wait();
        tokio::select! {
            _ = stop.cancelled() => false,
            _ = tokio::time::sleep(wait) => true,
        }
    }

    /// Runs `attempt` until it succeeds, sleeping the backoff between failures and telling
    /// `on_error` each failure and the wait that follows. `None` if `stop` fires first.
    pub async fn retry<T, E, F, Fut>(
        &mut self,
        stop: &CancellationToken,
        mut attempt: F,
        mut on_error: impl FnMut(&E, Duration),
    ) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        loop {
            match attempt().await {
                Ok(value) => {
                    self.reset();
                    return Some(value);
                }
                Err(e) => {
                    on_error(&e, self.peek());
                    if !self.sleep_or_stop(stop).await {
                        return None;
                    }
                }
            }
        }
    }
}

/// Why [`poll_until`] gave up: the deadline passed, with the last answer `check` gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedOut<E> {
    pub after: Duration,
    pub last: E,
}

impl<E: std::fmt::Display> std::fmt::Display for TimedOut<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not true after {:?}; last: {}", self.after, self.last)
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for TimedOut<E> {}

/// Calls `check` every `every` until it answers `Ok`, or fails with its last error once
/// `timeout` has passed. `check` runs at least once, even with a zero timeout.
pub async fn poll_until<T, E, F, Fut>(
    timeout: Duration,
    every: Duration,
    mut check: F,
) -> Result<T, TimedOut<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    loop {
        match check().await {
            Ok(value) => return Ok(value),
            Err(last) if started.elapsed() >= timeout => {
                return Err(TimedOut {
                    after: timeout,
                    last,
                })
            }
            Err(_) => tokio::time::sleep(every).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let waits: Vec<u64> = (0..5).map(|_| b.next_wait().as_millis() as u64).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
        b.reset();
        assert_eq!(b.next_wait(), Duration::from_millis(100));
    }

    #[test]
    fn a_cap_below_the_start_is_the_start() {
        let mut b = Backoff::new(Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(b.next_wait(), Duration::from_secs(2));
        assert_eq!(b.next_wait(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_stops_on_success_and_on_stop() {
        let stop = CancellationToken::new();
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(40));
        let mut calls = 0;
        let mut seen = Vec::new();
        let got = b
            .retry(
                &stop,
                || {
                    calls += 1;
                    let n = calls;
                    async move {
                        if n < 4 {
                            Err(n)
                        } else {
                            Ok(n)
                        }
                    }
                },
                |e, wait| seen.push((*e, wait.as_millis() as u64)),
            )
            .await;
        assert_eq!(got, Some(4));
        assert_eq!(seen, [(1, 10), (2, 20), (3, 40)]);
        stop.cancel();
        let never = b
            .retry(&stop, || async { Err::<(), _>("down") }, |_, _| {})
            .await;
        assert_eq!(never, None);
    }

    #[tokio::test(start_paused = true)]
    async fn poll_until_reports_the_last_error() {
        let mut n = 0;
        let answer = poll_until(Duration::from_secs(1), Duration::from_millis(100), || {
            n += 1;
            let k = n;
            async move { Err::<(), _>(k) }
        })
        .await;
        let err = answer.unwrap_err();
        assert!(err.last >= 10, "checked every 100 ms for 1 s: {}", err.last);
        let ok = poll_until(Duration::ZERO, Duration::from_millis(100), || async {
            Ok::<_, ()>(7)
        })
        .await;
        assert_eq!(ok, Ok(7));
    }
}
