//! What the consumer learns from librdkafka's statistics (every second, no extra requests):
//! each partition's lag, and whether the consumer is in its group.

use std::time::Duration;

use kafka_access::rebootstrap::BrokerWatch;
use prometheus::IntGaugeVec;
use rdkafka::consumer::ConsumerContext;
use rdkafka::statistics::Statistics;
use rdkafka::ClientContext;
use service_kit::admin::{Heartbeat, Liveness};

/// Longest the consumer may be out of its group (librdkafka's group state not `up`) while its
/// loop waits for records, before waiting stops counting as progress. Then `/livez` fails after
/// [`crate::pipeline::MAX_SILENCE`] more, and the kubelet restarts the container. Measured on
/// the sandbox clusters (issue 12): after the single broker was killed, librdkafka 2.12 lost
/// every broker from a metadata answer given during the broker's restart
/// (confluentinc/librdkafka#5301) and never asked the group coordinator again; the loop waited
/// for records forever and `/livez` said alive. A restart rejoins at once and replays nothing
/// twice (the sinks are idempotent). The cost: during a real Kafka outage of minutes the
/// container restarts every 2 minutes or so. Since `kafka_access::rebootstrap` gives a consumer
/// with no broker its bootstrap servers back within seconds, this is the last resort for a stall
/// of another kind.
pub const MAX_OUT_OF_GROUP: Duration = Duration::from_secs(60);

/// Whether the consumer was seen in its group lately: the statistics callback beats, the loop
/// checks. The same heartbeat `/livez` uses, with its own limit.
#[derive(Debug, Clone)]
pub struct GroupWatch {
    seen: Heartbeat,
    watch: Liveness,
}

impl Default for GroupWatch {
    /// A consumer just created counts as in its group: joining takes a few seconds.
    fn default() -> Self {
        GroupWatch::within(MAX_OUT_OF_GROUP)
    }
}

impl GroupWatch {
    /// In its group as long as it was seen there within `limit`.
    pub fn within(limit: Duration) -> Self {
        let (watch, seen) = Liveness::heartbeat(limit);
        GroupWatch { seen, watch }
    }

    fn seen_up(&self) {
        self.seen.beat();
    }

    /// Whether waiting for records still counts as progress.
    pub fn in_group(&self) -> bool {
        self.watch.check().is_ok()
    }
}

/// The consumer's librdkafka context: the consumer-lag gauge, the group's state and the
/// brokers it knows.
pub struct LagContext {
    lag: IntGaugeVec,
    group: GroupWatch,
    pub brokers: BrokerWatch,
}

impl LagContext {
    pub fn new(lag: IntGaugeVec, group: GroupWatch, brokers: BrokerWatch) -> Self {
        LagContext {
            lag,
            group,
            brokers,
        }
    }

    /// See [`GroupWatch::in_group`].
    pub fn in_group(&self) -> bool {
        self.group.in_group()
    }
}

impl ClientContext for LagContext {
    fn stats(&self, statistics: Statistics) {
        self.brokers.observe(&statistics);
        // `up`: the coordinator is known and the group joined. Anything else (`query-coord`,
        // `wait-coord`, ...) for long is the stall MAX_OUT_OF_GROUP is about.
        if statistics.cgrp.as_ref().is_some_and(|g| g.state == "up") {
            self.group.seen_up();
        }
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                if *partition < 0 {
                    continue;
                }
                let labels = [topic.as_str(), &partition.to_string()];
                if p.consumer_lag >= 0 {
                    self.lag.with_label_values(&labels).set(p.consumer_lag);
                } else {
                    // -1: unknown (not assigned, or no committed offset yet). Dropped rather
                    // than left at its last value: a frozen gauge looked like a live consumer
                    // on the sandbox while the group had no member (issue 12).
                    let _ = self.lag.remove_label_values(&labels);
                }
            }
        }
    }
}

impl ConsumerContext for LagContext {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_stops_counting_as_progress_once_out_of_the_group_too_long() {
        let fresh = GroupWatch::default();
        assert!(fresh.in_group(), "joining takes a few seconds");
        let stalled = GroupWatch::within(Duration::from_millis(50));
        std::thread::sleep(Duration::from_millis(60));
        assert!(
            !stalled.in_group(),
            "never seen up for longer than its limit"
        );
        stalled.seen_up();
        assert!(stalled.in_group());
    }
}
