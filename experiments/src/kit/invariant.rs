//! The data invariant: every prediction ingest accepted is in MongoDB and counted in Redis,
//! exactly once. Counted from a quiet pipeline, and checked once the pipeline has drained.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::kit::report::Invariant;
use crate::kit::target::Target;

/// Waits until both stores stop changing (the pipeline has drained), so that the experiment's
/// counts start from a known point. Gives up after `timeout` and uses the last counts.
pub async fn quiesce(target: &Target, timeout: Duration) -> Result<(i64, i64)> {
    // Counts read 700 ms apart until two agree. A failed read ends the wait (`Ok(Err)`).
    let previous = std::sync::Mutex::new(None);
    let settled = retry::poll_until(timeout, Duration::from_millis(700), || async {
        let now = match target.counts().await {
            Ok(now) => now,
            Err(e) => return Ok(Err(e)),
        };
        let last = previous.lock().expect("counts lock").replace(now);
        if last == Some(now) {
            Ok(Ok(now))
        } else {
            Err(now)
        }
    })
    .await;
    match settled {
        Ok(counted) => counted,
        Err(timed_out) => Ok(timed_out.last),
    }
}

/// Waits up to 90 s for both stores to hold exactly `accepted` more than `before`: the data
/// invariant, with how long the pipeline took to drain.
pub async fn check_invariant(
    target: &Target,
    before: (i64, i64),
    accepted: u64,
) -> Result<Invariant> {
    let drain_start = Instant::now();
    let drained = retry::poll_until(
        Duration::from_secs(90),
        Duration::from_millis(500),
        || async {
            let now = match target.counts().await {
                Ok(now) => now,
                Err(e) => return Ok(Err(e)),
            };
            let counts = (now.0 - before.0, now.1 - before.1);
            if counts.0 == accepted as i64 && counts.1 == accepted as i64 {
                Ok(Ok((counts, drain_start.elapsed().as_secs_f64())))
            } else {
                Err(counts)
            }
        },
    )
    .await;
    let ((mongo_d, redis_d), settled_after) = match drained {
        Ok(drained) => {
            let (counts, after) = drained?;
            (counts, Some(after))
        }
        Err(timed_out) => (timed_out.last, None),
    };
    let lost = (accepted as i64 - mongo_d.min(redis_d)).max(0);
    let duplicates = (mongo_d.max(redis_d) - accepted as i64).max(0);
    Ok(Invariant {
        accepted,
        mongodb: mongo_d,
        redis: redis_d,
        duplicates,
        lost,
        passed: lost == 0 && duplicates == 0 && mongo_d == redis_d,
        settled_after_s: settled_after,
    })
}
